//! What a site's tables were, by the server's `CHECKSUM TABLE`: on the
//! source before its rows are read, on the target right after its swap
//! (docs/state.md). A refresh compares them with what both sides hold now.
//!
//! A site's checksum rows of one migration always describe one copy: a redo
//! after a crash replaces them (source first, in one transaction), and the
//! target's are written only once that copy is live. So "source and target
//! checksums recorded" means "this source content went live and the target
//! looked like this right after".

use std::collections::BTreeMap;

use mysql_async::prelude::*;
use mysql_async::{Conn, Value};

use super::kind;
use super::write::{row_values, INSERT, ROW};
use crate::sites::SiteId;

/// The state of a checksum row that counts.
pub(super) const RECORDED: &str = "recorded";

/// Table name → `CHECKSUM TABLE` (`None`: the table does not exist).
pub type Checksums = BTreeMap<String, Option<u64>>;

/// `CHECKSUM TABLE` of `tables`, computed by the server: no row is sent.
/// Names come from discovery (checked identifiers), quoted all the same.
pub async fn checksum_tables(conn: &mut Conn, tables: &[String]) -> mysql_async::Result<Checksums> {
    let mut out = Checksums::new();
    for chunk in tables.chunks(200) {
        let list: Vec<String> = chunk
            .iter()
            .map(|t| format!("`{}`", t.replace('`', "``")))
            .collect();
        let rows: Vec<(Vec<u8>, Option<u64>)> = conn
            .query(format!("CHECKSUM TABLE {}", list.join(", ")))
            .await?;
        // The server names each `db.table`; a table name has no dot.
        let by_name: BTreeMap<String, Option<u64>> = rows
            .into_iter()
            .map(|(name, sum)| {
                let name = String::from_utf8_lossy(&name).into_owned();
                let table = name.rsplit_once('.').map_or(name.as_str(), |(_, t)| t);
                (table.to_string(), sum)
            })
            .collect();
        for table in chunk {
            out.insert(table.clone(), by_name.get(table).copied().flatten());
        }
    }
    Ok(out)
}

/// Before a site's rows are read: its source checksums, replacing whatever
/// an earlier attempt of the same migration recorded for the site (its
/// target checksums too: they described another copy).
///
/// The earlier rows go first, in their own statement, and only when there
/// are any (a redo): a kill in between leaves the site without checksums,
/// which counts as never copied, never as unchanged. A `DELETE` in every
/// site's step would take gap locks that the other workers' inserts wait
/// for, or deadlock on.
pub async fn record_source(
    conn: &mut Conn,
    id: &str,
    site: SiteId,
    sums: &Checksums,
) -> mysql_async::Result<()> {
    let params = (id, kind::SOURCE_CHECKSUM, kind::TARGET_CHECKSUM, site);
    let earlier: Option<u8> = conn
        .exec_first(
            "SELECT 1 FROM `_wfuwp_ledger` WHERE migration_id = ? AND kind IN (?, ?) AND site_id = ? LIMIT 1",
            params,
        )
        .await?;
    if earlier.is_some() {
        conn.exec_drop(
            "DELETE FROM `_wfuwp_ledger` WHERE migration_id = ? AND kind IN (?, ?) AND site_id = ?",
            params,
        )
        .await?;
    }
    insert(conn, id, site, kind::SOURCE_CHECKSUM, sums).await
}

/// Right after a site's swap: its live tables as the migration left them.
pub async fn record_target(
    conn: &mut Conn,
    id: &str,
    site: SiteId,
    sums: &Checksums,
) -> mysql_async::Result<()> {
    insert(conn, id, site, kind::TARGET_CHECKSUM, sums).await
}

async fn insert(
    conn: &mut Conn,
    id: &str,
    site: SiteId,
    kind: &str,
    sums: &Checksums,
) -> mysql_async::Result<()> {
    let sums: Vec<(&String, &Option<u64>)> = sums.iter().collect();
    for chunk in sums.chunks(100) {
        let mut values: Vec<Value> = Vec::with_capacity(chunk.len() * 7);
        for (table, sum) in chunk {
            values.extend(row_values(id, kind, (site, table), (RECORDED, "", **sum)));
        }
        let sql = format!(
            "{INSERT}{} ON DUPLICATE KEY UPDATE state = VALUES(state), number_value = VALUES(number_value), \
             updated_at = VALUES(updated_at)",
            vec![ROW; chunk.len()].join(", ")
        );
        conn.exec_drop(sql, values).await?;
    }
    Ok(())
}

/// A checksum row as read: site, kind, table, state, checksum.
type ChecksumRow = (u64, Vec<u8>, Vec<u8>, Vec<u8>, Option<u64>);

/// The migration that last put a site's tables live on the target (one
/// that was not rolled back), with the checksums it recorded for them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LastCopy {
    /// That migration.
    pub migration: String,
    /// Its site's tables on the source, before they were read.
    pub source: Checksums,
    /// Its site's tables on the target, right after its swap: empty when
    /// it did not get that far (a kill, or a wfuwp that recorded none).
    pub target: Checksums,
}

/// Per site, the last copy that stands on the target ([`LastCopy`]). The
/// server picks each site's latest migration; only that one's checksum rows
/// are sent. Nothing when the database has no ledger.
pub async fn last_copies(
    conn: &mut Conn,
    database: &str,
) -> Result<BTreeMap<SiteId, LastCopy>, super::LedgerError> {
    let server = |source| super::LedgerError::Server {
        database: database.to_string(),
        source,
    };
    if !super::exists(conn, database).await? {
        return Ok(BTreeMap::new());
    }
    // A site's migrations, newest first by the ledger's clock; one that was
    // rolled back (as a whole, or this site) does not count.
    const LAST: &str = "SELECT site_id, migration_id FROM (\
         SELECT t.site_id, t.migration_id, ROW_NUMBER() OVER (PARTITION BY t.site_id \
         ORDER BY m.started_at DESC, t.migration_id DESC) AS n \
         FROM (SELECT DISTINCT site_id, migration_id FROM `_wfuwp_ledger` \
               WHERE kind = 'table' AND site_id <> 0 AND state <> 'rolled_back') t \
         JOIN `_wfuwp_ledger` m ON m.migration_id = t.migration_id AND m.kind = 'migration' \
              AND m.site_id = 0 AND m.table_name = '' AND m.state <> 'rolled_back') last \
         WHERE n = 1";
    let last: Vec<(u64, Vec<u8>)> = conn.query(LAST).await.map_err(server)?;
    let mut out: BTreeMap<SiteId, LastCopy> = last
        .into_iter()
        .map(|(site, id)| {
            (
                site,
                LastCopy {
                    migration: String::from_utf8_lossy(&id).into_owned(),
                    ..LastCopy::default()
                },
            )
        })
        .collect();
    let rows: Vec<ChecksumRow> = conn
        .query(format!(
            "SELECT c.site_id, c.kind, c.table_name, c.state, c.number_value FROM `_wfuwp_ledger` c \
             JOIN ({LAST}) b ON c.migration_id = b.migration_id AND c.site_id = b.site_id \
             WHERE c.kind IN ('{}', '{}')",
            kind::SOURCE_CHECKSUM,
            kind::TARGET_CHECKSUM
        ))
        .await
        .map_err(server)?;
    for (site, kind, table, state, sum) in rows {
        let (kind, table, state) = (
            String::from_utf8_lossy(&kind).into_owned(),
            String::from_utf8_lossy(&table).into_owned(),
            String::from_utf8_lossy(&state).into_owned(),
        );
        let Some(copy) = out.get_mut(&site) else {
            continue;
        };
        let damaged = |why: String| super::LedgerError::Damaged {
            database: database.to_string(),
            row: format!("({}, {kind}, {site}, {table})", copy.migration),
            why,
        };
        if !crate::names::is_table_identifier(&table) {
            return Err(damaged(format!("'{table}' is not a table name")));
        }
        match state.as_str() {
            RECORDED => {}
            // The site was swapped back while this migration's other rows stand.
            "rolled_back" => continue,
            other => return Err(damaged(format!("'{other}' is not a checksum state"))),
        }
        match kind.as_str() {
            kind::SOURCE_CHECKSUM => copy.source.insert(table, sum),
            _ => copy.target.insert(table, sum),
        };
    }
    Ok(out)
}
