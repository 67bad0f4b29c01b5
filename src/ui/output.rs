//! Terminal messages: verbosity, colour, and how errors are printed.

use std::collections::BTreeSet;
use std::fmt;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Mutex;

use crate::cli::GlobalArgs;

static VERBOSITY: AtomicU8 = AtomicU8::new(1);
static COLOR: AtomicBool = AtomicBool::new(false);
/// Set once stdout's reader went away: later output is dropped silently.
static STDOUT_GONE: AtomicBool = AtomicBool::new(false);
/// Warnings already printed by [`warn_once`].
static WARNED: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// Records the global output options (call once, first thing).
pub fn init(global: &GlobalArgs) {
    let level = if global.quiet { 0 } else { 1 + global.verbose };
    VERBOSITY.store(level, Ordering::Relaxed);
    let no_color = global.no_color || std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    COLOR.store(
        !no_color && std::io::stderr().is_terminal(),
        Ordering::Relaxed,
    );
}

/// 0 = quiet, 1 = normal, 2+ = verbose.
pub fn verbosity() -> u8 {
    VERBOSITY.load(Ordering::Relaxed)
}

/// Whether colours may be used on stderr.
pub fn color() -> bool {
    COLOR.load(Ordering::Relaxed)
}

/// Whether stdin and stderr are terminals (prompts and live progress allowed).
pub fn interactive() -> bool {
    std::io::stdin().is_terminal()
        && std::io::stderr().is_terminal()
        && std::env::var_os("CI").is_none_or(|v| v.is_empty() || v == "false")
}

/// `1 attempt`, `2 attempts`: a count with its noun in the right number.
pub use wfuwp_engine::report::count;

/// A status line on stderr (suppressed by `--quiet`).
pub fn info(msg: impl AsRef<str>) {
    if verbosity() >= 1 {
        stderr_line(msg.as_ref());
    }
}

/// `label` in `style` when colour is on (a terminal, no `--no-color`/`NO_COLOR`).
fn styled(label: &str, style: console::Style) -> String {
    style.force_styling(color()).apply_to(label).to_string()
}

/// A byte count as people read it (`34.5 MiB`): the one size format of every
/// report, listing and plan.
pub fn size(bytes: u64) -> String {
    indicatif::HumanBytes(bytes).to_string()
}

/// Detail shown only with `-v`.
pub fn detail(msg: impl AsRef<str>) {
    if verbosity() >= 2 {
        stderr_line(msg.as_ref());
    }
}

/// A warning on stderr (always shown).
pub fn warn(msg: impl AsRef<str>) {
    let prefix = styled("warning:", console::Style::new().yellow());
    stderr_line(&format!("{prefix} {}", msg.as_ref()));
}

/// Like [`warn`], but a message already printed by this process is not
/// repeated (the config file, for one, is read more than once per run).
pub fn warn_once(msg: impl AsRef<str>) {
    let first = WARNED
        .lock()
        .map(|mut seen| seen.insert(msg.as_ref().to_string()))
        // A poisoned set only means a panic elsewhere; repeating beats hiding.
        .unwrap_or(true);
    if first {
        warn(msg);
    }
}

/// Prints what ended a command: one paragraph, its causes included.
pub fn error(failure: &crate::exit::Failure) {
    let prefix = styled("error:", console::Style::new().red());
    stderr_line(&format!("{prefix} {failure}"));
}

/// One line on stderr, shown even with `--quiet`. `eprintln!` would panic if
/// stderr is closed; a message nobody can read is not worth a crash, so
/// errors are ignored.
pub fn stderr_line(line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{line}");
}

/// Writes formatted output to stdout, for [`crate::outln!`] and [`crate::out!`].
///
/// `println!` panics when stdout's reader has gone away (`wfuwp … | head -1`).
/// Here a broken pipe just ends the output: the command still finishes its
/// work (a migration must not die half-way because its listener did) and
/// exits with its own code. Other write errors are reported once on stderr.
pub fn stdout_fmt(args: fmt::Arguments<'_>, newline: bool) {
    if STDOUT_GONE.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    let mut result = out.write_fmt(args);
    if newline && result.is_ok() {
        result = out.write_all(b"\n");
    }
    if result.is_ok() {
        result = out.flush();
    }
    if let Err(e) = result {
        STDOUT_GONE.store(true, Ordering::Relaxed);
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            warn_once(format!(
                "cannot write to stdout ({e}); the rest of the output is lost"
            ));
        }
    }
}

/// Writes raw bytes to stdout with the same rules as [`stdout_fmt`].
pub fn stdout_bytes(bytes: &[u8]) {
    stdout_fmt(format_args!("{}", String::from_utf8_lossy(bytes)), false);
}

/// `println!` for command output that never panics on a closed stdout
/// (see [`output::stdout_fmt`](crate::ui::output::stdout_fmt)).
#[macro_export]
macro_rules! outln {
    () => {
        $crate::ui::output::stdout_fmt(format_args!(""), true)
    };
    ($($arg:tt)*) => {
        $crate::ui::output::stdout_fmt(format_args!($($arg)*), true)
    };
}

/// `print!` for command output that never panics on a closed stdout.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::ui::output::stdout_fmt(format_args!($($arg)*), false)
    };
}
