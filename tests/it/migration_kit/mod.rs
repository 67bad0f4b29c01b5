//! Helpers shared by the crash-safety and rollback tests: cheap copies of a
//! pristine target, a per-scenario config and logs dir, runs of `wfuwp`
//! that may be SIGKILLed (by a failpoint or after a delay), and comparisons
//! of live tables.
//!
//! Used with `mod support; mod migration_kit;` from tests/crash.rs and
//! tests/rollback.rs.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use crate::support::{
    block_on, q, run, server_opts, table_checksums, wfuwp, write_config, Run, TestDb, PROD_TOKENS,
    UAT_TOKENS,
};

/// Markers of the tables a migration creates next to the live ones.
pub const STAGING: &str = "_wfs_";
/// Trash (swapped out, about to be dropped).
pub const TRASH: &str = "_wft_";
/// Backup.
pub const BACKUP: &str = "_wfb_";

/// Rows and checksum of each table, by name.
pub type Checksums = BTreeMap<String, (u64, u64)>;

/// Copies every table of `from` into the (empty) database `to`, same server.
pub fn copy_db(from: &TestDb, to: &TestDb) {
    block_on(async {
        let mut c = Conn::new(server_opts(None))
            .await
            .expect("connecting to the sandbox");
        let tables: Vec<String> = c
            .query(format!(
                "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{}'",
                from.name
            ))
            .await
            .expect("listing tables");
        for t in tables {
            let (src, dst) = (
                format!("{}.{}", q(&from.name), q(&t)),
                format!("{}.{}", q(&to.name), q(&t)),
            );
            c.query_drop(format!("CREATE TABLE {dst} LIKE {src}"))
                .await
                .expect("CREATE TABLE LIKE");
            c.query_drop(format!("INSERT INTO {dst} SELECT * FROM {src}"))
                .await
                .expect("INSERT SELECT");
        }
        c.disconnect().await.ok();
    })
}

/// Checksums of the live tables (no `_wf*` names).
pub fn live_checksums(db: &TestDb) -> Checksums {
    table_checksums(db)
        .into_iter()
        .filter(|(t, _)| !t.starts_with("_wf"))
        .collect()
}

/// What a table is, beyond its rows: its definition as the server shows it
/// (`SHOW CREATE TABLE`: columns, keys, collations, `AUTO_INCREMENT`) and
/// its rows and checksum.
pub type Picture = BTreeMap<String, (String, (u64, u64))>;

/// The picture of every table of `db`, backups included. Backup names carry
/// their migration's tag: it is taken out (`_wfb_<tag>_wp_options` becomes
/// `_wfb_*_wp_options`) so that two migrations' targets compare.
pub fn picture(db: &TestDb) -> Picture {
    let sums = table_checksums(db);
    block_on(async {
        let mut c = db.connect().await;
        let mut out = Picture::new();
        for (t, sum) in sums {
            let create: Option<(String, String)> = c
                .query_first(format!("SHOW CREATE TABLE {}", q(&t)))
                .await
                .expect("SHOW CREATE TABLE");
            let create = create.map(|(_, s)| s).unwrap_or_default();
            let name = untagged(&t);
            out.insert(name.clone(), (create.replacen(&t, &name, 1), sum));
        }
        c.disconnect().await.ok();
        out
    })
}

fn untagged(table: &str) -> String {
    match table
        .strip_prefix(BACKUP)
        .and_then(|rest| rest.split_once('_'))
    {
        Some((_tag, live)) => format!("{BACKUP}*_{live}"),
        None => table.to_string(),
    }
}

/// Asserts two pictures are equal, naming what differs.
pub fn assert_same_picture(expected: &Picture, actual: &Picture, what: &str) {
    let mut out = Vec::new();
    for (t, e) in expected {
        match actual.get(t) {
            None => out.push(format!("  missing: {t}")),
            Some(a) if a.1 != e.1 => out.push(format!(
                "  rows/checksum differ: {t}: {:?} vs {:?}",
                e.1, a.1
            )),
            Some(a) if a.0 != e.0 => out.push(format!(
                "  definition differs: {t}:\n{}\n  vs\n{}",
                e.0, a.0
            )),
            _ => {}
        }
    }
    for t in actual.keys().filter(|t| !expected.contains_key(*t)) {
        out.push(format!("  unexpected: {t}"));
    }
    assert!(out.is_empty(), "{what}: tables differ:\n{}", out.join("\n"));
}

/// Tables of `db` whose name starts with `marker`.
pub fn tables_marked(db: &TestDb, marker: &str) -> Vec<String> {
    db.tables()
        .into_iter()
        .filter(|t| t.starts_with(marker))
        .collect()
}

/// A readable difference between two checksum maps (empty when equal).
pub fn diff(expected: &Checksums, actual: &Checksums) -> String {
    let mut out = Vec::new();
    for (t, e) in expected {
        match actual.get(t) {
            None => out.push(format!("  missing: {t}")),
            Some(a) if a != e => out.push(format!(
                "  differs: {t} (rows, checksum) expected {e:?}, got {a:?}"
            )),
            _ => {}
        }
    }
    for t in actual.keys().filter(|t| !expected.contains_key(*t)) {
        out.push(format!("  unexpected: {t}"));
    }
    out.join("\n")
}

/// Asserts equal checksums with a readable message.
pub fn assert_same(expected: &Checksums, actual: &Checksums, what: &str) {
    let d = diff(expected, actual);
    assert!(d.is_empty(), "{what}: tables differ:\n{d}");
}

/// One target database with its config and logs dir (source `prod` → target `uat`).
pub struct Scenario {
    /// The target database.
    pub target: TestDb,
    /// Temp dir holding config.toml and logs/.
    pub dir: tempfile::TempDir,
    /// config.toml.
    pub config: PathBuf,
    /// The logs dir.
    pub logs: PathBuf,
    /// Variables set on every `wfuwp` of the scenario (scrub secrets).
    pub env: Vec<(String, String)>,
}

impl Scenario {
    /// A fresh target copied from `pristine` (or empty when `None`), with a
    /// config naming `source` as prod and the target as uat.
    pub fn new(label: &str, source: &TestDb, pristine: Option<&TestDb>) -> Scenario {
        let target = TestDb::new(label);
        if let Some(p) = pristine {
            copy_db(p, &target);
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let config = write_config(
            dir.path(),
            &[("prod", source, PROD_TOKENS), ("uat", &target, UAT_TOKENS)],
        );
        let logs = dir.path().join("logs");
        Scenario {
            target,
            dir,
            config,
            logs,
            env: Vec::new(),
        }
    }

    /// `wfuwp` with this scenario's config and logs dir.
    pub fn cmd(&self) -> Command {
        let mut cmd = wfuwp(&self.config, &self.logs);
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    /// Runs `wfuwp ARGS` to completion, with `failpoint` (`name:N`) set when given.
    pub fn run(&self, args: &[&str], failpoint: Option<&str>) -> Run {
        let mut cmd = self.cmd();
        cmd.args(args);
        match failpoint {
            Some(f) => cmd.env("WFUWP_FAILPOINT", f),
            None => cmd.env_remove("WFUWP_FAILPOINT"),
        };
        run(&mut cmd)
    }

    /// Runs `wfuwp ARGS`, SIGKILLing it after `delay` unless it ended first.
    /// Returns the exit code (`None` when killed) and the output, taken from a file
    /// (so a full pipe can never block the child).
    pub fn run_killed_after(&self, args: &[&str], delay: Duration) -> (Option<i32>, String) {
        let out_path = self.dir.path().join("timed-run.out");
        let out = File::create(&out_path).expect("creating the output file");
        let mut cmd = self.cmd();
        cmd.args(args)
            .env_remove("WFUWP_FAILPOINT")
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("dup"))
            .stderr(out);
        let mut child = cmd.spawn().expect("spawning wfuwp");
        let deadline = Instant::now() + delay;
        let code = loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                break status.code();
            }
            if Instant::now() >= deadline {
                child.kill().expect("SIGKILL");
                let status = child.wait().expect("wait");
                break status.code();
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        (code, std::fs::read_to_string(&out_path).unwrap_or_default())
    }

    /// The ids of the migrations in the logs dir.
    pub fn migration_ids(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.logs) else {
            return Vec::new();
        };
        let mut ids: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().join("migration-state.json").is_file())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("env-migrate-"))
            .collect();
        ids.sort();
        ids
    }

    /// The only migration in the logs dir, if there is one.
    pub fn only_migration(&self) -> Option<String> {
        let ids = self.migration_ids();
        assert!(
            ids.len() <= 1,
            "expected at most one migration in {}, found {ids:?}",
            self.logs.display()
        );
        ids.into_iter().next()
    }

    /// The state file of migration `id`, parsed.
    pub fn state(&self, id: &str) -> serde_json::Value {
        let path = self.logs.join(id).join("migration-state.json");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
    }

    /// Resumes `id` (no failpoint) until it exits 0; every run that is not
    /// killed must exit 0 (a resume never fails because of what a kill left).
    pub fn resume_to_completion(&self, id: &str) {
        let r = self.run(&["env-migrate", "--resume", id, "--force"], None);
        assert_eq!(
            r.code, 0,
            "resume of {id} did not complete:\n{}\n{}",
            r.stdout, r.stderr
        );
    }
}

/// The migration id printed by a new run ("Migration <id> started").
pub fn started_id(output: &str) -> Option<String> {
    let rest = &output[output.find("Migration env-migrate-")? + "Migration ".len()..];
    Some(rest.split_whitespace().next()?.to_string())
}

/// Asserts the run was killed by a signal (the failpoint fired).
pub fn assert_killed(r: &Run, what: &str) {
    assert_eq!(
        r.code, -1,
        "{what}: expected the failpoint to kill the process, it exited {}:\n{}\n{}",
        r.code, r.stdout, r.stderr
    );
}

/// Path helper: `dir/name`.
pub fn join(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}
