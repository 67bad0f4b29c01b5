//! Proves, before anything is copied, that the credentials may do to each
//! bucket what a migration will do (list, read, write), without changing
//! what the bucket lists.
//!
//! Write access is proven by starting a multipart upload and aborting it:
//! S3 authorises `CreateMultipartUpload` with the same `s3:PutObject`
//! permission as a plain write, and an aborted upload leaves no object (nor
//! a version, nor a delete marker) behind.

use super::client::Bucket;
use super::MediaError;

/// What a migration needs of a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// The source: list its objects and read them.
    Read,
    /// The target: list, read (backups copy its objects aside) and write.
    ReadWrite,
}

/// Checks `bucket` for `need`; returns what was proven, for `config check`.
pub async fn probe(bucket: &Bucket, need: Need) -> Result<String, MediaError> {
    let uploads = format!("{}wp-content/uploads/", bucket.config.prefix);
    let listed = bucket
        .client
        .list_objects_v2()
        .bucket(bucket.name())
        .prefix(&uploads)
        .max_keys(1)
        .send()
        .await
        .map_err(|e| bucket.error("listing", &uploads, e))?;
    let mut proven = vec!["listed"];
    if let Some(key) = listed.contents().first().and_then(|o| o.key()) {
        bucket
            .client
            .head_object()
            .bucket(bucket.name())
            .key(key)
            .send()
            .await
            .map_err(|e| bucket.error("reading", key, e))?;
        proven.push("read");
    } else {
        proven.push("no uploads yet to read");
    }
    if need == Need::ReadWrite {
        probe_write(bucket).await?;
        proven.push("may write (an upload was started and aborted: nothing written)");
    }
    Ok(format!(
        "{}: {}",
        bucket.config.location(),
        proven.join(", ")
    ))
}

/// Starts and aborts a multipart upload under the bucket's backup prefix.
pub async fn probe_write(bucket: &Bucket) -> Result<(), MediaError> {
    let key = format!(
        "{}wfuwp-backups/write-probe-{}",
        bucket.config.prefix,
        uuid::Uuid::new_v4()
    );
    let started = bucket
        .client
        .create_multipart_upload()
        .bucket(bucket.name())
        .key(&key)
        .send()
        .await
        .map_err(|e| denied_write(bucket.error("writing", &key, e)))?;
    let Some(upload_id) = started.upload_id else {
        return Ok(());
    };
    bucket
        .client
        .abort_multipart_upload()
        .bucket(bucket.name())
        .key(&key)
        .upload_id(upload_id)
        .send()
        .await
        .map_err(|e| bucket.error("aborting the write probe", &key, e))?;
    Ok(())
}

/// A refused write says which permission is missing: the generic
/// "credentials were refused" would send the operator to the wrong place.
fn denied_write(e: MediaError) -> MediaError {
    if !e.is_access_denied() {
        return e;
    }
    match e {
        MediaError::S3 {
            env,
            op,
            location,
            detail,
            transient,
            ..
        } => MediaError::S3 {
            env,
            op,
            location,
            detail,
            hint: "the credentials may list and read this bucket but not write it: grant them s3:PutObject \
                   and s3:DeleteObject on it (the migration writes, backs up and deletes objects)"
                .into(),
            transient,
        },
        other => other,
    }
}
