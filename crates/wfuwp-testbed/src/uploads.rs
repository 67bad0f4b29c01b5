//! Uploads of a generated network: a few objects per site in the
//! environment's media bucket, laid out as WordPress multisite does
//! (docs/media.md), with names holding spaces and non-ASCII letters and one
//! object of a few MB. Content is a pure function of the key.

use aws_sdk_s3::primitives::ByteStream;

use wfuwp_engine::media::client::Bucket;
use wfuwp_engine::media::layout::SiteKeys;
use wfuwp_engine::media::MediaError;
use wfuwp_engine::sites::SiteId;

/// Site `site`'s files: key relative to the site's uploads folder, and bytes.
pub fn files_of(site: SiteId) -> Vec<(String, Vec<u8>)> {
    [
        ("2024/01/photo one.jpg".to_string(), 2_000 + site as usize),
        ("2024/02/café naïve ü.png".to_string(), 40_000),
        (
            format!("2025/site-{site}/big scan.pdf"),
            3 * 1024 * 1024 + 17,
        ),
    ]
    .into_iter()
    .map(|(rel, len)| {
        let bytes = content(&format!("{site}/{rel}"), len);
        (rel, bytes)
    })
    .collect()
}

/// Deterministic bytes for `name`.
fn content(name: &str, len: usize) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(name.bytes().map(u64::from).sum());
    (0..len).map(|_| rng.u8(..)).collect()
}

/// The full key of `rel` for `site` in a bucket whose uploads sit under
/// `prefix`.
pub fn key_of(prefix: &str, site: SiteId, rel: &str) -> String {
    format!("{}{rel}", SiteKeys::of(prefix, site).prefix)
}

/// Writes every file of `sites` into `bucket` (creating the bucket when it
/// does not exist); returns the objects and bytes written.
pub async fn write(bucket: &Bucket, sites: &[SiteId]) -> Result<(u64, u64), MediaError> {
    let missing = bucket
        .client
        .head_bucket()
        .bucket(bucket.name())
        .send()
        .await
        .is_err();
    if missing {
        bucket
            .client
            .create_bucket()
            .bucket(bucket.name())
            .send()
            .await
            .map_err(|e| bucket.error("creating", "", e))?;
    }
    let (mut objects, mut bytes) = (0, 0);
    for &site in sites {
        for (rel, body) in files_of(site) {
            let key = key_of(&bucket.config.prefix, site, &rel);
            bytes += body.len() as u64;
            bucket
                .client
                .put_object()
                .bucket(bucket.name())
                .key(&key)
                .content_type(content_type(&rel))
                .body(ByteStream::from(body))
                .send()
                .await
                .map_err(|e| bucket.error("writing", &key, e))?;
            objects += 1;
        }
    }
    Ok((objects, bytes))
}

fn content_type(rel: &str) -> &'static str {
    match rel.rsplit('.').next() {
        Some("jpg") => "image/jpeg",
        Some("png") => "image/png",
        Some("pdf") => "application/pdf",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_main_site_and_others_follow_the_multisite_layout() {
        assert_eq!(key_of("p/", 1, "a b.jpg"), "p/wp-content/uploads/a b.jpg");
        assert_eq!(
            key_of("", 7, "a b.jpg"),
            "wp-content/uploads/sites/7/a b.jpg"
        );
        assert_eq!(files_of(3), files_of(3), "deterministic");
        assert_ne!(files_of(3)[0].1, files_of(4)[0].1);
    }
}
