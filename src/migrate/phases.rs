//! The phase machine (docs/phases.md):
//! `preflight → network_tables → sites → post_migration → cleanup`.
//!
//! Preflight runs on every run (the caller did its checks; it is recorded
//! here). A phase that completed is not run again on resume, except that a
//! run which processes sites verifies again.

use std::sync::Arc;

use anyhow::Result;
use chrono::{DateTime, Utc};

use super::details::{RunDetails, VerificationOutcome};
use super::engine::Engine;
use super::pool::{self, PoolReport};
use super::site::Connections;
use super::{cleanup, failpoint, hooks, ledger, network, network_users, selection, verify};
use crate::db::roles;
use crate::exit::Code;
use crate::interrupt::Interrupt;
use crate::sites::SiteId;
use crate::state::model::{MigrationStatus, Phase, SiteStatus};
use crate::state::Summary;

/// How a run ended.
pub struct RunEnd {
    /// The exit code for the process.
    pub code: Code,
    /// The summary written to `migration-summary.json`.
    pub summary: Summary,
}

/// Everything the phases need besides the engine.
pub struct RunPlan {
    /// The target's `post_migration` commands.
    pub post_commands: Vec<String>,
    /// Blog ids present in the target but not the source (reported).
    pub orphaned_target_sites: Vec<u64>,
    /// When preflight, which ran before the run could be recorded, began.
    pub preflight_started: DateTime<Utc>,
}

/// Runs the phases after preflight succeeded. Consumes the session (its
/// locks are released when the run ends).
pub async fn run(engine: Arc<Engine>, plan: RunPlan, interrupt: Interrupt) -> Result<RunEnd> {
    let s = &engine.session;
    s.phase_passed(Phase::Preflight, plan.preflight_started)?;
    settle_orphans(&engine).await;
    hooks::stop_left_running(&engine).await?;
    let options = s.config().options;
    let mut extra = RunDetails::new(
        engine.mode,
        plan.orphaned_target_sites,
        options.replacements.len(),
    );

    let (end, failed_by_network) = network_tables(&engine, &options, &interrupt).await?;
    if let Some(end) = end {
        return finish(engine, end, extra, &interrupt).await;
    }
    let report = sites(&engine, &options, &failed_by_network, &interrupt).await?;
    extra.add_sites(&report);
    if let Some(e) = &report.fatal {
        s.phase_failed(Phase::Sites, e)?;
        return finish(engine, MigrationStatus::Failed, extra, &interrupt).await;
    }
    if report.interrupted || interrupt.is_set() {
        return finish(engine, MigrationStatus::Paused, extra, &interrupt).await;
    }
    if report.completed + report.failed > 0 || !s.is_phase_completed(Phase::PostMigration) {
        // Ctrl-C pauses here too (docs/phases.md), not only between sites.
        if report.completed + report.failed > 0 {
            s.hooks_reset()?;
        }
        extra.verification = tokio::select! {
            v = post_migration(&engine, &plan.post_commands, &interrupt) => Some(v?),
            _ = interrupt.triggered() => return finish(engine, MigrationStatus::Paused, extra, &interrupt).await,
        };
    }
    let outcome = s.outcome();
    if interrupt.is_set() || engine.lock.ensure().await.is_err() {
        return finish(engine, MigrationStatus::Paused, extra, &interrupt).await;
    }
    // Only a completed migration that put at least one site live supersedes
    // older backups: an empty or network-only run must not cost them.
    let supersedes = outcome == MigrationStatus::Completed && s.snapshot().counts().completed > 0;
    cleanup_phase(&engine, supersedes).await?;
    finish(engine, outcome, extra, &interrupt).await
}

/// Waits for statements that killed runs of this migration left running on
/// the target (see [`cleanup::settle_orphans`]) before any table is looked at.
/// Best effort: a failure here is logged, and the phases report their own.
async fn settle_orphans(engine: &Engine) {
    let settled = async {
        let mut target = roles::target(&engine.target.opts).await?;
        let stopped = cleanup::settle_orphans(&mut target, &engine.tag).await?;
        let _ = target.disconnect().await;
        anyhow::Ok(stopped)
    };
    match settled.await {
        Ok(0) => {}
        Ok(n) => engine
            .session
            .log(&format!("waited for {n} statements of killed runs to end")),
        Err(e) => engine.session.log(&format!(
            "could not check for statements of killed runs: {e:#}"
        )),
    }
}

/// network_tables; returns the status to end with when the run must stop,
/// and the sites it failed (users clashing with the target's), which the
/// sites phase leaves alone this run.
async fn network_tables(
    engine: &Engine,
    options: &crate::state::MigrationOptions,
    interrupt: &Interrupt,
) -> Result<(Option<MigrationStatus>, Vec<SiteId>)> {
    let s = &engine.session;
    // --media-only copies uploads and touches no table.
    if options.sites_only || options.media_only {
        if !s.is_phase_completed(Phase::NetworkTables) {
            s.phase_skipped(Phase::NetworkTables)?;
        }
        return Ok((None, Vec::new()));
    }
    let users = network_users::carries_users(options);
    let partial = selection::is_partial(options);
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
            .filter(|r| !matches!(r.status, SiteStatus::Completed | SiteStatus::Skipped))
            .map(|r| r.site_id)
            .collect()
    };
    let scope = match partial {
        true => network::Scope::Partial {
            sites: &selected,
            users,
        },
        false => network::Scope::Full {
            include_users: options.include_users,
        },
    };
    // The phase is short and swaps all at once: it waits for the load to drop
    // before it starts, not midway, and its time limit starts after the wait.
    tokio::select! {
        _ = engine.throttle.wait() => {}
        _ = interrupt.triggered() => return Ok((Some(MigrationStatus::Paused), Vec::new())),
    }
    s.phase_started(Phase::NetworkTables)?;
    let mut conns = Connections::default();
    let result = tokio::select! {
        r = network::run(engine, &mut conns, scope, interrupt) => r,
        _ = interrupt.triggered() => {
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
            engine.progress.warn(&msg);
            s.phase_failed(Phase::NetworkTables, &msg)?;
            return Ok((Some(MigrationStatus::Failed), Vec::new()));
        }
    };
    match result {
        Ok(failed) => {
            s.phase_completed(Phase::NetworkTables)?;
            Ok((None, failed))
        }
        Err(_) if interrupt.is_set() => Ok((Some(MigrationStatus::Paused), Vec::new())),
        Err(e) => {
            engine.progress.warn(format!("network tables failed: {e}"));
            s.phase_failed(Phase::NetworkTables, &e.message)?;
            Ok((Some(MigrationStatus::Failed), Vec::new()))
        }
    }
}

/// sites: the work queue over this run's selection.
async fn sites(
    engine: &Arc<Engine>,
    options: &crate::state::MigrationOptions,
    failed_by_network: &[SiteId],
    interrupt: &Interrupt,
) -> Result<PoolReport> {
    let s = &engine.session;
    if options.network_only {
        if !s.is_phase_completed(Phase::Sites) {
            s.phase_skipped(Phase::Sites)?;
        }
        return Ok(PoolReport::default());
    }
    let ids: Vec<SiteId> = s
        .sites_to_process()
        .into_iter()
        .filter(|id| !failed_by_network.contains(id))
        .collect();
    if ids.is_empty() && s.is_phase_completed(Phase::Sites) {
        return Ok(PoolReport::default());
    }
    s.phase_started(Phase::Sites)?;
    let jobs = ids.iter().map(|&id| engine.site_job(id)).collect();
    let report = pool::run(engine.clone(), jobs, interrupt.clone()).await;
    engine.progress.finish();
    if report.fatal.is_none() && !report.interrupted {
        let state = s.snapshot();
        let bad = state
            .sites()
            .iter()
            .filter(|r| matches!(r.status, SiteStatus::Failed | SiteStatus::Timeout))
            .count();
        if bad == 0 {
            s.phase_completed(Phase::Sites)?;
        } else {
            s.phase_failed(
                Phase::Sites,
                &format!("{bad} sites failed or timed out; resume to retry them"),
            )?;
        }
    }
    Ok(report)
}

/// post_migration: verification, then the target's commands.
async fn post_migration(
    engine: &Engine,
    commands: &[String],
    interrupt: &Interrupt,
) -> Result<VerificationOutcome> {
    let s = &engine.session;
    s.phase_started(Phase::PostMigration)?;
    // --media-only copied no rows: there are no counts to compare.
    let verified = if engine.media_only {
        Ok(verify::Verification::default())
    } else {
        verify::verify_sites(engine).await
    };
    let mut v = match verified {
        Ok(v) => v,
        Err(e) => {
            s.phase_failed(
                Phase::PostMigration,
                &format!("verification could not run: {e}"),
            )?;
            return Ok(VerificationOutcome::CouldNotRun {
                error: e.to_string(),
            });
        }
    };
    v.commands = hooks::run_commands(engine, commands, interrupt).await?;
    if interrupt.is_set() {
        return Ok(VerificationOutcome::Ran(v));
    }
    for m in &v.row_count_mismatches {
        engine.progress.warn(format!(
            "site {}: target has {} rows, {} were copied",
            m.site_id, m.actual, m.expected
        ));
    }
    for m in &v.url_mismatches {
        engine.progress.warn(format!(
            "site {}: {} is {:?} on the target, expected {:?}",
            m.site_id, m.option, m.actual, m.expected
        ));
    }
    for m in &v.blog_mismatches {
        engine.progress.warn(m.describe(&engine.target.env));
    }
    for c in v.commands.iter().filter(|c| !c.ok) {
        engine.progress.warn(format!(
            "post-migration command `{}` failed: {}",
            c.command, c.status
        ));
    }
    s.log(&format!(
        "verification: {} sites checked, {} row-count mismatches, {} URL mismatches, {} sites not reachable by their blogs row",
        v.sites_checked,
        v.row_count_mismatches.len(),
        v.url_mismatches.len(),
        v.blog_mismatches.len()
    ));
    for m in &v.blog_mismatches {
        s.log(&format!("verification: {}", m.describe(&engine.target.env)));
    }
    failpoint::hit("post_migration_verified");
    s.phase_completed(Phase::PostMigration)?;
    Ok(VerificationOutcome::Ran(v))
}

/// Sets the migration's status in the target's ledger. Best effort: what
/// went live is recorded already (a status that stays `running` stands just
/// the same), and a server that went away must not keep the state from
/// being saved; bounded, so it cannot hang the end of the run.
async fn record_in_ledger(engine: &Engine, status: MigrationStatus) {
    let recorded = async {
        let mut target = roles::target(&engine.target.opts).await?;
        let id = engine.session.id();
        ledger::set_status(&mut target, &engine.target.database, &id, status).await?;
        let _ = target.disconnect().await;
        anyhow::Ok(())
    };
    let outcome = tokio::time::timeout(std::time::Duration::from_secs(5), recorded).await;
    let error = match outcome {
        Ok(Ok(())) => return,
        Ok(Err(e)) => format!("{e:#}"),
        Err(_) => "the target did not answer within 5 s".into(),
    };
    engine.session.log(&format!(
        "the target's ledger could not be told the migration ended {status}: {error}"
    ));
}

/// cleanup: leftovers dropped, superseded backups dropped when this migration
/// completed, backup space measured. Returns the backup bytes.
async fn cleanup_phase(engine: &Engine, completed: bool) -> Result<u64> {
    let s = &engine.session;
    s.phase_started(Phase::Cleanup)?;
    failpoint::hit("cleanup_started");
    let mut target = roles::target(&engine.target.opts).await?;
    let dropped = cleanup::drop_all_leftovers(&mut target).await?;
    if dropped > 0 {
        s.log(&format!(
            "cleanup: dropped {dropped} leftover staging tables"
        ));
    }
    if completed {
        let old = cleanup::drop_superseded_backups(&mut target, &engine.tag).await?;
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
                Err(e) => engine.progress.warn(format!(
                    "cleanup: media backups of earlier migrations stay: {e}"
                )),
            }
        }
    }
    let bytes = cleanup::backup_bytes(&mut target, &engine.target.database, &engine.tag).await?;
    let _ = target.disconnect().await;
    s.set_backup_bytes(bytes)?;
    s.clean_work_dir();
    s.phase_completed(Phase::Cleanup)?;
    failpoint::hit("cleanup_finished");
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
            engine.progress.warn(format!(
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

async fn finish(
    engine: Arc<Engine>,
    status: MigrationStatus,
    mut extra: RunDetails,
    interrupt: &Interrupt,
) -> Result<RunEnd> {
    engine.progress.finish();
    record_in_ledger(&engine, status).await;
    extra.throttle = Some(engine.throttle.summary());
    extra.timings = Some(engine.timings.breakdown(crate::state::durable_time()));
    // A stop that was not the operator's (lost lock, server gone) is an error
    // to report, though the run pauses just the same and is resumable.
    let cause = interrupt
        .cause()
        .filter(|_| status == MigrationStatus::Paused);
    if let Some(c) = &cause {
        engine.session.log(&format!("stopped: {c}"));
        engine.progress.warn(format!("stopped: {c}"));
        extra.stop_reason = Some(c.clone());
    }
    let lock = engine.lock.clone();
    let session = match Arc::try_unwrap(engine) {
        Ok(e) => Arc::try_unwrap(e.session).map_err(|_| {
            anyhow::anyhow!("the state session is still shared at the end of the run")
        })?,
        Err(_) => anyhow::bail!("the engine is still shared at the end of the run"),
    };
    let summary = session.finish(status, extra.into_json())?;
    drop(lock); // released with its connection, after the final state is saved
    let code = match status {
        MigrationStatus::Completed => Code::Success,
        MigrationStatus::Paused if cause.is_some() => Code::Fatal,
        MigrationStatus::Paused => Code::Interrupted,
        _ if summary.sites.failed + summary.sites.timeout > 0
            && summary.status == MigrationStatus::Failed =>
        {
            Code::SitesFailed
        }
        _ => Code::Fatal,
    };
    Ok(RunEnd { code, summary })
}
