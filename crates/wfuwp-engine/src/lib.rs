//! wfuwp-engine: resumable, crash-safe migrations of a WordPress multisite
//! network between environments, as a library (docs/architecture.md).
//!
//! The engine never prints and never picks a process exit code: it tells
//! what it does through a [`report::Reporter`], returns what a run came to
//! ([`phases::RunEnd`]), and fails with an [`Error`] whose kind the caller
//! maps. Its entry points are the [`lifecycle`] calls.
//!
//! Modules, from the bottom up (a module uses only those listed before it;
//! `scripts/layers.sh` checks it):
//! * [`failpoints`], [`report`], [`stop`], [`refusal`], [`retry`], [`sites`]
//!   — leaves: test kill points, events, the stop token, the one retry policy.
//! * [`config`] — environments, replacement tokens, the logs dir.
//! * [`state`] — the durable migration state, its files and locks.
//! * [`db`] — connections, discovery, the table copy, the server-side lock.
//! * [`names`] — the names of the tables a migration makes.
//! * [`ledger`] — what the target remembers of the migrations into it.
//! * [`media`], [`tables`], [`throttle`], [`scope`], [`hosts`], [`scrub`],
//!   [`refresh`] — uploads, the swaps and leftovers, the load gate, which
//!   sites a migration covers, the host each site gets on the target,
//!   personal data scrubbed on the way, which sites changed since the
//!   ledger's last copy; [`keep`], the target's own settings and tables.
//! * [`rules`] — what happens to each value on its way to the target.
//! * [`phases`], [`rollback`], [`check`] — the phase machine, the way back,
//!   `config check`.
//! * [`error`], then [`lifecycle`] — start, resume, rollback, abandon, plan.

#![deny(missing_docs)]
// Output is the caller's: events go to its Reporter, never to a terminal.
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod check;
pub mod config;
pub mod db;
pub mod error;
pub mod failpoints;
pub mod hosts;
pub mod keep;
pub mod ledger;
pub mod lifecycle;
pub mod media;
pub mod names;
pub mod phases;
pub mod refresh;
pub mod refusal;
pub mod report;
pub mod retry;
pub mod rollback;
pub mod rules;
pub mod scope;
pub mod scrub;
pub mod sites;
pub mod state;
pub mod stop;
pub mod tables;
pub mod throttle;

pub use error::Error;
