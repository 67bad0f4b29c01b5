//! One site's posts, post meta, attachments, comments, terms and links.

use super::*;
use crate::insert::{int, text, uint, TableData, NULL};
use crate::php::Php;

impl SiteGen<'_> {
    pub(super) fn posts(&mut self) -> Vec<TableData> {
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

    pub(super) fn post(&mut self, posts: &mut TableData, meta: &mut TableData, id: u64) {
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
    pub(super) fn block_content(&mut self, id: u64) -> String {
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

    pub(super) fn large_content(&mut self) -> String {
        let mut s = String::with_capacity(LARGE + 1024);
        let mut i = 0;
        while s.len() < LARGE {
            s.push_str(&self.block_content(1000 + i));
            s.push('\n');
            i += 1;
        }
        s
    }

    pub(super) fn post_meta(&mut self, meta: &mut TableData, id: u64) {
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

    pub(super) fn elementor(&mut self, id: u64) -> String {
        serde_json::json!([{
            "id": format!("e{id}"),
            "elType": "widget",
            "settings": {"image": {"url": self.upload_url("el.jpg"), "id": id}, "link": {"url": format!("{}/go/", self.home())}},
            "title": self.words(3),
        }])
        .to_string()
        .replace('/', "\\/")
    }

    pub(super) fn attachment(
        &mut self,
        posts: &mut TableData,
        meta: &mut TableData,
        id: u64,
        parent: u64,
    ) {
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

    pub(super) fn comment(&mut self, comments: &mut TableData, cmeta: &mut TableData, post: u64) {
        let id = post;
        let date = self.date();
        let blog = self.site.blog_id;
        let (email, ip, agent) = match self.opts.personal_data {
            true => (
                format!("reader{id}.s{blog}.p{}@people.example.net", self.opts.seed),
                format!("100.64.{}.{}", blog % 250, id % 250),
                format!("Mozilla/5.0 (reader {blog}-{id})"),
            ),
            false => (
                format!("reader{id}@example.com"),
                "192.0.2.1".to_string(),
                "Mozilla/5.0".to_string(),
            ),
        };
        comments.push(vec![
            uint(id),
            uint(post),
            text(format!("Zoë {}", self.words(1))),
            text(email),
            text(format!("https://{}/people/{id}/", self.opts.main_domain)),
            text(ip),
            text(date.clone()),
            text(date),
            text(format!(
                "{} see {}/news/post-{post}/ 👍",
                self.words(9),
                self.home()
            )),
            int(0),
            text(if id.is_multiple_of(5) { "spam" } else { "1" }),
            text(agent),
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

    pub(super) fn terms(&mut self) -> Vec<TableData> {
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

    pub(super) fn links(&mut self) -> TableData {
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
}
