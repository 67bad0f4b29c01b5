//! An S3-compatible server of a test's own (moto's server, started by
//! `scripts/s3-sandbox.sh` on a free loopback port; in memory, so every
//! test starts from no buckets), with a client to create buckets and to
//! put, list and read objects. Stopped when the value drops.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;

use super::block_on;

/// Dummy credentials: moto accepts any.
pub const ACCESS_KEY: &str = "wfuwp-test-key";
/// Its secret.
pub const SECRET_KEY: &str = "wfuwp-test-secret";
/// The region every test bucket is in.
pub const REGION: &str = "us-east-1";

/// A running server; stopped on drop.
#[derive(Debug)]
pub struct S3Server {
    dir: tempfile::TempDir,
    endpoint: String,
}

/// An object as listed: size and ETag by key.
pub type Listing = BTreeMap<String, (u64, String)>;

impl S3Server {
    /// Starts a server (the script installs moto when it is missing and
    /// waits, with a deadline, until it answers). Panics with its output.
    pub fn start() -> S3Server {
        let dir = tempfile::Builder::new()
            .prefix("wfuwp-s3.")
            .tempdir_in("/tmp")
            .expect("creating a directory for the S3 server");
        let out = super::repo_script("s3-sandbox.sh")
            .arg("start")
            .arg(dir.path())
            .output()
            .expect("running scripts/s3-sandbox.sh");
        assert!(
            out.status.success(),
            "starting the S3 server failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let env = std::fs::read_to_string(dir.path().join("env.sh")).expect("reading env.sh");
        let endpoint = env
            .lines()
            .find_map(|l| l.strip_prefix("export WFUWP_TEST_S3_ENDPOINT="))
            .expect("WFUWP_TEST_S3_ENDPOINT in env.sh")
            .to_string();
        S3Server { dir, endpoint }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// A client for this server.
    pub fn client(&self) -> Client {
        let conf = aws_sdk_s3::config::Builder::new()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .credentials_provider(Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "test"))
            .endpoint_url(&self.endpoint)
            .force_path_style(true)
            .http_client(wfuwp_engine::media::client::http_client())
            .build();
        Client::from_conf(conf)
    }

    /// Creates `bucket`.
    pub fn create_bucket(&self, bucket: &str) {
        block_on(self.client().create_bucket().bucket(bucket).send())
            .unwrap_or_else(|e| panic!("creating bucket {bucket}: {e:?}"));
    }

    /// Writes `bytes` to `bucket/key`.
    pub fn put(&self, bucket: &str, key: &str, bytes: &[u8]) {
        block_on(
            self.client()
                .put_object()
                .bucket(bucket)
                .key(key)
                .content_type("image/jpeg")
                .body(ByteStream::from(bytes.to_vec()))
                .send(),
        )
        .unwrap_or_else(|e| panic!("putting {bucket}/{key}: {e:?}"));
    }

    /// Every object of `bucket` under `prefix`: key → (size, ETag).
    pub fn list(&self, bucket: &str, prefix: &str) -> Listing {
        block_on(async {
            let mut pages = self
                .client()
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .into_paginator()
                .send();
            let mut out = Listing::new();
            while let Some(page) = pages.next().await {
                let page = page.unwrap_or_else(|e| panic!("listing {bucket}/{prefix}: {e:?}"));
                for o in page.contents() {
                    out.insert(
                        o.key().unwrap_or_default().to_string(),
                        (
                            o.size().unwrap_or(0) as u64,
                            o.e_tag().unwrap_or_default().to_string(),
                        ),
                    );
                }
            }
            out
        })
    }

    /// The bytes of `bucket/key`.
    pub fn get(&self, bucket: &str, key: &str) -> Vec<u8> {
        block_on(async {
            let got = self
                .client()
                .get_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .unwrap_or_else(|e| panic!("getting {bucket}/{key}: {e:?}"));
            got.body
                .collect()
                .await
                .expect("reading the body")
                .into_bytes()
                .to_vec()
        })
    }

    /// `[environments.{env}.media]` for `bucket` on this server.
    pub fn media_toml(&self, env: &str, bucket: &str, prefix: &str) -> String {
        format!(
            "[environments.{env}.media]\nbucket = \"{bucket}\"\nprefix = \"{prefix}\"\nregion = \"{REGION}\"\nendpoint = \"{}\"\n\n",
            self.endpoint
        )
    }

    /// An IAM user allowed what `policy` (an IAM policy document) allows;
    /// returns its access key and secret. Matters only while permissions
    /// are enforced ([`S3Server::enforce_permissions`]).
    pub fn create_user(&self, name: &str, policy: &str) -> (String, String) {
        let out = self.script(&["user", name, policy]);
        let mut words = out.split_whitespace().map(str::to_string);
        match (words.next(), words.next()) {
            (Some(k), Some(s)) => (k, s),
            _ => panic!("creating IAM user {name}: unexpected output {out:?}"),
        }
    }

    /// From now on every request must come from a user of
    /// [`S3Server::create_user`] and be allowed by its policy (`true`), or
    /// anything goes again (`false`, as after start).
    pub fn enforce_permissions(&self, on: bool) {
        self.script(&["auth", if on { "on" } else { "off" }]);
    }

    fn script(&self, args: &[&str]) -> String {
        let out = super::repo_script("s3-sandbox.sh")
            .arg(args[0])
            .arg(self.dir.path())
            .args(&args[1..])
            .output()
            .expect("running scripts/s3-sandbox.sh");
        assert!(
            out.status.success(),
            "s3-sandbox.sh {}: {}",
            args[0],
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Multipart uploads started and neither completed nor aborted.
    pub fn uploads_in_progress(&self, bucket: &str) -> usize {
        let out = block_on(self.client().list_multipart_uploads().bucket(bucket).send())
            .unwrap_or_else(|e| panic!("listing uploads of {bucket}: {e:?}"));
        out.uploads().len()
    }

    /// Content type and user metadata of `bucket/key`.
    pub fn head(&self, bucket: &str, key: &str) -> (Option<String>, BTreeMap<String, String>) {
        let h = block_on(self.client().head_object().bucket(bucket).key(key).send())
            .unwrap_or_else(|e| panic!("head {bucket}/{key}: {e:?}"));
        let meta = h
            .metadata()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .collect();
        (h.content_type().map(str::to_string), meta)
    }

    /// Writes `bytes` to `bucket/key` as a multipart upload of `part`-byte
    /// parts, as the AWS CLI does with large files: its ETag is not an MD5.
    pub fn put_in_parts(&self, bucket: &str, key: &str, bytes: &[u8], part: usize) {
        use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
        block_on(async {
            let c = self.client();
            let up = c
                .create_multipart_upload()
                .bucket(bucket)
                .key(key)
                .content_type("application/octet-stream")
                .send()
                .await
                .unwrap_or_else(|e| panic!("starting an upload of {key}: {e:?}"));
            let id = up.upload_id().expect("upload id").to_string();
            let mut parts = Vec::new();
            for (i, chunk) in bytes.chunks(part).enumerate() {
                let n = i as i32 + 1;
                let p = c
                    .upload_part()
                    .bucket(bucket)
                    .key(key)
                    .upload_id(&id)
                    .part_number(n)
                    .body(ByteStream::from(chunk.to_vec()))
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("uploading part {n} of {key}: {e:?}"));
                parts.push(
                    CompletedPart::builder()
                        .part_number(n)
                        .set_e_tag(p.e_tag().map(str::to_string))
                        .build(),
                );
            }
            c.complete_multipart_upload()
                .bucket(bucket)
                .key(key)
                .upload_id(&id)
                .multipart_upload(
                    CompletedMultipartUpload::builder()
                        .set_parts(Some(parts))
                        .build(),
                )
                .send()
                .await
                .unwrap_or_else(|e| panic!("completing the upload of {key}: {e:?}"));
        })
    }

    /// The directory of its pid file and log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// Sets the credentials the `wfuwp` process finds (environment variables,
/// the first link of the chain), and keeps the rest of the chain away from
/// the machine's own AWS files and from instance metadata.
pub fn with_credentials<'c>(cmd: &'c mut Command, home: &Path) -> &'c mut Command {
    with_keys(cmd, home, ACCESS_KEY, SECRET_KEY)
}

/// [`with_credentials`] with another access key and secret.
pub fn with_keys<'c>(
    cmd: &'c mut Command,
    home: &Path,
    key: &str,
    secret: &str,
) -> &'c mut Command {
    cmd.env("AWS_ACCESS_KEY_ID", key)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", home.join("aws-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("aws-credentials"))
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = super::repo_script("s3-sandbox.sh")
            .arg("stop")
            .arg(self.dir.path())
            .output();
    }
}
