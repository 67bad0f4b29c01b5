//! `wfuwp env-migrate`: routes the validated action to the state store or the engine.

use anyhow::Result;

use super::{manage, Context};
use crate::cli::{EnvMigrateArgs, MigrateAction};
use crate::exit::Code;

/// Runs one `env-migrate` invocation.
pub fn run(ctx: &Context, args: &EnvMigrateArgs) -> Result<Code> {
    match args.validate()? {
        MigrateAction::ShowStatePath => manage::show_state_path(ctx),
        MigrateAction::List => manage::list(ctx, args),
        MigrateAction::Abandon(id) => manage::abandon(ctx, &id),
        MigrateAction::Choose => manage::choose(ctx, args),
        MigrateAction::New { .. } | MigrateAction::Resume(_) | MigrateAction::Rollback(_) => {
            Err(crate::exit::CodedError { code: Code::Fatal, message: "this action is not implemented yet".into() }.into())
        }
    }
}
