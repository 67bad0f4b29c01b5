//! What the `replace` fuzz target checks for one input, shared by the fuzz
//! target (`fuzz_targets/replace.rs`, libFuzzer) and by a test of the main
//! crate that runs it on the stable toolchain (`tests/it/fuzz_replace.rs`),
//! so that CI builds and exercises it without cargo-fuzz.
//!
//! The engine never panics, never loops, and keeps its invariants on
//! arbitrary bytes. The first input byte picks the pairs, the rest is both
//! a column value and a SQL dump.

use std::borrow::Cow;

use wfuwp_replace::{stream_sql_dump, Replacer};

/// Pair sets with the shapes that matter: chained, JSON-escaped, ones that
/// touch serialized syntax, ones that grow or shrink lengths, identity.
fn pairs(selector: u8) -> Vec<(String, String)> {
    let sets: [&[(&str, &str)]; 6] = [
        &[("www.x.edu", "uat.x.edu"), (".x.edu", ".uat.x.edu")],
        &[("https://www.x.edu", "http://a.b")],
        &[("\"", "\"\""), (";", ""), ("s:", "S:")],
        &[("a", "aaaaaaaaaa"), ("1", "")],
        &[("\\", "\\\\"), ("'", "''"), ("\n", "")],
        &[("x", "x")],
    ];
    sets[usize::from(selector) % sets.len()]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// Runs the engine on `data`; panics when an invariant breaks.
pub fn check(data: &[u8]) {
    let Some((&selector, value)) = data.split_first() else {
        return;
    };
    let Ok(replacer) = Replacer::new(pairs(selector)) else {
        return;
    };
    let got = replacer.replace_value(value);
    if replacer.is_noop() {
        assert!(matches!(got.value, Cow::Borrowed(_)));
    }
    // A value handed back unchanged (borrowed) had nothing replaced in it.
    if matches!(got.value, Cow::Borrowed(_)) {
        assert_eq!(got.stats.replacements, 0);
    }
    let mut out = Vec::new();
    let _ = stream_sql_dump(&replacer, value, &mut out);
    if replacer.is_noop() {
        assert_eq!(out, value);
    }
}
