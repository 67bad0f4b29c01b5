//! Byte-level helpers of the literal scanner: MySQL string escaping and
//! unescaping, the escape filter shortcut, and fast byte searches.

use aho_corasick::AhoCorasick;

use crate::Replacer;

/// Byte classes that end a fast scan.
pub(super) const fn class(bytes: &[u8]) -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i < bytes.len() {
        t[bytes[i] as usize] = true;
        i += 1;
    }
    t
}

/// First offset >= `from` of a byte in `table`.
pub(super) fn find(buf: &[u8], from: usize, table: &[bool; 256]) -> Option<usize> {
    buf[from..]
        .iter()
        .position(|&b| table[b as usize])
        .map(|i| from + i)
}

/// MySQL string-literal unescaping: `\0 \' \" \b \n \r \t \Z \\`, `\%` and
/// `\_` kept with their backslash (as MySQL does outside LIKE), any other
/// `\c` → `c`, and a doubled quote → one quote.
pub(super) fn unescape(raw: &[u8], quote: u8, out: &mut Vec<u8>) {
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
pub(super) fn escape(value: &[u8], out: &mut Vec<u8>) {
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

/// Appends `value` as a quoted SQL string literal, escaped as mysqldump
/// does: the one way the engine writes a value into SQL text.
pub fn push_quoted_literal(out: &mut Vec<u8>, value: &[u8]) {
    out.push(b'\'');
    escape(value, out);
    out.push(b'\'');
}

/// Characters after a backslash that mysqldump-style escaping produces. With
/// only these, a value byte outside [`ESCAPABLE`] is always written verbatim.
pub(super) const STANDARD_ESCAPES: &[u8] = b"0'\"bnrtZ\\%_";

/// Value bytes that may be written as an escape sequence.
pub(super) const ESCAPABLE: &[u8] = b"\0'\"\x08\n\r\t\x1a\\";

/// A shortcut for escaped literals: the longest run of each (non-identity)
/// FROM without [`ESCAPABLE`] bytes. Such a run appears verbatim in the raw
/// literal whenever FROM occurs in its value (given standard escapes), so a
/// raw literal without any run needs no unescaping at all. `None` when some
/// FROM has no such run (then every escaped literal is unescaped).
pub(super) fn escape_filter(r: &Replacer) -> Option<AhoCorasick> {
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
pub(super) fn find2(hay: &[u8], from: usize, a: u8, b: u8) -> Option<usize> {
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
