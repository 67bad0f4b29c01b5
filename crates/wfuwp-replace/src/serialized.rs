//! Byte-exact rewriting of PHP-serialized values.
//!
//! The parser only *locates* the string values (and `C:` payloads) of a
//! serialized value; the rewriter then splices new bodies and new byte
//! lengths into a copy of the input, so every byte outside a replaced string
//! — keys, property and class names, numbers as written — stays identical.
//! Containers are parsed iteratively (an explicit stack), so deep nesting
//! cannot overflow the call stack; only strings that themselves hold
//! serialized data recurse, and that recursion is capped at [`MAX_NESTING`].

use super::{Replacer, ValueStats};

/// How many levels of "serialized data inside a serialized string" are
/// parsed. Beyond it a string is treated as plain text (and counted as
/// malformed): real data never nests this deep, hostile data must not be able
/// to exhaust the stack or cost more than `MAX_NESTING` passes.
pub(super) const MAX_NESTING: u32 = 32;

/// The input is not a well-formed serialized value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Malformed;

/// A string value (or `C:` payload) whose body may be replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Span {
    /// The decimal length digits: `len_start..len_end`.
    len_start: usize,
    len_end: usize,
    /// The body the length counts: `body_start..body_end`.
    body_start: usize,
    body_end: usize,
    /// A `C:` object's custom payload rather than an `s:` string.
    payload: bool,
}

/// Replaces in `value`, serialized-aware. `None` when the result equals the
/// input. `matched`: the caller already knows some pattern occurs in `value`.
pub(super) fn rewrite_value(
    r: &Replacer,
    value: &[u8],
    depth: u32,
    matched: bool,
    stats: &mut ValueStats,
) -> Option<Vec<u8>> {
    if looks_serialized(value) {
        // Parsing is the expensive part: only for values that can change.
        if !matched && !r.is_match(value) {
            return None;
        }
        if depth < MAX_NESTING {
            match parse_single(value) {
                Ok((spans, end)) => return rewrite_parsed(r, value, &spans, end, depth, stats),
                Err(Malformed) => stats.malformed_serialized += 1,
            }
        } else {
            stats.malformed_serialized += 1;
        }
    }
    plain(r, value, stats)
}

/// Rewrites a parsed value, `value[..end]`. Bytes after it that are not
/// whitespace are junk PHP's `unserialize` ignores: they are replaced as plain
/// text, so the value itself stays readable, and the value counts as malformed.
fn rewrite_parsed(
    r: &Replacer,
    value: &[u8],
    spans: &[Span],
    end: usize,
    depth: u32,
    stats: &mut ValueStats,
) -> Option<Vec<u8>> {
    let (head, trailing) = value.split_at(end);
    let new_head = emit(r, head, spans, depth, stats);
    if depth == 0 && new_head.is_some() {
        stats.serialized_rewritten += 1;
    }
    if trailing.iter().all(u8::is_ascii_whitespace) {
        return new_head.map(|mut out| {
            out.extend_from_slice(trailing);
            out
        });
    }
    stats.malformed_serialized += 1;
    let new_tail = plain(r, trailing, stats);
    if new_head.is_none() && new_tail.is_none() {
        return None;
    }
    let mut out = new_head.unwrap_or_else(|| head.to_vec());
    out.extend_from_slice(new_tail.as_deref().unwrap_or(trailing));
    Some(out)
}

/// A `C:` payload: the class's own format. When it is a sequence of
/// serialized values (ArrayObject, SplObjectStorage, … write such sequences)
/// it is rewritten structurally; otherwise as plain text.
fn rewrite_payload(
    r: &Replacer,
    body: &[u8],
    depth: u32,
    stats: &mut ValueStats,
) -> Option<Vec<u8>> {
    if !r.is_match(body) {
        return None;
    }
    if depth < MAX_NESTING {
        if let Ok(spans) = parse_sequence(body) {
            return emit(r, body, &spans, depth, stats);
        }
    }
    plain(r, body, stats)
}

fn plain(r: &Replacer, value: &[u8], stats: &mut ValueStats) -> Option<Vec<u8>> {
    let (out, n) = r.replace_plain(value)?;
    stats.replacements += n;
    Some(out)
}

/// Copies `input`, replacing the body of each span that changes and writing
/// its new byte length. `None` when no span changed.
fn emit(
    r: &Replacer,
    input: &[u8],
    spans: &[Span],
    depth: u32,
    stats: &mut ValueStats,
) -> Option<Vec<u8>> {
    let mut out: Option<Vec<u8>> = None;
    let mut last = 0usize;
    for sp in spans {
        let body = &input[sp.body_start..sp.body_end];
        let new = if sp.payload {
            rewrite_payload(r, body, depth + 1, stats)
        } else {
            rewrite_value(r, body, depth + 1, false, stats)
        };
        let Some(new) = new else { continue };
        let buf = out.get_or_insert_with(|| Vec::with_capacity(input.len() + input.len() / 8 + 16));
        buf.extend_from_slice(&input[last..sp.len_start]);
        push_decimal(buf, new.len());
        buf.extend_from_slice(&input[sp.len_end..sp.body_start]);
        buf.extend_from_slice(&new);
        last = sp.body_end;
    }
    let mut buf = out?;
    buf.extend_from_slice(&input[last..]);
    Some(buf)
}

fn push_decimal(buf: &mut Vec<u8>, mut n: usize) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.extend_from_slice(&digits[i..]);
}

/// WordPress-style `is_serialized` (strict): whether a value should be
/// treated as serialized at all. Leading and trailing ASCII whitespace is
/// allowed, as WordPress trims before checking.
pub fn looks_serialized(data: &[u8]) -> bool {
    let t = data.trim_ascii();
    if t == b"N;" {
        return true;
    }
    if t.len() < 4 || t[1] != b':' {
        return false;
    }
    let last = t[t.len() - 1];
    let inner = &t[2..t.len() - 1];
    match t[0] {
        b's' | b'E' => t.ends_with(b"\";"),
        b'a' | b'O' | b'C' => last == b'}',
        b'b' => last == b';' && (inner == b"0" || inner == b"1"),
        b'i' | b'r' | b'R' => last == b';' && is_int(inner),
        b'd' => last == b';' && !inner.is_empty() && inner.iter().all(|b| FLOAT_CHARS.contains(b)),
        _ => false,
    }
}

const FLOAT_CHARS: &[u8] = b"0123456789.eE+-INFA";

fn is_int(s: &[u8]) -> bool {
    let digits = s
        .strip_prefix(b"-")
        .or_else(|| s.strip_prefix(b"+"))
        .unwrap_or(s);
    !digits.is_empty() && digits.iter().all(u8::is_ascii_digit)
}

/// Parses the serialized value at the start of `value` (after optional ASCII
/// whitespace). Returns the spans of its string values, in order, and the
/// offset just past it.
/// The byte ranges of `value` that replacement may change when it is one
/// serialized value: the bodies of its strings and what trails it; `None`
/// when it is not one (then all of it is text). Keys and class names are
/// never replaced, so a leftover audit does not look at them.
pub(super) fn replaceable_ranges(value: &[u8]) -> Option<Vec<(usize, usize)>> {
    if !looks_serialized(value) {
        return None;
    }
    let (spans, end) = parse_single(value).ok()?;
    let mut out: Vec<(usize, usize)> = spans.iter().map(|s| (s.body_start, s.body_end)).collect();
    out.push((end, value.len()));
    Some(out)
}

pub(super) fn parse_single(value: &[u8]) -> Result<(Vec<Span>, usize), Malformed> {
    let start = value.len() - value.trim_ascii_start().len();
    let mut spans = Vec::new();
    let end = parse_one(value, start, &mut spans)?;
    Ok((spans, end))
}

/// Parses a `C:` payload as a sequence of serialized values, allowing the
/// separators and `x:`/`m:` labels that SPL classes put between them
/// (`x:i:0;a:0:{};m:a:0:{}`).
pub(super) fn parse_sequence(body: &[u8]) -> Result<Vec<Span>, Malformed> {
    let mut spans = Vec::new();
    let mut pos = 0;
    while pos < body.len() {
        match body[pos] {
            b';' | b',' | b':' => pos += 1,
            b'x' | b'm' if body.get(pos + 1) == Some(&b':') => pos += 2,
            _ => pos = parse_one(body, pos, &mut spans)?,
        }
    }
    Ok(spans)
}

/// An open array or object: how many keys and values are still to come.
struct Open {
    remaining: usize,
    key_next: bool,
}

/// What one token was.
enum Token {
    Scalar,
    /// An array or object body with this many key/value pairs follows.
    Container(usize),
}

/// Parses exactly one serialized value at `start`, iteratively. Returns the
/// offset just past it.
fn parse_one(s: &[u8], start: usize, spans: &mut Vec<Span>) -> Result<usize, Malformed> {
    let mut c = Cursor { s, pos: start };
    let mut stack: Vec<Open> = Vec::new();
    loop {
        let is_key = match stack.last_mut() {
            Some(open) if open.remaining == 0 => {
                c.expect(b"}")?;
                stack.pop();
                if stack.is_empty() {
                    return Ok(c.pos);
                }
                continue;
            }
            Some(open) => {
                open.remaining -= 1;
                open.key_next = !open.key_next;
                !open.key_next
            }
            None => false,
        };
        if is_key {
            c.key()?;
            continue;
        }
        match c.value(spans)? {
            Token::Scalar if stack.is_empty() => return Ok(c.pos),
            Token::Scalar => {}
            Token::Container(n) => {
                let remaining = n.checked_mul(2).ok_or(Malformed)?;
                stack.push(Open {
                    remaining,
                    key_next: true,
                });
            }
        }
    }
}

/// A position in the input being parsed.
struct Cursor<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn byte(&mut self) -> Result<u8, Malformed> {
        let b = *self.s.get(self.pos).ok_or(Malformed)?;
        self.pos += 1;
        Ok(b)
    }

    fn expect(&mut self, lit: &[u8]) -> Result<(), Malformed> {
        if self.s[self.pos..].starts_with(lit) {
            self.pos += lit.len();
            Ok(())
        } else {
            Err(Malformed)
        }
    }

    /// Unsigned decimal (lengths and counts), overflow-checked.
    fn uint(&mut self) -> Result<usize, Malformed> {
        let start = self.pos;
        let mut n: usize = 0;
        while let Some(&b) = self.s.get(self.pos) {
            if !b.is_ascii_digit() {
                break;
            }
            n = n
                .checked_mul(10)
                .and_then(|n| n.checked_add(usize::from(b - b'0')))
                .ok_or(Malformed)?;
            self.pos += 1;
        }
        if self.pos == start {
            return Err(Malformed);
        }
        Ok(n)
    }

    /// `:` signed integer `;` (ints and references).
    fn int_tail(&mut self) -> Result<(), Malformed> {
        self.expect(b":")?;
        if matches!(self.s.get(self.pos), Some(b'-' | b'+')) {
            self.pos += 1;
        }
        self.uint_digits()?;
        self.expect(b";")
    }

    /// Digits of any magnitude (an `i:` may exceed usize; its bytes are kept anyway).
    fn uint_digits(&mut self) -> Result<(), Malformed> {
        let start = self.pos;
        while self.s.get(self.pos).is_some_and(u8::is_ascii_digit) {
            self.pos += 1;
        }
        if self.pos == start {
            Err(Malformed)
        } else {
            Ok(())
        }
    }

    /// `:` float as PHP writes it (`1.5`, `1.0E+25`, `INF`, `NAN`) `;`.
    fn float_tail(&mut self) -> Result<(), Malformed> {
        self.expect(b":")?;
        let start = self.pos;
        while self
            .s
            .get(self.pos)
            .is_some_and(|b| FLOAT_CHARS.contains(b))
        {
            self.pos += 1;
        }
        if self.pos == start {
            return Err(Malformed);
        }
        self.expect(b";")
    }

    /// `:N:"<N bytes>"` — returns the span of the length digits and body.
    fn quoted(&mut self) -> Result<Span, Malformed> {
        self.length_prefixed(b":\"", b"\"", false)
    }

    /// `:N<open><N bytes><close>`: the shape shared by strings and `C:` payloads.
    fn length_prefixed(
        &mut self,
        open: &[u8],
        close: &[u8],
        payload: bool,
    ) -> Result<Span, Malformed> {
        self.expect(b":")?;
        let len_start = self.pos;
        let len = self.uint()?;
        let len_end = self.pos;
        self.expect(open)?;
        let body_start = self.pos;
        let body_end = body_start
            .checked_add(len)
            .filter(|&e| e <= self.s.len())
            .ok_or(Malformed)?;
        self.pos = body_end;
        self.expect(close)?;
        Ok(Span {
            len_start,
            len_end,
            body_start,
            body_end,
            payload,
        })
    }

    /// An array key or property name: `i:` or `s:` only. Never replaced.
    fn key(&mut self) -> Result<(), Malformed> {
        match self.byte()? {
            b'i' => self.int_tail(),
            b's' => {
                self.quoted()?;
                self.expect(b";")
            }
            _ => Err(Malformed),
        }
    }

    /// Any value; string values are recorded in `spans`.
    fn value(&mut self, spans: &mut Vec<Span>) -> Result<Token, Malformed> {
        match self.byte()? {
            b'N' => self.expect(b";").map(|_| Token::Scalar),
            b'b' => {
                self.expect(b":")?;
                match self.byte()? {
                    b'0' | b'1' => self.expect(b";").map(|_| Token::Scalar),
                    _ => Err(Malformed),
                }
            }
            b'i' | b'r' | b'R' => self.int_tail().map(|_| Token::Scalar),
            b'd' => self.float_tail().map(|_| Token::Scalar),
            b's' => {
                let span = self.quoted()?;
                self.expect(b";")?;
                spans.push(span);
                Ok(Token::Scalar)
            }
            // An enum case `E:len:"Class:Case";` names code, not data.
            b'E' => {
                self.quoted()?;
                self.expect(b";").map(|_| Token::Scalar)
            }
            b'a' => self.container_count(),
            b'O' => {
                self.quoted()?;
                self.container_count()
            }
            b'C' => {
                self.quoted()?;
                self.custom_payload(spans).map(|_| Token::Scalar)
            }
            _ => Err(Malformed),
        }
    }

    /// `:N:{` of an array or object.
    fn container_count(&mut self) -> Result<Token, Malformed> {
        self.expect(b":")?;
        let n = self.uint()?;
        self.expect(b":{")?;
        Ok(Token::Container(n))
    }

    /// `:N:{<N bytes>}` of a `C:` object.
    fn custom_payload(&mut self, spans: &mut Vec<Span>) -> Result<(), Malformed> {
        spans.push(self.length_prefixed(b":{", b"}", true)?);
        Ok(())
    }
}
