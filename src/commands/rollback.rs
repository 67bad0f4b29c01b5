//! `wfuwp env-migrate --rollback ID`: confirmation, lock, restore, record.

use anyhow::{Context as _, Result};
use mysql_async::prelude::Queryable as _;

use super::Context;
use crate::cli::EnvMigrateArgs;
use crate::db::{roles, settings};
use crate::exit::{Code, CodedError};
use crate::interrupt::Interrupt;
use crate::media::undo::Backups;
use crate::media::MediaRun;
use crate::migrate::rollback::{self, RollbackEnd, RollbackRefusal};
use crate::migrate::{ledger, preflight, rollback_order};
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
            let ledger = ledger::read_for(&mut conn, &endpoint.database, Some(id)).await?;
            rollback_order::check(&config, &logs_dir, &state, &mut conn, &ledger).await?;
            rollback::check_backups(&mut conn, &state, skip_backup, &ledger).await?;
            let media = media_side(&config, &state, &session).await?;
            anyhow::Ok((lock, conn, endpoint, media))
        };
        let (lock, mut conn, endpoint, media) = match checked.await {
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
        let stopped = |e: anyhow::Error| {
            e.context(format!(
                "rollback of {id} stopped; run `wfuwp env-migrate --rollback {id}` again to continue"
            ))
        };
        // Recorded before anything changes, media included: a rerun after a
        // kill knows that backups already restored are gone for that reason.
        let prepared = async {
            ledger::ensure(&mut conn, &endpoint.database).await?;
            session.rollback_started()
        };
        if let Err(e) = prepared.await {
            session.finish(before, serde_json::json!({}))?;
            return Err(stopped(e));
        }
        // Media first: a failure here leaves the tables as they were, and
        // the rollback can simply be run again.
        if let Some((run, backups)) = &media {
            if let Err(e) = media_restore(run, backups, &session).await {
                session.rollback_finished(Some(&format!("{e:#}")))?;
                session.finish(before, serde_json::json!({}))?;
                return Err(stopped(e));
            }
        }
        // Sites are swapped back on as many connections as the migration used.
        let workers = session
            .config()
            .options
            .concurrency
            .unwrap_or(super::migrate::DEFAULT_CONCURRENCY) as usize;
        let restored = async {
            let end =
                rollback::restore(&session, &mut conn, (&endpoint.opts, workers), &lock, &interrupt)
                    .await?;
            if end == RollbackEnd::Restored {
                // Said only of what the target shows now, read again.
                rollback::verify_restored(&mut conn, &session.snapshot()).await?;
                ledger::set_status(&mut conn, &endpoint.database, id, MigrationStatus::RolledBack)
                    .await?;
            }
            anyhow::Ok(end)
        };
        let end = match restored.await {
            Ok(end) => end,
            Err(e) => {
                session.rollback_finished(Some(&format!("{e:#}")))?;
                session.finish(before, serde_json::json!({}))?;
                return Err(match e.is::<rollback::RollbackIncomplete>() {
                    true => e,
                    false => stopped(e),
                });
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

/// The target bucket's side of the rollback (docs/media.md), when the
/// target environment has media settings: both buckets proven reachable,
/// and, before a first rollback, every original the migration recorded
/// keeping still there (else nothing is changed).
async fn media_side(
    config: &crate::config::Config,
    state: &crate::state::MigrationState,
    session: &Session,
) -> Result<Option<(MediaRun, Backups)>> {
    let options = session.config().options;
    let Some((s, t)) =
        crate::media::wanted(config, &state.source_env, &state.target_env, &options)?
    else {
        return Ok(None);
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
    let backups = Backups::new(&run.target, &state.migration_id);
    if state.rollback.is_none() {
        check_media_backups(&run, &backups, state).await?;
    }
    Ok(Some((run, backups)))
}

/// Refuses when fewer originals are kept than the state recorded keeping.
async fn check_media_backups(
    run: &MediaRun,
    backups: &Backups,
    state: &crate::state::MigrationState,
) -> Result<()> {
    let recorded: Vec<(crate::sites::SiteId, u64)> = state
        .sites()
        .iter()
        .filter_map(|r| r.media.as_ref().map(|m| (r.site_id, m.backed_up)))
        .filter(|(_, n)| *n > 0)
        .collect();
    if recorded.is_empty() {
        return Ok(());
    }
    let sites: Vec<_> = recorded.iter().map(|(s, _)| *s).collect();
    let found = backups.originals_by_site(&run.target, &sites).await?;
    let missing: Vec<String> = recorded
        .iter()
        .filter_map(|&(site, kept)| {
            let left = found.get(&site).copied().unwrap_or(0);
            (left < kept).then(|| {
                format!(
                    "site {site}: {} of {kept} kept originals are missing from s3://{}/{}objects/",
                    kept - left,
                    run.target.name(),
                    backups.root
                )
            })
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(RollbackRefusal::MediaBackupsGone {
        id: state.migration_id.clone(),
        missing,
    }
    .into())
}

/// Restores the target bucket's objects.
async fn media_restore(run: &MediaRun, backups: &Backups, session: &Session) -> Result<()> {
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
