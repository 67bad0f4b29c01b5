//! One adapter per user-facing action: the command line in, an engine call,
//! the outcome shown and mapped to an exit code. [`run`] dispatches.

pub mod audit;
pub mod config_check;
pub mod config_init;
pub mod env_migrate;
pub mod manage;
pub mod migrate;
pub mod rollback;
pub mod search_replace;
#[cfg(feature = "testbed")]
pub mod seed_network;

use std::path::PathBuf;
use std::sync::OnceLock;

use clap::CommandFactory;
use wfuwp_engine::config::{self, paths::LogsDirSource, Config, ConfigError};

use crate::cli::{Cli, Command, ConfigCommand, GlobalArgs};
use crate::exit::{Code, Failure};
use crate::ui::output;

/// What every action may need: the global options, and lazily the config.
#[derive(Debug)]
pub struct Context {
    /// Global command-line options.
    pub global: GlobalArgs,
    /// The configuration file, read once per run (`None`: there is none).
    loaded: OnceLock<Option<Config>>,
}

impl Context {
    /// A context for `global`; nothing is read yet.
    pub fn new(global: GlobalArgs) -> Self {
        Context {
            global,
            loaded: OnceLock::new(),
        }
    }

    /// The configuration file, which must exist (errors exit 2).
    pub fn config(&self) -> Result<Config, Failure> {
        match self.load()? {
            Some(c) => Ok(c.clone()),
            // Read again only to report the missing file the loader's way.
            None => Ok(config::load(self.global.config.as_deref())?),
        }
    }

    /// The logs dir and which setting chose it. A missing config file is not an
    /// error here: management commands must work without one.
    pub fn logs_dir(&self) -> Result<(PathBuf, LogsDirSource), Failure> {
        let cfg = self.load()?;
        Ok(config::paths::logs_dir(
            self.global.logs_dir.as_deref(),
            cfg,
        ))
    }

    fn load(&self) -> Result<Option<&Config>, ConfigError> {
        if let Some(c) = self.loaded.get() {
            return Ok(c.as_ref());
        }
        let c = match config::load(self.global.config.as_deref()) {
            Ok(c) => Some(c),
            Err(ConfigError::NotFound { .. }) => None,
            Err(e) => return Err(e),
        };
        for w in c.iter().flat_map(|c| &c.warnings) {
            output::warn_once(w);
        }
        Ok(self.loaded.get_or_init(|| c).as_ref())
    }
}

/// Runs the command line; returns the exit code of a completed action.
pub fn run(cli: Cli) -> Result<Code, Failure> {
    let ctx = Context::new(cli.global);
    match cli.command {
        Command::EnvMigrate(args) => env_migrate::run(&ctx, &args),
        Command::Config(ConfigCommand::Check { envs }) => config_check::run(&ctx, &envs),
        Command::Config(ConfigCommand::Init(args)) => config_init::run(&ctx, &args),
        Command::SearchReplace(args) => search_replace::run(&args),
        Command::Audit(args) => audit::run(&ctx, &args),
        Command::Completions { shell } => {
            // Rendered in memory first: generate() panics on a write error.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "wfuwp", &mut script);
            output::stdout_bytes(&script);
            Ok(Code::Success)
        }
        #[cfg(feature = "testbed")]
        Command::SeedNetwork(args) => seed_network::run(&ctx, &args),
    }
}

/// Builds the tokio runtime the database-facing actions run on.
pub fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Fatal(format!("cannot start the async runtime: {e}")))
}
