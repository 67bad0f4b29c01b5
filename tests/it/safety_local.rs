//! The local safety envelope: files in a shared logs dir are never followed
//! through symbolic links, numbers on the command line and in the config are
//! bounded, a closed stdout never panics, secrets stay out of config errors,
//! ambiguous replacement pairs are refused, and the small messages tell the
//! truth.
//!
//! Tests that need no database build their own command (see [`bin`]) so that
//! they also run without the MariaDB sandbox.

use crate::support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use support::{
    closed_port, run, seed_network, small_network, wfuwp, write_config, write_config_text, Run,
    TestDb, PROD_TOKENS, UAT_TOKENS,
};
use wfuwp_engine::state::{ErrorKind, MigrationStatus, NewMigration, Session};

/// The binary with `--config` and `--logs-dir`, colours off, no outside config.
fn bin(config: &Path, logs: &Path) -> Command {
    let mut cmd = bin_without_logs_dir(config);
    cmd.arg("--logs-dir").arg(logs);
    cmd
}

/// Like [`bin`], but the logs dir comes from the config file.
fn bin_without_logs_dir(config: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wfuwp"));
    cmd.arg("--config").arg(config);
    cmd.env("NO_COLOR", "1")
        .env("WFUWP_SAFETY_PW", "unused")
        .env_remove("WFUWP_CONFIG")
        .env_remove("WFUWP_LOGS_DIR");
    cmd
}

/// One environment on a loopback port nothing listens on.
fn dead_env(name: &str, port: u16, tokens: &[(&str, &str)]) -> String {
    let mut out = format!(
        "[environments.{name}]\nhost = \"127.0.0.1\"\nport = {port}\nuser = \"wp\"\npassword_env = \"WFUWP_SAFETY_PW\"\ndatabase = \"wp_{name}\"\n"
    );
    if !tokens.is_empty() {
        out.push_str(&format!("[environments.{name}.replace]\n"));
        for (k, v) in tokens {
            out.push_str(&format!("{k} = \"{v}\"\n"));
        }
    }
    out.push('\n');
    out
}

/// A prod → uat config whose servers are unreachable; returns its path.
fn dead_config(dir: &Path, prod: &[(&str, &str)], uat: &[(&str, &str)]) -> PathBuf {
    let port = closed_port();
    let text = format!(
        "{}{}",
        dead_env("prod", port, prod),
        dead_env("uat", port, uat)
    );
    write_config_text(dir, &text)
}

/// Creates a failed (resumable) prod → uat migration whose fingerprints match
/// `config`, through the library; returns its id.
fn failed_migration(config: &Path, logs: &Path) -> String {
    let cfg = wfuwp_engine::config::load(Some(config)).expect("test config loads");
    let fingerprints: BTreeMap<String, String> = cfg
        .environments
        .iter()
        .map(|(n, e)| (n.clone(), wfuwp_engine::config::fingerprint::of(e)))
        .collect();
    let s = Session::create(
        logs,
        NewMigration {
            source: "prod".into(),
            target: "uat".into(),
            fingerprints,
            sites: vec![1, 2],
            decided: Default::default(),
            ..Default::default()
        },
    )
    .expect("creating a migration");
    s.site_started(1).unwrap();
    s.site_failed(1, ErrorKind::Sql, "boom").unwrap();
    let id = s.id();
    s.finish(MigrationStatus::Failed, serde_json::Value::Null)
        .unwrap();
    id
}

fn assert_no_panic(r: &Run) {
    assert_ne!(r.code, 101, "panicked: {r:?}");
    assert!(!r.stderr.contains("panicked"), "panicked: {r:?}");
}

const VICTIM: &[u8] = b"precious data that must not change\n";

fn victim(dir: &Path) -> PathBuf {
    let p = dir.join("victim.txt");
    std::fs::write(&p, VICTIM).unwrap();
    p
}

// ------------------------------------------------------- 7: symbolic links

#[test]
fn a_symlinked_target_lock_is_refused_and_its_target_left_alone() {
    let prod = TestDb::new("safe_link_prod");
    seed_network(&prod, &small_network());
    let uat = TestDb::new("safe_link_uat");
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &[("prod", &prod, PROD_TOKENS), ("uat", &uat, UAT_TOKENS)],
    );
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let victim = victim(dir.path());
    let link = logs.join(".target-uat.lock");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let r = run(wfuwp(&config, &logs).args(["env-migrate", "prod", "uat", "--force"]));
    assert_eq!(std::fs::read(&victim).unwrap(), VICTIM, "victim changed");
    assert_ne!(r.code, 0, "{r:?}");
    assert!(
        r.stderr.contains("symbolic link") && r.stderr.contains(".target-uat.lock"),
        "{r:?}"
    );
    assert!(uat.tables().is_empty(), "nothing written to the target");
}

#[test]
fn symlinked_state_files_are_refused_on_resume_and_abandon() {
    let dir = tempfile::tempdir().unwrap();
    let config = dead_config(dir.path(), &[("main", "www")], &[("main", "uat")]);
    let logs = dir.path().join("logs");
    let id = failed_migration(&config, &logs);
    let mig = logs.join(&id);
    let victim = victim(dir.path());
    for file in [
        ".migration-lock",
        "migration-state.journal",
        "migration-progress.log",
    ] {
        let path = mig.join(file);
        let saved = std::fs::read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink(&victim, &path).unwrap();
        for args in [
            &["env-migrate", "--resume", id.as_str()][..],
            &["env-migrate", "--abandon", id.as_str()],
        ] {
            let r = run(bin(&config, &logs).args(args));
            assert_eq!(
                std::fs::read(&victim).unwrap(),
                VICTIM,
                "{file} {args:?}: victim changed: {r:?}"
            );
            assert_ne!(r.code, 0, "{file} {args:?}: {r:?}");
            assert!(
                r.stderr.contains("symbolic link") && r.stderr.contains(file),
                "{file} {args:?}: {r:?}"
            );
        }
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, saved).unwrap();
    }
}

#[test]
fn a_group_writable_logs_dir_without_sticky_bit_is_warned_about_once() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let config = dead_config(dir.path(), &[("main", "www")], &[("main", "uat")]);
    let logs = dir.path().join("logs");
    let id = failed_migration(&config, &logs);
    std::fs::set_permissions(&logs, std::fs::Permissions::from_mode(0o777)).unwrap();
    let r = run(bin(&config, &logs).args(["env-migrate", "--resume", &id]));
    assert_no_panic(&r);
    assert_eq!(
        r.stderr.matches("without the sticky bit").count(),
        1,
        "{r:?}"
    );
}

// ------------------------------------------------- 9: numbers and pipes

#[test]
fn an_absurd_timeout_flag_is_a_usage_error_not_a_panic() {
    let prod = TestDb::new("safe_timeout_prod");
    seed_network(&prod, &small_network());
    let uat = TestDb::new("safe_timeout_uat");
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &[("prod", &prod, PROD_TOKENS), ("uat", &uat, UAT_TOKENS)],
    );
    let logs = dir.path().join("logs");
    let r = run(wfuwp(&config, &logs).args([
        "env-migrate",
        "prod",
        "uat",
        "--force",
        "--timeout",
        "1e18",
    ]));
    assert_no_panic(&r);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("--timeout"), "{r:?}");
    for bad in [
        &["--timeout", "inf"][..],
        &["--timeout", "NaN"],
        &["--timeout=-5"],
        &["--timeout", "0"],
        &["--timeout", "10081"],
        &["--concurrency", "0"],
        &["--max-retries", "101"],
    ] {
        let r = run(wfuwp(&config, &logs)
            .args(["env-migrate", "prod", "uat", "--force"])
            .args(bad));
        assert_eq!(r.code, 2, "{bad:?}: {r:?}");
    }
    assert!(uat.tables().is_empty(), "nothing written to the target");
}

#[test]
fn an_absurd_timeout_in_the_config_is_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    let port = closed_port();
    for (setting, words) in [
        ("timeout_minutes = 1e18", "timeout_minutes"),
        ("timeout_minutes = -1.0", "timeout_minutes"),
        ("timeout_minutes = inf", "timeout_minutes"),
        ("max_retries = 1000", "max_retries"),
        ("concurrency = 100000", "concurrency"),
    ] {
        let text = format!("[defaults]\n{setting}\n\n{}", dead_env("prod", port, &[]));
        let config = write_config_text(dir.path(), &text);
        let r = run(bin(&config, &dir.path().join("logs")).args(["config", "check"]));
        assert_no_panic(&r);
        assert_eq!(r.code, 2, "{setting}: {r:?}");
        assert!(r.stderr.contains(words), "{setting}: {r:?}");
    }
}

/// Runs `cmd` with stdout connected to a pipe whose reading end is already closed.
fn run_into_closed_pipe(cmd: &mut Command) -> Run {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = cmd
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::new(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn a_closed_stdout_never_panics() {
    let dir = tempfile::tempdir().unwrap();
    let config = dead_config(dir.path(), &[("main", "www")], &[("main", "uat")]);
    let logs = dir.path().join("logs");
    failed_migration(&config, &logs);
    for args in [
        &["config", "check"][..],
        &["env-migrate", "--list-migrations", "--all"],
        &["env-migrate", "--list-migrations", "--all", "--json"],
        &["env-migrate", "--show-state-path"],
        &["completions", "bash"],
    ] {
        let r = run_into_closed_pipe(bin(&config, &logs).args(args));
        assert_no_panic(&r);
    }
}

// ------------------------------------------------- 10: secrets in errors

#[test]
fn config_errors_never_echo_a_password() {
    let dir = tempfile::tempdir().unwrap();
    for (line, secret) in [
        ("password = \"Sup3rSecretPw\" y", "Sup3rSecretPw"),
        ("password = 12345678", "12345678"),
        ("db_token = \"T0kenValue\" z", "T0kenValue"),
    ] {
        let text =
            format!("[environments.prod]\nhost = \"db\"\nuser = \"u\"\n{line}\ndatabase = \"d\"\n");
        let config = write_config_text(dir.path(), &text);
        let r = run(bin(&config, &dir.path().join("logs")).args(["config", "check"]));
        assert_eq!(r.code, 2, "{line}: {r:?}");
        assert!(
            !r.stderr.contains(secret) && !r.stdout.contains(secret),
            "{line}: the secret leaked: {r:?}"
        );
        assert!(
            r.stderr.contains(&config.display().to_string()) && r.stderr.contains("line 4"),
            "{line}: file and line named: {r:?}"
        );
    }
}

// ------------------------------------------ 12: ambiguous replacement pairs

#[test]
fn two_keys_with_the_same_source_value_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = dead_config(
        dir.path(),
        &[("main", "www.wfu.edu"), ("alias", "www.wfu.edu")],
        &[("main", "uat.wfu.edu"), ("alias", "uat2.wfu.edu")],
    );
    let logs = dir.path().join("logs");
    let r = run(bin(&config, &logs).args(["env-migrate", "prod", "uat", "--dry-run"]));
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains("'main'")
            && r.stderr.contains("'alias'")
            && r.stderr.contains("www.wfu.edu"),
        "{r:?}"
    );
    // A --replace pair whose FROM is a token's value with another TO is the same ambiguity.
    let config = dead_config(dir.path(), &[("main", "www.wfu.edu")], &[("main", "uat")]);
    let r = run(bin(&config, &logs).args([
        "env-migrate",
        "prod",
        "uat",
        "--dry-run",
        "--replace",
        "www.wfu.edu=other",
    ]));
    assert_eq!(r.code, 2, "{r:?}");
}

#[test]
fn a_replace_pair_with_an_empty_to_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = dead_config(dir.path(), &[("main", "www")], &[("main", "uat")]);
    let r = run(bin(&config, &dir.path().join("logs")).args([
        "env-migrate",
        "prod",
        "uat",
        "--dry-run",
        "--replace",
        "cdn.wfu.edu=",
    ]));
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("empty TO"), "{r:?}");
}

#[test]
fn config_check_reports_keys_another_environment_lacks_and_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let config = dead_config(
        dir.path(),
        &[
            ("main", "www.wfu.edu"),
            ("alias", "www.wfu.edu"),
            ("cdn", "cdn.wfu.edu"),
        ],
        &[("main", "uat.wfu.edu"), ("alias", "uat2.wfu.edu")],
    );
    let r = run(bin(&config, &dir.path().join("logs")).args(["config", "check"]));
    assert_no_panic(&r);
    assert_eq!(r.code, 2, "{r:?}");
    let all = format!("{}{}", r.stdout, r.stderr);
    assert!(
        all.contains("environment 'uat' lacks replacement key 'cdn' that 'prod' has")
            && all.contains("prod → uat would be refused"),
        "{r:?}"
    );
    assert!(
        all.contains(
            "replacement keys 'alias' and 'main' of environment 'prod' have the same value"
        ),
        "duplicate values reported: {r:?}"
    );
}

// ------------------------------------------------------ 13: minor truths

#[test]
fn the_readable_password_warning_is_printed_once() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let port = closed_port();
    let text = format!(
        "{}{}",
        dead_env("prod", port, &[("main", "www")]),
        dead_env("uat", port, &[("main", "uat")])
    )
    .replacen("password_env = \"WFUWP_SAFETY_PW\"", "password = \"x\"", 1);
    let config = write_config_text(dir.path(), &text);
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    let r = run(bin(&config, &dir.path().join("logs")).args([
        "env-migrate",
        "prod",
        "uat",
        "--dry-run",
    ]));
    assert_eq!(
        r.stderr.matches("holds a literal password").count(),
        1,
        "{r:?}"
    );
}

#[test]
fn a_tilde_in_logs_dir_means_home() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let config = write_config_text(
        &dir.path().join("etc"),
        "logs_dir = \"~/wfuwp-logs\"\n[environments.prod]\nhost = \"h\"\nuser = \"u\"\ndatabase = \"d\"\n",
    );
    let r = run(bin_without_logs_dir(&config)
        .env("HOME", &home)
        .args(["env-migrate", "--show-state-path"]));
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout
            .starts_with(&format!("{}\t", home.join("wfuwp-logs").display())),
        "{r:?}"
    );
}

#[test]
fn socket_and_host_together_say_which_wins_once() {
    let dir = tempfile::tempdir().unwrap();
    let port = closed_port();
    let text = dead_env("prod", port, &[]).replace(
        "user = ",
        &format!(
            "socket = \"{}\"\nuser = ",
            dir.path().join("no.sock").display()
        ),
    );
    let config = write_config_text(dir.path(), &text);
    let r = run(bin(&config, &dir.path().join("logs")).args(["config", "check"]));
    assert_no_panic(&r);
    assert_eq!(
        r.stderr.matches("sets both `host` and `socket`").count(),
        1,
        "{r:?}"
    );
    assert!(r.stderr.contains("through the socket"), "{r:?}");
}

#[test]
fn a_fingerprint_mismatch_names_exactly_the_changed_fields() {
    let dir = tempfile::tempdir().unwrap();
    let config = dead_config(
        dir.path(),
        &[("main", "www.wfu.edu"), ("cdn", "cdn.wfu.edu")],
        &[("main", "uat.wfu.edu"), ("cdn", "cdn.uat.wfu.edu")],
    );
    let logs = dir.path().join("logs");
    let id = failed_migration(&config, &logs);
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("cdn.uat.wfu.edu", "cdn2.uat.wfu.edu");
    std::fs::write(&config, text).unwrap();
    let r = run(bin(&config, &logs).args(["env-migrate", "--resume", &id]));
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains("uat") && r.stderr.contains("replacement key 'cdn'"),
        "{r:?}"
    );
    for innocent in ["host", "database", "prefix", "'main'", "prod"] {
        assert!(!r.stderr.contains(innocent), "{innocent} is blamed: {r:?}");
    }
}

#[test]
fn one_attempt_is_singular_in_the_progress_log() {
    let dir = tempfile::tempdir().unwrap();
    let config = dead_config(dir.path(), &[("main", "www")], &[("main", "uat")]);
    let logs = dir.path().join("logs");
    let id = failed_migration(&config, &logs);
    let log = std::fs::read_to_string(
        logs.join(&id)
            .join(wfuwp_engine::state::store::PROGRESS_LOG),
    )
    .unwrap();
    assert!(log.contains("after 1 attempt:"), "{log}");
    assert!(!log.contains("1 attempts"), "{log}");
}
