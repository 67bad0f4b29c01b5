//! Rollbacks go newest first: a migration may be rolled back only while no
//! later migration that changed the same target still stands.
//!
//! Rolling back an older migration puts back tables that predate the newer
//! one, silently destroying its sites and everything written since (and a
//! migration into an empty target would drop every table). The newer
//! migrations are found in three places: this logs dir (by start time, also
//! under another environment name that reaches the same database), the
//! target's ledger (every migration into it, from any machine or logs dir,
//! `--skip-backup` runs included), and backup tables on the target of
//! migrations neither knows (made before the ledger existed). The same rule
//! refuses resuming a migration that a later one superseded. See
//! `docs/rollback.md`.

use std::collections::BTreeSet;
use std::path::Path;

use chrono::{DateTime, Utc};
use mysql_async::Conn;

use crate::ledger::Ledger;

use crate::config::Config;
use crate::db::{connect, server_lock};
use crate::names::{any_prefix, tag, Role};
use crate::state::model::{MigrationState, MigrationStatus, Phase, PhaseStatus, SiteStatus};
use crate::state::{list_migrations, store};
use crate::tables::leftovers::tables_with_prefix;

/// A rollback refused because later migrations still stand on the target.
#[derive(Debug, thiserror::Error)]
#[error(
    "migration {id} cannot be rolled back: later migrations changed target '{target}' after it and were not rolled back: {}. \
     Rolling it back now would destroy their work. Roll back the newest first (`wfuwp env-migrate --rollback {}`), then this one. \
     Nothing was changed.",
    newer.join("; "),
    newest_id.as_deref().unwrap_or("ID")
)]
pub struct NewerMigrations {
    /// The migration asked to be rolled back.
    pub id: String,
    /// Its target environment.
    pub target: String,
    /// The newer ones, described.
    pub newer: Vec<String>,
    /// The newest one known by id (to name in the advice).
    pub newest_id: Option<String>,
}

/// Whether a migration may have changed its target: a site or the network
/// tables went (or may have gone) live.
pub fn touched_target(s: &MigrationState) -> bool {
    s.network_backup.is_some()
        || s.phase(Phase::NetworkTables).status == PhaseStatus::Completed
        || s.sites().iter().any(|r| {
            r.backup.is_some() || matches!(r.status, SiteStatus::Completed | SiteStatus::InProgress)
        })
}

/// A resume refused because later migrations went live on the target since
/// this one stopped: it would overwrite their sites and drop their backups.
#[derive(Debug, thiserror::Error)]
#[error(
    "migration {id} cannot be resumed: later migrations went live on target '{target}' since it stopped and were not \
     rolled back: {}. Resuming it would overwrite their sites, drop their backups and leave neither migration \
     undoable. Start a new migration instead, or roll back the newer ones first (`wfuwp env-migrate --rollback {}`). \
     Nothing was changed.",
    newer.join("; "),
    newest_id.as_deref().unwrap_or("ID")
)]
pub struct Superseded {
    /// The migration asked to be resumed.
    pub id: String,
    /// Its target environment.
    pub target: String,
    /// The newer ones, described.
    pub newer: Vec<String>,
    /// The newest one known by id (to name in the advice).
    pub newest_id: Option<String>,
}

/// Later migrations that still stand on the target of `ours`, newest first:
/// descriptions and the newest id.
struct Standing {
    newer: Vec<String>,
    newest_id: Option<String>,
}

/// Refuses the rollback of `ours` while a later migration on the same target
/// stands. `target_conn` is a connection to the target database, `ledger`
/// what it recorded.
pub async fn check(
    config: &Config,
    logs_dir: &Path,
    ours: &MigrationState,
    target_conn: &mut Conn,
    ledger: &Ledger,
) -> anyhow::Result<()> {
    let Standing { newer, newest_id } =
        standing(config, logs_dir, ours, target_conn, ledger).await?;
    if newer.is_empty() {
        return Ok(());
    }
    Err(NewerMigrations {
        id: ours.migration_id.clone(),
        target: ours.target_env.clone(),
        newer,
        newest_id,
    }
    .into())
}

/// Refuses the resume of `ours` while a later migration on the same target
/// stands (it superseded this one, or would be overwritten by it).
pub async fn check_resume(
    config: &Config,
    logs_dir: &Path,
    ours: &MigrationState,
    target_conn: &mut Conn,
    ledger: &Ledger,
) -> anyhow::Result<()> {
    let Standing { newer, newest_id } =
        standing(config, logs_dir, ours, target_conn, ledger).await?;
    if newer.is_empty() {
        return Ok(());
    }
    Err(Superseded {
        id: ours.migration_id.clone(),
        target: ours.target_env.clone(),
        newer,
        newest_id,
    }
    .into())
}

/// The later migrations on the target of `ours` that still stand: from this
/// logs dir, from the target's ledger (any logs dir or machine, `--skip-backup`
/// runs included), and backup tables of migrations neither knows.
async fn standing(
    config: &Config,
    logs_dir: &Path,
    ours: &MigrationState,
    target_conn: &mut Conn,
    ledger: &Ledger,
) -> anyhow::Result<Standing> {
    let mut found: Vec<(DateTime<Utc>, String, String)> = Vec::new();
    let mut local_tags = BTreeSet::new();
    let listing = list_migrations(logs_dir, true)?;
    for m in &listing.migrations {
        local_tags.insert(tag(&m.migration_id));
        if m.migration_id == ours.migration_id
            || m.start_time <= ours.start_time
            || m.status == MigrationStatus::RolledBack
            || ledger
                .migrations
                .get(&m.migration_id)
                .is_some_and(|e| e.status == MigrationStatus::RolledBack)
        {
            continue;
        }
        let Ok(state) = store::load(&m.dir) else {
            continue;
        };
        if !touched_target(&state)
            || !same_target(config, ours, &state.target_env, target_conn).await
        {
            continue;
        }
        found.push((
            m.start_time,
            m.migration_id.clone(),
            format!(
                "{} ({}, started {})",
                m.migration_id,
                m.status,
                m.start_time.format("%Y-%m-%d %H:%M:%S UTC")
            ),
        ));
    }
    for m in ledger.standing_after(&ours.migration_id, ours.start_time) {
        if found.iter().any(|(_, id, _)| *id == m.id) {
            continue;
        }
        found.push((
            m.started_at,
            m.id.clone(),
            format!(
                "{} (recorded in the target's ledger: {}, started {}, from {}{})",
                m.id,
                m.status,
                m.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
                m.source,
                if m.keeps_backups {
                    ""
                } else {
                    ", made with --skip-backup"
                }
            ),
        ));
    }
    found.sort_by_key(|f| std::cmp::Reverse(f.0));
    let newest_id = found.first().map(|(_, id, _)| id.clone());
    let mut newer: Vec<String> = found.into_iter().map(|(_, _, text)| text).collect();
    let known: BTreeSet<String> = local_tags
        .into_iter()
        .chain(ledger.migrations.keys().map(|id| tag(id)))
        .collect();
    newer.extend(unknown_on_server(ours, &known, target_conn).await?);
    Ok(Standing { newer, newest_id })
}

/// Whether environment `other` (from this config) is the database `conn`
/// reaches. An environment the config no longer has cannot be asked: it is
/// taken to be the same when its name is.
async fn same_target(config: &Config, ours: &MigrationState, other: &str, conn: &mut Conn) -> bool {
    if other == ours.target_env {
        return true;
    }
    let Ok(env) = config.environment(other) else {
        return false;
    };
    let Ok(mut c) = connect::connect(env).await else {
        return false;
    };
    let same = server_lock::same_database(&mut c, conn)
        .await
        .unwrap_or(false);
    let _ = c.disconnect().await;
    same
}

/// Migrations this logs dir does not know whose backups are on the target,
/// when they must be newer than ours: a completed migration that went live
/// dropped every older migration's backups, so any left are from after it.
async fn unknown_on_server(
    ours: &MigrationState,
    local_tags: &BTreeSet<String>,
    conn: &mut Conn,
) -> anyhow::Result<Vec<String>> {
    let superseded_older = ours.status == MigrationStatus::Completed && ours.counts().completed > 0;
    if !superseded_older {
        return Ok(Vec::new());
    }
    let marker = any_prefix(Role::Backup);
    let tags: BTreeSet<String> = tables_with_prefix(conn, marker)
        .await?
        .iter()
        .filter_map(|t| t.strip_prefix(marker)?.split('_').next().map(String::from))
        .filter(|t| !local_tags.contains(t))
        .collect();
    Ok(tags
        .into_iter()
        .map(|t| {
            format!(
                "a migration from another machine or logs dir (its backup tables {marker}{t}_… are on the target)"
            )
        })
        .collect())
}
