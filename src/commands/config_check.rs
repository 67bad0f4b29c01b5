//! `wfuwp config check [ENV…]`: validate, connect, report.
//!
//! The file itself is validated by loading it (errors exit 2 with the path and
//! line). Then every selected environment is checked at once (an unreachable
//! host costs one connect timeout, not one per environment) and reported:
//! server version, whether the database is a multisite, its sites and tables.
//! Any failure makes the exit non-zero: 2 when the cause is configuration
//! (e.g. an unset password variable), 1 otherwise.

use anyhow::Result;
use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use super::{runtime, Context};
use crate::config::{Config, Environment};
use crate::db::connect::{self, DbError};
use crate::db::tls;
use crate::exit::{Code, CodedError};

/// What a reachable environment's database holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseFacts {
    /// `SELECT VERSION()`.
    pub version: String,
    /// Tables in the database (any prefix).
    pub tables: u64,
    /// Site counts when `{prefix}blogs` and `{prefix}site` exist.
    pub sites: Option<SiteCounts>,
    /// The main site's `siteurl` option, when readable.
    pub siteurl: Option<String>,
}

/// Sites registered in `{prefix}blogs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SiteCounts {
    /// All rows.
    pub total: u64,
    /// `archived = 1`.
    pub archived: u64,
    /// `spam = 1`.
    pub spam: u64,
    /// `deleted = 1`.
    pub deleted: u64,
}

/// The check of one environment.
#[derive(Debug)]
struct Report {
    env: Environment,
    outcome: Result<(DatabaseFacts, String), Problem>,
}

/// Why an environment failed its check.
#[derive(Debug)]
enum Problem {
    /// Configuration (exit 2): e.g. the password variable is not set.
    Config(String),
    /// Connection or server failure (exit 1).
    Database(String),
}

/// Checks the named environments (all when none are named).
pub fn run(ctx: &Context, envs: &[String]) -> Result<Code> {
    let config = ctx.config()?;
    let selected = select(&config, envs)?;
    crate::outln!(
        "configuration {}: valid, {} environment(s) to check",
        config.path.display(),
        selected.len()
    );
    // Found without a database: what a migration between two environments
    // would refuse. Reported as configuration problems (exit 2).
    let token_problems = crate::config::pairs::problems(&config, envs);
    if !token_problems.is_empty() {
        crate::outln!("replacement tokens:");
        for p in &token_problems {
            crate::outln!("  PROBLEM: {p}");
        }
    }
    let rt = runtime()?;
    let media = rt.block_on(check_media(&selected));
    let reports = rt.block_on(check_all(selected));
    let mut failed = Vec::new();
    let mut config_failure = !token_problems.is_empty();
    for r in &reports {
        print_report(r);
        if let Err(p) = &r.outcome {
            config_failure |= matches!(p, Problem::Config(_));
            failed.push(r.env.name.clone());
        }
    }
    for (env, outcome) in media {
        match outcome {
            Ok(what) => crate::outln!("{env}: media {what}"),
            Err(e) => {
                crate::outln!("{env}: media PROBLEM: {e}");
                if !failed.contains(&env) {
                    failed.push(env);
                }
            }
        }
    }
    if failed.is_empty() && token_problems.is_empty() {
        crate::outln!("all {} environment(s) OK", reports.len());
        return Ok(Code::Success);
    }
    let tokens = format!(
        "{} replacement-token problem(s) in {}",
        token_problems.len(),
        config.path.display()
    );
    let summary = match (failed.is_empty(), token_problems.is_empty()) {
        (true, _) => format!("config check found {tokens}"),
        (false, true) => format!(
            "config check failed for {} of {} environment(s): {}",
            failed.len(),
            reports.len(),
            failed.join(", ")
        ),
        (false, false) => format!(
            "config check failed for {} of {} environment(s): {}, and found {tokens}",
            failed.len(),
            reports.len(),
            failed.join(", ")
        ),
    };
    let message =
        format!("{summary}. Fix the problems shown above and run `wfuwp config check` again.");
    Err(CodedError {
        code: if config_failure {
            Code::Usage
        } else {
            Code::Fatal
        },
        message,
    }
    .into())
}

/// Bucket access of every environment with media settings (docs/media.md).
async fn check_media(envs: &[Environment]) -> Vec<(String, Result<String, String>)> {
    let mut out = Vec::new();
    for env in envs {
        if let Some(m) = &env.media {
            let r = crate::media::check_access(&env.name, m)
                .await
                .map_err(|e| e.to_string());
            out.push((env.name.clone(), r));
        }
    }
    out
}

/// The environments to check: those named (each must exist), else all.
fn select(config: &Config, names: &[String]) -> Result<Vec<Environment>> {
    if names.is_empty() {
        if config.environments.is_empty() {
            return Err(CodedError::usage(format!(
                "{} defines no environments. Add an [environments.NAME] table (see wfuwp.example.toml).",
                config.path.display()
            ))
            .into());
        }
        return Ok(config.environments.values().cloned().collect());
    }
    names
        .iter()
        .map(|n| Ok(config.environment(n)?.clone()))
        .collect()
}

async fn check_all(envs: Vec<Environment>) -> Vec<Report> {
    let mut tasks = tokio::task::JoinSet::new();
    for (i, env) in envs.into_iter().enumerate() {
        tasks.spawn(async move {
            let outcome = check(&env).await;
            (i, Report { env, outcome })
        });
    }
    let mut reports = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        // A panicking check is a bug; surfacing it beats hiding an environment.
        match joined {
            Ok(r) => reports.push(r),
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
    reports.sort_by_key(|(i, _)| *i);
    reports.into_iter().map(|(_, r)| r).collect()
}

async fn check(env: &Environment) -> Result<(DatabaseFacts, String), Problem> {
    let connected = connect::connect_reporting(env).await.map_err(|e| match e {
        DbError::Config(c) => Problem::Config(c.to_string()),
        other => Problem::Database(other.to_string()),
    })?;
    let mut conn = connected.conn;
    let negotiated = tls::negotiated(&mut conn).await.map_err(|e| {
        Problem::Database(format!(
            "connected, but asking for the TLS status failed: {e}"
        ))
    })?;
    let wire = describe_wire(env, &negotiated, connected.tls_fallback.as_deref());
    let facts = inspect(&mut conn, &env.table_prefix).await.map_err(|e| {
        Problem::Database(format!(
            "connected, but reading database '{}' failed: {e}",
            env.database
        ))
    })?;
    let _ = conn.disconnect().await;
    if facts.sites.is_none() && facts.tables > 0 {
        return Err(Problem::Database(format!(
            "database '{}' is not a WordPress multisite: tables {p}blogs and {p}site not found among its {} tables. \
             Check `database` and `table_prefix` (now '{p}') in [environments.{}].",
            env.database, facts.tables, env.name,
            p = env.table_prefix
        )));
    }
    Ok((facts, wire))
}

/// Whether the connection is encrypted, with which TLS version, and why not.
fn describe_wire(env: &Environment, n: &tls::Negotiated, fallback: Option<&str>) -> String {
    match (&n.version, fallback) {
        (Some(v), _) => format!(
            "encrypted, {v} ({}; ssl_mode = \"{}\")",
            n.cipher.as_deref().unwrap_or("cipher unknown"),
            env.ssl_mode
        ),
        (None, Some(why)) => format!(
            "NOT encrypted: {why}; ssl_mode = \"preferred\" fell back to a plain connection"
        ),
        (None, None) if env.socket.is_some() => {
            "not encrypted: a Unix socket on this machine (TLS is not used over sockets)"
                .to_string()
        }
        (None, None) => format!("NOT encrypted: ssl_mode = \"{}\"", env.ssl_mode),
    }
}

/// Reads what [`DatabaseFacts`] reports from the connection's current database.
pub async fn inspect(conn: &mut Conn, prefix: &str) -> Result<DatabaseFacts, mysql_async::Error> {
    let version: Option<String> = conn.query_first("SELECT VERSION()").await?;
    let tables: Option<u64> = conn
        .query_first(
            "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()",
        )
        .await?;
    let (blogs, site, options) = (
        format!("{prefix}blogs"),
        format!("{prefix}site"),
        format!("{prefix}options"),
    );
    let present: Vec<String> = conn
        .exec(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (?, ?, ?)",
            (&blogs, &site, &options),
        )
        .await?;
    let has = |t: &str| present.iter().any(|p| p == t);
    let sites = if has(&blogs) && has(&site) {
        Some(site_counts(conn, &blogs).await?)
    } else {
        None
    };
    let siteurl = if has(&options) {
        conn.query_first(format!(
            "SELECT option_value FROM {} WHERE option_name = 'siteurl'",
            crate::db::sql::ident(&options)
        ))
        .await?
    } else {
        None
    };
    Ok(DatabaseFacts {
        version: version.unwrap_or_default(),
        tables: tables.unwrap_or(0),
        sites,
        siteurl,
    })
}

async fn site_counts(conn: &mut Conn, blogs: &str) -> Result<SiteCounts, mysql_async::Error> {
    // COUNT(*), then SUMs that are NULL on an empty table.
    type Row = (u64, Option<u64>, Option<u64>, Option<u64>);
    let row: Option<Row> = conn
        .query_first(format!(
            "SELECT COUNT(*), SUM(archived <> 0), SUM(spam <> 0), SUM(deleted <> 0) FROM {}",
            crate::db::sql::ident(blogs)
        ))
        .await?;
    let (total, archived, spam, deleted) = row.unwrap_or_default();
    Ok(SiteCounts {
        total,
        archived: archived.unwrap_or(0),
        spam: spam.unwrap_or(0),
        deleted: deleted.unwrap_or(0),
    })
}

fn print_report(r: &Report) {
    let e = &r.env;
    crate::outln!(
        "{}: {}@{} database '{}' (prefix {})",
        e.name,
        e.user,
        e.address(),
        e.database,
        e.table_prefix
    );
    match &r.outcome {
        Ok((f, wire)) => {
            crate::outln!("  ok: {}", describe(e, f));
            crate::outln!("  connection: {wire}");
        }
        Err(Problem::Config(m)) | Err(Problem::Database(m)) => crate::outln!("  FAILED: {m}"),
    }
}

fn describe(env: &Environment, f: &DatabaseFacts) -> String {
    let mut s = format!("server {}, ", f.version);
    match &f.sites {
        Some(c) => s.push_str(&format!(
            "multisite with {} sites ({} archived, {} spam, {} deleted), {} tables",
            c.total, c.archived, c.spam, c.deleted, f.tables
        )),
        None => {
            s.push_str("empty database (0 tables): usable as a migration target, not as a source")
        }
    }
    if let Some(url) = &f.siteurl {
        s.push_str(&format!(", main site {url}"));
        if let Some(main) = env
            .replace
            .get("main")
            .filter(|m| !url.contains(m.as_str()))
        {
            s.push_str(&format!(
                " (note: does not contain this environment's `main` token '{main}')"
            ));
        }
    }
    s
}
