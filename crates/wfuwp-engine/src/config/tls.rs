//! TLS settings of an environment, named as MySQL clients name them
//! (docs/tls.md).

use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;

/// How a connection uses TLS (`ssl_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SslMode {
    /// Never TLS.
    Disabled,
    /// TLS when the server offers it (certificate not verified), else plain.
    #[default]
    Preferred,
    /// TLS or no connection; the certificate is not verified.
    Required,
    /// TLS with the server's certificate chain verified against `ssl_ca`;
    /// the host name is not checked.
    VerifyCa,
    /// Like `verify_ca`, and the certificate must name the host connected to.
    VerifyIdentity,
}

impl SslMode {
    /// Whether the connection fails rather than going on in plain text.
    pub fn requires_tls(self) -> bool {
        !matches!(self, SslMode::Disabled | SslMode::Preferred)
    }

    /// Whether the server's certificate chain is verified.
    pub fn verifies(self) -> bool {
        matches!(self, SslMode::VerifyCa | SslMode::VerifyIdentity)
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SslMode::Disabled => "disabled",
            SslMode::Preferred => "preferred",
            SslMode::Required => "required",
            SslMode::VerifyCa => "verify_ca",
            SslMode::VerifyIdentity => "verify_identity",
        })
    }
}

/// The TLS part of `[environments.NAME]`; paths are relative to the config file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tls {
    /// `ssl_mode`.
    pub mode: SslMode,
    /// `ssl_ca`: the CA certificate(s) (PEM) that sign the server's certificate.
    pub ca: Option<PathBuf>,
    /// `ssl_cert`: the client certificate (PEM), for `REQUIRE X509` accounts.
    pub cert: Option<PathBuf>,
    /// `ssl_key`: the client certificate's private key (PEM).
    pub key: Option<PathBuf>,
}

impl Tls {
    /// Why these settings cannot work, as advice for `[environments.{env}]`.
    pub fn problem(&self, env: &str) -> Option<String> {
        if self.mode == SslMode::Disabled && (self.ca.is_some() || self.cert.is_some()) {
            return Some(format!(
                "[environments.{env}] sets ssl_ca/ssl_cert but ssl_mode = \"disabled\"; remove them or choose another ssl_mode"
            ));
        }
        if self.cert.is_some() != self.key.is_some() {
            return Some(format!(
                "[environments.{env}] needs both ssl_cert and ssl_key for a client certificate (one is missing)"
            ));
        }
        if self.mode.verifies() && self.ca.is_none() {
            return Some(format!(
                "[environments.{env}] ssl_mode = \"{}\" needs ssl_ca: the CA certificate (PEM) that signed the server's certificate \
                 (for Amazon RDS, the region's bundle from AWS)",
                self.mode
            ));
        }
        None
    }
}
