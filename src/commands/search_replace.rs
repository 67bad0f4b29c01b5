//! `wfuwp search-replace FROM TO …`: the engine over a SQL dump on stdin.

use anyhow::{bail, Result};

use crate::cli::SearchReplaceArgs;
use crate::exit::Code;

/// Streams stdin to stdout through the replacement engine.
pub fn run(_args: &SearchReplaceArgs) -> Result<Code> {
    bail!("search-replace is not implemented yet")
}
