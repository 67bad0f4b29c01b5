//! The hidden `wfuwp seed-network` command: generate a network into a configured environment.

use anyhow::{Context as _, Result};
use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use super::{generate, NetworkOptions, NetworkSummary};
use crate::commands::{runtime, Context};
use crate::config::Environment;
use crate::db::connect;
use crate::db::sql::ident;
use crate::exit::{Code, CodedError};

/// Options of the hidden `wfuwp seed-network` command.
///
/// Domains, CDN host and bucket default to the environment's replacement
/// tokens (`main`, `subdomains`, `cdn`, `bucket`) so that a seeded network
/// matches the configuration a migration will use.
#[derive(Debug, Clone, clap::Args)]
pub struct SeedArgs {
    /// Environment (from the config) whose database receives the network
    #[arg(long)]
    pub env: String,
    /// Number of sites, the main site included
    #[arg(long, default_value_t = 6)]
    pub sites: u32,
    /// Posts per site
    #[arg(long, default_value_t = 5)]
    pub posts: u32,
    /// Add a few values over 1 MB
    #[arg(long)]
    pub large: bool,
    /// Seed of the generator (same seed, same network)
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Drop and recreate the database if it is not empty (destroys its content)
    #[arg(long)]
    pub recreate: bool,
    /// Main site domain (default: the env's `main` token, else www.wfu.edu)
    #[arg(long)]
    pub main_domain: Option<String>,
    /// Subdomain suffix (default: the env's `subdomains` token, else .wfu.edu)
    #[arg(long)]
    pub subdomain_suffix: Option<String>,
    /// CDN host (default: the env's `cdn` token, else prod.wp.cdn.aws.wfu.edu)
    #[arg(long)]
    pub cdn: Option<String>,
    /// Upload bucket (default: the env's `bucket` token, else wordpress-prod-us)
    #[arg(long)]
    pub bucket: Option<String>,
    /// Connections used in parallel
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Also write every site's uploads into the environment's media bucket
    /// (created if missing): a few objects per site, one of 3 MB, names with
    /// spaces and non-ASCII letters
    #[arg(long)]
    pub uploads: bool,
}

impl SeedArgs {
    /// The generator options these arguments ask for in `env`.
    pub fn network_options(&self, env: &Environment) -> NetworkOptions {
        let d = NetworkOptions::default();
        let pick = |flag: &Option<String>, token: &str, default: String| {
            flag.clone()
                .or_else(|| env.replace.get(token).cloned())
                .unwrap_or(default)
        };
        NetworkOptions {
            sites: self.sites.max(1),
            main_domain: pick(&self.main_domain, "main", d.main_domain),
            subdomain_suffix: pick(&self.subdomain_suffix, "subdomains", d.subdomain_suffix),
            cdn_host: pick(&self.cdn, "cdn", d.cdn_host),
            bucket: pick(&self.bucket, "bucket", d.bucket),
            posts_per_site: self.posts,
            large_values: self.large,
            seed: self.seed,
            table_prefix: env.table_prefix.clone(),
            concurrency: self.concurrency.clamp(1, 32),
        }
    }
}

/// Generates a network as asked.
pub fn run(ctx: &Context, args: &SeedArgs) -> Result<Code> {
    let config = ctx.config()?;
    let env = config.environment(&args.env)?.clone();
    let opts = args.network_options(&env);
    let summary = runtime()?.block_on(async {
        prepare_database(&env, args.recreate).await?;
        // The options a connection proved (TLS, or plain where preferred fell back).
        let connected = connect::connect_reporting(&env).await?;
        let _ = connected.conn.disconnect().await;
        generate(connected.opts, &opts)
            .await
            .with_context(|| format!("seeding environment '{}'", env.name))
    })?;
    print_summary(&env, &summary);
    if args.uploads {
        write_uploads(&env, &summary)?;
    }
    Ok(Code::Success)
}

/// `--uploads`: every generated site's files into the environment's bucket.
fn write_uploads(env: &Environment, summary: &NetworkSummary) -> Result<()> {
    let Some(media) = &env.media else {
        return Err(CodedError::usage(format!(
            "--uploads needs [environments.{}.media] in the config file",
            env.name
        ))
        .into());
    };
    let sites: Vec<_> = summary.sites.iter().map(|s| s.blog_id).collect();
    let (objects, bytes) = runtime()?.block_on(async {
        let bucket = crate::media::client::Bucket::connect(&env.name, media, 3).await;
        super::uploads::write(&bucket, &sites).await
    })?;
    crate::outln!(
        "wrote {objects} uploads ({:.1} MB) into {}",
        bytes as f64 / 1e6,
        media.location()
    );
    Ok(())
}

/// Creates the database if missing; refuses a non-empty one unless `recreate`.
async fn prepare_database(env: &Environment, recreate: bool) -> Result<()> {
    let mut conn = connect::connect_server(env).await?;
    let db = &env.database;
    let tables = table_count(&mut conn, db).await?;
    match tables {
        Some(n) if n > 0 && !recreate => {
            return Err(CodedError::usage(format!(
                "database '{db}' of environment '{}' already holds {n} tables; seed-network only fills an empty \
                 database. Pass --recreate to drop and recreate it (this destroys its content), or point the \
                 environment at another database.",
                env.name
            ))
            .into());
        }
        Some(n) if n > 0 => {
            conn.query_drop(format!("DROP DATABASE {}", ident(db)))
                .await
                .with_context(|| format!("dropping database '{db}' for --recreate"))?;
        }
        Some(_) => return Ok(()),
        None => {}
    }
    conn.query_drop(format!(
        "CREATE DATABASE {} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci",
        ident(db)
    ))
    .await
    .with_context(|| {
        format!(
            "creating database '{db}' (does user '{}' have the CREATE privilege?)",
            env.user
        )
    })?;
    Ok(())
}

/// Number of tables in `db`, or `None` when the database does not exist.
async fn table_count(conn: &mut Conn, db: &str) -> Result<Option<u64>> {
    let exists: Option<String> = conn
        .exec_first(
            "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
            (db,),
        )
        .await
        .context("looking up the database")?;
    if exists.is_none() {
        return Ok(None);
    }
    let n: Option<u64> = conn
        .exec_first(
            "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?",
            (db,),
        )
        .await
        .context("counting tables")?;
    Ok(Some(n.unwrap_or(0)))
}

fn print_summary(env: &Environment, s: &NetworkSummary) {
    let last = s.sites.last().map_or(1, |x| x.blog_id);
    crate::outln!(
        "seeded {} sites (blog ids 1..{last}) into environment '{}' (database '{}'): {} tables, {} rows, {:.1} MB in {:.1} s",
        s.sites.len(),
        env.name,
        env.database,
        s.row_counts.len(),
        s.rows(),
        s.bytes as f64 / 1e6,
        s.elapsed.as_secs_f64()
    );
    crate::outln!(
        "archived: {:?}  spam: {:?}  deleted: {:?}",
        s.flagged(|x| x.archived),
        s.flagged(|x| x.spam),
        s.flagged(|x| x.deleted)
    );
}
