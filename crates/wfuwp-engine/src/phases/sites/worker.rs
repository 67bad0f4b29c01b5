//! Migrating one site (docs/phases.md): drop old staging, copy from one consistent
//! snapshot into staging, verify counts (in the copy), swap atomically with
//! the backup taken once per migration. Marking it `completed` is the caller's.

use mysql_async::prelude::*;
use mysql_async::Conn;
use wfuwp_replace::ValueStats;

use super::swap::{go_live, Staged};
use crate::db::copy::{copy_table, create_statements, execute_batched};
use crate::db::roles;
use crate::failpoints;
use crate::ledger;
use crate::names::{derived, Role};
use crate::phases::connections::Connections;
use crate::phases::engine::{Engine, SiteJob};
use crate::phases::errors::SiteError;
use crate::phases::timings::Work;
use crate::report::Event;
use crate::state::model::{ErrorKind, Leftovers, SiteStats};
use crate::tables::swap::{self, existing_tables};

/// What a finished site copy produced.
#[derive(Debug, Clone, Default)]
pub struct SiteResult {
    /// Tables, rows, bytes (recorded in the state).
    pub stats: SiteStats,
    /// Replacement counters (for the summary).
    pub replace: ValueStats,
    /// What of the source the copy still mentions (recorded in the state).
    pub leftovers: Leftovers,
}

/// Refuses the site before anything of it is created when the target
/// requires primary keys and one of its tables has none: the CREATE would
/// fail part-way through the site's tables (docs/managed.md says why wfuwp
/// does not add a key of its own).
fn refuse_keyless_tables(engine: &Engine, job: &SiteJob) -> Result<(), SiteError> {
    let Some(setting) = engine.requires_primary_key else {
        return Ok(());
    };
    let keyless: Vec<&str> = job
        .tables
        .iter()
        .filter_map(|t| engine.inventory.tables.get(&t.name))
        .filter(|t| !t.has_primary_key && setting.refuses(t.engine.as_deref()))
        .map(|t| t.name.as_str())
        .collect();
    if keyless.is_empty() {
        return Ok(());
    }
    Err(SiteError::permanent(
        crate::state::model::ErrorKind::Data,
        format!(
            "{} {} no primary key, and the target requires one ({} = ON): nothing of site {} was written. \
             Add a primary key in the source (e.g. ALTER TABLE … ADD COLUMN id BIGINT UNSIGNED AUTO_INCREMENT \
             PRIMARY KEY), or turn {} off on the target; then resume with --retry-failed",
            keyless.join(", "),
            if keyless.len() == 1 { "has" } else { "have" },
            setting.name(),
            job.id,
            setting.name()
        ),
    ))
}

/// Copies and swaps in one site. Idempotent: safe to call again after a crash
/// or failure at any point.
pub async fn migrate_site(
    engine: &Engine,
    conns: &mut Connections,
    worker: usize,
    job: &SiteJob,
) -> Result<SiteResult, SiteError> {
    if engine.inventory.site(job.id).is_none() {
        // Selected at creation, deleted from the source since: copying "no
        // tables" would report success while leaving the target as it was.
        return Err(SiteError::permanent(
            crate::state::model::ErrorKind::Data,
            format!(
                "site {} no longer exists in the source's blogs table",
                job.id
            ),
        ));
    }
    let recorded_db = engine
        .media
        .as_ref()
        .and_then(|_| engine.session.site(job.id).and_then(|r| r.media))
        .and_then(|m| m.database);
    let result = match recorded_db {
        // Tables swapped in by an earlier attempt whose media step failed or
        // was interrupted: only the media step is missing.
        Some(stats) => SiteResult {
            stats,
            ..SiteResult::default()
        },
        None if engine.media_only => SiteResult::default(),
        None => migrate_tables(engine, conns, worker, job).await?,
    };
    if let Some(run) = &engine.media {
        // The site's uploads may change from here on: the ledger says so first.
        let (_, target) = conns.open(engine).await?;
        ledger::plan_media(target, &engine.session.id(), job.id).await?;
        let database = (!engine.media_only).then_some(result.stats);
        let show = |tick| {
            engine.report(Event::Media {
                worker,
                site: job.id,
                tick,
            })
        };
        let step = crate::media::record::site_step(run, &engine.session, job.id, database, show);
        engine
            .timings
            .time(Work::Media, step)
            .await
            .map_err(media_error)?;
        let (_, target) = conns.open(engine).await?;
        ledger::mark_live(target, &engine.session.id(), job.id).await?;
        failpoints::hit("site_media_done");
    }
    Ok(result)
}

/// A media failure as a site failure, never retried as a whole: every
/// request and every object was already retried with backoff
/// (`media::copy`). Network and throttling failures are recorded as
/// `connection`, the rest (missing bucket, refused credentials) as `data`.
fn media_error(e: crate::media::MediaError) -> SiteError {
    let kind = if e.is_transient() {
        crate::state::model::ErrorKind::Connection
    } else {
        crate::state::model::ErrorKind::Data
    };
    SiteError::permanent(kind, e.to_string())
}

/// Steps 1-4 of docs/phases.md for the site's tables.
async fn migrate_tables(
    engine: &Engine,
    conns: &mut Connections,
    worker: usize,
    job: &SiteJob,
) -> Result<SiteResult, SiteError> {
    refuse_keyless_tables(engine, job)?;
    let (source, target) = conns.open(engine).await?;
    let job = &without_kept_tables(engine, target, job).await?;
    let lives: Vec<String> = job.tables.iter().map(|t| t.name.clone()).collect();
    let stagings: Vec<String> = lives
        .iter()
        .map(|l| derived(Role::Staging, &engine.tag, l))
        .collect();
    // Staging copies exist only after a crash or failure mid-copy: look
    // before dropping (a lookup is far cheaper than a DROP, even of nothing).
    engine
        .timings
        .time(Work::Lookup, async {
            let stale = existing_tables(target, &stagings).await?;
            swap::drop_tables(target, &stale.into_iter().collect::<Vec<_>>()).await
        })
        .await?;

    // Taken before any row is read: a change racing the copy makes the next
    // refresh copy the site again rather than miss it.
    let id = engine.session.id();
    engine
        .timings
        .time(Work::Checksum, async {
            let sums = ledger::checksum_tables(source, &lives).await?;
            ledger::record_source(target, &id, job.id, &sums).await
        })
        .await?;
    failpoints::hit("site_source_checksummed");
    let mut result = copy_into_staging(engine, source, target, worker, job).await?;
    // Rows the kept and forced values add count as written (verification).
    result.stats.rows += keep_values(engine, target, job, &stagings).await?;
    failpoints::hit("site_copied");
    refuse_leftovers(engine, job, &result.leftovers)?;

    let staged = Staged {
        site: Some(job.id),
        lives: &lives,
        copied: result.stats.tables as usize,
    };
    engine
        .timings
        .time(Work::Swap, go_live(engine, target, &staged))
        .await?;
    failpoints::hit("site_live");
    // What the site looks like right after the swap: a later refresh tells
    // an edit made on the target since from this.
    engine
        .timings
        .time(Work::Checksum, async {
            let sums = ledger::checksum_tables(target, &lives).await?;
            ledger::record_target(target, &id, job.id, &sums).await
        })
        .await?;
    failpoints::hit("site_target_checksummed");
    failpoints::hit("site_swapped");
    Ok(result)
}

/// The site's job without the tables whose target copy `keep.tables` keeps:
/// they are neither copied nor swapped, so the target's stay as they are
/// (a kept table the target does not have is copied as any other).
async fn without_kept_tables(
    engine: &Engine,
    target: &mut Conn,
    job: &SiteJob,
) -> Result<SiteJob, SiteError> {
    let kept: Vec<String> = job
        .tables
        .iter()
        .filter(|t| engine.keep.keeps_table(&t.name))
        .map(|t| t.name.clone())
        .collect();
    let present = match kept.is_empty() {
        true => Default::default(),
        false => existing_tables(target, &kept).await?,
    };
    Ok(SiteJob {
        id: job.id,
        tables: job
            .tables
            .iter()
            .filter(|t| !present.contains(&t.name))
            .cloned()
            .collect(),
    })
}

/// Writes the target's kept options and the forced ones into the site's
/// staging options table, before the swap (docs/scrub.md); returns the
/// rows added.
async fn keep_values(
    engine: &Engine,
    target: &mut Conn,
    job: &SiteJob,
    stagings: &[String],
) -> Result<u64, SiteError> {
    if !engine.keep.touches_values() {
        return Ok(0);
    }
    let options = match job.id {
        1 => format!("{}options", engine.inventory.prefix),
        n => format!("{}{n}_options", engine.inventory.prefix),
    };
    let Some(i) = job.tables.iter().position(|t| t.name == options) else {
        return Ok(0);
    };
    let live_exists = !existing_tables(target, std::slice::from_ref(&options))
        .await?
        .is_empty();
    let added = engine
        .keep
        .apply_options(target, &options, &stagings[i], live_exists)
        .await?;
    Ok(added)
}

/// Records what the leftover audit found in the site's copy, and with
/// `--fail-on-leftovers` refuses to swap in a copy that still mentions the
/// source: the site fails as `data` and its previous tables stay live.
fn refuse_leftovers(engine: &Engine, job: &SiteJob, found: &Leftovers) -> Result<(), SiteError> {
    let internal = |e: anyhow::Error| SiteError::permanent(ErrorKind::Internal, format!("{e:#}"));
    engine
        .session
        .site_audited(job.id, Some(found.clone()))
        .map_err(internal)?;
    if found.is_empty() || !engine.session.config().options.fail_on_leftovers {
        return Ok(());
    }
    let first = found
        .examples
        .first()
        .map(|e| {
            format!(
                " (e.g. {}.{} [{}], {}: \"{}\")",
                e.table, e.column, e.key, e.form, e.context
            )
        })
        .unwrap_or_default();
    Err(SiteError::permanent(
        ErrorKind::Data,
        format!(
            "{} values of site {} still mention the source{first}; with --fail-on-leftovers the copy was not \
             swapped in and the site's previous tables stay live. Add the missing replacement pairs or \
             [domains] entries and migrate it again, or resume with --retry-failed",
            found.values, job.id
        ),
    ))
}

/// Step 2: one snapshot, every table into its staging copy.
async fn copy_into_staging(
    engine: &Engine,
    source: &mut Conn,
    target: &mut Conn,
    worker: usize,
    job: &SiteJob,
) -> Result<SiteResult, SiteError> {
    roles::begin_snapshot(source).await?;
    // Every staging table first, in a few round trips rather than two per table.
    let stagings: Vec<String> = job
        .tables
        .iter()
        .map(|t| derived(Role::Staging, &engine.tag, &t.name))
        .collect();
    let pairs: Vec<(&str, &str)> = job
        .tables
        .iter()
        .zip(&stagings)
        .map(|(t, s)| (t.name.as_str(), s.as_str()))
        .collect();
    engine
        .timings
        .time(Work::Create, async {
            let creates = create_statements(source, &pairs).await?;
            execute_batched(target, &creates).await
        })
        .await?;
    let mut result = SiteResult::default();
    for (table, staging) in job.tables.iter().zip(&stagings) {
        // A table is the unit of work a throttled run waits between.
        engine.throttle.wait().await;
        engine.report(Event::Table {
            worker,
            site: job.id,
            table: &table.name,
        });
        if engine.keep.excludes_table(&table.name) {
            // Created empty above, with the source's schema: nothing to copy.
            engine.session.log(&format!(
                "site {}: {} excluded (created empty)",
                job.id, table.name
            ));
            result.stats.tables += 1;
            continue;
        }
        let mut rules = engine.rules.for_table(&table.name, &table.columns);
        let copied = engine
            .timings
            .time(
                Work::Rows,
                copy_table(
                    source,
                    target,
                    &table.name,
                    staging,
                    &table.columns,
                    None,
                    &mut rules,
                    engine.mode,
                ),
            )
            .await
            .map_err(|e| SiteError::from(e).in_table(&table.name))?;
        engine.timings.add_replace(copied.rules_time);
        engine.timings.add_audit(rules.audit_time());
        engine.session.log(&format!(
            "site {}: {} copied ({} rows, {} bytes)",
            job.id, table.name, copied.rows, copied.bytes
        ));
        result.stats.tables += 1;
        // A kept table is the target's own once it exists: verification
        // does not count its rows, so neither does the site's record.
        if !engine.keep.keeps_table(&table.name) {
            result.stats.rows += copied.rows;
        }
        result.stats.bytes += copied.bytes;
        result.replace += rules.stats();
        engine.rules.record(&rules);
        result.leftovers.merge(rules.take_leftovers());
    }
    source.query_drop("COMMIT").await?;
    Ok(result)
}
