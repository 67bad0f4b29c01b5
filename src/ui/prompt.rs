//! Interactive prompts (dialoguer) on stderr, so stdout stays clean for scripts.
//!
//! Callers check [`super::output::interactive`] first: without a terminal a
//! prompt would hang or read garbage, and docs/phases.md wants a clear refusal instead.

use anyhow::{Context as _, Result};
use dialoguer::console::Term;
use dialoguer::{Confirm, Select};

use crate::exit::Failure;

/// The operator answered no: nothing was changed (exit 1).
pub fn cancelled() -> Failure {
    Failure::Fatal("cancelled; nothing was changed".into())
}

/// Asks the user to pick one of `items`; `None` when they press Esc or q.
pub fn select(prompt: &str, items: &[String], default: usize) -> Result<Option<usize>> {
    Select::new()
        .with_prompt(prompt)
        .items(items)
        .default(default.min(items.len().saturating_sub(1)))
        .interact_on_opt(&Term::stderr())
        .context("the selection prompt failed; run with --force or give the action explicitly")
}

/// Asks a yes/no question; Esc counts as "no".
pub fn confirm(prompt: &str, default: bool) -> Result<bool> {
    let answer = Confirm::new()
        .with_prompt(prompt)
        .default(default)
        .interact_on_opt(&Term::stderr())
        .context("the confirmation prompt failed; run with --force to skip it")?;
    Ok(answer.unwrap_or(false))
}
