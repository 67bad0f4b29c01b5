//! Which keys belong to a site, following WordPress multisite's uploads
//! layout: site N keeps its files under `wp-content/uploads/sites/N/`, the
//! main site (blog_id 1) directly under `wp-content/uploads/`, where
//! `sites/` holds everyone else's and is not the main site's.

use crate::sites::SiteId;

/// The main site's blog_id.
pub const MAIN_SITE: SiteId = 1;

/// Where a bucket's uploads start, after the configured prefix.
const UPLOADS: &str = "wp-content/uploads/";

/// One site's part of a bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteKeys {
    /// Prefix every key of the site starts with (what to list).
    pub prefix: String,
    /// Keys under `prefix` that are not the site's (the main site's `sites/`).
    pub exclude: Option<String>,
}

impl SiteKeys {
    /// Site `site` in a bucket whose uploads sit under `bucket_prefix`.
    pub fn of(bucket_prefix: &str, site: SiteId) -> SiteKeys {
        if site == MAIN_SITE {
            let prefix = format!("{bucket_prefix}{UPLOADS}");
            SiteKeys {
                exclude: Some(format!("{prefix}sites/")),
                prefix,
            }
        } else {
            SiteKeys {
                prefix: format!("{bucket_prefix}{UPLOADS}sites/{site}/"),
                exclude: None,
            }
        }
    }

    /// Whether `key` (a full key in the bucket) belongs to the site.
    pub fn contains(&self, key: &str) -> bool {
        key.starts_with(&self.prefix)
            && !matches!(&self.exclude, Some(x) if key.starts_with(x.as_str()))
    }

    /// The part of `key` after the site's prefix (same in every bucket).
    pub fn relative<'k>(&self, key: &'k str) -> Option<&'k str> {
        self.contains(key)
            .then(|| key.strip_prefix(self.prefix.as_str()))
            .flatten()
    }
}

/// Where a migration's backups of target objects go: `<prefix>wfuwp-backups/<id>/`.
pub fn backup_prefix(bucket_prefix: &str, migration_id: &str) -> String {
    format!("{bucket_prefix}wfuwp-backups/{migration_id}/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subsite_owns_its_sites_folder_only() {
        let k = SiteKeys::of("", 43);
        assert_eq!(k.prefix, "wp-content/uploads/sites/43/");
        assert!(k.contains("wp-content/uploads/sites/43/2024/01/a b.jpg"));
        assert!(!k.contains("wp-content/uploads/sites/430/x.jpg"));
        assert!(!k.contains("wp-content/uploads/sites/4/x.jpg"));
        assert!(!k.contains("wp-content/uploads/x.jpg"));
        assert_eq!(
            k.relative("wp-content/uploads/sites/43/2024/ü.png"),
            Some("2024/ü.png")
        );
    }

    #[test]
    fn the_main_site_owns_uploads_without_sites() {
        let k = SiteKeys::of("pre/", MAIN_SITE);
        assert!(k.contains("pre/wp-content/uploads/2024/01/x.jpg"));
        assert!(k.contains("pre/wp-content/uploads/sitesX.jpg"));
        assert!(!k.contains("pre/wp-content/uploads/sites/2/x.jpg"));
        assert!(!k.contains("wp-content/uploads/2024/x.jpg"));
        assert!(!k.contains("pre/wfuwp-backups/m/wp-content/uploads/x.jpg"));
        assert_eq!(k.relative("pre/wp-content/uploads/a.jpg"), Some("a.jpg"));
    }

    #[test]
    fn backups_live_beside_the_uploads() {
        assert_eq!(backup_prefix("p/", "m1"), "p/wfuwp-backups/m1/");
    }
}
