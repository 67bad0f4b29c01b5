//! Replacement pairs for a SOURCE → TARGET migration (docs/cli.md).

use std::collections::BTreeMap;

use super::{Config, ConfigError};
use wfuwp_replace::Pair;

/// `source.replace[k] → target.replace[k]` for every key of the source, then the
/// extra `--replace` pairs. Identity pairs are dropped. Refused as configuration
/// errors: a key the target lacks, two pairs with the same FROM but different
/// TOs (only one could win), and an extra pair with an empty FROM or TO.
pub fn for_migration(
    config: &Config,
    source: &str,
    target: &str,
    extra: &[Pair],
) -> Result<Vec<Pair>, ConfigError> {
    let tokens = token_pairs(config, source, target)?;
    if let Some(e) = token_problems(config, source, target, &tokens)
        .into_iter()
        .next()
    {
        return Err(e);
    }
    let invalid = |message: String| ConfigError::Invalid {
        path: config.path.clone(),
        message,
    };
    // FROM → (what set it, TO), to find a second pair for the same text.
    let mut seen: BTreeMap<&str, (String, &str)> = tokens
        .iter()
        .map(|(key, from, to)| {
            (
                from.as_str(),
                (format!("replacement key '{key}'"), to.as_str()),
            )
        })
        .collect();
    // Empty FROM or TO never get here: the command line refuses them.
    for Pair { from, to } in extra {
        let this = format!("--replace '{from}={to}'");
        match seen.get(from.as_str()) {
            Some((other, other_to)) if *other_to != to.as_str() => {
                return Err(invalid(format!(
                    "{this} conflicts with {other}, which replaces '{from}' with '{other_to}'; \
                     only one replacement could win. Remove one of them."
                )));
            }
            Some(_) => {}
            None => {
                seen.insert(from, (this, to));
            }
        }
    }
    let mut pairs: Vec<Pair> = Vec::new();
    let all = tokens
        .iter()
        .map(|(_, f, t)| (f, t))
        .chain(extra.iter().map(|p| (&p.from, &p.to)));
    for (from, to) in all {
        // Same FROM and TO twice (checked above) is harmless; keep one.
        if from != to && !pairs.iter().any(|p| &p.from == from) {
            pairs.push(Pair::new(from, to));
        }
    }
    Ok(pairs)
}

/// `(key, source value, target value)` for every key of the source, or the
/// first key the target lacks.
fn token_pairs(
    config: &Config,
    source: &str,
    target: &str,
) -> Result<Vec<(String, String, String)>, ConfigError> {
    let src = config.environment(source)?;
    let dst = config.environment(target)?;
    src.replace
        .iter()
        .map(|(key, from)| {
            let to = dst
                .replace
                .get(key)
                .ok_or_else(|| ConfigError::MissingToken {
                    key: key.clone(),
                    source_env: source.to_string(),
                    target_env: target.to_string(),
                    path: config.path.clone(),
                })?;
            Ok((key.clone(), from.clone(), to.clone()))
        })
        .collect()
}

/// Source keys with the same value but different target values: the engine
/// could apply only one of them, so the configuration is ambiguous.
fn token_problems(
    config: &Config,
    source: &str,
    target: &str,
    tokens: &[(String, String, String)],
) -> Vec<ConfigError> {
    let mut problems = Vec::new();
    for (i, (key, from, to)) in tokens.iter().enumerate() {
        if let Some((other, _, other_to)) =
            tokens[..i].iter().find(|(_, f, t)| f == from && t != to)
        {
            problems.push(ConfigError::Invalid {
                path: config.path.clone(),
                message: format!(
                    "replacement keys '{other}' and '{key}' of environment '{source}' have the same value \
                     '{from}', but '{target}' gives them different values ('{other_to}' and '{to}'), so a \
                     migration {source} → {target} could apply only one of them. Give the keys distinct \
                     values in [environments.{source}.replace], or the same value in [environments.{target}.replace]."
                ),
            });
        }
    }
    problems
}

/// Every replacement-token problem between configured environments that
/// involves one of `selected` (all when empty), one sentence each: keys one
/// environment lacks that another has, and ambiguous duplicate values. A
/// migration between the two environments named would be refused.
pub fn problems(config: &Config, selected: &[String]) -> Vec<String> {
    let involved = |n: &String| selected.is_empty() || selected.contains(n);
    let mut out = Vec::new();
    for source in config.environments.keys() {
        for target in config.environments.keys() {
            if source == target || !(involved(source) || involved(target)) {
                continue;
            }
            let (src, dst) = (&config.environments[source], &config.environments[target]);
            for key in src.replace.keys().filter(|k| !dst.replace.contains_key(*k)) {
                out.push(format!(
                    "environment '{target}' lacks replacement key '{key}' that '{source}' has; \
                     a migration {source} → {target} would be refused. Add `{key} = \"...\"` to \
                     [environments.{target}.replace]."
                ));
            }
            // Ambiguity among the keys both have, even while others are missing.
            let shared: Vec<(String, String, String)> = src
                .replace
                .iter()
                .filter_map(|(k, from)| {
                    Some((k.clone(), from.clone(), dst.replace.get(k)?.clone()))
                })
                .collect();
            out.extend(
                token_problems(config, source, target, &shared)
                    .into_iter()
                    .map(|e| match e {
                        ConfigError::Invalid { message, .. } => message,
                        other => other.to_string(),
                    }),
            );
        }
    }
    out
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
        let p = for_migration(&config(), "prod", "uat", &[Pair::new("a", "b")]).unwrap();
        assert_eq!(
            p,
            vec![
                Pair::new("www.wfu.edu", "uat.wfu.edu"),
                Pair::new(".wfu.edu", ".uat.wfu.edu"),
                Pair::new("a", "b")
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

    #[test]
    fn ambiguous_pairs_are_refused() {
        let mut c = config();
        let prod = c.environments.get_mut("prod").unwrap();
        prod.replace.insert("alias".into(), "www.wfu.edu".into());
        let uat = c.environments.get_mut("uat").unwrap();
        uat.replace.insert("alias".into(), "uat2.wfu.edu".into());
        let err = for_migration(&c, "prod", "uat", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("'alias'") && err.contains("'main'"), "{err}");
        // Same value on both sides is not ambiguous.
        c.environments
            .get_mut("uat")
            .unwrap()
            .replace
            .insert("alias".into(), "uat.wfu.edu".into());
        assert_eq!(for_migration(&c, "prod", "uat", &[]).unwrap().len(), 2);
        let extra = |f: &str, t: &str| vec![Pair::new(f, t)];
        assert!(for_migration(&config(), "prod", "uat", &extra("www.wfu.edu", "x")).is_err());
        assert_eq!(
            for_migration(
                &config(),
                "prod",
                "uat",
                &extra("www.wfu.edu", "uat.wfu.edu")
            )
            .unwrap()
            .len(),
            2
        );
        let mut two = extra("a", "b");
        two.extend(extra("a", "c"));
        assert!(for_migration(&config(), "prod", "uat", &two).is_err());
    }

    #[test]
    fn problems_name_both_environments() {
        // prod → dev and uat → dev both lack `subdomains`.
        assert_eq!(problems(&config(), &[]).len(), 2);
        let p = problems(&config(), &["prod".to_string()]);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].contains("environment 'dev' lacks replacement key 'subdomains' that 'prod' has")
        );
        assert!(p[0].contains("prod → dev would be refused"));
    }
}
