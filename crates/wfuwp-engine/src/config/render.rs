//! Renders new environments as a commented configuration file in the layout of
//! wfuwp.example.toml. The layout is written here, so that it can carry the
//! explanations a first-time reader needs; every value is written by the
//! `toml` crate, and [`render_checked`] proves the whole by parsing it back
//! with the real loader.

use std::fmt::Write as _;
use std::path::Path;

use super::draft::{Endpoint, NewEnvironment};
use super::{load, Config, ConfigError};

const HEADER: &str = "\
# wfuwp configuration, written by `wfuwp config init`.
# Run `wfuwp config check` after every change. wfuwp.example.toml and
# docs/cli.md describe every key.
#
# This file holds no passwords: each environment names the environment
# variable that holds its password (password_env). Export them before running
# wfuwp, e.g. `export WFUWP_PROD_DB_PASSWORD=...`.
#
# Relative paths (logs_dir, socket) are resolved against this file's directory.

# Where migration state and logs live. Default: ~/.wfuwp/logs
# (overridden by --logs-dir and WFUWP_LOGS_DIR).
# logs_dir = \"logs\"

# Defaults for env-migrate options; flags on the command line win.
# [defaults]
# concurrency = 4         # sites migrated at once
# timeout_minutes = 20    # per-site time limit
# max_retries = 3         # retries of a transient failure
";

const TOKENS_EXPLAINED: &str = "\
# Environment tokens: the same keys in every environment, each with that
# environment's value. A prod → uat migration replaces every prod value with
# the uat value of the same key, in one pass (also inside PHP-serialized and
# JSON-escaped data).
";

const NO_TOKENS: &str = "
# No replacement tokens yet. Add an [environments.NAME.replace] table with the
# same keys in every environment (main = \"www.example.edu\", ...) so that a
# migration rewrites one environment's domains into another's; see
# wfuwp.example.toml.
";

/// `s` as a TOML string value, quoted and escaped by the `toml` crate.
pub fn quote(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// The configuration file for `envs`, with comments. Names and token keys
/// must be bare keys (the [`super::draft`] checks ensure it).
pub fn render(envs: &[NewEnvironment]) -> String {
    let mut out = String::from(HEADER);
    if envs.iter().all(|e| e.tokens.is_empty()) {
        out.push_str(NO_TOKENS);
    }
    let mut tokens_explained = false;
    for e in envs {
        let _ = writeln!(out, "\n# {} {}", "-".repeat(64), e.name);
        let _ = writeln!(out, "[environments.{}]", e.name);
        match &e.endpoint {
            Endpoint::Tcp { host, port } => {
                let _ = writeln!(out, "host = {}", quote(host));
                if let Some(p) = port {
                    let _ = writeln!(out, "port = {p}");
                }
            }
            Endpoint::Socket(path) => {
                let _ = writeln!(
                    out,
                    "socket = {}   # Unix socket of a server on this machine",
                    quote(path)
                );
            }
        }
        let _ = writeln!(out, "user = {}", quote(&e.user));
        let _ = writeln!(
            out,
            "password_env = {}   # the variable holding the password",
            quote(&e.password_env)
        );
        let _ = writeln!(out, "database = {}", quote(&e.database));
        let _ = writeln!(out, "table_prefix = {}", quote(&e.table_prefix));
        // TLS stays at its default (encrypted when offered, unverified); the
        // lines say how to verify a managed server's certificate.
        out.push_str(
            "# ssl_mode = \"verify_identity\"   # disabled | preferred (default) | required | verify_ca | verify_identity\n\
             # ssl_ca = \"certs/ca.pem\"        # CA bundle (relative to this file); see docs/tls.md\n",
        );
        if e.tokens.is_empty() {
            continue;
        }
        out.push('\n');
        if !tokens_explained {
            out.push_str(TOKENS_EXPLAINED);
            tokens_explained = true;
        }
        let _ = writeln!(out, "[environments.{}.replace]", e.name);
        for (k, v) in &e.tokens {
            let _ = writeln!(out, "{k} = {}", quote(v));
        }
    }
    out
}

/// [`render`], then parsed back by the loader as a file at `path` would be:
/// the text and the configuration it means. An error here is a bug in the
/// rendering or a value the draft checks let through; either way nothing is
/// written.
pub fn render_checked(
    envs: &[NewEnvironment],
    path: &Path,
) -> Result<(String, Config), ConfigError> {
    let text = render(envs);
    let config = load::parse(&text, path)?;
    Ok((text, config))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str, endpoint: Endpoint, tokens: &[(&str, &str)]) -> NewEnvironment {
        NewEnvironment {
            name: name.into(),
            endpoint,
            user: "wp \"admin\"".into(),
            database: format!("wp_{name}"),
            password_env: format!("WFUWP_{}_DB_PASSWORD", name.to_uppercase()),
            table_prefix: "wp_".into(),
            tokens: tokens
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn round_trips_through_the_loader() {
        let envs = [
            env(
                "prod",
                Endpoint::Tcp {
                    host: "prod-db.example.edu".into(),
                    port: Some(3307),
                },
                &[("main", "www.wfu.edu"), ("odd-key", "a\\b\"c\td\u{1}é")],
            ),
            env(
                "local",
                Endpoint::Socket("run/mysqld.sock".into()),
                &[("main", "wfu.local"), ("odd-key", "x")],
            ),
        ];
        let (text, c) = render_checked(&envs, Path::new("/etc/wfuwp/config.toml")).unwrap();
        assert_eq!(c.environments.len(), 2);
        let p = &c.environments["prod"];
        assert_eq!(p.host.as_deref(), Some("prod-db.example.edu"));
        assert_eq!(p.port, Some(3307));
        assert_eq!(p.user, "wp \"admin\"");
        assert_eq!(p.password_env.as_deref(), Some("WFUWP_PROD_DB_PASSWORD"));
        assert!(p.password.is_none());
        assert_eq!(p.database, "wp_prod");
        assert_eq!(p.replace["odd-key"], "a\\b\"c\td\u{1}é");
        let l = &c.environments["local"];
        assert_eq!(
            l.socket.as_deref(),
            Some(Path::new("/etc/wfuwp/run/mysqld.sock"))
        );
        assert_eq!(l.host, None);
        assert_eq!(c.logs_dir, None);
        assert!(c.defaults.concurrency.is_none());
        assert!(text.contains("# Environment tokens"), "{text}");
        assert!(!text.contains("No replacement tokens yet"), "{text}");
        assert!(
            text.find("[environments.prod]") < text.find("[environments.local]"),
            "environments keep the order given:\n{text}"
        );
    }

    #[test]
    fn without_tokens_the_file_says_how_to_add_them() {
        let envs = [env(
            "uat",
            Endpoint::Tcp {
                host: "h".into(),
                port: None,
            },
            &[],
        )];
        let (text, c) = render_checked(&envs, Path::new("/c.toml")).unwrap();
        assert!(text.contains("No replacement tokens yet"), "{text}");
        assert!(!text.contains("port ="), "{text}");
        assert!(c.environments["uat"].replace.is_empty());
    }
}
