//! The one-pass, serialization-safe search-replace engine (docs/replace.md).
//!
//! * [`Replacer`] holds every pair (plus its JSON-escaped form) in one
//!   leftmost-longest automaton and applies them with PHP `strtr` semantics:
//!   one pass, never re-scanning replaced text, so chained pairs such as
//!   `www.x.edu→uat.x.edu` + `.x.edu→.uat.x.edu` cannot double-replace.
//! * [`Replacer::replace_value`] is the per-column-value entry point: PHP
//!   serialized values are parsed and only their string values are replaced,
//!   with lengths rewritten; everything else is plain byte replacement.
//! * [`stream_sql_dump`] applies the same engine to the string literals of a
//!   mysqldump file in bounded memory (`wfuwp search-replace`), leaving the
//!   values of binary and other non-text columns alone.
//! * [`leftovers::Scanner`] — what of the source a value still mentions,
//!   in any of its usual encodings (the leftover audit).
//! * [`is_textual`] — which MySQL column types hold text the engine rewrites
//!   (the table copy and the dump stream ask the same question).
//!
//! The crate knows nothing of databases, configuration or terminals: bytes in,
//! bytes out, with counters.

// Public API documented for the engine and the fuzz target alike.
#![deny(missing_docs)]

mod column;
pub mod leftovers;
mod matcher;
mod serialized;
mod sql;

use std::borrow::Cow;
use std::ops::AddAssign;

pub use column::is_textual;
pub use matcher::{BytePair, Replacer};
pub use serialized::looks_serialized;
pub use sql::{
    push_quoted_literal, stream_sql_dump, stream_sql_dump_noting, Streamed, NO_TABLE_DEFINITIONS,
};

/// Why a set of replacement pairs cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReplaceError {
    /// A pair's FROM is empty: it would match between every two bytes.
    #[error("replacement pair {index} has an empty FROM; give the text to replace")]
    EmptyFrom {
        /// 1-based position of the pair in the list given.
        index: usize,
    },
    /// The automaton could not be built (pattern set too large).
    #[error("cannot build the replacement matcher: {0}")]
    Build(String),
}

/// One search-replace pair: every occurrence of `from` becomes `to`. The one
/// type for a pair from the command line or config to the state file
/// (`{"from": …, "to": …}`) and the matcher.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Pair {
    /// Text to find.
    pub from: String,
    /// Text to put instead.
    pub to: String,
}

impl Pair {
    /// `from` → `to`.
    pub fn new(from: impl Into<String>, to: impl Into<String>) -> Pair {
        Pair {
            from: from.into(),
            to: to.into(),
        }
    }
}

impl From<&Pair> for Pair {
    fn from(p: &Pair) -> Pair {
        p.clone()
    }
}

impl From<&(String, String)> for Pair {
    fn from((from, to): &(String, String)) -> Pair {
        Pair::new(from, to)
    }
}

impl From<(String, String)> for Pair {
    fn from((from, to): (String, String)) -> Pair {
        Pair::new(from, to)
    }
}

/// Counts of what the engine did to one value (or, summed, to many).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ValueStats {
    /// Occurrences replaced by a different text (identity pairs are not counted).
    pub replacements: u64,
    /// Values that were rewritten as PHP-serialized data (string lengths recomputed).
    pub serialized_rewritten: u64,
    /// Values (or nested strings) that looked serialized but did not parse and
    /// were therefore replaced as plain text.
    pub malformed_serialized: u64,
}

impl AddAssign for ValueStats {
    fn add_assign(&mut self, rhs: ValueStats) {
        self.replacements += rhs.replacements;
        self.serialized_rewritten += rhs.serialized_rewritten;
        self.malformed_serialized += rhs.malformed_serialized;
    }
}

/// The result of [`Replacer::replace_value`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replaced<'a> {
    /// The new value; `Cow::Borrowed` (no allocation) when nothing changed.
    pub value: Cow<'a, [u8]>,
    /// What was done to produce it.
    pub stats: ValueStats,
}

impl Replaced<'_> {
    /// True when the value differs from the input.
    pub fn changed(&self) -> bool {
        matches!(self.value, Cow::Owned(_))
    }
}

impl Replacer {
    /// Applies every pair to one column value (bytes, not necessarily UTF-8).
    ///
    /// Serialized PHP values are rewritten structurally; a value that looks
    /// serialized but does not parse falls back to plain replacement and is
    /// counted in [`ValueStats::malformed_serialized`].
    pub fn replace_value<'a>(&self, value: &'a [u8]) -> Replaced<'a> {
        let mut stats = ValueStats::default();
        // Fast path: the overwhelming majority of values contain no pattern at
        // all, and then nothing needs parsing or copying.
        if self.is_noop() || !self.is_match(value) {
            return Replaced {
                value: Cow::Borrowed(value),
                stats,
            };
        }
        let value = match serialized::rewrite_value(self, value, 0, true, &mut stats) {
            Some(new) => Cow::Owned(new),
            None => Cow::Borrowed(value),
        };
        Replaced { value, stats }
    }
}

#[cfg(test)]
mod tests;
