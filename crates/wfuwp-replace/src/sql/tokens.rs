//! Splits the code of a statement head (outside literals and comments) into
//! words, backtick identifiers and punctuation, byte by byte, so that it can
//! resume anywhere across input chunks.

/// A token of statement code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tok<'a> {
    /// A keyword or unquoted name.
    Word(&'a [u8]),
    /// A backtick-quoted name, unquoted (doubled backticks undone).
    Ident(&'a [u8]),
    /// Any other non-space byte: `(`, `)`, `,`, `.`, `;`, `=`, `*`…
    Punct(u8),
    /// A string literal (its contents are the lexer's business).
    Literal,
}

/// Longest word or name kept; MySQL names are at most 64 characters, so a
/// longer one cannot match anything and its tail is dropped.
const MAX_WORD: usize = 256;

/// Which token the buffered bytes belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pending {
    None,
    Word,
    Ident,
}

/// The resumable tokenizer state.
#[derive(Debug)]
pub(super) struct Tokenizer {
    buf: Vec<u8>,
    pending: Pending,
    /// Inside a backtick identifier. Shared with the tracker's fast scans,
    /// which only need to know whether a byte is quoted.
    pub(super) quoted: bool,
    /// Just saw a backtick that closes an identifier, unless the next byte
    /// is another backtick (a doubled one, part of the name).
    closing: bool,
}

pub(super) fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

impl Default for Tokenizer {
    fn default() -> Self {
        Tokenizer {
            buf: Vec::with_capacity(64),
            pending: Pending::None,
            quoted: false,
            closing: false,
        }
    }
}

impl Tokenizer {
    /// Takes one byte, handing every finished token to `sink`.
    pub(super) fn step(&mut self, b: u8, sink: &mut impl FnMut(Tok<'_>)) {
        if self.quoted {
            if b == b'`' {
                self.quoted = false;
                self.closing = true;
            } else {
                self.push(b);
            }
            return;
        }
        if self.closing {
            self.closing = false;
            if b == b'`' {
                // A doubled backtick is one backtick of the name.
                self.push(b);
                self.quoted = true;
                return;
            }
        } else if is_ident_byte(b) {
            if self.pending == Pending::None {
                self.pending = Pending::Word;
            }
            self.push(b);
            return;
        }
        self.flush(sink);
        match b {
            b'`' => {
                self.quoted = true;
                self.pending = Pending::Ident;
            }
            b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c => {}
            _ => sink(Tok::Punct(b)),
        }
    }

    /// Ends a pending word or identifier (also at a boundary the tokenizer
    /// does not see, such as a literal or a comment).
    pub(super) fn flush(&mut self, sink: &mut impl FnMut(Tok<'_>)) {
        if self.quoted {
            return;
        }
        self.closing = false;
        match self.pending {
            Pending::None => {}
            Pending::Word => sink(Tok::Word(&self.buf)),
            Pending::Ident => sink(Tok::Ident(&self.buf)),
        }
        self.buf.clear();
        self.pending = Pending::None;
    }

    /// Forgets everything: a new statement starts.
    pub(super) fn reset(&mut self) {
        self.buf.clear();
        self.pending = Pending::None;
        self.quoted = false;
        self.closing = false;
    }

    fn push(&mut self, b: u8) {
        if self.buf.len() < MAX_WORD {
            self.buf.push(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(code: &[u8]) -> Vec<String> {
        let mut t = Tokenizer::default();
        let mut out = Vec::new();
        let mut sink = |tok: Tok<'_>| {
            out.push(match tok {
                Tok::Word(w) => format!("w:{}", String::from_utf8_lossy(w)),
                Tok::Ident(w) => format!("i:{}", String::from_utf8_lossy(w)),
                Tok::Punct(p) => format!("{}", p as char),
                Tok::Literal => "lit".to_string(),
            })
        };
        for &b in code {
            t.step(b, &mut sink);
        }
        t.flush(&mut sink);
        out
    }

    #[test]
    fn words_identifiers_and_punctuation() {
        assert_eq!(
            tokens(b"INSERT INTO`a``b`.t(x,`y`)VALUES"),
            ["w:INSERT", "w:INTO", "i:a`b", ".", "w:t", "(", "w:x", ",", "i:y", ")", "w:VALUES"]
        );
        assert_eq!(tokens(b"`a``` ``"), ["i:a`", "i:"]);
    }
}
