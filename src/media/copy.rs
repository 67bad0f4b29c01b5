//! One site's media step: compare the two listings, then copy what differs,
//! a bounded number of objects at a time, each retried on transient errors.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::client::{copy_source, Object};
use super::layout::SiteKeys;
use super::{MediaError, MediaRun};
use crate::migrate::failpoint;

/// Largest object one CopyObject or PutObject may write (S3's limit).
const SINGLE_REQUEST_LIMIT: u64 = 5 * 1024 * 1024 * 1024;
/// Part size of a multipart server-side copy of a larger object.
const COPY_PART: u64 = 512 * 1024 * 1024;

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
}

/// Same size and ETag: S3 gives a single-request object the MD5 of its bytes
/// as ETag, and CopyObject / PutObject of the same bytes give the same.
fn identical(a: &Object, b: &Object) -> bool {
    a.size == b.size && a.etag.is_some() && a.etag == b.etag
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
        match target.get(rel) {
            Some(t) if identical(o, t) => {
                p.skipped += 1;
                p.skipped_bytes += o.size;
            }
            existing => p.copy.push(CopyItem {
                source: o.clone(),
                target_key: format!("{}{rel}", tgt_keys.prefix),
                replaces: existing.map(|t| (*t).clone()),
            }),
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
    Ok(plan(&src, &src_keys, &tgt, &tgt_keys))
}

/// Copies every object of `plan`, `run.concurrency` at a time, then deletes
/// the extra ones when `run.delete`. Stops at the first error that retries
/// did not cure (objects already written stay: a rerun skips them).
pub async fn execute(run: &Arc<MediaRun>, plan: SitePlan) -> Result<Done, MediaError> {
    let limit = Arc::new(Semaphore::new(run.concurrency.max(1)));
    let mut tasks = JoinSet::new();
    let mut done = Done::default();
    for item in plan.copy {
        let (run, limit) = (run.clone(), limit.clone());
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            let size = item.source.size;
            with_retries(&run, || async {
                if let Some(b) = &run.backups {
                    match &item.replaces {
                        Some(_) => b.keep_original(&run.target, &item.target_key).await?,
                        None => b.mark_created(&run.target, &item.target_key).await?,
                    }
                }
                copy_one(&run, &item).await
            })
            .await?;
            failpoint::hit("media_object_copied");
            Ok::<u64, MediaError>(size)
        });
    }
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(bytes)) => {
                done.copied += 1;
                done.bytes += bytes;
            }
            Ok(Err(e)) => {
                tasks.abort_all();
                return Err(e);
            }
            Err(e) => {
                tasks.abort_all();
                return Err(MediaError::Internal(format!("a copy task ended: {e}")));
            }
        }
    }
    if run.delete {
        for o in &plan.extra {
            with_retries(run, || async {
                if let Some(b) = &run.backups {
                    b.keep_original(&run.target, &o.key).await?;
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
            .await?;
            done.deleted += 1;
        }
    }
    Ok(done)
}

/// Runs `op` until it succeeds, fails for good, or `run.retries` transient
/// failures were retried, with exponential backoff and jitter. The SDK
/// already retries each request; this covers what it cannot, such as a
/// streamed upload whose body cannot be replayed.
async fn with_retries<F, Fut>(run: &MediaRun, mut op: F) -> Result<(), MediaError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), MediaError>>,
{
    let mut tries = 0u32;
    loop {
        match op().await {
            Ok(()) => return Ok(()),
            Err(e) if e.is_transient() && tries < run.retries => {
                tries += 1;
                let base = 200u64 << tries.min(6);
                tokio::time::sleep(Duration::from_millis(base + fastrand::u64(0..base))).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Writes one object into the target: server-side when one set of
/// credentials reaches both buckets, else streamed through this process.
async fn copy_one(run: &MediaRun, item: &CopyItem) -> Result<(), MediaError> {
    let (src, tgt) = (&run.source, &run.target);
    let key = &item.source.key;
    if run.server_side {
        if item.source.size > SINGLE_REQUEST_LIMIT {
            return multipart_copy(run, item).await;
        }
        tgt.client
            .copy_object()
            .bucket(tgt.name())
            .key(&item.target_key)
            .copy_source(copy_source(src.name(), key))
            .send()
            .await
            .map_err(|e| tgt.error("copying into", &item.target_key, e))?;
        return Ok(());
    }
    if item.source.size > SINGLE_REQUEST_LIMIT {
        return Err(MediaError::Internal(format!(
            "s3://{}/{key} is larger than 5 GiB, which a streamed copy cannot write in one request; \
             give source and target the same endpoint and profile so that it is copied server-side",
            src.name()
        )));
    }
    let got = src
        .client
        .get_object()
        .bucket(src.name())
        .key(key)
        .send()
        .await
        .map_err(|e| src.error("reading", key, e))?;
    // The body streams from the GET into the PUT chunk by chunk: memory per
    // object stays at the HTTP buffers, whatever its size; no temporary file.
    let put = tgt
        .client
        .put_object()
        .bucket(tgt.name())
        .key(&item.target_key)
        .content_length(got.content_length.unwrap_or(item.source.size as i64))
        .set_content_type(got.content_type)
        .set_cache_control(got.cache_control)
        .set_content_disposition(got.content_disposition)
        .set_content_encoding(got.content_encoding)
        .set_metadata(got.metadata)
        .body(got.body);
    put.send()
        .await
        .map_err(|e| tgt.error("writing", &item.target_key, e))?;
    Ok(())
}

/// Server-side copy of an object over 5 GiB, part by part (UploadPartCopy);
/// an unfinished upload is aborted so that it leaves no hidden parts.
async fn multipart_copy(run: &MediaRun, item: &CopyItem) -> Result<(), MediaError> {
    let tgt = &run.target;
    let key = &item.target_key;
    let created = tgt
        .client
        .create_multipart_upload()
        .bucket(tgt.name())
        .key(key)
        .send()
        .await
        .map_err(|e| tgt.error("starting a multipart copy into", key, e))?;
    let Some(upload_id) = created.upload_id else {
        return Err(MediaError::Internal(format!("no upload id for {key}")));
    };
    let parts = async {
        let mut parts = Vec::new();
        let mut start = 0u64;
        let mut number = 1i32;
        while start < item.source.size {
            let end = (start + COPY_PART).min(item.source.size) - 1;
            let out = tgt
                .client
                .upload_part_copy()
                .bucket(tgt.name())
                .key(key)
                .upload_id(&upload_id)
                .part_number(number)
                .copy_source(copy_source(run.source.name(), &item.source.key))
                .copy_source_range(format!("bytes={start}-{end}"))
                .send()
                .await
                .map_err(|e| tgt.error("copying a part into", key, e))?;
            parts.push(
                CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(out.copy_part_result.and_then(|r| r.e_tag))
                    .build(),
            );
            start = end + 1;
            number += 1;
        }
        Ok::<_, MediaError>(parts)
    }
    .await;
    let finished = match parts {
        Ok(parts) => tgt
            .client
            .complete_multipart_upload()
            .bucket(tgt.name())
            .key(key)
            .upload_id(&upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map(|_| ())
            .map_err(|e| tgt.error("completing a multipart copy into", key, e)),
        Err(e) => Err(e),
    };
    if finished.is_err() {
        let _ = tgt
            .client
            .abort_multipart_upload()
            .bucket(tgt.name())
            .key(key)
            .upload_id(&upload_id)
            .send()
            .await;
    }
    finished
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
            obj("t/wp-content/uploads/sites/2/changed.jpg", 3, "\"x\""),
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
    fn an_object_without_etag_is_never_taken_as_identical() {
        let k = SiteKeys::of("", 3);
        let mut o = obj("wp-content/uploads/sites/3/a", 1, "");
        o.etag = None;
        let p = plan(std::slice::from_ref(&o), &k, std::slice::from_ref(&o), &k);
        assert_eq!(p.copy.len(), 1);
    }
}
