//! The records inside a state: per site, per phase, backups, rollback
//! progress, hooks, and the counters derived from the sites.

use super::*;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::sites::SiteId;

/// Which target table a site's (or the network's) backup holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TableBackup {
    /// The live table name on the target.
    pub live: String,
    /// The backup table holding the target's original contents; `None` when
    /// the target had no such table before (rollback drops the live one).
    pub backup: Option<String>,
}

/// The backup of one site's (or the network's) tables, taken once per migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SiteBackup {
    /// Tables swapped out.
    pub tables: Vec<TableBackup>,
    /// When the swap happened.
    pub taken_at: DateTime<Utc>,
}

/// Work done for a completed site.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteStats {
    /// Tables copied.
    pub tables: u64,
    /// Rows copied.
    pub rows: u64,
    /// Bytes copied.
    pub bytes: u64,
}

/// One site of the migration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SiteRecord {
    /// The site's blog_id.
    pub site_id: SiteId,
    /// Where it stands.
    pub status: SiteStatus,
    /// Tries so far, over all runs.
    pub attempts: u32,
    /// Start of the latest attempt.
    pub start_time: Option<DateTime<Utc>>,
    /// End of the latest attempt.
    pub end_time: Option<DateTime<Utc>>,
    /// Latest error, or why the site was skipped.
    pub error: Option<String>,
    /// Classification of the latest error.
    pub error_kind: Option<ErrorKind>,
    /// Tables copied (when completed).
    pub tables: Option<u64>,
    /// Rows copied (when completed).
    pub rows: Option<u64>,
    /// Bytes copied (when completed).
    pub bytes: Option<u64>,
    /// The target's original tables, kept for `--rollback`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<SiteBackup>,
    /// The site's uploads (docs/media.md); absent when media is not migrated
    /// and in files written before media existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<Box<SiteMedia>>,
    /// What of the source its latest copy still mentions (docs/hosts.md);
    /// absent when nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leftovers: Option<Box<Leftovers>>,
}

/// Most examples a site's leftovers keep.
pub const LEFTOVER_EXAMPLES: usize = 5;

/// The values of a copy that still mention the source (docs/hosts.md).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Leftovers {
    /// Values with at least one leftover.
    pub values: u64,
    /// The same, per `table.column`.
    pub by_column: std::collections::BTreeMap<String, u64>,
    /// The first few, in the order found.
    pub examples: Vec<LeftoverExample>,
}

/// One value that still mentions the source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LeftoverExample {
    /// The table.
    pub table: String,
    /// The column.
    pub column: String,
    /// The row's primary key (`column=value`, comma-separated); empty
    /// when the table has none.
    pub key: String,
    /// Up to 80 characters around the hit.
    pub context: String,
    /// How it is written: `plain`, `case`, `url-encoded`, `json-escaped`,
    /// `json-escaped-twice`, `html-entity`.
    pub form: String,
}

impl Leftovers {
    /// True when nothing was found.
    pub fn is_empty(&self) -> bool {
        self.values == 0
    }

    /// Adds `other`'s counts and examples (up to [`LEFTOVER_EXAMPLES`]).
    pub fn merge(&mut self, other: Leftovers) {
        self.values += other.values;
        for (k, n) in other.by_column {
            *self.by_column.entry(k).or_default() += n;
        }
        let room = LEFTOVER_EXAMPLES.saturating_sub(self.examples.len());
        self.examples.extend(other.examples.into_iter().take(room));
    }
}

/// Where a site's media step stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaStatus {
    /// Not done yet (the database part may be).
    Pending,
    /// Every object of the site is in the target.
    Completed,
    /// The latest attempt failed (`error` says why).
    Failed,
}

/// A site's media step: what it did and whether its database part is done,
/// so that a resume after a media failure does not copy the tables again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SiteMedia {
    /// Where it stands.
    pub status: MediaStatus,
    /// The site's tables were swapped in by an earlier attempt of this
    /// migration, with these counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<SiteStats>,
    /// Objects of the site in the source.
    pub objects: u64,
    /// Objects copied (over all attempts).
    pub copied: u64,
    /// Bytes copied (over all attempts).
    pub bytes_copied: u64,
    /// Objects already identical in the target, in the latest attempt.
    pub skipped: u64,
    /// Target objects deleted (`--media-delete`).
    pub deleted: u64,
    /// Target objects copied aside before they were overwritten or deleted
    /// (over all attempts; absent in files written before it was counted).
    /// A rollback refuses when fewer are left to restore.
    #[serde(default)]
    pub backed_up: u64,
    /// Latest error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl SiteMedia {
    /// Nothing done yet.
    pub fn pending() -> SiteMedia {
        SiteMedia {
            status: MediaStatus::Pending,
            database: None,
            objects: 0,
            copied: 0,
            bytes_copied: 0,
            skipped: 0,
            deleted: 0,
            backed_up: 0,
            error: None,
        }
    }
}

impl SiteRecord {
    /// A site not started yet.
    pub fn pending(site_id: SiteId) -> Self {
        SiteRecord {
            site_id,
            status: SiteStatus::Pending,
            attempts: 0,
            start_time: None,
            end_time: None,
            error: None,
            error_kind: None,
            tables: None,
            rows: None,
            bytes: None,
            backup: None,
            media: None,
            leftovers: None,
        }
    }
}

/// One phase of the migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PhaseRecord {
    /// Which phase.
    pub phase: Phase,
    /// Where it stands.
    pub status: PhaseStatus,
    /// Latest start.
    pub start_time: Option<DateTime<Utc>>,
    /// Latest end.
    pub end_time: Option<DateTime<Utc>>,
    /// Latest error.
    pub error: Option<String>,
}

/// Progress of a `--rollback`, kept so that an interrupted rollback can continue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RollbackRecord {
    /// Where it stands.
    pub status: RollbackStatus,
    /// First start.
    pub start_time: DateTime<Utc>,
    /// End of the latest attempt.
    pub end_time: Option<DateTime<Utc>>,
    /// Sites already swapped back, in order.
    pub sites_done: Vec<SiteId>,
    /// Whether the network tables are swapped back.
    pub network_done: bool,
    /// Latest error.
    pub error: Option<String>,
}

/// Site counts by status, always derived from the sites.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    /// All sites.
    pub total: u64,
    /// Not started.
    pub pending: u64,
    /// Being (or interrupted while being) migrated.
    pub in_progress: u64,
    /// Done.
    pub completed: u64,
    /// Failed.
    pub failed: u64,
    /// Timed out.
    pub timeout: u64,
    /// Skipped.
    pub skipped: u64,
    /// Of `completed`: left alone as unchanged (`--changed-only`).
    #[serde(default)]
    pub unchanged: u64,
    /// Of `skipped`: left alone as drifted (`--changed-only`).
    #[serde(default)]
    pub drifted: u64,
}

impl Counts {
    fn add(&mut self, s: SiteStatus) {
        self.total += 1;
        *match s {
            SiteStatus::Pending => &mut self.pending,
            SiteStatus::InProgress => &mut self.in_progress,
            SiteStatus::Completed => &mut self.completed,
            SiteStatus::Failed => &mut self.failed,
            SiteStatus::Timeout => &mut self.timeout,
            SiteStatus::Skipped => &mut self.skipped,
            SiteStatus::Unchanged => {
                self.unchanged += 1;
                &mut self.completed
            }
            SiteStatus::Drifted => {
                self.drifted += 1;
                &mut self.skipped
            }
        } += 1;
    }

    /// Counts of the given statuses.
    pub fn of<'a>(statuses: impl IntoIterator<Item = &'a SiteStatus>) -> Counts {
        let mut c = Counts::default();
        statuses.into_iter().for_each(|s| c.add(*s));
        c
    }
}

/// How one `post_migration` command of the target ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HookRecord {
    /// The command line.
    pub command: String,
    /// Exit status 0 within the time limit.
    pub ok: bool,
    /// Exit code, or why there is none.
    pub status: String,
}

/// A `post_migration` command while it runs: its process group, so that a
/// run that was killed meanwhile does not leave it running beside the next
/// one (docs/phases.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunningHook {
    /// The command line.
    pub command: String,
    /// Its process group id (the id of the shell that leads it).
    pub pgid: i32,
    /// The host it runs on.
    pub host: String,
    /// The value of `WFUWP_HOOK` in its environment, which every process of
    /// the group inherits: tells the group from a later one that reuses
    /// its id.
    pub marker: String,
    /// When it started.
    pub started_at: DateTime<Utc>,
}

#[cfg(test)]
mod media_tests {
    use super::*;

    #[test]
    fn a_site_record_without_media_still_reads_and_media_round_trips() {
        // As written before media existed.
        let old = serde_json::json!({
            "siteId": 2, "status": "completed", "attempts": 1,
            "startTime": null, "endTime": null, "error": null, "errorKind": null,
            "tables": 3, "rows": 10, "bytes": 100
        });
        let rec: SiteRecord = serde_json::from_value(old).expect("old record reads");
        assert!(rec.media.is_none());
        assert!(serde_json::to_value(&rec).unwrap().get("media").is_none());
        let mut with = rec;
        with.media = Some(Box::new(SiteMedia {
            database: Some(SiteStats {
                tables: 3,
                rows: 10,
                bytes: 100,
            }),
            copied: 4,
            bytes_copied: 5,
            ..SiteMedia::pending()
        }));
        let v = serde_json::to_value(&with).unwrap();
        assert_eq!(v["media"]["status"], "pending");
        assert_eq!(v["media"]["bytesCopied"], 5);
        assert_eq!(serde_json::from_value::<SiteRecord>(v).unwrap(), with);
    }
}
