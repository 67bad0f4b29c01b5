//! TLS on the wire: the driver's options for an environment's `ssl_mode`,
//! what a connection negotiated, and the TLS failures an operator can act on
//! (docs/tls.md).

use std::path::Path;

use mysql_async::prelude::*;
use mysql_async::{
    ClientIdentity, Conn, DriverError, IoError, Opts, OptsBuilder, SslOpts, TlsError,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::CertificateError;

use super::cert::{self, CertInfo};
use crate::config::{SslMode, Tls};

/// How a connection reaches its server: TLS is used differently over each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// TCP, to a host name or address.
    Tcp,
    /// A Unix socket on this machine.
    Socket,
}

/// The driver's TLS options for `tls` over `transport`; `None` for a plain connection.
///
/// `preferred` and `required` encrypt without verifying the certificate (as
/// MySQL clients do); `verify_ca` checks the chain against `ssl_ca` only;
/// `verify_identity` also the host name. Over a Unix socket, as with MySQL
/// clients, `preferred` does not use TLS (the socket never leaves the
/// machine) and `required` and stronger do.
pub fn ssl_opts(tls: &Tls, transport: Transport) -> Option<SslOpts> {
    let mut opts = SslOpts::default();
    match tls.mode {
        SslMode::Disabled => return None,
        SslMode::Preferred if transport == Transport::Socket => return None,
        SslMode::Preferred | SslMode::Required => {
            opts = opts.with_danger_accept_invalid_certs(true);
        }
        SslMode::VerifyCa => opts = opts.with_danger_skip_domain_validation(true),
        SslMode::VerifyIdentity => {}
    }
    if let Some(ca) = &tls.ca {
        // The configured CA is the only one trusted: a public CA must not
        // vouch for a private database server.
        opts = opts
            .with_root_certs(vec![ca.clone().into()])
            .with_disable_built_in_roots(true);
    }
    if let (Some(cert), Some(key)) = (&tls.cert, &tls.key) {
        opts = opts.with_client_identity(Some(ClientIdentity::new(
            cert.clone().into(),
            key.clone().into(),
        )));
    }
    Some(opts)
}

/// Why a TLS connection could not be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsFailure {
    /// The server does not offer TLS.
    NotOffered,
    /// The server's certificate is not signed by `ssl_ca`.
    UnknownCa,
    /// The certificate does not name the host connected to; it names these.
    NameMismatch {
        /// The names in the certificate.
        presented: Vec<String>,
    },
    /// The certificate has expired or is not valid yet.
    Expired,
    /// A certificate or key file could not be read or parsed.
    Files(String),
    /// The server's certificate (or one in its chain) is not X.509 v3, so
    /// it cannot be verified.
    OldServerCertificate,
    /// The client certificate in `ssl_cert` is not X.509 v3.
    OldClientCertificate(Box<OldClientCert>),
    /// Anything else the TLS layer reported.
    Other(String),
}

/// A client certificate rustls cannot use, and what to re-issue it from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OldClientCert {
    /// The file (`ssl_cert`).
    pub path: String,
    /// What it is.
    pub cert: CertInfo,
    /// Its key (`ssl_key`).
    pub key: String,
}

/// The TLS failure behind a connection error, if that is what it is.
pub fn failure(e: &mysql_async::Error) -> Option<TlsFailure> {
    match e {
        mysql_async::Error::Driver(DriverError::NoClientSslFlagFromServer) => {
            Some(TlsFailure::NotOffered)
        }
        mysql_async::Error::Io(IoError::Tls(t)) => Some(match t {
            // Before the handshake: the driver loading the client certificate.
            TlsError::Tls(r) if unsupported_version(r) => {
                TlsFailure::Files("the client certificate is not X.509 v3".into())
            }
            TlsError::Tls(r) => from_rustls(r),
            TlsError::Pem(p) => TlsFailure::Files(p.to_string()),
            other => TlsFailure::Other(other.to_string()),
        }),
        mysql_async::Error::Io(IoError::Io(io)) => {
            // The handshake reports through the socket: a rustls error
            // arrives wrapped in an io::Error.
            if let Some(r) = io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                return Some(from_rustls(r));
            }
            // The driver reads certificate files as plain I/O.
            (io.kind() == std::io::ErrorKind::NotFound).then(|| TlsFailure::Files(io.to_string()))
        }
        _ => None,
    }
}

/// Whether rustls refused a certificate for not being X.509 v3.
fn unsupported_version(e: &rustls::Error) -> bool {
    let rustls::Error::InvalidCertificate(CertificateError::Other(other)) = e else {
        return false;
    };
    matches!(
        other.0.downcast_ref::<webpki::Error>(),
        Some(webpki::Error::UnsupportedCertVersion)
    )
}

/// A handshake failure: what rustls said about the server's certificate.
fn from_rustls(e: &rustls::Error) -> TlsFailure {
    if unsupported_version(e) {
        return TlsFailure::OldServerCertificate;
    }
    let rustls::Error::InvalidCertificate(c) = e else {
        return TlsFailure::Other(e.to_string());
    };
    match c {
        CertificateError::UnknownIssuer | CertificateError::BadSignature => TlsFailure::UnknownCa,
        CertificateError::NotValidForName => TlsFailure::NameMismatch {
            presented: Vec::new(),
        },
        CertificateError::NotValidForNameContext { presented, .. } => TlsFailure::NameMismatch {
            presented: presented.clone(),
        },
        CertificateError::Expired
        | CertificateError::ExpiredContext { .. }
        | CertificateError::NotValidYet
        | CertificateError::NotValidYetContext { .. } => TlsFailure::Expired,
        other => TlsFailure::Other(format!("{other:?}")),
    }
}

/// Checks the files `tls` names before a connection reads them, so that a
/// problem is reported as what it is: a file that cannot be read, holds no
/// certificate or key, or a client certificate rustls cannot use (X.509 v1).
pub fn check_files(tls: &Tls) -> Result<(), TlsFailure> {
    if let Some(ca) = &tls.ca {
        // A v1 CA certificate is fine: rustls takes it as a trust anchor.
        certificates("ssl_ca", ca)?;
    }
    if let Some(path) = &tls.cert {
        let chain = certificates("ssl_cert", path)?;
        match cert::describe(&chain[0]) {
            Some(c) if c.usable() => {}
            Some(c) => {
                return Err(TlsFailure::OldClientCertificate(Box::new(OldClientCert {
                    path: path.display().to_string(),
                    cert: c,
                    key: tls
                        .key
                        .as_ref()
                        .map_or("client-key.pem".into(), |k| k.display().to_string()),
                })))
            }
            None => return Err(unreadable("ssl_cert", path, "not an X.509 certificate")),
        }
    }
    if let Some(path) = &tls.key {
        let text = read("ssl_key", path)?;
        PrivateKeyDer::from_pem_slice(&text)
            .map_err(|e| unreadable("ssl_key", path, &format!("no PEM private key in it ({e})")))?;
    }
    Ok(())
}

/// The certificates of a PEM file (or of a DER file holding one), at least one.
fn certificates(setting: &str, path: &Path) -> Result<Vec<Vec<u8>>, TlsFailure> {
    let text = read(setting, path)?;
    let mut out = Vec::new();
    for c in CertificateDer::pem_slice_iter(&text) {
        let c = c.map_err(|e| unreadable(setting, path, &format!("not valid PEM ({e})")))?;
        out.push(c.as_ref().to_vec());
    }
    if out.is_empty() && cert::describe(&text).is_some() {
        // The driver also takes a file of one DER certificate.
        out.push(text);
    }
    if out.is_empty() {
        return Err(unreadable(setting, path, "no certificate in it"));
    }
    Ok(out)
}

fn read(setting: &str, path: &Path) -> Result<Vec<u8>, TlsFailure> {
    std::fs::read(path).map_err(|e| unreadable(setting, path, &e.to_string()))
}

fn unreadable(setting: &str, path: &Path, why: &str) -> TlsFailure {
    TlsFailure::Files(format!("{setting} = {}: {why}", path.display()))
}

/// For `verify_ca`, the options to try again with after `failure`.
///
/// The driver skips only the host name check it recognises by an older
/// rustls error text, so a certificate for another name fails `verify_ca`
/// too. The name check comes after the chain check, so a name mismatch means
/// the chain verified: verifying again against a name the certificate
/// presents keeps the chain check and drops only the name, which is what
/// `verify_ca` means.
pub fn verify_ca_retry(opts: &Opts, failure: &TlsFailure) -> Option<Opts> {
    let TlsFailure::NameMismatch { presented } = failure else {
        return None;
    };
    let name = presented.iter().find_map(|p| presented_name(p))?;
    let ssl = opts
        .ssl_opts()?
        .clone()
        .with_danger_tls_hostname_override(Some(name));
    Some(OptsBuilder::from_opts(opts.clone()).ssl_opts(ssl).into())
}

/// A name to verify against, from rustls' rendering of a certificate name
/// (`DnsName("db.example")`, `IpAddress(10.0.0.5)`); a wildcard gets a label.
fn presented_name(p: &str) -> Option<String> {
    let inner = p
        .strip_prefix("DnsName(\"")
        .and_then(|s| s.strip_suffix("\")"))
        .or_else(|| {
            p.strip_prefix("IpAddress(")
                .and_then(|s| s.strip_suffix(')'))
        })?;
    let name = match inner.strip_prefix("*.") {
        Some(rest) => format!("wfuwp.{rest}"),
        None => inner.to_string(),
    };
    (!name.is_empty() && !name.contains(['(', '"', ' '])).then_some(name)
}

/// What a connection negotiated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Negotiated {
    /// `TLSv1.3` and the like; `None` for a plain connection.
    pub version: Option<String>,
    /// The cipher, when encrypted.
    pub cipher: Option<String>,
}

/// Asks the server what `conn` negotiated.
pub async fn negotiated(conn: &mut Conn) -> mysql_async::Result<Negotiated> {
    let rows: Vec<(String, String)> = conn
        .query("SHOW SESSION STATUS WHERE Variable_name IN ('Ssl_version', 'Ssl_cipher')")
        .await?;
    let get = |name: &str| {
        rows.iter()
            .find(|(n, v)| n.eq_ignore_ascii_case(name) && !v.is_empty())
            .map(|(_, v)| v.clone())
    };
    Ok(Negotiated {
        version: get("Ssl_version"),
        cipher: get("Ssl_cipher"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presented_names_become_names_to_verify() {
        assert_eq!(
            presented_name("DnsName(\"db.example\")").as_deref(),
            Some("db.example")
        );
        assert_eq!(
            presented_name("DnsName(\"*.rds.aws\")").as_deref(),
            Some("wfuwp.rds.aws")
        );
        assert_eq!(
            presented_name("IpAddress(10.0.0.5)").as_deref(),
            Some("10.0.0.5")
        );
        assert_eq!(presented_name("DirectoryName"), None);
        assert_eq!(presented_name("Unsupported(0x01)"), None);
    }

    #[test]
    fn only_disabled_has_no_tls_options() {
        let tls = |mode| Tls {
            mode,
            ..Tls::default()
        };
        let tcp = |t: &Tls| ssl_opts(t, Transport::Tcp);
        assert!(tcp(&tls(SslMode::Disabled)).is_none());
        let preferred = tcp(&tls(SslMode::Preferred)).unwrap();
        assert!(preferred.accept_invalid_certs());
        let ca = Tls {
            mode: SslMode::VerifyCa,
            ca: Some("/ca.pem".into()),
            ..Tls::default()
        };
        let o = tcp(&ca).unwrap();
        assert!(!o.accept_invalid_certs() && o.skip_domain_validation());
        assert!(o.disable_built_in_roots());
        let id = Tls {
            mode: SslMode::VerifyIdentity,
            ..ca
        };
        let o = tcp(&id).unwrap();
        assert!(!o.accept_invalid_certs() && !o.skip_domain_validation());
    }

    #[test]
    fn over_a_socket_only_modes_that_require_tls_use_it() {
        let over_socket = |mode| {
            let tls = Tls {
                mode,
                ..Tls::default()
            };
            ssl_opts(&tls, Transport::Socket).is_some()
        };
        assert!(!over_socket(SslMode::Disabled));
        assert!(!over_socket(SslMode::Preferred));
        assert!(over_socket(SslMode::Required));
        assert!(over_socket(SslMode::VerifyCa));
        assert!(over_socket(SslMode::VerifyIdentity));
    }
}
