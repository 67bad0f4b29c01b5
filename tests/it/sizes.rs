//! Size estimates (issue 13): the figures a plan shows and the backup space a
//! summary reports are the server's own (information_schema), whether they
//! come from InnoDB's statistics or, without them, from information_schema.

use crate::support;

use std::collections::BTreeMap;

use support::*;
use wfuwp_engine::db::sizes::{estimates, Estimate};

/// (rows, data + index bytes) per table of `db`, as information_schema says.
fn information_schema(db: &TestDb) -> BTreeMap<String, Estimate> {
    let rows: Vec<(String, u64, u64)> = db.query(&format!(
        "SELECT TABLE_NAME, TABLE_ROWS, DATA_LENGTH + INDEX_LENGTH FROM information_schema.TABLES \
         WHERE TABLE_SCHEMA = '{}'",
        db.name
    ));
    rows.into_iter()
        .map(|(t, rows, bytes)| (t, Estimate { rows, bytes }))
        .collect()
}

fn estimated(opts: mysql_async::Opts, db: &str, tables: &[String]) -> BTreeMap<String, Estimate> {
    block_on(async {
        let mut c = mysql_async::Conn::new(opts).await.expect("connect");
        let e = estimates(&mut c, db, tables).await.expect("estimates");
        c.disconnect().await.ok();
        e
    })
}

/// A user with every privilege on one database and none on `mysql`,
/// dropped when the test ends (also when it fails).
struct ConfinedUser<'a> {
    db: &'a TestDb,
    name: String,
}

impl<'a> ConfinedUser<'a> {
    fn create(db: &'a TestDb) -> ConfinedUser<'a> {
        let name = format!("wfuwp_sz_{}", &db.name[db.name.len() - 10..]);
        let pw = &db.server.password;
        for host in ["127.0.0.1", "localhost"] {
            db.server.exec(&format!(
                "CREATE USER '{name}'@'{host}' IDENTIFIED BY '{pw}'; \
                 GRANT ALL PRIVILEGES ON {}.* TO '{name}'@'{host}'",
                q(&db.name)
            ));
        }
        ConfinedUser { db, name }
    }

    fn opts(&self) -> mysql_async::Opts {
        mysql_async::OptsBuilder::from_opts(self.db.opts())
            .user(Some(self.name.clone()))
            .into()
    }
}

impl Drop for ConfinedUser<'_> {
    fn drop(&mut self) {
        for host in ["127.0.0.1", "localhost"] {
            self.db
                .server
                .exec(&format!("DROP USER IF EXISTS '{}'@'{host}'", self.name));
        }
    }
}

#[test]
fn estimates_are_the_servers_own_from_statistics_or_information_schema() {
    let db = TestDb::new("sizes");
    db.exec(
        "CREATE TABLE big (id INT PRIMARY KEY AUTO_INCREMENT, v TEXT, KEY v (v(10))) ENGINE=InnoDB; \
         INSERT INTO big (v) WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 900) \
             SELECT REPEAT(CHAR(65 + n % 26), 1000) FROM s; \
         CREATE TABLE small (id INT PRIMARY KEY) ENGINE=InnoDB; INSERT INTO small VALUES (1); \
         CREATE TABLE empty (id INT PRIMARY KEY) ENGINE=InnoDB; \
         CREATE TABLE legacy (id INT PRIMARY KEY, v VARCHAR(50)) ENGINE=MyISAM; \
         INSERT INTO legacy VALUES (1, 'a'), (2, 'b'), (3, 'c'); \
         ANALYZE TABLE big, small, empty, legacy",
    );
    let oracle = information_schema(&db);
    assert!(
        oracle["big"].bytes > 500_000 && oracle["legacy"].rows == 3,
        "{oracle:?}"
    );
    let mut asked: Vec<String> = oracle.keys().cloned().collect();
    asked.push("gone".into());

    // With InnoDB's statistics (the sandbox user reads `mysql`), and without.
    let user = ConfinedUser::create(&db);
    assert_eq!(estimated(db.opts(), &db.name, &asked), oracle);
    assert_eq!(estimated(user.opts(), &db.name, &asked), oracle);

    // The statistics are read when readable: a row changed behind the
    // server's back shows through them, and only through them.
    db.exec(&format!(
        "UPDATE mysql.innodb_table_stats SET n_rows = 123456 \
         WHERE database_name = '{}' AND table_name = 'small'",
        db.name
    ));
    let stats = estimated(db.opts(), &db.name, &asked);
    assert_eq!(stats["small"].rows, 123_456);
    assert_eq!(
        stats["legacy"], oracle["legacy"],
        "MyISAM has no InnoDB statistics"
    );
    assert_eq!(
        estimated(user.opts(), &db.name, &asked)["small"],
        oracle["small"]
    );
}

#[test]
fn the_summary_reports_the_space_the_backups_hold() {
    let (src, dst) = (TestDb::new("sz_src"), TestDb::new("sz_dst"));
    seed_network(&src, &small_network());
    seed_network(&dst, &uat_network(7, 9));
    make_independent(&dst);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &[("prod", &src, PROD_TOKENS), ("uat", &dst, UAT_TOKENS)],
    );
    let logs = dir.path().join("logs");
    let r = run(wfuwp(&config, &logs).args(["env-migrate", "prod", "uat", "--force"]));
    assert_eq!(r.code, 0, "{r:?}");

    let backups: Vec<(String, u64)> = dst.query(&format!(
        "SELECT TABLE_NAME, DATA_LENGTH + INDEX_LENGTH FROM information_schema.TABLES \
         WHERE TABLE_SCHEMA = '{}' AND TABLE_NAME LIKE '\\_wfb\\_%'",
        dst.name
    ));
    assert!(
        backups.len() > 20,
        "the target's tables are kept: {backups:?}"
    );
    let held: u64 = backups.iter().map(|(_, b)| b).sum();
    let summary_dir = std::fs::read_dir(&logs)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.join("migration-summary.json").exists())
        .expect("a summary");
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(summary_dir.join("migration-summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(summary["backupBytes"], held, "{summary}");
}
