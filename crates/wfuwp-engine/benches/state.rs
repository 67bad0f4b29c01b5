//! State-store benchmark (docs/performance.md, issues 3 and 13): the cost of
//! durable transitions at 5,000 sites, against a run whose sites take 200 ms
//! each, and of `--list-migrations` over 50 such migrations.
//!
//! Run: `cargo bench --bench state` (optionally `-- SITES DIR`; DIR must be on
//! the disk that will hold the logs dir, since fsync cost is the whole story).

use std::time::{Duration, Instant};

use wfuwp_engine::state::{NewMigration, Session, SiteStats};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() -> anyhow::Result<()> {
    // `cargo bench` passes --bench; under `cargo test --all-targets` this is a smoke test.
    let measuring = std::env::args().any(|a| a == "--bench");
    let mut args = std::env::args().skip(1).filter(|a| !a.starts_with("--"));
    let sites: u64 = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if measuring { 5_000 } else { 200 });
    let base = args
        .next()
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let tmp = tempfile::tempdir_in(&base)?;

    let t0 = Instant::now();
    let session = Session::create(
        tmp.path(),
        NewMigration {
            source: "prod".into(),
            target: "uat".into(),
            sites: (1..=sites).collect(),
            decided: Default::default(),
            ..Default::default()
        },
    )?;
    let create = t0.elapsed();

    let mut samples = Vec::with_capacity(2 * sites as usize);
    let run = Instant::now();
    for id in 1..=sites {
        let t = Instant::now();
        session.site_started(id)?;
        samples.push(t.elapsed());
        let t = Instant::now();
        session.site_completed(
            id,
            SiteStats {
                tables: 12,
                rows: 5_310,
                bytes: 1_834_221,
            },
        )?;
        samples.push(t.elapsed());
    }
    let total = run.elapsed();
    let t = Instant::now();
    let loaded = wfuwp_engine::state::store::load(&session.dir())?;
    let load = t.elapsed();
    assert_eq!(
        loaded,
        session.snapshot(),
        "a reader sees the latest recorded state"
    );
    let t = Instant::now();
    session.finish(
        wfuwp_engine::state::MigrationStatus::Completed,
        serde_json::Value::Null,
    )?;
    let finish = t.elapsed();

    samples.sort();
    let median = percentile(&samples, 0.5);
    let p99 = percentile(&samples, 0.99);
    let max = *samples.last().unwrap_or(&Duration::ZERO);
    let per_site = total / sites as u32;
    let run_secs = sites as f64 * 0.2;
    println!(
        "state store: {sites} sites, {} durable transitions, in {}",
        samples.len(),
        base.display()
    );
    println!(
        "  per transition: median {median:?}, p99 {p99:?}, max {max:?}, mean {:?}",
        total / samples.len() as u32
    );
    println!("  per site (start + complete): {per_site:?}");
    println!(
        "  overhead vs a {sites}-site run at 200 ms/site ({run_secs:.0} s): {:.2}% (serial worst case; workers overlap it)",
        100.0 * total.as_secs_f64() / run_secs
    );
    println!("  create {create:?}, load with journal replay {load:?}, finish (snapshot + summary) {finish:?}");
    list_many(tmp.path(), sites)
}

/// `--list-migrations --all` over 50 migrations of `sites` sites each (the
/// one above and 49 more, finished at different points).
fn list_many(logs: &std::path::Path, sites: u64) -> anyhow::Result<()> {
    const MIGRATIONS: u64 = 50;
    let t = Instant::now();
    for n in 1..MIGRATIONS {
        let s = Session::create(
            logs,
            NewMigration {
                source: "prod".into(),
                target: format!("t{n}"),
                sites: (1..=sites).collect(),
                decided: Default::default(),
                ..Default::default()
            },
        )?;
        for id in 1..=(n * 10).min(sites) {
            s.site_started(id)?;
            s.site_completed(id, SiteStats::default())?;
        }
        s.finish(
            wfuwp_engine::state::MigrationStatus::Paused,
            serde_json::Value::Null,
        )?;
    }
    let made = t.elapsed();
    let t = Instant::now();
    let listing = wfuwp_engine::state::list_migrations(logs, true)?;
    let list = t.elapsed();
    assert_eq!(listing.migrations.len() as u64, MIGRATIONS);
    println!(
        "  --list-migrations --all over {MIGRATIONS} migrations of {sites} sites: {list:?} ({:?} per migration; creating them took {made:?})",
        list / MIGRATIONS as u32
    );
    Ok(())
}
