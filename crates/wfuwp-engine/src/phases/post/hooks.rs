//! The target's `post_migration` commands (the second half of
//! post_migration): each in its own process group with a time limit, its
//! output in the progress log, its outcome recorded in the state.
//!
//! A command often starts children of its own (`wp` runs PHP, which may run
//! more). Killing only the shell would leave them running, reparented to
//! init, after the run stopped; so each command leads a process group of its
//! own and the whole group is signalled: on its time limit, on Ctrl-C or
//! SIGTERM, and whenever the run drops it. A command that ran to the end is
//! recorded, so a resume after an interruption does not run it again.
//!
//! A run killed outright (SIGKILL, a crash) cannot signal anything, so the
//! group of a running command is recorded in the state before the command
//! may start, and the next run of the migration stops a group it finds
//! still running ([`stop_left_running`]) before it does anything else.

use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::phases::engine::Engine;
use crate::state::{HookRecord, RunningHook};
use crate::stop::Stop;

/// The environment variable every process of a command's group inherits,
/// set to the group's marker ([`RunningHook::marker`]).
const MARKER_VAR: &str = "WFUWP_HOOK";

/// How long a group left running gets to end after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// Runs the command (`$1`) only after a line arrives on stdin: the run
/// records the group first, and a run killed before it could leaves a shell
/// that reads end-of-file and exits without running anything.
const GATE: &str = "read -r _ || exit 125; exec sh -c \"$1\" </dev/null";

/// Time limit of one post-migration command.
const COMMAND_LIMIT: Duration = Duration::from_secs(15 * 60);

/// Kills a command's whole process group unless it ended by itself.
struct Group {
    pgid: Option<i32>,
}

impl Group {
    fn kill(&mut self) {
        if let Some(pgid) = self.pgid.take() {
            signal_group(pgid, Signal::SIGTERM);
            signal_group(pgid, Signal::SIGKILL);
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs each of `commands` not already recorded as finished; returns how
/// every one ended. Stops early (without recording) when `stop` fires.
pub async fn run_commands(
    engine: &Engine,
    commands: &[String],
    stop: &Stop,
) -> anyhow::Result<Vec<HookRecord>> {
    let s = &engine.session;
    let mut results = Vec::new();
    for cmd in commands {
        if let Some(done) = s.hook_record(cmd) {
            s.log(&format!(
                "post_migration: `{cmd}` already ran ({}); not run again",
                done.status
            ));
            results.push(done);
            continue;
        }
        s.log(&format!("post_migration: running `{cmd}`"));
        let Some((ok, status)) = run_one(engine, cmd, stop).await else {
            s.log(&format!("post_migration: `{cmd}` stopped by the interrupt"));
            return Ok(results);
        };
        s.log(&format!("post_migration: `{cmd}` ended: {status}"));
        let record = HookRecord {
            command: cmd.clone(),
            ok,
            status,
        };
        s.hook_finished(record.clone())?;
        results.push(record);
    }
    Ok(results)
}

/// One command: `Some((ok, status))`, or `None` when interrupted. The
/// state says it runs from before it starts until its group is gone.
async fn run_one(engine: &Engine, cmd: &str, stop: &Stop) -> Option<(bool, String)> {
    let result = run_recorded(engine, cmd, stop).await;
    if let Err(e) = engine.session.hook_gone() {
        engine.session.log(&format!(
            "post_migration: could not record that `{cmd}` ended: {e:#}"
        ));
    }
    result
}

async fn run_recorded(engine: &Engine, cmd: &str, stop: &Stop) -> Option<(bool, String)> {
    let marker = uuid::Uuid::new_v4().to_string();
    let spawned = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(GATE)
        .arg("wfuwp-post-migration")
        .arg(cmd)
        .env(MARKER_VAR, &marker)
        .process_group(0)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => return Some((false, format!("could not start: {e}"))),
    };
    let mut group = Group {
        pgid: child.id().and_then(|p| i32::try_from(p).ok()),
    };
    let Some(pgid) = group.pgid else {
        return Some((false, "could not start: no process id".into()));
    };
    let recorded = engine.session.hook_running(RunningHook {
        command: cmd.to_string(),
        pgid,
        host: crate::state::lock::hostname(),
        marker,
        started_at: chrono::Utc::now(),
    });
    if let Err(e) = recorded {
        // Not started: without the record a killed run could not stop it.
        return Some((false, format!("not started: recording it failed: {e:#}")));
    }
    let gate = match child.stdin.take() {
        Some(mut stdin) => stdin.write_all(b"go\n").await,
        None => Err(std::io::Error::other("no stdin")),
    };
    if let Err(e) = gate {
        return Some((false, format!("could not start: {e}")));
    }
    let (mut out, mut err) = (child.stdout.take(), child.stderr.take());
    let (mut out_buf, mut err_buf) = (Vec::new(), Vec::new());
    let waited = async {
        let read_out = async {
            if let Some(o) = out.as_mut() {
                let _ = o.read_to_end(&mut out_buf).await;
            }
        };
        let read_err = async {
            if let Some(e) = err.as_mut() {
                let _ = e.read_to_end(&mut err_buf).await;
            }
        };
        let (_, _, status) = tokio::join!(read_out, read_err, child.wait());
        status
    };
    let ended = tokio::select! {
        r = tokio::time::timeout(COMMAND_LIMIT, waited) => r,
        _ = stop.triggered() => return None, // `group` is killed on drop
    };
    let result = match ended {
        Ok(Ok(status)) => {
            group.pgid = None; // ended by itself; its group may be reused
            (
                status.success(),
                match (status.code(), status.signal()) {
                    (Some(c), _) => format!("exit {c}"),
                    (None, Some(sig)) => format!("killed by signal {sig}"),
                    _ => "killed by a signal".into(),
                },
            )
        }
        Ok(Err(e)) => (false, format!("could not wait for it: {e}")),
        Err(_) => {
            group.kill();
            (
                false,
                format!("exceeded {} minutes", COMMAND_LIMIT.as_secs() / 60),
            )
        }
    };
    for line in String::from_utf8_lossy(&out_buf)
        .lines()
        .chain(String::from_utf8_lossy(&err_buf).lines())
    {
        engine.session.log(&format!("post_migration: | {line}"));
    }
    Some(result)
}

/// Stops the `post_migration` command an earlier run of this migration left
/// running (it was killed while the command ran), before this run does
/// anything: its outcome cannot be known any more, so it is run again when
/// its turn comes, and two copies must never run at once. SIGTERM to its
/// whole group, SIGKILL after `STOP_GRACE`. A group on another host
/// cannot be reached from here: that is said, and left to the operator.
pub async fn stop_left_running(engine: &Engine) -> anyhow::Result<()> {
    let s = &engine.session;
    let Some(hook) = s.running_hook() else {
        return Ok(());
    };
    let here = crate::state::lock::hostname();
    if hook.host != here {
        let msg = format!(
            "the post_migration command `{}` of an earlier run may still be running on {} (process group {}, \
             started {}); it cannot be stopped from {here}: stop it there if it is",
            hook.command, hook.host, hook.pgid, hook.started_at
        );
        s.log(&msg);
        engine.warn(msg);
        return s.hook_gone();
    }
    if group_alive(&hook) {
        let msg = format!(
            "stopping the post_migration command `{}` that an earlier run left running (process group {}, \
             started {}); it runs again after this run's sites",
            hook.command, hook.pgid, hook.started_at
        );
        s.log(&msg);
        engine.warn(msg);
        signal_group(hook.pgid, Signal::SIGTERM);
        let deadline = Instant::now() + STOP_GRACE;
        while group_alive(&hook) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if group_alive(&hook) {
            signal_group(hook.pgid, Signal::SIGKILL);
            let deadline = Instant::now() + STOP_GRACE;
            while group_alive(&hook) && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        if group_alive(&hook) {
            anyhow::bail!(
                "the post_migration command `{}` that an earlier run left running (process group {}) \
                 does not stop; stop it (kill -KILL -{}), then resume",
                hook.command,
                hook.pgid,
                hook.pgid
            );
        }
        s.log("post_migration: the earlier run's command is stopped");
    }
    s.hook_gone()
}

/// Sends `signal` to process group `pgid`; one that is gone already is fine.
fn signal_group(pgid: i32, signal: Signal) {
    let _ = killpg(Pid::from_raw(pgid), signal);
}

/// Whether a live process of `hook`'s group carries its marker: the group
/// id alone may since belong to someone else's processes.
fn group_alive(hook: &RunningHook) -> bool {
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return false;
    };
    let wanted = format!("{MARKER_VAR}={}", hook.marker);
    procs
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| live_member(pid, hook.pgid))
        .any(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|&b| b == 0).any(|var| var == wanted.as_bytes()))
        })
}

/// Whether process `pid` is in group `pgid` and not a zombie, from
/// `/proc/PID/stat` (`pid (comm) state ppid pgrp …`; comm may hold spaces
/// and parentheses, so fields are counted after the last `)`).
fn live_member(pid: u32, pgid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return false;
    };
    let mut fields = rest.split_whitespace();
    let state = fields.next();
    let group = fields.nth(1).and_then(|g| g.parse::<i32>().ok());
    !matches!(state, Some("Z" | "X") | None) && group == Some(pgid)
}
