//! `wfuwp env-migrate`: routes the validated action to the state store or the engine.

use anyhow::Result;

use super::{manage, migrate, rollback, Context};
use crate::cli::{EnvMigrateArgs, MigrateAction};
use crate::exit::Code;

/// Runs one `env-migrate` invocation.
pub fn run(ctx: &Context, args: &EnvMigrateArgs) -> Result<Code> {
    crate::ui::report::set_json(args.json);
    match args.validate()? {
        MigrateAction::ShowStatePath => manage::show_state_path(ctx),
        MigrateAction::List => manage::list(ctx, args),
        MigrateAction::Abandon(id) => manage::abandon(ctx, &id),
        MigrateAction::Choose => match manage::choose_migration(ctx)? {
            Some(id) => migrate::resume(ctx, args, &id),
            None => {
                crate::ui::output::info("cancelled; nothing was changed");
                Ok(Code::Success)
            }
        },
        MigrateAction::New { source, target } => {
            migrate::new_migration(ctx, args, &source, &target)
        }
        MigrateAction::Resume(id) => migrate::resume(ctx, args, &id),
        MigrateAction::Rollback(id) => rollback::run(ctx, args, &id),
    }
}
