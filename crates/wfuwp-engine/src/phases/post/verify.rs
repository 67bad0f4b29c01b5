//! Verification of what was copied (the first half of post_migration):
//! row counts of every migrated site, its `siteurl`/`home`, and its row in
//! the target's `blogs` (without which WordPress cannot reach it).

use std::collections::BTreeMap;

use mysql_async::prelude::*;
use mysql_async::Conn;
use serde::Serialize;

use crate::db::roles;
use crate::db::sql::ident;
use crate::phases::addresses::{self, Address};
use crate::phases::engine::Engine;
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
    /// Sites the target's `blogs` does not have at the address their content
    /// expects (missing, at another address, or sharing it with another site).
    pub blog_mismatches: Vec<BlogMismatch>,
    /// Post-migration commands and how they ended.
    pub commands: Vec<CommandResult>,
}

impl Verification {
    /// Whether everything checked out.
    pub fn ok(&self) -> bool {
        self.row_count_mismatches.is_empty()
            && self.url_mismatches.is_empty()
            && self.blog_mismatches.is_empty()
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

/// A site that WordPress cannot reach at its address in the target.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BlogMismatch {
    /// blog_id
    pub site_id: SiteId,
    /// Domain + path of the source's `blogs` row after replacement.
    pub expected: String,
    /// Domain + path of the target's row; `null` when it has none.
    pub actual: Option<String>,
    /// Another site of the target with the expected address, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shared_with: Option<SiteId>,
}

impl BlogMismatch {
    /// For people.
    pub fn describe(&self, target_env: &str) -> String {
        match (&self.actual, self.shared_with) {
            (None, _) => format!(
                "site {} is not in {target_env}'s blogs table: WordPress cannot reach it \
                 (expected at {}; migrate its network rows, e.g. with --include-sites and without --sites-only)",
                self.site_id, self.expected
            ),
            (Some(_), Some(other)) => format!(
                "site {} shares its address {} with blog_id {other} in {target_env}'s blogs table: \
                 WordPress serves only one of them",
                self.site_id, self.expected
            ),
            (Some(actual), None) => format!(
                "site {} is at {actual} in {target_env}'s blogs table, but its content expects {}",
                self.site_id, self.expected
            ),
        }
    }
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
    let mut v = Verification {
        blog_mismatches: check_blogs(engine, &sites).await?,
        ..Verification::default()
    };
    for p in parts {
        v.sites_checked += p.sites_checked;
        v.row_count_mismatches.extend(p.row_count_mismatches);
        v.url_mismatches.extend(p.url_mismatches);
    }
    v.row_count_mismatches.sort_by_key(|m| m.site_id);
    v.url_mismatches.sort_by_key(|m| m.site_id);
    Ok(v)
}

/// The `blogs` row of each of `sites` in the target: there, at the address
/// the source's row gets after replacement, and no other site's address.
async fn check_blogs(
    engine: &Engine,
    sites: &[&SiteRecord],
) -> mysql_async::Result<Vec<BlogMismatch>> {
    if sites.is_empty() {
        return Ok(Vec::new());
    }
    let mut target = roles::target(&engine.target.opts).await?;
    let blogs = addresses::target_blogs(&mut target, &engine.inventory.prefix).await?;
    let _ = target.disconnect().await;
    let mut by_key: BTreeMap<(String, String), Vec<SiteId>> = BTreeMap::new();
    for (&id, a) in &blogs {
        by_key.entry(a.key()).or_default().push(id);
    }
    let mut out = Vec::new();
    for site in sites {
        let Some(source) = engine.inventory.site(site.site_id) else {
            continue;
        };
        let expected = Address::in_target(source, engine.rules.replacer());
        let actual = blogs.get(&site.site_id);
        let shared_with = by_key
            .get(&expected.key())
            .and_then(|ids| ids.iter().find(|&&id| id != site.site_id))
            .copied();
        if actual.is_some_and(|a| a.same_as(&expected)) && shared_with.is_none() {
            continue;
        }
        out.push(BlogMismatch {
            site_id: site.site_id,
            expected: expected.to_string(),
            actual: actual.map(Address::to_string),
            shared_with,
        });
    }
    Ok(out)
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
            .filter(|t| !engine.keep.keeps_table(&t.name))
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
        let expected = engine
            .rules
            .replacer()
            .replace_value(&value)
            .value
            .into_owned();
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
