//! Writing the ledger: created on first use, a run's migration row, and the
//! rows each swap writes before and after it goes live.

use mysql_async::prelude::*;
use mysql_async::{Conn, Value};

use super::{kind, Begin, LedgerError, RowState, TableAction, CREATE, NETWORK};
use crate::sites::SiteId;
use crate::state::{MigrationOptions, MigrationStatus};

/// Creates the ledger when the database has none; refuses a foreign one.
pub async fn ensure(conn: &mut Conn, database: &str) -> Result<(), LedgerError> {
    if super::exists(conn, database).await? {
        return Ok(());
    }
    conn.query_drop(CREATE)
        .await
        .map_err(|source| LedgerError::Server {
            database: database.to_string(),
            source,
        })?;
    // Another definition under the name (a race with a foreign table) is refused.
    super::exists(conn, database).await.map(|_| ())
}
fn row_values(
    id: &str,
    kind: &str,
    (site, table): (SiteId, &str),
    (state, text, number): (&str, &str, Option<u64>),
) -> Vec<Value> {
    vec![
        id.into(),
        kind.into(),
        site.into(),
        table.into(),
        state.into(),
        text.chars().take(255).collect::<String>().into(),
        number.into(),
    ]
}

const ROW: &str = "(?, ?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))";
/// [`ROW`] whose start may be earlier than now (an eighth parameter, or NULL).
const FIRST_ROW: &str =
    "(?, ?, ?, ?, ?, ?, ?, IFNULL(LEAST(UTC_TIMESTAMP(6), CAST(? AS DATETIME(6))), UTC_TIMESTAMP(6)), UTC_TIMESTAMP(6))";
const INSERT: &str = "INSERT INTO `_wfuwp_ledger` \
     (migration_id, kind, site_id, table_name, state, text_value, number_value, started_at, updated_at) VALUES ";

/// Records a run of migration `m` (created or resumed): creates the ledger
/// when the database has none, and sets the migration `running`.
pub async fn begin(conn: &mut Conn, database: &str, m: &Begin) -> Result<(), LedgerError> {
    ensure(conn, database).await?;
    // The migration row's start orders it among the target's migrations:
    // the server's clock, one for every machine. A migration the ledger
    // first hears of on a resume (it predates the ledger) started earlier:
    // the earlier of its recorded start and now keeps its place.
    let earlier = m
        .resumed_from
        .map(|t| Value::from(t.format("%Y-%m-%d %H:%M:%S%.6f").to_string()));
    let mut values = row_values(
        &m.id,
        kind::MIGRATION,
        (NETWORK, ""),
        ("running", &m.source, Some(u64::from(m.keeps_backups))),
    );
    values.push(earlier.unwrap_or(Value::NULL));
    values.extend(row_values(
        &m.id,
        kind::RULES,
        (NETWORK, ""),
        ("recorded", &m.rules, None),
    ));
    let mut rows = 2;
    if let Some(b) = &m.bucket {
        values.extend(row_values(
            &m.id,
            kind::BUCKET,
            (NETWORK, ""),
            ("recorded", b, None),
        ));
        rows += 1;
    }
    let sql = format!(
        "{INSERT}{FIRST_ROW}, {} ON DUPLICATE KEY UPDATE state = VALUES(state), text_value = VALUES(text_value), \
         number_value = VALUES(number_value), updated_at = VALUES(updated_at)",
        vec![ROW; rows - 1].join(", ")
    );
    conn.exec_drop(sql, values)
        .await
        .map_err(|source| LedgerError::Server {
            database: database.to_string(),
            source,
        })
}

/// Sets migration `id`'s status. Nothing to do when the database has no
/// ledger or the ledger does not know the migration (made before it existed).
pub async fn set_status(
    conn: &mut Conn,
    database: &str,
    id: &str,
    status: MigrationStatus,
) -> Result<(), LedgerError> {
    if !super::exists(conn, database).await? {
        return Ok(());
    }
    conn.exec_drop(
        "UPDATE `_wfuwp_ledger` SET state = ?, updated_at = UTC_TIMESTAMP(6) \
         WHERE migration_id = ? AND kind = 'migration'",
        (status.to_string(), id),
    )
    .await
    .map_err(|source| LedgerError::Server {
        database: database.to_string(),
        source,
    })
}

/// Before a swap: what it will do to each table of `site` (`NETWORK` = the
/// network tables). The first record of a table wins: a redo after a crash
/// sees its own copy where the target's table was, but the target's table
/// was what the first attempt found.
pub async fn plan_tables(
    conn: &mut Conn,
    id: &str,
    site: SiteId,
    tables: &[(String, TableAction)],
) -> mysql_async::Result<()> {
    for chunk in tables.chunks(100) {
        let mut values = Vec::with_capacity(chunk.len() * 7);
        for (table, action) in chunk {
            values.extend(row_values(
                id,
                kind::TABLE,
                (site, table),
                (RowState::Planned.as_str(), action.as_str(), None),
            ));
        }
        let sql = format!(
            "{INSERT}{} ON DUPLICATE KEY UPDATE migration_id = migration_id",
            vec![ROW; chunk.len()].join(", ")
        );
        conn.exec_drop(sql, values).await?;
    }
    Ok(())
}

/// Before a site's media step: its uploads may change from now on.
pub async fn plan_media(conn: &mut Conn, id: &str, site: SiteId) -> mysql_async::Result<()> {
    let sql = format!("{INSERT}{ROW} ON DUPLICATE KEY UPDATE migration_id = migration_id");
    conn.exec_drop(
        sql,
        row_values(
            id,
            kind::MEDIA,
            (site, ""),
            (RowState::Planned.as_str(), "", None),
        ),
    )
    .await
}

/// After a swap (or a site's media step): what was planned for `site` is live.
pub async fn mark_live(conn: &mut Conn, id: &str, site: SiteId) -> mysql_async::Result<()> {
    set_rows(conn, id, site, RowState::Planned, RowState::Live).await
}

/// After `--rollback` swapped `site` back: its tables are the target's own again.
pub async fn mark_rolled_back(conn: &mut Conn, id: &str, site: SiteId) -> mysql_async::Result<()> {
    for from in [RowState::Planned, RowState::Live] {
        set_rows(conn, id, site, from, RowState::RolledBack).await?;
    }
    Ok(())
}

async fn set_rows(
    conn: &mut Conn,
    id: &str,
    site: SiteId,
    from: RowState,
    to: RowState,
) -> mysql_async::Result<()> {
    conn.exec_drop(
        "UPDATE `_wfuwp_ledger` SET state = ?, updated_at = UTC_TIMESTAMP(6) \
         WHERE migration_id = ? AND kind IN ('table', 'media') AND site_id = ? AND state = ?",
        (to.as_str(), id, site, from.as_str()),
    )
    .await
}

/// Records that `by`'s completion dropped the backups of `older`.
pub async fn mark_superseded(conn: &mut Conn, older: &[&str], by: &str) -> mysql_async::Result<()> {
    for chunk in older.chunks(100) {
        let mut values = Vec::with_capacity(chunk.len() * 7);
        for id in chunk {
            values.extend(row_values(
                id,
                kind::SUPERSEDED,
                (NETWORK, ""),
                ("recorded", by, None),
            ));
        }
        let sql = format!(
            "{INSERT}{} ON DUPLICATE KEY UPDATE migration_id = migration_id",
            vec![ROW; chunk.len()].join(", ")
        );
        conn.exec_drop(sql, values).await?;
    }
    Ok(())
}

/// The server a connection reaches, as it names itself: `host:port`.
pub async fn server_identity(conn: &mut Conn) -> mysql_async::Result<String> {
    let row: Option<(Option<Vec<u8>>, Option<u64>)> =
        conn.query_first("SELECT @@hostname, @@port").await?;
    let (host, port) = row.unwrap_or_default();
    Ok(format!(
        "{}:{}",
        host.map(|h| String::from_utf8_lossy(&h).into_owned())
            .unwrap_or_else(|| "?".into()),
        port.unwrap_or(0)
    ))
}

/// A digest of what decides the rows a migration writes: its replacement
/// pairs and which users it brings along. Two migrations with the same
/// fingerprint from the same source write the same rows.
pub fn rules_fingerprint(options: &MigrationOptions) -> String {
    let rules = serde_json::json!({
        "replacements": options.replacements,
        "includeUsers": options.include_users,
        "noUsers": options.no_users,
    });
    format!(
        "{:016x}",
        crate::config::fingerprint::fnv1a64(rules.to_string().as_bytes())
    )
}
