//! The hosts of the selected sites, read from the source: the `blogs`
//! domain (from discovery), the hosts of `home` and `siteurl`, and the
//! domains of a `domain_mapping` table (docs/hosts.md).

use std::collections::BTreeMap;

use anyhow::{Context as _, Result};
use mysql_async::prelude::*;
use mysql_async::Conn;

use super::host_of;
use crate::db::discovery::Inventory;
use crate::db::sql::ident;
use crate::sites::SiteId;

/// Sites per query: one `UNION ALL` of their options tables.
const SITES_PER_QUERY: usize = 200;

/// The table of the WPMU Domain Mapping and Mercator plugins (after the prefix).
pub const DOMAIN_MAPPING: &str = "domain_mapping";

/// Each of `sites`' distinct hosts, its `blogs` domain first.
pub async fn site_hosts(
    conn: &mut Conn,
    inv: &Inventory,
    sites: &[SiteId],
) -> Result<BTreeMap<SiteId, Vec<String>>> {
    let mut out: BTreeMap<SiteId, Vec<String>> = BTreeMap::new();
    for &id in sites {
        if let Some(s) = inv.site(id) {
            out.entry(id).or_default().push(s.domain.clone());
        }
    }
    for chunk in sites.chunks(SITES_PER_QUERY) {
        for (id, url) in home_urls(conn, inv, chunk).await? {
            if let Some(h) = host_of(&url) {
                add(&mut out, id, h);
            }
        }
    }
    for (id, domain) in mapped_domains(conn, inv).await? {
        if out.contains_key(&id) {
            add(&mut out, id, domain.trim());
        }
    }
    Ok(out)
}

fn add(out: &mut BTreeMap<SiteId, Vec<String>>, id: SiteId, host: &str) {
    let list = out.entry(id).or_default();
    if !host.is_empty() && !list.iter().any(|h| h.eq_ignore_ascii_case(host)) {
        list.push(host.to_string());
    }
}

fn options_table(inv: &Inventory, id: SiteId) -> String {
    match id {
        1 => format!("{}options", inv.prefix),
        n => format!("{}{n}_options", inv.prefix),
    }
}

async fn home_urls(
    conn: &mut Conn,
    inv: &Inventory,
    sites: &[SiteId],
) -> Result<Vec<(SiteId, String)>> {
    let selects: Vec<String> = sites
        .iter()
        .map(|&id| (id, options_table(inv, id)))
        .filter(|(_, t)| inv.tables.contains_key(t))
        .map(|(id, t)| {
            format!(
                "SELECT {id}, CAST(option_value AS CHAR) FROM {} WHERE option_name IN ('home', 'siteurl')",
                ident(&t)
            )
        })
        .collect();
    if selects.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<(SiteId, Option<String>)> = conn
        .query(selects.join(" UNION ALL "))
        .await
        .context("reading the sites' home and siteurl options")?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, v)| Some((id, v?)))
        .collect())
}

/// `(blog_id, domain)` of the `domain_mapping` table, when the source has
/// one with those columns.
async fn mapped_domains(conn: &mut Conn, inv: &Inventory) -> Result<Vec<(SiteId, String)>> {
    let table = format!("{}{DOMAIN_MAPPING}", inv.prefix);
    let Some(cols) = inv.columns.get(&table) else {
        return Ok(Vec::new());
    };
    let has = |n: &str| cols.iter().any(|c| c.name.eq_ignore_ascii_case(n));
    if !(has("blog_id") && has("domain")) {
        return Ok(Vec::new());
    }
    conn.query(format!(
        "SELECT blog_id, CAST(domain AS CHAR) FROM {} WHERE domain IS NOT NULL",
        ident(&table)
    ))
    .await
    .with_context(|| format!("reading {table}"))
}
