//! OS file locks that keep two processes off one migration and one target.

/// Another live process holds a lock we need (exit code 4).
#[derive(Debug, thiserror::Error)]
#[error("{what} is locked by process {pid} on {host} (started {started}). Wait for it to finish, or stop that process.")]
pub struct LockHeld {
    /// What is locked, for the message (a migration id or a target environment).
    pub what: String,
    /// Holder's pid.
    pub pid: u32,
    /// Holder's host name.
    pub host: String,
    /// When the holder started.
    pub started: String,
}
