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
    let (o, s, _) = run_noting(r, input);
    (o, s)
}

/// [`run`], also returning the notes given to the user.
fn run_noting(r: &Replacer, input: &[u8]) -> (Vec<u8>, ValueStats, Vec<String>) {
    let mut first: Option<(Vec<u8>, ValueStats, Vec<String>)> = None;
    for chunk in (1..10).chain([CHUNK]) {
        let mut out = Vec::new();
        let mut notes = Vec::new();
        let stats = stream_chunked(r, input, &mut out, chunk, |n| notes.push(n.to_string()))
            .unwrap()
            .stats;
        match &first {
            None => first = Some((out, stats, notes)),
            Some((o, s, n)) => {
                assert_eq!(
                    String::from_utf8_lossy(o),
                    String::from_utf8_lossy(&out),
                    "chunk {chunk}"
                );
                assert_eq!(*s, stats, "chunk {chunk}");
                assert_eq!(*n, notes, "chunk {chunk}");
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
    assert_eq!(st.stats.replacements, 10_000);
    assert_eq!(st.truncated, None);
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

// ------------------------------------------------------------ column kinds

/// A table with every kind of column, as mariadb-dump writes its definition.
const MEDIA_TABLE: &str = "\
DROP TABLE IF EXISTS `wp_media`;
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!40101 SET character_set_client = utf8mb4 */;
CREATE TABLE `wp_media` (
  `id` bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  `url` varchar(2048) NOT NULL DEFAULT 'https://www.x.edu/, (x)',
  `hash` binary(16) NOT NULL,
  `thumb` mediumblob DEFAULT NULL,
  `extra` varbinary(255) DEFAULT NULL,
  `status` enum('www.x.edu','b.x.edu') NOT NULL DEFAULT 'www.x.edu',
  `flags` set('a','b') NOT NULL DEFAULT '',
  `price` decimal(10,2) DEFAULT NULL,
  `seen` datetime NOT NULL,
  `note` longtext CHARACTER SET utf8mb4 COLLATE utf8mb4_bin DEFAULT NULL COMMENT 'see www.x.edu',
  `settings` longtext DEFAULT NULL CHECK (json_valid(`settings`)),
  PRIMARY KEY (`id`),
  KEY `url` (`url`(191)),
  CONSTRAINT `c1` CHECK (`price` > 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;
/*!40101 SET character_set_client = @saved_cs_client */;
";

/// One row of `wp_media` with the FROM in every column.
const MEDIA_ROW: &str =
    "(1,'https://www.x.edu/a','www.x.edu\\0\\'1234','\\0\\Zwww.x.edu\\n','b.x.edu',\
'www.x.edu','a',1.50,'2024-01-01 www.x.edu','a.x.edu','{\\\"u\\\":\\\"www.x.edu\\\"}')";

/// [`MEDIA_ROW`] after the chain: text columns replaced, the rest untouched.
const MEDIA_ROW_REPLACED: &str =
    "(1,'https://uat.x.edu/a','www.x.edu\\0\\'1234','\\0\\Zwww.x.edu\\n','b.x.edu',\
'www.x.edu','a',1.50,'2024-01-01 www.x.edu','a.uat.x.edu','{\\\"u\\\":\\\"uat.x.edu\\\"}')";

/// The definition as it comes out of the stream: untouched, ENUM and SET
/// members, defaults and comments included (env-migrate copies definitions
/// as the source has them, and the ENUM's row values are not text).
fn media_table_out() -> String {
    MEDIA_TABLE.to_string()
}

#[test]
fn media_row_constants_are_what_they_claim() {
    assert!(MEDIA_ROW.contains(r"'www.x.edu\0\'1234'"));
    assert!(MEDIA_ROW_REPLACED.contains(r#"'{\"u\":\"uat.x.edu\"}'"#));
}

#[test]
fn mariadb_dump_sample() {
    let input = format!(
        "-- MariaDB dump 10.19  Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64)\n\
         --\n-- Host: 127.0.0.1    Database: wp\n\
         /*!40101 SET NAMES utf8mb4 */;\n/*M!100616 SET @OLD_NOTE_VERBOSITY=@@NOTE_VERBOSITY, NOTE_VERBOSITY=0 */;\n\
         {MEDIA_TABLE}\n\
         --\n-- Dumping data for table `wp_media`\n--\n\n\
         LOCK TABLES `wp_media` WRITE;\n/*!40000 ALTER TABLE `wp_media` DISABLE KEYS */;\n\
         INSERT INTO `wp_media` VALUES {MEDIA_ROW},\n{MEDIA_ROW};\n\
         /*!40000 ALTER TABLE `wp_media` ENABLE KEYS */;\nUNLOCK TABLES;\n"
    );
    let expected = input
        .replace(MEDIA_TABLE, &media_table_out())
        .replace(MEDIA_ROW, MEDIA_ROW_REPLACED);
    let (o, _, notes) = run_noting(&chain(), input.as_bytes());
    assert_eq!(String::from_utf8(o).unwrap(), expected);
    assert!(notes.is_empty(), "{notes:?}");
}

#[test]
fn mysql8_dump_sample() {
    // MySQL 8's mysqldump: `_binary` before binary values, `/*!80023 INVISIBLE */`, utf8mb3 comments.
    let input = "\
-- MySQL dump 10.13  Distrib 8.0.36, for Linux (x86_64)
--
-- Host: localhost    Database: wp
-- ------------------------------------------------------
-- Server version\t8.0.36

/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;
/*!50503 SET NAMES utf8mb4 */;
/*!40103 SET @OLD_TIME_ZONE=@@TIME_ZONE */;
/*!40103 SET TIME_ZONE='+00:00' */;
/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */;
/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;

--
-- Table structure for table `wp_cache`
--

DROP TABLE IF EXISTS `wp_cache`;
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!50503 SET character_set_client = utf8mb4 */;
CREATE TABLE `wp_cache` (
  `id` int NOT NULL AUTO_INCREMENT,
  `k` varchar(191) COLLATE utf8mb4_unicode_520_ci NOT NULL,
  `v` longblob,
  `hidden` tinytext /*!80023 INVISIBLE */,
  `meta` json DEFAULT NULL,
  `at` timestamp NULL DEFAULT NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB AUTO_INCREMENT=3 DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;
/*!40101 SET character_set_client = @saved_cs_client */;

LOCK TABLES `wp_cache` WRITE;
/*!40000 ALTER TABLE `wp_cache` DISABLE KEYS */;
INSERT INTO `wp_cache` (`id`, `k`, `v`, `hidden`, `meta`, `at`) VALUES (1,'www.x.edu',_binary 'www.x.edu\\0','www.x.edu','{\\\"u\\\": \\\"www.x.edu\\\"}','2024-01-01 00:00:00'),(2,'a.x.edu',_binary '\\Z.x.edu',NULL,NULL,NULL);
INSERT INTO `wp_cache` VALUES (3,'www.x.edu','www.x.edu','www.x.edu',NULL,'www.x.edu');
/*!40000 ALTER TABLE `wp_cache` ENABLE KEYS */;
UNLOCK TABLES;
/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;
-- Dump completed on 2024-05-01 12:00:00
";
    let expected = input
        .replace(
            "(1,'www.x.edu',_binary 'www.x.edu\\0','www.x.edu','{\\\"u\\\": \\\"www.x.edu\\\"}'",
            "(1,'uat.x.edu',_binary 'www.x.edu\\0','uat.x.edu','{\\\"u\\\": \\\"uat.x.edu\\\"}'",
        )
        .replace("(2,'a.x.edu'", "(2,'a.uat.x.edu'")
        .replace(
            "(3,'www.x.edu','www.x.edu','www.x.edu',NULL,'www.x.edu')",
            "(3,'uat.x.edu','www.x.edu','uat.x.edu',NULL,'www.x.edu')",
        );
    assert_ne!(input, expected);
    let (o, _, notes) = run_noting(&chain(), input.as_bytes());
    assert_eq!(String::from_utf8(o).unwrap(), expected);
    assert!(notes.is_empty(), "{notes:?}");
}

const PAIR_TABLE: &str =
    "CREATE TABLE `t` (`a` varchar(9), `b` blob, `c` int, `d` text) ENGINE=InnoDB;\n";

#[test]
fn column_list_in_another_order() {
    let input = format!(
        "{PAIR_TABLE}INSERT INTO `t` (`b`, d, `A`) VALUES ('www.x.edu','www.x.edu','www.x.edu'),\
         ('b.x.edu','b.x.edu','b.x.edu');\n"
    );
    let expected = format!(
        "{PAIR_TABLE}INSERT INTO `t` (`b`, d, `A`) VALUES ('www.x.edu','uat.x.edu','uat.x.edu'),\
         ('b.x.edu','b.uat.x.edu','b.uat.x.edu');\n"
    );
    assert_eq!(out(&input), expected);
}

#[test]
fn replace_into_and_insert_ignore() {
    for head in [
        "REPLACE INTO `t`",
        "INSERT IGNORE INTO `t`",
        "INSERT  IGNORE  INTO t",
        "insert low_priority into `t`",
        "REPLACE `t`",
        "INSERT INTO `wp`.`t`",
    ] {
        let input = format!(
            "USE `wp`;\n{PAIR_TABLE}{head} VALUES ('www.x.edu','www.x.edu',1,'www.x.edu');\n"
        );
        let expected = format!(
            "USE `wp`;\n{PAIR_TABLE}{head} VALUES ('uat.x.edu','www.x.edu',1,'uat.x.edu');\n"
        );
        assert_eq!(out(&input), expected, "{head}");
    }
}

#[test]
fn same_table_name_in_two_databases() {
    let input = "\
CREATE DATABASE /*!32312 IF NOT EXISTS*/ `a` /*!40100 DEFAULT CHARACTER SET utf8mb4 */;
USE `a`;
CREATE TABLE `t` (`id` int, `v` blob);
CREATE DATABASE /*!32312 IF NOT EXISTS*/ `b`;
USE `b`;
CREATE TABLE `t` (`id` int, `v` text);
USE `a`;
INSERT INTO `t` VALUES (1,'www.x.edu');
USE `b`;
INSERT INTO `t` VALUES (1,'www.x.edu');
INSERT INTO `a`.`t` VALUES (1,'www.x.edu');
INSERT INTO b.t VALUES (1,'www.x.edu');
";
    let expected = "\
CREATE DATABASE /*!32312 IF NOT EXISTS*/ `a` /*!40100 DEFAULT CHARACTER SET utf8mb4 */;
USE `a`;
CREATE TABLE `t` (`id` int, `v` blob);
CREATE DATABASE /*!32312 IF NOT EXISTS*/ `b`;
USE `b`;
CREATE TABLE `t` (`id` int, `v` text);
USE `a`;
INSERT INTO `t` VALUES (1,'www.x.edu');
USE `b`;
INSERT INTO `t` VALUES (1,'uat.x.edu');
INSERT INTO `a`.`t` VALUES (1,'www.x.edu');
INSERT INTO b.t VALUES (1,'uat.x.edu');
";
    assert_eq!(out(input), expected);
}

#[test]
fn no_table_definitions_replaces_everything_and_says_so_once() {
    let input = "INSERT INTO `t` VALUES (1,'www.x.edu');\nINSERT INTO `u` VALUES ('www.x.edu');\n";
    let (o, st, notes) = run_noting(&chain(), input.as_bytes());
    assert_eq!(
        String::from_utf8(o).unwrap(),
        input.replace("www.x.edu", "uat.x.edu")
    );
    assert_eq!(st.replacements, 2);
    assert_eq!(notes, [NO_TABLE_DEFINITIONS]);
    // Statements other than INSERTs into unknown tables say nothing.
    let (_, _, notes) = run_noting(
        &chain(),
        format!("{PAIR_TABLE}SELECT 'www.x.edu';").as_bytes(),
    );
    assert!(notes.is_empty());
}

#[test]
fn binary_introducer_and_hex_in_any_column() {
    let r = Replacer::new(&[("abcdef".to_string(), "fedcba".to_string())]).unwrap();
    let input = format!(
        "{PAIR_TABLE}INSERT INTO `t` VALUES (_binary 'abcdef',0xabcdef,X'abcdef','abcdef'),\
         (x'abcdef',_binary'abcdef',1,_binary 'abcdef');\n\
         INSERT INTO `nodef` VALUES (0xabcdef,X'abcdef',_binary 'abcdef','abcdef');\n"
    );
    let expected = input
        .replace("X'abcdef','abcdef')", "X'abcdef','fedcba')")
        .replace("_binary 'abcdef','abcdef');", "_binary 'abcdef','fedcba');");
    assert_eq!(input.matches("fedcba").count(), 0);
    let (o, _, _) = run_noting(&r, input.as_bytes());
    assert_eq!(String::from_utf8(o).unwrap(), expected);
}

#[test]
fn what_is_not_understood_is_replaced() {
    let cases = [
        // More values than columns.
        (
            "INSERT INTO `t` VALUES (1,'w','x','y','www.x.edu');",
            "INSERT INTO `t` VALUES (1,'w','x','y','uat.x.edu');",
        ),
        // Column missing from the definition.
        (
            "INSERT INTO `t` (`zz`, `b`) VALUES ('www.x.edu','www.x.edu');",
            "INSERT INTO `t` (`zz`, `b`) VALUES ('uat.x.edu','www.x.edu');",
        ),
        // After the rows.
        (
            "INSERT INTO `t` VALUES ('a','www.x.edu',1,'') ON DUPLICATE KEY UPDATE b='www.x.edu';",
            "INSERT INTO `t` VALUES ('a','www.x.edu',1,'') ON DUPLICATE KEY UPDATE b='uat.x.edu';",
        ),
        // Not VALUES rows.
        (
            "INSERT INTO `t` SELECT 'www.x.edu','www.x.edu',1,'';",
            "INSERT INTO `t` SELECT 'uat.x.edu','uat.x.edu',1,'';",
        ),
        (
            "UPDATE `t` SET b='www.x.edu';",
            "UPDATE `t` SET b='uat.x.edu';",
        ),
    ];
    for (input, expected) in cases {
        let input = format!("{PAIR_TABLE}{input}");
        let expected = format!("{PAIR_TABLE}{expected}");
        assert_eq!(out(&input), expected);
    }
}

#[test]
fn redefinitions_win() {
    // A table re-created with text where it had a blob, or re-created in a way that
    // cannot be read, no longer keeps its old kinds.
    let input = "CREATE TABLE t (v blob);\nCREATE TABLE t (v text);\nINSERT INTO t VALUES ('www.x.edu');\n\
                 CREATE TABLE u (v blob);\nCREATE TABLE u LIKE t;\nINSERT INTO u VALUES ('www.x.edu');\n\
                 CREATE TABLE w (v blob);\nINSERT INTO w VALUES ('www.x.edu');\n";
    let expected = input.replacen("www.x.edu", "uat.x.edu", 2);
    assert_eq!(out(input), expected);
}

#[test]
fn identifiers_with_quotes_semicolons_and_comments() {
    let input = "CREATE TABLE `a;b``c` (\n  `x;``y` /* a, (comment */ blob, -- text\n  `z` text # blob,\n);\n\
                 INSERT INTO `a;b``c` VALUES ('www.x.edu' /* , */, 'www.x.edu');\n";
    let expected = "CREATE TABLE `a;b``c` (\n  `x;``y` /* a, (comment */ blob, -- text\n  `z` text # blob,\n);\n\
                    INSERT INTO `a;b``c` VALUES ('www.x.edu' /* , */, 'uat.x.edu');\n";
    assert_eq!(out(input), expected);
}

#[test]
fn enum_and_set_members_agree_with_their_values() {
    // The definition keeps its members (and defaults, comments) and the rows
    // keep their ENUM/SET values: a strict server takes the result.
    let input = "CREATE TABLE t (id int, e enum('www.x.edu','o') DEFAULT 'www.x.edu', \
                 s set('www.x.edu','o'), v varchar(20) COMMENT 'www.x.edu') COMMENT='www.x.edu';\n\
                 INSERT INTO t VALUES (1,'www.x.edu','www.x.edu,o','www.x.edu');\n\
                 INSERT INTO t (v, e) VALUES ('www.x.edu','www.x.edu');\n";
    let expected = input
        .replace("'www.x.edu');\nINSERT", "'uat.x.edu');\nINSERT")
        .replace("VALUES ('www.x.edu'", "VALUES ('uat.x.edu'");
    assert_eq!(
        expected.matches("uat.x.edu").count(),
        2,
        "the expectation changes the two varchar values only"
    );
    assert_eq!(out(input), expected);
}

/// The end of the input as the stream judges it.
fn truncation(input: &str) -> Option<&'static str> {
    let mut first = None;
    for chunk in [1, 2, 7, CHUNK] {
        let mut o = Vec::new();
        let got = stream_chunked(&chain(), input.as_bytes(), &mut o, chunk, |_| {})
            .unwrap()
            .truncated;
        match first {
            None => first = Some(got),
            Some(f) => assert_eq!(f, got, "chunk {chunk}"),
        }
    }
    first.unwrap()
}

#[test]
fn a_dump_cut_short_is_told_apart_from_a_complete_one() {
    let header = "-- MariaDB dump 10.19  Distrib 10.11.19-MariaDB\n--\n";
    let body = "CREATE TABLE t (v text);\nINSERT INTO t VALUES ('www.x.edu'),('b');\n";
    let done = "-- Dump completed on 2026-01-01  0:00:00\n";
    // Complete: with header and trailer, or neither (--skip-comments).
    assert_eq!(truncation(&format!("{header}{body}{done}")), None);
    assert_eq!(truncation(&format!("{header}{body}{done}\n\n")), None);
    assert_eq!(truncation(body), None);
    assert_eq!(truncation(&format!("{body}-- a comment")), None);
    // MariaDB 11's first line comes before the header.
    assert!(truncation(&format!(
        "/*M!999999\\- enable the sandbox mode */ \n{header}{body}"
    ))
    .is_some());
    // Cut inside a literal, a name, a comment, a statement, or between statements.
    for (cut, why) in [
        ("INSERT INTO t VALUES ('www.x", "string literal"),
        ("INSERT INTO `t", "quoted name"),
        ("/* a comm", "comment"),
        ("INSERT INTO t VALUES ('a'),", "statement"),
        ("UNLOCK TABLES", "statement"),
    ] {
        let why_now = truncation(&format!("{body}{cut}")).unwrap_or_default();
        assert!(why_now.contains(why), "{cut}: {why_now:?}");
    }
    let why = truncation(&format!("{header}{body}")).unwrap_or_default();
    assert!(why.contains("Dump completed"), "{why:?}");
    // The identity replacement copies bytes as they are, and still looks at the ends.
    let noop = Replacer::new(&[("a".to_string(), "a".to_string())]).unwrap();
    assert!(noop.is_noop());
    let mut o = Vec::new();
    let cut = format!("{header}{body}");
    let end = stream_chunked(&noop, cut.as_bytes(), &mut o, 3, |_| {}).unwrap();
    assert_eq!(o, cut.as_bytes());
    assert!(end.truncated.is_some());
}
