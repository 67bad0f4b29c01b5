//! `wfuwp search-replace` over real dumps (issue 15): a generated network
//! dumped with plain `mariadb-dump` (no `--hex-blob`, so BLOBs are quoted
//! strings), streamed through the binary and loaded into a fresh database
//! must hold exactly what an independent replacement predicts, cell by cell:
//! binary and other non-text cells byte-identical, text cells as PHP's
//! `strtr` (inside unserialized values, for serialized ones) makes them.
//!
//! Needs the sandbox (`scripts/test.sh --test stream_dump`), the MariaDB
//! client programs and `php`.

use crate::oracle;
use crate::support;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Value};
use support::*;

/// prod → uat pairs; none has a `/`, so JSON-escaped forms are the same text.
fn pairs() -> Vec<(String, String)> {
    PROD_TOKENS
        .iter()
        .map(|(key, from)| {
            let to = UAT_TOKENS
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.to_string())
                .expect("every prod token has a uat one");
            (from.to_string(), to)
        })
        .collect()
}

/// The first of `names` found on PATH.
fn program(names: &[&str]) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in names {
        for dir in std::env::split_paths(&path) {
            let p = dir.join(name);
            if p.is_file() {
                return p;
            }
        }
    }
    panic!("none of {names:?} is on PATH; install the MariaDB client (mariadb-client)")
}

/// A MariaDB client program connected to the sandbox over TCP, the password
/// in the environment (never on the command line), no option files read.
fn client(names: &[&str]) -> Command {
    let s = server();
    let mut cmd = Command::new(program(names));
    cmd.arg("--no-defaults")
        .arg("--protocol=TCP")
        .arg(format!("--host={}", s.host))
        .arg(format!("--port={}", s.port))
        .arg(format!("--user={}", s.user))
        .arg("--default-character-set=utf8mb4")
        .env("MYSQL_PWD", &s.password);
    cmd
}

/// Dumps with plain `mariadb-dump ARGS` into `file`.
fn dump_to(args: &[&str], file: &Path) {
    let out = File::create(file).expect("creating the dump file");
    let status = client(&["mariadb-dump", "mysqldump"])
        .args(args)
        .stdout(out)
        .status()
        .expect("running mariadb-dump");
    assert!(status.success(), "mariadb-dump {args:?} failed");
}

/// Streams `input` through `wfuwp search-replace` into `output`; returns stderr.
fn search_replace(input: &Path, output: &Path) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wfuwp"));
    cmd.arg("search-replace");
    for (from, to) in pairs() {
        cmd.arg(from).arg(to);
    }
    let o = cmd
        .stdin(File::open(input).expect("opening the dump"))
        .stdout(File::create(output).expect("creating the output"))
        .stderr(Stdio::piped())
        .output()
        .expect("running wfuwp search-replace");
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "search-replace failed: {stderr}");
    stderr
}

/// Loads `file` with the `mariadb` client, into `db` if given.
fn load(file: &Path, db: Option<&TestDb>) {
    let mut cmd = client(&["mariadb", "mysql"]);
    if let Some(db) = db {
        cmd.arg(&db.name);
    }
    let o = cmd
        .stdin(File::open(file).expect("opening the SQL"))
        .output()
        .expect("running mariadb");
    assert!(
        o.status.success(),
        "loading {} failed: {}",
        file.display(),
        String::from_utf8_lossy(&o.stderr)
    );
}

type Cells = Vec<Vec<Option<Vec<u8>>>>;

/// A table's name, its columns (name, is text) and its rows.
type Table = (String, Vec<(String, bool)>, Cells);

/// A connection that returns the stored bytes (no charset conversion).
async fn raw(db: &TestDb) -> Conn {
    let mut c = db.connect().await;
    c.query_drop("SET SESSION character_set_results = binary")
        .await
        .expect("SET character_set_results");
    c
}

/// Columns of `table` (in order) and whether each is text, from the
/// server's own catalogue: the expectation does not use wfuwp's view.
async fn columns(c: &mut Conn, db: &str, table: &str) -> Vec<(String, bool)> {
    let rows: Vec<(String, String)> = c
        .exec(
            "SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
            (db, table),
        )
        .await
        .expect("information_schema.COLUMNS");
    rows.into_iter()
        .map(|(name, ty)| {
            let text = matches!(
                ty.to_ascii_lowercase().as_str(),
                "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" | "json"
            );
            (name, text)
        })
        .collect()
}

/// Every cell of every table of `db`, rows in primary-key (else full) order.
fn cells(db: &TestDb) -> Vec<Table> {
    block_on(async {
        let mut c = raw(db).await;
        let mut tables: Vec<String> = c.query("SHOW TABLES").await.expect("SHOW TABLES");
        tables.sort();
        let mut out = Vec::new();
        for t in tables {
            let cols = columns(&mut c, &db.name, &t).await;
            let order: Vec<String> = (1..=cols.len()).map(|i| i.to_string()).collect();
            let rows: Vec<mysql_async::Row> = c
                .query(format!(
                    "SELECT * FROM {} ORDER BY {}",
                    q(&t),
                    order.join(",")
                ))
                .await
                .expect("SELECT");
            let rows: Cells = rows
                .into_iter()
                .map(|r| {
                    r.unwrap()
                        .into_iter()
                        .map(|v| match v {
                            Value::NULL => None,
                            Value::Bytes(b) => Some(b),
                            other => panic!("the text protocol returns bytes, got {other:?}"),
                        })
                        .collect()
                })
                .collect();
            out.push((t, cols, rows));
        }
        c.disconnect().await.ok();
        out
    })
}

#[test]
fn plain_dump_of_a_network_keeps_binary_cells_and_replaces_text() {
    let php_ok = Command::new("php")
        .arg("-v")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(php_ok, "php is needed for the expectation; install php-cli");
    let src = TestDb::new("stream_src");
    seed_network(&src, &small_network());
    let dst = TestDb::new("stream_dst");
    let dir = tempfile::tempdir().expect("tempdir");
    let (dump, streamed) = (dir.path().join("in.sql"), dir.path().join("out.sql"));

    dump_to(&[&src.name], &dump);
    let text = std::fs::read(&dump).expect("reading the dump");
    assert!(
        !text.windows(8).any(|w| w == b"_binary ")
            && text.windows(12).any(|w| w == b"CREATE TABLE"),
        "a plain mariadb-dump writes BLOBs as plain quoted strings"
    );
    let stderr = search_replace(&dump, &streamed);
    assert!(
        !stderr.contains(wfuwp_replace::NO_TABLE_DEFINITIONS),
        "{stderr}"
    );
    load(&streamed, Some(&dst));

    let before = cells(&src);
    let after = cells(&dst);
    assert_eq!(
        before.iter().map(|t| &t.0).collect::<Vec<_>>(),
        after.iter().map(|t| &t.0).collect::<Vec<_>>(),
        "same tables"
    );
    let mut text_values = Vec::new();
    let (mut kept, mut blob_with_token) = (0usize, 0usize);
    let froms: Vec<Vec<u8>> = pairs().into_iter().map(|(f, _)| f.into_bytes()).collect();
    for ((table, cols, rows), (_, cols_after, rows_after)) in before.iter().zip(&after) {
        assert_eq!(cols, cols_after, "{table}: same columns");
        assert_eq!(rows.len(), rows_after.len(), "{table}: same row count");
        for (r, (row, row_after)) in rows.iter().zip(rows_after).enumerate() {
            for (((name, textual), old), new) in cols.iter().zip(row).zip(row_after) {
                let at = format!("{table}.{name}[{r}]");
                match (old, new) {
                    (Some(old), Some(new)) if *textual => {
                        text_values.push(oracle::Pending {
                            place: at,
                            source: old.clone(),
                            target: new.clone(),
                        });
                    }
                    _ => {
                        assert!(old == new, "{at}: a non-text cell changed");
                        kept += 1;
                        if old.as_ref().is_some_and(|v| {
                            froms
                                .iter()
                                .any(|f| v.windows(f.len()).any(|w| w == f.as_slice()))
                        }) {
                            blob_with_token += 1;
                        }
                    }
                }
            }
        }
    }
    assert!(
        kept > 0 && blob_with_token > 0,
        "the network has non-text cells holding tokens ({kept}, {blob_with_token})"
    );

    // The expectation for text cells is PHP's (tests/oracle), never the engine's.
    let judged = oracle::judge(&pairs(), &text_values);
    assert!(
        judged.problems.is_empty(),
        "{} text values differ from PHP's expectation:\n{}",
        judged.problems.len(),
        judged
            .problems
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    // Make sure the check had something to bite on.
    let changed = text_values.iter().filter(|v| v.source != v.target).count();
    let report = format!(
        "checked {}, changed {changed}, serialized {}",
        text_values.len(),
        judged.serialized
    );
    eprintln!("{report}");
    assert!(changed > 50, "{report}");
    assert!(judged.serialized > 0, "{report}");
}

#[test]
fn no_create_info_dump_says_so_once_and_still_replaces() {
    let src = TestDb::new("stream_nci");
    seed_network(&src, &small_network());
    let dir = tempfile::tempdir().expect("tempdir");
    let (dump, streamed) = (dir.path().join("in.sql"), dir.path().join("out.sql"));
    dump_to(&["--no-create-info", &src.name], &dump);
    let stderr = search_replace(&dump, &streamed);
    assert_eq!(
        stderr.matches(wfuwp_replace::NO_TABLE_DEFINITIONS).count(),
        1,
        "{stderr}"
    );
    let input = std::fs::read(&dump).expect("reading the dump");
    let input = String::from_utf8_lossy(&input);
    let output = std::fs::read(&streamed).expect("reading the output");
    let output = String::from_utf8_lossy(&output);
    assert!(input.matches("www.wfu.edu").count() > 10);
    // Replaced in every literal, except inside serialized array keys, which
    // are never rewritten (the generator's URL-keyed `wfu_link_map`).
    let in_keys = output.matches("www.wfu.edu/admissions/\\\";a:").count()
        + output.matches("www.wfu.edu/news/\\\";s:").count();
    assert!(in_keys > 0, "the dump has no URL-keyed serialized option");
    assert_eq!(
        output.matches("www.wfu.edu").count(),
        in_keys,
        "replaced in every literal but array keys"
    );
    assert!(output.matches("uat.wfu.edu").count() >= input.matches("www.wfu.edu").count());
}

#[test]
fn same_table_name_in_two_databases_of_one_dump() {
    let (a, b) = (TestDb::new("stream_a"), TestDb::new("stream_b"));
    let dir = tempfile::tempdir().expect("tempdir");
    let (dump, streamed) = (dir.path().join("in.sql"), dir.path().join("out.sql"));
    let dbs = [a.name.as_str(), b.name.as_str()];
    // One `--databases a b` dump, and the same as a schema dump followed by a
    // data dump (both definitions come before either table's rows).
    for split in [false, true] {
        for (db, ty) in [(&a, "blob, w varchar(64)"), (&b, "text, w varbinary(64)")] {
            db.exec(&format!(
                "DROP TABLE IF EXISTS t; CREATE TABLE t (id int PRIMARY KEY, v {ty}); \
                 INSERT INTO t VALUES (1, 'https://www.wfu.edu/x', 'a.wfu.edu'), (2, 'x\\0www.wfu.edu', NULL)"
            ));
        }
        if split {
            let data = dir.path().join("data.sql");
            dump_to(&[&["--no-data", "--databases"], &dbs[..]].concat(), &dump);
            dump_to(
                &[&["--no-create-info", "--databases"], &dbs[..]].concat(),
                &data,
            );
            let mut all = std::fs::read(&dump).expect("reading the schema");
            all.extend(std::fs::read(&data).expect("reading the data"));
            std::fs::write(&dump, all).expect("writing the dump");
        } else {
            dump_to(&[&["--databases"], &dbs[..]].concat(), &dump);
        }
        let stderr = search_replace(&dump, &streamed);
        assert!(
            !stderr.contains(wfuwp_replace::NO_TABLE_DEFINITIONS),
            "{stderr}"
        );
        // The dump re-creates both databases under their names.
        load(&streamed, None);
        let rows = |db: &TestDb| {
            db.query::<(u32, Option<Vec<u8>>, Option<Vec<u8>>)>(
                "SELECT id, v, w FROM t ORDER BY id",
            )
        };
        let s = |v: &str| Some(v.as_bytes().to_vec());
        assert_eq!(
            rows(&a),
            [
                (1, s("https://www.wfu.edu/x"), s("a.uat.wfu.edu")),
                (2, s("x\0www.wfu.edu"), None)
            ],
            "split dump: {split}"
        );
        assert_eq!(
            rows(&b),
            [
                (1, s("https://uat.wfu.edu/x"), s("a.wfu.edu")),
                (2, s("x\0uat.wfu.edu"), None)
            ],
            "split dump: {split}"
        );
    }
}

/// Runs `wfuwp search-replace` with the prod → uat pairs on `input`, writing
/// `output`; returns the exit code and stderr, whatever they are.
fn search_replace_status(input: &Path, output: &Path) -> (Option<i32>, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wfuwp"));
    cmd.arg("search-replace");
    for (from, to) in pairs() {
        cmd.arg(from).arg(to);
    }
    let o = cmd
        .stdin(File::open(input).expect("opening the dump"))
        .stdout(File::create(output).expect("creating the output"))
        .stderr(Stdio::piped())
        .output()
        .expect("running wfuwp search-replace");
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The dump's own session setting turns strict mode off while it loads
/// (`SQL_MODE='NO_AUTO_VALUE_ON_ZERO'`, once per dumped file), where an ENUM
/// value that is not a member would be stored as '' with a warning; put
/// strict mode back so that such a value fails the load instead.
fn strict(file: &Path) {
    let text = std::fs::read(file).expect("reading the streamed dump");
    let (from, to) = (
        &b"SQL_MODE='NO_AUTO_VALUE_ON_ZERO'"[..],
        &b"SQL_MODE='STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO'"[..],
    );
    let mut out = Vec::with_capacity(text.len() + 64);
    let mut rest = &text[..];
    while let Some(at) = rest.windows(from.len()).position(|w| w == from) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(to);
        rest = &rest[at + from.len()..];
    }
    assert!(!out.is_empty(), "the dump sets its SQL_MODE");
    out.extend_from_slice(rest);
    std::fs::write(file, out).expect("writing the streamed dump");
}

/// ENUM and SET columns (issue 22): in every dump style the stream leaves
/// their members in `CREATE TABLE` and their values in the rows as they
/// are (env-migrate does not replace in them either), while the varchar
/// beside them is replaced; the result loads into a strict server with the
/// source's definition, byte for byte.
#[test]
fn enum_and_set_columns_keep_members_and_values_in_every_dump_style() {
    let (a, b) = (TestDb::new("stream_enum_a"), TestDb::new("stream_enum_b"));
    for db in [&a, &b] {
        db.exec(
            "CREATE TABLE t (id int PRIMARY KEY, \
             e enum('www.wfu.edu','o') NOT NULL DEFAULT 'www.wfu.edu', \
             s set('www.wfu.edu','o') DEFAULT NULL, \
             v varchar(64) DEFAULT 'https://www.wfu.edu/' COMMENT 'see www.wfu.edu') \
             COMMENT='www.wfu.edu'; \
             INSERT INTO t VALUES (1,'www.wfu.edu','www.wfu.edu,o','https://www.wfu.edu/x'), \
             (2,'o','o','www.wfu.edu')",
        );
    }
    let definition = |db: &TestDb| -> String {
        let rows: Vec<(String, String)> = db.query("SHOW CREATE TABLE t");
        rows.into_iter().next().expect("SHOW CREATE TABLE").1
    };
    let source_definition = definition(&a);
    assert!(source_definition.contains("enum('www.wfu.edu','o')"));
    let s = |v: &str| v.to_string();
    let expected = vec![
        (
            1u32,
            s("www.wfu.edu"),
            s("www.wfu.edu,o"),
            s("https://uat.wfu.edu/x"),
        ),
        (2, s("o"), s("o"), s("uat.wfu.edu")),
    ];
    let rows = |db: &TestDb| -> Vec<(u32, String, String, String)> {
        db.query("SELECT id, e, s, v FROM t ORDER BY id")
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let (dump, streamed) = (dir.path().join("in.sql"), dir.path().join("out.sql"));

    for style in [
        &[][..],
        &["--hex-blob"],
        &["--skip-extended-insert"],
        &["--complete-insert"],
    ] {
        dump_to(&[style, &[a.name.as_str()]].concat(), &dump);
        let stderr = search_replace(&dump, &streamed);
        assert!(
            !stderr.contains(wfuwp_replace::NO_TABLE_DEFINITIONS),
            "{style:?}: {stderr}"
        );
        strict(&streamed);
        let dst = TestDb::new("stream_enum_dst");
        load(&streamed, Some(&dst));
        assert_eq!(definition(&dst), source_definition, "{style:?}");
        assert_eq!(rows(&dst), expected, "{style:?}");
    }

    // Several databases in one dump, each after its `USE`: loading it
    // re-creates both under their names.
    dump_to(&["--databases", &a.name, &b.name], &dump);
    search_replace(&dump, &streamed);
    strict(&streamed);
    load(&streamed, None);
    for db in [&a, &b] {
        assert_eq!(definition(db), source_definition, "{}", db.name);
        assert_eq!(rows(db), expected, "{}", db.name);
    }
}

/// Without table definitions (`--no-create-info`) the stream cannot know
/// which columns are ENUMs: it says so once, and replaces in every literal
/// (docs/replace.md). With the definitions streamed first (a `--no-data`
/// dump, then the data) the values are kept again.
#[test]
fn enum_values_without_table_definitions_are_replaced_and_said_so() {
    let src = TestDb::new("stream_enum_nci");
    src.exec(
        "CREATE TABLE t (id int PRIMARY KEY, e enum('www.wfu.edu','o') NOT NULL, v varchar(64)); \
         INSERT INTO t VALUES (1,'www.wfu.edu','www.wfu.edu')",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let (data, schema, both, streamed) = (
        dir.path().join("data.sql"),
        dir.path().join("schema.sql"),
        dir.path().join("both.sql"),
        dir.path().join("out.sql"),
    );
    dump_to(
        &["--no-create-info", "--skip-extended-insert", &src.name],
        &data,
    );
    let stderr = search_replace(&data, &streamed);
    assert_eq!(
        stderr.matches(wfuwp_replace::NO_TABLE_DEFINITIONS).count(),
        1,
        "{stderr}"
    );
    let out = std::fs::read_to_string(&streamed).expect("reading the output");
    assert!(
        out.contains("VALUES (1,'uat.wfu.edu','uat.wfu.edu');"),
        "{out}"
    );

    dump_to(&["--no-data", &src.name], &schema);
    let mut all = std::fs::read(&schema).expect("reading the schema");
    all.extend(std::fs::read(&data).expect("reading the data"));
    std::fs::write(&both, all).expect("writing the dump");
    let stderr = search_replace(&both, &streamed);
    assert!(
        !stderr.contains(wfuwp_replace::NO_TABLE_DEFINITIONS),
        "{stderr}"
    );
    strict(&streamed);
    let dst = TestDb::new("stream_enum_nci_dst");
    load(&streamed, Some(&dst));
    let rows: Vec<(u32, String, String)> = dst.query("SELECT id, e, v FROM t");
    assert_eq!(
        rows,
        [(1, "www.wfu.edu".to_string(), "uat.wfu.edu".to_string())]
    );
}

/// A dump cut short (issue 22): the stream copies what it got, says on
/// stderr that the input looks truncated, and exits non-zero, whether the
/// cut is inside a value or between two statements.
#[test]
fn a_truncated_dump_is_reported_with_a_non_zero_exit() {
    let src = TestDb::new("stream_cut");
    src.exec(
        "CREATE TABLE t (id int PRIMARY KEY, v varchar(64)); \
         INSERT INTO t VALUES (1,'https://www.wfu.edu/a'), (2,'www.wfu.edu')",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let (dump, cut, streamed) = (
        dir.path().join("in.sql"),
        dir.path().join("cut.sql"),
        dir.path().join("out.sql"),
    );
    dump_to(&[&src.name], &dump);
    let text = std::fs::read_to_string(&dump).expect("reading the dump");
    let (code, stderr) = search_replace_status(&dump, &streamed);
    assert_eq!(code, Some(0), "the whole dump: {stderr}");
    assert!(!stderr.contains("truncated"), "{stderr}");

    let in_value = text.find("www.wfu.edu/a").expect("the row") + 5;
    let between = text.find("UNLOCK TABLES;").expect("UNLOCK TABLES") + "UNLOCK TABLES;\n".len();
    for (at, why) in [
        (in_value, "inside a string literal"),
        (between, "Dump completed"),
    ] {
        std::fs::write(&cut, &text[..at]).expect("writing the cut dump");
        let (code, stderr) = search_replace_status(&cut, &streamed);
        assert_eq!(code, Some(1), "cut at {at}: {stderr}");
        assert!(
            stderr.contains("truncated") && stderr.contains(why),
            "cut at {at}: {stderr}"
        );
        let out = std::fs::read_to_string(&streamed).expect("reading the output");
        assert!(out.len() >= at, "everything read was written");
    }
}
