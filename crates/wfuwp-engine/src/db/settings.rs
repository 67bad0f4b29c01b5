//! The target server's settings that decide what a run may do there, read
//! once in preflight (docs/managed.md). Managed MySQL/MariaDB services often
//! differ from a default server exactly here: `local_infile` off, a small
//! `max_allowed_packet`, a read-only reader endpoint, primary keys required.

use mysql_async::prelude::*;
use mysql_async::Conn;

/// What the target server's settings allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSettings {
    /// The read-only settings that are on (`read_only`, MySQL's
    /// `super_read_only`, `innodb_read_only`), by name; empty when writable.
    pub read_only: Vec<String>,
    /// `local_infile`: the server accepts `LOAD DATA LOCAL INFILE`.
    pub local_infile: bool,
    /// `max_allowed_packet` in bytes: the largest packet (statement, row of
    /// LOAD DATA input) the server accepts.
    pub max_allowed_packet: usize,
    /// The setting that makes the server refuse tables without a primary
    /// key, when one is on (MariaDB `innodb_force_primary_key`, MySQL
    /// `sql_require_primary_key`).
    pub requires_primary_key: Option<RequiresPrimaryKey>,
    /// `table_definition_cache` and `table_open_cache`: how many tables the
    /// server keeps ready at once (absent when it does not say).
    pub table_caches: Option<TableCaches>,
}

/// The server's caches of opened tables. When a schema outgrows them, every
/// statement that touches a table not cached reopens it (definition file,
/// dictionary entry), and DDL slows down for everyone (docs/performance.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableCaches {
    /// `table_definition_cache`: table definitions kept.
    pub definitions: u64,
    /// `table_open_cache`: open table handles kept.
    pub open: u64,
}

impl TableCaches {
    /// Whether `tables` (what a run keeps in the database at its fullest)
    /// are more than the definition cache holds: below that the cache is
    /// evicted all through the run.
    pub fn outgrown_by(self, tables: u64) -> bool {
        self.definitions < tables
    }
}

/// Which setting requires primary keys; they differ in scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequiresPrimaryKey {
    /// MariaDB's `innodb_force_primary_key`: InnoDB tables only.
    InnodbForcePrimaryKey,
    /// MySQL's `sql_require_primary_key`: every engine, and a UNIQUE NOT
    /// NULL key does not stand in for a primary key.
    SqlRequirePrimaryKey,
}

impl RequiresPrimaryKey {
    /// The variable's name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::InnodbForcePrimaryKey => "innodb_force_primary_key",
            Self::SqlRequirePrimaryKey => "sql_require_primary_key",
        }
    }

    /// Whether a table with `engine` and no primary key is refused.
    pub fn refuses(self, engine: Option<&str>) -> bool {
        match self {
            // Engine unknown (a view has none; base tables always have one): assume InnoDB.
            Self::InnodbForcePrimaryKey => engine.is_none_or(|e| e.eq_ignore_ascii_case("InnoDB")),
            Self::SqlRequirePrimaryKey => true,
        }
    }
}

/// Variables read; those a server does not know are simply absent from the answer.
const VARIABLES: &[&str] = &[
    "read_only",
    "super_read_only",
    "innodb_read_only",
    "local_infile",
    "max_allowed_packet",
    "innodb_force_primary_key",
    "sql_require_primary_key",
    "table_definition_cache",
    "table_open_cache",
];

/// The default `max_allowed_packet` of MariaDB and MySQL 8 clients, used when
/// the server does not say (it always does).
const DEFAULT_MAX_PACKET: usize = 16 << 20;

/// Reads the settings through `conn` (a connection to the target).
pub async fn read(conn: &mut Conn) -> mysql_async::Result<ServerSettings> {
    // SHOW VARIABLES rather than @@names: an unknown @@name is an error, and
    // the two servers know different ones. Session values where a session
    // may differ (sql_require_primary_key); global ones otherwise.
    let list = VARIABLES
        .iter()
        .map(|v| format!("'{v}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let rows: Vec<(String, String)> = conn
        .query(format!("SHOW VARIABLES WHERE Variable_name IN ({list})"))
        .await?;
    Ok(from_variables(&rows))
}

/// The settings from `(name, value)` pairs as `SHOW VARIABLES` gives them.
pub fn from_variables(rows: &[(String, String)]) -> ServerSettings {
    let get = |name: &str| {
        rows.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let on = |name: &str| get(name).is_some_and(is_on);
    let read_only = ["read_only", "super_read_only", "innodb_read_only"]
        .into_iter()
        .filter(|n| on(n))
        .map(String::from)
        .collect();
    let requires_primary_key = if on("sql_require_primary_key") {
        Some(RequiresPrimaryKey::SqlRequirePrimaryKey)
    } else if on("innodb_force_primary_key") {
        Some(RequiresPrimaryKey::InnodbForcePrimaryKey)
    } else {
        None
    };
    // Numbers as the server spells them; one it does not know stays absent.
    let number = |name: &str| get(name).and_then(|v| v.trim().parse::<u64>().ok());
    let table_caches = match (number("table_definition_cache"), number("table_open_cache")) {
        (Some(definitions), Some(open)) => Some(TableCaches { definitions, open }),
        _ => None,
    };
    ServerSettings {
        read_only,
        local_infile: on("local_infile"),
        max_allowed_packet: number("max_allowed_packet")
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(DEFAULT_MAX_PACKET),
        requires_primary_key,
        table_caches,
    }
}

/// `ON`, `1`, `TRUE` (servers and versions spell booleans differently).
fn is_on(value: &str) -> bool {
    let v = value.trim();
    v == "1" || v.eq_ignore_ascii_case("ON") || v.eq_ignore_ascii_case("TRUE")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn a_default_mariadb_is_writable_with_local_infile() {
        let s = from_variables(&vars(&[
            ("innodb_force_primary_key", "OFF"),
            ("innodb_read_only", "OFF"),
            ("local_infile", "ON"),
            ("max_allowed_packet", "16777216"),
            ("read_only", "OFF"),
        ]));
        assert!(s.read_only.is_empty());
        assert!(s.local_infile);
        assert_eq!(s.max_allowed_packet, 16 << 20);
        assert_eq!(s.requires_primary_key, None);
        assert_eq!(s.table_caches, None);
    }

    #[test]
    fn table_caches_are_read_and_judged_against_the_tables_of_a_run() {
        let s = from_variables(&vars(&[
            ("table_definition_cache", "400"),
            ("table_open_cache", "2000"),
        ]));
        let caches = s.table_caches.expect("both caches given");
        assert_eq!((caches.definitions, caches.open), (400, 2000));
        assert!(!caches.outgrown_by(400));
        assert!(caches.outgrown_by(401));
        // One of the two missing (or not a number): nothing to judge by.
        let partial = from_variables(&vars(&[("table_definition_cache", "400")]));
        assert_eq!(partial.table_caches, None);
        let garbled = from_variables(&vars(&[
            ("table_definition_cache", "many"),
            ("table_open_cache", "2000"),
        ]));
        assert_eq!(garbled.table_caches, None);
    }

    #[test]
    fn managed_settings_are_recognised() {
        let s = from_variables(&vars(&[
            ("read_only", "OFF"),
            ("super_read_only", "ON"),
            ("local_infile", "0"),
            ("max_allowed_packet", "4194304"),
            ("sql_require_primary_key", "ON"),
        ]));
        assert_eq!(s.read_only, vec!["super_read_only".to_string()]);
        assert!(!s.local_infile);
        assert_eq!(s.max_allowed_packet, 4 << 20);
        assert_eq!(
            s.requires_primary_key,
            Some(RequiresPrimaryKey::SqlRequirePrimaryKey)
        );
    }

    #[test]
    fn force_primary_key_concerns_innodb_only() {
        let r = RequiresPrimaryKey::InnodbForcePrimaryKey;
        assert!(r.refuses(Some("InnoDB")) && r.refuses(None));
        assert!(!r.refuses(Some("MyISAM")) && !r.refuses(Some("Aria")));
        assert!(RequiresPrimaryKey::SqlRequirePrimaryKey.refuses(Some("MyISAM")));
    }
}
