//! The target's own settings and tables (docs/scrub.md): `keep` (the
//! target's current options, sitemeta and tables survive), `set` (values
//! forced on every migrated site) and `exclude_tables` (tables created empty,
//! with the source's schema). Kept and set values are written into the
//! staging tables before the swap, so a site goes live with them in the same
//! atomic rename, a redo writes the same, and a rollback restores the
//! target's tables from before as they were.

use mysql_async::prelude::*;
use mysql_async::Conn;

use crate::config::scrub::matches_any;
use crate::config::{Environment, KeepConfig, SetConfig};
use crate::db::sql::{glob_condition as pattern_condition, ident};

/// A target's keep, set and exclude rules for one run.
#[derive(Debug, Clone, Default)]
pub struct KeepPlan {
    keep: KeepConfig,
    set: SetConfig,
    exclude: Vec<String>,
}

/// A key-value table: its key column, the columns that identify a row along
/// with the key, and the value columns a kept row brings along.
struct KeyValue {
    key: &'static str,
    scope: &'static [&'static str],
    values: &'static [&'static str],
}

const OPTIONS: KeyValue = KeyValue {
    key: "option_name",
    scope: &[],
    values: &["option_value", "autoload"],
};

const SITEMETA: KeyValue = KeyValue {
    key: "meta_key",
    scope: &["site_id"],
    values: &["meta_value"],
};

impl KeepPlan {
    /// The rules of target `env`, with `extra_exclude` (`--exclude-tables`).
    pub fn new(env: &Environment, extra_exclude: &[String]) -> KeepPlan {
        let mut exclude = env.exclude_tables.clone();
        exclude.extend(extra_exclude.iter().cloned());
        KeepPlan {
            keep: env.keep.clone().unwrap_or_default(),
            set: env.set.clone().unwrap_or_default(),
            exclude,
        }
    }

    /// Whether `table` (its full name) is one whose target copy stays as it is.
    pub fn keeps_table(&self, table: &str) -> bool {
        matches_any(&self.keep.tables, table)
    }

    /// Whether `table` (its full name) is created empty.
    pub fn excludes_table(&self, table: &str) -> bool {
        matches_any(&self.exclude, table)
    }

    /// The exclusion patterns in effect.
    pub fn excluded_patterns(&self) -> &[String] {
        &self.exclude
    }

    /// Writes the kept options of the target's `live` table (when
    /// `live_exists`) and the forced ones into `staging`; returns the rows
    /// added (names the source does not have).
    pub async fn apply_options(
        &self,
        target: &mut Conn,
        live: &str,
        staging: &str,
        live_exists: bool,
    ) -> mysql_async::Result<u64> {
        let mut added = 0;
        if live_exists {
            added += keep_rows(target, &OPTIONS, live, staging, &self.keep.options).await?;
        }
        for (name, value) in &self.set.options {
            let (s, n) = (ident(staging), ident(OPTIONS.key));
            target
                .exec_drop(
                    format!("UPDATE {s} SET `option_value` = ? WHERE {n} = ?"),
                    (value, name),
                )
                .await?;
            target
                .exec_drop(
                    format!(
                        "INSERT INTO {s} ({n}, `option_value`, `autoload`) SELECT ?, ?, 'yes' FROM DUAL \
                         WHERE NOT EXISTS (SELECT 1 FROM {s} WHERE {n} = ?)"
                    ),
                    (name, value, name),
                )
                .await?;
            added += target.affected_rows();
        }
        Ok(added)
    }

    /// Writes the kept sitemeta of the target's `live` table (when
    /// `live_exists`) and the forced values into `staging`.
    pub async fn apply_sitemeta(
        &self,
        target: &mut Conn,
        live: &str,
        staging: &str,
        live_exists: bool,
    ) -> mysql_async::Result<()> {
        if live_exists {
            keep_rows(target, &SITEMETA, live, staging, &self.keep.sitemeta).await?;
        }
        let s = ident(staging);
        for (key, value) in &self.set.sitemeta {
            target
                .exec_drop(
                    format!("UPDATE {s} SET `meta_value` = ? WHERE `meta_key` = ?"),
                    (value, key),
                )
                .await?;
            target
                .exec_drop(
                    format!(
                        "INSERT INTO {s} (`site_id`, `meta_key`, `meta_value`) \
                         SELECT d.`site_id`, ?, ? FROM (SELECT DISTINCT `site_id` FROM {s}) d \
                         WHERE NOT EXISTS (SELECT 1 FROM {s} x WHERE x.`site_id` = d.`site_id` AND x.`meta_key` = ?)"
                    ),
                    (key, value, key),
                )
                .await?;
        }
        Ok(())
    }

    /// Whether any option or sitemeta rule exists (else nothing to write).
    pub fn touches_values(&self) -> bool {
        !(self.keep.options.is_empty()
            && self.keep.sitemeta.is_empty()
            && self.set.options.is_empty()
            && self.set.sitemeta.is_empty())
    }
}

/// The rows of `live` whose key matches `patterns` overwrite their
/// counterparts in `staging` (same key and scope), and are added where
/// `staging` has none; returns the rows added.
async fn keep_rows(
    target: &mut Conn,
    kv: &KeyValue,
    live: &str,
    staging: &str,
    patterns: &[String],
) -> mysql_async::Result<u64> {
    let Some(wanted) = pattern_condition(&format!("t.{}", ident(kv.key)), patterns) else {
        return Ok(0);
    };
    let (l, s) = (ident(live), ident(staging));
    let same = std::iter::once(kv.key)
        .chain(kv.scope.iter().copied())
        .map(|c| format!("x.{0} = t.{0}", ident(c)))
        .collect::<Vec<_>>()
        .join(" AND ");
    let assign = kv
        .values
        .iter()
        .map(|c| format!("x.{0} = t.{0}", ident(c)))
        .collect::<Vec<_>>()
        .join(", ");
    target
        .query_drop(format!(
            "UPDATE {s} x JOIN {l} t ON {same} SET {assign} WHERE {wanted}"
        ))
        .await?;
    let columns: Vec<String> = std::iter::once(kv.key)
        .chain(kv.scope.iter().copied())
        .chain(kv.values.iter().copied())
        .map(ident)
        .collect();
    let from_t: Vec<String> = columns.iter().map(|c| format!("t.{c}")).collect();
    target
        .query_drop(format!(
            "INSERT INTO {s} ({}) SELECT {} FROM {l} t WHERE {wanted} \
             AND NOT EXISTS (SELECT 1 FROM {s} x WHERE {same})",
            columns.join(", "),
            from_t.join(", ")
        ))
        .await?;
    Ok(target.affected_rows())
}
