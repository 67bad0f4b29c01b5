//! Opening connections to an environment's database, with errors an operator can act on.
//!
//! Every connection goes through [`opts`] so that all of them (the engine opens
//! several per run) share the same settings, and through [`connect`] /
//! [`connect_server`] so that a failure is classified once: unreachable,
//! access denied, unknown database, or a missing password variable.

use std::time::Duration;

use mysql_async::{Conn, Opts, OptsBuilder};
use secrecy::ExposeSecret;

use super::tls::{self, TlsFailure, Transport};
use crate::config::{ConfigError, Environment, SslMode};

/// How long to wait for a server to accept a connection and finish the handshake.
/// A firewall that drops packets would otherwise hang the operator's terminal
/// for the OS's TCP timeout (minutes).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// MySQL/MariaDB server error: access denied for user (bad user or password).
pub const ER_ACCESS_DENIED: u16 = 1045;
/// MySQL/MariaDB server error: access denied for user to database.
pub const ER_DBACCESS_DENIED: u16 = 1044;
/// MySQL/MariaDB server error: unknown database.
pub const ER_BAD_DB: u16 = 1049;

/// Why a connection to an environment's database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The configuration cannot give the connection settings (e.g. the password
    /// variable is not set). Kept as a source so that it exits 2.
    #[error("{0}")]
    Config(#[from] ConfigError),

    /// Nothing answered at the address (DNS failure, refused, timeout).
    #[error(
        "cannot reach the database server of environment '{env}' at {address}: {reason}. \
         Check `host`/`port` (or `socket`) in [environments.{env}], that the server is running, \
         and that your network or VPN lets you reach it."
    )]
    Unreachable {
        /// Environment name.
        env: String,
        /// `host:port` or socket path.
        address: String,
        /// What the operating system or driver said.
        reason: String,
    },

    /// The server rejected the user or password.
    #[error(
        "access denied for user '{user}' at {address} (environment '{env}'): the server rejected \
         the user name or the password from {password_source}. Check `user` in [environments.{env}] \
         and the password, then run `wfuwp config check {env}`.{tls_hint}"
    )]
    AccessDenied {
        /// Environment name.
        env: String,
        /// Database user.
        user: String,
        /// `host:port` or socket path.
        address: String,
        /// Where the password came from (a setting's name, never the password).
        password_source: String,
        /// With `ssl_mode = "disabled"`, the other likely cause.
        tls_hint: String,
    },

    /// The user may log in but not use the configured database.
    #[error(
        "user '{user}' may not use database '{database}' at {address} (environment '{env}'). \
         Grant the user privileges on it (GRANT ALL ON `{database}`.* TO ...), or fix `database` \
         in [environments.{env}]."
    )]
    DatabaseDenied {
        /// Environment name.
        env: String,
        /// Database user.
        user: String,
        /// Configured database.
        database: String,
        /// `host:port` or socket path.
        address: String,
    },

    /// The configured database does not exist on the server.
    #[error(
        "database '{database}' does not exist at {address} (environment '{env}'). Create it \
         (CREATE DATABASE `{database}`) or fix `database` in [environments.{env}]."
    )]
    UnknownDatabase {
        /// Environment name.
        env: String,
        /// Configured database.
        database: String,
        /// `host:port` or socket path.
        address: String,
    },

    /// TLS could not be set up as `ssl_mode` asks.
    #[error("{}", tls_advice(env, address, *mode, failure))]
    Tls {
        /// Environment name.
        env: String,
        /// `host:port` or socket path.
        address: String,
        /// The configured mode.
        mode: SslMode,
        /// What went wrong.
        failure: TlsFailure,
    },

    /// Any other driver or server error while connecting.
    #[error("cannot connect to environment '{env}' at {address}: {source}")]
    Other {
        /// Environment name.
        env: String,
        /// `host:port` or socket path.
        address: String,
        /// The driver's error.
        #[source]
        source: mysql_async::Error,
    },
}

/// Connection options for `env`'s database (the engine uses them to open more connections).
pub fn opts(env: &Environment) -> Result<Opts, DbError> {
    Ok(builder(env)?.db_name(Some(env.database.clone())).into())
}

/// Connection options for `env`'s server without selecting a database
/// (to create or drop the database itself).
pub fn server_opts(env: &Environment) -> Result<Opts, DbError> {
    Ok(builder(env)?.into())
}

/// Opens a connection to `env`'s database.
pub async fn connect(env: &Environment) -> Result<Conn, DbError> {
    Ok(connect_reporting(env).await?.conn)
}

/// A connection, the options that made it and, when `preferred` went on
/// without TLS, why.
pub struct Connected {
    /// The connection.
    pub conn: Conn,
    /// The options that worked: the engine opens its other connections with them.
    pub opts: Opts,
    /// Why the connection is not encrypted although TLS was preferred.
    pub tls_fallback: Option<String>,
}

/// Opens a connection to `env`'s database; with `ssl_mode = "preferred"` a
/// server that offers no TLS gets a plain connection, and the caller learns why.
pub async fn connect_reporting(env: &Environment) -> Result<Connected, DbError> {
    connect_tls_aware(env, opts(env)?).await
}

/// Opens a connection with `opts`, applying what `env`'s `ssl_mode` allows
/// after a TLS failure: `preferred` goes on in plain text when the server
/// offers no TLS; `verify_ca` verifies again against a name the
/// certificate presents ([`tls::verify_ca_retry`]).
async fn connect_tls_aware(env: &Environment, opts: Opts) -> Result<Connected, DbError> {
    if opts.ssl_opts().is_some() {
        tls::check_files(&env.tls()).map_err(|failure| DbError::Tls {
            env: env.name.clone(),
            address: env.address(),
            mode: env.ssl_mode,
            failure,
        })?;
    }
    let err = match open(&opts).await {
        Ok(conn) => {
            return Ok(Connected {
                conn,
                opts,
                tls_fallback: None,
            })
        }
        Err(e) => e,
    };
    let failure = tls::failure(&err);
    let (retry, fallback) = match (env.ssl_mode, &failure) {
        (SslMode::Preferred, Some(TlsFailure::NotOffered)) => (
            Some(OptsBuilder::from_opts(opts).ssl_opts(None).into()),
            Some("the server does not offer TLS (have_ssl is not YES)".to_string()),
        ),
        (SslMode::VerifyCa, Some(f)) => (tls::verify_ca_retry(&opts, f), None),
        _ => (None, None),
    };
    let Some(retry) = retry else {
        return Err(classify(env, err));
    };
    let conn = open(&retry).await.map_err(|e| classify(env, e))?;
    Ok(Connected {
        conn,
        opts: retry,
        tls_fallback: fallback,
    })
}

/// Opens a connection to `env`'s server with no default database.
pub async fn connect_server(env: &Environment) -> Result<Conn, DbError> {
    connect_with(env, server_opts(env)?).await
}

/// Opens a connection with `opts` (built by [`opts`] or [`server_opts`] for
/// `env`) as its `ssl_mode` allows, and classifies a failure.
pub async fn connect_with(env: &Environment, opts: Opts) -> Result<Conn, DbError> {
    Ok(connect_tls_aware(env, opts).await?.conn)
}

/// Opens a connection, bounded by [`CONNECT_TIMEOUT`]: a silent firewall
/// must surface as an error, not a hang. Every connection wfuwp opens comes
/// through here.
pub async fn open(opts: &Opts) -> mysql_async::Result<Conn> {
    match tokio::time::timeout(CONNECT_TIMEOUT, Conn::new(opts.clone())).await {
        Ok(r) => r,
        Err(_) => Err(mysql_async::Error::Io(
            std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no answer within {} seconds", CONNECT_TIMEOUT.as_secs()),
            )
            .into(),
        )),
    }
}

fn builder(env: &Environment) -> Result<OptsBuilder, DbError> {
    let password = env.password()?;
    let mut b = OptsBuilder::default()
        .user(Some(env.user.clone()))
        // The driver keeps its own copy; `Endpoint`'s Debug hides it.
        .pass(password.map(|p| p.expose_secret().to_string()))
        // The configured address is the contract: never switch to a socket the
        // server advertises (it may belong to a different server on this host).
        .prefer_socket(false)
        .tcp_nodelay(true)
        .stmt_cache_size(64usize)
        .ssl_opts(ssl_opts(env));
    if let Some(socket) = &env.socket {
        b = b.socket(Some(socket.display().to_string()));
    }
    if let Some(host) = &env.host {
        b = b
            .ip_or_hostname(host.clone())
            .tcp_port(env.port.unwrap_or(3306));
    }
    Ok(b)
}

/// The connection's TLS options. Over a socket the certificate presents the
/// server as `localhost`, as MySQL clients expect, unless `host` names it.
fn ssl_opts(env: &Environment) -> Option<mysql_async::SslOpts> {
    let transport = transport(env);
    let opts = tls::ssl_opts(&env.tls(), transport)?;
    Some(match (transport, &env.host) {
        (Transport::Socket, None) => opts.with_danger_tls_hostname_override(Some("localhost")),
        _ => opts,
    })
}

/// How the driver reaches `env`'s server: through `socket` whenever one is set.
pub fn transport(env: &Environment) -> Transport {
    match env.socket {
        Some(_) => Transport::Socket,
        None => Transport::Tcp,
    }
}

/// Maps a driver error seen while connecting to the variant the operator can act on.
fn classify(env: &Environment, e: mysql_async::Error) -> DbError {
    let (name, address) = (env.name.clone(), env.address());
    if let Some(failure) = tls::failure(&e) {
        return DbError::Tls {
            env: name,
            address,
            mode: env.ssl_mode,
            failure,
        };
    }
    match e {
        mysql_async::Error::Server(ref s) if s.code == ER_ACCESS_DENIED => DbError::AccessDenied {
            env: name,
            user: env.user.clone(),
            address,
            password_source: password_source(env),
            tls_hint: match (env.ssl_mode, transport(env)) {
                (SslMode::Disabled, _) => " With ssl_mode = \"disabled\" this is also what an account that must use TLS \
                     (REQUIRE SSL or X509) gets: if so, set ssl_mode to \"required\" or stronger."
                    .into(),
                (SslMode::Preferred, Transport::Socket) => " Over a Unix socket ssl_mode = \"preferred\" does not use TLS \
                     (as MySQL clients do not), and that is also what an account that must use TLS (REQUIRE SSL or X509) \
                     gets: if so, set ssl_mode to \"required\" or stronger."
                    .into(),
                _ => String::new(),
            },
        },
        mysql_async::Error::Server(ref s) if s.code == ER_DBACCESS_DENIED => {
            DbError::DatabaseDenied {
                env: name,
                user: env.user.clone(),
                database: env.database.clone(),
                address,
            }
        }
        mysql_async::Error::Server(ref s) if s.code == ER_BAD_DB => DbError::UnknownDatabase {
            env: name,
            database: env.database.clone(),
            address,
        },
        mysql_async::Error::Io(io) => DbError::Unreachable {
            env: name,
            address,
            reason: io_reason(&io),
        },
        other => DbError::Other {
            env: name,
            address,
            source: other,
        },
    }
}

/// The operating system's words ("Connection refused"), without the driver's
/// generic "Input/output error" wrapper.
fn io_reason(io: &mysql_async::IoError) -> String {
    #[allow(unreachable_patterns)] // TLS variants exist only with TLS features.
    match io {
        mysql_async::IoError::Io(e) => e.to_string(),
        other => other.to_string(),
    }
}

/// What to say about a TLS failure: the cause, then the fix.
fn tls_advice(env: &str, address: &str, mode: SslMode, failure: &TlsFailure) -> String {
    let at = format!("environment '{env}' at {address} (ssl_mode = \"{mode}\")");
    match failure {
        TlsFailure::NotOffered => format!(
            "{at}: the server does not offer TLS. Enable TLS on the server (ssl_cert/ssl_key in its configuration), \
             or set ssl_mode = \"preferred\" or \"disabled\" in [environments.{env}] if plain connections are acceptable."
        ),
        TlsFailure::UnknownCa => format!(
            "{at}: the server's certificate is not signed by the CA in ssl_ca. Point ssl_ca at the CA certificate \
             (bundle) that signed the server's certificate."
        ),
        TlsFailure::NameMismatch { .. } => format!(
            "{at}: the server's certificate does not name the host '{address}'. Connect by a name the certificate \
             lists (set `host`), or use ssl_mode = \"verify_ca\" to verify the chain without the name."
        ),
        TlsFailure::Expired => format!(
            "{at}: the server's certificate has expired or is not valid yet. Renew it on the server (or check this machine's clock)."
        ),
        TlsFailure::Files(why) => format!(
            "{at}: a certificate or key file could not be read ({why}). Check ssl_ca, ssl_cert and ssl_key in \
             [environments.{env}] (paths are relative to the config file)."
        ),
        TlsFailure::OldServerCertificate => format!(
            "{at}: the server's certificate is an X.509 v1 certificate (it has no extensions: no subjectAltName, \
             no basicConstraints), and rustls, the TLS library of wfuwp, verifies only X.509 v3 certificates. \
             MariaDB 11.4 and later make such a certificate themselves when none is configured, and many guides \
             make them too. Re-issue the server's certificate (server-cert.pem, its key server-key.pem) as v3: {}; \
             then point the server's ssl_cert at server-cert-v3.pem and restart it. Or set ssl_mode = \"required\" \
             in [environments.{env}]: encrypted, but the certificate is not verified.",
            reissue("server-cert.pem", "server-key.pem", &server_extensions(address), "server-cert-v3.pem")
        ),
        TlsFailure::OldClientCertificate(old) => format!(
            "{at}: the client certificate ssl_cert = {path} is {cert}, and rustls, the TLS library of wfuwp, \
             accepts only X.509 v3 certificates as client certificates. Re-issue it as v3 with the same subject, \
             key and CA: {}; then set ssl_cert = \"client-cert-v3.pem\" in [environments.{env}].",
            reissue(&old.path, &old.key, &v3_extensions("clientAuth"), "client-cert-v3.pem"),
            path = old.path,
            cert = old.cert
        ),
        TlsFailure::Other(why) => format!("{at}: TLS failed: {why}."),
    }
}

/// The openssl commands that re-issue `cert` as an X.509 v3 certificate
/// with the same subject, key (`key`) and CA, adding `extensions` (one
/// `name=value` a line), into `out`.
fn reissue(cert: &str, key: &str, extensions: &[String], out: &str) -> String {
    format!(
        "`printf '{}\\n' > v3.ext; \
         openssl x509 -x509toreq -in {cert} -signkey {key} -out v3.csr; \
         openssl x509 -req -in v3.csr -CA ca-cert.pem -CAkey ca-key.pem -CAcreateserial -days 825 -sha256 \
         -extfile v3.ext -out {out}` (ca-cert.pem and ca-key.pem: the CA that signed it)",
        extensions.join("\\n")
    )
}

/// The v3 extensions of a certificate for `usage` (`serverAuth`, `clientAuth`).
fn v3_extensions(usage: &str) -> Vec<String> {
    vec![
        "basicConstraints=CA:FALSE".into(),
        "keyUsage=critical,digitalSignature,keyEncipherment".into(),
        format!("extendedKeyUsage={usage}"),
    ]
}

/// The extensions of a server certificate for `address` (`host:port`, or a
/// socket path, which MySQL clients call `localhost`).
fn server_extensions(address: &str) -> Vec<String> {
    let host = match address.rsplit_once(':') {
        Some((h, port)) if !address.starts_with('/') && port.parse::<u16>().is_ok() => h,
        _ => "localhost",
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let kind = match host.parse::<std::net::IpAddr>() {
        Ok(_) => "IP",
        Err(_) => "DNS",
    };
    let mut extensions = v3_extensions("serverAuth");
    extensions.push(format!("subjectAltName={kind}:{host}"));
    extensions
}

/// Names the setting the password came from, for messages (never the value).
pub fn password_source(env: &Environment) -> String {
    match (&env.password_env, &env.password) {
        (Some(var), _) => format!("the variable {var} (password_env)"),
        (None, Some(_)) => "`password` in the config file".to_string(),
        (None, None) => "nowhere (no password configured)".to_string(),
    }
}
