//! OS file locks that keep two processes off one migration and one target.
//!
//! Locks are `flock`s (std's `File::try_lock`) on files that stay in place: the kernel drops
//! them when the holder dies, so a killed process never blocks the next run,
//! and the kernel decides atomically who wins when two start at once. The
//! file's contents are only metadata (pid, host, start) for messages.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::error::{io, StateError, StateResult};
use super::store::O_NOFOLLOW;

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

/// The metadata a holder writes into its lock file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LockInfo {
    /// Holder's pid.
    pub pid: u32,
    /// Holder's host name.
    pub host: String,
    /// When it took the lock (RFC 3339).
    pub started: String,
    /// The migration it works on.
    #[serde(default)]
    pub migration_id: Option<String>,
}

/// A held lock; released when dropped (or when the process dies).
#[derive(Debug)]
pub struct LockGuard {
    _file: File,
    notice: Option<String>,
}

impl LockGuard {
    /// What taking the lock found worth a warning (a logs dir other users may
    /// write to); the caller says it.
    pub fn notice(&self) -> Option<&str> {
        self.notice.as_deref()
    }
}

// A lock probe by `--list-migrations` holds a shared lock for microseconds;
// retrying for this long keeps it from being mistaken for a live holder.
const CONTENTION_GRACE: Duration = Duration::from_millis(250);

/// This machine's host name.
pub fn hostname() -> String {
    nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "an unknown host".into())
}

/// The per-target lock file in the logs dir.
pub fn target_lock_path(logs_dir: &Path, target: &str) -> PathBuf {
    // Environment names are TOML keys and may hold any character; keep the
    // file name safe and unambiguous by escaping everything else as hex.
    let safe: String = target
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02x}"),
        })
        .collect();
    logs_dir.join(format!(".target-{safe}.lock"))
}

/// A non-blocking lock attempt's outcome: taken, held by someone else, or an error.
fn attempt(result: Result<(), std::fs::TryLockError>) -> std::io::Result<bool> {
    match result {
        Ok(()) => Ok(true),
        Err(std::fs::TryLockError::WouldBlock) => Ok(false),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

/// Opens (creating) a lock file. Lock files stay in place between runs, so
/// one may exist; but it is never opened through a symbolic link
/// (`O_NOFOLLOW`) nor used when it is another file's hard link: its contents
/// are rewritten, which would truncate whatever such a link points to.
fn open_lock_file(path: &Path) -> StateResult<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(O_NOFOLLOW)
        .open(path)
        .map_err(io("open lock file", path))?;
    super::store::check_own_file(&file, path)?;
    Ok(file)
}

/// A warning when the directory holding `path` may be written by other
/// users and lacks the sticky bit: they could then replace or remove our
/// lock and state files, not only plant links (which are refused).
fn shared_dir(path: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let dir = path.parent()?;
    let mode = std::fs::metadata(dir).ok()?.permissions().mode();
    (mode & 0o022 != 0 && mode & 0o1000 == 0).then(|| {
        format!(
            "the logs dir {} can be written by other users without the sticky bit: they could replace \
             or remove wfuwp's lock and state files. Run `chmod 700 {}` (or at least `chmod +t`).",
            dir.display(),
            dir.display()
        )
    })
}

/// Takes the exclusive lock on `path` without waiting for a live holder.
/// `what` names the locked thing in the [`LockHeld`] message.
pub fn acquire(path: &Path, what: &str, migration_id: &str) -> StateResult<LockGuard> {
    let notice = shared_dir(path);
    let file = open_lock_file(path)?;
    let deadline = Instant::now() + CONTENTION_GRACE;
    loop {
        match attempt(file.try_lock()) {
            Ok(true) => break,
            Ok(false) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Ok(false) => return Err(held(path, what)),
            Err(e) => return Err(io("lock", path)(e)),
        }
    }
    let info = LockInfo {
        pid: std::process::id(),
        host: hostname(),
        started: Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        migration_id: Some(migration_id.to_string()),
    };
    let bytes = serde_json::to_vec(&info).map_err(|e| io("write lock file", path)(e.into()))?;
    // Rewritten in place: replacing the file would orphan the lock on its inode.
    file.set_len(0).map_err(io("write lock file", path))?;
    file.write_all_at(&bytes, 0)
        .map_err(io("write lock file", path))?;
    Ok(LockGuard {
        _file: file,
        notice,
    })
}

fn held(path: &Path, what: &str) -> StateError {
    let info = read_info(path);
    StateError::Locked(LockHeld {
        what: what.to_string(),
        pid: info.as_ref().map_or(0, |i| i.pid),
        host: info
            .as_ref()
            .map_or_else(|| "an unknown host".into(), |i| i.host.clone()),
        started: info.map_or_else(|| "just now".into(), |i| i.started),
    })
}

/// Reads a lock file's metadata. The holder may be writing it right now, so
/// an unreadable file is read again a few times before giving up.
pub fn read_info(path: &Path) -> Option<LockInfo> {
    for _ in 0..20 {
        if let Ok(info) = super::store::read_nofollow(path)
            .map_err(drop)
            .and_then(|b| serde_json::from_slice(&b).map_err(drop))
        {
            return Some(info);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    None
}

/// Who holds the lock on `path` right now, if anyone (a missing file is free).
pub fn probe(path: &Path) -> StateResult<Option<LockInfo>> {
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(O_NOFOLLOW)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io("open lock file", path)(e)),
    };
    // A shared lock conflicts only with a writer's exclusive one.
    match attempt(file.try_lock_shared()) {
        Ok(true) => {
            let _ = file.unlock();
            Ok(None)
        }
        Ok(false) => Ok(Some(read_info(path).unwrap_or(LockInfo {
            pid: 0,
            host: "an unknown host".into(),
            started: String::new(),
            migration_id: None,
        }))),
        Err(e) => Err(io("probe lock file", path)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_acquire_is_refused_with_holder_and_freed_on_drop() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join(".migration-lock");
        let g = acquire(&p, "migration x", "x").unwrap();
        match acquire(&p, "migration x", "x") {
            Err(StateError::Locked(h)) => {
                assert_eq!(h.pid, std::process::id());
                assert_eq!(h.host, hostname());
                assert!(h.to_string().contains("migration x is locked by process"));
            }
            other => panic!("expected LockHeld, got {other:?}"),
        }
        assert_eq!(probe(&p).unwrap().map(|i| i.pid), Some(std::process::id()));
        drop(g);
        assert_eq!(probe(&p).unwrap(), None);
        acquire(&p, "migration x", "x").unwrap();
    }

    #[test]
    fn a_symlinked_lock_file_is_refused_and_its_target_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let victim = tmp.path().join("victim");
        std::fs::write(&victim, b"keep").unwrap();
        let p = tmp.path().join(".target-uat.lock");
        std::os::unix::fs::symlink(&victim, &p).unwrap();
        let err = acquire(&p, "target", "x").unwrap_err().to_string();
        assert!(
            err.contains("is a symbolic link; refusing to follow it"),
            "{err}"
        );
        assert!(probe(&p).is_err());
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
    }

    #[test]
    fn target_lock_names_are_safe() {
        let p = target_lock_path(Path::new("/l"), "../u a");
        assert_eq!(p, Path::new("/l/.target-%2e%2e%2fu%20a.lock"));
        assert_eq!(
            target_lock_path(Path::new("/l"), "uat"),
            Path::new("/l/.target-uat.lock")
        );
    }
}
