//! A target host for every site (docs/hosts.md): vanity domains given a
//! host by the target's `domains` map or its `domain_template`, one given
//! none (listed by `--dry-run`, refused by a run), a `domain_mapping` table
//! rewritten through the same pairs. The expected hosts and pairs are
//! written here by hand; the PHP oracle judges every value.

use crate::oracle;
use crate::support::*;

use wfuwp_testbed::NetworkOptions;

/// The vanity sites: blog ids 2, 3 and 4 (the first sites after the main one).
const MAGAZINE: &str = "www.wakeforestmagazine.com";
const GIVING: &str = "giving.wfualumni.org";
const CLUB: &str = "www.deaconsclub.com";

/// Hosts given by hand, and what the template gives `giving.wfualumni.org`.
const MAGAZINE_UAT: &str = "magazine.uat.wfu.edu";
const GIVING_UAT: &str = "giving.uat.wfu.edu";
const CLUB_UAT: &str = "deacons.uat.wfu.edu";

fn vanity_network() -> NetworkOptions {
    NetworkOptions {
        sites: 7,
        posts_per_site: 3,
        concurrency: 2,
        vanity_domains: vec![MAGAZINE.into(), GIVING.into(), CLUB.into()],
        domain_mapping: true,
        ..NetworkOptions::default()
    }
}

/// A config: prod = `src`; uat = `dst` with the template and `domains`.
fn config(
    dir: &std::path::Path,
    src: &TestDb,
    dst: &TestDb,
    domains: &[(&str, &str)],
) -> std::path::PathBuf {
    let mut text = String::from("logs_dir = \"logs\"\n\n");
    text.push_str(&src.env_toml("prod", PROD_TOKENS));
    text.push_str(&dst.env_toml("uat", &[]));
    text.push_str("domain_template = \"{slug}.uat.wfu.edu\"\n\n[environments.uat.replace]\n");
    for (k, v) in UAT_TOKENS {
        text.push_str(&format!("{k} = \"{v}\"\n"));
    }
    text.push_str("\n[environments.uat.domains]\n");
    for (from, to) in domains {
        text.push_str(&format!("\"{from}\" = \"{to}\"\n"));
    }
    write_config_text(dir, &text)
}

#[test]
fn every_vanity_site_gets_its_target_host_or_the_run_is_refused() {
    let (src, dst) = (TestDb::new("hosts_src"), TestDb::new("hosts_dst"));
    seed_network(&src, &vanity_network());
    seed_network(&dst, &uat_network(7, 2));
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");

    // The club has neither a `domains` entry nor a slug of its own (`www`).
    let cfg = config(dir.path(), &src, &dst, &[(MAGAZINE, MAGAZINE_UAT)]);
    let r = run(wfuwp(&cfg, &logs).args(["env-migrate", "prod", "uat", "--dry-run", "--json"]));
    assert_eq!(r.code, 0, "{r:?}");
    let plan: serde_json::Value = serde_json::from_str(&r.stdout).expect("dry-run JSON");
    assert_eq!(
        plan["unmappedHosts"],
        serde_json::json!([{"siteId": 4, "source": CLUB, "target": null, "by": "none"}]),
        "{}",
        r.stdout
    );
    let host = |id: u64, source: &str| {
        plan["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["siteId"] == id && h["source"] == source)
            .cloned()
            .unwrap_or_else(|| panic!("no host {source} of site {id} in {}", r.stdout))
    };
    assert_eq!(host(2, MAGAZINE)["target"], MAGAZINE_UAT);
    assert_eq!(host(2, MAGAZINE)["by"], "domains");
    assert_eq!(host(3, GIVING)["target"], GIVING_UAT);
    assert_eq!(host(3, GIVING)["by"], "template");
    assert_eq!(host(5, "math.wfu.edu")["target"], "math.uat.wfu.edu");
    let shown: Vec<(String, String)> = plan["replacements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].as_str().unwrap().into(), p[1].as_str().unwrap().into()))
        .collect();
    assert!(
        shown.contains(&(MAGAZINE.into(), MAGAZINE_UAT.into())),
        "{shown:?}"
    );
    assert!(
        shown.contains(&(GIVING.into(), GIVING_UAT.into())),
        "{shown:?}"
    );
    let text = run(wfuwp(&cfg, &logs).args(["env-migrate", "prod", "uat", "--dry-run"]));
    assert!(
        text.stdout.contains(&format!("site 4: {CLUB}")),
        "{}",
        text.stdout
    );

    // A run is refused before anything is written.
    let before = table_checksums(&dst);
    let r = run(wfuwp(&cfg, &logs).args(["env-migrate", "prod", "uat", "--force"]));
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains(&format!("site 4 ({CLUB})"))
            && r.stderr.contains("[environments.uat.domains]")
            && r.stderr.contains("domain_template")
            && r.stderr.contains("--allow-unmapped-hosts"),
        "{}",
        r.stderr
    );
    assert_eq!(
        table_checksums(&dst),
        before,
        "the refused run changed the target"
    );
    assert!(!logs.exists() || std::fs::read_dir(&logs).unwrap().next().is_none());

    // Allowed, the club keeps prod's host: the audit names it, as written.
    let dst2 = TestDb::new("hosts_dst2");
    let dir2 = tempfile::tempdir().unwrap();
    let (cfg2, logs2) = (
        config(dir2.path(), &src, &dst2, &[(MAGAZINE, MAGAZINE_UAT)]),
        dir2.path().join("logs"),
    );
    let r = run(wfuwp(&cfg2, &logs2).args([
        "env-migrate",
        "prod",
        "uat",
        "--force",
        "--allow-unmapped-hosts",
    ]));
    assert_eq!(r.code, 0, "{r:?}");
    let l = &summary(&logs2)["leftovers"];
    let sites: Vec<u64> = l["bySite"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["siteId"].as_u64().unwrap())
        .collect();
    // The network's blogs row of the club, its row of the main site's
    // domain_mapping table, and the club's own tables.
    assert_eq!(sites, vec![0, 1, 4], "{l:#}");
    assert_eq!(l["sites"], 2, "the network tables are not a site: {l:#}");
    let network = &l["bySite"][0];
    assert_eq!(
        network["byColumn"],
        serde_json::json!({"wp_blogs.domain": 1}),
        "{l:#}"
    );
    assert_eq!(network["examples"][0]["key"], "blog_id=4");
    let mapping = &l["bySite"][1];
    assert_eq!(
        mapping["byColumn"],
        serde_json::json!({"wp_domain_mapping.domain": 1})
    );
    assert_eq!(mapping["examples"][0]["key"], "id=3");
    assert_eq!(mapping["examples"][0]["form"], "plain");
    let examples = l["bySite"][2]["examples"].as_array().unwrap();
    assert_eq!(examples.len(), 5, "{l:#}");
    for e in examples {
        assert_eq!(e["form"], "plain", "{e}");
        assert!(e["context"].as_str().unwrap().contains(CLUB), "{e}");
    }

    // Two sites on one target host: refused, even with --allow-unmapped-hosts.
    let cfg = config(
        dir.path(),
        &src,
        &dst,
        &[(MAGAZINE, MAGAZINE_UAT), (CLUB, MAGAZINE_UAT)],
    );
    let r = run(wfuwp(&cfg, &logs).args([
        "env-migrate",
        "prod",
        "uat",
        "--force",
        "--allow-unmapped-hosts",
    ]));
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr
            .contains(&format!("site 2 ({MAGAZINE}) and site 4 ({CLUB})")),
        "{}",
        r.stderr
    );
    assert_eq!(
        table_checksums(&dst),
        before,
        "the refused run changed the target"
    );

    // With every host given, the sites land on their hosts; every value as PHP says.
    let cfg = config(
        dir.path(),
        &src,
        &dst,
        &[(MAGAZINE, MAGAZINE_UAT), (CLUB, CLUB_UAT)],
    );
    let snap = oracle::snapshot(&dst);
    let r = run(wfuwp(&cfg, &logs).args(["env-migrate", "prod", "uat", "--force"]));
    assert_eq!(r.code, 0, "{r:?}");
    let domains: Vec<(u64, String)> = dst
        .query("SELECT blog_id, domain FROM wp_blogs WHERE blog_id IN (2, 3, 4) ORDER BY blog_id");
    assert_eq!(
        domains,
        vec![
            (2, MAGAZINE_UAT.to_string()),
            (3, GIVING_UAT.to_string()),
            (4, CLUB_UAT.to_string())
        ]
    );
    let mapped: Vec<(u64, String)> =
        dst.query("SELECT blog_id, domain FROM wp_domain_mapping ORDER BY id");
    assert_eq!(
        mapped,
        vec![
            (2, MAGAZINE_UAT.to_string()),
            (3, GIVING_UAT.to_string()),
            (4, CLUB_UAT.to_string())
        ]
    );
    let pairs = oracle::prod_to_uat(&[
        (MAGAZINE, MAGAZINE_UAT),
        (GIVING, GIVING_UAT),
        (CLUB, CLUB_UAT),
    ]);
    let verdict = oracle::assert_target(&oracle::Migration::full(&src).pairs(pairs), &snap, &dst);
    assert!(verdict.judged > 1_000, "{verdict:?}");
    assert_eq!(
        summary(&logs)["leftovers"]["sites"],
        0,
        "the mapped migration audits clean"
    );
    let home: Vec<String> =
        dst.query("SELECT option_value FROM wp_3_options WHERE option_name = 'home'");
    assert_eq!(home, vec![format!("https://{GIVING_UAT}")]);
}

/// One planted text per form that survives the prod → uat pairs (they are
/// case-sensitive and know no encoding), with the form the audit must name.
const PLANTED: &[(&str, &str)] = &[
    ("case", "Visit HTTPS://WWW.WFU.EDU/about today"),
    (
        "url-encoded",
        "next=https%3A%2F%2Fwww%2Ewfu%2Eedu%2Fadmissions",
    ),
    ("json-escaped", r"https:\/\/WWW.WFU.EDU\/news"),
    ("json-escaped-twice", r"https:\\\/\\\/WWW.WFU.EDU\\\/events"),
    (
        "html-entity",
        "mail us at webmaster@www&#46;wfu&#46;edu please",
    ),
];

/// The sites planted in, and how their values wrap the texts.
const PLANTED_SITES: &[(u64, &str)] = &[(2, "plain"), (3, "serialized"), (5, "json")];

fn wrapped(container: &str, text: &str) -> String {
    match container {
        "plain" => text.to_string(),
        "serialized" => format!(
            "a:2:{{s:4:\"link\";s:{}:\"{text}\";s:2:\"on\";b:1;}}",
            text.len()
        ),
        _ => format!("{{\"note\":\"{text}\",\"v\":1}}"),
    }
}

/// Plants every form into sites 2, 3 and 5 (options 9001…9005 of each),
/// and the first into the network's sitemeta (meta 9001); returns the
/// expected findings: (site, table, key, form), the network tables as site 0.
fn plant(src: &TestDb) -> Vec<(u64, String, String, String)> {
    let (form, text) = PLANTED[0];
    src.exec(&format!(
        "INSERT INTO wp_sitemeta (meta_id, site_id, meta_key, meta_value) \
         VALUES (9001, 1, 'planted_note', '{text}')"
    ));
    let mut expected = vec![(
        0,
        "wp_sitemeta".to_string(),
        "meta_id=9001".to_string(),
        form.to_string(),
    )];
    for (site, container) in PLANTED_SITES {
        let table = format!("wp_{site}_options");
        for (i, (form, text)) in PLANTED.iter().enumerate() {
            let id = 9001 + i as u64;
            let value = wrapped(container, text).replace('\\', "\\\\");
            src.exec(&format!(
                "INSERT INTO {} (option_id, option_name, option_value, autoload) \
                 VALUES ({id}, 'planted_{}', '{value}', 'no')",
                q(&table),
                form.replace('-', "_")
            ));
            expected.push((
                *site,
                table.clone(),
                format!("option_id={id}"),
                form.to_string(),
            ));
        }
    }
    expected
}

/// The findings of a summary (or audit report): (site, table, key, form) of
/// every example, and each site's `(values, byColumn)`.
fn findings(leftovers: &serde_json::Value) -> Vec<(u64, String, String, String)> {
    let mut out = Vec::new();
    for site in leftovers["bySite"].as_array().expect("bySite") {
        let id = site["siteId"].as_u64().unwrap();
        for e in site["examples"].as_array().unwrap() {
            let s = |k: &str| e[k].as_str().unwrap().to_string();
            out.push((id, s("table"), s("key"), s("form")));
        }
    }
    out.sort();
    out
}

fn summary(logs: &std::path::Path) -> serde_json::Value {
    let dir = std::fs::read_dir(logs)
        .expect("logs dir")
        .filter_map(|e| e.ok())
        .find(|e| e.file_name().to_string_lossy().starts_with("env-migrate-"))
        .expect("a migration directory");
    let text = std::fs::read_to_string(dir.path().join("migration-summary.json")).expect("summary");
    serde_json::from_str(&text).expect("summary JSON")
}

fn prod_uat(dir: &std::path::Path, src: &TestDb, dst: &TestDb) -> std::path::PathBuf {
    write_config(dir, &[("prod", src, PROD_TOKENS), ("uat", dst, UAT_TOKENS)])
}

#[test]
fn the_standard_network_audits_clean_after_a_correct_migration() {
    let (src, dst) = (
        TestDb::new("audit_clean_src"),
        TestDb::new("audit_clean_dst"),
    );
    seed_network(
        &src,
        &NetworkOptions {
            sites: 12,
            posts_per_site: 4,
            large_values: true,
            concurrency: 2,
            ..NetworkOptions::default()
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let (cfg, logs) = (prod_uat(dir.path(), &src, &dst), dir.path().join("logs"));
    let r = run(wfuwp(&cfg, &logs).args(["env-migrate", "prod", "uat", "--force"]));
    assert_eq!(r.code, 0, "{r:?}");
    let s = summary(&logs);
    assert_eq!(
        s["leftovers"],
        serde_json::json!({"sites": 0, "values": 0, "bySite": []}),
        "false alarms on the standard network"
    );
    assert!(
        r.stderr.contains("leftover audit: clean") || r.stdout.contains("leftover audit: clean"),
        "{r:?}"
    );
    let a = run(wfuwp(&cfg, &logs).args(["audit", "uat", "--source", "prod"]));
    assert_eq!(a.code, 0, "{a:?}");
    assert!(a.stderr.contains("clean"), "{a:?}");
}

#[test]
fn every_planted_leftover_is_found_with_its_form_and_place() {
    let (src, dst) = (TestDb::new("audit_src"), TestDb::new("audit_dst"));
    seed_network(&src, &small_network());
    let expected = plant(&src);
    let dir = tempfile::tempdir().unwrap();
    let (cfg, logs) = (prod_uat(dir.path(), &src, &dst), dir.path().join("logs"));
    let r = run(wfuwp(&cfg, &logs).args(["env-migrate", "prod", "uat", "--force"]));
    assert_eq!(r.code, 0, "{r:?}");
    let s = summary(&logs);
    let l = &s["leftovers"];
    assert_eq!(findings(l), expected, "{l:#}");
    assert_eq!(
        (l["sites"].as_u64(), l["values"].as_u64()),
        (Some(3), Some(16))
    );
    assert_eq!(
        l["bySite"][0]["byColumn"],
        serde_json::json!({"wp_sitemeta.meta_value": 1}),
        "{l:#}"
    );
    for site in l["bySite"].as_array().unwrap().iter().skip(1) {
        let id = site["siteId"].as_u64().unwrap();
        assert_eq!(
            site["byColumn"],
            serde_json::json!({ format!("wp_{id}_options.option_value"): 5 })
        );
        for e in site["examples"].as_array().unwrap() {
            let (form, context) = (e["form"].as_str().unwrap(), e["context"].as_str().unwrap());
            let text = PLANTED.iter().find(|p| p.0 == form).unwrap().1;
            let core = text
                .split_whitespace()
                .find(|w| w.to_ascii_lowercase().contains("wfu"))
                .unwrap();
            assert!(context.contains(core), "{form}: {context}");
            assert!(context.chars().count() <= 80 + core.len(), "{context}");
        }
    }
    let out = format!("{}{}", r.stdout, r.stderr);
    assert!(
        out.contains("the network tables and 3 sites still mention prod hosts (16 values)"),
        "{out}"
    );
    // The same in the migration's record, the state and the listing.
    let state: serde_json::Value = {
        let id = s["migrationId"].as_str().unwrap();
        let text = std::fs::read_to_string(logs.join(id).join("migration-state.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    };
    let recorded: Vec<u64> = state["sites"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s.get("leftovers").is_some())
        .map(|s| s["siteId"].as_u64().unwrap())
        .collect();
    assert_eq!(recorded, vec![2, 3, 5]);
    assert_eq!(
        state["networkLeftovers"]["byColumn"],
        serde_json::json!({"wp_sitemeta.meta_value": 1})
    );
    let listed =
        run(wfuwp(&cfg, &logs).args(["env-migrate", "--list-migrations", "--all", "--json"]));
    let listed: serde_json::Value = serde_json::from_str(&listed.stdout).expect("listing JSON");
    assert_eq!(findings(&listed[0]["leftovers"]), expected);
    // A later audit of the target finds what the migration found, network
    // tables included.
    let a = run(wfuwp(&cfg, &logs).args(["audit", "uat", "--source", "prod", "--json"]));
    assert_eq!(a.code, 3, "{a:?}");
    let a: serde_json::Value = serde_json::from_str(&a.stdout).expect("audit JSON");
    assert_eq!(findings(&a["leftovers"]), expected, "{a:#}");
    assert_eq!(a["leftovers"]["sites"], 3, "{a:#}");
}

#[test]
fn fail_on_leftovers_keeps_the_previous_tables_live() {
    let (src, dst) = (TestDb::new("audit_fail_src"), TestDb::new("audit_fail_dst"));
    seed_network(&src, &small_network());
    plant(&src);
    seed_network(&dst, &uat_network(9, 2));
    let before = table_checksums(&dst);
    let dir = tempfile::tempdir().unwrap();
    let (cfg, logs) = (prod_uat(dir.path(), &src, &dst), dir.path().join("logs"));
    let r = run(wfuwp(&cfg, &logs).args([
        "env-migrate",
        "prod",
        "uat",
        "--force",
        "--fail-on-leftovers",
    ]));
    assert_ne!(r.code, 0, "{r:?}");
    let s = summary(&logs);
    let failed: Vec<(u64, String)> = s["failedSites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["siteId"].as_u64().unwrap(),
                f["errorKind"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        failed,
        vec![(2, "data".into()), (3, "data".into()), (5, "data".into())]
    );
    let after = table_checksums(&dst);
    for (t, sum) in &before {
        let planted_site = PLANTED_SITES
            .iter()
            .any(|(id, _)| t.starts_with(&format!("wp_{id}_")));
        if planted_site {
            assert_eq!(
                after.get(t),
                Some(sum),
                "{t}: a site with leftovers was swapped in"
            );
        }
    }
    assert_ne!(
        after.get("wp_4_options"),
        before.get("wp_4_options"),
        "site 4 was migrated"
    );
    // The network tables are reported, never refused: 15 in the sites, 1 in sitemeta.
    assert_eq!(findings(&s["leftovers"]).len(), 16);
}
