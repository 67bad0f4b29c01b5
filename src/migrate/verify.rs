//! Verification of what was copied (the first half of post_migration):
//! row counts of every migrated site and its `siteurl`/`home`.

use mysql_async::prelude::*;
use mysql_async::Conn;
use serde::Serialize;

use super::engine::Engine;
use crate::db::roles;
use crate::db::sql::ident;
use crate::sites::SiteId;
use crate::state::model::{SiteRecord, SiteStatus};

/// Verification results (part of the summary).
#[derive(Debug, Default, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Verification {
    /// Completed sites checked.
    pub sites_checked: u64,
    /// Sites whose target row count differs from the rows copied.
    pub row_count_mismatches: Vec<CountMismatch>,
    /// Sites whose `siteurl`/`home` on the target is not the source's value after replacement.
    pub url_mismatches: Vec<UrlMismatch>,
    /// Post-migration commands and how they ended.
    pub commands: Vec<CommandResult>,
}

impl Verification {
    /// Whether everything checked out.
    pub fn ok(&self) -> bool {
        self.row_count_mismatches.is_empty()
            && self.url_mismatches.is_empty()
            && self.commands.iter().all(|c| c.ok)
    }
}

/// A site whose target rows differ from those copied.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CountMismatch {
    /// blog_id
    pub site_id: SiteId,
    /// Rows copied from the source snapshot.
    pub expected: u64,
    /// Rows on the target now.
    pub actual: u64,
}

/// A site whose URL option does not carry the target's value.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UrlMismatch {
    /// blog_id
    pub site_id: SiteId,
    /// `siteurl` or `home`.
    pub option: String,
    /// Source value after replacement.
    pub expected: String,
    /// Value on the target.
    pub actual: Option<String>,
}

/// One post-migration command.
pub use crate::state::HookRecord as CommandResult;

/// Checks every completed site: row counts and URL options, on up to
/// `--concurrency` pairs of connections at once (a network of thousands of
/// sites would otherwise verify one site after the other).
pub async fn verify_sites(engine: &Engine) -> mysql_async::Result<Verification> {
    let state = engine.session.snapshot();
    let sites: Vec<&SiteRecord> = state
        .sites()
        .iter()
        .filter(|s| s.status == SiteStatus::Completed)
        .collect();
    let workers = engine.limits.concurrency.clamp(1, sites.len().max(1));
    let shares: Vec<Vec<&SiteRecord>> = (0..workers)
        .map(|w| sites.iter().skip(w).step_by(workers).copied().collect())
        .collect();
    let parts = futures_util::future::try_join_all(
        shares.into_iter().map(|share| verify_share(engine, share)),
    )
    .await?;
    let mut v = Verification::default();
    for p in parts {
        v.sites_checked += p.sites_checked;
        v.row_count_mismatches.extend(p.row_count_mismatches);
        v.url_mismatches.extend(p.url_mismatches);
    }
    v.row_count_mismatches.sort_by_key(|m| m.site_id);
    v.url_mismatches.sort_by_key(|m| m.site_id);
    Ok(v)
}

/// Verifies `sites` on connections of its own.
async fn verify_share(
    engine: &Engine,
    sites: Vec<&SiteRecord>,
) -> mysql_async::Result<Verification> {
    let mut v = Verification::default();
    if sites.is_empty() {
        return Ok(v);
    }
    let mut source = roles::source(&engine.source.opts).await?;
    let mut target = roles::target(&engine.target.opts).await?;
    for site in sites {
        v.sites_checked += 1;
        let tables: Vec<String> = engine
            .inventory
            .site_tables(site.site_id)
            .iter()
            .map(|t| t.name.clone())
            .collect();
        if let Some(expected) = site.rows {
            let actual = count_rows(&mut target, &tables).await?;
            if actual != expected {
                v.row_count_mismatches.push(CountMismatch {
                    site_id: site.site_id,
                    expected,
                    actual,
                });
            }
        }
        let options = options_table(&engine.inventory.prefix, site.site_id);
        if tables.contains(&options) {
            check_urls(
                engine,
                &mut source,
                &mut target,
                site.site_id,
                &options,
                &mut v,
            )
            .await?;
        }
    }
    let _ = source.disconnect().await;
    let _ = target.disconnect().await;
    Ok(v)
}

/// `{prefix}options` for the main site, `{prefix}{N}_options` otherwise.
pub fn options_table(prefix: &str, site: SiteId) -> String {
    if site == 1 {
        format!("{prefix}options")
    } else {
        format!("{prefix}{site}_options")
    }
}

async fn count_rows(conn: &mut Conn, tables: &[String]) -> mysql_async::Result<u64> {
    let mut total = 0;
    for chunk in tables.chunks(50) {
        let q: Vec<String> = chunk
            .iter()
            .map(|t| format!("SELECT COUNT(*) FROM {}", ident(t)))
            .collect();
        let counts: Vec<u64> = conn.query(q.join(" UNION ALL ")).await?;
        total += counts.iter().sum::<u64>();
    }
    Ok(total)
}

async fn url_options(conn: &mut Conn, table: &str) -> mysql_async::Result<Vec<(String, Vec<u8>)>> {
    conn.query(format!(
        "SELECT option_name, option_value FROM {} WHERE option_name IN ('siteurl', 'home') ORDER BY option_name",
        ident(table)
    ))
    .await
}

async fn check_urls(
    engine: &Engine,
    source: &mut Conn,
    target: &mut Conn,
    site: SiteId,
    table: &str,
    v: &mut Verification,
) -> mysql_async::Result<()> {
    let actual = url_options(target, table).await?;
    for (name, value) in url_options(source, table).await? {
        let expected = engine.replacer.replace_value(&value).value.into_owned();
        let found = actual
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone());
        if found.as_deref() != Some(expected.as_slice()) {
            v.url_mismatches.push(UrlMismatch {
                site_id: site,
                option: name,
                expected: String::from_utf8_lossy(&expected).into_owned(),
                actual: found.map(|f| String::from_utf8_lossy(&f).into_owned()),
            });
        }
    }
    Ok(())
}
