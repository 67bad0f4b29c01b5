//! What a certificate file holds, read far enough to tell an operator which
//! certificate it is and whether the TLS library can use it: rustls parses
//! only X.509 v3 certificates (except as trust anchors), while older guides
//! and MariaDB's own generated certificates are often v1 (docs/tls.md).
//!
//! A few lines of DER reading rather than a certificate parser: the TLS
//! library's own parser is the one that refuses these certificates.

use std::fmt;

/// The parts of a certificate that identify it in a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// The X.509 version: 1, 2 or 3.
    pub version: u64,
    /// The subject's common name, when it has one.
    pub subject: Option<String>,
    /// The issuer's common name, when it has one.
    pub issuer: Option<String>,
}

impl CertInfo {
    /// Whether rustls can use it other than as a trust anchor.
    pub fn usable(&self) -> bool {
        self.version == 3
    }
}

impl fmt::Display for CertInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an X.509 v{} certificate", self.version)?;
        match &self.subject {
            Some(cn) => write!(f, " for CN={cn}")?,
            None => f.write_str(" without a common name")?,
        }
        match (&self.issuer, &self.subject) {
            (Some(i), Some(s)) if i == s => f.write_str(", self-signed"),
            (Some(i), _) => write!(f, ", issued by CN={i}"),
            (None, _) => Ok(()),
        }
    }
}

const INTEGER: u8 = 0x02;
const OID: u8 = 0x06;
const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
/// `[0] EXPLICIT Version`, absent in a v1 certificate.
const VERSION: u8 = 0xa0;
/// id-at-commonName (2.5.4.3).
const COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];

/// Reads a DER certificate; `None` when it is not one.
pub fn describe(der: &[u8]) -> Option<CertInfo> {
    let (certificate, _) = expect(der, SEQUENCE)?;
    let (tbs, _) = expect(certificate, SEQUENCE)?;
    let (version, rest) = match tbs.first() {
        Some(&VERSION) => {
            let (explicit, rest) = expect(tbs, VERSION)?;
            let (v, _) = expect(explicit, INTEGER)?;
            // v1 = 0, v2 = 1, v3 = 2: one byte in any real certificate.
            let [v] = v else { return None };
            (u64::from(*v) + 1, rest)
        }
        _ => (1, tbs),
    };
    let (_serial, rest) = expect(rest, INTEGER)?;
    let (_signature, rest) = expect(rest, SEQUENCE)?;
    let (issuer, rest) = expect(rest, SEQUENCE)?;
    let (_validity, rest) = expect(rest, SEQUENCE)?;
    let (subject, _) = expect(rest, SEQUENCE)?;
    Some(CertInfo {
        version,
        subject: common_name(subject),
        issuer: common_name(issuer),
    })
}

/// The first common name in a `Name` (a sequence of sets of attributes).
fn common_name(mut name: &[u8]) -> Option<String> {
    while let Some((set, rest)) = expect(name, SET) {
        let mut attributes = set;
        while let Some((attribute, more)) = expect(attributes, SEQUENCE) {
            if let Some((oid, value)) = expect(attribute, OID) {
                if oid == COMMON_NAME {
                    let (_, text, _) = element(value)?;
                    return Some(String::from_utf8_lossy(text).into_owned());
                }
            }
            attributes = more;
        }
        name = rest;
    }
    None
}

/// The next element of `input`: its tag, its contents and what follows it.
fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = match first {
        0..=0x7f => (usize::from(first), rest),
        0x81..=0x84 => {
            let n = usize::from(first & 0x7f);
            let bytes = rest.get(..n)?;
            let len = bytes.iter().fold(0usize, |l, &b| (l << 8) | usize::from(b));
            (len, &rest[n..])
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A DER element with a short or long length, built by hand.
    fn tlv(tag: u8, contents: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        match contents.len() {
            n @ 0..=0x7f => out.push(n as u8),
            n @ 0x80..=0xff => out.extend([0x81, n as u8]),
            n => out.extend([0x82, (n >> 8) as u8, n as u8]),
        }
        out.extend_from_slice(contents);
        out
    }

    fn name(cn: &str) -> Vec<u8> {
        // O=Example, then CN=cn: the common name need not come first.
        let org = tlv(
            SET,
            &tlv(
                SEQUENCE,
                &[tlv(OID, &[0x55, 0x04, 0x0a]), tlv(0x0c, b"Example")].concat(),
            ),
        );
        let common = tlv(
            SET,
            &tlv(
                SEQUENCE,
                &[tlv(OID, COMMON_NAME), tlv(0x13, cn.as_bytes())].concat(),
            ),
        );
        tlv(SEQUENCE, &[org, common].concat())
    }

    fn certificate(version: Option<u8>, subject: &str, issuer: &str) -> Vec<u8> {
        let mut tbs = Vec::new();
        if let Some(v) = version {
            tbs.extend(tlv(VERSION, &tlv(INTEGER, &[v])));
        }
        tbs.extend(tlv(INTEGER, &[0x01, 0x02]));
        tbs.extend(tlv(SEQUENCE, &tlv(OID, &[0x2a, 0x86, 0x48])));
        tbs.extend(name(issuer));
        tbs.extend(tlv(SEQUENCE, &[0u8; 30]));
        tbs.extend(name(subject));
        // A key long enough for a two-byte length.
        tbs.extend(tlv(SEQUENCE, &[0u8; 300]));
        let signed = [
            tlv(SEQUENCE, &tbs),
            tlv(SEQUENCE, &[]),
            tlv(0x03, &[0, 1, 2]),
        ]
        .concat();
        tlv(SEQUENCE, &signed)
    }

    #[test]
    fn versions_and_names_are_read() {
        let v1 = describe(&certificate(None, "db.example", "Example CA")).unwrap();
        assert_eq!(
            v1,
            CertInfo {
                version: 1,
                subject: Some("db.example".into()),
                issuer: Some("Example CA".into()),
            }
        );
        assert!(!v1.usable());
        assert_eq!(
            v1.to_string(),
            "an X.509 v1 certificate for CN=db.example, issued by CN=Example CA"
        );
        let v3 = describe(&certificate(Some(2), "client", "client")).unwrap();
        assert_eq!(v3.version, 3);
        assert!(v3.usable());
        assert_eq!(
            v3.to_string(),
            "an X.509 v3 certificate for CN=client, self-signed"
        );
    }

    #[test]
    fn what_is_not_a_certificate_is_said_to_be_none() {
        let good = certificate(None, "a", "b");
        assert_eq!(describe(b""), None);
        assert_eq!(describe(b"-----BEGIN CERTIFICATE-----"), None);
        assert_eq!(describe(&good[..good.len() - 1]), None);
        assert_eq!(describe(&tlv(SEQUENCE, &tlv(INTEGER, &[1]))), None);
    }
}
