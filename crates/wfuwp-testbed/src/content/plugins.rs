//! One site's plugin tables: forms, media cache, legacy notes, 404 log.

use super::*;
use crate::insert::{bytes, int, text, uint, TableData, NULL};

impl SiteGen<'_> {
    pub(super) fn plugin_tables(&mut self) -> Vec<TableData> {
        let id = self.site.blog_id;
        let mut out = Vec::new();
        if id == 1 || id.is_multiple_of(3) {
            out.extend(self.gravity_forms());
            if self.opts.personal_data {
                out.extend(self.form_entries());
            }
        }
        if self.opts.log_rows > 0 {
            out.push(self.request_log());
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

    pub(super) fn gravity_forms(&mut self) -> Vec<TableData> {
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

    /// Gravity-Forms-like submissions: an entry per person with the
    /// sender's IP and browser, and their answers (an e-mail address among them).
    pub(super) fn form_entries(&mut self) -> Vec<TableData> {
        let blog = self.site.blog_id;
        let seed = self.opts.seed;
        let mut entry = self.table(
            "gf_entry",
            &[
                "id",
                "form_id",
                "date_created",
                "ip",
                "source_url",
                "user_agent",
                "created_by",
            ],
        );
        let mut meta = self.table(
            "gf_entry_meta",
            &["id", "form_id", "entry_id", "meta_key", "meta_value"],
        );
        for e in 1..=3u64 {
            entry.push(vec![
                uint(e),
                uint(1),
                text(self.date()),
                text(format!("172.16.{}.{e}", blog % 250)),
                text(format!("{}/contact/", self.home())),
                text(format!("Mozilla/5.0 (applicant {blog}-{e})")),
                if e == 2 { NULL } else { uint(1) },
            ]);
            let answers = [
                (
                    "1",
                    format!("applicant{e}.s{blog}.p{seed}@inbox.example.net"),
                ),
                ("2", format!("Applicant {e} — {}", self.words(2))),
                ("3", format!("+1-336-555-{:02}{e:02}", blog % 100)),
            ];
            for (k, (key, value)) in answers.into_iter().enumerate() {
                meta.push(vec![
                    uint(3 * (e - 1) + k as u64 + 1),
                    uint(1),
                    uint(e),
                    text(key),
                    text(value),
                ]);
            }
        }
        vec![entry, meta]
    }

    /// A request log of `log_rows` rows (binary IPs, URLs, browsers).
    pub(super) fn request_log(&mut self) -> TableData {
        let mut t = self.table(
            "wfhits",
            &["id", "ctime", "IP", "statusCode", "URL", "referer", "UA"],
        );
        for i in 1..=u64::from(self.opts.log_rows) {
            let ip: Vec<u8> = (0..16).map(|_| self.rng.u8(..)).collect();
            t.push(vec![
                uint(i),
                text(format!("1700000000.{i:06}")),
                bytes(ip),
                int(if i % 7 == 0 { 404 } else { 200 }),
                text(format!("{}/news/post-{}/?utm={}", self.home(), i % 50, self.words(1))),
                text(format!("https://www.google.com/search?q={}", self.words(2))),
                text("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"),
            ]);
        }
        t
    }

    pub(super) fn media_cache(&mut self) -> TableData {
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

    pub(super) fn legacy_notes(&mut self) -> TableData {
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

    pub(super) fn log_404(&mut self) -> TableData {
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
