//! End-to-end migrations against the sandbox MariaDB (issue 5 acceptance):
//! content equality through the engine, partial migrations, dry runs and
//! resume detection.

use crate::oracle;
use crate::support;

use std::collections::BTreeMap;

use mysql_async::prelude::Queryable;
use mysql_async::Value;
use support::*;
use wfuwp_engine::db::discovery::{inventory, Inventory};
use wfuwp_engine::db::roles;
use wfuwp_testbed::NetworkOptions;

type Rows = Vec<Vec<Option<Vec<u8>>>>;

/// Every row of every table of `db`, raw bytes (no charset conversion).
fn dump(db: &TestDb) -> (Inventory, BTreeMap<String, Rows>) {
    block_on(async {
        let mut c = roles::source(&db.opts()).await.expect("connect");
        let inv = inventory(&mut c, &db.name, "wp_").await.expect("inventory");
        let mut out = BTreeMap::new();
        for t in inv.tables.keys() {
            let rows: Vec<mysql_async::Row> = c
                .query(format!("SELECT * FROM {}", q(t)))
                .await
                .expect("select");
            let rows: Rows = rows
                .into_iter()
                .map(|r| {
                    r.unwrap()
                        .into_iter()
                        .map(|v| match v {
                            Value::NULL => None,
                            Value::Bytes(b) => Some(b),
                            other => Some(other.as_sql(true).into_bytes()),
                        })
                        .collect()
                })
                .collect();
            out.insert(t.clone(), rows);
        }
        c.disconnect().await.ok();
        (inv, out)
    })
}

/// A temp dir with a config of `prod` = `src` and `uat` = `dst`; returns
/// (the dir, which must outlive the test; the config path; the logs dir).
fn prod_uat_config(
    src: &TestDb,
    dst: &TestDb,
) -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &[("prod", src, PROD_TOKENS), ("uat", dst, UAT_TOKENS)],
    );
    let logs = dir.path().join("logs");
    (dir, config, logs)
}

fn is_ours(table: &str) -> bool {
    table.starts_with("_wf")
}

#[test]
fn a_30_site_network_migrates_value_for_value() {
    let (src, dst) = (TestDb::new("mig_src"), TestDb::new("mig_dst"));
    seed_network(
        &src,
        &NetworkOptions {
            sites: 30,
            posts_per_site: 4,
            large_values: true,
            ..Default::default()
        },
    );
    let (_dir, config, logs) = prod_uat_config(&src, &dst);
    let before = oracle::snapshot(&dst);

    // A FROM with a `/` (also applied JSON-escaped), and a FROM without one
    // whose TO has one (applied as written, in JSON too: docs/replace.md).
    let extra = [
        ("www.wfu.edu/admissions", "uat.wfu.edu/apply"),
        ("Deacons", "Demon/Deacons"),
    ];
    let mut args = vec!["env-migrate", "prod", "uat", "--force"];
    let replace: Vec<String> = extra.iter().map(|(f, t)| format!("{f}={t}")).collect();
    for r in &replace {
        args.extend(["--replace", r.as_str()]);
    }
    let r = run(wfuwp(&config, &logs).args(&args));
    assert_eq!(r.code, 0, "{r:?}");

    // The expectation comes from PHP (unserialize/serialize + strtr over
    // hand-written pairs), never from the engine: see tests/it/oracle.
    assert!(
        oracle::full_migration(&src).len() > 300,
        "expected a realistic network"
    );
    let verdict = oracle::assert_target(
        &oracle::Migration::full(&src).pairs(oracle::prod_to_uat(&extra)),
        &before,
        &dst,
    );
    assert!(
        verdict.judged > 5_000,
        "only {} textual values were judged",
        verdict.judged
    );
    assert!(verdict.serialized > 500, "{verdict:?}");
    let (inv, _) = dump(&src);
    let (_, target_rows) = dump(&dst);
    assert!(
        !target_rows.keys().any(|t| is_ours(t)),
        "no staging/backup tables expected on an empty target"
    );

    let domains: Vec<String> = dst.query("SELECT domain FROM wp_blogs");
    assert!(
        domains.iter().all(|d| d.ends_with("uat.wfu.edu")),
        "{domains:?}"
    );
    for site in &inv.sites {
        let table = if site.id == 1 {
            "wp_options".to_string()
        } else {
            format!("wp_{}_options", site.id)
        };
        let urls: Vec<String> = dst.query(&format!(
            "SELECT option_value FROM {} WHERE option_name IN ('siteurl','home')",
            q(&table)
        ));
        assert_eq!(urls.len(), 2, "site {}", site.id);
        for u in urls {
            assert!(
                u.starts_with("https://") && u.trim_end_matches('/').ends_with("uat.wfu.edu"),
                "site {}: {u}",
                site.id
            );
        }
    }
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(newest_migration(&logs).join("migration-summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(summary["status"], "completed");
    assert_eq!(
        summary["verification"]["urlMismatches"]
            .as_array()
            .map(Vec::len),
        Some(0),
        "{summary}"
    );
}

fn newest_migration(logs: &std::path::Path) -> std::path::PathBuf {
    let mut dirs: Vec<_> = std::fs::read_dir(logs)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("env-migrate-"))
        })
        .collect();
    dirs.sort();
    dirs.pop().expect("a migration directory")
}

#[test]
fn a_partial_migration_touches_only_the_selected_sites() {
    let (src, dst) = (TestDb::new("part_src"), TestDb::new("part_dst"));
    seed_network(
        &src,
        &NetworkOptions {
            sites: 8,
            posts_per_site: 3,
            seed: 1,
            ..Default::default()
        },
    );
    // The target has a network of its own (other content, same site ids).
    seed_network(
        &dst,
        &NetworkOptions {
            sites: 8,
            posts_per_site: 2,
            seed: 2,
            main_domain: "uat.wfu.edu".into(),
            subdomain_suffix: ".uat.wfu.edu".into(),
            ..Default::default()
        },
    );
    let before = table_checksums(&dst);
    let snapshot = oracle::snapshot(&dst);
    let row = |db: &TestDb, id: u64| {
        db.query::<(u64, String, String)>(&format!(
            "SELECT blog_id, domain, registered FROM wp_blogs WHERE blog_id = {id}"
        ))
    };
    let site_4_before = row(&dst, 4);
    let (_dir, config, logs) = prod_uat_config(&src, &dst);

    let r = run(wfuwp(&config, &logs).args([
        "env-migrate",
        "prod",
        "uat",
        "--force",
        "--include-sites",
        "2,3",
    ]));
    assert_eq!(r.code, 0, "{r:?}");
    // The whole target: sites 2 and 3 and their users as PHP says, every
    // other table and row exactly as it was.
    let verdict =
        oracle::assert_target(&oracle::Migration::of_sites(&src, &[2, 3]), &snapshot, &dst);
    assert!(verdict.failed_sites.is_empty(), "{verdict:?}");
    assert!(!verdict.brought_users.is_empty(), "{verdict:?}");

    let after = table_checksums(&dst);
    for (table, sum) in &before {
        let selected = table.starts_with("wp_2_") || table.starts_with("wp_3_");
        // users/usermeta: the selected sites' members and authors come
        // along (checked value for value in tests/users.rs).
        let network_rows =
            ["wp_blogs", "wp_blogmeta", "wp_users", "wp_usermeta"].contains(&table.as_str());
        if selected || network_rows {
            continue;
        }
        assert_eq!(
            after.get(table),
            Some(sum),
            "{table} must be untouched by a partial migration"
        );
    }
    assert_ne!(
        after["wp_2_posts"], before["wp_2_posts"],
        "selected site 2 must be replaced"
    );
    // blogs: rows of unselected sites unchanged, selected sites' rows replaced from the source.
    let src_row = row(&src, 2);
    assert_eq!(
        row(&dst, 2)[0].1,
        src_row[0].1.replace(".wfu.edu", ".uat.wfu.edu")
    );
    assert_eq!(row(&dst, 2)[0].2, src_row[0].2);
    assert_eq!(
        row(&dst, 4),
        site_4_before,
        "an unselected site's blogs row is left alone"
    );
    let id = newest_migration(&logs)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let r = run(wfuwp(&config, &logs).args(["env-migrate", "--rollback", &id, "--force"]));
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        table_checksums(&dst),
        before,
        "rollback of a partial migration restores everything"
    );
}

/// A source and a target built independently of it (its own seed, ids,
/// users and a site only it has), and the config between them.
fn into_an_independent_target(
    label: &str,
) -> (
    TestDb,
    TestDb,
    tempfile::TempDir,
    std::path::PathBuf,
    std::path::PathBuf,
) {
    let (src, dst) = (
        TestDb::new(&format!("{label}_src")),
        TestDb::new(&format!("{label}_dst")),
    );
    seed_network(
        &src,
        &NetworkOptions {
            sites: 6,
            posts_per_site: 2,
            seed: 5,
            concurrency: 2,
            ..Default::default()
        },
    );
    seed_network(&dst, &uat_network(55, 1));
    make_independent(&dst);
    let (dir, config, logs) = prod_uat_config(&src, &dst);
    (src, dst, dir, config, logs)
}

/// Without `--include-users` a full migration leaves `users`, `usermeta`,
/// the other network tables it does not copy and the target's own site
/// byte-identical, and every migrated table is defined as in the source.
#[test]
fn a_full_migration_changes_nothing_it_does_not_migrate() {
    let (src, dst, _dir, config, logs) = into_an_independent_target("full_keep");
    let before = oracle::snapshot(&dst);
    let r = run(wfuwp(&config, &logs).args(["env-migrate", "prod", "uat", "--force"]));
    assert_eq!(r.code, 0, "{r:?}");
    oracle::assert_target(&oracle::Migration::full(&src), &before, &dst);
}

/// `--include-users` copies `users` and `usermeta` whole, through the
/// replacement, like the other network tables.
#[test]
fn include_users_copies_the_users_tables_whole() {
    let (src, dst, _dir, config, logs) = into_an_independent_target("full_users");
    let before = oracle::snapshot(&dst);
    let r = run(wfuwp(&config, &logs).args([
        "env-migrate",
        "prod",
        "uat",
        "--force",
        "--include-users",
    ]));
    assert_eq!(r.code, 0, "{r:?}");
    oracle::assert_target(
        &oracle::Migration::full(&src).users(oracle::Users::Copied),
        &before,
        &dst,
    );
    assert_ne!(
        table_checksums(&dst)["wp_users"],
        before_sum(&before, "wp_users"),
        "the users must have changed for this test to mean anything"
    );
}

fn before_sum(s: &oracle::Snapshot, table: &str) -> (u64, u64) {
    s.tables[table].sum
}

#[test]
fn a_dry_run_writes_nothing_and_plans_in_json() {
    let (src, dst) = (TestDb::new("dry_src"), TestDb::new("dry_dst"));
    seed_network(&src, &small_network());
    let (_dir, config, logs) = prod_uat_config(&src, &dst);
    let r = run(wfuwp(&config, &logs).args([
        "env-migrate",
        "prod",
        "uat",
        "--dry-run",
        "--json",
        "--active-only",
    ]));
    assert_eq!(r.code, 0, "{r:?}");
    let plan: serde_json::Value = serde_json::from_str(&r.stdout).expect("JSON plan");
    assert!(plan["partial"].as_bool().unwrap());
    assert!(
        plan["sites"].as_array().unwrap().len() < 6,
        "--active-only drops flagged sites"
    );
    assert_eq!(plan["replacements"].as_array().unwrap().len(), 4);
    assert!(dst.tables().is_empty(), "dry run must not write the target");
    assert!(
        !logs.exists() || std::fs::read_dir(&logs).unwrap().next().is_none(),
        "dry run must create no state"
    );
}

#[test]
fn an_incomplete_migration_is_detected_and_bad_selections_refused() {
    let (src, dst) = (TestDb::new("det_src"), TestDb::new("det_dst"));
    seed_network(&src, &small_network());
    let (_dir, config, logs) = prod_uat_config(&src, &dst);

    let r = run(wfuwp(&config, &logs).args([
        "env-migrate",
        "prod",
        "uat",
        "--force",
        "--include-sites",
        "2,999",
    ]));
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("999"), "{}", r.stderr);

    // Kill a run right after its first site is swapped in: an incomplete migration.
    let r = run(wfuwp(&config, &logs)
        .args(["env-migrate", "prod", "uat", "--force"])
        .env("WFUWP_FAILPOINT", "site_swapped:1"));
    assert_eq!(r.code, -1, "killed by SIGKILL: {r:?}");
    let id = newest_migration(&logs)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();

    // No terminal, no --force: refuse and name the resume command.
    let r = run(wfuwp(&config, &logs).args(["env-migrate", "prod", "uat"]));
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains(&format!("--resume {id}")), "{}", r.stderr);

    let r = run(wfuwp(&config, &logs).args(["env-migrate", "--resume", &id]));
    assert_eq!(r.code, 0, "{r:?}");
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(logs.join(&id).join("migration-state.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(state["status"], "completed");
    assert_eq!(state["runs"], 2);
    let r = run(wfuwp(&config, &logs).args(["env-migrate", "--resume", &id]));
    assert_ne!(r.code, 0, "a completed migration is not resumable: {r:?}");
}

#[test]
fn a_site_deleted_from_the_source_before_a_resume_fails_clearly() {
    let (src, dst) = (TestDb::new("gone_src"), TestDb::new("gone_dst"));
    seed_network(&src, &small_network());
    let (_dir, config, logs) = prod_uat_config(&src, &dst);
    let r = run(wfuwp(&config, &logs)
        .args([
            "env-migrate",
            "prod",
            "uat",
            "--force",
            "--concurrency",
            "1",
        ])
        .env("WFUWP_FAILPOINT", "site_swapped:1"));
    assert_eq!(r.code, -1, "killed: {r:?}");
    let id = newest_migration(&logs)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    src.exec("DELETE FROM wp_blogs WHERE blog_id = 3");

    let r = run(wfuwp(&config, &logs).args(["env-migrate", "--resume", &id]));
    assert_eq!(r.code, 3, "{r:?}");
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(logs.join(&id).join("migration-state.json")).unwrap(),
    )
    .unwrap();
    let site3 = state["sites"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["siteId"] == 3)
        .unwrap();
    assert_eq!(site3["status"], "failed", "{site3}");
    assert_eq!(site3["errorKind"], "data", "{site3}");
    assert!(site3["error"]
        .as_str()
        .unwrap()
        .contains("no longer exists"));
    assert_eq!(state["status"], "failed");
}

/// `wp_blogs` rows of `db`: blog_id → (domain, path).
fn blogs(db: &TestDb) -> BTreeMap<u64, (String, String)> {
    db.query::<(u64, String, String)>("SELECT blog_id, domain, path FROM wp_blogs")
        .into_iter()
        .map(|(id, d, p)| (id, (d, p)))
        .collect()
}

/// The source's address of site `id` as the prod → uat tokens make it
/// (`www.wfu.edu` → `uat.wfu.edu`, `.wfu.edu` → `.uat.wfu.edu`), written
/// out here rather than asked of the engine.
fn uat_address(src: &TestDb, id: u64) -> String {
    let (domain, path) = blogs(src)[&id].clone();
    let domain = match domain.strip_suffix(".wfu.edu") {
        Some("www") => "uat.wfu.edu".to_string(),
        Some(sub) => format!("{sub}.uat.wfu.edu"),
        None => panic!("{domain} is not a wfu.edu domain"),
    };
    format!("{domain}{path}")
}

fn summary_of(logs: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(newest_migration(logs).join("migration-summary.json"))
        .expect("migration-summary.json");
    serde_json::from_str(&text).expect("JSON summary")
}

/// `--sites-only` copies the sites' tables but not their `wp_blogs` rows
/// (issue 22). Into a target whose `wp_blogs` lacks a site, has it at
/// another address, or gives its address to another site, WordPress cannot
/// reach it: verification lists each such site (blogMismatches), and the
/// final report says so. A site whose row is right is not listed.
#[test]
fn sites_only_reports_sites_the_targets_blogs_table_does_not_lead_to() {
    let (src, dst) = (TestDb::new("so_src"), TestDb::new("so_dst"));
    seed_network(&src, &small_network());
    let (_dir, config, logs) = prod_uat_config(&src, &dst);
    let r = run(wfuwp(&config, &logs).args(["env-migrate", "prod", "uat", "--force"]));
    assert_eq!(r.code, 0, "a full migration first: {r:?}");
    let (domain5, path5) = blogs(&dst)[&5].clone();
    dst.exec(&format!(
        "DELETE FROM wp_blogs WHERE blog_id = 3; \
         UPDATE wp_blogs SET domain = 'elsewhere.uat.wfu.edu' WHERE blog_id = 4; \
         UPDATE wp_blogs SET domain = '{domain5}', path = '{path5}' WHERE blog_id = 6"
    ));

    let r = run(wfuwp(&config, &logs).args([
        "env-migrate",
        "prod",
        "uat",
        "--force",
        "--sites-only",
        "--include-sites",
        "2,3,4,5",
    ]));
    assert_eq!(r.code, 0, "{r:?}");
    let summary = summary_of(&logs);
    assert_eq!(summary["status"], "completed", "{summary:#}");
    let v = &summary["verification"];
    assert_eq!(v["urlMismatches"], serde_json::json!([]), "{v:#}");
    let (path4, mismatches) = (blogs(&src)[&4].1.clone(), &v["blogMismatches"]);
    assert_eq!(
        mismatches,
        &serde_json::json!([
            {"siteId": 3, "expected": uat_address(&src, 3), "actual": null},
            {"siteId": 4, "expected": uat_address(&src, 4), "actual": format!("elsewhere.uat.wfu.edu{path4}")},
            {"siteId": 5, "expected": uat_address(&src, 5), "actual": uat_address(&src, 5), "sharedWith": 6},
        ]),
        "{v:#}"
    );
    assert!(
        r.stderr.contains("3 sites not reachable in WordPress")
            && r.stderr.contains("sites 3, 4, 5"),
        "the final report says so: {}",
        r.stderr
    );
    assert!(
        r.stderr.contains("site 3 is not in uat's blogs table"),
        "{}",
        r.stderr
    );
}

/// A partial migration must not give a site the address another site of
/// the target keeps (issue 22): that site fails as `data`, naming both
/// blog_ids, before anything of it is written; the other sites go on. Once
/// the target's site moves, `--retry-failed` migrates it (with and without
/// the users of the selected sites).
#[test]
fn a_partial_migration_fails_a_site_whose_address_another_target_site_has() {
    for extra in [&[][..], &["--no-users"]] {
        let label = if extra.is_empty() { "dup" } else { "dup_nu" };
        let src = TestDb::new(&format!("{label}_src"));
        seed_network(&src, &small_network());
        let dst = TestDb::new(&format!("{label}_dst"));
        seed_network(&dst, &support::uat_network(977, 1));
        support::make_independent(&dst);
        // Site 40 of the target has the address site 3 gets; the target's
        // own site 3 is elsewhere.
        let three = uat_address(&src, 3);
        let (domain, path) = three.split_at(three.find('/').expect("a path"));
        dst.exec(&format!(
            "UPDATE wp_blogs SET domain = 'old3.uat.wfu.edu' WHERE blog_id = 3; \
             UPDATE wp_blogs SET domain = '{domain}', path = '{path}' WHERE blog_id = 40"
        ));
        let before = table_checksums(&dst);
        let blogs_before = blogs(&dst);
        let (_dir, config, logs) = prod_uat_config(&src, &dst);

        let args = [
            &[
                "env-migrate",
                "prod",
                "uat",
                "--force",
                "--include-sites",
                "2,3",
            ][..],
            extra,
        ]
        .concat();
        let r = run(wfuwp(&config, &logs).args(&args));
        assert_eq!(r.code, 3, "{extra:?}: site 3 fails, the run goes on: {r:?}");
        let state: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(newest_migration(&logs).join("migration-state.json")).unwrap(),
        )
        .unwrap();
        let site = |n: u64| {
            state["sites"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["siteId"] == n)
                .cloned()
                .unwrap()
        };
        assert_eq!(site(2)["status"], "completed", "{extra:?}");
        let three_rec = site(3);
        assert_eq!(three_rec["status"], "failed", "{extra:?}: {three_rec:#}");
        assert_eq!(three_rec["errorKind"], "data", "{extra:?}");
        let message = three_rec["error"].as_str().unwrap_or_default();
        assert!(
            message.contains("site 3")
                && message.contains("blog_id 40")
                && message.contains(&three),
            "{extra:?}: {message}"
        );
        // Nothing of site 3 was written: its tables and its blogs row are the target's own.
        let after = table_checksums(&dst);
        for (table, sum) in before.iter().filter(|(t, _)| t.starts_with("wp_3_")) {
            assert_eq!(after.get(table), Some(sum), "{extra:?}: {table}");
        }
        assert_eq!(blogs(&dst)[&3], blogs_before[&3], "{extra:?}");
        assert_eq!(
            blogs(&dst)
                .values()
                .filter(|(d, p)| format!("{d}{p}") == three)
                .count(),
            1,
            "{extra:?}: one site has the address"
        );

        dst.exec("UPDATE wp_blogs SET domain = 'moved.uat.wfu.edu' WHERE blog_id = 40");
        let id = newest_migration(&logs)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let r = run(wfuwp(&config, &logs).args([
            "env-migrate",
            "--resume",
            &id,
            "--retry-failed",
            "--force",
        ]));
        assert_eq!(r.code, 0, "{extra:?}: {r:?}");
        let (d3, p3) = blogs(&dst)[&3].clone();
        assert_eq!(
            format!("{d3}{p3}"),
            three,
            "{extra:?}: site 3's row went in"
        );
        assert_ne!(
            table_checksums(&dst).get("wp_3_posts"),
            before.get("wp_3_posts"),
            "{extra:?}: site 3's tables went in"
        );
    }
}
