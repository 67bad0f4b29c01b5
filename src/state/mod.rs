//! Durable migration state (SPEC §4, §5): model, store, locks, resume selection.

pub mod lock;
