//! Errors of the state store, and how they reach the user.

use std::path::PathBuf;

use super::id::MalformedId;
use super::lock::LockHeld;
use super::model::{MigrationStatus, TransitionError};

/// Everything that can go wrong reading or writing migration state.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// A file operation failed.
    #[error("cannot {action} {path}: {source}. {hint}")]
    Io {
        /// What we tried to do.
        action: &'static str,
        /// On which file or directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
        /// What to do about it.
        hint: &'static str,
    },
    /// A state file that cannot be used; it was left untouched.
    #[error("state file {path} is unusable: {reason}. The file was not changed. Repair or restore it, or move the directory {dir} aside and start a new migration.")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
        /// Its migration directory.
        dir: PathBuf,
    },
    /// The state was written by a newer wfuwp.
    #[error("state file {path} has version {found}, but this wfuwp understands version {supported} only. The file was not changed. Use the wfuwp release that created it (or a newer one).")]
    FutureVersion {
        /// The file.
        path: PathBuf,
        /// Its version.
        found: u64,
        /// Ours.
        supported: u32,
    },
    /// A syntactically wrong id.
    #[error(transparent)]
    MalformedId(#[from] MalformedId),
    /// A well-formed id with no directory.
    #[error("no migration '{id}' in {logs_dir}. List migrations with `wfuwp env-migrate --list-migrations --all`, or point --logs-dir at the directory that holds it.")]
    UnknownId {
        /// The id.
        id: String,
        /// Where we looked.
        logs_dir: PathBuf,
    },
    /// Resume / rollback / abandon of a migration whose status does not allow it.
    #[error("migration {id} is {status}: {advice}")]
    WrongStatus {
        /// The id.
        id: String,
        /// Its status.
        status: MigrationStatus,
        /// What the user can do instead.
        advice: String,
    },
    /// The environments' configuration changed since the migration was created.
    #[error("the configuration changed since migration {id} was created: {envs}. Resuming would mix two configurations in one target. Restore the old configuration, or pass --force to resume anyway.")]
    FingerprintMismatch {
        /// The id.
        id: String,
        /// Environments whose fingerprint differs, each with the changed fields.
        envs: String,
    },
    /// A file wfuwp writes is a symbolic link, or another file's hard link:
    /// writing through it would change a file outside the migration.
    #[error("{path} is {what}; refusing to follow it, because writing through it would change another file. Remove it (wfuwp never creates such links; someone else did), keep the logs dir private (chmod 700), and run again.")]
    UnsafeFile {
        /// The file.
        path: PathBuf,
        /// "a symbolic link", "a hard link to another file", …
        what: &'static str,
    },
    /// A state-machine violation (an engine bug, reported as such).
    #[error(transparent)]
    Transition(#[from] TransitionError),
    /// Another process holds a lock.
    #[error(transparent)]
    Locked(#[from] LockHeld),
}

impl StateError {
    /// Whether the user (not the tool) must act: exit code 2.
    pub fn is_usage(&self) -> bool {
        match self {
            StateError::Corrupt { .. }
            | StateError::FutureVersion { .. }
            | StateError::MalformedId(_)
            | StateError::UnknownId { .. }
            | StateError::WrongStatus { .. }
            | StateError::FingerprintMismatch { .. }
            | StateError::UnsafeFile { .. } => true,
            StateError::Io { source, .. } => matches!(
                source.kind(),
                std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem
            ),
            StateError::Transition(_) | StateError::Locked(_) => false,
        }
    }
}

/// Shorthand for results of the store.
pub type StateResult<T> = Result<T, StateError>;

/// Builds an [`StateError::Io`] with a hint fitting the action.
pub(crate) fn io(
    action: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(std::io::Error) -> StateError {
    let path = path.into();
    move |source| {
        if source.raw_os_error() == Some(nix::errno::Errno::ELOOP as i32) {
            // O_NOFOLLOW met a symbolic link as the last path component.
            return StateError::UnsafeFile {
                path,
                what: "a symbolic link",
            };
        }
        StateError::Io {
            action,
            hint: hint_for(&source),
            path,
            source,
        }
    }
}

/// What to do about an I/O error on a state file, by its cause.
fn hint_for(e: &std::io::Error) -> &'static str {
    use std::io::ErrorKind;
    match e.kind() {
        ErrorKind::PermissionDenied => {
            "You may not write there: choose a logs dir you can write with --logs-dir or WFUWP_LOGS_DIR, or fix its permissions."
        }
        ErrorKind::ReadOnlyFilesystem => {
            "The logs dir is on a read-only file system: choose a writable one with --logs-dir or WFUWP_LOGS_DIR (or remount it read-write)."
        }
        ErrorKind::StorageFull | ErrorKind::QuotaExceeded => {
            "The disk (or your quota) is full: free some space, then run again; recorded progress is kept."
        }
        ErrorKind::NotFound => "Check that the logs dir exists and was not moved.",
        _ => "Check the file system of the logs dir, then run again; recorded progress is kept.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hint(errno: i32) -> String {
        io("create directory", "/logs/x")(std::io::Error::from_raw_os_error(errno)).to_string()
    }

    #[test]
    fn hints_name_the_real_cause() {
        let ro = hint(nix::errno::Errno::EROFS as i32);
        assert!(
            ro.contains("read-only file system") && !ro.contains("disk"),
            "{ro}"
        );
        let acc = hint(nix::errno::Errno::EACCES as i32);
        assert!(
            acc.contains("may not write there") && !acc.contains("disk"),
            "{acc}"
        );
        assert!(hint(nix::errno::Errno::ENOSPC as i32).contains("full"));
        let link = io("open", "/logs/.target-uat.lock")(std::io::Error::from_raw_os_error(
            nix::errno::Errno::ELOOP as i32,
        ));
        assert!(matches!(link, StateError::UnsafeFile { .. }));
        assert!(link
            .to_string()
            .contains("is a symbolic link; refusing to follow it"));
        assert!(link.is_usage());
    }
}
