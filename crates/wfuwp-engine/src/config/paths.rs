//! The logs directory (docs/state.md): `--logs-dir` > `WFUWP_LOGS_DIR` > config `logs_dir` > `~/.wfuwp/logs`.

use std::fmt;
use std::path::{Path, PathBuf};

use super::load::home_dir;
use super::Config;

/// Which setting chose the logs directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogsDirSource {
    /// `--logs-dir`
    Flag,
    /// `WFUWP_LOGS_DIR`
    EnvVar,
    /// `logs_dir` in the config file
    ConfigFile,
    /// `~/.wfuwp/logs`
    Default,
}

impl fmt::Display for LogsDirSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LogsDirSource::Flag => "--logs-dir",
            LogsDirSource::EnvVar => "WFUWP_LOGS_DIR",
            LogsDirSource::ConfigFile => "logs_dir in the config file",
            LogsDirSource::Default => "default (~/.wfuwp/logs)",
        })
    }
}

/// Resolves the logs dir. `config` may be absent (management commands work without one).
pub fn logs_dir(flag: Option<&Path>, config: Option<&Config>) -> (PathBuf, LogsDirSource) {
    if let Some(p) = flag {
        return (p.to_path_buf(), LogsDirSource::Flag);
    }
    if let Some(p) = std::env::var_os("WFUWP_LOGS_DIR").filter(|v| !v.is_empty()) {
        return (PathBuf::from(p), LogsDirSource::EnvVar);
    }
    if let Some(p) = config.and_then(|c| c.logs_dir.clone()) {
        return (p, LogsDirSource::ConfigFile);
    }
    (
        home_dir().join(".wfuwp").join("logs"),
        LogsDirSource::Default,
    )
}
