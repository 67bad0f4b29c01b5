//! Process exit codes (docs/cli.md) and the one mapping from what ended a
//! command to them.

use std::process::ExitCode;

use wfuwp_engine::db::server_lock::ServerLockError;
use wfuwp_engine::phases::RunOutcome;
use wfuwp_engine::rollback::RollbackEnd;
use wfuwp_engine::state::StateError;
use wfuwp_engine::Error;
use wfuwp_replace::ReplaceError;

use crate::cli::UsageError;

/// The exit codes outside scripts rely on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// Everything asked for was done.
    Success = 0,
    /// Fatal error: nothing or only part done, state saved.
    Fatal = 1,
    /// Usage or configuration error.
    Usage = 2,
    /// Finished, but some sites failed or timed out (resumable); for
    /// `audit`: leftovers found.
    SitesFailed = 3,
    /// Another process holds the lock.
    Locked = 4,
    /// Interrupted by Ctrl-C / SIGTERM; state saved as `paused`.
    Interrupted = 130,
}

impl From<Code> for ExitCode {
    fn from(c: Code) -> Self {
        ExitCode::from(c as u8)
    }
}

/// What ended a command before it was done.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The engine's error.
    #[error(transparent)]
    Engine(#[from] Error),
    /// A usage mistake found on the command line, or an action the command
    /// cannot take as given (exit 2).
    #[error("{0}")]
    Usage(String),
    /// The operator said no, or the command's own part failed (exit 1).
    #[error("{0}")]
    Fatal(String),
}

impl From<anyhow::Error> for Failure {
    /// An error the engine's types may be inside: the engine's kinds decide.
    fn from(e: anyhow::Error) -> Failure {
        Failure::Engine(Error::from(e))
    }
}

impl From<UsageError> for Failure {
    fn from(e: UsageError) -> Failure {
        Failure::Usage(e.0)
    }
}

/// Typed engine errors the binary meets outside a lifecycle call.
macro_rules! engine_errors {
    ($($t:ty),+ $(,)?) => {
        $(impl From<$t> for Failure {
            fn from(e: $t) -> Failure {
                Failure::Engine(Error::from(e))
            }
        })+
    };
}

engine_errors!(wfuwp_engine::config::ConfigError, StateError, ReplaceError,);

/// The exit code of a command that ended early.
pub fn code(f: &Failure) -> Code {
    match f {
        Failure::Engine(e) => engine_code(e),
        Failure::Usage(_) => Code::Usage,
        Failure::Fatal(_) => Code::Fatal,
    }
}

/// The exit code for each kind of engine error: one exhaustive match, so
/// that a kind added to the engine does not compile until it has a code
/// here (docs/cli.md lists them):
///
/// ```compile_fail,E0004
/// // Every kind needs its arm; one left out does not compile.
/// fn code(e: &wfuwp_engine::Error) -> u8 {
///     match e {
///         wfuwp_engine::Error::Fatal(_) => 1,
///     }
/// }
/// ```
#[deny(clippy::wildcard_enum_match_arm)]
pub fn engine_code(e: &Error) -> Code {
    match e {
        Error::Config(_) => Code::Usage,
        Error::State(s) => state_code(s.error()),
        Error::LockHeld(_) | Error::ServerLockHeld(_) => Code::Locked,
        Error::ServerLock(l) => match l.error() {
            ServerLockError::Held(_) => Code::Locked,
            ServerLockError::Server { .. } => Code::Fatal,
        },
        Error::NewerMigrations(_)
        | Error::Superseded(_)
        | Error::RollbackRefused(_)
        | Error::InvalidRecord(_)
        | Error::Refused(_) => Code::Usage,
        Error::RollbackIncomplete(_) => Code::Fatal,
        Error::Ledger(l) => usage_if(l.error().is_refusal()),
        Error::Media(m) => usage_if(m.error().is_configuration()),
        Error::Replace(r) => match r.error() {
            ReplaceError::EmptyFrom { .. } => Code::Usage,
            ReplaceError::Build(_) => Code::Fatal,
        },
        Error::Fatal(_) => Code::Fatal,
    }
}

/// A state error: another process holds the migration (4), the operator's
/// to repair (2), or a failure of the machine (1).
fn state_code(e: &StateError) -> Code {
    match e {
        StateError::Locked(_) => Code::Locked,
        e if e.is_usage() => Code::Usage,
        _ => Code::Fatal,
    }
}

fn usage_if(operators: bool) -> Code {
    match operators {
        true => Code::Usage,
        false => Code::Fatal,
    }
}

/// The exit code of a migration run that ended.
pub fn of_run(outcome: &RunOutcome) -> Code {
    match outcome {
        RunOutcome::Completed => Code::Success,
        RunOutcome::Interrupted => Code::Interrupted,
        // Paused and resumable, but the stop was not the operator's: an error.
        RunOutcome::Stopped(_) => Code::Fatal,
        RunOutcome::SitesFailed => Code::SitesFailed,
        RunOutcome::Failed => Code::Fatal,
    }
}

/// The exit code of a rollback that ended.
pub fn of_rollback(end: RollbackEnd) -> Code {
    match end {
        RollbackEnd::Restored => Code::Success,
        RollbackEnd::Interrupted => Code::Interrupted,
    }
}
