//! A stable, secret-free digest of what an environment's config means for a migration.
//!
//! Recorded at creation in `migration-config.json`; a resume whose fingerprint
//! differs is refused unless `--force`, because the replacement pairs or the
//! database behind a name changed under a half-done migration.

use super::Environment;

/// Hex digest of the environment's connection target, prefix and replacement
/// tokens. Passwords (and the name of the variable holding one) are not included.
pub fn of(env: &Environment) -> String {
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

// FNV-1a: stable across Rust releases (unlike DefaultHasher), which matters
// because the digest is written to disk and compared by a later binary.
fn fnv1a64(bytes: &[u8]) -> u64 {
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
}
