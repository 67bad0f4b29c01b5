//! Rollback (issue 6, docs/rollback.md): `--rollback ID` restores the target
//! checksum-identical (`CHECKSUM TABLE` over every table) to its state before
//! the migration — after a clean run, after a run killed and resumed several
//! times, after a partial migration, and when the rollback itself is killed —
//! and is refused when there is nothing to roll back to.

use crate::migration_kit;
use crate::support;

use migration_kit::{assert_killed, assert_same, started_id, Scenario};
use support::{seed_network, table_checksums, Run, TestDb};
use wfuwp_testbed::NetworkOptions;

/// A source network of 8 sites and a target scenario holding a different
/// 6-site network, so the migration replaces some sites' tables (backups)
/// and creates others (removed by the rollback).
struct Setup {
    source: TestDb,
    s: Scenario,
}

fn setup(label: &str) -> Setup {
    let source = TestDb::new(&format!("{label}_src"));
    seed_network(
        &source,
        &NetworkOptions {
            sites: 8,
            posts_per_site: 3,
            seed: 11,
            concurrency: 2,
            ..NetworkOptions::default()
        },
    );
    let s = Scenario::new(&format!("{label}_dst"), &source, None);
    seed_network(&s.target, &support::uat_network(977, 2));
    Setup { source, s }
}

fn migrate(s: &Scenario, extra: &[&str]) -> String {
    let mut args = vec!["env-migrate", "prod", "uat", "--force"];
    args.extend_from_slice(extra);
    let r = s.run(&args, None);
    assert_eq!(r.code, 0, "migration failed:\n{}\n{}", r.stdout, r.stderr);
    started_id(&r.stderr)
        .or_else(|| started_id(&r.stdout))
        .expect("no 'Migration <id> started' line")
}

fn rollback(s: &Scenario, id: &str, failpoint: Option<&str>) -> Run {
    s.run(&["env-migrate", "--rollback", id, "--force"], failpoint)
}

fn assert_ok(r: &Run, what: &str) {
    assert_eq!(r.code, 0, "{what} failed:\n{}\n{}", r.stdout, r.stderr);
}

/// Asserts a refusal: a non-zero exit (not a crash) whose output mentions every one of `words`.
fn assert_refused(r: &Run, what: &str, words: &[&str]) {
    assert!(
        r.code > 0,
        "{what}: expected a refusal, got exit {}:\n{}\n{}",
        r.code,
        r.stdout,
        r.stderr
    );
    let text = format!("{}\n{}", r.stdout, r.stderr).to_lowercase();
    for w in words {
        assert!(
            text.contains(&w.to_lowercase()),
            "{what}: the refusal does not mention {w:?}:\n{text}"
        );
    }
}

/// The target after rollback equals `before`, table for table (so every
/// table the migration created is gone and no `_wf*` table remains).
fn assert_restored(
    s: &Scenario,
    id: &str,
    before: &migration_kit::Checksums,
    shape: &migration_kit::Picture,
    what: &str,
) {
    assert_same(before, &table_checksums(&s.target), what);
    // Definitions, collations and AUTO_INCREMENT counters too, not just rows.
    migration_kit::assert_same_picture(shape, &migration_kit::picture(&s.target), what);
    assert_eq!(
        s.state(id)["status"],
        "rolled_back",
        "{what}: state not rolled_back"
    );
}

#[test]
fn rollback_after_a_clean_run_restores_the_target_and_is_final() {
    let Setup { source: _source, s } = setup("rb_clean");
    let before = table_checksums(&s.target);
    let shape = migration_kit::picture(&s.target);
    let id = migrate(&s, &[]);
    let after = table_checksums(&s.target);
    assert_ne!(before, after, "the migration changed nothing");
    assert!(
        after.keys().any(|t| t.starts_with("wp_8_")),
        "the migration did not create site 8's tables"
    );

    assert_ok(&rollback(&s, &id, None), "rollback");
    assert_restored(&s, &id, &before, &shape, "rollback after a clean run");

    // (f) rolled back is final: no resume, no second rollback, nothing changed.
    let resume = s.run(&["env-migrate", "--resume", &id, "--force"], None);
    assert_refused(&resume, "resume after rollback", &["rolled back"]);
    let again = rollback(&s, &id, None);
    assert_refused(&again, "second rollback", &["already rolled back"]);
    assert_same(
        &before,
        &table_checksums(&s.target),
        "after the refused resume and rollback",
    );
}

#[test]
fn rollback_after_kills_and_resumes_restores_the_original_tables() {
    let Setup { source: _source, s } = setup("rb_killed");
    let before = table_checksums(&s.target);
    let shape = migration_kit::picture(&s.target);
    // Killed between a site's swap and its `completed` record, then while the
    // redo of that site swaps again, then at other points; resumed each time.
    let first = s.run(
        &["env-migrate", "prod", "uat", "--force"],
        Some("site_swapped:1"),
    );
    assert_killed(&first, "first run");
    let id = s.only_migration().expect("migration directory");
    for fp in [
        "swap_renamed:1",
        "site_swapped:2",
        "backup_recorded:2",
        "site_copied:1",
        "post_migration_verified:1",
    ] {
        let r = s.run(&["env-migrate", "--resume", &id, "--force"], Some(fp));
        assert_killed(&r, &format!("resume killed at {fp}"));
    }
    s.resume_to_completion(&id);
    assert_eq!(s.state(&id)["status"], "completed");
    assert_ok(&rollback(&s, &id, None), "rollback");
    assert_restored(
        &s,
        &id,
        &before,
        &shape,
        "rollback after five kills and resumes",
    );
}

#[test]
fn rollback_of_an_interrupted_migration_restores_the_target() {
    let Setup { source: _source, s } = setup("rb_interrupted");
    let before = table_checksums(&s.target);
    let shape = migration_kit::picture(&s.target);
    // One site at a time, so the kill points are exact: killed after site 2's
    // swap (site 1 completed), then the resume's redo of site 2 is killed
    // between its RENAME and the DROP of the trash tables: a site swapped but
    // not recorded completed, trash tables left.
    let first = s.run(
        &[
            "env-migrate",
            "prod",
            "uat",
            "--force",
            "--concurrency",
            "1",
        ],
        Some("site_swapped:2"),
    );
    assert_killed(&first, "first run");
    let id = s.only_migration().expect("migration directory");
    let resume = s.run(
        &[
            "env-migrate",
            "--resume",
            &id,
            "--force",
            "--concurrency",
            "1",
        ],
        Some("swap_renamed:1"),
    );
    assert_killed(&resume, "resume killed mid-swap");
    // Then three sites at once, killed when the first finishes its copy: no
    // swap ran in that run, so the trash stays; staging tables are left.
    let resume = s.run(
        &[
            "env-migrate",
            "--resume",
            &id,
            "--force",
            "--concurrency",
            "3",
        ],
        Some("site_copied:1"),
    );
    assert_killed(&resume, "resume killed after a copy");
    let tables = s.target.tables();
    for marker in [migration_kit::TRASH, migration_kit::STAGING] {
        assert!(
            tables.iter().any(|t| t.starts_with(marker)),
            "no {marker} table before the rollback (the scenario did not happen): {tables:?}"
        );
    }
    assert_ok(&rollback(&s, &id, None), "rollback");
    assert_restored(&s, &id, &before, &shape, "rollback of a killed migration");
}

#[test]
fn rollback_after_a_partial_migration_restores_the_target() {
    let Setup { source: _source, s } = setup("rb_partial");
    let before = table_checksums(&s.target);
    let shape = migration_kit::picture(&s.target);
    let id = migrate(&s, &["--include-sites", "2,3"]);
    let after = table_checksums(&s.target);
    let changed: Vec<&String> = after
        .keys()
        .filter(|t| before.get(*t) != after.get(*t))
        .collect();
    assert!(
        changed.iter().any(|t| t.starts_with("wp_2_")),
        "site 2 was not migrated: {changed:?}"
    );
    assert!(
        !changed.iter().any(|t| t.starts_with("wp_4_")),
        "site 4 changed in a partial migration: {changed:?}"
    );
    assert_ok(&rollback(&s, &id, None), "rollback");
    assert_restored(
        &s,
        &id,
        &before,
        &shape,
        "rollback after a partial migration",
    );
}

#[test]
fn rollback_after_a_partial_migration_killed_in_its_network_phase() {
    let Setup { source: _source, s } = setup("rb_partial_killed");
    let before = table_checksums(&s.target);
    let shape = migration_kit::picture(&s.target);
    let args = [
        "env-migrate",
        "prod",
        "uat",
        "--force",
        "--include-sites",
        "2,3,8",
    ];
    assert_killed(&s.run(&args, Some("network_backed_up:1")), "first run");
    let id = s.only_migration().expect("migration directory");
    for fp in ["network_upserted:1", "site_swapped:1"] {
        let r = s.run(&["env-migrate", "--resume", &id, "--force"], Some(fp));
        assert_killed(&r, &format!("resume killed at {fp}"));
    }
    s.resume_to_completion(&id);
    assert_ok(&rollback(&s, &id, None), "rollback");
    assert_restored(
        &s,
        &id,
        &before,
        &shape,
        "rollback after a killed partial migration",
    );
}

#[test]
fn rollback_killed_midway_completes_when_run_again() {
    let Setup { source: _source, s } = setup("rb_rb_killed");
    let before = table_checksums(&s.target);
    let shape = migration_kit::picture(&s.target);
    let id = migrate(&s, &[]);
    assert_killed(
        &rollback(&s, &id, Some("rollback_site_swapped:2")),
        "rollback killed after its 2nd site",
    );
    assert_ne!(
        s.state(&id)["status"],
        "rolled_back",
        "a killed rollback recorded itself as done"
    );
    // Killed again, this time between a rename and its drops.
    assert_killed(
        &rollback(&s, &id, Some("swap_renamed:2")),
        "rollback killed mid-swap",
    );
    let resume = s.run(&["env-migrate", "--resume", &id, "--force"], None);
    assert_refused(
        &resume,
        "resume during an unfinished rollback",
        &["rollback"],
    );
    assert_ok(&rollback(&s, &id, None), "rollback run again");
    assert_restored(
        &s,
        &id,
        &before,
        &shape,
        "rollback killed twice, then completed",
    );
}

#[test]
fn rollback_is_refused_without_backups() {
    let Setup { source: _source, s } = setup("rb_refused");
    // --skip-backup: nothing to go back to.
    let skipped = migrate(&s, &["--skip-backup"]);
    let after_skip = table_checksums(&s.target);
    let r = rollback(&s, &skipped, None);
    assert_refused(
        &r,
        "rollback of a --skip-backup migration",
        &["--skip-backup"],
    );
    assert_same(
        &after_skip,
        &table_checksums(&s.target),
        "after the refused rollback",
    );

    // A, then B to the same target: B's completion dropped A's backups.
    let a = migrate(&s, &[]);
    let after_a = migration_kit::live_checksums(&s.target);
    let b = migrate(&s, &[]);
    assert_ne!(a, b);
    let after_b = table_checksums(&s.target);
    let r = rollback(&s, &a, None);
    assert_refused(
        &r,
        "rollback of A after B completed",
        &["backup tables", "dropped", &b],
    );
    assert_same(
        &after_b,
        &table_checksums(&s.target),
        "after the refused rollback of A",
    );
    assert_ne!(s.state(&a)["status"], "rolled_back");
    // B itself still rolls back: to the target as A left it (without A's backups).
    assert_ok(&rollback(&s, &b, None), "rollback of B");
    assert_same(&after_a, &table_checksums(&s.target), "rollback of B");
}

/// Every step of a rollback killed once: each run redoes the record the
/// previous run was killed in (the first failpoint hit) and is killed in the
/// next one (the second hit), alternately between the RENAME and its drops
/// and between the swap and the record; the last run finishes.
#[test]
fn rollback_killed_at_every_record_completes_when_run_again() {
    let Setup { source: _source, s } = setup("rb_every");
    let before = table_checksums(&s.target);
    let shape = migration_kit::picture(&s.target);
    let id = migrate(&s, &[]);
    let mut kills = 0;
    for run in 0.. {
        assert!(run < 30, "rollback not finished after 30 runs");
        let fp = if run % 2 == 0 {
            "swap_renamed:2"
        } else {
            "rollback_site_swapped:2"
        };
        let r = rollback(&s, &id, Some(fp));
        if r.code == -1 {
            kills += 1;
            assert_ne!(
                s.state(&id)["status"],
                "rolled_back",
                "a killed rollback recorded itself as done"
            );
            continue;
        }
        assert_ok(&r, &format!("rollback run {run}"));
        break;
    }
    eprintln!("rollback killed {kills} times");
    // 8 sites and the network tables: one record restored per killed run.
    assert!(kills >= 7, "only {kills} rollback runs were killed");
    assert_restored(&s, &id, &before, &shape, "rollback killed at every record");
}

/// Killed after a site's backup plan was recorded but before its RENAME ran:
/// the recorded backup tables do not exist yet (the originals are still
/// live), which must not be mistaken for "backups are gone".
#[test]
fn rollback_of_a_migration_killed_between_backup_record_and_swap() {
    let Setup { source: _source, s } = setup("rb_before_swap");
    let before = table_checksums(&s.target);
    let shape = migration_kit::picture(&s.target);
    // Records: 1 = network tables, 2 = site 1 (swapped, completed), 3 = site 2.
    let first = s.run(
        &[
            "env-migrate",
            "prod",
            "uat",
            "--force",
            "--concurrency",
            "1",
        ],
        Some("backup_recorded:3"),
    );
    assert_killed(&first, "first run");
    let id = s.only_migration().expect("migration directory");
    assert_ok(&rollback(&s, &id, None), "rollback");
    assert_restored(
        &s,
        &id,
        &before,
        &shape,
        "rollback of a migration killed before a swap",
    );
}
