//! Configuration (docs/cli.md): the TOML model, where it is found, and what it derives.
//!
//! * [`load`](mod@load) — locating, reading and validating the file.
//! * [`pairs`] — replacement pairs for a SOURCE → TARGET migration.
//! * [`fingerprint`] — a secret-free digest that detects config drift on resume.
//! * [`hosts`] — a target's `domain_template` and `domains` (docs/hosts.md).
//! * [`paths`] — the logs directory and which setting chose it.
//! * [`media`] — an environment's uploads bucket (`[environments.NAME.media]`).
//! * [`draft`], [`render`], [`write`](mod@write) — a new file from `wfuwp config init`:
//!   what it must contain, its commented text, and writing it privately.

pub mod draft;
pub mod fingerprint;
pub mod hosts;
pub mod load;
pub mod media;
pub mod pairs;
pub mod paths;
pub mod render;
pub mod scrub;
pub mod tls;
pub mod write;

use std::collections::BTreeMap;
use std::path::PathBuf;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

pub use load::{load, ConfigSource};
pub use media::MediaConfig;
pub use scrub::{KeepConfig, ScrubConfig, SetConfig};
pub use tls::{SslMode, Tls};

/// Largest `--concurrency` / `concurrency`: more sites at once only adds
/// connections the servers must hold, not speed.
pub const MAX_CONCURRENCY: u32 = 64;
/// Largest per-site time limit in minutes (one week). Bounded so that it always
/// converts to a `Duration` and a typo like `1e18` is caught, not obeyed.
pub const MAX_TIMEOUT_MINUTES: f64 = 10_080.0;
/// Largest `--max-retries` / `max_retries`: beyond this a failure is not transient.
pub const MAX_RETRIES: u32 = 100;

/// Smallest per-site time limit in minutes: one second. Anything shorter
/// (`1e-300`) rounds to no time at all, and every site would time out.
pub const MIN_TIMEOUT_MINUTES: f64 = 1.0 / 60.0;

/// Checks a per-site time limit in minutes: a finite number in
/// [[`MIN_TIMEOUT_MINUTES`], [`MAX_TIMEOUT_MINUTES`]].
/// The error says what is wrong without naming where the number came from.
pub fn check_timeout_minutes(m: f64) -> Result<(), String> {
    if m.is_finite() && (MIN_TIMEOUT_MINUTES..=MAX_TIMEOUT_MINUTES).contains(&m) {
        Ok(())
    } else {
        Err(format!(
            "{m} is not a usable time limit: give at least one second (1/60 of a minute, 0.0167) \
             and at most {MAX_TIMEOUT_MINUTES} minutes (one week)"
        ))
    }
}

/// A configuration problem: exits 2 with the file path and what to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// No configuration file where one was expected.
    #[error("no configuration file at {path} ({why}). Create one from wfuwp.example.toml, or point --config / WFUWP_CONFIG at it.")]
    NotFound {
        /// The configuration file.
        path: PathBuf,
        /// Why it could not be found.
        why: String,
    },
    /// The file exists but cannot be read.
    #[error("cannot read configuration file {path}: {source}")]
    Unreadable {
        /// The configuration file.
        path: PathBuf,
        /// The error reading it.
        source: std::io::Error,
    },
    /// TOML syntax error or a value of the wrong type / unknown key.
    #[error("configuration file {path} is invalid:\n{message}\nFix the line shown above and run `wfuwp config check`.")]
    Parse {
        /// The configuration file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Semantically invalid (e.g. neither host nor socket).
    #[error("configuration file {path}: {message}")]
    Invalid {
        /// The configuration file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// An environment name that is not configured.
    #[error("unknown environment '{name}'. Configured environments: {known}. Add [environments.{name}] to {path}.")]
    UnknownEnvironment {
        /// The name asked for.
        name: String,
        /// The configured names.
        known: String,
        /// The configuration file.
        path: PathBuf,
    },
    /// `password_env` names a variable that is not set.
    #[error("environment '{env}' takes its password from the variable {var}, which is not set. Export it (export {var}=...) and run again.")]
    MissingPassword {
        /// The environment.
        env: String,
        /// The variable.
        var: String,
    },
    /// A replacement key of the source that the target lacks.
    #[error("replacement token '{key}' is set for '{source_env}' but not for '{target_env}'. Add `{key} = \"...\"` to [environments.{target_env}.replace] in {path}.")]
    MissingToken {
        /// The replacement key.
        key: String,
        /// The source environment.
        source_env: String,
        /// The target environment.
        target_env: String,
        /// The configuration file.
        path: PathBuf,
    },
}

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where migration state lives (relative to the config file).
    pub logs_dir: Option<PathBuf>,
    /// Defaults for CLI options.
    #[serde(default)]
    pub defaults: Defaults,
    /// Environments by name.
    #[serde(default)]
    pub environments: BTreeMap<String, Environment>,
    /// The file this was read from (set by the loader).
    #[serde(skip)]
    pub path: PathBuf,
    /// What the loader found worth a warning (a readable literal password,
    /// a socket that hides a host): the caller says them, once.
    #[serde(skip)]
    pub warnings: Vec<String>,
}

/// `[defaults]`: values used when the CLI does not give one.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    /// Sites migrated at once.
    pub concurrency: Option<u32>,
    /// Per-site time limit.
    pub timeout_minutes: Option<f64>,
    /// Retries of a transient failure.
    pub max_retries: Option<u32>,
}

/// One `[environments.NAME]` table. The password is a [`SecretString`], so
/// no `{:?}` of an environment (or anything holding one) can print it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    /// Database host (or use `socket`).
    pub host: Option<String>,
    /// TCP port (default 3306).
    pub port: Option<u16>,
    /// Unix socket path, relative to the config file.
    pub socket: Option<PathBuf>,
    /// Database user.
    pub user: String,
    /// Literal password (prefer `password_env`); prints as `[REDACTED]`.
    pub password: Option<SecretString>,
    /// Name of the environment variable that holds the password.
    pub password_env: Option<String>,
    /// Database (schema) name.
    pub database: String,
    /// TLS: `disabled | preferred | required | verify_ca | verify_identity`.
    #[serde(default)]
    pub ssl_mode: SslMode,
    /// CA certificate(s) for `verify_ca`/`verify_identity` (PEM, relative to the config file).
    pub ssl_ca: Option<PathBuf>,
    /// Client certificate (PEM), for accounts that `REQUIRE X509`.
    pub ssl_cert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    pub ssl_key: Option<PathBuf>,
    /// WordPress table prefix.
    #[serde(default = "default_prefix")]
    pub table_prefix: String,
    /// Environment tokens: same key, different value per environment.
    #[serde(default)]
    pub replace: BTreeMap<String, String>,
    /// Shell commands run after a migration into this environment.
    #[serde(default)]
    pub post_migration: Vec<String>,
    /// The environment's uploads bucket (docs/media.md).
    #[serde(default)]
    pub media: Option<MediaConfig>,
    /// Personal data scrubbed on its way into this environment (docs/scrub.md).
    #[serde(default)]
    pub scrub: Option<ScrubConfig>,
    /// The settings and tables of this environment that a migration into it keeps.
    #[serde(default)]
    pub keep: Option<KeepConfig>,
    /// Values forced on every site migrated into this environment.
    #[serde(default)]
    pub set: Option<SetConfig>,
    /// Tables created empty (schema only) in this environment; `*` patterns.
    #[serde(default)]
    pub exclude_tables: Vec<String>,
    /// As a target: the host of a site the replacement pairs leave alone,
    /// from its source host (`{slug}`, `{blog_id}`; docs/hosts.md).
    #[serde(default)]
    pub domain_template: Option<String>,
    /// As a target: source host → host in this environment, for sites the
    /// pairs leave alone (`[environments.NAME.domains]`, docs/hosts.md).
    #[serde(default)]
    pub domains: BTreeMap<String, String>,
    /// The environment's name (set by the loader).
    #[serde(skip)]
    pub name: String,
}

fn default_prefix() -> String {
    "wp_".to_string()
}

impl Environment {
    /// The password, read from `password_env` when set.
    pub fn password(&self) -> Result<Option<SecretString>, ConfigError> {
        if let Some(var) = &self.password_env {
            return match std::env::var(var) {
                Ok(v) => Ok(Some(v.into())),
                Err(_) => Err(ConfigError::MissingPassword {
                    env: self.name.clone(),
                    var: var.clone(),
                }),
            };
        }
        Ok(self.password.clone())
    }

    /// The TLS settings.
    pub fn tls(&self) -> Tls {
        Tls {
            mode: self.ssl_mode,
            ca: self.ssl_ca.clone(),
            cert: self.ssl_cert.clone(),
            key: self.ssl_key.clone(),
        }
    }

    /// `host:port` or the socket path, for messages.
    pub fn address(&self) -> String {
        match (&self.socket, &self.host) {
            (Some(s), _) => s.display().to_string(),
            (None, Some(h)) => format!("{h}:{}", self.port.unwrap_or(3306)),
            (None, None) => "<no host>".into(),
        }
    }
}

impl Config {
    /// The environment called `name`, or a clear error listing the known ones.
    pub fn environment(&self, name: &str) -> Result<&Environment, ConfigError> {
        self.environments
            .get(name)
            .ok_or_else(|| ConfigError::UnknownEnvironment {
                name: name.to_string(),
                known: if self.environments.is_empty() {
                    "(none)".into()
                } else {
                    self.environments
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                },
                path: self.path.clone(),
            })
    }
}
