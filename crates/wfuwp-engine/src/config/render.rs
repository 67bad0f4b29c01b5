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

/// For a target that is not production: plugin log tables left out (its
/// own table, before the environment's sub-tables).
const NONPROD_EXCLUDE: &str = "\
# Bulk a lower environment does not need: created empty (docs/scrub.md).
exclude_tables = [\"*_wfhits\", \"*_wflogins\", \"*_actionscheduler_logs\", \"*_redirection_404\", \"*_redirection_logs\"]
";

/// For a target that is not production: personal data scrubbed, the
/// target's own mail and indexing settings kept, indexing off.
const NONPROD_RULES: &str = "
# What may land here (docs/scrub.md): personal data is scrubbed on its way in,
# this environment's own settings survive a migration into it.
[environments.{name}.scrub]
users = true                       # e-mail user-ID@example.invalid, password unusable, sessions cleared
email_domain = \"example.invalid\"
keep_users = [\"role:administrator\"]   # the team can still log in
# password_env = \"WFUWP_{upper}_LOGIN_PASSWORD\"   # scrubbed users' password (else unusable)
# secret_env = \"WFUWP_{upper}_SCRUB_SECRET\"       # needed by `email` and `hash` actions
comments = true                    # comment author e-mail, IP, user agent
[[environments.{name}.scrub.meta]]
table = \"usermeta\"
keys = [\"billing_*\", \"shipping_*\"]
action = \"empty\"

[environments.{name}.keep]
options = [\"blog_public\", \"admin_email\", \"new_admin_email\", \"mailserver_*\", \"upload_path\", \"upload_url_path\"]
sitemeta = [\"admin_email\"]

[environments.{name}.set]
options = { blog_public = \"0\" }   # not indexed by search engines
";

/// Whether an environment called `name` is production (gets no default rules).
fn is_production(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["prod", "live", "www"].iter().any(|p| n.contains(p))
}

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
        let nonprod = !is_production(&e.name);
        if nonprod {
            out.push_str(NONPROD_EXCLUDE);
        }
        let rules = NONPROD_RULES
            .replace("{name}", &e.name)
            .replace("{upper}", &e.name.to_ascii_uppercase());
        if e.tokens.is_empty() {
            if nonprod {
                out.push_str(&rules);
            }
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
        if nonprod {
            out.push_str(&rules);
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

    #[test]
    fn lower_environments_get_default_scrub_keep_and_set() {
        let (_, c) = render_checked(
            &[
                env(
                    "prod",
                    Endpoint::Tcp {
                        host: "p".into(),
                        port: None,
                    },
                    &[("main", "www.x.edu")],
                ),
                env(
                    "uat",
                    Endpoint::Tcp {
                        host: "u".into(),
                        port: None,
                    },
                    &[("main", "uat.x.edu")],
                ),
                env("local", Endpoint::Socket("/run/m.sock".into()), &[]),
            ],
            Path::new("/tmp/wfuwp.toml"),
        )
        .unwrap();
        let prod = &c.environments["prod"];
        assert!(prod.scrub.is_none() && prod.keep.is_none() && prod.exclude_tables.is_empty());
        for name in ["uat", "local"] {
            let e = &c.environments[name];
            let scrub = e.scrub.as_ref().expect("a default scrub");
            assert!(scrub.users && scrub.comments);
            assert_eq!(e.set.as_ref().unwrap().options["blog_public"], "0");
            assert!(e
                .keep
                .as_ref()
                .unwrap()
                .options
                .contains(&"blog_public".to_string()));
            assert!(e.exclude_tables.contains(&"*_wfhits".to_string()));
        }
    }
}
