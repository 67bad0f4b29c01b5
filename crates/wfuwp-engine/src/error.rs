//! The engine's error, by kind: what its callers may tell apart. Inside,
//! the engine works with typed errors and `anyhow` context; a lifecycle call
//! turns whatever ended it into an [`Error`] once, at its boundary. The
//! binary maps each kind to an exit code with one exhaustive `match`, so a
//! kind added here does not compile until it has one.
//!
//! The kind is the first typed error found along the chain (the context
//! the engine added, then each error's causes): a connection error caused
//! by an unset password variable is a configuration error, wherever it
//! surfaced. The message is the whole chain.

use std::fmt;
use std::marker::PhantomData;

use wfuwp_replace::ReplaceError;

use crate::config::ConfigError;
use crate::db::server_lock::{ServerLockError, ServerLockHeld};
use crate::ledger::LedgerError;
use crate::media::MediaError;
use crate::names::InvalidRecord;
use crate::refusal::Refusal;
use crate::rollback::order::{NewerMigrations, Superseded};
use crate::rollback::{RollbackIncomplete, RollbackRefusal};
use crate::state::lock::LockHeld;
use crate::state::StateError;

/// What went wrong, by kind. Each kind carries its typed error with the
/// context it gathered; `Display` is the whole message.
#[derive(Debug)]
pub enum Error {
    /// The configuration file or an environment in it.
    Config(Traced<ConfigError>),
    /// The migration state: a file, a status that does not allow the action,
    /// another process holding the migration.
    State(Traced<StateError>),
    /// Another process holds a lock file.
    LockHeld(Traced<LockHeld>),
    /// Another run holds the target database's server-side lock.
    ServerLockHeld(Traced<ServerLockHeld>),
    /// The server-side lock could not be taken.
    ServerLock(Traced<ServerLockError>),
    /// A rollback under a later migration that still stands.
    NewerMigrations(Traced<NewerMigrations>),
    /// A resume of a migration a later one superseded.
    Superseded(Traced<Superseded>),
    /// A rollback that cannot start (no backups, backups gone, unconfirmed records).
    RollbackRefused(Traced<RollbackRefusal>),
    /// A rollback that ran but left the target other than it was.
    RollbackIncomplete(Traced<RollbackIncomplete>),
    /// A backup record of the state names a table the migration cannot have made.
    InvalidRecord(Traced<InvalidRecord>),
    /// The target's ledger: foreign, damaged, or unreadable.
    Ledger(Traced<LedgerError>),
    /// The uploads side.
    Media(Traced<MediaError>),
    /// The replacement pairs.
    Replace(Traced<ReplaceError>),
    /// A request the engine refuses as given (nothing was done).
    Refused(Traced<Refusal>),
    /// Anything else: the run could not go on (state saved where there is one).
    Fatal(anyhow::Error),
}

/// A typed error `T` with the context gathered around it on its way out.
pub struct Traced<T> {
    whole: anyhow::Error,
    kind: PhantomData<fn() -> T>,
}

impl<T: std::error::Error + Send + Sync + 'static> Traced<T> {
    /// Around `whole`, whose chain holds a `T`.
    fn new(whole: anyhow::Error) -> Traced<T> {
        Traced {
            whole,
            kind: PhantomData,
        }
    }

    /// The typed error.
    pub fn error(&self) -> &T {
        self.whole
            .chain()
            .find_map(|c| c.downcast_ref::<T>())
            .expect("a Traced<T> is only made around a chain that holds a T")
    }
}

impl<T> fmt::Debug for Traced<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.whole, f)
    }
}

impl<T> fmt::Display for Traced<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&paragraph(&self.whole))
    }
}

/// The error and its causes as one paragraph: each cause that the text so
/// far does not already say, after a colon.
fn paragraph(err: &anyhow::Error) -> String {
    let mut text = err.to_string();
    for cause in err.chain().skip(1) {
        let c = cause.to_string();
        if !text.contains(&c) {
            text.push_str(": ");
            text.push_str(&c);
        }
    }
    text
}

/// The kinds and their typed errors, in one list: the conversions from a
/// chain and from each typed error, and the way back to the whole chain.
macro_rules! kinds {
    ($($variant:ident: $typed:ty),+ $(,)?) => {
        impl From<anyhow::Error> for Error {
            /// The first typed error along the chain decides the kind.
            fn from(e: anyhow::Error) -> Error {
                let kind = e.chain().find_map(|cause| -> Option<fn(anyhow::Error) -> Error> {
                    $(if cause.is::<$typed>() {
                        return Some(|e| Error::$variant(Traced::new(e)));
                    })+
                    None
                });
                match kind {
                    Some(make) => make(e),
                    None => Error::Fatal(e),
                }
            }
        }

        $(impl From<$typed> for Error {
            fn from(e: $typed) -> Error {
                Error::$variant(Traced::new(anyhow::Error::new(e)))
            }
        })+

        impl Error {
            fn whole(&self) -> &anyhow::Error {
                match self {
                    $(Error::$variant(t) => &t.whole,)+
                    Error::Fatal(e) => e,
                }
            }

            /// The same error, `context` said first (what was being done).
            pub fn context<C>(self, context: C) -> Error
            where
                C: fmt::Display + Send + Sync + 'static,
            {
                match self {
                    $(Error::$variant(t) => Error::$variant(Traced::new(t.whole.context(context))),)+
                    Error::Fatal(e) => Error::Fatal(e.context(context)),
                }
            }
        }
    };
}

kinds! {
    Config: ConfigError,
    State: StateError,
    LockHeld: LockHeld,
    ServerLockHeld: ServerLockHeld,
    ServerLock: ServerLockError,
    NewerMigrations: NewerMigrations,
    Superseded: Superseded,
    RollbackRefused: RollbackRefusal,
    RollbackIncomplete: RollbackIncomplete,
    InvalidRecord: InvalidRecord,
    Ledger: LedgerError,
    Media: MediaError,
    Replace: ReplaceError,
    Refused: Refusal,
}

impl Error {
    /// The error as a chain of causes (the first is the outermost context).
    pub fn chain(&self) -> anyhow::Chain<'_> {
        self.whole().chain()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&paragraph(self.whole()))
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_typed_error_along_the_chain_decides_and_the_message_keeps_the_context() {
        let inner = crate::db::connect::DbError::Config(ConfigError::MissingPassword {
            env: "uat".into(),
            var: "PW".into(),
        });
        let e = Error::from(anyhow::Error::new(inner).context("connecting to uat"));
        let Error::Config(t) = &e else {
            panic!("not a configuration error: {e:?}")
        };
        assert!(matches!(t.error(), ConfigError::MissingPassword { .. }));
        assert!(
            e.to_string().starts_with("connecting to uat: ") && e.to_string().contains("PW"),
            "{e}"
        );
        let e = Error::from(anyhow::anyhow!("disk full").context("saving the state"));
        assert!(matches!(e, Error::Fatal(_)), "{e:?}");
        assert_eq!(e.to_string(), "saving the state: disk full");
        let e = Error::from(Refusal::new("no"));
        assert!(matches!(e, Error::Refused(_)) && e.to_string() == "no");
    }
}
