//! Refresh only what changed (issue 27): a network migrated once, then
//! changed on both sides in ways the test writes down; the target's ledger
//! must classify every site exactly as the test's own list says,
//! `--changed-only` must copy exactly the changed and new sites (as a
//! migration of those sites would, judged by the PHP oracle) and leave the
//! rest byte-identical, drifted sites only with `--overwrite-drift`; a kill
//! at any point resumes to the same result; another logs dir decides the
//! same; and a rollback of a refresh restores the target exactly.

use crate::migration_kit;
use crate::oracle;
use crate::support;

use std::collections::BTreeMap;
use std::path::Path;

use migration_kit::{assert_same, copy_db, live_checksums, started_id, Scenario};
use support::pty::Pty;
use support::{run, wfuwp, Run, TestDb, LEDGER};

/// The roles the test gives the source's sites, by blog_id.
#[derive(Debug, Clone, Copy)]
struct Roles {
    main: u64,
    /// A row inserted on the source, and a value edited on the target.
    inserted_and_drifted: u64,
    /// One value updated on the source.
    updated: u64,
    /// A table added on the source.
    table_added: u64,
    /// A table dropped on the source.
    table_dropped: u64,
    /// A value edited on the target only.
    drifted: u64,
    /// Left alone on both sides.
    untouched: u64,
    /// Deleted from the source.
    deleted: u64,
    /// Created on the source after the first migration.
    new: u64,
}

/// One expected line of the classification: class, source tables, target tables.
type Expected = BTreeMap<u64, (&'static str, Vec<String>, Vec<String>)>;

fn source_network(label: &str) -> TestDb {
    support::eight_site_source(label, 27)
}

fn pristine_target(label: &str) -> TestDb {
    support::independent_uat(label, 2727)
}

fn text(r: &Run) -> String {
    format!("{}\n{}", r.stdout, r.stderr)
}

fn ok(r: Run, what: &str) -> Run {
    assert_eq!(r.code, 0, "{what} failed:\n{}", text(&r));
    r
}

fn roles(source: &TestDb) -> Roles {
    let ids: Vec<u64> = source.query("SELECT blog_id FROM wp_blogs ORDER BY blog_id");
    assert_eq!(ids.len(), 8, "the generated network has 8 sites: {ids:?}");
    Roles {
        main: ids[0],
        inserted_and_drifted: ids[1],
        updated: ids[2],
        table_added: ids[3],
        table_dropped: ids[4],
        drifted: ids[5],
        untouched: ids[6],
        deleted: ids[7],
        new: ids[7] + 10,
    }
}

/// The changes on the source (insert, update, add a table, drop a table,
/// delete a site, add a site).
fn change_source(source: &TestDb, r: &Roles) {
    source.exec(&format!(
        "INSERT INTO wp_{0}_options (option_name, option_value, autoload) VALUES ('refresh_marker', 'inserted', 'no'); \
         UPDATE wp_{1}_options SET option_value = 'Renamed on prod' WHERE option_name = 'blogname'; \
         CREATE TABLE wp_{2}_extra (id INT PRIMARY KEY, note TEXT); \
         INSERT INTO wp_{2}_extra VALUES (1, 'https://www.wfu.edu/new-table'); \
         DROP TABLE wp_{3}_termmeta",
        r.inserted_and_drifted, r.updated, r.table_added, r.table_dropped
    ));
    let deleted: Vec<String> = source.query(&format!(
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() \
         AND TABLE_NAME LIKE 'wp\\_{}\\_%'",
        r.deleted
    ));
    assert!(!deleted.is_empty(), "site {} has tables", r.deleted);
    for t in &deleted {
        source.exec(&format!("DROP TABLE `{t}`"));
    }
    source.exec(&format!(
        "DELETE FROM wp_blogmeta WHERE blog_id = {0}; DELETE FROM wp_blogs WHERE blog_id = {0}",
        r.deleted
    ));
    // A new site: the untouched site's tables under a new blog_id and address.
    let tables: Vec<String> = source.query(&format!(
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() \
         AND TABLE_NAME LIKE 'wp\\_{}\\_%'",
        r.untouched
    ));
    for t in &tables {
        let new = t.replacen(
            &format!("wp_{}_", r.untouched),
            &format!("wp_{}_", r.new),
            1,
        );
        source.exec(&format!(
            "CREATE TABLE `{new}` LIKE `{t}`; INSERT INTO `{new}` SELECT * FROM `{t}`"
        ));
    }
    source.exec(&format!(
        "INSERT INTO wp_blogs (blog_id, site_id, domain, path, registered, last_updated) \
         VALUES ({0}, 1, 'fresh.wfu.edu', '/', '2024-01-01 00:00:00', '2024-01-01 00:00:00'); \
         UPDATE wp_{0}_options SET option_value = 'https://fresh.wfu.edu' WHERE option_name IN ('siteurl', 'home')",
        r.new
    ));
}

/// The edits made on the target since the first migration.
fn edit_target(target: &TestDb, r: &Roles) {
    for site in [r.inserted_and_drifted, r.drifted] {
        target.exec(&format!(
            "UPDATE wp_{site}_options SET option_value = 'Edited in uat' WHERE option_name = 'blogname'"
        ));
    }
}

/// The classification the test expects after [`change_source`] and [`edit_target`].
fn expected(r: &Roles) -> Expected {
    let t = |site: u64, table: &str| vec![format!("wp_{site}_{table}")];
    BTreeMap::from([
        (r.main, ("unchanged", vec![], vec![])),
        (
            r.inserted_and_drifted,
            (
                "both",
                t(r.inserted_and_drifted, "options"),
                t(r.inserted_and_drifted, "options"),
            ),
        ),
        (
            r.updated,
            ("source_changed", t(r.updated, "options"), vec![]),
        ),
        (
            r.table_added,
            ("source_changed", t(r.table_added, "extra"), vec![]),
        ),
        (
            r.table_dropped,
            ("source_changed", t(r.table_dropped, "termmeta"), vec![]),
        ),
        (
            r.drifted,
            ("target_drifted", vec![], t(r.drifted, "options")),
        ),
        (r.untouched, ("unchanged", vec![], vec![])),
        (r.deleted, ("deleted_from_source", vec![], vec![])),
        (r.new, ("never_migrated", vec![], vec![])),
    ])
}

/// The classification a plan or `--status` printed as JSON.
fn classification(refresh: &serde_json::Value) -> Expected {
    let strings = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .unwrap_or(&Vec::new())
            .iter()
            .map(|s| s.as_str().unwrap_or("?").to_string())
            .collect()
    };
    refresh["sites"]
        .as_array()
        .unwrap_or_else(|| panic!("no sites in {refresh:#}"))
        .iter()
        .map(|s| {
            let class: &'static str = match s["class"].as_str().unwrap_or("?") {
                "unchanged" => "unchanged",
                "both" => "both",
                "source_changed" => "source_changed",
                "target_drifted" => "target_drifted",
                "rules_changed" => "rules_changed",
                "never_migrated" => "never_migrated",
                "deleted_from_source" => "deleted_from_source",
                other => panic!("unknown class {other}"),
            };
            (
                s["siteId"].as_u64().expect("siteId"),
                (
                    class,
                    strings(&s["sourceTables"]),
                    strings(&s["targetTables"]),
                ),
            )
        })
        .collect()
}

fn json(r: &Run, what: &str) -> serde_json::Value {
    serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("{what}: stdout is not JSON ({e}):\n{}", text(r)))
}

/// `--status prod uat --json`, by the machine with this logs dir.
fn status(s: &Scenario, logs: &Path) -> Expected {
    let r = ok(
        run(wfuwp(&s.config, logs).args(["env-migrate", "--status", "prod", "uat", "--json"])),
        "--status",
    );
    classification(&json(&r, "--status"))
}

/// The ledger's rows of migration `id` and kind `kind`: (site, table, state).
fn ledger_rows(db: &TestDb, id: &str, kind: &str) -> Vec<(u64, String, String)> {
    db.query(&format!(
        "SELECT site_id, table_name, state FROM {LEDGER} WHERE migration_id = '{id}' AND kind = '{kind}' \
         ORDER BY site_id, table_name"
    ))
}

/// The sites of a state by status.
fn statuses(state: &serde_json::Value) -> BTreeMap<u64, String> {
    state["sites"]
        .as_array()
        .expect("sites")
        .iter()
        .map(|s| {
            (
                s["siteId"].as_u64().expect("siteId"),
                s["status"].as_str().expect("status").to_string(),
            )
        })
        .collect()
}

/// A network migrated once into a target built independently, then changed
/// on both sides. Returns the source, the scenario and the roles.
fn migrated_then_changed(label: &str) -> (TestDb, Scenario, Roles, String) {
    let source = source_network(&format!("{label}_src"));
    let pristine = pristine_target(&format!("{label}_pristine"));
    let s = Scenario::new(&format!("{label}_dst"), &source, Some(&pristine));
    let r = roles(&source);
    let first = ok(
        s.run(&["env-migrate", "prod", "uat", "--force"], None),
        "the first migration",
    );
    let first = started_id(&text(&first)).expect("the first migration's id");
    // Every migrated site's tables are in the ledger, both sides, as the
    // server computes them (a table that the site has on the source).
    let source_rows = ledger_rows(&s.target, &first, "source_checksum");
    let target_rows = ledger_rows(&s.target, &first, "target_checksum");
    let want: Vec<(u64, String, String)> = source
        .tables()
        .into_iter()
        .filter(|t| t.starts_with(&format!("wp_{}_", r.updated)))
        .map(|t| (r.updated, t, "recorded".to_string()))
        .collect();
    let of_site = |rows: &[(u64, String, String)]| -> Vec<(u64, String, String)> {
        rows.iter()
            .filter(|row| row.0 == r.updated)
            .cloned()
            .collect()
    };
    assert_eq!(of_site(&source_rows), want, "source checksums recorded");
    assert_eq!(of_site(&target_rows), want, "target checksums recorded");
    let sums: Vec<(String, Option<u64>)> = s.target.query(&format!(
        "SELECT table_name, number_value FROM {LEDGER} WHERE migration_id = '{first}' \
         AND kind = 'target_checksum' AND site_id = {} AND table_name = 'wp_{}_options'",
        r.updated, r.updated
    ));
    let actual: Vec<(String, Option<u64>)> = s
        .target
        .query(&format!("CHECKSUM TABLE wp_{}_options", r.updated));
    assert_eq!(
        sums[0].1, actual[0].1,
        "the recorded target checksum is the table's"
    );
    change_source(&source, &r);
    edit_target(&s.target, &r);
    (source, s, r, first)
}

#[test]
fn a_refresh_copies_what_changed_names_drift_and_rolls_back_exactly() {
    let (source, s, r, first) = migrated_then_changed("rf_main");
    let want = expected(&r);

    // The dry run classifies every site as the test's list says; so does
    // --status, from this logs dir and from another machine's.
    let dry = ok(
        s.run(
            &[
                "env-migrate",
                "prod",
                "uat",
                "--dry-run",
                "--changed-only",
                "--json",
            ],
            None,
        ),
        "--dry-run --changed-only",
    );
    let plan = json(&dry, "dry run");
    assert_eq!(classification(&plan["refresh"]), want, "the dry run");
    assert!(plan["refresh"]["sourceChecksumSeconds"].as_f64().is_some());
    assert!(plan["refresh"]["targetChecksumSeconds"].as_f64().is_some());
    let human = ok(
        s.run(
            &["env-migrate", "prod", "uat", "--dry-run", "--changed-only"],
            None,
        ),
        "the dry run as text",
    );
    assert!(
        text(&human).contains("2 sites were changed in uat since"),
        "the plan names the drifted sites:\n{}",
        text(&human)
    );
    let other_machine = s.dir.path().join("other-logs");
    assert_eq!(status(&s, &s.logs), want, "--status");
    assert_eq!(
        status(&s, &other_machine),
        want,
        "--status on another machine"
    );

    // Without a terminal and without --force, a run that would overwrite
    // the drifted sites names them and writes nothing.
    let before = live_checksums(&s.target);
    let ledger_before: Vec<(String, String, u64, String, String)> = s.target.query(&format!(
        "SELECT migration_id, kind, site_id, table_name, state FROM {LEDGER} ORDER BY 1, 2, 3, 4"
    ));
    let refused = run(s.cmd().args(["env-migrate", "prod", "uat"]));
    assert_eq!(refused.code, 2, "{}", text(&refused));
    let words = format!(
        "2 sites were changed in uat since {first}: {}, {}",
        r.inserted_and_drifted, r.drifted
    );
    assert!(text(&refused).contains(&words), "{}", text(&refused));
    assert_same(&before, &live_checksums(&s.target), "the refused run");
    let ledger_after: Vec<(String, String, u64, String, String)> = s.target.query(&format!(
        "SELECT migration_id, kind, site_id, table_name, state FROM {LEDGER} ORDER BY 1, 2, 3, 4"
    ));
    assert_eq!(
        ledger_before, ledger_after,
        "the refused run wrote the ledger"
    );
    // On a terminal, the prompt names them; declined, nothing is written.
    let mut cmd = s.cmd();
    cmd.args(["env-migrate", "prod", "uat"]);
    let mut t = Pty::spawn(cmd);
    t.expect(&format!("{words} — they will be overwritten"));
    t.expect("Migrate prod → uat?");
    t.send("n");
    let (code, screen) = t.finish();
    assert!(screen.contains("cancelled"), "exit {code}:\n{screen}");
    assert_same(&before, &live_checksums(&s.target), "the declined run");

    // --changed-only: exactly the changed and new sites are copied, as a
    // migration of those sites would copy them; the others stay as they were.
    let snapshot = oracle::snapshot(&s.target);
    let refresh = ok(
        s.run(
            &[
                "env-migrate",
                "prod",
                "uat",
                "--changed-only",
                "--force",
                "--concurrency",
                "2",
            ],
            None,
        ),
        "--changed-only",
    );
    let id = started_id(&text(&refresh)).expect("the refresh's id");
    let copied = [r.updated, r.table_added, r.table_dropped, r.new];
    let state = s.state(&id);
    let want_status: BTreeMap<u64, String> = [
        (r.main, "unchanged"),
        (r.untouched, "unchanged"),
        (r.inserted_and_drifted, "drifted"),
        (r.drifted, "drifted"),
        (r.updated, "completed"),
        (r.table_added, "completed"),
        (r.table_dropped, "completed"),
        (r.new, "completed"),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_string()))
    .collect();
    assert_eq!(statuses(&state), want_status, "the refresh's sites");
    assert_eq!(state["status"], "completed");
    oracle::assert_target(
        &oracle::Migration::of_sites(&source, &copied),
        &snapshot,
        &s.target,
    );
    let summary = text(&refresh);
    assert!(
        summary.contains("(2 unchanged)") && summary.contains("(2 drifted in uat)"),
        "the report counts unchanged and drifted sites:\n{summary}"
    );
    let listed = ok(
        run(s
            .cmd()
            .args(["env-migrate", "--list-migrations", "--all", "--json"])),
        "--list-migrations",
    );
    let listed = json(&listed, "--list-migrations");
    let mine = listed
        .as_array()
        .and_then(|a| a.iter().find(|m| m["migrationId"] == id.as_str()))
        .unwrap_or_else(|| panic!("{id} not listed: {listed:#}"));
    assert_eq!(
        (
            mine["unchangedSites"].as_u64(),
            mine["driftedSites"].as_u64()
        ),
        (Some(2), Some(2)),
        "{mine:#}"
    );

    // Now only drift is left, and --overwrite-drift copies it.
    let mut after: Expected = want.clone();
    for site in copied {
        after.insert(site, ("unchanged", vec![], vec![]));
    }
    assert_eq!(
        status(&s, &other_machine),
        after,
        "--status after the refresh"
    );
    let snapshot = oracle::snapshot(&s.target);
    let before_overwrite = live_checksums(&s.target);
    let overwrite = ok(
        s.run(
            &[
                "env-migrate",
                "prod",
                "uat",
                "--changed-only",
                "--overwrite-drift",
                "--force",
            ],
            None,
        ),
        "--overwrite-drift",
    );
    let overwrite_id = started_id(&text(&overwrite)).expect("the id");
    oracle::assert_target(
        &oracle::Migration::of_sites(&source, &[r.inserted_and_drifted, r.drifted]),
        &snapshot,
        &s.target,
    );
    let mut clean = after.clone();
    for site in [r.inserted_and_drifted, r.drifted] {
        clean.insert(site, ("unchanged", vec![], vec![]));
    }
    assert_eq!(status(&s, &s.logs), clean, "--status after overwriting");

    // Rolled back from the other machine's view of the ledger: the target
    // is exactly as before, and the ledger no longer counts the refresh.
    ok(
        s.run(
            &["env-migrate", "--rollback", &overwrite_id, "--force"],
            None,
        ),
        "the rollback",
    );
    assert_same(
        &before_overwrite,
        &live_checksums(&s.target),
        "after the rollback",
    );
    let rows = ledger_rows(&s.target, &overwrite_id, "target_checksum");
    assert!(
        !rows.is_empty() && rows.iter().all(|row| row.2 == "rolled_back"),
        "{rows:?}"
    );
    let m: Vec<String> = s.target.query(&format!(
        "SELECT state FROM {LEDGER} WHERE migration_id = '{overwrite_id}' AND kind = 'migration'"
    ));
    assert_eq!(m, ["rolled_back"]);
    assert_eq!(
        status(&s, &other_machine),
        after,
        "--status after the rollback"
    );

    // A checksum row that makes no sense is named and refused, not trusted.
    s.target.exec(&format!(
        "UPDATE {LEDGER} SET state = 'trusted' WHERE migration_id = '{first}' AND kind = 'target_checksum' \
         AND site_id = {0} AND table_name = 'wp_{0}_options'",
        r.untouched
    ));
    let damaged =
        run(wfuwp(&s.config, &other_machine).args(["env-migrate", "--status", "prod", "uat"]));
    assert_eq!(damaged.code, 2, "{}", text(&damaged));
    for word in [
        "'trusted' is not a checksum state".to_string(),
        format!("wp_{}_options", r.untouched),
    ] {
        assert!(
            text(&damaged).contains(&word),
            "no {word:?} in:\n{}",
            text(&damaged)
        );
    }
}

/// Rounds killed at random events (two kills each, then a run to the end).
const RANDOM_ROUNDS: usize = 3;

/// Kill points of a `--changed-only` run: the first run's, then each resume's.
const KILLS: &[&[&str]] = &[
    &["site_source_checksummed:1", "site_copied:2"],
    &["backup_recorded:2", "site_live:1"],
    &["site_target_checksummed:1", "site_target_checksummed:2"],
    &["network_upserted:1", "site_swapped:3"],
];

#[test]
fn a_refresh_killed_anywhere_resumes_to_the_same_target_and_ledger() {
    let (source_db, s, r, _) = migrated_then_changed("rf_kill");
    // Each scenario refreshes its own copy of the changed target (the
    // ledger comes along: it is part of the database).
    let copies: Vec<Scenario> = (0..=KILLS.len() + RANDOM_ROUNDS)
        .map(|i| {
            let c = Scenario::new(&format!("rf_kill_{i}"), &source_db, None);
            copy_db(&s.target, &c.target);
            c
        })
        .collect();
    let args = [
        "env-migrate",
        "prod",
        "uat",
        "--changed-only",
        "--force",
        "--concurrency",
        "1",
    ];
    let reference = &copies[0];
    ok(reference.run(&args, None), "the uninterrupted refresh");
    let want = live_checksums(&reference.target);
    let want_status = status(reference, &reference.logs);
    // The chains above, then random events (`any:N`, the Nth failpoint
    // hit), replayable with WFUWP_CRASH_SEED.
    let seed: u64 = std::env::var("WFUWP_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    eprintln!("random kills: seed {seed} (replay with WFUWP_CRASH_SEED={seed})");
    let mut rng = fastrand::Rng::with_seed(seed);
    let random: Vec<Vec<String>> = (0..RANDOM_ROUNDS)
        .map(|_| {
            (0..2)
                .map(|_| format!("any:{}", 1 + rng.usize(..40)))
                .collect()
        })
        .collect();
    let chains: Vec<Vec<String>> = KILLS
        .iter()
        .map(|c| c.iter().map(|p| p.to_string()).collect())
        .chain(random)
        .collect();
    for (chain, c) in chains.iter().zip(&copies[1..]) {
        let mut id: Option<String> = None;
        let mut finished = false;
        for point in chain.iter() {
            let r = match &id {
                None => c.run(&args, Some(point)),
                Some(id) => c.run(&["env-migrate", "--resume", id, "--force"], Some(point)),
            };
            id = id.or_else(|| c.only_migration());
            if r.code == 0 && point.starts_with("any:") {
                // Fewer events than drawn: it ran to the end.
                finished = true;
                break;
            }
            migration_kit::assert_killed(&r, point);
        }
        let id = match id {
            Some(id) => id,
            // Killed before the migration existed: a new run, to the end.
            None => {
                ok(c.run(&args, None), "the refresh after early kills");
                finished = true;
                c.only_migration().expect("the refresh's migration")
            }
        };
        if !finished {
            c.resume_to_completion(&id);
        }
        let what = format!("killed at {chain:?}");
        assert_same(&want, &live_checksums(&c.target), &what);
        assert_eq!(status(c, &c.logs), want_status, "{what}: --status");
        let st = statuses(&c.state(&id));
        assert_eq!(st[&r.drifted], "drifted", "{what}");
        assert_eq!(st[&r.untouched], "unchanged", "{what}");
    }
}
