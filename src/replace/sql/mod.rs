//! Stream mode: the engine applied to the string literals of a mysqldump.
//!
//! A small lexer walks the dump and finds the MySQL string literals, skipping
//! identifiers (backticks), comments and binary/hex literals. Each literal is
//! unescaped, passed through [`Replacer::replace_value`] and, only when it
//! changed, re-escaped the way mysqldump escapes; every other byte is copied
//! unchanged. Input is read in chunks and only the unfinished tail (at most
//! one literal) is kept, so memory is bounded by the largest literal.

use std::borrow::Cow;
use std::io::{self, BufRead, Write};

use aho_corasick::AhoCorasick;

use super::{Replacer, ValueStats};

/// How much is read from the input per step.
const CHUNK: usize = 1 << 20;

/// How many code bytes before a literal are kept to recognise an introducer
/// such as `_binary ` across a chunk boundary.
const TAIL: usize = 16;

/// Copies a mysqldump from `input` to `output`, replacing inside its string
/// literals (serialized-aware). Returns the summed counts over all literals.
pub fn stream_sql_dump<R: BufRead, W: Write>(
    replacer: &Replacer,
    input: R,
    output: W,
) -> io::Result<ValueStats> {
    stream_chunked(replacer, input, output, CHUNK)
}

/// [`stream_sql_dump`] reading `chunk` bytes per step (small in tests, to
/// put every token across a chunk boundary).
fn stream_chunked<R: BufRead, W: Write>(
    replacer: &Replacer,
    mut input: R,
    mut output: W,
    chunk: usize,
) -> io::Result<ValueStats> {
    if replacer.is_noop() {
        io::copy(&mut input, &mut output)?;
        output.flush()?;
        return Ok(ValueStats::default());
    }
    let mut lexer = Lexer::new(replacer);
    let mut buf: Vec<u8> = Vec::with_capacity(chunk * 2);
    loop {
        let eof = fill(&mut input, &mut buf, chunk)? == 0;
        lexer.run(&buf, eof, &mut output)?;
        if eof {
            output.write_all(&buf[lexer.flushed..])?;
            break;
        }
        let keep_from = lexer.settle(&buf, &mut output)?;
        lexer.remember_tail(&buf[..keep_from]);
        buf.drain(..keep_from);
    }
    output.flush()?;
    Ok(lexer.stats)
}

/// Appends about `chunk` bytes; returns how many were appended (0 at EOF).
fn fill<R: BufRead>(input: &mut R, buf: &mut Vec<u8>, chunk: usize) -> io::Result<usize> {
    let mut appended = 0;
    while appended < chunk {
        let available = match input.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            break;
        }
        let n = available.len().min(chunk - appended);
        buf.extend_from_slice(&available[..n]);
        input.consume(n);
        appended += n;
    }
    Ok(appended)
}

/// Where the lexer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Code,
    /// Inside a string literal opened by `quote`.
    Literal {
        quote: u8,
        /// A binary or hex literal: passed through untouched.
        binary: bool,
    },
    Backtick,
    LineComment,
    BlockComment,
}

/// The resumable lexer. Offsets are into the caller's buffer; [`Lexer::settle`]
/// and the caller's drain keep them consistent across chunks.
struct Lexer<'r> {
    replacer: &'r Replacer,
    state: State,
    /// Next byte to examine.
    pos: usize,
    /// Everything before this offset has been written out.
    flushed: usize,
    /// Offset of the open literal's opening quote.
    lit_start: usize,
    /// The open literal has an escape (`\x` or a doubled quote): its raw
    /// bytes differ from its value.
    lit_escaped: bool,
    /// … and one that mysqldump never writes (`\q` → `q`), which defeats
    /// the escape filter shortcut.
    lit_unusual_escape: bool,
    /// See [`escape_filter`].
    filter: Option<AhoCorasick>,
    /// The last code bytes already drained from the buffer.
    tail: Vec<u8>,
    stats: ValueStats,
    /// Reused buffers for unescaped values and escaped output.
    unescaped: Vec<u8>,
    escaped: Vec<u8>,
}

/// Outcome of one lexing step.
enum Step {
    Continue,
    /// More input is needed to decide the token at `pos`.
    NeedMore,
}

impl<'r> Lexer<'r> {
    fn new(replacer: &'r Replacer) -> Self {
        Lexer {
            replacer,
            state: State::Code,
            pos: 0,
            flushed: 0,
            lit_start: 0,
            lit_escaped: false,
            lit_unusual_escape: false,
            filter: escape_filter(replacer),
            tail: Vec::with_capacity(TAIL * 2),
            stats: ValueStats::default(),
            unescaped: Vec::new(),
            escaped: Vec::new(),
        }
    }

    /// Lexes as far as the buffer allows. Writes only replaced literals
    /// (and the bytes before them); unchanged bytes are written in bulk later.
    fn run<W: Write>(&mut self, buf: &[u8], eof: bool, out: &mut W) -> io::Result<()> {
        while self.pos < buf.len() {
            let step = match self.state {
                State::Code => self.code(buf, eof),
                State::Literal { quote, .. } => self.literal(buf, eof, quote, out)?,
                State::Backtick => self.skip_to(buf, b'`'),
                State::LineComment => self.skip_to(buf, b'\n'),
                State::BlockComment => self.block_comment(buf, eof),
            };
            if let Step::NeedMore = step {
                break;
            }
        }
        Ok(())
    }

    /// Writes what is decided and returns the offset before which the buffer
    /// may be dropped. An open literal is kept whole, from its opening quote.
    fn settle<W: Write>(&mut self, buf: &[u8], out: &mut W) -> io::Result<usize> {
        let keep_from = match self.state {
            State::Literal { .. } => self.lit_start,
            _ => self.pos,
        };
        out.write_all(&buf[self.flushed..keep_from])?;
        self.pos -= keep_from;
        self.lit_start = self.lit_start.saturating_sub(keep_from);
        self.flushed = 0;
        Ok(keep_from)
    }

    fn remember_tail(&mut self, drained: &[u8]) {
        let take = drained.len().min(TAIL);
        self.tail
            .extend_from_slice(&drained[drained.len() - take..]);
        let excess = self.tail.len().saturating_sub(TAIL);
        self.tail.drain(..excess);
    }

    fn code(&mut self, buf: &[u8], eof: bool) -> Step {
        let Some(i) = find(buf, self.pos, &CODE_SPECIAL) else {
            self.pos = buf.len();
            return Step::Continue;
        };
        self.pos = i;
        let next = |k: usize| buf.get(i + k).copied();
        // Tokens that need lookahead wait for more input unless at EOF.
        let need = |k: usize| !eof && i + k >= buf.len();
        match buf[i] {
            q @ (b'\'' | b'"') => {
                let binary = self.binary_introducer(buf, i);
                self.state = State::Literal { quote: q, binary };
                self.lit_escaped = false;
                self.lit_unusual_escape = false;
                self.lit_start = i;
                self.pos = i + 1;
            }
            b'`' => self.enter(State::Backtick, i + 1),
            b'#' => self.enter(State::LineComment, i + 1),
            b'-' => {
                if need(1) || (next(1) == Some(b'-') && need(2)) {
                    return Step::NeedMore;
                }
                // `--` starts a comment only when followed by a space or control character.
                if next(1) == Some(b'-') && next(2).is_none_or(|c| c <= b' ') {
                    self.enter(State::LineComment, i + 2);
                } else {
                    self.pos = i + 1;
                }
            }
            _ => {
                // `/`: `/*!…*/` and `/*M!…*/` are versioned code, `/*…*/` a comment.
                if need(1)
                    || (next(1) == Some(b'*') && (need(2) || (next(2) == Some(b'M') && need(3))))
                {
                    return Step::NeedMore;
                }
                match (next(1), next(2), next(3)) {
                    (Some(b'*'), Some(b'!'), _) => self.pos = i + 3,
                    (Some(b'*'), Some(b'M'), Some(b'!')) => self.pos = i + 4,
                    (Some(b'*'), _, _) => self.enter(State::BlockComment, i + 2),
                    _ => self.pos = i + 1,
                }
            }
        }
        Step::Continue
    }

    fn enter(&mut self, state: State, pos: usize) {
        self.state = state;
        self.pos = pos;
    }

    fn skip_to(&mut self, buf: &[u8], end: u8) -> Step {
        match buf[self.pos..].iter().position(|&b| b == end) {
            Some(i) => self.enter(State::Code, self.pos + i + 1),
            None => self.pos = buf.len(),
        }
        Step::Continue
    }

    fn block_comment(&mut self, buf: &[u8], eof: bool) -> Step {
        let Some(i) = buf[self.pos..]
            .iter()
            .position(|&b| b == b'*')
            .map(|i| self.pos + i)
        else {
            self.pos = buf.len();
            return Step::Continue;
        };
        match buf.get(i + 1) {
            Some(b'/') => self.enter(State::Code, i + 2),
            Some(_) => self.pos = i + 1,
            None if eof => self.pos = buf.len(),
            None => {
                self.pos = i;
                return Step::NeedMore;
            }
        }
        Step::Continue
    }

    /// Scans an open literal up to its closing quote (or the end of the buffer).
    fn literal<W: Write>(
        &mut self,
        buf: &[u8],
        eof: bool,
        quote: u8,
        out: &mut W,
    ) -> io::Result<Step> {
        loop {
            let Some(i) = find2(buf, self.pos, b'\\', quote) else {
                self.pos = buf.len();
                return Ok(Step::Continue);
            };
            if i + 1 >= buf.len() && !eof {
                // A backslash or quote as the last byte: its meaning depends on the next one.
                self.pos = i;
                return Ok(Step::NeedMore);
            }
            let next = buf.get(i + 1).copied();
            if buf[i] == b'\\' {
                self.lit_escaped = true;
                if !next.is_some_and(|c| STANDARD_ESCAPES.contains(&c)) {
                    self.lit_unusual_escape = true;
                }
            } else if next == Some(quote) {
                self.lit_escaped = true;
            } else {
                return self.finish_literal(buf, i, out).map(|_| Step::Continue);
            }
            self.pos = (i + 2).min(buf.len());
        }
    }

    /// The literal `buf[lit_start..=close]` is complete: replace inside it.
    fn finish_literal<W: Write>(
        &mut self,
        buf: &[u8],
        close: usize,
        out: &mut W,
    ) -> io::Result<()> {
        let State::Literal { quote, binary } = self.state else {
            return Ok(());
        };
        self.enter(State::Code, close + 1);
        if binary {
            return Ok(());
        }
        let raw = &buf[self.lit_start + 1..close];
        let replaced = if self.lit_escaped {
            // Unescaping costs a copy; most literals provably contain no FROM.
            if let (false, Some(filter)) = (self.lit_unusual_escape, &self.filter) {
                if !filter.is_match(raw) {
                    return Ok(());
                }
            }
            unescape(raw, quote, &mut self.unescaped);
            self.replacer.replace_value(&self.unescaped)
        } else {
            self.replacer.replace_value(raw)
        };
        self.stats += replaced.stats;
        let Cow::Owned(new) = replaced.value else {
            return Ok(());
        };
        out.write_all(&buf[self.flushed..=self.lit_start])?;
        self.escaped.clear();
        escape(&new, &mut self.escaped);
        out.write_all(&self.escaped)?;
        // The closing quote goes out with the following bytes.
        self.flushed = close;
        Ok(())
    }

    /// Whether the quote at `q` opens a binary or hex literal: `_binary '…'`,
    /// `x'…'`, `b'…'`. Those hold bytes, not text, and pass through untouched.
    fn binary_introducer(&self, buf: &[u8], q: usize) -> bool {
        let mut before: Vec<u8>;
        let lookback: &[u8] = if q >= TAIL {
            &buf[q - TAIL..q]
        } else {
            before = self.tail.clone();
            before.extend_from_slice(&buf[..q]);
            &before
        };
        is_binary_introducer(lookback)
    }
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

/// See [`Lexer::binary_introducer`]; `before` are the bytes right before the quote.
fn is_binary_introducer(before: &[u8]) -> bool {
    let standalone = |word_len: usize, s: &[u8]| {
        s.len() == word_len || !is_ident_byte(s[s.len() - word_len - 1])
    };
    if let Some(&last) = before.last() {
        if matches!(last, b'x' | b'X' | b'b' | b'B') && standalone(1, before) {
            return true;
        }
    }
    let t = before.trim_ascii_end();
    t.len() >= 7 && t[t.len() - 7..].eq_ignore_ascii_case(b"_binary") && standalone(7, t)
}

/// Byte classes that end a fast scan in each state.
const fn class(bytes: &[u8]) -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i < bytes.len() {
        t[bytes[i] as usize] = true;
        i += 1;
    }
    t
}

static CODE_SPECIAL: [bool; 256] = class(b"'\"`#-/");

fn find(buf: &[u8], from: usize, table: &[bool; 256]) -> Option<usize> {
    buf[from..]
        .iter()
        .position(|&b| table[b as usize])
        .map(|i| from + i)
}

/// MySQL string-literal unescaping: `\0 \' \" \b \n \r \t \Z \\`, `\%` and
/// `\_` kept with their backslash (as MySQL does outside LIKE), any other
/// `\c` → `c`, and a doubled quote → one quote.
fn unescape(raw: &[u8], quote: u8, out: &mut Vec<u8>) {
    out.clear();
    out.reserve(raw.len());
    let mut i = 0;
    while let Some(j) = find2(raw, i, b'\\', quote) {
        out.extend_from_slice(&raw[i..j]);
        let Some(&c) = raw.get(j + 1) else {
            // A trailing lone backslash or quote (only in an unterminated literal).
            out.push(raw[j]);
            return;
        };
        if raw[j] == quote {
            // A doubled quote is one quote; a lone one cannot occur in a closed literal.
            out.push(quote);
            i = if c == quote { j + 2 } else { j + 1 };
            continue;
        }
        match c {
            b'0' => out.push(0),
            b'b' => out.push(0x08),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'Z' => out.push(0x1a),
            b'%' | b'_' => out.extend_from_slice(&[b'\\', c]),
            _ => out.push(c),
        }
        i = j + 2;
    }
    out.extend_from_slice(&raw[i..]);
}

/// The bytes mysqldump escapes (`mysql_real_escape_string`).
static NEEDS_ESCAPE: [bool; 256] = class(b"\0\n\r\\'\"\x1a");

/// Escapes like mysqldump: NUL, newline, CR, backslash, both quotes and
/// Ctrl-Z; everything else verbatim.
fn escape(value: &[u8], out: &mut Vec<u8>) {
    out.reserve(value.len() + value.len() / 16 + 8);
    let mut last = 0;
    while let Some(i) = find(value, last, &NEEDS_ESCAPE) {
        out.extend_from_slice(&value[last..i]);
        let letter = match value[i] {
            0 => b'0',
            b'\n' => b'n',
            b'\r' => b'r',
            0x1a => b'Z',
            other => other,
        };
        out.extend_from_slice(&[b'\\', letter]);
        last = i + 1;
    }
    out.extend_from_slice(&value[last..]);
}

/// Characters after a backslash that mysqldump-style escaping produces. With
/// only these, a value byte outside [`ESCAPABLE`] is always written verbatim.
const STANDARD_ESCAPES: &[u8] = b"0'\"bnrtZ\\%_";

/// Value bytes that may be written as an escape sequence.
const ESCAPABLE: &[u8] = b"\0'\"\x08\n\r\t\x1a\\";

/// A shortcut for escaped literals: the longest run of each (non-identity)
/// FROM without [`ESCAPABLE`] bytes. Such a run appears verbatim in the raw
/// literal whenever FROM occurs in its value (given standard escapes), so a
/// raw literal without any run needs no unescaping at all. `None` when some
/// FROM has no such run (then every escaped literal is unescaped).
fn escape_filter(r: &Replacer) -> Option<AhoCorasick> {
    let mut runs = Vec::new();
    for (from, to) in r.effective_pairs() {
        if from == to {
            continue;
        }
        let run = from
            .split(|b| ESCAPABLE.contains(b))
            .max_by_key(|run| run.len())?;
        if run.is_empty() {
            return None;
        }
        runs.push(run.to_vec());
    }
    AhoCorasick::new(runs).ok()
}

/// First offset ≥ `from` of byte `a` or `b`. Literal bodies are most of a
/// dump, so this scans a word at a time (SWAR "has zero byte" trick).
fn find2(hay: &[u8], from: usize, a: u8, b: u8) -> Option<usize> {
    const LO: u64 = u64::from_ne_bytes([0x01; 8]);
    const HI: u64 = u64::from_ne_bytes([0x80; 8]);
    let (va, vb) = (LO * u64::from(a), LO * u64::from(b));
    let mut chunks = hay[from..].chunks_exact(8);
    let mut base = from;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        let (xa, xb) = (w ^ va, w ^ vb);
        // Only bytes above a true zero byte can be falsely flagged, so the
        // lowest flagged byte is always a real hit.
        let hit = ((xa.wrapping_sub(LO) & !xa) | (xb.wrapping_sub(LO) & !xb)) & HI;
        if hit != 0 {
            return Some(base + (hit.trailing_zeros() / 8) as usize);
        }
        base += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&x| x == a || x == b)
        .map(|i| base + i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain() -> Replacer {
        Replacer::new(&[
            ("www.x.edu".to_string(), "uat.x.edu".to_string()),
            (".x.edu".to_string(), ".uat.x.edu".to_string()),
        ])
        .unwrap()
    }

    /// Runs the stream with every chunk size from 1 to 9 and one big chunk,
    /// checks they agree, and returns the output.
    fn run(r: &Replacer, input: &[u8]) -> (Vec<u8>, ValueStats) {
        let mut first: Option<(Vec<u8>, ValueStats)> = None;
        for chunk in (1..10).chain([CHUNK]) {
            let mut out = Vec::new();
            let stats = stream_chunked(r, input, &mut out, chunk).unwrap();
            match &first {
                None => first = Some((out, stats)),
                Some((o, s)) => {
                    assert_eq!(
                        String::from_utf8_lossy(o),
                        String::from_utf8_lossy(&out),
                        "chunk {chunk}"
                    );
                    assert_eq!(*s, stats, "chunk {chunk}");
                }
            }
        }
        first.unwrap()
    }

    fn out(input: &str) -> String {
        String::from_utf8(run(&chain(), input.as_bytes()).0).unwrap()
    }

    #[test]
    fn replaces_inside_literals_only() {
        let input = "INSERT INTO `wp_options` VALUES (1,'siteurl','https://www.x.edu','yes'),(2,'a','b.x.edu',NULL);\n";
        assert_eq!(
            out(input),
            "INSERT INTO `wp_options` VALUES (1,'siteurl','https://uat.x.edu','yes'),(2,'a','b.uat.x.edu',NULL);\n"
        );
    }

    #[test]
    fn identifiers_and_comments_pass_through() {
        let input = "-- dump of www.x.edu it's\n# host www.x.edu 'x\n/* www.x.edu ' */\n\
                     CREATE TABLE `www.x.edu\\` (`it's` text);\nINSERT INTO `t\\` VALUES ('www.x.edu');\n";
        let expected = "-- dump of www.x.edu it's\n# host www.x.edu 'x\n/* www.x.edu ' */\n\
                        CREATE TABLE `www.x.edu\\` (`it's` text);\nINSERT INTO `t\\` VALUES ('uat.x.edu');\n";
        assert_eq!(out(input), expected);
    }

    #[test]
    fn versioned_comments_are_code() {
        let input = "/*!40101 SET @a='www.x.edu' */;\n/*M!100100 SET @b='www.x.edu' */;\n";
        let expected = "/*!40101 SET @a='uat.x.edu' */;\n/*M!100100 SET @b='uat.x.edu' */;\n";
        assert_eq!(out(input), expected);
    }

    #[test]
    fn dash_without_space_is_not_a_comment() {
        assert_eq!(out("SELECT 1--1,'www.x.edu';"), "SELECT 1--1,'uat.x.edu';");
        assert_eq!(out("SELECT 1-'www.x.edu';"), "SELECT 1-'uat.x.edu';");
        assert_eq!(out("SELECT 1/'www.x.edu';"), "SELECT 1/'uat.x.edu';");
    }

    #[test]
    fn escaped_quotes_and_doubled_quotes() {
        assert_eq!(out(r"('it\'s www.x.edu')"), r"('it\'s uat.x.edu')");
        assert_eq!(out("('it''s www.x.edu')"), r"('it\'s uat.x.edu')");
        assert_eq!(out(r#"("say \"www.x.edu\"")"#), r#"("say \"uat.x.edu\"")"#);
        assert_eq!(out(r#"("say ""www.x.edu""")"#), r#"("say \"uat.x.edu\"")"#);
    }

    #[test]
    fn unchanged_literals_keep_their_escaping() {
        for lit in [r"('a\tb''c\%\_\Z')", r#"("a''b\'")"#, "('\\\\')"] {
            assert_eq!(out(lit), lit);
        }
    }

    #[test]
    fn all_escapes_round_trip() {
        let input = "('www.x.edu\\0\\'\\\"\\b\\n\\r\\t\\Z\\\\\\%\\_\\q')";
        // Re-escaped the mysqldump way: \b, \t and unknown escapes become their bytes,
        // \% and \_ keep their backslash (MySQL keeps it outside LIKE).
        let expected = "('uat.x.edu\\0\\'\\\"\u{8}\\n\\r\t\\Z\\\\\\\\%\\\\_q')";
        assert_eq!(out(input), expected);
    }

    #[test]
    fn serialized_inside_escaped_literal() {
        let input = r#"('a:1:{s:3:\"url\";s:16:\"http://a.x.edu/p\";}')"#;
        let expected = r#"('a:1:{s:3:\"url\";s:20:\"http://a.uat.x.edu/p\";}')"#;
        let (o, st) = run(&chain(), input.as_bytes());
        assert_eq!(String::from_utf8(o).unwrap(), expected);
        assert_eq!(
            st,
            ValueStats {
                replacements: 1,
                serialized_rewritten: 1,
                malformed_serialized: 0
            }
        );
    }

    #[test]
    fn json_block_content() {
        let r = Replacer::new(&[(
            "https://www.x.edu".to_string(),
            "https://uat.x.edu".to_string(),
        )])
        .unwrap();
        let input = r#"('<!-- wp:image {\"url\":\"https:\\/\\/www.x.edu\\/a.jpg\"} -->')"#;
        let expected = r#"('<!-- wp:image {\"url\":\"https:\\/\\/uat.x.edu\\/a.jpg\"} -->')"#;
        assert_eq!(
            String::from_utf8(run(&r, input.as_bytes()).0).unwrap(),
            expected
        );
    }

    #[test]
    fn binary_and_hex_literals_are_untouched() {
        for lit in [
            "(_binary 'www.x.edu')",
            "(_BINARY'www.x.edu')",
            "(x'www.x.edu')",
            "(B'www.x.edu')",
        ] {
            assert_eq!(out(lit), lit);
        }
        assert_eq!(out("(ax'www.x.edu')"), "(ax'uat.x.edu')");
        assert_eq!(out("(my_binary 'www.x.edu')"), "(my_binary 'uat.x.edu')");
    }

    #[test]
    fn unterminated_literal_passes_through() {
        assert_eq!(out("('www.x.edu"), "('www.x.edu");
        assert_eq!(out("('www.x.edu\\"), "('www.x.edu\\");
        assert_eq!(out("/* www.x.edu"), "/* www.x.edu");
    }

    #[test]
    fn non_utf8_bytes_pass_through() {
        let input = b"(\xff'\xfe www.x.edu \x80', `\xc3`)";
        let (o, _) = run(&chain(), input);
        assert_eq!(o, b"(\xff'\xfe uat.x.edu \x80', `\xc3`)");
    }

    #[test]
    fn literal_larger_than_a_chunk() {
        let body = "text www.x.edu ".repeat(10_000);
        let input = format!("INSERT INTO t VALUES ('{body}');");
        let r = chain();
        let mut o = Vec::new();
        let st = stream_chunked(&r, input.as_bytes(), &mut o, 1000).unwrap();
        assert_eq!(st.replacements, 10_000);
        assert_eq!(
            String::from_utf8(o).unwrap(),
            input.replace("www.x.edu", "uat.x.edu")
        );
    }

    #[test]
    fn noop_copies() {
        let r = Replacer::new(&[("a".to_string(), "a".to_string())]).unwrap();
        let input = b"('a') `a` -- a\n";
        let (o, st) = run(&r, input);
        assert_eq!(o, input);
        assert_eq!(st, ValueStats::default());
    }

    #[test]
    fn unusual_escapes_still_match() {
        // `\e` is `e` to MySQL: the FROM occurs in the value though not in the raw bytes.
        assert_eq!(out(r"('www.x.\edu')"), "('uat.x.edu')");
        assert_eq!(out(r"('w\ww.x.edu')"), "('uat.x.edu')");
    }

    #[test]
    fn froms_with_escapable_bytes() {
        let r = Replacer::new(&[
            ("it's".to_string(), "it is".to_string()),
            ("\n".to_string(), " ".to_string()),
        ])
        .unwrap();
        let o = run(&r, br"('it\'s', 'it''s', 'a\nb', 'a\\nb')").0;
        assert_eq!(
            String::from_utf8(o).unwrap(),
            r"('it is', 'it is', 'a b', 'a\\nb')"
        );
        let r = Replacer::new(&[("\n".to_string(), " ".to_string())]).unwrap();
        assert!(escape_filter(&r).is_none());
        assert_eq!(run(&r, br"('a\nb\\n')").0, br"('a b\\n')");
    }

    #[test]
    fn find2_agrees_with_a_naive_scan() {
        let mut x: u32 = 12345;
        for len in 0..64 {
            let hay: Vec<u8> = (0..len)
                .map(|_| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    [b'a', b'\\', b'\'', 0, 0xff, 0x80][(x >> 16) as usize % 6]
                })
                .collect();
            for from in 0..=hay.len() {
                let naive = hay[from..]
                    .iter()
                    .position(|&b| b == b'\\' || b == b'\'')
                    .map(|i| i + from);
                assert_eq!(
                    find2(&hay, from, b'\\', b'\''),
                    naive,
                    "{hay:?} from {from}"
                );
            }
        }
    }

    #[test]
    fn introducer_detection() {
        assert!(is_binary_introducer(b"(_binary "));
        assert!(is_binary_introducer(b"_binary"));
        assert!(is_binary_introducer(b",X"));
        assert!(!is_binary_introducer(b"(1,"));
        assert!(!is_binary_introducer(b"max"));
        assert!(!is_binary_introducer(b""));
    }
}
