//! Where a run's time goes, from the engine's own clocks: worker-seconds
//! per kind of work, summed over every site of the run, written to the
//! summary (`timings`) and read by `scripts/bench.sh` (docs/performance.md).

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

/// A kind of work a site's job spends time on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    /// Looking for staging tables a crash left behind, and dropping them.
    Lookup,
    /// Creating the staging tables (`SHOW CREATE TABLE` on the source,
    /// `CREATE TABLE` on the target).
    Create,
    /// The swap: probing what exists, recording the backup plan, the
    /// rename of every table of the site, and the drops it plans.
    Swap,
    /// Reading rows, rewriting them and writing them into staging tables
    /// (replacement included).
    Rows,
    /// Copying uploads.
    Media,
    /// `CHECKSUM TABLE` of a site's tables for the ledger (source before
    /// the copy, target after the swap) and recording them.
    Checksum,
}

/// Nanoseconds per kind of work; shared by the workers.
#[derive(Debug, Default)]
pub struct Timings {
    lookup: AtomicU64,
    create: AtomicU64,
    swap: AtomicU64,
    rows: AtomicU64,
    replace: AtomicU64,
    audit: AtomicU64,
    media: AtomicU64,
    checksum: AtomicU64,
}

impl Timings {
    fn counter(&self, work: Work) -> &AtomicU64 {
        match work {
            Work::Lookup => &self.lookup,
            Work::Create => &self.create,
            Work::Swap => &self.swap,
            Work::Rows => &self.rows,
            Work::Media => &self.media,
            Work::Checksum => &self.checksum,
        }
    }

    /// Runs `f`, counting its wall time as `work`.
    pub async fn time<T>(&self, work: Work, f: impl Future<Output = T>) -> T {
        let start = Instant::now();
        let out = f.await;
        add(self.counter(work), start.elapsed());
        out
    }

    /// CPU time spent rewriting values (part of [`Work::Rows`]).
    pub fn add_replace(&self, d: Duration) {
        add(&self.replace, d);
    }

    /// CPU time spent scanning written values for leftovers (part of
    /// [`Work::Rows`] and of the replacement's time; docs/hosts.md).
    pub fn add_audit(&self, d: Duration) {
        add(&self.audit, d);
    }

    /// The totals, with `state` (time spent writing the state durably).
    pub fn breakdown(&self, state: Duration) -> TimeBreakdown {
        let secs = |c: &AtomicU64| round(Duration::from_nanos(c.load(Ordering::Relaxed)));
        TimeBreakdown {
            lookup_seconds: secs(&self.lookup),
            create_seconds: secs(&self.create),
            swap_seconds: secs(&self.swap),
            rows_seconds: secs(&self.rows),
            replace_seconds: secs(&self.replace),
            audit_seconds: secs(&self.audit),
            media_seconds: secs(&self.media),
            checksum_seconds: secs(&self.checksum),
            state_seconds: round(state),
        }
    }
}

fn add(counter: &AtomicU64, d: Duration) {
    let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    counter.fetch_add(nanos, Ordering::Relaxed);
}

fn round(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}

/// The summary's `timings`: worker-seconds, so with several workers their
/// sum exceeds the wall time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TimeBreakdown {
    /// Looking for (and dropping) staging tables a crash left behind.
    pub lookup_seconds: f64,
    /// Creating staging tables (`SHOW CREATE TABLE` on the source included).
    pub create_seconds: f64,
    /// Swaps: probes, backup records (also in `stateSeconds`), renames and
    /// their drops.
    pub swap_seconds: f64,
    /// Streaming rows into staging tables, replacement included.
    pub rows_seconds: f64,
    /// Of `rowsSeconds`: CPU time rewriting values.
    pub replace_seconds: f64,
    /// Of `replaceSeconds`: the leftover audit's scan (docs/hosts.md).
    pub audit_seconds: f64,
    /// Copying uploads.
    pub media_seconds: f64,
    /// Checksums of the sites' tables for the ledger, both sides.
    pub checksum_seconds: f64,
    /// Writing the state durably (journal appends, fsyncs, file locks), by
    /// the whole process.
    pub state_seconds: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn each_kind_adds_up_on_its_own() {
        let t = Timings::default();
        t.time(Work::Swap, async {}).await;
        t.add_replace(Duration::from_millis(1500));
        t.add_replace(Duration::from_millis(250));
        let b = t.breakdown(Duration::from_millis(2));
        assert_eq!(b.replace_seconds, 1.75);
        assert_eq!(b.state_seconds, 0.002);
        assert_eq!(b.rows_seconds, 0.0);
        assert!(b.swap_seconds < 0.1);
        assert_eq!((b.lookup_seconds, b.create_seconds), (0.0, 0.0));
    }
}
