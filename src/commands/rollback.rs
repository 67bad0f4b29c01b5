//! `wfuwp env-migrate --rollback ID`: the engine's checks, the operator's
//! word, the restore.

use wfuwp_engine::lifecycle;

use super::Context;
use crate::cli::EnvMigrateArgs;
use crate::exit::{self, Code, Failure};
use crate::signals;
use crate::ui::progress::Terminal;
use crate::ui::{output, prompt};

/// Restores the target as it was before migration `id`.
pub fn run(ctx: &Context, args: &EnvMigrateArgs, id: &str) -> Result<Code, Failure> {
    let config = ctx.config()?;
    let (logs_dir, _) = ctx.logs_dir()?;
    super::runtime()?.block_on(async {
        let stop = signals::install()?;
        let prepared =
            lifecycle::prepare_rollback(&config, &logs_dir, id, stop, Terminal::new()).await?;
        confirm(args, id, &prepared.target_env())?;
        Ok::<_, Failure>(exit::of_rollback(prepared.run().await?))
    })
}

fn confirm(args: &EnvMigrateArgs, id: &str, target: &str) -> Result<(), Failure> {
    if args.force {
        return Ok(());
    }
    if !output::interactive() {
        return Err(Failure::Usage(format!(
            "not on a terminal, so wfuwp cannot ask before rolling back {target}. Re-run with --force: \
             `wfuwp env-migrate --rollback {id} --force`."
        )));
    }
    let question =
        format!("Restore {target} to its state before {id}? Data written by the migration is lost");
    match prompt::confirm(&question, false)? {
        true => Ok(()),
        false => Err(prompt::cancelled()),
    }
}
