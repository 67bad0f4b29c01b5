//! How every session operation runs: off the async runtime (so fsyncs and
//! file locks never stall the workers), with its typed error made the
//! user-facing one, and timed (the summary's `stateSeconds`).

use super::*;

/// Time this process spent in state operations (see [`durable_time`]).
static DURABLE_NANOS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Wall time this process has spent in state operations so far: journal
/// appends and their fsyncs, snapshots, file locks, waiting for another
/// worker's write (the `stateSeconds` of the summary's timings).
pub fn durable_time() -> std::time::Duration {
    std::time::Duration::from_nanos(DURABLE_NANOS.load(std::sync::atomic::Ordering::Relaxed))
}

/// Runs `f`, which blocks on the disk (fsync, file locks), without holding
/// up the other tasks: on the multi-threaded runtime the thread's other
/// tasks move to another thread meanwhile. Elsewhere (a current-thread
/// runtime, no runtime) it simply runs `f`.
fn off_runtime<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

impl Session {
    /// Every public operation runs through here: the typed error becomes the
    /// user-facing one, and the operation (file locks, fsyncs, waiting for
    /// another worker's write) runs off the async runtime, so no caller in
    /// async code can stall the other workers by forgetting to.
    pub(super) fn edge<T>(op: impl FnOnce() -> StateResult<T>) -> anyhow::Result<T> {
        let clock = std::time::Instant::now();
        let out = off_runtime(op);
        let nanos = u64::try_from(clock.elapsed().as_nanos()).unwrap_or(u64::MAX);
        DURABLE_NANOS.fetch_add(nanos, std::sync::atomic::Ordering::Relaxed);
        Ok(out?)
    }
}
