//! The sites phase (docs/phases.md): this run's sites, `--concurrency` at a
//! time ([`pool`]), each copied into staging tables and swapped in by a
//! [`worker`]; the swap itself, and the steps right before and after it, are
//! [`swap`].

pub mod pool;
pub mod swap;
pub mod worker;

use std::sync::Arc;

use anyhow::Result;

use super::engine::Engine;
use crate::report::Event;
use crate::sites::SiteId;
use crate::state::model::{Phase, SiteStatus};
use crate::state::MigrationOptions;
use crate::stop::Stop;
use pool::PoolReport;

/// The sites phase: the work queue over this run's selection.
pub(super) async fn phase(
    engine: &Arc<Engine>,
    options: &MigrationOptions,
    failed_by_network: &[SiteId],
    stop: &Stop,
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
    let report = pool::run(engine.clone(), jobs, stop.clone()).await;
    engine.report(Event::RunFinished);
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
