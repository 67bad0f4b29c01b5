//! Another run of a migration (`--resume ID`).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::Result;
use wfuwp_replace::Replacer;

use super::guard::{Guard, OnFailure};
use super::{begin, check, ended, media_run, run_phases, scrub_plan, Prepared, RunFlags};
use crate::config::{fingerprint, Config, Defaults};
use crate::db::roles;
use crate::error::Error;
use crate::ledger;
use crate::phases::preflight::{self, Checked};
use crate::phases::RunEnd;
use crate::report::{Event, Reporter};
use crate::rollback::order::{self, Superseded};
use crate::state::model::{MigrationStatus, Phase};
use crate::state::{self, ResumeRequest, Session};
use crate::stop::Stop;

/// How a migration is resumed.
#[derive(Debug, Clone, Default)]
pub struct Resume {
    /// `--skip-failed`: leave failed sites untouched this run.
    pub skip_failed: bool,
    /// `--skip-timeouts`: leave timed-out sites untouched this run.
    pub skip_timeouts: bool,
    /// `--retry-failed`: only failed and timed-out sites.
    pub retry_failed: bool,
    /// Resume although the environments' configuration changed.
    pub force: bool,
    /// This run's settings (over the values the migration was created with).
    pub flags: RunFlags,
}

/// Runs migration `id` again, to its end (or its stop).
pub async fn resume(
    config: &Config,
    logs_dir: &Path,
    id: &str,
    req: &Resume,
    stop: Stop,
    reporter: Arc<dyn Reporter>,
) -> Result<RunEnd, Error> {
    ended(resume_run(config, logs_dir, id, req, stop, reporter).await)
}

async fn resume_run(
    config: &Config,
    logs_dir: &Path,
    id: &str,
    req: &Resume,
    stop: Stop,
    reporter: Arc<dyn Reporter>,
) -> Result<RunEnd> {
    let dir = state::session::existing_dir(logs_dir, id)?;
    let recorded: state::MigrationConfig =
        state::store::read_json(&dir, state::store::CONFIG_FILE)?;
    let (source, target) = (recorded.source_env.as_str(), recorded.target_env.as_str());
    let fingerprints = [source, target]
        .iter()
        .map(|name| Ok((name.to_string(), fingerprint::of(config.environment(name)?))))
        .collect::<Result<BTreeMap<_, _>>>()?;
    let request = ResumeRequest {
        skip_failed: req.skip_failed,
        skip_timeouts: req.skip_timeouts,
        retry_failed: req.retry_failed,
        force: req.force,
        fingerprints,
    };
    // A run that was killed left `running`: it stands for `paused`.
    let before = match state::store::load(&dir)?.status {
        MigrationStatus::Running => MigrationStatus::Paused,
        other => other,
    };
    let session = Session::resume(logs_dir, id, request)?;
    for n in session.notices() {
        reporter.event(Event::Notice(&n));
    }
    let guard = Guard::new(session, OnFailure::PhaseFailed(Phase::Preflight));
    let prepared = async {
        let (checked, sampler) =
            check(config, &req.flags, (source, target), logs_dir, &*reporter).await?;
        // Refused from here on: this run did nothing, the status stays.
        guard.then(OnFailure::Finish(before));
        let lock = preflight::lock_target(&checked.target, logs_dir, &stop).await?;
        refuse_superseded(config, logs_dir, guard.session(), &checked).await?;
        let s = guard.session();
        reporter.event(Event::Info(&format!(
            "Resuming {id}: {source} → {target}, {} sites to process",
            s.sites_to_process().len()
        )));
        guard.then(OnFailure::PhaseFailed(Phase::Preflight));
        let o = s.config().options;
        let replacer = Arc::new(Replacer::new(&o.replacements)?);
        let created_with = Defaults {
            concurrency: o.concurrency,
            timeout_minutes: o.timeout_minutes,
            max_retries: o.max_retries,
        };
        let limits = req.flags.limits(&created_with);
        let media = media_run(config, (source, target), &o, &req.flags, limits).await?;
        let scrub = scrub_plan(config, target, &checked).await?;
        let prepared = Prepared {
            post: config.environment(target)?.post_migration.clone(),
            checked,
            sampler,
            lock,
            limits,
            media,
            replacer,
            scrub,
            keep: crate::keep::KeepPlan::new(config.environment(target)?, &o.exclude_tables),
        };
        guard.then(OnFailure::Finish(MigrationStatus::Failed));
        begin(guard.session(), &prepared).await?;
        anyhow::Ok(prepared)
    }
    .await;
    let (session, prepared) = guard.settle(prepared)?;
    run_phases(session, prepared, stop, reporter).await
}

/// Refuses resuming a migration that later migrations into the same target
/// superseded (they went live and were not rolled back): the state says so
/// when this logs dir ran them, the target's ledger whoever did.
async fn refuse_superseded(
    config: &Config,
    logs_dir: &Path,
    session: &Session,
    checked: &Checked,
) -> Result<()> {
    let state = session.snapshot();
    if let Some(by) = &state.superseded_by {
        return Err(Superseded {
            id: state.migration_id.clone(),
            target: state.target_env.clone(),
            newer: vec![format!(
                "{by} (its completion dropped this migration's backups)"
            )],
            newest_id: Some(by.clone()),
        }
        .into());
    }
    let mut conn = roles::target(&checked.target.opts).await?;
    let ledger = ledger::read(&mut conn, &checked.target.database).await?;
    let refused = order::check_resume(config, logs_dir, &state, &mut conn, &ledger).await;
    let _ = conn.disconnect().await;
    refused
}
