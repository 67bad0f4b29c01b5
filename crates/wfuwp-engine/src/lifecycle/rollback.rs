//! The way back (`--rollback ID`): every check first ([`prepare_rollback`]),
//! then, once the caller has the operator's word, the restore
//! ([`PreparedRollback::run`]).

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use mysql_async::prelude::Queryable as _;
use mysql_async::Conn;

use super::guard::{Guard, OnFailure};
use super::{ended, DEFAULT_CONCURRENCY};
use crate::config::Config;
use crate::db::endpoint::Endpoint;
use crate::db::server_lock::TargetLock;
use crate::db::{roles, settings};
use crate::error::Error;
use crate::ledger;
use crate::media::undo::Backups;
use crate::media::{self, MediaRun};
use crate::phases::preflight;
use crate::report::{Event, Reporter};
use crate::rollback::records::{check_backups, check_media_backups, check_records};
use crate::rollback::restore::{restore, restore_media, verify_restored};
use crate::rollback::{order, RollbackEnd, RollbackIncomplete};
use crate::state::{MigrationState, MigrationStatus, Session};
use crate::stop::Stop;

/// A rollback every check passed: the target locked, the session open.
/// Dropping it instead of running it changes nothing.
pub struct PreparedRollback {
    session: Session,
    before: MigrationStatus,
    lock: TargetLock,
    conn: Conn,
    endpoint: Endpoint,
    media: Option<(MediaRun, Backups)>,
    stop: Stop,
    reporter: Arc<dyn Reporter>,
}

/// Checks that migration `id` can be rolled back, and takes what the
/// rollback needs: the state's records against the target's ledger and
/// tables, the rollback order, the backups (tables and uploads), the lock.
pub async fn prepare_rollback(
    config: &Config,
    logs_dir: &Path,
    id: &str,
    stop: Stop,
    reporter: Arc<dyn Reporter>,
) -> Result<PreparedRollback, Error> {
    ended(prepare(config, logs_dir, id, stop, reporter).await)
}

async fn prepare(
    config: &Config,
    logs_dir: &Path,
    id: &str,
    stop: Stop,
    reporter: Arc<dyn Reporter>,
) -> Result<PreparedRollback> {
    let session = Session::open_for_rollback(logs_dir, id)?;
    for n in session.notices() {
        reporter.event(Event::Notice(&n));
    }
    let state = session.snapshot();
    let before = state.status;
    // Refused: the state is left as it was, nothing was changed.
    let guard = Guard::new(session, OnFailure::Finish(before));
    let checked = async {
        let target = config.environment(&state.target_env)?;
        let skip_backup = guard.session().config().options.skip_backup;
        check_records(&state, &target.table_prefix)?;
        let endpoint = Endpoint::of(target).await?;
        let lock = preflight::lock_target(&endpoint, logs_dir, &stop).await?;
        let mut conn = roles::target(&endpoint.opts).await?;
        let settings = settings::read(&mut conn).await?;
        preflight::refuse_read_only(&settings, target)?;
        let ledger = ledger::read_for(&mut conn, &endpoint.database, Some(id)).await?;
        order::check(config, logs_dir, &state, &mut conn, &ledger).await?;
        check_backups(&mut conn, &state, skip_backup, &ledger).await?;
        let media = media_side(config, &state, guard.session()).await?;
        anyhow::Ok((lock, conn, endpoint, media))
    }
    .await;
    let (session, (lock, conn, endpoint, media)) = guard.settle(checked)?;
    Ok(PreparedRollback {
        session,
        before,
        lock,
        conn,
        endpoint,
        media,
        stop,
        reporter,
    })
}

/// The target bucket's side of the rollback (docs/media.md), when the
/// target environment has media settings: both buckets proven reachable,
/// and, before a first rollback, every original the migration recorded
/// keeping still there (else nothing is changed).
async fn media_side(
    config: &Config,
    state: &MigrationState,
    session: &Session,
) -> Result<Option<(MediaRun, Backups)>> {
    let options = session.config().options;
    let Some((s, t)) = media::wanted(config, &state.source_env, &state.target_env, &options)?
    else {
        return Ok(None);
    };
    let run = media::prepare(
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

impl PreparedRollback {
    /// The environment that is rolled back.
    pub fn target_env(&self) -> String {
        self.session.snapshot().target_env
    }

    /// Restores the target as it was before the migration: its uploads
    /// first (a failure there leaves the tables as they were), then every
    /// site and the network tables, then checks the target holds what it
    /// held before. An interrupted rollback is continued by running it again.
    pub async fn run(self) -> Result<RollbackEnd, Error> {
        let id = self.session.id();
        let stopped = |e: anyhow::Error| {
            match e.is::<RollbackIncomplete>() {
            true => e,
            false => e.context(format!(
                "rollback of {id} stopped; run `wfuwp env-migrate --rollback {id}` again to continue"
            )),
        }
        };
        ended(self.restore().await.map_err(stopped))
    }

    async fn restore(self) -> Result<RollbackEnd> {
        let PreparedRollback {
            session,
            before,
            lock,
            mut conn,
            endpoint,
            media,
            stop,
            reporter,
        } = self;
        let state = session.snapshot();
        let id = state.migration_id.clone();
        let guard = Guard::new(session, OnFailure::Finish(before));
        let restored = async {
            // The operator may have taken longer to answer than the server's
            // wait_timeout: a connection it closed meanwhile is replaced.
            if conn.ping().await.is_err() {
                conn = roles::target(&endpoint.opts).await?;
            }
            reporter.event(Event::Info(&format!(
                "Rolling back {id} on {} …",
                state.target_env
            )));
            // Recorded before anything changes, media included: a rerun after
            // a kill knows that backups already restored are gone for that reason.
            ledger::ensure(&mut conn, &endpoint.database).await?;
            guard.session().rollback_started()?;
            guard.then(OnFailure::RollbackStopped(before));
            if let Some((run, backups)) = &media {
                restore_media(run, backups, guard.session()).await?;
            }
            // Sites are swapped back on as many connections as the migration used.
            let workers = guard
                .session()
                .config()
                .options
                .concurrency
                .unwrap_or(DEFAULT_CONCURRENCY) as usize;
            let end = restore(
                guard.session(),
                &mut conn,
                (&endpoint.opts, workers),
                &lock,
                &stop,
            )
            .await?;
            if end == RollbackEnd::Restored {
                // Said only of what the target shows now, read again.
                verify_restored(&mut conn, &guard.session().snapshot()).await?;
                ledger::set_status(
                    &mut conn,
                    &endpoint.database,
                    &id,
                    MigrationStatus::RolledBack,
                )
                .await?;
            }
            anyhow::Ok(end)
        }
        .await;
        let (session, end) = guard.settle(restored)?;
        let _ = conn.disconnect().await;
        match end {
            RollbackEnd::Restored => {
                // The backups became the live tables again: none are held any more.
                session.set_backup_bytes(0)?;
                session.rollback_finished(None)?;
                session.finish(MigrationStatus::RolledBack, serde_json::json!({}))?;
                reporter.event(Event::Info(&format!(
                    "Rolled back: {} holds the tables it had before {id}.",
                    state.target_env
                )));
            }
            RollbackEnd::Interrupted => {
                session.rollback_finished(Some("interrupted"))?;
                session.finish(before, serde_json::json!({}))?;
                reporter.event(Event::Info(&format!(
                    "Rollback interrupted; run `wfuwp env-migrate --rollback {id}` again to finish it."
                )));
            }
        }
        drop(lock);
        Ok(end)
    }
}
