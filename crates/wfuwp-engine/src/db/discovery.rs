//! Discovery of a WordPress multisite's tables, columns and sites (once per run).
//!
//! Table ownership follows docs/phases.md: `{prefix}{N}_*` belongs to site N when N is
//! a blog_id; the network tables are a fixed list; every other `{prefix}*`
//! table belongs to the main site (so `wp_404_log` is the main site's unless
//! 404 is a blog_id).

use std::collections::{BTreeMap, BTreeSet};

use mysql_async::prelude::*;
use mysql_async::Conn;

use wfuwp_replace::is_textual;

use crate::sites::SiteId;

/// wfuwp's own table in a target database, its ledger (docs/state.md): it
/// belongs to that database, is never part of a network, and is never listed.
pub const LEDGER_TABLE: &str = "_wfuwp_ledger";

/// Network-wide tables (without the prefix).
pub const NETWORK_TABLES: &[&str] = &[
    "blogs",
    "blogmeta",
    "site",
    "sitemeta",
    "users",
    "usermeta",
    "signups",
    "registration_log",
    "blog_versions",
];

/// Who a table belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// One of [`NETWORK_TABLES`] (the suffix after the prefix).
    Network(String),
    /// A site's table (the main site is blog_id 1).
    Site(SiteId),
    /// Not a table of this WordPress install (other prefix, our staging/backups).
    Foreign,
}

/// Classifies `table` for a network with `prefix` whose blog_ids are `blog_ids`.
pub fn owner(prefix: &str, table: &str, blog_ids: &BTreeSet<SiteId>) -> Owner {
    let Some(rest) = table.strip_prefix(prefix) else {
        return Owner::Foreign;
    };
    if NETWORK_TABLES.contains(&rest) {
        return Owner::Network(rest.to_string());
    }
    if let Some((digits, tail)) = rest.split_once('_') {
        if !tail.is_empty() && !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(id) = digits.parse::<SiteId>() {
                if id >= 2 && blog_ids.contains(&id) {
                    return Owner::Site(id);
                }
            }
        }
    }
    Owner::Site(1)
}

/// A base table with the server's size estimates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// Table name.
    pub name: String,
    /// Estimated rows (information_schema; exact counts come from the copy).
    pub rows_estimate: u64,
    /// Data + index bytes (estimate).
    pub bytes_estimate: u64,
    /// Storage engine (`InnoDB`, `MyISAM`, …), when the server says.
    pub engine: Option<String>,
    /// It has a primary key (or a UNIQUE NOT NULL key the server takes as one).
    pub has_primary_key: bool,
}

/// A column as the copy needs to know it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Column name.
    pub name: String,
    /// CHAR/VARCHAR/TEXT family or JSON: goes through the replacement engine.
    pub textual: bool,
    /// Its values are assigned by the server (`AUTO_INCREMENT`).
    pub auto_increment: bool,
    /// Part of the primary key, or of the UNIQUE NOT NULL key the server
    /// takes as one when the table has none (`COLUMN_KEY = 'PRI'`).
    pub primary: bool,
}

/// A row of `{prefix}blogs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    /// blog_id
    pub id: SiteId,
    /// Domain (e.g. biology.wfu.edu).
    pub domain: String,
    /// Path (e.g. /).
    pub path: String,
    /// archived, spam or deleted is set.
    pub inactive: bool,
}

/// Everything known about one database's WordPress network.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    /// Table prefix.
    pub prefix: String,
    /// Sites from `{prefix}blogs`, in blog_id order (empty when the table
    /// is missing).
    pub sites: Vec<Site>,
    /// All base tables of the database, by name.
    pub tables: BTreeMap<String, Table>,
    /// Columns (copyable ones, in order) of every base table.
    pub columns: BTreeMap<String, Vec<Column>>,
    // Table names by owning site, classified once per discovery: asking per
    // site would re-classify every table of the network for each site.
    owners: BTreeMap<SiteId, Vec<String>>,
}

impl Inventory {
    /// The set of blog_ids.
    pub fn blog_ids(&self) -> BTreeSet<SiteId> {
        self.sites.iter().map(|s| s.id).collect()
    }

    /// The site with blog_id `id`.
    pub fn site(&self, id: SiteId) -> Option<&Site> {
        let i = self.sites.binary_search_by_key(&id, |s| s.id).ok()?;
        self.sites.get(i)
    }

    /// Whether this is a multisite (`blogs` and `site` tables present).
    pub fn is_multisite(&self) -> bool {
        ["blogs", "site"]
            .iter()
            .all(|t| self.tables.contains_key(&format!("{}{t}", self.prefix)))
    }

    /// Tables owned by site `id`, sorted by name.
    pub fn site_tables(&self, id: SiteId) -> Vec<&Table> {
        self.owners
            .get(&id)
            .map(|names| names.iter().filter_map(|n| self.tables.get(n)).collect())
            .unwrap_or_default()
    }

    /// Tables by owning site (sites without tables are absent).
    pub fn tables_by_site(&self) -> BTreeMap<SiteId, Vec<&Table>> {
        self.owners
            .keys()
            .map(|&id| (id, self.site_tables(id)))
            .collect()
    }

    /// Classifies every table by owner; call whenever `tables` or `sites` change.
    pub fn index_owners(&mut self) {
        let ids = self.blog_ids();
        self.owners.clear();
        for t in self.tables.values() {
            if let Owner::Site(id) = owner(&self.prefix, &t.name, &ids) {
                self.owners.entry(id).or_default().push(t.name.clone());
            }
        }
    }

    /// The network table `{prefix}{suffix}`, if present.
    pub fn network_table(&self, suffix: &str) -> Option<&Table> {
        self.tables.get(&format!("{}{suffix}", self.prefix))
    }
}

/// Reads tables, columns and sites of database `db` (one query each).
pub async fn inventory(conn: &mut Conn, db: &str, prefix: &str) -> mysql_async::Result<Inventory> {
    let mut inv = Inventory {
        prefix: prefix.to_string(),
        ..Default::default()
    };
    // Names and engines only: size columns would make the server open
    // every table (see [`super::sizes`]).
    let rows: Vec<(String, Option<String>)> = conn
        .exec(
            "SELECT TABLE_NAME, ENGINE FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE'",
            (db,),
        )
        .await?;
    // The target's ledger belongs to its database: a source that was once a
    // target has one too, and it is never part of the network.
    let rows: Vec<(String, Option<String>)> = rows
        .into_iter()
        .filter(|(name, _)| name != LEDGER_TABLE)
        .collect();
    let names: Vec<String> = rows.iter().map(|(name, _)| name.clone()).collect();
    let sizes = super::sizes::estimates(conn, db, &names).await?;
    for (name, engine) in rows {
        let size = sizes.get(&name).copied().unwrap_or_default();
        let t = Table {
            name: name.clone(),
            rows_estimate: size.rows,
            bytes_estimate: size.bytes,
            engine,
            has_primary_key: false,
        };
        inv.tables.insert(name, t);
    }
    let (columns, keyed) = columns(conn, db).await?;
    inv.columns = columns;
    for name in keyed {
        if let Some(t) = inv.tables.get_mut(&name) {
            t.has_primary_key = true;
        }
    }
    let blogs = format!("{prefix}blogs");
    if inv.tables.contains_key(&blogs) {
        inv.sites = sites(conn, &blogs).await?;
    }
    inv.index_owners();
    Ok(inv)
}

/// Copyable columns by table, and the tables that have a primary key.
async fn columns(
    conn: &mut Conn,
    db: &str,
) -> mysql_async::Result<(BTreeMap<String, Vec<Column>>, BTreeSet<String>)> {
    // Generated columns are computed by the server and cannot be inserted into.
    let rows: Vec<(String, String, String, String, String)> = conn
        .exec(
            "SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE, IFNULL(EXTRA, ''), IFNULL(COLUMN_KEY, '') \
             FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME, ORDINAL_POSITION",
            (db,),
        )
        .await?;
    let mut map: BTreeMap<String, Vec<Column>> = BTreeMap::new();
    let mut keyed = BTreeSet::new();
    for (table, name, data_type, extra, key) in rows {
        if key == "PRI" {
            keyed.insert(table.clone());
        }
        let extra = extra.to_ascii_uppercase();
        if extra.contains("VIRTUAL") || extra.contains("STORED") || extra.contains("PERSISTENT") {
            continue;
        }
        map.entry(table).or_default().push(Column {
            name,
            textual: is_textual(&data_type),
            auto_increment: extra.contains("AUTO_INCREMENT"),
            primary: key == "PRI",
        });
    }
    Ok((map, keyed))
}

async fn sites(conn: &mut Conn, blogs: &str) -> mysql_async::Result<Vec<Site>> {
    let q = format!(
        "SELECT blog_id, domain, path, (archived <> 0 OR spam <> 0 OR deleted <> 0) FROM {} ORDER BY blog_id",
        super::sql::ident(blogs)
    );
    let rows: Vec<(u64, String, String, bool)> = conn.query(q).await?;
    Ok(rows
        .into_iter()
        .map(|(id, domain, path, inactive)| Site {
            id,
            domain,
            path,
            inactive,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ownership_follows_the_spec() {
        let ids: BTreeSet<SiteId> = [1, 2, 43].into_iter().collect();
        assert_eq!(
            owner("wp_", "wp_blogs", &ids),
            Owner::Network("blogs".into())
        );
        assert_eq!(owner("wp_", "wp_options", &ids), Owner::Site(1));
        assert_eq!(owner("wp_", "wp_2_options", &ids), Owner::Site(2));
        assert_eq!(owner("wp_", "wp_43_gf_form", &ids), Owner::Site(43));
        assert_eq!(owner("wp_", "wp_404_log", &ids), Owner::Site(1));
        assert_eq!(owner("wp_", "wp_1_options", &ids), Owner::Site(1));
        assert_eq!(owner("wp_", "other_options", &ids), Owner::Foreign);
        let with_404: BTreeSet<SiteId> = [1, 404].into_iter().collect();
        assert_eq!(owner("wp_", "wp_404_log", &with_404), Owner::Site(404));
    }

    #[test]
    fn sites_are_found_by_blog_id() {
        let inv = Inventory {
            sites: [1, 2, 43]
                .map(|id| Site {
                    id,
                    domain: format!("s{id}.wfu.edu"),
                    path: "/".into(),
                    inactive: false,
                })
                .to_vec(),
            ..Default::default()
        };
        assert_eq!(inv.site(43).map(|s| s.domain.as_str()), Some("s43.wfu.edu"));
        assert!(inv.site(1).is_some() && inv.site(3).is_none() && inv.site(44).is_none());
    }
}
