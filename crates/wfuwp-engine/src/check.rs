//! `wfuwp config check`: every selected environment checked at once (an
//! unreachable host costs one connect timeout, not one per environment):
//! the connection and how it is protected, what the database holds, the
//! server's table caches, the uploads bucket's access; and the replacement
//! tokens, which need no database. The caller shows the [`Checked`] report
//! and decides what it means.

use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use crate::config::{self, Config, Environment, SslMode};
use crate::db::connect::{self, DbError};
use crate::db::settings::{self, TableCaches};
use crate::db::sql::ident;
use crate::db::tls::{self, Transport};
use crate::error::Error;
use crate::media;
use crate::refusal::Refusal;

/// What `config check` found.
#[derive(Debug)]
pub struct Checked {
    /// Problems of the replacement tokens (found without a database).
    pub token_problems: Vec<String>,
    /// Per environment checked, in the order asked (or configured).
    pub reports: Vec<Report>,
    /// Per environment with media settings: what its bucket allows, or why
    /// it cannot be used.
    pub media: Vec<(String, Result<String, String>)>,
}

/// Checks the environments `names` of `config` (all when none are named).
pub async fn environments(config: &Config, names: &[String]) -> Result<Checked, Error> {
    let selected = select(config, names)?;
    // Found without a database: what a migration between two environments
    // would refuse.
    let token_problems = config::pairs::problems(config, names);
    let media = check_media(&selected).await;
    let reports = check_all(selected).await;
    Ok(Checked {
        token_problems,
        reports,
        media,
    })
}

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
pub struct Report {
    /// The environment.
    pub env: Environment,
    /// What its check found.
    pub outcome: Result<Reached, Problem>,
    /// Configuration problems of its rules as a target (e.g. the scrub
    /// secret's variable is not set): a migration into it would refuse.
    pub rule_problems: Vec<String>,
}

/// What a successful check found.
#[derive(Debug)]
pub struct Reached {
    /// What the database holds.
    pub facts: DatabaseFacts,
    /// How the connection is protected, and why not when it is not.
    pub wire: String,
    /// The server's table caches, when it says.
    pub caches: Option<TableCaches>,
}

/// Why an environment failed its check.
#[derive(Debug)]
pub enum Problem {
    /// Configuration (exit 2): e.g. the password variable is not set.
    Config(String),
    /// Connection or server failure (exit 1).
    Database(String),
}

/// Bucket access of every environment with media settings (docs/media.md).
async fn check_media(envs: &[Environment]) -> Vec<(String, Result<String, String>)> {
    let mut out = Vec::new();
    for env in envs {
        if let Some(m) = &env.media {
            let r = media::check_access(&env.name, m)
                .await
                .map_err(|e| e.to_string());
            out.push((env.name.clone(), r));
        }
    }
    out
}

/// The environments to check: those named (each must exist), else all.
fn select(config: &Config, names: &[String]) -> Result<Vec<Environment>, Error> {
    if names.is_empty() {
        if config.environments.is_empty() {
            return Err(Refusal::new(format!(
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
        .collect::<Result<_, crate::config::ConfigError>>()
        .map_err(Error::from)
}

async fn check_all(envs: Vec<Environment>) -> Vec<Report> {
    let mut tasks = tokio::task::JoinSet::new();
    for (i, env) in envs.into_iter().enumerate() {
        tasks.spawn(async move {
            let outcome = check(&env).await;
            let rule_problems = crate::scrub::rule_problems(&env);
            (
                i,
                Report {
                    env,
                    outcome,
                    rule_problems,
                },
            )
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
            ident(&options)
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
            ident(blogs)
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
