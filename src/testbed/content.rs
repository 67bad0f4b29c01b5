//! Row content of one site and of the network tables: realistic WordPress data
//! with everything a migration must get right (URLs in plain, JSON-escaped and
//! PHP-serialized form; multibyte text; NULLs; binary bytes; large values).

use fastrand::Rng;

use super::insert::{bytes, int, text, uint, TableData, NULL};
use super::php::{private, protected, Php};
use super::{NetworkOptions, SiteSpec};

/// Option names whose values are deliberately not valid serialized PHP (a real
/// network has a few); checks that every serialized value parses skip them.
pub const MALFORMED_OPTIONS: &[&str] = &["wfu_malformed_serialized"];

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

    /// Whether this site carries one of the few large values.
    fn has_large(&self) -> bool {
        self.opts.large_values && (self.site.blog_id == 1 || self.site.blog_id.is_multiple_of(40))
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

    // ------------------------------------------------------------ options

    fn options(&mut self) -> TableData {
        let mut t = self.table(
            "options",
            &["option_id", "option_name", "option_value", "autoload"],
        );
        let opts: Vec<(String, String)> = self.option_values();
        for (i, (name, value)) in opts.into_iter().enumerate() {
            let autoload = if i % 5 == 4 { "no" } else { "yes" };
            t.push(vec![
                uint(i as u64 + 1),
                text(name),
                text(value),
                text(autoload),
            ]);
        }
        t
    }

    fn option_values(&mut self) -> Vec<(String, String)> {
        let home = self.home();
        let id = self.site.blog_id;
        let mut v: Vec<(String, String)> = vec![
            ("siteurl".into(), home.clone()),
            ("home".into(), home.clone()),
            (
                "blogname".into(),
                format!("{} — {}", self.site.slug, self.words(3)),
            ),
            ("blogdescription".into(), self.words(6)),
            (
                "admin_email".into(),
                format!("webmaster@{}", self.site.domain),
            ),
            (
                "permalink_structure".into(),
                "/%year%/%monthnum%/%postname%/".into(),
            ),
            ("template".into(), "wfu-theme".into()),
            ("stylesheet".into(), "wfu-theme".into()),
            ("upload_path".into(), String::new()),
            (
                "upload_url_path".into(),
                format!(
                    "https://{}/wp-content/uploads/sites/{id}",
                    self.opts.cdn_host
                ),
            ),
            ("active_plugins".into(), self.active_plugins()),
            (format!("{}user_roles", self.prefix), user_roles()),
            ("widget_text".into(), self.widget_text()),
            ("theme_mods_wfu-theme".into(), self.theme_mods()),
            ("wfu_site_settings".into(), self.settings_object()),
            ("wfu_cached_snippet".into(), self.nested_serialized()),
            ("wfu_json_config".into(), self.json_config()),
            ("wfu_link_map".into(), self.link_map()),
            ("cron".into(), cron()),
            ("_transient_feed_mod_wfu".into(), self.feed_transient()),
            ("rewrite_rules".into(), rewrite_rules()),
            ("WPLANG".into(), String::new()),
            (
                "wfu_footer_html".into(),
                format!("<p>© Wake Forest — <a href=\"{home}/contact/\">Contact</a></p>"),
            ),
        ];
        if id == 1 {
            v.push((
                MALFORMED_OPTIONS[0].into(),
                format!("a:2:{{s:3:\"url\";s:99:\"{home}/broken\";}}"),
            ));
        }
        if self.has_large() {
            v.push(("wfu_large_cache".into(), self.large_serialized()));
        }
        v
    }

    /// A cache keyed by URL (as oEmbed and redirect plugins keep them): the
    /// keys hold tokens that must never be rewritten, the values must.
    fn link_map(&self) -> String {
        let home = self.home();
        Php::map([
            (
                format!("{home}/news/"),
                Php::s(format!("{home}/news/feed/")),
            ),
            (
                format!("https://{}/admissions/", self.opts.main_domain),
                Php::map([("target", Php::s(format!("{home}/apply/")))]),
            ),
        ])
        .serialize()
    }

    fn active_plugins(&self) -> String {
        Php::list(
            [
                "gravityforms/gravityforms.php",
                "amazon-s3-and-cloudfront/wordpress-s3.php",
                "redirection/redirection.php",
            ]
            .map(Php::s),
        )
        .serialize()
    }

    fn widget_text(&mut self) -> String {
        let home = self.home();
        let widget = Php::map([
            ("title", Php::s(self.words(2))),
            (
                "text",
                Php::s(format!(
                    "<a href=\"{home}/apply/\">Apply</a> <img src=\"{}\">",
                    self.cdn_url("w.png")
                )),
            ),
            ("filter", Php::Bool(false)),
            ("visual", Php::Bool(true)),
        ]);
        Php::Array(vec![
            (Php::Int(2), widget),
            (Php::s("_multiwidget"), Php::Int(1)),
        ])
        .serialize()
    }

    fn theme_mods(&mut self) -> String {
        Php::map([
            ("header_image", Php::s(self.cdn_url("header.jpg"))),
            (
                "header_image_data",
                Php::Object {
                    class: "stdClass".into(),
                    props: vec![
                        ("attachment_id".into(), Php::Int(5)),
                        ("url".into(), Php::s(self.upload_url("header.jpg"))),
                        (
                            "thumbnail_url".into(),
                            Php::s(self.s3_url("header-150x150.jpg")),
                        ),
                        ("height".into(), Php::Int(400)),
                        ("ratio".into(), Php::Float(2.5)),
                    ],
                },
            ),
            ("custom_logo", Php::Int(7)),
            (
                "nav_menu_locations",
                Php::map([("primary", Php::Int(2)), ("footer", Php::Int(3))]),
            ),
            ("custom_css_post_id", Php::Int(-1)),
            ("tagline_é", Php::s(self.words(4))),
        ])
        .serialize()
    }

    /// An object with private and protected properties (NUL bytes in their names)
    /// and a nested object and array.
    fn settings_object(&mut self) -> String {
        let class = "WFU_Site_Settings";
        Php::Object {
            class: class.into(),
            props: vec![
                (private(class, "url"), Php::s(self.home())),
                (
                    protected("cdn"),
                    Php::s(format!("https://{}", self.opts.cdn_host)),
                ),
                ("bucket".into(), Php::s(self.opts.bucket.clone())),
                (
                    "main".into(),
                    Php::s(format!("https://{}/", self.opts.main_domain)),
                ),
                (
                    "links".into(),
                    Php::list([
                        Php::s(format!("{}/about/", self.home())),
                        Php::s(format!("http://{}/legacy/", self.site.domain)),
                        Php::s(format!("//{}/protocol-relative/", self.site.domain)),
                        Php::Null,
                        Php::Bool(true),
                    ]),
                ),
                (
                    "inner".into(),
                    Php::Object {
                        class: "stdClass".into(),
                        props: vec![
                            ("title".into(), Php::s(self.words(3))),
                            ("logo".into(), Php::s(self.s3_url("logo.svg"))),
                        ],
                    },
                ),
            ],
        }
        .serialize()
    }

    /// A serialized string whose content is itself serialized (as plugins that
    /// double-serialize store it).
    fn nested_serialized(&mut self) -> String {
        let inner = Php::map([
            ("url", Php::s(format!("{}/snippet/", self.home()))),
            ("label", Php::s(self.words(2))),
            ("cdn", Php::s(self.cdn_url("s.css"))),
        ])
        .serialize();
        Php::Str(inner).serialize()
    }

    fn json_config(&mut self) -> String {
        serde_json::json!({
            "home": self.home(),
            "cdn": format!("https://{}", self.opts.cdn_host),
            "bucket": self.opts.bucket,
            "title": self.words(3),
            "assets": [self.cdn_url("app.js"), self.s3_url("app.css")],
        })
        .to_string()
        .replace('/', "\\/")
    }

    fn feed_transient(&mut self) -> String {
        let items = (0..3)
            .map(|i| {
                Php::map([
                    (
                        "link",
                        Php::s(format!("https://{}/news/item-{i}/", self.opts.main_domain)),
                    ),
                    ("title", Php::s(self.words(4))),
                ])
            })
            .collect::<Vec<_>>();
        Php::list(items).serialize()
    }

    fn large_serialized(&mut self) -> String {
        let mut items = Vec::new();
        let mut size = 0;
        let mut i = 0;
        // The estimate undercounts the serialization overhead; aim 10% higher.
        while size < LARGE + LARGE / 10 {
            let url = format!("{}/cached/page-{i}/ {}", self.home(), self.words(4));
            size += url.len() + 16;
            items.push(Php::s(url));
            i += 1;
        }
        Php::list(items).serialize()
    }

    // ------------------------------------------------------------ posts

    fn posts(&mut self) -> Vec<TableData> {
        let mut posts = self.table("posts", POST_COLUMNS);
        let mut meta = self.table(
            "postmeta",
            &["meta_id", "post_id", "meta_key", "meta_value"],
        );
        let mut comments = self.table("comments", COMMENT_COLUMNS);
        let mut cmeta = self.table(
            "commentmeta",
            &["meta_id", "comment_id", "meta_key", "meta_value"],
        );
        let n = self.opts.posts_per_site as u64;
        for p in 1..=n {
            let id = p * 2 - 1;
            self.post(&mut posts, &mut meta, id);
            // Every other post has an image attachment right after it.
            if p % 2 == 1 {
                self.attachment(&mut posts, &mut meta, id + 1, id);
            }
            if p % 3 != 0 {
                self.comment(&mut comments, &mut cmeta, id);
            }
        }
        vec![posts, meta, comments, cmeta]
    }

    fn post(&mut self, posts: &mut TableData, meta: &mut TableData, id: u64) {
        let big = self.has_large() && id == 1;
        let content = if big {
            self.large_content()
        } else {
            self.block_content(id)
        };
        let draft = id.is_multiple_of(7);
        let (date, gmt) = (
            self.date(),
            if draft {
                ZERO_DATE.to_string()
            } else {
                self.date()
            },
        );
        let slug = format!("post-{id}");
        posts.push(vec![
            uint(id),
            uint(1),
            text(date.clone()),
            text(gmt.clone()),
            text(content),
            text(self.words(5)),
            text(if id.is_multiple_of(4) {
                String::new()
            } else {
                self.words(10)
            }),
            text(if draft { "draft" } else { "publish" }),
            text("open"),
            text("open"),
            text(""),
            text(slug),
            text(""),
            text(format!("{}/pinged/", self.home())),
            text(date),
            text(gmt),
            text(""),
            uint(0),
            text(format!("{}/?p={id}", self.home())),
            int(0),
            text(if id.is_multiple_of(5) { "page" } else { "post" }),
            text(""),
            uint(u64::from(!id.is_multiple_of(3))),
        ]);
        self.post_meta(meta, id);
    }

    /// Gutenberg content: URLs as plain HTML and as JSON-escaped block attributes.
    fn block_content(&mut self, id: u64) -> String {
        let file = format!("img-{id}.jpg");
        let url = self.upload_url(&file);
        let escaped = url.replace('/', "\\/");
        format!(
            "<!-- wp:paragraph -->\n<p>{} <a href=\"{home}/news/post-{id}/\">{}</a> — {}</p>\n<!-- /wp:paragraph -->\n\n\
             <!-- wp:image {{\"id\":{att},\"sizeSlug\":\"large\",\"url\":\"{escaped}\"}} -->\n\
             <figure class=\"wp-block-image size-large\"><img src=\"{cdn}\" alt=\"{}\" class=\"wp-image-{att}\"/></figure>\n\
             <!-- /wp:image -->\n\n\
             <!-- wp:wfu/card {{\"link\":\"https:\\/\\/{main}\\/admissions\\/\",\"bg\":\"{s3esc}\",\"title\":\"\\u00e9t\\u00e9 \\ud83c\\udf93\"}} /-->\n\n\
             <!-- wp:paragraph -->\n<p>Old link: http://{domain}/old/?a=1&amp;b=2 and //{domain}/rel/ mail webmaster@{domain}. {}</p>\n<!-- /wp:paragraph -->",
            self.words(12),
            self.words(3),
            self.words(8),
            self.words(2),
            self.words(20),
            home = self.home(),
            att = id + 1,
            cdn = self.cdn_url(&file),
            main = self.opts.main_domain,
            s3esc = self.s3_url("bg.jpg").replace('/', "\\/"),
            domain = self.site.domain,
        )
    }

    fn large_content(&mut self) -> String {
        let mut s = String::with_capacity(LARGE + 1024);
        let mut i = 0;
        while s.len() < LARGE {
            s.push_str(&self.block_content(1000 + i));
            s.push('\n');
            i += 1;
        }
        s
    }

    fn post_meta(&mut self, meta: &mut TableData, id: u64) {
        let base = id * 10;
        let related = Php::Object {
            class: "stdClass".into(),
            props: vec![
                (
                    "url".into(),
                    Php::s(format!("{}/related/{id}/", self.home())),
                ),
                ("score".into(), Php::Float(0.75)),
                ("tags".into(), Php::list([Php::s("中文"), Php::s("café")])),
            ],
        };
        let rows: Vec<(Option<&str>, Option<String>)> = vec![
            (Some("_edit_lock"), Some(format!("17000{id:05}:1"))),
            (Some("_thumbnail_id"), Some((id + 1).to_string())),
            (Some("wfu_related"), Some(related.serialize())),
            (Some("_wfu_nested"), Some(self.nested_serialized())),
            (Some("_elementor_data"), Some(self.elementor(id))),
            (Some("wfu_empty"), None),
            (None, Some(format!("orphan value {}", self.home()))),
        ];
        for (i, (k, v)) in rows.into_iter().enumerate() {
            meta.push(vec![
                uint(base + i as u64),
                uint(id),
                k.map_or(NULL, text),
                v.map_or(NULL, text),
            ]);
        }
    }

    fn elementor(&mut self, id: u64) -> String {
        serde_json::json!([{
            "id": format!("e{id}"),
            "elType": "widget",
            "settings": {"image": {"url": self.upload_url("el.jpg"), "id": id}, "link": {"url": format!("{}/go/", self.home())}},
            "title": self.words(3),
        }])
        .to_string()
        .replace('/', "\\/")
    }

    fn attachment(&mut self, posts: &mut TableData, meta: &mut TableData, id: u64, parent: u64) {
        let file = format!("img-{parent}.jpg");
        let date = self.date();
        posts.push(vec![
            uint(id),
            uint(1),
            text(date.clone()),
            text(date.clone()),
            text(""),
            text(format!("img-{parent}")),
            text(""),
            text("inherit"),
            text("open"),
            text("closed"),
            text(""),
            text(format!("img-{parent}")),
            text(""),
            text(""),
            text(date.clone()),
            text(date),
            text(""),
            uint(parent),
            text(self.upload_url(&file)),
            int(0),
            text("attachment"),
            text("image/jpeg"),
            uint(0),
        ]);
        let rel = self
            .upload_path(&file)
            .trim_start_matches("wp-content/uploads/")
            .to_string();
        let metadata = Php::map([
            ("width", Php::Int(1200)),
            ("height", Php::Int(800)),
            ("file", Php::s(rel.clone())),
            ("filesize", Php::Int(183_221)),
            (
                "sizes",
                Php::map([(
                    "thumbnail",
                    Php::map([
                        ("file", Php::s(format!("img-{parent}-150x150.jpg"))),
                        ("width", Php::Int(150)),
                        ("height", Php::Int(150)),
                        ("mime-type", Php::s("image/jpeg")),
                    ]),
                )]),
            ),
            (
                "image_meta",
                Php::map([
                    ("caption", Php::s(self.words(3))),
                    ("credit", Php::s("Ken Bennett")),
                    ("aperture", Php::s("0")),
                ]),
            ),
        ]);
        let s3 = Php::map([
            ("provider", Php::s("aws")),
            ("region", Php::s("us-east-1")),
            ("bucket", Php::s(self.opts.bucket.clone())),
            ("key", Php::s(self.upload_path(&file))),
            ("url", Php::s(self.s3_url(&file))),
        ]);
        let base = id * 10;
        let rows = [
            ("_wp_attached_file", rel),
            ("_wp_attachment_metadata", metadata.serialize()),
            ("amazonS3_info", s3.serialize()),
            ("_wp_attachment_image_alt", self.words(3)),
        ];
        for (i, (k, v)) in rows.into_iter().enumerate() {
            meta.push(vec![uint(base + i as u64), uint(id), text(k), text(v)]);
        }
    }

    fn comment(&mut self, comments: &mut TableData, cmeta: &mut TableData, post: u64) {
        let id = post;
        let date = self.date();
        comments.push(vec![
            uint(id),
            uint(post),
            text(format!("Zoë {}", self.words(1))),
            text(format!("reader{id}@example.com")),
            text(format!("https://{}/people/{id}/", self.opts.main_domain)),
            text("192.0.2.1"),
            text(date.clone()),
            text(date),
            text(format!(
                "{} see {}/news/post-{post}/ 👍",
                self.words(9),
                self.home()
            )),
            int(0),
            text(if id.is_multiple_of(5) { "spam" } else { "1" }),
            text("Mozilla/5.0"),
            text("comment"),
            uint(0),
            uint(0),
        ]);
        let history = Php::list([Php::map([
            ("time", Php::Float(1_700_000_000.25)),
            ("event", Php::s("check-ham")),
            ("user", Php::s("")),
        ])]);
        cmeta.push(vec![
            uint(id),
            uint(id),
            text("akismet_history"),
            text(history.serialize()),
        ]);
    }

    // ------------------------------------------------------------ terms, links

    fn terms(&mut self) -> Vec<TableData> {
        let mut terms = self.table("terms", &["term_id", "name", "slug", "term_group"]);
        let mut tax = self.table(
            "term_taxonomy",
            &[
                "term_taxonomy_id",
                "term_id",
                "taxonomy",
                "description",
                "parent",
                "count",
            ],
        );
        let mut rel = self.table(
            "term_relationships",
            &["object_id", "term_taxonomy_id", "term_order"],
        );
        let mut meta = self.table(
            "termmeta",
            &["meta_id", "term_id", "meta_key", "meta_value"],
        );
        let names = [
            ("Uncategorized", "category"),
            ("Événements", "category"),
            ("研究", "post_tag"),
            ("Athletics 🏈", "post_tag"),
        ];
        for (i, (name, taxonomy)) in names.iter().enumerate() {
            let id = i as u64 + 1;
            terms.push(vec![
                uint(id),
                text(*name),
                text(format!("term-{id}")),
                int(0),
            ]);
            let desc = format!(
                "{} <a href=\"{}/topics/term-{id}/\">more</a>",
                self.words(4),
                self.home()
            );
            tax.push(vec![
                uint(id),
                uint(id),
                text(*taxonomy),
                text(desc),
                uint(0),
                int(0),
            ]);
            let m = Php::map([
                ("icon", Php::s(self.cdn_url("icon.png"))),
                ("order", Php::Int(id as i64)),
            ]);
            meta.push(vec![
                uint(id),
                uint(id),
                text("wfu_term_meta"),
                text(m.serialize()),
            ]);
        }
        for p in 1..=self.opts.posts_per_site as u64 {
            rel.push(vec![uint(p * 2 - 1), uint(1 + p % 4), int(0)]);
        }
        vec![terms, tax, rel, meta]
    }

    fn links(&mut self) -> TableData {
        let mut t = self.table("links", LINK_COLUMNS);
        for id in 1..=2u64 {
            let date = self.date();
            t.push(vec![
                uint(id),
                text(format!("https://{}/link-{id}/", self.opts.main_domain)),
                text(self.words(2)),
                text(""),
                text("_blank"),
                text(self.words(4)),
                text("Y"),
                uint(1),
                int(0),
                text(date),
                text(""),
                text(format!("notes {}", self.home())),
                text(""),
            ]);
        }
        t
    }

    // ------------------------------------------------------------ plugin tables

    fn plugin_tables(&mut self) -> Vec<TableData> {
        let id = self.site.blog_id;
        let mut out = Vec::new();
        if id == 1 || id.is_multiple_of(3) {
            out.extend(self.gravity_forms());
        }
        if id == 1 || id.is_multiple_of(4) {
            out.push(self.media_cache());
        }
        if id == 1 || id.is_multiple_of(5) {
            out.push(self.legacy_notes());
        }
        if id == 1 {
            out.push(self.log_404());
        }
        out
    }

    fn gravity_forms(&mut self) -> Vec<TableData> {
        let mut form = self.table(
            "gf_form",
            &[
                "id",
                "title",
                "date_created",
                "date_updated",
                "is_active",
                "is_trash",
            ],
        );
        let mut meta = self.table(
            "gf_form_meta",
            &[
                "form_id",
                "display_meta",
                "entries_grid_meta",
                "confirmations",
                "notifications",
                "settings",
            ],
        );
        for fid in 1..=2u64 {
            let updated = if fid == 1 { NULL } else { text(self.date()) };
            form.push(vec![
                uint(fid),
                text(format!("Contact — {}", self.words(2))),
                text(self.date()),
                updated,
                int(1),
                int(0),
            ]);
            let display = serde_json::json!({
                "title": "Contact",
                "fields": [{"type": "html", "content": format!("<a href=\"{}/privacy/\">Privacy</a> ✓", self.home())}],
                "button": {"imageUrl": self.cdn_url("btn.png")},
            })
            .to_string()
            .replace('/', "\\/");
            let confirmations = serde_json::json!({"c1": {"type": "redirect", "url": format!("{}/thanks/", self.home())}}).to_string();
            let settings = serde_json::json!({"bucket": self.opts.bucket, "notify": format!("forms@{}", self.site.domain)}).to_string();
            meta.push(vec![
                uint(fid),
                text(display),
                NULL,
                text(confirmations),
                text("[]"),
                text(settings),
            ]);
        }
        vec![form, meta]
    }

    fn media_cache(&mut self) -> TableData {
        let mut t = self.table("wfu_media_cache", &["id", "url", "hash", "thumb", "extra"]);
        for i in 1..=3u64 {
            let hash: Vec<u8> = (0..16).map(|_| self.rng.u8(..)).collect();
            // Random bytes around the domain's ASCII: must come through unchanged.
            let mut thumb: Vec<u8> = (0..512).map(|_| self.rng.u8(..)).collect();
            thumb.extend_from_slice(self.site.domain.as_bytes());
            thumb.extend((0..64).map(|_| self.rng.u8(..)));
            let extra = if i == 2 {
                NULL
            } else {
                bytes((0..32).map(|_| self.rng.u8(..)).collect())
            };
            t.push(vec![
                uint(i),
                text(self.cdn_url(&format!("m{i}.jpg"))),
                bytes(hash),
                bytes(thumb),
                extra,
            ]);
        }
        if self.has_large() {
            let blob: Vec<u8> = (0..LARGE).map(|_| self.rng.u8(..)).collect();
            t.push(vec![
                uint(4),
                text(self.upload_url("big.bin")),
                bytes(vec![0; 16]),
                bytes(blob),
                NULL,
            ]);
        }
        t
    }

    fn legacy_notes(&mut self) -> TableData {
        let mut t = self.table("legacy_notes", &["id", "note", "url"]);
        t.push(vec![
            uint(1),
            text("Café crème — naïve façade"),
            text(format!("{}/legacy/", self.home())),
        ]);
        t.push(vec![
            uint(2),
            text(format!("See http://{}/old/", self.site.domain)),
            text(""),
        ]);
        t
    }

    fn log_404(&mut self) -> TableData {
        let mut t = self.table(
            "404_log",
            &[
                "id",
                "url",
                "referrer",
                "hits",
                "user_agent",
                "last_seen",
                "status",
                "flags",
            ],
        );
        let rows = [
            ("open", "bot,https"),
            ("redirected", ""),
            ("ignored", "mobile"),
        ];
        for (i, (status, flags)) in rows.iter().enumerate() {
            let referrer = if i == 1 {
                NULL
            } else {
                text(format!("https://{}/from/{i}", self.opts.main_domain))
            };
            t.push(vec![
                uint(i as u64 + 1),
                text(format!("{}/missing/{i}/é", self.home())),
                referrer,
                uint(i as u64 + 1),
                if i == 2 { NULL } else { text("Googlebot/2.1") },
                text(self.date()),
                text(*status),
                text(*flags),
            ]);
        }
        t
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

fn user_roles() -> String {
    let caps = |names: &[&str]| Php::map(names.iter().map(|n| (*n, Php::Bool(true))));
    Php::map([
        (
            "administrator",
            Php::map([
                ("name", Php::s("Administrator")),
                (
                    "capabilities",
                    caps(&[
                        "switch_themes",
                        "edit_posts",
                        "manage_options",
                        "upload_files",
                    ]),
                ),
            ]),
        ),
        (
            "editor",
            Php::map([
                ("name", Php::s("Editor")),
                ("capabilities", caps(&["edit_posts", "upload_files"])),
            ]),
        ),
        (
            "subscriber",
            Php::map([
                ("name", Php::s("Subscriber")),
                ("capabilities", caps(&["read"])),
            ]),
        ),
    ])
    .serialize()
}

fn cron() -> String {
    let event = Php::map([
        ("schedule", Php::s("hourly")),
        ("args", Php::Array(vec![])),
        ("interval", Php::Int(3600)),
    ]);
    Php::Array(vec![
        (
            Php::Int(1_700_003_600),
            Php::map([(
                "wp_version_check",
                Php::map([("40cd750bba9870f18aada2478b24840a", event)]),
            )]),
        ),
        (Php::s("version"), Php::Int(2)),
    ])
    .serialize()
}

fn rewrite_rules() -> String {
    let rules = (0..40).map(|i| {
        (
            format!("category/(.+?)/page/?([0-9]{{1,}})/?${i}"),
            Php::s(format!(
                "index.php?category_name=$matches[1]&paged=$matches[{i}]"
            )),
        )
    });
    Php::map(rules).serialize()
}

/// The network tables' rows.
pub fn network_tables(opts: &NetworkOptions, sites: &[SiteSpec]) -> Vec<TableData> {
    let mut rng = Rng::with_seed(opts.seed);
    let p = &opts.table_prefix;
    let mut out = Vec::new();
    let mut site = TableData::new(format!("{p}site"), &["id", "domain", "path"]);
    site.push(vec![uint(1), text(opts.main_domain.clone()), text("/")]);
    out.push(site);
    out.push(sitemeta(opts));
    out.extend(blogs(opts, sites));
    out.extend(users(opts, sites, &mut rng));
    out.extend(signups(opts, sites));
    out
}

fn sitemeta(opts: &NetworkOptions) -> TableData {
    let p = &opts.table_prefix;
    let main = &opts.main_domain;
    let mut t = TableData::new(
        format!("{p}sitemeta"),
        &["meta_id", "site_id", "meta_key", "meta_value"],
    );
    let s3 = Php::map([
        ("bucket", Php::s(opts.bucket.clone())),
        ("region", Php::s("us-east-1")),
        ("cloudfront", Php::s(opts.cdn_host.clone())),
        ("enable-delivery-domain", Php::Bool(true)),
    ]);
    let rows: Vec<(&str, String)> = vec![
        ("site_name", "Wake Forest University — Sites".into()),
        ("admin_email", format!("webmaster@{main}")),
        ("admin_user_id", "1".into()),
        ("registration", "none".into()),
        ("upload_filetypes", "jpg jpeg png gif pdf".into()),
        ("blog_upload_space", "100".into()),
        ("fileupload_maxk", "1500".into()),
        ("site_admins", Php::list([Php::s("admin")]).serialize()),
        (
            "allowedthemes",
            Php::map([("wfu-theme", Php::Bool(true))]).serialize(),
        ),
        (
            "illegal_names",
            Php::list(["www", "web", "root", "admin"].map(Php::s)).serialize(),
        ),
        ("wpmu_upgrade_site", "57155".into()),
        (
            "welcome_email",
            format!("Welcome to your new site at SITE_URL on https://{main}/ — enjoy!"),
        ),
        ("siteurl", format!("https://{main}/")),
        (
            "active_sitewide_plugins",
            Php::map([(
                "amazon-s3-and-cloudfront/wordpress-s3.php",
                Php::Int(1_700_000_000),
            )])
            .serialize(),
        ),
        ("subdomain_install", "1".into()),
        ("ms_files_rewriting", "0".into()),
        ("tantan_wordpress_s3", s3.serialize()),
        ("wfu_network_note", "Réseau 中文 🎓".into()),
    ];
    for (i, (k, v)) in rows.into_iter().enumerate() {
        t.push(vec![uint(i as u64 + 1), uint(1), text(k), text(v)]);
    }
    t
}

fn blogs(opts: &NetworkOptions, sites: &[SiteSpec]) -> Vec<TableData> {
    let p = &opts.table_prefix;
    let mut blogs = TableData::new(
        format!("{p}blogs"),
        &[
            "blog_id",
            "site_id",
            "domain",
            "path",
            "registered",
            "last_updated",
            "public",
            "archived",
            "mature",
            "spam",
            "deleted",
            "lang_id",
        ],
    );
    let mut meta = TableData::new(
        format!("{p}blogmeta"),
        &["meta_id", "blog_id", "meta_key", "meta_value"],
    );
    for (i, s) in sites.iter().enumerate() {
        blogs.push(vec![
            uint(s.blog_id),
            uint(1),
            text(s.domain.clone()),
            text("/"),
            text("2019-08-01 12:00:00"),
            text("2024-03-01 09:30:00"),
            int(i64::from(s.public)),
            int(i64::from(s.archived)),
            int(0),
            int(i64::from(s.spam)),
            int(i64::from(s.deleted)),
            int(0),
        ]);
        meta.push(vec![
            uint(2 * i as u64 + 1),
            uint(s.blog_id),
            text("db_version"),
            text("57155"),
        ]);
        meta.push(vec![
            uint(2 * i as u64 + 2),
            uint(s.blog_id),
            text("db_last_updated"),
            text("1700000000"),
        ]);
    }
    vec![blogs, meta]
}

fn users(opts: &NetworkOptions, sites: &[SiteSpec], rng: &mut Rng) -> Vec<TableData> {
    let p = &opts.table_prefix;
    let mut users = TableData::new(
        format!("{p}users"),
        &[
            "ID",
            "user_login",
            "user_pass",
            "user_nicename",
            "user_email",
            "user_url",
            "user_registered",
            "user_activation_key",
            "user_status",
            "display_name",
            "spam",
            "deleted",
        ],
    );
    let mut meta = TableData::new(
        format!("{p}usermeta"),
        &["umeta_id", "user_id", "meta_key", "meta_value"],
    );
    let count = (sites.len() as u64 / 2).max(3);
    let mut mid = 0;
    for u in 1..=count {
        let login = if u == 1 {
            "admin".to_string()
        } else {
            format!("user{u}")
        };
        let hash: String = (0..30).map(|_| rng.alphanumeric()).collect();
        users.push(vec![
            uint(u),
            text(login.clone()),
            text(format!("$P$B{hash}")),
            text(login.clone()),
            text(format!("{login}@wfu.edu")),
            text(format!("https://{}/~{login}/", opts.main_domain)),
            text("2020-01-15 10:00:00"),
            text(""),
            int(0),
            text(format!("Ünïcödé {login} 中文")),
            int(0),
            int(0),
        ]);
        let site = &sites[(u as usize - 1) % sites.len()];
        let caps_key = format!("{}capabilities", site_prefix(p, site.blog_id));
        let rows: Vec<(String, Option<String>)> = vec![
            ("nickname".into(), Some(login.clone())),
            ("first_name".into(), Some("Zoë".into())),
            (
                caps_key,
                Some(Php::map([("administrator", Php::Bool(true))]).serialize()),
            ),
            ("primary_blog".into(), Some(site.blog_id.to_string())),
            ("source_domain".into(), Some(site.domain.clone())),
            ("session_tokens".into(), Some(session_tokens(&site.domain))),
            ("wfu_unset".into(), None),
        ];
        for (k, v) in rows {
            mid += 1;
            meta.push(vec![uint(mid), uint(u), text(k), v.map_or(NULL, text)]);
        }
    }
    vec![users, meta]
}

fn session_tokens(domain: &str) -> String {
    Php::map([(
        "f3b1c2",
        Php::map([
            ("expiration", Php::Int(1_800_000_000)),
            ("ip", Php::s("192.0.2.10")),
            ("ua", Php::s("Mozilla/5.0 (X11; Linux x86_64)")),
            ("login", Php::Int(1_700_000_000)),
            ("referer", Php::s(format!("https://{domain}/wp-admin/"))),
        ]),
    )])
    .serialize()
}

fn signups(opts: &NetworkOptions, sites: &[SiteSpec]) -> Vec<TableData> {
    let p = &opts.table_prefix;
    let mut signups = TableData::new(
        format!("{p}signups"),
        &[
            "signup_id",
            "domain",
            "path",
            "title",
            "user_login",
            "user_email",
            "registered",
            "activated",
            "active",
            "activation_key",
            "meta",
        ],
    );
    for i in 1..=3u64 {
        let domain = format!("pending{i}{}", opts.subdomain_suffix);
        let meta = if i == 2 {
            NULL
        } else {
            text(
                Php::map([
                    ("lang_id", Php::Int(1)),
                    ("public", Php::Int(1)),
                    ("home", Php::s(format!("https://{domain}"))),
                ])
                .serialize(),
            )
        };
        signups.push(vec![
            uint(i),
            text(domain),
            text("/"),
            text(format!("Pending site {i} — café")),
            text(format!("pending{i}")),
            text(format!("pending{i}@wfu.edu")),
            text("2024-01-01 00:00:00"),
            text(ZERO_DATE),
            int(0),
            text(format!("key{i:08}")),
            meta,
        ]);
    }
    let mut log = TableData::new(
        format!("{p}registration_log"),
        &["ID", "email", "IP", "blog_id", "date_registered"],
    );
    for (i, s) in sites.iter().filter(|s| s.blog_id != 1).enumerate() {
        log.push(vec![
            uint(i as u64 + 1),
            text(format!("owner@{}", s.domain)),
            text("192.0.2.1"),
            uint(s.blog_id),
            text("2020-02-02 02:02:02"),
        ]);
    }
    vec![signups, log]
}
