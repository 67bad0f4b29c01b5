//! Building a network: plan the sites, create the tables, insert the rows.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts};

use super::content::{network_tables, site_prefix, SiteGen};
use super::insert::{insert, TableData};
use super::schema::create_sql;
use super::{NetworkOptions, SiteSpec};
use wfuwp_engine::db::sql::ident;

/// Why a network could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum TestbedError {
    /// A statement failed; `what` names the step (table, connection).
    #[error("generating the test network failed while {what}: {source}. Check that the database exists, is empty and that the user may create tables in it.")]
    Sql {
        /// The step that failed.
        what: String,
        /// The driver's error.
        #[source]
        source: mysql_async::Error,
    },
    /// A generator bug: a table kind without a definition, or a panicked task.
    #[error("internal error in the network generator: {0}")]
    Internal(String),
}

/// What [`generate`] built.
#[derive(Debug, Clone)]
pub struct NetworkSummary {
    /// The sites, in blog_id order.
    pub sites: Vec<SiteSpec>,
    /// Rows written per table (every created table is present, possibly with 0).
    pub row_counts: BTreeMap<String, u64>,
    /// Bytes of values written.
    pub bytes: u64,
    /// Wall time.
    pub elapsed: Duration,
}

impl NetworkSummary {
    /// Total rows written.
    pub fn rows(&self) -> u64 {
        self.row_counts.values().sum()
    }

    /// Blog ids whose `flag` (archived/spam/deleted) is set.
    pub fn flagged(&self, flag: fn(&SiteSpec) -> bool) -> Vec<u64> {
        self.sites
            .iter()
            .filter(|s| flag(s))
            .map(|s| s.blog_id)
            .collect()
    }
}

const SLUGS: &[&str] = &[
    "biology",
    "chemistry",
    "physics",
    "math",
    "news",
    "admissions",
    "alumni",
    "library",
    "law",
    "medicine",
    "business",
    "divinity",
    "athletics",
    "music",
    "art",
    "history",
    "english",
    "economics",
    "psychology",
    "studentlife",
    "career",
    "global",
    "research",
    "it",
    "hr",
];

/// The sites of a network: blog ids with realistic gaps (never 404, so that a
/// `wp_404_log` table belongs to the main site), subdomains, and a few sites
/// flagged archived, spam or deleted.
pub fn plan_sites(opts: &NetworkOptions) -> Vec<SiteSpec> {
    let mut sites = vec![SiteSpec {
        blog_id: 1,
        slug: "www".into(),
        domain: opts.main_domain.clone(),
        public: true,
        archived: false,
        spam: false,
        deleted: false,
    }];
    let mut id = 1u64;
    for k in 0..opts.sites.saturating_sub(1) as usize {
        id += 1;
        // Gaps where sites were deleted long ago.
        while id == 404 || id % 11 == 7 {
            id += 1;
        }
        let slug = SLUGS
            .get(k)
            .map_or_else(|| format!("site{id}"), |s| s.to_string());
        sites.push(SiteSpec {
            blog_id: id,
            domain: opts
                .vanity_domains
                .get(k)
                .cloned()
                .unwrap_or_else(|| format!("{slug}{}", opts.subdomain_suffix)),
            slug,
            public: k % 13 != 5,
            archived: k == 2 || k % 17 == 2,
            spam: k == 3 || k % 23 == 3,
            deleted: k == 4 || k % 29 == 4,
        });
    }
    sites
}

/// Fills the (existing, empty) database that `db` selects with the network
/// described by `opts`.
pub async fn generate(db: Opts, opts: &NetworkOptions) -> Result<NetworkSummary, TestbedError> {
    let started = Instant::now();
    let sites = plan_sites(opts);
    let mut conn = open(&db).await?;
    let mut row_counts = BTreeMap::new();
    let mut bytes = 0;
    for t in network_tables(opts, &sites) {
        let suffix = t.name[opts.table_prefix.len()..].to_string();
        write_table(&mut conn, &suffix, &t).await?;
        bytes += t.bytes();
        row_counts.insert(t.name.clone(), t.rows.len() as u64);
    }
    drop(conn);
    let (counts, site_bytes) = write_sites(db, opts, &sites).await?;
    row_counts.extend(counts);
    Ok(NetworkSummary {
        sites,
        row_counts,
        bytes: bytes + site_bytes,
        elapsed: started.elapsed(),
    })
}

/// Writes all sites, spread round-robin over `opts.concurrency` connections.
async fn write_sites(
    db: Opts,
    opts: &NetworkOptions,
    sites: &[SiteSpec],
) -> Result<(BTreeMap<String, u64>, u64), TestbedError> {
    let workers = opts.concurrency.max(1);
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..workers {
        let mine: Vec<SiteSpec> = sites.iter().skip(w).step_by(workers).cloned().collect();
        let (db, opts) = (db.clone(), opts.clone());
        tasks.spawn(async move {
            let mut conn = open(&db).await?;
            let mut counts = BTreeMap::new();
            let mut bytes = 0;
            for site in &mine {
                bytes += write_site(&mut conn, &opts, site, &mut counts).await?;
            }
            Ok::<_, TestbedError>((counts, bytes))
        });
    }
    let mut counts = BTreeMap::new();
    let mut bytes = 0;
    while let Some(joined) = tasks.join_next().await {
        let (c, b) =
            joined.map_err(|e| TestbedError::Internal(format!("a writer task failed: {e}")))??;
        counts.extend(c);
        bytes += b;
    }
    Ok((counts, bytes))
}

async fn write_site(
    conn: &mut Conn,
    opts: &NetworkOptions,
    site: &SiteSpec,
    counts: &mut BTreeMap<String, u64>,
) -> Result<u64, TestbedError> {
    let prefix = site_prefix(&opts.table_prefix, site.blog_id);
    let mut bytes = 0;
    for t in SiteGen::new(opts, site).tables() {
        let suffix = t.name[prefix.len()..].to_string();
        write_table(conn, &suffix, &t).await?;
        bytes += t.bytes();
        counts.insert(t.name.clone(), t.rows.len() as u64);
    }
    Ok(bytes)
}

async fn write_table(conn: &mut Conn, suffix: &str, t: &TableData) -> Result<(), TestbedError> {
    let create = create_sql(suffix, &ident(&t.name)).ok_or_else(|| {
        TestbedError::Internal(format!(
            "no definition for table kind '{suffix}' ({})",
            t.name
        ))
    })?;
    conn.query_drop(create)
        .await
        .map_err(|source| TestbedError::Sql {
            what: format!("creating {}", t.name),
            source,
        })?;
    insert(conn, t).await.map_err(|source| TestbedError::Sql {
        what: format!("inserting into {}", t.name),
        source,
    })
}

async fn open(db: &Opts) -> Result<Conn, TestbedError> {
    let sql_err = |what: &str| {
        let what = what.to_string();
        move |source| TestbedError::Sql { what, source }
    };
    let mut conn = Conn::new(db.clone()).await.map_err(sql_err("connecting"))?;
    // WordPress's own session settings: utf8mb4, and no strict/zero-date modes
    // (its schema defaults datetimes to '0000-00-00 00:00:00', which MySQL 8's
    // default NO_ZERO_DATE would reject).
    conn.query_drop("SET NAMES utf8mb4 COLLATE utf8mb4_unicode_520_ci, SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION'")
        .await
        .map_err(sql_err("setting up the session"))?;
    Ok(conn)
}
