//! Shared helpers for the integration tests: the sandbox MariaDB server,
//! throw-away databases, config files, the `wfuwp` binary, table checksums and
//! the network generator.
//!
//! Use from a test file with `mod support;`. The server settings come from the
//! `WFUWP_TEST_DB_*` variables that `scripts/test.sh` exports (it starts a
//! private MariaDB with `scripts/mariadb-sandbox.sh`).
//!
//! Everything here is synchronous so tests can be plain `#[test]` functions;
//! each call runs its own small tokio runtime.

// Each test file uses a different subset of these helpers.
#![allow(dead_code)]

pub mod private;
pub mod proxy;
pub mod pty;
pub mod s3;

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use mysql_async::prelude::{FromRow, Queryable};
use mysql_async::{Conn, Opts, OptsBuilder};
use wfuwp_testbed::{NetworkOptions, NetworkSummary};

/// Variable holding the sandbox password; written into configs as `password_env`
/// so that no password ever lands in a file.
pub const PASSWORD_VAR: &str = "WFUWP_TEST_DB_PASSWORD";

/// The replacement tokens the generator's default network uses (a "prod").
pub const PROD_TOKENS: &[(&str, &str)] = &[
    ("main", "www.wfu.edu"),
    ("subdomains", ".wfu.edu"),
    ("cdn", "prod.wp.cdn.aws.wfu.edu"),
    ("bucket", "wordpress-prod-us"),
];

/// Matching tokens of a "uat" environment.
pub const UAT_TOKENS: &[(&str, &str)] = &[
    ("main", "uat.wfu.edu"),
    ("subdomains", ".uat.wfu.edu"),
    ("cdn", "uat.wp.cdn.aws.wfu.edu"),
    ("bucket", "wordpress-uat-us"),
];

/// Connection settings of the sandbox server.
#[derive(Debug, Clone)]
pub struct Server {
    /// Host (127.0.0.1).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// User with all privileges.
    pub user: String,
    /// Its password.
    pub password: String,
    /// Unix socket path, when known.
    pub socket: Option<String>,
}

/// The sandbox server, from `WFUWP_TEST_DB_*`; panics with instructions when unset.
pub fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        let var = |name: &str| {
            std::env::var(name).unwrap_or_else(|_| {
                panic!(
                    "{name} is not set: these tests need the MariaDB sandbox. Run them with `scripts/test.sh`, \
                     or start it with `scripts/mariadb-sandbox.sh start DIR` and `. DIR/env.sh` first."
                )
            })
        };
        Server {
            host: var("WFUWP_TEST_DB_HOST"),
            port: var("WFUWP_TEST_DB_PORT").parse().expect("WFUWP_TEST_DB_PORT is not a port number"),
            user: var("WFUWP_TEST_DB_USER"),
            password: var(PASSWORD_VAR),
            socket: std::env::var("WFUWP_TEST_DB_SOCKET").ok().filter(|s| !s.is_empty()),
        }
    })
}

/// `bash scripts/NAME` of this repository, ready for its arguments (the
/// sandbox scripts that start and stop private servers).
pub fn repo_script(name: &str) -> Command {
    let mut cmd = Command::new("bash");
    cmd.arg(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scripts")
            .join(name),
    );
    cmd
}

/// Runs a future to completion on a fresh runtime (safe to call from any test thread).
pub fn block_on<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("building a tokio runtime")
        .block_on(f)
}

impl Server {
    /// Connection options for this server, optionally selecting `database`.
    pub fn opts(&self, database: Option<&str>) -> Opts {
        OptsBuilder::default()
            .ip_or_hostname(self.host.clone())
            .tcp_port(self.port)
            .user(Some(self.user.clone()))
            .pass(Some(self.password.clone()))
            .db_name(database.map(str::to_string))
            .prefer_socket(false)
            .into()
    }

    /// Runs `sql` on this server with no database selected.
    pub fn exec(&self, sql: &str) {
        block_on(async {
            let mut c = Conn::new(self.opts(None))
                .await
                .unwrap_or_else(|e| panic!("connecting to {}:{}: {e}", self.host, self.port));
            c.query_drop(sql)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            c.disconnect().await.ok();
        })
    }
}

/// Connection options for the sandbox server, optionally selecting `database`.
pub fn server_opts(database: Option<&str>) -> Opts {
    server().opts(database)
}

/// The ledger every migration and rollback keeps in its target database
/// (docs/state.md). It records migration ids and times, so it differs
/// between runs that leave the same tables: comparisons of whole databases
/// ([`TestDb::tables`], [`table_checksums`]) leave it out, here and only
/// here. Tests about the ledger query it by this name.
pub const LEDGER: &str = "_wfuwp_ledger";

/// Whether `table` is compared when whole databases are (not the [`LEDGER`]).
fn compared(table: &str) -> bool {
    table != LEDGER
}

/// Quotes an identifier.
pub fn q(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// A database that exists for the lifetime of the value: uniquely named
/// (`wfuwp_t_<label>_<random>`), created empty, dropped on drop (also when the
/// test panics), so tests never collide and never leave data behind.
#[derive(Debug)]
pub struct TestDb {
    /// The database name.
    pub name: String,
    /// The server holding it.
    pub server: Server,
}

impl TestDb {
    /// Creates a fresh, empty database on the sandbox server.
    pub fn new(label: &str) -> TestDb {
        TestDb::on(server(), label)
    }

    /// Creates a fresh, empty database on `server` (e.g. a [`private::PrivateServer`]).
    pub fn on(server: &Server, label: &str) -> TestDb {
        let clean: String = label
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .take(30)
            .collect();
        let suffix: String = (0..10)
            .map(|_| fastrand::alphanumeric().to_ascii_lowercase())
            .collect();
        let name = format!("wfuwp_t_{clean}_{suffix}");
        let sql = format!(
            "CREATE DATABASE {} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci",
            q(&name)
        );
        server.exec(&sql);
        TestDb {
            name,
            server: server.clone(),
        }
    }

    /// Connection options selecting this database.
    pub fn opts(&self) -> Opts {
        self.server.opts(Some(&self.name))
    }

    /// A connection to this database (async, for tests that run their own runtime).
    pub async fn connect(&self) -> Conn {
        Conn::new(self.opts())
            .await
            .unwrap_or_else(|e| panic!("connecting to {}: {e}", self.name))
    }

    /// Runs statements (no results) in this database.
    pub fn exec(&self, sql: &str) {
        block_on(async {
            let mut c = self.connect().await;
            c.query_drop(sql)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            c.disconnect().await.ok();
        })
    }

    /// Runs a query in this database and returns all rows.
    pub fn query<T: FromRow + Send + 'static>(&self, sql: &str) -> Vec<T> {
        block_on(async {
            let mut c = self.connect().await;
            let rows = c.query(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
            c.disconnect().await.ok();
            rows
        })
    }

    /// Table names in this database, sorted, without the [`LEDGER`].
    pub fn tables(&self) -> Vec<String> {
        let mut t: Vec<String> = self.query("SHOW TABLES");
        t.retain(|t| compared(t));
        t.sort();
        t
    }

    /// Row count of `table`.
    pub fn count(&self, table: &str) -> u64 {
        self.query::<u64>(&format!("SELECT COUNT(*) FROM {}", q(table)))
            .first()
            .copied()
            .unwrap_or(0)
    }

    /// An `[environments.NAME]` TOML block pointing at this database over TCP,
    /// with the password taken from [`PASSWORD_VAR`] and the given replacement tokens.
    pub fn env_toml(&self, env: &str, tokens: &[(&str, &str)]) -> String {
        let s = &self.server;
        let mut out = format!(
            "[environments.{env}]\nhost = \"{}\"\nport = {}\nuser = \"{}\"\npassword_env = \"{PASSWORD_VAR}\"\ndatabase = \"{}\"\n",
            s.host, s.port, s.user, self.name
        );
        if !tokens.is_empty() {
            out.push_str(&format!("\n[environments.{env}.replace]\n"));
            for (k, v) in tokens {
                out.push_str(&format!("{k} = \"{v}\"\n"));
            }
        }
        out.push('\n');
        out
    }

    /// The library's view of this database as environment `env` (for tests that
    /// call library functions directly). The password variable must be set,
    /// which `scripts/test.sh` does.
    pub fn environment(
        &self,
        env: &str,
        tokens: &[(&str, &str)],
    ) -> wfuwp_engine::config::Environment {
        let text = self.env_toml(env, tokens);
        let cfg = wfuwp_engine::config::load::parse(&text, Path::new("/nonexistent/config.toml"))
            .unwrap_or_else(|e| panic!("test config does not parse: {e}\n{text}"));
        cfg.environment(env)
            .expect("environment just written")
            .clone()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // A drop may run inside a test's own runtime, where block_on would
        // panic; a helper thread has none.
        let sql = format!("DROP DATABASE IF EXISTS {}", q(&self.name));
        let server = self.server.clone();
        let _ = std::thread::spawn(move || server.exec(&sql)).join();
    }
}

/// Runs `sql` on the sandbox server with no database selected.
pub fn server_exec(sql: &str) {
    server().exec(sql)
}

/// Replacement tokens of an environment: `(key, value)`.
pub type Tokens<'a> = &'a [(&'a str, &'a str)];

/// One environment of a test config: `(name, database, tokens)`.
pub type EnvSpec<'a> = (&'a str, &'a TestDb, Tokens<'a>);

/// Writes `dir/config.toml` with one environment per `(name, database, tokens)`
/// and `logs_dir = "logs"`; returns its path. Passwords stay in the environment.
pub fn write_config(dir: &Path, envs: &[EnvSpec]) -> PathBuf {
    let mut text = String::from("logs_dir = \"logs\"\n\n");
    for (name, db, tokens) in envs {
        text.push_str(&db.env_toml(name, tokens));
    }
    write_config_text(dir, &text)
}

/// Writes `text` as `dir/config.toml`; returns its path.
pub fn write_config_text(dir: &Path, text: &str) -> PathBuf {
    std::fs::create_dir_all(dir).expect("creating the config dir");
    let path = dir.join("config.toml");
    std::fs::write(&path, text).expect("writing config.toml");
    path
}

/// The `wfuwp` binary with `--config` and `--logs-dir` set, the sandbox
/// password in its environment, colours off, and no outside config leaking in.
pub fn wfuwp(config: &Path, logs_dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wfuwp"));
    cmd.arg("--config")
        .arg(config)
        .arg("--logs-dir")
        .arg(logs_dir);
    cmd.env(PASSWORD_VAR, &server().password)
        .env("NO_COLOR", "1")
        .env_remove("WFUWP_CONFIG")
        .env_remove("WFUWP_LOGS_DIR");
    cmd
}

/// Output of a finished command, for assertions.
#[derive(Debug)]
pub struct Run {
    /// Exit code (-1 when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// Runs `cmd` to completion.
pub fn run(cmd: &mut Command) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("running wfuwp");
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// A loopback TCP port that nothing listens on (bound, then closed).
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("binding a probe port");
    l.local_addr().expect("probe port address").port()
}

/// Rows and `CHECKSUM TABLE` of every table in `db` but the [`LEDGER`], by name.
pub fn table_checksums(db: &TestDb) -> BTreeMap<String, (u64, u64)> {
    let tables = db.tables();
    block_on(async {
        let mut c = db.connect().await;
        let mut out = BTreeMap::new();
        for t in tables {
            let rows: Option<u64> = c
                .query_first(format!("SELECT COUNT(*) FROM {}", q(&t)))
                .await
                .expect("COUNT(*)");
            let sum: Option<(String, Option<u64>)> = c
                .query_first(format!("CHECKSUM TABLE {}", q(&t)))
                .await
                .expect("CHECKSUM TABLE");
            out.insert(t, (rows.unwrap_or(0), sum.and_then(|s| s.1).unwrap_or(0)));
        }
        c.disconnect().await.ok();
        out
    })
}

/// Generates a network into `db` with the library generator.
pub fn seed_network(db: &TestDb, opts: &NetworkOptions) -> NetworkSummary {
    block_on(wfuwp_testbed::generate(db.opts(), opts))
        .unwrap_or_else(|e| panic!("seeding {}: {e}", db.name))
}

/// A small network (6 sites: main, 2 active, archived, spam, deleted) for quick tests.
pub fn small_network() -> NetworkOptions {
    NetworkOptions {
        sites: 6,
        posts_per_site: 4,
        ..NetworkOptions::default()
    }
}

/// An 8-site source network of seed `seed` (2 posts per site), seeded in a new database.
pub fn eight_site_source(label: &str, seed: u64) -> TestDb {
    let db = TestDb::new(label);
    seed_network(
        &db,
        &NetworkOptions {
            sites: 8,
            posts_per_site: 2,
            seed,
            concurrency: 2,
            ..NetworkOptions::default()
        },
    );
    db
}

/// A uat built independently of any source (`uat_network(seed, 1)`, then
/// [`make_independent`]), in a new database.
pub fn independent_uat(label: &str, seed: u64) -> TestDb {
    let db = TestDb::new(label);
    seed_network(&db, &uat_network(seed, 1));
    make_independent(&db);
    db
}

/// Makes the network seeded in `db` independent of any source: its
/// `blogmeta` ids reversed (so that they collide with another network's ids
/// of other sites) and a site (40, `only.uat.wfu.edu`) that no source has.
pub fn make_independent(db: &TestDb) {
    let max: Vec<u64> = db.query("SELECT MAX(meta_id) FROM wp_blogmeta");
    let n = max[0];
    db.exec(&format!(
        "UPDATE wp_blogmeta SET meta_id = meta_id + {n}; UPDATE wp_blogmeta SET meta_id = {} - meta_id",
        2 * n + 1
    ));
    db.exec(
        "INSERT INTO wp_blogs (blog_id, site_id, domain, path, registered, last_updated) \
         VALUES (40, 1, 'only.uat.wfu.edu', '/', '2020-01-01 00:00:00', '2020-01-01 00:00:00'); \
         INSERT INTO wp_blogmeta (blog_id, meta_key, meta_value) VALUES (40, 'db_version', 'uat-only'); \
         CREATE TABLE wp_40_options LIKE wp_2_options; \
         INSERT INTO wp_40_options SELECT * FROM wp_2_options",
    );
}

/// A "uat" network generated with `seed`: other domains, tokens and content
/// than the source's (`..` more options may be set by the caller).
pub fn uat_network(seed: u64, posts_per_site: u32) -> NetworkOptions {
    NetworkOptions {
        sites: 6,
        posts_per_site,
        seed,
        main_domain: "uat.wfu.edu".into(),
        subdomain_suffix: ".uat.wfu.edu".into(),
        cdn_host: "uat.wp.cdn.aws.wfu.edu".into(),
        bucket: "wordpress-uat-us".into(),
        concurrency: 2,
        ..NetworkOptions::default()
    }
}
