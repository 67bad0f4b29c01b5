//! `wfuwp env-migrate SOURCE TARGET` and `--resume ID`: from the command line
//! to a run of the phase machine, with the prompts and refusals around it.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};

use super::manage::{self, ResumeDecision};
use super::Context;
use crate::cli::EnvMigrateArgs;
use crate::config::{self, fingerprint, Config, Defaults};
use crate::db::roles;
use crate::db::server_lock::TargetLock;
use crate::exit::{Code, CodedError};
use crate::interrupt::Interrupt;
use crate::media::{self, MediaRun};
use crate::migrate::engine::{backups_of, Engine, Limits};
use crate::migrate::phases::{self, RunEnd, RunPlan};
use crate::migrate::preflight::{self, Checked};
use crate::migrate::throttle::{LoadLimits, LoadSpec, Sampler};
use crate::migrate::{ledger, names, plan, rollback, rollback_order, selection};
use crate::state::{self, MigrationOptions, NewMigration, ResumeRequest, Session};
use crate::ui::{output, progress::Progress, prompt};
use wfuwp_replace::Pair;
use wfuwp_replace::Replacer;

pub(crate) const DEFAULT_CONCURRENCY: u32 = 4;
const DEFAULT_TIMEOUT_MINUTES: f64 = 20.0;
const DEFAULT_MAX_RETRIES: u32 = 3;

/// A new migration SOURCE → TARGET (or, after the resume prompt, an old one).
pub fn new_migration(
    ctx: &Context,
    args: &EnvMigrateArgs,
    source: &str,
    target: &str,
) -> Result<Code> {
    let config = ctx.config()?;
    let (logs_dir, _) = ctx.logs_dir()?;
    let pairs = config::pairs::for_migration(&config, source, target, &args.replace)?;
    let options = options_from_args(args, &config, &pairs);
    let rt = super::runtime()?;
    if args.dry_run {
        let (checked, _) = rt.block_on(check(&config, args, source, target, &logs_dir))?;
        let sites = selection::select(&checked.inventory.sites, &options)
            .map_err(|e| CodedError::usage(e.to_string()))?;
        let l = limits(args, &config.defaults);
        let media = rt.block_on(media_run(&config, source, target, &options, args, l))?;
        let mut shown = plan::build(&checked, &options, &sites);
        shown.orphaned_usermeta =
            rt.block_on(plan::orphaned_usermeta(&checked, &options, &sites))?;
        crate::ui::plan::show(&shown, args.json)?;
        if let Some(run) = media {
            rt.block_on(media_plan(&run, &sites, args.json))?;
        }
        return Ok(Code::Success);
    }
    match manage::detect_resume(ctx, source, target, args.force)? {
        ResumeDecision::Resume(id) => return resume(ctx, args, &id),
        ResumeDecision::Cancel => {
            output::info("Nothing done.");
            return Ok(Code::Success);
        }
        ResumeDecision::StartNew => {}
    }
    confirm_new(args, source, target)?;
    rt.block_on(async {
        let interrupt = Interrupt::install()?;
        let (checked, sampler) = check(&config, args, source, target, &logs_dir).await?;
        let sites = selection::select(&checked.inventory.sites, &options)
            .map_err(|e| CodedError::usage(e.to_string()))?;
        let limits = limits(args, &config.defaults);
        // Before any state exists: bad media settings leave nothing behind.
        let media = media_run(&config, source, target, &options, args, limits).await?;
        let replacer = Arc::new(Replacer::new(&options.replacements)?);
        let lock = preflight::lock_target(&checked.target, &logs_dir, &interrupt).await?;
        let session = Session::create(
            &logs_dir,
            NewMigration {
                source: source.to_string(),
                target: target.to_string(),
                options: options.clone(),
                fingerprints: checked.fingerprints.clone(),
                sites,
            },
        )?;
        output::info(format!(
            "Migration {} started: {source} → {target}",
            session.id()
        ));
        let post = config.environment(target)?.post_migration.clone();
        run(
            session,
            (checked, sampler),
            lock,
            replacer,
            limits,
            AfterSwap { post, media },
            interrupt,
        )
        .await
    })
    .map(report)
}

/// `--resume ID` with the run's selection flags.
pub fn resume(ctx: &Context, args: &EnvMigrateArgs, id: &str) -> Result<Code> {
    let config = ctx.config()?;
    let (logs_dir, _) = ctx.logs_dir()?;
    let dir = state::session::existing_dir(&logs_dir, id)?;
    let recorded: state::MigrationConfig =
        state::store::read_json(&dir, state::store::CONFIG_FILE)?;
    let (source, target) = (recorded.source_env.as_str(), recorded.target_env.as_str());
    let fingerprints = [source, target]
        .iter()
        .map(|name| Ok((name.to_string(), fingerprint::of(config.environment(name)?))))
        .collect::<Result<_>>()?;
    let rt = super::runtime()?;
    rt.block_on(async {
        let interrupt = Interrupt::install()?;
        let request = ResumeRequest {
            skip_failed: args.skip_failed,
            skip_timeouts: args.skip_timeouts,
            retry_failed: args.retry_failed,
            force: args.force,
            fingerprints,
        };
        let before = state::store::load(&dir)?.status;
        // A run that was killed left `running`: it stands for `paused`.
        let before = match before {
            state::MigrationStatus::Running => state::MigrationStatus::Paused,
            other => other,
        };
        let session = Session::resume(&logs_dir, id, request)?;
        let (checked, sampler) = match check(&config, args, source, target, &logs_dir).await {
            Ok(c) => c,
            Err(e) => {
                session.phase_failed(state::Phase::Preflight, &format!("{e:#}"))?;
                session.finish(state::MigrationStatus::Failed, serde_json::json!({}))?;
                return Err(e);
            }
        };
        let lock = match preflight::lock_target(&checked.target, &logs_dir, &interrupt).await {
            Ok(l) => l,
            Err(e) => {
                // Another run holds the target: this one did nothing.
                session.finish(before, serde_json::json!({}))?;
                return Err(e);
            }
        };
        if let Err(e) = refuse_superseded(&config, &logs_dir, &session, &checked).await {
            session.finish(before, serde_json::json!({}))?;
            return Err(e);
        }
        output::info(format!(
            "Resuming {id}: {source} → {target}, {} sites to process",
            session.sites_to_process().len()
        ));
        let replacer = Arc::new(Replacer::new(&session.config().options.replacements)?);
        let o = session.config().options;
        let created_with = Defaults {
            concurrency: o.concurrency,
            timeout_minutes: o.timeout_minutes,
            max_retries: o.max_retries,
        };
        let limits = limits(args, &created_with);
        let media = match media_run(&config, source, target, &o, args, limits).await {
            Ok(m) => m,
            Err(e) => {
                session.phase_failed(state::Phase::Preflight, &format!("{e:#}"))?;
                session.finish(state::MigrationStatus::Failed, serde_json::json!({}))?;
                return Err(e);
            }
        };
        let post = config.environment(target)?.post_migration.clone();
        run(
            session,
            (checked, sampler),
            lock,
            replacer,
            limits,
            AfterSwap { post, media },
            interrupt,
        )
        .await
    })
    .map(report)
}

/// Preflight, then the load limits checked against both servers (a name the
/// server does not have is the operator's mistake: exit 2).
async fn check(
    config: &Config,
    args: &EnvMigrateArgs,
    source: &str,
    target: &str,
    logs_dir: &std::path::Path,
) -> Result<(Checked, Sampler)> {
    let checked = preflight::check(config, source, target, logs_dir).await?;
    let spec = LoadSpec {
        max: args
            .max_load
            .clone()
            .unwrap_or_else(LoadLimits::default_max),
        critical: args.critical_load.clone().unwrap_or_default(),
    };
    let sampler = Sampler::check(&checked.source, &checked.target, spec)
        .await
        .map_err(|e| match e.is_usage() {
            true => anyhow::Error::from(CodedError::usage(e.to_string())),
            false => anyhow::Error::from(e),
        })?;
    Ok((checked, sampler))
}

/// Refuses resuming a migration that later migrations into the same target
/// superseded (they went live and were not rolled back): the state says so
/// when this logs dir ran them, the target's ledger whoever did.
async fn refuse_superseded(
    config: &Config,
    logs_dir: &std::path::Path,
    session: &Session,
    checked: &Checked,
) -> Result<()> {
    let state = session.snapshot();
    if let Some(by) = &state.superseded_by {
        return Err(rollback_order::Superseded {
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
    let refused = rollback_order::check_resume(config, logs_dir, &state, &mut conn, &ledger).await;
    let _ = conn.disconnect().await;
    refused
}

/// Records this run in the target's ledger: created on first use, the
/// migration `running`, where its rows come from, under which rules.
async fn record_run(checked: &Checked, begin: &ledger::Begin) -> Result<()> {
    let mut conn = roles::target(&checked.target.opts).await?;
    ledger::begin(&mut conn, &checked.target.database, begin).await?;
    let _ = conn.disconnect().await;
    Ok(())
}

/// What a run does on the target besides the tables.
struct AfterSwap {
    /// The target's `post_migration` commands.
    post: Vec<String>,
    /// The media side, when uploads are copied.
    media: Option<MediaRun>,
}

fn options_skip_backup(session: &Session) -> bool {
    session.config().options.skip_backup
}

async fn run(
    session: Session,
    (checked, sampler): (Checked, Sampler),
    lock: TargetLock,
    replacer: Arc<Replacer>,
    limits: Limits,
    after: AfterSwap,
    interrupt: Interrupt,
) -> Result<RunEnd> {
    let AfterSwap { post, media } = after;
    let begin = ledger::Begin {
        id: session.id(),
        source: checked.source_identity.clone(),
        rules: ledger::rules_fingerprint(&session.config().options),
        keeps_backups: !options_skip_backup(&session),
        bucket: media.as_ref().map(|m| m.target.config.identity()),
        resumed_from: {
            let s = session.snapshot();
            (s.runs > 1).then_some(s.start_time)
        },
    };
    let media = media.map(|m| {
        let id = session.id();
        Arc::new(if options_skip_backup(&session) {
            m
        } else {
            m.with_backups(&id)
        })
    });
    // Shown once on the terminal at preflight; the run's record keeps them.
    for w in &checked.warnings {
        session.log(&format!("warning: {w}"));
    }
    let state = session.snapshot();
    let options = session.config().options;
    let orphaned = checked.orphaned_target_sites();
    let preflight_started = checked.started;
    if let Err(e) = rollback::check_records(&state, &checked.inventory.prefix) {
        session.finish(state::MigrationStatus::Failed, serde_json::json!({}))?;
        return Err(CodedError::usage(e.to_string()).into());
    }
    // Before anything of this run reaches the target.
    if let Err(e) = record_run(&checked, &begin).await {
        session.finish(state::MigrationStatus::Failed, serde_json::json!({}))?;
        return Err(e);
    }
    let to_process = session.sites_to_process().len() as u64;
    let progress = Progress::new(to_process, limits.concurrency);
    let log = state::store::ProgressLog::open(&session.dir())?;
    let throttle = sampler.start(log, progress.clone(), interrupt.clone(), session.id());
    let engine = Engine {
        tag: names::tag(&state.migration_id),
        backups: backups_of(&state),
        timings: Default::default(),
        session: Arc::new(session),
        source: checked.source,
        target: checked.target,
        inventory: checked.inventory,
        replacer,
        mode: checked.mode,
        requires_primary_key: checked.target_settings.requires_primary_key,
        keep_backup: !options.skip_backup,
        limits,
        progress,
        throttle,
        media_only: options.media_only,
        media,
        lock,
    };
    phases::run(
        Arc::new(engine),
        RunPlan {
            post_commands: post,
            orphaned_target_sites: orphaned,
            preflight_started,
        },
        interrupt,
    )
    .await
}

/// Objects copied at once per site unless `--media-concurrency` says otherwise.
const DEFAULT_MEDIA_CONCURRENCY: u32 = 16;

/// The run's media side when this migration copies uploads; checks bucket
/// access of both environments first (a preflight error names the bucket and
/// what to fix).
async fn media_run(
    config: &Config,
    source: &str,
    target: &str,
    options: &MigrationOptions,
    args: &EnvMigrateArgs,
    limits: Limits,
) -> Result<Option<MediaRun>> {
    let Some((s, t)) = media::wanted(config, source, target, options)
        .map_err(|e| CodedError::usage(e.to_string()))?
    else {
        return Ok(None);
    };
    media::refuse_shared_bucket((source, &s), (target, &t))
        .map_err(|e| CodedError::usage(e.to_string()))?;
    let concurrency = args.media_concurrency.unwrap_or(DEFAULT_MEDIA_CONCURRENCY) as usize;
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

/// `--dry-run`: per site, the objects and bytes to copy, skip and delete.
async fn media_plan(run: &MediaRun, sites: &[crate::sites::SiteId], json: bool) -> Result<()> {
    let mut rows = Vec::new();
    for &site in sites {
        let p = media::copy::plan_site(run, site).await?;
        rows.push(serde_json::json!({
            "siteId": site,
            "objects": p.objects,
            "copy": p.copy.len(),
            "copyBytes": p.copy_bytes(),
            "skip": p.skipped,
            "skipBytes": p.skipped_bytes,
            "delete": if run.delete { p.extra.len() } else { 0 },
        }));
    }
    if json {
        crate::outln!("{}", serde_json::json!({ "media": rows }));
        return Ok(());
    }
    crate::outln!(
        "Media: s3://{}/{} → s3://{}/{} ({})",
        run.source.name(),
        run.source.config.prefix,
        run.target.name(),
        run.target.config.prefix,
        if run.server_side {
            "server-side copy"
        } else {
            "streamed copy"
        }
    );
    for r in rows {
        crate::outln!(
            "  site {}: {} objects; copy {} ({} bytes), skip {}, delete {}",
            r["siteId"],
            r["objects"],
            r["copy"],
            r["copyBytes"],
            r["skip"],
            r["delete"]
        );
    }
    Ok(())
}

fn report(end: RunEnd) -> Code {
    crate::ui::report::final_report(&end.summary);
    end.code
}

fn options_from_args(args: &EnvMigrateArgs, config: &Config, pairs: &[Pair]) -> MigrationOptions {
    let l = limits(args, &config.defaults);
    MigrationOptions {
        include_sites: args.include_sites.clone(),
        exclude_sites: args.exclude_sites.clone(),
        active_only: args.active_only,
        exclude_main_site: args.exclude_main_site,
        include_users: args.include_users,
        no_users: args.no_users,
        network_only: args.network_only,
        sites_only: args.sites_only,
        skip_backup: args.skip_backup,
        keep_files: args.keep_files,
        skip_media: args.skip_media,
        media_only: args.media_only,
        media_delete: args.media_delete,
        replacements: pairs.to_vec(),
        concurrency: Some(l.concurrency as u32),
        timeout_minutes: Some(l.timeout.as_secs_f64() / 60.0),
        max_retries: Some(l.max_retries),
    }
}

/// CLI flag, else `d` (the config's `[defaults]`, or on resume the values
/// the migration was created with), else the built-in default.
fn limits(args: &EnvMigrateArgs, d: &Defaults) -> Limits {
    Limits {
        concurrency: args
            .concurrency
            .or(d.concurrency)
            .unwrap_or(DEFAULT_CONCURRENCY) as usize,
        // Bounded at parse time; a hand-edited state file must not panic either.
        timeout: Duration::try_from_secs_f64(
            args.timeout
                .or(d.timeout_minutes)
                .unwrap_or(DEFAULT_TIMEOUT_MINUTES)
                * 60.0,
        )
        .unwrap_or(Duration::MAX)
        .min(Duration::from_secs(config::MAX_TIMEOUT_MINUTES as u64 * 60)),
        max_retries: args
            .max_retries
            .or(d.max_retries)
            .unwrap_or(DEFAULT_MAX_RETRIES),
    }
}

/// Asks before writing to the target (and again for `--skip-backup`), unless `--force`.
fn confirm_new(args: &EnvMigrateArgs, source: &str, target: &str) -> Result<()> {
    if args.force {
        return Ok(());
    }
    if !output::interactive() {
        return Err(CodedError::usage(format!(
            "not on a terminal, so wfuwp cannot ask before overwriting '{target}'. \
             Re-run with --force to migrate {source} → {target} without prompts (check the plan first with --dry-run)."
        ))
        .into());
    }
    let question = format!(
        "Migrate {source} → {target}? Target tables of the selected sites will be replaced"
    );
    if !prompt::confirm(&question, false).context("asking for confirmation")? {
        return Err(CodedError {
            code: Code::Fatal,
            message: "cancelled; nothing was changed".into(),
        }
        .into());
    }
    if args.skip_backup
        && !prompt::confirm("--skip-backup: the target's current tables will be DROPPED, and --rollback will be impossible. Continue?", false)?
    {
        return Err(CodedError { code: Code::Fatal, message: "cancelled; nothing was changed".into() }.into());
    }
    Ok(())
}
