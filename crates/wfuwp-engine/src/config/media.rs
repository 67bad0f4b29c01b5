//! `[environments.NAME.media]`: where an environment keeps its uploads.

use serde::{Deserialize, Serialize};

/// The uploads bucket of one environment.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MediaConfig {
    /// Bucket name (`wordpress-prod-us`).
    pub bucket: String,
    /// Key prefix before `wp-content/uploads/` ("" = the bucket's root).
    #[serde(default)]
    pub prefix: String,
    /// AWS region of the bucket.
    pub region: String,
    /// An S3-compatible server instead of AWS (MinIO, tests): `http://host:port`.
    /// Path-style addressing is used with it.
    pub endpoint: Option<String>,
    /// AWS profile (shared config/credentials files); default: the standard chain.
    pub profile: Option<String>,
}

impl MediaConfig {
    /// Checks the values; the error says what to change in `[environments.{env}.media]`.
    pub fn validate(&self, env: &str) -> Result<(), String> {
        let at = format!("[environments.{env}.media]");
        let b = &self.bucket;
        // S3's bucket naming rules, the part that catches typos and pasted URLs.
        let valid_bucket = (3..=63).contains(&b.len())
            && b.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
            && b.starts_with(|c: char| c.is_ascii_alphanumeric())
            && b.ends_with(|c: char| c.is_ascii_alphanumeric());
        if !valid_bucket {
            return Err(format!(
                "{at} bucket '{b}' is not an S3 bucket name: use 3-63 lowercase letters, digits, '-' or '.', \
                 the bucket name only (no s3:// or URL)"
            ));
        }
        if self.region.trim().is_empty() {
            return Err(format!(
                "{at} has an empty region; give the bucket's region, e.g. region = \"us-east-1\""
            ));
        }
        if self.prefix.starts_with('/') || (!self.prefix.is_empty() && !self.prefix.ends_with('/'))
        {
            return Err(format!(
                "{at} prefix '{}' must be empty or end with '/' and not start with '/', e.g. prefix = \"site-a/\"",
                self.prefix
            ));
        }
        if let Some(e) = &self.endpoint {
            if !(e.starts_with("http://") || e.starts_with("https://")) {
                return Err(format!(
                    "{at} endpoint '{e}' must be a URL starting with http:// or https://, e.g. endpoint = \"http://127.0.0.1:9000\""
                ));
            }
        }
        if matches!(&self.profile, Some(p) if p.trim().is_empty()) {
            return Err(format!(
                "{at} has an empty profile; remove the line to use the standard credential chain"
            ));
        }
        Ok(())
    }

    /// `bucket/prefix`, for messages.
    pub fn location(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix)
    }

    /// Where the uploads are, whoever configured it: the endpoint (`aws`
    /// for AWS itself, whose bucket names are global), bucket and prefix.
    /// Two settings with the same identity are one set of objects.
    pub fn identity(&self) -> String {
        let endpoint = self
            .endpoint
            .as_deref()
            .map_or("aws", |e| e.trim_end_matches('/'));
        format!("{endpoint} {}", self.location())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn media() -> MediaConfig {
        MediaConfig {
            bucket: "wordpress-prod-us".into(),
            prefix: String::new(),
            region: "us-east-1".into(),
            endpoint: None,
            profile: None,
        }
    }

    #[test]
    fn a_plain_config_is_valid() {
        assert_eq!(media().validate("prod"), Ok(()));
        let with_prefix = MediaConfig {
            prefix: "a/b/".into(),
            endpoint: Some("http://127.0.0.1:9000".into()),
            ..media()
        };
        assert_eq!(with_prefix.validate("prod"), Ok(()));
    }

    #[test]
    fn mistakes_say_what_to_do() {
        let cases = [
            (
                MediaConfig {
                    bucket: "s3://x".into(),
                    ..media()
                },
                "bucket name only",
            ),
            (
                MediaConfig {
                    bucket: "Upper".into(),
                    ..media()
                },
                "lowercase",
            ),
            (
                MediaConfig {
                    region: " ".into(),
                    ..media()
                },
                "region = ",
            ),
            (
                MediaConfig {
                    prefix: "a".into(),
                    ..media()
                },
                "end with '/'",
            ),
            (
                MediaConfig {
                    prefix: "/a/".into(),
                    ..media()
                },
                "not start with '/'",
            ),
            (
                MediaConfig {
                    endpoint: Some("127.0.0.1:9000".into()),
                    ..media()
                },
                "http://",
            ),
            (
                MediaConfig {
                    profile: Some(String::new()),
                    ..media()
                },
                "remove the line",
            ),
        ];
        for (m, want) in cases {
            let err = m.validate("prod").unwrap_err();
            assert!(
                err.contains("[environments.prod.media]") && err.contains(want),
                "{err}"
            );
        }
    }
}
