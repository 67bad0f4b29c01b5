//! The `--dry-run` plan: what a migration would copy, computed by a read-only
//! preflight. Writes nothing and creates no state; the caller shows it.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::db::roles;
use crate::keep::KeepPlan;
use crate::phases::details::BulkModeName;
use crate::phases::network::users::{self, OrphanedMeta};
use crate::phases::network::{full_table_names, partial_table_names};
use crate::phases::preflight::Checked;
use crate::scope;
use crate::sites::SiteId;
use crate::state::{MigrationOptions, SiteHost};

/// The plan, as printed (`--json` prints it as is).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// Source environment.
    pub source_env: String,
    /// Target environment.
    pub target_env: String,
    /// Network tables copied (or upserted for a partial migration).
    pub network_tables: Vec<String>,
    /// Whether only the selected sites' network rows are upserted.
    pub partial: bool,
    /// Sites selected.
    pub sites: Vec<PlannedSite>,
    /// Total tables (sites + network).
    pub tables: u64,
    /// Estimated rows.
    pub rows_estimate: u64,
    /// Estimated bytes.
    pub bytes_estimate: u64,
    /// Replacement pairs (FROM → TO), in order.
    pub replacements: Vec<(String, String)>,
    /// How staging tables would be filled.
    pub bulk_mode: BulkModeName,
    /// Sites in the target that the source does not have.
    pub orphaned_target_sites: Vec<SiteId>,
    /// A partial migration with users: the target's usermeta rows without a
    /// user that users this migration brings in would take over
    /// ([`orphaned_usermeta`]).
    pub orphaned_usermeta: Vec<OrphanedMeta>,
    /// Each selected site against the target's ledger (drift always; with
    /// `--changed-only` the source too), and the sites the source no longer has.
    pub refresh: Option<crate::refresh::Refresh>,
    /// Every host of the selected sites and the host it gets on the target
    /// (docs/hosts.md).
    pub hosts: Vec<SiteHost>,
    /// The sites' hosts that nothing changes: a run is refused unless
    /// `--allow-unmapped-hosts`.
    pub unmapped_hosts: Vec<SiteHost>,
    /// Sites that would share a target host: a run is refused.
    pub host_collisions: Vec<String>,
    /// Tables created empty (`exclude_tables`, `--exclude-tables`) and what
    /// copying them would have cost.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub excluded: Option<Excluded>,
    /// The target's scrub rules, with the values of the source each would
    /// change (counted, so an estimate: docs/scrub.md).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scrub: Option<BTreeMap<String, u64>>,
}

/// Tables a plan creates empty.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Excluded {
    /// Their names.
    pub tables: Vec<String>,
    /// Rows not copied (estimate).
    pub rows_saved: u64,
    /// Bytes not copied (estimate).
    pub bytes_saved: u64,
}

/// Per scrub rule, the values of the source it would change in the tables
/// `plan` copies (counted on the source; nothing is read row by row).
pub async fn scrub_estimate(
    checked: &Checked,
    plan: &Plan,
    sites: &[SiteId],
    scrub: &crate::scrub::ScrubPlan,
) -> anyhow::Result<BTreeMap<String, u64>> {
    let inv = &checked.inventory;
    let by_site = inv.tables_by_site();
    let names: Vec<&str> = sites
        .iter()
        .filter_map(|s| by_site.get(s))
        .flatten()
        .map(|t| t.name.as_str())
        .chain(plan.network_tables.iter().map(String::as_str))
        .collect();
    let empty = Vec::new();
    let tables: Vec<(&str, &[crate::db::discovery::Column])> = names
        .into_iter()
        .map(|n| (n, inv.columns.get(n).unwrap_or(&empty).as_slice()))
        .collect();
    let mut source = roles::source(&checked.source.opts).await?;
    let counts = scrub.estimate(&mut source, &tables).await?;
    let _ = source.disconnect().await;
    Ok(counts)
}

/// The selected sites' tables that `keep` creates empty, with their size.
pub fn excluded(checked: &Checked, sites: &[SiteId], keep: &KeepPlan) -> Option<Excluded> {
    let by_site = checked.inventory.tables_by_site();
    let tables: Vec<_> = sites
        .iter()
        .filter_map(|s| by_site.get(s))
        .flatten()
        .filter(|t| keep.excludes_table(&t.name))
        .collect();
    if tables.is_empty() {
        return None;
    }
    Some(Excluded {
        tables: tables.iter().map(|t| t.name.clone()).collect(),
        rows_saved: tables.iter().map(|t| t.rows_estimate).sum(),
        bytes_saved: tables.iter().map(|t| t.bytes_estimate).sum(),
    })
}

/// One selected site.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannedSite {
    /// blog_id
    pub site_id: SiteId,
    /// Domain + path in the source.
    pub url: String,
    /// Tables.
    pub tables: u64,
    /// Estimated rows.
    pub rows_estimate: u64,
    /// Estimated bytes.
    pub bytes_estimate: u64,
}

/// Builds the plan.
pub fn build(checked: &Checked, options: &MigrationOptions, sites: &[SiteId]) -> Plan {
    let inv = &checked.inventory;
    let by_site = inv.tables_by_site();
    let planned: Vec<PlannedSite> = sites
        .iter()
        .map(|&id| {
            let tables = by_site.get(&id).map(Vec::as_slice).unwrap_or(&[]);
            let site = inv.site(id);
            PlannedSite {
                site_id: id,
                url: site
                    .map(|s| format!("{}{}", s.domain, s.path))
                    .unwrap_or_default(),
                tables: tables.len() as u64,
                rows_estimate: tables.iter().map(|t| t.rows_estimate).sum(),
                bytes_estimate: tables.iter().map(|t| t.bytes_estimate).sum(),
            }
        })
        .collect();
    let partial = scope::is_partial(options);
    let network_tables: Vec<String> = if options.sites_only {
        Vec::new()
    } else if partial {
        let mut t = partial_table_names(&inv.prefix);
        if users::carries_users(options) {
            t.extend(users::table_names(&inv.prefix));
        }
        t
    } else {
        full_table_names(&inv.prefix, options.include_users)
    }
    .into_iter()
    .filter(|t| inv.tables.contains_key(t))
    .collect();
    let net = network_tables.iter().filter_map(|t| inv.tables.get(t));
    let (net_rows, net_bytes) = net.fold((0, 0), |(r, b), t| {
        (r + t.rows_estimate, b + t.bytes_estimate)
    });
    Plan {
        source_env: checked.source.env.clone(),
        target_env: checked.target.env.clone(),
        tables: planned.iter().map(|s| s.tables).sum::<u64>() + network_tables.len() as u64,
        rows_estimate: planned.iter().map(|s| s.rows_estimate).sum::<u64>() + net_rows,
        bytes_estimate: planned.iter().map(|s| s.bytes_estimate).sum::<u64>() + net_bytes,
        network_tables,
        partial,
        sites: planned,
        replacements: options
            .replacements
            .iter()
            .map(|p| (p.from.clone(), p.to.clone()))
            .collect(),
        bulk_mode: BulkModeName::of(checked.mode),
        orphaned_target_sites: checked.orphaned_target_sites(),
        orphaned_usermeta: Vec::new(),
        excluded: None,
        scrub: None,
        unmapped_hosts: options
            .hosts
            .iter()
            .filter(|h| h.target.is_none())
            .cloned()
            .collect(),
        hosts: options.hosts.clone(),
        host_collisions: Vec::new(),
        refresh: None,
    }
}

/// The target's usermeta rows that users brought in by a partial migration
/// of `sites` would take over (none unless the migration carries users).
/// Reads both databases; writes nothing.
pub async fn orphaned_usermeta(
    checked: &Checked,
    options: &MigrationOptions,
    sites: &[SiteId],
) -> anyhow::Result<Vec<OrphanedMeta>> {
    if !users::carries_users(options) || sites.is_empty() {
        return Ok(Vec::new());
    }
    let mut source = roles::source(&checked.source.opts).await?;
    let mut target = roles::target(&checked.target.opts).await?;
    let found = users::planned_orphaned_meta(&checked.inventory, &mut source, &mut target, sites)
        .await
        .map_err(|e| {
            anyhow::anyhow!("looking for the target's usermeta rows without a user: {e}")
        })?;
    let _ = source.disconnect().await;
    let _ = target.disconnect().await;
    Ok(found)
}
