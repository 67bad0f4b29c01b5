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

/// An error type that decides the exit code of a run it ends.
pub trait Coded {
    /// The code to exit with.
    fn exit_code(&self) -> Code;
}

impl Coded for CodedError {
    fn exit_code(&self) -> Code {
        self.code
    }
}

/// The exit code for an error: the first error in its chain that is one of
/// the [`Coded`] types below decides; anything else is fatal (1). This is the
/// only place that maps errors to exit codes.
pub fn classify(err: &anyhow::Error) -> Code {
    use crate::{cli, config, db, migrate, state};
    macro_rules! first_coded {
        ($cause:expr; $($t:ty),+ $(,)?) => {
            $(if let Some(e) = $cause.downcast_ref::<$t>() {
                return e.exit_code();
            })+
        };
    }
    for cause in err.chain() {
        first_coded!(cause;
            CodedError,
            cli::UsageError,
            config::ConfigError,
            state::StateError,
            state::lock::LockHeld,
            db::server_lock::ServerLockHeld,
            db::server_lock::ServerLockError,
            migrate::rollback_order::NewerMigrations,
            migrate::rollback_order::Superseded,
            migrate::rollback::RollbackRefusal,
            migrate::names::InvalidRecord,
            migrate::ledger::LedgerError,
            migrate::rollback::RollbackIncomplete,
            crate::media::MediaError,
            wfuwp_replace::ReplaceError,
        );
    }
    Code::Fatal
}

/// Errors that are always one code.
macro_rules! coded {
    ($code:expr => $($t:ty),+ $(,)?) => {
        $(impl Coded for $t {
            fn exit_code(&self) -> Code {
                $code
            }
        })+
    };
}

coded!(Code::Usage =>
    crate::cli::UsageError,
    crate::config::ConfigError,
    crate::migrate::rollback_order::NewerMigrations,
    crate::migrate::rollback_order::Superseded,
    crate::migrate::rollback::RollbackRefusal,
    crate::migrate::names::InvalidRecord,
);
coded!(Code::Locked =>
    crate::state::lock::LockHeld,
    crate::db::server_lock::ServerLockHeld,
);

impl Coded for crate::db::server_lock::ServerLockError {
    fn exit_code(&self) -> Code {
        match self {
            Self::Held(_) => Code::Locked,
            _ => Code::Fatal,
        }
    }
}

impl Coded for crate::migrate::ledger::LedgerError {
    fn exit_code(&self) -> Code {
        match self.is_refusal() {
            true => Code::Usage,
            false => Code::Fatal,
        }
    }
}

impl Coded for crate::migrate::rollback::RollbackIncomplete {
    fn exit_code(&self) -> Code {
        Code::Fatal
    }
}

impl Coded for crate::media::MediaError {
    fn exit_code(&self) -> Code {
        match self.is_configuration() {
            true => Code::Usage,
            false => Code::Fatal,
        }
    }
}

impl Coded for wfuwp_replace::ReplaceError {
    fn exit_code(&self) -> Code {
        match self {
            Self::EmptyFrom { .. } => Code::Usage,
            Self::Build(_) => Code::Fatal,
        }
    }
}

impl Coded for crate::state::StateError {
    fn exit_code(&self) -> Code {
        match self {
            Self::Locked(_) => Code::Locked,
            e if e.is_usage() => Code::Usage,
            _ => Code::Fatal,
        }
    }
}
