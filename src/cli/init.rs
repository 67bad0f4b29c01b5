//! `wfuwp config init` options. Environments are described by flags grouped
//! by position: every flag after `--env NAME` (up to the next `--env`)
//! describes that environment. clap's derive has no notion of such groups, so
//! [`EnvFlags`] implements the parsing by hand from the flags' positions.

use std::path::PathBuf;

use clap::error::ErrorKind;
use clap::{Arg, ArgAction, ArgMatches, Args};

use wfuwp_engine::config::draft::{self, EnvDraft};

/// `wfuwp config init [PATH]` (docs/cli.md).
#[derive(Debug, Clone, Args)]
pub struct InitArgs {
    /// File to write [default: --config, else $WFUWP_CONFIG, else ~/.wfuwp/config.toml]
    #[arg(value_name = "PATH")]
    pub path: Option<PathBuf>,

    /// Replace an existing file
    #[arg(long)]
    pub force: bool,

    /// Only write the file; do not run `config check` on it
    #[arg(long)]
    pub no_check: bool,

    #[command(flatten)]
    #[allow(missing_docs)] // clap would show a doc comment as help text
    pub envs: EnvFlags,
}

/// Examples shown by `wfuwp config init --help`.
pub const INIT_EXAMPLES: &str = "\
Examples:
  wfuwp config init                                   asks on the terminal
  wfuwp config init ./wfuwp.toml \\
      --env prod --host prod-db.example.edu --user wp_admin --database wp_prod \\
                 --token main=www.wfu.edu --token cdn=prod.wp.cdn.aws.wfu.edu \\
      --env uat  --host uat-db.example.edu --user wp_admin --database wp_uat \\
                 --password-env UAT_DB_PASS \\
                 --token main=uat.wfu.edu --token cdn=uat.wp.cdn.aws.wfu.edu \\
      --env local --socket /run/mysqld/mysqld.sock --user wordpress --database wordpress \\
                 --token main=wfu.local --token cdn=localhost:8080

Every flag after --env NAME describes that environment. Required per environment:
--host (or --socket), --user, --database; every environment needs the same --token
keys. Required values not given are asked for on a terminal; without one, the command
fails naming the flag to add. The file is written with mode 0600 and never replaces an
existing one without --force; `wfuwp config check` runs on it at the end.";

/// The per-environment flags, grouped by the `--env` they follow.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvFlags {
    /// One draft per `--env`, in command-line order.
    pub envs: Vec<EnvDraft>,
}

const HEADING: &str = "Environment (flags after --env NAME describe it; repeat per environment)";

/// The per-environment flags: `(id, long, value name, help)`.
const FLAGS: [(&str, &str, &str, &str); 8] = [
    ("host", "host", "HOST", "Database host"),
    ("port", "port", "PORT", "TCP port [default: 3306]"),
    ("socket", "socket", "PATH", "Unix socket, instead of --host/--port"),
    ("user", "user", "USER", "Database user"),
    ("database", "database", "NAME", "Database (schema) name"),
    (
        "password_env",
        "password-env",
        "VAR",
        "Variable holding the password (never the password itself) [default: WFUWP_<NAME>_DB_PASSWORD]",
    ),
    ("table_prefix", "table-prefix", "PREFIX", "WordPress table prefix [default: wp_]"),
    (
        "token",
        "token",
        "KEY=VALUE",
        "Replacement token, e.g. main=www.wfu.edu (repeatable; same keys in every environment)",
    ),
];

fn parse_token(s: &str) -> Result<(String, String), String> {
    let (key, value) = s
        .split_once('=')
        .ok_or_else(|| format!("'{s}' is not KEY=VALUE (e.g. main=www.wfu.edu)"))?;
    draft::check_token_key(key)?;
    draft::check_not_blank(&format!("the value of token '{key}'"), value)?;
    Ok((key.to_string(), value.to_string()))
}

fn parse_env_name(s: &str) -> Result<String, String> {
    draft::check_env_name(s).map(|()| s.to_string())
}

fn parse_var(s: &str) -> Result<String, String> {
    draft::check_var_name(s).map(|()| s.to_string())
}

fn parse_prefix(s: &str) -> Result<String, String> {
    draft::check_prefix(s).map(|()| s.to_string())
}

impl Args for EnvFlags {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        let mut cmd = cmd.arg(
            Arg::new("env")
                .long("env")
                .value_name("NAME")
                .action(ArgAction::Append)
                .value_parser(parse_env_name)
                .help_heading(HEADING)
                .help("Starts an environment: prod, pprd, uat, dev, local or any name of letters, digits, '_', '-'"),
        );
        for (id, long, value_name, help) in FLAGS {
            let arg = Arg::new(id)
                .long(long)
                .value_name(value_name)
                .action(ArgAction::Append)
                .help_heading(HEADING)
                .help(help);
            let arg = match id {
                "port" => arg.value_parser(clap::value_parser!(u16).range(1..)),
                "token" => arg.value_parser(parse_token),
                "password_env" => arg.value_parser(parse_var),
                "table_prefix" => arg.value_parser(parse_prefix),
                _ => arg,
            };
            cmd = cmd.arg(arg);
        }
        cmd
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

/// One flag occurrence, by position on the command line.
enum Value {
    Env(String),
    Text(&'static str, String),
    Port(u16),
    Token(String, String),
}

fn occurrences(m: &ArgMatches) -> Vec<(usize, Value)> {
    fn with_indices<T: Clone + Send + Sync + 'static>(m: &ArgMatches, id: &str) -> Vec<(usize, T)> {
        match (m.indices_of(id), m.get_many::<T>(id)) {
            (Some(i), Some(v)) => i.zip(v.cloned()).collect(),
            _ => Vec::new(),
        }
    }
    let mut all: Vec<(usize, Value)> = with_indices::<String>(m, "env")
        .into_iter()
        .map(|(i, v)| (i, Value::Env(v)))
        .collect();
    for (id, ..) in FLAGS {
        match id {
            "port" => all.extend(
                with_indices::<u16>(m, id)
                    .into_iter()
                    .map(|(i, p)| (i, Value::Port(p))),
            ),
            "token" => all.extend(
                with_indices::<(String, String)>(m, id)
                    .into_iter()
                    .map(|(i, (k, v))| (i, Value::Token(k, v))),
            ),
            _ => all.extend(
                with_indices::<String>(m, id)
                    .into_iter()
                    .map(|(i, v)| (i, Value::Text(id, v))),
            ),
        }
    }
    all.sort_by_key(|(i, _)| *i);
    all
}

fn long_of(id: &str) -> &'static str {
    FLAGS
        .iter()
        .find(|(i, ..)| *i == id)
        .map_or("--env", |(_, long, ..)| long)
}

fn usage(message: String) -> clap::Error {
    clap::Error::raw(ErrorKind::ArgumentConflict, format!("{message}\n"))
}

/// Puts `value` into `slot`, refusing a second value for the same environment.
fn set<T>(slot: &mut Option<T>, value: T, flag: &str, env: &str) -> Result<(), clap::Error> {
    if slot.is_some() {
        return Err(usage(format!(
            "--{flag} is given twice for environment '{env}'; give it once after --env {env}"
        )));
    }
    *slot = Some(value);
    Ok(())
}

impl clap::FromArgMatches for EnvFlags {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        let mut envs: Vec<EnvDraft> = Vec::new();
        for (_, value) in occurrences(m) {
            if let Value::Env(name) = value {
                envs.push(EnvDraft::named(name));
                continue;
            }
            let flag = match &value {
                Value::Text(id, _) => long_of(id),
                Value::Port(_) => "port",
                _ => "token",
            };
            let Some(d) = envs.last_mut() else {
                return Err(usage(format!(
                    "--{flag} must follow the --env NAME it describes, e.g. `--env prod --{flag} ...`"
                )));
            };
            let name = d.name.clone();
            match value {
                Value::Env(_) => {}
                Value::Port(p) => set(&mut d.port, p, flag, &name)?,
                Value::Token(k, v) => {
                    if d.token(&k).is_some() {
                        return Err(usage(format!(
                            "token '{k}' is given twice for environment '{name}'; give --token {k}=VALUE once after --env {name}"
                        )));
                    }
                    d.tokens.push((k, v));
                }
                Value::Text(id, v) => {
                    let slot = match id {
                        "host" => &mut d.host,
                        "socket" => &mut d.socket,
                        "user" => &mut d.user,
                        "database" => &mut d.database,
                        "password_env" => &mut d.password_env,
                        _ => &mut d.table_prefix,
                    };
                    set(slot, v, flag, &name)?;
                }
            }
        }
        Ok(EnvFlags { envs })
    }

    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::cli::{Cli, Command, ConfigCommand};

    use super::*;

    fn parse(args: &[&str]) -> Result<InitArgs, String> {
        let cli = Cli::try_parse_from(["wfuwp", "config", "init"].iter().chain(args))
            .map_err(|e| e.to_string())?;
        match cli.command {
            Command::Config(ConfigCommand::Init(a)) => Ok(a),
            other => Err(format!("parsed as {other:?}")),
        }
    }

    #[test]
    fn flags_belong_to_the_env_before_them() {
        let a = parse(&[
            "out.toml",
            "--env",
            "prod",
            "--host",
            "db",
            "--port",
            "3307",
            "--user",
            "u",
            "--token",
            "main=www.wfu.edu",
            "--database",
            "wp",
            "--env",
            "local",
            "--socket",
            "/s",
            "--user",
            "w",
            "--database",
            "d",
            "--token",
            "main=wfu.local",
            "--force",
            "--password-env",
            "LOCAL_PW",
            "--table-prefix",
            "x_",
        ])
        .unwrap();
        assert_eq!(a.path, Some(PathBuf::from("out.toml")));
        assert!(a.force && !a.no_check);
        let [prod, local] = &a.envs.envs[..] else {
            panic!("{:?}", a.envs)
        };
        assert_eq!(prod.name, "prod");
        assert_eq!(prod.host.as_deref(), Some("db"));
        assert_eq!(prod.port, Some(3307));
        assert_eq!(prod.database.as_deref(), Some("wp"));
        assert_eq!(prod.token("main"), Some("www.wfu.edu"));
        assert_eq!(prod.password_env, None);
        assert_eq!(local.socket.as_deref(), Some("/s"));
        assert_eq!(local.password_env.as_deref(), Some("LOCAL_PW"));
        assert_eq!(local.table_prefix.as_deref(), Some("x_"));
        assert_eq!(local.token("main"), Some("wfu.local"));
        assert!(parse(&[]).unwrap().envs.envs.is_empty());
    }

    #[test]
    fn misplaced_repeated_or_malformed_flags_are_usage_errors() {
        for (args, says) in [
            (
                &["--host", "db", "--env", "prod"][..],
                "must follow the --env",
            ),
            (
                &["--env", "prod", "--user", "a", "--user", "b"],
                "--user is given twice",
            ),
            (
                &["--env", "p", "--token", "k=1", "--token", "k=2"],
                "token 'k' is given twice",
            ),
            (&["--env", "p", "--token", "k"], "KEY=VALUE"),
            (&["--env", "p", "--token", "k="], "must not be empty"),
            (&["--env", "a.b"], "environment name"),
            (&["--env", "p", "--password-env", "1X"], "variable name"),
            (&["--env", "p", "--port", "0"], "0"),
            (&["--env", "p", "--table-prefix", "wp-"], "table prefix"),
        ] {
            let err = parse(args).unwrap_err();
            assert!(err.contains(says), "{args:?}: {err}");
        }
    }
}
