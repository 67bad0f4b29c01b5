//! The phase machine (docs/phases.md), in the order a run goes through it:
//! [`preflight`] → [`network`] (network_tables) → [`sites`] → [`post`]
//! (post_migration: verification, then the target's commands) → [`cleanup`].
//!
//! Preflight runs on every run (the lifecycle did its checks; it is recorded
//! here). A phase that completed is not run again on resume, except that a
//! run which processes sites verifies again.
//!
//! What the phases share: the run's context ([`engine`]), its connections
//! ([`connections`]), failures and their retries ([`errors`], [`retry`]),
//! site addresses ([`addresses`]), what the summary gets ([`details`],
//! [`timings`]).

pub mod addresses;
pub mod cleanup;
pub mod connections;
pub mod details;
pub mod engine;
pub mod errors;
pub mod network;
pub mod post;
pub mod preflight;
pub mod retry;
pub mod sites;
pub mod timings;

use std::sync::Arc;

use anyhow::Result;
use chrono::{DateTime, Utc};

use crate::db::roles;
use crate::ledger;
use crate::report::Event;
use crate::state::model::{MigrationStatus, Phase};
use crate::state::Summary;
use crate::stop::Stop;
use crate::tables::leftovers;
use details::RunDetails;
use engine::Engine;

/// How a run ended, as the engine judges it; the caller decides what that
/// means for a process (its exit code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunOutcome {
    /// Everything asked for was done.
    Completed,
    /// Stopped by the operator (Ctrl-C, SIGTERM): `paused`, resumable.
    Interrupted,
    /// Stopped by the engine itself (a lost lock, a server gone, a critical
    /// load): `paused`, resumable, and the reason is an error to report.
    Stopped(String),
    /// Finished, but some sites failed or timed out (resumable).
    SitesFailed,
    /// A phase failed, or the run could not finish its work.
    Failed,
}

/// How a run ended.
#[derive(Debug)]
pub struct RunEnd {
    /// What the run came to.
    pub outcome: RunOutcome,
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
pub async fn run(engine: Arc<Engine>, plan: RunPlan, stop: Stop) -> Result<RunEnd> {
    let s = &engine.session;
    s.phase_passed(Phase::Preflight, plan.preflight_started)?;
    settle_orphans(&engine).await;
    post::hooks::stop_left_running(&engine).await?;
    let options = s.config().options;
    let mut extra = RunDetails::new(
        engine.mode,
        plan.orphaned_target_sites,
        options.replacements.len(),
    );

    let (end, failed_by_network) = network::phase(&engine, &options, &stop).await?;
    if let Some(end) = end {
        return finish(engine, end, extra, &stop).await;
    }
    let report = sites::phase(&engine, &options, &failed_by_network, &stop).await?;
    extra.add_sites(&report);
    if let Some(e) = &report.fatal {
        s.phase_failed(Phase::Sites, e)?;
        return finish(engine, MigrationStatus::Failed, extra, &stop).await;
    }
    if report.interrupted || stop.is_set() {
        return finish(engine, MigrationStatus::Paused, extra, &stop).await;
    }
    if report.completed + report.failed > 0 || !s.is_phase_completed(Phase::PostMigration) {
        // Ctrl-C pauses here too (docs/phases.md), not only between sites.
        if report.completed + report.failed > 0 {
            s.hooks_reset()?;
        }
        extra.verification = tokio::select! {
            v = post::phase(&engine, &plan.post_commands, &stop) => Some(v?),
            _ = stop.triggered() => return finish(engine, MigrationStatus::Paused, extra, &stop).await,
        };
    }
    let outcome = s.outcome();
    if stop.is_set() || engine.lock.ensure().await.is_err() {
        return finish(engine, MigrationStatus::Paused, extra, &stop).await;
    }
    // Only a completed migration that put at least one site live supersedes
    // older backups: an empty or network-only run must not cost them.
    let supersedes = outcome == MigrationStatus::Completed && s.snapshot().counts().completed > 0;
    cleanup::phase(&engine, supersedes).await?;
    finish(engine, outcome, extra, &stop).await
}

/// Waits for statements that killed runs of this migration left running on
/// the target (see [`leftovers::settle_orphans`]) before any table is looked at.
/// Best effort: a failure here is logged, and the phases report their own.
async fn settle_orphans(engine: &Engine) {
    let settled = async {
        let mut target = roles::target(&engine.target.opts).await?;
        let stopped = leftovers::settle_orphans(&mut target, &engine.tag).await?;
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

async fn finish(
    engine: Arc<Engine>,
    status: MigrationStatus,
    mut extra: RunDetails,
    stop: &Stop,
) -> Result<RunEnd> {
    engine.report(Event::RunFinished);
    record_in_ledger(&engine, status).await;
    extra.throttle = Some(engine.throttle.summary());
    extra.timings = Some(engine.timings.breakdown(crate::state::durable_time()));
    if let Some(plan) = engine.rules.scrub() {
        // Every rule, those that changed nothing too: a rule that never
        // matches is worth seeing.
        let mut counts = engine.rules.scrubbed();
        for name in plan.rule_names() {
            counts.entry(name).or_default();
        }
        extra.scrubbed = Some(counts);
    }
    // A stop that was not the operator's (lost lock, server gone) is an error
    // to report, though the run pauses just the same and is resumable.
    let cause = stop.cause().filter(|_| status == MigrationStatus::Paused);
    if let Some(c) = &cause {
        engine.session.log(&format!("stopped: {c}"));
        engine.warn(format!("stopped: {c}"));
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
    let outcome = match (status, cause) {
        (MigrationStatus::Completed, _) => RunOutcome::Completed,
        (MigrationStatus::Paused, Some(reason)) => RunOutcome::Stopped(reason),
        (MigrationStatus::Paused, None) => RunOutcome::Interrupted,
        _ if summary.sites.failed + summary.sites.timeout > 0
            && summary.status == MigrationStatus::Failed =>
        {
            RunOutcome::SitesFailed
        }
        _ => RunOutcome::Failed,
    };
    Ok(RunEnd { outcome, summary })
}
