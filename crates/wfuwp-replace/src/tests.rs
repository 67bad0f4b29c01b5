//! Value-level tests of the engine: every serialized type and the tricky cases.

use std::borrow::Cow;

use super::*;

fn rep(pairs: &[(&str, &str)]) -> Replacer {
    let owned: Vec<(String, String)> = pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    Replacer::new(&owned).unwrap()
}

/// The chained pairs of docs/replace.md.
fn chain() -> Replacer {
    rep(&[("www.x.edu", "uat.x.edu"), (".x.edu", ".uat.x.edu")])
}

/// A PHP `s:` token for `v` (byte length).
fn s(v: &str) -> String {
    format!("s:{}:\"{}\";", v.len(), v)
}

fn apply(r: &Replacer, input: &str) -> (String, ValueStats) {
    let out = r.replace_value(input.as_bytes());
    (
        String::from_utf8(out.value.into_owned()).unwrap(),
        out.stats,
    )
}

fn out(r: &Replacer, input: &str) -> String {
    apply(r, input).0
}

#[test]
fn no_match_borrows() {
    let input = b"nothing to see here";
    let r = chain().replace_value(input);
    assert!(matches!(r.value, Cow::Borrowed(_)));
    assert_eq!(r.stats, ValueStats::default());
}

#[test]
fn plain_text_and_chained_pairs() {
    let (o, st) = apply(&chain(), "see https://www.x.edu/a and http://news.x.edu/b");
    assert_eq!(o, "see https://uat.x.edu/a and http://news.uat.x.edu/b");
    assert_eq!(
        st,
        ValueStats {
            replacements: 2,
            ..Default::default()
        }
    );
}

#[test]
fn serialized_string_length_is_rewritten() {
    let (o, st) = apply(&chain(), &s("http://news.x.edu/"));
    assert_eq!(o, s("http://news.uat.x.edu/"));
    assert_eq!(
        st,
        ValueStats {
            replacements: 1,
            serialized_rewritten: 1,
            malformed_serialized: 0
        }
    );
}

#[test]
fn array_keys_are_never_replaced() {
    let input = format!("a:2:{{{}{}i:7;{}}}", s("a.x.edu"), s("b.x.edu"), s(""));
    let expected = format!("a:2:{{{}{}i:7;{}}}", s("a.x.edu"), s("b.uat.x.edu"), s(""));
    assert_eq!(out(&chain(), &input), expected);
}

#[test]
fn object_property_names_and_class_names_are_kept() {
    // Private (`\0Class\0name`) and protected (`\0*\0name`) property names.
    let private = "\0Foo.x.edu\0url";
    let protected = "\0*\0a.x.edu";
    let input = format!(
        "O:9:\"Foo.x.edu\":2:{{{}{}{}{}}}",
        s(private),
        s("https://www.x.edu"),
        s(protected),
        s("c.x.edu")
    );
    let expected = format!(
        "O:9:\"Foo.x.edu\":2:{{{}{}{}{}}}",
        s(private),
        s("https://uat.x.edu"),
        s(protected),
        s("c.uat.x.edu")
    );
    assert_eq!(out(&chain(), &input), expected);
}

#[test]
fn any_class_is_rewritten() {
    let input = format!(
        "O:8:\"stdClass\":1:{{{}{}}}",
        s("home"),
        s("http://www.x.edu")
    );
    let expected = format!(
        "O:8:\"stdClass\":1:{{{}{}}}",
        s("home"),
        s("http://uat.x.edu")
    );
    assert_eq!(out(&chain(), &input), expected);
    let input = format!(
        "O:7:\"WP_Post\":1:{{{}{}}}",
        s("guid"),
        s("http://a.x.edu/?p=1")
    );
    let expected = format!(
        "O:7:\"WP_Post\":1:{{{}{}}}",
        s("guid"),
        s("http://a.uat.x.edu/?p=1")
    );
    assert_eq!(out(&chain(), &input), expected);
}

#[test]
fn scalars_and_floats_stay_byte_identical() {
    let input = format!(
        "a:7:{{i:0;d:0.1000000000000000055511151231257827;i:1;d:-1.0E+25;i:2;d:INF;i:3;b:1;i:4;N;i:5;i:-42;i:6;{}}}",
        s("a.x.edu")
    );
    let expected = input.replace(&s("a.x.edu"), &s("a.uat.x.edu"));
    assert_eq!(out(&chain(), &input), expected);
    // A number that happens to contain a FROM is not a string: untouched.
    let r = rep(&[("5", "6")]);
    assert_eq!(out(&r, "i:5;"), "i:5;");
    assert_eq!(out(&r, "d:1.5;"), "d:1.5;");
}

#[test]
fn top_level_scalars() {
    let r = rep(&[("1", "2")]);
    for v in ["b:1;", "i:1;", "d:1;", "r:1;", "R:1;"] {
        let got = r.replace_value(v.as_bytes());
        assert_eq!(&*got.value, v.as_bytes(), "{v}");
        assert_eq!(got.stats.malformed_serialized, 0, "{v}");
    }
    assert_eq!(out(&rep(&[("N", "M")]), "N;"), "N;");
}

#[test]
fn empty_strings() {
    let input = format!("a:2:{{i:0;{}i:1;{}}}", s(""), s("x.edu"));
    let r = rep(&[("x.edu", "")]);
    assert_eq!(
        out(&r, &input),
        format!("a:2:{{i:0;{}i:1;{}}}", s(""), s(""))
    );
}

#[test]
fn lengths_crossing_digit_boundaries() {
    let grow = rep(&[("X", "XY")]);
    let shrink = rep(&[("XY", "X")]);
    let nine = format!("{}X", "a".repeat(8));
    assert_eq!(out(&grow, &s(&nine)), s(&format!("{}XY", "a".repeat(8))));
    assert!(out(&grow, &s(&nine)).starts_with("s:10:"));
    let ten = format!("{}XY", "a".repeat(8));
    assert!(out(&shrink, &s(&ten)).starts_with("s:9:"));
    let ninety_nine = format!("{}X", "a".repeat(98));
    assert!(out(&grow, &s(&ninety_nine)).starts_with("s:100:"));
    let hundred = format!("{}XY", "a".repeat(98));
    assert!(out(&shrink, &s(&hundred)).starts_with("s:99:"));
}

#[test]
fn multibyte_lengths_are_bytes() {
    let r = rep(&[("café", "théâtre日本")]);
    let (o, st) = apply(&r, &s("le café"));
    assert_eq!(o, s("le théâtre日本"));
    assert!(o.starts_with(&format!("s:{}:", "le théâtre日本".len())));
    assert_eq!(st.serialized_rewritten, 1);
}

#[test]
fn strings_containing_delimiters() {
    let tricky = "a\";}s:1:\"x\";} 'q' \"www.x.edu\" {";
    let input = format!("a:1:{{{}{}}}", s("k\";}"), s(tricky));
    let expected = format!(
        "a:1:{{{}{}}}",
        s("k\";}"),
        s(&tricky.replace("www.x.edu", "uat.x.edu"))
    );
    assert_eq!(out(&chain(), &input), expected);
}

#[test]
fn nested_serialized_strings() {
    let inner = format!("a:1:{{{}{}}}", s("url"), s("http://a.x.edu"));
    let middle = format!("a:1:{{{}{}}}", s("data"), s(&inner));
    let outer = s(&middle);
    let inner2 = format!("a:1:{{{}{}}}", s("url"), s("http://a.uat.x.edu"));
    let middle2 = format!("a:1:{{{}{}}}", s("data"), s(&inner2));
    let (o, st) = apply(&chain(), &outer);
    assert_eq!(o, s(&middle2));
    assert_eq!(
        st,
        ValueStats {
            replacements: 1,
            serialized_rewritten: 1,
            malformed_serialized: 0
        }
    );
}

#[test]
fn references_pass_through() {
    let input = format!("a:3:{{i:0;{}i:1;r:2;i:2;R:2;}}", s("a.x.edu"));
    let expected = format!("a:3:{{i:0;{}i:1;r:2;i:2;R:2;}}", s("a.uat.x.edu"));
    assert_eq!(out(&chain(), &input), expected);
}

#[test]
fn enums_are_not_replaced() {
    let input = format!("a:2:{{i:0;E:14:\"Host:www.x.edu\";i:1;{}}}", s("www.x.edu"));
    let expected = format!("a:2:{{i:0;E:14:\"Host:www.x.edu\";i:1;{}}}", s("uat.x.edu"));
    assert_eq!(out(&chain(), &input), expected);
}

#[test]
fn custom_serialized_objects() {
    // ArrayObject's payload is a sequence of serialized values.
    let storage = format!("a:1:{{{}{}}}", s("u"), s("a.x.edu"));
    let payload = format!("x:i:0;{storage};m:a:0:{{}}");
    let input = format!("C:11:\"ArrayObject\":{}:{{{}}}", payload.len(), payload);
    let storage2 = format!("a:1:{{{}{}}}", s("u"), s("a.uat.x.edu"));
    let payload2 = format!("x:i:0;{storage2};m:a:0:{{}}");
    let expected = format!("C:11:\"ArrayObject\":{}:{{{}}}", payload2.len(), payload2);
    assert_eq!(out(&chain(), &input), expected);
    // An opaque payload is replaced as text, its length recomputed.
    let input = "C:3:\"Foo\":9:{a.x.edu;;}";
    assert_eq!(out(&chain(), input), "C:3:\"Foo\":13:{a.uat.x.edu;;}");
    // The class name is never replaced.
    let input = "C:5:\"x.edu\":0:{}";
    assert_eq!(out(&rep(&[("x.edu", "y")]), input), input);
}

#[test]
fn malformed_falls_back_to_plain_and_is_counted() {
    // Length 5 is wrong: a naive replace already broke this value.
    let input = "s:5:\"a.x.edu\";";
    let (o, st) = apply(&chain(), input);
    assert_eq!(o, "s:5:\"a.uat.x.edu\";");
    assert_eq!(
        st,
        ValueStats {
            replacements: 1,
            serialized_rewritten: 0,
            malformed_serialized: 1
        }
    );
    for bad in ["a:2:{i:0;s:7:\"a.x.edu\";}", "O:1:\"a.x.edu\":0:{}"] {
        let (_, st) = apply(&chain(), bad);
        assert_eq!(st.malformed_serialized, 1, "{bad}");
    }
}

#[test]
fn trailing_junk_keeps_the_value_readable() {
    // PHP's unserialize reads the value and ignores what follows it.
    let (o, st) = apply(&chain(), "a:1:{i:0;s:7:\"a.x.edu\";} a.x.edu}");
    assert_eq!(o, "a:1:{i:0;s:11:\"a.uat.x.edu\";} a.uat.x.edu}");
    assert_eq!(
        st,
        ValueStats {
            replacements: 2,
            serialized_rewritten: 1,
            malformed_serialized: 1
        }
    );
    // Not serialized-looking at all (`i:` must be followed by digits only).
    let (o, st) = apply(&chain(), "i:1; a.x.edu;");
    assert_eq!(o, "i:1; a.uat.x.edu;");
    assert_eq!(st.malformed_serialized, 0);
}

#[test]
fn text_that_does_not_look_serialized_is_plain() {
    let (o, st) = apply(&chain(), "a: see www.x.edu;");
    assert_eq!(o, "a: see uat.x.edu;");
    assert_eq!(st.malformed_serialized, 0);
}

#[test]
fn surrounding_whitespace_is_kept() {
    let input = format!("  {}\n", s("a.x.edu"));
    assert_eq!(out(&chain(), &input), format!("  {}\n", s("a.uat.x.edu")));
}

#[test]
fn json_escaped_urls_inside_serialized() {
    let r = rep(&[("https://www.x.edu", "https://uat.example.org")]);
    let json = r#"{"url":"https:\/\/www.x.edu\/a"}"#;
    let expected = r#"{"url":"https:\/\/uat.example.org\/a"}"#;
    assert_eq!(out(&r, &s(json)), s(expected));
}

#[test]
fn identity_pairs_change_nothing() {
    let r = rep(&[("x.edu", "x.edu")]);
    assert!(r.is_noop());
    let input = s("a.x.edu");
    let got = r.replace_value(input.as_bytes());
    assert!(!got.changed());
    // Mixed with real pairs: the value is still borrowed when only identities match.
    let r = rep(&[("www.x.edu", "www.x.edu"), (".x.edu", ".y.edu")]);
    assert!(!r
        .replace_value(input.replace("a.", "www.").as_bytes())
        .changed());
}

#[test]
fn non_utf8_values() {
    let r = rep(&[("x.edu", "y.edu")]);
    let input = b"s:9:\"\xff\xfex.edu\x80\xc3\";".to_vec();
    let got = r.replace_value(&input);
    let mut expected = input.clone();
    expected[7] = b'y';
    assert_eq!(&*got.value, &expected[..]);
}

#[test]
fn deep_nesting_does_not_overflow() {
    let depth = 200_000;
    let mut input = String::with_capacity(depth * 12);
    for _ in 0..depth {
        input.push_str("a:1:{i:0;");
    }
    input.push_str(&s("a.x.edu"));
    input.push_str(&"}".repeat(depth));
    let (o, st) = apply(&chain(), &input);
    assert_eq!(st.serialized_rewritten, 1);
    assert_eq!(o.len(), input.len() + 5);
}

#[test]
fn deeply_nested_strings_are_capped() {
    let mut v = s("a.x.edu");
    for _ in 0..(serialized::MAX_NESTING + 8) {
        v = s(&v);
    }
    let (_, st) = apply(&chain(), &v);
    assert_eq!(st.replacements, 1);
    assert_eq!(st.malformed_serialized, 1);
}

#[test]
fn huge_values_are_linear() {
    let body = "lorem ipsum http://a.x.edu/ ".repeat(400_000);
    let input = s(&body);
    let start = std::time::Instant::now();
    let (o, st) = apply(&chain(), &input);
    assert_eq!(st.replacements, 400_000);
    assert_eq!(o.len(), input.len() + 400_000 * 4);
    // Generous bound: debug builds are slow, quadratic behaviour would take minutes.
    assert!(start.elapsed().as_secs() < 20);
}

#[test]
fn stats_add() {
    let mut a = ValueStats {
        replacements: 1,
        serialized_rewritten: 2,
        malformed_serialized: 3,
    };
    a += a;
    assert_eq!(
        a,
        ValueStats {
            replacements: 2,
            serialized_rewritten: 4,
            malformed_serialized: 6
        }
    );
}

#[test]
fn looks_serialized_is_strict() {
    for yes in [
        "N;",
        "b:0;",
        "i:-3;",
        "d:1.5E+3;",
        "s:0:\"\";",
        "a:0:{}",
        "O:1:\"A\":0:{}",
        " i:1; ",
        "E:3:\"A:B\";",
    ] {
        assert!(looks_serialized(yes.as_bytes()), "{yes}");
    }
    for no in [
        "",
        "N",
        "b:2;",
        "i:x;",
        "a:b;",
        "hello",
        "s:1:\"a\"",
        "x:i:0;",
    ] {
        assert!(!looks_serialized(no.as_bytes()), "{no}");
    }
}
