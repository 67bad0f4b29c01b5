//! A target environment's rules for what may land there (docs/scrub.md):
//! `[environments.NAME.scrub]` (personal data replaced in the row stream),
//! `[environments.NAME.keep]` / `[environments.NAME.set]` (the target's own
//! settings) and `exclude_tables` (tables created empty).

use std::collections::BTreeMap;
use std::fmt;

use hmac::{KeyInit, Mac};
use serde::{Deserialize, Serialize};

/// The e-mail domain of scrubbed addresses unless `email_domain` says otherwise
/// (`.invalid` is reserved: mail to it can never be delivered).
pub const DEFAULT_EMAIL_DOMAIN: &str = "example.invalid";

/// What a scrub rule writes instead of a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// The empty string.
    Empty,
    /// SQL NULL.
    Null,
    /// A fake address `<keyed digest>@<email_domain>`: the same address gives
    /// the same fake in every table and run.
    Email,
    /// A keyed digest (HMAC-SHA256, 32 hex digits) of the value.
    Hash,
    /// This value.
    Fixed(String),
}

impl Action {
    /// Whether the action needs the scrub secret (`secret_env`).
    pub fn is_keyed(&self) -> bool {
        matches!(self, Action::Email | Action::Hash)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Empty => f.write_str("empty"),
            Action::Null => f.write_str("null"),
            Action::Email => f.write_str("email"),
            Action::Hash => f.write_str("hash"),
            Action::Fixed(v) => write!(f, "fixed:{v}"),
        }
    }
}

impl std::str::FromStr for Action {
    type Err = String;
    fn from_str(s: &str) -> Result<Action, String> {
        Ok(match s {
            "empty" => Action::Empty,
            "null" => Action::Null,
            "email" => Action::Email,
            "hash" => Action::Hash,
            _ => match s.strip_prefix("fixed:") {
                Some(v) => Action::Fixed(v.to_string()),
                None => {
                    return Err(format!(
                        "unknown scrub action '{s}': use empty, null, email, hash or fixed:VALUE"
                    ))
                }
            },
        })
    }
}

impl<'de> Deserialize<'de> for Action {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Action, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for Action {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

/// `[environments.NAME.scrub]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScrubConfig {
    /// Users and usermeta of every migrated user (docs/scrub.md lists the columns and keys).
    #[serde(default)]
    pub users: bool,
    /// Domain of scrubbed e-mail addresses ([`DEFAULT_EMAIL_DOMAIN`] when absent).
    pub email_domain: Option<String>,
    /// Variable holding the password every scrubbed user gets; absent: unusable.
    pub password_env: Option<String>,
    /// Variable holding the key of `email` and `hash` actions.
    pub secret_env: Option<String>,
    /// Logins and `role:NAME`s whose users are left untouched.
    #[serde(default)]
    pub keep_users: Vec<String>,
    /// Comment authors' e-mail, IP and user agent.
    #[serde(default)]
    pub comments: bool,
    /// Per-column rules (plugin tables).
    #[serde(default)]
    pub column: Vec<ColumnRule>,
    /// Per-key rules of key-value tables.
    #[serde(default)]
    pub meta: Vec<MetaRule>,
}

/// `[[environments.NAME.scrub.column]]`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnRule {
    /// Table name after the site prefix (`gf_entry_meta`); `*` patterns.
    pub table: String,
    /// Column name.
    pub column: String,
    /// What replaces its values.
    pub action: Action,
}

/// `[[environments.NAME.scrub.meta]]`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MetaRule {
    /// Table name after the site prefix (`usermeta`, `postmeta`, `options`); `*` patterns.
    pub table: String,
    /// Keys (`meta_key`/`option_name`) whose values the rule replaces; `*` patterns.
    pub keys: Vec<String>,
    /// What replaces their values.
    pub action: Action,
}

/// `[environments.NAME.keep]`: what of the target survives a migration into it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KeepConfig {
    /// Option names (per site); `*` patterns.
    #[serde(default)]
    pub options: Vec<String>,
    /// Sitemeta keys; `*` patterns.
    #[serde(default)]
    pub sitemeta: Vec<String>,
    /// Tables (full names, prefix included); `*` patterns.
    #[serde(default)]
    pub tables: Vec<String>,
}

/// `[environments.NAME.set]`: values forced on every migrated site.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SetConfig {
    /// Option name → value.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// Sitemeta key → value.
    #[serde(default)]
    pub sitemeta: BTreeMap<String, String>,
}

/// HMAC-SHA256 of `parts` (each followed by a NUL, so that parts cannot
/// run into each other) under `key`.
pub fn keyed_digest(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = match hmac::Hmac::<sha2::Sha256>::new_from_slice(key) {
        Ok(m) => m,
        // HMAC takes keys of any length; unreachable, but never a panic.
        Err(_) => return [0; 32],
    };
    for p in parts {
        mac.update(p);
        mac.update(&[0]);
    }
    mac.finalize().into_bytes().into()
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `name` matches `pattern`, where `*` stands for any run of
/// characters (none included) and everything else is literal.
pub fn matches(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// Whether any of `patterns` matches `name`.
pub fn matches_any(patterns: &[String], name: &str) -> bool {
    patterns.iter().any(|p| matches(p, name))
}

impl ScrubConfig {
    /// What is wrong with the rules of environment `env`, if anything.
    pub fn problem(&self, env: &str) -> Option<String> {
        let at = format!("[environments.{env}.scrub]");
        if let Some(d) = &self.email_domain {
            let ok = !d.is_empty()
                && d.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
            if !ok {
                return Some(format!(
                    "{at} email_domain '{d}' is not a domain name (letters, digits, dots, hyphens)"
                ));
            }
        }
        for rule in &self.column {
            if rule.table.is_empty() || rule.column.is_empty() {
                return Some(format!("{at} a [[column]] rule needs `table` and `column`"));
            }
        }
        for rule in &self.meta {
            if rule.table.is_empty() || rule.keys.is_empty() {
                return Some(format!(
                    "{at} a [[meta]] rule needs `table` and at least one key in `keys`"
                ));
            }
        }
        let keyed = self.column.iter().any(|r| r.action.is_keyed())
            || self.meta.iter().any(|r| r.action.is_keyed());
        if keyed && self.secret_env.is_none() {
            return Some(format!(
                "{at} uses the `email` or `hash` action, which needs a secret key: add \
                 `secret_env = \"VARIABLE\"` naming an environment variable that holds a long random \
                 value (e.g. openssl rand -hex 32), kept off the target and out of the logs dir"
            ));
        }
        None
    }

    /// The key of `email` and `hash` actions, from `secret_env`; `None` when
    /// no variable is named. A named variable that is unset or shorter than
    /// 16 bytes is an error: a guessable key makes the digests guessable.
    pub fn secret(&self, env: &str) -> Result<Option<Vec<u8>>, String> {
        let Some(var) = &self.secret_env else {
            return Ok(None);
        };
        match std::env::var(var) {
            Ok(v) if v.len() >= 16 => Ok(Some(v.into_bytes())),
            Ok(_) => Err(format!(
                "the scrub secret of environment '{env}' (variable {var}) is shorter than 16 characters; \
                 set it to a long random value (e.g. export {var}=$(openssl rand -hex 32))"
            )),
            Err(_) => Err(format!(
                "environment '{env}' scrubs with a secret key from the variable {var}, which is not set. \
                 Export it (export {var}=...; the same value as for earlier migrations into '{env}', \
                 or scrubbed values change) and run again"
            )),
        }
    }

    /// The password scrubbed users get, from `password_env`; `None` when no
    /// variable is named (their password becomes unusable).
    pub fn password(&self, env: &str) -> Result<Option<String>, String> {
        let Some(var) = &self.password_env else {
            return Ok(None);
        };
        match std::env::var(var) {
            Ok(v) if !v.is_empty() => Ok(Some(v)),
            _ => Err(format!(
                "environment '{env}' gives scrubbed users the password in the variable {var}, which is \
                 not set or empty. Export it (export {var}=...), or remove password_env to make their \
                 passwords unusable"
            )),
        }
    }

    /// The domain of scrubbed addresses.
    pub fn email_domain(&self) -> &str {
        self.email_domain.as_deref().unwrap_or(DEFAULT_EMAIL_DOMAIN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_runs_of_characters_only_at_stars() {
        assert!(matches("billing_*", "billing_email"));
        assert!(matches("billing_*", "billing_"));
        assert!(!matches("billing_*", "xbilling_email"));
        assert!(matches("*_wfhits", "wp_12_wfhits"));
        assert!(!matches("*_wfhits", "wp_12_wfhits2"));
        assert!(matches("mailserver_*", "mailserver_url"));
        assert!(matches("a*b*c", "a_x_b_y_c"));
        assert!(!matches("a*b*c", "a_x_c"));
        assert!(matches("blog_public", "blog_public"));
        assert!(!matches("blog_public", "blog_public2"));
        assert!(matches("*", ""));
        assert!(matches("ab*ab", "ab"[..].repeat(2).as_str()));
        assert!(!matches("ab*ab", "ab"));
    }

    #[test]
    fn actions_parse_and_print_alike() {
        for a in ["empty", "null", "email", "hash", "fixed:x:y", "fixed:"] {
            assert_eq!(a.parse::<Action>().unwrap().to_string(), a);
        }
        assert!("blank".parse::<Action>().is_err());
    }

    #[test]
    fn keyed_actions_need_a_secret() {
        let c: ScrubConfig = toml::from_str(
            "[[column]]\ntable = \"gf_entry\"\ncolumn = \"ip\"\naction = \"hash\"\n",
        )
        .unwrap();
        assert!(c.problem("uat").unwrap().contains("secret_env"));
        let c = ScrubConfig {
            secret_env: Some("S".into()),
            ..c
        };
        assert_eq!(c.problem("uat"), None);
    }
}
