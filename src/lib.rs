//! wfuwp, the binary: the command line and the terminal around the engine
//! (crates/wfuwp-engine; docs/architecture.md). It reads like the product:
//! * [`cli`] — the command line; [`commands`] — one adapter per action.
//! * [`ui`] — messages, the engine's events and live progress, prompts,
//!   tables, the plan and the final report.
//! * [`signals`] — Ctrl-C and SIGTERM to the engine's stop token.
//! * [`exit`] — the one mapping from an outcome or error to an exit code.
//!
//! A library as well as a binary so that the tests can drive the adapters
//! in-process (resume detection, exit codes) and build the binary with its
//! test machinery (the `failpoints` and `testbed` features).

// Command output goes through `outln!` / `out!` (ui::output), which survive a
// closed stdout; `println!` would panic on `wfuwp … | head -1`.
#![deny(clippy::print_stdout)]
#![deny(missing_docs)]

pub mod cli;
pub mod commands;
pub mod exit;
pub mod signals;
pub mod ui;
