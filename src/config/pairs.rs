//! Replacement pairs for a SOURCE → TARGET migration (SPEC §3).

use super::{Config, ConfigError};

/// One replacement: every occurrence of `from` becomes `to`.
pub type Pair = (String, String);

/// `source.replace[k] → target.replace[k]` for every key of the source, then the
/// extra `--replace` pairs. Identity pairs are dropped; a key the target lacks is an error.
pub fn for_migration(
    config: &Config,
    source: &str,
    target: &str,
    extra: &[Pair],
) -> Result<Vec<Pair>, ConfigError> {
    let src = config.environment(source)?;
    let dst = config.environment(target)?;
    let mut pairs = Vec::new();
    for (key, from) in &src.replace {
        let to = dst
            .replace
            .get(key)
            .ok_or_else(|| ConfigError::MissingToken {
                key: key.clone(),
                source_env: source.to_string(),
                target_env: target.to_string(),
                path: config.path.clone(),
            })?;
        if from != to {
            pairs.push((from.clone(), to.clone()));
        }
    }
    for (from, to) in extra {
        if from.is_empty() {
            return Err(ConfigError::Invalid {
                path: config.path.clone(),
                message: "a --replace pair has an empty FROM; give the text to replace".into(),
            });
        }
        if from != to {
            pairs.push((from.clone(), to.clone()));
        }
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn config() -> Config {
        crate::config::load::parse(
            r#"
[environments.prod]
host = "h"
user = "u"
database = "p"
[environments.prod.replace]
main = "www.wfu.edu"
subdomains = ".wfu.edu"
[environments.uat]
host = "h"
user = "u"
database = "u"
[environments.uat.replace]
main = "uat.wfu.edu"
subdomains = ".uat.wfu.edu"
[environments.dev]
host = "h"
user = "u"
database = "d"
[environments.dev.replace]
main = "dev.wfu.edu"
"#,
            Path::new("/c.toml"),
        )
        .unwrap()
    }

    #[test]
    fn pairs_follow_source_keys() {
        let p = for_migration(&config(), "prod", "uat", &[("a".into(), "b".into())]).unwrap();
        assert_eq!(
            p,
            vec![
                ("www.wfu.edu".into(), "uat.wfu.edu".into()),
                (".wfu.edu".into(), ".uat.wfu.edu".into()),
                ("a".into(), "b".into())
            ]
        );
    }

    #[test]
    fn missing_target_key_is_an_error() {
        let err = for_migration(&config(), "prod", "dev", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("subdomains") && err.contains("dev"), "{err}");
        // The other direction is fine: dev has fewer keys.
        assert_eq!(
            for_migration(&config(), "dev", "prod", &[]).unwrap().len(),
            1
        );
        assert!(for_migration(&config(), "prod", "nope", &[]).is_err());
    }
}
