//! IdP certificates: parsed once, when a tenant's configuration is loaded.
//!
//! Only the public key and the validity period are used; the certificate's own signature and
//! chain are not checked, because the key is trusted by configuration (pinning), not by PKI.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use rsa::pkcs1::EncodeRsaPublicKey;
use rsa::pkcs8::DecodePublicKey;
use rsa::traits::PublicKeyParts;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use x509_cert::der::{Decode, Encode};

/// Largest certificate accepted, in bytes of DER.
const MAX_CERT_DER: usize = 16 * 1024;

/// A certificate could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertificateError {
    /// The text is neither PEM nor base64 DER.
    #[error("certificate is not PEM or base64: {0}")]
    Encoding(String),
    /// The DER does not decode as an X.509 certificate.
    #[error("certificate is not valid X.509 DER: {0}")]
    Der(String),
    /// The key is not an RSA key.
    #[error("certificate key is not RSA (found algorithm {0})")]
    NotRsa(String),
    /// The RSA key is malformed.
    #[error("certificate RSA key is invalid: {0}")]
    Key(String),
    /// More than one certificate or trailing data.
    #[error("expected exactly one certificate, found {0}")]
    Count(usize),
}

/// A certificate fingerprint: a hash of the DER certificate.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Fingerprint {
    /// SHA-1, 20 bytes (what the developer platform's `x509_fingerprint` holds).
    Sha1([u8; 20]),
    /// SHA-256, 32 bytes.
    Sha256([u8; 32]),
}

/// A fingerprint string could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "fingerprint must be 20 (SHA-1) or 32 (SHA-256) hex bytes, optionally colon-separated: {0}"
)]
pub struct FingerprintError(pub String);

impl Fingerprint {
    /// Reads `01:06:15:...` or `010615...`, in any letter case. The length picks the hash.
    pub fn parse(text: &str) -> Result<Self, FingerprintError> {
        let hex: String = text
            .trim()
            .chars()
            .filter(|c| *c != ':' && *c != ' ')
            .collect();
        if !hex.len().is_multiple_of(2) || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(FingerprintError("not hexadecimal".into()));
        }
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or(0))
            .collect();
        match bytes.len() {
            20 => Ok(Self::Sha1(bytes.try_into().unwrap_or([0; 20]))),
            32 => Ok(Self::Sha256(bytes.try_into().unwrap_or([0; 32]))),
            n => Err(FingerprintError(format!("found {n} bytes"))),
        }
    }

    /// The fingerprint of `der` with the same hash as `self`.
    pub fn of_same_kind(&self, der: &[u8]) -> Fingerprint {
        match self {
            Self::Sha1(_) => Self::Sha1(Sha1::digest(der).into()),
            Self::Sha256(_) => Self::Sha256(Sha256::digest(der).into()),
        }
    }

    /// Whether `der` hashes to this fingerprint (compared in constant time).
    pub fn matches(&self, der: &[u8]) -> bool {
        use subtle::ConstantTimeEq;
        let other = self.of_same_kind(der);
        bool::from(self.as_bytes().ct_eq(other.as_bytes()))
    }

    /// The raw hash bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Sha1(b) => b,
            Self::Sha256(b) => b,
        }
    }
}

impl fmt::Display for Fingerprint {
    /// Lower-case colon-separated hex, the normal form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.as_bytes().iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let alg = match self {
            Self::Sha1(_) => "Sha1",
            Self::Sha256(_) => "Sha256",
        };
        write!(f, "Fingerprint::{alg}({self})")
    }
}

struct Inner {
    der: Vec<u8>,
    /// PKCS#1 `RSAPublicKey` DER, the form every crypto provider accepts.
    #[cfg_attr(not(feature = "aws-lc-rs"), allow(dead_code))]
    rsa_pkcs1_der: Vec<u8>,
    rsa: rsa::PublicKey,
    modulus_bits: usize,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    subject: String,
    sha1: Fingerprint,
}

/// The PKCS#1 DER and the modulus size of an RSA key.
fn rsa_parts(rsa: &rsa::PublicKey) -> Result<(Vec<u8>, usize), CertificateError> {
    let der = rsa
        .to_pkcs1_der()
        .map_err(|e| CertificateError::Key(e.to_string()))?
        .as_bytes()
        .to_vec();
    Ok((der, rsa.n().bit_width_vartime() as usize))
}

/// An X.509 certificate holding an RSA public key, parsed and ready to verify with.
///
/// Cheap to clone.
#[derive(Clone)]
pub struct Certificate(Arc<Inner>);

impl Certificate {
    /// Reads a certificate from PEM (`-----BEGIN CERTIFICATE-----`), tolerating literal `\n`
    /// escape sequences and any white space, or from bare base64 DER.
    pub fn from_pem(text: &str) -> Result<Self, CertificateError> {
        let text = text.replace("\\n", "\n").replace("\\r", "");
        let body = match text.find("-----BEGIN CERTIFICATE-----") {
            Some(start) => {
                let rest = &text[start + "-----BEGIN CERTIFICATE-----".len()..];
                let end = rest.find("-----END CERTIFICATE-----").ok_or_else(|| {
                    CertificateError::Encoding("missing -----END CERTIFICATE-----".into())
                })?;
                let after = &rest[end + "-----END CERTIFICATE-----".len()..];
                if after.contains("-----BEGIN") {
                    return Err(CertificateError::Count(2));
                }
                &rest[..end]
            }
            None if text.contains("-----BEGIN") => {
                return Err(CertificateError::Encoding(
                    "PEM block is not a CERTIFICATE".into(),
                ));
            }
            None => text.as_str(),
        };
        let compact: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        if compact.len() > MAX_CERT_DER * 4 / 3 + 4 {
            return Err(CertificateError::Encoding(format!(
                "longer than {MAX_CERT_DER} bytes"
            )));
        }
        let der = base64::engine::general_purpose::STANDARD
            .decode(compact.as_bytes())
            .map_err(|e| CertificateError::Encoding(e.to_string()))?;
        Self::from_der(&der)
    }

    /// Reads a DER certificate.
    pub fn from_der(der: &[u8]) -> Result<Self, CertificateError> {
        if der.len() > MAX_CERT_DER {
            return Err(CertificateError::Der(format!(
                "longer than {MAX_CERT_DER} bytes"
            )));
        }
        let cert = x509_cert::Certificate::from_der(der)
            .map_err(|e| CertificateError::Der(e.to_string()))?;
        let tbs = cert.tbs_certificate();
        let spki = tbs.subject_public_key_info();
        const RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
        let oid = spki.algorithm.oid.to_string();
        if oid != RSA_ENCRYPTION {
            return Err(CertificateError::NotRsa(oid));
        }
        let spki_der = spki
            .to_der()
            .map_err(|e| CertificateError::Der(e.to_string()))?;
        let rsa = rsa::PublicKey::from_public_key_der(&spki_der)
            .map_err(|e| CertificateError::Key(e.to_string()))?;
        let (rsa_pkcs1_der, modulus_bits) = rsa_parts(&rsa)?;
        let validity = tbs.validity();
        let to_odt = |t: &x509_cert::time::Time| {
            let secs = t.to_unix_duration().as_secs();
            OffsetDateTime::from_unix_timestamp(secs as i64)
                .map_err(|e| CertificateError::Der(e.to_string()))
        };
        let not_before = to_odt(&validity.not_before)?;
        let not_after = to_odt(&validity.not_after)?;
        Ok(Self(Arc::new(Inner {
            sha1: Fingerprint::Sha1(Sha1::digest(der).into()),
            der: der.to_vec(),
            rsa_pkcs1_der,
            rsa,
            modulus_bits,
            not_before,
            not_after,
            subject: tbs.subject().to_string(),
        })))
    }

    /// Pins a bare RSA public key (`-----BEGIN RSA PUBLIC KEY-----`, PKCS#1, or
    /// `-----BEGIN PUBLIC KEY-----`, SubjectPublicKeyInfo) for an IdP that publishes no
    /// certificate. No validity period applies to it; [`der`](Self::der) returns the key's
    /// DER.
    pub fn from_public_key_pem(text: &str) -> Result<Self, CertificateError> {
        use rsa::pkcs1::DecodeRsaPublicKey;
        let text = text.replace("\\n", "\n");
        let rsa = if text.contains("-----BEGIN RSA PUBLIC KEY-----") {
            rsa::PublicKey::from_pkcs1_pem(text.trim())
                .map_err(|e| CertificateError::Key(e.to_string()))?
        } else if text.contains("-----BEGIN PUBLIC KEY-----") {
            rsa::PublicKey::from_public_key_pem(text.trim())
                .map_err(|e| CertificateError::Key(e.to_string()))?
        } else {
            return Err(CertificateError::Encoding(
                "expected an RSA PUBLIC KEY or PUBLIC KEY PEM block".into(),
            ));
        };
        let (rsa_pkcs1_der, modulus_bits) = rsa_parts(&rsa)?;
        Ok(Self(Arc::new(Inner {
            sha1: Fingerprint::Sha1(Sha1::digest(&rsa_pkcs1_der).into()),
            der: rsa_pkcs1_der.clone(),
            rsa_pkcs1_der,
            rsa,
            modulus_bits,
            not_before: OffsetDateTime::UNIX_EPOCH,
            not_after: time::macros::datetime!(9999-12-31 23:59:59 UTC),
            subject: "(bare RSA public key)".into(),
        })))
    }

    /// The DER encoding.
    pub fn der(&self) -> &[u8] {
        &self.0.der
    }

    /// The certificate as PEM, 64 columns.
    pub fn to_pem(&self) -> String {
        let b64 = base64::engine::general_purpose::STANDARD.encode(&self.0.der);
        let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
        for chunk in b64.as_bytes().chunks(64) {
            out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
            out.push('\n');
        }
        out.push_str("-----END CERTIFICATE-----\n");
        out
    }

    /// The SHA-1 fingerprint.
    pub fn sha1_fingerprint(&self) -> &Fingerprint {
        &self.0.sha1
    }

    /// The size of the RSA modulus in bits.
    pub fn key_bits(&self) -> usize {
        self.0.modulus_bits
    }

    /// Start of the validity period.
    pub fn not_before(&self) -> OffsetDateTime {
        self.0.not_before
    }

    /// End of the validity period.
    pub fn not_after(&self) -> OffsetDateTime {
        self.0.not_after
    }

    /// The subject name, RFC 4514 style.
    pub fn subject(&self) -> &str {
        &self.0.subject
    }

    pub(crate) fn rsa_public_key(&self) -> &rsa::PublicKey {
        &self.0.rsa
    }

    #[cfg_attr(not(feature = "aws-lc-rs"), allow(dead_code))]
    pub(crate) fn rsa_pkcs1_der(&self) -> &[u8] {
        &self.0.rsa_pkcs1_der
    }
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("subject", &self.0.subject)
            .field("sha1", &self.0.sha1)
            .field("key_bits", &self.0.modulus_bits)
            .field("not_after", &self.0.not_after)
            .finish()
    }
}

impl PartialEq for Certificate {
    fn eq(&self, other: &Self) -> bool {
        self.0.der == other.0.der
    }
}

impl Eq for Certificate {}

#[cfg(test)]
mod tests {
    use super::*;

    const SANDBOX_PEM: &str =
        include_str!("../../tests/data/maestrano/mno-api-sandbox/idp-certs/rsacert.pem");

    #[test]
    fn sandbox_certificate_parses_with_its_published_fingerprint() {
        let cert = Certificate::from_pem(SANDBOX_PEM).unwrap();
        assert_eq!(cert.key_bits(), 1024);
        let published =
            include_str!("../../tests/data/maestrano/mno-api-sandbox/idp-certs/cert_fingerprint");
        assert_eq!(
            &Fingerprint::parse(published).unwrap(),
            cert.sha1_fingerprint()
        );
        assert_eq!(
            cert.sha1_fingerprint().to_string(),
            "01:06:15:89:25:7d:78:12:28:a6:69:c7:de:63:ed:74:21:f9:f5:36"
        );
        assert_eq!(cert.not_after().year(), 2033);
        assert!(cert.subject().contains("maestrano.com"));
        let again = Certificate::from_pem(&cert.to_pem()).unwrap();
        assert_eq!(again, cert);
    }

    #[test]
    fn escaped_newlines_and_bare_base64_are_accepted() {
        let escaped = SANDBOX_PEM.replace('\n', "\\n");
        assert!(Certificate::from_pem(&escaped).is_ok());
        let bare: String = SANDBOX_PEM
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        assert!(Certificate::from_pem(&bare).is_ok());
    }

    #[test]
    fn broken_certificates_are_typed_errors() {
        assert!(matches!(
            Certificate::from_pem(
                "-----BEGIN CERTIFICATE-----MIIDezCCQ....Q32v8p5lA==-----END CERTIFICATE-----"
            ),
            Err(CertificateError::Encoding(_))
        ));
        assert!(matches!(
            Certificate::from_pem(
                "-----BEGIN CERTIFICATE-----\nNIIDezCC\n-----END CERTIFICATE-----"
            ),
            Err(CertificateError::Der(_))
        ));
        assert!(matches!(
            Certificate::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"),
            Err(CertificateError::Encoding(_))
        ));
        assert!(matches!(
            Certificate::from_pem(&format!("{SANDBOX_PEM}{SANDBOX_PEM}")),
            Err(CertificateError::Count(2))
        ));
    }

    #[test]
    fn fingerprints_normalise_case_and_colons() {
        let a = Fingerprint::parse("01:06:15:89:25:7D:78:12:28:A6:69:C7:DE:63:ED:74:21:F9:F5:36")
            .unwrap();
        let b = Fingerprint::parse("01061589257d781228a669c7de63ed7421f9f536\n").unwrap();
        assert_eq!(a, b);
        assert!(Fingerprint::parse("01:06").is_err());
        assert!(Fingerprint::parse("zz").is_err());
        let cert = Certificate::from_pem(SANDBOX_PEM).unwrap();
        assert!(a.matches(cert.der()));
    }
}
