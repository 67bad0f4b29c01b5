//! The leftover scan (docs/hosts.md): does a value, after replacement,
//! still mention the source? Every source text (token value, site host) is
//! looked for case-insensitively, as written, URL-encoded, JSON-escaped
//! (once and twice) and HTML-entity-encoded; a hit that lies inside an
//! occurrence of a target text (`.wfu.edu` inside `biology.uat.wfu.edu`)
//! does not count.

use aho_corasick::{AhoCorasick, MatchKind};

/// How a leftover was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Form {
    /// Exactly as the source writes it.
    Plain,
    /// In another letter case (`WWW.WFU.EDU`).
    Case,
    /// Percent-encoded (`www%2Ewfu%2Eedu`, or after `%2F%2F`).
    UrlEncoded,
    /// JSON-escaped once (`https:\/\/…`).
    JsonEscaped,
    /// JSON-escaped twice (`https:\\\/\\\/…`).
    JsonEscapedTwice,
    /// HTML entities (`www&#46;wfu&#46;edu`, `&#119;&#119;…`, or after `&#47;&#47;`).
    HtmlEntity,
}

impl Form {
    /// Its name in reports and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Form::Plain => "plain",
            Form::Case => "case",
            Form::UrlEncoded => "url-encoded",
            Form::JsonEscaped => "json-escaped",
            Form::JsonEscapedTwice => "json-escaped-twice",
            Form::HtmlEntity => "html-entity",
        }
    }
}

/// One leftover in a value: bytes `start..end`, the source text it is, its form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// Where it starts.
    pub start: usize,
    /// Where it ends.
    pub end: usize,
    /// How it was written.
    pub form: Form,
}

/// The compiled scan: built once per migration, shared by every worker.
///
/// One leftmost-longest automaton holds the source texts and the target
/// texts (each in every form): scanning a value once, a target text that
/// starts at or before a source text inside it is matched instead, so a
/// source text inside a target text is never reported, and no second pass
/// is needed.
#[derive(Debug, Clone)]
pub struct Scanner {
    ac: Option<AhoCorasick>,
    /// Per pattern: the text, its form, and whether it is a source text.
    patterns: Vec<(Vec<u8>, Form, bool)>,
}

impl Scanner {
    /// A scan for `sources` that ignores hits inside `targets`. Empty texts
    /// are ignored.
    pub fn new<S: AsRef<str>, T: AsRef<str>>(sources: &[S], targets: &[T]) -> Scanner {
        let sources = minimal(sources.iter().flat_map(|s| forms_of(s.as_ref().as_bytes())));
        let targets = minimal(targets.iter().flat_map(|t| forms_of(t.as_ref().as_bytes())));
        let mut patterns: Vec<(Vec<u8>, Form, bool)> = Vec::new();
        // A text that is both (an identity pair) hides rather than counts.
        for (t, f) in targets {
            patterns.push((t, f, false));
        }
        for (t, f) in sources {
            if !patterns.iter().any(|(p, _, _)| p.eq_ignore_ascii_case(&t)) {
                patterns.push((t, f, true));
            }
        }
        let ac = patterns.iter().any(|p| p.2).then(|| {
            AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .ascii_case_insensitive(true)
                .build(patterns.iter().map(|p| &p.0))
                .ok()
        });
        Scanner {
            ac: ac.flatten(),
            patterns,
        }
    }

    /// True when there is nothing to look for.
    pub fn is_empty(&self) -> bool {
        self.ac.is_none()
    }

    /// The first leftover of `value`, if any.
    pub fn first_hit(&self, value: &[u8]) -> Option<Hit> {
        let ac = self.ac.as_ref()?;
        // Keys and class names of a serialized value are never replaced:
        // what they hold is not a leftover of the replacement. Parsed only
        // once a source text is seen, which a clean value never is.
        let mut ranges: Option<Option<Vec<(usize, usize)>>> = None;
        for m in ac.find_iter(value) {
            let (text, form, source) = &self.patterns[m.pattern().as_usize()];
            if !source {
                continue;
            }
            let (start, end) = (m.start(), m.end());
            let replaceable = ranges
                .get_or_insert_with(|| crate::serialized::replaceable_ranges(value))
                .as_ref()
                .is_none_or(|r| r.iter().any(|&(rs, re)| rs <= start && end <= re));
            if !replaceable {
                continue;
            }
            let form = match form {
                Form::Plain => (host_start(value, start)..=start)
                    .rev()
                    .find_map(|p| context_form(&value[..p]))
                    .unwrap_or(if &value[start..end] == text.as_slice() {
                        Form::Plain
                    } else {
                        Form::Case
                    }),
                other => *other,
            };
            return Some(Hit { start, end, form });
        }
        None
    }
}

/// `texts` without those that contain a shorter one (ASCII case ignored):
/// wherever the longer occurs, the shorter is found too. A network's
/// thousands of site hosts mostly contain a token value (`.wfu.edu`), so
/// the automaton stays small.
fn minimal(texts: impl Iterator<Item = (Vec<u8>, Form)>) -> Vec<(Vec<u8>, Form)> {
    let mut all: Vec<(Vec<u8>, Form)> = texts.collect();
    all.sort_by_key(|(t, _)| t.len());
    let mut kept: Vec<(Vec<u8>, Form)> = Vec::new();
    for (t, f) in all {
        let lower = t.to_ascii_lowercase();
        let covered = kept.iter().any(|(k, _)| {
            let k = k.to_ascii_lowercase();
            lower.windows(k.len()).any(|w| w == k.as_slice())
        });
        if !covered {
            kept.push((t, f));
        }
    }
    kept
}

/// Where the host around a hit at `start` begins: the hit may be the end
/// of it (`.wfu.edu` of `WWW.WFU.EDU`).
fn host_start(value: &[u8], start: usize) -> usize {
    let host = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'.';
    value[..start]
        .iter()
        .rposition(|&b| !host(b))
        .map_or(0, |i| i + 1)
}

/// The form a plain hit has from what precedes it: the `//` of a URL written
/// escaped or encoded.
fn context_form(before: &[u8]) -> Option<Form> {
    let ends = |suffix: &[u8]| {
        before.len() >= suffix.len()
            && before[before.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
    };
    if ends(b"\\\\\\/") {
        Some(Form::JsonEscapedTwice)
    } else if ends(b"\\/") {
        Some(Form::JsonEscaped)
    } else if ends(b"%2f") || ends(b"%3a") || ends(b"%40") {
        Some(Form::UrlEncoded)
    } else if ends(b"&#47;") || ends(b"&#x2f;") || ends(b"&sol;") || ends(b"&#64;") {
        Some(Form::HtmlEntity)
    } else {
        None
    }
}

/// `text` as written, and in each encoded form that differs from it.
fn forms_of(text: &[u8]) -> Vec<(Vec<u8>, Form)> {
    if text.is_empty() {
        return Vec::new();
    }
    let mut out = vec![(text.to_vec(), Form::Plain)];
    let mut add = |v: Vec<u8>, f: Form| {
        if !out.iter().any(|(t, _)| *t == v) {
            out.push((v, f));
        }
    };
    add(url_encoded(text), Form::UrlEncoded);
    add(replace_byte(text, b'/', b"\\/"), Form::JsonEscaped);
    add(replace_byte(text, b'/', b"\\\\\\/"), Form::JsonEscapedTwice);
    add(replace_byte(text, b'.', b"&#46;"), Form::HtmlEntity);
    add(entities(text, |b| format!("&#{b};")), Form::HtmlEntity);
    add(entities(text, |b| format!("&#x{b:x};")), Form::HtmlEntity);
    out
}

fn replace_byte(text: &[u8], from: u8, to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 8);
    for &b in text {
        match b == from {
            true => out.extend_from_slice(to),
            false => out.push(b),
        }
    }
    out
}

/// Every byte but letters, digits, `-`, `_` and `~` as `%XX` (what
/// `rawurlencode` would write, dots included).
fn url_encoded(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() * 2);
    for &b in text {
        match b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'~') {
            true => out.push(b),
            false => out.extend_from_slice(format!("%{b:02X}").as_bytes()),
        }
    }
    out
}

fn entities(text: &[u8], one: impl Fn(u8) -> String) -> Vec<u8> {
    text.iter().flat_map(|&b| one(b).into_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan() -> Scanner {
        Scanner::new(
            &["www.wfu.edu", ".wfu.edu", "wordpress-prod-us"],
            &["uat.wfu.edu", ".uat.wfu.edu", "wordpress-uat-us"],
        )
    }

    fn form(v: &str) -> Option<&'static str> {
        scan().first_hit(v.as_bytes()).map(|h| h.form.name())
    }

    #[test]
    fn every_form_is_found() {
        assert_eq!(form("see https://www.wfu.edu/x"), Some("plain"));
        assert_eq!(form("see https://WWW.WFU.EDU/x"), Some("case"));
        assert_eq!(form("u=https%3A%2F%2FWWW.WFU.EDU"), Some("url-encoded"));
        assert_eq!(form("u=https%3A%2F%2Fwww%2Ewfu%2Eedu"), Some("url-encoded"));
        assert_eq!(
            form(r#"{"u":"https:\/\/WWW.WFU.EDU"}"#),
            Some("json-escaped")
        );
        assert_eq!(
            form(r#"{"u":"https:\\\/\\\/WWW.WFU.EDU"}"#),
            Some("json-escaped-twice")
        );
        assert_eq!(form("www&#46;wfu&#46;edu"), Some("html-entity"));
        assert_eq!(
            form("&#119;&#119;&#119;&#46;&#119;&#102;&#117;&#46;&#101;&#100;&#117;"),
            Some("html-entity")
        );
        assert_eq!(form("s3://WordPress-Prod-US/x"), Some("case"));
    }

    #[test]
    fn serialized_keys_are_not_leftovers() {
        let key = r#"a:1:{s:19:"https://www.wfu.edu";s:3:"uat";}"#;
        assert_eq!(form(key), None);
        let value = r#"a:1:{s:1:"k";s:19:"https://WWW.WFU.EDU";}"#;
        assert_eq!(form(value), Some("case"));
    }

    #[test]
    fn targets_hide_the_sources_inside_them() {
        assert_eq!(
            form("https://biology.uat.wfu.edu/ and https://uat.wfu.edu"),
            None
        );
        assert_eq!(form("HTTPS://BIOLOGY.UAT.WFU.EDU"), None);
        assert_eq!(form("bio.uat.wfu.edu then x.wfu.edu"), Some("plain"));
        let h = scan().first_hit(b"ok .uat.wfu.edu, left .WFU.EDU").unwrap();
        assert_eq!((h.start, h.end, h.form), (22, 30, Form::Case));
        assert!(Scanner::new::<&str, &str>(&[], &[])
            .first_hit(b"x")
            .is_none());
    }
}
