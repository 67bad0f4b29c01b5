//! An end-to-end oracle that owes nothing to the engine: after a migration,
//! every cell of every migrated table on the target is checked against the
//! source by PHP's own `unserialize`/`serialize` and `strtr` over replacement
//! pairs the test writes by hand (`check.php`).
//!
//! Which columns are textual is decided here from `information_schema`
//! (CHAR, VARCHAR, the TEXT family, JSON), not taken from the engine's
//! discovery. Every other column (binary, BLOB, ENUM, SET, numbers, dates,
//! BIT) must arrive byte for byte. NULL stays NULL. Values are read as raw
//! bytes (`character_set_results = binary`) on both sides.
//!
//! [`assert_target`] (`target.rs`) judges a whole target database after a
//! migration: the cells of what was migrated, the tables' definitions, and
//! every table the migration must not have touched, byte for byte against
//! a [`Snapshot`] the test took before the run.
//!
//! Use with `mod support; mod oracle;`. Needs `php` (CI installs `php-cli`):
//! without it the oracle fails, it never passes silently.

#![allow(dead_code)]

mod definition;
mod target;
mod users;

use definition::definitions;
pub use target::{assert_target, snapshot, Migration, Snapshot, Users};

use std::fmt::Write as _;
use std::process::Command;

use mysql_async::prelude::Queryable;
use mysql_async::{Row, Value};

use crate::support::{block_on, q, TestDb};

const CHECK_PHP: &str = include_str!("check.php");

/// Network tables a migration without `--include-users` does not copy.
pub const NOT_MIGRATED: &[&str] = &[
    "users",
    "usermeta",
    "signups",
    "registration_log",
    "blog_versions",
];

/// The prod → uat pairs, written out by hand (not derived by the engine),
/// each extra pair whose FROM holds a `/` also in its JSON-escaped form
/// (`/` written `\/` on both sides), unless that form is given too. A FROM
/// without `/` reads the same in JSON and in plain text, so its TO is
/// written as given in both (docs/replace.md).
pub fn prod_to_uat(extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = vec![
        ("www.wfu.edu".into(), "uat.wfu.edu".into()),
        (".wfu.edu".into(), ".uat.wfu.edu".into()),
        (
            "prod.wp.cdn.aws.wfu.edu".into(),
            "uat.wp.cdn.aws.wfu.edu".into(),
        ),
        ("wordpress-prod-us".into(), "wordpress-uat-us".into()),
    ];
    for (f, t) in extra {
        pairs.push((f.to_string(), t.to_string()));
    }
    for (f, t) in extra {
        let escaped = f.replace('/', "\\/");
        if f.contains('/') && !pairs.iter().any(|(from, _)| *from == escaped) {
            pairs.push((escaped, t.replace('/', "\\/")));
        }
    }
    pairs
}

/// One table (or part of one) to check.
#[derive(Debug, Clone)]
pub struct Check {
    /// Table name (the same on both sides).
    pub table: String,
    /// `WHERE` condition selecting the migrated rows, if not all.
    pub filter: Option<String>,
    /// `ORDER BY` that pairs source and target rows (default: primary key).
    pub order: Option<String>,
    /// Columns not compared (ids the target assigns itself).
    pub skip: Vec<String>,
}

impl Check {
    /// The whole table, rows paired by primary key.
    pub fn table(name: &str) -> Check {
        Check {
            table: name.to_string(),
            filter: None,
            order: None,
            skip: Vec::new(),
        }
    }
}

/// The checks for a full migration of `source` with prefix `wp_`: every table
/// but the network tables that are not migrated.
pub fn full_migration(source: &TestDb) -> Vec<Check> {
    source
        .tables()
        .into_iter()
        .filter(|t| !NOT_MIGRATED.iter().any(|n| *t == format!("wp_{n}")))
        .map(|t| Check::table(&t))
        .collect()
}

struct Columns {
    names: Vec<String>,
    textual: Vec<bool>,
    key: Vec<String>,
}

fn columns(db: &TestDb, table: &str) -> Columns {
    let rows: Vec<(String, String)> = db.query(&format!(
        "SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS \
         WHERE TABLE_SCHEMA = '{}' AND TABLE_NAME = '{table}' ORDER BY ORDINAL_POSITION",
        db.name
    ));
    let key: Vec<String> = db.query(&format!(
        "SELECT COLUMN_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = '{}' \
         AND TABLE_NAME = '{table}' AND INDEX_NAME = 'PRIMARY' ORDER BY SEQ_IN_INDEX",
        db.name
    ));
    Columns {
        textual: rows
            .iter()
            .map(|(_, t)| {
                matches!(
                    t.as_str(),
                    "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" | "json"
                )
            })
            .collect(),
        names: rows.into_iter().map(|(n, _)| n).collect(),
        key,
    }
}

/// One row as raw bytes (`None` for NULL).
pub(crate) type RawRow = Vec<Option<Vec<u8>>>;

/// The rows of `sql` on `db`, every cell as the bytes stored
/// (`character_set_results = binary`).
pub(crate) fn raw_rows(db: &TestDb, sql: &str) -> Vec<RawRow> {
    let sql = sql.to_string();
    block_on(async {
        let mut c = db.connect().await;
        c.query_drop("SET SESSION character_set_results = binary")
            .await
            .expect("binary results");
        let rows: Vec<Row> = c
            .query(sql.as_str())
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        c.disconnect().await.ok();
        rows.into_iter()
            .map(|r| {
                r.unwrap()
                    .into_iter()
                    .map(|v| match v {
                        Value::NULL => None,
                        Value::Bytes(b) => Some(b),
                        other => Some(other.as_sql(true).into_bytes()),
                    })
                    .collect()
            })
            .collect()
    })
}

/// A text value the PHP judge must look at.
pub struct Pending {
    /// Where it is (`table.column (row n)`), for messages.
    pub place: String,
    /// The source's value.
    pub source: Vec<u8>,
    /// What the target holds.
    pub target: Vec<u8>,
}

/// What the PHP judge said.
pub struct Judgement {
    /// One message per wrong value.
    pub problems: Vec<String>,
    /// How many source values PHP could unserialize.
    pub serialized: usize,
}

/// Checks every cell of `checks` on `target` against `source` and `pairs`,
/// and the definition of every table checked whole (no filter) against the
/// source's; panics with the first differences. Returns how many textual
/// values PHP judged. (For a judgement of the whole target, tables the run
/// must not touch included, see [`assert_target`].)
pub fn assert_migrated(
    source: &TestDb,
    target: &TestDb,
    pairs: &[(String, String)],
    checks: &[Check],
) -> usize {
    let mut problems = Vec::new();
    let mut pending = Vec::new();
    let (source_defs, target_defs) = (definitions(source), definitions(target));
    for check in checks {
        compare_table(source, target, check, &mut problems, &mut pending);
        if check.filter.is_some() {
            continue;
        }
        match (source_defs.get(&check.table), target_defs.get(&check.table)) {
            (Some(want), Some(got)) => problems.extend(
                want.differences(got, true)
                    .into_iter()
                    .map(|d| format!("{}: definition differs from the source's: {d}", check.table)),
            ),
            _ => problems.push(format!("{}: missing on one side", check.table)),
        }
    }
    let judged = pending.len();
    problems.extend(judge(pairs, &pending).problems);
    assert!(
        problems.is_empty(),
        "the oracle found {} wrong values (first 12):\n{}",
        problems.len(),
        problems
            .iter()
            .take(12)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    judged
}

fn compare_table(
    source: &TestDb,
    target: &TestDb,
    check: &Check,
    problems: &mut Vec<String>,
    pending: &mut Vec<Pending>,
) {
    let cols = columns(source, &check.table);
    let kept: Vec<usize> = (0..cols.names.len())
        .filter(|&i| !check.skip.contains(&cols.names[i]))
        .collect();
    let order = check.order.clone().unwrap_or_else(|| {
        let key = if cols.key.is_empty() {
            &cols.names
        } else {
            &cols.key
        };
        key.iter().map(|k| q(k)).collect::<Vec<_>>().join(", ")
    });
    let sql = format!(
        "SELECT {} FROM {} {} ORDER BY {order}",
        kept.iter()
            .map(|&i| q(&cols.names[i]))
            .collect::<Vec<_>>()
            .join(", "),
        q(&check.table),
        check
            .filter
            .as_ref()
            .map(|f| format!("WHERE {f}"))
            .unwrap_or_default()
    );
    let layout = Layout {
        table: check.table.clone(),
        names: kept.iter().map(|&i| cols.names[i].clone()).collect(),
        textual: kept.iter().map(|&i| cols.textual[i]).collect(),
    };
    let (src, dst) = (raw_rows(source, &sql), raw_rows(target, &sql));
    compare_rows(&layout, &src, &dst, problems, pending);
}

/// The columns of rows being compared, in their order.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub table: String,
    pub names: Vec<String>,
    pub textual: Vec<bool>,
}

impl Layout {
    /// Every column of `table` in `db`, textual ones as information_schema says.
    pub fn of(db: &TestDb, table: &str) -> Layout {
        let cols = columns(db, table);
        Layout {
            table: table.to_string(),
            names: cols.names,
            textual: cols.textual,
        }
    }

    /// Position of column `name`.
    pub fn at(&self, name: &str) -> usize {
        self.names
            .iter()
            .position(|n| n == name)
            .unwrap_or_else(|| panic!("{} has no column {name}", self.table))
    }
}

/// Pairs source and target rows in order: non-text cells must be equal
/// byte for byte, text cells go to the PHP judge.
pub(crate) fn compare_rows(
    layout: &Layout,
    src: &[RawRow],
    dst: &[RawRow],
    problems: &mut Vec<String>,
    pending: &mut Vec<Pending>,
) {
    if src.len() != dst.len() {
        problems.push(format!(
            "{}: {} source rows, {} target rows",
            layout.table,
            src.len(),
            dst.len()
        ));
        return;
    }
    for (r, (s_row, d_row)) in src.iter().zip(dst).enumerate() {
        for (i, name) in layout.names.iter().enumerate() {
            let place = format!("{}.{name} (row {r})", layout.table);
            match (&s_row[i], &d_row[i]) {
                (None, None) => {}
                (Some(s), Some(d)) if layout.textual[i] => pending.push(Pending {
                    place,
                    source: s.clone(),
                    target: d.clone(),
                }),
                (Some(s), Some(d)) if s == d => {}
                (s, d) => problems.push(format!(
                    "{place}: not byte for byte: source {:?}, target {:?}",
                    s.as_deref().map(String::from_utf8_lossy),
                    d.as_deref().map(String::from_utf8_lossy)
                )),
            }
        }
    }
}

fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        let _ = write!(s, "{x:02x}");
    }
    s
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .filter_map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok())
        .collect()
}

/// Runs the PHP judge over every pending value.
pub fn judge(pairs: &[(String, String)], pending: &[Pending]) -> Judgement {
    let dir = tempfile::tempdir().expect("temp dir");
    let (script, pairs_file, values) = (
        dir.path().join("check.php"),
        dir.path().join("pairs"),
        dir.path().join("values"),
    );
    std::fs::write(&script, CHECK_PHP).expect("writing check.php");
    let pair_lines: String = pairs
        .iter()
        .map(|(f, t)| format!("{} {}\n", hex(f.as_bytes()), hex(t.as_bytes())))
        .collect();
    std::fs::write(&pairs_file, pair_lines).expect("writing pairs");
    let mut lines = String::new();
    for p in pending {
        let _ = writeln!(lines, "{} {}", hex(&p.source), hex(&p.target));
    }
    std::fs::write(&values, lines).expect("writing values");
    let out = Command::new("php")
        .arg(&script)
        .arg(&pairs_file)
        .arg(&values)
        .output()
        .unwrap_or_else(|e| {
            panic!("the oracle needs PHP (`php` on PATH; CI installs php-cli): {e}")
        });
    let text = String::from_utf8_lossy(&out.stdout);
    let serialized = text
        .lines()
        .last()
        .and_then(|l| l.strip_prefix(&format!("OK {} ", pending.len())))
        .and_then(|n| n.parse().ok());
    let Some(serialized) = serialized.filter(|_| out.status.success()) else {
        panic!(
            "the PHP judge did not finish:\n{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    };
    let odd = text
        .lines()
        .filter_map(|l| l.strip_prefix("ODD "))
        .map(|i| {
            let p = &pending[i.parse::<usize>().expect("index")];
            format!(
                "{}: the source is not what PHP's serialize() writes for its own value, so it \
             cannot be judged byte for byte:\n    source:   {:.300}",
                p.place,
                String::from_utf8_lossy(&p.source)
            )
        });
    let problems = text
        .lines()
        .filter_map(|l| l.strip_prefix("BAD "))
        .map(|l| {
            let (i, want) = l.split_once(' ').unwrap_or((l, ""));
            let p = &pending[i.parse::<usize>().expect("index")];
            format!(
                "{}:\n    source:   {:.300}\n    target:   {:.300}\n    expected: {:.300}",
                p.place,
                String::from_utf8_lossy(&p.source),
                String::from_utf8_lossy(&p.target),
                String::from_utf8_lossy(&unhex(want))
            )
        })
        .chain(odd)
        .collect();
    Judgement {
        problems,
        serialized,
    }
}
