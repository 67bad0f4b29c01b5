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
/// are dropped; see [`stream_sql_dump_noting`].
pub fn stream_sql_dump<R: BufRead, W: Write>(
    replacer: &Replacer,
    input: R,
    output: W,
) -> io::Result<ValueStats> {
    stream_sql_dump_noting(replacer, input, output, |_| {})
}

/// [`stream_sql_dump`], handing `note` each remark for the user (at most once
/// each) as soon as it is due, such as [`NO_TABLE_DEFINITIONS`].
pub fn stream_sql_dump_noting<R: BufRead, W: Write>(
    replacer: &Replacer,
    input: R,
    output: W,
    note: impl FnMut(&str),
) -> io::Result<ValueStats> {
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

#[cfg(test)]
mod tests;
