//! Generator of realistic WordPress multisite networks, for tests, the demo and benchmarks.
//!
//! [`generate`] fills an existing, empty database with a subdomain multisite:
//! the real WordPress core schema (network tables plus per-site tables, main
//! site unprefixed), plugin tables on some sites, PHP-serialized options and
//! meta, Gutenberg content with JSON-escaped URLs, multibyte text, binary
//! columns, NULLs, optional values over 1 MB, and archived/spam/deleted sites.
//! The output is a pure function of [`NetworkOptions`] (including the seed).
//!
//! The hidden `wfuwp seed-network` command does the same for a configured
//! environment ([`seed`]). Test machinery: the release binary carries none
//! of it.

#![deny(missing_docs)]

pub mod content;
pub mod insert;
pub mod php;
pub mod schema;
pub mod uploads;

mod generate;
pub mod seed;

pub use generate::{generate, plan_sites, NetworkSummary, TestbedError};

/// What network to build.
#[derive(Debug, Clone)]
pub struct NetworkOptions {
    /// Number of sites, the main site included.
    pub sites: u32,
    /// Domain of the main site (blog_id 1), e.g. `www.wfu.edu`.
    pub main_domain: String,
    /// Suffix of the other sites' domains, e.g. `.wfu.edu` → `biology.wfu.edu`.
    pub subdomain_suffix: String,
    /// CDN host that serves uploads, e.g. `prod.wp.cdn.aws.wfu.edu`.
    pub cdn_host: String,
    /// S3 bucket holding uploads, e.g. `wordpress-prod-us`.
    pub bucket: String,
    /// Posts per site (each odd post also gets an attachment).
    pub posts_per_site: u32,
    /// Add a few values over 1 MB (main site and every 40th blog id).
    pub large_values: bool,
    /// Seed of all randomness.
    pub seed: u64,
    /// WordPress table prefix.
    pub table_prefix: String,
    /// Connections used in parallel to write sites.
    pub concurrency: usize,
    /// Personal data in every place a scrub must reach (distinct e-mail
    /// addresses, IPs, password hashes and session tokens per user,
    /// comment and form entry; WooCommerce-like usermeta; form entries).
    /// Off, the network is the standard one, byte for byte.
    pub personal_data: bool,
    /// Rows of a request-log table (`wfhits`) on every site; 0: none.
    pub log_rows: u32,
    /// Domains of their own (vanity domains) for the first sites after the
    /// main one, in blog_id order; empty (the standard network): none.
    pub vanity_domains: Vec<String>,
    /// Add a `{prefix}domain_mapping` table (the WPMU Domain Mapping and
    /// Mercator layout) mapping each vanity site to its domain.
    pub domain_mapping: bool,
}

impl Default for NetworkOptions {
    fn default() -> Self {
        NetworkOptions {
            sites: 6,
            main_domain: "www.wfu.edu".into(),
            subdomain_suffix: ".wfu.edu".into(),
            cdn_host: "prod.wp.cdn.aws.wfu.edu".into(),
            bucket: "wordpress-prod-us".into(),
            posts_per_site: 5,
            large_values: false,
            seed: 42,
            table_prefix: "wp_".into(),
            concurrency: 4,
            personal_data: false,
            log_rows: 0,
            vanity_domains: Vec::new(),
            domain_mapping: false,
        }
    }
}

/// One site of a generated network, as registered in `{prefix}blogs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteSpec {
    /// `blog_id`.
    pub blog_id: u64,
    /// Short name (`biology`, `site12`); the main site's is `www`.
    pub slug: String,
    /// Full domain (`biology.wfu.edu`).
    pub domain: String,
    /// `public` flag.
    pub public: bool,
    /// `archived` flag.
    pub archived: bool,
    /// `spam` flag.
    pub spam: bool,
    /// `deleted` flag.
    pub deleted: bool,
}
