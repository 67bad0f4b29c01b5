//! Scrubbing personal data on its way to the target (issue 25, docs/scrub.md).
//!
//! The source is generated with personal data in every place the rules
//! cover (users, usermeta keys, comments, a Gravity-Forms-like entry table,
//! WooCommerce-like usermeta). The list of what must not reach the target is
//! read from the SOURCE by this test (its e-mail addresses, IPs, password
//! hashes and session tokens), never from the engine; then every text and
//! binary column of every table of the target (live, backups, staging) is
//! searched for each of them.

use std::path::Path;
use std::process::Command;

use crate::migration_kit;
use crate::oracle;
use crate::support;

use migration_kit::{assert_killed, assert_same, live_checksums, Scenario, STAGING};
use support::{block_on, q, seed_network, TestDb};

use mysql_async::prelude::Queryable;

const SECRET_VAR: &str = "WFUWP_TEST_SCRUB_SECRET";
const SECRET: &str = "a-test-secret-of-sufficient-length-0123456789";
const PASSWORD_VAR: &str = "WFUWP_TEST_UAT_LOGIN";
const PASSWORD: &str = "uat-login-Pa55";

/// The scrub rules of the tests' uat: every place the generator plants
/// personal data, `admin` kept.
const RULES: &str = r#"
[environments.uat.scrub]
users = true
email_domain = "example.invalid"
password_env = "WFUWP_TEST_UAT_LOGIN"
secret_env = "WFUWP_TEST_SCRUB_SECRET"
keep_users = ["admin"]
comments = true
[[environments.uat.scrub.column]]
table = "gf_entry"
column = "ip"
action = "hash"
[[environments.uat.scrub.column]]
table = "gf_entry"
column = "user_agent"
action = "empty"
[[environments.uat.scrub.column]]
table = "gf_entry_meta"
column = "meta_value"
action = "fixed:[redacted]"
[[environments.uat.scrub.meta]]
table = "usermeta"
keys = ["billing_email"]
action = "email"
[[environments.uat.scrub.meta]]
table = "usermeta"
keys = ["billing_*", "shipping_*"]
action = "empty"
"#;

fn personal_source(label: &str) -> TestDb {
    let db = TestDb::new(label);
    seed_network(
        &db,
        &wfuwp_testbed::NetworkOptions {
            sites: 8,
            posts_per_site: 3,
            seed: 77,
            concurrency: 2,
            personal_data: true,
            ..Default::default()
        },
    );
    db
}

fn pristine_target(label: &str) -> TestDb {
    let db = TestDb::new(label);
    seed_network(&db, &support::uat_network(1234, 2));
    db
}

/// A target copied from `pristine` whose config has [`RULES`] and whose runs
/// have the secret and the password in their environment.
fn scenario(label: &str, source: &TestDb, pristine: &TestDb) -> Scenario {
    let mut s = Scenario::new(label, source, Some(pristine));
    let mut text = std::fs::read_to_string(&s.config).expect("reading the config");
    text.push_str(RULES);
    std::fs::write(&s.config, text).expect("writing the config");
    s.env = vec![
        (SECRET_VAR.into(), SECRET.into()),
        (PASSWORD_VAR.into(), PASSWORD.into()),
    ];
    s
}

/// Every value of the source's personal data (not the kept user's): what
/// must not be found anywhere in the target.
fn forbidden(source: &TestDb) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let users: Vec<(String, String)> =
        source.query("SELECT user_email, user_pass FROM wp_users WHERE user_login <> 'admin'");
    for (email, pass) in users {
        out.push(email);
        out.push(pass);
    }
    let meta: Vec<(String, String)> = source.query(
        "SELECT meta_key, meta_value FROM wp_usermeta m JOIN wp_users u ON u.ID = m.user_id \
         WHERE u.user_login <> 'admin' AND meta_key IN \
         ('billing_email', 'billing_phone', '_new_email', 'session_tokens', \
          '_application_passwords', 'community-events-location')",
    );
    for (key, value) in meta {
        match key.as_str() {
            "billing_email" | "billing_phone" | "_new_email" => out.push(value),
            // Serialized: the token (an array key of 64 hex digits), IPs, hashes.
            _ => out.extend(
                serialized_strings(&value)
                    .into_iter()
                    .filter(|s| s.len() == 64 || s.starts_with("$P$") || looks_like_ip(s)),
            ),
        }
    }
    for t in source.tables() {
        let Some(suffix) = site_suffix(&t) else {
            continue;
        };
        let sql = match suffix {
            "comments" => format!(
                "SELECT comment_author_email FROM {0} UNION ALL SELECT comment_author_IP FROM {0}",
                q(&t)
            ),
            "gf_entry" => format!("SELECT ip FROM {}", q(&t)),
            "gf_entry_meta" => format!("SELECT meta_value FROM {} WHERE meta_key = '1'", q(&t)),
            _ => continue,
        };
        out.extend(source.query::<String>(&sql));
    }
    out.sort();
    out.dedup();
    out.retain(|v| !v.is_empty());
    out
}

/// `comments` of `wp_comments`, `gf_entry` of `wp_3_gf_entry`.
fn site_suffix(table: &str) -> Option<&str> {
    let rest = table.strip_prefix("wp_")?;
    Some(match rest.split_once('_') {
        Some((n, tail)) if n.bytes().all(|b| b.is_ascii_digit()) => tail,
        _ => rest,
    })
}

/// The string values of a PHP-serialized value (`s:N:"…";`), keys included.
fn serialized_strings(v: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = v;
    while let Some(i) = rest.find("s:") {
        rest = &rest[i + 2..];
        let Some((len, tail)) = rest.split_once(":\"") else {
            break;
        };
        let Ok(n) = len.parse::<usize>() else {
            continue;
        };
        if tail.len() >= n {
            out.push(tail[..n].to_string());
            rest = &tail[n..];
        }
    }
    out
}

fn looks_like_ip(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 4 && parts.iter().all(|p| p.parse::<u8>().is_ok())
}

/// Where each of `needles` occurs in any text or binary column of any table
/// of `db` (`table.column: needle`).
fn occurrences(db: &TestDb, needles: &[String]) -> Vec<String> {
    let columns: Vec<(String, String)> = db.query(&format!(
        "SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS \
         WHERE TABLE_SCHEMA = '{}' AND DATA_TYPE IN ('char','varchar','tinytext','text', \
         'mediumtext','longtext','binary','varbinary','tinyblob','blob','mediumblob', \
         'longblob','json','enum','set') ORDER BY TABLE_NAME, ORDINAL_POSITION",
        db.name
    ));
    let mut found = Vec::new();
    block_on(async {
        let mut c = db.connect().await;
        for (table, column) in columns {
            let values: Vec<Option<Vec<u8>>> = c
                .query(format!("SELECT {} FROM {}", q(&column), q(&table)))
                .await
                .expect("reading a column");
            for v in values.into_iter().flatten() {
                for n in needles {
                    if v.windows(n.len()).any(|w| w == n.as_bytes()) {
                        found.push(format!("{table}.{column}: {n}"));
                    }
                }
            }
        }
        c.disconnect().await.ok();
    });
    found.sort();
    found.dedup();
    found
}

fn assert_none_found(db: &TestDb, needles: &[String], what: &str) {
    let found = occurrences(db, needles);
    assert!(
        found.is_empty(),
        "{what}: personal data of the source found on the target:\n{}",
        found.join("\n")
    );
}

/// The source's values the test expects to be planted (so that a scan that
/// finds nothing means something).
fn assert_list_is_meaningful(needles: &[String]) {
    let count = |f: &dyn Fn(&String) -> bool| needles.iter().filter(|n| f(n)).count();
    assert!(
        count(&|n| n.contains('@')) >= 20,
        "too few e-mails: {needles:?}"
    );
    assert!(
        count(&|n| looks_like_ip(n)) >= 20,
        "too few IPs: {needles:?}"
    );
    assert!(
        count(&|n| n.starts_with("$P$")) >= 4,
        "too few hashes: {needles:?}"
    );
    assert!(
        count(&|n| n.len() == 64) >= 2,
        "too few tokens: {needles:?}"
    );
}

/// WordPress's phpass check, in PHP (as class-phpass.php does it).
fn php_verifies(password: &str, hash: &str) -> bool {
    const CHECK: &str = r#"<?php
function enc($input, $count) {
  $itoa64 = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
  $output = ''; $i = 0;
  do {
    $value = ord($input[$i++]);
    $output .= $itoa64[$value & 0x3f];
    if ($i < $count) $value |= ord($input[$i]) << 8;
    $output .= $itoa64[($value >> 6) & 0x3f];
    if ($i++ >= $count) break;
    if ($i < $count) $value |= ord($input[$i]) << 16;
    $output .= $itoa64[($value >> 12) & 0x3f];
    if ($i++ >= $count) break;
    $output .= $itoa64[($value >> 18) & 0x3f];
  } while ($i < $count);
  return $output;
}
$itoa64 = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
$password = $argv[1]; $setting = $argv[2];
if (substr($setting, 0, 3) !== '$P$') { echo "no"; exit; }
$count = 1 << strpos($itoa64, $setting[3]);
$salt = substr($setting, 4, 8);
$hash = md5($salt . $password, TRUE);
do { $hash = md5($hash . $password, TRUE); } while (--$count);
echo (substr($setting, 0, 12) . enc($hash, 16)) === $setting ? "yes" : "no";
"#;
    let dir = tempfile::tempdir().expect("temp dir");
    let script = dir.path().join("check.php");
    std::fs::write(&script, CHECK).expect("writing the PHP check");
    let out = Command::new("php")
        .arg(Path::new(&script))
        .arg(password)
        .arg(hash)
        .output()
        .expect("running php");
    String::from_utf8_lossy(&out.stdout).trim() == "yes"
}

/// The kept user's rows are the source's (its global usermeta too when
/// `global_meta`: a partial migration writes those only for users new to
/// the target), scrubbed users got the uat password (as WordPress checks
/// it) and fake addresses.
fn assert_users(source: &TestDb, target: &TestDb, global_meta: bool) {
    let kept = "SELECT user_email, user_pass FROM wp_users WHERE user_login = 'admin'";
    let src: Vec<(String, String)> = source.query(kept);
    assert_eq!(
        target.query::<(String, String)>(kept),
        src,
        "the kept user 'admin' was changed"
    );
    let tokens = "SELECT meta_value FROM wp_usermeta m JOIN wp_users u ON u.ID = m.user_id \
                  WHERE u.user_login = 'admin' AND meta_key IN ('billing_email', '_new_email') \
                  ORDER BY meta_key";
    if global_meta {
        assert_eq!(
            target.query::<String>(tokens),
            source.query::<String>(tokens),
            "the kept user's usermeta was changed"
        );
    }
    let others: Vec<(u64, String, String)> = target.query(
        "SELECT ID, user_email, user_pass FROM wp_users WHERE user_login <> 'admin' \
         AND user_email LIKE '%example.invalid'",
    );
    assert!(!others.is_empty(), "no scrubbed user on the target");
    for (id, email, pass) in others {
        assert_eq!(email, format!("user-{id}@example.invalid"));
        assert!(
            php_verifies(PASSWORD, &pass),
            "user {id}: WordPress would not accept the uat password for {pass}"
        );
    }
}

fn summary(s: &Scenario, id: &str) -> serde_json::Value {
    let path = s.logs.join(id).join("migration-summary.json");
    serde_json::from_str(&std::fs::read_to_string(&path).expect("reading the summary"))
        .expect("parsing the summary")
}

#[test]
fn full_migration_leaves_no_personal_data_on_the_target() {
    let source = personal_source("scrub_full_src");
    let pristine = pristine_target("scrub_full_pristine");
    let needles = forbidden(&source);
    assert_list_is_meaningful(&needles);
    // The scan can fail: unscrubbed, the source holds every value.
    assert!(occurrences(&source, &needles).len() >= needles.len());

    let s = scenario("scrub_full", &source, &pristine);
    // The plan shows each rule with the values of the source it will change.
    let plan = s.run(
        &[
            "env-migrate",
            "prod",
            "uat",
            "--include-users",
            "--dry-run",
            "--json",
        ],
        None,
    );
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    let plan: serde_json::Value = serde_json::from_str(&plan.stdout).expect("the plan as JSON");
    let comments: u64 = source
        .tables()
        .iter()
        .filter(|t| site_suffix(t) == Some("comments"))
        .map(|t| source.count(t))
        .sum();
    // Three columns of every comment (each generated comment has all three).
    assert_eq!(
        plan["scrub"]["comments"],
        serde_json::json!(3 * comments),
        "{plan:#}"
    );
    assert!(plan["scrub"]["users"].as_u64().unwrap_or(0) > 0, "{plan:#}");
    let check = s.run(&["config", "check"], None);
    assert!(
        check.stdout.contains("scrub: comments")
            && check.stdout.contains("scrub keeps users: admin"),
        "config check does not show the rules:\n{}",
        check.stdout
    );
    assert_eq!(check.code, 0, "{}\n{}", check.stdout, check.stderr);
    // Without the secret a run would refuse: config check says so first.
    let unset = support::run(s.cmd().args(["config", "check"]).env_remove(SECRET_VAR));
    assert!(
        unset.code == 2 && unset.stdout.contains("PROBLEM") && unset.stdout.contains(SECRET_VAR),
        "config check must fail (exit 2) naming the unset secret {SECRET_VAR}: {unset:?}"
    );
    let r = s.run(
        &["env-migrate", "prod", "uat", "--force", "--include-users"],
        None,
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_none_found(&s.target, &needles, "full migration");
    assert_users(&source, &s.target, true);
    let id = s.only_migration().expect("a migration");
    let counts = &summary(&s, &id)["scrubbed"];
    for rule in [
        "users",
        "comments",
        "column gf_entry.ip",
        "column gf_entry_meta.meta_value",
        "meta usermeta billing_email",
    ] {
        assert!(
            counts[rule].as_u64().unwrap_or(0) > 0,
            "rule {rule} counted nothing: {counts}"
        );
    }
    assert_eq!(
        counts["comments"],
        serde_json::json!(3 * comments),
        "{counts}"
    );
    let list = s.run(
        &["env-migrate", "--list-migrations", "--all", "--json"],
        None,
    );
    assert!(
        list.stdout.contains("\"scrubbed\"") && list.stdout.contains("column gf_entry.ip"),
        "--list-migrations --json carries no scrub counts:\n{}",
        list.stdout
    );
    // Same fake for the same address, keyed: not the bare address's digest.
    let fakes: Vec<String> = s.target.query(
        "SELECT meta_value FROM wp_usermeta WHERE meta_key = 'billing_email' AND meta_value LIKE '%@example.invalid'",
    );
    assert!(
        !fakes.is_empty(),
        "no billing_email was given a fake address"
    );
}

#[test]
fn partial_migration_scrubs_the_users_it_carries() {
    let source = personal_source("scrub_part_src");
    let pristine = pristine_target("scrub_part_pristine");
    let needles = forbidden(&source);
    let s = scenario("scrub_part", &source, &pristine);
    let r = s.run(
        &[
            "env-migrate",
            "prod",
            "uat",
            "--force",
            "--include-sites",
            "2,3",
        ],
        None,
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let carried: Vec<u64> = s
        .target
        .query("SELECT COUNT(*) FROM wp_users WHERE user_email LIKE '%@example.invalid'");
    assert!(carried[0] > 0, "the partial migration carried no user");
    assert_none_found(&s.target, &needles, "partial migration");
    assert_users(&source, &s.target, false);
}

#[test]
fn killed_mid_table_no_personal_data_and_resume_equals_an_uninterrupted_run() {
    let source = personal_source("scrub_kill_src");
    let pristine = pristine_target("scrub_kill_pristine");
    let needles = forbidden(&source);
    let new = ["env-migrate", "prod", "uat", "--force", "--include-users"];
    let reference = scenario("scrub_kill_ref", &source, &pristine);
    let r = reference.run(&new, None);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let expected = live_checksums(&reference.target);

    for (i, chain) in [
        &["copy_chunk:4"][..],
        &["copy_chunk:23", "copy_chunk:9"][..],
        &["copy_chunk:57"][..],
    ]
    .iter()
    .enumerate()
    {
        let what = format!("chain {chain:?}");
        let s = scenario(&format!("scrub_kill{i}"), &source, &pristine);
        let first = s.run(&new, Some(chain[0]));
        assert_killed(&first, &what);
        let id = s.only_migration().expect("a migration directory");
        for fp in &chain[1..] {
            assert_none_found(&s.target, &needles, &format!("{what}: after a kill"));
            let r = s.run(&["env-migrate", "--resume", &id, "--force"], Some(fp));
            assert_killed(&r, &format!("{what}: resume killed at {fp}"));
        }
        let staging = migration_kit::tables_marked(&s.target, STAGING);
        assert!(
            !staging.is_empty(),
            "{what}: the kill left no staging table to look into"
        );
        assert_none_found(&s.target, &needles, &format!("{what}: after the last kill"));
        s.resume_to_completion(&id);
        assert_none_found(&s.target, &needles, &format!("{what}: after the resume"));
        assert_same(&expected, &live_checksums(&s.target), &what);
    }
}

/// The keep, set and exclude rules of the keep test's uat.
const KEEP_RULES: &str = r#"
[environments.uat.keep]
options = ["admin_email", "mailserver_*"]
sitemeta = ["admin_email", "registration"]
tables = ["*_wfu_uat_notes"]
[environments.uat.set]
options = { blog_public = "0" }
"#;

/// `wp_options` for the main site, `wp_N_options` otherwise.
fn options_of(site: u64) -> String {
    match site {
        1 => "wp_options".into(),
        n => format!("wp_{n}_options"),
    }
}

/// Sets the target's own values of what the rules keep (no host in them,
/// so that the replacement leaves them as they are) and a table of its own.
fn make_target_settings(pristine: &TestDb) {
    let sites: Vec<u64> = pristine.query("SELECT blog_id FROM wp_blogs ORDER BY blog_id");
    for n in sites {
        let t = q(&options_of(n));
        pristine.exec(&format!(
            "UPDATE {t} SET option_value = 'uat-team-{n}@example.org', autoload = 'no' WHERE option_name = 'admin_email'; \
             INSERT INTO {t} (option_name, option_value, autoload) VALUES ('mailserver_url', 'uat-mail-{n}.example.org', 'yes')"
        ));
    }
    pristine.exec(
        "UPDATE wp_sitemeta SET meta_value = 'uat-network@example.org' WHERE meta_key = 'admin_email'; \
         UPDATE wp_sitemeta SET meta_value = 'all' WHERE meta_key = 'registration'; \
         CREATE TABLE wp_2_wfu_uat_notes (id INT PRIMARY KEY, note TEXT); \
         INSERT INTO wp_2_wfu_uat_notes VALUES (1, 'uat only, keep me')",
    );
}

/// A log table and a table the target keeps, in the source.
fn add_source_tables(source: &TestDb) {
    source.exec(
        "CREATE TABLE wp_2_wfhits (id INT UNSIGNED AUTO_INCREMENT PRIMARY KEY, IP BINARY(16), URL TEXT) ENGINE=InnoDB; \
         INSERT INTO wp_2_wfhits (IP, URL) VALUES (UNHEX('C0000201000000000000000000000000'), 'https://biology.wfu.edu/a'), \
           (NULL, 'https://biology.wfu.edu/b'); \
         CREATE TABLE wp_wfhits LIKE wp_2_wfhits; INSERT INTO wp_wfhits SELECT * FROM wp_2_wfhits; \
         CREATE TABLE wp_2_wfu_uat_notes (id INT PRIMARY KEY, note TEXT); \
         INSERT INTO wp_2_wfu_uat_notes VALUES (1, 'prod note'), (2, 'another')",
    );
}

/// What the source would have to hold for a plain migration to give the
/// target these rules promise, written by hand from the rules above: kept
/// values are the target's, `blog_public` is forced, excluded tables are
/// empty, the kept table is not the source's (the oracle then expects the
/// target's own, untouched).
fn expected_source(source: &TestDb, pristine: &TestDb, label: &str) -> TestDb {
    let expected = TestDb::new(label);
    migration_kit::copy_db(source, &expected);
    let in_target: Vec<u64> = pristine.query("SELECT blog_id FROM wp_blogs");
    let sites: Vec<u64> = source.query("SELECT blog_id FROM wp_blogs ORDER BY blog_id");
    for n in sites {
        let t = q(&options_of(n));
        if in_target.contains(&n) {
            let (email, autoload): (String, String) = pristine
                .query(&format!(
                    "SELECT option_value, autoload FROM {t} WHERE option_name = 'admin_email'"
                ))
                .pop()
                .expect("the target's admin_email");
            expected.exec(&format!(
                "UPDATE {t} SET option_value = '{email}', autoload = '{autoload}' WHERE option_name = 'admin_email'; \
                 INSERT INTO {t} (option_name, option_value, autoload) VALUES ('mailserver_url', 'uat-mail-{n}.example.org', 'yes')"
            ));
        }
        expected.exec(&format!(
            "INSERT INTO {t} (option_name, option_value, autoload) VALUES ('blog_public', '0', 'yes')"
        ));
    }
    expected.exec(
        "UPDATE wp_sitemeta SET meta_value = 'uat-network@example.org' WHERE meta_key = 'admin_email'; \
         UPDATE wp_sitemeta SET meta_value = 'all' WHERE meta_key = 'registration'; \
         DELETE FROM wp_2_wfhits; DELETE FROM wp_wfhits; DROP TABLE wp_2_wfu_uat_notes",
    );
    expected
}

#[test]
fn kept_and_set_values_go_live_excluded_tables_are_empty_and_rollback_restores() {
    let source = TestDb::new("keep_src");
    seed_network(
        &source,
        &wfuwp_testbed::NetworkOptions {
            sites: 8,
            posts_per_site: 2,
            seed: 5,
            concurrency: 2,
            ..Default::default()
        },
    );
    add_source_tables(&source);
    let pristine = pristine_target("keep_pristine");
    make_target_settings(&pristine);
    let expected = expected_source(&source, &pristine, "keep_expected");

    let s = Scenario::new("keep", &source, Some(&pristine));
    let mut text = std::fs::read_to_string(&s.config).expect("reading the config");
    // `exclude_tables` is a key of the environment: it goes under its header.
    text = text.replacen(
        "[environments.uat]\n",
        "[environments.uat]\nexclude_tables = [\"*_wfhits\"]\n",
        1,
    );
    text.push_str(KEEP_RULES);
    std::fs::write(&s.config, text).expect("writing the config");
    let plan = s.run(&["env-migrate", "prod", "uat", "--dry-run", "--json"], None);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    let plan: serde_json::Value = serde_json::from_str(&plan.stdout).expect("the plan as JSON");
    assert_eq!(
        plan["excluded"]["tables"],
        serde_json::json!(["wp_wfhits", "wp_2_wfhits"]),
        "{plan:#}"
    );
    let before = support::table_checksums(&s.target);
    let snapshot = oracle::snapshot(&s.target);
    let r = s.run(&["env-migrate", "prod", "uat", "--force"], None);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    // Every other value as PHP says, the kept/forced ones as written above,
    // excluded tables empty with the source's definition, the kept table
    // and everything not migrated byte for byte the target's.
    oracle::assert_target(&oracle::Migration::full(&expected), &snapshot, &s.target);
    assert_eq!(
        s.target
            .query::<String>("SELECT note FROM wp_2_wfu_uat_notes"),
        vec!["uat only, keep me".to_string()]
    );
    let id = s.only_migration().expect("a migration");
    let summary = summary(&s, &id);
    assert_eq!(
        summary["verification"]["rowCountMismatches"],
        serde_json::json!([]),
        "{summary:#}"
    );

    let rb = s.run(&["env-migrate", "--rollback", &id, "--force"], None);
    assert_eq!(rb.code, 0, "{}\n{}", rb.stdout, rb.stderr);
    let after: std::collections::BTreeMap<String, (u64, u64)> = support::table_checksums(&s.target)
        .into_iter()
        .filter(|(t, _)| !t.starts_with("_wf"))
        .collect();
    let before: std::collections::BTreeMap<String, (u64, u64)> = before
        .into_iter()
        .filter(|(t, _)| !t.starts_with("_wf"))
        .collect();
    assert_same(&before, &after, "after --rollback");
}

#[test]
fn a_resume_with_changed_scrub_rules_is_refused() {
    let source = personal_source("scrub_fp_src");
    let pristine = pristine_target("scrub_fp_pristine");
    let s = scenario("scrub_fp", &source, &pristine);
    let first = s.run(
        &["env-migrate", "prod", "uat", "--force", "--include-users"],
        Some("copy_chunk:4"),
    );
    assert_killed(&first, "first run");
    let id = s.only_migration().expect("a migration directory");
    let text = std::fs::read_to_string(&s.config).expect("reading the config");
    std::fs::write(&s.config, text.replacen("comments = true\n", "", 1)).expect("writing");
    let r = s.run(&["env-migrate", "--resume", &id], None);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("scrub"), "{}", r.stderr);
    // The secret is part of it too: another key scrubs differently.
    std::fs::write(&s.config, text).expect("writing");
    let mut other = s.cmd();
    other
        .args(["env-migrate", "--resume", &id])
        .env(SECRET_VAR, "another-secret-of-sufficient-length");
    let r = support::run(&mut other);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("scrub.keys"), "{}", r.stderr);
}
