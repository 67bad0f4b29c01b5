//! The network tables' rows: blogs, blogmeta, site, sitemeta, users, signups.

use fastrand::Rng;

use super::*;
use crate::insert::{int, text, uint, TableData, NULL};
use crate::php::Php;
use crate::{NetworkOptions, SiteSpec};

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
    if opts.domain_mapping {
        out.push(domain_mapping(opts, sites));
    }
    out
}

/// The WPMU Domain Mapping / Mercator table: one active row per vanity site.
fn domain_mapping(opts: &NetworkOptions, sites: &[SiteSpec]) -> TableData {
    let p = &opts.table_prefix;
    let mut t = TableData::new(
        format!("{p}domain_mapping"),
        &["id", "blog_id", "domain", "active"],
    );
    let vanity = sites
        .iter()
        .filter(|s| opts.vanity_domains.contains(&s.domain));
    for (i, s) in vanity.enumerate() {
        t.push(vec![
            uint(i as u64 + 1),
            uint(s.blog_id),
            text(s.domain.clone()),
            int(1),
        ]);
    }
    t
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
        let email = match opts.personal_data {
            true => personal_email(&login, "mail", opts.seed),
            false => format!("{login}@wfu.edu"),
        };
        users.push(vec![
            uint(u),
            text(login.clone()),
            text(format!("$P$B{hash}")),
            text(login.clone()),
            text(email),
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
        let rows = match opts.personal_data {
            true => personal_usermeta(rows, &login, u, &site.domain, opts.seed, rng),
            false => rows,
        };
        for (k, v) in rows {
            mid += 1;
            meta.push(vec![uint(mid), uint(u), text(k), v.map_or(NULL, text)]);
        }
    }
    vec![users, meta]
}

/// A personal address no other generated value contains.
fn personal_email(login: &str, kind: &str, seed: u64) -> String {
    format!("{login}.{kind}{seed}@people.example.net")
}

/// The usermeta of a user with personal data: the standard rows with a
/// session of the user's own (token, IP), plus the places WordPress and
/// WooCommerce keep more of it.
fn personal_usermeta(
    mut rows: Vec<(String, Option<String>)>,
    login: &str,
    u: u64,
    domain: &str,
    seed: u64,
    rng: &mut Rng,
) -> Vec<(String, Option<String>)> {
    let token: String = (0..64)
        .map(|_| char::from_digit(rng.u32(0..16), 16).unwrap_or('0'))
        .collect();
    let app_hash: String = (0..31).map(|_| rng.alphanumeric()).collect();
    let ip = format!("198.51.100.{}", u % 250);
    for (k, v) in rows.iter_mut() {
        if k == "session_tokens" {
            *v = Some(
                Php::map([(
                    token.as_str(),
                    Php::map([
                        ("expiration", Php::Int(1_800_000_000)),
                        ("ip", Php::s(ip.clone())),
                        ("ua", Php::s(format!("Mozilla/5.0 (personal {u})"))),
                        ("login", Php::Int(1_700_000_000)),
                        ("referer", Php::s(format!("https://{domain}/wp-admin/"))),
                    ]),
                )])
                .serialize(),
            );
        }
    }
    let more: Vec<(&str, String)> = vec![
        ("billing_email", personal_email(login, "billing", seed)),
        ("billing_phone", format!("+1-336-555-{:04}", u % 10_000)),
        ("shipping_address_1", format!("{u} Reynolda Rd")),
        (
            "_application_passwords",
            Php::list([Php::map([
                ("uuid", Php::s(format!("0000-{u}"))),
                ("name", Php::s("laptop")),
                ("password", Php::s(format!("$P$B{app_hash}"))),
                ("last_ip", Php::s(format!("203.0.113.{}", u % 250))),
            ])])
            .serialize(),
        ),
        (
            "community-events-location",
            Php::map([("ip", Php::s(format!("203.0.114.{}", u % 250)))]).serialize(),
        ),
        ("_new_email", personal_email(login, "new", seed)),
    ];
    rows.extend(more.into_iter().map(|(k, v)| (k.to_string(), Some(v))));
    rows
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
