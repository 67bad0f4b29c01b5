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

use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt;

use super::engine::Engine;
use crate::interrupt::Interrupt;
use crate::state::HookRecord;

/// Time limit of one post-migration command.
const COMMAND_LIMIT: Duration = Duration::from_secs(15 * 60);

/// Kills a command's whole process group unless it ended by itself.
struct Group {
    pgid: Option<i32>,
}

impl Group {
    fn kill(&mut self) {
        if let Some(pgid) = self.pgid.take() {
            // SAFETY: kill(2) with a negative pid signals that process group;
            // no memory is involved.
            unsafe {
                libc::kill(-pgid, libc::SIGTERM);
                libc::kill(-pgid, libc::SIGKILL);
            }
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs each of `commands` not already recorded as finished; returns how
/// every one ended. Stops early (without recording) when `interrupt` fires.
pub async fn run_commands(
    engine: &Engine,
    commands: &[String],
    interrupt: &Interrupt,
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
        let Some((ok, status)) = run_one(engine, cmd, interrupt).await else {
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

/// One command: `Some((ok, status))`, or `None` when interrupted.
async fn run_one(engine: &Engine, cmd: &str, interrupt: &Interrupt) -> Option<(bool, String)> {
    let spawned = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .process_group(0)
        .stdin(Stdio::null())
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
        _ = interrupt.triggered() => return None, // `group` is killed on drop
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
