//! Unit tests of stream mode: lexing, escaping, and column tracking.

use super::escape::{escape_filter, find2};
use super::lexer::is_binary_introducer;
use super::*;

fn chain() -> Replacer {
    Replacer::new(&[
        ("www.x.edu".to_string(), "uat.x.edu".to_string()),
        (".x.edu".to_string(), ".uat.x.edu".to_string()),
    ])
    .unwrap()
}

/// Runs the stream with every chunk size from 1 to 9 and one big chunk,
/// checks they agree, and returns the output.
fn run(r: &Replacer, input: &[u8]) -> (Vec<u8>, ValueStats) {
    let mut first: Option<(Vec<u8>, ValueStats)> = None;
    for chunk in (1..10).chain([CHUNK]) {
        let mut out = Vec::new();
        let stats = stream_chunked(r, input, &mut out, chunk, |_| {}).unwrap();
        match &first {
            None => first = Some((out, stats)),
            Some((o, s)) => {
                assert_eq!(
                    String::from_utf8_lossy(o),
                    String::from_utf8_lossy(&out),
                    "chunk {chunk}"
                );
                assert_eq!(*s, stats, "chunk {chunk}");
            }
        }
    }
    first.unwrap()
}

fn out(input: &str) -> String {
    String::from_utf8(run(&chain(), input.as_bytes()).0).unwrap()
}

#[test]
fn replaces_inside_literals_only() {
    let input = "INSERT INTO `wp_options` VALUES (1,'siteurl','https://www.x.edu','yes'),(2,'a','b.x.edu',NULL);\n";
    assert_eq!(
        out(input),
        "INSERT INTO `wp_options` VALUES (1,'siteurl','https://uat.x.edu','yes'),(2,'a','b.uat.x.edu',NULL);\n"
    );
}

#[test]
fn identifiers_and_comments_pass_through() {
    let input = "-- dump of www.x.edu it's\n# host www.x.edu 'x\n/* www.x.edu ' */\n\
                 CREATE TABLE `www.x.edu\\` (`it's` text);\nINSERT INTO `t\\` VALUES ('www.x.edu');\n";
    let expected = "-- dump of www.x.edu it's\n# host www.x.edu 'x\n/* www.x.edu ' */\n\
                    CREATE TABLE `www.x.edu\\` (`it's` text);\nINSERT INTO `t\\` VALUES ('uat.x.edu');\n";
    assert_eq!(out(input), expected);
}

#[test]
fn versioned_comments_are_code() {
    let input = "/*!40101 SET @a='www.x.edu' */;\n/*M!100100 SET @b='www.x.edu' */;\n";
    let expected = "/*!40101 SET @a='uat.x.edu' */;\n/*M!100100 SET @b='uat.x.edu' */;\n";
    assert_eq!(out(input), expected);
}

#[test]
fn dash_without_space_is_not_a_comment() {
    assert_eq!(out("SELECT 1--1,'www.x.edu';"), "SELECT 1--1,'uat.x.edu';");
    assert_eq!(out("SELECT 1-'www.x.edu';"), "SELECT 1-'uat.x.edu';");
    assert_eq!(out("SELECT 1/'www.x.edu';"), "SELECT 1/'uat.x.edu';");
}

#[test]
fn escaped_quotes_and_doubled_quotes() {
    assert_eq!(out(r"('it\'s www.x.edu')"), r"('it\'s uat.x.edu')");
    assert_eq!(out("('it''s www.x.edu')"), r"('it\'s uat.x.edu')");
    assert_eq!(out(r#"("say \"www.x.edu\"")"#), r#"("say \"uat.x.edu\"")"#);
    assert_eq!(out(r#"("say ""www.x.edu""")"#), r#"("say \"uat.x.edu\"")"#);
}

#[test]
fn unchanged_literals_keep_their_escaping() {
    for lit in [r"('a\tb''c\%\_\Z')", r#"("a''b\'")"#, "('\\\\')"] {
        assert_eq!(out(lit), lit);
    }
}

#[test]
fn all_escapes_round_trip() {
    let input = "('www.x.edu\\0\\'\\\"\\b\\n\\r\\t\\Z\\\\\\%\\_\\q')";
    // Re-escaped the mysqldump way: \b, \t and unknown escapes become their bytes,
    // \% and \_ keep their backslash (MySQL keeps it outside LIKE).
    let expected = "('uat.x.edu\\0\\'\\\"\u{8}\\n\\r\t\\Z\\\\\\\\%\\\\_q')";
    assert_eq!(out(input), expected);
}

#[test]
fn serialized_inside_escaped_literal() {
    let input = r#"('a:1:{s:3:\"url\";s:16:\"http://a.x.edu/p\";}')"#;
    let expected = r#"('a:1:{s:3:\"url\";s:20:\"http://a.uat.x.edu/p\";}')"#;
    let (o, st) = run(&chain(), input.as_bytes());
    assert_eq!(String::from_utf8(o).unwrap(), expected);
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
fn json_block_content() {
    let r = Replacer::new(&[(
        "https://www.x.edu".to_string(),
        "https://uat.x.edu".to_string(),
    )])
    .unwrap();
    let input = r#"('<!-- wp:image {\"url\":\"https:\\/\\/www.x.edu\\/a.jpg\"} -->')"#;
    let expected = r#"('<!-- wp:image {\"url\":\"https:\\/\\/uat.x.edu\\/a.jpg\"} -->')"#;
    assert_eq!(
        String::from_utf8(run(&r, input.as_bytes()).0).unwrap(),
        expected
    );
}

#[test]
fn binary_and_hex_literals_are_untouched() {
    for lit in [
        "(_binary 'www.x.edu')",
        "(_BINARY'www.x.edu')",
        "(x'www.x.edu')",
        "(B'www.x.edu')",
    ] {
        assert_eq!(out(lit), lit);
    }
    assert_eq!(out("(ax'www.x.edu')"), "(ax'uat.x.edu')");
    assert_eq!(out("(my_binary 'www.x.edu')"), "(my_binary 'uat.x.edu')");
}

#[test]
fn unterminated_literal_passes_through() {
    assert_eq!(out("('www.x.edu"), "('www.x.edu");
    assert_eq!(out("('www.x.edu\\"), "('www.x.edu\\");
    assert_eq!(out("/* www.x.edu"), "/* www.x.edu");
}

#[test]
fn non_utf8_bytes_pass_through() {
    let input = b"(\xff'\xfe www.x.edu \x80', `\xc3`)";
    let (o, _) = run(&chain(), input);
    assert_eq!(o, b"(\xff'\xfe uat.x.edu \x80', `\xc3`)");
}

#[test]
fn literal_larger_than_a_chunk() {
    let body = "text www.x.edu ".repeat(10_000);
    let input = format!("INSERT INTO t VALUES ('{body}');");
    let r = chain();
    let mut o = Vec::new();
    let st = stream_chunked(&r, input.as_bytes(), &mut o, 1000, |_| {}).unwrap();
    assert_eq!(st.replacements, 10_000);
    assert_eq!(
        String::from_utf8(o).unwrap(),
        input.replace("www.x.edu", "uat.x.edu")
    );
}

#[test]
fn noop_copies() {
    let r = Replacer::new(&[("a".to_string(), "a".to_string())]).unwrap();
    let input = b"('a') `a` -- a\n";
    let (o, st) = run(&r, input);
    assert_eq!(o, input);
    assert_eq!(st, ValueStats::default());
}

#[test]
fn unusual_escapes_still_match() {
    // `\e` is `e` to MySQL: the FROM occurs in the value though not in the raw bytes.
    assert_eq!(out(r"('www.x.\edu')"), "('uat.x.edu')");
    assert_eq!(out(r"('w\ww.x.edu')"), "('uat.x.edu')");
}

#[test]
fn froms_with_escapable_bytes() {
    let r = Replacer::new(&[
        ("it's".to_string(), "it is".to_string()),
        ("\n".to_string(), " ".to_string()),
    ])
    .unwrap();
    let o = run(&r, br"('it\'s', 'it''s', 'a\nb', 'a\\nb')").0;
    assert_eq!(
        String::from_utf8(o).unwrap(),
        r"('it is', 'it is', 'a b', 'a\\nb')"
    );
    let r = Replacer::new(&[("\n".to_string(), " ".to_string())]).unwrap();
    assert!(escape_filter(&r).is_none());
    assert_eq!(run(&r, br"('a\nb\\n')").0, br"('a b\\n')");
}

#[test]
fn find2_agrees_with_a_naive_scan() {
    let mut x: u32 = 12345;
    for len in 0..64 {
        let hay: Vec<u8> = (0..len)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                [b'a', b'\\', b'\'', 0, 0xff, 0x80][(x >> 16) as usize % 6]
            })
            .collect();
        for from in 0..=hay.len() {
            let naive = hay[from..]
                .iter()
                .position(|&b| b == b'\\' || b == b'\'')
                .map(|i| i + from);
            assert_eq!(
                find2(&hay, from, b'\\', b'\''),
                naive,
                "{hay:?} from {from}"
            );
        }
    }
}

#[test]
fn introducer_detection() {
    assert!(is_binary_introducer(b"(_binary "));
    assert!(is_binary_introducer(b"_binary"));
    assert!(is_binary_introducer(b",X"));
    assert!(!is_binary_introducer(b"(1,"));
    assert!(!is_binary_introducer(b"max"));
    assert!(!is_binary_introducer(b""));
}
