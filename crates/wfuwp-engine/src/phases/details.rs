//! What a migration run adds to `migration-summary.json` besides the state's
//! own counts: a typed part of the file format (docs/state.md), so that every
//! key outside scripts read is named and documented here.

use serde::Serialize;

use wfuwp_replace::ValueStats;

use super::post::verify::Verification;
use super::sites::pool::PoolReport;
use crate::db::bulk::BulkMode;
use crate::sites::SiteId;
use crate::throttle::ThrottleSummary;

/// The engine's part of the summary.
#[derive(Debug, Default, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunDetails {
    /// How rows were written into staging tables.
    pub bulk_mode: Option<BulkModeName>,
    /// With `bulkMode` `insert`: the largest statement sent, in bytes
    /// (below the target's `max_allowed_packet`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_statement_bytes: Option<usize>,
    /// Blog ids the target has and the source does not (left alone).
    pub orphaned_target_sites: Vec<SiteId>,
    /// Search-replace pairs in effect.
    pub replacement_pairs: usize,
    /// Replacement counters over the sites completed in this run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replacements: Option<ValueStats>,
    /// The ten slowest sites of this run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slowest_sites: Option<Vec<SlowSite>>,
    /// The post_migration phase's checks, when it ran in this run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification: Option<VerificationOutcome>,
    /// The load limits and the time spent waiting for the load to drop.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub throttle: Option<ThrottleSummary>,
    /// Worker-seconds per kind of work in this run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timings: Option<super::timings::TimeBreakdown>,
    /// Values each scrub rule changed in this run (docs/scrub.md), when the
    /// target has scrub rules.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scrubbed: Option<std::collections::BTreeMap<String, u64>>,
    /// Why the run stopped, when it paused for a reason other than the
    /// operator's Ctrl-C (lost lock, server gone, critical load).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<String>,
}

/// The write path, as named in the summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum BulkModeName {
    /// `LOAD DATA LOCAL INFILE` streamed from memory.
    LoadData,
    /// Multi-row `INSERT` statements (the server refuses `local_infile`).
    Insert,
}

impl BulkModeName {
    /// The name of `mode`'s path.
    pub fn of(mode: BulkMode) -> Self {
        match mode {
            BulkMode::LoadData { .. } => BulkModeName::LoadData,
            BulkMode::Insert { .. } => BulkModeName::Insert,
        }
    }

    /// For people.
    pub fn describe(self) -> &'static str {
        match self {
            BulkModeName::LoadData => "LOAD DATA LOCAL INFILE",
            BulkModeName::Insert => "multi-row INSERT (the target refuses local_infile)",
        }
    }
}

/// One of the slowest sites.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SlowSite {
    /// The site.
    pub site_id: SiteId,
    /// Its wall time in this run, to a tenth of a second.
    pub seconds: f64,
}

/// The verification's result, or why it could not run.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum VerificationOutcome {
    /// It ran.
    Ran(Verification),
    /// It could not run.
    CouldNotRun {
        /// The error.
        error: String,
    },
}

impl RunDetails {
    /// The details known before any phase runs.
    pub fn new(mode: BulkMode, orphaned: Vec<SiteId>, replacement_pairs: usize) -> Self {
        let max_statement_bytes = match mode {
            BulkMode::LoadData { .. } => None,
            BulkMode::Insert { max_statement, .. } => Some(max_statement),
        };
        RunDetails {
            bulk_mode: Some(BulkModeName::of(mode)),
            max_statement_bytes,
            orphaned_target_sites: orphaned,
            replacement_pairs,
            ..RunDetails::default()
        }
    }

    /// Adds what the sites phase did.
    pub fn add_sites(&mut self, report: &PoolReport) {
        self.replacements = Some(report.replace);
        let mut d = report.durations.clone();
        d.sort_by(|a, b| b.1.total_cmp(&a.1));
        self.slowest_sites = Some(
            d.iter()
                .take(10)
                .map(|&(site_id, secs)| SlowSite {
                    site_id,
                    seconds: (secs * 10.0).round() / 10.0,
                })
                .collect(),
        );
    }

    /// As the JSON object merged into the summary.
    pub fn into_json(self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_else(|_| serde_json::json!({}))
    }
}
