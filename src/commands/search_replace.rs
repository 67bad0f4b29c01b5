//! `wfuwp search-replace FROM TO …`: the engine over a SQL dump on stdin.

use std::io::{self, BufReader, BufWriter, Write};

use anyhow::Context as _;
use wfuwp_replace::{self as replace, Pair, Replacer};

use crate::cli::SearchReplaceArgs;
use crate::exit::{Code, Failure};

/// Buffer size for stdin and stdout: large enough that the engine, not
/// system calls, sets the pace.
const IO_BUFFER: usize = 1 << 20;

/// Streams stdin to stdout through the replacement engine.
pub fn run(args: &SearchReplaceArgs) -> Result<Code, Failure> {
    let replacer = Replacer::new(&parse_pairs(&args.pairs)?)?;
    let stdin = io::stdin();
    let input = BufReader::with_capacity(IO_BUFFER, stdin.lock());
    let stdout = io::stdout();
    let mut output = BufWriter::with_capacity(IO_BUFFER, stdout.lock());
    // Notes go to stderr as soon as they are due, before the summary.
    let streamed = replace::stream_sql_dump_noting(&replacer, input, &mut output, |note| {
        eprintln!("search-replace: {note}")
    })
    .context("search-replace failed")?;
    output.flush().context("cannot write to stdout")?;
    let stats = streamed.stats;
    // The summary goes to stderr: stdout is the dump.
    let mut summary = format!(
        "search-replace: {} replacements, {} serialized values rewritten",
        stats.replacements, stats.serialized_rewritten
    );
    if stats.malformed_serialized > 0 {
        summary.push_str(&format!(
            ", {} values looked serialized but did not parse (replaced as plain text; check them)",
            stats.malformed_serialized
        ));
    }
    eprintln!("{summary}");
    if let Some(why) = streamed.truncated {
        // Everything read was written: the output is as incomplete as the input.
        return Err(Failure::Fatal(format!(
            "the input ends {why}: the dump looks truncated (an interrupted dump, a full disk, \
             a cut transfer), so the output is incomplete too. Make the dump again, check that it \
             is complete, and run search-replace on it again"
        )));
    }
    Ok(Code::Success)
}

/// FROM TO FROM TO … → pairs. An odd count is a usage error (exit 2), and so
/// is a FROM given twice with different TOs (only one could win; env-migrate
/// refuses the same); an empty FROM is refused by the matcher.
fn parse_pairs(args: &[String]) -> Result<Vec<Pair>, Failure> {
    if !args.len().is_multiple_of(2) {
        return Err(Failure::Usage(format!(
            "search-replace needs FROM TO pairs, but {} arguments were given (an odd number); \
             give every FROM its TO, e.g. `wfuwp search-replace www.wfu.edu uat.wfu.edu < in.sql > out.sql`",
            args.len()
        )));
    }
    let mut pairs: Vec<Pair> = Vec::new();
    for (n, p) in args.chunks(2).enumerate() {
        let (from, to) = (&p[0], &p[1]);
        match pairs.iter().position(|q| &q.from == from) {
            Some(i) if &pairs[i].to != to => {
                return Err(Failure::Usage(format!(
                    "search-replace pair {} replaces '{from}' with '{to}', but pair {} already replaces it \
                     with '{}'; only one replacement could win. Give each FROM once.",
                    n + 1,
                    i + 1,
                    pairs[i].to
                )));
            }
            // The same pair twice is harmless.
            Some(_) => {}
            None => pairs.push(Pair::new(from, to)),
        }
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::code;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn pairs_are_grouped() {
        let p = parse_pairs(&strings(&["a", "b", "c", ""])).unwrap();
        assert_eq!(p, vec![Pair::new("a", "b"), Pair::new("c", "")]);
    }

    #[test]
    fn odd_count_is_a_usage_error() {
        let e = parse_pairs(&strings(&["a", "b", "c"])).unwrap_err();
        assert_eq!(code(&e), Code::Usage);
        assert!(e.to_string().contains("odd"));
    }

    #[test]
    fn a_from_given_twice_with_different_tos_is_a_usage_error() {
        let e = parse_pairs(&strings(&["a", "b", "x", "y", "a", "c"])).unwrap_err();
        assert_eq!(code(&e), Code::Usage);
        let msg = e.to_string();
        assert!(
            msg.contains("pair 3") && msg.contains("pair 1") && msg.contains("'a'"),
            "{msg}"
        );
        let p = parse_pairs(&strings(&["a", "b", "a", "b"])).unwrap();
        assert_eq!(p, vec![Pair::new("a", "b")]);
    }

    #[test]
    fn empty_from_is_a_usage_error() {
        let pairs = parse_pairs(&strings(&["a", "b", "", "x"])).unwrap();
        let e = Failure::from(Replacer::new(&pairs).unwrap_err());
        assert_eq!(code(&e), Code::Usage);
        assert!(e.to_string().contains("pair 2"));
    }
}
