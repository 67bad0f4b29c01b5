//! The safety envelope (issue 9): no way to lose data, whatever the operator
//! or the environment does. One test per case, each against the real
//! MariaDB sandbox, with targets built independently of the source (other
//! ids, a site only the target has), one server reached by socket and by
//! TCP, and separate logs dirs standing for separate machines.

use crate::migration_kit;
use crate::oracle;
use crate::support;

use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use migration_kit::{
    assert_same, copy_db, live_checksums, started_id, tables_marked, Checksums, BACKUP, STAGING,
};
use support::proxy::Proxy;
use support::{
    run, server, table_checksums, wfuwp, write_config_text, Run, TestDb, PASSWORD_VAR, PROD_TOKENS,
    UAT_TOKENS,
};

/// How an environment reaches the sandbox server.
#[derive(Clone, Copy)]
enum Via {
    Tcp,
    Socket,
    Port(u16),
}

fn env_block(name: &str, db: &TestDb, via: Via, tokens: &[(&str, &str)], extra: &str) -> String {
    let s = server();
    let address = match via {
        Via::Tcp => format!("host = \"{}\"\nport = {}\n", s.host, s.port),
        Via::Port(p) => format!("host = \"127.0.0.1\"\nport = {p}\n"),
        Via::Socket => format!(
            "socket = \"{}\"\n",
            s.socket
                .as_deref()
                .expect("WFUWP_TEST_DB_SOCKET is not set: scripts/test.sh sets it")
        ),
    };
    let mut out = format!(
        "[environments.{name}]\n{address}user = \"{}\"\npassword_env = \"{PASSWORD_VAR}\"\ndatabase = \"{}\"\n{extra}\n[environments.{name}.replace]\n",
        s.user, db.name
    );
    for (k, v) in tokens {
        out.push_str(&format!("{k} = \"{v}\"\n"));
    }
    out.push('\n');
    out
}

/// A config file and a logs dir: one "machine".
struct Machine {
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl Machine {
    fn new(blocks: &[String]) -> Machine {
        let dir = tempfile::tempdir().expect("temp dir");
        let text = format!("logs_dir = \"logs\"\n\n{}", blocks.concat());
        let config = write_config_text(dir.path(), &text);
        Machine { dir, config }
    }

    fn logs(&self) -> PathBuf {
        self.dir.path().join("logs")
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = wfuwp(&self.config, &self.logs());
        c.args(args)
            .env_remove("WFUWP_FAILPOINT")
            .env_remove("WFUWP_PAUSEPOINT");
        c
    }

    fn run(&self, args: &[&str]) -> Run {
        run(&mut self.cmd(args))
    }

    fn run_ok(&self, args: &[&str]) -> Run {
        let r = self.run(args);
        assert_eq!(
            r.code, 0,
            "wfuwp {args:?} failed:\n{}\n{}",
            r.stdout, r.stderr
        );
        r
    }

    /// Runs a new migration to completion; returns its id.
    fn migrate(&self, args: &[&str]) -> String {
        let r = self.run_ok(args);
        started_id(&r.stderr)
            .or_else(|| started_id(&r.stdout))
            .expect("no 'Migration <id> started' line")
    }

    fn migration_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = std::fs::read_dir(self.logs())
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with("env-migrate-"))
                    .collect()
            })
            .unwrap_or_default();
        ids.sort();
        ids
    }

    fn state_path(&self, id: &str) -> PathBuf {
        self.logs().join(id).join("migration-state.json")
    }

    fn state(&self, id: &str) -> serde_json::Value {
        let text = std::fs::read_to_string(self.state_path(id)).expect("reading the state");
        serde_json::from_str(&text).expect("parsing the state")
    }

    /// Starts `wfuwp ARGS` that stops at pause point `point` (`name:N`).
    fn start_paused(&self, args: &[&str], point: &str) -> Paused {
        let pause = tempfile::tempdir().expect("temp dir");
        let out = pause.path().join("out");
        let file = File::create(&out).expect("output file");
        let child = self
            .cmd(args)
            .env(
                "WFUWP_PAUSEPOINT",
                format!("{point}:{}", pause.path().display()),
            )
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("dup"))
            .stderr(file)
            .spawn()
            .expect("spawning wfuwp");
        let p = Paused { child, pause, out };
        p.wait_reached();
        p
    }
}

/// A run held at a pause point until [`Paused::go`].
struct Paused {
    child: Child,
    pause: tempfile::TempDir,
    out: PathBuf,
}

impl Paused {
    fn wait_reached(&self) {
        let deadline = Instant::now() + Duration::from_secs(180);
        while !self.pause.path().join("reached").exists() {
            assert!(
                Instant::now() < deadline,
                "the run never reached its pause point:\n{}",
                std::fs::read_to_string(&self.out).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Lets the run go on and waits for its end: (exit code, output).
    fn go(mut self) -> (i32, String) {
        std::fs::write(self.pause.path().join("go"), b"").expect("writing go");
        let status = self.child.wait().expect("waiting for wfuwp");
        (
            status.code().unwrap_or(-1),
            std::fs::read_to_string(&self.out).unwrap_or_default(),
        )
    }
}

fn source_network(label: &str) -> TestDb {
    support::eight_site_source(label, 11)
}

/// A uat built independently of the source: another seed and size, its
/// `blogmeta` ids reversed so that they collide with the source's ids of
/// other sites, and a site (40) only the target has.
fn independent_target(label: &str) -> TestDb {
    support::independent_uat(label, 977)
}

/// A new prod → uat migration with one worker (so pause points are exact).
const ONE_WORKER: &[&str] = &[
    "env-migrate",
    "prod",
    "uat",
    "--force",
    "--concurrency",
    "1",
];

/// A machine reaching `source` as prod and `target` as uat, both over TCP.
fn tcp_machine(source: &TestDb, target: &TestDb) -> Machine {
    Machine::new(&[
        env_block("prod", source, Via::Tcp, PROD_TOKENS, ""),
        env_block("uat", target, Via::Tcp, UAT_TOKENS, ""),
    ])
}

/// A source, an independent target and the machine that migrates one to the other.
fn prod_uat(label: &str) -> (TestDb, TestDb, Machine) {
    let source = source_network(&format!("{label}_src"));
    let target = independent_target(&format!("{label}_dst"));
    let m = tcp_machine(&source, &target);
    (source, target, m)
}

/// A target built from an independent pristine network, and the same
/// network migrated by an uninterrupted run (the reference to compare with).
fn target_and_reference(source: &TestDb, label: &str) -> (TestDb, TestDb) {
    let pristine = independent_target(&format!("{label}_pristine"));
    let reference = TestDb::new(&format!("{label}_ref"));
    copy_db(&pristine, &reference);
    let target = TestDb::new(&format!("{label}_dst"));
    copy_db(&pristine, &target);
    let before = oracle::snapshot(&reference);
    tcp_machine(source, &reference).migrate(&["env-migrate", "prod", "uat", "--force"]);
    // Judged by the oracle, so a run that converges to it is right, not
    // merely repeatable.
    oracle::assert_target(&oracle::Migration::full(source), &before, &reference);
    (target, reference)
}

fn text(r: &Run) -> String {
    format!("{}\n{}", r.stdout, r.stderr)
}

fn assert_refused(r: &Run, code: i32, words: &[&str], what: &str) {
    assert_eq!(
        r.code,
        code,
        "{what}: exit {} instead of {code}:\n{}",
        r.code,
        text(r)
    );
    let t = text(r).to_lowercase();
    for w in words {
        assert!(t.contains(&w.to_lowercase()), "{what}: no {w:?} in:\n{t}");
    }
    assert!(!t.contains("panicked"), "{what}: panicked:\n{t}");
}

// ---- 1. One database, two names -------------------------------------------

#[test]
fn one_database_reached_by_socket_and_tcp_is_never_source_and_target() {
    let db = source_network("sf_same");
    let m = Machine::new(&[
        env_block("self", &db, Via::Tcp, PROD_TOKENS, ""),
        env_block("selfsock", &db, Via::Socket, UAT_TOKENS, ""),
    ]);
    let before = table_checksums(&db);
    for args in [
        &["env-migrate", "self", "selfsock", "--force"][..],
        &["env-migrate", "selfsock", "self", "--force"],
        &["env-migrate", "self", "selfsock", "--dry-run"],
    ] {
        let r = m.run(args);
        assert_refused(&r, 2, &["same database"], &format!("{args:?}"));
    }
    assert_same(
        &before,
        &table_checksums(&db),
        "the source after the refusals",
    );
    assert!(
        m.migration_ids().is_empty(),
        "a refused migration left state behind"
    );
}

// ---- 2. Locks that hold across machines ------------------------------------

#[test]
fn two_machines_never_write_one_target_at_once() {
    let source = source_network("sf_lock_src");
    let target = independent_target("sf_lock_dst");
    // Machine A reaches the target over TCP, machine B through the socket,
    // each with its own logs dir: no file lock can see the other.
    let a = tcp_machine(&source, &target);
    let b = Machine::new(&[
        env_block("prod", &source, Via::Tcp, PROD_TOKENS, ""),
        env_block("uatsock", &target, Via::Socket, UAT_TOKENS, ""),
    ]);
    let held = a.start_paused(ONE_WORKER, "site_copied:2");
    let during = table_checksums(&target);
    let r = b.run(&["env-migrate", "prod", "uatsock", "--force"]);
    assert_refused(
        &r,
        4,
        &["locked by another wfuwp run", "server connection"],
        "machine B",
    );
    assert!(
        !text(&r).contains("process"),
        "the refusal names a local process although none runs here:\n{}",
        text(&r)
    );
    assert!(
        b.migration_ids().is_empty(),
        "the refused run created state"
    );
    assert_same(
        &during,
        &table_checksums(&target),
        "the target while B was refused",
    );
    let (code, out) = held.go();
    assert_eq!(code, 0, "machine A's run:\n{out}");
    // Once A is done, B may run.
    b.migrate(&["env-migrate", "prod", "uatsock", "--force"]);
}

#[test]
fn a_run_that_loses_its_server_lock_stops_and_resumes_exactly() {
    let source = source_network("sf_lost_src");
    let (target, reference) = target_and_reference(&source, "sf_lost");
    let m = tcp_machine(&source, &target);
    let held = m.start_paused(ONE_WORKER, "site_copied:3");
    // The server ends the connection that holds the lock (a DBA's KILL, a
    // failover, a network cut of that one connection).
    let holder: Vec<Option<u64>> = target.query(&format!(
        "SELECT IS_USED_LOCK('wfuwp-target:{}')",
        target.name
    ));
    let id = holder[0].expect("the run holds no server lock on its target");
    target.exec(&format!("KILL CONNECTION {id}"));
    let (code, out) = held.go();
    assert_eq!(
        code, 1,
        "a run without its lock must stop with exit 1:\n{out}"
    );
    assert!(out.contains("lost the lock"), "no clear message:\n{out}");
    let ids = m.migration_ids();
    let state = m.state(&ids[0]);
    assert_eq!(state["status"], "paused", "state after the lost lock");
    assert_eq!(
        state["completedSites"], 2,
        "only the sites swapped before the loss"
    );
    assert_eq!(state["failedSites"], 0, "a lost lock must not fail sites");
    m.run_ok(&["env-migrate", "--resume", &ids[0], "--force"]);
    assert_same(
        &live_checksums(&reference),
        &live_checksums(&target),
        "resumed target vs an uninterrupted run",
    );
}

// ---- 3. Rollback in order --------------------------------------------------

#[test]
fn an_older_migration_cannot_be_rolled_back_over_a_newer_one() {
    let source = source_network("sf_order_src");
    let target = TestDb::new("sf_order_dst");
    let m = tcp_machine(&source, &target);
    let empty = table_checksums(&target);
    let m1 = m.migrate(&["env-migrate", "prod", "uat", "--force"]);
    let after_m1 = table_checksums(&target);
    let m2 = m.migrate(&[
        "env-migrate",
        "prod",
        "uat",
        "--force",
        "--include-sites",
        "3",
    ]);
    // Data written after M2 by the site's users.
    target.exec(
        "UPDATE wp_3_options SET option_value = 'edited after M2' WHERE option_name = 'blogname'",
    );
    let now = table_checksums(&target);
    let r = m.run(&["env-migrate", "--rollback", &m1, "--force"]);
    assert_refused(
        &r,
        2,
        &["cannot be rolled back", &m2, "newest first"],
        "rollback of M1",
    );
    assert_same(
        &now,
        &table_checksums(&target),
        "the target after the refused rollback",
    );
    m.run_ok(&["env-migrate", "--rollback", &m2, "--force"]);
    assert_same(
        &live_checksums_of(&after_m1),
        &live_checksums(&target),
        "after rolling back M2",
    );
    m.run_ok(&["env-migrate", "--rollback", &m1, "--force"]);
    assert_same(
        &empty,
        &table_checksums(&target),
        "after rolling back M2 then M1",
    );
}

fn live_checksums_of(c: &Checksums) -> Checksums {
    c.iter()
        .filter(|(t, _)| !t.starts_with("_wf"))
        .map(|(t, v)| (t.clone(), *v))
        .collect()
}

#[test]
fn a_newer_migration_under_another_environment_name_blocks_the_rollback() {
    let source = source_network("sf_alias_src");
    let target = independent_target("sf_alias_dst");
    let m = Machine::new(&[
        env_block("prod", &source, Via::Tcp, PROD_TOKENS, ""),
        env_block("uat", &target, Via::Tcp, UAT_TOKENS, ""),
        env_block("uatsock", &target, Via::Socket, UAT_TOKENS, ""),
    ]);
    let m1 = m.migrate(&[
        "env-migrate",
        "prod",
        "uat",
        "--force",
        "--include-sites",
        "2",
    ]);
    let m2 = m.migrate(&[
        "env-migrate",
        "prod",
        "uatsock",
        "--force",
        "--include-sites",
        "4",
    ]);
    let now = table_checksums(&target);
    let r = m.run(&["env-migrate", "--rollback", &m1, "--force"]);
    assert_refused(&r, 2, &[&m2], "rollback of M1 under the other name");
    assert_same(&now, &table_checksums(&target), "after the refusal");
}

// ---- 4. Partial migrations into an independent target -----------------------

type MetaRow = (u64, String, Option<String>);

fn blogmeta(db: &TestDb, filter: &str) -> Vec<MetaRow> {
    db.query(&format!(
        "SELECT blog_id, meta_key, meta_value FROM wp_blogmeta WHERE {filter} ORDER BY blog_id, meta_key, meta_value"
    ))
}

#[test]
fn a_partial_migration_upserts_into_a_target_whose_ids_differ() {
    let (source, target, m) = prod_uat("sf_part");
    let others_before = blogmeta(&target, "blog_id NOT IN (2, 4)");
    let untouched: Checksums = table_checksums(&target)
        .into_iter()
        // users/usermeta: the sites' members and authors come along (tests/users.rs).
        .filter(|(t, _)| {
            !t.starts_with("wp_2_")
                && !t.starts_with("wp_4_")
                && !t.contains("blog")
                && !t.starts_with("wp_user")
        })
        .collect();
    let before = table_checksums(&target);
    let snapshot = oracle::snapshot(&target);
    let id = m.migrate(&[
        "env-migrate",
        "prod",
        "uat",
        "--force",
        "--include-sites",
        "2,4",
    ]);
    oracle::assert_target(
        &oracle::Migration::of_sites(&source, &[2, 4]),
        &snapshot,
        &target,
    );
    assert_eq!(
        blogmeta(&target, "blog_id NOT IN (2, 4)"),
        others_before,
        "other sites' blogmeta"
    );
    // The selected sites' rows: the source's, as hand-computed (the
    // generator's blogmeta values hold no token).
    assert_eq!(
        blogmeta(&target, "blog_id IN (2, 4)"),
        blogmeta(&source, "blog_id IN (2, 4)"),
        "selected sites' blogmeta"
    );
    let domains: Vec<(u64, String)> = target
        .query("SELECT blog_id, domain FROM wp_blogs WHERE blog_id IN (2, 4, 40) ORDER BY blog_id");
    let src_domains: Vec<(u64, String)> = source
        .query("SELECT blog_id, domain FROM wp_blogs WHERE blog_id IN (2, 4) ORDER BY blog_id");
    assert_eq!(
        domains.len(),
        3,
        "site 40 (target only) must stay registered"
    );
    for ((id, d), (_, s)) in domains.iter().zip(&src_domains) {
        assert_eq!(
            *d,
            s.replace(".wfu.edu", ".uat.wfu.edu"),
            "domain of site {id}"
        );
    }
    let after = table_checksums(&target);
    for (t, v) in &untouched {
        assert_eq!(
            after.get(t),
            Some(v),
            "{t} changed although outside the selection"
        );
    }
    m.run_ok(&["env-migrate", "--rollback", &id, "--force"]);
    assert_same(&before, &table_checksums(&target), "after the rollback");
}

// ---- 5. An empty selection ---------------------------------------------------

#[test]
fn a_selection_matching_no_site_is_refused_and_keeps_older_backups() {
    let (_source, target, m) = prod_uat("sf_empty");
    let first = m.migrate(&[
        "env-migrate",
        "prod",
        "uat",
        "--force",
        "--include-sites",
        "2,3",
    ]);
    let backups = tables_marked(&target, BACKUP);
    assert!(!backups.is_empty(), "the first migration kept no backups");
    let now = table_checksums(&target);
    for extra in [&["--force"][..], &["--dry-run"]] {
        let mut args = vec![
            "env-migrate",
            "prod",
            "uat",
            "--include-sites",
            "2",
            "--exclude-sites",
            "2",
        ];
        args.extend_from_slice(extra);
        let r = m.run(&args);
        assert_refused(&r, 2, &["matches no site"], &format!("{args:?}"));
    }
    assert_eq!(
        m.migration_ids(),
        vec![first.clone()],
        "a refused run created state"
    );
    assert_same(
        &now,
        &table_checksums(&target),
        "the target after the refusals",
    );
    // A network-only run completes without superseding the sites' backups.
    m.migrate(&["env-migrate", "prod", "uat", "--force", "--network-only"]);
    for b in &backups {
        assert!(
            target.tables().contains(b),
            "{b} was dropped by a run that migrated no site"
        );
    }
}

// ---- 6. State files are not trusted blindly ----------------------------------

#[test]
fn a_state_naming_a_live_table_as_backup_is_refused_before_any_ddl() {
    let (_source, target, m) = prod_uat("sf_edit");
    let id = m.migrate(&["env-migrate", "prod", "uat", "--force"]);
    let path = m.state_path(&id);
    let mut state = m.state(&id);
    let tables = state["networkBackup"]["tables"]
        .as_array_mut()
        .expect("a network backup record");
    let sitemeta = tables
        .iter_mut()
        .find(|t| t["live"] == "wp_sitemeta")
        .expect("wp_sitemeta in the record");
    sitemeta["backup"] = "wp_options".into();
    std::fs::write(&path, serde_json::to_vec_pretty(&state).expect("json")).expect("writing");
    let now = table_checksums(&target);
    let r = m.run(&["env-migrate", "--rollback", &id, "--force"]);
    assert_refused(
        &r,
        2,
        &["wp_options", "edited or damaged"],
        "rollback of an edited state",
    );
    assert_same(
        &now,
        &table_checksums(&target),
        "the target after the refusal",
    );
}

// ---- 8. Leftovers of abandoned and superseded migrations ---------------------

#[test]
fn abandoned_staging_is_removed_and_superseded_migrations_say_so() {
    let (_source, target, m) = prod_uat("sf_leak");
    let old = m.migrate(&[
        "env-migrate",
        "prod",
        "uat",
        "--force",
        "--include-sites",
        "2",
    ]);
    // A run killed with staging tables on the target, then abandoned.
    let killed = run(m.cmd(ONE_WORKER).env("WFUWP_FAILPOINT", "site_copied:2"));
    assert_eq!(
        killed.code,
        -1,
        "the failpoint did not kill the run:\n{}",
        text(&killed)
    );
    assert!(
        !tables_marked(&target, STAGING).is_empty(),
        "the kill left no staging tables"
    );
    let abandoned = m
        .migration_ids()
        .into_iter()
        .find(|i| *i != old)
        .expect("the killed migration");
    m.run_ok(&["env-migrate", "--abandon", &abandoned]);
    let newest = m.migrate(&[
        "env-migrate",
        "prod",
        "uat",
        "--force",
        "--include-sites",
        "3",
    ]);
    assert!(
        tables_marked(&target, STAGING).is_empty(),
        "staging tables of the abandoned migration remain: {:?}",
        tables_marked(&target, STAGING)
    );
    let old_state = m.state(&old);
    assert_eq!(
        old_state["supersededBy"],
        newest.as_str(),
        "old state not marked"
    );
    assert_eq!(
        old_state["backupBytes"], 0,
        "old state still claims backup space"
    );
    let list = m.run_ok(&["env-migrate", "--list-migrations", "--all", "--json"]);
    let listed: serde_json::Value = serde_json::from_str(&list.stdout).expect("listing JSON");
    let entry = listed
        .as_array()
        .and_then(|a| a.iter().find(|e| e["migrationId"] == old.as_str()))
        .expect("old migration listed");
    assert_eq!(entry["backupBytes"], 0);
    assert_eq!(entry["supersededBy"], newest.as_str());
    let r = m.run(&["env-migrate", "--rollback", &old, "--force"]);
    assert_refused(
        &r,
        2,
        &["dropped", &newest],
        "rollback of a superseded migration",
    );
    // After --skip-backup the report does not offer a rollback.
    let r = m.run_ok(&[
        "env-migrate",
        "prod",
        "uat",
        "--force",
        "--skip-backup",
        "--include-sites",
        "4",
    ]);
    assert!(
        !text(&r).contains("undo with"),
        "report offers a rollback:\n{}",
        text(&r)
    );
    assert!(
        text(&r).contains("cannot be rolled back"),
        "report:\n{}",
        text(&r)
    );
}

// ---- 11. post_migration commands ----------------------------------------------

fn alive(pid: i32) -> bool {
    // A zombie (exited, not yet reaped by init) is not running.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit(')')
                .next()
                .and_then(|rest| rest.split_whitespace().next())
                .is_some_and(|state| state != "Z" && state != "X")
        })
        .unwrap_or(false)
}

#[test]
fn sigterm_during_a_hook_stops_its_whole_group_and_resume_skips_finished_hooks() {
    let source = source_network("sf_hook_src");
    let target = independent_target("sf_hook_dst");
    let hooks = tempfile::tempdir().expect("temp dir");
    let (log, pid_file, go) = (
        hooks.path().join("log"),
        hooks.path().join("pid"),
        hooks.path().join("go"),
    );
    let post = format!(
        "post_migration = [\"echo one >> {log}\", \"if [ -f {go} ]; then echo two >> {log}; exit 0; fi; sleep 300 & echo $! > {pid}.tmp; mv {pid}.tmp {pid}; wait\"]\n",
        log = log.display(),
        go = go.display(),
        pid = pid_file.display()
    );
    let m = Machine::new(&[
        env_block("prod", &source, Via::Tcp, PROD_TOKENS, ""),
        env_block("uat", &target, Via::Tcp, UAT_TOKENS, &post),
    ]);
    let out = m.dir.path().join("run.out");
    let file = File::create(&out).expect("output file");
    let mut child = m
        .cmd(&[
            "env-migrate",
            "prod",
            "uat",
            "--force",
            "--include-sites",
            "2",
        ])
        .stdin(Stdio::null())
        .stdout(file.try_clone().expect("dup"))
        .stderr(file)
        .spawn()
        .expect("spawning wfuwp");
    let deadline = Instant::now() + Duration::from_secs(180);
    while !pid_file.exists() {
        assert!(
            child.try_wait().expect("try_wait").is_none(),
            "wfuwp ended before the hook ran"
        );
        assert!(Instant::now() < deadline, "the hook never started");
        std::thread::sleep(Duration::from_millis(10));
    }
    let grandchild: i32 = std::fs::read_to_string(&pid_file)
        .expect("pid file")
        .trim()
        .parse()
        .expect("a pid");
    assert!(alive(grandchild), "the hook's child is not running");
    // SAFETY: kill(2) with a valid pid and signal.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().expect("wait");
    let output = std::fs::read_to_string(&out).unwrap_or_default();
    assert_eq!(
        status.code(),
        Some(130),
        "SIGTERM must pause the run:\n{output}"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(grandchild) {
        assert!(
            Instant::now() < deadline,
            "the hook's child {grandchild} survived the run"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    std::fs::write(&go, b"").expect("go file");
    let id = m.migration_ids().pop().expect("migration");
    m.run_ok(&["env-migrate", "--resume", &id, "--force"]);
    let lines = std::fs::read_to_string(&log).expect("hook log");
    assert_eq!(
        lines, "one\ntwo\n",
        "the finished hook ran again, or the other did not"
    );
}

/// `kill -9` of wfuwp while a post_migration command runs (issue 22): the
/// killed run cannot stop the command's group, but it recorded the group in
/// the state, and the resume stops it before anything else, so that the
/// command never runs twice at once (the second copy notes any overlap with
/// a live, not merely unreaped, first one).
#[test]
fn a_hook_left_running_by_a_killed_run_is_stopped_before_the_resume_runs_it_again() {
    let source = source_network("sf_hook9_src");
    let target = independent_target("sf_hook9_dst");
    let hooks = tempfile::tempdir().expect("temp dir");
    let (log, pid_file, go) = (
        hooks.path().join("log"),
        hooks.path().join("pid"),
        hooks.path().join("go"),
    );
    let post = format!(
        "post_migration = [\"echo one >> {log}\", \"if [ -f {go} ]; then p=$(cat {pid}); if [ -d /proc/$p ] && ! grep -q 'State:.*Z' /proc/$p/status; then echo overlap >> {log}; fi; echo two >> {log}; exit 0; fi; sleep 300 & echo $! > {pid}.tmp; mv {pid}.tmp {pid}; wait\"]\n",
        log = log.display(),
        go = go.display(),
        pid = pid_file.display()
    );
    let m = Machine::new(&[
        env_block("prod", &source, Via::Tcp, PROD_TOKENS, ""),
        env_block("uat", &target, Via::Tcp, UAT_TOKENS, &post),
    ]);
    let mut child = m
        .cmd(&[
            "env-migrate",
            "prod",
            "uat",
            "--force",
            "--include-sites",
            "2",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawning wfuwp");
    let deadline = Instant::now() + Duration::from_secs(180);
    while !pid_file.exists() {
        assert!(
            child.try_wait().expect("try_wait").is_none(),
            "wfuwp ended before the hook ran"
        );
        assert!(Instant::now() < deadline, "the hook never started");
        std::thread::sleep(Duration::from_millis(10));
    }
    let grandchild: i32 = std::fs::read_to_string(&pid_file)
        .expect("pid file")
        .trim()
        .parse()
        .expect("a pid");
    child.kill().expect("SIGKILL");
    child.wait().expect("wait");
    assert!(alive(grandchild), "a killed run cannot stop the hook");
    let id = m.migration_ids().pop().expect("migration");
    let killed = m.state(&id);
    let stat = std::fs::read_to_string(format!("/proc/{grandchild}/stat")).expect("stat");
    let pgrp: i64 = stat
        .rsplit(')')
        .next()
        .and_then(|rest| rest.split_whitespace().nth(2))
        .and_then(|g| g.parse().ok())
        .expect("pgrp");

    std::fs::write(&go, b"").expect("go file");
    let r = m.run_ok(&["env-migrate", "--resume", &id, "--force"]);
    assert!(
        !alive(grandchild),
        "the earlier run's hook is still running"
    );
    let lines = std::fs::read_to_string(&log).expect("hook log");
    assert_eq!(
        lines, "one\ntwo\n",
        "the hook ran next to its earlier copy (overlap), or not again:\n{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("stopping the post_migration command"),
        "{}",
        r.stderr
    );
    assert!(
        m.state(&id).get("runningHook").is_none(),
        "{:#}",
        m.state(&id)
    );
    // What the killed run left in the state: the command's group.
    let running = &killed["runningHook"];
    assert!(
        running["command"]
            .as_str()
            .is_some_and(|c| c.contains("sleep 300")),
        "{killed:#}"
    );
    assert_eq!(running["pgid"].as_i64(), Some(pgrp), "{killed:#}");
}

// ---- 14. When the server goes away ---------------------------------------------

#[test]
fn a_source_server_that_goes_away_pauses_the_run_instead_of_failing_sites() {
    let source = source_network("sf_gone_src");
    let (target, reference) = target_and_reference(&source, "sf_gone");
    let proxy = Proxy::to_sandbox();
    let m = Machine::new(&[
        env_block("prod", &source, Via::Port(proxy.port()), PROD_TOKENS, ""),
        env_block("uat", &target, Via::Tcp, UAT_TOKENS, ""),
    ]);
    let held = m.start_paused(
        &[
            "env-migrate",
            "prod",
            "uat",
            "--force",
            "--concurrency",
            "2",
            "--max-retries",
            "5",
        ],
        "site_swapped:2",
    );
    proxy.set_down(true);
    let (code, out) = held.go();
    assert_eq!(
        code, 1,
        "an unreachable source must stop the run with exit 1:\n{out}"
    );
    assert!(
        out.contains("cannot be reached"),
        "no clear message:\n{out}"
    );
    let id = m.migration_ids().pop().expect("migration");
    let state = m.state(&id);
    assert_eq!(state["status"], "paused", "{state}");
    assert_eq!(
        state["failedSites"], 0,
        "sites failed because of the outage: {state}"
    );
    assert_eq!(state["timeoutSites"], 0);
    let unfinished = state["sites"]
        .as_array()
        .expect("sites")
        .iter()
        .filter(|s| s["status"] == "pending" || s["status"] == "in_progress")
        .count();
    assert!(unfinished >= 5, "sites were not left to resume: {state}");
    proxy.set_down(false);
    m.run_ok(&["env-migrate", "--resume", &id, "--force"]);
    assert_same(
        &live_checksums(&reference),
        &live_checksums(&target),
        "resumed target vs an uninterrupted run",
    );
}

// ---- 15. The target remembers: its ledger ----------------------------------------

/// The rows of the target's ledger: (migration, kind, site, table, state, text, number).
type LedgerRow = (String, String, u64, String, String, String, Option<u64>);

fn ledger(db: &TestDb) -> Vec<LedgerRow> {
    db.query(&format!(
        "SELECT migration_id, kind, site_id, table_name, state, text_value, number_value FROM {} \
         ORDER BY migration_id, kind, site_id, table_name",
        support::LEDGER
    ))
}

/// The ledger's rows of migration `id` and kind `kind`.
fn ledger_of(db: &TestDb, id: &str, kind: &str) -> Vec<LedgerRow> {
    ledger(db)
        .into_iter()
        .filter(|r| r.0 == id && r.1 == kind)
        .collect()
}

/// A run of `args` on `m` killed by failpoint `point`; returns its migration id.
fn killed_run(m: &Machine, args: &[&str], point: &str) -> String {
    let before = m.migration_ids();
    let r = run(m.cmd(args).env("WFUWP_FAILPOINT", point));
    assert_eq!(r.code, -1, "{point} did not kill the run:\n{}", text(&r));
    m.migration_ids()
        .into_iter()
        .find(|i| !before.contains(i))
        .expect("the killed run's migration")
}

/// Every migration, from any logs dir, is in the target's ledger; what each
/// swap did to each table is there before the swap and marked after it; a
/// rollback marks them back; a source that was once a target keeps its
/// ledger to itself; a table of that name that is no ledger, or a row that
/// makes no sense, is refused.
#[test]
fn the_ledger_records_each_migration_and_belongs_to_its_database() {
    let (source, target, m) = prod_uat("sf_ledger");
    let site2_before: std::collections::BTreeSet<String> = target
        .tables()
        .into_iter()
        .filter(|t| t.starts_with("wp_2_"))
        .collect();
    let id = m.migrate(&[
        "env-migrate",
        "prod",
        "uat",
        "--force",
        "--include-sites",
        "2",
    ]);
    let row = ledger_of(&target, &id, "migration");
    assert_eq!(row.len(), 1, "{:?}", ledger(&target));
    assert_eq!(row[0].4, "completed");
    assert!(
        row[0].5.ends_with(&format!("/{}", source.name)),
        "source: {}",
        row[0].5
    );
    assert_eq!(row[0].6, Some(1), "keeps backups");
    assert_eq!(ledger_of(&target, &id, "rules").len(), 1);
    // Site 2: each source table, a backup where the target had it, created
    // where it had none; the network tables upserted after a backup copy.
    let mut want: Vec<(u64, String, String)> = source
        .tables()
        .into_iter()
        .filter(|t| t.starts_with("wp_2_"))
        .map(|t| {
            let action = if site2_before.contains(&t) {
                "backup"
            } else {
                "created"
            };
            (2, t, action.to_string())
        })
        .collect();
    for t in ["wp_blogmeta", "wp_blogs", "wp_usermeta", "wp_users"] {
        want.push((0, t.to_string(), "backup".to_string()));
    }
    want.sort();
    let rows = ledger_of(&target, &id, "table");
    let mut got: Vec<(u64, String, String)> = rows
        .iter()
        .map(|r| (r.2, r.3.clone(), r.5.clone()))
        .collect();
    got.sort();
    assert_eq!(got, want, "what the ledger says the migration did");
    assert!(rows.iter().all(|r| r.4 == "live"), "{rows:?}");

    // The target as a source: its ledger is not copied to the next target.
    let dev = TestDb::new("sf_ledger_dev");
    let dev_tokens: &[(&str, &str)] = &[
        ("main", "dev.wfu.edu"),
        ("subdomains", ".dev.wfu.edu"),
        ("cdn", "dev.wp.cdn.aws.wfu.edu"),
        ("bucket", "wordpress-dev-us"),
    ];
    let onward = Machine::new(&[
        env_block("uat", &target, Via::Tcp, UAT_TOKENS, ""),
        env_block("dev", &dev, Via::Tcp, dev_tokens, ""),
    ]);
    let uat_ledger = ledger(&target);
    let next = onward.migrate(&["env-migrate", "uat", "dev", "--force"]);
    let ids: std::collections::BTreeSet<String> = ledger(&dev).into_iter().map(|r| r.0).collect();
    assert_eq!(
        ids.into_iter().collect::<Vec<_>>(),
        vec![next.clone()],
        "dev's ledger holds what the source's ledger said"
    );
    assert_eq!(ledger(&target), uat_ledger, "the source's ledger changed");

    // Rolled back: the ledger says so, table by table.
    m.run_ok(&["env-migrate", "--rollback", &id, "--force"]);
    assert_eq!(ledger_of(&target, &id, "migration")[0].4, "rolled_back");
    assert!(ledger_of(&target, &id, "table")
        .iter()
        .all(|r| r.4 == "rolled_back"));

    // A migration the ledger first hears of on a resume (as one made before
    // the ledger existed) keeps its place: its recorded start, not now.
    let abandoned = killed_run(&m, ONE_WORKER, "site_swapped:1");
    target.exec(&format!(
        "DELETE FROM {} WHERE migration_id = '{abandoned}'",
        support::LEDGER
    ));
    let resumed = run(m
        .cmd(&["env-migrate", "--resume", &abandoned, "--force"])
        .env("WFUWP_FAILPOINT", "site_swapped:1"));
    assert_eq!(
        resumed.code,
        -1,
        "the resume was not killed:\n{}",
        text(&resumed)
    );
    let started: Vec<String> = target.query(&format!(
        "SELECT DATE_FORMAT(started_at, '%Y-%m-%dT%H:%i:%s.%f') FROM {} \
         WHERE migration_id = '{abandoned}' AND kind = 'migration'",
        support::LEDGER
    ));
    let recorded = chrono::DateTime::parse_from_rfc3339(
        m.state(&abandoned)["startTime"]
            .as_str()
            .expect("startTime"),
    )
    .expect("an RFC 3339 time")
    .to_utc()
    .format("%Y-%m-%dT%H:%M:%S%.6f")
    .to_string();
    assert_eq!(started, vec![recorded], "the ledger's start");
    // Abandoned: the ledger says cancelled (what it made live still stands).
    m.run_ok(&["env-migrate", "--abandon", &abandoned]);
    assert_eq!(
        ledger_of(&target, &abandoned, "migration")[0].4,
        "cancelled"
    );

    // A row that makes no sense is named and refused, and so is a table of
    // that name that is no ledger; nothing is written either way.
    target.exec(&format!(
        "UPDATE {} SET state = 'finished' WHERE migration_id = '{id}' AND kind = 'migration'",
        support::LEDGER
    ));
    let before = table_checksums(&target);
    let r = m.run(&["env-migrate", "prod", "uat", "--force"]);
    assert_refused(
        &r,
        2,
        &[support::LEDGER, "finished", &id],
        "a damaged ledger",
    );
    // One table row among thousands, which the server finds.
    target.exec(&format!(
        "UPDATE {l} SET state = 'rolled_back' WHERE migration_id = '{id}' AND kind = 'migration'; \
         UPDATE {l} SET text_value = 'kept' WHERE migration_id = '{id}' AND table_name = 'wp_2_posts'",
        l = support::LEDGER
    ));
    let r = m.run(&["env-migrate", "prod", "uat", "--force"]);
    assert_refused(
        &r,
        2,
        &[support::LEDGER, "'kept'", "wp_2_posts"],
        "a damaged table row",
    );
    target.exec(&format!("DROP TABLE {}", support::LEDGER));
    target.exec(&format!(
        "CREATE TABLE {} (id INT PRIMARY KEY, note TEXT)",
        support::LEDGER
    ));
    let r = m.run(&["env-migrate", "prod", "uat", "--force"]);
    assert_refused(
        &r,
        2,
        &[support::LEDGER, "not a wfuwp ledger"],
        "a foreign table",
    );
    assert_same(&before, &table_checksums(&target), "after the refusals");
    assert_eq!(
        m.migration_ids().len(),
        2,
        "a refused migration created state"
    );
}

/// A newer migration from another logs dir stands on the target although
/// no state file here knows it and, with --skip-backup, no backup table
/// shows it: the ledger does, and an older rollback is refused. A newer one
/// rolled back no longer counts.
#[test]
fn a_newer_run_from_another_logs_dir_blocks_an_older_rollback_even_without_backups() {
    let (source, target, a) = prod_uat("sf_ledger_order");
    let b = tcp_machine(&source, &target);
    let m1 = a.migrate(&["env-migrate", "prod", "uat", "--force"]);
    let partial = |site: &'static str, extra: &[&'static str]| {
        let mut args = ONE_WORKER.to_vec();
        args.extend(["--include-sites", site]);
        args.extend_from_slice(extra);
        args
    };
    // B: site 3 with backups, killed right after it went live: it stands.
    let m2 = killed_run(&b, &partial("3", &[]), "site_swapped:1");
    let now = table_checksums(&target);
    let r = a.run(&["env-migrate", "--rollback", &m1, "--force"]);
    assert_refused(&r, 2, &["cannot be rolled back"], "rollback of M1 under M2");
    assert_same(&now, &table_checksums(&target), "after the refusal");
    // B rolls M2 back.
    b.run_ok(&["env-migrate", "--rollback", &m2, "--force"]);
    // B again, site 4 with --skip-backup, killed after it went live: no
    // backup table, no state file here, only the ledger knows.
    let m3 = killed_run(&b, &partial("4", &["--skip-backup"]), "site_swapped:1");
    assert!(
        tables_marked(&target, BACKUP)
            .iter()
            .all(|t| !t.contains(&m3[m3.len() - 6..])),
        "a --skip-backup run kept backups"
    );
    let now = table_checksums(&target);
    let r = a.run(&["env-migrate", "--rollback", &m1, "--force"]);
    assert_refused(
        &r,
        2,
        &["cannot be rolled back", &m3, "--skip-backup"],
        "rollback of M1 under a --skip-backup M3",
    );
    assert!(!text(&r).contains(&m2), "M2 was rolled back:\n{}", text(&r));
    assert_same(&now, &table_checksums(&target), "after the second refusal");
    assert_ne!(a.state(&m1)["status"], "rolled_back");
    // The ledger says what stands: M2 rolled back, M3 not.
    assert_eq!(ledger_of(&target, &m2, "migration")[0].4, "rolled_back");
    assert_eq!(ledger_of(&target, &m3, "migration")[0].6, Some(0));
}

/// A migration superseded by a later one, from another logs dir (only the
/// ledger knows) or from the same (its state is marked), is not resumed.
#[test]
fn resuming_a_superseded_migration_is_refused() {
    let (source, target, a) = prod_uat("sf_superseded");
    let b = tcp_machine(&source, &target);
    let x = killed_run(&a, ONE_WORKER, "site_swapped:1");
    let y = b.migrate(&["env-migrate", "prod", "uat", "--force"]);
    let now = table_checksums(&target);
    let r = a.run(&["env-migrate", "--resume", &x, "--force"]);
    assert_refused(&r, 2, &["cannot be resumed", &y], "resume of X after B's Y");
    assert_same(&now, &table_checksums(&target), "after the refused resume");
    assert_ne!(a.state(&x)["status"], "completed");

    let x2 = killed_run(&a, ONE_WORKER, "site_swapped:2");
    let y2 = a.migrate(&["env-migrate", "prod", "uat", "--force"]);
    assert_eq!(a.state(&x2)["supersededBy"], y2.as_str());
    let now = table_checksums(&target);
    let r = a.run(&["env-migrate", "--resume", &x2, "--force"]);
    assert_refused(&r, 2, &["cannot be resumed", &y2], "resume of X2 after Y2");
    assert_same(&now, &table_checksums(&target), "after the second refusal");
    let list = a.run_ok(&["env-migrate", "--list-migrations", "--all", "--json"]);
    let listed: serde_json::Value = serde_json::from_str(&list.stdout).expect("listing JSON");
    let entry = listed
        .as_array()
        .and_then(|l| l.iter().find(|e| e["migrationId"] == x2.as_str()))
        .expect("X2 listed");
    assert_eq!(
        entry["resumable"], false,
        "a superseded migration offered for resume"
    );
}

/// A state edited to drop live tables is refused before any DDL: a `null`
/// backup only stands for a table the ledger says the migration created,
/// and a name no WordPress table can have is refused. And a rollback says
/// "rolled back" only of what the target shows afterwards.
#[test]
fn a_tampered_state_cannot_make_rollback_drop_live_tables_or_claim_success() {
    let (_source, target, m) = prod_uat("sf_tamper");
    let id = m.migrate(&[
        "env-migrate",
        "prod",
        "uat",
        "--force",
        "--concurrency",
        "1",
    ]);
    let path = m.state_path(&id);
    let original = std::fs::read(&path).expect("reading the state");
    let site = |s: &mut serde_json::Value, id: u64| -> serde_json::Value {
        s["sites"]
            .as_array()
            .and_then(|a| a.iter().find(|r| r["siteId"] == id))
            .cloned()
            .expect("site record")
    };
    type Edit = Box<dyn Fn(&mut serde_json::Value)>;
    let cases: Vec<(&str, Edit, &[&str])> = vec![
        (
            "a null backup added for wp_sitemeta",
            Box::new(|s| {
                s["networkBackup"]["tables"]
                    .as_array_mut()
                    .expect("network backup")
                    .push(serde_json::json!({"live": "wp_sitemeta", "backup": null}))
            }),
            &["wp_sitemeta", "edited or damaged"],
        ),
        (
            "site 2's wp_2_posts backup made null",
            Box::new(move |s| {
                let mut rec = site(s, 2);
                for t in rec["backup"]["tables"].as_array_mut().expect("tables") {
                    if t["live"] == "wp_2_posts" {
                        t["backup"] = serde_json::Value::Null;
                    }
                }
                for r in s["sites"].as_array_mut().expect("sites") {
                    if r["siteId"] == 2 {
                        *r = rec.clone();
                    }
                }
            }),
            &["wp_2_posts", "ledger"],
        ),
        (
            "a live name with a backtick-quoted statement",
            Box::new(move |s| {
                let mut rec = site(s, 2);
                rec["backup"]["tables"]
                    .as_array_mut()
                    .expect("tables")
                    .push(serde_json::json!({
                        "live": "wp_2_posts` ; DROP TABLE `wp_users` ; --",
                        "backup": null
                    }));
                for r in s["sites"].as_array_mut().expect("sites") {
                    if r["siteId"] == 2 {
                        *r = rec.clone();
                    }
                }
            }),
            &["edited or damaged", "DROP TABLE"],
        ),
        (
            "site 3's backup record removed",
            Box::new(|s| {
                for r in s["sites"].as_array_mut().expect("sites") {
                    if r["siteId"] == 3 {
                        r.as_object_mut().expect("record").remove("backup");
                    }
                }
            }),
            &["wp_3_", "ledger says it made live"],
        ),
    ];
    let now = table_checksums(&target);
    for (what, edit, words) in cases {
        let mut state: serde_json::Value = serde_json::from_slice(&original).expect("state JSON");
        edit(&mut state);
        std::fs::write(&path, serde_json::to_vec_pretty(&state).expect("json")).expect("writing");
        let r = m.run(&["env-migrate", "--rollback", &id, "--force"]);
        assert_refused(&r, 2, words, what);
        assert_same(&now, &table_checksums(&target), what);
        std::fs::write(&path, &original).expect("restoring the state");
    }
    // Someone drops a table the rollback has just put back: it does not say
    // the target holds the tables it had before.
    let held = m.start_paused(
        &["env-migrate", "--rollback", &id, "--force"],
        "rollback_site_swapped:1",
    );
    target.exec("DROP TABLE wp_options");
    let (code, out) = held.go();
    assert_eq!(code, 1, "a rollback that left wp_options missing:\n{out}");
    assert!(
        out.contains("wp_options is missing") && !out.contains("Rolled back:"),
        "{out}"
    );
    assert_ne!(m.state(&id)["status"], "rolled_back");
}
