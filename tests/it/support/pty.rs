//! A pseudo-terminal for driving the real binary's interactive prompts.
//!
//! The child gets the PTY's slave side as stdin, stdout, stderr and
//! controlling terminal, so it sees a terminal exactly as on a user's screen.
//! A thread drains the master side (a child writing to a full PTY would
//! block); [`Pty::expect`] waits for a text to appear (escape sequences
//! removed) before the test answers, so there is no sleeping to guess when a
//! prompt is ready, only one generous deadline per wait.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// How long one [`Pty::expect`] (or the exit) may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// A child process running on a pseudo-terminal.
pub struct Pty {
    master: File,
    output: Receiver<Vec<u8>>,
    /// Everything the child wrote, as written.
    raw: Vec<u8>,
    /// Everything the child wrote, escape sequences removed.
    screen: String,
    /// Where the next [`Pty::expect`] starts looking in `screen`.
    cursor: usize,
    child: Child,
}

/// `bytes` without terminal escape sequences (CSI `ESC [ … final`, and two-byte `ESC x`).
pub fn strip_escapes(bytes: &str) -> String {
    let mut out = String::with_capacity(bytes.len());
    let mut chars = bytes.chars();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            out.push(c);
            continue;
        }
        // Other escapes (ESC x) are two characters; `next` drops the second.
        if chars.next() == Some('[') {
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        }
    }
    out
}

impl Pty {
    /// Starts `cmd` on a new 200×50 terminal.
    pub fn spawn(mut cmd: Command) -> Pty {
        // An operator at a terminal: wfuwp treats a set CI variable as "no one
        // to ask", and the suite itself may run under CI=true.
        cmd.env_remove("CI");
        let (mut master, mut slave) = (-1, -1);
        let size = libc::winsize {
            ws_row: 50,
            ws_col: 200,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: openpty writes two descriptors into the given integers; the
        // name buffer and termios are optional (null).
        let rc = unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                &size,
            )
        };
        assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
        // SAFETY: both descriptors were just opened and are owned here only.
        let (master, slave) =
            unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
        let side = || Stdio::from(slave.try_clone().expect("duplicating the PTY slave"));
        cmd.stdin(side()).stdout(side()).stderr(side());
        // SAFETY: only async-signal-safe calls between fork and exec. A new
        // session whose controlling terminal is the PTY, as a login shell has.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() == -1 || libc::ioctl(0, libc::TIOCSCTTY as _, 0) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("starting the command on a PTY");
        // The parent's copies of the slave must go, or reading the master
        // never ends when the child exits.
        drop(cmd);
        drop(slave);
        let mut reader = File::from(master.try_clone().expect("duplicating the PTY master"));
        let (tx, output) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // Linux reports EIO once the last slave descriptor is closed.
            while let Ok(n @ 1..) = reader.read(&mut buf) {
                if tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Pty {
            master: File::from(master),
            output,
            raw: Vec::new(),
            screen: String::new(),
            cursor: 0,
            child,
        }
    }

    /// Everything the child wrote so far, escape sequences removed.
    pub fn screen(&self) -> &str {
        &self.screen
    }

    /// Waits until `text` appears after the previous match; panics with the
    /// screen when it does not within [`DEADLINE`].
    pub fn expect(&mut self, text: &str) {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(at) = self.screen[self.cursor..].find(text) {
                self.cursor += at + text.len();
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.output.recv_timeout(left) {
                Ok(bytes) => self.take(&bytes),
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "'{text}' did not appear within {DEADLINE:?}; screen:\n{}",
                        self.screen
                    )
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!(
                        "the program ended before '{text}' appeared; screen:\n{}",
                        self.screen
                    )
                }
            }
        }
    }

    /// Types `keys` (use `\r` for Enter).
    pub fn send(&mut self, keys: &str) {
        self.master
            .write_all(keys.as_bytes())
            .and_then(|()| self.master.flush())
            .expect("writing to the PTY");
    }

    /// Waits for `text`, then types `answer` and Enter.
    pub fn answer(&mut self, text: &str, answer: &str) {
        self.expect(text);
        self.send(answer);
        self.send("\r");
    }

    /// Reads to the end of the output and waits for the exit: the exit code
    /// (-1 for a signal) and the whole screen.
    pub fn finish(mut self) -> (i32, String) {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.output.recv_timeout(left) {
                Ok(bytes) => self.take(&bytes),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {
                    let _ = self.child.kill();
                    panic!(
                        "the program did not end within {DEADLINE:?}; screen:\n{}",
                        self.screen
                    )
                }
            }
        }
        let status = self.child.wait().expect("waiting for the program");
        (
            status.code().unwrap_or(-1),
            std::mem::take(&mut self.screen),
        )
    }

    fn take(&mut self, bytes: &[u8]) {
        // A chunk may end inside an escape sequence or a UTF-8 character, so
        // the screen is rebuilt from all bytes; the text before the cursor
        // never changes by that.
        self.raw.extend_from_slice(bytes);
        self.screen = strip_escapes(&String::from_utf8_lossy(&self.raw));
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        // A failed test must not leave the child waiting for input.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
