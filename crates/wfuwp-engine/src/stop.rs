//! The stop token of a run (docs/phases.md): "no new work, finish what is
//! recorded, save `paused`". The binary requests it on Ctrl-C or SIGTERM;
//! the engine requests it itself when the run cannot go on (a lost server
//! lock, a server gone, a critical load) and says why. Nothing here knows
//! about signals or terminals.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

/// A shared "stop requested" flag. Cheap to clone; every worker holds one.
#[derive(Debug, Clone)]
pub struct Stop {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    flag: AtomicBool,
    tx: watch::Sender<bool>,
    /// Why the run must stop, when it was not the operator (lost server
    /// lock, unreachable server): the run then ends `paused` and reports it.
    cause: Mutex<Option<String>>,
}

impl Stop {
    /// A token nobody has asked to stop yet.
    pub fn new() -> Stop {
        let (tx, _rx) = watch::channel(false);
        Stop {
            inner: Arc::new(Inner {
                flag: AtomicBool::new(false),
                tx,
                cause: Mutex::new(None),
            }),
        }
    }

    /// Asks the run to stop, as the operator does (Ctrl-C, SIGTERM).
    /// Returns whether a stop had been asked for already.
    pub fn trigger(&self) -> bool {
        let before = self.inner.flag.swap(true, Ordering::SeqCst);
        self.inner.tx.send_replace(true);
        before
    }

    /// Stops the run because of `cause` (not the operator): the same orderly
    /// stop, but the run reports `cause`. The first cause wins.
    pub fn because(&self, cause: impl Into<String>) {
        if let Ok(mut c) = self.inner.cause.lock() {
            c.get_or_insert_with(|| cause.into());
        }
        self.trigger();
    }

    /// Why the run was stopped, when it was not the operator.
    pub fn cause(&self) -> Option<String> {
        self.inner.cause.lock().ok().and_then(|c| c.clone())
    }

    /// Whether a stop was requested.
    pub fn is_set(&self) -> bool {
        self.inner.flag.load(Ordering::SeqCst)
    }

    /// Completes once a stop is requested (at once if it already was).
    pub async fn triggered(&self) {
        let mut rx = self.inner.tx.subscribe();
        // `wait_for` checks the current value first, so a request that came
        // before this call is not missed.
        let _ = rx.wait_for(|set| *set).await;
    }
}

impl Default for Stop {
    fn default() -> Self {
        Stop::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn trigger_wakes_waiters_before_and_after() {
        let s = Stop::new();
        assert!(!s.is_set());
        let waiter = tokio::spawn({
            let s = s.clone();
            async move { s.triggered().await }
        });
        assert!(!s.trigger());
        waiter.await.unwrap();
        assert!(s.is_set() && s.trigger());
        s.triggered().await; // already set: returns at once
    }

    #[test]
    fn the_first_cause_is_kept() {
        let s = Stop::new();
        s.because("lock lost");
        s.because("server gone");
        assert_eq!(s.cause().as_deref(), Some("lock lost"));
        assert!(s.is_set());
    }
}
