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
    let home: Vec<String> =
        dst.query("SELECT option_value FROM wp_3_options WHERE option_name = 'home'");
    assert_eq!(home, vec![format!("https://{GIVING_UAT}")]);
}
