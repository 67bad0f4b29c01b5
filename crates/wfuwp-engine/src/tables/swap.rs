//! The atomic swaps: staging tables in (taking the backup once per
//! migration), and backups back out on rollback.
//!
//! Plans are computed from what exists on the target and what the state
//! recorded, so a redo after a crash at any instant converges: a backup table
//! that exists proves the original was already swapped out, so the live table
//! is this migration's own copy and must not become the "backup".

use std::collections::BTreeSet;

use chrono::Utc;
use mysql_async::prelude::*;
use mysql_async::Conn;

use crate::db::sql::ident;
use crate::ledger::TableAction;
use crate::names::{derived, Role};
use crate::state::model::{SiteBackup, TableBackup};

/// One atomic `RENAME TABLE` and the drops that follow it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Swap {
    /// `from → to` pairs, in order, executed as one statement.
    pub renames: Vec<(String, String)>,
    /// Tables dropped after the rename (swapped-out copies not worth keeping).
    pub drops: Vec<String>,
}

/// A swap-in plan plus the backup record that must be durable before it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwapIn {
    /// The statements.
    pub swap: Swap,
    /// The backup record to save first, when it differs from the recorded one.
    pub record: Option<SiteBackup>,
    /// What the swap does to each of the target's tables, for the ledger.
    pub actions: Vec<(String, TableAction)>,
}

/// Plans putting the staging copies of `lives` live.
///
/// `existing` holds every table name that exists on the target among `lives`
/// and their backup names; `recorded` is this site's backup record from the
/// state (taken by an earlier attempt of the same migration).
pub fn plan_swap_in(
    tag: &str,
    lives: &[String],
    existing: &BTreeSet<String>,
    recorded: Option<&SiteBackup>,
    keep_backup: bool,
) -> SwapIn {
    let mut tables: Vec<TableBackup> = recorded.map(|r| r.tables.clone()).unwrap_or_default();
    let mut swap = Swap::default();
    let mut changed = false;
    let mut actions = Vec::with_capacity(lives.len());
    for live in lives {
        let staging = derived(Role::Staging, tag, live);
        let live_exists = existing.contains(live);
        let entry = match tables.iter().find(|t| &t.live == live) {
            Some(e) => e.clone(),
            None if keep_backup => {
                let e = TableBackup {
                    live: live.clone(),
                    backup: live_exists.then(|| derived(Role::Backup, tag, live)),
                };
                tables.push(e.clone());
                changed = true;
                e
            }
            None => TableBackup {
                live: live.clone(),
                backup: None,
            },
        };
        actions.push((
            live.clone(),
            match (&entry.backup, keep_backup, live_exists) {
                (Some(_), _, _) => TableAction::Backup,
                (None, false, true) => TableAction::Replaced,
                (None, _, _) => TableAction::Created,
            },
        ));
        match &entry.backup {
            Some(b) if !existing.contains(b) && live_exists => {
                swap.renames.push((live.clone(), b.clone()))
            }
            _ if live_exists => {
                let trash = derived(Role::Trash, tag, live);
                swap.renames.push((live.clone(), trash.clone()));
                swap.drops.push(trash);
            }
            _ => {}
        }
        swap.renames.push((staging, live.clone()));
    }
    let record = (keep_backup && changed).then(|| SiteBackup {
        tables,
        taken_at: Utc::now(),
    });
    SwapIn {
        swap,
        record,
        actions,
    }
}

/// Plans restoring a backup: every live table swapped out and dropped, every
/// backup table put back. Already-restored tables are left alone.
pub fn plan_rollback(tag: &str, backup: &SiteBackup, existing: &BTreeSet<String>) -> Swap {
    let mut swap = Swap::default();
    for t in &backup.tables {
        match &t.backup {
            // Backup gone: this table was restored by an earlier (interrupted) rollback.
            Some(b) if !existing.contains(b) => {}
            Some(b) => {
                if existing.contains(&t.live) {
                    let trash = derived(Role::Trash, tag, &t.live);
                    swap.renames.push((t.live.clone(), trash.clone()));
                    swap.drops.push(trash);
                }
                swap.renames.push((b.clone(), t.live.clone()));
            }
            None if existing.contains(&t.live) => swap.drops.push(t.live.clone()),
            None => {}
        }
    }
    swap
}

/// Every name a swap plan may look at for `lives`: live, staging and backup names.
pub fn names_to_probe(tag: &str, lives: &[String], recorded: Option<&SiteBackup>) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for live in lives {
        names.push(live.clone());
        names.push(derived(Role::Backup, tag, live));
    }
    if let Some(r) = recorded {
        for t in &r.tables {
            names.push(t.live.clone());
            names.extend(t.backup.clone());
        }
    }
    names.sort();
    names.dedup();
    names
}

/// Which of `names` exist as tables in the connection's current database.
///
/// One `TABLE_NAME = ?` branch per name in a UNION ALL: the server answers
/// those from each table's own files, whereas `TABLE_NAME IN (…)` makes it list
/// the whole database directory (~7x the cost with 4,000 tables, and growing).
pub async fn existing_tables(
    conn: &mut Conn,
    names: &[String],
) -> mysql_async::Result<BTreeSet<String>> {
    let mut found = BTreeSet::new();
    for chunk in names.chunks(100) {
        let q = vec![
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?";
            chunk.len()
        ]
        .join(" UNION ALL ");
        let rows: Vec<String> = conn.exec(q, chunk.to_vec()).await?;
        found.extend(rows);
    }
    Ok(found)
}

/// Runs the rename as one atomic statement, then the drops.
///
/// Trash tables the rename moves tables to are dropped first: a crash between
/// an earlier rename and its drops leaves them behind, and the rename would
/// then fail with "table already exists" on every redo.
pub async fn execute(conn: &mut Conn, swap: &Swap) -> mysql_async::Result<()> {
    let stale: Vec<String> = swap
        .renames
        .iter()
        .map(|(_, to)| to)
        .filter(|to| swap.drops.contains(to))
        .cloned()
        .collect();
    drop_tables(conn, &stale).await?;
    if !swap.renames.is_empty() {
        let pairs: Vec<String> = swap
            .renames
            .iter()
            .map(|(a, b)| format!("{} TO {}", ident(a), ident(b)))
            .collect();
        conn.query_drop(format!("RENAME TABLE {}", pairs.join(", ")))
            .await?;
    }
    crate::failpoints::hit("swap_renamed");
    drop_tables(conn, &swap.drops).await
}

/// `DROP TABLE IF EXISTS` for each name (batched).
pub async fn drop_tables(conn: &mut Conn, names: &[String]) -> mysql_async::Result<()> {
    for chunk in names.chunks(200) {
        let list: Vec<String> = chunk.iter().map(|n| ident(n)).collect();
        conn.query_drop(format!("DROP TABLE IF EXISTS {}", list.join(", ")))
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn lives(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn first_swap_backs_up_existing_tables_only() {
        let plan = plan_swap_in(
            "t",
            &lives(&["wp_2_a", "wp_2_b"]),
            &set(&["wp_2_a"]),
            None,
            true,
        );
        assert_eq!(
            plan.actions,
            vec![
                ("wp_2_a".to_string(), TableAction::Backup),
                ("wp_2_b".to_string(), TableAction::Created)
            ]
        );
        let rec = plan.record.expect("record");
        assert_eq!(rec.tables[0].backup.as_deref(), Some("_wfb_t_wp_2_a"));
        assert_eq!(rec.tables[1].backup, None);
        assert_eq!(
            plan.swap.renames,
            vec![
                ("wp_2_a".into(), "_wfb_t_wp_2_a".into()),
                ("_wfs_t_wp_2_a".into(), "wp_2_a".into()),
                ("_wfs_t_wp_2_b".into(), "wp_2_b".into())
            ]
        );
        assert!(plan.swap.drops.is_empty());
    }

    #[test]
    fn redo_after_swap_keeps_the_original_backup() {
        let first = plan_swap_in(
            "t",
            &lives(&["wp_2_a", "wp_2_b"]),
            &set(&["wp_2_a"]),
            None,
            true,
        );
        let rec = first.record.unwrap();
        // Crash after the rename: backup and both live tables exist now.
        let redo = plan_swap_in(
            "t",
            &lives(&["wp_2_a", "wp_2_b"]),
            &set(&["wp_2_a", "wp_2_b", "_wfb_t_wp_2_a"]),
            Some(&rec),
            true,
        );
        assert!(redo.record.is_none());
        assert_eq!(
            redo.swap.drops,
            vec!["_wft_t_wp_2_a".to_string(), "_wft_t_wp_2_b".to_string()]
        );
        assert!(!redo
            .swap
            .renames
            .iter()
            .any(|(_, to)| to.starts_with("_wfb_")));
    }

    #[test]
    fn redo_before_swap_takes_the_backup() {
        let first = plan_swap_in("t", &lives(&["wp_2_a"]), &set(&["wp_2_a"]), None, true);
        let rec = first.record.unwrap();
        // Crash after recording, before the rename: nothing changed on the target.
        let redo = plan_swap_in(
            "t",
            &lives(&["wp_2_a"]),
            &set(&["wp_2_a"]),
            Some(&rec),
            true,
        );
        assert_eq!(
            redo.swap.renames[0],
            ("wp_2_a".into(), "_wfb_t_wp_2_a".into())
        );
    }

    #[test]
    fn without_backup_old_tables_are_dropped() {
        let plan = plan_swap_in("t", &lives(&["wp_2_a"]), &set(&["wp_2_a"]), None, false);
        assert!(plan.record.is_none());
        assert_eq!(plan.actions[0].1, TableAction::Replaced);
        assert_eq!(plan.swap.drops, vec!["_wft_t_wp_2_a".to_string()]);
    }

    #[test]
    fn rollback_restores_and_removes_created_tables_idempotently() {
        let rec = plan_swap_in(
            "t",
            &lives(&["wp_2_a", "wp_2_b"]),
            &set(&["wp_2_a"]),
            None,
            true,
        )
        .record
        .unwrap();
        let rb = plan_rollback("t", &rec, &set(&["wp_2_a", "wp_2_b", "_wfb_t_wp_2_a"]));
        assert_eq!(
            rb.renames,
            vec![
                ("wp_2_a".into(), "_wft_t_wp_2_a".into()),
                ("_wfb_t_wp_2_a".into(), "wp_2_a".into())
            ]
        );
        assert_eq!(
            rb.drops,
            vec!["_wft_t_wp_2_a".to_string(), "wp_2_b".to_string()]
        );
        // After it ran: nothing left to do.
        let again = plan_rollback("t", &rec, &set(&["wp_2_a"]));
        assert_eq!(again, Swap::default());
    }
}
