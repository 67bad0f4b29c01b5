//! One site's `options` table: serialized, JSON and plain values.

use super::*;
use crate::insert::{text, uint, TableData};
use crate::php::{private, protected, Php};

impl SiteGen<'_> {
    pub(super) fn options(&mut self) -> TableData {
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

    pub(super) fn option_values(&mut self) -> Vec<(String, String)> {
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
            ("wfu_legacy_cache".into(), self.legacy_cache()),
            ("wfu_status_map".into(), self.status_map()),
            ("wfu_nested_widgets".into(), self.nested_widgets()),
            (MALFORMED_OPTIONS[1].into(), self.trailing_junk()),
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
    pub(super) fn link_map(&self) -> String {
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

    pub(super) fn active_plugins(&self) -> String {
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

    pub(super) fn widget_text(&mut self) -> String {
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

    pub(super) fn theme_mods(&mut self) -> String {
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
    pub(super) fn settings_object(&mut self) -> String {
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
    pub(super) fn nested_serialized(&mut self) -> String {
        let inner = Php::map([
            ("url", Php::s(format!("{}/snippet/", self.home()))),
            ("label", Php::s(self.words(2))),
            ("cdn", Php::s(self.cdn_url("s.css"))),
        ])
        .serialize();
        Php::Str(inner).serialize()
    }

    /// An object of a class that writes its own payload (`C:`), as plugins
    /// written for PHP < 7.4 stored them: the payload's strings are data.
    pub(super) fn legacy_cache(&self) -> String {
        Php::Custom {
            class: "WFU_Legacy_Cache".into(),
            payload: Box::new(Php::map([
                ("url", Php::s(format!("{}/legacy-cache/", self.home()))),
                (
                    "assets",
                    Php::list([Php::s(self.cdn_url("c.js")), Php::s(self.s3_url("c.css"))]),
                ),
                ("note", Php::s("Café — 中文")),
            ])),
        }
        .serialize()
    }

    /// Enum cases (`E:`) next to strings: a case names code, never data.
    pub(super) fn status_map(&self) -> String {
        let case = |case: &str| Php::Enum {
            class: "WFU_Status".into(),
            case: case.into(),
        };
        Php::map([
            ("status", case("Live")),
            ("url", Php::s(format!("{}/status/", self.home()))),
            ("history", Php::list([case("Draft"), case("Archived")])),
        ])
        .serialize()
    }

    /// Serialized data in a string of an array in a string: three levels.
    pub(super) fn nested_widgets(&self) -> String {
        let innermost = Php::Object {
            class: "stdClass".into(),
            props: vec![("link".into(), Php::s(self.cdn_url("w.svg")))],
        }
        .serialize();
        let inner = Php::map([
            ("url", Php::s(format!("{}/nested/", self.home()))),
            ("inner", Php::Str(innermost)),
        ])
        .serialize();
        Php::map([("widget", Php::Str(inner)), ("count", Php::Int(1))]).serialize()
    }

    /// A valid value followed by bytes that are not part of it (PHP's
    /// `unserialize` ignores them; a value cut and pasted together looks so).
    pub(super) fn trailing_junk(&self) -> String {
        let value = Php::map([("url", Php::s(format!("{}/cached/", self.home())))]).serialize();
        format!(
            "{value}{{\"from\":\"https:\\/\\/{}\\/\"}}",
            self.site.domain
        )
    }

    pub(super) fn json_config(&mut self) -> String {
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

    pub(super) fn feed_transient(&mut self) -> String {
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

    pub(super) fn large_serialized(&mut self) -> String {
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
}

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
