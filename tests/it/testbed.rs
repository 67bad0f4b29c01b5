//! The test bed itself: the generator builds a network that looks like WordPress
//! (table set per site, row counts, parseable serialized values, flagged sites,
//! the tricky values), deterministically, and `seed-network` drives it.

use crate::support;

use std::collections::BTreeSet;

use support::{run, seed_network, small_network, table_checksums, wfuwp, TestDb, PROD_TOKENS};
use wfuwp_testbed::content::{site_prefix, MALFORMED_OPTIONS};
use wfuwp_testbed::schema::SITE_TABLES;
use wfuwp_testbed::NetworkOptions;

#[test]
fn every_site_has_the_core_tables_and_plugin_tables_exist() {
    let db = TestDb::new("tables");
    let net = seed_network(&db, &small_network());
    let tables: BTreeSet<String> = db.tables().into_iter().collect();
    let network_tables = [
        "blogs",
        "blogmeta",
        "site",
        "sitemeta",
        "users",
        "usermeta",
        "signups",
        "registration_log",
    ];
    for t in network_tables {
        assert!(
            tables.contains(&format!("wp_{t}")),
            "network table wp_{t} missing"
        );
    }
    assert_eq!(net.sites.len(), 6);
    for site in &net.sites {
        let prefix = site_prefix("wp_", site.blog_id);
        for t in SITE_TABLES {
            assert!(
                tables.contains(&format!("{prefix}{t}")),
                "{prefix}{t} missing for blog {}",
                site.blog_id
            );
        }
    }
    for plugin in [
        "wp_gf_form",
        "wp_gf_form_meta",
        "wp_wfu_media_cache",
        "wp_legacy_notes",
        "wp_404_log",
        "wp_3_gf_form",
    ] {
        assert!(tables.contains(plugin), "plugin table {plugin} missing");
    }
    assert!(
        net.sites.iter().all(|s| s.blog_id != 404),
        "404 must not be a blog id while wp_404_log exists"
    );
    // Nothing else: every table is a network table, or belongs to a generated site.
    assert_eq!(
        tables.len(),
        net.row_counts.len(),
        "tables on the server vs. generated: {tables:?}"
    );
}

#[test]
fn row_counts_match_what_the_generator_wrote() {
    let db = TestDb::new("rows");
    let net = seed_network(&db, &small_network());
    for (table, expected) in &net.row_counts {
        assert_eq!(db.count(table), *expected, "rows of {table}");
    }
    assert_eq!(db.count("wp_blogs"), 6);
    assert_eq!(db.count("wp_site"), 1);
    // 4 posts + 2 attachments per site.
    assert_eq!(db.count("wp_2_posts"), 6);
    assert!(
        net.rows() > 300,
        "a small network still has a few hundred rows, got {}",
        net.rows()
    );
}

#[test]
fn sites_have_subdomains_urls_and_flags() {
    let db = TestDb::new("flags");
    seed_network(&db, &small_network());
    let blogs: Vec<(u64, String, u8, u8, u8)> =
        db.query("SELECT blog_id, domain, archived, spam, deleted FROM wp_blogs ORDER BY blog_id");
    assert_eq!(blogs[0].1, "www.wfu.edu");
    assert!(blogs[1..]
        .iter()
        .all(|b| b.1.ends_with(".wfu.edu") && b.1 != "www.wfu.edu"));
    assert_eq!(
        blogs.iter().filter(|b| b.2 == 1).count(),
        1,
        "one archived site"
    );
    assert_eq!(
        blogs.iter().filter(|b| b.3 == 1).count(),
        1,
        "one spam site"
    );
    assert_eq!(
        blogs.iter().filter(|b| b.4 == 1).count(),
        1,
        "one deleted site"
    );
    for (id, domain, ..) in &blogs {
        let table = format!("{}options", site_prefix("wp_", *id));
        let urls: Vec<String> = db.query(&format!(
            "SELECT option_value FROM `{table}` WHERE option_name IN ('siteurl', 'home') ORDER BY option_name"
        ));
        assert_eq!(
            urls,
            vec![format!("https://{domain}"); 2],
            "siteurl/home of blog {id}"
        );
    }
}

#[test]
fn serialized_values_parse_with_byte_lengths() {
    let db = TestDb::new("serialized");
    let net = seed_network(&db, &small_network());
    let mut checked = 0;
    let mut nested = 0;
    for table in net.row_counts.keys() {
        let Some(column) = value_column(table) else {
            continue;
        };
        let key = if column == "option_value" {
            "option_name"
        } else {
            "meta_key"
        };
        let rows: Vec<(Option<String>, Option<Vec<u8>>)> =
            db.query(&format!("SELECT {key}, {column} FROM `{table}`"));
        for (name, value) in rows {
            let Some(value) = value else { continue };
            if !looks_serialized(&value)
                || name
                    .as_deref()
                    .is_some_and(|n| MALFORMED_OPTIONS.contains(&n))
            {
                continue;
            }
            let strings = php::parse_all(&value).unwrap_or_else(|e| {
                panic!(
                    "{table}.{column} ({name:?}) does not parse: {e}\n{}",
                    show(&value)
                )
            });
            checked += 1;
            for s in strings.iter().filter(|s| looks_serialized(s)) {
                php::parse_all(s)
                    .unwrap_or_else(|e| panic!("nested value in {table} ({name:?}): {e}"));
                nested += 1;
            }
        }
    }
    assert!(checked > 100, "only {checked} serialized values found");
    assert!(
        nested > 5,
        "only {nested} serialized-in-serialized values found"
    );
    let malformed: Vec<Vec<u8>> = db.query(&format!(
        "SELECT option_value FROM wp_options WHERE option_name = '{}'",
        MALFORMED_OPTIONS[0]
    ));
    assert!(
        php::parse_all(&malformed[0]).is_err(),
        "the deliberately malformed option must not parse"
    );
}

#[test]
fn php_itself_unserializes_the_values() {
    assert!(
        std::process::Command::new("php").arg("-v").output().is_ok(),
        "this cross-check needs PHP (`php` on PATH; CI installs php-cli)"
    );
    let db = TestDb::new("php");
    seed_network(&db, &small_network());
    let values: Vec<Vec<u8>> = db.query(&format!(
        "SELECT option_value FROM wp_3_options WHERE (option_value LIKE 'a:%' OR option_value LIKE 'O:%' \
         OR option_value LIKE 's:%' OR option_value LIKE 'C:%') AND option_name NOT IN ('{}') \
         UNION ALL SELECT meta_value FROM wp_3_postmeta WHERE meta_value LIKE 'a:%' OR meta_value LIKE 'O:%' OR meta_value LIKE 's:%'",
        MALFORMED_OPTIONS.join("','")
    ));
    assert!(values.len() > 20);
    let dir = tempfile::tempdir().unwrap();
    for (i, v) in values.iter().enumerate() {
        std::fs::write(dir.path().join(format!("{i}.ser")), v).unwrap();
    }
    // The classes the generator stores values of: one writing its own
    // payload (`C:`), an enum (`E:`).
    let script = "class WFU_Legacy_Cache implements Serializable { public $d; \
                  function serialize() { return serialize($this->d); } \
                  function unserialize($s) { $this->d = unserialize($s); } } \
                  enum WFU_Status { case Live; case Draft; case Archived; } \
                  $bad = 0; foreach (glob($argv[1] . '/*.ser') as $f) { $s = file_get_contents($f); \
                  if (@unserialize($s) === false && $s !== serialize(false)) { $bad++; echo basename($f), \"\\n\"; } } \
                  exit($bad ? 1 : 0);";
    let out = std::process::Command::new("php")
        .args(["-r", script])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "PHP could not unserialize: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn tricky_values_are_present() {
    let db = TestDb::new("tricky");
    let opts = NetworkOptions {
        large_values: true,
        ..small_network()
    };
    seed_network(&db, &opts);
    // JSON-escaped URLs in Gutenberg block attributes, and multibyte text incl. 4-byte emoji.
    let escaped = db.count_where(
        "wp_2_posts",
        r"post_content LIKE '%https:\\\\/\\\\/biology.wfu.edu\\\\/%'",
    );
    assert!(escaped > 0, "no JSON-escaped block URL in wp_2_posts");
    let multibyte = db.count_where(
        "wp_posts",
        "post_content LIKE '%中文%' OR post_content LIKE '%🎓%'",
    );
    assert!(multibyte > 0, "no multibyte text in wp_posts");
    // Private/protected property names carry NUL bytes.
    assert_eq!(
        db.count_where(
            "wp_2_options",
            "option_value LIKE CONCAT('%', CHAR(0), '*', CHAR(0), 'cdn%')"
        ),
        1
    );
    // NULLs, binary bytes that are not UTF-8, ENUM/SET, latin1, values over 1 MB.
    assert!(db.count_where("wp_2_postmeta", "meta_value IS NULL") > 0);
    assert!(db.count_where("wp_2_postmeta", "meta_key IS NULL") > 0);
    let blobs: Vec<Vec<u8>> =
        db.query("SELECT thumb FROM wp_wfu_media_cache WHERE thumb IS NOT NULL");
    assert!(
        blobs.iter().any(|b| std::str::from_utf8(b).is_err()),
        "blobs should hold non-UTF-8 bytes"
    );
    assert_eq!(db.count_where("wp_404_log", "status = 'redirected'"), 1);
    assert!(
        db.count_where("wp_options", "LENGTH(option_value) > 1000000") >= 1,
        "a >1 MB option"
    );
    // A large value on a site whose domain changes length under prod → uat.
    assert!(
        db.count_where("wp_2_options", "LENGTH(option_value) > 1000000") >= 1,
        "a >1 MB option on site 2"
    );
    // A class's own payload (C:), enum cases (E:), three levels of nesting,
    // and a value followed by junk.
    for (option, like) in [
        ("wfu_legacy_cache", "C:16:\"WFU_Legacy_Cache\":%:{a:3:{%}}"),
        ("wfu_status_map", "%E:15:\"WFU_Status:Live\";%"),
        (
            "wfu_nested_widgets",
            "%s:6:\"widget\";s:%:\"a:2:{%s:5:\"inner\";s:%:\"O:8:\"stdClass\"%",
        ),
        (MALFORMED_OPTIONS[1], "a:1:{%}{\"from\":%}"),
    ] {
        assert_eq!(
            db.count_where(
                "wp_3_options",
                &format!("option_name = '{option}' AND option_value LIKE '{like}'")
            ),
            1,
            "{option} LIKE {like}"
        );
    }
    assert!(
        db.count_where("wp_posts", "LENGTH(post_content) > 1000000") >= 1,
        "a >1 MB post"
    );
    assert!(
        db.count_where("wp_wfu_media_cache", "LENGTH(thumb) > 1000000") >= 1,
        "a >1 MB blob"
    );
    let charset: Vec<String> = db.query(
        "SELECT CCSA.character_set_name FROM information_schema.TABLES T JOIN information_schema.COLLATION_CHARACTER_SET_APPLICABILITY CCSA \
         ON CCSA.collation_name = T.table_collation WHERE T.table_schema = DATABASE() AND T.table_name = 'wp_legacy_notes'",
    );
    assert_eq!(charset, vec!["latin1".to_string()]);
}

#[test]
fn same_seed_same_network_other_seed_other_content() {
    let (a, b, c) = (
        TestDb::new("det_a"),
        TestDb::new("det_b"),
        TestDb::new("det_c"),
    );
    seed_network(&a, &small_network());
    seed_network(&b, &small_network());
    seed_network(
        &c,
        &NetworkOptions {
            seed: 7,
            ..small_network()
        },
    );
    let (sa, sb, sc) = (
        table_checksums(&a),
        table_checksums(&b),
        table_checksums(&c),
    );
    assert_eq!(sa, sb, "same seed must give identical tables");
    assert_eq!(
        sa.keys().collect::<Vec<_>>(),
        sc.keys().collect::<Vec<_>>(),
        "same table set"
    );
    assert_ne!(sa, sc, "another seed must change the content");
}

#[test]
fn seed_network_command_fills_refuses_and_recreates() {
    let db = TestDb::new("cmd");
    let dir = tempfile::tempdir().unwrap();
    let config = support::write_config(dir.path(), &[("prod", &db, PROD_TOKENS)]);
    let logs = dir.path().join("logs");
    let seed = |extra: &[&str]| {
        run(wfuwp(&config, &logs)
            .args([
                "seed-network",
                "--env",
                "prod",
                "--sites",
                "3",
                "--posts",
                "2",
            ])
            .args(extra))
    };
    let first = seed(&[]);
    assert_eq!(first.code, 0, "{first:?}");
    assert!(first.stdout.contains("seeded 3 sites"), "{first:?}");
    assert_eq!(db.count("wp_blogs"), 3);

    let again = seed(&[]);
    assert_eq!(
        again.code, 2,
        "a non-empty database must be refused: {again:?}"
    );
    assert!(
        again.stderr.contains("--recreate") && again.stderr.contains(&db.name),
        "{again:?}"
    );

    let recreated = seed(&["--recreate", "--seed", "9"]);
    assert_eq!(recreated.code, 0, "{recreated:?}");
    assert_eq!(db.count("wp_blogs"), 3);
}

#[test]
fn seed_network_creates_a_missing_database() {
    let holder = TestDb::new("missing");
    // Reuse the unique name for a database that does not exist yet; `holder`'s
    // drop removes it afterwards.
    holder.exec(&format!("DROP DATABASE `{}`", holder.name));
    let dir = tempfile::tempdir().unwrap();
    let config = support::write_config(dir.path(), &[("prod", &holder, PROD_TOKENS)]);
    let out = run(wfuwp(&config, &dir.path().join("logs")).args([
        "seed-network",
        "--env",
        "prod",
        "--sites",
        "2",
    ]));
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(holder.count("wp_blogs"), 2);
}

/// The serialized-value column of a WordPress table, if it has one.
fn value_column(table: &str) -> Option<&'static str> {
    if table.ends_with("options") {
        Some("option_value")
    } else if table.ends_with("meta") && !table.ends_with("gf_form_meta") {
        Some("meta_value")
    } else {
        None
    }
}

fn looks_serialized(v: &[u8]) -> bool {
    v == b"N;"
        || (v.len() > 3
            && matches!(
                &v[..2],
                b"a:" | b"O:" | b"s:" | b"i:" | b"b:" | b"d:" | b"C:" | b"E:"
            )
            && (v.ends_with(b";") || v.ends_with(b"}")))
}

fn show(v: &[u8]) -> String {
    String::from_utf8_lossy(&v[..v.len().min(300)]).replace('\0', "\\0")
}

trait CountWhere {
    fn count_where(&self, table: &str, cond: &str) -> u64;
}

impl CountWhere for TestDb {
    fn count_where(&self, table: &str, cond: &str) -> u64 {
        self.query::<u64>(&format!("SELECT COUNT(*) FROM `{table}` WHERE {cond}"))[0]
    }
}

/// A tiny, independent reader of PHP's serialize() format that checks every
/// `s:N:"…"` length as a byte count and returns all string values found.
mod php {
    pub fn parse_all(b: &[u8]) -> Result<Vec<Vec<u8>>, String> {
        let mut p = Parser {
            b,
            i: 0,
            strings: Vec::new(),
        };
        p.value()?;
        if p.i != b.len() {
            return Err(format!("{} trailing bytes at {}", b.len() - p.i, p.i));
        }
        Ok(p.strings)
    }

    struct Parser<'a> {
        b: &'a [u8],
        i: usize,
        strings: Vec<Vec<u8>>,
    }

    impl Parser<'_> {
        fn value(&mut self) -> Result<(), String> {
            let tag = *self.b.get(self.i).ok_or("unexpected end")?;
            match tag {
                b'N' => self.expect(b"N;"),
                b'b' | b'i' | b'd' => {
                    self.i += 2;
                    self.until(b';').map(|_| ())
                }
                b's' => {
                    self.i += 2;
                    let s = self.string()?;
                    self.strings.push(s);
                    self.expect(b";")
                }
                b'a' => {
                    self.i += 2;
                    let n = self.number(b':')?;
                    self.expect(b"{")?;
                    self.entries(n)
                }
                b'O' => {
                    self.i += 2;
                    self.string()?;
                    self.expect(b":")?;
                    let n = self.number(b':')?;
                    self.expect(b"{")?;
                    self.entries(n)
                }
                // An enum case names code: not a string value.
                b'E' => {
                    self.i += 2;
                    self.string()?;
                    self.expect(b";")
                }
                // A class's own payload, here one serialized value.
                b'C' => {
                    self.i += 2;
                    self.string()?;
                    self.expect(b":")?;
                    let n = self.number(b':')?;
                    self.expect(b"{")?;
                    let payload = self
                        .b
                        .get(self.i..self.i + n)
                        .ok_or(format!("payload of {n} bytes runs past the end"))?;
                    self.strings.extend(parse_all(payload)?);
                    self.i += n;
                    self.expect(b"}")
                }
                other => Err(format!("unknown tag '{}' at {}", other as char, self.i)),
            }
        }

        fn entries(&mut self, n: usize) -> Result<(), String> {
            for _ in 0..n {
                self.value()?;
                self.value()?;
            }
            self.expect(b"}")
        }

        /// `N:"bytes"` with N the byte length.
        fn string(&mut self) -> Result<Vec<u8>, String> {
            let n = self.number(b':')?;
            self.expect(b"\"")?;
            let s = self
                .b
                .get(self.i..self.i + n)
                .ok_or(format!("string of {n} bytes runs past the end"))?
                .to_vec();
            self.i += n;
            self.expect(b"\"")
                .map_err(|e| format!("declared length {n} is wrong: {e}"))?;
            Ok(s)
        }

        fn number(&mut self, end: u8) -> Result<usize, String> {
            let digits = self.until(end)?;
            std::str::from_utf8(digits)
                .ok()
                .and_then(|d| d.parse().ok())
                .ok_or(format!("bad number before {}", self.i))
        }

        fn until(&mut self, end: u8) -> Result<&[u8], String> {
            let start = self.i;
            let len = self.b[start..]
                .iter()
                .position(|&c| c == end)
                .ok_or("missing terminator")?;
            self.i = start + len + 1;
            Ok(&self.b[start..start + len])
        }

        fn expect(&mut self, lit: &[u8]) -> Result<(), String> {
            if self.b[self.i..].starts_with(lit) {
                self.i += lit.len();
                Ok(())
            } else {
                Err(format!(
                    "expected {:?} at {}",
                    String::from_utf8_lossy(lit),
                    self.i
                ))
            }
        }
    }
}
