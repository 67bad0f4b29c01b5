//! `--rollback` (docs/rollback.md): every site and the network tables swapped back to
//! the backups this migration took, atomically per site, recorded as it goes
//! so that an interrupted rollback continues where it stopped.
//!
//! * [`order`] — newest first: no rollback under a later migration that stands.
//! * [`records`] — the state's backup records checked against what the
//!   migration can have made, the target's ledger and the target's tables.
//! * [`restore`] — the swaps back, and the check that the target holds what
//!   it held before.
//!
//! The uploads' side is [`crate::media::undo`].

pub mod order;
pub mod records;
pub mod restore;

/// Why a rollback cannot start.
#[derive(Debug, thiserror::Error)]
pub enum RollbackRefusal {
    /// The migration ran with `--skip-backup`.
    #[error("migration {0} ran with --skip-backup: the target's previous tables were dropped, so there is nothing to roll back to")]
    NoBackups(String),
    /// A record says the migration created a table the target holds, and
    /// the target's ledger does not confirm it: dropping it could destroy
    /// a table the migration never made.
    #[error(
        "the state of migration {id} says it created {table} ({owner}) where the target had none, so a rollback \
         would drop it, but the target's ledger does not record that {id} created it. The state file was edited \
         or damaged, or the migration was made before wfuwp kept a ledger. Nothing was changed. If the table is \
         indeed the migration's, drop it by hand and run the rollback again."
    )]
    Unconfirmed {
        /// The migration.
        id: String,
        /// The table the record would drop.
        table: String,
        /// "site 3", "the network tables".
        owner: String,
    },
    /// Media backups the migration recorded are not in the bucket.
    #[error(
        "the media backups of migration {id} are incomplete: {}. Rolling back would leave those objects as the \
         migration wrote them. A later migration's cleanup or someone deleting objects removed them. Nothing was \
         changed. Restore them (e.g. from bucket versioning) and run the rollback again, or roll back by hand.",
        missing.join("; ")
    )]
    MediaBackupsGone {
        /// The migration.
        id: String,
        /// Per site: what is missing and where.
        missing: Vec<String>,
    },
    /// Backup tables are missing before any rollback began.
    #[error(
        "backup tables of migration {id} are gone from the target ({missing} missing, e.g. {example}): a later migration to \
         this target completed (which keeps only its own backups), or they were dropped by hand. Rollback is not possible."
    )]
    BackupsGone {
        /// The migration.
        id: String,
        /// How many are missing.
        missing: usize,
        /// One of them.
        example: String,
    },
}

/// A rollback that ran but did not leave the target as it was: said so
/// instead of "rolled back" (exit 1; the state is not marked rolled back).
#[derive(Debug, thiserror::Error)]
#[error(
    "the rollback of {id} ran, but the target does not hold what it held before: {}. It is not recorded as rolled \
     back. Check those tables by hand; `wfuwp env-migrate --rollback {id}` may be run again.",
    problems.join("; ")
)]
pub struct RollbackIncomplete {
    /// The migration.
    pub id: String,
    /// What the target shows instead (a few, then how many more).
    pub problems: Vec<String>,
}

/// How a rollback run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RollbackEnd {
    /// The target is as it was before the migration.
    Restored,
    /// Stopped by Ctrl-C / SIGTERM between sites; run `--rollback` again.
    Interrupted,
}
