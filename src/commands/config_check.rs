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
use crate::config::{Config, Environment, SslMode};
use crate::db::connect::{self, DbError};
use crate::db::settings::{self, TableCaches};
use crate::db::tls::{self, Transport};
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
    outcome: Result<Reached, Problem>,
}

/// What a successful check found.
#[derive(Debug)]
struct Reached {
    facts: DatabaseFacts,
    /// How the connection is protected, and why not when it is not.
    wire: String,
    /// The server's table caches, when it says.
    caches: Option<TableCaches>,
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
        print_report(r, &reports);
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

async fn check(env: &Environment) -> Result<Reached, Problem> {
    // The files first, whether or not this connection would read them: a
    // file that cannot be used is a problem wherever it is configured.
    if env.ssl_mode != SslMode::Disabled {
        tls::check_files(&env.tls()).map_err(|failure| {
            Problem::Database(
                DbError::Tls {
                    env: env.name.clone(),
                    address: env.address(),
                    mode: env.ssl_mode,
                    failure,
                }
                .to_string(),
            )
        })?;
    }
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
    // Only for advice: a server that will not say is not a problem.
    let caches = settings::read(&mut conn)
        .await
        .ok()
        .and_then(|s| s.table_caches);
    let _ = conn.disconnect().await;
    if facts.sites.is_none() && facts.tables > 0 {
        return Err(Problem::Database(format!(
            "database '{}' is not a WordPress multisite: tables {p}blogs and {p}site not found among its {} tables. \
             Check `database` and `table_prefix` (now '{p}') in [environments.{}].",
            env.database, facts.tables, env.name,
            p = env.table_prefix
        )));
    }
    Ok(Reached {
        facts,
        wire,
        caches,
    })
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
            "NOT encrypted: {why}; ssl_mode = \"preferred\" fell back to a plain connection, and every run \
             says so. Enable TLS on the server (ssl_cert and ssl_key in its configuration), or set \
             ssl_mode = \"disabled\" in [environments.{}] if plain connections are acceptable there",
            env.name
        ),
        (None, None) if connect::transport(env) == Transport::Socket => {
            "not encrypted: a Unix socket on this machine (ssl_mode = \"preferred\" does not use TLS over a \
             socket, as MySQL clients do not; \"required\" would)"
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

fn print_report(r: &Report, all: &[Report]) {
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
        Ok(reached) => {
            crate::outln!("  ok: {}", describe(e, &reached.facts));
            crate::outln!("  connection: {}", reached.wire);
            if let Some(note) = table_cache_note(r, all) {
                crate::outln!("  note: {note}");
            }
        }
        Err(Problem::Config(m)) | Err(Problem::Database(m)) => crate::outln!("  FAILED: {m}"),
    }
}

/// When a migration into `r`'s database would hold more tables than its
/// server caches, what that costs and what to raise (the run's own warning
/// is one line that points here). The source is taken to be the largest
/// other environment checked, or one as large as this one.
fn table_cache_note(r: &Report, all: &[Report]) -> Option<String> {
    let reached = r.outcome.as_ref().ok()?;
    let caches = reached.caches?;
    let own = reached.facts.tables;
    let (source, from) = all
        .iter()
        .filter(|o| o.env.name != r.env.name)
        .filter_map(|o| Some((o.outcome.as_ref().ok()?.facts.tables, &o.env.name)))
        .max()
        .map_or((own, "a network of its size".to_string()), |(n, name)| {
            (n, format!("'{name}', the largest other environment"))
        });
    let tables = own + source;
    if !caches.outgrown_by(tables) {
        return None;
    }
    let suggested = tables.next_multiple_of(1000) * 2;
    Some(format!(
        "the server caches {} table definitions (table_definition_cache) and {} open tables (table_open_cache), \
         but a migration into this database holds up to {tables} tables at once (its {own} and the {source} of \
         {from}). Past the caches every statement reopens the tables it touches: a migration works, only \
         slower (12 % of a 1,500-site run). A DBA can raise both: SET GLOBAL table_definition_cache = \
         {suggested}; SET GLOBAL table_open_cache = {suggested}; and the same in the server's configuration to \
         outlast a restart (table_open_cache is bounded by open_files_limit)",
        caches.definitions, caches.open
    ))
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
