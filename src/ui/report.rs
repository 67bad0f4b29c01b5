//! The final report of a run: a few lines on stderr, or the summary as JSON
//! on stdout with `--json`.

use wfuwp_engine::state::{LeftoverTotals, MigrationStatus, Summary, NETWORK_TABLES};

use super::output;

/// Prints how the run ended and what to do next; with `json`, the summary as
/// written to migration-summary.json.
pub fn final_report(s: &Summary, json: bool) {
    if json {
        match serde_json::to_string_pretty(s) {
            Ok(text) => crate::outln!("{text}"),
            Err(e) => output::warn(format!("cannot print the summary as JSON: {e}")),
        }
        return;
    }
    let c = &s.sites;
    output::info(format!(
        "\nMigration {} ({} → {}): {}\n  sites: {} completed, {} failed, {} timed out, {} skipped, {} total\n  copied: {} rows, {} in {:.0} s{}",
        s.migration_id,
        s.source_env,
        s.target_env,
        s.status,
        match c.unchanged {
            0 => c.completed.to_string(),
            n => format!("{} ({n} unchanged)", c.completed),
        },
        c.failed,
        c.timeout,
        match c.drifted {
            0 => c.skipped.to_string(),
            n => format!("{} ({n} drifted in {})", c.skipped, s.target_env),
        },
        c.total,
        s.rows_copied,
        output::size(s.bytes_copied),
        s.run_duration_seconds,
        s.backup_bytes.map(|b| format!("\n  backups held on the target: {}", output::size(b))).unwrap_or_default()
    ));
    let throttle = s.extra.get("throttle");
    let times = throttle
        .and_then(|t| t["throttledTimes"].as_u64())
        .unwrap_or(0);
    if let (Some(t), true) = (throttle, times > 0) {
        output::info(format!(
            "  throttled {} for {} s in all (--max-load {})",
            output::count(times, "time"),
            t["throttledSeconds"].as_f64().unwrap_or(0.0),
            t["maxLoad"].as_str().unwrap_or("?")
        ));
    }
    if let Some(m) = &s.media {
        output::info(format!(
            "  media: {} of {} objects copied ({}), {} already identical, {} deleted; {} sites done, {} failed",
            m.copied,
            m.objects,
            output::size(m.bytes_copied),
            m.skipped,
            m.deleted,
            m.sites_completed,
            m.sites_failed
        ));
    }
    if let Some(rules) = s.extra.get("scrubbed").and_then(|v| v.as_object()) {
        let counts: Vec<String> = rules
            .iter()
            .map(|(rule, n)| format!("{rule} {}", n.as_u64().unwrap_or(0)))
            .collect();
        output::info(format!("  scrubbed values: {}", counts.join(", ")));
    }
    for line in verification_lines(s) {
        output::info(format!("  {line}"));
    }
    if let Some(line) = leftover_line(s) {
        output::info(format!("  {line}"));
    }
    for f in s.failed_sites.iter().take(20) {
        output::info(format!(
            "  site {} {:?} after {}: {}",
            f.site_id,
            f.status,
            output::count(f.attempts.into(), "attempt"),
            f.error.as_deref().unwrap_or("")
        ));
    }
    if s.failed_sites.len() > 20 {
        output::info(format!(
            "  … and {} more (see migration-summary.json)",
            s.failed_sites.len() - 20
        ));
    }
    match s.status {
        MigrationStatus::Failed | MigrationStatus::Paused => output::info(format!(
            "  resume with:  wfuwp env-migrate --resume {}   (add --skip-failed, --skip-timeouts or --retry-failed to choose)",
            s.migration_id
        )),
        MigrationStatus::Completed if s.skip_backup => output::info(
            "  no backups were kept (--skip-backup): this migration cannot be rolled back",
        ),
        MigrationStatus::Completed => output::info(format!("  undo with:    wfuwp env-migrate --rollback {}", s.migration_id)),
        _ => {}
    }
}

/// What the verification of this run found wrong, one line per kind (the
/// details are in migration-summary.json and were warned about as found).
fn verification_lines(s: &Summary) -> Vec<String> {
    let Some(v) = s.extra.get("verification") else {
        return Vec::new();
    };
    if let Some(e) = v.get("error").and_then(|e| e.as_str()) {
        return vec![format!("verification could not run: {e}")];
    }
    let sites = |key: &str| -> Vec<String> {
        v[key]
            .as_array()
            .map(|a| {
                let mut ids: Vec<String> = a
                    .iter()
                    .filter_map(|m| m["siteId"].as_u64())
                    .map(|id| id.to_string())
                    .collect();
                ids.dedup();
                ids
            })
            .unwrap_or_default()
    };
    let mut out = Vec::new();
    let blogs = sites("blogMismatches");
    if !blogs.is_empty() {
        out.push(format!(
            "verification: {} not reachable in WordPress ({} {}): {}'s blogs table does not have them at the \
             address their content expects (blogMismatches in migration-summary.json)",
            output::count(blogs.len() as u64, "site"),
            if blogs.len() == 1 { "site" } else { "sites" },
            blogs.join(", "),
            s.target_env,
        ));
    }
    let urls = sites("urlMismatches");
    if !urls.is_empty() {
        out.push(format!(
            "verification: siteurl/home not as expected for sites {}",
            urls.join(", ")
        ));
    }
    let counts = sites("rowCountMismatches");
    if !counts.is_empty() {
        out.push(format!(
            "verification: row counts differ from those copied for sites {}",
            counts.join(", ")
        ));
    }
    out
}

/// The leftover audit's line (docs/hosts.md): clean, or how many sites still
/// mention the source, with the first example.
fn leftover_line(s: &Summary) -> Option<String> {
    let l = &s.leftovers;
    if l.is_clean() {
        return (s.sites.completed > 0).then(|| {
            format!(
                "leftover audit: clean (no value mentions {}'s hosts)",
                s.source_env
            )
        });
    }
    let example = l
        .by_site
        .iter()
        .find_map(|site| Some((site.site_id, site.found.examples.first()?)))
        .map(|(id, e)| {
            format!(
                "; e.g. {}, {}.{} [{}], {}: \"{}\"",
                holder(id),
                e.table,
                e.column,
                e.key,
                e.form,
                e.context
            )
        })
        .unwrap_or_default();
    Some(format!(
        "{} still {} {} hosts ({} values): see \"leftovers\" in {}/migration-summary.json{example}",
        leftover_holders(l),
        if l.sites == 1 && l.network().is_none() {
            "mentions"
        } else {
            "mention"
        },
        s.source_env,
        l.values,
        s.migration_id
    ))
}

/// Where findings of the leftover audit are: "site 12", or "the network
/// tables" for the network tables' entry.
pub fn holder(site_id: u64) -> String {
    match site_id {
        NETWORK_TABLES => "the network tables".to_string(),
        id => format!("site {id}"),
    }
}

/// Who still mentions the source, for one line: "3 sites", "the network
/// tables and 1 site", "the network tables".
pub fn leftover_holders(l: &LeftoverTotals) -> String {
    match (l.network().is_some(), l.sites) {
        (true, 0) => "the network tables".to_string(),
        (true, n) => format!("the network tables and {}", output::count(n, "site")),
        (false, n) => output::count(n, "site"),
    }
}
