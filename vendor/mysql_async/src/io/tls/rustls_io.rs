use std::sync::Arc;

use rustls::{
    client::{
        danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
        WebPkiServerVerifier,
    },
    crypto::WebPkiSupportedAlgorithms,
    pki_types::{pem, CertificateDer, ServerName},
    CertificateError, ClientConfig, DigitallySignedStruct, PeerMisbehaved, RootCertStore,
};

pub(crate) use tokio_rustls::TlsConnector;

use crate::{io::Endpoint, Result, SslOpts, TlsError};

impl SslOpts {
    async fn load_root_certs(&self) -> crate::Result<Vec<CertificateDer<'static>>> {
        let mut output = Vec::new();

        for root_cert in self.root_certs() {
            let root_cert_data = root_cert.read().await?;
            let mut seen = false;
            for cert in pem::SliceIter::<CertificateDer<'_>>::new(&root_cert_data) {
                seen = true;
                output.push(cert?);
            }

            if !seen && !root_cert_data.is_empty() {
                output.push(CertificateDer::from(root_cert_data.into_owned()));
            }
        }

        Ok(output)
    }

    pub(crate) async fn build_tls_connector(&self) -> Result<TlsConnector> {
        let mut root_store = RootCertStore::empty();
        if !self.disable_built_in_roots() {
            root_store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().map(|x| x.to_owned()));
        }

        for cert in self.load_root_certs().await? {
            root_store.add(cert)?;
        }

        let config_builder = ClientConfig::builder().with_root_certificates(root_store.clone());

        let mut config = if let Some(identity) = self.client_identity() {
            let (cert_chain, priv_key) = identity.load().await?;
            config_builder.with_client_auth_cert(cert_chain, priv_key)?
        } else {
            config_builder.with_no_client_auth()
        };

        // PATCH(wfuwp): the algorithms the unverified certificate's key is checked with.
        let algorithms = config.crypto_provider().signature_verification_algorithms;
        let mut dangerous = config.dangerous();
        let web_pki_verifier = WebPkiServerVerifier::builder(Arc::new(root_store))
            .build()
            .map_err(TlsError::from)?;
        let dangerous_verifier = DangerousVerifier::new(
            self.accept_invalid_certs(),
            self.skip_domain_validation(),
            web_pki_verifier,
            algorithms,
        );
        dangerous.set_certificate_verifier(Arc::new(dangerous_verifier));
        let client_config = Arc::new(config);
        Ok(TlsConnector::from(client_config))
    }
}

impl Endpoint {
    pub async fn make_secure(
        &mut self,
        domain: String,
        tls_connector: &TlsConnector,
    ) -> Result<()> {
        let server_name = ServerName::try_from(domain.as_str())
            .map_err(TlsError::InvalidDnsName)?
            .to_owned();
        *self = match self {
            Endpoint::Plain(ref mut stream) => {
                let stream = stream.take().unwrap();
                let connection = tls_connector.connect(server_name, stream).await?;

                Endpoint::Secure(connection)
            }
            // PATCH(wfuwp): TLS over a Unix socket when TLS is asked for, as
            // MySQL clients do with --ssl-mode=REQUIRED (the original went on
            // in plain text after sending the server its SSL request, so the
            // server waited for a handshake: "Packets out of sync").
            #[cfg(unix)]
            Endpoint::Socket(_) => {
                let Endpoint::Socket(socket) = std::mem::replace(self, Endpoint::Plain(None))
                else {
                    unreachable!()
                };
                let connection = tls_connector.connect(server_name, socket).await?;

                Endpoint::SecureSocket(connection)
            }
            Endpoint::Secure(_) => unreachable!(),
            #[cfg(unix)]
            Endpoint::SecureSocket(_) => unreachable!(),
        };

        Ok(())
    }
}

#[derive(Debug)]
struct DangerousVerifier {
    accept_invalid_certs: bool,
    skip_domain_validation: bool,
    verifier: Arc<WebPkiServerVerifier>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl DangerousVerifier {
    fn new(
        accept_invalid_certs: bool,
        skip_domain_validation: bool,
        verifier: Arc<WebPkiServerVerifier>,
        algorithms: WebPkiSupportedAlgorithms,
    ) -> Self {
        Self {
            accept_invalid_certs,
            skip_domain_validation,
            verifier,
            algorithms,
        }
    }
}

impl ServerCertVerifier for DangerousVerifier {
    // fn verify_server_cert(
    //     &self,
    //     end_entity: &Certificate,
    //     intermediates: &[Certificate],
    //     server_name: &rustls::ServerName,
    //     scts: &mut dyn Iterator<Item = &[u8]>,
    //     ocsp_response: &[u8],
    //     now: std::time::SystemTime,
    // ) -> std::result::Result<rustls::client::ServerCertVerified, rustls::Error> {
    //     if self.accept_invalid_certs {
    //         Ok(rustls::client::ServerCertVerified::assertion())
    //     } else {
    //         match self.verifier.verify_server_cert(
    //             end_entity,
    //             intermediates,
    //             server_name,
    //             scts,
    //             ocsp_response,
    //             now,
    //         ) {
    //             Ok(assertion) => Ok(assertion),
    //             Err(ref e)
    //                 if e.to_string().contains("NotValidForName") && self.skip_domain_validation =>
    //             {
    //                 Ok(rustls::client::ServerCertVerified::assertion())
    //             }
    //             Err(e) => Err(e),
    //         }
    //     }
    // }
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &rustls::pki_types::ServerName<'_>,
        ocsp_response: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> std::prelude::v1::Result<ServerCertVerified, rustls::Error> {
        if self.accept_invalid_certs {
            Ok(ServerCertVerified::assertion())
        } else {
            match self.verifier.verify_server_cert(
                end_entity,
                intermediates,
                server_name,
                ocsp_response,
                now,
            ) {
                Ok(assertion) => Ok(assertion),
                Err(ref e)
                    if e.to_string().contains("NotValidForName") && self.skip_domain_validation =>
                {
                    Ok(ServerCertVerified::assertion())
                }
                Err(e) => Err(e),
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::prelude::v1::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error>
    {
        if self.accept_invalid_certs {
            return verify_with_unverified_key(message, cert, dss, &self.algorithms, false);
        }
        self.verifier.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::prelude::v1::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error>
    {
        if self.accept_invalid_certs {
            return verify_with_unverified_key(message, cert, dss, &self.algorithms, true);
        }
        self.verifier.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.verifier.supported_verify_schemes()
    }
}

/// PATCH(wfuwp): checks a handshake signature with the public key of a
/// certificate that is accepted without verification.
///
/// The original handed this to webpki, whose certificate parser accepts
/// X.509 v3 only, so a server with a v1 certificate (MariaDB >= 11.4 makes
/// one when none is configured; common guides make them too) could not be
/// reached even though its certificate is not verified. The key is read
/// from the certificate's SubjectPublicKeyInfo, which every version has.
fn verify_with_unverified_key(
    message: &[u8],
    cert: &CertificateDer<'_>,
    dss: &DigitallySignedStruct,
    algorithms: &WebPkiSupportedAlgorithms,
    tls13: bool,
) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
    let unadvertised = || PeerMisbehaved::SignedHandshakeWithUnadvertisedSigScheme.into();
    if tls13 && !allowed_in_tls13(dss.scheme) {
        return Err(unadvertised());
    }
    let (key_algorithm, key) = der::subject_public_key(cert.as_ref())
        .ok_or(rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
    let candidates = algorithms
        .mapping
        .iter()
        .find(|(scheme, _)| *scheme == dss.scheme)
        .map(|(_, algs)| *algs)
        .ok_or_else(unadvertised)?;
    let verified = candidates
        .iter()
        .filter(|alg| alg.public_key_alg_id().as_ref() == key_algorithm)
        .any(|alg| alg.verify_signature(key, message, dss.signature()).is_ok());
    match verified {
        true => Ok(HandshakeSignatureValid::assertion()),
        false => Err(rustls::Error::InvalidCertificate(
            CertificateError::BadSignature,
        )),
    }
}

/// PATCH(wfuwp): the schemes RFC 8446 (4.2.3) allows for TLS 1.3 handshake
/// signatures (rustls keeps its own check private).
fn allowed_in_tls13(scheme: rustls::SignatureScheme) -> bool {
    use rustls::SignatureScheme as S;
    matches!(
        scheme,
        S::ECDSA_NISTP256_SHA256
            | S::ECDSA_NISTP384_SHA384
            | S::ECDSA_NISTP521_SHA512
            | S::RSA_PSS_SHA256
            | S::RSA_PSS_SHA384
            | S::RSA_PSS_SHA512
            | S::ED25519
            | S::ED448
    )
}

/// PATCH(wfuwp): just enough DER to find a certificate's public key.
mod der {
    const INTEGER: u8 = 0x02;
    const BIT_STRING: u8 = 0x03;
    const SEQUENCE: u8 = 0x30;
    /// `[0] EXPLICIT Version`, absent in an X.509 v1 certificate.
    const VERSION: u8 = 0xa0;

    /// The next element of `input`: its tag, its contents and what follows it.
    fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let (&tag, rest) = input.split_first()?;
        let (&first, rest) = rest.split_first()?;
        let (len, rest) = match first {
            0..=0x7f => (first as usize, rest),
            0x81..=0x84 => {
                let n = (first & 0x7f) as usize;
                let (bytes, rest) = (rest.get(..n)?, &rest[n..]);
                (bytes.iter().fold(0usize, |l, &b| (l << 8) | b as usize), rest)
            }
            _ => return None,
        };
        Some((tag, rest.get(..len)?, &rest[len..]))
    }

    /// The contents of the next element of `input` if it has `tag`, and what follows it.
    fn expect(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
        let (t, contents, rest) = element(input)?;
        (t == tag).then_some((contents, rest))
    }

    /// The contents of the AlgorithmIdentifier of a certificate's
    /// SubjectPublicKeyInfo, and its key: what a signature is checked with.
    pub(super) fn subject_public_key(certificate: &[u8]) -> Option<(&[u8], &[u8])> {
        let (certificate, _) = expect(certificate, SEQUENCE)?;
        let (tbs, _) = expect(certificate, SEQUENCE)?;
        let mut rest = match tbs.first() {
            Some(&VERSION) => element(tbs)?.2,
            _ => tbs,
        };
        // serialNumber, signature, issuer, validity, subject
        for tag in [INTEGER, SEQUENCE, SEQUENCE, SEQUENCE, SEQUENCE] {
            rest = expect(rest, tag)?.1;
        }
        let (spki, _) = expect(rest, SEQUENCE)?;
        let (algorithm, rest) = expect(spki, SEQUENCE)?;
        let (bits, _) = expect(rest, BIT_STRING)?;
        let (&unused_bits, key) = bits.split_first()?;
        (unused_bits == 0).then_some((algorithm, key))
    }
}
