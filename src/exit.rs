//! Process exit codes (docs/cli.md) and the mapping from errors to them.

use std::process::ExitCode;

/// The exit codes outside scripts rely on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// Everything asked for was done.
    Success = 0,
    /// Fatal error: nothing or only part done, state saved.
    Fatal = 1,
    /// Usage or configuration error.
    Usage = 2,
    /// Finished, but some sites failed or timed out (resumable).
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

/// An error that carries its own exit code (usage mistakes found late,
/// refusals that are not failures of the tool).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct CodedError {
    /// Exit code to use.
    pub code: Code,
    /// One-paragraph explanation: what is wrong and what to do.
    pub message: String,
}

impl CodedError {
    /// A usage or configuration problem (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        CodedError {
            code: Code::Usage,
            message: message.into(),
        }
    }
}

/// Picks the exit code for an error by looking for known typed errors in its chain.
pub fn classify(err: &anyhow::Error) -> Code {
    for cause in err.chain() {
        if let Some(c) = cause.downcast_ref::<CodedError>() {
            return c.code;
        }
        if cause.is::<crate::cli::UsageError>() || cause.is::<crate::config::ConfigError>() {
            return Code::Usage;
        }
        if let Some(crate::db::server_lock::ServerLockError::Held(_)) = cause.downcast_ref() {
            return Code::Locked;
        }
        if cause.is::<crate::state::lock::LockHeld>()
            || cause.is::<crate::db::server_lock::ServerLockHeld>()
        {
            return Code::Locked;
        }
    }
    Code::Fatal
}
