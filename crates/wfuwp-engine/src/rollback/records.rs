//! The backup records of a migration's state, checked before a rollback
//! trusts them: against what the migration can have made, the target's
//! ledger and the tables the target holds.

use std::collections::BTreeSet;

use mysql_async::Conn;

use super::RollbackRefusal;
use crate::ledger::{self, Ledger, RowState, TableAction};
use crate::media::undo::Backups;
use crate::media::MediaRun;
use crate::names::{check_backup_record, tag, InvalidRecord};
use crate::sites::SiteId;
use crate::state::model::{Phase, PhaseStatus, SiteBackup, SiteStatus};
use crate::state::MigrationState;
use crate::tables::leftovers;
use crate::tables::swap::existing_tables;

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
    let _ = leftovers::settle_orphans(conn, &tag(&id)).await;
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

/// Whether the swap of a record (site, or `None` = the network tables) surely ran.
fn swap_done(state: &MigrationState, site: Option<SiteId>) -> bool {
    match site {
        Some(id) => state
            .site(id)
            .is_some_and(|r| r.status == SiteStatus::Completed),
        None => state.phase(Phase::NetworkTables).status == PhaseStatus::Completed,
    }
}

/// Refuses a first rollback when fewer originals of the target's uploads
/// are kept than the state recorded keeping (a later migration's cleanup or
/// someone deleting objects removed them).
pub async fn check_media_backups(
    run: &MediaRun,
    backups: &Backups,
    state: &MigrationState,
) -> anyhow::Result<()> {
    let recorded: Vec<(SiteId, u64)> = state
        .sites()
        .iter()
        .filter_map(|r| r.media.as_ref().map(|m| (r.site_id, m.backed_up)))
        .filter(|(_, n)| *n > 0)
        .collect();
    if recorded.is_empty() {
        return Ok(());
    }
    let sites: Vec<_> = recorded.iter().map(|(s, _)| *s).collect();
    let found = backups.originals_by_site(&run.target, &sites).await?;
    let missing: Vec<String> = recorded
        .iter()
        .filter_map(|&(site, kept)| {
            let left = found.get(&site).copied().unwrap_or(0);
            (left < kept).then(|| {
                format!(
                    "site {site}: {} of {kept} kept originals are missing from s3://{}/{}objects/",
                    kept - left,
                    run.target.name(),
                    backups.root
                )
            })
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(RollbackRefusal::MediaBackupsGone {
        id: state.migration_id.clone(),
        missing,
    }
    .into())
}
