//! A target host for every site (docs/hosts.md): preflight reads each
//! selected site's hosts in the source (its `blogs` domain, the hosts of its
//! `home` and `siteurl`, the domains a `domain_mapping` table maps to it),
//! works out the host each gets on the target through the replacement pairs,
//! the target's `domains` map and its `domain_template`, and names the sites
//! that would keep a source host or share one.
//!
//! * [`read`] — the hosts, from the source database.

pub mod read;

use std::collections::{BTreeMap, BTreeSet};

use wfuwp_replace::leftovers::Scanner;
use wfuwp_replace::{Pair, Replacer};

use crate::config::{hosts as rules, Environment};
use crate::sites::SiteId;
use crate::state::{MigrationOptions, SiteHost};

/// What preflight worked out for the selected sites' hosts.
#[derive(Debug, Clone, Default)]
pub struct HostPlan {
    /// Every host of every selected site, with its target host.
    pub hosts: Vec<SiteHost>,
    /// The pairs the `domains` map and the template add (after the others).
    pub pairs: Vec<Pair>,
    /// Two sites that would share a target host, one sentence each.
    pub collisions: Vec<String>,
}

impl HostPlan {
    /// The hosts nothing changes: their sites would claim the source's host.
    pub fn unmapped(&self) -> Vec<&SiteHost> {
        self.hosts.iter().filter(|h| h.target.is_none()).collect()
    }

    /// Why a run is refused, or `None` (`allow_unmapped`: `--allow-unmapped-hosts`).
    pub fn refusal(&self, target_env: &str, allow_unmapped: bool) -> Option<String> {
        let mut out = Vec::new();
        let unmapped = self.unmapped();
        if !unmapped.is_empty() && !allow_unmapped {
            let list = unmapped
                .iter()
                .map(|h| format!("site {} ({})", h.site_id, h.source))
                .collect::<Vec<_>>()
                .join(", ");
            out.push(format!(
                "{} host(s) of the selected sites would stay the source's on '{target_env}', since no \
                 replacement pair changes them: {list}. Nothing was written. Give each a host: \
                 `\"{}\" = \"…\"` in [environments.{target_env}.domains], or a \
                 `domain_template = \"{{slug}}.…\"` in [environments.{target_env}] (see `--dry-run`); or run \
                 with --allow-unmapped-hosts to migrate them as they are.",
                unmapped.len(),
                unmapped[0].source
            ));
        }
        if !self.collisions.is_empty() {
            out.push(format!(
                "{} Nothing was written. Give one of them another host in [environments.{target_env}.domains].",
                self.collisions.join(" ")
            ));
        }
        (!out.is_empty()).then(|| out.join("\n"))
    }
}

/// The plan for `sites` (each site's hosts in the source, its `blogs`
/// domain first) migrated with `pairs` into `target`. A `domains` entry
/// that contradicts a pair is refused (only one could win).
pub fn plan(
    target: &Environment,
    pairs: &[Pair],
    sites: &BTreeMap<SiteId, Vec<String>>,
) -> Result<HostPlan, String> {
    let tokens = Replacer::new(pairs).map_err(|e| e.to_string())?;
    let mut added: Vec<Pair> = Vec::new();
    for (from, to) in &target.domains {
        if let Some(p) = pairs.iter().find(|p| &p.from == from && &p.to != to) {
            return Err(format!(
                "[environments.{}.domains] \"{from}\" = \"{to}\" contradicts the replacement pair \
                 {from} → {}; only one could win. Remove one of them.",
                target.name, p.to
            ));
        }
        if from != to && !pairs.iter().any(|p| &p.from == from) {
            added.push(Pair::new(from, to));
        }
    }
    let mut by: BTreeMap<&str, &str> = BTreeMap::new();
    for (id, hosts) in sites {
        for h in hosts {
            let rule = if target.domains.contains_key(h) {
                "domains"
            } else if changes(&tokens, h) {
                "pairs"
            } else if let Some(t) = target
                .domain_template
                .as_deref()
                .and_then(|t| rules::render(t, h, *id))
                .filter(|t| t != h)
            {
                if !added.iter().any(|p| &p.from == h) {
                    added.push(Pair::new(h, t));
                }
                "template"
            } else {
                "none"
            };
            by.entry(h).or_insert(rule);
        }
    }
    let all: Vec<Pair> = pairs.iter().chain(&added).cloned().collect();
    let full = Replacer::new(&all).map_err(|e| e.to_string())?;
    let mut hosts = Vec::new();
    for (&id, list) in sites {
        for h in list {
            let to = String::from_utf8_lossy(&full.replace_value(h.as_bytes()).value).into_owned();
            let changed = to != *h;
            let rule = match changed {
                true => by.get(h.as_str()).copied().unwrap_or("pairs"),
                false => "none",
            };
            hosts.push(SiteHost {
                site_id: id,
                source: h.clone(),
                target: changed.then_some(to),
                by: rule.to_string(),
            });
        }
    }
    let collisions = collisions(&hosts);
    Ok(HostPlan {
        hosts,
        pairs: added,
        collisions,
    })
}

fn changes(r: &Replacer, host: &str) -> bool {
    r.replace_value(host.as_bytes()).changed()
}

/// Target hosts that two sites would reach from different source hosts
/// (a subdirectory network's sites share one host in both, which is fine).
fn collisions(hosts: &[SiteHost]) -> Vec<String> {
    let mut by_target: BTreeMap<String, BTreeSet<(SiteId, String)>> = BTreeMap::new();
    for h in hosts {
        if let Some(t) = &h.target {
            by_target
                .entry(t.to_ascii_lowercase())
                .or_default()
                .insert((h.site_id, h.source.to_ascii_lowercase()));
        }
    }
    by_target
        .into_iter()
        .filter_map(|(target, claims)| {
            let sites: BTreeSet<SiteId> = claims.iter().map(|c| c.0).collect();
            let sources: BTreeSet<&String> = claims.iter().map(|c| &c.1).collect();
            (sites.len() > 1 && sources.len() > 1).then(|| {
                let who = claims
                    .iter()
                    .map(|(id, s)| format!("site {id} ({s})"))
                    .collect::<Vec<_>>()
                    .join(" and ");
                format!("{who} would all get the host {target} on the target.")
            })
        })
        .collect()
}

/// The leftover audit of a migration with `options` (docs/hosts.md): every
/// pair's FROM and every source host of its sites is looked for; every TO
/// and every target host hides what lies inside it.
pub fn scanner(options: &MigrationOptions) -> Scanner {
    let sources: Vec<&str> = options
        .replacements
        .iter()
        .map(|p| p.from.as_str())
        .chain(options.hosts.iter().map(|h| h.source.as_str()))
        .collect();
    let targets: Vec<&str> = options
        .replacements
        .iter()
        .map(|p| p.to.as_str())
        .chain(options.hosts.iter().filter_map(|h| h.target.as_deref()))
        .collect();
    Scanner::new(&sources, &targets)
}

/// The host of a URL (`https://host:port/path` → `host`), if it has one.
pub fn host_of(url: &str) -> Option<&str> {
    let rest = match url.split_once("://") {
        Some((_, r)) => r,
        None => url.strip_prefix("//")?,
    };
    let end = rest.find(['/', ':', '?', '#']).unwrap_or(rest.len());
    let host = &rest[..end];
    (!host.is_empty()).then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(template: Option<&str>, domains: &[(&str, &str)]) -> Environment {
        let mut text = String::from("host=\"h\"\nuser=\"u\"\ndatabase=\"d\"\n");
        if let Some(t) = template {
            text.push_str(&format!("domain_template = \"{t}\"\n"));
        }
        text.push_str("[domains]\n");
        for (f, t) in domains {
            text.push_str(&format!("\"{f}\" = \"{t}\"\n"));
        }
        let mut e: Environment = toml::from_str(&text).unwrap();
        e.name = "uat".into();
        e
    }

    fn sites(list: &[(SiteId, &[&str])]) -> BTreeMap<SiteId, Vec<String>> {
        list.iter()
            .map(|(id, h)| (*id, h.iter().map(|s| s.to_string()).collect()))
            .collect()
    }

    #[test]
    fn every_host_gets_one_from_pairs_map_or_template() {
        let pairs = [
            Pair::new("www.wfu.edu", "uat.wfu.edu"),
            Pair::new(".wfu.edu", ".uat.wfu.edu"),
        ];
        let t = target(
            Some("{slug}.uat.wfu.edu"),
            &[("www.mag.com", "magazine.uat.wfu.edu")],
        );
        let p = plan(
            &t,
            &pairs,
            &sites(&[
                (1, &["www.wfu.edu"]),
                (2, &["www.mag.com"]),
                (3, &["giving.alumni.org"]),
                (4, &["www.club.com", "club.wfu.edu"]),
            ]),
        )
        .unwrap();
        let got: Vec<(SiteId, &str, Option<&str>, &str)> = p
            .hosts
            .iter()
            .map(|h| {
                (
                    h.site_id,
                    h.source.as_str(),
                    h.target.as_deref(),
                    h.by.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (1, "www.wfu.edu", Some("uat.wfu.edu"), "pairs"),
                (2, "www.mag.com", Some("magazine.uat.wfu.edu"), "domains"),
                (
                    3,
                    "giving.alumni.org",
                    Some("giving.uat.wfu.edu"),
                    "template"
                ),
                (4, "www.club.com", None, "none"),
                (4, "club.wfu.edu", Some("club.uat.wfu.edu"), "pairs"),
            ]
        );
        assert_eq!(p.unmapped().len(), 1);
        let why = p.refusal("uat", false).unwrap();
        assert!(
            why.contains("site 4 (www.club.com)") && why.contains("domain_template"),
            "{why}"
        );
        assert!(p.refusal("uat", true).is_none());
    }

    #[test]
    fn two_sites_on_one_target_host_are_named() {
        let t = target(
            None,
            &[("a.com", "x.uat.wfu.edu"), ("b.com", "x.uat.wfu.edu")],
        );
        let p = plan(&t, &[], &sites(&[(2, &["a.com"]), (3, &["b.com"])])).unwrap();
        assert_eq!(p.collisions.len(), 1, "{:?}", p.collisions);
        assert!(p
            .refusal("uat", true)
            .unwrap()
            .contains("site 2 (a.com) and site 3 (b.com)"));
    }

    #[test]
    fn hosts_of_urls() {
        assert_eq!(host_of("https://www.wfu.edu/x"), Some("www.wfu.edu"));
        assert_eq!(host_of("http://a.b:8080"), Some("a.b"));
        assert_eq!(host_of("//cdn.x/y"), Some("cdn.x"));
        assert_eq!(host_of("nothing"), None);
    }
}
