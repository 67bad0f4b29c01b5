//! One module per user-facing action; [`run`] dispatches the parsed command line.

pub mod config_check;
pub mod config_init;
pub mod env_migrate;
pub mod manage;
pub mod migrate;
pub mod rollback;
pub mod search_replace;

use std::path::PathBuf;

use anyhow::Result;
use clap::CommandFactory;

use crate::cli::{Cli, Command, ConfigCommand, GlobalArgs};
use crate::config::{self, paths::LogsDirSource, Config};
use crate::exit::Code;

/// What every action may need: the global options, and lazily the config.
#[derive(Debug)]
pub struct Context {
    /// Global command-line options.
    pub global: GlobalArgs,
    /// The configuration file, read once per run (`None`: there is none).
    loaded: std::sync::OnceLock<Option<Config>>,
}

impl Context {
    /// A context for `global`; nothing is read yet.
    pub fn new(global: GlobalArgs) -> Self {
        Context {
            global,
            loaded: std::sync::OnceLock::new(),
        }
    }

    /// The configuration file, which must exist (errors exit 2).
    pub fn config(&self) -> Result<Config> {
        match self.load()? {
            Some(c) => Ok(c.clone()),
            // Read again only to report the missing file the loader's way.
            None => Ok(config::load(self.global.config.as_deref())?),
        }
    }

    /// The logs dir and which setting chose it. A missing config file is not an
    /// error here: management commands must work without one.
    pub fn logs_dir(&self) -> Result<(PathBuf, LogsDirSource)> {
        let cfg = self.load()?;
        Ok(config::paths::logs_dir(
            self.global.logs_dir.as_deref(),
            cfg,
        ))
    }

    fn load(&self) -> Result<Option<&Config>, config::ConfigError> {
        if let Some(c) = self.loaded.get() {
            return Ok(c.as_ref());
        }
        let c = match config::load(self.global.config.as_deref()) {
            Ok(c) => Some(c),
            Err(config::ConfigError::NotFound { .. }) => None,
            Err(e) => return Err(e),
        };
        Ok(self.loaded.get_or_init(|| c).as_ref())
    }
}

/// Runs the command line; returns the exit code of a completed action.
pub fn run(cli: Cli) -> Result<Code> {
    let ctx = Context::new(cli.global);
    match cli.command {
        Command::EnvMigrate(args) => env_migrate::run(&ctx, &args),
        Command::Config(ConfigCommand::Check { envs }) => config_check::run(&ctx, &envs),
        Command::Config(ConfigCommand::Init(args)) => config_init::run(&ctx, &args),
        Command::SearchReplace(args) => search_replace::run(&args),
        Command::Completions { shell } => {
            // Rendered in memory first: generate() panics on a write error.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "wfuwp", &mut script);
            crate::ui::output::stdout_bytes(&script);
            Ok(Code::Success)
        }
        #[cfg(feature = "testbed")]
        Command::SeedNetwork(args) => crate::testbed::run(&ctx, &args),
    }
}

/// Builds the tokio runtime the database-facing actions run on.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
