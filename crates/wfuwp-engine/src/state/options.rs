//! What a migration was created with (`migration-config.json`) and what a run asks for.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::model::Selection;
use crate::sites::{SiteId, SiteSelector};
use wfuwp_replace::Pair;

/// Format version of `migration-config.json`.
pub const CONFIG_VERSION: u32 = 1;

/// The options fixed at creation (docs/phases.md: selection and pairs never change on resume).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MigrationOptions {
    /// `--include-sites`
    pub include_sites: Option<SiteSelector>,
    /// `--exclude-sites`
    pub exclude_sites: Option<SiteSelector>,
    /// `--active-only`
    pub active_only: bool,
    /// `--exclude-main-site`
    pub exclude_main_site: bool,
    /// `--include-users`
    pub include_users: bool,
    /// `--no-users`: a migration of some sites does not bring their users
    /// along (docs/phases.md). Fixed at creation, so a resume behaves alike.
    pub no_users: bool,
    /// `--network-only`
    pub network_only: bool,
    /// `--sites-only`
    pub sites_only: bool,
    /// `--skip-backup`
    pub skip_backup: bool,
    /// `--keep-files`
    pub keep_files: bool,
    /// `--skip-media`: uploads are not copied even when both sides configure media.
    pub skip_media: bool,
    /// `--media-only`: uploads only, no database work for the selected sites.
    pub media_only: bool,
    /// `--media-delete`: target objects of a site that the source lacks are deleted.
    pub media_delete: bool,
    /// Every replacement pair in effect (config tokens and `--replace`), in order.
    pub replacements: Vec<Pair>,
    /// `--exclude-tables`: tables created empty, besides the target's
    /// `exclude_tables` (docs/scrub.md).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exclude_tables: Vec<String>,
    /// `--concurrency` at creation (absent in files that predate it: a
    /// resume then uses the config's or the built-in default).
    pub concurrency: Option<u32>,
    /// `--timeout` at creation, in minutes.
    pub timeout_minutes: Option<f64>,
    /// `--max-retries` at creation.
    pub max_retries: Option<u32>,
    /// `--changed-only`: sites whose source and target are as the target's
    /// ledger recorded are left alone (`unchanged`), drifted ones too
    /// unless `overwrite_drift`.
    pub changed_only: bool,
    /// `--overwrite-drift`: sites edited on the target since their last
    /// copy are copied over all the same.
    pub overwrite_drift: bool,
    /// Each selected site's hosts and the host each gets on the target
    /// (docs/hosts.md); the pairs that give them are in `replacements`.
    pub hosts: Vec<SiteHost>,
    /// `--allow-unmapped-hosts`: sites without a target host are migrated anyway.
    pub allow_unmapped_hosts: bool,
    /// `--fail-on-leftovers`: a site whose copy still mentions the source
    /// is not swapped in and fails as `data` (docs/hosts.md).
    pub fail_on_leftovers: bool,
}

/// One host of a site (its `blogs` domain, the host of its `home` or
/// `siteurl`, a mapped domain) and the host it gets on the target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SiteHost {
    /// The site.
    pub site_id: SiteId,
    /// The host in the source.
    pub source: String,
    /// The host on the target; `None` when nothing changes it.
    pub target: Option<String>,
    /// What gives it: `pairs`, `domains`, `template`, or `none`.
    pub by: String,
}

/// `migration-config.json`: source, target, options and a fingerprint per environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MigrationConfig {
    /// [`CONFIG_VERSION`]
    pub version: u32,
    /// The migration's id.
    pub migration_id: String,
    /// Source environment name.
    pub source_env: String,
    /// Target environment name.
    pub target_env: String,
    /// Creation time.
    pub created: DateTime<Utc>,
    /// Options fixed at creation.
    pub options: MigrationOptions,
    /// `crate::config::fingerprint::of` per environment name, at creation.
    pub fingerprints: BTreeMap<String, String>,
}

/// What [`super::Session::create`] needs.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NewMigration {
    /// Source environment name.
    pub source: String,
    /// Target environment name.
    pub target: String,
    /// Options fixed at creation.
    pub options: MigrationOptions,
    /// Fingerprint per environment name.
    pub fingerprints: BTreeMap<String, String>,
    /// The selected sites, in processing order (duplicates are dropped).
    pub sites: Vec<SiteId>,
    /// Sites decided before the run (`--changed-only`: `unchanged`,
    /// `drifted`): recorded so at creation and never processed.
    pub decided: BTreeMap<SiteId, super::model::SiteStatus>,
}

/// What [`super::Session::resume`] needs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResumeRequest {
    /// `--skip-failed`
    pub skip_failed: bool,
    /// `--skip-timeouts`
    pub skip_timeouts: bool,
    /// `--retry-failed`
    pub retry_failed: bool,
    /// `--force`: resume even though the configuration fingerprint changed.
    pub force: bool,
    /// Fingerprints of the environments now. Compared with those recorded at
    /// creation; an empty map skips the comparison.
    pub fingerprints: BTreeMap<String, String>,
}

impl ResumeRequest {
    /// The site selection flags.
    pub fn selection(&self) -> Selection {
        Selection {
            skip_failed: self.skip_failed,
            skip_timeouts: self.skip_timeouts,
            retry_failed: self.retry_failed,
        }
    }
}

/// Environments whose fingerprint differs between `recorded` and `now`, each
/// with the fields that changed: `uat (replacement key 'cdn')`.
pub fn fingerprint_mismatches(
    recorded: &BTreeMap<String, String>,
    now: &BTreeMap<String, String>,
) -> Vec<String> {
    if now.is_empty() {
        return Vec::new();
    }
    let mut names: Vec<String> = recorded.keys().chain(now.keys()).cloned().collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .filter_map(|n| {
            let what = match (recorded.get(&n), now.get(&n)) {
                (Some(r), Some(c)) => crate::config::fingerprint::changes(r, c).join(", "),
                (Some(_), None) => "no longer compared".into(),
                (None, _) => "not recorded at creation".into(),
            };
            (!what.is_empty()).then(|| format!("{n} ({what})"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn mismatches_name_the_changed_environments() {
        let rec = map(&[("prod", "1"), ("uat", "2")]);
        assert!(fingerprint_mismatches(&rec, &rec).is_empty());
        assert!(fingerprint_mismatches(&rec, &BTreeMap::new()).is_empty());
        let changed = fingerprint_mismatches(&rec, &map(&[("prod", "1"), ("uat", "3")]));
        assert_eq!(changed.len(), 1);
        assert!(changed[0].starts_with("uat ("), "{changed:?}");
        assert_eq!(
            fingerprint_mismatches(&rec, &map(&[("prod", "1")])),
            vec!["uat (no longer compared)"]
        );
    }

    #[test]
    fn config_uses_camel_case() {
        let c = MigrationConfig {
            version: CONFIG_VERSION,
            migration_id: "x".into(),
            source_env: "prod".into(),
            target_env: "uat".into(),
            created: Utc::now(),
            options: MigrationOptions {
                include_users: true,
                ..Default::default()
            },
            fingerprints: BTreeMap::new(),
        };
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["options"]["includeUsers"], true);
        assert!(v.get("sourceEnv").is_some());
        assert_eq!(serde_json::from_value::<MigrationConfig>(v).unwrap(), c);
    }
}
