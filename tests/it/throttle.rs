//! Load throttling (issue 11, part 3): `--max-load` holds a run while a
//! server is busy, `--critical-load` stops it (paused, resumable), and both
//! are checked at preflight.
//!
//! The load is real: connections of the test's own running `SELECT SLEEP`
//! on a private server (so that no other test's statements count in its
//! `Threads_running`), released with `KILL QUERY` once the run has said it
//! is throttled. Nothing waits a fixed time: the test polls the progress log
//! and the server with a generous deadline, and checks the order of events
//! by their timestamps.

use crate::oracle;
use crate::support;

use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use support::private::PrivateServer;
use support::proxy::Proxy;
use support::{
    block_on, run, seed_network, small_network, wfuwp, write_config, write_config_text, Run,
    Server, TestDb, PROD_TOKENS, UAT_TOKENS,
};

/// How long a poll waits for what the test is sure will happen (a run on a
/// slow machine, a server under parallel tests): only a failing test waits it out.
const PATIENCE: Duration = Duration::from_secs(120);

/// Statements kept running on a server until released.
struct Blockers {
    server: Server,
    ids: Vec<u32>,
    thread: Option<JoinHandle<()>>,
}

impl Blockers {
    /// `n` connections each running `SELECT SLEEP(3600)`; returns once the
    /// server counts them in `Threads_running`.
    fn start(server: &Server, n: usize) -> Blockers {
        let (tx, rx) = std::sync::mpsc::channel();
        let opts = server.opts(None);
        let thread = std::thread::spawn(move || {
            block_on(async move {
                let mut conns = Vec::new();
                for _ in 0..n {
                    conns.push(Conn::new(opts.clone()).await.expect("blocker connection"));
                }
                tx.send(conns.iter().map(Conn::id).collect::<Vec<u32>>())
                    .expect("sending the blocker ids");
                // KILL QUERY ends each SLEEP early: it then returns 1, or
                // fails with "Query execution was interrupted" (1317).
                let sleeps = conns.iter_mut().map(|c| c.query_drop("SELECT SLEEP(3600)"));
                for r in futures_util::future::join_all(sleeps).await {
                    match r {
                        Ok(()) => {}
                        Err(mysql_async::Error::Server(e)) if e.code == 1317 => {}
                        Err(e) => panic!("a blocking SLEEP failed: {e}"),
                    }
                }
            })
        });
        let ids = rx.recv().expect("the blocker thread died");
        let blockers = Blockers {
            server: server.clone(),
            ids,
            thread: Some(thread),
        };
        poll("the blockers to run", || {
            (threads_running(server) > n as u64).then_some(())
        });
        blockers
    }

    /// Ends every blocking statement and waits for the blockers to finish.
    fn release(&mut self) {
        for id in std::mem::take(&mut self.ids) {
            self.server.exec(&format!("KILL QUERY {id}"));
        }
        if let Some(t) = self.thread.take() {
            t.join().expect("the blocker thread panicked");
        }
    }
}

impl Drop for Blockers {
    fn drop(&mut self) {
        // A failed test must not leave statements sleeping for an hour.
        for id in std::mem::take(&mut self.ids) {
            let sql = format!("KILL QUERY {id}");
            let server = self.server.clone();
            let _ = std::thread::spawn(move || server.exec(&sql)).join();
        }
    }
}

fn threads_running(server: &Server) -> u64 {
    block_on(async {
        let mut c = Conn::new(server.opts(None)).await.expect("connect");
        let row: Option<(String, String)> = c
            .query_first("SHOW GLOBAL STATUS LIKE 'Threads_running'")
            .await
            .expect("SHOW GLOBAL STATUS");
        c.disconnect().await.ok();
        row.and_then(|(_, v)| v.parse().ok()).unwrap_or(0)
    })
}

/// Calls `f` until it gives a value; panics naming `what` after [`PATIENCE`].
fn poll<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Source and target on one private server, a config and a logs dir.
struct Setup {
    source: TestDb,
    target: TestDb,
    dir: tempfile::TempDir,
    config: PathBuf,
    // Last: the databases are dropped before their server stops.
    private: PrivateServer,
}

impl Setup {
    fn new(label: &str) -> Setup {
        Setup::with_server_options(label, &[])
    }

    /// As [`Setup::new`], on a server started with `options`.
    fn with_server_options(label: &str, options: &[&str]) -> Setup {
        let private = PrivateServer::start(options);
        let source = TestDb::on(private.server(), &format!("{label}_src"));
        let target = TestDb::on(private.server(), &format!("{label}_dst"));
        seed_network(&source, &small_network());
        let dir = tempfile::tempdir().expect("temp dir");
        let config = write_config(
            dir.path(),
            &[("prod", &source, PROD_TOKENS), ("uat", &target, UAT_TOKENS)],
        );
        Setup {
            source,
            target,
            dir,
            config,
            private,
        }
    }

    fn logs(&self) -> PathBuf {
        self.dir.path().join("logs")
    }

    fn run(&self, args: &[&str]) -> Run {
        run(wfuwp(&self.config, &self.logs()).args(args))
    }

    /// Starts `wfuwp ARGS` in the background, its output in a file.
    fn spawn(&self, args: &[&str]) -> (Child, PathBuf) {
        let out = self.dir.path().join("run.out");
        let file = File::create(&out).expect("output file");
        let child = wfuwp(&self.config, &self.logs())
            .args(args)
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("dup"))
            .stderr(file)
            .spawn()
            .expect("spawning wfuwp");
        (child, out)
    }

    /// The directory of the only migration, once it exists.
    fn migration_dir(&self) -> Option<PathBuf> {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(self.logs())
            .ok()?
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("env-migrate-"))
            })
            .collect();
        assert!(dirs.len() <= 1, "more than one migration: {dirs:?}");
        dirs.pop()
    }

    fn json(&self, file: &str) -> serde_json::Value {
        let dir = self.migration_dir().expect("no migration directory");
        let text = std::fs::read_to_string(dir.join(file)).expect("reading a migration file");
        serde_json::from_str(&text).expect("parsing a migration file")
    }

    fn progress_log(&self) -> String {
        self.migration_dir()
            .and_then(|d| std::fs::read_to_string(d.join("migration-progress.log")).ok())
            .unwrap_or_default()
    }

    fn assert_migrated(&self) {
        oracle::assert_migrated(
            &self.source,
            &self.target,
            &oracle::prod_to_uat(&[]),
            &oracle::full_migration(&self.source),
        );
    }
}

fn time(v: &serde_json::Value, what: &str) -> DateTime<Utc> {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{what}: no time in {v}"))
}

fn output(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[test]
fn a_busy_server_holds_the_run_until_the_load_drops() {
    let s = Setup::new("thr_max");
    let mut blockers = Blockers::start(s.private.server(), 6);
    // 6 sleeping statements and the sampler's own make at least 7 running,
    // above 4; once they end, one worker and the sampler stay well under it.
    let (mut child, out) = s.spawn(&[
        "env-migrate",
        "prod",
        "uat",
        "--force",
        "--concurrency",
        "1",
        "--max-load",
        "threads_running=4",
    ]);
    let line = poll("the progress log to say the run is throttled", || {
        if let Some(status) = child.try_wait().expect("try_wait") {
            panic!(
                "the run ended ({status}) while the server was busy:\n{}",
                output(&out)
            );
        }
        s.progress_log()
            .lines()
            .find(|l| l.contains("throttled: Threads_running="))
            .map(String::from)
    });
    assert!(
        line.contains("above --max-load threads_running=4"),
        "{line}"
    );
    assert!(
        line.contains(" on prod") || line.contains(" on uat"),
        "the line names no server: {line}"
    );
    assert!(
        output(&out).contains("throttled: Threads_running="),
        "the progress display does not show it:\n{}",
        output(&out)
    );

    let released = Utc::now();
    blockers.release();
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(0), "{}", output(&out));

    // Nothing started before the release: not the network tables, not a site.
    let state = s.json("migration-state.json");
    let network = state["phases"]
        .as_array()
        .expect("phases")
        .iter()
        .find(|p| p["phase"] == "network_tables")
        .expect("network_tables phase");
    assert!(
        time(&network["startTime"], "network_tables") > released,
        "the network tables started while throttled: {network}"
    );
    let sites = state["sites"].as_array().expect("sites");
    assert!(!sites.is_empty());
    for site in sites {
        assert_eq!(site["status"], "completed", "{site}");
        assert!(
            time(&site["startTime"], "site start") > released,
            "a site started while throttled: {site}"
        );
    }
    let log = s.progress_log();
    assert!(log.contains("load back under --max-load"), "{log}");
    assert!(
        output(&out).contains("s in all (--max-load threads_running=4)"),
        "the final report does not say the run was throttled:\n{}",
        output(&out)
    );
    let summary = s.json("migration-summary.json");
    assert_eq!(
        summary["throttle"]["maxLoad"], "threads_running=4",
        "{summary}"
    );
    assert!(
        summary["throttle"]["throttledTimes"].as_u64() >= Some(1),
        "{summary}"
    );
    s.assert_migrated();
}

#[test]
fn a_critical_load_pauses_the_run_and_resume_finishes_it() {
    let s = Setup::new("thr_crit");
    let mut blockers = Blockers::start(s.private.server(), 6);
    let r = s.run(&[
        "env-migrate",
        "prod",
        "uat",
        "--force",
        "--critical-load",
        "Threads_running=5",
    ]);
    assert_eq!(r.code, 1, "{r:?}");
    let stop = r
        .stderr
        .lines()
        .find(|l| l.contains("critical load:"))
        .unwrap_or_else(|| panic!("no critical-load message:\n{}", r.stderr));
    for part in [
        "critical load: Threads_running=",
        "is above --critical-load Threads_running=5",
        "--resume env-migrate-",
    ] {
        assert!(stop.contains(part), "{part:?} missing from: {stop}");
    }
    assert!(
        stop.contains(" on prod ") || stop.contains(" on uat "),
        "the message names no server: {stop}"
    );
    assert_eq!(
        r.stderr.matches("critical load:").count(),
        1,
        "one message, not one per worker:\n{}",
        r.stderr
    );
    let state = s.json("migration-state.json");
    assert_eq!(state["status"], "paused", "{state}");
    assert_eq!(state["completedSites"], 0, "{state}");
    let summary = s.json("migration-summary.json");
    assert!(
        summary["stopReason"]
            .as_str()
            .is_some_and(|c| c.contains("critical load: Threads_running=")),
        "{summary}"
    );

    blockers.release();
    let id = state["migrationId"]
        .as_str()
        .expect("migrationId")
        .to_string();
    let r = s.run(&[
        "env-migrate",
        "--resume",
        &id,
        "--force",
        // One worker keeps the run's own statements under the limit.
        "--concurrency",
        "1",
        "--critical-load",
        "Threads_running=5",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(s.json("migration-state.json")["status"], "completed");
    s.assert_migrated();
}

#[test]
fn load_limits_are_checked_before_anything_is_written() {
    let (source, target) = (TestDb::new("thr_pre_src"), TestDb::new("thr_pre_dst"));
    seed_network(&source, &small_network());
    let dir = tempfile::tempdir().expect("temp dir");
    let config = write_config(
        dir.path(),
        &[("prod", &source, PROD_TOKENS), ("uat", &target, UAT_TOKENS)],
    );
    let logs = dir.path().join("logs");
    let migrate = |extra: &[&str]| {
        let mut cmd = wfuwp(&config, &logs);
        cmd.args(["env-migrate", "prod", "uat", "--force"])
            .args(extra);
        run(&mut cmd)
    };

    // A variable the server does not have: refused at preflight, by name.
    for (flag, dry) in [("--max-load", false), ("--critical-load", true)] {
        let mut args = vec![flag, "Threads_runing=5"];
        if dry {
            args.push("--dry-run");
        }
        let r = migrate(&args);
        assert_eq!(r.code, 2, "{args:?}: {r:?}");
        for part in [flag, "'Threads_runing'", "'prod'", "SHOW GLOBAL STATUS"] {
            assert!(r.stderr.contains(part), "{part:?} missing:\n{}", r.stderr);
        }
    }
    // Bad syntax: clap refuses it with the reason.
    for (value, why) in [
        ("Threads_running", "is not VAR=N"),
        ("Threads_running=ten", "is not a number"),
        ("Threads running=5", "is not a status variable name"),
    ] {
        let r = migrate(&["--max-load", value]);
        assert_eq!(r.code, 2, "{value}: {r:?}");
        assert!(r.stderr.contains(why), "{value}: {}", r.stderr);
    }
    assert!(
        !logs.exists() || std::fs::read_dir(&logs).expect("logs").next().is_none(),
        "a refused run created a migration"
    );
    // Names match whatever their case; `off` turns the limit off.
    let r = migrate(&[
        "--dry-run",
        "--max-load",
        "THREADS_running=1000,threads_CONNECTED=5000",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = migrate(&["--dry-run", "--max-load", "off"]);
    assert_eq!(r.code, 0, "{r:?}");
}

/// `SHOW STATUS` statements the server has run: each reading of the sampler
/// is one (read without being one).
fn status_reads(server: &Server) -> u64 {
    let rows: Vec<String> = block_on(async {
        let mut c = Conn::new(server.opts(None)).await.expect("connect");
        let rows = c
            .query(
                "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS \
                 WHERE VARIABLE_NAME = 'COM_SHOW_STATUS'",
            )
            .await
            .expect("reading Com_show_status");
        c.disconnect().await.ok();
        rows
    });
    rows.first().and_then(|v| v.parse().ok()).unwrap_or(0)
}

impl Setup {
    /// Panics when the run ended, a site started, or the gate opened: the
    /// server is still busy.
    fn assert_still_waiting(&self, child: &mut Child, out: &Path) {
        if let Some(status) = child.try_wait().expect("try_wait") {
            panic!(
                "the run ended ({status}) while the server was busy:\n{}",
                output(out)
            );
        }
        let log = self.progress_log();
        let started = log
            .lines()
            .find(|l| l.contains("load back under") || l.contains(" started (attempt"));
        if let Some(line) = started {
            panic!("work went on while the server was busy: {line}\n{log}");
        }
    }

    /// Waits, the run still waiting all along, until the sampler has read
    /// the servers `n` more times.
    fn wait_for_readings(&self, n: u64, child: &mut Child, out: &Path) {
        let server = self.private.server();
        let from = status_reads(server);
        poll(&format!("{n} more load readings"), || {
            self.assert_still_waiting(child, out);
            (status_reads(server) >= from + n).then_some(())
        });
    }
}

/// Item 8 of issue 22: the server closes the sampler's connection (a short
/// `wait_timeout`, then a KILL): a failed reading is not a low one, so the
/// run keeps waiting, reconnects, and says so in its progress log.
#[test]
fn a_sampler_connection_that_dies_keeps_a_throttled_run_waiting() {
    let s = Setup::with_server_options("thr_lost", &["--wait-timeout=1"]);
    let mut blockers = Blockers::start(s.private.server(), 6);
    let (mut child, out) = s.spawn(&[
        "env-migrate",
        "prod",
        "uat",
        "--force",
        "--concurrency",
        "1",
        "--max-load",
        "threads_running=4",
    ]);
    poll("the progress log to say the run is throttled", || {
        s.assert_still_waiting(&mut child, &out);
        s.progress_log()
            .contains("throttled: Threads_running=")
            .then_some(())
    });
    // Readings 2 s apart, each longer than the server lets a connection idle.
    s.wait_for_readings(6, &mut child, &out);

    // The sampler's connections: the run's only ones without a database.
    let sampler = format!(
        "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = '{}' AND DB IS NULL \
         AND ID <> CONNECTION_ID() AND ID NOT IN ({})",
        s.private.server().user,
        blockers
            .ids
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",")
    );
    let ids: Vec<u64> = s.source.query(&sampler);
    assert_eq!(ids.len(), 2, "one sampler connection per server: {ids:?}");
    for id in ids {
        s.private.server().exec(&format!("KILL CONNECTION {id}"));
    }
    poll("the progress log to say the sampler reconnected", || {
        s.assert_still_waiting(&mut child, &out);
        s.progress_log().contains("reconnected").then_some(())
    });
    s.wait_for_readings(4, &mut child, &out);
    let log = s.progress_log();
    let line = log
        .lines()
        .find(|l| l.contains("reconnected"))
        .expect("checked above");
    assert!(
        line.contains("reading the load of prod failed")
            || line.contains("reading the load of uat failed"),
        "{line}"
    );

    let released = Utc::now();
    blockers.release();
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(0), "{}", output(&out));
    let state = s.json("migration-state.json");
    for site in state["sites"].as_array().expect("sites") {
        assert_eq!(site["status"], "completed", "{site}");
        assert!(
            time(&site["startTime"], "site start") > released,
            "a site started while throttled: {site}"
        );
    }
    s.assert_migrated();
}

/// Item 9 of issue 22: a run whose lock connection stops answering (a
/// network that drops packets) while it waits for the load to drop stops
/// with the reason, on the terminal, in its log and in its summary, instead
/// of hanging on a lock check that never returns.
#[test]
fn a_run_whose_lock_stops_answering_while_throttled_says_why() {
    let s = Setup::new("thr_lock");
    // The target through a proxy that can stall its connections.
    let server = s.private.server();
    let proxy = Proxy::start(SocketAddr::from(([127, 0, 0, 1], server.port)));
    let uat = s.target.env_toml("uat", UAT_TOKENS).replace(
        &format!("port = {}\n", server.port),
        &format!("port = {}\n", proxy.port()),
    );
    let text = format!(
        "logs_dir = \"logs\"\n\n{}{uat}",
        s.source.env_toml("prod", PROD_TOKENS)
    );
    write_config_text(s.dir.path(), &text);
    let _blockers = Blockers::start(server, 6);
    let (mut child, out) = s.spawn(&[
        "env-migrate",
        "prod",
        "uat",
        "--force",
        "--concurrency",
        "1",
        "--max-load",
        "threads_running=4",
    ]);
    poll("the progress log to say the run is throttled", || {
        s.assert_still_waiting(&mut child, &out);
        s.progress_log()
            .contains("throttled: Threads_running=")
            .then_some(())
    });
    // Every connection to the target open now, the lock's among them, goes
    // silent; new ones pass.
    proxy.stall_all();
    let status = poll("the run to stop", || child.try_wait().expect("try_wait"));
    let text = output(&out);
    assert_eq!(status.code(), Some(1), "{text}");
    assert!(
        text.contains("stopped: lost the lock on database") && text.contains("stopped answering"),
        "no reason on the terminal:\n{text}"
    );
    let state = s.json("migration-state.json");
    assert_eq!(state["status"], "paused", "{state}");
    assert_eq!(state["completedSites"], 0, "{state}");
    let summary = s.json("migration-summary.json");
    assert!(
        summary["stopReason"]
            .as_str()
            .is_some_and(|r| r.contains("lost the lock")),
        "{summary}"
    );
    assert!(
        s.progress_log().contains("stopped: lost the lock"),
        "{}",
        s.progress_log()
    );
}

/// Minor item of issue 22: a limit of 0 can never be met (the run's own
/// reading counts in Threads_running), so it is refused before anything
/// happens, with the reason.
#[test]
fn a_load_limit_of_zero_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (source, target) = (TestDb::new("thr_zero_src"), TestDb::new("thr_zero_dst"));
    let config = write_config(
        dir.path(),
        &[("prod", &source, PROD_TOKENS), ("uat", &target, UAT_TOKENS)],
    );
    let logs = dir.path().join("logs");
    for flag in ["--max-load", "--critical-load"] {
        let r = run(wfuwp(&config, &logs).args([
            "env-migrate",
            "prod",
            "uat",
            "--force",
            flag,
            "Threads_running=0",
        ]));
        assert_eq!(r.code, 2, "{flag}: {r:?}");
        assert!(
            r.stderr.contains("Threads_running=0 can never be met")
                && r.stderr.contains("Give 1 or more"),
            "{flag}: {}",
            r.stderr
        );
    }
    assert!(!logs.exists(), "a refused run created a logs dir");
}
