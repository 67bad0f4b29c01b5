//! A new migration SOURCE → TARGET ([`start`]), or its plan only ([`dry_run`]).

use std::collections::BTreeMap;
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
use crate::ledger;
use crate::media::{self, MediaRun};
use crate::phases::preflight::{self, Checked};
use crate::phases::RunEnd;
use crate::refresh::{self, Refresh, SiteClass};
use crate::refusal::Refusal;
use crate::report::{Event, Reporter};
use crate::scope;
use crate::sites::SiteId;
use crate::state::model::{MigrationStatus, SiteStatus};
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

    /// The operator accepted that sites edited on the target since their
    /// last copy are overwritten (a prompt named them).
    pub fn drift_accepted(mut self) -> Start {
        self.flags.drift_accepted = true;
        self
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
    // The host pairs first: they are part of the rules the ledger compares.
    let hosts = host_plan(config, &req.target, &checked, &options, &sites).await?;
    if let Some(why) = hosts.refusal(&req.target, options.allow_unmapped_hosts) {
        return Err(Refusal::new(why).into());
    }
    with_hosts(&mut options, hosts);
    let refresh = classify(&checked, req, &options, &sites).await?;
    let decided = guard_drift(&refresh, req, &*reporter)?;
    let options = copied_only(options, &sites, &decided);
    let limits = req.flags.limits(&config.defaults);
    // Before any state exists: bad media settings leave nothing behind.
    let media = media_run(config, req.sides(), &options, &req.flags, limits).await?;
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
            decided,
        },
    )?;
    for n in session.notices() {
        reporter.event(Event::Notice(&n));
    }
    if req.options.changed_only {
        let line = refresh.describe(&req.target);
        session.log(&line);
        reporter.event(Event::Info(&line));
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

/// Each selected site against the target's ledger: drift always (the target
/// checksums of sites the ledger knows), the source too for `--changed-only`.
async fn classify(
    checked: &preflight::Checked,
    req: &Start,
    options: &MigrationOptions,
    sites: &[SiteId],
) -> Result<Refresh> {
    let rules = ledger::rules_fingerprint(
        options,
        checked.fingerprints.get(&req.target).map(String::as_str),
    );
    refresh::classify(&refresh::Inputs {
        source: (&checked.source, &checked.inventory),
        target: (&checked.target, &checked.target_inventory),
        source_identity: &checked.source_identity,
        rules: &rules,
        sites,
        with_source: options.changed_only,
    })
    .await
}

/// The drift guard: sites edited on the target since their last copy are
/// named; one this run would overwrite needs the operator's word (`--force`,
/// `--overwrite-drift`, or the prompt), else nothing is written. Returns the
/// sites `--changed-only` decides now (`unchanged`, `drifted`).
fn guard_drift(
    refresh: &Refresh,
    req: &Start,
    reporter: &dyn Reporter,
) -> Result<BTreeMap<SiteId, SiteStatus>> {
    let o = &req.options;
    let drift = match writes_site_tables(o) {
        true => refresh.drift_sentence(&req.target),
        false => None,
    };
    if let Some(sentence) = drift {
        let overwrites = !o.changed_only || o.overwrite_drift;
        if overwrites && !(o.overwrite_drift || req.flags.drift_accepted) {
            return Err(Refusal::new(format!(
                "{sentence} — this migration would overwrite them. Nothing was written. Check them with                  `wfuwp env-migrate --status {} {}`; re-run with --overwrite-drift (or --force) to overwrite                  them, or with --changed-only to leave them alone.",
                req.source, req.target
            ))
            .into());
        }
        let what = match overwrites {
            true => "they will be overwritten",
            false => "left alone as drifted (--overwrite-drift copies them)",
        };
        reporter.event(Event::Warning(&format!("{sentence} — {what}")));
    }
    if !o.changed_only {
        return Ok(BTreeMap::new());
    }
    Ok(refresh
        .sites
        .iter()
        .filter(|s| !s.class.is_copied(o.overwrite_drift))
        .filter_map(|s| match s.class {
            SiteClass::Unchanged => Some((s.site_id, SiteStatus::Unchanged)),
            SiteClass::DeletedFromSource => None,
            _ => Some((s.site_id, SiteStatus::Drifted)),
        })
        .collect())
}

/// Whether the migration replaces site tables (`--media-only` and
/// `--network-only` do not: drift is not theirs to overwrite).
fn writes_site_tables(o: &MigrationOptions) -> bool {
    !o.media_only && !o.network_only
}

/// `--changed-only` without `--include-users`: the network rows of the
/// copied sites only, as a partial migration upserts them; none when no
/// site is copied.
fn copied_only(
    mut options: MigrationOptions,
    sites: &[SiteId],
    decided: &BTreeMap<SiteId, SiteStatus>,
) -> MigrationOptions {
    if !options.changed_only || options.include_users {
        return options;
    }
    let copied: std::collections::BTreeSet<SiteId> = sites
        .iter()
        .copied()
        .filter(|id| !decided.contains_key(id))
        .collect();
    if copied.is_empty() {
        options.sites_only = true;
    } else {
        options.include_sites = Some(crate::sites::SiteSelector(copied));
    }
    options
}

/// The sites edited on the target since their last copy that `req` would
/// overwrite, in a sentence ("3 sites were changed in uat since …: 4, 7,
/// 9"); `None` when there are none. Reads both databases, writes nothing.
pub async fn drift(
    config: &Config,
    logs_dir: &Path,
    req: &Start,
    reporter: Arc<dyn Reporter>,
) -> Result<Option<String>, Error> {
    ended(
        async {
            let (checked, _) = check(config, &req.flags, req.sides(), logs_dir, &*reporter).await?;
            let sites = scope::select(&checked.inventory.sites, &req.options)
                .map_err(|e| Refusal::new(e.to_string()))?;
            let without_source = MigrationOptions {
                changed_only: false,
                ..req.options.clone()
            };
            if !writes_site_tables(&req.options) {
                return Ok(None);
            }
            let r = classify(&checked, req, &without_source, &sites).await?;
            Ok(r.drift_sentence(&req.target))
        }
        .await,
    )
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
    shown.refresh = Some(classify(&checked, req, options, &sites).await?);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_only_upserts_the_copied_sites_or_copies_the_network_whole() {
        let decided = BTreeMap::from([(1, SiteStatus::Unchanged), (3, SiteStatus::Drifted)]);
        let asked = MigrationOptions {
            changed_only: true,
            ..Default::default()
        };
        let o = copied_only(asked.clone(), &[1, 2, 3, 4], &decided);
        assert_eq!(
            o.include_sites.map(|s| s.0.into_iter().collect::<Vec<_>>()),
            Some(vec![2, 4])
        );
        assert!(scope::is_partial(&copied_only(
            asked.clone(),
            &[1, 2, 3, 4],
            &decided
        )));
        // Nothing to copy: the network tables are left alone.
        let o = copied_only(asked.clone(), &[1, 3], &decided);
        assert!(o.sites_only && o.include_sites.is_none());
        // --include-users: the network tables whole, as asked.
        let whole = MigrationOptions {
            include_users: true,
            ..asked.clone()
        };
        assert_eq!(copied_only(whole.clone(), &[1, 2, 3, 4], &decided), whole);
        // Without --changed-only nothing changes.
        let plain = MigrationOptions::default();
        assert_eq!(copied_only(plain.clone(), &[1, 2], &decided), plain);
        assert!(!writes_site_tables(&MigrationOptions {
            media_only: true,
            ..plain.clone()
        }));
        assert!(writes_site_tables(&plain));
    }
}
