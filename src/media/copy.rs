//! One site's media step: compare the two listings, then copy what differs,
//! a bounded number of objects at a time, each retried on transient errors.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, MetadataDirective};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::client::{copy_source, Object};
use super::layout::SiteKeys;
use super::{MediaError, MediaRun};
use crate::migrate::failpoint;

/// Largest object one CopyObject or PutObject may write (S3's limit).
const SINGLE_REQUEST_LIMIT: u64 = 5 * 1024 * 1024 * 1024;
/// Part size of a multipart copy of a larger object.
const COPY_PART: u64 = 512 * 1024 * 1024;

/// User metadata (`x-amz-meta-wfuwp-source-etag`) a copy carries when its
/// ETag cannot equal the source's: the source was uploaded in parts (its
/// ETag is `md5-of-part-md5s-N`), or the copy is written in parts. A rerun
/// takes a target object of the same size with this metadata naming the
/// source's current ETag as identical, so it copies nothing again.
pub const SOURCE_ETAG: &str = "wfuwp-source-etag";

/// Whether S3 gives `etag` only to an object uploaded in parts.
fn multipart_etag(etag: Option<&str>) -> bool {
    etag.is_some_and(|e| e.contains('-'))
}

/// The largest object written in one request, and the part size above it.
/// The test bed lowers both (`WFUWP_MEDIA_PART_SIZE`, bytes) so that a few
/// MB exercise the multipart paths on a local server.
fn part_limits() -> (u64, u64) {
    #[cfg(feature = "failpoints")]
    if let Some(n) = std::env::var("WFUWP_MEDIA_PART_SIZE")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        return (n, n);
    }
    (SINGLE_REQUEST_LIMIT, COPY_PART)
}

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

/// An ETag without the quotes S3 puts around it (metadata values keep it
/// plain).
fn bare(etag: &str) -> &str {
    etag.trim_matches('"')
}

/// Copies every object of `plan`, `run.concurrency` at a time, then deletes
/// the extra ones when `run.delete`; `tick` sees the totals after each
/// object (progress). Stops at the first error that retries did not cure
/// (objects already written stay: a rerun skips them).
pub async fn execute(
    run: &Arc<MediaRun>,
    plan: SitePlan,
    mut tick: impl FnMut(&Done),
) -> Result<Done, MediaError> {
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
                tick(&done);
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
/// credentials reaches both buckets, else streamed through this process;
/// in parts above the single-request limit.
async fn copy_one(run: &MediaRun, item: &CopyItem) -> Result<(), MediaError> {
    let (limit, part) = part_limits();
    if item.source.size > limit {
        return multipart(run, item, part).await;
    }
    if run.server_side {
        server_side_copy(run, item).await
    } else {
        streamed_copy(run, item).await
    }
}

/// CopyObject. The copy keeps the source's headers and metadata; a source
/// uploaded in parts also gets [`SOURCE_ETAG`], since its copy's ETag
/// will not be its own.
async fn server_side_copy(run: &MediaRun, item: &CopyItem) -> Result<(), MediaError> {
    let (src, tgt) = (&run.source, &run.target);
    let mut copy = tgt
        .client
        .copy_object()
        .bucket(tgt.name())
        .key(&item.target_key)
        .copy_source(copy_source(src.name(), &item.source.key));
    if multipart_etag(item.source.etag.as_deref()) {
        let h = source_headers(run, item).await?;
        copy = copy
            .metadata_directive(MetadataDirective::Replace)
            .set_content_type(h.content_type)
            .set_cache_control(h.cache_control)
            .set_content_disposition(h.content_disposition)
            .set_content_encoding(h.content_encoding)
            .set_metadata(Some(h.metadata));
    }
    copy.send()
        .await
        .map_err(|e| tgt.error("copying into", &item.target_key, e))?;
    Ok(())
}

/// GET → PUT: the body streams from one into the other chunk by chunk, so
/// memory per object stays at the HTTP buffers, whatever its size, and no
/// temporary file is written.
async fn streamed_copy(run: &MediaRun, item: &CopyItem) -> Result<(), MediaError> {
    let (src, tgt) = (&run.source, &run.target);
    let key = &item.source.key;
    let got = src
        .client
        .get_object()
        .bucket(src.name())
        .key(key)
        .send()
        .await
        .map_err(|e| src.error("reading", key, e))?;
    let mut metadata = got.metadata.unwrap_or_default();
    if multipart_etag(item.source.etag.as_deref()) {
        mark_source(&mut metadata, item);
    }
    tgt.client
        .put_object()
        .bucket(tgt.name())
        .key(&item.target_key)
        .content_length(got.content_length.unwrap_or(item.source.size as i64))
        .set_content_type(got.content_type)
        .set_cache_control(got.cache_control)
        .set_content_disposition(got.content_disposition)
        .set_content_encoding(got.content_encoding)
        .set_metadata(Some(metadata))
        .body(got.body)
        .send()
        .await
        .map_err(|e| tgt.error("writing", &item.target_key, e))?;
    Ok(())
}

/// The headers and metadata an object's copy must carry.
#[derive(Default)]
struct Headers {
    content_type: Option<String>,
    cache_control: Option<String>,
    content_disposition: Option<String>,
    content_encoding: Option<String>,
    metadata: std::collections::HashMap<String, String>,
}

/// The source object's headers, with [`SOURCE_ETAG`] added to its metadata.
async fn source_headers(run: &MediaRun, item: &CopyItem) -> Result<Headers, MediaError> {
    let src = &run.source;
    let h = src
        .client
        .head_object()
        .bucket(src.name())
        .key(&item.source.key)
        .send()
        .await
        .map_err(|e| src.error("reading", &item.source.key, e))?;
    let mut metadata = h.metadata.unwrap_or_default();
    mark_source(&mut metadata, item);
    Ok(Headers {
        content_type: h.content_type,
        cache_control: h.cache_control,
        content_disposition: h.content_disposition,
        content_encoding: h.content_encoding,
        metadata,
    })
}

fn mark_source(metadata: &mut std::collections::HashMap<String, String>, item: &CopyItem) {
    if let Some(e) = &item.source.etag {
        metadata.insert(SOURCE_ETAG.to_string(), bare(e).to_string());
    }
}

/// An object above the single-request limit, in parts of `part` bytes:
/// UploadPartCopy server-side, else each part a ranged GET streamed into an
/// UploadPart. The copy carries the source's headers and [`SOURCE_ETAG`];
/// an unfinished upload is aborted so that it leaves no hidden parts.
async fn multipart(run: &MediaRun, item: &CopyItem, part: u64) -> Result<(), MediaError> {
    let tgt = &run.target;
    let key = &item.target_key;
    let h = source_headers(run, item).await?;
    let created = tgt
        .client
        .create_multipart_upload()
        .bucket(tgt.name())
        .key(key)
        .set_content_type(h.content_type)
        .set_cache_control(h.cache_control)
        .set_content_disposition(h.content_disposition)
        .set_content_encoding(h.content_encoding)
        .set_metadata(Some(h.metadata))
        .send()
        .await
        .map_err(|e| tgt.error("starting a multipart copy into", key, e))?;
    let Some(upload_id) = created.upload_id else {
        return Err(MediaError::Internal(format!("no upload id for {key}")));
    };
    let finished = async {
        let mut parts = Vec::new();
        for (number, range) in (1i32..).zip(part_ranges(item.source.size, part)) {
            let etag = copy_part(run, item, &upload_id, number, range).await?;
            parts.push(
                CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(etag)
                    .build(),
            );
        }
        tgt.client
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
            .map_err(|e| tgt.error("completing a multipart copy into", key, e))
    }
    .await;
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

/// `(first, last)` byte of each part of an object of `size` bytes.
fn part_ranges(size: u64, part: u64) -> impl Iterator<Item = (u64, u64)> {
    let part = part.max(1);
    (0..size.div_ceil(part)).map(move |i| (i * part, ((i + 1) * part).min(size) - 1))
}

/// Writes part `number` (bytes `range` of the source); returns its ETag.
async fn copy_part(
    run: &MediaRun,
    item: &CopyItem,
    upload_id: &str,
    number: i32,
    (first, last): (u64, u64),
) -> Result<Option<String>, MediaError> {
    let (src, tgt) = (&run.source, &run.target);
    let key = &item.target_key;
    let range = format!("bytes={first}-{last}");
    if run.server_side {
        let out = tgt
            .client
            .upload_part_copy()
            .bucket(tgt.name())
            .key(key)
            .upload_id(upload_id)
            .part_number(number)
            .copy_source(copy_source(src.name(), &item.source.key))
            .copy_source_range(range)
            .send()
            .await
            .map_err(|e| tgt.error("copying a part into", key, e))?;
        return Ok(out.copy_part_result.and_then(|r| r.e_tag));
    }
    let got = src
        .client
        .get_object()
        .bucket(src.name())
        .key(&item.source.key)
        .range(range)
        .send()
        .await
        .map_err(|e| src.error("reading", &item.source.key, e))?;
    let out = tgt
        .client
        .upload_part()
        .bucket(tgt.name())
        .key(key)
        .upload_id(upload_id)
        .part_number(number)
        .content_length((last - first + 1) as i64)
        .body(got.body)
        .send()
        .await
        .map_err(|e| tgt.error("writing a part into", key, e))?;
    Ok(out.e_tag)
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
    fn parts_cover_every_byte_once() {
        let r: Vec<_> = part_ranges(11, 5).collect();
        assert_eq!(r, [(0, 4), (5, 9), (10, 10)]);
        assert_eq!(part_ranges(10, 5).collect::<Vec<_>>(), [(0, 4), (5, 9)]);
        assert_eq!(part_ranges(0, 5).count(), 0);
    }

    #[test]
    fn only_part_uploads_have_a_dash_in_their_etag() {
        assert!(multipart_etag(Some(
            "\"9b2cf535f27731c974343645a3985328-3\""
        )));
        assert!(!multipart_etag(Some(
            "\"9b2cf535f27731c974343645a3985328\""
        )));
        assert!(!multipart_etag(None));
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
