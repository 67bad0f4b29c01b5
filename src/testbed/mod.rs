//! Generator of realistic WordPress multisite networks, for tests, the demo and benchmarks.

use anyhow::{bail, Result};

use crate::commands::Context;
use crate::exit::Code;

/// Options of the hidden `wfuwp seed-network` command.
#[derive(Debug, Clone, clap::Args)]
pub struct SeedArgs {
    /// Environment (from the config) whose database receives the network
    #[arg(long)]
    pub env: String,
}

/// Generates a network as asked.
pub fn run(_ctx: &Context, _args: &SeedArgs) -> Result<Code> {
    bail!("seed-network is not implemented yet")
}
