//! Named points where tests can have the process kill itself with SIGKILL.
//!
//! `WFUWP_FAILPOINT=site_swapped:3` makes the 3rd hit of `site_swapped` send
//! SIGKILL to this process — a real, uncatchable kill at a chosen instant,
//! which is what crash-safety tests need. Unset, a hit costs one atomic load.
//!
//! `WFUWP_PAUSEPOINT=site_copied:2:/tmp/dir` makes the 2nd hit of
//! `site_copied` create `/tmp/dir/reached` and wait until `/tmp/dir/go`
//! exists: a test can then act on the world (kill a connection, stop a
//! server) at an exact point of the run, without guessing with sleeps.

#[cfg(feature = "failpoints")]
mod points {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;

    static TARGET: OnceLock<Option<(String, u64)>> = OnceLock::new();
    static HITS: AtomicU64 = AtomicU64::new(0);
    static PAUSE: OnceLock<Option<(String, u64, std::path::PathBuf)>> = OnceLock::new();
    static PAUSE_HITS: AtomicU64 = AtomicU64::new(0);

    fn pause_target() -> &'static Option<(String, u64, std::path::PathBuf)> {
        PAUSE.get_or_init(|| {
            let v = std::env::var("WFUWP_PAUSEPOINT").ok()?;
            let mut parts = v.splitn(3, ':');
            let name = parts.next()?.to_string();
            let nth = parts.next()?.parse().ok()?;
            Some((name, nth, parts.next()?.into()))
        })
    }

    fn pause_if_chosen(name: &str) {
        let Some((want, nth, dir)) = pause_target() else {
            return;
        };
        if want != name || PAUSE_HITS.fetch_add(1, Ordering::SeqCst) + 1 != *nth {
            return;
        }
        let wait = || {
            let _ = std::fs::write(dir.join("reached"), b"");
            while !dir.join("go").exists() {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(wait)
            }
            _ => wait(),
        }
    }

    fn target() -> &'static Option<(String, u64)> {
        TARGET.get_or_init(|| {
            let v = std::env::var("WFUWP_FAILPOINT").ok()?;
            let (name, n) = v.split_once(':').unwrap_or((v.as_str(), "1"));
            Some((name.to_string(), n.parse().unwrap_or(1)))
        })
    }

    /// Appends every hit's name to the file named by `WFUWP_FAILPOINT_EVENTS`,
    /// so that a test can count a clean run's events and draw kill points from them.
    fn log_event(name: &str) {
        static LOG: OnceLock<Option<std::sync::Mutex<std::fs::File>>> = OnceLock::new();
        let log = LOG.get_or_init(|| {
            let path = std::env::var_os("WFUWP_FAILPOINT_EVENTS")?;
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .ok()
                .map(std::sync::Mutex::new)
        });
        if let Some(Ok(mut f)) = log.as_ref().map(|m| m.lock()) {
            use std::io::Write as _;
            let _ = writeln!(f, "{name}");
        }
    }

    /// Marks that execution reached point `name`. `WFUWP_FAILPOINT=any:N` kills
    /// at the Nth hit of any point: with one worker, a seed that draws N replays
    /// the same kill exactly (a delay in wall time would not).
    pub(super) fn hit(name: &str) {
        log_event(name);
        pause_if_chosen(name);
        let Some((want, nth)) = target() else { return };
        if (want == name || want == "any") && HITS.fetch_add(1, Ordering::SeqCst) + 1 == *nth {
            let _ =
                nix::sys::signal::kill(nix::unistd::Pid::this(), nix::sys::signal::Signal::SIGKILL);
        }
    }
}

/// Marks that execution reached point `name` (see the module documentation).
/// Without the `failpoints` feature (a release build) it does nothing.
#[inline]
pub fn hit(name: &str) {
    #[cfg(feature = "failpoints")]
    points::hit(name);
    #[cfg(not(feature = "failpoints"))]
    let _ = name;
}
