//! Writes wfuwp's man page (roff) to stdout, from the same clap definition
//! the binary parses with: `cargo run --example man > wfuwp.1`.
//! An example rather than a command, so the shipped binary does not carry the
//! man-page generator (scripts/release.sh runs it).

use std::io::Write as _;

use clap::CommandFactory as _;

fn main() -> std::io::Result<()> {
    let mut page = Vec::new();
    clap_mangen::Man::new(wfuwp::cli::Cli::command()).render(&mut page)?;
    std::io::stdout().write_all(&page)
}
