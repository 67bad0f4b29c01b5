//! Size estimates of tables (rows, data + index bytes): the plan's figures and
//! the backup space a migration holds.
//!
//! `information_schema.TABLES` has them, but to fill its size columns the
//! server opens every table it lists: about 5 s per 16,000 tables, paid for
//! the source and the target in every preflight and again in cleanup. InnoDB
//! keeps the very same figures in its persistent statistics
//! (`mysql.innodb_table_stats`), one cheap query for a whole database. Only
//! the tables without a row there (other engines, statistics switched off,
//! no privilege on `mysql`) are asked of information_schema, by name.

use std::collections::{BTreeMap, BTreeSet};

use mysql_async::prelude::*;
use mysql_async::Conn;

/// How big a table is, as the server estimates it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Estimate {
    /// Rows (InnoDB's estimate; exact counts come from the copy).
    pub rows: u64,
    /// Data + index bytes.
    pub bytes: u64,
}

/// Names per information_schema query for the tables statistics miss.
const NAMES_PER_QUERY: usize = 500;

/// Estimates for `tables` of database `db`; a table the server no longer
/// has is left out.
pub async fn estimates(
    conn: &mut Conn,
    db: &str,
    tables: &[String],
) -> mysql_async::Result<BTreeMap<String, Estimate>> {
    let wanted: BTreeSet<&str> = tables.iter().map(String::as_str).collect();
    let mut found = innodb_statistics(conn, db).await?;
    found.retain(|name, _| wanted.contains(name.as_str()));
    let missing: Vec<&String> = tables.iter().filter(|t| !found.contains_key(*t)).collect();
    for chunk in missing.chunks(NAMES_PER_QUERY) {
        found.extend(from_information_schema(conn, db, chunk).await?);
    }
    Ok(found)
}

/// The sum of the bytes of `tables` (0 for tables the server no longer has).
pub async fn total_bytes(conn: &mut Conn, db: &str, tables: &[String]) -> mysql_async::Result<u64> {
    Ok(estimates(conn, db, tables)
        .await?
        .values()
        .map(|e| e.bytes)
        .sum())
}

/// Every table of `db` InnoDB has persistent statistics for; empty when the
/// server refuses to show them (no privilege, no such table).
async fn innodb_statistics(
    conn: &mut Conn,
    db: &str,
) -> mysql_async::Result<BTreeMap<String, Estimate>> {
    let rows: Result<Vec<(String, u64, u64)>, _> = conn
        .exec(
            "SELECT table_name, n_rows, \
                    CAST((clustered_index_size + sum_of_other_index_sizes) * @@innodb_page_size AS UNSIGNED) \
             FROM mysql.innodb_table_stats WHERE database_name = ?",
            (db,),
        )
        .await;
    match rows {
        Ok(rows) => Ok(rows
            .into_iter()
            .map(|(name, rows, bytes)| (name, Estimate { rows, bytes }))
            .collect()),
        // Refused or absent: information_schema answers for every table.
        Err(mysql_async::Error::Server(_)) => Ok(BTreeMap::new()),
        Err(e) => Err(e),
    }
}

async fn from_information_schema(
    conn: &mut Conn,
    db: &str,
    tables: &[&String],
) -> mysql_async::Result<BTreeMap<String, Estimate>> {
    let marks = vec!["?"; tables.len()].join(", ");
    let mut params: Vec<mysql_async::Value> = vec![db.into()];
    params.extend(tables.iter().map(|t| t.as_str().into()));
    let rows: Vec<(String, u64, u64)> = conn
        .exec(
            format!(
                "SELECT TABLE_NAME, IFNULL(TABLE_ROWS, 0), \
                        CAST(IFNULL(DATA_LENGTH, 0) + IFNULL(INDEX_LENGTH, 0) AS UNSIGNED) \
                 FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME IN ({marks})"
            ),
            params,
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|(name, rows, bytes)| (name, Estimate { rows, bytes }))
        .collect())
}
