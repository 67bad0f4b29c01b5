//! The migration engine: phases, site workers, backups and rollback (SPEC §5–§7).

pub mod errors;
pub mod failpoint;
pub mod names;
pub mod swap;
pub mod engine;
pub mod pool;
pub mod site;
pub mod network;
pub mod selection;
pub mod preflight;
pub mod cleanup;
pub mod verify;
pub mod phases;
pub mod plan;
pub mod rollback;
