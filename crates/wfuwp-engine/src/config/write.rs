//! Writing a configuration file safely: private from the first byte (mode
//! 0600 at creation, so there is never a moment in which other users could
//! read it), complete or absent (a temporary file renamed into place), and
//! never over an existing file unless asked to.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Why the file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The file exists and overwriting was not asked for.
    #[error("{} already exists; nothing was written. Use --force to replace it, or give another PATH.", .0.display())]
    Exists(PathBuf),
    /// A file-system operation failed.
    #[error("cannot {action} {}: {source}. Check that the directory exists and is writable, or give another PATH.", .path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> WriteError {
    let path = path.to_path_buf();
    move |source| WriteError::Io {
        action,
        path,
        source,
    }
}

/// Removes the temporary file unless it was published.
struct TempFile(Option<PathBuf>);

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

#[cfg(unix)]
fn private(options: &mut OpenOptions) -> &mut OpenOptions {
    use std::os::unix::fs::OpenOptionsExt;
    options.mode(0o600)
}

#[cfg(not(unix))]
fn private(options: &mut OpenOptions) -> &mut OpenOptions {
    options
}

/// Creates missing parent directories, readable by the owner only (they hold
/// the configuration and, by default, the logs).
fn create_parent(dir: &Path) -> Result<(), WriteError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(io("create the directory", dir))
}

/// Whether something (a file, a directory, even a dangling link) is at `path`.
pub fn exists(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

/// Writes `text` to `path` with mode 0600, atomically. Without `overwrite` an
/// existing `path` is left alone and reported as [`WriteError::Exists`], also
/// when it appears while this runs.
pub fn write_private(path: &Path, text: &str, overwrite: bool) -> Result<(), WriteError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    create_parent(&dir)?;
    if !overwrite && exists(path) {
        return Err(WriteError::Exists(path.to_path_buf()));
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "config.toml".into());
    let suffix: String = (0..8).map(|_| fastrand::alphanumeric()).collect();
    let tmp_path = dir.join(format!(".{name}.{}.{suffix}.tmp", std::process::id()));
    let mut tmp = TempFile(Some(tmp_path.clone()));
    let mut file: File = private(OpenOptions::new().write(true).create_new(true))
        .open(&tmp_path)
        .map_err(io("create", &tmp_path))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io("write", &tmp_path))?;
    drop(file);
    if overwrite {
        std::fs::rename(&tmp_path, path).map_err(io("write", path))?;
        tmp.0 = None;
    } else {
        // A hard link publishes the file atomically and fails if the name is
        // taken, where a rename would silently replace what appeared meanwhile.
        match std::fs::hard_link(&tmp_path, path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(WriteError::Exists(path.to_path_buf()))
            }
            // File systems without hard links: the check above has to do.
            Err(_) => {
                if exists(path) {
                    return Err(WriteError::Exists(path.to_path_buf()));
                }
                std::fs::rename(&tmp_path, path).map_err(io("write", path))?;
                tmp.0 = None;
            }
        }
    }
    drop(tmp);
    // The rename is durable once the directory is; a failure here loses
    // nothing that a crash right now would not.
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leftovers(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect()
    }

    #[cfg(unix)]
    fn mode(p: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn writes_private_files_and_refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new/sub/config.toml");
        write_private(&path, "a = 1\n", false).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a = 1\n");
        #[cfg(unix)]
        {
            assert_eq!(mode(&path), 0o600);
            assert_eq!(mode(&dir.path().join("new")), 0o700);
        }
        let err = write_private(&path, "b = 2\n", false).unwrap_err();
        assert!(matches!(err, WriteError::Exists(_)), "{err}");
        assert!(err.to_string().contains("--force"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a = 1\n");
        assert!(leftovers(path.parent().unwrap()).is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn overwriting_replaces_a_readable_file_with_a_private_one() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&path, "new", true).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(mode(&path), 0o600);
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn an_unwritable_place_is_an_error_that_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, "").unwrap();
        let err = write_private(&blocker.join("config.toml"), "x", false).unwrap_err();
        assert!(matches!(err, WriteError::Io { .. }), "{err}");
        let err = write_private(dir.path(), "x", true).unwrap_err();
        assert!(matches!(err, WriteError::Io { .. }), "{err}");
        assert!(leftovers(dir.path()).is_empty());
    }
}
