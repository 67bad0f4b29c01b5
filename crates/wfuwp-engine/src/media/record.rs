//! A site's media step as the engine runs it: plan, copy, and record the
//! outcome in the site's state record before returning.

use std::sync::Arc;

use super::copy::{execute, plan_site, Done, Stopped};
use super::{MediaError, MediaRun};
use crate::report::Tick;
use crate::sites::SiteId;
use crate::state::{MediaStatus, Session, SiteMedia, SiteStats};

/// Copies site `site`'s objects and records the result. `database` is the
/// site's table work when it is done (kept in the record so that a resume
/// after a media failure does not copy the tables again).
pub async fn site_step(
    run: &Arc<MediaRun>,
    session: &Session,
    site: SiteId,
    database: Option<SiteStats>,
    mut progress: impl FnMut(Tick),
) -> Result<SiteMedia, MediaError> {
    let before = session
        .site(site)
        .and_then(|r| r.media.as_deref().cloned())
        .unwrap_or_else(SiteMedia::pending);
    let mut rec = SiteMedia {
        database: database.or(before.database),
        ..before
    };
    let save = |rec: &SiteMedia, event: &str| {
        session
            .record_site_media(site, rec.clone(), event)
            .map_err(|e| {
                MediaError::Internal(format!("saving the media record of site {site}: {e:#}"))
            })
    };
    if rec.database.is_some() && before_database_unrecorded(session, site) {
        // Durable before any object moves: a kill from here on resumes with
        // the media step only.
        save(&rec, "tables done; media pending")?;
    }
    let result = async {
        let plan = plan_site(run, site).await.map_err(|error| Stopped {
            done: Done::default(),
            error,
        })?;
        rec.objects = plan.objects;
        rec.skipped = plan.skipped;
        let (objects, bytes) = (plan.copy.len() as u64, plan.copy_bytes());
        let mut last = 0;
        progress(Tick {
            objects: (0, objects),
            bytes: (0, bytes),
            added: 0,
        });
        execute(run, plan, |done| {
            progress(Tick {
                objects: (done.copied, objects),
                bytes: (done.bytes, bytes),
                added: done.bytes - last,
            });
            last = done.bytes;
        })
        .await
    }
    .await;
    match result {
        Ok(done) => {
            rec.status = MediaStatus::Completed;
            add(&mut rec, &done);
            rec.error = None;
            save(
                &rec,
                &format!(
                    "media completed: {} objects, {} copied ({} bytes), {} skipped, {} deleted",
                    rec.objects, done.copied, done.bytes, rec.skipped, done.deleted
                ),
            )?;
            Ok(rec)
        }
        Err(Stopped { done, error: e }) => {
            // What was written before the error stays written: count it.
            rec.status = MediaStatus::Failed;
            add(&mut rec, &done);
            rec.error = Some(e.to_string());
            save(
                &rec,
                &format!(
                    "media failed after {} objects copied ({} bytes), {} deleted: {e}",
                    done.copied, done.bytes, done.deleted
                ),
            )?;
            Err(e)
        }
    }
}

/// Adds one attempt's work to the site's totals.
fn add(rec: &mut SiteMedia, done: &Done) {
    rec.copied += done.copied;
    rec.bytes_copied += done.bytes;
    rec.deleted += done.deleted;
    rec.backed_up += done.backed_up;
}

fn before_database_unrecorded(session: &Session, site: SiteId) -> bool {
    session
        .site(site)
        .and_then(|r| r.media)
        .is_none_or(|m| m.database.is_none())
}
