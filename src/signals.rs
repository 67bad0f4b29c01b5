//! Ctrl-C (SIGINT) and SIGTERM during a run (docs/phases.md).
//!
//! The first signal asks the engine to stop (its [`Stop`] token): no new
//! sites start, in-flight ones are aborted, the run saves `paused` and the
//! process exits 130. A second signal exits at once with 130 — safe because
//! every recorded transition is already durable, and an interrupted site is
//! simply redone on resume.

use std::sync::OnceLock;

use anyhow::{Context as _, Result};
use tokio::signal::unix::{signal, SignalKind};
use wfuwp_engine::stop::Stop;

use crate::exit::Code;
use crate::ui::output;

// Signal handlers are process-wide: a second `install` returns the first token.
static INSTALLED: OnceLock<Stop> = OnceLock::new();

/// Installs the SIGINT/SIGTERM handlers (once per process; later calls
/// return the same token). Must be called inside a tokio runtime.
pub fn install() -> Result<Stop> {
    if let Some(s) = INSTALLED.get() {
        return Ok(s.clone());
    }
    let mut int = signal(SignalKind::interrupt()).context("cannot install the Ctrl-C handler")?;
    let mut term = signal(SignalKind::terminate()).context("cannot install the SIGTERM handler")?;
    let stop = INSTALLED.get_or_init(Stop::new).clone();
    let handler = stop.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                Some(()) = int.recv() => {},
                Some(()) = term.recv() => {},
                else => break,
            }
            on_signal(&handler);
        }
    });
    Ok(stop)
}

fn on_signal(stop: &Stop) {
    // Set already (by a first signal, or by the engine stopping the run
    // itself): the operator wants out now.
    if stop.is_set() {
        output::stderr_line(
            "interrupted again: exiting now (recorded progress is kept; resume later)",
        );
        std::process::exit(Code::Interrupted as i32);
    }
    output::stderr_line("stopping: finishing state, press Ctrl-C again to exit now");
    stop.trigger();
}
