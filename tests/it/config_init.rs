//! `wfuwp config init` against the sandbox: the file written from flags or
//! from answers typed on a real pseudo-terminal loads with the loader, is
//! private (0600), never replaces a file without --force, and is checked by
//! `config check` at the end; without a terminal a missing flag is named and
//! nothing is written.

use crate::support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::pty::Pty;
use support::{
    closed_port, run, seed_network, server, small_network, wfuwp, Run, TestDb, PASSWORD_VAR,
};

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o777
}

/// `wfuwp config init` for `config` with `args`, stdin not a terminal.
fn init(config: &Path, args: &[&str]) -> Run {
    let logs = config.with_file_name("logs");
    run(wfuwp(config, &logs).args(["config", "init"]).args(args))
}

/// The flags describing `db` over TCP as environment `env`.
fn tcp_flags(env: &str, db: &TestDb, tokens: &[(&str, &str)]) -> Vec<String> {
    let s = server();
    let mut f: Vec<String> = [
        "--env",
        env,
        "--host",
        &s.host,
        "--port",
        &s.port.to_string(),
        "--user",
        &s.user,
        "--database",
        &db.name,
        "--password-env",
        PASSWORD_VAR,
    ]
    .map(String::from)
    .to_vec();
    for (k, v) in tokens {
        f.extend(["--token".to_string(), format!("{k}={v}")]);
    }
    f
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn flags_write_a_private_commented_config_that_loads_and_checks() {
    let prod = TestDb::new("ci_prod");
    seed_network(&prod, &small_network());
    let local = TestDb::new("ci_local");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("conf/wfuwp.toml");
    let mut args = tcp_flags(
        "prod",
        &prod,
        &[("main", "www.wfu.edu"), ("cdn", "prod.cdn")],
    );
    // The second environment through the server's socket when it has one.
    let local_flags: Vec<String> = match &server().socket {
        Some(sock) => [
            "--env",
            "local",
            "--socket",
            sock,
            "--user",
            &server().user,
            "--database",
            &local.name,
            "--password-env",
            PASSWORD_VAR,
            "--table-prefix",
            "wp_",
        ]
        .map(String::from)
        .to_vec(),
        None => tcp_flags("local", &local, &[]),
    };
    args.extend(local_flags);
    args.extend(["--token", "main=wfu.local", "--token", "cdn=localhost:8080"].map(String::from));
    let r = init(&config, &strs(&args));
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("wrote") && r.stdout.contains("mode 0600"),
        "{r:?}"
    );
    assert!(
        r.stdout.contains("multisite with 6 sites") && r.stdout.contains("empty database"),
        "config check ran on the new file: {r:?}"
    );
    assert!(r.stdout.contains("all 2 environment(s) OK"), "{r:?}");
    assert!(!r.stdout.contains(&server().password) && !r.stderr.contains(&server().password));
    assert_eq!(mode(&config), 0o600);
    assert_eq!(
        mode(config.parent().unwrap()),
        0o700,
        "a new directory is private too"
    );
    assert_eq!(
        files_in(config.parent().unwrap()),
        ["wfuwp.toml"],
        "no temporary file left"
    );

    let text = std::fs::read_to_string(&config).unwrap();
    assert!(
        !text.contains(&server().password),
        "no password in the file"
    );
    assert!(
        text.contains("# Environment tokens") && text.contains("password_env = "),
        "{text}"
    );
    let c = wfuwp_engine::config::load::load_file(&config).expect("the written config loads");
    let p = c.environment("prod").unwrap();
    assert_eq!(p.host.as_deref(), Some(server().host.as_str()));
    assert_eq!(p.port, Some(server().port));
    assert_eq!(p.database, prod.name);
    assert_eq!(p.password_env.as_deref(), Some(PASSWORD_VAR));
    assert!(p.password.is_none());
    assert_eq!(p.replace["cdn"], "prod.cdn");
    let l = c.environment("local").unwrap();
    assert_eq!(l.database, local.name);
    assert_eq!(l.replace["main"], "wfu.local");
    if let Some(sock) = &server().socket {
        assert_eq!(l.socket.as_deref(), Some(Path::new(sock)));
    }
    // The same file, checked by the command users will run next.
    let again = run(wfuwp(&config, &dir.path().join("logs")).args(["config", "check"]));
    assert_eq!(again.code, 0, "{again:?}");
}

#[test]
fn refuses_to_overwrite_without_force_and_replaces_privately_with_it() {
    let db = TestDb::new("ci_force");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "# mine\n").unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    let flags = tcp_flags("uat", &db, &[("main", "uat.wfu.edu")]);

    let r = init(&config, &strs(&flags));
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains("already exists") && r.stderr.contains("--force"),
        "{r:?}"
    );
    assert_eq!(std::fs::read_to_string(&config).unwrap(), "# mine\n");
    assert_eq!(mode(&config), 0o644);

    let mut forced = flags.clone();
    forced.push("--force".into());
    let r = init(&config, &strs(&forced));
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(mode(&config), 0o600);
    let c = wfuwp_engine::config::load::load_file(&config).unwrap();
    assert_eq!(c.environment("uat").unwrap().database, db.name);
    assert_eq!(files_in(dir.path()), ["config.toml"]);
}

#[test]
fn missing_flags_without_a_terminal_are_named_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    let full = [
        "--env",
        "prod",
        "--host",
        "db",
        "--user",
        "u",
        "--database",
        "d",
    ];
    for (args, says) in [
        (&[][..], "--env NAME"),
        (
            &["--env", "prod", "--user", "u", "--database", "d"],
            "add --host HOST (or --socket PATH) after --env prod",
        ),
        (
            &["--env", "prod", "--host", "db", "--database", "d"],
            "add --user USER after --env prod",
        ),
        (
            &["--env", "prod", "--host", "db", "--user", "u"],
            "add --database NAME after --env prod",
        ),
        (
            &[
                &full[..],
                &[
                    "--token",
                    "main=x",
                    "--env",
                    "uat",
                    "--host",
                    "h",
                    "--user",
                    "u",
                    "--database",
                    "e",
                ],
            ]
            .concat(),
            "add --token main=VALUE after --env uat",
        ),
        (&[&full[..], &full[..]].concat(), "'prod' is given twice"),
        (&["--host", "db", "--env", "prod"], "must follow the --env"),
    ] {
        let r = init(&config, args);
        assert_eq!(r.code, 2, "{args:?}: {r:?}");
        assert!(
            r.stderr.contains(says),
            "{args:?} should say '{says}': {r:?}"
        );
        assert!(
            files_in(dir.path()).is_empty(),
            "{args:?} wrote {:?}",
            files_in(dir.path())
        );
    }
}

#[test]
fn a_failing_check_keeps_the_file_and_exits_as_config_check_does() {
    let dir = tempfile::tempdir().unwrap();
    let port = closed_port().to_string();
    let unreachable = dir.path().join("unreachable.toml");
    let r = init(
        &unreachable,
        &[
            "--env",
            "prod",
            "--host",
            "127.0.0.1",
            "--port",
            &port,
            "--user",
            "u",
            "--database",
            "d",
            "--password-env",
            PASSWORD_VAR,
        ],
    );
    assert_eq!(
        r.code, 1,
        "a database failure exits 1, as config check does: {r:?}"
    );
    assert!(
        r.stderr.contains("was written and kept") && r.stderr.contains("config check"),
        "{r:?}"
    );
    assert_eq!(mode(&unreachable), 0o600);
    wfuwp_engine::config::load::load_file(&unreachable).expect("the kept file loads");

    let db = TestDb::new("ci_unset");
    let unset = dir.path().join("unset.toml");
    let mut cmd = wfuwp(&unset, dir.path());
    let flags = tcp_flags("prod", &db, &[]);
    let flags: Vec<String> = flags
        .into_iter()
        .map(|f| {
            if f == PASSWORD_VAR {
                "WFUWP_CI_UNSET_PASSWORD".into()
            } else {
                f
            }
        })
        .collect();
    let r = run(cmd
        .args(["config", "init"])
        .args(&flags)
        .env_remove("WFUWP_CI_UNSET_PASSWORD"));
    assert_eq!(
        r.code, 2,
        "an unset password variable is configuration: {r:?}"
    );
    assert!(r.stdout.contains("WFUWP_CI_UNSET_PASSWORD"), "{r:?}");
    assert!(unset.exists());
}

#[test]
fn the_default_path_is_the_one_the_other_commands_read() {
    let home = tempfile::tempdir().unwrap();
    let base = || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_wfuwp"));
        c.env("HOME", home.path())
            .env("NO_COLOR", "1")
            .env_remove("WFUWP_CONFIG")
            .env_remove("WFUWP_LOGS_DIR");
        c
    };
    let flags = [
        "--env",
        "dev",
        "--host",
        "db",
        "--user",
        "u",
        "--database",
        "d",
        "--no-check",
    ];
    let r = run(base().args(["config", "init"]).args(flags));
    assert_eq!(r.code, 0, "{r:?}");
    let default: PathBuf = home.path().join(".wfuwp/config.toml");
    assert_eq!(mode(&default), 0o600);
    assert_eq!(mode(&home.path().join(".wfuwp")), 0o700);
    assert!(
        r.stdout.contains("WFUWP_DEV_DB_PASSWORD"),
        "the variable to export is named: {r:?}"
    );
    let c = wfuwp_engine::config::load::load_file(&default).unwrap();
    assert_eq!(
        c.environment("dev").unwrap().password_env.as_deref(),
        Some("WFUWP_DEV_DB_PASSWORD")
    );

    let via_var = home.path().join("elsewhere.toml");
    let r = run(base()
        .env("WFUWP_CONFIG", &via_var)
        .args(["config", "init"])
        .args(flags));
    assert_eq!(r.code, 0, "{r:?}");
    assert!(via_var.exists());
}

/// The binary on a PTY, as a user at a terminal runs it.
fn on_terminal(config: &Path, args: &[&str]) -> Pty {
    let mut cmd = wfuwp(config, &config.with_file_name("logs"));
    cmd.args(["config", "init"])
        .args(args)
        .env_remove("CI")
        .env("TERM", "xterm");
    Pty::spawn(cmd)
}

#[test]
fn interactive_prompts_through_a_pty_write_a_config_that_checks() {
    let (prod, local, qa) = (
        TestDb::new("ci_pty_prod"),
        TestDb::new("ci_pty_local"),
        TestDb::new("ci_pty_qa"),
    );
    let s = server();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    let mut t = on_terminal(&config, &[]);

    // prod and uat come checked: uncheck uat (3rd item), check local (5th).
    t.expect("Environments to configure");
    t.expect("local");
    t.send("jj jj \r");
    t.answer("Other environment names", "qa-2");
    t.answer("Token keys", "main,cdn");

    let tcp = |t: &mut Pty, env: &str, db: &TestDb| {
        t.answer(&format!("{env}: connect through"), "");
        t.answer(&format!("{env}: database host"), &s.host);
        t.answer(&format!("{env}: port [3306]"), &s.port.to_string());
        t.answer(&format!("{env}: database user"), &s.user);
        t.answer(
            &format!("{env}: database name [wp_{}]", env.replace('-', "_")),
            &db.name,
        );
    };
    let rest = |t: &mut Pty, env: &str, main: &str| {
        t.answer(
            &format!("{env}: variable holding the password"),
            PASSWORD_VAR,
        );
        t.answer(&format!("{env}: table prefix [wp_]"), "");
        t.answer(&format!("{env}: value of token 'main'"), main);
        t.answer(
            &format!("{env}: value of token 'cdn'"),
            &format!("{env}.cdn"),
        );
    };
    tcp(&mut t, "prod", &prod);
    rest(&mut t, "prod", "www.wfu.edu");
    // local offers the socket first.
    t.expect("local: connect through");
    match &s.socket {
        Some(sock) => {
            t.send("\r");
            t.answer("local: socket path [/run/mysqld/mysqld.sock]", sock);
        }
        None => {
            t.send("k\r");
            t.answer("local: database host", &s.host);
            t.answer("local: port", &s.port.to_string());
        }
    }
    // The previous environment's user is the default.
    t.answer(&format!("local: database user [{}]", s.user), "");
    t.answer("local: database name [wp_local]", &local.name);
    rest(&mut t, "local", "wfu.local");
    tcp(&mut t, "qa-2", &qa);
    rest(&mut t, "qa-2", "qa.wfu.edu");

    t.expect("all 3 environment(s) OK");
    let (code, screen) = t.finish();
    assert_eq!(code, 0, "{screen}");
    eprintln!("SCREEN<<{screen}>>");
    assert!(!screen.contains(&s.password), "{screen}");
    assert_eq!(mode(&config), 0o600);
    let c = wfuwp_engine::config::load::load_file(&config).expect("the written config loads");
    assert_eq!(
        c.environments.keys().collect::<Vec<_>>(),
        ["local", "prod", "qa-2"]
    );
    assert_eq!(c.environment("prod").unwrap().database, prod.name);
    assert_eq!(c.environment("local").unwrap().user, s.user);
    assert_eq!(c.environment("qa-2").unwrap().replace["cdn"], "qa-2.cdn");
    assert_eq!(c.environment("qa-2").unwrap().table_prefix, "wp_");
}

#[test]
fn on_a_terminal_flags_are_kept_and_only_what_is_missing_is_asked() {
    let db = TestDb::new("ci_pty_partial");
    let s = server();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    let port = s.port.to_string();
    let mut t = on_terminal(
        &config,
        &[
            "--env",
            "uat",
            "--host",
            &s.host,
            "--port",
            &port,
            "--user",
            &s.user,
            "--password-env",
            PASSWORD_VAR,
            "--token",
            "main=uat.wfu.edu",
        ],
    );
    t.answer("uat: database name [wp_uat]", &db.name);
    t.expect("all 1 environment(s) OK");
    let (code, screen) = t.finish();
    assert_eq!(code, 0, "{screen}");
    for not_asked in [
        "Environments to configure",
        "database host",
        "table prefix",
        "Token keys",
    ] {
        assert!(
            !screen.contains(not_asked),
            "'{not_asked}' was asked:\n{screen}"
        );
    }
    let c = wfuwp_engine::config::load::load_file(&config).unwrap();
    assert_eq!(c.environment("uat").unwrap().database, db.name);
}

#[test]
fn on_a_terminal_refusals_come_before_any_question() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "# mine\n").unwrap();
    let t = on_terminal(&config, &[]);
    let (code, screen) = t.finish();
    assert_eq!(code, 2, "{screen}");
    assert!(
        screen.contains("--force") && !screen.contains("Environments to configure"),
        "{screen}"
    );
    assert_eq!(std::fs::read_to_string(&config).unwrap(), "# mine\n");

    let fresh = dir.path().join("fresh.toml");
    let env = ["--env", "a", "--user", "u"];
    let t = on_terminal(&fresh, &[&env[..], &env[..]].concat());
    let (code, screen) = t.finish();
    assert_eq!(code, 2, "{screen}");
    assert!(
        screen.contains("'a' is given twice") && !screen.contains("database host"),
        "{screen}"
    );
    assert!(!fresh.exists());
}
