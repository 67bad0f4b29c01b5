//! `wfuwp env-migrate --rollback ID`.

use anyhow::{bail, Result};

use super::Context;
use crate::cli::EnvMigrateArgs;
use crate::exit::Code;

/// Restores the target as it was before migration `id`.
pub fn run(_ctx: &Context, _args: &EnvMigrateArgs, _id: &str) -> Result<Code> {
    bail!("--rollback is not implemented yet")
}
