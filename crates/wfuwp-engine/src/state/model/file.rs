//! The on-disk shape of `migration-state.json` (counters written, and
//! checked against the sites when read) and its conversion to the model.

use super::*;
use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The on-disk shape of `migration-state.json`, counters included.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StateFile<S> {
    version: u32,
    migration_id: String,
    source_env: String,
    target_env: String,
    status: MigrationStatus,
    current_phase: Option<Phase>,
    start_time: DateTime<Utc>,
    end_time: Option<DateTime<Utc>>,
    last_save_time: DateTime<Utc>,
    process_id: u32,
    runs: u32,
    phases: Vec<PhaseRecord>,
    sites: S,
    total_sites: u64,
    completed_sites: u64,
    failed_sites: u64,
    timeout_sites: u64,
    skipped_sites: u64,
    #[serde(default)]
    pending_sites: Option<u64>,
    #[serde(default)]
    in_progress_sites: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    network_backup: Option<SiteBackup>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    network_leftovers: Option<Box<Leftovers>>,
    #[serde(default)]
    backup_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    superseded_by: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    hooks: Vec<HookRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    running_hook: Option<RunningHook>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rollback: Option<RollbackRecord>,
    #[serde(default)]
    journal_seq: u64,
}

impl Serialize for MigrationState {
    fn serialize<Ser: serde::Serializer>(&self, ser: Ser) -> Result<Ser::Ok, Ser::Error> {
        let c = self.counts();
        StateFile {
            version: self.version,
            migration_id: self.migration_id.clone(),
            source_env: self.source_env.clone(),
            target_env: self.target_env.clone(),
            status: self.status,
            current_phase: self.current_phase,
            start_time: self.start_time,
            end_time: self.end_time,
            last_save_time: self.last_save_time,
            process_id: self.process_id,
            runs: self.runs,
            phases: self.phases.clone(),
            sites: &self.sites,
            total_sites: c.total,
            completed_sites: c.completed,
            failed_sites: c.failed,
            timeout_sites: c.timeout,
            skipped_sites: c.skipped,
            pending_sites: Some(c.pending),
            in_progress_sites: Some(c.in_progress),
            network_backup: self.network_backup.clone(),
            network_leftovers: self.network_leftovers.clone(),
            backup_bytes: self.backup_bytes,
            superseded_by: self.superseded_by.clone(),
            hooks: self.hooks.clone(),
            running_hook: self.running_hook.clone(),
            rollback: self.rollback.clone(),
            journal_seq: self.journal_seq,
        }
        .serialize(ser)
    }
}

impl<'de> Deserialize<'de> for MigrationState {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        let f = StateFile::<Vec<SiteRecord>>::deserialize(de)?;
        from_file(f).map_err(serde::de::Error::custom)
    }
}

fn from_file(f: StateFile<Vec<SiteRecord>>) -> Result<MigrationState, String> {
    if f.version != STATE_VERSION {
        // The loader reports versions before full parsing; this guards direct use.
        return Err(format!("unsupported version {}", f.version));
    }
    let derived = Counts::of(f.sites.iter().map(|s| &s.status));
    let stored: BTreeMap<&str, (u64, u64)> = [
        ("totalSites", (f.total_sites, derived.total)),
        ("completedSites", (f.completed_sites, derived.completed)),
        ("failedSites", (f.failed_sites, derived.failed)),
        ("timeoutSites", (f.timeout_sites, derived.timeout)),
        ("skippedSites", (f.skipped_sites, derived.skipped)),
        (
            "pendingSites",
            (f.pending_sites.unwrap_or(derived.pending), derived.pending),
        ),
        (
            "inProgressSites",
            (
                f.in_progress_sites.unwrap_or(derived.in_progress),
                derived.in_progress,
            ),
        ),
    ]
    .into_iter()
    .collect();
    if let Some((name, (have, want))) = stored.iter().find(|(_, (a, b))| a != b) {
        return Err(format!("{name} is {have} but the sites list has {want}; the counters disagree with the sites (hand-edited?)"));
    }
    let mut s = MigrationState {
        version: f.version,
        migration_id: f.migration_id,
        source_env: f.source_env,
        target_env: f.target_env,
        status: f.status,
        current_phase: f.current_phase,
        start_time: f.start_time,
        end_time: f.end_time,
        last_save_time: f.last_save_time,
        process_id: f.process_id,
        runs: f.runs,
        phases: f.phases,
        sites: f.sites,
        index: HashMap::new(),
        network_backup: f.network_backup,
        network_leftovers: f.network_leftovers,
        backup_bytes: f.backup_bytes,
        superseded_by: f.superseded_by,
        hooks: f.hooks,
        running_hook: f.running_hook,
        rollback: f.rollback,
        journal_seq: f.journal_seq,
    };
    s.reindex();
    s.check()?;
    Ok(s)
}
