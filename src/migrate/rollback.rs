//! `--rollback` (docs/rollback.md): every site and the network tables swapped back to
//! the backups this migration took, atomically per site, recorded as it goes
//! so that an interrupted rollback continues where it stopped.

use mysql_async::Conn;

use super::cleanup;
use super::failpoint;
use super::names::{check_backup_record, tag, InvalidRecord};
use super::swap::{execute, existing_tables, plan_rollback};
use crate::db::server_lock::TargetLock;
use crate::interrupt::Interrupt;
use crate::sites::SiteId;
use crate::state::model::{Phase, PhaseStatus, SiteBackup, SiteStatus};
use crate::state::{MigrationState, Session};

/// Why a rollback cannot start.
#[derive(Debug, thiserror::Error)]
pub enum RollbackRefusal {
    /// The migration ran with `--skip-backup`.
    #[error("migration {0} ran with --skip-backup: the target's previous tables were dropped, so there is nothing to roll back to")]
    NoBackups(String),
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

/// How a rollback run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RollbackEnd {
    /// The target is as it was before the migration.
    Restored,
    /// Stopped by Ctrl-C / SIGTERM between sites; run `--rollback` again.
    Interrupted,
}

/// The backup records to restore: sites first (by id), then the network (`None`).
pub fn records(state: &MigrationState) -> Vec<(Option<SiteId>, SiteBackup)> {
    let mut out: Vec<(Option<SiteId>, SiteBackup)> = state
        .sites()
        .iter()
        .filter_map(|s| s.backup.clone().map(|b| (Some(s.site_id), b)))
        .collect();
    out.extend(state.network_backup.clone().map(|b| (None, b)));
    out
}

/// Checks every backup record of the state against what the migration can
/// have made, before any of its names reaches a DDL statement.
pub fn check_records(state: &MigrationState, prefix: &str) -> Result<(), InvalidRecord> {
    for (site, backup) in records(state) {
        check_backup_record(&state.migration_id, prefix, site, &backup)?;
    }
    Ok(())
}

/// Refuses a first rollback whose backups are not all there.
pub async fn check_backups(
    conn: &mut Conn,
    state: &MigrationState,
    skip_backup: bool,
) -> Result<(), RollbackRefusal> {
    let id = state.migration_id.clone();
    if skip_backup {
        return Err(RollbackRefusal::NoBackups(id));
    }
    // Statements of a killed run may still be renaming tables.
    let _ = cleanup::settle_orphans(conn, &tag(&id)).await;
    if state.rollback.is_some() {
        // Missing backups now mean "already restored" by the interrupted run.
        return Ok(());
    }
    // A backup plan is recorded before its RENAME, so a migration killed in
    // between holds records whose backup tables never existed (the originals
    // are still live). Only records whose swap surely ran (a completed site,
    // a completed network phase) prove that missing backups were dropped.
    let wanted: Vec<String> = records(state)
        .iter()
        .filter(|(site, _)| swap_done(state, *site))
        .flat_map(|(_, b)| b.tables.iter().filter_map(|t| t.backup.clone()))
        .collect();
    let existing = existing_tables(conn, &wanted).await.unwrap_or_default();
    let missing: Vec<&String> = wanted.iter().filter(|b| !existing.contains(*b)).collect();
    match missing.first() {
        None => Ok(()),
        Some(example) => Err(RollbackRefusal::BackupsGone {
            id,
            missing: missing.len(),
            example: (*example).clone(),
        }),
    }
}

/// Whether the swap of a record (site, or `None` = the network tables) surely ran.
fn swap_done(state: &MigrationState, site: Option<SiteId>) -> bool {
    match site {
        Some(id) => state
            .site(id)
            .is_some_and(|r| r.status == SiteStatus::Completed),
        None => state.phase(Phase::NetworkTables).status == PhaseStatus::Completed,
    }
}

/// Restores every recorded backup not restored yet: the sites on up to
/// `workers` connections of their own (opened with `opts`; each site is one
/// atomic rename, independent of the others), then the network tables on
/// `conn`.
pub async fn restore(
    session: &Session,
    conn: &mut Conn,
    (opts, workers): (&mysql_async::Opts, usize),
    lock: &TargetLock,
    interrupt: &Interrupt,
) -> anyhow::Result<RollbackEnd> {
    let state = session.snapshot();
    let tag = tag(&state.migration_id);
    let stopped = cleanup::settle_orphans(conn, &tag).await?;
    if stopped > 0 {
        session.log(&format!(
            "rollback: waited for {stopped} statements of killed runs to end"
        ));
    }
    session.rollback_started()?;
    let (sites, network): (Vec<_>, Vec<_>) = records(&state)
        .into_iter()
        .partition(|(site, _)| site.is_some());
    let workers = workers.clamp(1, sites.len().max(1));
    let shares: Vec<Vec<(Option<SiteId>, SiteBackup)>> = (0..workers)
        .map(|w| sites.iter().skip(w).step_by(workers).cloned().collect())
        .collect();
    let ends = futures_util::future::try_join_all(shares.into_iter().map(|share| async {
        let mut own = crate::db::roles::target(opts).await?;
        let end = restore_records(session, &mut own, &tag, share, lock, interrupt).await;
        let _ = own.disconnect().await;
        end
    }))
    .await?;
    if ends.contains(&RollbackEnd::Interrupted) {
        return Ok(RollbackEnd::Interrupted);
    }
    if restore_records(session, conn, &tag, network, lock, interrupt).await?
        == RollbackEnd::Interrupted
    {
        return Ok(RollbackEnd::Interrupted);
    }
    let dropped = cleanup::drop_leftovers(conn, &tag).await?;
    if dropped > 0 {
        session.log(&format!(
            "rollback: dropped {dropped} leftover staging tables"
        ));
    }
    Ok(RollbackEnd::Restored)
}

/// Swaps back the backups of `records`, one after the other, on `conn`.
async fn restore_records(
    session: &Session,
    conn: &mut Conn,
    tag: &str,
    records: Vec<(Option<SiteId>, SiteBackup)>,
    lock: &TargetLock,
    interrupt: &Interrupt,
) -> anyhow::Result<RollbackEnd> {
    for (site, backup) in records {
        if interrupt.is_set() {
            return Ok(RollbackEnd::Interrupted);
        }
        lock.ensure().await?;
        let done = match site {
            Some(id) => session.is_site_rolled_back(id),
            None => session.is_network_rolled_back(),
        };
        if done {
            continue;
        }
        let probe: Vec<String> = backup
            .tables
            .iter()
            .flat_map(|t| std::iter::once(t.live.clone()).chain(t.backup.clone()))
            .collect();
        let existing = existing_tables(conn, &probe).await?;
        execute(conn, &plan_rollback(tag, &backup, &existing)).await?;
        failpoint::hit("rollback_site_swapped");
        match site {
            Some(id) => session.rollback_site_done(id)?,
            None => session.rollback_network_done()?,
        }
    }
    Ok(RollbackEnd::Restored)
}
