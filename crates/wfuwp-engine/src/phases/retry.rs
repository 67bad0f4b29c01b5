//! The retry policy shared by the sites and the network tables phase: after
//! a failed attempt, stop (the run is ending), give up (a permanent error or
//! retries used up) or try again after a backoff (docs/phases.md).

use tokio::time::{sleep_until, Instant};

use super::connections::Connections;
use super::engine::Engine;
use super::errors::SiteError;
use super::sites::pool::{kind_name, stop_if_server_gone};
use crate::retry::backoff;
use crate::stop::Stop;

/// What follows a failed attempt.
pub(crate) enum AfterFailure {
    /// Try again (the error is the one being retried, for the record).
    Retry(SiteError),
    /// The run is stopping: the work is redone on resume, not counted as failed.
    Stop(SiteError),
    /// A permanent error, or no retries left.
    GiveUp(SiteError),
}

/// The retries of one unit of work (a site, the network tables).
pub(crate) struct Retries<'a> {
    engine: &'a Engine,
    stop: &'a Stop,
    subject: String,
    done: u32,
}

impl<'a> Retries<'a> {
    /// No retries yet for `subject` (as it appears in the progress log).
    pub fn new(engine: &'a Engine, stop: &'a Stop, subject: impl Into<String>) -> Self {
        Retries {
            engine,
            stop,
            subject: subject.into(),
            done: 0,
        }
    }

    /// Judges `err`, which `conns` just saw. Their protocol state is unknown
    /// after an error, so they are dropped (and killed on the servers when
    /// the run is stopping, so no query of ours outlives it).
    pub async fn judge(&mut self, conns: &mut Connections, err: SiteError) -> AfterFailure {
        if self.stop.is_set() {
            conns.kill(self.engine).await;
            return AfterFailure::Stop(err);
        }
        conns.forget();
        if stop_if_server_gone(self.engine, &err, self.stop).await {
            return AfterFailure::Stop(err);
        }
        let max = self.engine.limits.max_retries;
        if !err.transient || self.done >= max {
            return AfterFailure::GiveUp(err);
        }
        self.done += 1;
        self.engine.session.log(&format!(
            "{}: {} error, retry {}/{max}: {}",
            self.subject,
            kind_name(err.kind),
            self.done,
            err.message
        ));
        AfterFailure::Retry(err)
    }

    /// Waits out the backoff before the next attempt, but not past
    /// `deadline`; `false` when the run was interrupted meanwhile.
    pub async fn wait(&self, deadline: Option<Instant>) -> bool {
        let mut wake = Instant::now() + backoff(self.done);
        if let Some(d) = deadline {
            wake = wake.min(d);
        }
        tokio::select! {
            _ = sleep_until(wake) => true,
            _ = self.stop.triggered() => false,
        }
    }
}
