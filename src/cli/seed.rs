//! The hidden `wfuwp seed-network` command's options (feature `testbed`).

use wfuwp_engine::config::Environment;
use wfuwp_testbed::NetworkOptions;

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
    /// Plant personal data in every place a scrub must reach (docs/scrub.md).
    #[arg(long)]
    pub personal_data: bool,
    /// Rows of a request-log table (`wfhits`) on every site.
    #[arg(long, default_value_t = 0)]
    pub log_rows: u32,
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
            personal_data: self.personal_data,
            log_rows: self.log_rows,
            ..d
        }
    }
}
