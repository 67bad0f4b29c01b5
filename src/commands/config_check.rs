//! `wfuwp config check [ENV…]`: validate, connect, report.

use anyhow::{bail, Result};

use super::Context;
use crate::exit::Code;

/// Checks the named environments (all when none are named).
pub fn run(_ctx: &Context, _envs: &[String]) -> Result<Code> {
    bail!("config check is not implemented yet")
}
