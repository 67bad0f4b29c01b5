//! `wfuwp env-migrate --rollback ID`: confirmation, lock, restore, record.

use anyhow::{Context as _, Result};
use mysql_async::prelude::Queryable as _;

use super::Context;
use crate::cli::EnvMigrateArgs;
use crate::db::{roles, settings};
use crate::exit::{Code, CodedError};
use crate::interrupt::Interrupt;
use crate::migrate::rollback::{self, RollbackEnd};
use crate::migrate::{preflight, rollback_order};
use crate::state::{MigrationStatus, Session};
use crate::ui::{output, prompt};

/// Restores the target as it was before migration `id`.
pub fn run(ctx: &Context, args: &EnvMigrateArgs, id: &str) -> Result<Code> {
    let config = ctx.config()?;
    let (logs_dir, _) = ctx.logs_dir()?;
    let session = Session::open_for_rollback(&logs_dir, id)?;
    let state = session.snapshot();
    let target = config.environment(&state.target_env)?;
    let skip_backup = session.config().options.skip_backup;
    let before = state.status;
    let rt = super::runtime()?;
    rt.block_on(async {
        let interrupt = Interrupt::install()?;
        let checked = async {
            rollback::check_records(&state, &target.table_prefix)?;
            let endpoint = preflight::endpoint(target).await?;
            let lock = preflight::lock_target(&endpoint, &logs_dir, &interrupt).await?;
            let mut conn = roles::target(&endpoint.opts).await?;
            let settings = settings::read(&mut conn).await?;
            preflight::refuse_read_only(&settings, target)?;
            rollback_order::check(&config, &logs_dir, &state, &mut conn).await?;
            rollback::check_backups(&mut conn, &state, skip_backup).await?;
            anyhow::Ok((lock, conn, endpoint))
        };
        let (lock, mut conn, endpoint) = match checked.await {
            Ok(c) => c,
            Err(e) => {
                // Refused: the state is left as it was, nothing was changed.
                session.finish(before, serde_json::json!({}))?;
                return Err(e);
            }
        };
        confirm(args, id, &state.target_env)?;
        // The operator may have taken longer to answer than the server's
        // wait_timeout: a connection it closed meanwhile is replaced.
        if conn.ping().await.is_err() {
            conn = roles::target(&endpoint.opts).await?;
        }
        output::info(format!("Rolling back {id} on {} …", state.target_env));
        // Media first: a failure here leaves the tables and the state as they
        // were, and the rollback can simply be run again.
        if let Err(e) = media_rollback(&config, &state, &session, id).await {
            session.finish(before, serde_json::json!({}))?;
            return Err(e.context(format!("rollback of {id} stopped; run `wfuwp env-migrate --rollback {id}` again to continue")));
        }
        // Sites are swapped back on as many connections as the migration used.
        let workers = session
            .config()
            .options
            .concurrency
            .unwrap_or(super::migrate::DEFAULT_CONCURRENCY) as usize;
        let end = match rollback::restore(&session, &mut conn, (&endpoint.opts, workers), &lock, &interrupt).await {
            Ok(end) => end,
            Err(e) => {
                session.rollback_finished(Some(&format!("{e:#}")))?;
                session.finish(before, serde_json::json!({}))?;
                return Err(e.context(format!("rollback of {id} stopped; run `wfuwp env-migrate --rollback {id}` again to continue")));
            }
        };
        let _ = conn.disconnect().await;
        match end {
            RollbackEnd::Restored => {
                // The backups became the live tables again: none are held any more.
                session.set_backup_bytes(0)?;
                session.rollback_finished(None)?;
                session.finish(MigrationStatus::RolledBack, serde_json::json!({}))?;
                output::info(format!("Rolled back: {} holds the tables it had before {id}.", state.target_env));
                Ok(Code::Success)
            }
            RollbackEnd::Interrupted => {
                session.rollback_finished(Some("interrupted"))?;
                session.finish(before, serde_json::json!({}))?;
                output::info(format!("Rollback interrupted; run `wfuwp env-migrate --rollback {id}` again to finish it."));
                Ok(Code::Interrupted)
            }
        }
    })
}

/// Restores the target bucket's objects (docs/media.md), when the target
/// environment has media settings.
async fn media_rollback(
    config: &crate::config::Config,
    state: &crate::state::MigrationState,
    session: &Session,
    id: &str,
) -> Result<()> {
    let options = session.config().options;
    let Some((s, t)) =
        crate::media::wanted(config, &state.source_env, &state.target_env, &options)?
    else {
        return Ok(());
    };
    let run = crate::media::prepare(
        (&state.source_env, &s),
        (&state.target_env, &t),
        1,
        3,
        false,
    )
    .await
    .context("media rollback: nothing was changed")?;
    let backups = crate::media::undo::Backups::new(&run.target, id);
    let n = backups.restore(&run.target).await?;
    session.log(&format!("media rollback: {n} objects restored or removed"));
    Ok(())
}

fn confirm(args: &EnvMigrateArgs, id: &str, target: &str) -> Result<()> {
    if args.force {
        return Ok(());
    }
    if !output::interactive() {
        return Err(CodedError::usage(format!(
            "not on a terminal, so wfuwp cannot ask before rolling back {target}. Re-run with --force: \
             `wfuwp env-migrate --rollback {id} --force`."
        ))
        .into());
    }
    if !prompt::confirm(
        &format!(
            "Restore {target} to its state before {id}? Data written by the migration is lost"
        ),
        false,
    )? {
        return Err(CodedError {
            code: Code::Fatal,
            message: "cancelled; nothing was changed".into(),
        }
        .into());
    }
    Ok(())
}
