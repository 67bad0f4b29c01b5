//! The cleanup phase (docs/phases.md): leftover staging and trash tables,
//! backup retention (the newest migration per target keeps its backups, in
//! this logs dir, in the target's ledger and in the target's bucket), and
//! the space the backups hold.

use anyhow::Result;

use super::engine::Engine;
use crate::db::roles;
use crate::failpoints;
use crate::ledger;
use crate::state::model::{MigrationStatus, Phase};
use crate::tables::leftovers;

/// The cleanup phase: leftovers dropped, superseded backups dropped when
/// this migration completed, backup space measured. Returns the backup bytes.
pub(super) async fn phase(engine: &Engine, completed: bool) -> Result<u64> {
    let s = &engine.session;
    s.phase_started(Phase::Cleanup)?;
    failpoints::hit("cleanup_started");
    let mut target = roles::target(&engine.target.opts).await?;
    let dropped = leftovers::drop_all_leftovers(&mut target).await?;
    if dropped > 0 {
        s.log(&format!(
            "cleanup: dropped {dropped} leftover staging tables"
        ));
    }
    if completed {
        let old = leftovers::drop_superseded_backups(&mut target, &engine.tag).await?;
        if old > 0 {
            s.log(&format!(
                "cleanup: dropped {old} backup tables of earlier migrations to {}",
                engine.target.env
            ));
        }
        mark_superseded(engine);
        let older = superseded_in_ledger(engine, &mut target).await;
        if let (Some(run), Some(older)) = (&engine.media, older) {
            // Only migrations into this database AND this bucket and prefix:
            // another target's backups may share the bucket (docs/media.md).
            let ours = run.target.config.identity();
            let ids: Vec<String> = older
                .into_iter()
                .filter(|m| m.bucket.as_deref() == Some(ours.as_str()))
                .map(|m| m.id)
                .collect();
            // Like the tables above, best effort: a failure leaves old backup
            // objects behind (reported), never fails a completed migration.
            match run.drop_superseded_backups(&ids).await {
                Ok(0) => {}
                Ok(n) => s.log(&format!(
                    "cleanup: deleted {n} media backup objects of earlier migrations"
                )),
                Err(e) => engine.warn(format!(
                    "cleanup: media backups of earlier migrations stay: {e}"
                )),
            }
        }
    }
    let bytes = leftovers::backup_bytes(&mut target, &engine.target.database, &engine.tag).await?;
    let _ = target.disconnect().await;
    s.set_backup_bytes(bytes)?;
    s.clean_work_dir();
    s.phase_completed(Phase::Cleanup)?;
    failpoints::hit("cleanup_finished");
    Ok(bytes)
}

/// The migrations the target's ledger recorded before this one, marked
/// there as superseded when they kept backups (their backup tables were
/// just dropped). `None` when the ledger cannot be read: then nothing
/// else of theirs is deleted.
async fn superseded_in_ledger(
    engine: &Engine,
    target: &mut mysql_async::Conn,
) -> Option<Vec<ledger::MigrationEntry>> {
    let s = &engine.session;
    let id = s.id();
    let read = ledger::read(target, &engine.target.database).await;
    let found = match read {
        Ok(l) => l,
        Err(e) => {
            engine.warn(format!(
                "cleanup: the target's ledger could not be read, so older migrations are not marked \
                 superseded there and their media backups stay: {e}"
            ));
            return None;
        }
    };
    let older: Vec<ledger::MigrationEntry> =
        found.recorded_before(&id).into_iter().cloned().collect();
    let kept_backups: Vec<&str> = older
        .iter()
        .filter(|m| {
            m.kept_backups && m.superseded_by.is_none() && m.status != MigrationStatus::RolledBack
        })
        .map(|m| m.id.as_str())
        .collect();
    if let Err(e) = ledger::mark_superseded(target, &kept_backups, &id).await {
        s.log(&format!(
            "cleanup: the ledger could not record that {} are superseded: {e}",
            kept_backups.join(", ")
        ));
    }
    Some(older)
}

/// Tells the earlier migrations of this logs dir to the same target that
/// their backups are gone, so their listing and rollback say so. Best effort:
/// the tables are already dropped, a failure here only leaves a stale figure.
fn mark_superseded(engine: &Engine) {
    let s = &engine.session;
    let ours = s.snapshot();
    let Some(logs_dir) = s.dir().parent().map(std::path::Path::to_path_buf) else {
        return;
    };
    let Ok(listing) = crate::state::list_migrations(&logs_dir, true) else {
        return;
    };
    for m in listing.migrations.iter().filter(|m| {
        m.migration_id != ours.migration_id
            && m.target_env == ours.target_env
            && m.start_time <= ours.start_time
            && m.status != MigrationStatus::RolledBack
    }) {
        match crate::state::mark_superseded(&logs_dir, &m.migration_id, &ours.migration_id) {
            Ok(true) => s.log(&format!(
                "cleanup: {} is superseded by this migration",
                m.migration_id
            )),
            Ok(false) => {}
            Err(e) => s.log(&format!(
                "cleanup: could not mark {} superseded: {e}",
                m.migration_id
            )),
        }
    }
}
