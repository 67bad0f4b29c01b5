//! Connections set up for their role in a migration: reading the source,
//! writing the target, or killing another connection's queries.

use mysql_async::prelude::*;
use mysql_async::{Conn, Opts};

pub use super::connect::open;

/// A connection reading the source: results arrive as the stored bytes (no
/// charset conversion), and the server waits patiently while we write.
pub async fn source(opts: &Opts) -> mysql_async::Result<Conn> {
    let mut conn = open(opts).await?;
    conn.query_drop(
        "SET SESSION character_set_results = binary, net_write_timeout = 3600, net_read_timeout = 3600",
    )
    .await?;
    conn.query_drop("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        .await?;
    Ok(conn)
}

/// A connection writing the target: bytes taken as they are, zero values and
/// ids kept (as mysqldump's own session settings do), no per-row key checks.
pub async fn target(opts: &Opts) -> mysql_async::Result<Conn> {
    let mut conn = open(opts).await?;
    conn.query_drop(
        "SET NAMES binary, SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO', foreign_key_checks = 0, unique_checks = 0, \
         net_read_timeout = 3600, net_write_timeout = 3600",
    )
    .await?;
    Ok(conn)
}

/// Opens a consistent snapshot on a source connection.
pub async fn begin_snapshot(conn: &mut Conn) -> mysql_async::Result<()> {
    conn.query_drop("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
        .await
}

/// Kills connection `id` on the server behind `opts` (best effort: it may be gone).
pub async fn kill(opts: &Opts, id: u32) {
    if let Ok(mut admin) = open(opts).await {
        let _ = admin.query_drop(format!("KILL CONNECTION {id}")).await;
        let _ = admin.disconnect().await;
    }
}
