//! A run of a migration as the engine sees it: create or resume, report
//! transitions (each durable before the call returns), finish.
//!
//! A [`Session`] holds the target lock and the migration lock for its whole
//! life. All methods take `&self` and serialize on an internal mutex, so the
//! workers of a run share one `Arc<Session>`. Dropping a session without
//! [`Session::finish`] (a crash path) releases the locks and leaves the
//! migration resumable: every transition already recorded stays recorded.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Utc};

use super::error::{StateError, StateResult};
use super::lock::{self, LockGuard};
use super::model::*;
use super::options::*;
use super::store::{self, Journal, JournalOp, JournalRecord, ProgressLog};
use super::summary::Summary;
use crate::sites::SiteId;

mod edge;
mod finish;
mod manage;
mod rollback;
mod transitions;

pub use edge::durable_time;
pub use manage::{abandon, mark_superseded};

/// Journal records between two snapshots, at least: bounds replay time and
/// file size while keeping the per-transition cost at one small
/// fdatasync'ed append.
const COMPACT_EVERY: u64 = 512;

/// Records between two snapshots of a state of `sites` sites: a snapshot
/// writes every site, so taking one at most every `sites` records keeps the
/// total written linear in the records (a fixed interval would make it grow
/// with sites × records), and replay stays under one record per site.
fn compact_every(sites: usize) -> u64 {
    COMPACT_EVERY.max(sites as u64)
}

/// Whether the session runs the migration forward or rolls it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    /// Create or resume.
    Run,
    /// `--rollback`.
    Rollback,
}

#[derive(Debug)]
struct Inner {
    state: MigrationState,
    journal: Journal,
    log: ProgressLog,
    since_compact: u64,
}

/// A locked, running migration. See the module docs.
#[derive(Debug)]
pub struct Session {
    dir: PathBuf,
    config: MigrationConfig,
    kind: SessionKind,
    run_start: DateTime<Utc>,
    to_process: Vec<SiteId>,
    inner: Mutex<Inner>,
    // Declared last: dropped after everything above is flushed.
    locks: Vec<LockGuard>,
}

fn lock_target(logs_dir: &Path, target: &str, id: &str) -> StateResult<LockGuard> {
    lock::acquire(
        &lock::target_lock_path(logs_dir, target),
        &format!("target environment '{target}'"),
        id,
    )
}

fn lock_migration(dir: &Path, id: &str) -> StateResult<LockGuard> {
    lock::acquire(&dir.join(store::LOCK_FILE), &format!("migration {id}"), id)
}

/// The directory of an existing migration, or a clear error.
pub fn existing_dir(logs_dir: &Path, id: &str) -> StateResult<PathBuf> {
    super::id::validate(id)?;
    let dir = store::migration_dir(logs_dir, id);
    if !dir.is_dir() {
        return Err(StateError::UnknownId {
            id: id.into(),
            logs_dir: logs_dir.into(),
        });
    }
    Ok(dir)
}

fn wrong(state: &MigrationState, advice: impl Into<String>) -> StateError {
    StateError::WrongStatus {
        id: state.migration_id.clone(),
        status: state.status,
        advice: advice.into(),
    }
}

fn check_resumable(s: &MigrationState) -> StateResult<()> {
    if let Some(r) = s
        .rollback
        .as_ref()
        .filter(|_| s.status != MigrationStatus::RolledBack)
    {
        return Err(wrong(s, format!("a rollback of it was started ({}); finish it with `wfuwp env-migrate --rollback {}`", r.status, s.migration_id)));
    }
    match s.status {
        st if st.is_resumable() => Ok(()),
        MigrationStatus::Completed => Err(wrong(
            s,
            "there is nothing left to resume. Start a new migration to copy again.",
        )),
        MigrationStatus::Cancelled => Err(wrong(
            s,
            "it was abandoned and cannot be resumed. Start a new migration.",
        )),
        _ => Err(wrong(
            s,
            "it was rolled back and cannot be resumed. Start a new migration.",
        )),
    }
}

fn check_rollbackable(s: &MigrationState) -> StateResult<()> {
    if let Some(by) = &s.superseded_by {
        return Err(wrong(
            s,
            format!("its backup tables were dropped when the later migration {by} to the same target completed; there is nothing to roll back to."),
        ));
    }
    match s.status {
        MigrationStatus::RolledBack => Err(wrong(
            s,
            "it was already rolled back; the target holds its earlier tables.",
        )),
        _ => Ok(()),
    }
}

impl Session {
    /// Creates a new migration in `logs_dir`: takes the target lock, writes the
    /// directory (private permissions) with state `running`, run 1, and the
    /// config, then takes the migration lock.
    pub fn create(logs_dir: &Path, new: NewMigration) -> anyhow::Result<Session> {
        Self::edge(|| Self::create_inner(logs_dir, new))
    }

    fn create_inner(logs_dir: &Path, new: NewMigration) -> StateResult<Session> {
        let now = Utc::now();
        let id = super::id::generate(now);
        store::create_private_dir(logs_dir)?;
        let target_lock = lock_target(logs_dir, &new.target, &id)?;
        // Built under a hidden name and renamed into place, so that no reader
        // ever sees a migration directory without its state file.
        let building = logs_dir.join(format!(".creating-{id}"));
        store::create_new_private_dir(&building)?;
        let migration_lock = lock_migration(&building, &id)?;
        let mut state = MigrationState::new(
            id.clone(),
            new.source.clone(),
            new.target.clone(),
            &new.sites,
            now,
        );
        for (&site, &status) in &new.decided {
            let rec = state.next_site(site, status, now)?;
            state.put_site(rec)?;
        }
        let config = MigrationConfig {
            version: CONFIG_VERSION,
            migration_id: id.clone(),
            source_env: new.source,
            target_env: new.target,
            created: now,
            options: new.options,
            fingerprints: new.fingerprints,
        };
        store::write_json(&building.join(store::CONFIG_FILE), &config)?;
        store::write_json(&building.join(store::STATE_FILE), &state)?;
        let journal = Journal::create(&building)?;
        let mut log = ProgressLog::create(&building)?;
        let dir = store::migration_dir(logs_dir, &id);
        std::fs::rename(&building, &dir).map_err(super::error::io("create", &dir))?;
        store::fsync_dir(logs_dir)?;
        log.line(&format!(
            "created migration {id}: {} -> {}, {} sites, by pid {} on {}",
            state.source_env,
            state.target_env,
            state.sites().len(),
            std::process::id(),
            lock::hostname()
        ));
        let to_process = state
            .sites()
            .iter()
            .filter(|s| s.status == SiteStatus::Pending)
            .map(|s| s.site_id)
            .collect();
        Ok(Session {
            dir,
            config,
            kind: SessionKind::Run,
            run_start: now,
            to_process,
            inner: Mutex::new(Inner {
                state,
                journal,
                log,
                since_compact: 0,
            }),
            locks: vec![target_lock, migration_lock],
        })
    }

    /// Loads a migration for another run with the resume flags of `req` (docs/phases.md).
    pub fn resume(logs_dir: &Path, id: &str, req: ResumeRequest) -> anyhow::Result<Session> {
        Self::edge(|| Self::resume_inner(logs_dir, id, req))
    }

    fn resume_inner(logs_dir: &Path, id: &str, req: ResumeRequest) -> StateResult<Session> {
        let (dir, mut state, locks) = Self::open_locked(logs_dir, id, check_resumable)?;
        let config: MigrationConfig = store::read_json(&dir, store::CONFIG_FILE)?;
        let changed = fingerprint_mismatches(&config.fingerprints, &req.fingerprints);
        if !changed.is_empty() && !req.force {
            return Err(StateError::FingerprintMismatch {
                id: id.into(),
                envs: changed.join(", "),
            });
        }
        let reset = Self::recover(&mut state)?;
        state.set_status(MigrationStatus::Running)?;
        state.runs += 1;
        state.process_id = std::process::id();
        state.end_time = None;
        let sel = req.selection();
        let to_process: Vec<SiteId> = state
            .sites()
            .iter()
            .filter(|s| sel.selects(s.status))
            .map(|s| s.site_id)
            .collect();
        let session = Self::assemble(dir, config, SessionKind::Run, state, locks, to_process)?;
        let runs = session.inner().state.runs;
        session.log(&format!(
            "resumed (run {runs}) by pid {} on {}: {} sites to process{}{}{}{}",
            std::process::id(),
            lock::hostname(),
            session.to_process.len(),
            if req.skip_failed {
                ", --skip-failed"
            } else {
                ""
            },
            if req.skip_timeouts {
                ", --skip-timeouts"
            } else {
                ""
            },
            if req.retry_failed {
                ", --retry-failed"
            } else {
                ""
            },
            if reset > 0 {
                format!(", {reset} interrupted sites reset to pending")
            } else {
                String::new()
            },
        ));
        if !changed.is_empty() {
            session.log(&format!(
                "configuration of {} changed since creation; resumed anyway (--force)",
                changed.join(", ")
            ));
        }
        Ok(session)
    }

    /// Loads a migration for `--rollback`: allowed unless it is already rolled
    /// back (an interrupted rollback continues where it stopped).
    pub fn open_for_rollback(logs_dir: &Path, id: &str) -> anyhow::Result<Session> {
        Self::edge(|| Self::open_for_rollback_inner(logs_dir, id))
    }

    fn open_for_rollback_inner(logs_dir: &Path, id: &str) -> StateResult<Session> {
        let (dir, mut state, locks) = Self::open_locked(logs_dir, id, check_rollbackable)?;
        let config: MigrationConfig = store::read_json(&dir, store::CONFIG_FILE)?;
        Self::recover(&mut state)?;
        state.process_id = std::process::id();
        let session = Self::assemble(dir, config, SessionKind::Rollback, state, locks, Vec::new())?;
        session.log(&format!(
            "opened for rollback by pid {} on {}",
            std::process::id(),
            lock::hostname()
        ));
        Ok(session)
    }

    /// Validates the id, checks the status, takes both locks and reloads the
    /// state under them (another process may have changed it meanwhile).
    fn open_locked(
        logs_dir: &Path,
        id: &str,
        allowed: fn(&MigrationState) -> StateResult<()>,
    ) -> StateResult<(PathBuf, MigrationState, Vec<LockGuard>)> {
        let dir = existing_dir(logs_dir, id)?;
        let peek = store::load(&dir)?;
        allowed(&peek)?;
        let target_lock = lock_target(logs_dir, &peek.target_env, id)?;
        let migration_lock = lock_migration(&dir, id)?;
        let state = store::load(&dir)?;
        allowed(&state)?;
        Ok((dir, state, vec![target_lock, migration_lock]))
    }

    /// A run that died left `running` and `in_progress` behind; under our lock
    /// we know nobody works on it, so those mean "interrupted".
    fn recover(state: &mut MigrationState) -> StateResult<usize> {
        let reset = state.recover_interrupted();
        if matches!(
            state.status,
            MigrationStatus::Running | MigrationStatus::Initializing
        ) {
            state.set_status(MigrationStatus::Paused)?;
        }
        Ok(reset)
    }

    fn assemble(
        dir: PathBuf,
        config: MigrationConfig,
        kind: SessionKind,
        state: MigrationState,
        locks: Vec<LockGuard>,
        to_process: Vec<SiteId>,
    ) -> StateResult<Session> {
        let mut journal = Journal::open(&dir)?;
        // A fresh snapshot also drops a torn journal tail a killed writer left,
        // which our appends would otherwise extend into a corrupt line.
        store::compact(&dir, &state, &mut journal)?;
        let log = ProgressLog::open(&dir)?;
        Ok(Session {
            dir,
            config,
            kind,
            run_start: Utc::now(),
            to_process,
            inner: Mutex::new(Inner {
                state,
                journal,
                log,
                since_compact: 0,
            }),
            locks,
        })
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        // A worker that panicked mid-transition never applied it in memory
        // (changes are applied after they are durable), so the state is sound.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What taking the locks found worth a warning (the logs dir's
    /// permissions), for the caller to say.
    pub fn notices(&self) -> Vec<String> {
        self.locks
            .iter()
            .filter_map(|l| l.notice().map(str::to_string))
            .collect()
    }

    /// The migration id.
    pub fn id(&self) -> String {
        self.config.migration_id.clone()
    }

    /// The migration directory.
    pub fn dir(&self) -> PathBuf {
        self.dir.clone()
    }

    /// Create/resume or rollback.
    pub fn kind(&self) -> SessionKind {
        self.kind
    }

    /// A copy of the current state. O(sites): per-site code asks
    /// [`Session::site`] instead.
    pub fn snapshot(&self) -> MigrationState {
        self.inner().state.clone()
    }

    /// A copy of one site's current record.
    pub fn site(&self, id: SiteId) -> Option<SiteRecord> {
        self.inner().state.site(id).cloned()
    }

    /// What the migration was created with.
    pub fn config(&self) -> MigrationConfig {
        self.config.clone()
    }

    /// Appends an event to `migration-progress.log`. Never put secrets in it.
    pub fn log(&self, line: &str) {
        self.inner().log.line(line);
    }

    /// The sites this run processes, fixed when the run started (docs/phases.md).
    pub fn sites_to_process(&self) -> Vec<SiteId> {
        self.to_process.clone()
    }

    /// Whether phase `p` completed in an earlier run (or this one).
    pub fn is_phase_completed(&self, p: Phase) -> bool {
        self.inner().state.phase(p).status == PhaseStatus::Completed
    }

    /// Records every non-site change with a snapshot (they are few per run).
    fn change(
        &self,
        event: &str,
        f: impl FnOnce(&mut MigrationState) -> StateResult<()>,
    ) -> StateResult<()> {
        let mut g = self.inner();
        let Inner {
            state,
            journal,
            log,
            since_compact,
        } = &mut *g;
        let mut next = state.clone();
        f(&mut next)?;
        next.last_save_time = Utc::now();
        store::compact(&self.dir, &next, journal)?;
        *state = next;
        *since_compact = 0;
        log.line(event);
        Ok(())
    }

    /// Records one journal op, durable before return, then applies it in memory.
    fn journal(&self, g: &mut Inner, op: JournalOp, event: &str) -> StateResult<()> {
        let now = Utc::now();
        let rec = JournalRecord {
            seq: g.state.journal_seq + 1,
            time: now,
            op,
        };
        g.journal.append(&rec)?;
        match rec.op {
            JournalOp::Site(site) => g.state.put_site(site)?,
            JournalOp::RollbackSite(id) => {
                if let Some(r) = g.state.rollback.as_mut() {
                    r.sites_done.push(id);
                }
            }
        }
        g.state.journal_seq = rec.seq;
        g.state.last_save_time = now;
        g.since_compact += 1;
        g.log.line(event);
        if g.since_compact >= compact_every(g.state.sites().len()) {
            store::compact(&self.dir, &g.state, &mut g.journal)?;
            g.since_compact = 0;
        }
        Ok(())
    }

    /// One site transition; a non-empty `from` narrows the statuses it may
    /// start from (the model allows `in_progress` → `in_progress` for retries
    /// only, not for a second start).
    fn site_change(
        &self,
        id: SiteId,
        (from, to): (&[SiteStatus], SiteStatus),
        event: impl FnOnce(&SiteRecord) -> String,
        edit: impl FnOnce(&mut SiteRecord),
    ) -> StateResult<()> {
        let mut g = self.inner();
        let cur = g.state.site(id).map(|r| r.status);
        if let Some(cur) = cur {
            if !from.is_empty() && !from.contains(&cur) {
                return Err(TransitionError::Site {
                    id: self.id(),
                    site: id,
                    from: cur,
                    to,
                }
                .into());
            }
        }
        let mut rec = g.state.next_site(id, to, Utc::now())?;
        edit(&mut rec);
        let line = event(&rec);
        self.journal(&mut g, JournalOp::Site(rec), &line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn new_migration(sites: Vec<SiteId>) -> NewMigration {
        NewMigration {
            source: "prod".into(),
            target: "uat".into(),
            options: MigrationOptions {
                concurrency: Some(4),
                ..Default::default()
            },
            fingerprints: BTreeMap::from([
                ("prod".into(), "aa".into()),
                ("uat".into(), "bb".into()),
            ]),
            sites,
            decided: Default::default(),
        }
    }

    /// The typed state error a session call failed with.
    fn state_error(e: &anyhow::Error) -> &StateError {
        e.downcast_ref::<StateError>()
            .unwrap_or_else(|| panic!("not a state error: {e:#}"))
    }

    #[test]
    fn create_run_finish_resume() {
        let tmp = tempfile::tempdir().unwrap();
        let s = Session::create(tmp.path(), new_migration(vec![1, 2, 3, 4])).unwrap();
        let id = s.id();
        assert_eq!(s.sites_to_process(), vec![1, 2, 3, 4]);
        s.phase_started(Phase::Sites).unwrap();
        s.site_started(1).unwrap();
        s.site_completed(
            1,
            SiteStats {
                tables: 3,
                rows: 10,
                bytes: 100,
            },
        )
        .unwrap();
        s.site_started(2).unwrap();
        s.site_retrying(2, ErrorKind::Connection, "gone away")
            .unwrap();
        s.site_failed(2, ErrorKind::Connection, "gone away")
            .unwrap();
        s.site_started(3).unwrap();
        s.site_failed(3, ErrorKind::Timeout, "20 min").unwrap();
        // A second session on the same migration/target is refused while we hold it.
        let e = Session::resume(tmp.path(), &id, ResumeRequest::default()).unwrap_err();
        assert!(matches!(state_error(&e), StateError::Locked(_)), "{e:#}");
        assert!(Session::create(tmp.path(), new_migration(vec![1])).is_err());
        let on_disk = store::load(&s.dir()).unwrap();
        assert_eq!(on_disk, s.snapshot());
        assert_eq!(s.outcome(), MigrationStatus::Failed);
        let sum = s
            .finish(
                MigrationStatus::Failed,
                serde_json::json!({"slowestSites": [1]}),
            )
            .unwrap();
        assert_eq!(
            (
                sum.sites.completed,
                sum.sites.failed,
                sum.sites.timeout,
                sum.sites.pending
            ),
            (1, 1, 1, 1)
        );
        assert!(tmp.path().join(&id).join(store::SUMMARY_FILE).exists());

        let req = |sf, st, rf| ResumeRequest {
            skip_failed: sf,
            skip_timeouts: st,
            retry_failed: rf,
            ..Default::default()
        };
        let r = Session::resume(tmp.path(), &id, req(false, false, true)).unwrap();
        assert_eq!(r.sites_to_process(), vec![2, 3]);
        assert_eq!(r.snapshot().runs, 2);
        drop(r); // crash path: stays resumable
        let r = Session::resume(tmp.path(), &id, req(true, false, false)).unwrap();
        assert_eq!(r.sites_to_process(), vec![3, 4]);
        let sel_default = Session::resume(tmp.path(), &id, ResumeRequest::default());
        assert!(sel_default.is_err(), "locked");
        drop(r);
        let r = Session::resume(tmp.path(), &id, ResumeRequest::default()).unwrap();
        assert_eq!(r.sites_to_process(), vec![2, 3, 4]);
        assert_eq!(r.snapshot().runs, 4);
        for id in [2, 3, 4] {
            r.site_started(id).unwrap();
            r.site_completed(id, SiteStats::default()).unwrap();
        }
        assert_eq!(r.outcome(), MigrationStatus::Completed);
        r.finish(MigrationStatus::Completed, serde_json::Value::Null)
            .unwrap();
        let e = Session::resume(tmp.path(), &id, ResumeRequest::default()).unwrap_err();
        assert!(state_error(&e).is_usage(), "{e:#}");
        assert!(e.to_string().contains("nothing left to resume"), "{e}");
    }

    #[test]
    fn crash_leaves_in_progress_sites_pending_on_resume() {
        let tmp = tempfile::tempdir().unwrap();
        let s = Session::create(tmp.path(), new_migration(vec![1, 2])).unwrap();
        let id = s.id();
        s.site_started(1).unwrap();
        drop(s);
        assert_eq!(
            store::load(&tmp.path().join(&id)).unwrap().status,
            MigrationStatus::Running
        );
        let r = Session::resume(tmp.path(), &id, ResumeRequest::default()).unwrap();
        let st = r.snapshot();
        assert_eq!(st.site(1).unwrap().status, SiteStatus::Pending);
        assert_eq!(st.site(1).unwrap().attempts, 1);
        assert_eq!(st.status, MigrationStatus::Running);
        assert_eq!(r.sites_to_process(), vec![1, 2]);
    }

    #[test]
    fn fingerprint_mismatch_needs_force() {
        let tmp = tempfile::tempdir().unwrap();
        let s = Session::create(tmp.path(), new_migration(vec![1])).unwrap();
        let id = s.id();
        s.finish(MigrationStatus::Paused, serde_json::Value::Null)
            .unwrap();
        let fp = BTreeMap::from([
            ("prod".into(), "aa".into()),
            ("uat".into(), "CHANGED".into()),
        ]);
        let e = Session::resume(
            tmp.path(),
            &id,
            ResumeRequest {
                fingerprints: fp.clone(),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert!(state_error(&e).is_usage(), "{e:#}");
        assert!(
            e.to_string().contains("uat") && e.to_string().contains("--force"),
            "{e}"
        );
        Session::resume(
            tmp.path(),
            &id,
            ResumeRequest {
                fingerprints: fp,
                force: true,
                ..Default::default()
            },
        )
        .unwrap();
    }

    #[test]
    fn illegal_calls_are_rejected_and_change_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let s = Session::create(tmp.path(), new_migration(vec![1])).unwrap();
        let before = s.snapshot();
        assert!(
            s.site_completed(1, SiteStats::default()).is_err(),
            "pending -> completed"
        );
        assert!(s.site_started(99).is_err());
        assert!(s.phase_completed(Phase::Sites).is_err());
        assert!(
            s.site_retrying(1, ErrorKind::Sql, "x").is_err(),
            "pending -> retrying"
        );
        assert!(s.rollback_started().is_err(), "not a rollback session");
        assert!(s.rollback_site_done(1).is_err(), "not a rollback session");
        assert_eq!(s.snapshot(), before);
        s.site_started(1).unwrap();
        assert!(s.site_started(1).is_err(), "started twice");
        s.site_retrying(1, ErrorKind::Sql, "x").unwrap();
        assert_eq!(s.snapshot().site(1).unwrap().attempts, 2);
        s.phase_skipped(Phase::Cleanup).unwrap();
        s.phase_started(Phase::Cleanup).unwrap();
        assert!(
            s.phase_started(Phase::Cleanup).is_err(),
            "in_progress -> in_progress"
        );
        // A failure found before the phase was recorded as started is still recorded.
        s.phase_failed(Phase::Preflight, "unreachable").unwrap();
        assert_eq!(
            s.snapshot().phase(Phase::Preflight).status,
            PhaseStatus::Failed
        );
        let e = s
            .finish(MigrationStatus::Completed, serde_json::Value::Null)
            .unwrap_err();
        assert!(e.to_string().contains("not completed"), "{e}");
    }

    #[test]
    fn backups_are_recorded_and_rollback_round_trips() {
        let tmp = tempfile::tempdir().unwrap();
        let s = Session::create(tmp.path(), new_migration(vec![1, 2])).unwrap();
        let id = s.id();
        let b = |name: &str| SiteBackup {
            tables: vec![TableBackup {
                live: "wp_2_posts".into(),
                backup: Some(name.into()),
            }],
            taken_at: Utc::now(),
        };
        s.record_site_backup(2, b("bk0")).unwrap();
        s.record_site_backup(2, b("bk1")).unwrap();
        s.record_network_backup(b("net")).unwrap();
        s.finish(MigrationStatus::Paused, serde_json::Value::Null)
            .unwrap();
        let st = store::load(&tmp.path().join(&id)).unwrap();
        assert_eq!(
            st.site(2).unwrap().backup.as_ref().unwrap().tables[0]
                .backup
                .as_deref(),
            Some("bk1")
        );

        let r = Session::open_for_rollback(tmp.path(), &id).unwrap();
        r.rollback_started().unwrap();
        r.rollback_site_done(2).unwrap();
        drop(r); // interrupted rollback
        assert!(Session::resume(tmp.path(), &id, ResumeRequest::default()).is_err());
        let r = Session::open_for_rollback(tmp.path(), &id).unwrap();
        assert!(r.is_site_rolled_back(2) && !r.is_site_rolled_back(1));
        r.rollback_started().unwrap();
        r.rollback_network_done().unwrap();
        r.rollback_finished(None).unwrap();
        r.finish(MigrationStatus::RolledBack, serde_json::Value::Null)
            .unwrap();
        assert!(Session::open_for_rollback(tmp.path(), &id).is_err());
        assert_eq!(
            store::load(&tmp.path().join(&id)).unwrap().status,
            MigrationStatus::RolledBack
        );
    }

    #[test]
    fn abandon_marks_cancelled_and_refuses_locked() {
        let tmp = tempfile::tempdir().unwrap();
        let s = Session::create(tmp.path(), new_migration(vec![1])).unwrap();
        let id = s.id();
        assert!(matches!(
            abandon(tmp.path(), &id),
            Err(StateError::Locked(_))
        ));
        drop(s);
        assert_eq!(
            abandon(tmp.path(), &id).unwrap().status,
            MigrationStatus::Cancelled
        );
        assert!(matches!(
            abandon(tmp.path(), &id),
            Err(StateError::WrongStatus { .. })
        ));
        assert!(matches!(
            abandon(tmp.path(), "env-migrate-2025-08-17T12-34-56-zzzzzz"),
            Err(StateError::UnknownId { .. })
        ));
        assert!(matches!(
            abandon(tmp.path(), "nope"),
            Err(StateError::MalformedId(_))
        ));
    }

    #[test]
    fn compaction_keeps_everything() {
        let tmp = tempfile::tempdir().unwrap();
        let n = COMPACT_EVERY + 10;
        let s = Session::create(tmp.path(), new_migration((1..=n).collect())).unwrap();
        for id in 1..=n {
            s.site_started(id).unwrap();
        }
        assert_eq!(store::load(&s.dir()).unwrap(), s.snapshot());
        assert!(
            std::fs::metadata(s.dir().join(store::JOURNAL_FILE))
                .unwrap()
                .len()
                < 10_000
        );
    }

    #[test]
    fn cleanup_removes_unfinished_writes_unless_keep_files() {
        for keep in [false, true] {
            let tmp = tempfile::tempdir().unwrap();
            let mut new = new_migration(vec![1]);
            new.options.keep_files = keep;
            let s = Session::create(tmp.path(), new).unwrap();
            let torn = s.dir().join(".migration-state.json.tmp-999-1");
            std::fs::write(&torn, b"{\"torn").unwrap();
            s.clean_work_dir();
            assert_eq!(torn.exists(), keep, "keep_files = {keep}");
            let log = std::fs::read_to_string(s.dir().join(store::PROGRESS_LOG)).unwrap();
            let said = if keep {
                "1 temporary files of interrupted state writes kept"
            } else {
                "1 temporary files of interrupted state writes removed"
            };
            assert!(log.contains(said), "{log}");
        }
    }
}
