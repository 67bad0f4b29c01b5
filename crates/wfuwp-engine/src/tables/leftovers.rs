//! Tables a migration leaves on the target besides the live ones: leftover
//! staging and trash tables, backups (the newest migration per target keeps
//! its own), the space they hold, and statements of killed runs still
//! working on them. The cleanup phase and rollback use these.

use mysql_async::prelude::*;
use mysql_async::Conn;

use super::swap::drop_tables;
use crate::db::sql;
use crate::names::{any_prefix, prefix, Role};

/// Every table of the current database whose name starts with `prefix`.
pub async fn tables_with_prefix(conn: &mut Conn, prefix: &str) -> mysql_async::Result<Vec<String>> {
    conn.exec(
        format!(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() \
             AND TABLE_NAME LIKE CONCAT(?, '%') ESCAPE '{}'",
            sql::LIKE_ESCAPE
        ),
        (sql::like_literal(prefix),),
    )
    .await
}

/// Drops this migration's staging and trash tables; returns how many.
pub async fn drop_leftovers(conn: &mut Conn, tag: &str) -> mysql_async::Result<usize> {
    let mut names = tables_with_prefix(conn, &prefix(Role::Staging, tag)).await?;
    names.extend(tables_with_prefix(conn, &prefix(Role::Trash, tag)).await?);
    drop_tables(conn, &names).await?;
    Ok(names.len())
}

/// Drops every migration's staging and trash tables; returns how many.
/// Only while holding the target's server lock: no other run is at work,
/// and a paused run redoes its staging copies from scratch anyway, so what
/// abandoned or unknown migrations left behind never stays on the target.
pub async fn drop_all_leftovers(conn: &mut Conn) -> mysql_async::Result<usize> {
    let mut names = tables_with_prefix(conn, any_prefix(Role::Staging)).await?;
    names.extend(tables_with_prefix(conn, any_prefix(Role::Trash)).await?);
    drop_tables(conn, &names).await?;
    Ok(names.len())
}

/// Drops the backup tables of every other migration on this target (a later
/// migration completed, so theirs are superseded); returns how many.
pub async fn drop_superseded_backups(conn: &mut Conn, tag: &str) -> mysql_async::Result<usize> {
    let ours = prefix(Role::Backup, tag);
    let names: Vec<String> = tables_with_prefix(conn, any_prefix(Role::Backup))
        .await?
        .into_iter()
        .filter(|t| !t.starts_with(&ours))
        .collect();
    drop_tables(conn, &names).await?;
    Ok(names.len())
}

/// Bytes (data + indexes) held by this migration's backup tables in `db`
/// (the connection's database).
pub async fn backup_bytes(conn: &mut Conn, db: &str, tag: &str) -> mysql_async::Result<u64> {
    let ours = tables_with_prefix(conn, &prefix(Role::Backup, tag)).await?;
    crate::db::sizes::total_bytes(conn, db, &ours).await
}

/// Waits until no other connection is still running a statement on this
/// migration's tables; returns how many it had to stop.
///
/// A SIGKILLed client does not stop its statement: the server finishes it.
/// A RENAME sent by a killed run can thus land after the next run looked at
/// which tables exist, and that run's plan (rollback, network backup copy)
/// then fails with "table doesn't exist" / "already exists". Such leftovers
/// belong to dead processes (the migration lock is ours), so they are killed
/// (RENAME is atomic) and waited for. Call before the first look at tables.
pub async fn settle_orphans(conn: &mut Conn, tag: &str) -> mysql_async::Result<usize> {
    let markers: Vec<String> = [Role::Staging, Role::Backup, Role::Trash]
        .iter()
        .map(|r| prefix(*r, tag))
        .collect();
    let sql = "SELECT ID FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() AND INFO IS NOT NULL \
               AND (INSTR(INFO, ?) > 0 OR INSTR(INFO, ?) > 0 OR INSTR(INFO, ?) > 0)";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut killed = std::collections::BTreeSet::new();
    loop {
        let ids: Vec<u64> = conn.exec(sql, markers.clone()).await?;
        if ids.is_empty() || std::time::Instant::now() >= deadline {
            return Ok(killed.len());
        }
        for id in ids {
            if killed.insert(id) {
                // It may have ended meanwhile ("unknown thread id"): fine.
                let _ = conn.query_drop(format!("KILL {id}")).await;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
