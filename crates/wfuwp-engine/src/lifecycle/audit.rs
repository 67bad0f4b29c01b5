//! `wfuwp audit ENV --source SRC` (docs/hosts.md): a read-only scan of an
//! existing database for what of SRC it still mentions, the same scan a
//! migration SRC → ENV runs on every value it writes.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use mysql_async::prelude::*;
use mysql_async::{Conn, Value};
use wfuwp_replace::{Pair, Replacer};

use super::ended;
use crate::config::{self, Config};
use crate::db::connect;
use crate::db::discovery::{inventory, owner, Inventory, Owner};
use crate::db::roles;
use crate::db::sql::{ident, ident_list};
use crate::error::Error;
use crate::hosts;
use crate::report::{Event, Reporter};
use crate::rules::RunRules;
use crate::sites::SiteId;
use crate::state::model::Leftovers;
use crate::state::summary::{LeftoverTotals, SiteLeftovers, NETWORK_TABLES};
use crate::state::MigrationOptions;

/// What an audit found.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditReport {
    /// The environment scanned.
    pub env: String,
    /// The environment whose identity was looked for.
    pub source_env: String,
    /// Tables scanned.
    pub tables: u64,
    /// Rows scanned.
    pub rows: u64,
    /// Per site (0: the network tables), as a migration's summary has them.
    pub leftovers: LeftoverTotals,
}

/// Scans `env`'s database for `source`'s token values and site hosts.
pub async fn audit(
    config: &Config,
    env: &str,
    source: &str,
    reporter: Arc<dyn Reporter>,
) -> Result<AuditReport, Error> {
    ended(run(config, env, source, &*reporter).await)
}

async fn run(
    config: &Config,
    env: &str,
    source: &str,
    reporter: &dyn Reporter,
) -> Result<AuditReport> {
    let options = what_a_migration_would_use(config, source, env).await?;
    let scanner = Arc::new(hosts::scanner(&options));
    let rules = RunRules::new(Arc::new(Replacer::new(Vec::<Pair>::new())?)).audited(scanner);
    let target = config.environment(env)?;
    let connected = connect::connect_reporting(target).await?;
    let _ = connected.conn.disconnect().await;
    let mut conn = roles::source(&connected.opts)
        .await
        .with_context(|| format!("connecting to {env}"))?;
    let inv = inventory(&mut conn, &target.database, &target.table_prefix)
        .await
        .with_context(|| format!("reading the tables of {env}"))?;
    let ids = inv.blog_ids();
    let mut found: BTreeMap<SiteId, Leftovers> = BTreeMap::new();
    let (mut tables, mut rows) = (0u64, 0u64);
    let total = inv.tables.len();
    for (i, name) in inv.tables.keys().enumerate() {
        let site = match owner(&inv.prefix, name, &ids) {
            Owner::Site(id) => id,
            Owner::Network(_) => NETWORK_TABLES,
            Owner::Foreign => continue,
        };
        let columns = inv.columns.get(name).cloned().unwrap_or_default();
        if !columns.iter().any(|c| c.textual) {
            continue;
        }
        let mut table_rules = rules.for_table(name, &columns);
        rows += scan_table(&mut conn, &inv, name, &mut table_rules)
            .await
            .with_context(|| format!("scanning {name} of {env}"))?;
        tables += 1;
        found
            .entry(site)
            .or_default()
            .merge(table_rules.take_leftovers());
        if (i + 1) % 50 == 0 || i + 1 == total {
            reporter.event(Event::Info(&format!(
                "audit: {}/{total} tables scanned",
                i + 1
            )));
        }
    }
    let _ = conn.disconnect().await;
    let by_site: Vec<SiteLeftovers> = found
        .into_iter()
        .map(|(site_id, found)| SiteLeftovers { site_id, found })
        .collect();
    Ok(AuditReport {
        env: env.to_string(),
        source_env: source.to_string(),
        tables,
        rows,
        leftovers: LeftoverTotals::from_sites(by_site),
    })
}

/// The pairs and site hosts of a migration `source` → `env` now: what the
/// audit looks for and what it leaves alone.
async fn what_a_migration_would_use(
    config: &Config,
    source: &str,
    env: &str,
) -> Result<MigrationOptions> {
    let pairs = config::pairs::for_migration(config, source, env, &[])?;
    let src = config.environment(source)?;
    let connected = connect::connect_reporting(src).await?;
    let _ = connected.conn.disconnect().await;
    let mut conn = roles::source(&connected.opts)
        .await
        .with_context(|| format!("connecting to {source}"))?;
    let inv = inventory(&mut conn, &src.database, &src.table_prefix)
        .await
        .with_context(|| format!("reading the tables of {source}"))?;
    let sites: Vec<SiteId> = inv.sites.iter().map(|s| s.id).collect();
    let found = hosts::read::site_hosts(&mut conn, &inv, &sites).await;
    let _ = conn.disconnect().await;
    let plan = hosts::plan(config.environment(env)?, &pairs, &found?)
        .map_err(crate::refusal::Refusal::new)?;
    let mut replacements = pairs;
    replacements.extend(plan.pairs);
    Ok(MigrationOptions {
        replacements,
        hosts: plan.hosts,
        ..Default::default()
    })
}

/// Every row of `table` through `rules` (which only scan); returns the rows.
async fn scan_table(
    conn: &mut Conn,
    inv: &Inventory,
    table: &str,
    rules: &mut crate::rules::TableRules,
) -> Result<u64> {
    use crate::db::copy::RowRules as _;
    let names: Vec<&str> = inv.columns[table].iter().map(|c| c.name.as_str()).collect();
    let sql = format!("SELECT {} FROM {}", ident_list(&names), ident(table));
    let mut result = conn.query_iter(sql).await?;
    let mut rows = 0u64;
    while let Some(row) = result.next().await? {
        let values: Vec<Value> = row.unwrap();
        let mut cells: Vec<Option<std::borrow::Cow<'_, [u8]>>> = values
            .iter()
            .map(|v| match v {
                Value::Bytes(b) => Some(std::borrow::Cow::Borrowed(b.as_slice())),
                Value::NULL => None,
                other => Some(std::borrow::Cow::Owned(other.as_sql(true).into_bytes())),
            })
            .collect();
        rules.apply(&mut cells);
        rows += 1;
    }
    Ok(rows)
}
