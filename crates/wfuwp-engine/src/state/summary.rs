//! `migration-summary.json`: what a run ended with (docs/phases.md).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::model::{
    Counts, ErrorKind, Leftovers, MigrationState, MigrationStatus, RollbackRecord, SiteStatus,
};
use crate::sites::SiteId;

/// A site that ended `failed` or `timeout`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FailedSite {
    /// The site.
    pub site_id: SiteId,
    /// `failed` or `timeout`.
    pub status: SiteStatus,
    /// Tries over all runs.
    pub attempts: u32,
    /// The last error.
    pub error: Option<String>,
    /// Its classification.
    pub error_kind: Option<ErrorKind>,
}

/// The summary of a migration at the end of a run.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// The migration.
    pub migration_id: String,
    /// Source environment.
    pub source_env: String,
    /// Target environment.
    pub target_env: String,
    /// Final status of this run.
    pub status: MigrationStatus,
    /// Migration creation.
    pub start_time: DateTime<Utc>,
    /// End of this run.
    pub end_time: Option<DateTime<Utc>>,
    /// Start of this run.
    pub run_start_time: DateTime<Utc>,
    /// This run's wall time.
    pub run_duration_seconds: f64,
    /// Wall time since creation.
    pub total_duration_seconds: f64,
    /// Runs so far.
    pub runs: u32,
    /// Sites per status.
    pub sites: Counts,
    /// Failed and timed-out sites per error kind.
    pub error_kinds: BTreeMap<ErrorKind, u64>,
    /// Every failed or timed-out site.
    pub failed_sites: Vec<FailedSite>,
    /// Rows copied by completed sites.
    pub rows_copied: u64,
    /// Bytes copied by completed sites.
    pub bytes_copied: u64,
    /// Space held by backup tables, when known.
    pub backup_bytes: Option<u64>,
    /// The migration ran with `--skip-backup`: it cannot be rolled back.
    pub skip_backup: bool,
    /// The later migration that dropped this one's backups, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub superseded_by: Option<String>,
    /// `--rollback` progress, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollback: Option<RollbackRecord>,
    /// Uploads, when the migration copies them (docs/media.md).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media: Option<MediaTotals>,
    /// The sites whose latest copy still mentions the source (docs/hosts.md).
    pub leftovers: LeftoverTotals,
    /// What the engine adds (verification, slowest sites, orphans, …).
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// The leftover audit over the sites and the network tables (docs/hosts.md).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LeftoverTotals {
    /// Sites with leftovers (the network tables not counted).
    pub sites: u64,
    /// Values with leftovers, over those sites and the network tables.
    pub values: u64,
    /// Per site, in blog_id order; the network tables as site `0`.
    pub by_site: Vec<SiteLeftovers>,
}

/// One site's leftovers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SiteLeftovers {
    /// The site.
    pub site_id: SiteId,
    /// What was found.
    #[serde(flatten)]
    pub found: Leftovers,
}

/// The site id the network tables' findings are listed under.
pub const NETWORK_TABLES: SiteId = 0;

impl LeftoverTotals {
    /// The totals of `state`'s site records and network tables.
    pub fn of(state: &MigrationState) -> LeftoverTotals {
        let network = state.network_leftovers.as_deref().map(|l| SiteLeftovers {
            site_id: NETWORK_TABLES,
            found: l.clone(),
        });
        let sites = state.sites().iter().filter_map(|s| {
            Some(SiteLeftovers {
                site_id: s.site_id,
                found: s.leftovers.as_deref()?.clone(),
            })
        });
        LeftoverTotals::from_sites(network.into_iter().chain(sites).collect())
    }

    /// The totals of `by_site` (empty findings dropped, sorted by site).
    pub fn from_sites(mut by_site: Vec<SiteLeftovers>) -> LeftoverTotals {
        by_site.retain(|s| !s.found.is_empty());
        by_site.sort_by_key(|s| s.site_id);
        LeftoverTotals {
            sites: by_site
                .iter()
                .filter(|s| s.site_id != NETWORK_TABLES)
                .count() as u64,
            values: by_site.iter().map(|s| s.found.values).sum(),
            by_site,
        }
    }

    /// True when nothing was found anywhere.
    pub fn is_clean(&self) -> bool {
        self.values == 0
    }

    /// The network tables' findings, when any.
    pub fn network(&self) -> Option<&Leftovers> {
        self.by_site
            .iter()
            .find(|s| s.site_id == NETWORK_TABLES)
            .map(|s| &s.found)
    }
}

/// Media counts summed over the sites that have a media record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaTotals {
    /// Sites whose media step completed.
    pub sites_completed: u64,
    /// Sites whose latest media step failed.
    pub sites_failed: u64,
    /// Objects of those sites in the source.
    pub objects: u64,
    /// Objects copied.
    pub copied: u64,
    /// Bytes copied.
    pub bytes_copied: u64,
    /// Objects already identical in the target.
    pub skipped: u64,
    /// Target objects deleted.
    pub deleted: u64,
}

impl MediaTotals {
    /// The totals of `state`; `None` when no site has a media record.
    pub fn of(state: &MigrationState) -> Option<MediaTotals> {
        let mut t = MediaTotals::default();
        let mut any = false;
        for m in state.sites().iter().filter_map(|s| s.media.as_deref()) {
            any = true;
            match m.status {
                crate::state::model::MediaStatus::Completed => t.sites_completed += 1,
                crate::state::model::MediaStatus::Failed => t.sites_failed += 1,
                crate::state::model::MediaStatus::Pending => {}
            }
            t.objects += m.objects;
            t.copied += m.copied;
            t.bytes_copied += m.bytes_copied;
            t.skipped += m.skipped;
            t.deleted += m.deleted;
        }
        any.then_some(t)
    }
}

impl Summary {
    /// Builds the summary of `state`, merging the engine's `extra` object. Keys
    /// computed here win over the engine's, so counts always match the state.
    pub fn of(
        state: &MigrationState,
        run_start: DateTime<Utc>,
        extra: serde_json::Value,
    ) -> Summary {
        let failed_sites: Vec<FailedSite> = state
            .sites()
            .iter()
            .filter(|s| matches!(s.status, SiteStatus::Failed | SiteStatus::Timeout))
            .map(|s| FailedSite {
                site_id: s.site_id,
                status: s.status,
                attempts: s.attempts,
                error: s.error.clone(),
                error_kind: s
                    .error_kind
                    .or((s.status == SiteStatus::Timeout).then_some(ErrorKind::Timeout)),
            })
            .collect();
        let mut error_kinds = BTreeMap::new();
        for k in failed_sites
            .iter()
            .map(|f| f.error_kind.unwrap_or(ErrorKind::Internal))
        {
            *error_kinds.entry(k).or_insert(0) += 1;
        }
        let done = state
            .sites()
            .iter()
            .filter(|s| s.status == SiteStatus::Completed);
        let (rows, bytes) = done.fold((0, 0), |(r, b), s| {
            (r + s.rows.unwrap_or(0), b + s.bytes.unwrap_or(0))
        });
        let end = state.end_time.unwrap_or_else(Utc::now);
        let secs = |from: DateTime<Utc>| (end - from).num_milliseconds().max(0) as f64 / 1000.0;
        let mut s = Summary {
            migration_id: state.migration_id.clone(),
            source_env: state.source_env.clone(),
            target_env: state.target_env.clone(),
            status: state.status,
            start_time: state.start_time,
            end_time: state.end_time,
            run_start_time: run_start,
            run_duration_seconds: secs(run_start),
            total_duration_seconds: secs(state.start_time),
            runs: state.runs,
            sites: state.counts(),
            error_kinds,
            failed_sites,
            rows_copied: rows,
            bytes_copied: bytes,
            backup_bytes: state.backup_bytes,
            skip_backup: false,
            superseded_by: state.superseded_by.clone(),
            rollback: state.rollback.clone(),
            media: MediaTotals::of(state),
            leftovers: LeftoverTotals::of(state),
            extra: serde_json::Map::new(),
        };
        s.extra = merge_extra(&s, extra);
        s
    }
}

fn merge_extra(
    s: &Summary,
    extra: serde_json::Value,
) -> serde_json::Map<String, serde_json::Value> {
    let ours = serde_json::to_value(s).ok();
    let taken = |k: &str| ours.as_ref().and_then(|o| o.get(k)).is_some();
    match extra {
        serde_json::Value::Null => serde_json::Map::new(),
        serde_json::Value::Object(m) => m.into_iter().filter(|(k, _)| !taken(k)).collect(),
        // Not an object: keep it rather than lose what the engine reported.
        other => std::iter::once(("extra".to_string(), other)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_failures_and_merges_extra() {
        let mut st = MigrationState::new(
            "env-migrate-2025-08-17T12-34-56-abc123".into(),
            "a".into(),
            "b".into(),
            &[1, 2, 3],
            Utc::now(),
        );
        for (id, to, kind) in [
            (1, SiteStatus::Completed, None),
            (2, SiteStatus::Failed, Some(ErrorKind::Sql)),
            (3, SiteStatus::Timeout, Some(ErrorKind::Timeout)),
        ] {
            let mut r = st
                .next_site(id, SiteStatus::InProgress, Utc::now())
                .unwrap();
            st.put_site(r.clone()).unwrap();
            r = st.next_site(id, to, Utc::now()).unwrap();
            r.error_kind = kind;
            r.rows = Some(10);
            st.put_site(r).unwrap();
        }
        let s = Summary::of(
            &st,
            Utc::now(),
            serde_json::json!({"verification": {"ok": true}, "runs": 99}),
        );
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["sites"]["failed"], 1);
        assert_eq!(v["errorKinds"]["sql"], 1);
        assert_eq!(v["errorKinds"]["timeout"], 1);
        assert_eq!(v["failedSites"].as_array().unwrap().len(), 2);
        assert_eq!(v["rowsCopied"], 10);
        assert_eq!(v["verification"]["ok"], true);
        assert_eq!(v["runs"], 1, "computed keys win");
    }

    fn found(values: u64) -> Leftovers {
        Leftovers {
            values,
            ..Leftovers::default()
        }
    }

    #[test]
    fn the_network_tables_are_site_zero_and_not_counted_as_a_site() {
        let mut st = MigrationState::new("m".into(), "a".into(), "b".into(), &[7, 3], Utc::now());
        for (id, n) in [(7, 2), (3, 0)] {
            let mut r = st
                .next_site(id, SiteStatus::InProgress, Utc::now())
                .unwrap();
            r.leftovers = Some(Box::new(found(n)));
            st.put_site(r).unwrap();
        }
        assert_eq!(LeftoverTotals::of(&st).sites, 1);
        st.network_leftovers = Some(Box::new(found(5)));
        let l = LeftoverTotals::of(&st);
        let order: Vec<SiteId> = l.by_site.iter().map(|s| s.site_id).collect();
        assert_eq!(
            order,
            vec![NETWORK_TABLES, 7],
            "empty findings dropped, sorted"
        );
        assert_eq!((l.sites, l.values), (1, 7));
        assert_eq!(l.network().map(|n| n.values), Some(5));
        assert!(!l.is_clean());
        assert!(LeftoverTotals::from_sites(Vec::new()).is_clean());
    }
}
