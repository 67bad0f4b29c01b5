//! Load throttling (docs/throttling.md): a gate the workers pass before each
//! unit of work, closed by the [`sampler`] while a server is above
//! `--max-load`, and per-site deadlines whose clock stops while it is closed.
//!
//! * [`spec`] — the `VAR=N[,VAR=N]` limits and the servers' readings.
//! * [`sampler`] — one task reading `SHOW GLOBAL STATUS` on both servers.
//!
//! The gate is the only thing workers see: [`Throttle::wait`] before starting
//! a site or a table, and [`Throttle::deadline`] instead of a fixed instant.

pub mod sampler;
pub mod spec;

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::{sleep_until, Instant};

pub use sampler::{LoadSpec, Sampler, ThrottleError};
pub use spec::{LoadLimits, LoadSpecError, DEFAULT_MAX_LOAD};

/// The summary's `throttle` object (docs/state.md).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ThrottleSummary {
    /// `--max-load` as given (`off` when disabled).
    pub max_load: String,
    /// `--critical-load` as given.
    pub critical_load: String,
    /// Time the gate was closed in this run, to a tenth of a second.
    pub throttled_seconds: f64,
    /// How many times it closed.
    pub throttled_times: u32,
}

/// The gate of one run. Cheap to clone; open unless the sampler closed it.
#[derive(Clone)]
pub struct Throttle {
    shared: Arc<Shared>,
}

struct Shared {
    /// `Some(why)` while throttled, e.g. `Threads_running=31 on prod`.
    state: watch::Sender<Option<String>>,
    clock: Mutex<Clock>,
    /// The limits in effect, for the summary.
    spec: LoadSpec,
}

/// How long the gate has been closed, over the run.
#[derive(Default)]
struct Clock {
    closed_since: Option<Instant>,
    closed_before: Duration,
    episodes: u32,
}

impl Clock {
    fn closed_total(&self, now: Instant) -> Duration {
        self.closed_before + self.closed_since.map_or(Duration::ZERO, |s| now - s)
    }
}

impl Throttle {
    /// A gate that never closes (no limits, or no sampler).
    pub fn off() -> Throttle {
        Throttle::new(LoadSpec::off())
    }

    fn new(spec: LoadSpec) -> Throttle {
        Throttle {
            shared: Arc::new(Shared {
                state: watch::Sender::new(None),
                clock: Mutex::new(Clock::default()),
                spec,
            }),
        }
    }

    /// Returns once the gate is open: at once unless a server is above
    /// `--max-load`. Callers wait here *between* statements, never inside one.
    pub async fn wait(&self) {
        let mut rx = self.shared.state.subscribe();
        // The sender lives as long as `self`: an error cannot happen, and
        // would mean "no gate", which is open.
        let _ = rx.wait_for(Option::is_none).await;
    }

    /// Why the gate is closed, when it is.
    pub fn reason(&self) -> Option<String> {
        self.shared.state.borrow().clone()
    }

    /// A time limit of `limit` from now whose clock stops while the gate is
    /// closed, so that waiting for the load to drop never times a site out.
    pub fn deadline(&self, limit: Duration) -> Deadline {
        let now = Instant::now();
        Deadline {
            throttle: self.clone(),
            end: now.checked_add(limit).unwrap_or(now + MAX_LIMIT),
            closed_at_start: self.closed_total(now),
        }
    }

    /// What the summary records: the limits and the time spent throttled.
    pub fn summary(&self) -> ThrottleSummary {
        let c = self.clock();
        let secs = c.closed_total(Instant::now()).as_secs_f64();
        ThrottleSummary {
            max_load: self.shared.spec.max.to_string(),
            critical_load: self.shared.spec.critical.to_string(),
            throttled_seconds: (secs * 10.0).round() / 10.0,
            throttled_times: c.episodes,
        }
    }

    /// Closes the gate (`Some(why)`) or opens it (`None`). Returns how long
    /// the gate had been closed when this opens it.
    fn set(&self, why: Option<String>) -> Option<Duration> {
        let now = Instant::now();
        let mut reopened = None;
        {
            let mut c = self.clock();
            match (&why, c.closed_since) {
                (Some(_), None) => {
                    c.closed_since = Some(now);
                    c.episodes += 1;
                }
                (None, Some(since)) => {
                    c.closed_before += now - since;
                    c.closed_since = None;
                    reopened = Some(now - since);
                }
                _ => {}
            }
        }
        self.shared.state.send_replace(why);
        reopened
    }

    fn closed_total(&self, now: Instant) -> Duration {
        self.clock().closed_total(now)
    }

    fn clock(&self) -> std::sync::MutexGuard<'_, Clock> {
        // Every update leaves the clock consistent: a poisoned lock is fine.
        self.shared.clock.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn opened(&self) {
        self.wait().await
    }
}

/// Stands for "no time limit" if a limit does not fit an `Instant` (it is
/// bounded at a week by the command line, so this is only a safety net).
const MAX_LIMIT: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// A site's time limit (see [`Throttle::deadline`]).
pub struct Deadline {
    throttle: Throttle,
    end: Instant,
    closed_at_start: Duration,
}

/// The time limit passed while the future was running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expired;

impl Deadline {
    /// When the limit ends, as of now: later by the time the gate has been
    /// closed since the limit was set.
    pub fn instant(&self) -> Instant {
        let closed = self
            .throttle
            .closed_total(Instant::now())
            .saturating_sub(self.closed_at_start);
        self.end + closed
    }

    /// Runs `fut` until it ends or the limit passes.
    pub async fn run<F: Future>(&self, fut: F) -> Result<F::Output, Expired> {
        tokio::pin!(fut);
        loop {
            let open = self.throttle.reason().is_none();
            tokio::select! {
                r = &mut fut => return Ok(r),
                _ = sleep_until(self.instant()), if open => {
                    if self.instant() <= Instant::now() {
                        return Err(Expired);
                    }
                    // The gate closed meanwhile: the end moved; look again.
                }
                // The clock is stopped: nothing can expire until it runs again.
                _ = self.throttle.opened(), if !open => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_gate_holds_waiters_until_it_opens() {
        let t = Throttle::off();
        t.wait().await; // open: returns at once
        assert_eq!(t.set(Some("Threads_running=31 on prod".into())), None);
        assert_eq!(t.reason().as_deref(), Some("Threads_running=31 on prod"));
        let waiter = tokio::spawn({
            let t = t.clone();
            async move { t.wait().await }
        });
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert!(!waiter.is_finished(), "a waiter passed a closed gate");
        assert_eq!(t.set(None), Some(Duration::from_secs(10)));
        waiter.await.unwrap();
        let s = t.summary();
        assert_eq!(s.throttled_seconds, 10.0);
        assert_eq!(s.throttled_times, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_deadline_expires_when_the_gate_stays_open() {
        let t = Throttle::off();
        let d = t.deadline(Duration::from_secs(60));
        let r = d.run(tokio::time::sleep(Duration::from_secs(61))).await;
        assert_eq!(r, Err(Expired));
        let d = t.deadline(Duration::from_secs(60));
        assert_eq!(d.run(async { 7 }).await, Ok(7));
    }

    #[tokio::test(start_paused = true)]
    async fn time_spent_throttled_does_not_count_against_the_deadline() {
        let t = Throttle::off();
        let d = t.deadline(Duration::from_secs(60));
        let start = Instant::now();
        // The work needs 50 s of its own plus 40 s waiting at a closed gate.
        let work = {
            let t = t.clone();
            async move {
                tokio::time::sleep(Duration::from_secs(30)).await;
                t.wait().await;
                tokio::time::sleep(Duration::from_secs(20)).await;
            }
        };
        let gate = {
            let t = t.clone();
            async move {
                tokio::time::sleep(Duration::from_secs(25)).await;
                t.set(Some("Threads_running=40 on prod".into()));
                tokio::time::sleep(Duration::from_secs(45)).await;
                t.set(None);
            }
        };
        let (r, ()) = tokio::join!(d.run(work), gate);
        assert_eq!(r, Ok(()), "the site timed out although it only worked 50 s");
        assert_eq!(Instant::now() - start, Duration::from_secs(90));
        // The end moved by the 45 s the gate was closed.
        assert_eq!(d.instant() - start, Duration::from_secs(105));
    }

    #[tokio::test(start_paused = true)]
    async fn a_deadline_still_expires_after_a_throttled_spell() {
        let t = Throttle::off();
        let d = t.deadline(Duration::from_secs(60));
        let start = Instant::now();
        let gate = {
            let t = t.clone();
            async move {
                tokio::time::sleep(Duration::from_secs(10)).await;
                t.set(Some("Threads_running=40 on uat".into()));
                tokio::time::sleep(Duration::from_secs(5)).await;
                t.set(None);
            }
        };
        let (r, ()) = tokio::join!(d.run(std::future::pending::<()>()), gate);
        assert_eq!(r, Err(Expired));
        assert_eq!(Instant::now() - start, Duration::from_secs(65));
    }
}
