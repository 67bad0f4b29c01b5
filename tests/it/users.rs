//! Partial migrations carry their users (issue 11, part 4; docs/phases.md).
//!
//! The source's and the target's users are written here by hand, so every
//! expected value below is a literal (or the target's own rows from before
//! the run): nothing is computed by the engine's code. The target's users
//! were made independently of the source's: other ids, a user with the same
//! id and login (bob), one whose id is taken by someone else (carol vs dave)
//! and one whose login is (erin).
//!
//! Source users and the sites that need them (`--include-sites 2,3,4`):
//!
//! | id | login | needed by                                  |
//! |----|-------|--------------------------------------------|
//! | 5  | alice | site 2 (member)                            |
//! | 6  | bob   | site 2 (member), sites 3 and 4 (author)    |
//! | 7  | carol | site 3 (member)                            |
//! | 8  | erin  | site 4 (member)                            |
//! | 9  | frank | site 5 only (not selected)                 |
//! | 10 | gina  | site 2 (author of its posts, not a member) |

use crate::migration_kit;
use crate::oracle;
use crate::support;

use migration_kit::{assert_killed, assert_same, live_checksums, started_id, Checksums, Scenario};
use support::{seed_network, table_checksums, Run, TestDb};

const NEW: &[&str] = &[
    "env-migrate",
    "prod",
    "uat",
    "--force",
    "--include-sites",
    "2,3,4",
];

/// Every column of a `users` row, as the server stores it (NULL as `None`).
type UserRow = Vec<Option<String>>;
/// (user_id, meta_key, meta_value) of usermeta.
type MetaRow = (u64, String, String);

const CAPS_AUTHOR: &str = r#"a:1:{s:6:"author";b:1;}"#;
const CAPS_EDITOR: &str = r#"a:1:{s:6:"editor";b:1;}"#;

fn source_network(label: &str) -> TestDb {
    let db = TestDb::new(label);
    seed_network(
        &db,
        &wfuwp_testbed::NetworkOptions {
            sites: 6,
            posts_per_site: 2,
            seed: 31,
            concurrency: 2,
            ..Default::default()
        },
    );
    db.exec(
        "DELETE FROM wp_users; DELETE FROM wp_usermeta; \
         INSERT INTO wp_users (ID, user_login, user_pass, user_nicename, user_email, user_url, user_registered, display_name) VALUES \
           (1, 'admin', 'p1', 'admin', 'admin@wfu.edu', '', '2020-01-01 00:00:00', 'Admin'), \
           (5, 'alice', 'p5', 'alice', 'alice@wfu.edu', 'https://www.wfu.edu/~alice/', '2020-01-01 00:00:00', 'Alice'), \
           (6, 'bob', 'p6', 'bob', 'bob@wfu.edu', 'https://biology.wfu.edu/bob', '2020-01-01 00:00:00', 'Bob Prod'), \
           (7, 'carol', 'p7', 'carol', 'carol@wfu.edu', '', '2020-01-01 00:00:00', 'Carol'), \
           (8, 'erin', 'p8', 'erin', 'erin@wfu.edu', '', '2020-01-01 00:00:00', 'Erin'), \
           (9, 'frank', 'p9', 'frank', 'frank@wfu.edu', '', '2020-01-01 00:00:00', 'Frank'), \
           (10, 'gina', 'p10', 'gina', 'gina@wfu.edu', '', '2020-01-01 00:00:00', 'Gina'); \
         INSERT INTO wp_usermeta (umeta_id, user_id, meta_key, meta_value) VALUES \
           (1, 1, 'wp_capabilities', 'a:1:{s:13:\"administrator\";b:1;}'), \
           (2, 5, 'nickname', 'alice'), \
           (3, 5, 'first_name', 'Alice'), \
           (4, 5, 'source_domain', 'biology.wfu.edu'), \
           (5, 5, 'wp_capabilities', 'a:1:{s:10:\"subscriber\";b:1;}'), \
           (6, 5, 'wp_2_capabilities', 'a:1:{s:6:\"author\";b:1;}'), \
           (7, 5, 'wp_5_capabilities', 'a:1:{s:6:\"editor\";b:1;}'), \
           (8, 6, 'nickname', 'bob-prod'), \
           (9, 6, 'wp_2_capabilities', 'a:1:{s:6:\"editor\";b:1;}'), \
           (10, 6, 'wp_3_capabilities', 'prod-3'), \
           (11, 7, 'wp_3_capabilities', 'a:1:{s:6:\"author\";b:1;}'), \
           (12, 8, 'wp_4_capabilities', 'a:1:{s:6:\"author\";b:1;}'), \
           (13, 9, 'wp_5_capabilities', 'a:1:{s:6:\"author\";b:1;}'), \
           (14, 10, 'nickname', 'gina'); \
         UPDATE wp_2_posts SET post_author = 10; \
         UPDATE wp_3_posts SET post_author = 6; \
         UPDATE wp_4_posts SET post_author = 6; \
         UPDATE wp_5_posts SET post_author = 9",
    );
    db
}

/// A uat network of its own (other seed and content), whose users are
/// replaced by hand-written ones; its usermeta ids overlap the source's.
fn pristine_target(label: &str) -> TestDb {
    let db = TestDb::new(label);
    seed_network(&db, &support::uat_network(977, 1));
    support::make_independent(&db);
    db.exec(
        "DELETE FROM wp_users; DELETE FROM wp_usermeta; \
         INSERT INTO wp_users (ID, user_login, user_pass, user_nicename, user_email, user_url, user_registered, display_name) VALUES \
           (1, 'uatadmin', 'u1', 'uatadmin', 'admin@uat.wfu.edu', '', '2021-01-01 00:00:00', 'UAT Admin'), \
           (6, 'bob', 'u6', 'bob', 'bob@uat.wfu.edu', '', '2021-01-01 00:00:00', 'Bob UAT'), \
           (7, 'dave', 'u7', 'dave', 'dave@uat.wfu.edu', '', '2021-01-01 00:00:00', 'Dave'), \
           (30, 'erin', 'u30', 'erin', 'erin@uat.wfu.edu', '', '2021-01-01 00:00:00', 'Erin UAT'), \
           (31, 'uatonly', 'u31', 'uatonly', 'only@uat.wfu.edu', '', '2021-01-01 00:00:00', 'Only'); \
         INSERT INTO wp_usermeta (umeta_id, user_id, meta_key, meta_value) VALUES \
           (1, 1, 'wp_capabilities', 'a:1:{s:13:\"administrator\";b:1;}'), \
           (2, 6, 'nickname', 'Bobby-uat'), \
           (3, 6, 'wp_capabilities', 'a:1:{s:6:\"editor\";b:1;}'), \
           (4, 6, 'wp_2_capabilities', 'uat-2'), \
           (5, 6, 'wp_2_user_level', '0'), \
           (6, 6, 'wp_3_capabilities', 'uat-3'), \
           (7, 6, 'wp_5_capabilities', 'uat-5'), \
           (8, 7, 'wp_3_capabilities', 'dave-3'), \
           (9, 30, 'wp_4_capabilities', 'erin-4'), \
           (10, 31, 'nickname', 'only'); \
         UPDATE wp_sitemeta SET meta_value = 'a:1:{i:0;s:8:\"uatadmin\";}' WHERE meta_key = 'site_admins'",
    );
    db
}

/// Every row of `wp_users` (all columns), by ID; `filter` selects some.
fn users_where(db: &TestDb, filter: &str) -> Vec<UserRow> {
    oracle::raw_rows(
        db,
        &format!("SELECT * FROM wp_users WHERE {filter} ORDER BY ID"),
    )
    .into_iter()
    .map(|r| {
        r.into_iter()
            .map(|c| c.map(|b| String::from_utf8_lossy(&b).into_owned()))
            .collect()
    })
    .collect()
}

fn users(db: &TestDb) -> Vec<UserRow> {
    users_where(db, "1")
}

fn meta(db: &TestDb, filter: &str) -> Vec<MetaRow> {
    db.query(&format!(
        "SELECT user_id, meta_key, meta_value FROM wp_usermeta WHERE {filter} ORDER BY user_id, meta_key"
    ))
}

/// A whole `users` row: (ID, user_login, user_pass, user_nicename,
/// user_email, user_url, user_registered, user_activation_key, user_status,
/// display_name, spam, deleted).
fn user(
    id: u64,
    login: &str,
    pass: &str,
    email: &str,
    url: &str,
    registered: &str,
    name: &str,
) -> UserRow {
    [
        &id.to_string(),
        login,
        pass,
        login,
        email,
        url,
        registered,
        "",
        "0",
        name,
        "0",
        "0",
    ]
    .iter()
    .map(|c| Some(c.to_string()))
    .collect()
}

/// A source user as written above, after the migration (`url` replaced).
fn prod_user(id: u64, login: &str, url: &str, name: &str) -> UserRow {
    let email = format!("{login}@wfu.edu");
    user(
        id,
        login,
        &format!("p{id}"),
        &email,
        url,
        "2020-01-01 00:00:00",
        name,
    )
}

/// A target user as written above.
fn uat_user(id: u64, login: &str, email: &str, name: &str) -> UserRow {
    user(
        id,
        login,
        &format!("u{id}"),
        email,
        "",
        "2021-01-01 00:00:00",
        name,
    )
}

fn m(user: u64, key: &str, value: &str) -> MetaRow {
    (user, key.into(), value.into())
}

fn text(r: &Run) -> String {
    format!("{}\n{}", r.stdout, r.stderr)
}

fn site(state: &serde_json::Value, id: u64) -> serde_json::Value {
    state["sites"]
        .as_array()
        .and_then(|s| s.iter().find(|r| r["siteId"] == id))
        .cloned()
        .unwrap_or_else(|| panic!("site {id} missing from the state: {state}"))
}

/// The tables of sites 3 and 4 (failed) and everything but blogs, blogmeta,
/// users, usermeta and site 2's tables.
fn outside_site_2(c: &Checksums) -> Checksums {
    c.iter()
        .filter(|(t, _)| {
            !t.starts_with("wp_2_")
                && !t.starts_with("_wf")
                && !["wp_blogs", "wp_blogmeta", "wp_users", "wp_usermeta"].contains(&t.as_str())
        })
        .map(|(t, v)| (t.clone(), *v))
        .collect()
}

/// (a)–(d): members and authors come along with their ids; a user the target
/// has under the same id and login is updated in the selected sites' keys
/// only; a clash by id or by login fails that site alone, naming both users.
#[test]
fn members_and_authors_come_along_and_a_clash_fails_only_its_site() {
    let source = source_network("usr_main_src");
    let pristine = pristine_target("usr_main_pristine");
    let s = Scenario::new("usr_main_dst", &source, Some(&pristine));
    let before = table_checksums(&s.target);
    let snapshot = oracle::snapshot(&s.target);
    let blogs_3_4: Vec<(u64, String)> = s
        .target
        .query("SELECT blog_id, domain FROM wp_blogs WHERE blog_id IN (3, 4) ORDER BY blog_id");
    let untouched_meta = meta(&s.target, "user_id NOT IN (5, 6, 10)");

    let r = s.run(NEW, None);
    assert_eq!(r.code, 3, "two sites must fail (exit 3):\n{}", text(&r));
    let id = started_id(&text(&r)).expect("migration id");
    let state = s.state(&id);

    // (c) id taken by another login; (d) login taken under another id.
    let s3 = site(&state, 3);
    let s4 = site(&state, 4);
    assert_eq!(
        (s3["status"].as_str(), s3["errorKind"].as_str()),
        (Some("failed"), Some("data"))
    );
    assert_eq!(
        (s4["status"].as_str(), s4["errorKind"].as_str()),
        (Some("failed"), Some("data"))
    );
    let e3 = s3["error"].as_str().unwrap_or_default();
    let e4 = s4["error"].as_str().unwrap_or_default();
    for part in ["source user ID 7 'carol'", "ID 7 is taken by user 'dave'"] {
        assert!(e3.contains(part), "site 3's error lacks {part:?}: {e3}");
    }
    for part in [
        "source user ID 8 'erin'",
        "login 'erin' is taken by user ID 30",
    ] {
        assert!(e4.contains(part), "site 4's error lacks {part:?}: {e4}");
    }
    assert_eq!(site(&state, 2)["status"], "completed");

    // (a) alice and gina are new: same ids; the replacement applied to their
    // rows; usermeta: global keys and site 2's, never the main site's or
    // site 5's. (b) bob: his row is the source's, only his site 2 keys changed.
    assert_eq!(
        users(&s.target),
        vec![
            uat_user(1, "uatadmin", "admin@uat.wfu.edu", "UAT Admin"),
            prod_user(5, "alice", "https://uat.wfu.edu/~alice/", "Alice"),
            prod_user(6, "bob", "https://biology.uat.wfu.edu/bob", "Bob Prod"),
            uat_user(7, "dave", "dave@uat.wfu.edu", "Dave"),
            prod_user(10, "gina", "", "Gina"),
            uat_user(30, "erin", "erin@uat.wfu.edu", "Erin UAT"),
            uat_user(31, "uatonly", "only@uat.wfu.edu", "Only"),
        ]
    );
    assert_eq!(
        meta(&s.target, "user_id IN (5, 6, 10)"),
        vec![
            m(5, "first_name", "Alice"),
            m(5, "nickname", "alice"),
            m(5, "source_domain", "biology.uat.wfu.edu"),
            m(5, "wp_2_capabilities", CAPS_AUTHOR),
            m(6, "nickname", "Bobby-uat"),
            m(6, "wp_2_capabilities", CAPS_EDITOR),
            m(6, "wp_3_capabilities", "uat-3"),
            m(6, "wp_5_capabilities", "uat-5"),
            m(6, "wp_capabilities", CAPS_EDITOR),
            m(10, "nickname", "gina"),
        ]
    );
    assert_eq!(meta(&s.target, "user_id NOT IN (5, 6, 10)"), untouched_meta);
    let ids: Vec<u64> = s.target.query("SELECT umeta_id FROM wp_usermeta");
    let distinct: std::collections::BTreeSet<&u64> = ids.iter().collect();
    assert_eq!(distinct.len(), ids.len(), "usermeta ids must stay unique");

    // Failed sites: not migrated, their blogs rows untouched; sitemeta
    // (site_admins) and everything outside site 2 untouched.
    assert_eq!(
        s.target.query::<(u64, String)>(
            "SELECT blog_id, domain FROM wp_blogs WHERE blog_id IN (3, 4) ORDER BY blog_id"
        ),
        blogs_3_4
    );
    assert_same(
        &outside_site_2(&before),
        &outside_site_2(&table_checksums(&s.target)),
        "outside site 2 and the users tables",
    );
    let admins: Vec<String> = s
        .target
        .query("SELECT meta_value FROM wp_sitemeta WHERE meta_key = 'site_admins'");
    assert_eq!(admins, vec![r#"a:1:{i:0;s:8:"uatadmin";}"#.to_string()]);
    let site2: Vec<String> = s
        .target
        .query("SELECT domain FROM wp_blogs WHERE blog_id = 2");
    let src2: Vec<String> = source.query("SELECT domain FROM wp_blogs WHERE blog_id = 2");
    assert_eq!(site2, vec![src2[0].replace(".wfu.edu", ".uat.wfu.edu")]);
    // And the whole target by the oracle, which finds the same two sites
    // failing by the rules alone.
    let verdict = oracle::assert_target(
        &oracle::Migration::of_sites(&source, &[2, 3, 4]),
        &snapshot,
        &s.target,
    );
    assert_eq!(verdict.failed_sites, vec![3, 4], "{verdict:?}");
    assert_eq!(verdict.brought_users, vec![5, 6, 10], "{verdict:?}");
}

/// A partial migration that includes the main site: its tables, its users
/// (`wp_capabilities` holders and the authors of `wp_posts`) and site 2's
/// come along; `users` and `usermeta` end as the literal rows below, every
/// column, ids included, and the oracle judges the rest of the target.
#[test]
fn a_partial_migration_with_the_main_site_brings_its_users() {
    let source = source_network("usr_one_src");
    let pristine = pristine_target("usr_one_pristine");
    let s = Scenario::new("usr_one_dst", &source, Some(&pristine));
    // The target's admin is the source's (same ID and login), so site 1 goes in.
    s.target
        .exec("UPDATE wp_users SET user_login = 'admin', user_nicename = 'admin' WHERE ID = 1");
    let snapshot = oracle::snapshot(&s.target);
    let r = s.run(
        &[
            "env-migrate",
            "prod",
            "uat",
            "--force",
            "--include-sites",
            "1,2",
        ],
        None,
    );
    assert_eq!(r.code, 0, "{}", text(&r));

    // Brought: admin (1, site 1's capabilities and posts), alice (5, site 1's
    // and site 2's capabilities), bob (6, site 2's), gina (10, site 2's posts).
    let admin = {
        let mut u = user(
            1,
            "admin",
            "p1",
            "admin@wfu.edu",
            "",
            "2020-01-01 00:00:00",
            "Admin",
        );
        u[3] = Some("admin".into());
        u
    };
    let users = vec![
        admin,
        prod_user(5, "alice", "https://uat.wfu.edu/~alice/", "Alice"),
        prod_user(6, "bob", "https://biology.uat.wfu.edu/bob", "Bob Prod"),
        uat_user(7, "dave", "dave@uat.wfu.edu", "Dave"),
        prod_user(10, "gina", "", "Gina"),
        uat_user(30, "erin", "erin@uat.wfu.edu", "Erin UAT"),
        uat_user(31, "uatonly", "only@uat.wfu.edu", "Only"),
    ];
    // Owned and replaced: the brought users' keys of sites 1 and 2 (the
    // target's own deleted: 1, 3, 4, 5), and the new users' (alice, gina)
    // global keys. The source's ids 2, 6 and 9 are held by rows the target
    // keeps: renumbered above every id on either side (14), in source order.
    let meta = |id: u64, user: u64, key: &str, value: &str| {
        vec![
            Some(id.to_string()),
            Some(user.to_string()),
            Some(key.to_string()),
            Some(value.to_string()),
        ]
    };
    let usermeta = vec![
        meta(
            1,
            1,
            "wp_capabilities",
            r#"a:1:{s:13:"administrator";b:1;}"#,
        ),
        meta(2, 6, "nickname", "Bobby-uat"),
        meta(3, 5, "first_name", "Alice"),
        meta(4, 5, "source_domain", "biology.uat.wfu.edu"),
        meta(5, 5, "wp_capabilities", r#"a:1:{s:10:"subscriber";b:1;}"#),
        meta(6, 6, "wp_3_capabilities", "uat-3"),
        meta(7, 6, "wp_5_capabilities", "uat-5"),
        meta(8, 7, "wp_3_capabilities", "dave-3"),
        meta(9, 30, "wp_4_capabilities", "erin-4"),
        meta(10, 31, "nickname", "only"),
        meta(14, 10, "nickname", "gina"),
        meta(15, 5, "nickname", "alice"),
        meta(16, 5, "wp_2_capabilities", CAPS_AUTHOR),
        meta(17, 6, "wp_2_capabilities", CAPS_EDITOR),
    ];
    let verdict = oracle::assert_target(
        &oracle::Migration::of_sites(&source, &[1, 2])
            .users(oracle::Users::Literal { users, usermeta }),
        &snapshot,
        &s.target,
    );
    assert!(verdict.failed_sites.is_empty(), "{verdict:?}");
    assert_eq!(verdict.brought_users, vec![1, 5, 6, 10], "{verdict:?}");
}

/// A resume with --retry-failed checks the users again: once the clash is
/// resolved on the target, the site goes in with its users.
#[test]
fn a_site_failed_by_a_clash_goes_in_on_retry_once_the_clash_is_resolved() {
    let source = source_network("usr_retry_src");
    let pristine = pristine_target("usr_retry_pristine");
    let s = Scenario::new("usr_retry_dst", &source, Some(&pristine));
    let r = s.run(NEW, None);
    assert_eq!(r.code, 3, "{}", text(&r));
    let id = started_id(&text(&r)).expect("migration id");
    // The operator moves dave out of carol's way; erin stays in the way.
    s.target
        .exec("UPDATE wp_users SET ID = 70 WHERE ID = 7; UPDATE wp_usermeta SET user_id = 70 WHERE user_id = 7");
    let r = s.run(
        &["env-migrate", "--resume", &id, "--force", "--retry-failed"],
        None,
    );
    assert_eq!(r.code, 3, "site 4 still fails:\n{}", text(&r));
    let state = s.state(&id);
    assert_eq!(site(&state, 3)["status"], "completed");
    assert_eq!(site(&state, 4)["status"], "failed");
    assert_eq!(site(&state, 4)["errorKind"], "data");
    assert_eq!(
        users_where(&s.target, "ID = 7"),
        vec![prod_user(7, "carol", "", "Carol")]
    );
    assert_eq!(
        meta(
            &s.target,
            "user_id IN (6, 7) AND meta_key LIKE 'wp\\_3\\_%'"
        ),
        vec![
            m(6, "wp_3_capabilities", "prod-3"),
            m(7, "wp_3_capabilities", CAPS_AUTHOR)
        ]
    );
    let blog3: Vec<u64> = s
        .target
        .query("SELECT COUNT(*) FROM wp_blogs WHERE blog_id = 3");
    assert_eq!(blog3, vec![1]);
}

/// (e) --no-users: users and usermeta byte-identical; recorded in the options.
#[test]
fn no_users_leaves_users_and_usermeta_byte_identical() {
    let source = source_network("usr_none_src");
    let pristine = pristine_target("usr_none_pristine");
    let s = Scenario::new("usr_none_dst", &source, Some(&pristine));
    let before = table_checksums(&s.target);
    let snapshot = oracle::snapshot(&s.target);
    let mut args = NEW.to_vec();
    args.push("--no-users");
    let r = s.run(&args, None);
    assert_eq!(r.code, 0, "no users, no clash:\n{}", text(&r));
    oracle::assert_target(
        &oracle::Migration::of_sites(&source, &[2, 3, 4]).users(oracle::Users::Untouched),
        &snapshot,
        &s.target,
    );
    let after = table_checksums(&s.target);
    for t in ["wp_users", "wp_usermeta", "wp_sitemeta"] {
        assert_eq!(after.get(t), before.get(t), "{t} changed under --no-users");
    }
    let id = started_id(&text(&r)).expect("migration id");
    let config: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(s.logs.join(&id).join("migration-config.json")).expect("config"),
    )
    .expect("config json");
    assert_eq!(config["options"]["noUsers"], true);
    let state = s.state(&id);
    for t in state["networkBackup"]["tables"]
        .as_array()
        .expect("network backup")
    {
        assert!(
            !t["live"].as_str().unwrap_or_default().contains("user"),
            "{t}"
        );
    }
}

/// (f) Rollback puts users and usermeta (and everything else) back exactly.
#[test]
fn rollback_restores_users_and_usermeta_exactly() {
    let source = source_network("usr_rb_src");
    let pristine = pristine_target("usr_rb_pristine");
    let s = Scenario::new("usr_rb_dst", &source, Some(&pristine));
    let before = table_checksums(&s.target);
    let r = s.run(NEW, None);
    assert_eq!(r.code, 3, "{}", text(&r));
    let id = started_id(&text(&r)).expect("migration id");
    let during = table_checksums(&s.target);
    for t in ["wp_users", "wp_usermeta"] {
        assert_ne!(
            during.get(t),
            before.get(t),
            "{t} must have changed for this test to mean anything"
        );
    }
    let r = s.run(&["env-migrate", "--rollback", &id, "--force"], None);
    assert_eq!(r.code, 0, "rollback:\n{}", text(&r));
    assert_same(&before, &table_checksums(&s.target), "after the rollback");
}

/// (g) A kill at any point of the users step, then a resume, ends exactly as
/// an uninterrupted run: same tables, same usermeta ids, same site outcomes.
#[test]
fn a_kill_in_the_users_step_then_resume_equals_an_uninterrupted_run() {
    let source = source_network("usr_kill_src");
    let pristine = pristine_target("usr_kill_pristine");
    let reference = Scenario::new("usr_kill_ref", &source, Some(&pristine));
    let snapshot = oracle::snapshot(&reference.target);
    let r = reference.run(NEW, None);
    assert_eq!(r.code, 3, "{}", text(&r));
    // The reference is judged by the oracle: every resumed run must equal
    // a right result, not merely a repeatable one.
    let verdict = oracle::assert_target(
        &oracle::Migration::of_sites(&source, &[2, 3, 4]),
        &snapshot,
        &reference.target,
    );
    assert_eq!(verdict.failed_sites, vec![3, 4], "{verdict:?}");
    let expected = live_checksums(&reference.target);
    let ref_state = reference.state(&started_id(&text(&r)).expect("id"));
    for (n, point) in ["users_staged:1", "users_checked:1", "network_upserted:1"]
        .iter()
        .enumerate()
    {
        let s = Scenario::new(&format!("usr_kill_{n}"), &source, Some(&pristine));
        let killed = s.run(NEW, Some(point));
        assert_killed(&killed, point);
        let id = s.only_migration().expect("the killed run's migration");
        let r = s.run(&["env-migrate", "--resume", &id, "--force"], None);
        assert_eq!(r.code, 3, "resume after {point}:\n{}", text(&r));
        assert_same(
            &expected,
            &live_checksums(&s.target),
            &format!("killed at {point}, resumed"),
        );
        let state = s.state(&id);
        for site_id in [2, 3, 4] {
            assert_eq!(
                site(&state, site_id)["status"],
                site(&ref_state, site_id)["status"],
                "site {site_id} after {point}"
            );
        }
        let leftovers = migration_kit::tables_marked(&s.target, migration_kit::STAGING);
        assert!(
            leftovers.is_empty(),
            "staging left after {point}: {leftovers:?}"
        );
    }
}

/// Rows of the target's usermeta whose user is gone, under an id that the
/// partial migration brings in as a new user (issue 22): the rows of sites
/// it does not migrate stay and become the new user's. The dry run's plan
/// says so, per user and key (text and JSON), and so does the run; the
/// run's result is what the plan said.
#[test]
fn orphaned_usermeta_of_a_new_users_id_is_named_in_the_plan() {
    let source = source_network("usr_orphan_src");
    let pristine = pristine_target("usr_orphan_pristine");
    let s = Scenario::new("usr_orphan_dst", &source, Some(&pristine));
    // Alice (5) and gina (10) are new to the target; 31 is a user it has.
    s.target.exec(
        "INSERT INTO wp_usermeta (umeta_id, user_id, meta_key, meta_value) VALUES \
           (100, 5, 'wp_5_capabilities', 'orphan-5'), \
           (101, 5, 'nickname', 'orphan'), \
           (102, 5, 'wp_2_capabilities', 'orphan-2'), \
           (103, 10, 'wp_capabilities', 'orphan-main'), \
           (104, 31, 'wp_5_capabilities', 'only-5')",
    );
    let before = table_checksums(&s.target);
    let plan = s.run(
        &[
            "env-migrate",
            "prod",
            "uat",
            "--include-sites",
            "2,3,4",
            "--dry-run",
            "--json",
        ],
        None,
    );
    assert_eq!(plan.code, 0, "{}", text(&plan));
    let json: serde_json::Value = serde_json::from_str(&plan.stdout).expect("JSON plan");
    assert_eq!(
        json["orphanedUsermeta"],
        serde_json::json!([
            {"userId": 5, "keys": ["wp_5_capabilities"]},
            {"userId": 10, "keys": ["wp_capabilities"]},
        ]),
        "{json:#}"
    );
    let plan = s.run(
        &[
            "env-migrate",
            "prod",
            "uat",
            "--include-sites",
            "2,3,4",
            "--dry-run",
        ],
        None,
    );
    assert_eq!(plan.code, 0, "{}", text(&plan));
    assert!(
        plan.stdout
            .contains("uat's usermeta has 1 row of user ID 5 without a user (wp_5_capabilities)"),
        "{}",
        text(&plan)
    );
    assert_eq!(
        table_checksums(&s.target),
        before,
        "a dry run writes nothing"
    );
    // Without users nothing is taken over, and the plan says nothing.
    let plan = s.run(
        &[
            "env-migrate",
            "prod",
            "uat",
            "--include-sites",
            "2,3,4",
            "--no-users",
            "--dry-run",
            "--json",
        ],
        None,
    );
    let json: serde_json::Value = serde_json::from_str(&plan.stdout).expect("JSON plan");
    assert_eq!(json["orphanedUsermeta"], serde_json::json!([]), "{json:#}");

    let r = s.run(NEW, None);
    assert_eq!(r.code, 3, "sites 3 and 4 clash (see above):\n{}", text(&r));
    assert!(
        text(&r).contains("user ID 5 without a user (wp_5_capabilities)"),
        "{}",
        text(&r)
    );
    assert_eq!(
        meta(&s.target, "umeta_id IN (100, 101, 102, 103, 104)"),
        vec![
            m(5, "wp_5_capabilities", "orphan-5"),
            m(10, "wp_capabilities", "orphan-main"),
            m(31, "wp_5_capabilities", "only-5"),
        ],
        "as planned: the other sites' rows stay and are now alice's and gina's"
    );
}
