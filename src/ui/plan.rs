//! Shows the `--dry-run` plan the engine computed, as text or JSON (stdout).

use anyhow::Result;
use wfuwp_engine::lifecycle::plan::Plan;
use wfuwp_engine::lifecycle::MediaPlan;

/// Prints `plan`; with `json`, exactly as serialized.
pub fn show(plan: &Plan, json: bool) -> Result<()> {
    if json {
        crate::outln!("{}", serde_json::to_string_pretty(plan)?);
        return Ok(());
    }
    crate::outln!(
        "Dry run: {} → {} (nothing will be written)",
        plan.source_env,
        plan.target_env
    );
    crate::outln!(
        "  network tables: {}{}",
        if plan.network_tables.is_empty() {
            "none".to_string()
        } else {
            plan.network_tables.join(", ")
        },
        if plan.partial {
            " (selected sites' rows only)"
        } else {
            ""
        }
    );
    crate::outln!("  sites:          {}", plan.sites.len());
    crate::outln!("  tables:         {}", plan.tables);
    crate::outln!("  rows (est.):    {}", plan.rows_estimate);
    crate::outln!(
        "  size (est.):    {}",
        crate::ui::output::size(plan.bytes_estimate)
    );
    crate::outln!("  bulk mode:      {}", plan.bulk_mode.describe());
    crate::outln!("  replacements:");
    for (from, to) in &plan.replacements {
        crate::outln!("    {from} → {to}");
    }
    show_hosts(plan);
    if !plan.orphaned_target_sites.is_empty() {
        crate::outln!(
            "  target sites missing from the source: {:?}",
            plan.orphaned_target_sites
        );
    }
    for o in &plan.orphaned_usermeta {
        crate::outln!("  note: {}", o.describe(&plan.target_env));
    }
    if let Some(x) = &plan.excluded {
        crate::outln!(
            "  excluded (created empty): {} tables, saving {} rows, {} (est.)",
            x.tables.len(),
            x.rows_saved,
            crate::ui::output::size(x.bytes_saved)
        );
    }
    if let Some(rules) = &plan.scrub {
        crate::outln!("  scrub rules (values in the source each will change):");
        for (rule, n) in rules {
            crate::outln!("    {rule}: {n}");
        }
    }
    if let Some(r) = &plan.refresh {
        if r.source_compared {
            show_refresh(r, &plan.target_env, false)?;
        } else if let Some(d) = r.drift_sentence(&plan.target_env) {
            crate::outln!("  {d} — they will be overwritten (--changed-only leaves them alone)");
        }
    }
    Ok(())
}

/// The sites' hosts on the target, and those without one (docs/hosts.md).
fn show_hosts(plan: &Plan) {
    let given: Vec<_> = plan
        .hosts
        .iter()
        .filter(|h| h.by != "pairs" && h.target.is_some())
        .collect();
    if !given.is_empty() {
        crate::outln!("  site hosts from domains / domain_template:");
        for h in given {
            let to = h.target.as_deref().unwrap_or_default();
            crate::outln!("    site {}: {} → {to} ({})", h.site_id, h.source, h.by);
        }
    }
    if !plan.unmapped_hosts.is_empty() {
        crate::outln!(
            "  sites without a target host ({}; a run is refused unless --allow-unmapped-hosts):",
            plan.unmapped_hosts.len()
        );
        for h in &plan.unmapped_hosts {
            crate::outln!(
                "    site {}: {} (add it to [environments.{}.domains], or set domain_template)",
                h.site_id,
                h.source,
                plan.target_env
            );
        }
    }
    for c in &plan.host_collisions {
        crate::outln!("  host collision (a run is refused): {c}");
    }
}

/// Prints the media side of a plan: per site, the objects and bytes to
/// copy, skip and delete.
pub fn show_media(m: &MediaPlan, json: bool) {
    let rows: Vec<serde_json::Value> = m
        .sites
        .iter()
        .map(|p| {
            serde_json::json!({
                "siteId": p.site,
                "objects": p.objects,
                "copy": p.copy,
                "copyBytes": p.copy_bytes,
                "skip": p.skip,
                "skipBytes": p.skip_bytes,
                "delete": p.delete,
            })
        })
        .collect();
    if json {
        crate::outln!("{}", serde_json::json!({ "media": rows }));
        return;
    }
    crate::outln!(
        "Media: {} → {} ({})",
        m.source,
        m.target,
        if m.server_side {
            "server-side copy"
        } else {
            "streamed copy"
        }
    );
    for r in rows {
        crate::outln!(
            "  site {}: {} objects; copy {} ({} bytes), skip {}, delete {}",
            r["siteId"],
            r["objects"],
            r["copy"],
            r["copyBytes"],
            r["skip"],
            r["delete"]
        );
    }
}

/// Prints each site against the target's ledger (`--status`, and the dry
/// run of `--changed-only`): its class, what differs, and the totals.
pub fn show_refresh(r: &wfuwp_engine::refresh::Refresh, target: &str, json: bool) -> Result<()> {
    if json {
        crate::outln!("{}", serde_json::to_string_pretty(r)?);
        return Ok(());
    }
    crate::outln!("  site   class                            since / tables that differ");
    for s in &r.sites {
        let mut why = Vec::new();
        if !s.source_tables.is_empty() {
            why.push(format!("source: {}", s.source_tables.join(", ")));
        }
        if !s.target_tables.is_empty() {
            why.push(format!("{target}: {}", s.target_tables.join(", ")));
        }
        crate::outln!(
            "  {:<6} {:<32} {}{}",
            s.site_id,
            s.class.words(),
            s.since.as_deref().unwrap_or("-"),
            if why.is_empty() {
                String::new()
            } else {
                format!(" ({})", why.join("; "))
            }
        );
    }
    let totals: Vec<String> = r
        .totals
        .iter()
        .map(|(class, n)| format!("{n} {}", class.words()))
        .collect();
    crate::outln!("  totals: {}", totals.join(", "));
    crate::outln!(
        "  checksums: {:.1} s on the source, {:.1} s on {target}",
        r.source_checksum_seconds,
        r.target_checksum_seconds
    );
    if let Some(d) = r.drift_sentence(target) {
        crate::outln!("  {d}");
    }
    Ok(())
}
