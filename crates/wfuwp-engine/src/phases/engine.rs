//! What every worker of one run shares: endpoints, discovery, the run's
//! settings, the state session and the reporter.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::db::bulk::BulkMode;
use crate::db::discovery::{Column, Inventory};
use crate::db::endpoint::Endpoint;
use crate::db::server_lock::TargetLock;
use crate::db::settings::RequiresPrimaryKey;
use crate::report::{Event, Reporter};
use crate::rules::RunRules;
use crate::sites::SiteId;
use crate::state::model::{MigrationState, SiteBackup};
use crate::state::Session;
use crate::throttle::Throttle;

/// Per-run limits (may differ between runs of one migration).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Sites migrated at once.
    pub concurrency: usize,
    /// Per-site time limit.
    pub timeout: Duration,
    /// Retries of a transient failure.
    pub max_retries: u32,
}

/// A table to copy, with its copyable columns.
#[derive(Debug, Clone)]
pub struct TableJob {
    /// Table name (same on both sides).
    pub name: String,
    /// Columns to select and load.
    pub columns: Vec<Column>,
}

/// One site's work.
#[derive(Debug, Clone)]
pub struct SiteJob {
    /// blog_id
    pub id: SiteId,
    /// Its tables on the source.
    pub tables: Vec<TableJob>,
}

/// Shared, read-only context of a run.
pub struct Engine {
    /// The durable state of this migration.
    pub session: Arc<Session>,
    /// Where rows come from.
    pub source: Endpoint,
    /// Where rows go.
    pub target: Endpoint,
    /// The source's tables and sites, discovered once per run.
    pub inventory: Inventory,
    /// What happens to each value on its way (replacement).
    pub rules: RunRules,
    /// How staging tables are filled.
    pub mode: BulkMode,
    /// The target's setting that refuses tables without a primary key, when on.
    pub requires_primary_key: Option<RequiresPrimaryKey>,
    /// The migration's table-name tag.
    pub tag: String,
    /// Keep the target's previous tables as backups.
    pub keep_backup: bool,
    /// Concurrency, timeout, retries.
    pub limits: Limits,
    /// Where the run's events go.
    pub reporter: Arc<dyn Reporter>,
    /// The `--max-load` gate workers pass before each unit of work.
    pub throttle: Throttle,
    /// The run's exclusive lock on the target database; checked before
    /// every swap so that nothing goes live once it is lost.
    pub lock: TargetLock,
    /// The run's media side, when uploads are copied (docs/media.md).
    pub media: Option<Arc<crate::media::MediaRun>>,
    /// `--media-only`: no table work for the sites.
    pub media_only: bool,
    /// Backup records by site (`None` = network tables): loaded once per run
    /// and kept in step with the state, so workers need not copy the state.
    pub backups: Mutex<BTreeMap<Option<SiteId>, SiteBackup>>,
    /// Where the run's time goes (the summary's `timings`).
    pub timings: super::timings::Timings,
    /// The target's kept and forced values, kept and excluded tables (docs/scrub.md).
    pub keep: crate::keep::KeepPlan,
}

/// The backup records of a state, keyed as [`Engine::backups`].
pub fn backups_of(state: &MigrationState) -> Mutex<BTreeMap<Option<SiteId>, SiteBackup>> {
    let mut map: BTreeMap<Option<SiteId>, SiteBackup> = state
        .sites()
        .iter()
        .filter_map(|s| s.backup.clone().map(|b| (Some(s.site_id), b)))
        .collect();
    if let Some(b) = &state.network_backup {
        map.insert(None, b.clone());
    }
    Mutex::new(map)
}

impl Engine {
    /// Hands `event` to the run's reporter.
    pub fn report(&self, event: Event<'_>) {
        self.reporter.event(event);
    }

    /// A warning during the run.
    pub fn warn(&self, message: impl AsRef<str>) {
        self.report(Event::Warning(message.as_ref()));
    }

    /// The recorded backup of a site (`None` = the network tables).
    pub fn backup_of(&self, site: Option<SiteId>) -> Option<SiteBackup> {
        self.backups.lock().ok().and_then(|m| m.get(&site).cloned())
    }

    /// Records a backup durably in the state, then in memory.
    pub fn record_backup(&self, site: Option<SiteId>, backup: SiteBackup) -> anyhow::Result<()> {
        match site {
            Some(id) => self.session.record_site_backup(id, backup.clone())?,
            None => self.session.record_network_backup(backup.clone())?,
        }
        if let Ok(mut m) = self.backups.lock() {
            m.insert(site, backup);
        }
        Ok(())
    }

    /// The copy job for site `id` (its tables may be none).
    pub fn site_job(&self, id: SiteId) -> SiteJob {
        let tables = self
            .inventory
            .site_tables(id)
            .into_iter()
            .map(|t| self.table_job(&t.name))
            .collect();
        SiteJob { id, tables }
    }

    /// The copy job for one source table.
    pub fn table_job(&self, name: &str) -> TableJob {
        TableJob {
            name: name.to_string(),
            columns: self
                .inventory
                .columns
                .get(name)
                .cloned()
                .unwrap_or_default(),
        }
    }
}
