//! The swaps back: every recorded backup not restored yet, the sites on
//! connections of their own, then the network tables.

use mysql_async::Conn;

use super::records::records;
use super::{RollbackEnd, RollbackIncomplete};
use crate::db::server_lock::TargetLock;
use crate::failpoints;
use crate::ledger;
use crate::media::undo::Backups;
use crate::media::MediaRun;
use crate::names::{prefix, tag, Role};
use crate::sites::SiteId;
use crate::state::model::SiteBackup;
use crate::state::{MigrationState, Session};
use crate::stop::Stop;
use crate::tables::leftovers;
use crate::tables::swap::{execute, existing_tables, plan_rollback};

/// Restores every recorded backup not restored yet: the sites on up to
/// `workers` connections of their own (opened with `opts`; each site is one
/// atomic rename, independent of the others), then the network tables on
/// `conn`.
pub async fn restore(
    session: &Session,
    conn: &mut Conn,
    (opts, workers): (&mysql_async::Opts, usize),
    lock: &TargetLock,
    stop: &Stop,
) -> anyhow::Result<RollbackEnd> {
    let state = session.snapshot();
    let tag = tag(&state.migration_id);
    let stopped = leftovers::settle_orphans(conn, &tag).await?;
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
        let end = restore_records(session, &mut own, &tag, share, lock, stop).await;
        let _ = own.disconnect().await;
        end
    }))
    .await?;
    if ends.contains(&RollbackEnd::Interrupted) {
        return Ok(RollbackEnd::Interrupted);
    }
    if restore_records(session, conn, &tag, network, lock, stop).await? == RollbackEnd::Interrupted
    {
        return Ok(RollbackEnd::Interrupted);
    }
    let dropped = leftovers::drop_leftovers(conn, &tag).await?;
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
    stop: &Stop,
) -> anyhow::Result<RollbackEnd> {
    for (site, backup) in records {
        if stop.is_set() {
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
        failpoints::hit("rollback_site_swapped");
        match site {
            Some(id) => session.rollback_site_done(id)?,
            None => session.rollback_network_done()?,
        }
    }
    Ok(RollbackEnd::Restored)
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
        for t in leftovers::tables_with_prefix(conn, &prefix(role, &tag)).await? {
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

/// Restores the target bucket's objects the migration overwrote or added.
pub async fn restore_media(
    run: &MediaRun,
    backups: &Backups,
    session: &Session,
) -> anyhow::Result<()> {
    let n = backups.restore(&run.target).await?;
    session.log(&format!("media rollback: {n} objects restored or removed"));
    Ok(())
}
