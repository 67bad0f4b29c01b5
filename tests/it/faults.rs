//! Fault injection against the real sandbox server (issue 5, docs/phases.md):
//! stalled and cut connections through a TCP proxy, per-site timeouts whose
//! queries are killed on the server, retries, the resume selection flags,
//! Ctrl-C, and two runs racing for one target.
//!
//! Every test builds its own source and target databases, its own temp dir and
//! its own proxy (on an ephemeral port). The source environment points at the
//! proxy, the target at the server directly. Faults are armed on the query
//! that copies one site's table (``FROM `wp_N_posts` ``), so they hit exactly
//! that site, mid-copy. Nothing waits by sleeping: every wait polls an
//! observable condition (the proxy, the state files, `SHOW PROCESSLIST`)
//! against a deadline.

use crate::oracle;
use crate::support;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::proxy::{Action, Proxy};
use support::{
    block_on, seed_network, server, server_opts, small_network, table_checksums, wfuwp,
    write_config_text, TestDb, PROD_TOKENS, UAT_TOKENS,
};
use wfuwp_testbed::NetworkOptions;

/// Upper bound for any single wfuwp run in these tests.
const RUN_LIMIT: Duration = Duration::from_secs(60);
/// `--timeout` for runs that expect a timeout: 0.1 minutes = 6 s (healthy
/// sites take well under a second, even on a loaded machine).
const SHORT_TIMEOUT: &str = "0.1";
const SHORT_TIMEOUT_SECS: f64 = 6.0;

/// A source network behind a proxy, an empty target, a config and a logs dir.
struct Fixture {
    // Dropped first: a connection it still stalls may hold metadata locks
    // that would block dropping the databases.
    proxy: Proxy,
    src: TestDb,
    dst: TestDb,
    config: PathBuf,
    logs: PathBuf,
    _dir: tempfile::TempDir,
}

/// Which environment the proxy sits in front of.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Via {
    Source,
    Target,
}

impl Fixture {
    /// Source behind the proxy, empty target.
    fn new(label: &str) -> Fixture {
        Fixture::build(label, Via::Source, false)
    }

    /// `via` behind the proxy; with `seed_target`, the target starts as a
    /// "uat" network of its own (so a migration takes backups).
    fn build(label: &str, via: Via, seed_target: bool) -> Fixture {
        let src = TestDb::new(&format!("{label}_src"));
        let dst = TestDb::new(&format!("{label}_dst"));
        seed_network(&src, &small_network());
        if seed_target {
            seed_network(
                &dst,
                &NetworkOptions {
                    posts_per_site: 2,
                    seed: 977,
                    main_domain: "uat.wfu.edu".into(),
                    subdomain_suffix: ".uat.wfu.edu".into(),
                    cdn_host: "uat.wp.cdn.aws.wfu.edu".into(),
                    bucket: "wordpress-uat-us".into(),
                    ..small_network()
                },
            );
        }
        let proxy = Proxy::to_sandbox();
        let dir = tempfile::tempdir().expect("temp dir");
        let direct_port = format!("port = {}\n", server().port);
        let proxied = |toml: String| {
            let t = toml.replacen(&direct_port, &format!("port = {}\n", proxy.port()), 1);
            assert!(t.contains(&format!("port = {}", proxy.port())), "{t}");
            t
        };
        let (mut source, mut target) = (
            src.env_toml("prod", PROD_TOKENS),
            dst.env_toml("uat", UAT_TOKENS),
        );
        match via {
            Via::Source => source = proxied(source),
            Via::Target => target = proxied(target),
        }
        let text = format!("logs_dir = \"logs\"\n\n{source}{target}");
        let config = write_config_text(dir.path(), &text);
        let logs = dir.path().join("logs");
        Fixture {
            proxy,
            src,
            dst,
            config,
            logs,
            _dir: dir,
        }
    }

    /// `wfuwp env-migrate` with `args` (after the subcommand).
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = wfuwp(&self.config, &self.logs);
        c.arg("env-migrate").args(args);
        c
    }

    /// A new migration prod → uat with extra `args`.
    fn new_run(&self, args: &[&str]) -> Command {
        let mut all = vec!["prod", "uat", "--force"];
        all.extend_from_slice(args);
        self.cmd(&all)
    }

    /// A resume of `id` with extra `args`.
    fn resume(&self, id: &str, args: &[&str]) -> Command {
        let mut all = vec!["--resume", id];
        all.extend_from_slice(args);
        self.cmd(&all)
    }

    /// The only migration id in the logs dir.
    fn only_id(&self) -> String {
        let ids = migration_ids(&self.logs);
        assert_eq!(ids.len(), 1, "expected one migration, found {ids:?}");
        ids[0].clone()
    }

    /// The recorded state of `id` (snapshot plus journal), as JSON.
    fn state(&self, id: &str) -> Value {
        load_state(&self.logs, id).unwrap_or_else(|e| panic!("state of {id}: {e}"))
    }

    /// Row counts of every table of site `n` (`wp_n_*`) on the source.
    fn site_counts(&self, db: &TestDb, n: u64) -> BTreeMap<String, u64> {
        let prefix = format!("wp_{n}_");
        db.tables()
            .into_iter()
            .filter(|t| t.starts_with(&prefix))
            .map(|t| {
                let c = db.count(&t);
                (t, c)
            })
            .collect()
    }

    /// Asserts that site `n`'s tables on the target are exactly what an
    /// uninterrupted migration of the same source makes of them (rows and
    /// `CHECKSUM TABLE`): a value truncated or duplicated by a retry fails.
    fn assert_site_copied(&self, n: u64) {
        let prefix = format!("wp_{n}_");
        let of_site = |c: BTreeMap<String, (u64, u64)>| -> BTreeMap<String, (u64, u64)> {
            c.into_iter()
                .filter(|(t, _)| t.starts_with(&prefix))
                .collect()
        };
        let want = of_site(uninterrupted().clone());
        assert!(!want.is_empty(), "the reference has no tables for site {n}");
        assert_eq!(
            of_site(table_checksums(&self.dst)),
            want,
            "site {n} on the target"
        );
    }
}

/// Checksums of every table of an empty target after one uninterrupted
/// migration of `small_network()` (computed once per test binary).
fn uninterrupted() -> &'static BTreeMap<String, (u64, u64)> {
    static REFERENCE: std::sync::OnceLock<BTreeMap<String, (u64, u64)>> =
        std::sync::OnceLock::new();
    REFERENCE.get_or_init(|| {
        let src = TestDb::new("flt_ref_src");
        let dst = TestDb::new("flt_ref_dst");
        seed_network(&src, &small_network());
        let before = oracle::snapshot(&dst);
        let dir = tempfile::tempdir().expect("temp dir");
        let config = support::write_config(
            dir.path(),
            &[("prod", &src, PROD_TOKENS), ("uat", &dst, UAT_TOKENS)],
        );
        let r = support::run(wfuwp(&config, &dir.path().join("logs")).args([
            "env-migrate",
            "prod",
            "uat",
            "--force",
        ]));
        assert_eq!(
            r.code, 0,
            "the reference migration failed:\n{}\n{}",
            r.stdout, r.stderr
        );
        // The reference itself is judged by the oracle, not by the engine.
        oracle::assert_target(&oracle::Migration::full(&src), &before, &dst);
        table_checksums(&dst)
    })
}

impl Fixture {
    /// Asserts the whole target (an empty one before the run) is what an
    /// uninterrupted migration makes of it: the same tables, each with the
    /// same rows and `CHECKSUM TABLE`.
    fn assert_target_uninterrupted(&self, what: &str) {
        let d = crate::migration_kit::diff(uninterrupted(), &table_checksums(&self.dst));
        assert!(
            d.is_empty(),
            "{what}: the target differs from an uninterrupted run's:\n{d}"
        );
    }

    /// Asserts the cleanup phase left no staging or trash table on the target.
    fn assert_no_leftovers(&self) {
        let left: Vec<String> = self
            .dst
            .tables()
            .into_iter()
            .filter(|t| t.starts_with("_wfs_") || t.starts_with("_wft_"))
            .collect();
        assert!(
            left.is_empty(),
            "staging/trash tables left on the target: {left:?}"
        );
    }
}

/// The copy query of site `n`'s posts table, as the client sends it.
fn posts_query(n: u64) -> String {
    format!("FROM `wp_{n}_posts`")
}

fn migration_ids(logs: &Path) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(logs)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.path().join("migration-state.json").exists())
                .filter_map(|e| e.file_name().to_str().map(String::from))
                .filter(|n| n.starts_with("env-migrate-"))
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

fn load_state(logs: &Path, id: &str) -> Result<Value, String> {
    let dir = wfuwp_engine::state::store::migration_dir(logs, id);
    let state = wfuwp_engine::state::store::load(&dir).map_err(|e| e.to_string())?;
    serde_json::to_value(&state).map_err(|e| e.to_string())
}

/// The record of site `n` in a state.
fn site(state: &Value, n: u64) -> &Value {
    state["sites"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["siteId"] == n))
        .unwrap_or_else(|| panic!("site {n} is not in the state: {state:#}"))
}

fn status(state: &Value, n: u64) -> &str {
    site(state, n)["status"].as_str().unwrap_or("?")
}

fn attempts(state: &Value, n: u64) -> u64 {
    site(state, n)["attempts"].as_u64().unwrap_or(0)
}

/// Every site's (status, attempts, endTime), to compare before and after a run.
fn site_table(state: &Value) -> BTreeMap<u64, (String, u64, Value)> {
    state["sites"]
        .as_array()
        .expect("sites array")
        .iter()
        .map(|s| {
            (
                s["siteId"].as_u64().expect("siteId"),
                (
                    s["status"].as_str().unwrap_or("?").to_string(),
                    s["attempts"].as_u64().unwrap_or(0),
                    s["endTime"].clone(),
                ),
            )
        })
        .collect()
}

fn seconds_between(a: &Value, b: &Value) -> f64 {
    let parse = |v: &Value| {
        chrono::DateTime::parse_from_rfc3339(
            v.as_str().unwrap_or_else(|| panic!("not a time: {v}")),
        )
        .unwrap_or_else(|e| panic!("{v}: {e}"))
    };
    (parse(b) - parse(a)).num_milliseconds() as f64 / 1000.0
}

/// Polls `f` until it returns `Some`, at most `limit`; panics with `what` after.
fn wait_for<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// A running wfuwp whose output is collected in the background.
struct Running {
    child: Child,
    out: Option<std::thread::JoinHandle<String>>,
    err: Option<std::thread::JoinHandle<String>>,
}

/// A finished run.
#[derive(Debug)]
struct Finished {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Finished {
    fn expect(self, code: i32, what: &str) -> Finished {
        assert_eq!(
            self.code, code,
            "{what}: exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

fn spawn(mut cmd: Command) -> Running {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting wfuwp");
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = r.read_to_end(&mut s);
            String::from_utf8_lossy(&s).into_owned()
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("stdout")));
    let err = drain(Box::new(child.stderr.take().expect("stderr")));
    Running {
        child,
        out: Some(out),
        err: Some(err),
    }
}

impl Running {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Exit code if it has finished.
    fn poll(&mut self) -> Option<i32> {
        self.child
            .try_wait()
            .expect("waiting for wfuwp")
            .map(|s| s.code().unwrap_or(-1))
    }

    /// Waits at most `limit`; kills it and panics past that.
    fn finish(mut self, limit: Duration) -> Finished {
        let deadline = Instant::now() + limit;
        let code = loop {
            if let Some(code) = self.poll() {
                break code;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                let (o, e) = self.output();
                panic!("wfuwp did not finish within {limit:?}\n--- stdout\n{o}\n--- stderr\n{e}");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let (stdout, stderr) = self.output();
        Finished {
            code,
            stdout,
            stderr,
        }
    }

    /// Everything it wrote (call once it exited).
    fn output(&mut self) -> (String, String) {
        let join = |h: Option<std::thread::JoinHandle<String>>| {
            h.map(|h| h.join().unwrap_or_default()).unwrap_or_default()
        };
        (join(self.out.take()), join(self.err.take()))
    }

    fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child's pid.
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, sig) };
        assert_eq!(rc, 0, "kill({}, {sig})", self.child.id());
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn run_to_end(cmd: Command) -> Finished {
    spawn(cmd).finish(RUN_LIMIT)
}

/// One row of the server's process list.
#[derive(Debug, Clone)]
struct Process {
    id: u64,
    db: Option<String>,
    info: Option<String>,
}

/// The server's process list, read over a direct connection (not the proxy).
fn processlist() -> Vec<Process> {
    use mysql_async::prelude::Queryable;
    block_on(async {
        let mut c = mysql_async::Conn::new(server_opts(None))
            .await
            .expect("connecting to the sandbox");
        let rows: Vec<(u64, Option<String>, Option<String>)> = c
            .query("SELECT ID, DB, INFO FROM information_schema.PROCESSLIST")
            .await
            .expect("PROCESSLIST");
        c.disconnect().await.ok();
        rows.into_iter()
            .map(|(id, db, info)| Process { id, db, info })
            .collect()
    })
}

/// Waits until the server no longer lists connection `id`, and no query of
/// database `db` mentions `tables_like` (e.g. `wp_2_`).
fn assert_killed(id: u32, db: &str, tables_like: &str) {
    let deadline = Duration::from_secs(10);
    let result = std::panic::catch_unwind(|| {
        wait_for(
            "the killed connection to leave SHOW PROCESSLIST",
            deadline,
            || {
                let list = processlist();
                let left = list.iter().any(|p| {
                    p.id == u64::from(id)
                        || (p.db.as_deref() == Some(db)
                            && p.info.as_deref().is_some_and(|i| i.contains(tables_like)))
                });
                (!left).then_some(())
            },
        )
    });
    if result.is_err() {
        panic!(
            "connection {id} or a query on {db}.{tables_like}* is still on the server: {:#?}",
            processlist()
        );
    }
}

/// The first fault, once it fired; panics with the run's output if the run
/// ends first (or after [`RUN_LIMIT`]).
fn first_fired(proxy: &Proxy, running: &mut Running) -> support::proxy::Fired {
    let fired = wait_for("the armed fault to fire", RUN_LIMIT, || {
        if let Some(f) = proxy.fired().first() {
            return Some(Ok(*f));
        }
        running.poll().map(Err)
    });
    match fired {
        Ok(f) => f,
        Err(code) => {
            let (out, err) = running.output();
            panic!(
                "wfuwp exited {code} before the fault fired\n--- stdout\n{out}\n--- stderr\n{err}"
            )
        }
    }
}

// ------------------------------------------------------------------ tests

/// A site whose source connection stalls mid-copy ends `timeout` at its time
/// limit, its server-side connection is killed (gone from SHOW PROCESSLIST
/// although the proxy still holds the socket open), the other sites complete,
/// and the run exits 3. `--retry-failed` then completes it.
#[test]
fn stalled_site_times_out_and_its_queries_are_killed() {
    let fx = Fixture::new("stall");
    fx.proxy.stall_on(&posts_query(2));
    let mut running = spawn(fx.new_run(&["--concurrency", "1", "--timeout", SHORT_TIMEOUT]));

    let fired = first_fired(&fx.proxy, &mut running);
    assert_eq!(fired.action, Action::Stall);
    let thread = fired.thread_id.expect("the stalled connection's server id");
    // The stalled connection is on the server, inside site 2's copy.
    let listed = processlist();
    let p = listed
        .iter()
        .find(|p| p.id == u64::from(thread))
        .unwrap_or_else(|| panic!("stalled connection {thread} not in {listed:#?}"));
    assert_eq!(p.db.as_deref(), Some(fx.src.name.as_str()));

    // The site times out; by then its connection is gone from the server.
    let id = wait_for("a migration id", RUN_LIMIT, || {
        migration_ids(&fx.logs).pop()
    });
    let state = wait_for("site 2 to end timeout", RUN_LIMIT, || {
        let st = load_state(&fx.logs, &id).ok()?;
        (status(&st, 2) == "timeout").then_some(st)
    });
    assert_killed(thread, &fx.src.name, "wp_2_");
    let rec = site(&state, 2);
    assert_eq!(rec["errorKind"], "timeout", "{rec:#}");
    // The limit, not the stall's end, ended the site: the proxy still holds
    // the stalled connection (it never lets it go), and the site did not end
    // before its limit (the state records the start before the clock runs;
    // timestamps are to the millisecond). No upper bound: a loaded machine
    // may be late by any amount.
    assert!(
        fx.proxy.stalled_thread_ids().contains(&thread),
        "the stall was released before the site ended"
    );
    assert!(
        rec["error"]
            .as_str()
            .is_some_and(|e| e.contains("time limit")),
        "{rec:#}"
    );
    let took = seconds_between(&rec["startTime"], &rec["endTime"]);
    assert!(
        took >= SHORT_TIMEOUT_SECS - 0.002,
        "site 2 ended after {took}s, before its {SHORT_TIMEOUT_SECS}s limit"
    );

    let done = running
        .finish(RUN_LIMIT)
        .expect(3, "a run with a timed-out site");
    let state = fx.state(&id);
    assert_eq!(state["status"], "failed", "{}", done.stdout);
    assert_eq!(state["timeoutSites"], 1);
    for n in [1, 3, 4, 5, 6] {
        assert_eq!(status(&state, n), "completed", "site {n}");
    }
    assert!(
        fx.proxy.stalled_thread_ids().contains(&thread),
        "the proxy kept the socket open"
    );
    fx.assert_no_leftovers();

    // The proxy still stalls that old socket; new connections pass.
    let done = run_to_end(fx.resume(&id, &["--retry-failed"])).expect(0, "--retry-failed");
    let state = fx.state(&id);
    assert_eq!(state["status"], "completed", "{}", done.stdout);
    assert_eq!(status(&state, 2), "completed");
    assert_eq!(attempts(&state, 2), 2);
    fx.assert_site_copied(2);
}

/// A connection cut once in the middle of a site's copy is retried and the
/// site completes with two attempts; the run succeeds.
#[test]
fn cut_connection_is_retried_and_succeeds() {
    let fx = Fixture::new("cut");
    fx.proxy.cut_on(&posts_query(3));
    let done = run_to_end(fx.new_run(&["--concurrency", "1"])).expect(0, "a run with one cut");
    let fired = fx.proxy.fired();
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert_eq!(fired[0].action, Action::Cut);
    let state = fx.state(&fx.only_id());
    assert_eq!(state["status"], "completed", "{}", done.stdout);
    let rec = site(&state, 3);
    assert_eq!(rec["status"], "completed");
    assert!(attempts(&state, 3) >= 2, "{rec:#}");
    let log = std::fs::read_to_string(
        wfuwp_engine::state::store::migration_dir(&fx.logs, &fx.only_id())
            .join("migration-progress.log"),
    )
    .expect("progress log");
    assert!(
        log.lines()
            .any(|l| l.contains("site 3 retrying") && l.contains("connection")),
        "no retry of site 3 after a connection error in the log:\n{log}"
    );
    for n in [1, 2, 4, 5, 6] {
        assert_eq!(attempts(&state, n), 1, "site {n}");
    }
    fx.assert_site_copied(3);
}

/// Makes site 2 fail (connection cut, no retries) and site 3 time out (stall),
/// the rest complete; returns the migration id.
fn failed_and_timed_out(fx: &Fixture) -> String {
    fx.proxy.cut_on(&posts_query(2));
    fx.proxy.stall_on(&posts_query(3));
    let args = [
        "--concurrency",
        "1",
        "--timeout",
        SHORT_TIMEOUT,
        "--max-retries",
        "0",
    ];
    run_to_end(fx.new_run(&args)).expect(3, "first run");
    assert_eq!(fx.proxy.fired().len(), 2, "{:?}", fx.proxy.fired());
    let id = fx.only_id();
    let state = fx.state(&id);
    assert_eq!(state["status"], "failed");
    assert_eq!((status(&state, 2), attempts(&state, 2)), ("failed", 1));
    assert_eq!(site(&state, 2)["errorKind"], "connection");
    assert_eq!((status(&state, 3), attempts(&state, 3)), ("timeout", 1));
    assert_eq!(site(&state, 3)["errorKind"], "timeout");
    for n in [1, 4, 5, 6] {
        assert_eq!(
            (status(&state, n), attempts(&state, n)),
            ("completed", 1),
            "site {n}"
        );
    }
    id
}

/// `--retry-failed` processes the failed and the timed-out site (made by the
/// proxy) and nothing else, and the migration completes.
#[test]
fn retry_failed_completes_failed_and_timed_out_sites() {
    let fx = Fixture::new("retry");
    let id = failed_and_timed_out(&fx);
    let before = site_table(&fx.state(&id));
    run_to_end(fx.resume(&id, &["--retry-failed"])).expect(0, "--retry-failed");
    let state = fx.state(&id);
    assert_eq!(state["status"], "completed");
    let after = site_table(&state);
    for n in [2, 3] {
        assert_eq!(
            (status(&state, n), attempts(&state, n)),
            ("completed", 2),
            "site {n}"
        );
        fx.assert_site_copied(n);
    }
    for n in [1, 4, 5, 6] {
        assert_eq!(after[&n], before[&n], "completed site {n} was touched");
    }
}

/// `--skip-failed` retries only the timed-out site (timing out again),
/// `--skip-timeouts` only the failed one; untouched sites keep status,
/// attempts and end time; the migration stays `failed` (exit 3) while any
/// failed/timeout site remains, and `--retry-failed` finishes it.
#[test]
fn skip_flags_touch_only_their_sites() {
    let fx = Fixture::new("skip");
    let id = failed_and_timed_out(&fx);
    let first = site_table(&fx.state(&id));

    // --skip-failed: only site 3 runs, and times out again.
    fx.proxy.stall_on(&posts_query(3));
    run_to_end(fx.resume(&id, &["--skip-failed", "--timeout", SHORT_TIMEOUT]))
        .expect(3, "--skip-failed");
    let state = fx.state(&id);
    assert_eq!(state["status"], "failed");
    let second = site_table(&state);
    assert_eq!((status(&state, 3), attempts(&state, 3)), ("timeout", 2));
    for n in [1, 2, 4, 5, 6] {
        assert_eq!(second[&n], first[&n], "--skip-failed touched site {n}");
    }

    // --skip-timeouts: only site 2 runs, and completes.
    run_to_end(fx.resume(&id, &["--skip-timeouts"])).expect(3, "--skip-timeouts");
    let state = fx.state(&id);
    assert_eq!(state["status"], "failed");
    assert_eq!((status(&state, 2), attempts(&state, 2)), ("completed", 2));
    fx.assert_site_copied(2);
    let third = site_table(&state);
    for n in [1, 3, 4, 5, 6] {
        assert_eq!(third[&n], second[&n], "--skip-timeouts touched site {n}");
    }

    // Again: nothing left for it to do; nothing changes, still exit 3.
    run_to_end(fx.resume(&id, &["--skip-timeouts"])).expect(3, "--skip-timeouts, nothing to do");
    let state = fx.state(&id);
    assert_eq!(state["status"], "failed");
    assert_eq!(
        site_table(&state),
        third,
        "a run with nothing to do touched sites"
    );

    // Still resumable: --list-migrations shows it.
    let listed =
        run_to_end(fx.cmd(&["--list-migrations", "--json"])).expect(0, "--list-migrations");
    let list: Value = serde_json::from_str(&listed.stdout).expect("--list-migrations --json");
    assert!(
        list.as_array()
            .is_some_and(|a| a.iter().any(|m| m["migrationId"] == id.as_str())),
        "{list:#}"
    );

    // --retry-failed: only site 3 is left.
    run_to_end(fx.resume(&id, &["--retry-failed"])).expect(0, "--retry-failed");
    let state = fx.state(&id);
    assert_eq!(state["status"], "completed");
    assert_eq!((status(&state, 3), attempts(&state, 3)), ("completed", 3));
    fx.assert_site_copied(3);
    let fourth = site_table(&state);
    for n in [1, 2, 4, 5, 6] {
        assert_eq!(fourth[&n], third[&n], "--retry-failed touched site {n}");
    }
}

/// Ctrl-C while a site is busy (its connection stalled): the run stops,
/// kills the site's queries, saves `paused` and exits 130; a resume completes.
#[test]
fn ctrl_c_pauses_and_resume_completes() {
    interrupt_mid_site("sigint", libc::SIGINT);
}

/// SIGTERM is handled exactly like Ctrl-C.
#[test]
fn sigterm_pauses_and_resume_completes() {
    interrupt_mid_site("sigterm", libc::SIGTERM);
}

fn interrupt_mid_site(label: &str, sig: i32) {
    let fx = Fixture::new(label);
    fx.proxy.stall_on(&posts_query(3));
    let mut running = spawn(fx.new_run(&["--concurrency", "1"]));
    let thread = first_fired(&fx.proxy, &mut running)
        .thread_id
        .expect("server id of the stalled connection");
    let id = wait_for("a migration id", RUN_LIMIT, || {
        migration_ids(&fx.logs).pop()
    });
    wait_for("site 3 in progress", RUN_LIMIT, || {
        let st = load_state(&fx.logs, &id).ok()?;
        (status(&st, 3) == "in_progress").then_some(())
    });
    running.signal(sig);
    let done = running.finish(RUN_LIMIT).expect(130, label);
    assert_killed(thread, &fx.src.name, "wp_3_");
    let state = fx.state(&id);
    assert_eq!(state["status"], "paused", "{}", done.stderr);
    assert_ne!(status(&state, 3), "completed");
    for n in [4, 5, 6] {
        assert_eq!(status(&state, n), "pending", "site {n}");
    }

    let done = run_to_end(fx.resume(&id, &[])).expect(0, "resume after Ctrl-C");
    let state = fx.state(&id);
    assert_eq!(state["status"], "completed", "{}", done.stdout);
    for n in 1..=6 {
        assert_eq!(status(&state, n), "completed", "site {n}");
    }
    fx.assert_site_copied(3);
}

/// Two runs on one target started at the same instant: one proceeds (held
/// up by a stall so that they surely overlap), the other exits 4 naming the
/// holder's pid and host; the holder then completes.
#[test]
fn second_run_on_a_target_exits_4() {
    let fx = Fixture::new("lock");
    fx.proxy.stall_on(&posts_query(3));
    let args = ["--concurrency", "1"];
    let mut runs = [spawn(fx.new_run(&args)), spawn(fx.new_run(&args))];
    let loser = wait_for("one of the runs to exit", RUN_LIMIT, || {
        runs.iter_mut().position(|r| r.poll().is_some())
    });
    let [a, b] = runs;
    let (lost, mut won) = if loser == 0 { (a, b) } else { (b, a) };
    let holder = won.pid();
    let lost = lost.finish(RUN_LIMIT).expect(4, "the second run");
    let host = wfuwp_engine::state::lock::hostname();
    let said = format!("{}{}", lost.stdout, lost.stderr);
    assert!(
        said.contains(&holder.to_string()) && said.contains(&host),
        "no pid {holder} / host {host} in:\n{said}"
    );

    first_fired(&fx.proxy, &mut won);
    fx.proxy.heal();
    won.finish(RUN_LIMIT).expect(0, "the run holding the lock");
    let ids = migration_ids(&fx.logs);
    let completed: Vec<&String> = ids
        .iter()
        .filter(|id| fx.state(id)["status"] == "completed")
        .collect();
    assert_eq!(completed.len(), 1, "{ids:?}");
    for n in 1..=6 {
        if fx.site_counts(&fx.src, n).is_empty() {
            continue;
        }
        fx.assert_site_copied(n);
    }
}

/// The proxy itself: stall_all holds open connections but lets new ones pass,
/// heal resumes them, cut_all and the one-shot cuts close connections, and
/// the handshake's connection id is the server's.
#[test]
fn proxy_stalls_and_cuts_on_demand() {
    use mysql_async::prelude::Queryable;
    let proxy = Proxy::to_sandbox();
    let opts = |port: u16| -> mysql_async::Opts {
        mysql_async::OptsBuilder::from_opts(server_opts(None))
            .tcp_port(port)
            .into()
    };
    block_on(async {
        let connect = || mysql_async::Conn::new(opts(proxy.port()));
        let mut a = connect().await.expect("connecting through the proxy");
        let id: Option<u32> = a
            .query_first("SELECT CONNECTION_ID()")
            .await
            .expect("query");
        assert_eq!(proxy.connection_count(), 1);
        assert_eq!(proxy.open_connections(), 1);

        proxy.stall_all();
        assert_eq!(proxy.stalled_thread_ids(), vec![id.expect("connection id")]);
        let held = tokio::time::timeout(Duration::from_millis(300), a.query_drop("DO 1")).await;
        assert!(held.is_err(), "a stalled connection answered");
        let mut b = connect().await.expect("a new connection passes a stall");
        b.query_drop("DO 1")
            .await
            .expect("query on a new connection");
        proxy.heal();
        let mut a = connect()
            .await
            .expect("reconnecting after the abandoned query");
        a.query_drop("DO 1").await.expect("query after heal");

        proxy.cut_all();
        assert!(
            b.query_drop("DO 1").await.is_err(),
            "a cut connection still works"
        );
        assert_eq!(proxy.open_connections(), 0);

        proxy.cut_connection_number(proxy.connection_count() + 1);
        assert!(
            connect().await.is_err(),
            "the numbered connection was not cut"
        );
        let mut c = connect().await.expect("the next connection passes");
        proxy.cut_after_bytes(10_000);
        let big = c.query_drop("SELECT REPEAT('x', 100000)").await;
        assert!(big.is_err(), "a connection past the byte limit was not cut");
        assert_eq!(proxy.pending_faults(), 0);
        assert_eq!(proxy.fired().len(), 2);
    });
}

/// The target's connection stalls inside a site's copy (its staging table
/// being created and filled): the site times out, the target-side connection
/// is killed on the server, and a later `--retry-failed` completes the site.
#[test]
fn stalled_target_write_times_out_and_is_killed() {
    let fx = Fixture::build("tstall", Via::Target, false);
    // The staging copy of wp_2_posts, as created and filled on the target.
    fx.proxy.stall_on("_wp_2_posts` ");
    let mut running = spawn(fx.new_run(&["--concurrency", "1", "--timeout", SHORT_TIMEOUT]));
    let thread = first_fired(&fx.proxy, &mut running)
        .thread_id
        .expect("server id of the stalled connection");
    let done = running
        .finish(RUN_LIMIT)
        .expect(3, "a run with a timed-out site");
    assert_killed(thread, &fx.dst.name, "wp_2_");
    fx.assert_no_leftovers();
    let id = fx.only_id();
    let state = fx.state(&id);
    assert_eq!(
        (status(&state, 2), &site(&state, 2)["errorKind"]),
        ("timeout", &Value::from("timeout")),
        "{}",
        done.stdout
    );
    run_to_end(fx.resume(&id, &["--retry-failed"])).expect(0, "--retry-failed");
    assert_eq!(fx.state(&id)["status"], "completed");
    fx.assert_site_copied(2);
}

/// The target connection is cut right after the server received a site's
/// swap (`RENAME TABLE`), so the client never learns it happened; the retry
/// must converge (the live tables are this migration's copies by then), and a
/// rollback must still restore the target's original tables exactly.
#[test]
fn cut_after_swap_is_retried_and_rollback_restores_the_original() {
    let fx = Fixture::build("tswap", Via::Target, true);
    let before = table_checksums(&fx.dst);
    fx.proxy.cut_on("TO `wp_2_");
    let done = run_to_end(fx.new_run(&["--concurrency", "1"])).expect(0, "a run with a cut swap");
    assert_eq!(fx.proxy.fired().len(), 1, "{:?}", fx.proxy.fired());
    let id = fx.only_id();
    let state = fx.state(&id);
    assert_eq!(state["status"], "completed", "{}", done.stdout);
    assert!(attempts(&state, 2) >= 2, "{:#}", site(&state, 2));
    fx.assert_site_copied(2);
    assert!(
        fx.dst
            .tables()
            .iter()
            .all(|t| !t.starts_with("_wfs_") && !t.starts_with("_wft_")),
        "staging or trash tables left: {:?}",
        fx.dst.tables()
    );

    run_to_end(fx.cmd(&["--rollback", &id, "--force"])).expect(0, "rollback");
    assert_eq!(
        table_checksums(&fx.dst),
        before,
        "the target after rollback"
    );
}

/// A connection cut once while the network tables are copied is a transient
/// failure like any other (docs/phases.md): retried, and the run succeeds.
#[test]
fn cut_during_network_tables_is_retried() {
    let fx = Fixture::new("netcut");
    fx.proxy.cut_on("FROM `wp_sitemeta`");
    let done = run_to_end(fx.new_run(&["--concurrency", "1"]));
    assert_eq!(fx.proxy.fired().len(), 1, "{:?}", fx.proxy.fired());
    let done = done.expect(0, "a run with a cut in the network phase");
    let state = fx.state(&fx.only_id());
    assert_eq!(state["status"], "completed", "{}", done.stdout);
    fx.assert_target_uninterrupted("a cut while copying sitemeta, retried");
}

/// Ctrl-C while the network tables are being copied (source stalled):
/// `paused`, exit 130, the stalled query killed; the resume redoes the
/// phase and completes with no staging table left.
#[test]
fn ctrl_c_during_network_tables() {
    let fx = Fixture::new("netint");
    fx.proxy.stall_on("FROM `wp_sitemeta`");
    let mut running = spawn(fx.new_run(&["--concurrency", "1"]));
    let thread = first_fired(&fx.proxy, &mut running)
        .thread_id
        .expect("server id of the stalled connection");
    running.signal(libc::SIGINT);
    let done = running.finish(RUN_LIMIT).expect(130, "Ctrl-C");
    assert_killed(thread, &fx.src.name, "wp_sitemeta");
    let id = fx.only_id();
    assert_eq!(fx.state(&id)["status"], "paused", "{}", done.stderr);
    run_to_end(fx.resume(&id, &[])).expect(0, "resume");
    assert_eq!(fx.state(&id)["status"], "completed");
    fx.assert_target_uninterrupted("Ctrl-C in the network phase, resumed");
}

/// Ctrl-C while post-migration verification hangs on a stalled target
/// connection: one Ctrl-C is enough (`paused`, exit 130), and the resume runs
/// post_migration again and completes.
#[test]
fn ctrl_c_during_verification_pauses() {
    let fx = Fixture::build("verint", Via::Target, false);
    // Only the verification counts rows with COUNT(*).
    fx.proxy.stall_on("COUNT(*) FROM `wp_2_posts`");
    let mut running = spawn(fx.new_run(&["--concurrency", "1"]));
    first_fired(&fx.proxy, &mut running);
    let id = fx.only_id();
    assert_eq!(fx.state(&id)["currentPhase"], "post_migration");
    let stalled = fx.proxy.stalled_thread_ids();
    assert!(!stalled.is_empty(), "the verification query is not stalled");
    running.signal(libc::SIGINT);
    let done = running
        .finish(RUN_LIMIT)
        .expect(130, "one Ctrl-C during verification");
    // It stopped on its own: the stalled query never answered (the proxy
    // still holds it), and no second signal was sent.
    assert_eq!(
        fx.proxy.stalled_thread_ids(),
        stalled,
        "the stall ended before the run did"
    );
    let state = fx.state(&id);
    assert_eq!(state["status"], "paused", "{}", done.stderr);
    assert_eq!(state["completedSites"], 6);

    let done = run_to_end(fx.resume(&id, &[])).expect(0, "resume after Ctrl-C");
    let state = fx.state(&id);
    assert_eq!(state["status"], "completed", "{}", done.stdout);
    let post = state["phases"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["phase"] == "post_migration"))
        .expect("post_migration phase");
    assert_eq!(post["status"], "completed");
}

/// A timeout with nothing wrong on the network: a reader on the target holds
/// site 2's tables (an open transaction's metadata lock), so the site's swap
/// waits on the server. The site ends `timeout`, its waiting `RENAME` is
/// killed (the server would otherwise swap later, behind the state's back),
/// the target's live tables are untouched, and `--retry-failed` completes it
/// once the reader is gone.
#[test]
fn swap_blocked_by_a_reader_times_out_and_is_killed() {
    use mysql_async::prelude::Queryable;
    let fx = Fixture::build("mdl", Via::Source, true);
    let before = fx.site_counts(&fx.dst, 2);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut reader = rt.block_on(fx.dst.connect());
    rt.block_on(async {
        reader.query_drop("START TRANSACTION").await?;
        reader
            .query_drop("SELECT * FROM `wp_2_posts` LIMIT 1")
            .await
    })
    .expect("the reader's transaction");

    let done = run_to_end(fx.new_run(&["--concurrency", "1", "--timeout", SHORT_TIMEOUT]))
        .expect(3, "a run whose swap is blocked");
    let id = fx.only_id();
    let state = fx.state(&id);
    assert_eq!(
        (status(&state, 2), &site(&state, 2)["errorKind"]),
        ("timeout", &Value::from("timeout")),
        "{}",
        done.stdout
    );
    assert_killed(0, &fx.dst.name, "wp_2_");
    rt.block_on(async {
        reader.query_drop("COMMIT").await?;
        reader.disconnect().await
    })
    .expect("ending the reader");
    assert_eq!(
        fx.site_counts(&fx.dst, 2),
        before,
        "site 2 changed after its timeout"
    );
    fx.assert_no_leftovers();

    run_to_end(fx.resume(&id, &["--retry-failed"])).expect(0, "--retry-failed");
    assert_eq!(fx.state(&id)["status"], "completed");
    fx.assert_site_copied(2);
}

/// Retries are bounded by `--max-retries` and each try is counted: a site cut
/// on every try ends `failed` (connection) with 1 + max-retries attempts.
#[test]
fn retries_stop_at_max_retries() {
    let fx = Fixture::new("maxretry");
    for _ in 0..3 {
        fx.proxy.cut_on(&posts_query(2));
    }
    run_to_end(fx.new_run(&["--concurrency", "1", "--max-retries", "2"]))
        .expect(3, "a site cut on every try");
    assert_eq!(fx.proxy.fired().len(), 3);
    let state = fx.state(&fx.only_id());
    assert_eq!((status(&state, 2), attempts(&state, 2)), ("failed", 3));
    assert_eq!(site(&state, 2)["errorKind"], "connection");
    assert_eq!(state["failedSites"], 1);
}

/// Every open connection cut at once while two sites copy in parallel: each
/// worker retries on fresh connections and the run completes.
#[test]
fn cut_all_with_two_workers_recovers() {
    let fx = Fixture::new("cutall");
    fx.proxy.stall_on(&posts_query(2));
    let mut running = spawn(fx.new_run(&["--concurrency", "2"]));
    first_fired(&fx.proxy, &mut running);
    let before = fx.proxy.open_connections();
    fx.proxy.cut_all();
    assert!(before >= 1);
    assert_eq!(fx.proxy.open_connections(), 0);
    let done = running.finish(RUN_LIMIT).expect(0, "a run after cut_all");
    let state = fx.state(&fx.only_id());
    assert_eq!(state["status"], "completed", "{}", done.stdout);
    assert!(attempts(&state, 2) >= 2, "{:#}", site(&state, 2));
    fx.assert_site_copied(2);
}

/// A stall in the network tables phase is bounded by `--timeout` too: its
/// query is killed on the server, the run ends failed (exit 1, resumable), and
/// a resume with a healthy connection completes.
#[test]
fn stalled_network_tables_time_out() {
    let fx = Fixture::new("netstall");
    fx.proxy.stall_on("FROM `wp_sitemeta`");
    let mut running = spawn(fx.new_run(&["--concurrency", "1", "--timeout", SHORT_TIMEOUT]));
    let thread = first_fired(&fx.proxy, &mut running)
        .thread_id
        .expect("server id of the stalled connection");
    let done = running
        .finish(RUN_LIMIT)
        .expect(1, "a network phase over its time limit");
    assert_killed(thread, &fx.src.name, "wp_sitemeta");
    let id = fx.only_id();
    let state = fx.state(&id);
    assert_eq!(state["status"], "failed", "{}", done.stderr);
    let network = &state["phases"][1];
    assert_eq!(network["status"], "failed", "{network:#}");
    assert!(
        network["error"].as_str().unwrap().contains("time limit"),
        "{network:#}"
    );
    fx.proxy.heal();
    run_to_end(fx.resume(&id, &[])).expect(0, "resume after the network timeout");
    assert_eq!(fx.state(&id)["status"], "completed");
    fx.assert_target_uninterrupted("a network phase timed out, resumed");
}
