//! The command line (docs/cli.md): every subcommand, flag and conflict rule.
//!
//! Parsing is declarative (clap derive); the few rules clap cannot express
//! (SOURCE equal to TARGET, site lists that are not numbers) are checked in
//! [`EnvMigrateArgs::validate`] so that every usage error exits with code 2.

pub mod init;
#[cfg(feature = "testbed")]
pub mod seed;

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};
use wfuwp_engine::config;
use wfuwp_engine::sites::SiteSelector;
use wfuwp_engine::throttle::{LoadLimits, LoadSpecError};
use wfuwp_replace::Pair;

pub use init::InitArgs;

/// `wfuwp --version`: the version and the commit it was built from.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("WFUWP_COMMIT"),
    ")"
);

/// Top-level command line.
#[derive(Debug, Parser)]
#[command(
    name = "wfuwp",
    version = VERSION,
    about = "Resumable WordPress multisite migrations between environments",
    long_about = "wfuwp copies a WordPress multisite network (or selected sites of it) from one \
environment's database to another's, rewriting environment-specific strings on the way \
(serialization-safe), and resumes at site granularity after any crash.",
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    #[allow(missing_docs)] // clap would show a doc comment as help text
    pub global: GlobalArgs,

    #[command(subcommand)]
    #[allow(missing_docs)]
    pub command: Command,
}

/// Options accepted before or after any subcommand.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Configuration file (default: $WFUWP_CONFIG, else ~/.wfuwp/config.toml)
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Directory holding migration state and logs (overrides $WFUWP_LOGS_DIR and the config)
    #[arg(long, global = true, value_name = "PATH")]
    pub logs_dir: Option<PathBuf>,

    /// More detail (per-table progress); repeat for even more
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub verbose: u8,

    /// Only errors and the final result
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Disable colours (also honoured: NO_COLOR)
    #[arg(long, global = true)]
    pub no_color: bool,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Migrate a multisite network between environments (resumable)
    #[command(after_help = ENV_MIGRATE_EXAMPLES)]
    EnvMigrate(Box<EnvMigrateArgs>),

    /// Write a starting configuration, or inspect the configuration
    #[command(subcommand)]
    Config(ConfigCommand),

    /// Search-replace a MySQL dump streamed from stdin to stdout (serialization-safe)
    #[command(after_help = SEARCH_REPLACE_EXAMPLES)]
    SearchReplace(SearchReplaceArgs),

    /// Scan an environment's database for what it still mentions of another (read-only)
    #[command(after_help = AUDIT_EXAMPLES)]
    Audit(AuditArgs),

    /// Print shell completions
    Completions {
        /// The shell to generate completions for
        shell: clap_complete::Shell,
    },

    /// Generate a realistic WordPress multisite network (test bed; not for production)
    #[cfg(feature = "testbed")]
    #[command(hide = true)]
    SeedNetwork(seed::SeedArgs),
}

/// `wfuwp config …`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the configuration, connect to each environment and report on it
    Check {
        /// Environments to check (default: all configured)
        envs: Vec<String>,
    },
    /// Write a starting configuration file (asks on a terminal, or takes flags), then check it
    #[command(after_help = init::INIT_EXAMPLES)]
    Init(InitArgs),
}

/// `wfuwp audit ENV --source SRC`
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// The environment whose database is scanned (nothing is written)
    pub env: String,

    /// The environment whose token values and site hosts are looked for
    #[arg(long, value_name = "SRC")]
    pub source: String,

    /// Machine-readable output
    #[arg(long)]
    pub json: bool,
}

const AUDIT_EXAMPLES: &str = "Examples:
  wfuwp audit uat --source prod          # what of prod does uat still mention?
  wfuwp audit uat --source prod --json   # the same, as JSON
Exit status: 0 clean, 3 leftovers found, 2 configuration error.";

/// `wfuwp search-replace FROM TO [FROM TO …]`
#[derive(Debug, Args)]
pub struct SearchReplaceArgs {
    /// Pairs of FROM TO strings, applied in one pass (leftmost-longest)
    #[arg(value_name = "FROM TO", num_args = 2.., required = true)]
    pub pairs: Vec<String>,
}

const ENV_MIGRATE_EXAMPLES: &str = "\
Examples:
  wfuwp env-migrate prod uat                       new migration (asks before writing)
  wfuwp env-migrate prod uat --force               no prompts
  wfuwp env-migrate prod uat --dry-run --json      plan only, machine-readable
  wfuwp env-migrate prod uat --include-sites 1,43,78-80
  wfuwp env-migrate prod uat --max-load Threads_running=15 --critical-load Threads_running=60
  wfuwp env-migrate --list-migrations [--all] [--json]
  wfuwp env-migrate --resume env-migrate-2025-08-17T12-34-56-abc123 --skip-failed
  wfuwp env-migrate --resume <ID> --retry-failed
  wfuwp env-migrate --rollback <ID>                restore the target as it was before <ID>
  wfuwp env-migrate --abandon <ID>
  wfuwp env-migrate --show-state-path

Exit codes: 0 success, 1 fatal error (state saved), 2 usage or configuration error,
3 finished with failed or timed-out sites (resumable), 4 another process holds the lock,
130 interrupted (state saved as paused).";

const SEARCH_REPLACE_EXAMPLES: &str = "\
Examples:
  wfuwp search-replace www.wfu.edu uat.wfu.edu .wfu.edu .uat.wfu.edu < prod.sql > uat.sql

Only text columns (CHAR, VARCHAR, TEXT, JSON) are rewritten, as env-migrate does: the
CREATE TABLE statements in the dump say which columns those are, so BLOB, BINARY and
other values pass through untouched, as do _binary '…', 0x… and X'…' literals. A dump
without table definitions (--no-create-info) is rewritten in every literal, with a note;
dump with --hex-blob then.";

/// `wfuwp env-migrate` options (docs/cli.md).
#[derive(Debug, Clone, Args)]
#[command(group(clap::ArgGroup::new("action")
    .args(["resume", "rollback", "abandon", "list_migrations", "show_state_path"])
    .multiple(false)))]
pub struct EnvMigrateArgs {
    /// Source environment (e.g. prod)
    #[arg(value_name = "SOURCE", conflicts_with_all = ["resume", "rollback", "abandon", "list_migrations", "show_state_path"])]
    pub source: Option<String>,

    /// Target environment (e.g. uat)
    #[arg(value_name = "TARGET", requires = "source")]
    pub target: Option<String>,

    /// Preflight and plan only: writes nothing, creates no state
    #[arg(long)]
    pub dry_run: bool,

    /// Never prompt; start a new migration even if an incomplete one exists
    #[arg(short, long)]
    pub force: bool,

    /// Only the network-tables phase
    #[arg(long, conflicts_with = "sites_only")]
    pub network_only: bool,

    /// Skip the network-tables phase
    #[arg(long)]
    pub sites_only: bool,

    /// Only these sites, by blog_id (e.g. 1,43,78 or 10-20)
    #[arg(long, value_name = "IDS")]
    pub include_sites: Option<SiteSelector>,

    /// Skip these sites, by blog_id (e.g. 5,7-9)
    #[arg(long, value_name = "IDS")]
    pub exclude_sites: Option<SiteSelector>,

    /// Skip sites flagged archived, spam or deleted in the source
    #[arg(long)]
    pub active_only: bool,

    /// Skip the main site (blog_id 1)
    #[arg(long)]
    pub exclude_main_site: bool,

    /// Also copy users and usermeta (full migrations only)
    #[arg(long)]
    pub include_users: bool,

    /// With a site selection: do not bring the selected sites' members and
    /// post authors along into the target's users and usermeta
    #[arg(long, conflicts_with = "include_users")]
    pub no_users: bool,

    /// Tables created empty on the target, with the source's schema
    /// (comma-separated full names, `*` patterns; added to the target's
    /// `exclude_tables`)
    #[arg(long, value_name = "PATTERNS", value_delimiter = ',')]
    pub exclude_tables: Vec<String>,

    /// Extra replacement pair FROM=TO (repeatable)
    #[arg(long = "replace", value_name = "FROM=TO", value_parser = parse_replace_pair)]
    pub replace: Vec<Pair>,

    /// Sites migrated at once, 1 to 64 [default: 4]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=config::MAX_CONCURRENCY as i64))]
    pub concurrency: Option<u32>,

    /// Per-site time limit in minutes, from 1/60 (one second) up to 10080 (a week) [default: 20]
    #[arg(long, value_name = "MINUTES", value_parser = parse_minutes)]
    pub timeout: Option<f64>,

    /// Retries of a transient failure within one run, 0 to 100 [default: 3]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=config::MAX_RETRIES as i64))]
    pub max_retries: Option<u32>,

    /// Workers wait while SHOW GLOBAL STATUS on source or target is above this:
    /// VAR=N[,VAR=N], or off [default: Threads_running=25]
    #[arg(long, value_name = "VAR=N", value_parser = parse_load_limits,
          conflicts_with_all = ["rollback", "abandon", "list_migrations", "show_state_path"])]
    pub max_load: Option<LoadLimits>,

    /// The run stops (paused, resumable) when source or target is above this:
    /// VAR=N[,VAR=N] [default: off]
    #[arg(long, value_name = "VAR=N", value_parser = parse_load_limits,
          conflicts_with_all = ["rollback", "abandon", "list_migrations", "show_state_path"])]
    pub critical_load: Option<LoadLimits>,

    /// Do not keep the target's previous tables (asks unless --force)
    #[arg(long)]
    pub skip_backup: bool,

    /// Do not copy uploads, even when both environments configure media
    #[arg(long, conflicts_with = "media_only")]
    pub skip_media: bool,

    /// Copy only the selected sites' uploads, not their tables
    #[arg(long, conflicts_with_all = ["network_only", "include_users"])]
    pub media_only: bool,

    /// Delete target uploads of a migrated site that the source lacks
    #[arg(long, conflicts_with = "skip_media")]
    pub media_delete: bool,

    /// Migrate sites even when some of their hosts get no target host (docs/hosts.md)
    #[arg(long)]
    pub allow_unmapped_hosts: bool,

    /// A site whose copy still mentions a source host is not swapped in and
    /// fails (docs/hosts.md)
    #[arg(long)]
    pub fail_on_leftovers: bool,

    /// Objects copied at once per site, 1 to 256 [default: 16]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=256))]
    pub media_concurrency: Option<u32>,

    /// Copy only the sites whose source or target changed since the
    /// target's ledger recorded their last copy (drifted ones are skipped)
    #[arg(long, conflicts_with_all = ["network_only", "media_only"])]
    pub changed_only: bool,

    /// Copy over sites edited on the target since their last copy
    #[arg(long)]
    pub overwrite_drift: bool,

    /// Show each site against the target's ledger (unchanged, source
    /// changed, target drifted, never migrated, ...) and change nothing
    #[arg(long, requires = "target", conflicts_with_all = ["dry_run", "resume", "rollback", "abandon", "list_migrations", "show_state_path"])]
    pub status: bool,

    /// Keep temporary files in the work dir (unfinished state writes of
    /// killed runs, normally removed at cleanup)
    #[arg(long)]
    pub keep_files: bool,

    /// Machine-readable output (list, dry run, final report)
    #[arg(long)]
    pub json: bool,

    /// With --list-migrations: include completed and cancelled migrations
    #[arg(long, requires = "list_migrations")]
    pub all: bool,

    /// Resume the migration with this id
    #[arg(long, value_name = "ID", conflicts_with_all = [
        "include_sites", "exclude_sites", "active_only", "exclude_main_site",
        "include_users", "no_users", "replace", "network_only", "sites_only", "skip_backup",
        "exclude_tables", "allow_unmapped_hosts", "fail_on_leftovers", "changed_only", "overwrite_drift"])]
    pub resume: Option<String>,

    /// With --resume: leave failed sites untouched this run
    #[arg(long, requires = "resume", conflicts_with = "retry_failed")]
    pub skip_failed: bool,

    /// With --resume: leave timed-out sites untouched this run
    #[arg(long, requires = "resume")]
    pub skip_timeouts: bool,

    /// With --resume: process only failed and timed-out sites
    #[arg(long, requires = "resume")]
    pub retry_failed: bool,

    /// Restore the target as it was before migration ID
    #[arg(long, value_name = "ID")]
    pub rollback: Option<String>,

    /// Mark migration ID cancelled (no longer resumable)
    #[arg(long, value_name = "ID")]
    pub abandon: Option<String>,

    /// List incomplete migrations, newest first
    #[arg(long)]
    pub list_migrations: bool,

    /// Print the resolved logs dir and which setting chose it
    #[arg(long)]
    pub show_state_path: bool,
}

/// What an `env-migrate` invocation asks for, after validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MigrateAction {
    /// Start a new migration SOURCE → TARGET (or resume one the user picks).
    New {
        /// The source environment.
        source: String,
        /// The target environment.
        target: String,
    },
    /// `--resume ID`
    Resume(String),
    /// `--rollback ID`
    Rollback(String),
    /// `--abandon ID`
    Abandon(String),
    /// `--list-migrations`
    List,
    /// `--show-state-path`
    ShowStatePath,
    /// `--status SOURCE TARGET`
    Status {
        /// The source environment.
        source: String,
        /// The target environment.
        target: String,
    },
    /// Bare `wfuwp env-migrate`: offer incomplete migrations, else usage.
    Choose,
}

/// A usage error found after clap parsing; exits with code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

impl EnvMigrateArgs {
    /// Checks the rules clap cannot express and names the action requested.
    pub fn validate(&self) -> Result<MigrateAction, UsageError> {
        if let (Some(s), Some(t)) = (&self.source, &self.target) {
            if s == t {
                return Err(UsageError(format!(
                    "SOURCE and TARGET are both '{s}'; a migration needs two different environments"
                )));
            }
        }
        let resume_flag = [
            (self.skip_failed, "--skip-failed"),
            (self.skip_timeouts, "--skip-timeouts"),
            (self.retry_failed, "--retry-failed"),
        ]
        .into_iter()
        .find(|(set, _)| *set);
        if let (None, Some((_, flag))) = (&self.resume, resume_flag) {
            return Err(UsageError(format!(
                "{flag} only applies to a resumed migration: use `wfuwp env-migrate --resume <ID> {flag}`"
            )));
        }
        let restricted = self.include_sites.is_some()
            || self.exclude_sites.is_some()
            || self.active_only
            || self.exclude_main_site;
        if self.include_users && (restricted || self.sites_only) {
            return Err(UsageError(
                "--include-users copies the whole network's users, so it only works with a full migration \
                 (no --include-sites, --exclude-sites, --active-only, --exclude-main-site or --sites-only)"
                    .into(),
            ));
        }
        if self.no_users && !restricted && !self.changed_only {
            return Err(UsageError(
                "--no-users only applies to a migration restricted to some sites (--include-sites, \
                 --exclude-sites, --active-only, --exclude-main-site); a full migration leaves users \
                 alone unless --include-users is given"
                    .into(),
            ));
        }
        if self.network_only && restricted {
            return Err(UsageError(
                "--network-only migrates no sites, so site selection flags do not apply to it"
                    .into(),
            ));
        }
        if self.all && !self.list_migrations {
            return Err(UsageError("--all only applies to --list-migrations".into()));
        }
        if let Some(id) = &self.resume {
            return Ok(MigrateAction::Resume(id.clone()));
        }
        if let Some(id) = &self.rollback {
            return Ok(MigrateAction::Rollback(id.clone()));
        }
        if let Some(id) = &self.abandon {
            return Ok(MigrateAction::Abandon(id.clone()));
        }
        if self.list_migrations {
            return Ok(MigrateAction::List);
        }
        if self.show_state_path {
            return Ok(MigrateAction::ShowStatePath);
        }
        match (&self.source, &self.target) {
            (Some(source), Some(target)) if self.status => Ok(MigrateAction::Status {
                source: source.clone(),
                target: target.clone(),
            }),
            (Some(source), Some(target)) => Ok(MigrateAction::New {
                source: source.clone(),
                target: target.clone(),
            }),
            (Some(_), None) => Err(UsageError(
                "TARGET is missing: use `wfuwp env-migrate SOURCE TARGET`".into(),
            )),
            _ => Ok(MigrateAction::Choose),
        }
    }
}

fn parse_replace_pair(s: &str) -> Result<Pair, String> {
    let (from, to) = s
        .split_once('=')
        .ok_or_else(|| format!("'{s}' is not FROM=TO"))?;
    if from.is_empty() {
        return Err(format!(
            "'{s}' has an empty FROM; give the text to replace before '='"
        ));
    }
    // An empty TO would delete every occurrence, which an empty value in the
    // config file is refused for too; deleting text is never an environment change.
    if to.is_empty() {
        return Err(format!(
            "'{s}' has an empty TO; give the replacement text after '=' (deleting text is not supported)"
        ));
    }
    Ok(Pair::new(from, to))
}

fn parse_load_limits(s: &str) -> Result<LoadLimits, String> {
    s.parse().map_err(|e: LoadSpecError| e.to_string())
}

fn parse_minutes(s: &str) -> Result<f64, String> {
    let m: f64 = s
        .parse()
        .map_err(|_| format!("'{s}' is not a number of minutes"))?;
    config::check_timeout_minutes(m)?;
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("wfuwp").chain(args.iter().copied()))
    }

    fn action(args: &[&str]) -> Result<MigrateAction, String> {
        let cli = parse(args).map_err(|e| e.to_string())?;
        match cli.command {
            Command::EnvMigrate(a) => a.validate().map_err(|e| e.0),
            _ => Err("not env-migrate".into()),
        }
    }

    #[test]
    fn command_tree_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn conflicting_flags_are_usage_errors() {
        for args in [
            &[
                "env-migrate",
                "prod",
                "uat",
                "--network-only",
                "--sites-only",
            ][..],
            &[
                "env-migrate",
                "--resume",
                "x",
                "--skip-failed",
                "--retry-failed",
            ],
            &["env-migrate", "--resume", "x", "--include-sites", "1"],
            &["env-migrate", "prod", "uat", "--skip-failed"],
            &["env-migrate", "prod", "uat", "--retry-failed"],
            &["env-migrate", "prod", "uat", "--skip-timeouts"],
            &["env-migrate", "--list-migrations", "--resume", "x"],
            &["env-migrate", "prod", "uat", "--resume", "x"],
            &["env-migrate", "prod", "uat", "--all"],
            &["env-migrate", "prod", "uat", "--include-sites", "a,b"],
            &["env-migrate", "prod", "uat", "--replace", "=x"],
            &["env-migrate", "prod", "uat", "--replace", "x="],
            &["env-migrate", "prod", "uat", "--timeout", "1e18"],
            &["env-migrate", "prod", "uat", "--timeout", "NaN"],
            &["env-migrate", "prod", "uat", "--timeout", "inf"],
            &["env-migrate", "prod", "uat", "--timeout=-1"],
            &["env-migrate", "prod", "uat", "--timeout", "1e-300"],
            &["env-migrate", "prod", "uat", "--timeout", "0.0166"],
            &["env-migrate", "prod", "uat", "--max-retries", "101"],
            &["env-migrate", "prod", "uat", "--concurrency", "0"],
            &[
                "env-migrate",
                "prod",
                "uat",
                "--max-load",
                "Threads_running",
            ],
            &[
                "env-migrate",
                "prod",
                "uat",
                "--max-load",
                "Threads_running=lots",
            ],
            &[
                "env-migrate",
                "prod",
                "uat",
                "--critical-load",
                "Threads_running=-1",
            ],
            &[
                "env-migrate",
                "--rollback",
                "x",
                "--max-load",
                "Threads_running=5",
            ],
            &[
                "env-migrate",
                "--list-migrations",
                "--critical-load",
                "Threads_running=5",
            ],
            &[
                "env-migrate",
                "prod",
                "uat",
                "--include-users",
                "--include-sites",
                "2",
            ],
            &[
                "env-migrate",
                "prod",
                "uat",
                "--include-users",
                "--sites-only",
            ],
            &[
                "env-migrate",
                "prod",
                "uat",
                "--network-only",
                "--active-only",
            ],
            &["env-migrate", "prod", "uat", "--no-users"],
            &["env-migrate", "--resume", "x", "--no-users"],
        ] {
            assert!(action(args).is_err(), "{args:?} should be rejected");
        }
        assert!(action(&["env-migrate", "prod", "prod"]).is_err());
        // One second is the shortest time limit.
        assert!(action(&["env-migrate", "prod", "uat", "--timeout", "0.0167"]).is_ok());
    }

    #[test]
    fn actions_are_recognised() {
        assert_eq!(
            action(&["env-migrate", "prod", "uat"]).unwrap(),
            MigrateAction::New {
                source: "prod".into(),
                target: "uat".into()
            }
        );
        assert_eq!(
            action(&[
                "env-migrate",
                "--resume",
                "id1",
                "--skip-failed",
                "--skip-timeouts"
            ])
            .unwrap(),
            MigrateAction::Resume("id1".into())
        );
        assert_eq!(
            action(&["env-migrate", "--list-migrations", "--all", "--json"]).unwrap(),
            MigrateAction::List
        );
        assert_eq!(action(&["env-migrate"]).unwrap(), MigrateAction::Choose);
        assert_eq!(
            action(&[
                "env-migrate",
                "--resume",
                "id1",
                "--max-load",
                "threads_running=10"
            ])
            .unwrap(),
            MigrateAction::Resume("id1".into())
        );
        assert_eq!(
            action(&["--verbose", "env-migrate", "--show-state-path"]).unwrap(),
            MigrateAction::ShowStatePath
        );
    }
}
