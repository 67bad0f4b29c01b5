//! Listing migrations of a logs dir and finding resumable ones (docs/phases.md).

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::error::{io, StateError, StateResult};
use super::lock::{self, LockInfo};
use super::model::{MigrationState, MigrationStatus, Phase};
use super::store;
use super::summary::{LeftoverTotals, MediaTotals};

/// One migration as `--list-migrations` shows it: the state file's field
/// names (without the per-site list) plus who holds its lock.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListedMigration {
    /// The id.
    pub migration_id: String,
    /// Source environment.
    pub source_env: String,
    /// Target environment.
    pub target_env: String,
    /// Status as recorded (a `running` one without a lock holder was interrupted).
    pub status: MigrationStatus,
    /// The phase started last.
    pub current_phase: Option<Phase>,
    /// Creation.
    pub start_time: DateTime<Utc>,
    /// End of the latest run.
    pub end_time: Option<DateTime<Utc>>,
    /// Latest recorded change.
    pub last_save_time: DateTime<Utc>,
    /// Pid of the latest run.
    pub process_id: u32,
    /// Runs so far.
    pub runs: u32,
    /// All sites.
    pub total_sites: u64,
    /// Completed sites.
    pub completed_sites: u64,
    /// Failed sites.
    pub failed_sites: u64,
    /// Timed-out sites.
    pub timeout_sites: u64,
    /// Skipped sites.
    pub skipped_sites: u64,
    /// Sites not started yet (or interrupted).
    pub pending_sites: u64,
    /// Of `completedSites`: left alone as unchanged (`--changed-only`).
    pub unchanged_sites: u64,
    /// Of `skippedSites`: left alone as drifted (`--changed-only`).
    pub drifted_sites: u64,
    /// Seconds from creation to the end (or the latest change).
    pub duration_seconds: i64,
    /// The live process holding the migration's lock, if any.
    pub locked_by: Option<LockInfo>,
    /// Whether `--resume` would accept it now.
    pub resumable: bool,
    /// Space held by its backup tables on the target, when measured.
    pub backup_bytes: Option<u64>,
    /// The later migration whose completion dropped its backups, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub superseded_by: Option<String>,
    /// Uploads copied so far, when the migration copies them (the same
    /// totals as the summary's `media`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media: Option<MediaTotals>,
    /// Values each scrub rule changed in the last run that wrote a summary
    /// (its `scrubbed`; docs/scrub.md), when the target scrubs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scrubbed: Option<std::collections::BTreeMap<String, u64>>,
    /// The sites whose latest copy still mentions the source (the same as
    /// the summary's `leftovers`, docs/hosts.md).
    pub leftovers: LeftoverTotals,
    /// Its directory.
    #[serde(skip)]
    pub dir: PathBuf,
}

impl ListedMigration {
    fn of(state: &MigrationState, dir: PathBuf, locked_by: Option<LockInfo>) -> Self {
        let c = state.counts();
        let end = match (&locked_by, state.end_time) {
            (Some(_), _) => Utc::now(),
            (None, Some(e)) => e,
            (None, None) => state.last_save_time,
        };
        ListedMigration {
            migration_id: state.migration_id.clone(),
            source_env: state.source_env.clone(),
            target_env: state.target_env.clone(),
            status: state.status,
            current_phase: state.current_phase,
            start_time: state.start_time,
            end_time: state.end_time,
            last_save_time: state.last_save_time,
            process_id: state.process_id,
            runs: state.runs,
            total_sites: c.total,
            completed_sites: c.completed,
            failed_sites: c.failed,
            timeout_sites: c.timeout,
            skipped_sites: c.skipped,
            pending_sites: c.pending + c.in_progress,
            unchanged_sites: c.unchanged,
            drifted_sites: c.drifted,
            duration_seconds: (end - state.start_time).num_seconds().max(0),
            resumable: locked_by.is_none()
                && state.status.is_resumable()
                && state.rollback.is_none()
                && state.superseded_by.is_none(),
            backup_bytes: state.backup_bytes,
            superseded_by: state.superseded_by.clone(),
            media: MediaTotals::of(state),
            scrubbed: scrubbed_of(&dir),
            leftovers: LeftoverTotals::of(state),
            locked_by,
            dir,
        }
    }
}

/// The `scrubbed` counts of the migration's last summary. Best effort: a
/// summary that is missing or unreadable only leaves them out.
fn scrubbed_of(dir: &std::path::Path) -> Option<std::collections::BTreeMap<String, u64>> {
    let text = std::fs::read_to_string(dir.join(super::store::SUMMARY_FILE)).ok()?;
    let summary: serde_json::Value = serde_json::from_str(&text).ok()?;
    serde_json::from_value(summary.get("scrubbed")?.clone()).ok()
}

/// What a scan of the logs dir found.
#[derive(Debug, Default)]
pub struct Listing {
    /// Readable migrations, newest first.
    pub migrations: Vec<ListedMigration>,
    /// Migration directories whose state could not be read (each error names the file and reason).
    pub problems: Vec<StateError>,
}

/// Lists the migrations of `logs_dir`, newest first: incomplete ones, or all
/// with `include_all`. Reads only; a missing logs dir lists nothing.
pub fn list_migrations(logs_dir: &Path, include_all: bool) -> StateResult<Listing> {
    let entries = match std::fs::read_dir(logs_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Listing::default()),
        Err(e) => return Err(io("read the logs dir", logs_dir)(e)),
    };
    let mut ids: Vec<String> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| super::id::validate(n).is_ok())
        .collect();
    // The id starts with its UTC creation time, so name order is age order.
    ids.sort_unstable_by(|a, b| b.cmp(a));
    let mut listing = Listing::default();
    for id in ids {
        let dir = store::migration_dir(logs_dir, &id);
        match read_one(&dir) {
            Ok(m) if include_all || m.status.is_incomplete() => listing.migrations.push(m),
            Ok(_) => {}
            Err(e) => listing.problems.push(e),
        }
    }
    // Ids have one-second resolution; the recorded start time breaks ties.
    listing.migrations.sort_by(|a, b| {
        b.start_time
            .cmp(&a.start_time)
            .then_with(|| b.migration_id.cmp(&a.migration_id))
    });
    Ok(listing)
}

fn read_one(dir: &Path) -> StateResult<ListedMigration> {
    let state = store::load(dir)?;
    let holder = lock::probe(&dir.join(store::LOCK_FILE))?;
    Ok(ListedMigration::of(&state, dir.to_path_buf(), holder))
}

/// Incomplete, unlocked migrations from `source` to `target`, newest first
/// (resume detection for `wfuwp env-migrate SOURCE TARGET`).
pub fn find_resumable(
    logs_dir: &Path,
    source: &str,
    target: &str,
) -> StateResult<Vec<ListedMigration>> {
    let listing = list_migrations(logs_dir, false)?;
    Ok(listing
        .migrations
        .into_iter()
        .filter(|m| m.resumable && m.source_env == source && m.target_env == target)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{MigrationStatus, NewMigration, Session};

    fn new(source: &str, target: &str) -> NewMigration {
        NewMigration {
            source: source.into(),
            target: target.into(),
            sites: vec![1, 2],
            decided: Default::default(),
            ..Default::default()
        }
    }

    #[test]
    fn lists_newest_first_with_lock_holders() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(list_migrations(&tmp.path().join("missing"), true)
            .unwrap()
            .migrations
            .is_empty());
        let a = Session::create(tmp.path(), new("prod", "uat")).unwrap();
        let a_id = a.id();
        a.finish(MigrationStatus::Paused, serde_json::Value::Null)
            .unwrap();
        let b = Session::create(tmp.path(), new("prod", "dev")).unwrap();
        let c = Session::create(tmp.path(), new("prod", "pprd")).unwrap();
        c.site_started(1).unwrap();
        c.site_completed(1, Default::default()).unwrap();
        let c_id = c.id();
        c.finish(MigrationStatus::Failed, serde_json::Value::Null)
            .unwrap();
        crate::state::abandon(tmp.path(), &c_id).unwrap();
        let l = list_migrations(tmp.path(), false).unwrap();
        assert!(l.problems.is_empty());
        let ids: Vec<_> = l
            .migrations
            .iter()
            .map(|m| m.migration_id.clone())
            .collect();
        assert_eq!(ids, vec![b.id(), a_id.clone()], "newest first");
        let running = l
            .migrations
            .iter()
            .find(|m| m.migration_id == b.id())
            .unwrap();
        assert_eq!(
            running.locked_by.as_ref().map(|i| i.pid),
            Some(std::process::id())
        );
        assert!(!running.resumable);
        let all = list_migrations(tmp.path(), true).unwrap();
        assert_eq!(all.migrations.len(), 3);
        assert_eq!(
            all.migrations
                .iter()
                .find(|m| m.migration_id == c_id)
                .unwrap()
                .completed_sites,
            1
        );
        let found = find_resumable(tmp.path(), "prod", "uat").unwrap();
        assert_eq!(
            found
                .iter()
                .map(|m| m.migration_id.clone())
                .collect::<Vec<_>>(),
            vec![a_id]
        );
        assert!(
            find_resumable(tmp.path(), "prod", "dev")
                .unwrap()
                .is_empty(),
            "locked ones are not resumable"
        );
    }
}
