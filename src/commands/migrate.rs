//! `wfuwp env-migrate SOURCE TARGET` and `--resume ID`: the flags to the
//! engine's lifecycle, with the prompts before it and the report after.

use anyhow::Context as _;
use wfuwp_engine::lifecycle::{self, Resume, RunFlags, Start};
use wfuwp_engine::phases::RunEnd;
use wfuwp_engine::state::MigrationOptions;

use super::manage::{self, ResumeDecision};
use super::Context;
use crate::cli::EnvMigrateArgs;
use crate::exit::{self, Code, Failure};
use crate::signals;
use crate::ui::progress::Terminal;
use crate::ui::{self, output, prompt};

/// A new migration SOURCE → TARGET (or, after the resume prompt, an old one).
pub fn start(
    ctx: &Context,
    args: &EnvMigrateArgs,
    source: &str,
    target: &str,
) -> Result<Code, Failure> {
    let config = ctx.config()?;
    let (logs_dir, _) = ctx.logs_dir()?;
    let req = Start::new(&config, source, target, asked(args), flags(args))?;
    let rt = super::runtime()?;
    if args.dry_run {
        return rt.block_on(async {
            let planned = lifecycle::dry_run(&config, &logs_dir, &req, Terminal::new()).await?;
            ui::plan::show(planned.plan(), args.json)?;
            if let Some(media) = planned.media_plan().await? {
                ui::plan::show_media(&media, args.json);
            }
            Ok::<_, Failure>(Code::Success)
        });
    }
    match manage::detect_resume(ctx, source, target, args.force)? {
        ResumeDecision::Resume(id) => return resume(ctx, args, &id),
        ResumeDecision::Cancel => {
            output::info("Nothing done.");
            return Ok(Code::Success);
        }
        ResumeDecision::StartNew => {}
    }
    let overwrites = !args.changed_only || args.overwrite_drift;
    let drift = match overwrites && !args.force {
        // The prompt (or the refusal without a terminal) names what the run
        // would overwrite: read it first.
        // A failure here is the run's to report (it checks the same again).
        true => rt
            .block_on(lifecycle::drift(&config, &logs_dir, &req, Terminal::new()))
            .ok()
            .flatten(),
        false => None,
    };
    confirm_new(args, source, target, drift.as_deref())?;
    let req = req.drift_accepted();
    let end = rt.block_on(async {
        let stop = signals::install()?;
        Ok::<_, Failure>(lifecycle::start(&config, &logs_dir, &req, stop, Terminal::new()).await?)
    })?;
    Ok(report(&end, args.json))
}

/// `--resume ID` with the run's selection flags.
pub fn resume(ctx: &Context, args: &EnvMigrateArgs, id: &str) -> Result<Code, Failure> {
    let config = ctx.config()?;
    let (logs_dir, _) = ctx.logs_dir()?;
    let req = Resume {
        skip_failed: args.skip_failed,
        skip_timeouts: args.skip_timeouts,
        retry_failed: args.retry_failed,
        force: args.force,
        flags: flags(args),
    };
    let end = super::runtime()?.block_on(async {
        let stop = signals::install()?;
        Ok::<_, Failure>(
            lifecycle::resume(&config, &logs_dir, id, &req, stop, Terminal::new()).await?,
        )
    })?;
    Ok(report(&end, args.json))
}

fn report(end: &RunEnd, json: bool) -> Code {
    ui::report::final_report(&end.summary, json);
    exit::of_run(&end.outcome)
}

/// The selection and behaviour the flags ask for (the limits are the
/// engine's to resolve from [`flags`] and the configuration).
fn asked(args: &EnvMigrateArgs) -> MigrationOptions {
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
        replacements: args.replace.clone(),
        exclude_tables: args.exclude_tables.clone(),
        concurrency: None,
        timeout_minutes: None,
        max_retries: None,
        hosts: Vec::new(),
        allow_unmapped_hosts: args.allow_unmapped_hosts,
        fail_on_leftovers: args.fail_on_leftovers,
        changed_only: args.changed_only,
        overwrite_drift: args.overwrite_drift,
    }
}

fn flags(args: &EnvMigrateArgs) -> RunFlags {
    RunFlags {
        concurrency: args.concurrency,
        timeout_minutes: args.timeout,
        max_retries: args.max_retries,
        max_load: args.max_load.clone(),
        critical_load: args.critical_load.clone(),
        media_concurrency: args.media_concurrency,
        drift_accepted: args.force,
    }
}

/// `--status SOURCE TARGET`: each site against the target's ledger; nothing
/// is written, no state is created.
pub fn status(
    ctx: &Context,
    args: &EnvMigrateArgs,
    source: &str,
    target: &str,
) -> Result<Code, Failure> {
    let config = ctx.config()?;
    let (logs_dir, _) = ctx.logs_dir()?;
    let asked = MigrationOptions {
        changed_only: true,
        ..asked(args)
    };
    let req = Start::new(&config, source, target, asked, flags(args))?;
    super::runtime()?.block_on(async {
        let planned = lifecycle::dry_run(&config, &logs_dir, &req, Terminal::new()).await?;
        if let Some(r) = &planned.plan().refresh {
            ui::plan::show_refresh(r, target, args.json)?;
        }
        Ok::<_, Failure>(Code::Success)
    })
}

/// Asks before writing to the target (and again for `--skip-backup`), unless
/// `--force`; names the sites edited on the target since their last copy
/// (`drift`) that the run would overwrite.
fn confirm_new(
    args: &EnvMigrateArgs,
    source: &str,
    target: &str,
    drift: Option<&str>,
) -> Result<(), Failure> {
    if args.force {
        return Ok(());
    }
    if let (false, Some(d)) = (output::interactive(), drift) {
        return Err(Failure::Usage(format!(
            "{d} — this migration would overwrite them, and without a terminal wfuwp cannot ask. Nothing was \
             written. See them with `wfuwp env-migrate --status {source} {target}`; re-run with --force (or \
             --overwrite-drift --force) to overwrite them, or add --changed-only to leave them alone."
        )));
    }
    if !output::interactive() {
        return Err(Failure::Usage(format!(
            "not on a terminal, so wfuwp cannot ask before overwriting '{target}'. \
             Re-run with --force to migrate {source} → {target} without prompts (check the plan first with --dry-run)."
        )));
    }
    let question = match drift {
        Some(d) => format!(
            "{d} — they will be overwritten.\nMigrate {source} → {target}? Target tables of the selected sites will be replaced"
        ),
        None => format!(
            "Migrate {source} → {target}? Target tables of the selected sites will be replaced"
        ),
    };
    let skip_backup = "--skip-backup: the target's current tables will be DROPPED, and --rollback will be impossible. Continue?";
    let asked = prompt::confirm(&question, false).context("asking for confirmation")?;
    if !asked || (args.skip_backup && !prompt::confirm(skip_backup, false)?) {
        return Err(prompt::cancelled());
    }
    Ok(())
}
