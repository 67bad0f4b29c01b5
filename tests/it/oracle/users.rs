//! The users a partial migration brings, worked out here from the rules in
//! docs/phases.md ("Users of a partial migration"), from the source's rows
//! and the target's rows before the run; none of the engine's code is used.

use std::collections::{BTreeMap, BTreeSet};

use super::{raw_rows, RawRow};
use crate::support::{q, TestDb};

/// What the users step must do for a selection of sites.
#[derive(Debug, Clone, Default)]
pub struct UsersPlan {
    /// Sites that need a user who clashes with a target user: not migrated.
    pub failed_sites: BTreeSet<u64>,
    /// Users whose rows the migration writes (needed by a site that goes in).
    pub brought: BTreeSet<u64>,
    /// Brought users the target did not have.
    pub new: BTreeSet<u64>,
}

/// The site a usermeta key belongs to: `wp_<N>_…` with N ≥ 2 is site N's,
/// any other `wp_…` key the main site's, every other key (or none) global.
pub fn key_scope(key: Option<&[u8]>) -> Option<u64> {
    let rest = key?.strip_prefix(b"wp_")?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let site = std::str::from_utf8(&rest[..digits])
        .ok()
        .and_then(|d| d.parse::<u64>().ok())
        .filter(|&n| n >= 2 && rest.get(digits) == Some(&b'_'));
    Some(site.unwrap_or(1))
}

/// Whether the step owns a usermeta row of `user` with `key`: a brought
/// user's keys of the sites that go in, and a new user's global keys.
pub fn owned(plan: &UsersPlan, migrated: &BTreeSet<u64>, user: u64, key: Option<&[u8]>) -> bool {
    plan.brought.contains(&user)
        && match key_scope(key) {
            Some(site) => migrated.contains(&site),
            None => plan.new.contains(&user),
        }
}

/// Users needed by `selected` sites in `source`, which of those clash with
/// `target_users` (ID → login, the target before the run), and what follows.
pub fn plan(
    source: &TestDb,
    selected: &BTreeSet<u64>,
    target_users: &BTreeMap<u64, String>,
) -> UsersPlan {
    let logins: BTreeMap<u64, String> = source
        .query::<(u64, String)>("SELECT ID, user_login FROM wp_users")
        .into_iter()
        .collect();
    let meta: Vec<(u64, Option<Vec<u8>>)> =
        source.query("SELECT user_id, meta_key FROM wp_usermeta");
    let tables: BTreeSet<String> = source.tables().into_iter().collect();
    let mut needs: BTreeMap<u64, BTreeSet<u64>> = BTreeMap::new();
    for &site in selected {
        let prefix = if site == 1 {
            "wp_".to_string()
        } else {
            format!("wp_{site}_")
        };
        let caps = format!("{prefix}capabilities").into_bytes();
        let mut users: BTreeSet<u64> = meta
            .iter()
            .filter(|(_, k)| k.as_deref() == Some(caps.as_slice()))
            .map(|(u, _)| *u)
            .collect();
        let posts = format!("{prefix}posts");
        if tables.contains(&posts) {
            users.extend(source.query::<u64>(&format!(
                "SELECT DISTINCT post_author FROM {} WHERE post_author <> 0",
                q(&posts)
            )));
        }
        users.retain(|u| logins.contains_key(u));
        needs.insert(site, users);
    }
    let clashes = |user: &u64| {
        let login = &logins[user];
        target_users
            .get(user)
            .is_some_and(|l| l.to_lowercase() != login.to_lowercase())
            || target_users
                .iter()
                .any(|(id, l)| id != user && l.to_lowercase() == login.to_lowercase())
    };
    let failed_sites: BTreeSet<u64> = needs
        .iter()
        .filter(|(_, users)| users.iter().any(clashes))
        .map(|(site, _)| *site)
        .collect();
    let brought: BTreeSet<u64> = needs
        .iter()
        .filter(|(site, _)| !failed_sites.contains(site))
        .flat_map(|(_, users)| users.iter().copied())
        .collect();
    let new = brought
        .iter()
        .filter(|u| !target_users.contains_key(u))
        .copied()
        .collect();
    UsersPlan {
        failed_sites,
        brought,
        new,
    }
}

/// Every row of `table` in `db`, raw, ordered by `order`.
pub fn rows(db: &TestDb, table: &str, order: &str) -> Vec<RawRow> {
    raw_rows(db, &format!("SELECT * FROM {} ORDER BY {order}", q(table)))
}
