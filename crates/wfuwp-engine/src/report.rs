//! How the engine tells what it is doing, without printing: every line and
//! every step of a run's progress is an [`Event`] handed to the caller's
//! [`Reporter`]. The binary draws them on a terminal (bars, plain lines,
//! colours, `--quiet`); tests collect them or ignore them ([`Silent`]).
//!
//! What a run decided is not an event but its return value (a status, the
//! stop reason, the summary); events are what a person watching would want
//! to see as it happens.

use crate::sites::SiteId;

/// Receives the engine's events. Called from any worker: implementations
/// are shared between threads and must not block for long.
pub trait Reporter: Send + Sync {
    /// One event.
    fn event(&self, event: Event<'_>);
}

/// Something worth telling while the engine works.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Event<'a> {
    /// A status line (a migration started, resumed, rolled back…).
    Info(&'a str),
    /// A warning about the setup (the configuration file, the logs dir, the
    /// servers), found before anything is written. The same text may be
    /// found more than once per process; it is worth saying once.
    Notice(&'a str),
    /// A warning during a run (a site's verification, a phase that failed).
    Warning(&'a str),
    /// A line about the run as a whole while it works (throttled, resumed).
    Note(&'a str),
    /// The run's work begins: `sites` to process by `workers` at once. Until
    /// [`Event::RunFinished`], warnings and notes belong to a live display.
    RunStarted {
        /// Sites this run processes.
        sites: u64,
        /// Sites processed at once.
        workers: usize,
    },
    /// Worker `worker` copies `table` of `site`.
    Table {
        /// The worker (0-based).
        worker: usize,
        /// The site.
        site: SiteId,
        /// The source table.
        table: &'a str,
    },
    /// Worker `worker` copies `site`'s uploads.
    Media {
        /// The worker (0-based).
        worker: usize,
        /// The site.
        site: SiteId,
        /// Where its media step stands.
        tick: Tick,
    },
    /// A site is done: completed (`ok`), or failed or timed out (`note` says how).
    SiteDone {
        /// The worker (0-based).
        worker: usize,
        /// The site.
        site: SiteId,
        /// Completed.
        ok: bool,
        /// `completed`, or the error kind and message.
        note: &'a str,
    },
    /// The live part of the run is over (a display can be cleared).
    RunFinished,
}

/// Where a site's media step stands: `(done, of)` pairs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tick {
    /// Objects copied, of those to copy.
    pub objects: (u64, u64),
    /// Bytes copied, of those to copy.
    pub bytes: (u64, u64),
    /// Bytes copied since the previous tick.
    pub added: u64,
}

/// A reporter that drops every event (tests, benchmarks, library use).
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Reporter for Silent {
    fn event(&self, _: Event<'_>) {}
}

/// `1 attempt`, `2 attempts`: a count with its noun in the right number.
pub fn count(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
