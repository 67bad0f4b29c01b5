//! wfuwp: resumable WordPress multisite migrations between environments.
//!
//! The crate reads like the product:
//! * [`cli`] — the command line; [`commands`] — one module per action.
//! * [`config`] — environments, replacement tokens, the logs dir.
//! * [`state`] — the durable migration state, locks and resume selection.
//! * [`migrate`] — the phase machine and the per-site worker.
//! * [`db`] — connections, discovery, table copy.
//! * `wfuwp_replace` (crates/wfuwp-replace) — the one-pass, serialization-safe
//!   search-replace engine.
//! * [`ui`] — progress, prompts and tables.
//! * `testbed` — a generator of realistic multisite networks for tests, demo and
//!   benchmarks (only with the `testbed` feature).

// Command output goes through `outln!` / `out!` (ui::output), which survive a
// closed stdout; `println!` would panic on `wfuwp … | head -1`.
#![deny(clippy::print_stdout)]
#![deny(missing_docs)]

pub mod cli;
pub mod commands;
pub mod config;
pub mod db;
pub mod exit;
pub mod interrupt;
pub mod media;
pub mod migrate;
pub mod sites;
pub mod state;
#[cfg(feature = "testbed")]
pub mod testbed;
pub mod ui;
