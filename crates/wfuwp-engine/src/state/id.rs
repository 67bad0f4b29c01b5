//! Migration ids: `env-migrate-YYYY-MM-DDTHH-MM-SS-xxxxxx` (UTC, random suffix).

use chrono::{DateTime, NaiveDateTime, Utc};

const PREFIX: &str = "env-migrate-";
const TIME_FORMAT: &str = "%Y-%m-%dT%H-%M-%S";
const SUFFIX_CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
const SUFFIX_LEN: usize = 6;

/// A string that is not a migration id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{id}' is not a migration id ({why}); ids look like env-migrate-2025-08-17T12-34-56-abc123. List them with `wfuwp env-migrate --list-migrations --all`.")]
pub struct MalformedId {
    /// What was given.
    pub id: String,
    /// What is wrong with it.
    pub why: &'static str,
}

/// A new id for a migration created at `now`.
pub fn generate(now: DateTime<Utc>) -> String {
    let suffix: String = (0..SUFFIX_LEN)
        .map(|_| SUFFIX_CHARS[fastrand::usize(..SUFFIX_CHARS.len())] as char)
        .collect();
    format!("{PREFIX}{}-{suffix}", now.format(TIME_FORMAT))
}

/// Checks the shape of an id; on success returns its creation time. Because
/// ids become directory names, this also keeps `..` and `/` out of paths.
pub fn validate(id: &str) -> Result<DateTime<Utc>, MalformedId> {
    let bad = |why| MalformedId {
        id: id.to_string(),
        why,
    };
    let rest = id
        .strip_prefix(PREFIX)
        .ok_or_else(|| bad("it must start with env-migrate-"))?;
    if !rest.is_ascii() {
        return Err(bad("it contains non-ASCII characters"));
    }
    let (time, suffix) = rest
        .rsplit_once('-')
        .ok_or_else(|| bad("the random suffix is missing"))?;
    if suffix.len() != SUFFIX_LEN || !suffix.bytes().all(|b| SUFFIX_CHARS.contains(&b)) {
        return Err(bad("the suffix must be 6 lowercase letters or digits"));
    }
    let naive = NaiveDateTime::parse_from_str(time, TIME_FORMAT)
        .map_err(|_| bad("the timestamp is not YYYY-MM-DDTHH-MM-SS"))?;
    // `%Y` accepts years of any width; insist on the canonical spelling.
    if naive.format(TIME_FORMAT).to_string() != time {
        return Err(bad("the timestamp is not YYYY-MM-DDTHH-MM-SS"));
    }
    Ok(naive.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn generated_ids_validate() {
        let now = Utc::now();
        let id = generate(now);
        assert_eq!(id.len(), "env-migrate-2025-08-17T12-34-56-abc123".len());
        assert_eq!(validate(&id).unwrap().timestamp(), now.timestamp());
        assert!(validate("env-migrate-2025-08-17T12-34-56-abc123").is_ok());
    }

    #[test]
    fn malformed_ids_are_rejected() {
        for bad in [
            "",
            "env-migrate-",
            "migrate-2025-08-17T12-34-56-abc123",
            "env-migrate-2025-08-17T12-34-56-ABC123",
            "env-migrate-2025-08-17T12-34-56-abc12",
            "env-migrate-2025-08-17T12-34-56-abc1234",
            "env-migrate-2025-13-17T12-34-56-abc123",
            "env-migrate-2025-08-17 12-34-56-abc123",
            "env-migrate-../../etc-abc123",
            "env-migrate-2025-08-17T12-34-56-abc/23",
            "env-migrate-2025-8-17T12-34-56-abc123",
        ] {
            assert!(validate(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn validate_never_panics(s in ".{0,60}") {
            let _ = validate(&s);
        }
    }
}
