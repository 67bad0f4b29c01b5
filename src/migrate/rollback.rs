//! `--rollback` (docs/rollback.md): every site and the network tables swapped back to
//! the backups this migration took, atomically per site, recorded as it goes
//! so that an interrupted rollback continues where it stopped.

use std::collections::BTreeSet;

use mysql_async::Conn;

use super::cleanup;
use super::failpoint;
use super::ledger::{self, Ledger, RowState, TableAction};
use super::names::{check_backup_record, prefix, tag, InvalidRecord, Role};
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

/// Checks the backup records against the target's ledger, given the
/// `existing` tables among their names: a record without a backup (the
/// table is dropped by the rollback) must be one the ledger says the
/// migration created; a record the ledger contradicts, or a table the
/// ledger says went live that the state does not record, means the state
/// was edited or damaged.
pub fn check_against_ledger(
    state: &MigrationState,
    ledger: &Ledger,
    existing: &BTreeSet<String>,
) -> anyhow::Result<()> {
    let id = &state.migration_id;
    let owner = |site: Option<SiteId>| {
        site.map_or("the network tables".to_string(), |s| format!("site {s}"))
    };
    let invalid = |site: Option<SiteId>, what: &str, table: &str| InvalidRecord {
        migration: id.clone(),
        owner: owner(site),
        what: what.to_string(),
        table: table.to_string(),
    };
    let recorded = records(state);
    for (site, backup) in &recorded {
        let key = site.unwrap_or(ledger::NETWORK);
        for t in &backup.tables {
            let action = ledger.action(id, key, &t.live);
            match (&t.backup, action) {
                (None, Some(TableAction::Created)) => {}
                (None, _) if existing.contains(&t.live) => {
                    return Err(RollbackRefusal::Unconfirmed {
                        id: id.clone(),
                        table: t.live.clone(),
                        owner: owner(*site),
                    }
                    .into())
                }
                (Some(_), Some(a)) if a != TableAction::Backup => {
                    return Err(invalid(
                        *site,
                        "a backup of a table the target's ledger says it did not back up",
                        &t.live,
                    )
                    .into())
                }
                _ => {}
            }
        }
    }
    for (site, table, entry) in ledger.tables_of(id) {
        let site_of = (site != ledger::NETWORK).then_some(site);
        let in_state = recorded
            .iter()
            .any(|(s, b)| *s == site_of && b.tables.iter().any(|t| t.live == table));
        let matters = matches!(
            entry.action,
            Some(TableAction::Backup | TableAction::Created)
        ) && entry.state != RowState::RolledBack;
        if matters && !in_state {
            return Err(invalid(
                site_of,
                "no record of a table the target's ledger says it made live",
                table,
            )
            .into());
        }
    }
    Ok(())
}

/// Refuses a first rollback whose backups are not all there, and records
/// the target's ledger contradicts.
pub async fn check_backups(
    conn: &mut Conn,
    state: &MigrationState,
    skip_backup: bool,
    ledger: &Ledger,
) -> anyhow::Result<()> {
    let id = state.migration_id.clone();
    if skip_backup {
        return Err(RollbackRefusal::NoBackups(id).into());
    }
    // Statements of a killed run may still be renaming tables.
    let _ = cleanup::settle_orphans(conn, &tag(&id)).await;
    let names: Vec<String> = records(state)
        .iter()
        .flat_map(|(_, b)| b.tables.iter())
        .flat_map(|t| std::iter::once(t.live.clone()).chain(t.backup.clone()))
        .collect();
    let present = existing_tables(conn, &names).await?;
    check_against_ledger(state, ledger, &present)?;
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
    let missing: Vec<&String> = wanted.iter().filter(|b| !present.contains(*b)).collect();
    match missing.first() {
        None => Ok(()),
        Some(example) => Err(RollbackRefusal::BackupsGone {
            id,
            missing: missing.len(),
            example: (*example).clone(),
        }
        .into()),
    }
}

/// After a rollback: whether the target holds what it held before, read
/// again from the target rather than assumed from the statements that ran.
/// Every backed-up table is live again and its backup gone, every table
/// the migration created is gone, and no table of the migration is left.
pub async fn verify_restored(conn: &mut Conn, state: &MigrationState) -> anyhow::Result<()> {
    let id = &state.migration_id;
    let recorded = records(state);
    let names: Vec<String> = recorded
        .iter()
        .flat_map(|(_, b)| b.tables.iter())
        .flat_map(|t| std::iter::once(t.live.clone()).chain(t.backup.clone()))
        .collect();
    let present = existing_tables(conn, &names).await?;
    let mut problems = Vec::new();
    for t in recorded.iter().flat_map(|(_, b)| b.tables.iter()) {
        match &t.backup {
            Some(_) if !present.contains(&t.live) => {
                problems.push(format!("{} is missing", t.live))
            }
            None if present.contains(&t.live) => problems.push(format!(
                "{} (created by the migration) is still there",
                t.live
            )),
            _ => {}
        }
    }
    let tag = tag(id);
    for role in [Role::Backup, Role::Staging, Role::Trash] {
        for t in cleanup::tables_with_prefix(conn, &prefix(role, &tag)).await? {
            problems.push(format!("{t} of the migration is still there"));
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    let more = problems.len().saturating_sub(10);
    problems.truncate(10);
    if more > 0 {
        problems.push(format!("and {more} more"));
    }
    Err(RollbackIncomplete {
        id: id.clone(),
        problems,
    }
    .into())
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
        ledger::mark_rolled_back(conn, &session.id(), site.unwrap_or(ledger::NETWORK)).await?;
        failpoint::hit("rollback_site_swapped");
        match site {
            Some(id) => session.rollback_site_done(id)?,
            None => session.rollback_network_done()?,
        }
    }
    Ok(RollbackEnd::Restored)
}
