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
//!
//! * [`read`] — the table checked for being a ledger, its rows for making sense.
//! * [`write`] — creation and the rows each step writes.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::sites::SiteId;
use crate::state::MigrationStatus;

mod checksums;
mod read;
mod write;

pub use checksums::{
    checksum_tables, last_copies, record_source, record_target, Checksums, LastCopy,
};

pub use read::{exists, read, read_for};
pub use write::{
    begin, ensure, mark_live, mark_rolled_back, mark_superseded, plan_media, plan_tables,
    rules_fingerprint, server_identity, set_status,
};

/// The ledger's table in the target database.
pub use crate::db::discovery::LEDGER_TABLE as TABLE;

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
     PRIMARY KEY (`migration_id`, `kind`, `site_id`, `table_name`), \
     KEY `by_kind` (`kind`, `migration_id`)\
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
    /// A site's table on the source, `CHECKSUM TABLE` before its rows were read.
    pub const SOURCE_CHECKSUM: &str = "source_checksum";
    /// A site's table on the target, `CHECKSUM TABLE` right after its swap.
    pub const TARGET_CHECKSUM: &str = "target_checksum";
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
    pub(super) fn as_str(self) -> &'static str {
        match self {
            TableAction::Backup => "backup",
            TableAction::Created => "created",
            TableAction::Replaced => "replaced",
        }
    }

    pub(super) fn parse(s: &str) -> Option<TableAction> {
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
    pub(super) fn as_str(self) -> &'static str {
        match self {
            RowState::Planned => "planned",
            RowState::Live => "live",
            RowState::RolledBack => "rolled_back",
        }
    }

    pub(super) fn parse(s: &str) -> Option<RowState> {
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
    /// It has a table or media row not rolled back: something of it went
    /// (or may have gone) live.
    pub made_live: bool,
    /// It has a table row whose target table it kept as its backup.
    pub kept_backups: bool,
}

/// One table (or one site's media) a migration made live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableEntry {
    /// What the swap did to the target's table (`None` for a media row).
    pub action: Option<TableAction>,
    /// Where it stands.
    pub state: RowState,
}

/// The ledger of a target database, read and checked: every migration, and
/// the tables of the one it was read for (a ledger holds a row per table per
/// migration; only that one's are needed at a time).
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
        self.migrations
            .get(id)
            .is_some_and(|m| m.made_live && m.status != MigrationStatus::RolledBack)
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
        out.sort_by_key(|m| std::cmp::Reverse(m.started_at));
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
    /// On a resume, when the migration started (its state's record): a
    /// migration the ledger first hears of then predates it.
    pub resumed_from: Option<DateTime<Utc>>,
}
