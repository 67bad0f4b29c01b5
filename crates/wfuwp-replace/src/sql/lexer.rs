//! The resumable byte-level scanner of a dump: finds string literals
//! (skipping comments, identifiers and binary/hex literals), replaces inside
//! the ones the statement [`Tracker`] calls text, and copies everything else.

use std::borrow::Cow;
use std::io::{self, Write};

use aho_corasick::AhoCorasick;

use super::escape::{class, escape, escape_filter, find, find2, unescape, STANDARD_ESCAPES};
use super::statement::Tracker;
use super::tokens::is_ident_byte;
use crate::{Replacer, ValueStats};

/// How many code bytes before a literal are kept to recognise an introducer
/// such as `_binary ` across a chunk boundary.
const TAIL: usize = 16;

/// Where the lexer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Code,
    /// Inside a string literal opened by `quote`.
    Literal {
        quote: u8,
        /// A binary or hex literal, or a value of a column that is not
        /// text: passed through untouched.
        keep: bool,
    },
    Backtick,
    LineComment,
    BlockComment,
}

/// The resumable lexer. Offsets are into the caller's buffer; [`Lexer::settle`]
/// and the caller's drain keep them consistent across chunks.
pub(super) struct Lexer<'r> {
    replacer: &'r Replacer,
    state: State,
    /// Next byte to examine.
    pos: usize,
    /// Everything before this offset has been written out.
    pub(super) flushed: usize,
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
    pub(super) stats: ValueStats,
    /// Which literals hold replaceable text.
    pub(super) tracker: Tracker,
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
    pub(super) fn new(replacer: &'r Replacer) -> Self {
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
            tracker: Tracker::default(),
            unescaped: Vec::new(),
            escaped: Vec::new(),
        }
    }

    /// Lexes as far as the buffer allows. Writes only replaced literals
    /// (and the bytes before them); unchanged bytes are written in bulk later.
    pub(super) fn run<W: Write>(&mut self, buf: &[u8], eof: bool, out: &mut W) -> io::Result<()> {
        while self.pos < buf.len() {
            let step = match self.state {
                State::Code => self.code(buf, eof),
                State::Literal { quote, .. } => self.literal(buf, eof, quote, out)?,
                State::Backtick => self.backtick(buf),
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
    pub(super) fn settle<W: Write>(&mut self, buf: &[u8], out: &mut W) -> io::Result<usize> {
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

    pub(super) fn remember_tail(&mut self, drained: &[u8]) {
        let take = drained.len().min(TAIL);
        self.tail
            .extend_from_slice(&drained[drained.len() - take..]);
        let excess = self.tail.len().saturating_sub(TAIL);
        self.tail.drain(..excess);
    }

    /// At the end of the input: why it looks cut short, if it does (a
    /// literal, name or comment left open, or a statement without its `;`).
    pub(super) fn unfinished(&mut self) -> Option<&'static str> {
        match self.state {
            State::Literal { .. } => Some("inside a string literal"),
            State::Backtick => Some("inside a quoted name"),
            State::BlockComment => Some("inside a comment"),
            State::Code | State::LineComment => self
                .tracker
                .unfinished_statement()
                .then_some("in the middle of a statement (its closing `;` is missing)"),
        }
    }

    fn code(&mut self, buf: &[u8], eof: bool) -> Step {
        let Some(i) = find(buf, self.pos, &CODE_MARKERS) else {
            self.tracker.code(&buf[self.pos..]);
            self.pos = buf.len();
            return Step::Continue;
        };
        self.tracker.code(&buf[self.pos..i]);
        self.pos = i;
        let next = |k: usize| buf.get(i + k).copied();
        // Tokens that need lookahead wait for more input unless at EOF.
        let need = |k: usize| !eof && i + k >= buf.len();
        match buf[i] {
            q @ (b'\'' | b'"') => {
                // The tracker sees every literal, introduced or not.
                let text = self.tracker.literal();
                let keep = self.binary_introducer(buf, i) || !text;
                self.state = State::Literal { quote: q, keep };
                self.lit_escaped = false;
                self.lit_unusual_escape = false;
                self.lit_start = i;
                self.pos = i + 1;
            }
            b'`' => {
                self.tracker.code(b"`");
                self.enter(State::Backtick, i + 1);
            }
            b'#' => {
                self.tracker.separator();
                self.enter(State::LineComment, i + 1);
            }
            b'-' => {
                if need(1) || (next(1) == Some(b'-') && need(2)) {
                    return Step::NeedMore;
                }
                // `--` starts a comment only when followed by a space or control character.
                if next(1) == Some(b'-') && next(2).is_none_or(|c| c <= b' ') {
                    self.tracker.separator();
                    self.enter(State::LineComment, i + 2);
                } else {
                    self.tracker.code(b"-");
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
                    (Some(b'*'), Some(b'!'), _) => {
                        self.tracker.versioned();
                        self.pos = i + 3;
                    }
                    (Some(b'*'), Some(b'M'), Some(b'!')) => {
                        self.tracker.versioned();
                        self.pos = i + 4;
                    }
                    (Some(b'*'), _, _) => {
                        self.tracker.separator();
                        self.enter(State::BlockComment, i + 2);
                    }
                    _ => {
                        self.tracker.code(b"/");
                        self.pos = i + 1;
                    }
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

    /// Inside a backtick identifier: its bytes are code to the tracker.
    fn backtick(&mut self, buf: &[u8]) -> Step {
        match buf[self.pos..].iter().position(|&b| b == b'`') {
            Some(i) => {
                self.tracker.code(&buf[self.pos..=self.pos + i]);
                self.enter(State::Code, self.pos + i + 1);
            }
            None => {
                self.tracker.code(&buf[self.pos..]);
                self.pos = buf.len();
            }
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
        let State::Literal { quote, keep } = self.state else {
            return Ok(());
        };
        self.enter(State::Code, close + 1);
        if keep {
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

/// See [`Lexer::binary_introducer`]; `before` are the bytes right before the quote.
pub(super) fn is_binary_introducer(before: &[u8]) -> bool {
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

/// Bytes that end a run of plain code.
static CODE_MARKERS: [bool; 256] = class(b"'\"`#-/");
