//! The one place a lifecycle call ends its session when it stops early: the
//! call says, as it goes, what an early return at that point means (a phase
//! failed, the status it had before, a rollback stopped), and the guard does
//! it with the error that ended the call. Code between `Guard::new` and
//! `Guard::settle` returns early with `?` and nothing else.

use std::sync::Mutex;

use crate::state::model::{MigrationStatus, Phase};
use crate::state::Session;

/// What an early return does to the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFailure {
    /// Record that `phase` failed with the error, and end the run `failed`.
    PhaseFailed(Phase),
    /// End the run with this status (nothing was done that needs recording:
    /// a refusal leaves the migration as it was).
    Finish(MigrationStatus),
    /// Record that the rollback stopped with the error, and leave the
    /// migration in this status (its status before the rollback).
    RollbackStopped(MigrationStatus),
}

/// A session and what an early return at this point does to it.
pub struct Guard {
    session: Session,
    on_failure: Mutex<OnFailure>,
}

impl Guard {
    /// Guards `session`; an early return from here does `on_failure`.
    pub fn new(session: Session, on_failure: OnFailure) -> Guard {
        Guard {
            session,
            on_failure: Mutex::new(on_failure),
        }
    }

    /// The session, for the guarded work.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// From here on, an early return does `on_failure`.
    pub fn then(&self, on_failure: OnFailure) {
        if let Ok(mut f) = self.on_failure.lock() {
            *f = on_failure;
        }
    }

    /// The end of the guarded work: its value and the session, or the error
    /// after the session was ended as the work last said. A failure to
    /// record that is the error then (the state is what must be trusted).
    pub fn settle<T>(self, outcome: anyhow::Result<T>) -> anyhow::Result<(Session, T)> {
        let e = match outcome {
            Ok(value) => return Ok((self.session, value)),
            Err(e) => e,
        };
        let on_failure = self
            .on_failure
            .into_inner()
            .unwrap_or_else(|p| p.into_inner());
        let s = self.session;
        let empty = || serde_json::json!({});
        match on_failure {
            OnFailure::PhaseFailed(phase) => {
                s.phase_failed(phase, &format!("{e:#}"))?;
                s.finish(MigrationStatus::Failed, empty())?;
            }
            OnFailure::Finish(status) => {
                s.finish(status, empty())?;
            }
            OnFailure::RollbackStopped(before) => {
                s.rollback_finished(Some(&format!("{e:#}")))?;
                s.finish(before, empty())?;
            }
        }
        Err(e)
    }
}
