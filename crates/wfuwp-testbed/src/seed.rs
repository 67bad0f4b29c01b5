//! Seeding a configured environment (the hidden `wfuwp seed-network`
//! command): its database made ready for a generated network.

use anyhow::{Context as _, Result};
use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use wfuwp_engine::config::Environment;
use wfuwp_engine::db::connect;
use wfuwp_engine::db::sql::ident;
use wfuwp_engine::refusal::Refusal;

/// Creates the database if missing; refuses a non-empty one unless `recreate`.
pub async fn prepare_database(env: &Environment, recreate: bool) -> Result<()> {
    let mut conn = connect::connect_server(env).await?;
    let db = &env.database;
    let tables = table_count(&mut conn, db).await?;
    match tables {
        Some(n) if n > 0 && !recreate => {
            return Err(Refusal::new(format!(
                "database '{db}' of environment '{}' already holds {n} tables; seed-network only fills an empty \
                 database. Pass --recreate to drop and recreate it (this destroys its content), or point the \
                 environment at another database.",
                env.name
            ))
            .into());
        }
        Some(n) if n > 0 => {
            conn.query_drop(format!("DROP DATABASE {}", ident(db)))
                .await
                .with_context(|| format!("dropping database '{db}' for --recreate"))?;
        }
        Some(_) => return Ok(()),
        None => {}
    }
    conn.query_drop(format!(
        "CREATE DATABASE {} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci",
        ident(db)
    ))
    .await
    .with_context(|| {
        format!(
            "creating database '{db}' (does user '{}' have the CREATE privilege?)",
            env.user
        )
    })?;
    Ok(())
}

/// Number of tables in `db`, or `None` when the database does not exist.
async fn table_count(conn: &mut Conn, db: &str) -> Result<Option<u64>> {
    let exists: Option<String> = conn
        .exec_first(
            "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
            (db,),
        )
        .await
        .context("looking up the database")?;
    if exists.is_none() {
        return Ok(None);
    }
    let n: Option<u64> = conn
        .exec_first(
            "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?",
            (db,),
        )
        .await
        .context("counting tables")?;
    Ok(Some(n.unwrap_or(0)))
}
