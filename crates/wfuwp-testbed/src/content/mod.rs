//! Row content of one site and of the network tables: realistic WordPress data
//! with everything a migration must get right (URLs in plain, JSON-escaped and
//! PHP-serialized form; multibyte text; NULLs; binary bytes; large values).

use fastrand::Rng;

use super::insert::TableData;
use super::{NetworkOptions, SiteSpec};

/// Option names whose values are deliberately not exactly one valid
/// serialized PHP value (a real network has a few): the first does not
/// parse at all (main site only), the second is a valid value followed by
/// junk (every site). Checks that every serialized value parses skip them.
pub const MALFORMED_OPTIONS: &[&str] = &["wfu_malformed_serialized", "wfu_trailing_junk"];

/// Size of each large value (when large values are on): just over 1 MiB.
const LARGE: usize = (1 << 20) + 4096;

const WORDS: &[&str] = &[
    "Wake",
    "Forest",
    "research",
    "campus",
    "students",
    "faculty",
    "library",
    "biology",
    "café",
    "naïve",
    "résumé",
    "Ünïcödé",
    "中文",
    "研究",
    "大学",
    "日本語",
    "한국어",
    "Ελληνικά",
    "emoji🎓",
    "🦌",
    "Deacons",
    "the",
    "of",
    "and",
    "news",
    "events",
    "admissions",
    "alumni",
    "“quoted”",
    "it's",
    "O'Brien",
    "50%",
    "C:\\path",
    "tab\there",
];

/// Everything needed to generate one site's rows deterministically.
pub struct SiteGen<'a> {
    /// The network options.
    pub opts: &'a NetworkOptions,
    /// The site.
    pub site: &'a SiteSpec,
    /// Prefix of this site's tables (`wp_` for the main site, `wp_N_` otherwise).
    pub prefix: String,
    /// The site's own random stream.
    pub rng: Rng,
}

impl<'a> SiteGen<'a> {
    /// A generator for `site`, seeded from the network seed and the blog id.
    pub fn new(opts: &'a NetworkOptions, site: &'a SiteSpec) -> Self {
        let prefix = site_prefix(&opts.table_prefix, site.blog_id);
        let rng = Rng::with_seed(opts.seed ^ site.blog_id.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        SiteGen {
            opts,
            site,
            prefix,
            rng,
        }
    }

    fn table(&self, suffix: &str, columns: &[&'static str]) -> TableData {
        TableData::new(format!("{}{suffix}", self.prefix), columns)
    }

    fn home(&self) -> String {
        format!("https://{}", self.site.domain)
    }

    /// Path of an upload below `wp-content/uploads` (multisite layout).
    fn upload_path(&self, file: &str) -> String {
        if self.site.blog_id == 1 {
            format!("wp-content/uploads/2024/03/{file}")
        } else {
            format!(
                "wp-content/uploads/sites/{}/2024/03/{file}",
                self.site.blog_id
            )
        }
    }

    fn upload_url(&self, file: &str) -> String {
        format!("{}/{}", self.home(), self.upload_path(file))
    }

    fn cdn_url(&self, file: &str) -> String {
        format!("https://{}/{}", self.opts.cdn_host, self.upload_path(file))
    }

    fn s3_url(&self, file: &str) -> String {
        format!(
            "https://{}.s3.amazonaws.com/{}",
            self.opts.bucket,
            self.upload_path(file)
        )
    }

    fn words(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| WORDS[self.rng.usize(..WORDS.len())])
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn date(&mut self) -> String {
        format!(
            "20{:02}-{:02}-{:02} {:02}:{:02}:{:02}",
            self.rng.u32(15..25),
            self.rng.u32(1..13),
            self.rng.u32(1..29),
            self.rng.u32(0..24),
            self.rng.u32(0..60),
            self.rng.u32(0..60)
        )
    }

    /// Whether this site carries one of the few large values: the main site,
    /// the first site after it (whose domain, unlike the main site's,
    /// changes length under the usual pairs, and so the values' lengths),
    /// and every 40th blog id.
    fn has_large(&self) -> bool {
        self.opts.large_values && (self.site.blog_id <= 2 || self.site.blog_id.is_multiple_of(40))
    }

    /// All tables of the site, with rows.
    pub fn tables(mut self) -> Vec<TableData> {
        let mut out = vec![self.options()];
        out.extend(self.posts());
        out.extend(self.terms());
        out.push(self.links());
        out.extend(self.plugin_tables());
        out
    }
}

/// Prefix of the tables of `blog_id` under the network prefix.
pub fn site_prefix(table_prefix: &str, blog_id: u64) -> String {
    if blog_id == 1 {
        table_prefix.to_string()
    } else {
        format!("{table_prefix}{blog_id}_")
    }
}

const ZERO_DATE: &str = "0000-00-00 00:00:00";

const POST_COLUMNS: &[&str] = &[
    "ID",
    "post_author",
    "post_date",
    "post_date_gmt",
    "post_content",
    "post_title",
    "post_excerpt",
    "post_status",
    "comment_status",
    "ping_status",
    "post_password",
    "post_name",
    "to_ping",
    "pinged",
    "post_modified",
    "post_modified_gmt",
    "post_content_filtered",
    "post_parent",
    "guid",
    "menu_order",
    "post_type",
    "post_mime_type",
    "comment_count",
];

const COMMENT_COLUMNS: &[&str] = &[
    "comment_ID",
    "comment_post_ID",
    "comment_author",
    "comment_author_email",
    "comment_author_url",
    "comment_author_IP",
    "comment_date",
    "comment_date_gmt",
    "comment_content",
    "comment_karma",
    "comment_approved",
    "comment_agent",
    "comment_type",
    "comment_parent",
    "user_id",
];

const LINK_COLUMNS: &[&str] = &[
    "link_id",
    "link_url",
    "link_name",
    "link_image",
    "link_target",
    "link_description",
    "link_visible",
    "link_owner",
    "link_rating",
    "link_updated",
    "link_rel",
    "link_notes",
    "link_rss",
];

mod network;
mod options;
mod plugins;
mod posts;

pub use network::network_tables;
