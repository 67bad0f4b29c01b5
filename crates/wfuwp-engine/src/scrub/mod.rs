//! Scrubbing personal data in the row stream (docs/scrub.md): a target's
//! `[environments.NAME.scrub]` rules, prepared once per run ([`ScrubPlan`])
//! and once per table ([`TableScrub`]), applied by [`crate::rules`] to every
//! row after the replacement, before it is written to the target. No value
//! a rule covers ever reaches the target server, staging tables included.
//!
//! Every output is a function of the source value (and, for keyed actions,
//! of the secret): a resumed or redone site equals an uninterrupted run.

pub mod password;

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use mysql_async::prelude::*;
use mysql_async::Conn;

use crate::config::scrub::{hex, keyed_digest, matches, matches_any, Action};
use crate::config::ScrubConfig;
use crate::db::discovery::Column;
use crate::db::sql::{ident, like_literal};

/// Usermeta keys emptied for every scrubbed user when `users = true`:
/// login sessions (with IPs and browsers), application passwords, the
/// location WordPress keeps for the events widget (an IP), a pending
/// address change, and the user's names and biography.
pub const DEFAULT_USERMETA_KEYS: &[&str] = &[
    "session_tokens",
    "_application_passwords",
    "community-events-location",
    "_new_email",
    "first_name",
    "last_name",
    "description",
];

/// Names under which per-rule counts are reported.
pub mod rule_names {
    /// `users = true`: the users table and the default usermeta keys.
    pub const USERS: &str = "users";
    /// `comments = true`.
    pub const COMMENTS: &str = "comments";
}

/// A scrub rule that cannot be prepared (an unset variable, a bad secret).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ScrubError(pub String);

/// A run's scrub rules, with the secrets read and the kept users resolved.
#[derive(Debug)]
pub struct ScrubPlan {
    prefix: String,
    config: ScrubConfig,
    key: Option<Vec<u8>>,
    password_hash: String,
    kept_users: BTreeSet<u64>,
}

impl ScrubPlan {
    /// The plan of `config` (the target `env`'s), for tables under `prefix`.
    /// Reads the secret and the password from their variables.
    pub fn new(config: &ScrubConfig, env: &str, prefix: &str) -> Result<ScrubPlan, ScrubError> {
        let key = config.secret(env).map_err(ScrubError)?;
        let password = config.password(env).map_err(ScrubError)?;
        let password_hash = match password {
            Some(p) => {
                // The salt is derived, not drawn, so that every run writes the
                // same hash (resume-equal); it is keyed when a secret exists.
                let salt_key = key.as_deref().unwrap_or(b"wfuwp password salt");
                let d = keyed_digest(salt_key, &[b"password salt", p.as_bytes()]);
                let mut salt = [0u8; 6];
                salt.copy_from_slice(&d[..6]);
                password::phpass(p.as_bytes(), &salt)
            }
            None => password::UNUSABLE.to_string(),
        };
        Ok(ScrubPlan {
            prefix: prefix.to_string(),
            config: config.clone(),
            key,
            password_hash,
            kept_users: BTreeSet::new(),
        })
    }

    /// The rules as configured.
    pub fn config(&self) -> &ScrubConfig {
        &self.config
    }

    /// The users left untouched (resolved by [`ScrubPlan::resolve_kept_users`]).
    pub fn kept_users(&self) -> &BTreeSet<u64> {
        &self.kept_users
    }

    /// Finds the source's users that `keep_users` names (by login, or by a
    /// role they hold on any site), once per run, before any row is copied.
    pub async fn resolve_kept_users(&mut self, source: &mut Conn) -> mysql_async::Result<()> {
        self.kept_users = kept_users(source, &self.prefix, &self.config.keep_users).await?;
        Ok(())
    }

    /// The rules of table `table` (its full name) with `columns`; `None`
    /// when no rule touches it.
    pub fn for_table(&self, table: &str, columns: &[Column]) -> Option<TableScrub> {
        let suffix = table_suffix(&self.prefix, table)?;
        let index = |name: &str| {
            columns
                .iter()
                .position(|c| c.name.eq_ignore_ascii_case(name))
        };
        let mut t = TableScrub {
            user_id: None,
            column_actions: Vec::new(),
            meta: None,
            rule_names: Vec::new(),
            counts: Vec::new(),
            key: self.key.clone(),
            email_domain: self.config.email_domain().to_string(),
            column_names: columns.iter().map(|c| c.name.clone()).collect(),
        };
        let network = !table[self.prefix.len()..].starts_with(|c: char| c.is_ascii_digit());
        let users_table = network && suffix == "users";
        let usermeta_table = network && suffix == "usermeta";
        if users_table {
            t.user_id = index("ID").map(|i| (i, self.kept_users.clone()));
        } else if usermeta_table {
            t.user_id = index("user_id").map(|i| (i, self.kept_users.clone()));
        }
        let key_col = index("meta_key").or_else(|| index("option_name"));
        let value_col = index("meta_value").or_else(|| index("option_value"));
        let mut meta_rules: Vec<MetaAction> = Vec::new();
        if self.config.users && users_table {
            let rule = t.rule(rule_names::USERS);
            let id = index("ID");
            for (col, value) in [
                ("user_email", id.map(Value::UserEmail)),
                ("user_pass", Some(Value::Fixed(self.password_hash.clone()))),
                ("user_activation_key", Some(Value::Act(Action::Empty))),
                ("user_url", Some(Value::Act(Action::Empty))),
                ("display_name", index("user_login").map(Value::CopyOf)),
            ] {
                if let (Some(i), Some(v)) = (index(col), value) {
                    t.column_actions.push((i, v, rule));
                }
            }
        }
        if self.config.users && usermeta_table {
            let rule = t.rule(rule_names::USERS);
            let keys = DEFAULT_USERMETA_KEYS
                .iter()
                .map(|k| k.to_string())
                .collect();
            meta_rules.push((keys, Value::Act(Action::Empty), rule));
        }
        if self.config.comments && suffix == "comments" {
            let rule = t.rule(rule_names::COMMENTS);
            for (col, value) in [
                (
                    "comment_author_email",
                    index("comment_ID").map(Value::CommentEmail),
                ),
                ("comment_author_IP", Some(Value::Act(Action::Empty))),
                ("comment_agent", Some(Value::Act(Action::Empty))),
            ] {
                if let (Some(i), Some(v)) = (index(col), value) {
                    t.column_actions.push((i, v, rule));
                }
            }
        }
        for r in &self.config.column {
            if !matches(&r.table, suffix) {
                continue;
            }
            if let Some(i) = index(&r.column) {
                let rule = t.rule(&column_rule_name(&r.table, &r.column));
                t.column_actions
                    .push((i, Value::Act(r.action.clone()), rule));
            }
        }
        for r in &self.config.meta {
            if matches(&r.table, suffix) {
                let rule = t.rule(&meta_rule_name(&r.table, &r.keys));
                meta_rules.push((r.keys.clone(), Value::Act(r.action.clone()), rule));
            }
        }
        if let (Some(k), Some(v), false) = (key_col, value_col, meta_rules.is_empty()) {
            t.meta = Some((k, v, meta_rules));
        }
        if t.column_actions.is_empty() && t.meta.is_none() {
            return None;
        }
        Some(t)
    }

    /// Values each rule would change in `tables` of the source (full names
    /// and their columns): an estimate from counts, nothing read row by row.
    pub async fn estimate(
        &self,
        source: &mut Conn,
        tables: &[(&str, &[Column])],
    ) -> mysql_async::Result<BTreeMap<String, u64>> {
        let mut out: BTreeMap<String, u64> =
            self.rule_names().into_iter().map(|r| (r, 0)).collect();
        for (table, columns) in tables {
            let Some(t) = self.for_table(table, columns) else {
                continue;
            };
            for (rule, sql) in t.estimate_queries(table) {
                let n: Option<u64> = source.query_first(sql).await?;
                *out.entry(rule).or_default() += n.unwrap_or(0);
            }
        }
        Ok(out)
    }

    /// Every rule's name, in the order `config check` shows them.
    pub fn rule_names(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.config.users {
            out.push(rule_names::USERS.to_string());
        }
        if self.config.comments {
            out.push(rule_names::COMMENTS.to_string());
        }
        out.extend(
            self.config
                .column
                .iter()
                .map(|r| column_rule_name(&r.table, &r.column)),
        );
        out.extend(
            self.config
                .meta
                .iter()
                .map(|r| meta_rule_name(&r.table, &r.keys)),
        );
        out
    }
}

/// Why the scrub rules of a migration into `env` could not be prepared
/// now (an unset or short secret, an unset password variable): what
/// `config check` judges as a configuration problem, before a run refuses.
pub fn rule_problems(env: &crate::config::Environment) -> Vec<String> {
    let Some(s) = &env.scrub else {
        return Vec::new();
    };
    [s.secret(&env.name).err(), s.password(&env.name).err()]
        .into_iter()
        .flatten()
        .collect()
}

/// What a migration into `env` does to the data on its way, one line a
/// rule, for `config check` (`--dry-run` adds, from the source, how many
/// values each scrub rule will change).
pub fn describe_rules(env: &crate::config::Environment) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(s) = &env.scrub {
        let mut what = Vec::new();
        if s.users {
            what.push(format!(
                "users (e-mail user-ID@{}, password {}, url, activation key, display name; usermeta {})",
                s.email_domain(),
                match &s.password_env {
                    Some(v) => format!("from {v}"),
                    None => "unusable".into(),
                },
                DEFAULT_USERMETA_KEYS.join(", ")
            ));
        }
        if s.comments {
            what.push("comments (author e-mail, IP, user agent)".into());
        }
        what.extend(
            s.column
                .iter()
                .map(|r| format!("{}: {}", column_rule_name(&r.table, &r.column), r.action)),
        );
        what.extend(
            s.meta
                .iter()
                .map(|r| format!("{}: {}", meta_rule_name(&r.table, &r.keys), r.action)),
        );
        for w in what {
            out.push(format!("scrub: {w}"));
        }
        if !s.keep_users.is_empty() {
            out.push(format!("scrub keeps users: {}", s.keep_users.join(", ")));
        }
    }
    if let Some(k) = &env.keep {
        for (what, names) in [
            ("options", &k.options),
            ("sitemeta", &k.sitemeta),
            ("tables", &k.tables),
        ] {
            if !names.is_empty() {
                out.push(format!("keep {what}: {}", names.join(", ")));
            }
        }
    }
    if let Some(s) = &env.set {
        for (what, values) in [("options", &s.options), ("sitemeta", &s.sitemeta)] {
            for (k, v) in values {
                out.push(format!("set {what}: {k} = {v:?}"));
            }
        }
    }
    if !env.exclude_tables.is_empty() {
        out.push(format!(
            "exclude tables (created empty): {}",
            env.exclude_tables.join(", ")
        ));
    }
    out
}

/// The name a column rule's counts are reported under.
pub fn column_rule_name(table: &str, column: &str) -> String {
    format!("column {table}.{column}")
}

/// The name a meta rule's counts are reported under.
pub fn meta_rule_name(table: &str, keys: &[String]) -> String {
    format!("meta {table} {}", keys.join(","))
}

/// The name of `table` after the network prefix and a site's `N_`
/// (`wp_12_gf_entry` → `gf_entry`); `None` for a table of another prefix.
pub fn table_suffix<'a>(prefix: &str, table: &'a str) -> Option<&'a str> {
    let rest = table.strip_prefix(prefix)?;
    if let Some((digits, tail)) = rest.split_once('_') {
        if !digits.is_empty() && !tail.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            return Some(tail);
        }
    }
    Some(rest)
}

/// The users `keep_users` names: logins, and `role:NAME` for the holders of
/// that role on any site (its capabilities key holds the role set to true).
async fn kept_users(
    source: &mut Conn,
    prefix: &str,
    keep: &[String],
) -> mysql_async::Result<BTreeSet<u64>> {
    let mut out = BTreeSet::new();
    let (roles, logins): (Vec<&String>, Vec<&String>) =
        keep.iter().partition(|k| k.starts_with("role:"));
    let users = ident(&format!("{prefix}users"));
    let usermeta = ident(&format!("{prefix}usermeta"));
    for login in logins {
        let ids: Vec<u64> = source
            .exec(
                format!("SELECT `ID` FROM {users} WHERE `user_login` = ?"),
                (login.as_str(),),
            )
            .await?;
        out.extend(ids);
    }
    if roles.is_empty() {
        return Ok(out);
    }
    let rows: Vec<(u64, String, Option<Vec<u8>>)> = source
        .query(format!(
            "SELECT `user_id`, `meta_key`, `meta_value` FROM {usermeta} \
             WHERE `meta_key` LIKE '{}%capabilities'",
            like_literal(prefix)
        ))
        .await?;
    for (user, key, value) in rows {
        if !is_capabilities_key(prefix, &key) {
            continue;
        }
        let value = String::from_utf8_lossy(value.as_deref().unwrap_or_default()).into_owned();
        if roles
            .iter()
            .any(|r| holds_role(&value, &r["role:".len()..]))
        {
            out.insert(user);
        }
    }
    Ok(out)
}

/// `<prefix>capabilities` or `<prefix>N_capabilities`.
fn is_capabilities_key(prefix: &str, key: &str) -> bool {
    let Some(rest) = key.strip_prefix(prefix) else {
        return false;
    };
    match rest.strip_suffix("capabilities") {
        Some("") => true,
        Some(site) => site
            .strip_suffix('_')
            .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit())),
        None => false,
    }
}

/// Whether a serialized capabilities array sets `role` to true
/// (`a:1:{s:13:"administrator";b:1;}`).
fn holds_role(capabilities: &str, role: &str) -> bool {
    capabilities.contains(&format!("s:{}:\"{role}\";b:1;", role.len()))
}

/// What a rule writes into one column.
#[derive(Debug, Clone)]
enum Value {
    /// A configured action.
    Act(Action),
    /// These bytes.
    Fixed(String),
    /// `user-<ID>@<domain>`, the ID from this column.
    UserEmail(usize),
    /// `comment-<ID>@<domain>`, the ID from this column.
    CommentEmail(usize),
    /// The value of this column (as read).
    CopyOf(usize),
}

/// Key patterns, what their values become, and the rule's index.
type MetaAction = (Vec<String>, Value, usize);

/// One table's scrub rules, with how many values each changed.
pub struct TableScrub {
    /// The column naming the row's user, and the users left untouched.
    user_id: Option<(usize, BTreeSet<u64>)>,
    /// Unconditional column rules: column, value, rule index.
    column_actions: Vec<(usize, Value, usize)>,
    /// Key column, value column, and per-key rules (patterns, value, rule index).
    meta: Option<(usize, usize, Vec<MetaAction>)>,
    rule_names: Vec<String>,
    counts: Vec<u64>,
    key: Option<Vec<u8>>,
    email_domain: String,
    column_names: Vec<String>,
}

impl TableScrub {
    /// Per rule, a query counting the values of `table` in the source that
    /// the rule would change (non-empty values it covers; the kept users'
    /// rows left out): what `config check` and `--dry-run` show.
    pub fn estimate_queries(&self, table: &str) -> Vec<(String, String)> {
        let col = |i: usize| ident(&self.column_names[i]);
        let not_kept = match &self.user_id {
            Some((i, kept)) if !kept.is_empty() => format!(
                " AND {} NOT IN ({})",
                col(*i),
                kept.iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            _ => String::new(),
        };
        let filled = |i: usize| format!("{0} IS NOT NULL AND {0} <> ''", col(i));
        let mut out: Vec<(String, String)> = self
            .column_actions
            .iter()
            .map(|(i, _, rule)| {
                (
                    self.rule_names[*rule].clone(),
                    format!(
                        "SELECT COUNT(*) FROM {} WHERE {}{not_kept}",
                        ident(table),
                        filled(*i)
                    ),
                )
            })
            .collect();
        if let Some((k, v, rules)) = &self.meta {
            for (patterns, _, rule) in rules {
                if let Some(keys) = crate::db::sql::glob_condition(&col(*k), patterns) {
                    out.push((
                        self.rule_names[*rule].clone(),
                        format!(
                            "SELECT COUNT(*) FROM {} WHERE {keys} AND {}{not_kept}",
                            ident(table),
                            filled(*v)
                        ),
                    ));
                }
            }
        }
        out
    }

    fn rule(&mut self, name: &str) -> usize {
        match self.rule_names.iter().position(|n| n == name) {
            Some(i) => i,
            None => {
                self.rule_names.push(name.to_string());
                self.counts.push(0);
                self.rule_names.len() - 1
            }
        }
    }

    /// Values changed per rule so far.
    pub fn counts(&self) -> BTreeMap<String, u64> {
        self.rule_names
            .iter()
            .cloned()
            .zip(self.counts.iter().copied())
            .collect()
    }

    /// Scrubs one row in place (values as the copy hands them over).
    pub fn apply(&mut self, values: &mut [Option<Cow<'_, [u8]>>]) {
        if let Some((i, kept)) = &self.user_id {
            let id = values
                .get(*i)
                .and_then(|v| v.as_deref())
                .and_then(|v| std::str::from_utf8(v).ok())
                .and_then(|v| v.parse::<u64>().ok());
            if id.is_some_and(|id| kept.contains(&id)) {
                return;
            }
        }
        let originals: Vec<Option<Vec<u8>>> = self
            .column_actions
            .iter()
            .map(|(_, v, _)| match v {
                Value::UserEmail(i) | Value::CommentEmail(i) | Value::CopyOf(i) => values
                    .get(*i)
                    .and_then(|v| v.as_deref().map(<[u8]>::to_vec)),
                _ => None,
            })
            .collect();
        for (n, (col, value, rule)) in self.column_actions.iter().enumerate() {
            let Some(slot) = values.get_mut(*col) else {
                continue;
            };
            let new = produce(
                value,
                slot.as_deref(),
                originals[n].as_deref(),
                self.key.as_deref(),
                &self.email_domain,
            );
            if new.as_deref() != slot.as_deref() {
                self.counts[*rule] += 1;
                *slot = new.map(Cow::Owned);
            }
        }
        if let Some((k, v, rules)) = &self.meta {
            let key = values.get(*k).and_then(|v| v.as_deref());
            let Some(key) = key.and_then(|k| std::str::from_utf8(k).ok()) else {
                return;
            };
            let Some((_, value, rule)) = rules.iter().find(|(p, _, _)| matches_any(p, key)) else {
                return;
            };
            let Some(slot) = values.get_mut(*v) else {
                return;
            };
            let new = produce(
                value,
                slot.as_deref(),
                None,
                self.key.as_deref(),
                &self.email_domain,
            );
            if new.as_deref() != slot.as_deref() {
                self.counts[*rule] += 1;
                *slot = new.map(Cow::Owned);
            }
        }
    }
}

/// What `value` writes over `current` (`other`: the column it refers to, as read).
fn produce(
    value: &Value,
    current: Option<&[u8]>,
    other: Option<&[u8]>,
    key: Option<&[u8]>,
    domain: &str,
) -> Option<Vec<u8>> {
    let id_email = |kind: &str| match other {
        Some(id) => Some(format!("{kind}-{}@{domain}", String::from_utf8_lossy(id)).into_bytes()),
        None => current.map(|_| Vec::new()),
    };
    match value {
        Value::Fixed(v) => Some(v.clone().into_bytes()),
        Value::UserEmail(_) => id_email("user"),
        Value::CommentEmail(_) => id_email("comment"),
        Value::CopyOf(_) => other.map(<[u8]>::to_vec),
        Value::Act(a) => act(a, current, key, domain),
    }
}

/// A configured action on one value. NULL stays NULL (it holds nothing
/// personal) except under `fixed`; an empty value stays empty under `email`
/// and `hash` (nothing to hide, and a fake would invent an address).
pub fn act(
    action: &Action,
    current: Option<&[u8]>,
    key: Option<&[u8]>,
    domain: &str,
) -> Option<Vec<u8>> {
    let keyed = |label: &[u8], v: &[u8]| keyed_digest(key.unwrap_or_default(), &[label, v]);
    match (action, current) {
        (Action::Fixed(v), _) => Some(v.clone().into_bytes()),
        (_, None) | (Action::Null, _) => None,
        (Action::Empty, Some(_)) => Some(Vec::new()),
        (Action::Email | Action::Hash, Some([])) => Some(Vec::new()),
        (Action::Email, Some(v)) => {
            // One address, one fake, whatever its case or surrounding spaces.
            let normal = String::from_utf8_lossy(v).trim().to_lowercase();
            let d = keyed(b"email", normal.as_bytes());
            Some(format!("{}@{domain}", hex(&d[..8])).into_bytes())
        }
        (Action::Hash, Some(v)) => Some(hex(&keyed(b"hash", v)[..16]).into_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(name: &str) -> Column {
        Column {
            name: name.into(),
            textual: true,
            auto_increment: false,
            primary: false,
        }
    }

    fn plan(toml: &str) -> ScrubPlan {
        let c: ScrubConfig = toml::from_str(toml).unwrap();
        ScrubPlan::new(&c, "uat", "wp_").unwrap()
    }

    fn row(values: &[Option<&'static str>]) -> Vec<Option<Cow<'static, [u8]>>> {
        values
            .iter()
            .map(|v| v.map(|s| Cow::Borrowed(s.as_bytes())))
            .collect()
    }

    fn text(row: &[Option<Cow<'_, [u8]>>], i: usize) -> Option<String> {
        row[i]
            .as_deref()
            .map(|v| String::from_utf8(v.to_vec()).unwrap())
    }

    #[test]
    fn suffixes_drop_the_prefix_and_the_site_number() {
        assert_eq!(table_suffix("wp_", "wp_12_gf_entry"), Some("gf_entry"));
        assert_eq!(table_suffix("wp_", "wp_comments"), Some("comments"));
        assert_eq!(table_suffix("wp_", "wp_404_log"), Some("log"));
        assert_eq!(table_suffix("wp_", "other_users"), None);
    }

    #[test]
    fn users_rows_are_scrubbed_unless_kept() {
        let mut p = plan("users = true\nemail_domain = \"x.invalid\"");
        p.kept_users.insert(1);
        let cols: Vec<Column> = [
            "ID",
            "user_login",
            "user_pass",
            "user_email",
            "user_url",
            "user_activation_key",
            "display_name",
        ]
        .map(column)
        .to_vec();
        let mut t = p.for_table("wp_users", &cols).unwrap();
        let mut r = row(&[
            Some("7"),
            Some("jdoe"),
            Some("$P$Babc"),
            Some("j@doe.edu"),
            Some("https://doe.edu"),
            Some("k"),
            Some("Jane Doe"),
        ]);
        t.apply(&mut r);
        assert_eq!(text(&r, 3).unwrap(), "user-7@x.invalid");
        assert_eq!(text(&r, 2).unwrap(), password::UNUSABLE);
        assert_eq!(text(&r, 4).unwrap(), "");
        assert_eq!(text(&r, 5).unwrap(), "");
        assert_eq!(text(&r, 6).unwrap(), "jdoe");
        assert_eq!(t.counts()["users"], 5);
        let mut kept = row(&[
            Some("1"),
            Some("admin"),
            Some("$P$Bx"),
            Some("a@b.c"),
            None,
            None,
            Some("A"),
        ]);
        t.apply(&mut kept);
        assert_eq!(text(&kept, 3).unwrap(), "a@b.c");
        assert_eq!(t.counts()["users"], 5);
    }

    #[test]
    fn meta_rules_pick_keys_by_pattern_and_defaults_apply() {
        let p = plan(
            "users = true\nsecret_env = \"PATH\"\n[[meta]]\ntable = \"usermeta\"\nkeys = [\"billing_*\"]\naction = \"email\"\n",
        );
        let cols: Vec<Column> = ["umeta_id", "user_id", "meta_key", "meta_value"]
            .map(column)
            .to_vec();
        let mut t = p.for_table("wp_usermeta", &cols).unwrap();
        let mut a = row(&[Some("1"), Some("5"), Some("billing_email"), Some("A@b.c ")]);
        let mut b = row(&[Some("2"), Some("6"), Some("billing_email"), Some("a@B.c")]);
        let mut s = row(&[Some("3"), Some("6"), Some("session_tokens"), Some("a:1:{}")]);
        let mut n = row(&[Some("4"), Some("6"), Some("nickname"), Some("jd")]);
        for r in [&mut a, &mut b, &mut s, &mut n] {
            t.apply(r);
        }
        assert_eq!(text(&a, 3), text(&b, 3), "one address, one fake");
        assert!(text(&a, 3).unwrap().ends_with("@example.invalid"));
        assert_eq!(text(&s, 3).unwrap(), "");
        assert_eq!(text(&n, 3).unwrap(), "jd");
    }

    #[test]
    fn keyed_values_depend_on_the_key() {
        let a = act(&Action::Hash, Some(b"x"), Some(b"k1"), "d");
        let b = act(&Action::Hash, Some(b"x"), Some(b"k2"), "d");
        assert_ne!(a, b);
        assert_eq!(a, act(&Action::Hash, Some(b"x"), Some(b"k1"), "d"));
        assert_eq!(act(&Action::Null, Some(b"x"), None, "d"), None);
        assert_eq!(act(&Action::Empty, None, None, "d"), None);
        assert_eq!(
            act(&Action::Fixed("v".into()), None, None, "d"),
            Some(b"v".to_vec())
        );
    }

    #[test]
    fn roles_are_read_from_capabilities() {
        assert!(holds_role(
            "a:1:{s:13:\"administrator\";b:1;}",
            "administrator"
        ));
        assert!(!holds_role("a:1:{s:6:\"editor\";b:1;}", "administrator"));
        assert!(is_capabilities_key("wp_", "wp_capabilities"));
        assert!(is_capabilities_key("wp_", "wp_12_capabilities"));
        assert!(!is_capabilities_key("wp_", "wp_x_capabilities"));
    }
}
