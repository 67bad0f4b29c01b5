//! The sites work queue: `--concurrency` workers, each with its own
//! connections, pulling sites until the queue is empty or the run is
//! interrupted. Each site gets its time limit and its retries here; one
//! site's failure never stops the others.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use wfuwp_replace::ValueStats;

use super::worker::{migrate_site, SiteResult};
use crate::phases::connections::Connections;
use crate::phases::engine::{Engine, SiteJob};
use crate::phases::errors::SiteError;
use crate::phases::retry::{AfterFailure, Retries};
use crate::report::Event;
use crate::sites::SiteId;
use crate::state::model::ErrorKind;
use crate::stop::Stop;

/// What the sites phase did in this run.
#[derive(Debug, Default, Clone)]
pub struct PoolReport {
    /// Sites completed in this run.
    pub completed: u64,
    /// Sites that ended failed or timeout in this run.
    pub failed: u64,
    /// Replacement counters over the completed sites.
    pub replace: ValueStats,
    /// Slowest sites of this run: (site, seconds).
    pub durations: Vec<(SiteId, f64)>,
    /// The run was interrupted before the queue emptied.
    pub interrupted: bool,
    /// A state write failed: the run must stop (the error).
    pub fatal: Option<String>,
}

enum Outcome {
    Done(SiteResult),
    Failed(SiteError),
    Interrupted,
}

/// Runs every job, `engine.limits.concurrency` at a time.
pub async fn run(engine: Arc<Engine>, jobs: Vec<SiteJob>, stop: Stop) -> PoolReport {
    let queue = Arc::new(Mutex::new(VecDeque::from(jobs)));
    let report = Arc::new(Mutex::new(PoolReport::default()));
    let mut handles = Vec::new();
    for worker in 0..engine.limits.concurrency {
        let (engine, queue, report, stop) =
            (engine.clone(), queue.clone(), report.clone(), stop.clone());
        handles.push(tokio::spawn(async move {
            work(worker, engine, queue, report, stop).await
        }));
    }
    for h in handles {
        if let Err(e) = h.await {
            if let Ok(mut r) = report.lock() {
                r.fatal.get_or_insert(format!("a worker crashed: {e}"));
            }
        }
    }
    let mut r = report.lock().map(|r| r.clone()).unwrap_or_default();
    r.interrupted |= stop.is_set();
    r
}

async fn work(
    worker: usize,
    engine: Arc<Engine>,
    queue: Arc<Mutex<VecDeque<SiteJob>>>,
    report: Arc<Mutex<PoolReport>>,
    stop: Stop,
) {
    let mut conns = Connections::default();
    loop {
        // Not while a server is above --max-load (before the site's clock starts).
        engine.throttle.wait().await;
        if stop.is_set() || report.lock().map(|r| r.fatal.is_some()).unwrap_or(true) {
            break;
        }
        let Some(job) = queue.lock().ok().and_then(|mut q| q.pop_front()) else {
            break;
        };
        let started = std::time::Instant::now();
        let outcome = match engine.session.site_started(job.id) {
            Ok(()) => run_site(worker, &engine, &mut conns, &job, &stop).await,
            Err(e) => Outcome::Failed(SiteError::permanent(ErrorKind::Internal, format!("{e:#}"))),
        };
        let secs = started.elapsed().as_secs_f64();
        let recorded = record(&engine, worker, &job, &outcome, secs, &report);
        if let Err(e) = recorded {
            if let Ok(mut r) = report.lock() {
                r.fatal.get_or_insert(e);
            }
            break;
        }
        if matches!(outcome, Outcome::Interrupted) {
            break;
        }
    }
}

/// One site with its time limit, retries and the stop token.
async fn run_site(
    worker: usize,
    engine: &Engine,
    conns: &mut Connections,
    job: &SiteJob,
    stop: &Stop,
) -> Outcome {
    // Its clock stops while the run is throttled (docs/throttling.md).
    let deadline = engine.throttle.deadline(engine.limits.timeout);
    let mut retries = Retries::new(engine, stop, format!("site {}", job.id));
    loop {
        let attempt = tokio::select! {
            r = deadline.run(migrate_site(engine, conns, worker, job)) => r,
            _ = stop.triggered() => {
                conns.kill(engine).await;
                return Outcome::Interrupted;
            }
        };
        let err = match attempt {
            Ok(Ok(result)) => return Outcome::Done(result),
            Ok(Err(e)) => e,
            Err(_elapsed) => {
                // Stop the site's queries on the servers, not just our side of them.
                conns.kill(engine).await;
                let minutes = engine.limits.timeout.as_secs_f64() / 60.0;
                return Outcome::Failed(SiteError::permanent(
                    ErrorKind::Timeout,
                    format!("exceeded the time limit of {minutes} minutes"),
                ));
            }
        };
        match retries.judge(conns, err).await {
            AfterFailure::Stop(_) => return Outcome::Interrupted,
            AfterFailure::GiveUp(err) => return Outcome::Failed(err),
            AfterFailure::Retry(err) => {
                if let Err(e) = engine.session.site_retrying(job.id, err.kind, &err.message) {
                    return Outcome::Failed(SiteError::permanent(
                        ErrorKind::Internal,
                        format!("{e:#}"),
                    ));
                }
            }
        }
        if !retries.wait(Some(deadline.instant())).await {
            return Outcome::Interrupted;
        }
    }
}

/// After a connection error, finds out whether a whole server is gone
/// rather than this site's connection: then every other site would fail the
/// same way, so the run stops (paused, resumable) instead of burning each
/// remaining site through its retries. Returns whether it stopped the run.
pub(crate) async fn stop_if_server_gone(engine: &Engine, err: &SiteError, stop: &Stop) -> bool {
    if err.kind != ErrorKind::Connection {
        return false;
    }
    for side in [&engine.target, &engine.source] {
        if let Err(e) = crate::db::roles::open(&side.opts).await {
            stop.because(format!(
                "the database server of '{}' cannot be reached ({e}); sites not finished stay pending. \
                 Resume with `wfuwp env-migrate --resume {}` when it is back",
                side.env,
                engine.session.id()
            ));
            return true;
        }
    }
    false
}

/// Writes the outcome to the state (durably) and the report.
fn record(
    engine: &Engine,
    worker: usize,
    job: &SiteJob,
    outcome: &Outcome,
    secs: f64,
    report: &Mutex<PoolReport>,
) -> Result<(), String> {
    let saved = match outcome {
        Outcome::Done(r) => engine.session.site_completed(job.id, r.stats),
        Outcome::Failed(e) => engine.session.site_failed(job.id, e.kind, &e.message),
        Outcome::Interrupted => Ok(()),
    };
    saved.map_err(|e| format!("saving the state of site {}: {e:#}", job.id))?;
    let mut r = report
        .lock()
        .map_err(|_| "report lock poisoned".to_string())?;
    match outcome {
        Outcome::Done(res) => {
            r.completed += 1;
            r.replace += res.replace;
            r.durations.push((job.id, secs));
            engine.report(Event::SiteDone {
                worker,
                site: job.id,
                ok: true,
                note: "completed",
            });
        }
        Outcome::Failed(e) => {
            r.failed += 1;
            engine.report(Event::SiteDone {
                worker,
                site: job.id,
                ok: false,
                note: &format!("{}: {}", kind_name(e.kind), e.message),
            });
        }
        Outcome::Interrupted => r.interrupted = true,
    }
    Ok(())
}

/// The errorKind as written in the state file.
pub fn kind_name(kind: ErrorKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_else(|| format!("{kind:?}"))
}
