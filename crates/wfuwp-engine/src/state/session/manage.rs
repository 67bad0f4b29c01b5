//! Changes to a migration made outside a run: `--abandon`, and the mark a
//! later migration leaves when its completion dropped this one's backups.

use std::path::Path;

use chrono::Utc;

use super::*;

/// Marks migration `id` cancelled (`--abandon`). Refuses while another process
/// holds its lock (exit 4) and for completed, cancelled or rolled-back ones.
pub fn abandon(logs_dir: &Path, id: &str) -> StateResult<MigrationState> {
    let dir = existing_dir(logs_dir, id)?;
    let check = |s: &MigrationState| {
        match s.status {
        MigrationStatus::Cancelled => Err(wrong(s, "it is already abandoned; nothing to do.")),
        MigrationStatus::Completed => Err(wrong(s, "a completed migration cannot be abandoned. To undo it, use `wfuwp env-migrate --rollback ID`.")),
        MigrationStatus::RolledBack => Err(wrong(s, "it was rolled back and is no longer resumable; nothing to do.")),
        _ => Ok(()),
    }
    };
    check(&store::load(&dir)?)?;
    let _lock = lock_migration(&dir, id)?;
    let mut state = store::load(&dir)?;
    check(&state)?;
    store::remove_stale_temps(&dir);
    state.recover_interrupted();
    state.set_status(MigrationStatus::Cancelled)?;
    state.last_save_time = Utc::now();
    let mut journal = Journal::open(&dir)?;
    store::compact(&dir, &state, &mut journal)?;
    ProgressLog::open(&dir)?.line(&format!(
        "abandoned by pid {} on {}; no longer resumable",
        std::process::id(),
        lock::hostname()
    ));
    Ok(state)
}

/// Records in migration `id` that `by` (a later migration to the same target)
/// dropped its backups: it holds none any more and cannot be rolled back.
/// Skipped (returns false) while another process holds its lock.
pub fn mark_superseded(logs_dir: &Path, id: &str, by: &str) -> StateResult<bool> {
    let dir = existing_dir(logs_dir, id)?;
    let _lock = match lock_migration(&dir, id) {
        Ok(l) => l,
        Err(StateError::Locked(_)) => return Ok(false),
        Err(e) => return Err(e),
    };
    let mut state = store::load(&dir)?;
    if state.superseded_by.as_deref() == Some(by) {
        return Ok(true);
    }
    // A migration that replaced no table (an empty target) kept no backup:
    // nothing of it was dropped, and its rollback still works.
    let kept_backups = state
        .sites()
        .iter()
        .filter_map(|s| s.backup.as_ref())
        .chain(state.network_backup.as_ref())
        .any(|b| b.tables.iter().any(|t| t.backup.is_some()));
    if !kept_backups {
        return Ok(false);
    }
    store::remove_stale_temps(&dir);
    state.superseded_by = Some(by.to_string());
    state.backup_bytes = Some(0);
    state.last_save_time = Utc::now();
    let mut journal = Journal::open(&dir)?;
    store::compact(&dir, &state, &mut journal)?;
    ProgressLog::open(&dir)?.line(&format!(
        "superseded by {by}: its completion dropped this migration's backups; rollback is no longer possible"
    ));
    Ok(true)
}
