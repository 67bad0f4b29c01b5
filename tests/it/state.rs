//! Acceptance tests of issue 3: durable state under SIGKILL, locks between
//! processes, bad state files through the real binary, prompts through a real
//! pseudo-terminal, interrupts, and no secrets on disk.
//!
//! Child processes are this test binary re-executed with `WFUWP_STATE_CHILD`
//! set, which turns [`child_main`] into the child's program.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use wfuwp_engine::state::{
    self, store, ErrorKind, MigrationStatus, NewMigration, Phase, ResumeRequest, Session,
    SiteStatus,
};

const CHILD_ENV: &str = "WFUWP_STATE_CHILD";

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_wfuwp")
}

fn new_migration(target: &str, sites: u64) -> NewMigration {
    NewMigration {
        source: "prod".into(),
        target: target.into(),
        sites: (1..=sites).collect(),
        decided: Default::default(),
        ..Default::default()
    }
}

/// Creates a paused migration with some history; returns its id.
fn paused_migration(logs: &Path, target: &str, sites: u64) -> String {
    let s = Session::create(logs, new_migration(target, sites)).unwrap();
    s.phase_started(Phase::Preflight).unwrap();
    s.phase_completed(Phase::Preflight).unwrap();
    s.site_started(1).unwrap();
    s.site_completed(1, Default::default()).unwrap();
    if sites > 1 {
        s.site_started(2).unwrap();
        s.site_failed(2, ErrorKind::Sql, "boom").unwrap();
    }
    let id = s.id();
    s.finish(MigrationStatus::Paused, serde_json::Value::Null)
        .unwrap();
    id
}

// ---------------------------------------------------------------- children

/// The child program (a no-op when run as an ordinary test).
#[test]
fn child_main() {
    let Ok(role) = std::env::var(CHILD_ENV) else {
        return;
    };
    let logs = PathBuf::from(std::env::var("LOGS").unwrap());
    let code = match role.as_str() {
        "hammer" => hammer(&logs, &std::env::var("ID").unwrap()),
        "create" => create_and_hold(&logs),
        "interrupt" => interrupt_child(),
        "detect" => detect_child(&logs),
        other => panic!("unknown child role {other}"),
    };
    std::process::exit(code);
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn wait_stdin_line() {
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
}

/// Resumes a migration and records transitions as fast as it can, printing
/// `REC n` (n = sum of attempts over all sites) after each is durable.
fn hammer(logs: &Path, id: &str) -> i32 {
    let s = Session::resume(logs, id, ResumeRequest::default()).unwrap();
    let snap = s.snapshot();
    let mut status: Vec<SiteStatus> = snap.sites().iter().map(|r| r.status).collect();
    let mut sum: u64 = snap.sites().iter().map(|r| u64::from(r.attempts)).sum();
    let mut phase_running = false;
    say(&format!("REC {sum}"));
    for i in 0usize.. {
        let idx = i % status.len();
        let site = snap.sites()[idx].site_id;
        match status[idx] {
            SiteStatus::InProgress if i % 7 == 0 => {
                s.site_failed(site, ErrorKind::Connection, "lost").unwrap();
                status[idx] = SiteStatus::Failed;
            }
            SiteStatus::InProgress => {
                s.site_retrying(site, ErrorKind::Connection, "lost")
                    .unwrap();
                sum += 1;
            }
            SiteStatus::Completed | SiteStatus::Skipped => continue,
            _ => {
                s.site_started(site).unwrap();
                status[idx] = SiteStatus::InProgress;
                sum += 1;
            }
        }
        say(&format!("REC {sum}"));
        // Snapshot writes (phase changes) are interleaved with journal appends.
        if i % 8 == 0 {
            if phase_running {
                s.phase_completed(Phase::Sites)
            } else {
                s.phase_started(Phase::Sites)
            }
            .unwrap();
            phase_running = !phase_running;
        }
    }
    0
}

/// Creates a migration to target `uat` on "go", reports, and holds the locks
/// until stdin closes; a refusal exits with the binary's exit code.
fn create_and_hold(logs: &Path) -> i32 {
    say("READY");
    wait_stdin_line();
    match Session::create(logs, new_migration("uat", 3)) {
        Ok(s) => {
            say(&format!("LOCKED {}", s.id()));
            wait_stdin_line();
            0
        }
        Err(e) => {
            say(&format!("REFUSED {e}"));
            wfuwp::exit::code(&e.into()) as i32
        }
    }
}

fn interrupt_child() -> i32 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let i = wfuwp::signals::install().unwrap();
        say("READY");
        i.triggered().await;
        say(&format!("TRIGGERED {}", i.is_set()));
        // Wait for a second signal, which must exit with 130 on its own.
        std::future::pending::<()>().await;
    });
    0
}

fn detect_child(logs: &Path) -> i32 {
    let cli = <wfuwp::cli::Cli as clap::Parser>::try_parse_from([
        "wfuwp",
        "--logs-dir",
        logs.to_str().unwrap(),
        "env-migrate",
    ])
    .unwrap();
    let ctx = wfuwp::commands::Context::new(cli.global);
    match wfuwp::commands::manage::detect_resume(&ctx, "prod", "uat", false) {
        Ok(d) => {
            say(&format!("DECISION {d:?}"));
            0
        }
        Err(e) => {
            say(&format!("ERROR {e}"));
            wfuwp::exit::code(&e) as i32
        }
    }
}

fn spawn_child(role: &str, logs: &Path, extra: &[(&str, &str)]) -> Child {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "state::child_main",
        "--nocapture",
        "--test-threads=1",
        "--quiet",
    ])
    .env(CHILD_ENV, role)
    .env("LOGS", logs)
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    cmd.spawn().unwrap()
}

/// Forwards the child's stdout lines to a channel.
fn lines_of(out: ChildStdout) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn expect_line(rx: &mpsc::Receiver<String>, prefix: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) if l.starts_with(prefix) => return l,
            Ok(_) => continue,
            Err(e) => panic!("child never printed {prefix}: {e}"),
        }
    }
}

fn expect_outcome(rx: &mpsc::Receiver<String>) -> String {
    loop {
        let l = expect_line(rx, "");
        if l.starts_with("LOCKED") || l.starts_with("REFUSED") {
            return l;
        }
    }
}

/// Kills the child and checks that it was still alive (it did not fail on its own).
fn sigkill(child: &mut Child) {
    use std::os::unix::process::ExitStatusExt;
    // SAFETY: plain kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    let status = child.wait().unwrap();
    if status.signal() != Some(libc::SIGKILL) {
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut e, &mut err);
        }
        panic!("child ended by itself ({status}) before the kill: {err}");
    }
}

// ---------------------------------------------------------------- SIGKILL

fn attempts_sum(st: &state::MigrationState) -> u64 {
    st.sites().iter().map(|r| u64::from(r.attempts)).sum()
}

#[test]
fn state_survives_sigkill_hundreds_of_times() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path();
    let id = paused_migration(logs, "uat", 300);
    let dir = logs.join(&id);
    let mut floor = attempts_sum(&store::load(&dir).unwrap());
    let mut reported_any = 0;
    for round in 0..200u32 {
        let mut child = spawn_child("hammer", logs, &[("ID", &id)]);
        let rx = lines_of(child.stdout.take().unwrap());
        let rec = |l: &str| l.strip_prefix("REC ").and_then(|n| n.parse::<u64>().ok());
        // Some kills land during resume itself, most mid-transitions.
        let first = if round % 4 != 0 {
            rec(&expect_line(&rx, "REC "))
        } else {
            None
        };
        std::thread::sleep(Duration::from_micros(fastrand::u64(0..20_000)));
        sigkill(&mut child);
        let last: Option<u64> = rx.iter().filter_map(|l| rec(&l)).last().or(first);
        let snapshot = std::fs::read(dir.join(store::STATE_FILE)).unwrap();
        store::parse_snapshot(&dir, &snapshot)
            .unwrap_or_else(|e| panic!("round {round}: torn snapshot: {e}"));
        let st =
            store::load(&dir).unwrap_or_else(|e| panic!("round {round}: unreadable state: {e}"));
        let sum = attempts_sum(&st);
        let recorded = last.unwrap_or(floor);
        assert!(
            sum >= recorded,
            "round {round}: state lost a recorded transition ({sum} < {recorded})"
        );
        assert!(
            sum <= recorded + 1,
            "round {round}: more than one unreported transition ({sum} > {recorded} + 1)"
        );
        assert!(sum >= floor, "round {round}: state went backwards");
        floor = sum;
        reported_any += u32::from(last.is_some());
    }
    assert!(
        reported_any > 100,
        "too few rounds reached a transition: {reported_any}"
    );
    assert!(floor > 400, "too few transitions recorded overall: {floor}");
}

// ---------------------------------------------------------------- locks

#[test]
fn two_processes_same_instant_exactly_one_runs() {
    for _ in 0..5 {
        let tmp = tempfile::tempdir().unwrap();
        let mut kids: Vec<Child> = (0..2)
            .map(|_| spawn_child("create", tmp.path(), &[]))
            .collect();
        let rxs: Vec<_> = kids
            .iter_mut()
            .map(|k| lines_of(k.stdout.take().unwrap()))
            .collect();
        rxs.iter().for_each(|rx| {
            expect_line(rx, "READY");
        });
        let mut stdins: Vec<_> = kids.iter_mut().map(|k| k.stdin.take().unwrap()).collect();
        for s in &mut stdins {
            s.write_all(b"go\n").unwrap();
        }
        let outcomes: Vec<String> = rxs.iter().map(expect_outcome).collect();
        let winners = outcomes.iter().filter(|o| o.starts_with("LOCKED")).count();
        assert_eq!(winners, 1, "{outcomes:?}");
        let loser = outcomes
            .iter()
            .position(|o| o.starts_with("REFUSED"))
            .unwrap();
        let status = kids[loser].wait().unwrap();
        // The refusal did not wait for the lock: the winner holds it until
        // its stdin closes, which has not happened yet.
        assert!(
            kids[1 - loser].try_wait().unwrap().is_none(),
            "the winner ended before the loser was refused: {outcomes:?}"
        );
        assert_eq!(status.code(), Some(4), "{outcomes:?}");
        assert!(
            outcomes[loser].contains(&format!("process {}", kids[1 - loser].id())),
            "names the holder: {outcomes:?}"
        );
        drop(stdins);
        assert!(kids[1 - loser].wait().unwrap().success());
    }
}

#[test]
fn lock_of_killed_process_does_not_block() {
    let tmp = tempfile::tempdir().unwrap();
    let mut child = spawn_child("create", tmp.path(), &[]);
    let rx = lines_of(child.stdout.take().unwrap());
    expect_line(&rx, "READY");
    child.stdin.as_mut().unwrap().write_all(b"go\n").unwrap();
    let id = expect_line(&rx, "LOCKED ")
        .trim_start_matches("LOCKED ")
        .to_string();
    let listed = state::list_migrations(tmp.path(), false).unwrap();
    assert_eq!(
        listed.migrations[0].locked_by.as_ref().map(|l| l.pid),
        Some(child.id())
    );
    let err = Session::resume(tmp.path(), &id, ResumeRequest::default()).unwrap_err();
    assert_eq!(wfuwp::exit::code(&err.into()), wfuwp::exit::Code::Locked);
    sigkill(&mut child);
    // The dead holder's metadata is still in the files, but the OS lock is gone.
    let s = Session::resume(tmp.path(), &id, ResumeRequest::default()).unwrap();
    assert_eq!(s.snapshot().runs, 2);
    drop(s);
    Session::create(tmp.path(), new_migration("uat", 1)).unwrap();
}

#[test]
fn abandon_refuses_a_live_holder_with_exit_4() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Session::create(tmp.path(), new_migration("uat", 2)).unwrap();
    let out = run_bin(&["env-migrate", "--abandon", &s.id()], tmp.path());
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("process {}", std::process::id())),
        "{}",
        stderr(&out)
    );
    let id = s.id();
    drop(s);
    let out = run_bin(&["env-migrate", "--abandon", &id], tmp.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        store::load(&tmp.path().join(&id)).unwrap().status,
        MigrationStatus::Cancelled
    );
}

// ---------------------------------------------------------------- bad files via the binary

fn run_bin(args: &[&str], logs: &Path) -> Output {
    Command::new(bin())
        .args(args)
        .arg("--logs-dir")
        .arg(logs)
        .env_remove("WFUWP_LOGS_DIR")
        .env("WFUWP_CONFIG", logs.join("no-config.toml"))
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn dir_contents(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

#[test]
fn bad_state_files_are_reported_and_left_alone() {
    let edit = |f: fn(&mut serde_json::Value)| {
        move |good: &[u8]| {
            let mut v: serde_json::Value = serde_json::from_slice(good).unwrap();
            f(&mut v);
            serde_json::to_vec_pretty(&v).unwrap()
        }
    };
    type Case = (&'static str, Box<dyn Fn(&[u8]) -> Vec<u8>>, &'static str);
    let cases: Vec<Case> = vec![
        (
            "corrupt",
            Box::new(|_: &[u8]| b"{\"version\": 1, oops}".to_vec()),
            "not valid JSON",
        ),
        (
            "truncated",
            Box::new(|g: &[u8]| g[..g.len() / 2].to_vec()),
            "truncated",
        ),
        ("empty", Box::new(|_: &[u8]| Vec::new()), "empty"),
        (
            "future",
            Box::new(edit(|v| v["version"] = 99.into())),
            "version 99",
        ),
        (
            "counters",
            Box::new(edit(|v| v["completedSites"] = 7.into())),
            "completedSites",
        ),
        (
            "status",
            Box::new(edit(|v| v["status"] = "exploded".into())),
            "exploded",
        ),
        (
            "duplicate",
            Box::new(edit(|v| v["sites"][1]["siteId"] = 1.into())),
            "more than once",
        ),
        (
            "missing",
            Box::new(edit(|v| drop(v.as_object_mut().unwrap().remove("sites")))),
            "sites",
        ),
        (
            "not-object",
            Box::new(|_: &[u8]| b"[1,2,3]".to_vec()),
            "version",
        ),
    ];
    for (name, make, reason) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let logs = tmp.path();
        let id = paused_migration(logs, "uat", 3);
        let dir = logs.join(&id);
        let file = dir.join(store::STATE_FILE);
        let bad = make(&std::fs::read(&file).unwrap());
        std::fs::write(&file, &bad).unwrap();
        let before = dir_contents(&dir);
        for args in [
            vec!["env-migrate", "--abandon", id.as_str()],
            vec!["env-migrate", "--list-migrations", "--all"],
            vec!["env-migrate", "--list-migrations", "--json"],
        ] {
            let out = run_bin(&args, logs);
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(2), "{name} {args:?}: {err}");
            assert!(
                err.contains(&file.display().to_string()),
                "{name} {args:?}: no path in {err}"
            );
            assert!(
                err.contains(reason),
                "{name} {args:?}: no reason '{reason}' in {err}"
            );
            assert_eq!(dir_contents(&dir), before, "{name} {args:?}: files changed");
        }
        let out = run_bin(&["env-migrate", "--resume", &id], logs);
        assert_ne!(out.status.code(), Some(0), "{name} --resume");
        let err = Session::resume(logs, &id, ResumeRequest::default()).unwrap_err();
        let text = err.to_string();
        assert_eq!(
            wfuwp::exit::code(&err.into()),
            wfuwp::exit::Code::Usage,
            "{name}: {text}"
        );
        assert!(text.contains(reason), "{name}: {text}");
        assert!(Session::open_for_rollback(logs, &id).is_err());
        assert_eq!(
            dir_contents(&dir),
            before,
            "{name}: files changed by resume"
        );
    }
}

#[test]
fn unknown_and_malformed_ids_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    for id in [
        "env-migrate-2025-08-17T12-34-56-abc123",
        "nonsense",
        "env-migrate-../../etc",
    ] {
        let out = run_bin(&["env-migrate", "--abandon", id], tmp.path());
        assert_eq!(out.status.code(), Some(2), "{id}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(id) && stderr(&out).contains("--list-migrations"),
            "{}",
            stderr(&out)
        );
    }
}

#[test]
fn resume_of_finished_migrations_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Session::create(tmp.path(), new_migration("uat", 1)).unwrap();
    s.site_started(1).unwrap();
    s.site_completed(1, Default::default()).unwrap();
    let done = s.id();
    s.finish(MigrationStatus::Completed, serde_json::Value::Null)
        .unwrap();
    let cancelled = paused_migration(tmp.path(), "dev", 2);
    state::abandon(tmp.path(), &cancelled).unwrap();
    for (id, word) in [(done, "nothing left to resume"), (cancelled, "abandoned")] {
        let e = Session::resume(tmp.path(), &id, ResumeRequest::default()).unwrap_err();
        let text = e.to_string();
        assert_eq!(wfuwp::exit::code(&e.into()), wfuwp::exit::Code::Usage);
        assert!(text.contains(word), "{text}");
    }
}

// ---------------------------------------------------------------- listing

#[test]
fn list_migrations_text_and_json() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path();
    let paused = paused_migration(logs, "uat", 3);
    let live = Session::create(logs, new_migration("dev", 4)).unwrap();
    let out = run_bin(&["env-migrate", "--list-migrations"], logs);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&paused)
            && text.contains("prod → uat")
            && text.contains("1/3")
            && text.contains("resumable"),
        "{text}"
    );
    assert!(
        text.contains(&format!("running (pid {}", std::process::id())),
        "{text}"
    );
    let out = run_bin(&["env-migrate", "--list-migrations", "--json"], logs);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let arr = v.as_array().unwrap();
    assert_eq!(arr.len(), 2);
    let p = arr
        .iter()
        .find(|m| m["migrationId"] == paused.as_str())
        .unwrap();
    assert_eq!(
        (
            p["status"].as_str(),
            p["completedSites"].as_u64(),
            p["failedSites"].as_u64()
        ),
        (Some("paused"), Some(1), Some(1))
    );
    assert_eq!(p["resumable"], true);
    let l = arr
        .iter()
        .find(|m| m["migrationId"] == live.id().as_str())
        .unwrap();
    assert_eq!(
        l["lockedBy"]["pid"].as_u64(),
        Some(u64::from(std::process::id()))
    );
    // Completed and cancelled ones only with --all.
    drop(live);
    state::abandon(logs, &paused).unwrap();
    let out = run_bin(&["env-migrate", "--list-migrations", "--json"], logs);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);
    let out = run_bin(
        &["env-migrate", "--list-migrations", "--json", "--all"],
        logs,
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2);
}

#[test]
fn resume_detection_without_terminal() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = |logs: &Path| {
        let cli = <wfuwp::cli::Cli as clap::Parser>::try_parse_from([
            "wfuwp",
            "--logs-dir",
            logs.to_str().unwrap(),
            "env-migrate",
        ])
        .unwrap();
        wfuwp::commands::Context::new(cli.global)
    };
    use wfuwp::commands::manage::{detect_resume, ResumeDecision};
    let c = ctx(tmp.path());
    assert_eq!(
        detect_resume(&c, "prod", "uat", false).unwrap(),
        ResumeDecision::StartNew
    );
    let id = paused_migration(tmp.path(), "uat", 2);
    let e = detect_resume(&c, "prod", "uat", false).unwrap_err();
    assert_eq!(wfuwp::exit::code(&e), wfuwp::exit::Code::Usage);
    assert!(
        e.to_string()
            .contains(&format!("wfuwp env-migrate --resume {id}")),
        "{e}"
    );
    assert_eq!(
        detect_resume(&c, "prod", "uat", true).unwrap(),
        ResumeDecision::StartNew
    );
    assert_eq!(
        detect_resume(&c, "prod", "dev", false).unwrap(),
        ResumeDecision::StartNew
    );
}

// ---------------------------------------------------------------- terminal

struct Tmux {
    socket: PathBuf,
}

impl Tmux {
    fn new(dir: &Path, name: &str) -> Tmux {
        Tmux {
            socket: dir.join(format!("tmux-{name}.sock")),
        }
    }

    fn cmd(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .output()
            .unwrap()
    }

    /// Runs `shell_cmd` in a detached 200x50 terminal; signals channel `done` when it ends.
    fn start(&self, shell_cmd: &str) {
        let full = format!(
            "{shell_cmd}; echo EXIT=$?; tmux -S '{}' wait-for -S done; sleep 60",
            self.socket.display()
        );
        let o = self.cmd(&[
            "new-session",
            "-d",
            "-x",
            "200",
            "-y",
            "50",
            "env",
            "-u",
            "CI",
            "sh",
            "-c",
            &full,
        ]);
        assert!(
            o.status.success(),
            "tmux: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.cmd(&["capture-pane", "-p"]).stdout).into_owned()
    }

    /// Waits (up to 30 s) until the screen shows `text`.
    fn wait_for_text(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let s = self.screen();
            if s.contains(text) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "terminal never showed {text:?}:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys"];
        args.extend_from_slice(keys);
        assert!(self.cmd(&args).status.success());
    }

    fn wait_done(&self) -> String {
        assert!(self.cmd(&["wait-for", "done"]).status.success());
        self.screen()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]);
    }
}

fn shell_quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', "'\\''"))
}

#[test]
fn bare_env_migrate_offers_a_selection_on_a_terminal() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs");
    let older = paused_migration(&logs, "uat", 3);
    let newer = paused_migration(&logs, "dev", 2);
    let tmux = Tmux::new(tmp.path(), "choose");
    tmux.start(&format!(
        "{} env-migrate --logs-dir {}",
        shell_quote(Path::new(bin())),
        shell_quote(&logs)
    ));
    let screen = tmux.wait_for_text("Resume which migration?");
    assert!(
        screen.contains(&older) && screen.contains(&newer),
        "{screen}"
    );
    assert!(
        screen.find(&newer) < screen.find(&older),
        "newest first:\n{screen}"
    );
    // Choosing a migration hands it to the engine; here the user cancels.
    let before = dir_contents(&logs.join(&older));
    tmux.keys(&["Down", "Down", "Enter"]);
    let screen = tmux.wait_done();
    assert!(
        screen.contains("cancelled; nothing was changed"),
        "{screen}"
    );
    assert!(screen.contains("EXIT=0"), "{screen}");
    assert_eq!(dir_contents(&logs.join(&older)), before);
}

#[test]
fn resume_detection_prompt_on_a_terminal() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs");
    let id = paused_migration(&logs, "uat", 3);
    for (keys, want) in [
        (&["Enter"][..], format!("DECISION Resume(\"{id}\")")),
        (&["Down", "Enter"][..], "DECISION StartNew".to_string()),
        (
            &["Down", "Down", "Enter"][..],
            "DECISION Cancel".to_string(),
        ),
        (&["Escape"][..], "DECISION Cancel".to_string()),
    ]
    .into_iter()
    .enumerate()
    .map(|(n, (k, w))| ((n, k), w))
    {
        let (n, keys) = keys;
        let tmux = Tmux::new(tmp.path(), &format!("detect{n}"));
        let exe = std::env::current_exe().unwrap();
        tmux.start(&format!(
            "{CHILD_ENV}=detect LOGS={} {} --exact state::child_main --nocapture --test-threads=1 --quiet",
            shell_quote(&logs),
            shell_quote(&exe)
        ));
        let screen = tmux.wait_for_text("Start a new migration");
        assert!(
            screen.contains(&id) && screen.contains("prod → uat") && screen.contains("Cancel"),
            "{screen}"
        );
        tmux.keys(keys);
        let screen = tmux.wait_done();
        assert!(screen.contains(&want), "{keys:?}: {screen}");
    }
}

// ---------------------------------------------------------------- interrupts

#[test]
fn first_signal_sets_the_flag_second_exits_130() {
    let tmp = tempfile::tempdir().unwrap();
    let mut child = spawn_child("interrupt", tmp.path(), &[]);
    let rx = lines_of(child.stdout.take().unwrap());
    expect_line(&rx, "READY");
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert_eq!(expect_line(&rx, "TRIGGERED"), "TRIGGERED true");
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("stopping: finishing state, press Ctrl-C again to exit now"),
        "{err}"
    );
}

// ---------------------------------------------------------------- secrets

#[test]
fn no_file_under_logs_dir_contains_a_password() {
    let tmp = tempfile::tempdir().unwrap();
    let literal = "Lit3ral-S3cret-Pw!";
    let from_env = "Env-S3cret-Pw-42";
    let cfg_path = tmp.path().join("config.toml");
    std::fs::write(
        &cfg_path,
        format!(
            "[environments.prod]\nhost = \"db\"\nuser = \"wp\"\npassword = \"{literal}\"\ndatabase = \"wp_prod\"\n\
[environments.prod.replace]\nmain = \"www.wfu.edu\"\n\
[environments.uat]\nhost = \"db\"\nuser = \"wp\"\npassword_env = \"WFUWP_TEST_STATE_PW\"\ndatabase = \"wp_uat\"\n\
[environments.uat.replace]\nmain = \"uat.wfu.edu\"\n"
        ),
    )
    .unwrap();
    std::env::set_var("WFUWP_TEST_STATE_PW", from_env);
    let cfg = wfuwp_engine::config::load(Some(&cfg_path)).unwrap();
    let fingerprints: BTreeMap<String, String> = cfg
        .environments
        .iter()
        .map(|(n, e)| (n.clone(), wfuwp_engine::config::fingerprint::of(e)))
        .collect();
    let logs = tmp.path().join("logs");
    let options = state::MigrationOptions {
        replacements: vec![wfuwp_replace::Pair::new("www.wfu.edu", "uat.wfu.edu")],
        concurrency: Some(4),
        timeout_minutes: Some(20.0),
        max_retries: Some(3),
        ..Default::default()
    };
    let s = Session::create(
        &logs,
        NewMigration {
            options,
            fingerprints: fingerprints.clone(),
            ..new_migration("uat", 3)
        },
    )
    .unwrap();
    s.site_started(1).unwrap();
    s.site_failed(1, ErrorKind::Connection, "Access denied for user 'wp'@'db'")
        .unwrap();
    s.log(&format!(
        "connected to {}",
        cfg.environments["prod"].address()
    ));
    let id = s.id();
    s.finish(MigrationStatus::Failed, serde_json::json!({"note": "done"}))
        .unwrap();
    let r = Session::resume(
        &logs,
        &id,
        ResumeRequest {
            fingerprints,
            ..Default::default()
        },
    )
    .unwrap();
    r.finish(MigrationStatus::Paused, serde_json::Value::Null)
        .unwrap();
    run_bin(&["env-migrate", "--list-migrations"], &logs);
    let mut files = 0;
    let mut stack = vec![logs.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().map(|e| e.unwrap()) {
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
                continue;
            }
            files += 1;
            let bytes = std::fs::read(e.path()).unwrap();
            for pw in [literal, from_env, "WFUWP_TEST_STATE_PW"] {
                assert!(
                    !bytes.windows(pw.len()).any(|w| w == pw.as_bytes()),
                    "{} contains {pw}",
                    e.path().display()
                );
            }
        }
    }
    assert!(
        files >= 6,
        "expected state, journal, config, log, summary, locks; saw {files}"
    );
}
