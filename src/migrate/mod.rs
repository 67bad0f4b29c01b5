//! The migration engine: phases, site workers, backups and rollback (docs/phases.md).

pub mod addresses;
pub mod cleanup;
pub mod details;
pub mod engine;
pub mod errors;
pub mod failpoint;
pub mod hooks;
pub mod ledger;
pub mod names;
pub mod network;
pub mod network_users;
pub mod phases;
pub mod plan;
pub mod pool;
pub mod preflight;
mod retry;
pub mod rollback;
pub mod rollback_order;
pub mod selection;
pub mod site;
pub mod swap;
pub mod throttle;
pub mod timings;
pub mod verify;
