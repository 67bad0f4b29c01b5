//! A configuration being written by `wfuwp config init`: what the flags and
//! prompts said so far ([`EnvDraft`]), and the complete environments it must
//! become before [`super::render`] writes them ([`NewEnvironment`]).
//!
//! The checks here mirror the loader's rules ([`super::load::parse`]), and are
//! stricter in one way: environment names and token keys must be TOML bare
//! keys, so the written file reads `[environments.prod]`, never quoted keys.

/// The environment names the example configuration and the docs use, offered
/// first by the interactive prompts; any other valid name works too.
pub const STANDARD_ENVIRONMENTS: [&str; 5] = ["prod", "pprd", "uat", "dev", "local"];

/// The replacement-token keys the example configuration uses.
pub const STANDARD_TOKENS: [&str; 4] = ["main", "subdomains", "cdn", "bucket"];

/// One environment as far as it is known: every field may still be missing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvDraft {
    /// `[environments.NAME]`.
    pub name: String,
    /// Database host.
    pub host: Option<String>,
    /// TCP port (omitted from the file when absent: the loader's default is 3306).
    pub port: Option<u16>,
    /// Unix socket path (instead of host and port).
    pub socket: Option<String>,
    /// Database user.
    pub user: Option<String>,
    /// Database (schema) name.
    pub database: Option<String>,
    /// Name of the variable holding the password.
    pub password_env: Option<String>,
    /// WordPress table prefix.
    pub table_prefix: Option<String>,
    /// Replacement tokens `(key, value)` in the order given.
    pub tokens: Vec<(String, String)>,
}

/// How an environment's database is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// `host` and optional `port`.
    Tcp {
        /// Host name or address.
        host: String,
        /// Port, when not the default 3306.
        port: Option<u16>,
    },
    /// `socket`.
    Socket(String),
}

/// A complete environment, ready to be rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEnvironment {
    /// `[environments.NAME]`.
    pub name: String,
    /// Host and port, or socket.
    pub endpoint: Endpoint,
    /// Database user.
    pub user: String,
    /// Database (schema) name.
    pub database: String,
    /// Name of the variable holding the password.
    pub password_env: String,
    /// WordPress table prefix.
    pub table_prefix: String,
    /// Replacement tokens `(key, value)`, in the order of the configuration's keys.
    pub tokens: Vec<(String, String)>,
}

/// Why the flags given to `config init` do not make a configuration; each
/// message names the flag to add or fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DraftError {
    /// No environment at all.
    #[error("no environments given. Add --env NAME with --host HOST (or --socket PATH), --user USER and --database NAME for each environment, or run `wfuwp config init` on a terminal to be asked.")]
    NoEnvironments,
    /// A required value is missing.
    #[error("environment '{env}' has no {what}: add {flag} after --env {env}")]
    Missing {
        /// The environment.
        env: String,
        /// What is missing, in words.
        what: &'static str,
        /// The flag that gives it.
        flag: &'static str,
    },
    /// A token key another environment has.
    #[error("environment '{env}' has no value for replacement token '{key}', which '{other}' has: add --token {key}=VALUE after --env {env} (every environment needs the same token keys)")]
    MissingToken {
        /// The environment lacking the key.
        env: String,
        /// The key.
        key: String,
        /// An environment that has it.
        other: String,
    },
    /// A value breaks a rule of the configuration format.
    #[error("environment '{env}': {message}")]
    Invalid {
        /// The environment.
        env: String,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// The same environment twice.
    #[error(
        "environment '{0}' is given twice; give each --env once, with all of its flags after it"
    )]
    Duplicate(String),
}

/// Whether `s` is a TOML bare key (letters, digits, `_`, `-`), so it needs no quotes.
fn is_bare_key(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// An environment name: letters, digits, `_` and `-`.
pub fn check_env_name(name: &str) -> Result<(), String> {
    if is_bare_key(name) {
        Ok(())
    } else {
        Err(format!(
            "'{name}' is not a usable environment name: use letters, digits, '_' and '-' (e.g. prod, uat, local)"
        ))
    }
}

/// A replacement-token key: letters, digits, `_` and `-`.
pub fn check_token_key(key: &str) -> Result<(), String> {
    if is_bare_key(key) {
        Ok(())
    } else {
        Err(format!(
            "'{key}' is not a usable token key: use letters, digits, '_' and '-' (e.g. main, cdn)"
        ))
    }
}

/// An environment variable name as shells accept it: `[A-Za-z_][A-Za-z0-9_]*`.
pub fn check_var_name(var: &str) -> Result<(), String> {
    let mut chars = var.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Ok(())
    } else {
        Err(format!(
            "'{var}' is not a variable name a shell can export: use letters, digits and '_', not starting with a digit (e.g. WFUWP_PROD_DB_PASSWORD)"
        ))
    }
}

/// A table prefix, by the loader's rule: letters, digits and underscores.
pub fn check_prefix(prefix: &str) -> Result<(), String> {
    if !prefix.is_empty()
        && prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        Ok(())
    } else {
        Err(format!(
            "table prefix '{prefix}' must be letters, digits and underscores (WordPress's default is wp_)"
        ))
    }
}

/// A value that must not be empty or blank (host, user, database, token value).
pub fn check_not_blank(what: &str, value: &str) -> Result<(), String> {
    if value.trim().is_empty() {
        Err(format!("{what} must not be empty"))
    } else {
        Ok(())
    }
}

/// The password variable an environment gets unless told otherwise:
/// `WFUWP_<NAME>_DB_PASSWORD`, as in wfuwp.example.toml.
pub fn default_password_var(env: &str) -> String {
    let name: String = env
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("WFUWP_{name}_DB_PASSWORD")
}

/// The default database name offered for an environment: `wp_<name>`.
pub fn default_database(env: &str) -> String {
    format!("wp_{}", env.replace('-', "_"))
}

/// Every token key any draft has, in first-seen order: each environment needs them all.
pub fn token_keys(drafts: &[EnvDraft]) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for d in drafts {
        for (k, _) in &d.tokens {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
    }
    keys
}

impl EnvDraft {
    /// A draft with only its name.
    pub fn named(name: impl Into<String>) -> EnvDraft {
        EnvDraft {
            name: name.into(),
            ..EnvDraft::default()
        }
    }

    /// The value of token `key`, when given.
    pub fn token(&self, key: &str) -> Option<&str> {
        self.tokens
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The complete environment, or the first thing missing or wrong.
    /// `keys` are the token keys every environment must have; `others` the
    /// drafts to name when a key is missing. An absent password variable
    /// becomes [`default_password_var`], an absent prefix `wp_`.
    pub fn finish(
        &self,
        keys: &[String],
        others: &[EnvDraft],
    ) -> Result<NewEnvironment, DraftError> {
        let env = self.name.clone();
        let invalid = |message: String| DraftError::Invalid {
            env: env.clone(),
            message,
        };
        check_env_name(&self.name).map_err(invalid)?;
        let missing = |what, flag| DraftError::Missing {
            env: env.clone(),
            what,
            flag,
        };
        let endpoint =
            match (&self.host, &self.socket) {
                (Some(_), Some(_)) => return Err(invalid(
                    "both --host and --socket are given; keep the one wfuwp should connect through"
                        .into(),
                )),
                (None, None) => {
                    return Err(missing("host or socket", "--host HOST (or --socket PATH)"))
                }
                (Some(host), None) => {
                    check_not_blank("--host", host).map_err(invalid)?;
                    Endpoint::Tcp {
                        host: host.clone(),
                        port: self.port,
                    }
                }
                (None, Some(socket)) => {
                    check_not_blank("--socket", socket).map_err(invalid)?;
                    if self.port.is_some() {
                        return Err(invalid(
                            "--port does not apply to a --socket connection; remove it".into(),
                        ));
                    }
                    Endpoint::Socket(socket.clone())
                }
            };
        let user = self
            .user
            .clone()
            .ok_or_else(|| missing("user", "--user USER"))?;
        check_not_blank("--user", &user).map_err(invalid)?;
        let database = self
            .database
            .clone()
            .ok_or_else(|| missing("database", "--database NAME"))?;
        check_not_blank("--database", &database).map_err(invalid)?;
        let password_env = self
            .password_env
            .clone()
            .unwrap_or_else(|| default_password_var(&self.name));
        check_var_name(&password_env).map_err(invalid)?;
        let table_prefix = self.table_prefix.clone().unwrap_or_else(|| "wp_".into());
        check_prefix(&table_prefix).map_err(invalid)?;
        let mut tokens = Vec::new();
        for key in keys {
            let Some(value) = self.token(key) else {
                let other = others
                    .iter()
                    .find(|o| o.token(key).is_some())
                    .map_or_else(String::new, |o| o.name.clone());
                return Err(DraftError::MissingToken {
                    env: env.clone(),
                    key: key.clone(),
                    other,
                });
            };
            check_token_key(key).map_err(invalid)?;
            check_not_blank(&format!("token '{key}'"), value).map_err(invalid)?;
            tokens.push((key.clone(), value.to_string()));
        }
        Ok(NewEnvironment {
            name: self.name.clone(),
            endpoint,
            user,
            database,
            password_env,
            table_prefix,
            tokens,
        })
    }
}

/// Refuses an environment given twice.
pub fn check_unique(drafts: &[EnvDraft]) -> Result<(), DraftError> {
    for (i, d) in drafts.iter().enumerate() {
        if drafts[..i].iter().any(|o| o.name == d.name) {
            return Err(DraftError::Duplicate(d.name.clone()));
        }
    }
    Ok(())
}

/// Completes every draft (the non-interactive path): the first problem is the error.
pub fn finish_all(drafts: &[EnvDraft]) -> Result<Vec<NewEnvironment>, DraftError> {
    if drafts.is_empty() {
        return Err(DraftError::NoEnvironments);
    }
    check_unique(drafts)?;
    let keys = token_keys(drafts);
    drafts.iter().map(|d| d.finish(&keys, drafts)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prod() -> EnvDraft {
        EnvDraft {
            host: Some("db".into()),
            user: Some("u".into()),
            database: Some("wp_prod".into()),
            tokens: vec![("main".into(), "www.wfu.edu".into())],
            ..EnvDraft::named("prod")
        }
    }

    #[test]
    fn a_complete_draft_gets_the_defaults() {
        let e = finish_all(&[prod()]).unwrap().remove(0);
        assert_eq!(e.password_env, "WFUWP_PROD_DB_PASSWORD");
        assert_eq!(e.table_prefix, "wp_");
        assert_eq!(
            e.endpoint,
            Endpoint::Tcp {
                host: "db".into(),
                port: None
            }
        );
        assert_eq!(default_password_var("my-env"), "WFUWP_MY_ENV_DB_PASSWORD");
    }

    #[test]
    fn missing_values_name_the_flag() {
        type Change = fn(&mut EnvDraft);
        let cases: [(Change, &str); 4] = [
            (|d| d.host = None, "--host HOST (or --socket PATH)"),
            (|d| d.user = None, "--user USER"),
            (|d| d.database = None, "--database NAME"),
            (|d| d.socket = Some("/s".into()), "--socket"),
        ];
        for (change, flag) in cases {
            let mut d = prod();
            change(&mut d);
            let err = finish_all(&[d]).unwrap_err().to_string();
            assert!(err.contains(flag) && err.contains("prod"), "{err}");
        }
        assert_eq!(finish_all(&[]).unwrap_err(), DraftError::NoEnvironments);
        assert!(matches!(
            finish_all(&[prod(), prod()]).unwrap_err(),
            DraftError::Duplicate(_)
        ));
    }

    #[test]
    fn every_environment_needs_every_token_key() {
        let uat = EnvDraft {
            tokens: vec![],
            ..EnvDraft {
                name: "uat".into(),
                ..prod()
            }
        };
        let err = finish_all(&[prod(), uat]).unwrap_err().to_string();
        assert!(
            err.contains("--token main=VALUE after --env uat") && err.contains("'prod'"),
            "{err}"
        );
    }

    #[test]
    fn values_follow_the_format_rules() {
        for bad in ["", "a b", "prod.x", "ü"] {
            assert!(check_env_name(bad).is_err(), "{bad}");
            assert!(check_token_key(bad).is_err(), "{bad}");
        }
        for bad in ["", "1X", "A-B", "A B"] {
            assert!(check_var_name(bad).is_err(), "{bad}");
        }
        assert!(check_var_name("_A1").is_ok());
        for bad in ["", "wp-", "wp 1"] {
            assert!(check_prefix(bad).is_err(), "{bad}");
        }
        let mut d = prod();
        d.password_env = Some("NOT-A-VAR".into());
        assert!(finish_all(&[d]).is_err());
        let mut d = prod();
        d.tokens[0].1 = " ".into();
        assert!(finish_all(&[d]).is_err());
    }
}
