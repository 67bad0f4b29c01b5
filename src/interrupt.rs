//! Ctrl-C (SIGINT) and SIGTERM during a run (docs/phases.md).
//!
//! The first signal asks the run to stop: no new sites start, in-flight ones
//! are aborted, the engine saves `paused` and exits 130. A second signal exits
//! at once with 130 — safe because every recorded transition is already
//! durable, and an interrupted site is simply redone on resume.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use anyhow::{Context as _, Result};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

/// Exit code after an interrupt (docs/cli.md).
pub const EXIT_CODE: i32 = 130;

/// A shared "stop requested" flag, set by the first SIGINT/SIGTERM. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Interrupt {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    flag: AtomicBool,
    tx: watch::Sender<bool>,
    /// Why the run must stop, when it was not a signal (lost server lock,
    /// unreachable server): the run then ends `paused` with exit 1, not 130.
    cause: Mutex<Option<String>>,
}

// Signal handlers are process-wide: a second `install` returns the first.
static INSTALLED: OnceLock<Interrupt> = OnceLock::new();

impl Interrupt {
    /// A flag not connected to any signal (for tests and dry runs).
    pub fn new() -> Interrupt {
        let (tx, _rx) = watch::channel(false);
        Interrupt {
            inner: Arc::new(Inner {
                flag: AtomicBool::new(false),
                tx,
                cause: Mutex::new(None),
            }),
        }
    }

    /// Installs the SIGINT/SIGTERM handlers (once per process; later calls
    /// return the same flag). Must be called inside a tokio runtime.
    pub fn install() -> Result<Interrupt> {
        if let Some(i) = INSTALLED.get() {
            return Ok(i.clone());
        }
        let mut int =
            signal(SignalKind::interrupt()).context("cannot install the Ctrl-C handler")?;
        let mut term =
            signal(SignalKind::terminate()).context("cannot install the SIGTERM handler")?;
        let me = INSTALLED.get_or_init(Interrupt::new).clone();
        let handler = me.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    Some(()) = int.recv() => {},
                    Some(()) = term.recv() => {},
                    else => break,
                }
                handler.on_signal();
            }
        });
        Ok(me)
    }

    fn on_signal(&self) {
        if self.inner.flag.swap(true, Ordering::SeqCst) {
            crate::ui::output::stderr_line(
                "interrupted again: exiting now (recorded progress is kept; resume later)",
            );
            std::process::exit(EXIT_CODE);
        }
        crate::ui::output::stderr_line("stopping: finishing state, press Ctrl-C again to exit now");
        self.inner.tx.send_replace(true);
    }

    /// Sets the flag as a first signal would (without the message).
    pub fn trigger(&self) {
        self.inner.flag.store(true, Ordering::SeqCst);
        self.inner.tx.send_replace(true);
    }

    /// Stops the run because of `cause` (not an operator's signal): the
    /// same orderly stop as Ctrl-C, but the run reports `cause` and exits 1.
    /// The first cause wins.
    pub fn stop(&self, cause: impl Into<String>) {
        if let Ok(mut c) = self.inner.cause.lock() {
            c.get_or_insert_with(|| cause.into());
        }
        self.trigger();
    }

    /// Why the run was stopped, when it was not by a signal.
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
        // `wait_for` checks the current value first, so a signal that came
        // before this call is not missed.
        let _ = rx.wait_for(|set| *set).await;
    }
}

impl Default for Interrupt {
    fn default() -> Self {
        Interrupt::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn trigger_wakes_waiters_before_and_after() {
        let i = Interrupt::new();
        assert!(!i.is_set());
        let waiter = tokio::spawn({
            let i = i.clone();
            async move { i.triggered().await }
        });
        i.trigger();
        waiter.await.unwrap();
        assert!(i.is_set());
        i.triggered().await; // already set: returns at once
    }
}
