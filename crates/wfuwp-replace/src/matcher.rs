//! The multi-pattern matcher: all pairs in one leftmost-longest automaton.

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, MatchKind};

use super::{Pair, ReplaceError};

/// One FROM → TO pair, as bytes.
pub type BytePair = (Vec<u8>, Vec<u8>);

/// A compiled set of replacement pairs, applied with PHP `strtr` semantics.
///
/// Built once per migration and shared (it is `Send + Sync`) by every worker.
#[derive(Debug, Clone)]
pub struct Replacer {
    /// `None` when there is no pattern at all.
    ac: Option<AhoCorasick>,
    /// Replacement bytes, indexed by pattern id.
    to: Vec<Vec<u8>>,
    /// Pattern id → FROM equals TO (matched, so it shadows shorter patterns
    /// exactly like `strtr`, but never counted or copied).
    identity: Vec<bool>,
    /// Every pattern is an identity: no value can ever change.
    noop: bool,
    /// The effective pairs (explicit ones, then derived JSON-escaped forms).
    pairs: Vec<BytePair>,
}

impl Replacer {
    /// Compiles `pairs` (FROM, TO). An empty FROM is an error; identity pairs
    /// are allowed; a FROM given twice keeps the later TO (as a PHP array
    /// would). Each pair whose FROM contains `/` is also added in its
    /// JSON-escaped form (`/` → `\/`), unless that form was given explicitly.
    pub fn new<P: Into<Pair>>(
        pairs: impl IntoIterator<Item = P>,
    ) -> Result<Replacer, ReplaceError> {
        let bytes: Vec<BytePair> = pairs
            .into_iter()
            .map(|p| {
                let p = p.into();
                (p.from.into_bytes(), p.to.into_bytes())
            })
            .collect();
        Replacer::from_byte_pairs(&bytes)
    }

    /// Like [`Replacer::new`], for pairs that are not necessarily UTF-8.
    pub fn from_byte_pairs(pairs: &[BytePair]) -> Result<Replacer, ReplaceError> {
        let effective = effective_pairs(pairs)?;
        let noop = effective.iter().all(|(f, t)| f == t);
        let ac = if effective.is_empty() {
            None
        } else {
            let built = AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .build(effective.iter().map(|(f, _)| f))
                .map_err(|e| ReplaceError::Build(e.to_string()))?;
            Some(built)
        };
        Ok(Replacer {
            ac,
            to: effective.iter().map(|(_, t)| t.clone()).collect(),
            identity: effective.iter().map(|(f, t)| f == t).collect(),
            noop,
            pairs: effective,
        })
    }

    /// True when no value can change (no pairs, or only identity pairs).
    pub fn is_noop(&self) -> bool {
        self.noop
    }

    /// The pairs actually matched, including derived JSON-escaped forms.
    pub fn effective_pairs(&self) -> &[BytePair] {
        &self.pairs
    }

    /// True when some pattern (identity or not) occurs in `haystack`.
    pub(crate) fn is_match(&self, haystack: &[u8]) -> bool {
        self.ac.as_ref().is_some_and(|ac| ac.is_match(haystack))
    }

    /// Plain `strtr` of `input`. `None` when nothing would change (no match,
    /// or identity matches only), so callers can keep borrowing the input.
    pub(crate) fn replace_plain(&self, input: &[u8]) -> Option<(Vec<u8>, u64)> {
        let ac = self.ac.as_ref()?;
        let mut out: Option<Vec<u8>> = None;
        let mut count = 0u64;
        let mut last = 0usize;
        // `find_iter` resumes after each match: replaced text is never
        // re-scanned, which is what keeps chained pairs from compounding.
        for m in ac.find_iter(input) {
            let id = m.pattern().as_usize();
            if self.identity[id] {
                continue;
            }
            let buf =
                out.get_or_insert_with(|| Vec::with_capacity(input.len() + input.len() / 8 + 16));
            buf.extend_from_slice(&input[last..m.start()]);
            buf.extend_from_slice(&self.to[id]);
            last = m.end();
            count += 1;
        }
        let mut buf = out?;
        buf.extend_from_slice(&input[last..]);
        Some((buf, count))
    }
}

/// Validates the pairs, resolves duplicate FROMs (later wins) and appends the
/// JSON-escaped forms that are not already present.
fn effective_pairs(pairs: &[BytePair]) -> Result<Vec<BytePair>, ReplaceError> {
    let mut out: Vec<BytePair> = Vec::with_capacity(pairs.len() * 2);
    let mut index: HashMap<Vec<u8>, usize> = HashMap::new();
    for (i, (from, to)) in pairs.iter().enumerate() {
        if from.is_empty() {
            return Err(ReplaceError::EmptyFrom { index: i + 1 });
        }
        match index.get(from) {
            Some(&at) => out[at].1 = to.clone(),
            None => {
                index.insert(from.clone(), out.len());
                out.push((from.clone(), to.clone()));
            }
        }
    }
    let explicit = out.len();
    for i in 0..explicit {
        let (from, to) = &out[i];
        if !from.contains(&b'/') {
            continue;
        }
        let (jf, jt) = (json_escape_slashes(from), json_escape_slashes(to));
        if !index.contains_key(&jf) {
            index.insert(jf.clone(), out.len());
            out.push((jf, jt));
        }
    }
    Ok(out)
}

/// `/` → `\/`, the form `json_encode` (and so WordPress) writes URLs in.
fn json_escape_slashes(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() + 8);
    for &b in s {
        if b == b'/' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(pairs: &[(&str, &str)]) -> Replacer {
        let owned: Vec<(String, String)> = pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        Replacer::new(&owned).unwrap()
    }

    fn plain(rep: &Replacer, s: &str) -> String {
        match rep.replace_plain(s.as_bytes()) {
            Some((v, _)) => String::from_utf8(v).unwrap(),
            None => s.to_string(),
        }
    }

    #[test]
    fn empty_from_is_an_error() {
        let e =
            Replacer::new(&[("a".into(), "b".into()), (String::new(), "x".into())]).unwrap_err();
        assert_eq!(e, ReplaceError::EmptyFrom { index: 2 });
    }

    #[test]
    fn chained_pairs_do_not_double_replace() {
        let rep = r(&[("www.x.edu", "uat.x.edu"), (".x.edu", ".uat.x.edu")]);
        assert_eq!(
            plain(&rep, "https://www.x.edu/ and a.x.edu"),
            "https://uat.x.edu/ and a.uat.x.edu"
        );
    }

    #[test]
    fn leftmost_longest_wins() {
        let rep = r(&[("ab", "1"), ("abc", "2"), ("bcd", "3")]);
        assert_eq!(plain(&rep, "abcd abx"), "2d 1x");
    }

    #[test]
    fn identity_pairs_shadow_but_do_not_count() {
        let rep = r(&[("www.x.edu", "www.x.edu"), (".x.edu", ".y.edu")]);
        assert!(!rep.is_noop());
        assert_eq!(plain(&rep, "www.x.edu"), "www.x.edu");
        assert_eq!(rep.replace_plain(b"www.x.edu"), None);
        assert_eq!(plain(&rep, "a.x.edu"), "a.y.edu");
        assert!(r(&[("a", "a")]).is_noop());
        assert!(r(&[]).is_noop());
    }

    #[test]
    fn json_escaped_forms_are_added() {
        let rep = r(&[("https://www.x.edu", "https://uat.x.edu")]);
        assert_eq!(
            plain(&rep, r#"{"u":"https:\/\/www.x.edu\/p"}"#),
            r#"{"u":"https:\/\/uat.x.edu\/p"}"#
        );
        assert_eq!(rep.effective_pairs().len(), 2);
    }

    /// A FROM without `/` reads the same in JSON as in plain text, so there is
    /// no escaped form to add: its TO is written as given everywhere (an
    /// unescaped `/` is valid JSON), never `\/` in plain text.
    #[test]
    fn a_slash_only_in_to_adds_no_escaped_pair() {
        let rep = r(&[("a.x.edu", "x.edu/a")]);
        assert_eq!(rep.effective_pairs().len(), 1);
        assert_eq!(plain(&rep, "see a.x.edu/p"), "see x.edu/a/p");
        assert_eq!(
            plain(&rep, r#"{"u":"https:\/\/a.x.edu\/p"}"#),
            r#"{"u":"https:\/\/x.edu/a\/p"}"#
        );
    }

    #[test]
    fn later_duplicate_from_wins() {
        let rep = r(&[("a", "b"), ("a", "c")]);
        assert_eq!(plain(&rep, "a"), "c");
    }

    #[test]
    fn counts_replacements() {
        let rep = r(&[("x", "yy")]);
        assert_eq!(rep.replace_plain(b"axbxc").map(|(_, n)| n), Some(2));
    }

    #[test]
    fn replacer_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Replacer>();
    }
}
