//! Connections set up for their role in a migration: reading the source,
//! writing the target, or killing another connection's queries.

use mysql_async::prelude::*;
use mysql_async::{Conn, Opts, OptsBuilder};

pub use super::connect::open;

/// The largest packet the MySQL protocol carries (1 GiB).
const PROTOCOL_MAX_PACKET: usize = 1 << 30;

/// A connection reading the source: results arrive as the stored bytes (no
/// charset conversion), and the server waits patiently while we write.
///
/// The driver takes the server's `max_allowed_packet` as the largest packet
/// it accepts, but a server sends rows larger than that (a value stored
/// while the setting was higher): the reading side accepts any packet, so
/// that such a row reaches the copy, which names its table, key and size
/// when the target cannot take it (docs/managed.md).
pub async fn source(opts: &Opts) -> mysql_async::Result<Conn> {
    let opts: Opts = OptsBuilder::from_opts(opts.clone())
        .max_allowed_packet(Some(PROTOCOL_MAX_PACKET))
        .into();
    let mut conn = open(&opts).await?;
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
