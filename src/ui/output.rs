//! Terminal messages: verbosity, colour, and how errors are printed.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use crate::cli::GlobalArgs;

static VERBOSITY: AtomicU8 = AtomicU8::new(1);
static COLOR: AtomicBool = AtomicBool::new(false);

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

/// A status line on stderr (suppressed by `--quiet`).
pub fn info(msg: impl AsRef<str>) {
    if verbosity() >= 1 {
        eprintln!("{}", msg.as_ref());
    }
}

/// Detail shown only with `-v`.
pub fn detail(msg: impl AsRef<str>) {
    if verbosity() >= 2 {
        eprintln!("{}", msg.as_ref());
    }
}

/// A warning on stderr (always shown).
pub fn warn(msg: impl AsRef<str>) {
    let prefix = if color() {
        "\x1b[33mwarning:\x1b[0m"
    } else {
        "warning:"
    };
    eprintln!("{prefix} {}", msg.as_ref());
}

/// Prints an error and its causes, one paragraph.
pub fn error(err: &anyhow::Error) {
    let prefix = if color() {
        "\x1b[31merror:\x1b[0m"
    } else {
        "error:"
    };
    let mut text = err.to_string();
    for cause in err.chain().skip(1) {
        let c = cause.to_string();
        if !text.contains(&c) {
            text.push_str(": ");
            text.push_str(&c);
        }
    }
    eprintln!("{prefix} {text}");
}
