//! `wfuwp config check` against the sandbox: it reports a generated network
//! correctly, and every failure is clear, names what to fix, and exits non-zero
//! (2 for configuration, 1 for the database side).

use crate::support;

use std::path::{Path, PathBuf};

use support::{
    closed_port, run, seed_network, server, small_network, wfuwp, write_config, write_config_text,
    Run, TestDb, PROD_TOKENS, UAT_TOKENS,
};

fn check(config: &Path, envs: &[&str]) -> Run {
    let logs = config.parent().unwrap().join("logs");
    run(wfuwp(config, &logs).args(["config", "check"]).args(envs))
}

/// Both streams, for messages that may go to either.
fn all(r: &Run) -> String {
    format!("{}\n{}", r.stdout, r.stderr)
}

fn assert_no_password(r: &Run) {
    assert!(
        !all(r).contains(&server().password),
        "the password leaked into the output: {r:?}"
    );
}

#[test]
fn reports_a_generated_network() {
    let prod = TestDb::new("cc_prod");
    seed_network(&prod, &small_network());
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &[("prod", &prod, PROD_TOKENS)]);
    let r = check(&config, &["prod"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout
            .contains("multisite with 6 sites (1 archived, 1 spam, 1 deleted)"),
        "{r:?}"
    );
    let tables = prod.tables().len();
    assert!(
        r.stdout.contains(&format!("{tables} tables")),
        "table count {tables} not reported: {r:?}"
    );
    assert!(
        r.stdout.contains("server 10.") || r.stdout.contains("MariaDB"),
        "server version missing: {r:?}"
    );
    assert!(r.stdout.contains("main site https://www.wfu.edu"), "{r:?}");
    assert!(r.stdout.contains(&prod.name), "{r:?}");
    assert_no_password(&r);
}

#[test]
fn checks_all_environments_when_none_named_and_accepts_an_empty_target() {
    let prod = TestDb::new("cc_all_prod");
    seed_network(&prod, &small_network());
    let uat = TestDb::new("cc_all_uat");
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &[("prod", &prod, PROD_TOKENS), ("uat", &uat, UAT_TOKENS)],
    );
    let r = check(&config, &[]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("prod:") && r.stdout.contains("uat:"),
        "{r:?}"
    );
    assert!(
        r.stdout.contains("empty database"),
        "an empty target is reported as such: {r:?}"
    );
    assert!(r.stdout.contains("all 2 environment(s) OK"), "{r:?}");
}

#[test]
fn unknown_environment_exits_2_and_lists_the_known_ones() {
    let prod = TestDb::new("cc_unknown");
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &[("prod", &prod, PROD_TOKENS)]);
    let r = check(&config, &["staging"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("unknown environment 'staging'"), "{r:?}");
    assert!(
        r.stderr.contains("prod"),
        "known environments listed: {r:?}"
    );
    assert!(
        r.stderr.contains(&config.display().to_string()),
        "config path named: {r:?}"
    );
}

#[test]
fn missing_password_variable_exits_2_and_names_the_variable() {
    let prod = TestDb::new("cc_nopw");
    let dir = tempfile::tempdir().unwrap();
    let var = "WFUWP_TEST_SURELY_UNSET_PASSWORD";
    let text = prod
        .env_toml("prod", PROD_TOKENS)
        .replace(support::PASSWORD_VAR, var);
    let config = write_config_text(dir.path(), &text);
    let logs = dir.path().join("logs");
    let r = run(wfuwp(&config, &logs)
        .env_remove(var)
        .args(["config", "check", "prod"]));
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        all(&r).contains(var) && all(&r).contains("not set"),
        "{r:?}"
    );
    assert!(
        all(&r).contains(&format!("export {var}")),
        "says what to do: {r:?}"
    );
}

#[test]
fn wrong_password_exits_1_names_user_and_setting_but_not_the_password() {
    let prod = TestDb::new("cc_wrongpw");
    let dir = tempfile::tempdir().unwrap();
    let var = "WFUWP_TEST_WRONG_PASSWORD";
    let text = prod
        .env_toml("prod", PROD_TOKENS)
        .replace(support::PASSWORD_VAR, var);
    let config = write_config_text(dir.path(), &text);
    let logs = dir.path().join("logs");
    let wrong = "definitely-not-the-password-42";
    let r = run(wfuwp(&config, &logs)
        .env(var, wrong)
        .args(["config", "check", "prod"]));
    assert_eq!(r.code, 1, "{r:?}");
    let text = all(&r);
    assert!(text.contains("access denied for user 'wfuwp'"), "{r:?}");
    assert!(
        text.contains(var),
        "names where the password came from: {r:?}"
    );
    assert!(!text.contains(wrong), "never prints the password: {r:?}");
}

#[test]
fn unreachable_host_exits_1_and_names_the_address() {
    let dir = tempfile::tempdir().unwrap();
    let port = closed_port();
    let text = format!(
        "[environments.prod]\nhost = \"127.0.0.1\"\nport = {port}\nuser = \"wfuwp\"\npassword_env = \"{}\"\ndatabase = \"wp\"\n",
        support::PASSWORD_VAR
    );
    let config = write_config_text(dir.path(), &text);
    let r = check(&config, &["prod"]);
    assert_eq!(r.code, 1, "{r:?}");
    let text = all(&r);
    assert!(
        text.contains(&format!(
            "cannot reach the database server of environment 'prod' at 127.0.0.1:{port}"
        )),
        "{r:?}"
    );
    assert!(
        text.contains("host") && text.contains("VPN"),
        "suggests what to check: {r:?}"
    );
}

#[test]
fn a_database_that_is_not_a_multisite_fails() {
    let single = TestDb::new("cc_single");
    single.exec(
        "CREATE TABLE wp_options (option_id bigint unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY, \
         option_name varchar(191) NOT NULL, option_value longtext NOT NULL); \
         CREATE TABLE wp_posts (ID bigint unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY, post_content longtext NOT NULL); \
         INSERT INTO wp_options (option_name, option_value) VALUES ('siteurl', 'https://www.wfu.edu')",
    );
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &[("prod", &single, PROD_TOKENS)]);
    let r = check(&config, &["prod"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(all(&r).contains("is not a WordPress multisite"), "{r:?}");
    assert!(
        all(&r).contains("wp_blogs") && all(&r).contains("table_prefix"),
        "{r:?}"
    );
}

#[test]
fn one_failing_environment_fails_the_check_but_the_others_are_reported() {
    let prod = TestDb::new("cc_mixed");
    seed_network(&prod, &small_network());
    let dir = tempfile::tempdir().unwrap();
    let mut text = prod.env_toml("prod", PROD_TOKENS);
    text.push_str(&format!(
        "[environments.dead]\nhost = \"127.0.0.1\"\nport = {}\nuser = \"wfuwp\"\npassword_env = \"{}\"\ndatabase = \"wp\"\n",
        closed_port(),
        support::PASSWORD_VAR
    ));
    // The same token keys as prod: a missing key would be a configuration problem (exit 2).
    text.push_str("[environments.dead.replace]\n");
    for (k, v) in UAT_TOKENS {
        text.push_str(&format!("{k} = \"{v}\"\n"));
    }
    let config = write_config_text(dir.path(), &text);
    let r = check(&config, &[]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stdout.contains("multisite with 6 sites"),
        "prod still reported: {r:?}"
    );
    assert!(
        r.stderr.contains("failed for 1 of 2 environment(s): dead"),
        "{r:?}"
    );
}

fn bad_config(text: &str) -> (tempfile::TempDir, PathBuf, Run) {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config_text(dir.path(), text);
    let r = check(&config, &[]);
    (dir, config, r)
}

#[test]
fn a_file_that_is_not_toml_exits_2_with_path_and_line() {
    let (_dir, config, r) = bad_config("logs_dir = \"logs\"\n[environments.prod\nhost = \"x\"\n");
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains(&config.display().to_string()), "{r:?}");
    assert!(r.stderr.contains("line 2"), "{r:?}");
    assert!(r.stderr.contains("Fix"), "says what to do: {r:?}");
}

#[test]
fn an_unknown_key_exits_2_naming_key_line_and_the_valid_keys() {
    let (_dir, config, r) = bad_config(
        "[environments.prod]\nhost = \"x\"\nhots = \"y\"\nuser = \"u\"\ndatabase = \"d\"\n",
    );
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains(&config.display().to_string()), "{r:?}");
    assert!(
        r.stderr.contains("line 3") && r.stderr.contains("hots"),
        "{r:?}"
    );
    assert!(r.stderr.contains("`host`"), "lists the valid keys: {r:?}");
}

#[test]
fn a_missing_database_exits_2_naming_the_field_and_line() {
    let (_dir, config, r) = bad_config(
        "[environments.uat]\nhost = \"y\"\nuser = \"u\"\ndatabase = \"d\"\n\n[environments.prod]\nhost = \"x\"\nuser = \"u\"\n",
    );
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains(&config.display().to_string()), "{r:?}");
    assert!(r.stderr.contains("missing field `database`"), "{r:?}");
    assert!(
        r.stderr.contains("line 6"),
        "points at [environments.prod]: {r:?}"
    );
}

/// A password in a multi-line string with junk after it (issue 22): the
/// error is on a line that does not name the key, and still shows none of
/// the value (found by the parsed key's span, not by the line's text).
#[test]
fn a_multi_line_password_is_not_echoed_by_a_syntax_error() {
    for (value, line) in [
        ("\"\"\"\nHUNTER2\"\"\" junk", 4),
        ("'''\nfirst\nHUNTER2''' junk", 5),
        ("[\n  \"HUNTER2\",\n  \"x\" junk ]", 5),
    ] {
        let (_dir, path, r) = bad_config(&format!(
            "[environments.prod]\nhost = \"db\"\npassword = {value}\nuser = \"u\"\ndatabase = \"d\"\n"
        ));
        assert_eq!(r.code, 2, "{value}: {r:?}");
        assert!(!all(&r).contains("HUNTER2"), "{value}: {r:?}");
        assert!(
            r.stderr.contains(&path.display().to_string())
                && r.stderr.contains(&format!("line {line}")),
            "{value}: {r:?}"
        );
    }
}
