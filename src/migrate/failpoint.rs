//! Named points where tests can have the process kill itself with SIGKILL.
//!
//! `WFUWP_FAILPOINT=site_swapped:3` makes the 3rd hit of `site_swapped` send
//! SIGKILL to this process — a real, uncatchable kill at a chosen instant,
//! which is what crash-safety tests need. Unset, a hit costs one atomic load.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

static TARGET: OnceLock<Option<(String, u64)>> = OnceLock::new();
static HITS: AtomicU64 = AtomicU64::new(0);

fn target() -> &'static Option<(String, u64)> {
    TARGET.get_or_init(|| {
        let v = std::env::var("WFUWP_FAILPOINT").ok()?;
        let (name, n) = v.split_once(':').unwrap_or((v.as_str(), "1"));
        Some((name.to_string(), n.parse().unwrap_or(1)))
    })
}

/// Marks that execution reached point `name`.
pub fn hit(name: &str) {
    let Some((want, nth)) = target() else { return };
    if want == name && HITS.fetch_add(1, Ordering::SeqCst) + 1 == *nth {
        // SAFETY: kill(2) on our own pid has no memory-safety preconditions.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
}
