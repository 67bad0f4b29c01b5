//! A stable, secret-free digest of what an environment's config means for a migration.
//!
//! Recorded at creation in `migration-config.json`; a resume whose fingerprint
//! differs is refused unless `--force`, because the replacement pairs or the
//! database behind a name changed under a half-done migration.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Environment;

/// Marks the per-field format; a bare 16-hex-digit digest is the older one.
const V2: &str = "v2 ";

/// The recorded form of a fingerprint: the digest of the whole environment
/// (the older format, kept so either binary can compare) and one digest per
/// field, so that a mismatch can name exactly what changed.
#[derive(Debug, Serialize, Deserialize)]
struct Fields {
    all: String,
    fields: BTreeMap<String, String>,
}

/// A secret-free fingerprint of the environment's connection target, prefix
/// and replacement tokens: `v2 {"all":…,"fields":{…}}`. Passwords (and the name
/// of the variable holding one) are not included; values are only digested.
pub fn of(env: &Environment) -> String {
    let mut fields = BTreeMap::new();
    let mut put = |name: String, value: serde_json::Value| {
        // The name is part of the digest so that equal values of two fields
        // do not show as equal digests.
        let digest = fnv1a64(format!("{name}\0{value}").as_bytes());
        fields.insert(name, format!("{digest:016x}"));
    };
    put("host".into(), serde_json::json!(env.host));
    put("port".into(), serde_json::json!(env.port.unwrap_or(3306)));
    put("socket".into(), serde_json::json!(env.socket));
    put("user".into(), serde_json::json!(env.user));
    put("database".into(), serde_json::json!(env.database));
    put("table_prefix".into(), serde_json::json!(env.table_prefix));
    for (key, value) in &env.replace {
        put(format!("replace.{key}"), serde_json::json!(value));
    }
    // Only when configured, so that fingerprints recorded before media existed still match.
    if let Some(m) = &env.media {
        put("media.bucket".into(), serde_json::json!(m.bucket));
        put("media.prefix".into(), serde_json::json!(m.prefix));
    }
    // Only when configured, as for media. The secret and the password are
    // never digested bare: a keyed check of both shows that they changed
    // (a resume would scrub differently) without helping anyone guess them.
    if let Some(scrub) = &env.scrub {
        put("scrub".into(), serde_json::json!(scrub));
        if let Ok(Some(key)) = scrub.secret(&env.name) {
            let password = scrub.password(&env.name).ok().flatten().unwrap_or_default();
            let check = super::scrub::keyed_digest(&key, &[b"fingerprint", password.as_bytes()]);
            put(
                "scrub.keys".into(),
                serde_json::json!(super::scrub::hex(&check[..8])),
            );
        }
    }
    if let Some(keep) = &env.keep {
        put("keep".into(), serde_json::json!(keep));
    }
    if let Some(set) = &env.set {
        put("set".into(), serde_json::json!(set));
    }
    if !env.exclude_tables.is_empty() {
        put(
            "exclude_tables".into(),
            serde_json::json!(env.exclude_tables),
        );
    }
    // Only when configured, as media: a target's hosts decide pairs (docs/hosts.md).
    if let Some(t) = &env.domain_template {
        put("domain_template".into(), serde_json::json!(t));
    }
    for (from, to) in &env.domains {
        put(format!("domains.{from}"), serde_json::json!(to));
    }
    let recorded = Fields {
        all: legacy(env),
        fields,
    };
    // Serializing a map of strings cannot fail; the fallback keeps the old format.
    match serde_json::to_string(&recorded) {
        Ok(json) => format!("{V2}{json}"),
        Err(_) => recorded.all,
    }
}

/// The older format: one digest of everything.
fn legacy(env: &Environment) -> String {
    let canonical = serde_json::json!({
        "host": env.host,
        "port": env.port.unwrap_or(3306),
        "socket": env.socket,
        "user": env.user,
        "database": env.database,
        "table_prefix": env.table_prefix,
        "replace": env.replace,
    });
    format!("{:016x}", fnv1a64(canonical.to_string().as_bytes()))
}

fn parse(fp: &str) -> Option<Fields> {
    serde_json::from_str(fp.strip_prefix(V2)?).ok()
}

/// What differs between a recorded fingerprint and the current one, in words
/// ("database", "replacement key 'cdn'"); empty when they agree. A fingerprint
/// in the older format can only say that something changed.
pub fn changes(recorded: &str, now: &str) -> Vec<String> {
    let (old, new) = (parse(recorded), parse(now));
    let (old, new) = match (old, new) {
        (Some(o), Some(n)) => (o, n),
        // Compare what both sides have: the whole-environment digest.
        (o, n) => {
            let all = |fp: &str, parsed: Option<Fields>| parsed.map_or(fp.to_string(), |f| f.all);
            return if all(recorded, o) == all(now, n) {
                Vec::new()
            } else {
                vec!["its settings (this migration was recorded by an older wfuwp, which does not say which ones)".into()]
            };
        }
    };
    let mut names: Vec<&String> = old.fields.keys().chain(new.fields.keys()).collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .filter_map(|name| {
            let (a, b) = (old.fields.get(name), new.fields.get(name));
            if a == b {
                return None;
            }
            let what = match (name.strip_prefix("replace."), name.strip_prefix("domains.")) {
                (Some(key), _) => format!("replacement key '{key}'"),
                (_, Some(host)) => format!("domain '{host}'"),
                _ => name.clone(),
            };
            Some(match (a, b) {
                (None, _) => format!("{what} (added)"),
                (_, None) => format!("{what} (removed)"),
                _ => what,
            })
        })
        .collect()
}

/// The fingerprint without what only says where the database is (host,
/// port, socket, user, database): what is left decides what is written.
/// A fingerprint in the older format is returned whole.
pub fn without_connection(fp: &str) -> String {
    const CONNECTION: &[&str] = &["host", "port", "socket", "user", "database"];
    match parse(fp) {
        Some(f) => f
            .fields
            .iter()
            .filter(|(name, _)| !CONNECTION.contains(&name.as_str()))
            .map(|(name, digest)| format!("{name}={digest}"))
            .collect::<Vec<_>>()
            .join(" "),
        None => fp.to_string(),
    }
}

// FNV-1a: stable across Rust releases (unlike DefaultHasher), which matters
// because the digest is written to disk and compared by a later binary.
pub(crate) fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(db: &str, pw: Option<&str>) -> Environment {
        let text = format!(
            "host=\"h\"\nuser=\"u\"\ndatabase=\"{db}\"\n{}",
            pw.map(|p| format!("password=\"{p}\"")).unwrap_or_default()
        );
        toml::from_str(&text).unwrap()
    }

    #[test]
    fn changes_with_meaning_not_with_secrets() {
        assert_eq!(of(&env("a", Some("x"))), of(&env("a", Some("y"))));
        assert_ne!(of(&env("a", None)), of(&env("b", None)));
    }

    #[test]
    fn changes_name_exactly_the_changed_fields() {
        let mut a = env("a", None);
        a.replace.insert("main".into(), "www".into());
        a.replace.insert("cdn".into(), "cdn".into());
        let mut b = a.clone();
        assert!(changes(&of(&a), &of(&b)).is_empty());
        b.replace.insert("cdn".into(), "cdn2".into());
        b.replace.remove("main");
        b.replace.insert("bucket".into(), "x".into());
        b.database = "other".into();
        assert_eq!(
            changes(&of(&a), &of(&b)),
            vec![
                "database",
                "replacement key 'bucket' (added)",
                "replacement key 'cdn'",
                "replacement key 'main' (removed)"
            ]
        );
    }

    #[test]
    fn the_target_rules_are_part_of_it() {
        let a = env("a", None);
        let mut b = a.clone();
        b.scrub = Some(toml::from_str("users = true").unwrap());
        b.exclude_tables = vec!["*_wfhits".into()];
        assert_eq!(
            changes(&of(&a), &of(&b)),
            vec!["exclude_tables (added)", "scrub (added)"]
        );
        let mut c = b.clone();
        c.scrub = Some(toml::from_str("users = true\ncomments = true").unwrap());
        c.keep = Some(toml::from_str("options = [\"blog_public\"]").unwrap());
        assert_eq!(changes(&of(&b), &of(&c)), vec!["keep (added)", "scrub"]);
    }

    #[test]
    fn a_targets_hosts_are_part_of_it() {
        let a = env("a", None);
        let mut b = a.clone();
        assert_eq!(of(&a), of(&b));
        b.domain_template = Some("{slug}.uat.wfu.edu".into());
        b.domains
            .insert("www.mag.com".into(), "mag.uat.wfu.edu".into());
        assert_eq!(
            changes(&of(&a), &of(&b)),
            vec!["domain_template (added)", "domain 'www.mag.com' (added)"]
        );
        // Unconfigured, they leave fingerprints recorded before them alone.
        assert!(changes(&legacy(&a), &of(&a)).is_empty());
    }

    #[test]
    fn the_older_format_is_still_compared() {
        let a = env("a", None);
        assert!(changes(&legacy(&a), &of(&a)).is_empty());
        let c = changes(&legacy(&a), &of(&env("b", None)));
        assert_eq!(c.len(), 1);
        assert!(c[0].contains("older wfuwp"), "{c:?}");
    }
}
