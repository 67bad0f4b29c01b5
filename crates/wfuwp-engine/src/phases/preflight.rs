//! The preflight phase (docs/phases.md): everything checked before anything is
//! written, on every run. Each problem gets its own clear error.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Context as _, Result};
use chrono::{DateTime, Utc};
use mysql_async::prelude::*;
use mysql_async::Conn;

use crate::config::{fingerprint, Config, Environment};
use crate::db::bulk::BulkMode;
use crate::db::connect;
use crate::db::discovery::{inventory, Inventory};
use crate::db::endpoint::Endpoint;
use crate::db::server_lock::{self, TargetLock};
use crate::db::settings::{self, ServerSettings};
use crate::ledger;
use crate::refusal::Refusal;
use crate::sites::SiteId;
use crate::state::lock;
use crate::stop::Stop;

/// Free space the logs dir must have (state, logs and summary of a large run).
const MIN_FREE_BYTES: u64 = 64 << 20;

/// What preflight established.
pub struct Checked {
    /// The source side.
    pub source: Endpoint,
    /// The target side.
    pub target: Endpoint,
    /// The source network.
    pub inventory: Inventory,
    /// The target's tables and sites (for orphan detection and planning).
    pub target_inventory: Inventory,
    /// How staging tables will be filled.
    pub mode: BulkMode,
    /// The target server's settings (docs/managed.md).
    pub target_settings: ServerSettings,
    /// Fingerprint per environment name.
    pub fingerprints: BTreeMap<String, String>,
    /// The source server and database as the server names itself
    /// (`host:port/database`), for the target's ledger.
    pub source_identity: String,
    /// When the checks began (the preflight phase's start in the state).
    pub started: DateTime<Utc>,
    /// What the operator is to be warned about (the caller says them, and a
    /// run writes them to its progress log).
    pub warnings: Vec<String>,
}

impl Checked {
    /// Blog ids the target has and the source does not: a migration leaves
    /// them alone and reports them.
    pub fn orphaned_target_sites(&self) -> Vec<SiteId> {
        let source_ids = self.inventory.blog_ids();
        self.target_inventory
            .sites
            .iter()
            .map(|s| s.id)
            .filter(|id| !source_ids.contains(id))
            .collect()
    }
}

/// Runs every check; `logs_dir` is where state will be written.
pub async fn check(
    config: &Config,
    source: &str,
    target: &str,
    logs_dir: &Path,
) -> Result<Checked> {
    let started = Utc::now();
    let (src_env, dst_env) = (config.environment(source)?, config.environment(target)?);
    if src_env.table_prefix != dst_env.table_prefix {
        return Err(Refusal::new(format!(
            "the table prefixes differ ('{}' in {source}, '{}' in {target}); wfuwp copies tables under the same names. \
             Use the same table_prefix in both environments.",
            src_env.table_prefix, dst_env.table_prefix
        ))
        .into());
    }
    check_free_space(logs_dir)?;
    let src_conn = connect::connect_reporting(src_env).await?;
    let dst_conn = connect::connect_reporting(dst_env).await?;
    let mut warnings: Vec<String> =
        tls_fallback_warning(&[(src_env, &src_conn), (dst_env, &dst_conn)])
            .into_iter()
            .collect();
    let (source_opts, target_opts) = (src_conn.opts.clone(), dst_conn.opts.clone());
    let (mut src, mut dst) = (src_conn.conn, dst_conn.conn);
    refuse_same_database(&mut src, &mut dst, src_env, dst_env).await?;
    let source_identity = format!(
        "{}/{}",
        ledger::server_identity(&mut src)
            .await
            .with_context(|| format!("asking the server of {source} for its name"))?,
        src_env.database
    );
    // A table under the ledger's name that is not one, or a ledger that
    // cannot be read, is refused before anything exists.
    ledger::read(&mut dst, &dst_env.database).await?;
    let target_settings = settings::read(&mut dst)
        .await
        .with_context(|| format!("reading the server settings of {target}"))?;
    refuse_read_only(&target_settings, dst_env)?;
    require_privileges(&mut src, src_env, &["SELECT"]).await?;
    require_privileges(
        &mut dst,
        dst_env,
        &["SELECT", "INSERT", "DELETE", "CREATE", "DROP", "ALTER"],
    )
    .await?;
    // Both sides at once: at thousands of sites each takes seconds.
    let (inv, target_inventory) = tokio::try_join!(
        async {
            inventory(&mut src, &src_env.database, &src_env.table_prefix)
                .await
                .with_context(|| format!("reading the tables of {source}"))
        },
        async {
            inventory(&mut dst, &dst_env.database, &dst_env.table_prefix)
                .await
                .with_context(|| format!("reading the tables of {target}"))
        },
    )?;
    if !inv.is_multisite() {
        return Err(Refusal::new(format!(
            "the source '{source}' (database {}) is not a WordPress multisite: tables {p}blogs and {p}site are missing. \
             Check `database` and `table_prefix` in [environments.{source}].",
            src_env.database,
            p = src_env.table_prefix
        ))
        .into());
    }
    warnings.extend(small_table_caches(
        &target_settings,
        dst_env,
        &inv,
        &target_inventory,
    ));
    let mode = BulkMode::for_server(&target_settings);
    let _ = src.disconnect().await;
    let _ = dst.disconnect().await;
    let fingerprints = [
        (source.to_string(), fingerprint::of(src_env)),
        (target.to_string(), fingerprint::of(dst_env)),
    ]
    .into_iter()
    .collect();
    Ok(Checked {
        source: Endpoint::with(src_env, source_opts),
        target: Endpoint::with(dst_env, target_opts),
        inventory: inv,
        target_inventory,
        mode,
        target_settings,
        fingerprints,
        source_identity,
        started,
        warnings,
    })
}

/// One warning for the environments that `preferred` connected in plain
/// text (config check says more; `disabled` says it is meant).
fn tls_fallback_warning(connected: &[(&Environment, &connect::Connected)]) -> Option<String> {
    let plain: Vec<(&str, &str)> = connected
        .iter()
        .filter_map(|(env, c)| Some((env.name.as_str(), c.tls_fallback.as_deref()?)))
        .collect();
    let (_, why) = plain.first()?;
    let names = plain
        .iter()
        .map(|(n, _)| format!("'{n}'"))
        .collect::<Vec<_>>()
        .join(" and ");
    let verb = if plain.len() == 1 { "is" } else { "are" };
    Some(format!(
        "{names} {verb} connected without TLS (ssl_mode = \"preferred\"): {why}; \
         `wfuwp config check` explains"
    ))
}

/// Takes the run's exclusive server-side lock on the target database (see
/// [`TargetLock`]); a refusal names the holder (exit 4). `logs_dir` is
/// searched for a local run that holds the target, to name it too.
pub async fn lock_target(target: &Endpoint, logs_dir: &Path, stop: &Stop) -> Result<TargetLock> {
    let local = || {
        lock::probe(&lock::target_lock_path(logs_dir, &target.env))
            .ok()
            .flatten()
            .filter(|l| l.pid != std::process::id())
    };
    Ok(TargetLock::acquire(
        &target.opts,
        &target.env,
        &target.database,
        local,
        stop.clone(),
    )
    .await?)
}

/// Refuses a source and target that are one database, however differently
/// the config reaches it (socket and TCP, two host names, a proxy): the
/// migration would rewrite the source in place.
async fn refuse_same_database(
    src: &mut Conn,
    dst: &mut Conn,
    src_env: &Environment,
    dst_env: &Environment,
) -> Result<()> {
    let same = server_lock::same_database(src, dst)
        .await
        .context("asking the servers whether source and target are the same database")?;
    if same {
        return Err(Refusal::new(format!(
            "environments '{}' ({} on {}) and '{}' ({} on {}) reach the same database on the same server; \
             refusing to migrate a database onto itself. Point one of them at another database.",
            src_env.name,
            src_env.database,
            src_env.address(),
            dst_env.name,
            dst_env.database,
            dst_env.address()
        ))
        .into());
    }
    Ok(())
}

/// Refuses a target whose server is read-only (a replica or a reader
/// endpoint by mistake). Asked of the setting itself: a user with SUPER or
/// READ ONLY ADMIN may write through `read_only`, so a test write proves
/// nothing, and writing to a replica splits it from its primary.
pub fn refuse_read_only(settings: &ServerSettings, env: &Environment) -> Result<()> {
    if settings.read_only.is_empty() {
        return Ok(());
    }
    let on = settings
        .read_only
        .iter()
        .map(|s| format!("{s} = ON"))
        .collect::<Vec<_>>()
        .join(", ");
    Err(Refusal::new(format!(
        "the target '{}' (database {} at {}) is read-only: its server has {on}. It is probably a replica or a \
         reader endpoint. Nothing was written. Point `host` in [environments.{}] at the writer (primary) endpoint, \
         or have the server made writable (read_only = OFF), then run again.",
        env.name,
        env.database,
        env.address(),
        env.name
    ))
    .into())
}

/// Warns when the target's database will hold more tables during the run
/// than its server caches: every DDL statement and copy then reopens
/// tables, which at 1,500 sites cost 12 % of the run (docs/performance.md).
/// A heads-up for the DBA, not a refusal: the migration is correct either
/// way. `config check` says what to raise them to.
fn small_table_caches(
    settings: &ServerSettings,
    env: &Environment,
    source: &Inventory,
    target: &Inventory,
) -> Option<String> {
    let caches = settings.table_caches?;
    // At its fullest the database holds its own tables, now backups, and
    // the source's tables swapped in.
    let tables = (source.tables.len() + target.tables.len()) as u64;
    caches.outgrown_by(tables).then(|| {
        format!(
            "the server of '{}' caches {} table definitions (table_definition_cache), but database {} will hold \
             up to {tables} tables during this migration: it works, only slower; `wfuwp config check {}` says \
             what to raise",
            env.name, caches.definitions, env.database, env.name
        )
    })
}

/// Refuses when the grants visible to the user clearly lack a privilege.
async fn require_privileges(conn: &mut Conn, env: &Environment, needed: &[&str]) -> Result<()> {
    let grants: Vec<String> = match conn.query("SHOW GRANTS").await {
        Ok(g) => g,
        // Some managed servers hide grants; the copy itself will then report what fails.
        Err(_) => return Ok(()),
    };
    let have = privileges_on(&grants, &env.database);
    if have.contains("ALL PRIVILEGES") {
        return Ok(());
    }
    let missing: Vec<&str> = needed
        .iter()
        .copied()
        .filter(|p| !have.contains(*p))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(Refusal::new(format!(
        "user '{}' lacks {} on database {} (environment '{}'). Grant them: GRANT {} ON `{}`.* TO '{}'@'...';",
        env.user,
        missing.join(", "),
        env.database,
        env.name,
        missing.join(", "),
        env.database,
        env.user
    ))
    .into())
}

/// Privileges granted on `*.*` or on `db`.* (never echoing the grant lines,
/// which can contain password hashes).
pub fn privileges_on(grants: &[String], db: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for g in grants {
        let Some(rest) = g.strip_prefix("GRANT ") else {
            continue;
        };
        let Some((privs, tail)) = rest.split_once(" ON ") else {
            continue;
        };
        let object = tail.split(" TO ").next().unwrap_or("").trim();
        let unescaped = object.replace("\\_", "_").replace("\\%", "%");
        let applies = unescaped == "*.*"
            || unescaped == format!("`{db}`.*")
            || db_pattern_matches(&unescaped, db);
        if applies {
            out.extend(privs.split(',').map(|p| p.trim().to_ascii_uppercase()));
        }
    }
    out
}

fn db_pattern_matches(object: &str, db: &str) -> bool {
    // `wp%`.* style grants: a trailing % wildcard is the common case.
    object
        .strip_prefix('`')
        .and_then(|o| o.strip_suffix("`.*"))
        .and_then(|p| p.strip_suffix('%'))
        .is_some_and(|prefix| db.starts_with(prefix))
}

fn check_free_space(dir: &Path) -> Result<()> {
    // Measure at the nearest existing ancestor: a dry run must not create the dir.
    let existing = dir.ancestors().find(|a| a.exists()).unwrap_or(dir);
    let free = free_bytes(existing).unwrap_or(u64::MAX);
    if free < MIN_FREE_BYTES {
        return Err(Refusal::new(format!(
            "only {} MB free under {}; wfuwp needs at least {} MB there for state and logs. Free some space or use --logs-dir.",
            free >> 20,
            dir.display(),
            MIN_FREE_BYTES >> 20
        ))
        .into());
    }
    Ok(())
}

fn free_bytes(dir: &Path) -> Option<u64> {
    // What an unprivileged user may still write, as `df` shows it.
    let s = nix::sys::statvfs::statvfs(dir).ok()?;
    Some(s.blocks_available().saturating_mul(s.fragment_size()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_are_read_for_the_right_database() {
        let g = vec![
            "GRANT USAGE ON *.* TO `u`@`%` IDENTIFIED BY PASSWORD '*ABC'".to_string(),
            "GRANT SELECT, INSERT ON `wp\\_uat`.* TO `u`@`%`".to_string(),
            "GRANT DROP ON `other`.* TO `u`@`%`".to_string(),
        ];
        let p = privileges_on(&g, "wp_uat");
        assert!(p.contains("SELECT") && p.contains("INSERT") && p.contains("USAGE"));
        assert!(!p.contains("DROP"));
        let all =
            vec!["GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION".to_string()];
        assert!(privileges_on(&all, "x").contains("ALL PRIVILEGES"));
    }
}
