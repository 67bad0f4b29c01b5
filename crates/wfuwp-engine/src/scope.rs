//! Which sites a new migration covers (docs/cli.md site selection flags).

use std::collections::BTreeSet;

use crate::db::discovery::Site;
use crate::sites::SiteId;
use crate::state::options::MigrationOptions;

/// Why a selection cannot be made.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SelectionError {
    /// `--include-sites` names blog_ids the source does not have.
    #[error("site ids {0} do not exist in the source's blogs table; check them with `wfuwp env-migrate SOURCE TARGET --dry-run`")]
    Unknown(String),
    /// The flags leave no site to migrate.
    #[error("the site selection matches no site of the source (check --include-sites, --exclude-sites, --active-only and --exclude-main-site; --dry-run lists the sites); nothing was done")]
    Empty,
}

/// Whether the options restrict the migration to some sites (partial network upsert).
pub fn is_partial(o: &MigrationOptions) -> bool {
    o.include_sites.is_some() || o.exclude_sites.is_some() || o.active_only || o.exclude_main_site
}

/// The selected blog_ids, ascending.
pub fn select(sites: &[Site], o: &MigrationOptions) -> Result<Vec<SiteId>, SelectionError> {
    if o.network_only {
        return Ok(Vec::new());
    }
    let known: BTreeSet<SiteId> = sites.iter().map(|s| s.id).collect();
    if let Some(inc) = &o.include_sites {
        let missing: Vec<String> = inc
            .0
            .iter()
            .filter(|id| !known.contains(id))
            .map(|id| id.to_string())
            .collect();
        if !missing.is_empty() {
            return Err(SelectionError::Unknown(missing.join(",")));
        }
    }
    let selected: Vec<SiteId> = sites
        .iter()
        .filter(|s| {
            o.include_sites
                .as_ref()
                .is_none_or(|inc| inc.contains(s.id))
        })
        .filter(|s| {
            o.exclude_sites
                .as_ref()
                .is_none_or(|exc| !exc.contains(s.id))
        })
        .filter(|s| !(o.active_only && s.inactive))
        .filter(|s| !(o.exclude_main_site && s.id == 1))
        .map(|s| s.id)
        .collect();
    if selected.is_empty() {
        return Err(SelectionError::Empty);
    }
    Ok(selected)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sites() -> Vec<Site> {
        (1..=5)
            .map(|id| Site {
                id,
                domain: format!("s{id}"),
                path: "/".into(),
                inactive: id == 4,
            })
            .collect()
    }

    #[test]
    fn flags_combine() {
        let mut o = MigrationOptions::default();
        assert_eq!(select(&sites(), &o).unwrap(), vec![1, 2, 3, 4, 5]);
        o.active_only = true;
        o.exclude_main_site = true;
        assert_eq!(select(&sites(), &o).unwrap(), vec![2, 3, 5]);
        o.exclude_sites = Some("3".parse().unwrap());
        assert_eq!(select(&sites(), &o).unwrap(), vec![2, 5]);
        o.include_sites = Some("2".parse().unwrap());
        o.exclude_sites = Some("2".parse().unwrap());
        assert_eq!(select(&sites(), &o), Err(SelectionError::Empty));
        o.exclude_sites = Some("3".parse().unwrap());
        o.include_sites = Some("2,4".parse().unwrap());
        assert_eq!(select(&sites(), &o).unwrap(), vec![2]);
        assert!(is_partial(&o));
        assert!(!is_partial(&MigrationOptions::default()));
    }

    #[test]
    fn unknown_ids_are_refused() {
        let o = MigrationOptions {
            include_sites: Some("2,99".parse().unwrap()),
            ..Default::default()
        };
        assert_eq!(
            select(&sites(), &o),
            Err(SelectionError::Unknown("99".into()))
        );
    }
}
