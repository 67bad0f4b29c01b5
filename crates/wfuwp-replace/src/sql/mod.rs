//! Stream mode: the engine applied to the string literals of a mysqldump.
//!
//! The [`lexer`] walks the dump and finds the MySQL string literals, skipping
//! identifiers (backticks), comments and binary/hex literals. Each literal is
//! unescaped, passed through [`Replacer::replace_value`] and, only when it
//! changed, re-escaped the way mysqldump escapes; every other byte is copied
//! unchanged.
//!
//! A dump made without `--hex-blob` writes BLOBs as ordinary quoted strings,
//! so the [`statement`] tracker reads each `CREATE TABLE` ([`schema`]) and
//! leaves the values of binary and other non-text columns alone in the
//! `INSERT`s that follow. Input is read in chunks and only the unfinished
//! tail (at most one literal) is kept, so memory is bounded by the largest
//! literal plus the column kinds of each table.

mod escape;
mod lexer;
mod schema;
mod statement;
mod tokens;

use std::io::{self, BufRead, Write};

use super::{Replacer, ValueStats};
use lexer::Lexer;

pub use escape::push_quoted_literal;
pub use statement::NO_TABLE_DEFINITIONS;

/// How much is read from the input per step.
const CHUNK: usize = 1 << 20;

/// Copies a mysqldump from `input` to `output`, replacing inside its string
/// literals (serialized-aware) except in values of binary and other non-text
/// columns. Returns the summed counts over all literals. Notes for the user
/// and signs of a truncated input are dropped; see [`stream_sql_dump_noting`].
pub fn stream_sql_dump<R: BufRead, W: Write>(
    replacer: &Replacer,
    input: R,
    output: W,
) -> io::Result<ValueStats> {
    stream_sql_dump_noting(replacer, input, output, |_| {}).map(|s| s.stats)
}

/// What a stream run found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Streamed {
    /// The summed counts over all literals.
    pub stats: ValueStats,
    /// Why the input looks cut short, when it does: the output is then
    /// incomplete too.
    pub truncated: Option<&'static str>,
}

/// [`stream_sql_dump`], handing `note` each remark for the user (at most once
/// each) as soon as it is due, such as [`NO_TABLE_DEFINITIONS`], and saying
/// whether the input looks truncated.
pub fn stream_sql_dump_noting<R: BufRead, W: Write>(
    replacer: &Replacer,
    input: R,
    output: W,
    note: impl FnMut(&str),
) -> io::Result<Streamed> {
    stream_chunked(replacer, input, output, CHUNK, note)
}

/// [`stream_sql_dump_noting`] reading `chunk` bytes per step (small in
/// tests, to put every token across a chunk boundary).
fn stream_chunked<R: BufRead, W: Write>(
    replacer: &Replacer,
    mut input: R,
    mut output: W,
    chunk: usize,
    mut note: impl FnMut(&str),
) -> io::Result<Streamed> {
    let mut frame = Frame::default();
    let mut buf: Vec<u8> = Vec::with_capacity(chunk * 2);
    if replacer.is_noop() {
        loop {
            buf.clear();
            if fill(&mut input, &mut buf, chunk)? == 0 {
                break;
            }
            frame.saw(&buf);
            output.write_all(&buf)?;
        }
        output.flush()?;
        return Ok(Streamed {
            stats: ValueStats::default(),
            truncated: frame.unfinished(),
        });
    }
    let mut lexer = Lexer::new(replacer);
    loop {
        let before = buf.len();
        let eof = fill(&mut input, &mut buf, chunk)? == 0;
        frame.saw(&buf[before..]);
        lexer.run(&buf, eof, &mut output)?;
        if let Some(text) = lexer.tracker.take_note() {
            note(text);
        }
        if eof {
            output.write_all(&buf[lexer.flushed..])?;
            break;
        }
        let keep_from = lexer.settle(&buf, &mut output)?;
        lexer.remember_tail(&buf[..keep_from]);
        buf.drain(..keep_from);
    }
    output.flush()?;
    let truncated = lexer.unfinished().or_else(|| frame.unfinished());
    Ok(Streamed {
        stats: lexer.stats,
        truncated,
    })
}

/// How much of the start and of the end of the input [`Frame`] keeps.
const FRAME_HEAD: usize = 1024;
const FRAME_TAIL: usize = 256;

/// The first and last bytes of the input: a dump that mysqldump or
/// mariadb-dump began with its header comment ends with its
/// `-- Dump completed` line, unless it was cut short.
#[derive(Default)]
struct Frame {
    head: Vec<u8>,
    tail: Vec<u8>,
}

impl Frame {
    fn saw(&mut self, bytes: &[u8]) {
        let room = FRAME_HEAD.saturating_sub(self.head.len());
        self.head.extend_from_slice(&bytes[..room.min(bytes.len())]);
        let take = bytes.len().min(FRAME_TAIL);
        self.tail.extend_from_slice(&bytes[bytes.len() - take..]);
        let excess = self.tail.len().saturating_sub(FRAME_TAIL);
        self.tail.drain(..excess);
    }

    /// Why the input looks cut short at a statement boundary, if it does.
    fn unfinished(&self) -> Option<&'static str> {
        let starts_like_a_dump = self.head.split(|&b| b == b'\n').any(|line| {
            line.starts_with(b"-- MySQL dump ") || line.starts_with(b"-- MariaDB dump ")
        });
        let last_line = self
            .tail
            .trim_ascii_end()
            .rsplit(|&b| b == b'\n')
            .next()
            .unwrap_or_default();
        (starts_like_a_dump && !last_line.starts_with(b"-- Dump completed")).then_some(
            "without the `-- Dump completed` line that mysqldump and mariadb-dump write last",
        )
    }
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

#[cfg(test)]
mod tests;
