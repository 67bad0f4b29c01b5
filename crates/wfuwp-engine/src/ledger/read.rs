//! Reading the ledger: the table checked for being one, every row for
//! making sense, before anything is decided on them.

use chrono::NaiveDateTime;
use mysql_async::prelude::*;
use mysql_async::{Conn, Row, Value};

use super::{
    kind, Ledger, LedgerError, MigrationEntry, RowState, TableAction, TableEntry, COLUMNS, COMMENT,
    NETWORK, TABLE,
};
use crate::sites::SiteId;
use crate::state::MigrationStatus;

/// Whether the ledger exists in the connection's database; refuses a table
/// of that name that is not a ledger.
pub async fn exists(conn: &mut Conn, database: &str) -> Result<bool, LedgerError> {
    let server = |source| LedgerError::Server {
        database: database.to_string(),
        source,
    };
    let table: Option<(Vec<u8>, Vec<u8>)> = conn
        .exec_first(
            "SELECT TABLE_TYPE, TABLE_COMMENT FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
            (TABLE,),
        )
        .await
        .map_err(server)?;
    let Some((kind, comment)) = table else {
        return Ok(false);
    };
    let foreign = |why: String| LedgerError::Foreign {
        database: database.to_string(),
        why,
    };
    if kind != b"BASE TABLE" {
        return Err(foreign(format!(
            "it is a {}, not a table",
            String::from_utf8_lossy(&kind).to_lowercase()
        )));
    }
    if comment != COMMENT.as_bytes() {
        return Err(foreign(format!(
            "its comment is '{}', not '{COMMENT}'",
            String::from_utf8_lossy(&comment)
        )));
    }
    let columns: Vec<(Vec<u8>, Vec<u8>)> = conn
        .exec(
            "SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
            (TABLE,),
        )
        .await
        .map_err(server)?;
    let have: Vec<(String, String)> = columns
        .iter()
        .map(|(n, t)| {
            (
                String::from_utf8_lossy(n).into_owned(),
                String::from_utf8_lossy(t).to_lowercase(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = COLUMNS
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect();
    if have != want {
        let show = |c: &[(String, String)]| {
            c.iter()
                .map(|(n, t)| format!("{n} {t}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Err(foreign(format!(
            "its columns are ({}), a ledger's are ({})",
            show(&have),
            show(&want)
        )));
    }
    Ok(true)
}
/// Reads and checks the ledger: every migration, with whether it made
/// something live; an empty ledger when the database has none.
pub async fn read(conn: &mut Conn, database: &str) -> Result<Ledger, LedgerError> {
    read_for(conn, database, None).await
}

/// [`read`], and the tables of migration `id` when given.
///
/// The rows of every table of every migration are not sent: a network of
/// thousands of sites refreshed nightly gathers millions. The server sums
/// them up per migration, and finds the first one that makes no sense.
pub async fn read_for(
    conn: &mut Conn,
    database: &str,
    id: Option<&str>,
) -> Result<Ledger, LedgerError> {
    if !exists(conn, database).await? {
        return Ok(Ledger::default());
    }
    let server = |source| LedgerError::Server {
        database: database.to_string(),
        source,
    };
    let mut rows: Vec<Row> = conn
        .exec(
            format!(
                "{SELECT_ROWS} WHERE kind NOT IN ('table', 'media', 'source_checksum', 'target_checksum') \
                 OR (kind IN ('table', 'media') AND migration_id = ?)"
            ),
            (id.unwrap_or(""),),
        )
        .await
        .map_err(server)?;
    let damaged: Option<Row> = conn
        .query_first(format!(
            "{SELECT_ROWS} WHERE kind IN ('table', 'media') AND (state NOT IN ('planned', 'live', 'rolled_back') \
             OR (kind = 'table' AND text_value NOT IN ('backup', 'created', 'replaced'))) LIMIT 1"
        ))
        .await
        .map_err(server)?;
    rows.extend(damaged);
    let summaries: Vec<(Vec<u8>, Option<i64>, Option<i64>)> = conn
        .query(
            "SELECT migration_id, MAX(state <> 'rolled_back'), MAX(kind = 'table' AND text_value = 'backup') \
             FROM `_wfuwp_ledger` WHERE kind IN ('table', 'media') GROUP BY migration_id",
        )
        .await
        .map_err(server)?;
    let damage = |(row, why)| LedgerError::Damaged {
        database: database.to_string(),
        row,
        why,
    };
    let mut raw = Vec::with_capacity(rows.len());
    for row in rows {
        raw.push(RawRow::of(row).map_err(damage)?);
    }
    let summaries = summaries
        .into_iter()
        .map(|(id, live, backups)| Summary {
            id: String::from_utf8_lossy(&id).into_owned(),
            made_live: live == Some(1),
            kept_backups: backups == Some(1),
        })
        .collect();
    parse(raw, summaries).map_err(damage)
}

/// The columns of a row, as text.
const SELECT_ROWS: &str = "SELECT migration_id, kind, CAST(site_id AS CHAR), table_name, state, text_value, \
     CAST(number_value AS CHAR), DATE_FORMAT(started_at, '%Y-%m-%d %H:%i:%s.%f') FROM `_wfuwp_ledger`";

/// What the server sums up of one migration's table and media rows.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Summary {
    id: String,
    made_live: bool,
    kept_backups: bool,
}

/// One row, as text.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RawRow {
    id: String,
    kind: String,
    site: String,
    table: String,
    state: String,
    text: String,
    number: Option<String>,
    started: String,
}

impl RawRow {
    fn of(row: Row) -> Result<RawRow, (String, String)> {
        let values = row.unwrap();
        let mut cells = Vec::with_capacity(values.len());
        for v in values {
            cells.push(match v {
                Value::NULL => None,
                Value::Bytes(b) => {
                    Some(String::from_utf8(b).map_err(|_| {
                        ("a row".to_string(), "a value is not UTF-8 text".to_string())
                    })?)
                }
                other => Some(other.as_sql(true).trim_matches('\'').to_string()),
            });
        }
        let [id, kind, site, table, state, text, number, started]: [Option<String>; 8] = cells
            .try_into()
            .map_err(|_| ("a row".to_string(), "wrong number of columns".to_string()))?;
        let key = format!(
            "({}, {}, {}, {})",
            id.as_deref().unwrap_or("NULL"),
            kind.as_deref().unwrap_or("NULL"),
            site.as_deref().unwrap_or("NULL"),
            table.as_deref().unwrap_or("NULL")
        );
        let need = |v: Option<String>, what: &str| {
            v.ok_or_else(|| (key.clone(), format!("{what} is NULL")))
        };
        Ok(RawRow {
            id: need(id, "migration_id")?,
            kind: need(kind, "kind")?,
            site: need(site, "site_id")?,
            table: need(table, "table_name")?,
            state: need(state, "state")?,
            text: need(text, "text_value")?,
            number,
            started: need(started, "started_at")?,
        })
    }

    fn key(&self) -> String {
        format!(
            "({}, {}, {}, {})",
            self.id, self.kind, self.site, self.table
        )
    }
}

/// Builds the ledger from its rows and the summaries of the migrations'
/// tables; the first row that makes no sense is returned with what is
/// wrong with it.
fn parse(rows: Vec<RawRow>, summaries: Vec<Summary>) -> Result<Ledger, (String, String)> {
    let mut ledger = Ledger::default();
    let mut attributes = Vec::new();
    for r in rows {
        let bad = |why: String| (r.key(), why);
        crate::state::id::validate(&r.id).map_err(|e| bad(e.why.to_string()))?;
        let site: SiteId = r
            .site
            .parse()
            .map_err(|_| bad(format!("site_id '{}' is not a number", r.site)))?;
        let started = NaiveDateTime::parse_from_str(&r.started, "%Y-%m-%d %H:%M:%S%.f")
            .map_err(|_| bad(format!("started_at '{}' is not a time", r.started)))?
            .and_utc();
        match r.kind.as_str() {
            kind::MIGRATION => {
                let status: MigrationStatus =
                    serde_json::from_value(serde_json::Value::String(r.state.clone()))
                        .map_err(|_| bad(format!("'{}' is not a migration status", r.state)))?;
                let keeps_backups = match r.number.as_deref() {
                    Some("1") => true,
                    Some("0") => false,
                    other => {
                        return Err(bad(format!(
                            "number_value {other:?} is not 0 or 1 (whether backups are kept)"
                        )))
                    }
                };
                if site != NETWORK || !r.table.is_empty() || r.text.is_empty() {
                    return Err(bad(
                        "a migration row has site 0, no table and its source".into()
                    ));
                }
                ledger.migrations.insert(
                    r.id.clone(),
                    MigrationEntry {
                        id: r.id.clone(),
                        status,
                        source: r.text.clone(),
                        keeps_backups,
                        rules: None,
                        bucket: None,
                        superseded_by: None,
                        started_at: started,
                        made_live: false,
                        kept_backups: false,
                    },
                );
            }
            kind::RULES | kind::BUCKET | kind::SUPERSEDED => attributes.push(r),
            kind::TABLE | kind::MEDIA => {
                let state = RowState::parse(&r.state)
                    .ok_or_else(|| bad(format!("'{}' is not a table state", r.state)))?;
                let action = match r.kind.as_str() {
                    kind::TABLE => {
                        if !crate::names::is_table_identifier(&r.table) {
                            return Err(bad(format!("'{}' is not a table name", r.table)));
                        }
                        Some(TableAction::parse(&r.text).ok_or_else(|| {
                            bad(format!("'{}' is not what a swap does to a table", r.text))
                        })?)
                    }
                    _ => None,
                };
                ledger.tables.insert(
                    (r.id.clone(), site, r.table.clone()),
                    TableEntry { action, state },
                );
            }
            // A later wfuwp's rows (checksums, …) are not this one's to judge.
            _ => {}
        }
    }
    for r in attributes {
        let Some(m) = ledger.migrations.get_mut(&r.id) else {
            return Err((r.key(), "no migration row for this migration".into()));
        };
        match r.kind.as_str() {
            kind::RULES => m.rules = Some(r.text),
            kind::BUCKET => m.bucket = Some(r.text),
            _ => m.superseded_by = Some(r.text),
        }
    }
    for s in summaries {
        let Some(m) = ledger.migrations.get_mut(&s.id) else {
            return Err((
                format!("({}, table, …)", s.id),
                "tables of a migration without its migration row".into(),
            ));
        };
        m.made_live = s.made_live;
        m.kept_backups = s.kept_backups;
    }
    Ok(ledger)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    /// A change to one row, and a word of the complaint it must cause.
    type Damage = (usize, fn(&mut RawRow), &'static str);

    const A: &str = "env-migrate-2025-08-17T12-34-56-aaaaaa";
    const B: &str = "env-migrate-2025-08-18T12-34-56-bbbbbb";

    fn row(id: &str, kind: &str, site: &str, table: &str, state: &str, text: &str) -> RawRow {
        RawRow {
            id: id.into(),
            kind: kind.into(),
            site: site.into(),
            table: table.into(),
            state: state.into(),
            text: text.into(),
            number: (kind == "migration").then(|| "1".into()),
            started: if id == A {
                "2025-08-17 12:34:56.000001".into()
            } else {
                "2025-08-18 12:34:56.000000".into()
            },
        }
    }

    fn two() -> Vec<RawRow> {
        vec![
            row(A, "migration", "0", "", "completed", "db1:3306/prod"),
            row(A, "rules", "0", "", "recorded", "00ff"),
            row(A, "table", "2", "wp_2_posts", "live", "backup"),
            row(B, "migration", "0", "", "failed", "db1:3306/prod"),
            row(B, "table", "3", "wp_3_posts", "planned", "replaced"),
            row(B, "checksum", "3", "wp_3_posts", "ok", ""),
        ]
    }

    /// What the server's GROUP BY says of `rows`, written out by hand.
    fn summed(rows: Vec<RawRow>) -> Result<Ledger, (String, String)> {
        let mut by_id: std::collections::BTreeMap<String, Summary> = Default::default();
        for r in rows
            .iter()
            .filter(|r| r.kind == "table" || r.kind == "media")
        {
            let s = by_id.entry(r.id.clone()).or_insert(Summary {
                id: r.id.clone(),
                made_live: false,
                kept_backups: false,
            });
            s.made_live |= r.state != "rolled_back";
            s.kept_backups |= r.kind == "table" && r.text == "backup";
        }
        parse(rows, by_id.into_values().collect())
    }

    #[test]
    fn rows_read_back_as_migrations_and_tables() {
        let l = summed(two()).unwrap();
        assert!(l.migrations[A].kept_backups && !l.migrations[B].kept_backups);
        assert_eq!(l.migrations[A].status, MigrationStatus::Completed);
        assert_eq!(l.migrations[A].rules.as_deref(), Some("00ff"));
        assert!(l.migrations[A].keeps_backups);
        assert_eq!(l.action(A, 2, "wp_2_posts"), Some(TableAction::Backup));
        assert_eq!(l.action(B, 3, "wp_3_posts"), Some(TableAction::Replaced));
        // B is newer and planned a swap: it stands over A, A not over B.
        let newer: Vec<&str> = l
            .standing_after(A, Utc::now())
            .iter()
            .map(|m| m.id.as_str())
            .collect();
        assert_eq!(newer, [B]);
        assert!(l.standing_after(B, Utc::now()).is_empty());
        assert_eq!(l.recorded_before(B).len(), 1);
    }

    #[test]
    fn a_rolled_back_migration_no_longer_stands() {
        let mut rows = two();
        rows[3].state = "rolled_back".into();
        let l = summed(rows).unwrap();
        assert!(!l.stands(B));
        assert!(l.standing_after(A, Utc::now()).is_empty());
    }

    #[test]
    fn rows_that_make_no_sense_are_named() {
        let cases: [Damage; 6] = [
            (0, |r| r.state = "finished".into(), "not a migration status"),
            (0, |r| r.number = Some("7".into()), "not 0 or 1"),
            (2, |r| r.text = "kept".into(), "what a swap does"),
            (
                2,
                |r| r.table = "wp_2_posts`; DROP".into(),
                "not a table name",
            ),
            (2, |r| r.site = "two".into(), "not a number"),
            (4, |r| r.id = "nope".into(), "must start with env-migrate-"),
        ];
        for (i, edit, want) in cases {
            let mut rows = two();
            edit(&mut rows[i]);
            let (key, why) = summed(rows).unwrap_err();
            assert!(why.contains(want), "{key}: {why}");
        }
        let mut orphan = two();
        orphan.remove(0);
        let (_, why) = summed(orphan).unwrap_err();
        assert!(why.contains("no migration row"), "{why}");
        let mut tables_only = two();
        tables_only.retain(|r| r.id != B || r.kind != "migration");
        let (key, why) = summed(tables_only).unwrap_err();
        assert!(
            why.contains("without its migration row") && key.contains(B),
            "{key}: {why}"
        );
    }
}
