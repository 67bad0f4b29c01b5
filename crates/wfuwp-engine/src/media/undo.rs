//! Undo of the media step: the target's objects are backed up before a
//! migration overwrites or deletes them, and the keys it creates are
//! marked, both under `<prefix>wfuwp-backups/<migration-id>/`, so that
//! `--rollback` can make the bucket list exactly as before.
//!
//! * `…/objects/<key>` — the target's original object (first backup wins:
//!   a redo after a crash never backs up the migration's own copy).
//! * `…/created/<key>` — empty marker, written *before* the key is
//!   created: a kill between the two leaves a marker for a key that does
//!   not exist, which rollback tolerates.

use aws_sdk_s3::primitives::ByteStream;

use std::collections::BTreeMap;

use super::client::{Bucket, Object};
use super::layout::{backup_prefix, SiteKeys};
use super::transfer::Transfer;
use super::MediaError;
use crate::failpoints;
use crate::sites::SiteId;

/// A migration's backup area in the target bucket.
#[derive(Debug, Clone)]
pub struct Backups {
    /// `<prefix>wfuwp-backups/<migration-id>/`
    pub root: String,
}

impl Backups {
    /// The area of migration `id` in `target`.
    pub fn new(target: &Bucket, id: &str) -> Backups {
        Backups {
            root: backup_prefix(&target.config.prefix, id),
        }
    }

    fn original(&self, key: &str) -> String {
        format!("{}objects/{key}", self.root)
    }

    fn marker(&self, key: &str) -> String {
        format!("{}created/{key}", self.root)
    }

    /// Before `object` (existing in the target) is overwritten or deleted:
    /// copies it aside, server-side (in parts above 5 GiB), unless a backup
    /// exists or this migration created it. Returns whether it copied.
    pub async fn keep_original(
        &self,
        target: &Bucket,
        object: &Object,
    ) -> Result<bool, MediaError> {
        let key = &object.key;
        if exists(target, &self.original(key)).await? || exists(target, &self.marker(key)).await? {
            return Ok(false);
        }
        within(target, object, &self.original(key)).await?;
        Ok(true)
    }

    /// How many originals are kept for each of `sites` (in a bucket whose
    /// uploads sit under `prefix`), to compare with what the state recorded
    /// before a rollback relies on them.
    pub async fn originals_by_site(
        &self,
        target: &Bucket,
        sites: &[SiteId],
    ) -> Result<BTreeMap<SiteId, u64>, MediaError> {
        let originals = format!("{}objects/", self.root);
        let keys: Vec<SiteKeys> = sites
            .iter()
            .map(|&s| SiteKeys::of(&target.config.prefix, s))
            .collect();
        let mut found = BTreeMap::new();
        for o in target.list(&originals).await? {
            let key = &o.key[originals.len()..];
            if let Some(i) = keys.iter().position(|k| k.contains(key)) {
                *found.entry(sites[i]).or_default() += 1;
            }
        }
        Ok(found)
    }

    /// Before `key` (absent from the target) is created.
    pub async fn mark_created(&self, target: &Bucket, key: &str) -> Result<(), MediaError> {
        let m = self.marker(key);
        target
            .client
            .put_object()
            .bucket(target.name())
            .key(&m)
            .body(ByteStream::from_static(b""))
            .send()
            .await
            .map_err(|e| target.error("marking", &m, e))?;
        Ok(())
    }

    /// Restores the target as it was before the migration: removes every
    /// key it created, copies every original back, then removes the
    /// backups. Idempotent: a killed rollback is run again.
    pub async fn restore(&self, target: &Bucket) -> Result<u64, MediaError> {
        let mut changed = 0;
        let created = format!("{}created/", self.root);
        for m in target.list(&created).await? {
            let key = &m.key[created.len()..];
            // The migration may also have backed up a key it later found in
            // the target (created then overwritten): the original wins below.
            delete(target, key).await?;
            delete(target, &m.key).await?;
            failpoints::hit("media_object_restored");
            changed += 1;
        }
        let originals = format!("{}objects/", self.root);
        for o in target.list(&originals).await? {
            let key = &o.key[originals.len()..];
            within(target, &o, key).await?;
            delete(target, &o.key).await?;
            failpoints::hit("media_object_restored");
            changed += 1;
        }
        Ok(changed)
    }
}

/// Copies `object` to `to` in the same bucket, server-side.
async fn within(b: &Bucket, object: &Object, to: &str) -> Result<(), MediaError> {
    Transfer {
        from: b,
        from_key: &object.key,
        size: object.size,
        etag: object.etag.as_deref(),
        to: b,
        to_key: to,
        server_side: true,
    }
    .run()
    .await
}

async fn exists(b: &Bucket, key: &str) -> Result<bool, MediaError> {
    match b
        .client
        .head_object()
        .bucket(b.name())
        .key(key)
        .send()
        .await
    {
        Ok(_) => Ok(true),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(false),
        Err(e) => Err(b.error("looking up", key, e)),
    }
}

async fn delete(b: &Bucket, key: &str) -> Result<(), MediaError> {
    b.client
        .delete_object()
        .bucket(b.name())
        .key(key)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| b.error("deleting", key, e))
}
