//! `wfuwp search-replace FROM TO …`: the engine over a SQL dump on stdin.

use std::io::{self, BufReader, BufWriter, Write};

use anyhow::{Context as _, Result};

use crate::cli::SearchReplaceArgs;
use crate::exit::{Code, CodedError};
use crate::replace::{self, Pair, Replacer};

/// Buffer size for stdin and stdout: large enough that the engine, not
/// system calls, sets the pace.
const IO_BUFFER: usize = 1 << 20;

/// Streams stdin to stdout through the replacement engine.
pub fn run(args: &SearchReplaceArgs) -> Result<Code> {
    let replacer = Replacer::new(&parse_pairs(&args.pairs)?)?;
    let stdin = io::stdin();
    let input = BufReader::with_capacity(IO_BUFFER, stdin.lock());
    let stdout = io::stdout();
    let mut output = BufWriter::with_capacity(IO_BUFFER, stdout.lock());
    // Notes go to stderr as soon as they are due, before the summary.
    let stats = replace::stream_sql_dump_noting(&replacer, input, &mut output, |note| {
        eprintln!("search-replace: {note}")
    })
    .context("search-replace failed")?;
    output.flush().context("cannot write to stdout")?;
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
    Ok(Code::Success)
}

/// FROM TO FROM TO … → pairs. An odd count is a usage error (exit 2); an
/// empty FROM is refused by the matcher.
fn parse_pairs(args: &[String]) -> Result<Vec<Pair>> {
    if !args.len().is_multiple_of(2) {
        return Err(CodedError::usage(format!(
            "search-replace needs FROM TO pairs, but {} arguments were given (an odd number); \
             give every FROM its TO, e.g. `wfuwp search-replace www.wfu.edu uat.wfu.edu < in.sql > out.sql`",
            args.len()
        ))
        .into());
    }
    Ok(args.chunks(2).map(|p| Pair::new(&p[0], &p[1])).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::classify;

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
        assert_eq!(classify(&e), Code::Usage);
        assert!(e.to_string().contains("odd"));
    }

    #[test]
    fn empty_from_is_a_usage_error() {
        let pairs = parse_pairs(&strings(&["a", "b", "", "x"])).unwrap();
        let e = anyhow::Error::from(Replacer::new(&pairs).unwrap_err());
        assert_eq!(classify(&e), Code::Usage);
        assert!(e.to_string().contains("pair 2"));
    }
}
