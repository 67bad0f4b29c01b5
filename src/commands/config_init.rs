//! `wfuwp config init [PATH]`: write a starting configuration, then check it.
//!
//! The environments come from the flags, completed by questions on a
//! terminal (`ui::init`); without a terminal a missing value is an error
//! naming the flag, so a script never hangs on a prompt. The text is rendered
//! and parsed back by the real loader before anything is written, written
//! privately and atomically (`config::write`), and finally checked by the
//! `config check` code, whose outcome and exit code are this command's.

use std::path::PathBuf;

use anyhow::Context as _;
use wfuwp_engine::config::{draft, load, render, write};

use super::{config_check, Context};
use crate::cli::InitArgs;
use crate::exit::{Code, Failure};

/// Writes the file `args` describe and runs `config check` on it.
pub fn run(ctx: &Context, args: &InitArgs) -> Result<Code, Failure> {
    let path = match &args.path {
        Some(p) => p.clone(),
        None => load::locate(ctx.global.config.as_deref()).0,
    };
    // Before any question: answers to a command that cannot write are wasted.
    if !args.force && write::exists(&path) {
        return Err(usage(write::WriteError::Exists(path)));
    }
    let envs = if crate::ui::output::interactive() {
        crate::ui::output::stderr_line(&format!(
            "Writing {}. Enter accepts the value in [brackets]. Passwords are not asked for: \
             the file names the environment variable that holds each one.",
            path.display()
        ));
        crate::ui::init::ask(args.envs.envs.clone()).map_err(|e| {
            // Flags that cannot make a configuration are a usage error, as without a terminal.
            match e.downcast_ref::<draft::DraftError>() {
                Some(d) => refused(d, ""),
                None => Failure::from(e),
            }
        })?
    } else {
        draft::finish_all(&args.envs.envs).map_err(|e| {
            refused(
                &e,
                " (there is no terminal to ask on, so every value must come from the flags)",
            )
        })?
    };
    let (text, _) = render::render_checked(&envs, &path)
        .context("the configuration to be written does not load back; nothing was written")?;
    write::write_private(&path, &text, args.force).map_err(|e| match e {
        write::WriteError::Exists(_) => usage(e),
        other => Failure::from(anyhow::Error::new(other)),
    })?;
    crate::outln!("wrote {} (mode 0600)", path.display());
    if args.no_check {
        for e in envs
            .iter()
            .filter(|e| std::env::var_os(&e.password_env).is_none())
        {
            crate::outln!(
                "note: {} (the password of '{}') is not set; export it before using wfuwp",
                e.password_env,
                e.name
            );
        }
        crate::outln!(
            "not checked (--no-check); run `wfuwp config check` when the databases are reachable"
        );
        return Ok(Code::Success);
    }
    let check_ctx = Context::new(crate::cli::GlobalArgs {
        config: Some(absolute(path.clone())),
        ..ctx.global.clone()
    });
    let written = format!(
        "{} was written and kept, but its check failed",
        path.display()
    );
    config_check::run(&check_ctx, &[]).map_err(|f| match f {
        Failure::Usage(m) => Failure::Usage(format!("{written}: {m}")),
        Failure::Fatal(m) => Failure::Fatal(format!("{written}: {m}")),
        Failure::Engine(e) => Failure::Engine(e.context(written)),
    })
}

/// `e` as a usage error that also says nothing was written, and `why`.
fn refused(e: &draft::DraftError, why: &str) -> Failure {
    let e = e.to_string();
    let end = if e.ends_with('.') { "" } else { "." };
    usage(format!("{e}{end} Nothing was written{why}."))
}

fn usage(e: impl std::fmt::Display) -> Failure {
    Failure::Usage(e.to_string())
}

/// `path` made absolute, so the check's messages name the file unambiguously.
fn absolute(path: PathBuf) -> PathBuf {
    std::path::absolute(&path).unwrap_or(path)
}
