//! Site addresses: the `domain` + `path` of a site's `blogs` row, by which
//! WordPress finds the site a request is for. A migrated site is reachable
//! only when the target's `blogs` has its row with the address its content
//! expects, and no other site of the target has the same address (WordPress
//! would then serve one of the two for both).
//!
//! Addresses are compared as WordPress's lookup compares them with the
//! column's default (case-insensitive, PAD SPACE) collation: ASCII case and
//! trailing spaces do not count. Comparing here rather than in SQL keeps
//! the check free of the two servers' collations, which may differ.

use std::collections::BTreeMap;

use mysql_async::prelude::*;
use mysql_async::Conn;

use wfuwp_replace::Replacer;

use crate::db::discovery::Site;
use crate::db::sql::ident;
use crate::sites::SiteId;
use crate::tables::swap::existing_tables;

/// A site's `domain` and `path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// `blogs.domain`
    pub domain: String,
    /// `blogs.path`
    pub path: String,
}

impl Address {
    /// The address the source's `site` row gets in the target (replacements applied).
    pub fn in_target(site: &Site, replacer: &Replacer) -> Address {
        let replaced = |s: &str| {
            String::from_utf8_lossy(&replacer.replace_value(s.as_bytes()).value).into_owned()
        };
        Address {
            domain: replaced(&site.domain),
            path: replaced(&site.path),
        }
    }

    /// What WordPress's lookup tells apart: equal keys, one address.
    pub fn key(&self) -> (String, String) {
        let norm = |s: &str| s.trim_end_matches(' ').to_ascii_lowercase();
        (norm(&self.domain), norm(&self.path))
    }

    /// Whether WordPress would take the two for one address.
    pub fn same_as(&self, other: &Address) -> bool {
        self.key() == other.key()
    }
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}", self.domain, self.path)
    }
}

/// Every row of the target's `{prefix}blogs`, by blog_id; none when the
/// table does not exist.
pub async fn target_blogs(
    target: &mut Conn,
    prefix: &str,
) -> mysql_async::Result<BTreeMap<SiteId, Address>> {
    let blogs = format!("{prefix}blogs");
    if !existing_tables(target, std::slice::from_ref(&blogs))
        .await?
        .contains(&blogs)
    {
        return Ok(BTreeMap::new());
    }
    let rows: Vec<(SiteId, Vec<u8>, Vec<u8>)> = target
        .query(format!(
            "SELECT blog_id, domain, path FROM {}",
            ident(&blogs)
        ))
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, domain, path)| {
            (
                id,
                Address {
                    domain: String::from_utf8_lossy(&domain).into_owned(),
                    path: String::from_utf8_lossy(&path).into_owned(),
                },
            )
        })
        .collect())
}

/// A site whose address another site would share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shared {
    /// The site being migrated.
    pub site: SiteId,
    /// Its address in the target.
    pub address: Address,
    /// The other site with that address.
    pub other: SiteId,
    /// Whether the other site is one the target keeps (not one being migrated too).
    pub other_kept: bool,
}

/// The sites of `incoming` (blog_id → address in the target) whose address,
/// once their rows are written, another site of the target would share:
/// a row of `target` that stays (its blog_id is not incoming), or another
/// incoming site.
pub fn shared(
    incoming: &BTreeMap<SiteId, Address>,
    target: &BTreeMap<SiteId, Address>,
) -> Vec<Shared> {
    // Every site of the target once the rows are written, by address key:
    // the rows that stay first, then the incoming ones.
    let mut by_key: BTreeMap<(String, String), Vec<(SiteId, bool)>> = BTreeMap::new();
    for (&id, a) in target.iter().filter(|(id, _)| !incoming.contains_key(id)) {
        by_key.entry(a.key()).or_default().push((id, true));
    }
    for (&id, a) in incoming {
        by_key.entry(a.key()).or_default().push((id, false));
    }
    let mut out = Vec::new();
    for (&site, address) in incoming {
        let other = by_key
            .get(&address.key())
            .and_then(|sites| sites.iter().find(|(id, _)| *id != site));
        if let Some(&(other, other_kept)) = other {
            out.push(Shared {
                site,
                address: address.clone(),
                other,
                other_kept,
            });
        }
    }
    out
}

/// The message a site fails with when its address is another site's.
pub fn shared_message(s: &Shared, source_env: &str, target_env: &str) -> String {
    let whose = if s.other_kept {
        format!("blog_id {} of {target_env}", s.other)
    } else {
        format!("blog_id {}, also migrated from {source_env}", s.other)
    };
    format!(
        "site {} was not migrated: its address {} in {target_env} (domain and path of its {source_env} blogs row, \
         replacements applied) is also the address of {whose}, and WordPress would serve only one of the two \
         sites there. Nothing of site {} was written. Give one of them another domain or path (or delete the \
         {target_env} site if it is not needed), then run `wfuwp env-migrate --resume <ID> --retry-failed`",
        s.site, s.address, s.site
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(domain: &str, path: &str) -> Address {
        Address {
            domain: domain.into(),
            path: path.into(),
        }
    }

    #[test]
    fn addresses_compare_as_wordpress_finds_sites() {
        assert!(a("Bio.uat.wfu.edu", "/").same_as(&a("bio.uat.wfu.edu", "/ ")));
        assert!(!a("bio.uat.wfu.edu", "/").same_as(&a("bio.uat.wfu.edu", "/x/")));
        assert_eq!(
            a("bio.uat.wfu.edu", "/x/").to_string(),
            "bio.uat.wfu.edu/x/"
        );
    }

    #[test]
    fn only_rows_that_stay_or_come_in_count() {
        let incoming: BTreeMap<SiteId, Address> = [
            (5, a("bio.uat.wfu.edu", "/")),
            (6, a("chem.uat.wfu.edu", "/")),
            (8, a("law.uat.wfu.edu", "/")),
            (9, a("LAW.uat.wfu.edu", "/")),
        ]
        .into();
        let target: BTreeMap<SiteId, Address> = [
            (5, a("old.uat.wfu.edu", "/")),
            (6, a("bio.uat.wfu.edu", "/")),
            (7, a("chem.uat.wfu.edu", "/")),
        ]
        .into();
        let found: Vec<(SiteId, SiteId, bool)> = shared(&incoming, &target)
            .into_iter()
            .map(|s| (s.site, s.other, s.other_kept))
            .collect();
        // 5 takes bio from 6, which gets chem: 6's old row does not stay.
        // chem stays with 7; law comes in twice.
        assert_eq!(found, [(6, 7, true), (8, 9, false), (9, 8, false)]);
    }
}
