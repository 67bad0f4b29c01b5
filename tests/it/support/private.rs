//! A MariaDB server of a test's own, started with the settings the test
//! needs (managed-server settings, TLS, …) by `scripts/mariadb-sandbox.sh`,
//! and stopped and deleted when the value drops.
//!
//! It shares the sandbox's user and password, so configs written for it keep
//! `password_env = "WFUWP_TEST_DB_PASSWORD"`.

use std::path::Path;

use super::{server, Server};

/// Small memory settings: a private server holds a few test databases, and
/// several may run beside the shared sandbox on a small machine.
const SMALL: &[&str] = &[
    "--innodb-buffer-pool-size=64M",
    "--innodb-log-file-size=48M",
    "--max-connections=100",
];

/// A running private server; stopped and removed on drop.
#[derive(Debug)]
pub struct PrivateServer {
    dir: tempfile::TempDir,
    server: Server,
}

impl PrivateServer {
    /// Starts a server with `options` given to mariadbd after the defaults
    /// (so they win). Panics with the script's output when it fails.
    pub fn start(options: &[&str]) -> PrivateServer {
        let dir = tempfile::Builder::new()
            .prefix("wfuwp-srv.")
            .tempdir_in("/tmp")
            .expect("creating a directory for a private server");
        let out = super::repo_script("mariadb-sandbox.sh")
            .arg("start")
            .arg(dir.path())
            .arg("--")
            .args(SMALL)
            .args(options)
            .env("MARIADB_SANDBOX_PASSWORD", &server().password)
            .output()
            .expect("running scripts/mariadb-sandbox.sh");
        assert!(
            out.status.success(),
            "starting a private server with {options:?} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let server = read_settings(dir.path());
        PrivateServer { dir, server }
    }

    /// Its connection settings.
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// The directory holding its datadir, socket and logs.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        let _ = super::repo_script("mariadb-sandbox.sh")
            .arg("stop")
            .arg(self.dir.path())
            .output();
    }
}

/// Reads the `export NAME=value` lines of the server's env.sh.
fn read_settings(dir: &Path) -> Server {
    let text =
        std::fs::read_to_string(dir.join("env.sh")).expect("reading the private server's env.sh");
    let get = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("export {name}=")))
            .unwrap_or_else(|| panic!("{name} missing from env.sh"))
            .to_string()
    };
    Server {
        host: get("WFUWP_TEST_DB_HOST"),
        port: get("WFUWP_TEST_DB_PORT").parse().expect("port in env.sh"),
        user: get("WFUWP_TEST_DB_USER"),
        password: get("WFUWP_TEST_DB_PASSWORD"),
        socket: Some(get("WFUWP_TEST_DB_SOCKET")),
    }
}
