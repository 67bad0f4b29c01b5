//! Writes one object from a key of one bucket to a key of another (or the
//! same) bucket: CopyObject when one set of credentials reaches both
//! (server-side), else GET streamed into PUT; above S3's single-request
//! limit, a multipart upload either way. Every copy keeps the source's
//! headers and user metadata.

use std::collections::HashMap;

use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, MetadataDirective};

use super::client::{copy_source, Bucket};
use super::MediaError;

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

/// One object to copy.
#[derive(Debug, Clone, Copy)]
pub struct Transfer<'a> {
    /// Where it is.
    pub from: &'a Bucket,
    /// Its key there.
    pub from_key: &'a str,
    /// Its size, as listed.
    pub size: u64,
    /// Its ETag, as listed.
    pub etag: Option<&'a str>,
    /// Where it goes.
    pub to: &'a Bucket,
    /// Its key there.
    pub to_key: &'a str,
    /// Whether the target's credentials may read the source (CopyObject,
    /// UploadPartCopy) rather than the bytes passing through this process.
    pub server_side: bool,
}

/// Whether S3 gives `etag` only to an object uploaded in parts.
pub fn multipart_etag(etag: Option<&str>) -> bool {
    etag.is_some_and(|e| e.contains('-'))
}

/// An ETag without the quotes S3 puts around it (metadata values keep it
/// plain).
pub fn bare(etag: &str) -> &str {
    etag.trim_matches('"')
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

impl Transfer<'_> {
    /// Writes the object.
    pub async fn run(&self) -> Result<(), MediaError> {
        let (limit, part) = part_limits();
        if self.size > limit {
            return self.multipart(part).await;
        }
        if self.server_side {
            self.server_side_copy().await
        } else {
            self.streamed_copy().await
        }
    }

    /// CopyObject. The copy keeps the source's headers and metadata; a
    /// source uploaded in parts also gets [`SOURCE_ETAG`], since its copy's
    /// ETag will not be its own.
    async fn server_side_copy(&self) -> Result<(), MediaError> {
        let mut copy = self
            .to
            .client
            .copy_object()
            .bucket(self.to.name())
            .key(self.to_key)
            .copy_source(copy_source(self.from.name(), self.from_key));
        if multipart_etag(self.etag) {
            let h = self.headers().await?;
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
            .map_err(|e| self.to.error("copying into", self.to_key, e))?;
        Ok(())
    }

    /// GET → PUT: the body streams from one into the other chunk by chunk,
    /// so memory per object stays at the HTTP buffers, whatever its size,
    /// and no temporary file is written.
    async fn streamed_copy(&self) -> Result<(), MediaError> {
        let got = self
            .from
            .client
            .get_object()
            .bucket(self.from.name())
            .key(self.from_key)
            .send()
            .await
            .map_err(|e| self.from.error("reading", self.from_key, e))?;
        let mut metadata = got.metadata.unwrap_or_default();
        if multipart_etag(self.etag) {
            self.mark_source(&mut metadata);
        }
        self.to
            .client
            .put_object()
            .bucket(self.to.name())
            .key(self.to_key)
            .content_length(got.content_length.unwrap_or(self.size as i64))
            .set_content_type(got.content_type)
            .set_cache_control(got.cache_control)
            .set_content_disposition(got.content_disposition)
            .set_content_encoding(got.content_encoding)
            .set_metadata(Some(metadata))
            .body(got.body)
            .send()
            .await
            .map_err(|e| self.to.error("writing", self.to_key, e))?;
        Ok(())
    }

    /// The source object's headers, with [`SOURCE_ETAG`] added to its
    /// metadata.
    async fn headers(&self) -> Result<Headers, MediaError> {
        let h = self
            .from
            .client
            .head_object()
            .bucket(self.from.name())
            .key(self.from_key)
            .send()
            .await
            .map_err(|e| self.from.error("reading", self.from_key, e))?;
        let mut metadata = h.metadata.unwrap_or_default();
        self.mark_source(&mut metadata);
        Ok(Headers {
            content_type: h.content_type,
            cache_control: h.cache_control,
            content_disposition: h.content_disposition,
            content_encoding: h.content_encoding,
            metadata,
        })
    }

    fn mark_source(&self, metadata: &mut HashMap<String, String>) {
        if let Some(e) = self.etag {
            metadata.insert(SOURCE_ETAG.to_string(), bare(e).to_string());
        }
    }

    /// In parts of `part` bytes: UploadPartCopy server-side, else each part
    /// a ranged GET streamed into an UploadPart. The copy carries the
    /// source's headers and [`SOURCE_ETAG`]; an unfinished upload is
    /// aborted so that it leaves no hidden parts.
    async fn multipart(&self, part: u64) -> Result<(), MediaError> {
        let (to, key) = (self.to, self.to_key);
        let part = self.source_part_size().await.unwrap_or(part);
        let h = self.headers().await?;
        let created = to
            .client
            .create_multipart_upload()
            .bucket(to.name())
            .key(key)
            .set_content_type(h.content_type)
            .set_cache_control(h.cache_control)
            .set_content_disposition(h.content_disposition)
            .set_content_encoding(h.content_encoding)
            .set_metadata(Some(h.metadata))
            .send()
            .await
            .map_err(|e| to.error("starting a multipart copy into", key, e))?;
        let Some(upload_id) = created.upload_id else {
            return Err(MediaError::Internal(format!("no upload id for {key}")));
        };
        let finished = async {
            let mut parts = Vec::new();
            for (number, range) in (1i32..).zip(part_ranges(self.size, part)) {
                let etag = self.part(&upload_id, number, range).await?;
                parts.push(
                    CompletedPart::builder()
                        .part_number(number)
                        .set_e_tag(etag)
                        .build(),
                );
            }
            to.client
                .complete_multipart_upload()
                .bucket(to.name())
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
                .map_err(|e| to.error("completing a multipart copy into", key, e))
        }
        .await;
        if finished.is_err() {
            let _ = to
                .client
                .abort_multipart_upload()
                .bucket(to.name())
                .key(key)
                .upload_id(&upload_id)
                .send()
                .await;
        }
        finished
    }

    /// The part size the source was uploaded with, when it was uploaded in
    /// equal parts (as every S3 client does): copying with the same parts
    /// gives the copy the source's very ETag, which is what lets a
    /// rollback restore an object over 5 GiB exactly as it was.
    async fn source_part_size(&self) -> Option<u64> {
        let parts: u64 = self
            .etag?
            .trim_matches('"')
            .rsplit_once('-')?
            .1
            .parse()
            .ok()?;
        let head = self
            .from
            .client
            .head_object()
            .bucket(self.from.name())
            .key(self.from_key)
            .part_number(1)
            .send()
            .await
            .ok()?;
        let first = u64::try_from(head.content_length?).ok()?;
        (first > 0 && self.size.div_ceil(first) == parts).then_some(first)
    }

    /// Writes part `number` (bytes `range` of the source); returns its ETag.
    async fn part(
        &self,
        upload_id: &str,
        number: i32,
        (first, last): (u64, u64),
    ) -> Result<Option<String>, MediaError> {
        let (from, to, key) = (self.from, self.to, self.to_key);
        let range = format!("bytes={first}-{last}");
        if self.server_side {
            let out = to
                .client
                .upload_part_copy()
                .bucket(to.name())
                .key(key)
                .upload_id(upload_id)
                .part_number(number)
                .copy_source(copy_source(from.name(), self.from_key))
                .copy_source_range(range)
                .send()
                .await
                .map_err(|e| to.error("copying a part into", key, e))?;
            return Ok(out.copy_part_result.and_then(|r| r.e_tag));
        }
        let got = from
            .client
            .get_object()
            .bucket(from.name())
            .key(self.from_key)
            .range(range)
            .send()
            .await
            .map_err(|e| from.error("reading", self.from_key, e))?;
        let out = to
            .client
            .upload_part()
            .bucket(to.name())
            .key(key)
            .upload_id(upload_id)
            .part_number(number)
            .content_length((last - first + 1) as i64)
            .body(got.body)
            .send()
            .await
            .map_err(|e| to.error("writing a part into", key, e))?;
        Ok(out.e_tag)
    }
}

/// The headers and metadata an object's copy must carry.
struct Headers {
    content_type: Option<String>,
    cache_control: Option<String>,
    content_disposition: Option<String>,
    content_encoding: Option<String>,
    metadata: HashMap<String, String>,
}

/// `(first, last)` byte of each part of an object of `size` bytes.
fn part_ranges(size: u64, part: u64) -> impl Iterator<Item = (u64, u64)> {
    let part = part.max(1);
    (0..size.div_ceil(part)).map(move |i| (i * part, ((i + 1) * part).min(size) - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
