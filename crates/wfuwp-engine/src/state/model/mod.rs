//! The migration state of docs/state.md and the state machine that guards it.
//!
//! The counters of the state file (`totalSites`, `completedSites`, …) are not
//! fields of [`MigrationState`]: they are computed from `sites` whenever the
//! state is serialized, and checked against `sites` when it is read, so they
//! can never drift from the per-site statuses.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::sites::SiteId;

mod file;
mod records;
mod selection;
mod status;

pub use records::*;
pub use selection::*;
pub use status::*;

/// The state file format this binary writes and understands.
pub const STATE_VERSION: u32 = 1;

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
    /// What of the source the network tables' copied rows still mention
    /// (docs/hosts.md); `None` when nothing.
    pub network_leftovers: Option<Box<Leftovers>>,
    /// Space held by this migration's backup tables.
    pub backup_bytes: Option<u64>,
    /// The later migration whose completion dropped this one's backups
    /// (it can no longer be rolled back).
    pub superseded_by: Option<String>,
    /// `post_migration` commands that ran to the end since the sites last
    /// changed: a resume does not run them again.
    pub hooks: Vec<HookRecord>,
    /// The `post_migration` command running now (or when its run was
    /// killed): a resume stops it before anything else.
    pub running_hook: Option<RunningHook>,
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
            network_leftovers: None,
            backup_bytes: None,
            superseded_by: None,
            hooks: Vec::new(),
            running_hook: None,
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SITE_STATUSES: [SiteStatus; 8] = [
        SiteStatus::Pending,
        SiteStatus::InProgress,
        SiteStatus::Completed,
        SiteStatus::Failed,
        SiteStatus::Timeout,
        SiteStatus::Skipped,
        SiteStatus::Unchanged,
        SiteStatus::Drifted,
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
            // Decided at creation by --changed-only, never left.
            (Pending, Unchanged),
            (Pending, Drifted),
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
                    SiteStatus::Completed
                    | SiteStatus::Skipped
                    | SiteStatus::Unchanged
                    | SiteStatus::Drifted => false,
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
                // Unchanged sites count as done, drifted ones as skipped.
                let counted = |st: SiteStatus| match st {
                    SiteStatus::Unchanged => SiteStatus::Completed,
                    SiteStatus::Drifted => SiteStatus::Skipped,
                    other => other,
                };
                for (key, st) in [("completedSites", SiteStatus::Completed), ("failedSites", SiteStatus::Failed), ("timeoutSites", SiteStatus::Timeout), ("skippedSites", SiteStatus::Skipped)] {
                    let n = s.sites().iter().filter(|r| counted(r.status) == st).count() as u64;
                    prop_assert_eq!(v[key].as_u64(), Some(n));
                }
                let back: MigrationState = serde_json::from_value(v).unwrap();
                prop_assert_eq!(&back, &s);
            }
        }

        #[test]
        fn selection_never_picks_done_sites(st in arb_status(), a: bool, b: bool, c: bool) {
            let sel = Selection { skip_failed: a, skip_timeouts: b, retry_failed: c };
            if matches!(st, SiteStatus::Completed | SiteStatus::Skipped | SiteStatus::Unchanged | SiteStatus::Drifted) {
                prop_assert!(!sel.selects(st));
            }
        }
    }
}
