//! The `wfuwp` binary: parse the command line, run the action, map the outcome to an exit code.

use std::process::ExitCode;

use clap::Parser;
use wfuwp::{cli::Cli, commands, exit, ui};

fn main() -> ExitCode {
    let cli = Cli::parse();
    ui::output::init(&cli.global);
    match commands::run(cli) {
        Ok(code) => code.into(),
        Err(failure) => {
            ui::output::error(&failure);
            exit::code(&failure).into()
        }
    }
}
