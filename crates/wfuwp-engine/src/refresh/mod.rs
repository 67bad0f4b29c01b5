//! What changed since the last migration into a target (docs/state.md, the
//! ledger; README "Nightly refresh"): each site classified from its
//! checksums on both sides now against those the target's ledger recorded
//! when the site was last copied. `--changed-only` copies only what
//! changed; every migration names the sites edited on the target since
//! (drifted), which it would overwrite.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use anyhow::{Context as _, Result};
use serde::Serialize;

use crate::db::discovery::Inventory;
use crate::db::endpoint::Endpoint;
use crate::db::roles;
use crate::ledger::{self, Checksums, LastCopy, MigrationEntry};
use crate::sites::SiteId;

/// Where a site stands against its last copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SiteClass {
    /// Source and target as recorded, same source and rules: nothing to copy.
    Unchanged,
    /// The source's tables changed (see `sourceTables`).
    SourceChanged,
    /// The target's tables were changed since the copy (see `targetTables`).
    TargetDrifted,
    /// Both.
    Both,
    /// Copied with other rules (pairs, users, the target's rule config).
    RulesChanged,
    /// Never copied from this source (or its record is incomplete).
    NeverMigrated,
    /// In the ledger but no longer in the source: left alone.
    DeletedFromSource,
}

impl SiteClass {
    /// Whether the target holds edits a copy of the site would overwrite.
    pub fn is_drifted(self) -> bool {
        matches!(self, SiteClass::TargetDrifted | SiteClass::Both)
    }

    /// Whether `--changed-only` copies the site (drifted ones only with
    /// `--overwrite-drift`).
    pub fn is_copied(self, overwrite_drift: bool) -> bool {
        match self {
            SiteClass::Unchanged | SiteClass::DeletedFromSource => false,
            SiteClass::TargetDrifted | SiteClass::Both => overwrite_drift,
            SiteClass::SourceChanged | SiteClass::RulesChanged | SiteClass::NeverMigrated => true,
        }
    }

    /// The words the plan and `--status` use.
    pub fn words(self) -> &'static str {
        match self {
            SiteClass::Unchanged => "unchanged",
            SiteClass::SourceChanged => "source changed",
            SiteClass::TargetDrifted => "target drifted",
            SiteClass::Both => "source changed, target drifted",
            SiteClass::RulesChanged => "rules changed",
            SiteClass::NeverMigrated => "never migrated",
            SiteClass::DeletedFromSource => "deleted from source",
        }
    }
}

/// One site's classification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SiteCheck {
    /// blog_id
    pub site_id: SiteId,
    /// Its class.
    pub class: SiteClass,
    /// The migration that last copied it (none: never).
    pub since: Option<String>,
    /// Source tables that differ from the record: changed, added, dropped.
    pub source_tables: Vec<String>,
    /// Target tables that differ from the record after that copy's swap.
    pub target_tables: Vec<String>,
}

/// Every selected site classified, with what the checksums cost.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Refresh {
    /// Per site, ascending (sites deleted from the source last).
    pub sites: Vec<SiteCheck>,
    /// Sites per class.
    pub totals: BTreeMap<SiteClass, u64>,
    /// Whether the source was compared too (else only drift was looked
    /// for, and `unchanged` means "not drifted").
    pub source_compared: bool,
    /// Seconds `CHECKSUM TABLE` took on the source (0 when not needed).
    pub source_checksum_seconds: f64,
    /// Seconds `CHECKSUM TABLE` took on the target.
    pub target_checksum_seconds: f64,
}

impl Refresh {
    /// The sites whose target was changed since their last copy.
    pub fn drifted(&self) -> Vec<&SiteCheck> {
        self.sites.iter().filter(|s| s.class.is_drifted()).collect()
    }

    /// The class of `site`.
    pub fn class_of(&self, site: SiteId) -> Option<SiteClass> {
        self.sites
            .iter()
            .find(|s| s.site_id == site && s.class != SiteClass::DeletedFromSource)
            .map(|s| s.class)
    }

    /// One line for the run's output and log: the totals and what the
    /// checksums cost on each side.
    pub fn describe(&self, target: &str) -> String {
        let totals: Vec<String> = self
            .totals
            .iter()
            .map(|(class, n)| format!("{n} {}", class.words()))
            .collect();
        format!(
            "changed only: {}; checksums took {:.2} s on the source, {:.2} s on {target}",
            totals.join(", "),
            self.source_checksum_seconds,
            self.target_checksum_seconds
        )
    }

    /// "12 sites were changed in uat since env-migrate-…: 43, 78, …".
    pub fn drift_sentence(&self, target: &str) -> Option<String> {
        let drifted = self.drifted();
        if drifted.is_empty() {
            return None;
        }
        let since: BTreeSet<&str> = drifted.iter().filter_map(|s| s.since.as_deref()).collect();
        let ids: Vec<String> = drifted.iter().map(|s| s.site_id.to_string()).collect();
        Some(format!(
            "{} site{} {} changed in {target} since {}: {}",
            drifted.len(),
            if drifted.len() == 1 { "" } else { "s" },
            if drifted.len() == 1 { "was" } else { "were" },
            since.into_iter().collect::<Vec<_>>().join(", "),
            ids.join(", ")
        ))
    }
}

/// What [`classify`] compares against.
pub struct Inputs<'a> {
    /// The source side and its tables.
    pub source: (&'a Endpoint, &'a Inventory),
    /// The target side and its tables.
    pub target: (&'a Endpoint, &'a Inventory),
    /// `host:port/database` of the source, as the ledger records it.
    pub source_identity: &'a str,
    /// [`ledger::rules_fingerprint`] of the migration that would run.
    pub rules: &'a str,
    /// The selected sites.
    pub sites: &'a [SiteId],
    /// Whether the source's checksums are needed (`--changed-only`, the
    /// dry run, `--status`); else only drift is looked for.
    pub with_source: bool,
}

/// Classifies the selected sites (and lists the ledger's sites the source
/// no longer has). Reads both databases; writes nothing.
pub async fn classify(inputs: &Inputs<'_>) -> Result<Refresh> {
    let (source_ep, source_inv) = inputs.source;
    let (target_ep, _) = inputs.target;
    let mut target = roles::target(&target_ep.opts)
        .await
        .with_context(|| format!("connecting to {} to read its ledger", target_ep.env))?;
    let ledger = ledger::read(&mut target, &target_ep.database).await?;
    let copies = ledger::last_copies(&mut target, &target_ep.database).await?;
    let selected: BTreeSet<SiteId> = inputs.sites.iter().copied().collect();
    let source_tables: BTreeMap<SiteId, Vec<String>> = selected
        .iter()
        .map(|&id| {
            let names = source_inv
                .site_tables(id)
                .into_iter()
                .map(|t| t.name.clone())
                .collect();
            (id, names)
        })
        .collect();

    // Only what a decision needs is checksummed: the target's recorded
    // tables of sites the ledger knows, the source's selected sites.
    let target_names: Vec<String> = copies
        .iter()
        .filter(|(id, c)| selected.contains(id) && !c.target.is_empty())
        .flat_map(|(_, c)| c.target.keys().cloned())
        .collect();
    let started = Instant::now();
    let target_now = ledger::checksum_tables(&mut target, &target_names)
        .await
        .with_context(|| format!("CHECKSUM TABLE on {}", target_ep.env))?;
    let target_seconds = started.elapsed().as_secs_f64();
    let _ = target.disconnect().await;

    let mut source_now = Checksums::new();
    let mut source_seconds = 0.0;
    if inputs.with_source {
        let names: Vec<String> = source_tables.values().flatten().cloned().collect();
        let mut source = roles::source(&source_ep.opts)
            .await
            .with_context(|| format!("connecting to {}", source_ep.env))?;
        let started = Instant::now();
        source_now = ledger::checksum_tables(&mut source, &names)
            .await
            .with_context(|| format!("CHECKSUM TABLE on {}", source_ep.env))?;
        source_seconds = started.elapsed().as_secs_f64();
        let _ = source.disconnect().await;
    }

    let now = Now {
        source: &source_now,
        target: &target_now,
        with_source: inputs.with_source,
    };
    let mut sites: Vec<SiteCheck> = selected
        .iter()
        .map(|&id| {
            let copy = copies.get(&id);
            let entry = copy.and_then(|c| ledger.migrations.get(&c.migration));
            let basis = (inputs.source_identity, inputs.rules);
            let mut check = judge(id, &source_tables[&id], copy, entry, basis, &now);
            check.since = copy.map(|c| c.migration.clone());
            check
        })
        .collect();
    let source_ids = source_inv.blog_ids();
    sites.extend(
        copies
            .iter()
            .filter(|(id, _)| !source_ids.contains(id) && !selected.contains(id))
            .map(|(&id, c)| SiteCheck {
                site_id: id,
                class: SiteClass::DeletedFromSource,
                since: Some(c.migration.clone()),
                source_tables: Vec::new(),
                target_tables: Vec::new(),
            }),
    );
    let mut totals = BTreeMap::new();
    for s in &sites {
        *totals.entry(s.class).or_insert(0) += 1;
    }
    Ok(Refresh {
        sites,
        totals,
        source_compared: inputs.with_source,
        source_checksum_seconds: round(source_seconds),
        target_checksum_seconds: round(target_seconds),
    })
}

fn round(s: f64) -> f64 {
    (s * 1000.0).round() / 1000.0
}

/// The checksums both sides hold now.
struct Now<'a> {
    source: &'a Checksums,
    target: &'a Checksums,
    with_source: bool,
}

/// One site against its last copy.
fn judge(
    id: SiteId,
    tables: &[String],
    copy: Option<&LastCopy>,
    entry: Option<&MigrationEntry>,
    (source_identity, rules): (&str, &str),
    now: &Now<'_>,
) -> SiteCheck {
    let never = SiteCheck {
        site_id: id,
        class: SiteClass::NeverMigrated,
        since: None,
        source_tables: Vec::new(),
        target_tables: Vec::new(),
    };
    let (Some(copy), Some(entry)) = (copy, entry) else {
        return never;
    };
    // Without the target's checksums the copy may not have gone live as
    // recorded (a kill after the swap): nothing to trust.
    if copy.target.is_empty() || copy.source.is_empty() {
        return never;
    }
    let target_tables = differing(&copy.target, now.target, copy.target.keys());
    let drifted = !target_tables.is_empty();
    let class_for = |source_changed: bool| match (source_changed, drifted) {
        (false, false) => SiteClass::Unchanged,
        (true, false) => SiteClass::SourceChanged,
        (false, true) => SiteClass::TargetDrifted,
        (true, true) => SiteClass::Both,
    };
    let mut check = SiteCheck {
        target_tables,
        ..never
    };
    if entry.source != source_identity {
        // Copied from another source: whatever is live came from elsewhere.
        check.class = match drifted {
            true => SiteClass::TargetDrifted,
            false => SiteClass::NeverMigrated,
        };
        return check;
    }
    if entry.rules.as_deref() != Some(rules) {
        check.class = match drifted {
            true => SiteClass::TargetDrifted,
            false => SiteClass::RulesChanged,
        };
        return check;
    }
    if !now.with_source {
        check.class = class_for(false);
        return check;
    }
    let names: BTreeSet<&String> = tables.iter().chain(copy.source.keys()).collect();
    let current: Checksums = tables
        .iter()
        .map(|t| (t.clone(), now.source.get(t).copied().flatten()))
        .collect();
    check.source_tables = differing(&copy.source, &current, names.into_iter());
    check.class = class_for(!check.source_tables.is_empty());
    check
}

/// Tables among `names` whose checksum in `now` is not the `recorded` one
/// (a table missing on either side differs).
fn differing<'a>(
    recorded: &Checksums,
    now: &Checksums,
    names: impl Iterator<Item = &'a String>,
) -> Vec<String> {
    names
        .filter(|t| match (recorded.get(*t), now.get(*t)) {
            (Some(Some(a)), Some(Some(b))) => a != b,
            _ => true,
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    const ID: &str = "env-migrate-2025-08-17T12-34-56-aaaaaa";

    fn sums(pairs: &[(&str, Option<u64>)]) -> Checksums {
        pairs.iter().map(|(t, s)| (t.to_string(), *s)).collect()
    }

    fn entry(source: &str, rules: &str) -> MigrationEntry {
        MigrationEntry {
            id: ID.into(),
            status: crate::state::MigrationStatus::Completed,
            source: source.into(),
            keeps_backups: true,
            rules: Some(rules.into()),
            bucket: None,
            superseded_by: None,
            started_at: Utc::now(),
            made_live: true,
            kept_backups: true,
        }
    }

    /// Judges site 2 (tables `wp_2_a`, `wp_2_b` recorded with checksums 1
    /// and 2 on the source, 10 and 20 on the target) against `now`.
    fn judged(
        tables: &[&str],
        source: Checksums,
        target: Checksums,
        e: &MigrationEntry,
    ) -> SiteCheck {
        let copy = LastCopy {
            migration: ID.into(),
            source: sums(&[("wp_2_a", Some(1)), ("wp_2_b", Some(2))]),
            target: sums(&[("wp_2_a", Some(10)), ("wp_2_b", Some(20))]),
        };
        let tables: Vec<String> = tables.iter().map(|t| t.to_string()).collect();
        let now = Now {
            source: &source,
            target: &target,
            with_source: true,
        };
        judge(
            2,
            &tables,
            Some(&copy),
            Some(e),
            ("db1:3306/prod", "r1"),
            &now,
        )
    }

    #[test]
    fn each_difference_has_its_class() {
        let same_src = || sums(&[("wp_2_a", Some(1)), ("wp_2_b", Some(2))]);
        let same_dst = || sums(&[("wp_2_a", Some(10)), ("wp_2_b", Some(20))]);
        let e = entry("db1:3306/prod", "r1");
        let ab = ["wp_2_a", "wp_2_b"];
        let c = judged(&ab, same_src(), same_dst(), &e);
        assert_eq!((c.class, c.source_tables.len()), (SiteClass::Unchanged, 0));
        let c = judged(
            &ab,
            sums(&[("wp_2_a", Some(1)), ("wp_2_b", Some(3))]),
            same_dst(),
            &e,
        );
        assert_eq!(
            (c.class, c.source_tables),
            (SiteClass::SourceChanged, vec!["wp_2_b".to_string()])
        );
        // A table added, a table dropped.
        let abc = ["wp_2_a", "wp_2_b", "wp_2_c"];
        let mut more = same_src();
        more.insert("wp_2_c".into(), Some(5));
        let c = judged(&abc, more, same_dst(), &e);
        assert_eq!(c.source_tables, vec!["wp_2_c".to_string()]);
        let c = judged(&["wp_2_a"], sums(&[("wp_2_a", Some(1))]), same_dst(), &e);
        assert_eq!(c.source_tables, vec!["wp_2_b".to_string()]);
        // Drift: a changed or a missing target table.
        let c = judged(
            &ab,
            same_src(),
            sums(&[("wp_2_a", Some(11)), ("wp_2_b", Some(20))]),
            &e,
        );
        assert_eq!(
            (c.class, c.target_tables),
            (SiteClass::TargetDrifted, vec!["wp_2_a".to_string()])
        );
        let c = judged(
            &ab,
            same_src(),
            sums(&[("wp_2_a", Some(10)), ("wp_2_b", None)]),
            &e,
        );
        assert_eq!(c.class, SiteClass::TargetDrifted);
        let c = judged(
            &ab,
            sums(&[("wp_2_a", Some(9)), ("wp_2_b", Some(2))]),
            sums(&[("wp_2_a", Some(11)), ("wp_2_b", Some(20))]),
            &e,
        );
        assert_eq!(c.class, SiteClass::Both);
        // Other rules, another source.
        let c = judged(&ab, same_src(), same_dst(), &entry("db1:3306/prod", "r2"));
        assert_eq!(c.class, SiteClass::RulesChanged);
        let c = judged(&ab, same_src(), same_dst(), &entry("db2:3306/prod", "r1"));
        assert_eq!(c.class, SiteClass::NeverMigrated);
    }

    #[test]
    fn only_drift_and_deleted_sites_stay_without_overwrite() {
        use SiteClass::*;
        let copied: Vec<SiteClass> = [
            Unchanged,
            SourceChanged,
            TargetDrifted,
            Both,
            RulesChanged,
            NeverMigrated,
            DeletedFromSource,
        ]
        .into_iter()
        .filter(|c| c.is_copied(false))
        .collect();
        assert_eq!(copied, [SourceChanged, RulesChanged, NeverMigrated]);
        assert!(
            TargetDrifted.is_copied(true) && Both.is_copied(true) && !Unchanged.is_copied(true)
        );
    }
}
