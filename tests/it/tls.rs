//! TLS to the database (docs/tls.md): every `ssl_mode` against servers
//! started with test certificates (`scripts/mariadb-sandbox.sh certs`), the
//! failures an operator meets, accounts that require TLS or a client
//! certificate, X.509 v1 certificates, Unix sockets to servers with TLS, and
//! full migrations over verified TLS and over a socket judged by the oracle.

use crate::oracle;
use crate::support;

use std::path::PathBuf;

use support::private::PrivateServer;
use support::*;

/// Test certificates in a temporary directory (see the script for what is made).
struct Certs {
    dir: tempfile::TempDir,
}

impl Certs {
    fn make() -> Certs {
        let dir = tempfile::tempdir().expect("temp dir");
        let out = repo_script("mariadb-sandbox.sh")
            .arg("certs")
            .arg(dir.path())
            .output()
            .expect("running the certs command");
        assert!(
            out.status.success(),
            "making certificates: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Certs { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A server presenting `cert` (`server` or `wrong-name`), signed by ca.pem.
    fn server(&self, cert: &str) -> PrivateServer {
        PrivateServer::start(&[
            &format!("--ssl-ca={}", self.path("ca.pem").display()),
            &format!("--ssl-cert={}", self.path(&format!("{cert}.pem")).display()),
            &format!("--ssl-key={}", self.path(&format!("{cert}.key")).display()),
        ])
    }
}

/// `[environments.NAME]` for `db` with extra lines (TLS keys, another user).
fn env_block(db: &TestDb, name: &str, tokens: Tokens, user: Option<&str>, tls: &str) -> String {
    let mut text = db.env_toml(name, tokens);
    if let Some(u) = user {
        text = text.replace(
            &format!("user = \"{}\"\n", db.server.user),
            &format!("user = \"{u}\"\n"),
        );
    }
    let database = format!("database = \"{}\"\n", db.name);
    text.replace(&database, &format!("{database}{tls}"))
}

/// The same block reaching the server through its Unix socket instead of TCP.
fn through_socket(block: String, db: &TestDb) -> String {
    let tcp = format!("host = \"{}\"\nport = {}\n", db.server.host, db.server.port);
    assert!(block.contains(&tcp), "no host and port in\n{block}");
    let socket = db.server.socket.as_deref().expect("the server's socket");
    block.replace(&tcp, &format!("socket = \"{socket}\"\n"))
}

fn tls_lines(mode: &str, certs: &Certs, ca: Option<&str>, client: Option<&str>) -> String {
    let mut s = format!("ssl_mode = \"{mode}\"\n");
    if let Some(ca) = ca {
        s.push_str(&format!("ssl_ca = \"{}\"\n", certs.path(ca).display()));
    }
    if let Some(client) = client {
        s.push_str(&format!(
            "ssl_cert = \"{}\"\nssl_key = \"{}\"\n",
            certs.path(&format!("{client}.pem")).display(),
            certs.path(&format!("{client}.key")).display()
        ));
    }
    s
}

/// Runs `config check` on a config holding `blocks`.
fn check(blocks: &[String]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config_text(dir.path(), &blocks.concat());
    run(wfuwp(&config, &dir.path().join("logs")).args(["config", "check"]))
}

/// How one environment connects: account, mode, CA file, client
/// certificate, and through the server's socket or over TCP.
#[derive(Clone, Copy)]
struct Setting<'a> {
    user: Option<&'a str>,
    mode: &'a str,
    ca: Option<&'a str>,
    client: Option<&'a str>,
    socket: bool,
}

const fn mode(mode: &str) -> Setting<'_> {
    Setting {
        user: None,
        mode,
        ca: None,
        client: None,
        socket: false,
    }
}

impl<'a> Setting<'a> {
    const fn ca(self, ca: &'a str) -> Self {
        Setting {
            ca: Some(ca),
            ..self
        }
    }
    const fn user(self, user: &'a str) -> Self {
        Setting {
            user: Some(user),
            ..self
        }
    }
    const fn client(self) -> Self {
        self.client_cert("client")
    }
    /// The client certificate `name`.pem with its key `name`.key.
    const fn client_cert(self, name: &'a str) -> Self {
        Setting {
            client: Some(name),
            ..self
        }
    }
    const fn socket(self) -> Self {
        Setting {
            socket: true,
            ..self
        }
    }
}

/// `config check` of `db` connected as `s` exits `code` and prints every one of `needles`.
fn expect(db: &TestDb, certs: &Certs, s: Setting, code: i32, needles: &[&str]) {
    let tls = tls_lines(s.mode, certs, s.ca, s.client);
    let mut block = env_block(db, "uat", &[], s.user, &tls);
    if s.socket {
        block = through_socket(block, db);
    }
    let r = check(&[block]);
    let what = format!(
        "ssl_mode {} as {:?} with {:?}{}",
        s.mode,
        s.user,
        s.client,
        if s.socket { " through the socket" } else { "" }
    );
    assert_eq!(r.code, code, "{what}: {r:?}");
    for n in needles {
        assert!(
            r.stdout.contains(n),
            "{what}: expected {n:?} in\n{}",
            r.stdout
        );
    }
}

/// Creates `name` on `server` with the sandbox password, all privileges and `require`.
fn account(server: &Server, name: &str, require: &str) {
    for host in ["127.0.0.1", "localhost"] {
        server.exec(&format!(
            "CREATE USER IF NOT EXISTS '{name}'@'{host}' IDENTIFIED BY '{pw}' REQUIRE {require}",
            pw = server.password
        ));
        server.exec(&format!("GRANT ALL PRIVILEGES ON *.* TO '{name}'@'{host}'"));
    }
}

const ENCRYPTED: &str = "encrypted, TLSv1.";

#[test]
fn every_mode_connects_to_a_tls_server_and_config_check_says_how() {
    let certs = Certs::make();
    let server = certs.server("server");
    let db = TestDb::on(server.server(), "tls_modes");
    expect(
        &db,
        &certs,
        mode("disabled"),
        0,
        &["NOT encrypted: ssl_mode = \"disabled\""],
    );
    expect(
        &db,
        &certs,
        mode("preferred"),
        0,
        &[ENCRYPTED, "ssl_mode = \"preferred\""],
    );
    expect(
        &db,
        &certs,
        mode("required"),
        0,
        &[ENCRYPTED, "ssl_mode = \"required\""],
    );
    let verify_ca = mode("verify_ca").ca("ca.pem");
    expect(
        &db,
        &certs,
        verify_ca,
        0,
        &[ENCRYPTED, "ssl_mode = \"verify_ca\""],
    );
    let verify_id = mode("verify_identity").ca("ca.pem");
    expect(
        &db,
        &certs,
        verify_id,
        0,
        &[ENCRYPTED, "ssl_mode = \"verify_identity\""],
    );
}

#[test]
fn preferred_falls_back_to_plain_and_required_refuses_a_server_without_tls() {
    // The shared sandbox runs without certificates: it offers no TLS.
    let db = TestDb::new("tls_none");
    let certs = Certs::make();
    let fell_back = ["NOT encrypted: the server does not offer TLS", "fell back"];
    expect(&db, &certs, mode("preferred"), 0, &fell_back);
    let refused = ["the server does not offer TLS", "Enable TLS on the server"];
    expect(&db, &certs, mode("required"), 1, &refused);
    expect(
        &db,
        &certs,
        mode("verify_identity").ca("ca.pem"),
        1,
        &refused,
    );
}

#[test]
fn certificate_failures_name_the_cause_and_the_fix() {
    let certs = Certs::make();
    let good = certs.server("server");
    let db = TestDb::on(good.server(), "tls_ca");
    let other_ca = mode("verify_ca").ca("other-ca.pem");
    expect(
        &db,
        &certs,
        other_ca,
        1,
        &["not signed by the CA in ssl_ca"],
    );
    let missing = mode("verify_ca").ca("missing.pem");
    expect(&db, &certs, missing, 1, &["could not be read"]);

    let renamed = certs.server("wrong-name");
    let db = TestDb::on(renamed.server(), "tls_name");
    let identity = mode("verify_identity").ca("ca.pem");
    expect(
        &db,
        &certs,
        identity,
        1,
        &["does not name the host", "verify_ca"],
    );
    // The chain is fine: verify_ca accepts the same server.
    expect(&db, &certs, mode("verify_ca").ca("ca.pem"), 0, &[ENCRYPTED]);
}

#[test]
fn accounts_that_require_tls_or_a_client_certificate() {
    let certs = Certs::make();
    let server = certs.server("server");
    account(server.server(), "tls_only", "SSL");
    account(server.server(), "cert_only", "X509");
    let db = TestDb::on(server.server(), "tls_req");
    let hint = ["access denied", "REQUIRE SSL or X509"];
    expect(&db, &certs, mode("disabled").user("tls_only"), 1, &hint);
    expect(
        &db,
        &certs,
        mode("required").user("tls_only"),
        0,
        &[ENCRYPTED],
    );
    let verified = mode("verify_identity").ca("ca.pem").user("cert_only");
    expect(&db, &certs, verified, 1, &["access denied"]);
    expect(&db, &certs, verified.client(), 0, &[ENCRYPTED]);
}

/// A whole migration whose every connection must use TLS with a client
/// certificate (the account requires X509), judged value for value.
#[test]
fn a_full_migration_over_verified_tls_is_exact() {
    let certs = Certs::make();
    let server = certs.server("server");
    account(server.server(), "migrator", "X509");
    let (src, dst) = (
        TestDb::on(server.server(), "tls_src"),
        TestDb::on(server.server(), "tls_dst"),
    );
    seed_network(&src, &small_network());
    let tls = tls_lines("verify_identity", &certs, Some("ca.pem"), Some("client"));
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "logs_dir = \"logs\"\n\n{}{}",
        env_block(&src, "prod", PROD_TOKENS, Some("migrator"), &tls),
        env_block(&dst, "uat", UAT_TOKENS, Some("migrator"), &tls)
    );
    let config = write_config_text(dir.path(), &text);
    let r = run(wfuwp(&config, &dir.path().join("logs")).args([
        "env-migrate",
        "prod",
        "uat",
        "--force",
    ]));
    assert_eq!(r.code, 0, "{r:?}");
    let checks = oracle::full_migration(&src);
    let judged = oracle::assert_migrated(&src, &dst, &oracle::prod_to_uat(&[]), &checks);
    assert!(judged > 300, "only {judged} values judged");
}

/// Item 7 of issue 22: a server whose certificate is X.509 v1. The modes that
/// verify nothing connect (the mariadb client does too); the modes that
/// verify it fail with a message that says what the certificate is and how
/// to re-issue it.
#[test]
fn a_v1_server_certificate_is_used_unverified_and_explained_when_verified() {
    let certs = Certs::make();
    let server = certs.server("server-v1");
    let db = TestDb::on(server.server(), "tls_v1");
    for m in ["preferred", "required"] {
        expect(&db, &certs, mode(m), 0, &[ENCRYPTED]);
    }
    let explained = [
        "the server's certificate is an X.509 v1 certificate",
        "verifies only X.509 v3 certificates",
        "openssl x509 -req",
        "-extfile v3.ext",
        "subjectAltName=IP:127.0.0.1",
        "ssl_mode = \"required\"",
    ];
    expect(&db, &certs, mode("verify_ca").ca("ca.pem"), 1, &explained);
    expect(
        &db,
        &certs,
        mode("verify_identity").ca("ca.pem"),
        1,
        &explained,
    );
}

/// Item 7 of issue 22: an X.509 v1 client certificate is found in the file,
/// before any connection, and explained: which file, what it is, and the
/// openssl commands that re-issue it as v3.
#[test]
fn a_v1_client_certificate_is_explained_before_connecting() {
    let certs = Certs::make();
    let server = certs.server("server");
    account(server.server(), "cert_v1", "X509");
    let db = TestDb::on(server.server(), "tls_cv1");
    let file = certs.path("client-v1.pem").display().to_string();
    let explained = [
        format!("the client certificate ssl_cert = {file} is an X.509 v1 certificate"),
        "for CN=wfuwp-client-v1, issued by CN=wfuwp test CA".to_string(),
        "accepts only X.509 v3 certificates".to_string(),
        format!("openssl x509 -x509toreq -in {file}"),
        "openssl x509 -req".to_string(),
        "-extfile v3.ext".to_string(),
        "extendedKeyUsage=clientAuth".to_string(),
    ];
    let explained: Vec<&str> = explained.iter().map(String::as_str).collect();
    let v1 = mode("verify_identity")
        .ca("ca.pem")
        .user("cert_v1")
        .client_cert("client-v1");
    expect(&db, &certs, v1, 1, &explained);
    // Not even the modes that verify nothing can send it.
    expect(
        &db,
        &certs,
        mode("required").client_cert("client-v1"),
        1,
        &explained,
    );
    // The same account with a v3 certificate of the same CA gets in.
    expect(&db, &certs, v1.client_cert("client"), 0, &[ENCRYPTED]);
}

/// Item 6 of issue 22: a Unix socket to a server with TLS enabled. As MySQL
/// clients do, `preferred` does not use TLS over a socket, and `required`
/// and stronger do (so an account that requires TLS works through it).
#[test]
fn a_socket_to_a_tls_server_connects_as_mysql_clients_do() {
    let certs = Certs::make();
    let server = certs.server("server");
    account(server.server(), "tls_only", "SSL");
    let db = TestDb::on(server.server(), "tls_sock");
    let plain = ["not encrypted: a Unix socket on this machine"];
    expect(&db, &certs, mode("preferred").socket(), 0, &plain);
    expect(&db, &certs, mode("required").socket(), 0, &[ENCRYPTED]);
    let tls_only = mode("required").user("tls_only").socket();
    expect(&db, &certs, tls_only, 0, &[ENCRYPTED]);
    expect(
        &db,
        &certs,
        mode("preferred").user("tls_only").socket(),
        1,
        &[
            "access denied",
            "Over a Unix socket ssl_mode = \"preferred\" does not use TLS",
        ],
    );
    // Through a socket the server is `localhost`, which its certificate names.
    let verified = mode("verify_identity").ca("ca.pem").socket();
    expect(&db, &certs, verified, 0, &[ENCRYPTED]);
}

/// Item 6 of issue 22: every connection of a seed and of a migration through
/// the socket of a server with TLS: the default `preferred`, and `required`
/// with an account the server refuses without TLS, so that any connection
/// left in plain text (the lock, the sampler, a worker, the generator's)
/// would fail the run.
#[test]
fn migrations_through_the_socket_of_a_tls_server_are_exact() {
    let certs = Certs::make();
    let server = certs.server("server");
    account(server.server(), "sock_tls", "SSL");
    let (src, dst) = (
        TestDb::on(server.server(), "tls_ssrc"),
        TestDb::on(server.server(), "tls_sdst"),
    );
    let dir = tempfile::tempdir().unwrap();
    for (mode, user) in [("preferred", None), ("required", Some("sock_tls"))] {
        let tls = tls_lines(mode, &certs, None, None);
        let text = format!(
            "logs_dir = \"logs\"\n\n{}{}",
            through_socket(env_block(&src, "prod", PROD_TOKENS, user, &tls), &src),
            through_socket(env_block(&dst, "uat", UAT_TOKENS, user, &tls), &dst)
        );
        let config = write_config_text(dir.path(), &text);
        let logs = dir.path().join("logs");
        let r = run(wfuwp(&config, &logs).args([
            "seed-network",
            "--env",
            "prod",
            "--sites",
            "5",
            "--posts",
            "3",
            "--recreate",
        ]));
        assert_eq!(r.code, 0, "seeding over the socket with {mode}: {r:?}");
        let r = run(wfuwp(&config, &logs).args(["env-migrate", "prod", "uat", "--force"]));
        assert_eq!(r.code, 0, "migrating over the socket with {mode}: {r:?}");
        assert!(
            !r.stderr.contains("without TLS"),
            "{mode}: a socket is no TLS fallback to warn about:\n{}",
            r.stderr
        );
        let checks = oracle::full_migration(&src);
        let judged = oracle::assert_migrated(&src, &dst, &oracle::prod_to_uat(&[]), &checks);
        assert!(judged > 100, "{mode}: only {judged} values judged");
    }
}
