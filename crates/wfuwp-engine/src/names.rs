//! Names of the tables a migration creates next to the live ones.
//!
//! Every name carries the migration's tag (the random suffix of its id), so
//! two migrations never collide, leftovers of one migration can be found by
//! prefix, and names stay within MySQL's 64-character limit.

/// MySQL's identifier length limit (characters).
pub const MAX_IDENT: usize = 64;

/// What a derived table is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Rows being copied, not yet live.
    Staging,
    /// The target's original table, kept for rollback.
    Backup,
    /// A table swapped out that is about to be dropped.
    Trash,
}

impl Role {
    fn marker(self) -> &'static str {
        match self {
            Role::Staging => "_wfs_",
            Role::Backup => "_wfb_",
            Role::Trash => "_wft_",
        }
    }
}

/// The short tag of a migration id (its random suffix).
pub fn tag(migration_id: &str) -> String {
    let suffix = migration_id.rsplit('-').next().unwrap_or(migration_id);
    suffix
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(12)
        .collect::<String>()
        .to_ascii_lowercase()
}

/// Prefix shared by every table of `role` for migration `tag`.
pub fn prefix(role: Role, tag: &str) -> String {
    format!("{}{tag}_", role.marker())
}

/// Prefix shared by every table of `role` of any migration.
pub fn any_prefix(role: Role) -> &'static str {
    role.marker()
}

/// The derived name of `live` for `role` in migration `tag`; long names are
/// shortened with a hash of the full name so they stay unique.
pub fn derived(role: Role, tag: &str, live: &str) -> String {
    let head = prefix(role, tag);
    let full = format!("{head}{live}");
    if full.chars().count() <= MAX_IDENT {
        return full;
    }
    let hash = format!("_{:08x}", fnv1a32(live.as_bytes()));
    let room = MAX_IDENT - head.chars().count() - hash.len();
    let kept: String = live.chars().take(room).collect();
    format!("{head}{kept}{hash}")
}

/// Whether `name` is a table name a WordPress network can have and wfuwp
/// can have made: 1 to 64 ASCII letters, digits, `_` or `$` (what MySQL
/// takes unquoted, and what WordPress's table prefix and plugins use). A
/// name with a backtick, a quote, a space or a dot is none of them.
pub fn is_table_identifier(name: &str) -> bool {
    (1..=MAX_IDENT).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$')
}

/// A backup record read from a state file names a table this migration
/// could not have created or replaced (the file was edited or damaged).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "the state of migration {migration} records {what} ('{table}' for {owner}); the state file was edited or damaged. \
     Nothing was changed. Restore migration-state.json from a backup, or roll back by hand."
)]
pub struct InvalidRecord {
    /// The migration whose state holds the record.
    pub migration: String,
    /// Which tables the record is about ("site 3", "the network tables").
    pub owner: String,
    /// What is wrong with it.
    pub what: String,
    /// The offending table name.
    pub table: String,
}

/// Checks one backup record against what migration `id` can have made:
/// each live table belongs to `site` (`None` = the network tables) under
/// `prefix`, and each backup is exactly the derived backup name of its live
/// table. Run before any DDL uses names read from a state file.
pub fn check_backup_record(
    id: &str,
    prefix: &str,
    site: Option<crate::sites::SiteId>,
    record: &crate::state::SiteBackup,
) -> Result<(), InvalidRecord> {
    use crate::db::discovery::{owner, Owner};
    let tag = tag(id);
    let owner_name = site.map_or("the network tables".to_string(), |s| format!("site {s}"));
    let invalid = |what: &str, table: &str| InvalidRecord {
        migration: id.to_string(),
        owner: owner_name.clone(),
        what: what.to_string(),
        table: table.to_string(),
    };
    for (i, t) in record.tables.iter().enumerate() {
        if !is_table_identifier(&t.live) {
            return Err(invalid("a live table name WordPress cannot have", &t.live));
        }
        if record.tables[..i].iter().any(|e| e.live == t.live) {
            return Err(invalid("the same live table twice", &t.live));
        }
        let ids = site.into_iter().collect();
        let belongs = match (site, owner(prefix, &t.live, &ids)) {
            _ if t.live.starts_with("_wf") => false,
            (Some(s), Owner::Site(o)) => s == o,
            (None, Owner::Network(_)) => true,
            _ => false,
        };
        if !belongs {
            return Err(invalid(
                "a live table that is not one of its tables",
                &t.live,
            ));
        }
        if let Some(b) = &t.backup {
            if *b != derived(Role::Backup, &tag, &t.live) {
                return Err(invalid("a backup table name it cannot have made", b));
            }
        }
    }
    Ok(())
}

fn fnv1a32(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5u32, |h, &b| {
        (h ^ b as u32).wrapping_mul(0x0100_0193)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{SiteBackup, TableBackup};

    fn record(live: &str, backup: Option<&str>) -> SiteBackup {
        SiteBackup {
            tables: vec![TableBackup {
                live: live.into(),
                backup: backup.map(String::from),
            }],
            taken_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn backup_records_are_checked_against_what_the_migration_made() {
        let id = "env-migrate-2025-08-17T12-34-56-abc123";
        let ok = |site, live: &str, b: Option<&str>| {
            check_backup_record(id, "wp_", site, &record(live, b))
        };
        assert!(ok(Some(3), "wp_3_posts", Some("_wfb_abc123_wp_3_posts")).is_ok());
        assert!(ok(Some(3), "wp_3_posts", None).is_ok());
        assert!(ok(Some(1), "wp_options", Some("_wfb_abc123_wp_options")).is_ok());
        assert!(ok(None, "wp_sitemeta", Some("_wfb_abc123_wp_sitemeta")).is_ok());
        // A live table given as the backup, another site's table, a network
        // table under a site, another migration's backup: all refused.
        assert!(ok(None, "wp_sitemeta", Some("wp_options")).is_err());
        assert!(ok(Some(3), "wp_4_posts", None).is_err());
        assert!(ok(Some(1), "wp_sitemeta", None).is_err());
        assert!(ok(None, "wp_options", None).is_err());
        assert!(ok(Some(3), "wp_3_posts", Some("_wfb_zzz999_wp_3_posts")).is_err());
        assert!(ok(Some(1), "_wfs_abc123_wp_options", None).is_err());
        // Names WordPress cannot have, even when they start like the site's.
        assert!(ok(Some(2), "wp_2_posts` ; DROP TABLE wp_users; --", None).is_err());
        assert!(ok(Some(2), "wp_2_po'sts", None).is_err());
        assert!(ok(Some(2), "wp_2_posts.x", None).is_err());
        assert!(ok(Some(2), "wp_2_gf$form", None).is_ok());
        let twice = SiteBackup {
            tables: vec![
                TableBackup {
                    live: "wp_sitemeta".into(),
                    backup: Some("_wfb_abc123_wp_sitemeta".into()),
                },
                TableBackup {
                    live: "wp_sitemeta".into(),
                    backup: None,
                },
            ],
            taken_at: chrono::Utc::now(),
        };
        assert!(check_backup_record(id, "wp_", None, &twice).is_err());
    }

    #[test]
    fn names_are_short_unique_and_tagged() {
        assert_eq!(tag("env-migrate-2025-08-17T12-34-56-abc123"), "abc123");
        assert_eq!(
            derived(Role::Staging, "abc123", "wp_5_options"),
            "_wfs_abc123_wp_5_options"
        );
        let long_a = format!("wp_123_{}", "a".repeat(57));
        let long_b = format!("wp_123_{}b", "a".repeat(56));
        let (a, b) = (
            derived(Role::Backup, "abc123", &long_a),
            derived(Role::Backup, "abc123", &long_b),
        );
        assert!(a.chars().count() <= MAX_IDENT && b.chars().count() <= MAX_IDENT);
        assert_ne!(a, b);
        assert!(a.starts_with(&prefix(Role::Backup, "abc123")));
    }
}
