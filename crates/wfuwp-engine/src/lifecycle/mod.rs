//! The engine's entry points, one per thing an operator asks for
//! (docs/architecture.md, "The lifecycle"):
//!
//! * [`start`](fn@start) — a new migration: plan → preflight → lock → session → phases
//!   → finish; [`dry_run`] stops after the plan and writes nothing.
//! * [`resume`](fn@resume) — another run of a migration.
//! * [`prepare_rollback`] then [`PreparedRollback::run`] — the way back;
//!   the caller may ask the operator in between.
//! * [`abandon`](fn@abandon) — a migration no longer offered for resume.
//! * [`audit`](fn@audit) — what of a source an existing database still mentions.
//!
//! Each call returns what it came to or an [`Error`] (converted once, here),
//! tells what it does through the caller's [`Reporter`], and ends its
//! session on every early return through one [`guard::Guard`]. Prompts are
//! the caller's: a call that needs the operator's word returns before it.

pub mod abandon;
pub mod audit;
pub mod guard;
pub mod plan;
pub mod resume;
pub mod rollback;
pub mod start;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use wfuwp_replace::Replacer;

pub use abandon::abandon;
pub use audit::{audit, AuditReport};
pub use resume::{resume, Resume};
pub use rollback::{prepare_rollback, PreparedRollback};
pub use start::{drift, dry_run, start, DryRun, MediaPlan, MediaSitePlan, Start};

use crate::config::{self, Config, Defaults};
use crate::db::roles;
use crate::error::Error;
use crate::ledger;
use crate::media::{self, MediaRun};
use crate::phases::engine::{backups_of, Engine, Limits};
use crate::phases::preflight::{self, Checked};
use crate::phases::{self, RunEnd, RunPlan};
use crate::refusal::Refusal;
use crate::report::{Event, Reporter};
use crate::rollback::records::check_records;
use crate::rules::RunRules;
use crate::scrub::ScrubPlan;
use crate::state::{self, MigrationOptions, Session};
use crate::stop::Stop;
use crate::throttle::{LoadLimits, LoadSpec, Sampler};

/// Sites migrated at once unless the flags or the configuration say otherwise.
pub const DEFAULT_CONCURRENCY: u32 = 4;
/// Per-site time limit in minutes unless the flags or the configuration say otherwise.
pub const DEFAULT_TIMEOUT_MINUTES: f64 = 20.0;
/// Retries of a transient failure unless the flags or the configuration say otherwise.
pub const DEFAULT_MAX_RETRIES: u32 = 3;
/// Objects copied at once per site unless `--media-concurrency` says otherwise.
pub const DEFAULT_MEDIA_CONCURRENCY: u32 = 16;

/// One run's settings from the command line. Each wins over the
/// configuration's `[defaults]` (a new migration) or the values the
/// migration was created with (a resume), which win over the built-in ones.
#[derive(Debug, Clone, Default)]
pub struct RunFlags {
    /// Sites migrated at once.
    pub concurrency: Option<u32>,
    /// Per-site time limit, in minutes.
    pub timeout_minutes: Option<f64>,
    /// Retries of a transient failure.
    pub max_retries: Option<u32>,
    /// Workers wait while a server is above these (`None`: the default).
    pub max_load: Option<LoadLimits>,
    /// The run stops while a server is above these (`None`: off).
    pub critical_load: Option<LoadLimits>,
    /// Objects copied at once per site.
    pub media_concurrency: Option<u32>,
    /// The operator accepted that sites edited on the target since their
    /// last copy are overwritten (`--force`, or a prompt that named them).
    pub drift_accepted: bool,
}

impl RunFlags {
    /// The limits: a flag, else `d`, else the built-in default.
    fn limits(&self, d: &Defaults) -> Limits {
        Limits {
            concurrency: self
                .concurrency
                .or(d.concurrency)
                .unwrap_or(DEFAULT_CONCURRENCY) as usize,
            // Bounded at parse time; a hand-edited state file must not panic either.
            timeout: Duration::try_from_secs_f64(
                self.timeout_minutes
                    .or(d.timeout_minutes)
                    .unwrap_or(DEFAULT_TIMEOUT_MINUTES)
                    * 60.0,
            )
            .unwrap_or(Duration::MAX)
            .min(Duration::from_secs(config::MAX_TIMEOUT_MINUTES as u64 * 60)),
            max_retries: self
                .max_retries
                .or(d.max_retries)
                .unwrap_or(DEFAULT_MAX_RETRIES),
        }
    }

    fn load(&self) -> LoadSpec {
        LoadSpec {
            max: self
                .max_load
                .clone()
                .unwrap_or_else(LoadLimits::default_max),
            critical: self.critical_load.clone().unwrap_or_default(),
        }
    }
}

/// Preflight, then the load limits checked against both servers (a name the
/// server does not have is the operator's mistake). Its warnings go to the
/// reporter.
async fn check(
    config: &Config,
    flags: &RunFlags,
    (source, target): (&str, &str),
    logs_dir: &Path,
    reporter: &dyn Reporter,
) -> Result<(Checked, Sampler)> {
    let checked = preflight::check(config, source, target, logs_dir).await?;
    for w in &checked.warnings {
        reporter.event(Event::Notice(w));
    }
    let sampler = Sampler::check(&checked.source, &checked.target, flags.load())
        .await
        .map_err(|e| match e.is_usage() {
            true => anyhow::Error::from(Refusal::new(e.to_string())),
            false => anyhow::Error::from(e),
        })?;
    Ok((checked, sampler))
}

/// The run's media side when this migration copies uploads; checks bucket
/// access of both environments first (a preflight error names the bucket and
/// what to fix).
async fn media_run(
    config: &Config,
    (source, target): (&str, &str),
    options: &MigrationOptions,
    flags: &RunFlags,
    limits: Limits,
) -> Result<Option<MediaRun>> {
    let refused = |e: media::MediaError| Refusal::new(e.to_string());
    let Some((s, t)) = media::wanted(config, source, target, options).map_err(refused)? else {
        return Ok(None);
    };
    media::refuse_shared_bucket((source, &s), (target, &t)).map_err(refused)?;
    let concurrency = flags.media_concurrency.unwrap_or(DEFAULT_MEDIA_CONCURRENCY) as usize;
    let run = media::prepare(
        (source, &s),
        (target, &t),
        concurrency,
        limits.max_retries,
        options.media_delete,
    )
    .await
    .context("media preflight: nothing was copied")?;
    Ok(Some(run))
}

/// Everything a run of the phases needs, checked and prepared.
struct Prepared {
    checked: Checked,
    sampler: Sampler,
    lock: crate::db::server_lock::TargetLock,
    limits: Limits,
    media: Option<MediaRun>,
    replacer: Arc<Replacer>,
    scrub: Option<Arc<ScrubPlan>>,
    keep: crate::keep::KeepPlan,
    post: Vec<String>,
}

/// The target's scrub rules for this run, with their secrets read and the
/// kept users found in the source; `None` when the target scrubs nothing.
/// A target that has rules always gets them: no flag turns them off.
async fn scrub_plan(
    config: &Config,
    target: &str,
    checked: &Checked,
) -> Result<Option<Arc<ScrubPlan>>> {
    let Some(rules) = &config.environment(target)?.scrub else {
        return Ok(None);
    };
    let mut plan = ScrubPlan::new(rules, target, &checked.inventory.prefix).map_err(|e| {
        config::ConfigError::Invalid {
            path: config.path.clone(),
            message: e.0,
        }
    })?;
    if !rules.keep_users.is_empty() {
        let mut conn = roles::source(&checked.source.opts).await?;
        plan.resolve_kept_users(&mut conn)
            .await
            .context("reading the users that keep_users names from the source")?;
        let _ = conn.disconnect().await;
    }
    Ok(Some(Arc::new(plan)))
}

/// The last checks before anything of this run reaches the target, under
/// the caller's guard (an early return ends the session `failed`): the
/// state's backup records, then the run recorded in the target's ledger.
async fn begin(session: &Session, p: &Prepared) -> Result<()> {
    let state = session.snapshot();
    check_records(&state, &p.checked.inventory.prefix).map_err(|e| Refusal::new(e.to_string()))?;
    let config = session.config();
    let options = config.options.clone();
    let begin = ledger::Begin {
        id: session.id(),
        source: p.checked.source_identity.clone(),
        rules: ledger::rules_fingerprint(
            &options,
            config
                .fingerprints
                .get(&config.target_env)
                .map(String::as_str),
        ),
        keeps_backups: !options.skip_backup,
        bucket: p.media.as_ref().map(|m| m.target.config.identity()),
        resumed_from: (state.runs > 1).then_some(state.start_time),
    };
    let mut conn = roles::target(&p.checked.target.opts).await?;
    ledger::begin(&mut conn, &p.checked.target.database, &begin).await?;
    let _ = conn.disconnect().await;
    Ok(())
}

/// The phases, on a session whose run is recorded everywhere.
async fn run_phases(
    session: Session,
    p: Prepared,
    stop: Stop,
    reporter: Arc<dyn Reporter>,
) -> Result<RunEnd> {
    let Prepared {
        checked,
        sampler,
        lock,
        limits,
        media,
        replacer,
        scrub,
        keep,
        post,
    } = p;
    let options = session.config().options;
    let media = media.map(|m| {
        Arc::new(match options.skip_backup {
            true => m,
            false => m.with_backups(&session.id()),
        })
    });
    // Said once on the terminal at preflight; the run's record keeps them.
    for w in &checked.warnings {
        session.log(&format!("warning: {w}"));
    }
    let state = session.snapshot();
    let orphaned = checked.orphaned_target_sites();
    let preflight_started = checked.started;
    reporter.event(Event::RunStarted {
        sites: session.sites_to_process().len() as u64,
        workers: limits.concurrency,
    });
    let log = state::store::ProgressLog::open(&session.dir())?;
    let throttle = sampler.start(log, reporter.clone(), stop.clone(), session.id());
    let engine = Engine {
        tag: crate::names::tag(&state.migration_id),
        backups: backups_of(&state),
        timings: Default::default(),
        session: Arc::new(session),
        source: checked.source,
        target: checked.target,
        inventory: checked.inventory,
        rules: RunRules::new(replacer)
            .with_scrub(scrub)
            .audited(Arc::new(crate::hosts::scanner(&options))),
        mode: checked.mode,
        requires_primary_key: checked.target_settings.requires_primary_key,
        keep_backup: !options.skip_backup,
        limits,
        reporter,
        throttle,
        media_only: options.media_only,
        media,
        lock,
        keep,
    };
    phases::run(
        Arc::new(engine),
        RunPlan {
            post_commands: post,
            orphaned_target_sites: orphaned,
            preflight_started,
        },
        stop,
    )
    .await
}

/// Converts what ended a lifecycle call, once.
fn ended<T>(r: Result<T>) -> Result<T, Error> {
    r.map_err(Error::from)
}
