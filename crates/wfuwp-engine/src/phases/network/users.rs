//! The users of a partial migration (docs/phases.md, "Users of a partial
//! migration"): the selected sites' members and post authors are brought
//! into the target's `users` and `usermeta`, with their ids, inside the same
//! transaction as the sites' `blogs`/`blogmeta` rows.
//!
//! - A user is *needed* by site N when the source's usermeta has N's
//!   capabilities key for them (`<prefix>capabilities` for the main site,
//!   `<prefix>N_capabilities` otherwise) or when they wrote one of N's posts
//!   (`post_author`). Only users the source's `users` table holds are needed.
//! - A needed user whose id or login belongs in the target to *another* user
//!   fails every site that needs them (`data`, naming both users): those
//!   sites are not migrated at all. Users are never renumbered or renamed.
//! - Every usermeta key has a scope ([`key_scope`]): one site's, or global.
//!   A user new to the target gets their global keys and the migrated sites'
//!   keys; a user the target already has (same id and login) gets their
//!   `users` row replaced and only the migrated sites' keys replaced. Other
//!   sites' keys are never written, and `sitemeta` (`site_admins`) is never
//!   touched.
//!
//! Redo after a crash converges: which users are new is read from the
//! target's pre-migration copy of `users` (the backup), and the rows the step
//! wrote are exactly the rows it deletes first, so a redo finds the target as
//! the first attempt found it.

use std::collections::{BTreeMap, BTreeSet};

use mysql_async::prelude::*;
use mysql_async::{Conn, Transaction};

use super::{insert_staged, stage_table};
use crate::db::discovery::Inventory;
use crate::db::roles;
use crate::db::sql::{ident, RowFilter};
use crate::failpoints;
use crate::names::{derived, Role};
use crate::phases::engine::Engine;
use crate::phases::errors::SiteError;
use crate::scope;
use crate::sites::SiteId;
use crate::state::model::{ErrorKind, Leftovers};
use crate::state::MigrationOptions;
use crate::tables::swap::{drop_tables, existing_tables};

/// Whose a usermeta key is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum KeyScope {
    /// Not tied to a site (`nickname`, `first_name`, `session_tokens`, …).
    Global,
    /// Site N's (`get_user_option` keys: `<prefix>N_…`, the main site's
    /// `<prefix>…`).
    Site(SiteId),
}

/// The scope of usermeta key `key` in a network with table prefix `prefix`,
/// as WordPress's blog prefixes define it: `<prefix><N>_…` with N ≥ 2 is site
/// N's (whether or not N exists: a deleted site's keys are never another
/// site's), any other key starting with `<prefix>` is the main site's
/// (`<prefix>capabilities`, but also `<prefix>2fa_…`), the rest is global.
pub fn key_scope(prefix: &str, key: &str) -> KeyScope {
    let Some(rest) = key.strip_prefix(prefix) else {
        return KeyScope::Global;
    };
    if let Some((digits, tail)) = rest.split_once('_') {
        if !digits.is_empty() && !tail.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(id) = digits.parse::<SiteId>() {
                if id >= 2 {
                    return KeyScope::Site(id);
                }
            }
        }
    }
    KeyScope::Site(1)
}

/// Whether a migration with these options brings the selected sites' users along.
pub fn carries_users(o: &MigrationOptions) -> bool {
    scope::is_partial(o) && !o.no_users && !o.sites_only && !o.include_users
}

/// The tables the step writes (and keeps backups of).
pub fn table_names(prefix: &str) -> Vec<String> {
    vec![format!("{prefix}users"), format!("{prefix}usermeta")]
}

/// The capabilities key that makes a user a member of `site`.
fn capabilities_key(prefix: &str, site: SiteId) -> String {
    if site == 1 {
        format!("{prefix}capabilities")
    } else {
        format!("{prefix}{site}_capabilities")
    }
}

/// A needed source user whose id or login another target user holds.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Clash {
    /// The source user's ID.
    pub source_id: u64,
    /// The source user's login (after replacement).
    pub source_login: String,
    /// The target user in the way.
    pub target_id: u64,
    /// Their login.
    pub target_login: String,
}

/// The message a site fails with when its users clash with the target's.
pub fn clash_message(site: SiteId, target_env: &str, clashes: &[Clash]) -> String {
    let each: Vec<String> = clashes
        .iter()
        .map(|c| {
            let what = if c.source_id == c.target_id {
                format!("ID {} is taken by user '{}'", c.target_id, c.target_login)
            } else {
                format!(
                    "login '{}' is taken by user ID {}",
                    c.target_login, c.target_id
                )
            };
            format!(
                "source user ID {} '{}': in {target_env}, {what}",
                c.source_id, c.source_login
            )
        })
        .collect();
    format!(
        "site {site} was not migrated: its users cannot be brought along ({}). wfuwp never renumbers or renames users. \
         Make the two agree (rename, renumber or delete the {target_env} user), then run \
         `wfuwp env-migrate --resume <ID> --retry-failed`; or migrate the site without its users (a new migration with --no-users)",
        each.join("; ")
    )
}

/// What [`prepare`] decided, with the staging tables filled accordingly.
#[derive(Debug, Default)]
pub struct Prepared {
    /// Sites whose users clash, with the message to fail them with.
    pub failed: Vec<(SiteId, String)>,
    /// Sites that go in (their keys are written).
    pub ok: Vec<SiteId>,
    /// Users brought along (needed by an `ok` site and present in the source).
    brought: BTreeSet<u64>,
    /// Of those, the ones the target did not have before this migration.
    new: BTreeSet<u64>,
}

/// Finds the users the sites `ids` need, fails sites whose users clash with
/// the target's, and leaves in staging exactly the `users` and `usermeta`
/// rows to write (replacements applied, as for every copied row), adding
/// what of the source those rows still mention to `found`.
pub async fn prepare(
    engine: &Engine,
    source: &mut Conn,
    target: &mut Conn,
    ids: &[SiteId],
    found: &mut Leftovers,
) -> Result<Prepared, SiteError> {
    let prefix = engine.inventory.prefix.clone();
    let (users, usermeta) = (format!("{prefix}users"), format!("{prefix}usermeta"));
    if !engine.inventory.tables.contains_key(&users)
        || !engine.inventory.tables.contains_key(&usermeta)
    {
        // Nothing to bring: a source without users tables is not a usable
        // WordPress, but it is not this step's to refuse.
        return Ok(Prepared {
            ok: ids.to_vec(),
            ..Prepared::default()
        });
    }
    let (s_users, s_meta) = (
        derived(Role::Staging, &engine.tag, &users),
        derived(Role::Staging, &engine.tag, &usermeta),
    );
    drop_tables(target, &[s_users.clone(), s_meta.clone()]).await?;
    roles::begin_snapshot(source).await?;
    let needs = needed_users(&engine.inventory, source, &usermeta, ids).await?;
    let candidates: BTreeSet<u64> = needs.values().flatten().copied().collect();
    engine.session.log(&format!(
        "network: copying {users} and {usermeta} ({} users needed by the selected sites)",
        candidates.len()
    ));
    for (live, staging, key) in [(&users, &s_users, "ID"), (&usermeta, &s_meta, "user_id")] {
        let filter = RowFilter::ids(key, candidates.iter().copied());
        found.merge(stage_table(engine, source, target, (live, staging), Some(&filter)).await?);
    }
    source.query_drop("COMMIT").await?;

    let clashes = clashes(target, &users, &s_users).await?;
    let mut out = Prepared::default();
    for (&site, needed) in &needs {
        let theirs: Vec<Clash> = clashes
            .iter()
            .filter(|c| needed.contains(&c.source_id))
            .cloned()
            .collect();
        if theirs.is_empty() {
            out.ok.push(site);
        } else {
            out.failed
                .push((site, clash_message(site, &engine.target.env, &theirs)));
        }
    }
    let present: BTreeSet<u64> = target
        .query::<u64, _>(format!("SELECT ID FROM {}", ident(&s_users)))
        .await?
        .into_iter()
        .collect();
    out.brought = out
        .ok
        .iter()
        .flat_map(|s| needs[s].iter().copied())
        .filter(|u| present.contains(u))
        .collect();
    out.new = new_users(engine, target, &users, &out.brought).await?;
    for o in orphaned_meta(target, &prefix, &out.new, &out.ok).await? {
        let line = o.describe(&engine.target.env);
        engine.session.log(&format!("network: {line}"));
        engine.warn(line);
    }
    prune_staging(target, &prefix, &s_users, &s_meta, &out).await?;
    failpoints::hit("users_staged");
    Ok(out)
}

/// The users each of `ids` needs in the source: members and post authors.
async fn needed_users(
    inventory: &Inventory,
    source: &mut Conn,
    usermeta: &str,
    ids: &[SiteId],
) -> Result<BTreeMap<SiteId, BTreeSet<u64>>, SiteError> {
    let prefix = &inventory.prefix;
    let mut needs: BTreeMap<SiteId, BTreeSet<u64>> =
        ids.iter().map(|&s| (s, BTreeSet::new())).collect();
    let by_key: BTreeMap<String, SiteId> = ids
        .iter()
        .map(|&s| (capabilities_key(prefix, s), s))
        .collect();
    let filter = RowFilter::default().and_texts("meta_key", by_key.keys().cloned());
    let members: Vec<(u64, String)> = source
        .query(format!(
            "SELECT DISTINCT user_id, meta_key FROM {} WHERE {}",
            ident(usermeta),
            filter.sql()
        ))
        .await?;
    for (user, key) in members {
        if let Some(site) = by_key.get(&key) {
            needs.entry(*site).or_default().insert(user);
        }
    }
    for &site in ids {
        let posts = if site == 1 {
            format!("{prefix}posts")
        } else {
            format!("{prefix}{site}_posts")
        };
        if !inventory.tables.contains_key(&posts) {
            continue;
        }
        let authors: Vec<u64> = source
            .query(format!(
                "SELECT DISTINCT post_author FROM {} WHERE post_author <> 0",
                ident(&posts)
            ))
            .await?;
        needs.entry(site).or_default().extend(authors);
    }
    Ok(needs)
}

/// Staged users whose id or login another user of the target holds. The
/// server compares the logins, with the column's collation, as WordPress's
/// own lookups do.
async fn clashes(target: &mut Conn, users: &str, staging: &str) -> Result<Vec<Clash>, SiteError> {
    let rows: Vec<(u64, String, u64, String)> = target
        .query(format!(
            "SELECT s.ID, s.user_login, l.ID, l.user_login FROM {s} s JOIN {l} l \
             ON l.ID = s.ID OR l.user_login = s.user_login \
             WHERE NOT (l.ID = s.ID AND l.user_login = s.user_login) ORDER BY s.ID, l.ID",
            s = ident(staging),
            l = ident(users)
        ))
        .await?;
    Ok(rows
        .into_iter()
        .map(|(source_id, source_login, target_id, target_login)| Clash {
            source_id,
            source_login,
            target_id,
            target_login,
        })
        .collect())
}

/// Rows of the target's usermeta whose user_id no user of the target has
/// (left behind by a deleted user), for an id this migration brings in as a
/// new user, that the migration does not replace: keys of sites it does not
/// migrate. The new user takes them over: a `<prefix>N_capabilities` among
/// them makes them a member of site N.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrphanedMeta {
    /// The user id.
    pub user_id: u64,
    /// The keys of those rows.
    pub keys: Vec<String>,
}

impl OrphanedMeta {
    /// For people.
    pub fn describe(&self, target_env: &str) -> String {
        format!(
            "{target_env}'s usermeta has {} of user ID {} without a user ({}); this migration brings in a \
             user with that ID, who takes them over (a *_capabilities key makes them a member of that site). \
             Delete those rows first if they are not meant for this user",
            crate::report::count(self.keys.len() as u64, "row"),
            self.user_id,
            self.keys.join(", ")
        )
    }
}

/// [`OrphanedMeta`] of the users in `new`, when the sites `ok` are migrated.
async fn orphaned_meta(
    target: &mut Conn,
    prefix: &str,
    new: &BTreeSet<u64>,
    ok: &[SiteId],
) -> Result<Vec<OrphanedMeta>, SiteError> {
    if new.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<(u64, Option<String>)> = target
        .query(format!(
            "SELECT user_id, meta_key FROM {} WHERE {} ORDER BY user_id, umeta_id",
            ident(&format!("{prefix}usermeta")),
            RowFilter::ids("user_id", new.iter().copied()).sql()
        ))
        .await?;
    let mut by_user: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for (user, key) in rows {
        // Global keys and the migrated sites' keys are replaced (deleted
        // first), whether or not the source has them.
        if let Some(KeyScope::Site(site)) = key.as_deref().map(|k| key_scope(prefix, k)) {
            if !ok.contains(&site) {
                by_user
                    .entry(user)
                    .or_default()
                    .push(key.unwrap_or_default());
            }
        }
    }
    Ok(by_user
        .into_iter()
        .map(|(user_id, keys)| OrphanedMeta { user_id, keys })
        .collect())
}

/// For a plan (`--dry-run`): the [`OrphanedMeta`] a partial migration of
/// `ids` with their users would leave to the users it brings in. Read-only.
pub async fn planned_orphaned_meta(
    inventory: &Inventory,
    source: &mut Conn,
    target: &mut Conn,
    ids: &[SiteId],
) -> Result<Vec<OrphanedMeta>, SiteError> {
    let prefix = &inventory.prefix;
    let (users, usermeta) = (format!("{prefix}users"), format!("{prefix}usermeta"));
    let in_target = existing_tables(target, &[users.clone(), usermeta.clone()]).await?;
    if !inventory.tables.contains_key(&users)
        || !inventory.tables.contains_key(&usermeta)
        || in_target.len() < 2
    {
        return Ok(Vec::new());
    }
    let needs = needed_users(inventory, source, &usermeta, ids).await?;
    let candidates = RowFilter::ids("ID", needs.values().flatten().copied());
    let select = format!(
        "SELECT ID FROM {} WHERE {}",
        ident(&users),
        candidates.sql()
    );
    let present: BTreeSet<u64> = source
        .query::<u64, _>(select.as_str())
        .await?
        .into_iter()
        .collect();
    let had: BTreeSet<u64> = target
        .query::<u64, _>(select.as_str())
        .await?
        .into_iter()
        .collect();
    let new: BTreeSet<u64> = present.difference(&had).copied().collect();
    orphaned_meta(target, prefix, &new, ids).await
}

/// Which of `brought` are new to the target: not in its `users` now, or
/// not in it before this migration. The backup copy of `users` says which
/// ids the target had before, so a redo after a crash does not take the
/// users an earlier attempt inserted for the target's own; the live table
/// says which it still has (an operator may have moved one out of the way
/// before a retry). Without a backup (`--skip-backup`) only live counts.
async fn new_users(
    engine: &Engine,
    target: &mut Conn,
    users: &str,
    brought: &BTreeSet<u64>,
) -> Result<BTreeSet<u64>, SiteError> {
    let backup = derived(Role::Backup, &engine.tag, users);
    let mut sources = vec![users.to_string()];
    if existing_tables(target, std::slice::from_ref(&backup))
        .await?
        .contains(&backup)
    {
        sources.push(backup);
    }
    let mut had = brought.clone();
    for table in &sources {
        let here: BTreeSet<u64> = target
            .query::<u64, _>(format!(
                "SELECT ID FROM {} WHERE {}",
                ident(table),
                RowFilter::ids("ID", brought.iter().copied()).sql()
            ))
            .await?
            .into_iter()
            .collect();
        had = had.intersection(&here).copied().collect();
    }
    Ok(brought.difference(&had).copied().collect())
}

/// Whether a usermeta row of `user` with `key` is written (and so first
/// deleted) by the step: the migrated sites' keys of every brought user,
/// and every key of a new user that is not another site's.
/// A NULL key (the column allows it) is nobody's site's: global.
fn is_written(prefix: &str, p: &Prepared, user: u64, key: Option<&str>) -> bool {
    if !p.brought.contains(&user) {
        return false;
    }
    match key.map_or(KeyScope::Global, |k| key_scope(prefix, k)) {
        KeyScope::Site(s) => p.ok.contains(&s),
        KeyScope::Global => p.new.contains(&user),
    }
}

/// Leaves in staging only the rows the step writes.
async fn prune_staging(
    target: &mut Conn,
    prefix: &str,
    s_users: &str,
    s_meta: &str,
    p: &Prepared,
) -> Result<(), SiteError> {
    let keep_users = RowFilter::ids("ID", p.brought.iter().copied());
    target
        .query_drop(format!(
            "DELETE FROM {} WHERE NOT ({})",
            ident(s_users),
            keep_users.sql()
        ))
        .await?;
    let rows: Vec<(u64, u64, Option<String>)> = target
        .query(format!(
            "SELECT umeta_id, user_id, meta_key FROM {}",
            ident(s_meta)
        ))
        .await?;
    let keep = rows
        .iter()
        .filter(|(_, user, key)| is_written(prefix, p, *user, key.as_deref()))
        .map(|(id, _, _)| *id);
    target
        .query_drop(format!(
            "DELETE FROM {} WHERE NOT ({})",
            ident(s_meta),
            RowFilter::ids("umeta_id", keep).sql()
        ))
        .await?;
    Ok(())
}

/// Writes the staged users and usermeta rows inside the network phase's
/// transaction: the rows the step owns are deleted first (see `is_written`),
/// then the staged ones inserted, colliding `umeta_id`s renumbered as for
/// `blogmeta`.
pub async fn apply(
    tx: &mut Transaction<'_>,
    engine: &Engine,
    p: &Prepared,
) -> Result<(), SiteError> {
    let prefix = &engine.inventory.prefix;
    let (users, usermeta) = (format!("{prefix}users"), format!("{prefix}usermeta"));
    if p.brought.is_empty() {
        return Ok(());
    }
    let ids = RowFilter::ids("ID", p.brought.iter().copied());
    tx.query_drop(format!("DELETE FROM {} WHERE {}", ident(&users), ids.sql()))
        .await?;
    insert_staged(tx, engine, &users, "ID").await?;
    let rows: Vec<(u64, u64, Option<String>)> = tx
        .query(format!(
            "SELECT umeta_id, user_id, meta_key FROM {} WHERE {}",
            ident(&usermeta),
            RowFilter::ids("user_id", p.brought.iter().copied()).sql()
        ))
        .await?;
    let owned = rows
        .iter()
        .filter(|(_, user, key)| is_written(prefix, p, *user, key.as_deref()))
        .map(|(id, _, _)| *id);
    tx.query_drop(format!(
        "DELETE FROM {} WHERE {}",
        ident(&usermeta),
        RowFilter::ids("umeta_id", owned).sql()
    ))
    .await?;
    insert_staged(tx, engine, &usermeta, "user_id").await?;
    Ok(())
}

/// Fails the sites `prepare` found clashing, so that neither this phase nor
/// the sites phase migrates them (a resume with --retry-failed checks again).
pub fn fail_sites(engine: &Engine, p: &Prepared) -> Result<(), SiteError> {
    for (site, msg) in &p.failed {
        engine.warn(msg);
        engine
            .session
            .site_started(*site)
            .and_then(|()| engine.session.site_failed(*site, ErrorKind::Data, msg))
            .map_err(|e| {
                SiteError::permanent(
                    ErrorKind::Internal,
                    format!("recording that site {site} failed: {e:#}"),
                )
            })?;
    }
    failpoints::hit("users_checked");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_belong_to_the_site_whose_blog_prefix_they_carry() {
        assert_eq!(key_scope("wp_", "nickname"), KeyScope::Global);
        assert_eq!(key_scope("wp_", "primary_blog"), KeyScope::Global);
        assert_eq!(key_scope("wp_", "wp_capabilities"), KeyScope::Site(1));
        assert_eq!(key_scope("wp_", "wp_user_level"), KeyScope::Site(1));
        assert_eq!(key_scope("wp_", "wp_2_capabilities"), KeyScope::Site(2));
        assert_eq!(key_scope("wp_", "wp_43_user-settings"), KeyScope::Site(43));
        // Not a blog prefix: digits not followed by `_`, or site "1".
        assert_eq!(key_scope("wp_", "wp_2fa_secret"), KeyScope::Site(1));
        assert_eq!(key_scope("wp_", "wp_1_x"), KeyScope::Site(1));
        assert_eq!(key_scope("wp_", "wp_7_"), KeyScope::Site(1));
        // Another prefix's keys are not this network's sites'.
        assert_eq!(key_scope("wpx_", "wp_2_capabilities"), KeyScope::Global);
        assert_eq!(key_scope("wpx_", "wpx_2_capabilities"), KeyScope::Site(2));
    }

    #[test]
    fn members_are_found_by_the_sites_capabilities_key() {
        assert_eq!(capabilities_key("wp_", 1), "wp_capabilities");
        assert_eq!(capabilities_key("wp_", 12), "wp_12_capabilities");
    }

    fn prepared(ok: &[SiteId], brought: &[u64], new: &[u64]) -> Prepared {
        Prepared {
            failed: Vec::new(),
            ok: ok.to_vec(),
            brought: brought.iter().copied().collect(),
            new: new.iter().copied().collect(),
        }
    }

    #[test]
    fn new_users_get_global_keys_existing_ones_only_the_sites_keys() {
        let p = prepared(&[2, 4], &[7, 8], &[8]);
        // Existing user 7: the migrated sites' keys only.
        assert!(is_written("wp_", &p, 7, Some("wp_2_capabilities")));
        assert!(is_written("wp_", &p, 7, Some("wp_4_user_level")));
        assert!(!is_written("wp_", &p, 7, Some("nickname")));
        assert!(!is_written("wp_", &p, 7, Some("wp_3_capabilities")));
        assert!(!is_written("wp_", &p, 7, Some("wp_capabilities")));
        // New user 8: global keys too, never another site's.
        assert!(is_written("wp_", &p, 8, Some("nickname")));
        assert!(is_written("wp_", &p, 8, Some("wp_2_capabilities")));
        assert!(!is_written("wp_", &p, 8, Some("wp_3_capabilities")));
        assert!(!is_written("wp_", &p, 8, Some("wp_capabilities")));
        // A user not brought: nothing.
        assert!(!is_written("wp_", &p, 9, Some("wp_2_capabilities")));
        assert!(is_written("wp_", &p, 8, None));
        assert!(!is_written("wp_", &p, 7, None));
        let main = prepared(&[1], &[8], &[8]);
        assert!(is_written("wp_", &main, 8, Some("wp_capabilities")));
        assert!(!is_written("wp_", &main, 8, Some("wp_2_capabilities")));
    }

    #[test]
    fn a_clash_names_both_users_and_the_way_out() {
        let m = clash_message(
            5,
            "uat",
            &[
                Clash {
                    source_id: 12,
                    source_login: "alice".into(),
                    target_id: 12,
                    target_login: "bob".into(),
                },
                Clash {
                    source_id: 13,
                    source_login: "carol".into(),
                    target_id: 40,
                    target_login: "carol".into(),
                },
            ],
        );
        for part in [
            "site 5 was not migrated",
            "source user ID 12 'alice': in uat, ID 12 is taken by user 'bob'",
            "source user ID 13 'carol': in uat, login 'carol' is taken by user ID 40",
            "--retry-failed",
            "--no-users",
        ] {
            assert!(m.contains(part), "{part} missing from: {m}");
        }
    }

    #[test]
    fn only_partial_migrations_carry_users() {
        let mut o = MigrationOptions::default();
        assert!(!carries_users(&o));
        o.include_sites = Some("2".parse().unwrap());
        assert!(carries_users(&o));
        o.no_users = true;
        assert!(!carries_users(&o));
        o.no_users = false;
        o.sites_only = true;
        assert!(!carries_users(&o));
    }
}
