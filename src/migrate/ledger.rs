//! The target remembers (docs/state.md "The ledger"): one table in the target
//! database, `_wfuwp_ledger`, records every migration into it and what each
//! made live there, so that every machine and logs dir that reaches the
//! target sees the same history: the rollback-order rule, resume and cleanup
//! decide on it, not on one logs dir's files.
//!
//! Rows are keyed by migration id, kind, site and table; a small set of
//! typed columns means what the row's kind says (docs/state.md). Rows are
//! written inside the steps that already record state: a swap's plan before
//! its `RENAME`, the mark after it, so a kill at any instant leaves the
//! ledger saying at least what went live.
//!
//! The ledger belongs to its database: discovery never lists it (it is not
//! copied from a source that was once a target), no swap, backup or drop
//! touches it, and a table of that name that is not a ledger, or a row that
//! cannot be read, is named and refused.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use mysql_async::prelude::*;
use mysql_async::{Conn, Row, Value};

use crate::sites::SiteId;
use crate::state::{MigrationOptions, MigrationStatus};

/// The ledger's table in the target database.
pub const TABLE: &str = "_wfuwp_ledger";

/// The table comment that marks the table as a ledger of this format.
const COMMENT: &str = "wfuwp migration ledger, format 1";

/// The site id of rows about the migration itself and about the network tables.
pub const NETWORK: SiteId = 0;

/// Columns and their data types, in order.
const COLUMNS: &[(&str, &str)] = &[
    ("migration_id", "varchar"),
    ("kind", "varchar"),
    ("site_id", "bigint"),
    ("table_name", "varchar"),
    ("state", "varchar"),
    ("text_value", "varchar"),
    ("number_value", "bigint"),
    ("started_at", "datetime"),
    ("updated_at", "datetime"),
];

const CREATE: &str = "CREATE TABLE IF NOT EXISTS `_wfuwp_ledger` (\
     `migration_id` VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL, \
     `kind` VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL, \
     `site_id` BIGINT UNSIGNED NOT NULL, \
     `table_name` VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL, \
     `state` VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL, \
     `text_value` VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL DEFAULT '', \
     `number_value` BIGINT UNSIGNED NULL, \
     `started_at` DATETIME(6) NOT NULL, \
     `updated_at` DATETIME(6) NOT NULL, \
     PRIMARY KEY (`migration_id`, `kind`, `site_id`, `table_name`)\
     ) ENGINE=InnoDB COMMENT='wfuwp migration ledger, format 1'";

/// Row kinds (the `kind` column).
mod kind {
    /// The migration: its status, source, whether it keeps backups.
    pub const MIGRATION: &str = "migration";
    /// The fingerprint of the rules its rows were written with.
    pub const RULES: &str = "rules";
    /// The target bucket and prefix its media went to.
    pub const BUCKET: &str = "bucket";
    /// The later migration whose completion dropped its backups.
    pub const SUPERSEDED: &str = "superseded";
    /// One table it made live (or will, while `planned`).
    pub const TABLE: &str = "table";
    /// One site whose uploads it copied (or is copying).
    pub const MEDIA: &str = "media";
}

/// A table of that name that is not a ledger, a row that cannot be read,
/// or the server failing to answer.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The table exists but is not a ledger wfuwp made.
    #[error(
        "database {database} has a table `{TABLE}` that is not a wfuwp ledger ({why}). wfuwp records every migration \
         into a database in that table and neither trusts nor changes one it does not recognise. Nothing was changed. \
         If the table is not wfuwp's, rename it; if it is a damaged ledger, see docs/state.md (\"The ledger\")."
    )]
    Foreign {
        /// The target database.
        database: String,
        /// What does not match.
        why: String,
    },
    /// A row of the ledger cannot be read.
    #[error(
        "the ledger of database {database} (table `{TABLE}`) holds a row wfuwp cannot read ({row}: {why}); it was \
         edited or damaged and is not trusted. Nothing was changed. Repair or delete that row, then run again \
         (docs/state.md, \"The ledger\")."
    )]
    Damaged {
        /// The target database.
        database: String,
        /// The row's key.
        row: String,
        /// What is wrong with it.
        why: String,
    },
    /// The server failed.
    #[error("reading the ledger `{TABLE}` of database {database}: {source}")]
    Server {
        /// The target database.
        database: String,
        /// The server's error.
        #[source]
        source: mysql_async::Error,
    },
}

impl LedgerError {
    /// A foreign or damaged ledger is the operator's to repair (exit 2);
    /// a server failure is not.
    pub fn is_refusal(&self) -> bool {
        !matches!(self, LedgerError::Server { .. })
    }
}

/// What a swap does to one of the target's tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableAction {
    /// The target's table was kept as this migration's backup.
    Backup,
    /// The target had no such table: the migration created it.
    Created,
    /// The target's table was replaced without a backup (`--skip-backup`).
    Replaced,
}

impl TableAction {
    fn as_str(self) -> &'static str {
        match self {
            TableAction::Backup => "backup",
            TableAction::Created => "created",
            TableAction::Replaced => "replaced",
        }
    }

    fn parse(s: &str) -> Option<TableAction> {
        [
            TableAction::Backup,
            TableAction::Created,
            TableAction::Replaced,
        ]
        .into_iter()
        .find(|a| a.as_str() == s)
    }
}

/// Where a table row (or a site's media row) stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowState {
    /// Recorded before the swap: it may have gone live (a kill right after
    /// the `RENAME` leaves it so).
    Planned,
    /// Live on the target.
    Live,
    /// Put back by `--rollback`.
    RolledBack,
}

impl RowState {
    fn as_str(self) -> &'static str {
        match self {
            RowState::Planned => "planned",
            RowState::Live => "live",
            RowState::RolledBack => "rolled_back",
        }
    }

    fn parse(s: &str) -> Option<RowState> {
        [RowState::Planned, RowState::Live, RowState::RolledBack]
            .into_iter()
            .find(|a| a.as_str() == s)
    }
}

/// A migration as the ledger records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationEntry {
    /// Its id.
    pub id: String,
    /// Its status, as of its last recorded change.
    pub status: MigrationStatus,
    /// The source server and database (`host:port/database`).
    pub source: String,
    /// Whether it keeps the target's tables as backups (not `--skip-backup`).
    pub keeps_backups: bool,
    /// The fingerprint of the rules its rows were written with.
    pub rules: Option<String>,
    /// The target bucket and prefix of its media, when it copies media.
    pub bucket: Option<String>,
    /// The later migration whose completion dropped its backups.
    pub superseded_by: Option<String>,
    /// When it was first recorded (the target server's clock, UTC).
    pub started_at: DateTime<Utc>,
}

/// One table (or one site's media) a migration made live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableEntry {
    /// What the swap did to the target's table (`None` for a media row).
    pub action: Option<TableAction>,
    /// Where it stands.
    pub state: RowState,
}

/// The whole ledger of a target database, read and checked.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    /// Migrations by id.
    pub migrations: BTreeMap<String, MigrationEntry>,
    /// Tables by (migration, site, table); a site's media is the table "".
    pub tables: BTreeMap<(String, SiteId, String), TableEntry>,
}

impl Ledger {
    /// The action recorded for `table` of `site` (`NETWORK` = the network tables).
    pub fn action(&self, id: &str, site: SiteId, table: &str) -> Option<TableAction> {
        self.tables
            .get(&(id.to_string(), site, table.to_string()))
            .and_then(|t| t.action)
    }

    /// The tables of migration `id`: `(site, table, entry)`.
    pub fn tables_of<'a>(
        &'a self,
        id: &'a str,
    ) -> impl Iterator<Item = (SiteId, &'a str, &'a TableEntry)> + 'a {
        self.tables
            .iter()
            .filter(move |((m, _, t), _)| m == id && !t.is_empty())
            .map(|((_, s, t), e)| (*s, t.as_str(), e))
    }

    /// Whether migration `id` made something live on the target (a table or
    /// a site's media, planned or live) and was not rolled back since.
    pub fn stands(&self, id: &str) -> bool {
        let rolled_back = self
            .migrations
            .get(id)
            .is_some_and(|m| m.status == MigrationStatus::RolledBack);
        !rolled_back
            && self
                .tables
                .iter()
                .any(|((m, _, _), e)| m == id && e.state != RowState::RolledBack)
    }

    /// When migration `id` was recorded, or `fallback` for one the ledger
    /// does not know (made before the ledger existed).
    fn start_of(&self, id: &str, fallback: DateTime<Utc>) -> DateTime<Utc> {
        self.migrations.get(id).map_or(fallback, |m| m.started_at)
    }

    /// Migrations recorded after `id` that still stand on the target, newest
    /// first. `started` is `id`'s own start, used when the ledger lacks it.
    pub fn standing_after(&self, id: &str, started: DateTime<Utc>) -> Vec<&MigrationEntry> {
        let ours = self.start_of(id, started);
        let mut out: Vec<&MigrationEntry> = self
            .migrations
            .values()
            .filter(|m| m.id != id && m.started_at > ours && self.stands(&m.id))
            .collect();
        out.sort_by(|a, b| b.started_at.cmp(&a.started_at));
        out
    }

    /// Migrations recorded before `id` (which the ledger must know).
    pub fn recorded_before(&self, id: &str) -> Vec<&MigrationEntry> {
        let Some(ours) = self.migrations.get(id) else {
            return Vec::new();
        };
        self.migrations
            .values()
            .filter(|m| m.id != id && m.started_at < ours.started_at)
            .collect()
    }
}

/// What a new run records about its migration.
#[derive(Debug, Clone)]
pub struct Begin {
    /// The migration's id.
    pub id: String,
    /// The source server and database (`host:port/database`).
    pub source: String,
    /// [`rules_fingerprint`] of its options.
    pub rules: String,
    /// Not `--skip-backup`.
    pub keeps_backups: bool,
    /// [`crate::media::MediaConfig::identity`] of the target, when media is copied.
    pub bucket: Option<String>,
}

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

/// Creates the ledger when the database has none; refuses a foreign one.
pub async fn ensure(conn: &mut Conn, database: &str) -> Result<(), LedgerError> {
    if exists(conn, database).await? {
        return Ok(());
    }
    conn.query_drop(CREATE)
        .await
        .map_err(|source| LedgerError::Server {
            database: database.to_string(),
            source,
        })?;
    // Another definition under the name (a race with a foreign table) is refused.
    exists(conn, database).await.map(|_| ())
}

/// Reads and checks the whole ledger; an empty one when the database has none.
pub async fn read(conn: &mut Conn, database: &str) -> Result<Ledger, LedgerError> {
    if !exists(conn, database).await? {
        return Ok(Ledger::default());
    }
    let rows: Vec<Row> = conn
        .query(
            "SELECT migration_id, kind, CAST(site_id AS CHAR), table_name, state, text_value, \
             CAST(number_value AS CHAR), DATE_FORMAT(started_at, '%Y-%m-%d %H:%i:%s.%f') \
             FROM `_wfuwp_ledger` ORDER BY migration_id, kind, site_id, table_name",
        )
        .await
        .map_err(|source| LedgerError::Server {
            database: database.to_string(),
            source,
        })?;
    let mut raw = Vec::with_capacity(rows.len());
    for row in rows {
        raw.push(RawRow::of(row).map_err(|(row, why)| LedgerError::Damaged {
            database: database.to_string(),
            row,
            why,
        })?);
    }
    parse(raw).map_err(|(row, why)| LedgerError::Damaged {
        database: database.to_string(),
        row,
        why,
    })
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

/// Builds the ledger from its rows; the first row that makes no sense is
/// returned with what is wrong with it.
fn parse(rows: Vec<RawRow>) -> Result<Ledger, (String, String)> {
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
                    },
                );
            }
            kind::RULES | kind::BUCKET | kind::SUPERSEDED => attributes.push(r),
            kind::TABLE | kind::MEDIA => {
                let state = RowState::parse(&r.state)
                    .ok_or_else(|| bad(format!("'{}' is not a table state", r.state)))?;
                let action = match r.kind.as_str() {
                    kind::TABLE => {
                        if !crate::migrate::names::is_table_identifier(&r.table) {
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
    if let Some(((id, site, table), _)) = ledger
        .tables
        .iter()
        .find(|((id, _, _), _)| !ledger.migrations.contains_key(id))
    {
        return Err((
            format!("({id}, table, {site}, {table})"),
            "no migration row for this migration".into(),
        ));
    }
    Ok(ledger)
}

fn row_values(
    id: &str,
    kind: &str,
    (site, table): (SiteId, &str),
    (state, text, number): (&str, &str, Option<u64>),
) -> Vec<Value> {
    vec![
        id.into(),
        kind.into(),
        site.into(),
        table.into(),
        state.into(),
        text.chars().take(255).collect::<String>().into(),
        number.into(),
    ]
}

const ROW: &str = "(?, ?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))";
const INSERT: &str = "INSERT INTO `_wfuwp_ledger` \
     (migration_id, kind, site_id, table_name, state, text_value, number_value, started_at, updated_at) VALUES ";

/// Records a run of migration `m` (created or resumed): creates the ledger
/// when the database has none, and sets the migration `running`.
pub async fn begin(conn: &mut Conn, database: &str, m: &Begin) -> Result<(), LedgerError> {
    ensure(conn, database).await?;
    let mut values = row_values(
        &m.id,
        kind::MIGRATION,
        (NETWORK, ""),
        ("running", &m.source, Some(u64::from(m.keeps_backups))),
    );
    values.extend(row_values(
        &m.id,
        kind::RULES,
        (NETWORK, ""),
        ("recorded", &m.rules, None),
    ));
    let mut rows = 2;
    if let Some(b) = &m.bucket {
        values.extend(row_values(
            &m.id,
            kind::BUCKET,
            (NETWORK, ""),
            ("recorded", b, None),
        ));
        rows += 1;
    }
    let sql = format!(
        "{INSERT}{} ON DUPLICATE KEY UPDATE state = VALUES(state), text_value = VALUES(text_value), \
         number_value = VALUES(number_value), updated_at = VALUES(updated_at)",
        vec![ROW; rows].join(", ")
    );
    conn.exec_drop(sql, values)
        .await
        .map_err(|source| LedgerError::Server {
            database: database.to_string(),
            source,
        })
}

/// Sets migration `id`'s status. Nothing to do when the database has no
/// ledger or the ledger does not know the migration (made before it existed).
pub async fn set_status(
    conn: &mut Conn,
    database: &str,
    id: &str,
    status: MigrationStatus,
) -> Result<(), LedgerError> {
    if !exists(conn, database).await? {
        return Ok(());
    }
    conn.exec_drop(
        "UPDATE `_wfuwp_ledger` SET state = ?, updated_at = UTC_TIMESTAMP(6) \
         WHERE migration_id = ? AND kind = 'migration'",
        (status.to_string(), id),
    )
    .await
    .map_err(|source| LedgerError::Server {
        database: database.to_string(),
        source,
    })
}

/// Before a swap: what it will do to each table of `site` (`NETWORK` = the
/// network tables). The first record of a table wins: a redo after a crash
/// sees its own copy where the target's table was, but the target's table
/// was what the first attempt found.
pub async fn plan_tables(
    conn: &mut Conn,
    id: &str,
    site: SiteId,
    tables: &[(String, TableAction)],
) -> mysql_async::Result<()> {
    for chunk in tables.chunks(100) {
        let mut values = Vec::with_capacity(chunk.len() * 7);
        for (table, action) in chunk {
            values.extend(row_values(
                id,
                kind::TABLE,
                (site, table),
                (RowState::Planned.as_str(), action.as_str(), None),
            ));
        }
        let sql = format!(
            "{INSERT}{} ON DUPLICATE KEY UPDATE migration_id = migration_id",
            vec![ROW; chunk.len()].join(", ")
        );
        conn.exec_drop(sql, values).await?;
    }
    Ok(())
}

/// Before a site's media step: its uploads may change from now on.
pub async fn plan_media(conn: &mut Conn, id: &str, site: SiteId) -> mysql_async::Result<()> {
    let sql = format!("{INSERT}{ROW} ON DUPLICATE KEY UPDATE migration_id = migration_id");
    conn.exec_drop(
        sql,
        row_values(
            id,
            kind::MEDIA,
            (site, ""),
            (RowState::Planned.as_str(), "", None),
        ),
    )
    .await
}

/// After a swap (or a site's media step): what was planned for `site` is live.
pub async fn mark_live(conn: &mut Conn, id: &str, site: SiteId) -> mysql_async::Result<()> {
    set_rows(conn, id, site, RowState::Planned, RowState::Live).await
}

/// After `--rollback` swapped `site` back: its tables are the target's own again.
pub async fn mark_rolled_back(conn: &mut Conn, id: &str, site: SiteId) -> mysql_async::Result<()> {
    for from in [RowState::Planned, RowState::Live] {
        set_rows(conn, id, site, from, RowState::RolledBack).await?;
    }
    Ok(())
}

async fn set_rows(
    conn: &mut Conn,
    id: &str,
    site: SiteId,
    from: RowState,
    to: RowState,
) -> mysql_async::Result<()> {
    conn.exec_drop(
        "UPDATE `_wfuwp_ledger` SET state = ?, updated_at = UTC_TIMESTAMP(6) \
         WHERE migration_id = ? AND kind IN ('table', 'media') AND site_id = ? AND state = ?",
        (to.as_str(), id, site, from.as_str()),
    )
    .await
}

/// Records that `by`'s completion dropped the backups of `older`.
pub async fn mark_superseded(conn: &mut Conn, older: &[&str], by: &str) -> mysql_async::Result<()> {
    for chunk in older.chunks(100) {
        let mut values = Vec::with_capacity(chunk.len() * 7);
        for id in chunk {
            values.extend(row_values(
                id,
                kind::SUPERSEDED,
                (NETWORK, ""),
                ("recorded", by, None),
            ));
        }
        let sql = format!(
            "{INSERT}{} ON DUPLICATE KEY UPDATE migration_id = migration_id",
            vec![ROW; chunk.len()].join(", ")
        );
        conn.exec_drop(sql, values).await?;
    }
    Ok(())
}

/// The server a connection reaches, as it names itself: `host:port`.
pub async fn server_identity(conn: &mut Conn) -> mysql_async::Result<String> {
    let row: Option<(Option<Vec<u8>>, Option<u64>)> =
        conn.query_first("SELECT @@hostname, @@port").await?;
    let (host, port) = row.unwrap_or_default();
    Ok(format!(
        "{}:{}",
        host.map(|h| String::from_utf8_lossy(&h).into_owned())
            .unwrap_or_else(|| "?".into()),
        port.unwrap_or(0)
    ))
}

/// A digest of what decides the rows a migration writes: its replacement
/// pairs and which users it brings along. Two migrations with the same
/// fingerprint from the same source write the same rows.
pub fn rules_fingerprint(options: &MigrationOptions) -> String {
    let rules = serde_json::json!({
        "replacements": options.replacements,
        "includeUsers": options.include_users,
        "noUsers": options.no_users,
    });
    format!(
        "{:016x}",
        crate::config::fingerprint::fnv1a64(rules.to_string().as_bytes())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn rows_read_back_as_migrations_and_tables() {
        let l = parse(two()).unwrap();
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
        let l = parse(rows).unwrap();
        assert!(!l.stands(B));
        assert!(l.standing_after(A, Utc::now()).is_empty());
    }

    #[test]
    fn rows_that_make_no_sense_are_named() {
        let cases: [(usize, fn(&mut RawRow), &str); 6] = [
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
            let (key, why) = parse(rows).unwrap_err();
            assert!(why.contains(want), "{key}: {why}");
        }
        let mut orphan = two();
        orphan.remove(0);
        let (_, why) = parse(orphan).unwrap_err();
        assert!(why.contains("no migration row"), "{why}");
    }
}
