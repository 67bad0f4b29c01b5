//! Site ids (WordPress `blog_id`s) and the `--include-sites` / `--exclude-sites` lists.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// A WordPress `blog_id`.
pub type SiteId = u64;

/// A set of site ids given as `1,43,78` or with ranges `10-20`.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct SiteSelector(pub BTreeSet<SiteId>);

impl SiteSelector {
    /// Whether `id` is in the set.
    pub fn contains(&self, id: SiteId) -> bool {
        self.0.contains(&id)
    }
}

impl FromStr for SiteSelector {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut ids = BTreeSet::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let parse = |x: &str| {
                x.trim().parse::<SiteId>().map_err(|_| {
                    format!("'{x}' is not a site id; use blog_ids such as 1,43,78 or ranges such as 10-20")
                })
            };
            match part.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (parse(a)?, parse(b)?);
                    if a > b {
                        return Err(format!("range '{part}' is backwards; write it as {b}-{a}"));
                    }
                    if b - a > 1_000_000 {
                        return Err(format!("range '{part}' is implausibly large"));
                    }
                    ids.extend(a..=b);
                }
                None => {
                    ids.insert(parse(part)?);
                }
            }
        }
        if ids.is_empty() {
            return Err(
                "no site ids given; use blog_ids such as 1,43,78 or ranges such as 10-20".into(),
            );
        }
        Ok(SiteSelector(ids))
    }
}

impl fmt::Display for SiteSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|id| id.to_string()).collect();
        f.write_str(&parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lists_and_ranges() {
        let s: SiteSelector = "1, 43,10-12".parse().unwrap();
        assert_eq!(s.0.into_iter().collect::<Vec<_>>(), vec![1, 10, 11, 12, 43]);
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "a", "1,b", "5-2", "-3", "1-"] {
            assert!(bad.parse::<SiteSelector>().is_err(), "{bad}");
        }
    }
}
