//! The migration state of docs/state.md and the state machine that guards it.
//!
//! The counters of the state file (`totalSites`, `completedSites`, …) are not
//! fields of [`MigrationState`]: they are computed from `sites` whenever the
//! state is serialized, and checked against `sites` when it is read, so they
//! can never drift from the per-site statuses.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::sites::SiteId;

/// The state file format this binary writes and understands.
pub const STATE_VERSION: u32 = 1;

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
                | (Pending, Failed | Skipped)
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

/// Which target table a site's (or the network's) backup holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TableBackup {
    /// The live table name on the target.
    pub live: String,
    /// The backup table holding the target's original contents; `None` when
    /// the target had no such table before (rollback drops the live one).
    pub backup: Option<String>,
}

/// The backup of one site's (or the network's) tables, taken once per migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SiteBackup {
    /// Tables swapped out.
    pub tables: Vec<TableBackup>,
    /// When the swap happened.
    pub taken_at: DateTime<Utc>,
}

/// Work done for a completed site.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteStats {
    /// Tables copied.
    pub tables: u64,
    /// Rows copied.
    pub rows: u64,
    /// Bytes copied.
    pub bytes: u64,
}

/// One site of the migration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SiteRecord {
    /// The site's blog_id.
    pub site_id: SiteId,
    /// Where it stands.
    pub status: SiteStatus,
    /// Tries so far, over all runs.
    pub attempts: u32,
    /// Start of the latest attempt.
    pub start_time: Option<DateTime<Utc>>,
    /// End of the latest attempt.
    pub end_time: Option<DateTime<Utc>>,
    /// Latest error, or why the site was skipped.
    pub error: Option<String>,
    /// Classification of the latest error.
    pub error_kind: Option<ErrorKind>,
    /// Tables copied (when completed).
    pub tables: Option<u64>,
    /// Rows copied (when completed).
    pub rows: Option<u64>,
    /// Bytes copied (when completed).
    pub bytes: Option<u64>,
    /// The target's original tables, kept for `--rollback`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<SiteBackup>,
}

impl SiteRecord {
    /// A site not started yet.
    pub fn pending(site_id: SiteId) -> Self {
        SiteRecord {
            site_id,
            status: SiteStatus::Pending,
            attempts: 0,
            start_time: None,
            end_time: None,
            error: None,
            error_kind: None,
            tables: None,
            rows: None,
            bytes: None,
            backup: None,
        }
    }
}

/// One phase of the migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PhaseRecord {
    /// Which phase.
    pub phase: Phase,
    /// Where it stands.
    pub status: PhaseStatus,
    /// Latest start.
    pub start_time: Option<DateTime<Utc>>,
    /// Latest end.
    pub end_time: Option<DateTime<Utc>>,
    /// Latest error.
    pub error: Option<String>,
}

/// Progress of a `--rollback`, kept so that an interrupted rollback can continue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RollbackRecord {
    /// Where it stands.
    pub status: RollbackStatus,
    /// First start.
    pub start_time: DateTime<Utc>,
    /// End of the latest attempt.
    pub end_time: Option<DateTime<Utc>>,
    /// Sites already swapped back, in order.
    pub sites_done: Vec<SiteId>,
    /// Whether the network tables are swapped back.
    pub network_done: bool,
    /// Latest error.
    pub error: Option<String>,
}

/// Site counts by status, always derived from the sites.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    /// All sites.
    pub total: u64,
    /// Not started.
    pub pending: u64,
    /// Being (or interrupted while being) migrated.
    pub in_progress: u64,
    /// Done.
    pub completed: u64,
    /// Failed.
    pub failed: u64,
    /// Timed out.
    pub timeout: u64,
    /// Skipped.
    pub skipped: u64,
}

impl Counts {
    fn add(&mut self, s: SiteStatus) {
        self.total += 1;
        *match s {
            SiteStatus::Pending => &mut self.pending,
            SiteStatus::InProgress => &mut self.in_progress,
            SiteStatus::Completed => &mut self.completed,
            SiteStatus::Failed => &mut self.failed,
            SiteStatus::Timeout => &mut self.timeout,
            SiteStatus::Skipped => &mut self.skipped,
        } += 1;
    }

    /// Counts of the given statuses.
    pub fn of<'a>(statuses: impl IntoIterator<Item = &'a SiteStatus>) -> Counts {
        let mut c = Counts::default();
        statuses.into_iter().for_each(|s| c.add(*s));
        c
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

/// How one `post_migration` command of the target ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HookRecord {
    /// The command line.
    pub command: String,
    /// Exit status 0 within the time limit.
    pub ok: bool,
    /// Exit code, or why there is none.
    pub status: String,
}

/// The whole migration state (docs/state.md). Counters are derived, see [`Counts`].
#[derive(Debug, Clone, PartialEq)]
pub struct MigrationState {
    /// Format version ([`STATE_VERSION`]).
    pub version: u32,
    /// `env-migrate-YYYY-MM-DDTHH-MM-SS-xxxxxx`
    pub migration_id: String,
    /// Source environment name.
    pub source_env: String,
    /// Target environment name.
    pub target_env: String,
    /// Overall status.
    pub status: MigrationStatus,
    /// The phase started last.
    pub current_phase: Option<Phase>,
    /// Creation time.
    pub start_time: DateTime<Utc>,
    /// End of the latest run.
    pub end_time: Option<DateTime<Utc>>,
    /// Time of the latest recorded change.
    pub last_save_time: DateTime<Utc>,
    /// Pid of the latest process that ran it.
    pub process_id: u32,
    /// Number of runs (creation is run 1).
    pub runs: u32,
    /// One record per phase, in order.
    pub phases: Vec<PhaseRecord>,
    sites: Vec<SiteRecord>,
    // Position of each site in `sites`: transitions at 5,000 sites must not scan.
    index: HashMap<SiteId, usize>,
    /// Backup of the network tables, for `--rollback`.
    pub network_backup: Option<SiteBackup>,
    /// Space held by this migration's backup tables.
    pub backup_bytes: Option<u64>,
    /// The later migration whose completion dropped this one's backups
    /// (it can no longer be rolled back).
    pub superseded_by: Option<String>,
    /// `post_migration` commands that ran to the end since the sites last
    /// changed: a resume does not run them again.
    pub hooks: Vec<HookRecord>,
    /// `--rollback` progress.
    pub rollback: Option<RollbackRecord>,
    /// Sequence number of the latest journal record folded into this state.
    pub journal_seq: u64,
}

impl MigrationState {
    /// A fresh state for a new migration with these sites, status `running`, run 1.
    pub fn new(
        migration_id: String,
        source_env: String,
        target_env: String,
        sites: &[SiteId],
        now: DateTime<Utc>,
    ) -> Self {
        let phases = Phase::ALL
            .iter()
            .map(|&phase| PhaseRecord {
                phase,
                status: PhaseStatus::Pending,
                start_time: None,
                end_time: None,
                error: None,
            })
            .collect();
        let mut seen = std::collections::HashSet::new();
        let records: Vec<SiteRecord> = sites
            .iter()
            .filter(|id| seen.insert(**id))
            .map(|&id| SiteRecord::pending(id))
            .collect();
        let mut s = MigrationState {
            version: STATE_VERSION,
            migration_id,
            source_env,
            target_env,
            status: MigrationStatus::Running,
            current_phase: None,
            start_time: now,
            end_time: None,
            last_save_time: now,
            process_id: std::process::id(),
            runs: 1,
            phases,
            sites: records,
            index: HashMap::new(),
            network_backup: None,
            backup_bytes: None,
            superseded_by: None,
            hooks: Vec::new(),
            rollback: None,
            journal_seq: 0,
        };
        s.reindex();
        s
    }

    fn reindex(&mut self) {
        self.index = self
            .sites
            .iter()
            .enumerate()
            .map(|(i, s)| (s.site_id, i))
            .collect();
    }

    /// The sites, in the order they were selected.
    pub fn sites(&self) -> &[SiteRecord] {
        &self.sites
    }

    /// One site's record.
    pub fn site(&self, id: SiteId) -> Option<&SiteRecord> {
        self.index.get(&id).map(|&i| &self.sites[i])
    }

    /// Counts by status, derived from the sites.
    pub fn counts(&self) -> Counts {
        Counts::of(self.sites.iter().map(|s| &s.status))
    }

    /// One phase's record.
    pub fn phase(&self, p: Phase) -> &PhaseRecord {
        // `phases` always holds the five phases in order (checked on load).
        &self.phases[p as usize]
    }

    fn phase_mut(&mut self, p: Phase) -> &mut PhaseRecord {
        &mut self.phases[p as usize]
    }

    fn require_running(&self) -> Result<(), TransitionError> {
        match self.status {
            MigrationStatus::Running => Ok(()),
            status => Err(TransitionError::NotRunning {
                id: self.migration_id.clone(),
                status,
            }),
        }
    }

    /// Changes the overall status, if the state machine allows it.
    pub fn set_status(&mut self, to: MigrationStatus) -> Result<(), TransitionError> {
        if !self.status.can_become(to) {
            return Err(TransitionError::Migration {
                id: self.migration_id.clone(),
                from: self.status,
                to,
            });
        }
        self.status = to;
        Ok(())
    }

    /// Changes a phase's status (only while running), recording times and error.
    pub fn set_phase(
        &mut self,
        p: Phase,
        to: PhaseStatus,
        error: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), TransitionError> {
        self.require_running()?;
        let id = self.migration_id.clone();
        let rec = self.phase_mut(p);
        if !rec.status.can_become(to) {
            return Err(TransitionError::Phase {
                id,
                phase: p,
                from: rec.status,
                to,
            });
        }
        rec.status = to;
        rec.error = error.map(str::to_string);
        if to == PhaseStatus::InProgress {
            rec.start_time = Some(now);
            rec.end_time = None;
            self.current_phase = Some(p);
        } else {
            rec.end_time = Some(now);
        }
        Ok(())
    }

    /// Computes a site's next record for a transition without applying it, so
    /// that the caller can make it durable first and then [`Self::put_site`].
    pub fn next_site(
        &self,
        id: SiteId,
        to: SiteStatus,
        now: DateTime<Utc>,
    ) -> Result<SiteRecord, TransitionError> {
        self.require_running()?;
        let cur = self.site(id).ok_or_else(|| TransitionError::UnknownSite {
            id: self.migration_id.clone(),
            site: id,
        })?;
        if !cur.status.can_become(to) {
            return Err(TransitionError::Site {
                id: self.migration_id.clone(),
                site: id,
                from: cur.status,
                to,
            });
        }
        let mut next = cur.clone();
        next.status = to;
        match to {
            SiteStatus::InProgress if cur.status != SiteStatus::InProgress => {
                next.attempts += 1;
                next.start_time = Some(now);
                next.end_time = None;
            }
            SiteStatus::InProgress => next.attempts += 1, // a retry within the same run
            _ => next.end_time = Some(now),
        }
        Ok(next)
    }

    /// Replaces a site's record (the site must exist). Used after the change is durable.
    pub fn put_site(&mut self, rec: SiteRecord) -> Result<(), TransitionError> {
        match self.index.get(&rec.site_id) {
            Some(&i) => {
                self.sites[i] = rec;
                Ok(())
            }
            None => Err(TransitionError::UnknownSite {
                id: self.migration_id.clone(),
                site: rec.site_id,
            }),
        }
    }

    /// After a crash: sites and phases left `in_progress` are really not done.
    /// Returns how many sites were reset.
    pub fn recover_interrupted(&mut self) -> usize {
        let mut n = 0;
        for s in self
            .sites
            .iter_mut()
            .filter(|s| s.status == SiteStatus::InProgress)
        {
            s.status = SiteStatus::Pending;
            n += 1;
        }
        for p in self
            .phases
            .iter_mut()
            .filter(|p| p.status == PhaseStatus::InProgress)
        {
            p.status = PhaseStatus::Pending;
        }
        n
    }

    /// Checks what serde cannot: the invariants a hand edit may break.
    pub fn check(&self) -> Result<(), String> {
        crate::state::id::validate(&self.migration_id).map_err(|e| e.to_string())?;
        if self.source_env.is_empty()
            || self.target_env.is_empty()
            || self.source_env == self.target_env
        {
            return Err(format!(
                "sourceEnv '{}' and targetEnv '{}' must be two different names",
                self.source_env, self.target_env
            ));
        }
        let phases: Vec<Phase> = self.phases.iter().map(|p| p.phase).collect();
        if phases != Phase::ALL {
            return Err("phases must list preflight, network_tables, sites, post_migration, cleanup once each, in that order".into());
        }
        if self.index.len() != self.sites.len() {
            let mut seen = std::collections::HashSet::new();
            let dup = self
                .sites
                .iter()
                .find(|s| !seen.insert(s.site_id))
                .map(|s| s.site_id)
                .unwrap_or_default();
            return Err(format!("site {dup} appears more than once in sites"));
        }
        if self.runs == 0 {
            return Err("runs is 0; a saved migration has run at least once".into());
        }
        Ok(())
    }
}

/// The on-disk shape of `migration-state.json`, counters included.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StateFile<S> {
    version: u32,
    migration_id: String,
    source_env: String,
    target_env: String,
    status: MigrationStatus,
    current_phase: Option<Phase>,
    start_time: DateTime<Utc>,
    end_time: Option<DateTime<Utc>>,
    last_save_time: DateTime<Utc>,
    process_id: u32,
    runs: u32,
    phases: Vec<PhaseRecord>,
    sites: S,
    total_sites: u64,
    completed_sites: u64,
    failed_sites: u64,
    timeout_sites: u64,
    skipped_sites: u64,
    #[serde(default)]
    pending_sites: Option<u64>,
    #[serde(default)]
    in_progress_sites: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    network_backup: Option<SiteBackup>,
    #[serde(default)]
    backup_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    superseded_by: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    hooks: Vec<HookRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rollback: Option<RollbackRecord>,
    #[serde(default)]
    journal_seq: u64,
}

impl Serialize for MigrationState {
    fn serialize<Ser: serde::Serializer>(&self, ser: Ser) -> Result<Ser::Ok, Ser::Error> {
        let c = self.counts();
        StateFile {
            version: self.version,
            migration_id: self.migration_id.clone(),
            source_env: self.source_env.clone(),
            target_env: self.target_env.clone(),
            status: self.status,
            current_phase: self.current_phase,
            start_time: self.start_time,
            end_time: self.end_time,
            last_save_time: self.last_save_time,
            process_id: self.process_id,
            runs: self.runs,
            phases: self.phases.clone(),
            sites: &self.sites,
            total_sites: c.total,
            completed_sites: c.completed,
            failed_sites: c.failed,
            timeout_sites: c.timeout,
            skipped_sites: c.skipped,
            pending_sites: Some(c.pending),
            in_progress_sites: Some(c.in_progress),
            network_backup: self.network_backup.clone(),
            backup_bytes: self.backup_bytes,
            superseded_by: self.superseded_by.clone(),
            hooks: self.hooks.clone(),
            rollback: self.rollback.clone(),
            journal_seq: self.journal_seq,
        }
        .serialize(ser)
    }
}

impl<'de> Deserialize<'de> for MigrationState {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        let f = StateFile::<Vec<SiteRecord>>::deserialize(de)?;
        from_file(f).map_err(serde::de::Error::custom)
    }
}

fn from_file(f: StateFile<Vec<SiteRecord>>) -> Result<MigrationState, String> {
    if f.version != STATE_VERSION {
        // The loader reports versions before full parsing; this guards direct use.
        return Err(format!("unsupported version {}", f.version));
    }
    let derived = Counts::of(f.sites.iter().map(|s| &s.status));
    let stored: BTreeMap<&str, (u64, u64)> = [
        ("totalSites", (f.total_sites, derived.total)),
        ("completedSites", (f.completed_sites, derived.completed)),
        ("failedSites", (f.failed_sites, derived.failed)),
        ("timeoutSites", (f.timeout_sites, derived.timeout)),
        ("skippedSites", (f.skipped_sites, derived.skipped)),
        (
            "pendingSites",
            (f.pending_sites.unwrap_or(derived.pending), derived.pending),
        ),
        (
            "inProgressSites",
            (
                f.in_progress_sites.unwrap_or(derived.in_progress),
                derived.in_progress,
            ),
        ),
    ]
    .into_iter()
    .collect();
    if let Some((name, (have, want))) = stored.iter().find(|(_, (a, b))| a != b) {
        return Err(format!("{name} is {have} but the sites list has {want}; the counters disagree with the sites (hand-edited?)"));
    }
    let mut s = MigrationState {
        version: f.version,
        migration_id: f.migration_id,
        source_env: f.source_env,
        target_env: f.target_env,
        status: f.status,
        current_phase: f.current_phase,
        start_time: f.start_time,
        end_time: f.end_time,
        last_save_time: f.last_save_time,
        process_id: f.process_id,
        runs: f.runs,
        phases: f.phases,
        sites: f.sites,
        index: HashMap::new(),
        network_backup: f.network_backup,
        backup_bytes: f.backup_bytes,
        superseded_by: f.superseded_by,
        hooks: f.hooks,
        rollback: f.rollback,
        journal_seq: f.journal_seq,
    };
    s.reindex();
    s.check()?;
    Ok(s)
}

/// The `--resume` flags that select sites (docs/phases.md).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Selection {
    /// `--skip-failed`: leave `failed` sites untouched.
    pub skip_failed: bool,
    /// `--skip-timeouts`: leave `timeout` sites untouched.
    pub skip_timeouts: bool,
    /// `--retry-failed`: only `failed` and `timeout` sites.
    pub retry_failed: bool,
}

impl Selection {
    /// Whether a site in `status` is processed by a run with these flags.
    pub fn selects(self, status: SiteStatus) -> bool {
        match status {
            SiteStatus::Pending | SiteStatus::InProgress => !self.retry_failed,
            SiteStatus::Failed => !self.skip_failed,
            SiteStatus::Timeout => !self.skip_timeouts,
            SiteStatus::Completed | SiteStatus::Skipped => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SITE_STATUSES: [SiteStatus; 6] = [
        SiteStatus::Pending,
        SiteStatus::InProgress,
        SiteStatus::Completed,
        SiteStatus::Failed,
        SiteStatus::Timeout,
        SiteStatus::Skipped,
    ];

    fn now() -> DateTime<Utc> {
        Utc::now()
    }

    fn state(n: u64) -> MigrationState {
        let ids: Vec<SiteId> = (1..=n).collect();
        MigrationState::new(
            "env-migrate-2025-08-17T12-34-56-abc123".into(),
            "prod".into(),
            "uat".into(),
            &ids,
            now(),
        )
    }

    #[test]
    fn migration_transitions_table() {
        use MigrationStatus::*;
        let all = [
            Initializing,
            Running,
            Paused,
            Failed,
            Completed,
            Cancelled,
            RolledBack,
        ];
        let legal = [
            (Initializing, Running),
            (Initializing, Failed),
            (Initializing, Cancelled),
            (Initializing, Paused),
            (Running, Paused),
            (Running, Failed),
            (Running, Completed),
            (Running, Cancelled),
            (Paused, Running),
            (Paused, Cancelled),
            (Paused, RolledBack),
            (Failed, Running),
            (Failed, Cancelled),
            (Failed, RolledBack),
            (Completed, RolledBack),
            (Cancelled, RolledBack),
        ];
        for from in all {
            for to in all {
                assert_eq!(
                    from.can_become(to),
                    legal.contains(&(from, to)),
                    "{from} -> {to}"
                );
                let mut s = state(1);
                s.status = from;
                assert_eq!(s.set_status(to).is_ok(), legal.contains(&(from, to)));
                assert_eq!(
                    s.status,
                    if legal.contains(&(from, to)) {
                        to
                    } else {
                        from
                    }
                );
            }
        }
    }

    #[test]
    fn site_transitions_table() {
        use SiteStatus::*;
        let legal = [
            (Pending, InProgress),
            (Failed, InProgress),
            (Timeout, InProgress),
            (InProgress, InProgress),
            (InProgress, Completed),
            (InProgress, Failed),
            (InProgress, Timeout),
            (InProgress, Skipped),
            (Pending, Failed),
            (Pending, Skipped),
            (Failed, Skipped),
            (Timeout, Skipped),
        ];
        for from in SITE_STATUSES {
            for to in SITE_STATUSES {
                let mut s = state(1);
                let mut rec = s.site(1).unwrap().clone();
                rec.status = from;
                s.put_site(rec).unwrap();
                let r = s.next_site(1, to, now());
                assert_eq!(r.is_ok(), legal.contains(&(from, to)), "{from} -> {to}");
                if let Ok(next) = r {
                    assert_eq!(next.status, to);
                }
            }
        }
    }

    #[test]
    fn phase_transitions_table() {
        use PhaseStatus::*;
        let all = [Pending, InProgress, Completed, Failed, Skipped];
        let legal = [
            (Pending, InProgress),
            (Failed, InProgress),
            (Completed, InProgress),
            (Skipped, InProgress),
            (InProgress, Completed),
            (InProgress, Failed),
            (InProgress, Skipped),
            (Pending, Skipped),
            (Failed, Skipped),
        ];
        for from in all {
            for to in all {
                let mut s = state(0);
                s.phase_mut(Phase::Sites).status = from;
                assert_eq!(
                    s.set_phase(Phase::Sites, to, None, now()).is_ok(),
                    legal.contains(&(from, to)),
                    "{from} -> {to}"
                );
            }
        }
    }

    #[test]
    fn nothing_changes_unless_running() {
        let mut s = state(2);
        s.set_status(MigrationStatus::Paused).unwrap();
        assert!(matches!(
            s.next_site(1, SiteStatus::InProgress, now()),
            Err(TransitionError::NotRunning { .. })
        ));
        assert!(s
            .set_phase(Phase::Sites, PhaseStatus::InProgress, None, now())
            .is_err());
    }

    #[test]
    fn unknown_site_is_rejected() {
        let s = state(2);
        assert!(matches!(
            s.next_site(9, SiteStatus::InProgress, now()),
            Err(TransitionError::UnknownSite { .. })
        ));
    }

    #[test]
    fn attempts_and_times_follow_transitions() {
        let mut s = state(1);
        let a = s.next_site(1, SiteStatus::InProgress, now()).unwrap();
        assert_eq!(
            (a.attempts, a.start_time.is_some(), a.end_time),
            (1, true, None)
        );
        s.put_site(a).unwrap();
        let b = s.next_site(1, SiteStatus::InProgress, now()).unwrap();
        assert_eq!(b.attempts, 2);
        s.put_site(b).unwrap();
        let c = s.next_site(1, SiteStatus::Completed, now()).unwrap();
        assert!(c.end_time.is_some());
    }

    #[test]
    fn serde_round_trip_and_field_names() {
        let mut s = state(3);
        let mut r = s.next_site(2, SiteStatus::InProgress, now()).unwrap();
        s.put_site(r.clone()).unwrap();
        r = s.next_site(2, SiteStatus::Failed, now()).unwrap();
        r.error_kind = Some(ErrorKind::Connection);
        s.put_site(r).unwrap();
        let v = serde_json::to_value(&s).unwrap();
        for key in [
            "version",
            "migrationId",
            "sourceEnv",
            "targetEnv",
            "status",
            "currentPhase",
            "startTime",
            "endTime",
            "lastSaveTime",
            "processId",
            "runs",
            "phases",
            "sites",
            "totalSites",
            "completedSites",
            "failedSites",
            "timeoutSites",
            "skippedSites",
        ] {
            assert!(v.get(key).is_some(), "missing {key}");
        }
        assert_eq!(v["failedSites"], 1);
        assert_eq!(v["sites"][1]["errorKind"], "connection");
        assert_eq!(v["sites"][1]["siteId"], 2);
        assert_eq!(v["phases"][1]["phase"], "network_tables");
        let back: MigrationState = serde_json::from_value(v).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn hand_edits_are_detected() {
        let s = state(3);
        let base = serde_json::to_value(&s).unwrap();
        let mut bad = base.clone();
        bad["completedSites"] = 2.into();
        assert!(serde_json::from_value::<MigrationState>(bad)
            .unwrap_err()
            .to_string()
            .contains("completedSites"));
        let mut bad = base.clone();
        bad["sites"][1]["siteId"] = 1.into();
        assert!(serde_json::from_value::<MigrationState>(bad)
            .unwrap_err()
            .to_string()
            .contains("more than once"));
        let mut bad = base.clone();
        bad["status"] = "exploded".into();
        assert!(serde_json::from_value::<MigrationState>(bad).is_err());
        let mut bad = base;
        bad["phases"].as_array_mut().unwrap().pop();
        assert!(serde_json::from_value::<MigrationState>(bad).is_err());
    }

    #[test]
    fn resume_selection_for_every_combination() {
        for bits in 0..8u8 {
            let sel = Selection {
                skip_failed: bits & 1 != 0,
                skip_timeouts: bits & 2 != 0,
                retry_failed: bits & 4 != 0,
            };
            for st in SITE_STATUSES {
                let expected = match st {
                    SiteStatus::Completed | SiteStatus::Skipped => false,
                    SiteStatus::Pending | SiteStatus::InProgress => !sel.retry_failed,
                    SiteStatus::Failed => !sel.skip_failed,
                    SiteStatus::Timeout => !sel.skip_timeouts,
                };
                assert_eq!(sel.selects(st), expected, "{sel:?} {st}");
            }
        }
        // docs/phases.md wording, case by case.
        let d = Selection::default();
        assert!([
            SiteStatus::Pending,
            SiteStatus::InProgress,
            SiteStatus::Failed,
            SiteStatus::Timeout
        ]
        .iter()
        .all(|&s| d.selects(s)));
        let r = Selection {
            retry_failed: true,
            ..d
        };
        assert!(
            r.selects(SiteStatus::Failed)
                && r.selects(SiteStatus::Timeout)
                && !r.selects(SiteStatus::Pending)
        );
    }

    fn arb_status() -> impl Strategy<Value = SiteStatus> {
        proptest::sample::select(SITE_STATUSES.to_vec())
    }

    proptest! {
        #[test]
        fn counters_always_match_sites(ops in proptest::collection::vec((0u64..6, arb_status()), 0..200)) {
            let mut s = state(5);
            for (site, to) in ops {
                // Illegal changes are refused and must leave the state untouched.
                let before = s.clone();
                match s.next_site(site, to, now()) {
                    Ok(rec) => s.put_site(rec).unwrap(),
                    Err(_) => prop_assert_eq!(&before, &s),
                }
                let c = s.counts();
                let v = serde_json::to_value(&s).unwrap();
                prop_assert_eq!(v["totalSites"].as_u64(), Some(5));
                prop_assert_eq!(c.pending + c.in_progress + c.completed + c.failed + c.timeout + c.skipped, 5);
                for (key, st) in [("completedSites", SiteStatus::Completed), ("failedSites", SiteStatus::Failed), ("timeoutSites", SiteStatus::Timeout), ("skippedSites", SiteStatus::Skipped)] {
                    let n = s.sites().iter().filter(|r| r.status == st).count() as u64;
                    prop_assert_eq!(v[key].as_u64(), Some(n));
                }
                let back: MigrationState = serde_json::from_value(v).unwrap();
                prop_assert_eq!(&back, &s);
            }
        }

        #[test]
        fn selection_never_picks_done_sites(st in arb_status(), a: bool, b: bool, c: bool) {
            let sel = Selection { skip_failed: a, skip_timeouts: b, retry_failed: c };
            if matches!(st, SiteStatus::Completed | SiteStatus::Skipped) {
                prop_assert!(!sel.selects(st));
            }
        }
    }
}
