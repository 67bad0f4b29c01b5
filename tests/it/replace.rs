//! Property tests of the search-replace engine through its public API.
//!
//! The model: a generated tree of PHP values is serialized; replacing in the
//! serialized bytes must equal serializing the tree after replacing in its
//! string values (keys, property and class names untouched), with `strtr`
//! computed here by a deliberately naive reference implementation.

use std::borrow::Cow;

use proptest::prelude::*;
use wfuwp_replace::{stream_sql_dump, Replacer, ValueStats};

/// A PHP value, as far as serialization goes.
#[derive(Debug, Clone)]
enum PVal {
    Null,
    Bool(bool),
    Int(i64),
    /// Written as given: floats must come out byte-identical.
    Float(&'static str),
    Str(Vec<u8>),
    /// A string whose content is itself a serialized value.
    Nested(Box<PVal>),
    Array(Vec<(Key, PVal)>),
    Object(Vec<u8>, Vec<(Vec<u8>, PVal)>),
    /// A `C:` object whose payload is an SPL-style sequence around a value.
    Custom(Vec<u8>, Box<PVal>),
    Ref(u32),
    Enum(Vec<u8>),
}

#[derive(Debug, Clone)]
enum Key {
    Int(i64),
    Str(Vec<u8>),
}

fn quoted(out: &mut Vec<u8>, tag: &str, body: &[u8]) {
    out.extend_from_slice(format!("{tag}:{}:\"", body.len()).as_bytes());
    out.extend_from_slice(body);
    out.push(b'"');
}

fn ser(v: &PVal, out: &mut Vec<u8>) {
    match v {
        PVal::Null => out.extend_from_slice(b"N;"),
        PVal::Bool(b) => out.extend_from_slice(format!("b:{};", u8::from(*b)).as_bytes()),
        PVal::Int(i) => out.extend_from_slice(format!("i:{i};").as_bytes()),
        PVal::Float(f) => out.extend_from_slice(format!("d:{f};").as_bytes()),
        PVal::Str(s) => {
            quoted(out, "s", s);
            out.push(b';');
        }
        PVal::Nested(inner) => {
            let mut body = Vec::new();
            ser(inner, &mut body);
            quoted(out, "s", &body);
            out.push(b';');
        }
        PVal::Array(items) => {
            out.extend_from_slice(format!("a:{}:{{", items.len()).as_bytes());
            for (k, v) in items {
                match k {
                    Key::Int(i) => out.extend_from_slice(format!("i:{i};").as_bytes()),
                    Key::Str(s) => {
                        quoted(out, "s", s);
                        out.push(b';');
                    }
                }
                ser(v, out);
            }
            out.push(b'}');
        }
        PVal::Object(class, props) => {
            quoted(out, "O", class);
            out.extend_from_slice(format!(":{}:{{", props.len()).as_bytes());
            for (name, v) in props {
                quoted(out, "s", name);
                out.push(b';');
                ser(v, out);
            }
            out.push(b'}');
        }
        PVal::Custom(class, inner) => {
            let mut payload = b"x:i:0;".to_vec();
            ser(inner, &mut payload);
            payload.extend_from_slice(b";m:a:0:{}");
            quoted(out, "C", class);
            out.extend_from_slice(format!(":{}:{{", payload.len()).as_bytes());
            out.extend_from_slice(&payload);
            out.push(b'}');
        }
        PVal::Ref(n) => out.extend_from_slice(format!("R:{n};").as_bytes()),
        PVal::Enum(name) => {
            quoted(out, "E", name);
            out.push(b';');
        }
    }
}

fn serialize(v: &PVal) -> Vec<u8> {
    let mut out = Vec::new();
    ser(v, &mut out);
    out
}

/// PHP `strtr` with an array, written the obvious (slow) way: at each
/// position take the longest FROM that matches, else copy one byte.
fn strtr(s: &[u8], pairs: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < s.len() {
        let best = pairs
            .iter()
            .filter(|(f, _)| s[i..].starts_with(f))
            .max_by_key(|(f, _)| f.len());
        match best {
            Some((f, t)) => {
                out.extend_from_slice(t);
                i += f.len();
            }
            None => {
                out.push(s[i]);
                i += 1;
            }
        }
    }
    out
}

/// Replaces in string values only, as PHP code walking the unserialized value would.
fn replace_tree(v: &PVal, pairs: &[(Vec<u8>, Vec<u8>)]) -> PVal {
    match v {
        PVal::Str(s) => PVal::Str(strtr(s, pairs)),
        PVal::Nested(inner) => PVal::Nested(Box::new(replace_tree(inner, pairs))),
        PVal::Array(items) => PVal::Array(
            items
                .iter()
                .map(|(k, v)| (k.clone(), replace_tree(v, pairs)))
                .collect(),
        ),
        PVal::Object(c, props) => PVal::Object(
            c.clone(),
            props
                .iter()
                .map(|(k, v)| (k.clone(), replace_tree(v, pairs)))
                .collect(),
        ),
        PVal::Custom(c, inner) => PVal::Custom(c.clone(), Box::new(replace_tree(inner, pairs))),
        other => other.clone(),
    }
}

/// Bytes for string values. No digits and no `N`: a plain string can then
/// never parse as serialized, so the model's "plain string" stays plain.
fn text() -> impl Strategy<Value = Vec<u8>> {
    let atoms: Vec<&'static [u8]> = vec![
        b"a",
        b"b",
        b"c",
        b".",
        b"/",
        b"\"",
        b";",
        b"}",
        b"{",
        b":",
        b" ",
        b"\\",
        b"\0",
        "é".as_bytes(),
        "日".as_bytes(),
        b"www.x.edu",
        b".x.edu",
        b"https://www.x.edu",
    ];
    prop::collection::vec(prop::sample::select(atoms), 0..8).prop_map(|parts| parts.concat())
}

/// FROM patterns may contain digits and delimiters: they must still never
/// touch lengths, counts or structure.
fn pattern() -> impl Strategy<Value = Vec<u8>> {
    let atoms: Vec<&'static [u8]> = vec![
        b"a",
        b"b",
        b".",
        b"/",
        b"\"",
        b";",
        b":",
        b"1",
        b"s",
        "é".as_bytes(),
        b"x.edu",
        b"www.x.edu",
        b"\\/",
    ];
    prop::collection::vec(prop::sample::select(atoms), 1..4).prop_map(|parts| parts.concat())
}

fn replacement() -> impl Strategy<Value = Vec<u8>> {
    let atoms: Vec<&'static [u8]> = vec![
        b"",
        b"Z",
        b"0123456789",
        b"\";}",
        "日本".as_bytes(),
        b"uat.x.edu",
        b"/",
    ];
    prop::collection::vec(prop::sample::select(atoms), 0..3).prop_map(|parts| parts.concat())
}

fn pairs() -> impl Strategy<Value = Vec<(Vec<u8>, Vec<u8>)>> {
    prop::collection::vec((pattern(), replacement()), 1..5)
}

fn leaf() -> impl Strategy<Value = PVal> {
    prop_oneof![
        Just(PVal::Null),
        any::<bool>().prop_map(PVal::Bool),
        any::<i64>().prop_map(PVal::Int),
        prop::sample::select(vec![
            "0.1",
            "1.0E+25",
            "-0",
            "INF",
            "NAN",
            "-INF",
            "3.0000000000000004"
        ])
        .prop_map(PVal::Float),
        text().prop_map(PVal::Str),
        text().prop_map(PVal::Str),
        (1u32..5).prop_map(PVal::Ref),
        text().prop_map(|t| PVal::Enum([b"Suit:".as_slice(), &t].concat())),
    ]
}

fn key() -> impl Strategy<Value = Key> {
    prop_oneof![any::<i64>().prop_map(Key::Int), text().prop_map(Key::Str)]
}

fn prop_name() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::sample::select(vec![&b""[..], b"\0*\0", b"\0www.x.edu\0"]),
        text(),
    )
        .prop_map(|(p, t)| [p, &t].concat())
}

fn value() -> impl Strategy<Value = PVal> {
    leaf().prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec((key(), inner.clone()), 0..6).prop_map(PVal::Array),
            (
                text(),
                prop::collection::vec((prop_name(), inner.clone()), 0..5)
            )
                .prop_map(|(c, p)| PVal::Object(c, p)),
            inner.clone().prop_map(|v| PVal::Nested(Box::new(v))),
            (text(), inner).prop_map(|(c, v)| PVal::Custom(c, Box::new(v))),
        ]
    })
}

fn replacer(pairs: &[(Vec<u8>, Vec<u8>)]) -> Replacer {
    Replacer::from_byte_pairs(pairs).expect("generated pairs are valid")
}

/// mysqldump's escaping, written independently of the engine's.
fn sql_escape(v: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for &b in v {
        match b {
            0 => out.extend_from_slice(b"\\0"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\'' => out.extend_from_slice(b"\\'"),
            b'"' => out.extend_from_slice(b"\\\""),
            0x1a => out.extend_from_slice(b"\\Z"),
            _ => out.push(b),
        }
    }
    out
}

fn insert_statement(values: &[Vec<u8>]) -> Vec<u8> {
    let mut out = b"INSERT INTO `wp_options` VALUES ".to_vec();
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(format!("({i},'").as_bytes());
        out.extend_from_slice(&sql_escape(v));
        out.extend_from_slice(b"',NULL)");
    }
    out.extend_from_slice(b";\n");
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn rewrite_then_parse_equals_parse_then_replace(v in value(), pairs in pairs()) {
        let r = replacer(&pairs);
        let input = serialize(&v);
        let got = r.replace_value(&input);
        let expected = serialize(&replace_tree(&v, r.effective_pairs()));
        prop_assert_eq!(String::from_utf8_lossy(&got.value), String::from_utf8_lossy(&expected));
        if matches!(got.value, Cow::Borrowed(_)) {
            prop_assert_eq!(expected, input);
        }
    }

    #[test]
    fn plain_values_follow_strtr(s in text(), pairs in pairs()) {
        let r = replacer(&pairs);
        let got = r.replace_value(&s);
        prop_assert_eq!(got.value.into_owned(), strtr(&s, r.effective_pairs()));
    }

    #[test]
    fn identity_pairs_change_nothing(v in value(), noise in prop::collection::vec(any::<u8>(), 0..64), froms in prop::collection::vec(pattern(), 1..4)) {
        let pairs: Vec<(Vec<u8>, Vec<u8>)> = froms.into_iter().map(|f| (f.clone(), f)).collect();
        let r = replacer(&pairs);
        prop_assert!(r.is_noop());
        for input in [serialize(&v), noise] {
            let got = r.replace_value(&input);
            prop_assert!(matches!(got.value, Cow::Borrowed(_)));
            prop_assert_eq!(got.stats, ValueStats::default());
            let mut out = Vec::new();
            let dump = insert_statement(std::slice::from_ref(&input));
            stream_sql_dump(&r, dump.as_slice(), &mut out).unwrap();
            prop_assert_eq!(out, dump);
        }
    }

    #[test]
    fn never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256), pairs in pairs()) {
        let r = replacer(&pairs);
        let _ = r.replace_value(&bytes);
        let mut out = Vec::new();
        stream_sql_dump(&r, bytes.as_slice(), &mut out).unwrap();
    }

    #[test]
    fn never_panics_on_damaged_serialized(v in value(), pairs in pairs(), edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..4)) {
        let r = replacer(&pairs);
        let mut bytes = serialize(&v);
        for (at, byte, op) in edits {
            if bytes.is_empty() {
                break;
            }
            let i = at.index(bytes.len());
            match op {
                0 => bytes[i] = byte,
                1 => { bytes.remove(i); }
                _ => bytes.insert(i, byte),
            }
        }
        let got = r.replace_value(&bytes);
        // Whatever happened, a value without any FROM is left alone.
        if !r.effective_pairs().iter().any(|(f, _)| bytes.windows(f.len()).any(|w| w == f.as_slice())) {
            prop_assert!(matches!(got.value, Cow::Borrowed(_)));
        }
    }

    #[test]
    fn stream_mode_equals_value_api(values in prop::collection::vec(prop_oneof![value().prop_map(|v| serialize(&v)), text()], 1..6), pairs in pairs()) {
        let r = replacer(&pairs);
        let dump = insert_statement(&values);
        let mut out = Vec::new();
        let stats = stream_sql_dump(&r, dump.as_slice(), &mut out).unwrap();
        let mut expected_stats = ValueStats::default();
        let replaced: Vec<Vec<u8>> = values.iter().map(|v| {
            let got = r.replace_value(v);
            expected_stats += got.stats;
            got.value.into_owned()
        }).collect();
        let expected = insert_statement(&replaced);
        prop_assert_eq!(String::from_utf8_lossy(&out), String::from_utf8_lossy(&expected));
        prop_assert_eq!(stats, expected_stats);
    }
}

#[test]
fn chained_pairs_through_the_public_api() {
    let r = Replacer::new(&[
        ("www.x.edu".to_string(), "uat.x.edu".to_string()),
        (".x.edu".to_string(), ".uat.x.edu".to_string()),
    ])
    .unwrap();
    let v = PVal::Array(vec![
        (
            Key::Str(b"home".to_vec()),
            PVal::Str(b"https://www.x.edu/".to_vec()),
        ),
        (
            Key::Str(b"blog".to_vec()),
            PVal::Str(b"https://blog.x.edu/".to_vec()),
        ),
    ]);
    let input = serialize(&v);
    let got = r.replace_value(&input);
    assert_eq!(
        String::from_utf8(got.value.into_owned()).unwrap(),
        "a:2:{s:4:\"home\";s:18:\"https://uat.x.edu/\";s:4:\"blog\";s:23:\"https://blog.uat.x.edu/\";}"
    );
    assert_eq!(
        got.stats,
        ValueStats {
            replacements: 2,
            serialized_rewritten: 1,
            malformed_serialized: 0
        }
    );
}

#[test]
fn empty_from_is_rejected() {
    assert!(Replacer::new(&[(String::new(), "x".to_string())]).is_err());
}

mod cli {
    use std::io::Write;
    use std::process::{Command, Output, Stdio};

    fn search_replace(args: &[&str], stdin: &[u8]) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_wfuwp"))
            .arg("search-replace")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary runs");
        let mut input = child.stdin.take().expect("stdin is piped");
        let data = stdin.to_vec();
        let writer = std::thread::spawn(move || input.write_all(&data));
        let out = child.wait_with_output().expect("the binary finishes");
        // A usage error may exit before reading stdin: a broken pipe is fine then.
        let _ = writer.join();
        out
    }

    #[test]
    fn streams_a_dump() {
        let dump =
            b"-- MySQL dump\nINSERT INTO `wp_options` VALUES (1,'home','https://www.x.edu'),\
                     (2,'opts','a:1:{s:3:\\\"url\\\";s:16:\\\"http://a.x.edu/p\\\";}');\n";
        let out = search_replace(&["www.x.edu", "uat.x.edu", ".x.edu", ".uat.x.edu"], dump);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            "-- MySQL dump\nINSERT INTO `wp_options` VALUES (1,'home','https://uat.x.edu'),\
             (2,'opts','a:1:{s:3:\\\"url\\\";s:20:\\\"http://a.uat.x.edu/p\\\";}');\n"
        );
        assert!(String::from_utf8_lossy(&out.stderr).contains("2 replacements"));
    }

    #[test]
    fn odd_arguments_exit_2() {
        let out = search_replace(&["a", "b", "c"], b"");
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains("odd"));
        assert!(out.stdout.is_empty());
    }

    #[test]
    fn empty_from_exits_2() {
        let out = search_replace(&["", "b"], b"");
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains("empty FROM"));
    }
}
