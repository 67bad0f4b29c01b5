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
pub(super) fn row_values(
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

pub(super) const ROW: &str = "(?, ?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))";
/// [`ROW`] whose start may be earlier than now (an eighth parameter, or NULL).
const FIRST_ROW: &str =
    "(?, ?, ?, ?, ?, ?, ?, IFNULL(LEAST(UTC_TIMESTAMP(6), CAST(? AS DATETIME(6))), UTC_TIMESTAMP(6)), UTC_TIMESTAMP(6))";
pub(super) const INSERT: &str = "INSERT INTO `_wfuwp_ledger` \
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
    // Its checksums no longer describe the target: a refresh must not count them.
    conn.exec_drop(
        "UPDATE `_wfuwp_ledger` SET state = ?, updated_at = UTC_TIMESTAMP(6) \
         WHERE migration_id = ? AND kind IN (?, ?) AND site_id = ? AND state = ?",
        (
            RowState::RolledBack.as_str(),
            id,
            kind::SOURCE_CHECKSUM,
            kind::TARGET_CHECKSUM,
            site,
            super::checksums::RECORDED,
        ),
    )
    .await
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

/// A digest of what decides the rows a migration writes: its recorded
/// options (the replacement pairs, which users come along, and whatever a
/// later option adds that changes rows) and the target environment's rule
/// config (its configuration fingerprint without the connection fields).
/// Two migrations with the same fingerprint from the same source write the
/// same rows; a refresh compares it to decide "same rules".
pub fn rules_fingerprint(options: &MigrationOptions, target_config: Option<&str>) -> String {
    // Denied rather than allowed: an option added later changes the
    // fingerprint unless it is known not to change what is written.
    const NOT_RULES: &[&str] = &[
        "includeSites",
        "excludeSites",
        "activeOnly",
        "excludeMainSite",
        "networkOnly",
        "sitesOnly",
        "skipBackup",
        "keepFiles",
        "mediaOnly",
        "concurrency",
        "timeoutMinutes",
        "maxRetries",
        "changedOnly",
        "overwriteDrift",
        // What the host plan found (its pairs are in `replacements`) and
        // flags that decide refusals, not rows.
        "hosts",
        "allowUnmappedHosts",
        "failOnLeftovers",
    ];
    let mut recorded = serde_json::to_value(options).unwrap_or_default();
    if let Some(map) = recorded.as_object_mut() {
        map.retain(|k, _| !NOT_RULES.contains(&k.as_str()));
    }
    let rules = serde_json::json!({
        "options": recorded,
        "target": target_config.map(crate::config::fingerprint::without_connection),
    });
    format!(
        "{:016x}",
        crate::config::fingerprint::fnv1a64(rules.to_string().as_bytes())
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Environment;

    fn env(text: &str) -> String {
        let e: Environment = toml::from_str(text).unwrap();
        crate::config::fingerprint::of(&e)
    }

    #[test]
    fn the_rules_fingerprint_follows_what_changes_rows_only() {
        let uat =
            env("host=\"h\"\nuser=\"u\"\ndatabase=\"uat\"\n[replace]\nmain=\"uat.wfu.edu\"\n");
        let base = MigrationOptions {
            replacements: vec![wfuwp_replace::Pair::new("www.wfu.edu", "uat.wfu.edu")],
            ..Default::default()
        };
        let fp = |o: &MigrationOptions, t: &str| rules_fingerprint(o, Some(t));
        let same = fp(&base, &uat);
        // Selection, tuning and where the target lives do not change rows.
        let tuned = MigrationOptions {
            include_sites: Some("2,3".parse().unwrap()),
            concurrency: Some(9),
            changed_only: true,
            skip_backup: true,
            ..base.clone()
        };
        assert_eq!(fp(&tuned, &uat), same);
        let moved =
            env("host=\"other\"\nuser=\"x\"\ndatabase=\"uat2\"\n[replace]\nmain=\"uat.wfu.edu\"\n");
        assert_eq!(fp(&base, &moved), same);
        // Pairs, users and the target's rule settings do.
        let users = MigrationOptions {
            include_users: true,
            ..base.clone()
        };
        assert_ne!(fp(&users, &uat), same);
        let pairs = MigrationOptions {
            replacements: vec![wfuwp_replace::Pair::new("www.wfu.edu", "dev.wfu.edu")],
            ..base.clone()
        };
        assert_ne!(fp(&pairs, &uat), same);
        let token =
            env("host=\"h\"\nuser=\"u\"\ndatabase=\"uat\"\n[replace]\nmain=\"uat2.wfu.edu\"\n");
        assert_ne!(fp(&base, &token), same);
        let prefix = env("host=\"h\"\nuser=\"u\"\ndatabase=\"uat\"\ntable_prefix=\"wp2_\"\n[replace]\nmain=\"uat.wfu.edu\"\n");
        assert_ne!(fp(&base, &prefix), same);
    }
}
