//! `wfuwp env-migrate`: routes the validated action to its adapter.

use super::{manage, migrate, rollback, Context};
use crate::cli::{EnvMigrateArgs, MigrateAction};
use crate::exit::{Code, Failure};
use crate::ui::output;

/// Runs one `env-migrate` invocation.
pub fn run(ctx: &Context, args: &EnvMigrateArgs) -> Result<Code, Failure> {
    match args.validate()? {
        MigrateAction::ShowStatePath => manage::show_state_path(ctx),
        MigrateAction::List => manage::list(ctx, args),
        MigrateAction::Abandon(id) => manage::abandon(ctx, &id),
        MigrateAction::Choose => match manage::choose_migration(ctx)? {
            Some(id) => migrate::resume(ctx, args, &id),
            None => {
                output::info("cancelled; nothing was changed");
                Ok(Code::Success)
            }
        },
        MigrateAction::New { source, target } => migrate::start(ctx, args, &source, &target),
        MigrateAction::Status { source, target } => migrate::status(ctx, args, &source, &target),
        MigrateAction::Resume(id) => migrate::resume(ctx, args, &id),
        MigrateAction::Rollback(id) => rollback::run(ctx, args, &id),
    }
}
