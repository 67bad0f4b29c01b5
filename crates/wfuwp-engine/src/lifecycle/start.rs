//! A new migration SOURCE → TARGET ([`start`]), or its plan only ([`dry_run`]).

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use wfuwp_replace::Replacer;

use super::guard::{Guard, OnFailure};
use super::plan::{self, Plan};
use super::{begin, check, ended, media_run, run_phases, scrub_plan, Prepared, RunFlags};
use crate::config::{self, Config};
use crate::db::roles;
use crate::error::Error;
use crate::hosts::{self, HostPlan};
use crate::media::{self, MediaRun};
use crate::phases::preflight::{self, Checked};
use crate::phases::RunEnd;
use crate::refusal::Refusal;
use crate::report::{Event, Reporter};
use crate::scope;
use crate::sites::SiteId;
use crate::state::model::MigrationStatus;
use crate::state::{MigrationOptions, NewMigration, Session};
use crate::stop::Stop;

/// A new migration, its options resolved against the configuration.
#[derive(Debug, Clone)]
pub struct Start {
    source: String,
    target: String,
    options: MigrationOptions,
    flags: RunFlags,
}

impl Start {
    /// A migration `source` → `target` as `asked` (the selection and
    /// behaviour flags; `replacements` holds the pairs given besides the
    /// environments' tokens) with this run's `flags`. The migration gets every
    /// replacement pair (the tokens, then the extra ones) and its limits now,
    /// so that a configuration that cannot make them is refused before
    /// anything else.
    pub fn new(
        config: &Config,
        source: &str,
        target: &str,
        asked: MigrationOptions,
        flags: RunFlags,
    ) -> Result<Start, Error> {
        let pairs = config::pairs::for_migration(config, source, target, &asked.replacements)?;
        let l = flags.limits(&config.defaults);
        let options = MigrationOptions {
            replacements: pairs,
            concurrency: Some(l.concurrency as u32),
            timeout_minutes: Some(l.timeout.as_secs_f64() / 60.0),
            max_retries: Some(l.max_retries),
            ..asked
        };
        Ok(Start {
            source: source.to_string(),
            target: target.to_string(),
            options,
            flags,
        })
    }

    /// The source environment.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The target environment.
    pub fn target(&self) -> &str {
        &self.target
    }

    fn sides(&self) -> (&str, &str) {
        (&self.source, &self.target)
    }
}

/// Runs a new migration to its end (or its stop).
pub async fn start(
    config: &Config,
    logs_dir: &Path,
    req: &Start,
    stop: Stop,
    reporter: Arc<dyn Reporter>,
) -> Result<RunEnd, Error> {
    ended(start_run(config, logs_dir, req, stop, reporter).await)
}

async fn start_run(
    config: &Config,
    logs_dir: &Path,
    req: &Start,
    stop: Stop,
    reporter: Arc<dyn Reporter>,
) -> Result<RunEnd> {
    let mut options = req.options.clone();
    let (checked, sampler) = check(config, &req.flags, req.sides(), logs_dir, &*reporter).await?;
    let sites = scope::select(&checked.inventory.sites, &options)
        .map_err(|e| Refusal::new(e.to_string()))?;
    let limits = req.flags.limits(&config.defaults);
    // Before any state exists: bad media settings leave nothing behind.
    let media = media_run(config, req.sides(), &options, &req.flags, limits).await?;
    let hosts = host_plan(config, &req.target, &checked, &options, &sites).await?;
    if let Some(why) = hosts.refusal(&req.target, options.allow_unmapped_hosts) {
        return Err(Refusal::new(why).into());
    }
    with_hosts(&mut options, hosts);
    let replacer = Arc::new(Replacer::new(&options.replacements)?);
    let scrub = scrub_plan(config, &req.target, &checked).await?;
    let lock = preflight::lock_target(&checked.target, logs_dir, &stop).await?;
    let session = Session::create(
        logs_dir,
        NewMigration {
            source: req.source.clone(),
            target: req.target.clone(),
            options,
            fingerprints: checked.fingerprints.clone(),
            sites,
        },
    )?;
    for n in session.notices() {
        reporter.event(Event::Notice(&n));
    }
    reporter.event(Event::Info(&format!(
        "Migration {} started: {} → {}",
        session.id(),
        req.source,
        req.target
    )));
    let prepared = Prepared {
        post: config.environment(&req.target)?.post_migration.clone(),
        checked,
        sampler,
        lock,
        limits,
        media,
        replacer,
        scrub,
        keep: crate::keep::KeepPlan::new(
            config.environment(&req.target)?,
            &req.options.exclude_tables,
        ),
    };
    let guard = Guard::new(session, OnFailure::Finish(MigrationStatus::Failed));
    let begun = begin(guard.session(), &prepared).await;
    let (session, ()) = guard.settle(begun)?;
    run_phases(session, prepared, stop, reporter).await
}

/// The target host of every selected site (docs/hosts.md); a `domains`
/// entry that contradicts a pair is refused. A media-only migration writes
/// no rows, so it has no hosts to give.
async fn host_plan(
    config: &Config,
    target: &str,
    checked: &Checked,
    options: &MigrationOptions,
    sites: &[SiteId],
) -> Result<HostPlan> {
    if options.media_only {
        return Ok(HostPlan::default());
    }
    let mut conn = roles::source(&checked.source.opts)
        .await
        .context("connecting to the source to read the sites' hosts")?;
    let found = hosts::read::site_hosts(&mut conn, &checked.inventory, sites).await;
    let _ = conn.disconnect().await;
    hosts::plan(config.environment(target)?, &options.replacements, &found?)
        .map_err(|why| Refusal::new(why).into())
}

/// The migration's options with the host plan: its pairs join the others
/// (global: links between sites are rewritten too), its hosts are recorded.
fn with_hosts(options: &mut MigrationOptions, plan: HostPlan) {
    options.replacements.extend(plan.pairs);
    options.hosts = plan.hosts;
}

/// A new migration's plan, from a read-only preflight: nothing is written,
/// no state is created.
pub struct DryRun {
    plan: Plan,
    sites: Vec<SiteId>,
    media: Option<MediaRun>,
}

/// Computes the plan of `req`.
pub async fn dry_run(
    config: &Config,
    logs_dir: &Path,
    req: &Start,
    reporter: Arc<dyn Reporter>,
) -> Result<DryRun, Error> {
    ended(plan_run(config, logs_dir, req, &*reporter).await)
}

async fn plan_run(
    config: &Config,
    logs_dir: &Path,
    req: &Start,
    reporter: &dyn Reporter,
) -> Result<DryRun> {
    let mut options = req.options.clone();
    let (checked, _) = check(config, &req.flags, req.sides(), logs_dir, reporter).await?;
    let sites = scope::select(&checked.inventory.sites, &options)
        .map_err(|e| Refusal::new(e.to_string()))?;
    let hosts = host_plan(config, &req.target, &checked, &options, &sites).await?;
    let collisions = hosts.collisions.clone();
    with_hosts(&mut options, hosts);
    let options = &options;
    let limits = req.flags.limits(&config.defaults);
    let media = media_run(config, req.sides(), options, &req.flags, limits).await?;
    let mut shown = plan::build(&checked, options, &sites);
    shown.host_collisions = collisions;
    shown.orphaned_usermeta = plan::orphaned_usermeta(&checked, options, &sites).await?;
    let target_env = config.environment(&req.target)?;
    let keep = crate::keep::KeepPlan::new(target_env, &options.exclude_tables);
    shown.excluded = plan::excluded(&checked, &sites, &keep);
    if let Some(scrub) = scrub_plan(config, &req.target, &checked).await? {
        shown.scrub = Some(plan::scrub_estimate(&checked, &shown, &sites, &scrub).await?);
    }
    Ok(DryRun {
        plan: shown,
        sites,
        media,
    })
}

/// The media side of a plan: per site, the objects and bytes to copy, skip
/// and delete.
#[derive(Debug, Clone)]
pub struct MediaPlan {
    /// `s3://bucket/prefix` of the source.
    pub source: String,
    /// `s3://bucket/prefix` of the target.
    pub target: String,
    /// Copied inside S3 (else streamed through this machine).
    pub server_side: bool,
    /// Target objects the source lacks are deleted (`--media-delete`).
    pub delete: bool,
    /// Per selected site.
    pub sites: Vec<MediaSitePlan>,
}

/// One site's media plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaSitePlan {
    /// The site.
    pub site: SiteId,
    /// Its objects in the source.
    pub objects: u64,
    /// Objects to copy.
    pub copy: u64,
    /// Their bytes.
    pub copy_bytes: u64,
    /// Objects already identical in the target.
    pub skip: u64,
    /// Their bytes.
    pub skip_bytes: u64,
    /// Target objects to delete (with `--media-delete`).
    pub delete: u64,
}

impl DryRun {
    /// What the migration would copy.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The media side, when the migration copies uploads: both buckets
    /// listed for every selected site (read-only).
    pub async fn media_plan(&self) -> Result<Option<MediaPlan>, Error> {
        let Some(run) = &self.media else {
            return Ok(None);
        };
        let mut sites = Vec::new();
        for &site in &self.sites {
            let p = media::copy::plan_site(run, site).await?;
            sites.push(MediaSitePlan {
                site,
                objects: p.objects,
                copy: p.copy.len() as u64,
                copy_bytes: p.copy_bytes(),
                skip: p.skipped,
                skip_bytes: p.skipped_bytes,
                delete: if run.delete { p.extra.len() as u64 } else { 0 },
            });
        }
        Ok(Some(MediaPlan {
            source: format!("s3://{}/{}", run.source.name(), run.source.config.prefix),
            target: format!("s3://{}/{}", run.target.name(), run.target.config.prefix),
            server_side: run.server_side,
            delete: run.delete,
            sites,
        }))
    }
}
