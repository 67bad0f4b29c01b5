//! One site's media step: compare the two listings, then copy what differs,
//! a bounded number of objects at a time, each retried on transient errors.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::task::JoinSet;

use super::client::Object;
use super::layout::SiteKeys;
use super::transfer::{bare, Transfer, SOURCE_ETAG};
use super::{MediaError, MediaRun};
use crate::failpoints;

/// An object to write into the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyItem {
    /// The source object.
    pub source: Object,
    /// Its key in the target bucket.
    pub target_key: String,
    /// The target object it overwrites, if any.
    pub replaces: Option<Object>,
}

/// What a site's media step has to do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SitePlan {
    /// Objects of the site in the source.
    pub objects: u64,
    /// Objects to copy (missing or different in the target).
    pub copy: Vec<CopyItem>,
    /// Objects already identical in the target.
    pub skipped: u64,
    /// Their bytes.
    pub skipped_bytes: u64,
    /// Target objects the source lacks (deleted only with `--media-delete`).
    pub extra: Vec<Object>,
    /// Objects of the same size in both buckets whose ETags differ: copied
    /// unless the target's [`SOURCE_ETAG`] metadata names the source's ETag
    /// ([`plan_site`] looks; a pure [`plan`] leaves them here).
    pub unsure: Vec<CopyItem>,
}

impl SitePlan {
    /// Bytes the copies will write.
    pub fn copy_bytes(&self) -> u64 {
        self.copy.iter().map(|c| c.source.size).sum()
    }
}

/// What an execution did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Done {
    /// Objects copied.
    pub copied: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Objects deleted.
    pub deleted: u64,
    /// Target objects copied aside before being overwritten or deleted
    /// (first backups only: a redo finds its earlier backup and adds none).
    pub backed_up: u64,
}

/// An execution that stopped at an error, with what it had done by then:
/// objects already written stay, and the state says so.
#[derive(Debug)]
pub struct Stopped {
    /// What was done before the error.
    pub done: Done,
    /// The error.
    pub error: MediaError,
}

/// Same size and ETag: S3 gives a single-request object the MD5 of its bytes
/// as ETag, and CopyObject / PutObject of the same bytes give the same.
fn identical(a: &Object, b: &Object) -> bool {
    a.size == b.size && a.etag.is_some() && a.etag == b.etag
}

/// Same size, other ETag: perhaps a copy that could not keep the ETag.
fn maybe_identical(source: &Object, target: &Object) -> bool {
    source.size == target.size && source.etag.is_some()
}

/// Compares a site's objects in the source (`src`, listed under `src_keys`)
/// with the target's (`tgt`, under `tgt_keys`). Pure: the listings are the
/// caller's.
pub fn plan(src: &[Object], src_keys: &SiteKeys, tgt: &[Object], tgt_keys: &SiteKeys) -> SitePlan {
    let target: std::collections::BTreeMap<&str, &Object> = tgt
        .iter()
        .filter_map(|o| tgt_keys.relative(&o.key).map(|r| (r, o)))
        .collect();
    let mut p = SitePlan::default();
    let mut seen = std::collections::BTreeSet::new();
    for o in src {
        let Some(rel) = src_keys.relative(&o.key) else {
            continue;
        };
        seen.insert(rel);
        p.objects += 1;
        let existing = target.get(rel);
        let item = CopyItem {
            source: o.clone(),
            target_key: format!("{}{rel}", tgt_keys.prefix),
            replaces: existing.map(|t| (*t).clone()),
        };
        match existing {
            Some(t) if identical(o, t) => {
                p.skipped += 1;
                p.skipped_bytes += o.size;
            }
            Some(t) if maybe_identical(o, t) => p.unsure.push(item),
            _ => p.copy.push(item),
        }
    }
    p.extra = target
        .iter()
        .filter(|(rel, _)| !seen.contains(*rel))
        .map(|(_, o)| (*o).clone())
        .collect();
    p
}

/// Lists both sides of site `site` and plans its step.
pub async fn plan_site(run: &MediaRun, site: crate::sites::SiteId) -> Result<SitePlan, MediaError> {
    let src_keys = SiteKeys::of(&run.source.config.prefix, site);
    let tgt_keys = SiteKeys::of(&run.target.config.prefix, site);
    let (src, tgt) = tokio::try_join!(
        run.source.list(&src_keys.prefix),
        run.target.list(&tgt_keys.prefix)
    )?;
    let mut p = plan(&src, &src_keys, &tgt, &tgt_keys);
    for item in std::mem::take(&mut p.unsure) {
        if copied_from(run, &item).await? {
            p.skipped += 1;
            p.skipped_bytes += item.source.size;
        } else {
            p.copy.push(item);
        }
    }
    Ok(p)
}

/// Whether the target object of `item` is a copy of the source object as
/// it is now: its [`SOURCE_ETAG`] metadata names the source's ETag.
async fn copied_from(run: &MediaRun, item: &CopyItem) -> Result<bool, MediaError> {
    let t = &run.target;
    let head = t
        .client
        .head_object()
        .bucket(t.name())
        .key(&item.target_key)
        .send()
        .await
        .map_err(|e| t.error("reading", &item.target_key, e))?;
    let recorded = head.metadata().and_then(|m| m.get(SOURCE_ETAG));
    Ok(matches!((recorded, &item.source.etag), (Some(r), Some(e)) if r == bare(e)))
}

/// Copies every object of `plan`, `run.concurrency` at a time in key
/// order, then deletes the extra ones when `run.delete`; `tick` sees the
/// totals after each object (progress). Stops starting copies at the first
/// error that retries did not cure; those in flight finish, and everything
/// written is counted in the error (objects already written stay: a rerun
/// skips them).
pub async fn execute(
    run: &Arc<MediaRun>,
    plan: SitePlan,
    mut tick: impl FnMut(&Done),
) -> Result<Done, Stopped> {
    let mut tasks = JoinSet::new();
    let mut done = Done::default();
    let mut failure = None;
    let mut waiting = plan.copy.into_iter();
    loop {
        while failure.is_none() && tasks.len() < run.concurrency.max(1) {
            let Some(item) = waiting.next() else { break };
            tasks.spawn(copy_one(run.clone(), item));
        }
        let Some(joined) = tasks.join_next().await else {
            break;
        };
        match joined {
            Ok(Ok((bytes, backed_up))) => {
                done.copied += 1;
                done.bytes += bytes;
                done.backed_up += u64::from(backed_up);
                tick(&done);
            }
            Ok(Err((e, backed_up))) => {
                done.backed_up += u64::from(backed_up);
                failure.get_or_insert(e);
            }
            Err(e) => {
                failure.get_or_insert(MediaError::Internal(format!("a copy task ended: {e}")));
            }
        }
    }
    if let Some(error) = failure {
        return Err(Stopped { done, error });
    }
    if run.delete {
        for o in &plan.extra {
            let kept = AtomicBool::new(false);
            let deleted = with_retries(run, || async {
                if let Some(b) = &run.backups {
                    if b.keep_original(&run.target, o).await? {
                        kept.store(true, Ordering::Relaxed);
                    }
                }
                run.target
                    .client
                    .delete_object()
                    .bucket(run.target.name())
                    .key(&o.key)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| run.target.error("deleting", &o.key, e))
            })
            .await;
            done.backed_up += u64::from(kept.load(Ordering::Relaxed));
            if let Err(error) = deleted {
                return Err(Stopped { done, error });
            }
            done.deleted += 1;
        }
    }
    Ok(done)
}

/// Copies one object (its original kept aside, or its creation marked,
/// first); returns its size and whether an original was kept, or the error
/// and whether an original was kept before it.
async fn copy_one(run: Arc<MediaRun>, item: CopyItem) -> Result<(u64, bool), (MediaError, bool)> {
    // Set by whichever try copied the original aside.
    let kept = AtomicBool::new(false);
    let result = with_retries(&run, || async {
        if let Some(b) = &run.backups {
            match &item.replaces {
                Some(o) => {
                    if b.keep_original(&run.target, o).await? {
                        kept.store(true, Ordering::Relaxed);
                    }
                }
                None => b.mark_created(&run.target, &item.target_key).await?,
            }
        }
        Transfer {
            from: &run.source,
            from_key: &item.source.key,
            size: item.source.size,
            etag: item.source.etag.as_deref(),
            to: &run.target,
            to_key: &item.target_key,
            server_side: run.server_side,
        }
        .run()
        .await
    })
    .await;
    let backed_up = kept.load(Ordering::Relaxed);
    result.map_err(|e| (e, backed_up))?;
    failpoints::hit("media_object_copied");
    Ok((item.source.size, backed_up))
}

/// Runs `op` with the retry policy of every transient failure
/// ([`crate::retry`]), up to `run.retries` times. The SDK already retries
/// each request; this covers what it cannot, such as a streamed upload
/// whose body cannot be replayed.
async fn with_retries<F, Fut>(run: &MediaRun, op: F) -> Result<(), MediaError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), MediaError>>,
{
    crate::retry::with_retries(run.retries, MediaError::is_transient, op).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(key: &str, size: u64, etag: &str) -> Object {
        Object {
            key: key.into(),
            size,
            etag: Some(etag.into()),
        }
    }

    #[test]
    fn identical_objects_are_skipped_and_others_copied() {
        let sk = SiteKeys::of("", 2);
        let tk = SiteKeys::of("t/", 2);
        let src = [
            obj("wp-content/uploads/sites/2/same.jpg", 3, "\"a\""),
            obj("wp-content/uploads/sites/2/changed.jpg", 3, "\"b\""),
            obj("wp-content/uploads/sites/2/new.jpg", 5, "\"c\""),
            obj("wp-content/uploads/sites/20/other.jpg", 5, "\"d\""),
        ];
        let tgt = [
            obj("t/wp-content/uploads/sites/2/same.jpg", 3, "\"a\""),
            obj("t/wp-content/uploads/sites/2/changed.jpg", 4, "\"x\""),
            obj("t/wp-content/uploads/sites/2/only-target.jpg", 1, "\"e\""),
        ];
        let p = plan(&src, &sk, &tgt, &tk);
        assert_eq!((p.objects, p.skipped, p.skipped_bytes), (3, 1, 3));
        let keys: Vec<&str> = p.copy.iter().map(|c| c.target_key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "t/wp-content/uploads/sites/2/changed.jpg",
                "t/wp-content/uploads/sites/2/new.jpg"
            ]
        );
        assert!(p.copy[0].replaces.is_some() && p.copy[1].replaces.is_none());
        assert_eq!(p.copy_bytes(), 8);
        assert_eq!(p.extra.len(), 1);
        assert_eq!(
            p.extra[0].key,
            "t/wp-content/uploads/sites/2/only-target.jpg"
        );
    }

    #[test]
    fn same_size_with_another_etag_is_looked_at_not_copied_blindly() {
        let k = SiteKeys::of("", 4);
        let src = [obj("wp-content/uploads/sites/4/big.mov", 9, "\"abc-2\"")];
        let tgt = [obj("wp-content/uploads/sites/4/big.mov", 9, "\"def\"")];
        let p = plan(&src, &k, &tgt, &k);
        assert!(p.copy.is_empty());
        assert_eq!(p.unsure.len(), 1);
        let other_size = [obj("wp-content/uploads/sites/4/big.mov", 8, "\"def\"")];
        let p = plan(&src, &k, &other_size, &k);
        assert_eq!((p.copy.len(), p.unsure.len()), (1, 0));
    }

    #[test]
    fn an_object_without_etag_is_never_taken_as_identical() {
        let k = SiteKeys::of("", 3);
        let mut o = obj("wp-content/uploads/sites/3/a", 1, "");
        o.etag = None;
        let p = plan(std::slice::from_ref(&o), &k, std::slice::from_ref(&o), &k);
        assert_eq!(p.copy.len(), 1);
    }
}
