//! Media (docs/media.md): each migrated site's uploads copied from the
//! source environment's S3 bucket to the target's, after the site's tables.
//!
//! * [`access`] — what the credentials may do to a bucket, proven first.
//! * [`client`] — the S3 client and its errors.
//! * [`layout`] — which keys belong to a site.
//! * [`copy`] — plan and copy one site's objects.
//! * [`transfer`] — write one object from one key to another.
//! * [`record`] — a site's media step and its record in the state.
//! * [`undo`] — backups of the target's objects, and the rollback.

pub mod access;
pub mod client;
pub mod copy;
pub mod layout;
pub mod record;
pub mod transfer;
pub mod undo;

pub use crate::config::MediaConfig;
use client::Bucket;

use crate::config::Config;
use crate::state::MigrationOptions;

/// Everything that goes wrong with media. Each message names the bucket and
/// what to check.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// An S3 request failed.
    #[error("media of '{env}': {op} {location} failed: {detail}{}", hint_text(.hint))]
    S3 {
        /// The environment.
        env: String,
        /// What was being done ("listing", "copying into", …).
        op: String,
        /// `s3://bucket/key`.
        location: String,
        /// The SDK's error with its causes.
        detail: String,
        /// What to check.
        hint: String,
        /// Worth retrying (network, throttling, 5xx).
        transient: bool,
    },
    /// The configured bucket does not exist (the SDK's own report of it is
    /// a debug dump; this says what to fix, on one line).
    #[error(
        "media of '{env}': the bucket '{bucket}' does not exist at {at}: check `bucket`, `region` and `endpoint` \
         in [environments.{env}.media], or create the bucket"
    )]
    NoSuchBucket {
        /// The environment.
        env: String,
        /// The bucket's name.
        bucket: String,
        /// The endpoint, or the AWS region.
        at: String,
    },
    /// Media settings that cannot work together.
    #[error("{0}")]
    Config(String),
    /// Anything else.
    #[error("media: {0}")]
    Internal(String),
}

fn hint_text(hint: &str) -> String {
    if hint.is_empty() {
        String::new()
    } else {
        format!(". {hint}")
    }
}

impl MediaError {
    /// Whether S3 refused the request for lack of permission.
    pub fn is_access_denied(&self) -> bool {
        matches!(self, MediaError::S3 { detail, .. } if detail.contains("AccessDenied"))
    }

    /// A mistake in the media settings, not a failure of the service.
    pub fn is_configuration(&self) -> bool {
        matches!(
            self,
            MediaError::NoSuchBucket { .. } | MediaError::Config(_)
        )
    }

    /// Whether a retry may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            MediaError::S3 {
                transient: true,
                ..
            }
        )
    }
}

/// Set to `stream` to copy through this process even when a server-side copy
/// would work (the test bed and `scripts/bench.sh` measure both paths).
pub const COPY_MODE_VAR: &str = "WFUWP_MEDIA_COPY";

/// The media side of one run: both buckets and how to copy.
#[derive(Debug)]
pub struct MediaRun {
    /// Where objects come from.
    pub source: Bucket,
    /// Where they go.
    pub target: Bucket,
    /// CopyObject inside S3 (one set of credentials reaches both buckets),
    /// else GET → PUT through this process.
    pub server_side: bool,
    /// Objects copied at once, per site.
    pub concurrency: usize,
    /// Retries of a transient failure of one object.
    pub retries: u32,
    /// `--media-delete`.
    pub delete: bool,
    /// Where the target's objects are kept before they are overwritten or
    /// deleted; `None` with `--skip-backup`.
    pub backups: Option<undo::Backups>,
}

impl MediaRun {
    /// Deletes the media backups of the migrations `superseded` from the
    /// target bucket: a completed migration supersedes the earlier ones into
    /// the same target, as it does their backup tables (docs/rollback.md).
    /// Only those: another target's migrations may keep theirs in the same
    /// bucket. Returns the objects deleted.
    pub async fn drop_superseded_backups(&self, superseded: &[String]) -> Result<u64, MediaError> {
        let mut n = 0;
        for id in superseded {
            n += self.drop_backups_of(id).await?;
        }
        Ok(n)
    }

    async fn drop_backups_of(&self, id: &str) -> Result<u64, MediaError> {
        let theirs = layout::backup_prefix(&self.target.config.prefix, id);
        let mut n = 0;
        for o in self.target.list(&theirs).await? {
            self.target
                .client
                .delete_object()
                .bucket(self.target.name())
                .key(&o.key)
                .send()
                .await
                .map_err(|e| self.target.error("deleting", &o.key, e))?;
            n += 1;
        }
        Ok(n)
    }

    /// Keeps the target's objects for `--rollback` of migration `id`.
    pub fn with_backups(mut self, id: &str) -> MediaRun {
        self.backups = Some(undo::Backups::new(&self.target, id));
        self
    }
}

/// Whether this migration copies media: both environments configure it and
/// `--skip-media` is off. `--media-only` without it on both sides is an error.
pub fn wanted(
    config: &Config,
    source: &str,
    target: &str,
    options: &MigrationOptions,
) -> Result<Option<(MediaConfig, MediaConfig)>, MediaError> {
    let media = |name: &str| config.environments.get(name).and_then(|e| e.media.clone());
    let (s, t) = (media(source), media(target));
    if options.skip_media {
        return Ok(None);
    }
    match (s, t) {
        (Some(s), Some(t)) => Ok(Some((s, t))),
        (s, t) if options.media_only || options.media_delete => {
            let missing: Vec<&str> = [(source, s.is_none()), (target, t.is_none())]
                .iter()
                .filter(|(_, m)| *m)
                .map(|(n, _)| *n)
                .collect();
            let flag = if options.media_only {
                "--media-only"
            } else {
                "--media-delete"
            };
            Err(MediaError::Config(format!(
                "{flag} needs media settings for both environments, but {} has none. Add [environments.{}.media] \
                 with bucket, region (and endpoint/profile if needed) to the config file",
                missing.join(" and "),
                missing[0]
            )))
        }
        _ => Ok(None),
    }
}

/// Refuses a source and target whose uploads are one set of objects (same
/// endpoint, bucket and prefix), as a migration between one database under
/// two names is refused: copying would rewrite the source in place, and
/// each side's backups and cleanup would be the other's.
pub fn refuse_shared_bucket(
    (source, s): (&str, &MediaConfig),
    (target, t): (&str, &MediaConfig),
) -> Result<(), MediaError> {
    if s.identity() != t.identity() {
        return Ok(());
    }
    Err(MediaError::Config(format!(
        "environments '{source}' and '{target}' keep their uploads in the same place ({}); refusing to migrate \
         media onto itself. Give one of them another bucket or prefix in [environments.{target}.media], or run \
         with --skip-media. Nothing was copied.",
        t.identity()
    )))
}

/// Connects to both buckets and proves what the migration will do to each
/// (docs/media.md "Preflight"): the source listed and read, the target
/// listed, read and written. Changes nothing either bucket lists.
pub async fn prepare(
    source: (&str, &MediaConfig),
    target: (&str, &MediaConfig),
    concurrency: usize,
    retries: u32,
    delete: bool,
) -> Result<MediaRun, MediaError> {
    let attempts = retries.saturating_add(1).min(5);
    let s = Bucket::connect(source.0, source.1, attempts).await;
    let t = Bucket::connect(target.0, target.1, attempts).await;
    access::probe(&s, access::Need::Read).await?;
    access::probe(&t, access::Need::ReadWrite).await?;
    let stream_forced = std::env::var(COPY_MODE_VAR).is_ok_and(|v| v == "stream");
    let server_side = !stream_forced
        && source.1.endpoint == target.1.endpoint
        && source.1.profile == target.1.profile;
    Ok(MediaRun {
        source: s,
        target: t,
        server_side,
        concurrency,
        retries,
        delete,
        backups: None,
    })
}

/// `config check`: proves the environment's bucket may be listed and read,
/// and finds out whether it may be written (needed only as a migration's
/// target: a read-only prod bucket is reported, not refused). Changes
/// nothing the bucket lists.
pub async fn check_access(env: &str, config: &MediaConfig) -> Result<String, MediaError> {
    let b = Bucket::connect(env, config, 2).await;
    let read = access::probe(&b, access::Need::Read).await?;
    match access::probe_write(&b).await {
        Ok(()) => Ok(format!(
            "{read}, may write (an upload was started and aborted: nothing written)"
        )),
        Err(e) if e.is_access_denied() => Ok(format!(
            "{read}; may NOT write: fine as a source, refused as a migration's target ({e})"
        )),
        Err(e) => Err(e),
    }
}
