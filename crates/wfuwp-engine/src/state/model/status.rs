//! The statuses of a migration, its phases and its sites, the legal
//! transitions between them, and the error for an illegal one.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::sites::SiteId;

/// Overall status of a migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MigrationStatus {
    /// Being created.
    Initializing,
    /// A process is (or was, until it died) working on it.
    Running,
    /// Stopped by Ctrl-C / SIGTERM; resumable.
    Paused,
    /// Ended with failed or timed-out sites, or a fatal error; resumable.
    Failed,
    /// Every site done.
    Completed,
    /// Abandoned by the user; not resumable.
    Cancelled,
    /// Restored by `--rollback`; not resumable.
    RolledBack,
}

/// The phases of docs/phases.md, in execution order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Checks before anything is written (run again on every resume).
    Preflight,
    /// `blogs`, `blogmeta`, `site`, `sitemeta` (and users).
    NetworkTables,
    /// The per-site work queue.
    Sites,
    /// Verification and the target's post-migration commands.
    PostMigration,
    /// Staging tables, temporary files, summary, locks.
    Cleanup,
}

/// Status of one site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SiteStatus {
    /// Not started yet.
    Pending,
    /// Being migrated (or interrupted while being migrated).
    InProgress,
    /// Swapped in on the target.
    Completed,
    /// Failed (see `error` / `errorKind`).
    Failed,
    /// Exceeded its time limit.
    Timeout,
    /// Deliberately not migrated.
    Skipped,
    /// `--changed-only`: source and target as the target's ledger recorded
    /// after its last copy; nothing to do (counted as done).
    Unchanged,
    /// `--changed-only`: edited on the target since its last copy; left
    /// alone without `--overwrite-drift` (counted as skipped).
    Drifted,
}

/// Status of one phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhaseStatus {
    /// Not started.
    Pending,
    /// Running (or interrupted while running).
    InProgress,
    /// Done.
    Completed,
    /// Failed.
    Failed,
    /// Not needed for this migration (e.g. `--sites-only`).
    Skipped,
}

/// Classification of a failure (docs/phases.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Time limit exceeded (site, lock wait, network read/write, statement).
    Timeout,
    /// Lost connection, server gone away, refused.
    Connection,
    /// Other server errors.
    Sql,
    /// A value the engine could not process.
    Data,
    /// A bug or an unexpected local failure.
    Internal,
}

/// Status of a `--rollback`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RollbackStatus {
    /// Started and not finished (possibly interrupted).
    InProgress,
    /// The target is back as it was.
    Completed,
    /// Stopped on an error; can be retried.
    Failed,
}

macro_rules! display_as_serde {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                // The serde name is the one users see in files; keep messages identical.
                let v = serde_json::to_value(self).map_err(|_| fmt::Error)?;
                f.write_str(v.as_str().unwrap_or("?"))
            }
        }
    )*};
}
display_as_serde!(
    MigrationStatus,
    Phase,
    SiteStatus,
    PhaseStatus,
    ErrorKind,
    RollbackStatus
);

impl Phase {
    /// All phases in execution order.
    pub const ALL: [Phase; 5] = [
        Phase::Preflight,
        Phase::NetworkTables,
        Phase::Sites,
        Phase::PostMigration,
        Phase::Cleanup,
    ];
}

impl MigrationStatus {
    /// Whether a migration in this status may be resumed.
    pub fn is_resumable(self) -> bool {
        matches!(
            self,
            Self::Initializing | Self::Running | Self::Paused | Self::Failed
        )
    }

    /// Whether `--list-migrations` without `--all` shows it.
    pub fn is_incomplete(self) -> bool {
        self.is_resumable()
    }

    /// The legal status changes. `Running` → `Running` is not one: a resume
    /// starts from a stopped status (a crashed run is recovered to `Paused` first).
    pub fn can_become(self, to: MigrationStatus) -> bool {
        use MigrationStatus::*;
        matches!(
            (self, to),
            (Initializing, Running | Failed | Cancelled | Paused)
                | (Running, Paused | Failed | Completed | Cancelled)
                | (Paused | Failed, Running | Cancelled | RolledBack)
                | (Completed | Cancelled, RolledBack)
        )
    }
}

impl SiteStatus {
    /// The legal site status changes driven by the engine.
    pub fn can_become(self, to: SiteStatus) -> bool {
        use SiteStatus::*;
        matches!(
            (self, to),
            (Pending | Failed | Timeout, InProgress)
                | (
                    InProgress,
                    InProgress | Completed | Failed | Timeout | Skipped
                )
                | (Pending, Failed | Skipped | Unchanged | Drifted)
                | (Failed | Timeout, Skipped)
        )
    }
}

impl PhaseStatus {
    /// The legal phase status changes. A completed or skipped phase may be
    /// started again (a resume that processes sites re-runs post_migration).
    pub fn can_become(self, to: PhaseStatus) -> bool {
        use PhaseStatus::*;
        matches!(
            (self, to),
            (Pending | Failed | Completed | Skipped, InProgress)
                | (InProgress, Completed | Failed | Skipped)
                | (Pending | Failed, Skipped)
        )
    }
}

/// A change the state machine refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// The migration status cannot change this way.
    #[error("migration {id} cannot go from '{from}' to '{to}'")]
    Migration {
        /// The migration id.
        id: String,
        /// Its status now.
        from: MigrationStatus,
        /// The status asked for.
        to: MigrationStatus,
    },
    /// A site status cannot change this way.
    #[error("site {site} of migration {id} cannot go from '{from}' to '{to}'")]
    Site {
        /// The migration id.
        id: String,
        /// The site.
        site: SiteId,
        /// Its status now.
        from: SiteStatus,
        /// The status asked for.
        to: SiteStatus,
    },
    /// A phase status cannot change this way.
    #[error("phase {phase} of migration {id} cannot go from '{from}' to '{to}'")]
    Phase {
        /// The migration id.
        id: String,
        /// The phase.
        phase: Phase,
        /// Its status now.
        from: PhaseStatus,
        /// The status asked for.
        to: PhaseStatus,
    },
    /// The site is not part of this migration.
    #[error("site {site} is not part of migration {id}")]
    UnknownSite {
        /// The migration id.
        id: String,
        /// The site.
        site: SiteId,
    },
    /// Sites and phases change only while the migration runs.
    #[error("migration {id} is '{status}', not running; site and phase changes are refused")]
    NotRunning {
        /// The migration id.
        id: String,
        /// Its status.
        status: MigrationStatus,
    },
}
