//! Migration management that needs no database: list, abandon, show-state-path, choose.

use anyhow::{bail, Result};

use super::Context;
use crate::cli::EnvMigrateArgs;
use crate::exit::Code;

/// `--show-state-path`
pub fn show_state_path(ctx: &Context) -> Result<Code> {
    let (dir, source) = ctx.logs_dir()?;
    println!("{}\t(chosen by {source})", dir.display());
    Ok(Code::Success)
}

/// `--list-migrations`
pub fn list(_ctx: &Context, _args: &EnvMigrateArgs) -> Result<Code> {
    bail!("--list-migrations is not implemented yet")
}

/// `--abandon ID`
pub fn abandon(_ctx: &Context, _id: &str) -> Result<Code> {
    bail!("--abandon is not implemented yet")
}

/// Bare `wfuwp env-migrate`.
pub fn choose(_ctx: &Context, _args: &EnvMigrateArgs) -> Result<Code> {
    bail!("choosing a migration is not implemented yet; use `wfuwp env-migrate SOURCE TARGET`")
}
