//! The network_tables phase (docs/phases.md).
//!
//! A full migration replaces `blogs`, `blogmeta`, `site`, `sitemeta` (and
//! `users`, `usermeta` with `--include-users`) by staging copies in one atomic
//! swap, backing up the originals. A migration restricted to some sites only
//! upserts those sites' rows of `blogs` and `blogmeta`, and (unless
//! `--no-users`) their users' rows of `users` and `usermeta`
//! ([`users`]), in one transaction, after keeping a copy of each
//! table as the backup; the rest of the target's network is left alone.

use std::collections::BTreeMap;

use mysql_async::prelude::*;
use mysql_async::Conn;

pub mod users;

use super::addresses::{self, Address};
use super::connections::Connections;
use super::engine::Engine;
use super::errors::SiteError;
use super::retry::{AfterFailure, Retries};
use super::sites::swap::{go_live, Staged};
use crate::db::copy::{copy_table, create_statement};
use crate::db::roles;
use crate::db::sql::{ident, ident_list, RowFilter};
use crate::failpoints;
use crate::ledger::{self, TableAction};
use crate::names::{derived, Role};
use crate::scope;
use crate::sites::SiteId;
use crate::state::model::{
    ErrorKind, Leftovers, MigrationStatus, Phase, SiteBackup, SiteStatus, TableBackup,
};
use crate::state::MigrationOptions;
use crate::stop::Stop;
use crate::tables::swap::{drop_tables, existing_tables};

/// The column of `blogs` and `blogmeta` that names the site a row belongs to.
const SITE_KEY: &str = "blog_id";

/// Which network tables a full migration copies.
pub fn full_table_names(prefix: &str, include_users: bool) -> Vec<String> {
    let mut suffixes = vec!["blogs", "blogmeta", "site", "sitemeta"];
    if include_users {
        suffixes.extend(["users", "usermeta"]);
    }
    suffixes
        .into_iter()
        .map(|s| format!("{prefix}{s}"))
        .collect()
}

/// Which network tables a migration of some sites upserts those sites' rows of.
pub fn partial_table_names(prefix: &str) -> Vec<String> {
    ["blogs", "blogmeta"]
        .iter()
        .map(|s| format!("{prefix}{s}"))
        .collect()
}

/// What the phase does: every network table, or some sites' rows.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    /// A full migration (`--include-users`: users and usermeta too).
    Full {
        /// `--include-users`
        include_users: bool,
    },
    /// A migration of these sites only.
    Partial {
        /// The sites whose rows are upserted.
        sites: &'a [SiteId],
        /// Bring the sites' members and authors along (not `--no-users`).
        users: bool,
    },
}

/// What a completed network phase did.
#[derive(Debug, Default)]
pub struct Copied {
    /// A partial migration's sites it failed (recorded in the state): their
    /// users clash with the target's, or their address is another site's.
    pub failed: Vec<SiteId>,
    /// What of the source the rows it copied still mention (docs/hosts.md).
    pub leftovers: Leftovers,
}

/// Runs the phase on `conns` (the caller's, so that it can kill them when
/// interrupted). Transient failures (connection, deadlock, lock wait
/// timeout) are retried up to `--max-retries` times with backoff, as for
/// sites (docs/phases.md); the phase is idempotent, so a retry redoes it from
/// the start (and its leftover audit with it).
pub async fn run(
    engine: &Engine,
    conns: &mut Connections,
    scope: Scope<'_>,
    stop: &Stop,
) -> Result<Copied, SiteError> {
    let mut retries = Retries::new(engine, stop, "network tables");
    loop {
        let mut leftovers = Leftovers::default();
        let result = match scope {
            Scope::Full { include_users } => full(engine, conns, include_users, &mut leftovers)
                .await
                .map(|()| Vec::new()),
            Scope::Partial { sites, users } => {
                partial(engine, conns, sites, users, &mut leftovers).await
            }
        };
        let err = match result {
            Ok(failed) => return Ok(Copied { failed, leftovers }),
            Err(e) => e,
        };
        match retries.judge(conns, err).await {
            AfterFailure::Retry(err) => {
                if !retries.wait(None).await {
                    return Err(err);
                }
            }
            AfterFailure::Stop(err) | AfterFailure::GiveUp(err) => return Err(err),
        }
    }
}

async fn full(
    engine: &Engine,
    conns: &mut Connections,
    include_users: bool,
    found: &mut Leftovers,
) -> Result<(), SiteError> {
    let lives: Vec<String> = full_table_names(&engine.inventory.prefix, include_users)
        .into_iter()
        .filter(|t| engine.inventory.tables.contains_key(t))
        .collect();
    let (source, target) = conns.open(engine).await?;
    let stagings = stage_all(engine, source, target, &lives, None, found).await?;
    let sitemeta = format!("{}sitemeta", engine.inventory.prefix);
    if let Some(i) = lives.iter().position(|l| *l == sitemeta) {
        // The target's kept and forced network settings go live with the swap.
        let live_exists = !existing_tables(target, std::slice::from_ref(&sitemeta))
            .await?
            .is_empty();
        engine
            .keep
            .apply_sitemeta(target, &sitemeta, &stagings[i], live_exists)
            .await?;
    }
    failpoints::hit("network_copied");
    let staged = Staged {
        site: None,
        lives: &lives,
        copied: lives.len(),
    };
    go_live(engine, target, &staged).await?;
    failpoints::hit("network_swapped");
    Ok(())
}

/// Fills a staging copy of each of `lives` (rows matching `filter`, if any)
/// from one source snapshot, adding their leftovers to `found`; returns the
/// staging names.
async fn stage_all(
    engine: &Engine,
    source: &mut Conn,
    target: &mut Conn,
    lives: &[String],
    filter: Option<&RowFilter>,
    found: &mut Leftovers,
) -> Result<Vec<String>, SiteError> {
    let stagings: Vec<String> = lives
        .iter()
        .map(|l| derived(Role::Staging, &engine.tag, l))
        .collect();
    drop_tables(target, &stagings).await?;
    roles::begin_snapshot(source).await?;
    for (live, staging) in lives.iter().zip(&stagings) {
        engine.session.log(&format!(
            "network: copying {live}{}",
            if filter.is_some() {
                " (selected sites' rows)"
            } else {
                ""
            }
        ));
        found.merge(stage_table(engine, source, target, (live, staging), filter).await?);
    }
    source.query_drop("COMMIT").await?;
    Ok(stagings)
}

/// Creates `staging` like `live` on the target and fills it with `live`'s
/// rows (those matching `filter`, if any) from the source, replaced.
/// Returns what of the source the copied rows still mention.
pub(super) async fn stage_table(
    engine: &Engine,
    source: &mut Conn,
    target: &mut Conn,
    (live, staging): (&str, &str),
    filter: Option<&RowFilter>,
) -> Result<Leftovers, SiteError> {
    let create = create_statement(source, live, staging).await?;
    target.query_drop(create).await?;
    let job = engine.table_job(live);
    let mut rules = engine.rules.for_table(live, &job.columns);
    copy_table(
        source,
        target,
        live,
        staging,
        &job.columns,
        filter,
        &mut rules,
        engine.mode,
    )
    .await?;
    engine.rules.record(&rules);
    Ok(rules.take_leftovers())
}

async fn partial(
    engine: &Engine,
    conns: &mut Connections,
    ids: &[SiteId],
    users: bool,
    found: &mut Leftovers,
) -> Result<Vec<SiteId>, SiteError> {
    let prefix = &engine.inventory.prefix;
    let mut tables = partial_table_names(prefix);
    if users {
        tables.extend(users::table_names(prefix));
    }
    let lives: Vec<String> = tables
        .into_iter()
        .filter(|t| engine.inventory.tables.contains_key(t))
        .collect();
    let (source, target) = conns.open(engine).await?;
    engine.lock.ensure().await?;
    backup_copies(engine, source, target, &lives).await?;
    failpoints::hit("network_backed_up");
    if ids.is_empty() {
        ledger::mark_live(target, &engine.session.id(), ledger::NETWORK).await?;
        return Ok(Vec::new());
    }
    let shared = refuse_shared_addresses(engine, target, ids).await?;
    let ids: Vec<SiteId> = ids
        .iter()
        .copied()
        .filter(|id| !shared.contains(id))
        .collect();
    if ids.is_empty() {
        return Ok(shared);
    }
    let ids = ids.as_slice();
    let prepared = match users {
        true => Some(users::prepare(engine, source, target, ids, found).await?),
        false => None,
    };
    let ok: Vec<SiteId> = match &prepared {
        Some(p) => {
            users::fail_sites(engine, p)?;
            p.ok.clone()
        }
        None => ids.to_vec(),
    };
    let site_lives: Vec<String> = partial_table_names(prefix)
        .into_iter()
        .filter(|t| lives.contains(t))
        .collect();
    let filter = RowFilter::ids(SITE_KEY, ok.iter().copied());
    let mut stagings = stage_all(engine, source, target, &site_lives, Some(&filter), found).await?;
    upsert(engine, target, &site_lives, &filter, prepared.as_ref()).await?;
    if users {
        stagings.extend(
            users::table_names(prefix)
                .iter()
                .map(|l| derived(Role::Staging, &engine.tag, l)),
        );
    }
    drop_tables(target, &stagings).await?;
    ledger::mark_live(target, &engine.session.id(), ledger::NETWORK).await?;
    failpoints::hit("network_upserted");
    let mut failed = shared;
    if let Some(p) = prepared {
        failed.extend(p.failed.into_iter().map(|(s, _)| s));
    }
    Ok(failed)
}

/// Fails the sites of `ids` whose address (domain and path, replacements
/// applied) another site of the target would have too once their rows are
/// written: WordPress would serve one of the two for both. Nothing of those
/// sites is written, by this phase or the sites phase; a resume with
/// `--retry-failed` checks again. Returns them.
async fn refuse_shared_addresses(
    engine: &Engine,
    target: &mut Conn,
    ids: &[SiteId],
) -> Result<Vec<SiteId>, SiteError> {
    let incoming: BTreeMap<SiteId, Address> = ids
        .iter()
        .filter_map(|&id| {
            let site = engine.inventory.site(id)?;
            Some((id, Address::in_target(site, engine.rules.replacer())))
        })
        .collect();
    let rows = addresses::target_blogs(target, &engine.inventory.prefix).await?;
    let mut failed = Vec::new();
    for s in addresses::shared(&incoming, &rows) {
        let message = addresses::shared_message(&s, &engine.source.env, &engine.target.env);
        engine.warn(&message);
        engine
            .session
            .site_started(s.site)
            .and_then(|()| {
                engine
                    .session
                    .site_failed(s.site, ErrorKind::Data, &message)
            })
            .map_err(|e| {
                SiteError::permanent(
                    ErrorKind::Internal,
                    format!("recording that site {} failed: {e:#}", s.site),
                )
            })?;
        failed.push(s.site);
    }
    Ok(failed)
}

/// Keeps a full copy of each table as this migration's backup (once).
async fn backup_copies(
    engine: &Engine,
    source: &mut Conn,
    target: &mut Conn,
    lives: &[String],
) -> Result<(), SiteError> {
    let recorded = engine.backup_of(None);
    let mut tables: Vec<TableBackup> = recorded
        .as_ref()
        .map(|r| r.tables.clone())
        .unwrap_or_default();
    let mut probe: Vec<String> = lives.to_vec();
    probe.extend(lives.iter().map(|l| derived(Role::Backup, &engine.tag, l)));
    let existing = existing_tables(target, &probe).await?;
    let mut changed = false;
    for live in lives {
        if !tables.iter().any(|t| &t.live == live) {
            let backup = existing
                .contains(live)
                .then(|| derived(Role::Backup, &engine.tag, live));
            tables.push(TableBackup {
                live: live.clone(),
                backup,
            });
            changed = true;
        }
    }
    if changed && engine.keep_backup {
        let record = SiteBackup {
            tables: tables.clone(),
            taken_at: chrono::Utc::now(),
        };
        engine.record_backup(None, record).map_err(|e| {
            SiteError::permanent(
                ErrorKind::Internal,
                format!("saving the backup record: {e:#}"),
            )
        })?;
    }
    // The ledger learns what the upsert will change before anything does.
    let actions: Vec<(String, TableAction)> = tables
        .iter()
        .map(|t| {
            let action = match (&t.backup, engine.keep_backup) {
                (Some(_), true) => TableAction::Backup,
                (Some(_), false) => TableAction::Replaced,
                (None, _) => TableAction::Created,
            };
            (t.live.clone(), action)
        })
        .collect();
    ledger::plan_tables(target, &engine.session.id(), ledger::NETWORK, &actions).await?;
    for t in &tables {
        match &t.backup {
            Some(b) if engine.keep_backup && !existing.contains(b) => {
                copy_within(target, &t.live, b, &engine.tag).await?
            }
            // The target has no such table: create it empty so the upsert has a home.
            None if !existing.contains(&t.live) => {
                let create = create_statement(source, &t.live, &t.live).await?;
                target.query_drop(create).await?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// Copies `live` to `backup` atomically: a staging copy renamed into place,
/// so an existing backup table is always complete.
async fn copy_within(
    target: &mut Conn,
    live: &str,
    backup: &str,
    tag: &str,
) -> Result<(), SiteError> {
    let tmp = derived(Role::Staging, tag, backup);
    drop_tables(target, std::slice::from_ref(&tmp)).await?;
    target
        .query_drop(format!("CREATE TABLE {} LIKE {}", ident(&tmp), ident(live)))
        .await?;
    target
        .query_drop(format!(
            "INSERT INTO {} SELECT * FROM {}",
            ident(&tmp),
            ident(live)
        ))
        .await?;
    target
        .query_drop(format!("RENAME TABLE {} TO {}", ident(&tmp), ident(backup)))
        .await?;
    Ok(())
}

/// Replaces the selected sites' rows (and their users', when `users` is
/// given) in one transaction.
async fn upsert(
    engine: &Engine,
    target: &mut Conn,
    lives: &[String],
    filter: &RowFilter,
    users: Option<&users::Prepared>,
) -> Result<(), SiteError> {
    engine.lock.ensure().await?;
    let mut tx = target.start_transaction(Default::default()).await?;
    for live in lives {
        tx.query_drop(format!(
            "DELETE FROM {} WHERE {}",
            ident(live),
            filter.sql()
        ))
        .await?;
        insert_staged(&mut tx, engine, live, SITE_KEY).await?;
    }
    if let Some(p) = users {
        users::apply(&mut tx, engine, p).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Inserts every row of `live`'s staging copy into `live`. A row id the
/// target assigns itself (an auto-increment column other than `identity`,
/// the column that says whose the row is and that stays: blogmeta's
/// `meta_id`, usermeta's `umeta_id`) may be taken there by another row: see
/// `renumber_colliding`.
pub(super) async fn insert_staged(
    tx: &mut mysql_async::Transaction<'_>,
    engine: &Engine,
    live: &str,
    identity: &str,
) -> Result<(), SiteError> {
    let staging = derived(Role::Staging, &engine.tag, live);
    let columns = engine.table_job(live).columns;
    let cols: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();
    let row_id = columns
        .iter()
        .find(|c| c.auto_increment && c.name != identity)
        .map(|c| c.name.as_str());
    let mut insert = format!(
        "INSERT INTO {live_q} ({cols}) SELECT {cols} FROM {staging_q} s",
        live_q = ident(live),
        staging_q = ident(&staging),
        cols = ident_list(&cols),
    );
    if let Some(id) = row_id {
        renumber_colliding(tx, live, &staging, &cols, id).await?;
        insert.push_str(&format!(
            " WHERE NOT EXISTS (SELECT 1 FROM {} l WHERE l.{id} = s.{id})",
            ident(live),
            id = ident(id)
        ));
    }
    tx.query_drop(insert).await?;
    Ok(())
}

/// Inserts the staging rows whose id another row of the target already
/// holds, under new ids above every id on either side, numbered in source
/// order. The numbering depends only on the target's other rows and the
/// source's rows, so a redo after a crash gives every row the same id as an
/// uninterrupted run (the server's auto-increment counter would not).
async fn renumber_colliding(
    tx: &mut mysql_async::Transaction<'_>,
    live: &str,
    staging: &str,
    cols: &[String],
    id: &str,
) -> Result<(), SiteError> {
    let (live_q, staging_q, id_q) = (ident(live), ident(staging), ident(id));
    let base: Option<u64> = tx
        .query_first(format!(
            "SELECT GREATEST(IFNULL((SELECT MAX({id_q}) FROM {live_q}), 0), IFNULL((SELECT MAX({id_q}) FROM {staging_q}), 0))"
        ))
        .await?;
    let base = base.unwrap_or(0);
    let select: Vec<String> = cols
        .iter()
        .map(|c| {
            if c == id {
                format!("{base} + ROW_NUMBER() OVER (ORDER BY s.{id_q})")
            } else {
                format!("s.{}", ident(c))
            }
        })
        .collect();
    tx.query_drop(format!(
        "INSERT INTO {live_q} ({}) SELECT {} FROM {staging_q} s \
         WHERE EXISTS (SELECT 1 FROM {live_q} l WHERE l.{id_q} = s.{id_q})",
        ident_list(cols),
        select.join(", ")
    ))
    .await?;
    Ok(())
}

/// The network_tables phase around [`run`]: what it covers this run, the
/// load gate and the time limit. Returns the status to end with when the run
/// must stop, and the sites it failed (users clashing with the target's),
/// which the sites phase leaves alone this run.
pub(super) async fn phase(
    engine: &Engine,
    options: &MigrationOptions,
    stop: &Stop,
) -> anyhow::Result<(Option<MigrationStatus>, Vec<SiteId>)> {
    let s = &engine.session;
    // --media-only copies uploads and touches no table.
    if options.sites_only || options.media_only {
        if !s.is_phase_completed(Phase::NetworkTables) {
            s.phase_skipped(Phase::NetworkTables)?;
        }
        return Ok((None, Vec::new()));
    }
    let users = users::carries_users(options);
    let partial = scope::is_partial(options);
    let state = s.snapshot();
    let selected: Vec<SiteId> = if s.is_phase_completed(Phase::NetworkTables) {
        // A site retried by this resume gets its network rows and users
        // again first: it may have failed because its users clashed or its
        // address was another site's, and then none of its rows went in
        // (docs/phases.md).
        let retried: Vec<SiteId> = s
            .sites_to_process()
            .into_iter()
            .filter(|&id| {
                state
                    .site(id)
                    .is_some_and(|r| matches!(r.status, SiteStatus::Failed | SiteStatus::Timeout))
            })
            .collect();
        if !partial || retried.is_empty() {
            return Ok((None, Vec::new()));
        }
        retried
    } else {
        // Completed sites (none, unless a rerun for retried sites failed)
        // keep the rows they went live with; skipped ones are not migrated.
        state
            .sites()
            .iter()
            .filter(|r| {
                !matches!(
                    r.status,
                    SiteStatus::Completed
                        | SiteStatus::Skipped
                        | SiteStatus::Unchanged
                        | SiteStatus::Drifted
                )
            })
            .map(|r| r.site_id)
            .collect()
    };
    let scope = match partial {
        true => Scope::Partial {
            sites: &selected,
            users,
        },
        false => Scope::Full {
            include_users: options.include_users,
        },
    };
    // The phase is short and swaps all at once: it waits for the load to drop
    // before it starts, not midway, and its time limit starts after the wait.
    tokio::select! {
        _ = engine.throttle.wait() => {}
        _ = stop.triggered() => return Ok((Some(MigrationStatus::Paused), Vec::new())),
    }
    s.phase_started(Phase::NetworkTables)?;
    let mut conns = Connections::default();
    let result = tokio::select! {
        r = run(engine, &mut conns, scope, stop) => r,
        _ = stop.triggered() => {
            // Stop the phase's queries on the servers, not just our side of them.
            conns.kill(engine).await;
            return Ok((Some(MigrationStatus::Paused), Vec::new()));
        }
        // The per-site limit bounds this phase too: a stalled server must not hang the run.
        _ = tokio::time::sleep(engine.limits.timeout) => {
            conns.kill(engine).await;
            let msg = format!(
                "the network tables phase exceeded the time limit of {} minutes; resume to retry (raise --timeout if it needs longer)",
                engine.limits.timeout.as_secs_f64() / 60.0
            );
            engine.warn(&msg);
            s.phase_failed(Phase::NetworkTables, &msg)?;
            return Ok((Some(MigrationStatus::Failed), Vec::new()));
        }
    };
    match result {
        Ok(copied) => {
            s.network_completed(copied.leftovers)?;
            Ok((None, copied.failed))
        }
        Err(_) if stop.is_set() => Ok((Some(MigrationStatus::Paused), Vec::new())),
        Err(e) => {
            engine.warn(format!("network tables failed: {e}"));
            s.phase_failed(Phase::NetworkTables, &e.message)?;
            Ok((Some(MigrationStatus::Failed), Vec::new()))
        }
    }
}
