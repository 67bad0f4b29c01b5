//! An S3 client per environment, with the AWS CLI's credential chain, and
//! the errors it gives turned into what to do about them.

use std::time::Duration;

use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{
    BehaviorVersion, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::Client;
use aws_smithy_http_client::tls;

use super::MediaError;
use crate::config::MediaConfig;

/// One environment's uploads bucket with a client that can reach it.
#[derive(Clone, Debug)]
pub struct Bucket {
    /// Environment name (for messages).
    pub env: String,
    /// Its `[environments.NAME.media]`.
    pub config: MediaConfig,
    /// The client (cheap to clone: it shares its connection pool).
    pub client: Client,
}

/// An object as a listing shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// Full key.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// ETag as S3 gives it (quoted); `None` when the server gave none.
    pub etag: Option<String>,
}

/// The HTTPS client every S3 client uses: rustls with ring (no aws-lc, no
/// OpenSSL), like the project's MySQL TLS.
pub fn http_client() -> aws_sdk_s3::config::SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https()
}

impl Bucket {
    /// Builds the client: region, optional endpoint (path-style), optional
    /// profile, rustls with ring. `attempts` bounds the SDK's own retries
    /// (throttling, 5xx, dropped connections) with backoff and jitter.
    pub async fn connect(env: &str, config: &MediaConfig, attempts: u32) -> Bucket {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http_client())
            .region(Region::new(config.region.clone()));
        if let Some(p) = &config.profile {
            // A named profile is used alone, as `aws --profile` does: AWS_*
            // variables in the environment must not win over it. The profile
            // provider follows SSO, credential_process and role chains.
            // Its SSO and STS calls need the same HTTPS client and region.
            let provider = aws_config::provider_config::ProviderConfig::default()
                .with_http_client(http_client())
                .with_region(Some(Region::new(config.region.clone())));
            loader = loader.profile_name(p).credentials_provider(
                aws_config::profile::ProfileFileCredentialsProvider::builder()
                    .configure(&provider)
                    .profile_name(p)
                    .build(),
            );
        }
        let shared = loader.load().await;
        let mut b = aws_sdk_s3::config::Builder::from(&shared)
            .retry_config(RetryConfig::standard().with_max_attempts(attempts.max(1)))
            .timeout_config(
                TimeoutConfig::builder()
                    // A wrong endpoint or a firewalled one must fail preflight
                    // quickly, not hang it.
                    .connect_timeout(Duration::from_secs(10))
                    .read_timeout(Duration::from_secs(120))
                    .build(),
            )
            // Checksums only where S3 requires them: S3-compatible servers do
            // not all accept the newer trailing-checksum uploads.
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        if let Some(e) = &config.endpoint {
            b = b.endpoint_url(e).force_path_style(true);
        }
        Bucket {
            env: env.to_string(),
            config: config.clone(),
            client: Client::from_conf(b.build()),
        }
    }

    /// The bucket's name.
    pub fn name(&self) -> &str {
        &self.config.bucket
    }

    /// Every object whose key starts with `prefix`, in key order.
    pub async fn list(&self, prefix: &str) -> Result<Vec<Object>, MediaError> {
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(self.name())
            .prefix(prefix)
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.error("listing", prefix, e))?;
            for o in page.contents() {
                let Some(key) = o.key() else { continue };
                out.push(Object {
                    key: key.to_string(),
                    size: o.size().and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
                    etag: o.e_tag().map(str::to_string),
                });
            }
        }
        Ok(out)
    }

    /// Turns an SDK error of an operation on `key` into a [`MediaError`] that
    /// says what to check. No credentials appear in it: the SDK's messages
    /// name the provider that failed, never a key.
    pub fn error<E, R>(&self, op: &str, key: &str, err: SdkError<E, R>) -> MediaError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        if let SdkError::ServiceError(s) = &err {
            if s.err().code() == Some("NoSuchBucket") {
                return MediaError::NoSuchBucket {
                    env: self.env.clone(),
                    bucket: self.name().to_string(),
                    at: match &self.config.endpoint {
                        Some(e) => e.clone(),
                        None => format!("AWS ({})", self.config.region),
                    },
                };
            }
        }
        let (transient, hint) = match &err {
            SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => (
                true,
                match &self.config.endpoint {
                    Some(e) => format!("check that `endpoint = \"{e}\"` is right and the server is up"),
                    None => format!("check the network and `region = \"{}\"`", self.config.region),
                },
            ),
            SdkError::ConstructionFailure(_) => (
                false,
                "check the credentials: the AWS_* variables, the shared config files, or `profile = ...`"
                    .to_string(),
            ),
            SdkError::ServiceError(s) => {
                let code = s.err().code().unwrap_or("");
                match code {
                    "AccessDenied" | "InvalidAccessKeyId" | "SignatureDoesNotMatch"
                    | "ExpiredToken" | "InvalidToken" => (
                        false,
                        "the credentials were refused: check the profile or AWS_* variables and the bucket policy"
                            .to_string(),
                    ),
                    "SlowDown" | "InternalError" | "ServiceUnavailable" | "RequestTimeout" => {
                        (true, "the server is busy; it was retried with backoff".into())
                    }
                    _ => (false, String::new()),
                }
            }
            _ => (false, String::new()),
        };
        let detail = DisplayErrorContext(&err).to_string();
        // Credentials that cannot be found or loaded fail before any request
        // is sent, whichever way the SDK wraps that.
        let (transient, hint) = if [
            "credentials provider",
            "credential provider",
            "CredentialsNotLoaded",
            "no credentials",
            "ProfileFile",
        ]
        .iter()
        .any(|s| detail.contains(s))
        {
            (
                false,
                match &self.config.profile {
                    Some(p) => format!("no usable credentials: check that profile '{p}' exists in ~/.aws/config or ~/.aws/credentials (or AWS_CONFIG_FILE) and is logged in"),
                    None => "no usable credentials: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or `profile = ...` in the media settings".into(),
                },
            )
        } else {
            (transient, hint)
        };
        MediaError::S3 {
            env: self.env.clone(),
            op: op.to_string(),
            location: format!("s3://{}/{key}", self.name()),
            detail,
            hint,
            transient,
        }
    }
}

/// `bucket/key` for `x-amz-copy-source`, percent-encoded (keys may hold
/// spaces and non-ASCII letters; S3 decodes the header).
pub fn copy_source(bucket: &str, key: &str) -> String {
    let mut out = String::with_capacity(bucket.len() + key.len() + 8);
    out.push_str(bucket);
    out.push('/');
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_sources_are_percent_encoded() {
        assert_eq!(
            copy_source("b", "wp-content/uploads/a b/ü+.jpg"),
            "b/wp-content/uploads/a%20b/%C3%BC%2B.jpg"
        );
    }
}
