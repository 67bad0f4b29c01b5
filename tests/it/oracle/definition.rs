//! What a table is, beyond its rows, as `information_schema` describes it:
//! every column (type, charset, collation, default, nullability, extra,
//! comment, generation), every index (column by column: uniqueness, prefix
//! length, type, order), every CHECK constraint, and the table's engine,
//! row format, collation, create options and comment; `AUTO_INCREMENT`
//! apart, since some comparisons leave it out (docs/testing.md).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::raw_rows;
use crate::support::TestDb;

/// One table's definition; each part is a list of readable lines, so that a
/// difference can be shown as it is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Definition {
    /// One line per column, in order.
    pub columns: Vec<String>,
    /// One line per index column, by index name and position.
    pub indexes: Vec<String>,
    /// One line per CHECK constraint (MariaDB's JSON columns have one).
    pub checks: Vec<String>,
    /// Engine, row format, collation, create options, comment.
    pub options: String,
    /// The next `AUTO_INCREMENT` value, if the table has one.
    pub auto_increment: Option<String>,
}

impl Definition {
    /// What differs from `other` (empty when equal); `AUTO_INCREMENT` only
    /// when `with_auto_increment`.
    pub fn differences(&self, other: &Definition, with_auto_increment: bool) -> Vec<String> {
        let mut out = Vec::new();
        lines_differ("column", &self.columns, &other.columns, &mut out);
        lines_differ("index", &self.indexes, &other.indexes, &mut out);
        lines_differ("check", &self.checks, &other.checks, &mut out);
        if self.options != other.options {
            out.push(format!(
                "table options: expected {}, found {}",
                self.options, other.options
            ));
        }
        if with_auto_increment && self.auto_increment != other.auto_increment {
            out.push(format!(
                "AUTO_INCREMENT: expected {:?}, found {:?}",
                self.auto_increment, other.auto_increment
            ));
        }
        out
    }
}

fn lines_differ(what: &str, expected: &[String], found: &[String], out: &mut Vec<String>) {
    let before = out.len();
    for e in expected.iter().filter(|e| !found.contains(e)) {
        out.push(format!("{what} missing or changed: {e}"));
    }
    for f in found.iter().filter(|f| !expected.contains(f)) {
        out.push(format!("{what} not expected: {f}"));
    }
    if out.len() == before && expected != found {
        out.push(format!(
            "{what}s in another order: {expected:?} vs {found:?}"
        ));
    }
}

/// The definition of every table of `db` ([`TestDb::tables`]), by name.
/// Three queries per part for the whole database, not one per table.
pub fn definitions(db: &TestDb) -> BTreeMap<String, Definition> {
    let schema = db.name.replace('\'', "''");
    let mut out: BTreeMap<String, Definition> = db
        .tables()
        .into_iter()
        .map(|t| (t, Definition::default()))
        .collect();
    let rows = |sql: &str| raw_rows(db, &sql.replace("{schema}", &schema));
    for row in rows(
        "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, CHARACTER_SET_NAME, COLLATION_NAME, \
         IS_NULLABLE, COLUMN_DEFAULT, EXTRA, COLUMN_COMMENT, GENERATION_EXPRESSION \
         FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '{schema}' \
         ORDER BY TABLE_NAME, ORDINAL_POSITION",
    ) {
        if let Some(d) = out.get_mut(&cell(&row[0])) {
            d.columns.push(line(
                &[
                    "",
                    "type",
                    "charset",
                    "collation",
                    "null",
                    "default",
                    "extra",
                    "comment",
                    "generated",
                ],
                &row[1..],
            ));
        }
    }
    for row in rows(
        "SELECT TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX, NON_UNIQUE, COLUMN_NAME, SUB_PART, \
         INDEX_TYPE, COLLATION, NULLABLE, INDEX_COMMENT \
         FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = '{schema}' \
         ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX",
    ) {
        if let Some(d) = out.get_mut(&cell(&row[0])) {
            d.indexes.push(line(
                &[
                    "",
                    "#",
                    "non-unique",
                    "column",
                    "prefix",
                    "type",
                    "order",
                    "null",
                    "comment",
                ],
                &row[1..],
            ));
        }
    }
    for row in rows(
        "SELECT TABLE_NAME, CONSTRAINT_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS \
         WHERE CONSTRAINT_SCHEMA = '{schema}' ORDER BY TABLE_NAME, CONSTRAINT_NAME",
    ) {
        if let Some(d) = out.get_mut(&cell(&row[0])) {
            d.checks.push(line(&["", "check"], &row[1..]));
        }
    }
    for row in rows(
        "SELECT TABLE_NAME, TABLE_TYPE, ENGINE, ROW_FORMAT, TABLE_COLLATION, CREATE_OPTIONS, \
         TABLE_COMMENT, AUTO_INCREMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{schema}'",
    ) {
        if let Some(d) = out.get_mut(&cell(&row[0])) {
            d.options = line(
                &["", "engine", "row format", "collation", "options", "comment"],
                &row[1..7],
            );
            d.auto_increment = row[7].as_deref().map(|b| String::from_utf8_lossy(b).into_owned());
        }
    }
    out
}

fn cell(v: &Option<Vec<u8>>) -> String {
    v.as_deref()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default()
}

/// `first label=value label=value …`, NULL written as such.
fn line(labels: &[&str], values: &[Option<Vec<u8>>]) -> String {
    let mut s = String::new();
    for (label, v) in labels.iter().zip(values) {
        let v = v
            .as_deref()
            .map(|b| format!("{:?}", String::from_utf8_lossy(b)))
            .unwrap_or_else(|| "NULL".into());
        if label.is_empty() {
            s.push_str(&v);
        } else {
            let _ = write!(s, " {label}={v}");
        }
    }
    s
}
