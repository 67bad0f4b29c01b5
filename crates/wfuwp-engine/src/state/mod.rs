//! Durable migration state (docs/state.md, docs/phases.md): model, store, locks, resume selection.
//!
//! * [`model`] — the state of docs/state.md and its state machine.
//! * [`store`] — the files of a migration directory, atomic and durable.
//! * [`session`] — the API the engine drives: create/resume, transitions, finish.
//! * [`lock`] — OS locks on the migration and on the target environment.
//! * [`list`] — listing migrations and finding resumable ones.

pub mod error;
pub mod id;
pub mod list;
pub mod lock;
pub mod model;
pub mod options;
pub mod session;
pub mod store;
pub mod summary;

pub use error::{StateError, StateResult};
pub use list::{find_resumable, list_migrations, ListedMigration, Listing};
pub use model::{
    Counts, ErrorKind, HookRecord, MediaStatus, MigrationState, MigrationStatus, Phase,
    PhaseStatus, RollbackRecord, RollbackStatus, RunningHook, Selection, SiteBackup, SiteMedia,
    SiteRecord, SiteStats, SiteStatus, TableBackup,
};
pub use options::{MigrationConfig, MigrationOptions, NewMigration, ResumeRequest, SiteHost};
pub use session::{abandon, durable_time, mark_superseded, Session, SessionKind};
pub use summary::{LeftoverTotals, SiteLeftovers, Summary, NETWORK_TABLES};
