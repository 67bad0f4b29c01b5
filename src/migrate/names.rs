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

fn fnv1a32(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5u32, |h, &b| {
        (h ^ b as u32).wrapping_mul(0x0100_0193)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
