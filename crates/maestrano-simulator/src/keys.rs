//! The IdP key pair of each simulated marketplace: an RSA-2048 key generated at start and a
//! self-signed certificate for it, valid from the start time on the simulator's clock.

use std::str::FromStr as _;

use rsa::pkcs1v15;
use rsa::sha2::Sha256;
use time::OffsetDateTime;
use x509_cert::builder::{Builder as _, CertificateBuilder, profile};
use x509_cert::der::Encode as _;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::SubjectPublicKeyInfoOwned;
use x509_cert::time::{Time, Validity};

use super::error::SimulatorError;
use maestrano::saml::{Certificate, SigningKey};

/// The modulus size of the generated IdP keys in the modern mode: the smallest the SDK's strict
/// signature profile accepts.
pub const IDP_KEY_BITS: usize = 2048;

/// The modulus size of the generated IdP keys in the platform mode: the Maestrano IdPs sign
/// with RSA-1024 (the sandbox pair in mno-api-sandbox `vendor/idp-certs`).
pub const PLATFORM_IDP_KEY_BITS: usize = 1024;

/// The public sandbox IdP key pair (TEST ONLY; `data/mno-api-sandbox/README.md`).
const SANDBOX_KEY: &str = include_str!("../data/mno-api-sandbox/rsaprivkey.pem");
const SANDBOX_CERT: &str = include_str!("../data/mno-api-sandbox/rsacert.pem");

/// How long a generated certificate is valid, from the simulator's start.
const VALIDITY_DAYS: i64 = 365;

/// A generated key pair and its certificate.
pub(crate) struct IdpKeys {
    pub(crate) key: SigningKey,
    pub(crate) certificate: Certificate,
    /// The same key, for the platform mode's own RSA-SHA1 signer.
    pub(crate) private: rsa::PrivateKey,
}

/// The public sandbox key pair.
pub(crate) fn sandbox() -> Result<IdpKeys, SimulatorError> {
    use rsa::pkcs1::DecodeRsaPrivateKey as _;
    let private =
        rsa::PrivateKey::from_pkcs1_pem(SANDBOX_KEY).map_err(|e| key_error("sandbox key", e))?;
    Ok(IdpKeys {
        key: SigningKey::from_rsa(private.clone()),
        certificate: Certificate::from_pem(SANDBOX_CERT)
            .map_err(|e| key_error("sandbox certificate", e))?,
        private,
    })
}

fn key_error(what: &str, e: impl std::fmt::Display) -> SimulatorError {
    SimulatorError::Keys(format!("{what}: {e}"))
}

fn x509_time(at: OffsetDateTime) -> Result<Time, SimulatorError> {
    let secs = u64::try_from(at.unix_timestamp())
        .map_err(|_| SimulatorError::Keys("the clock reads a time before 1970".into()))?;
    let duration = std::time::Duration::from_secs(secs);
    // UTCTime up to 2049, GeneralizedTime after, as RFC 5280 requires.
    if at.year() < 2050 {
        x509_cert::der::asn1::UtcTime::from_unix_duration(duration)
            .map(Time::from)
            .map_err(|e| key_error("certificate time", e))
    } else {
        x509_cert::der::asn1::GeneralizedTime::from_unix_duration(duration)
            .map(Time::from)
            .map_err(|e| key_error("certificate time", e))
    }
}

/// Generates an RSA key of `bits` from the operating system's generator and a self-signed
/// certificate (CN = `common_name`) valid from one hour before `now` for a year.
pub(crate) fn generate(
    common_name: &str,
    now: OffsetDateTime,
    bits: usize,
) -> Result<IdpKeys, SimulatorError> {
    let mut rng = getrandom::SysRng;
    let private =
        rsa::PrivateKey::new(&mut rng, bits).map_err(|e| key_error("RSA key generation", e))?;
    let signer = pkcs1v15::SigningKey::<Sha256>::new(private.clone());

    // Only characters a distinguished name takes without escaping.
    let cn: String = common_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let subject = Name::from_str(&format!("CN={cn},O=Maestrano Simulator,C=AU"))
        .map_err(|e| key_error("certificate subject", e))?;
    let profile = profile::cabf::Root::new(false, subject)
        .map_err(|e| key_error("certificate profile", e))?;
    let mut serial = [0u8; 16];
    getrandom::fill(&mut serial).map_err(|e| key_error("certificate serial", e))?;
    serial[0] &= 0x7f; // positive
    serial[0] |= 0x01; // and without a leading zero byte
    let serial = SerialNumber::new(&serial).map_err(|e| key_error("certificate serial", e))?;
    let validity = Validity::new(
        x509_time(now - time::Duration::hours(1))?,
        x509_time(now + time::Duration::days(VALIDITY_DAYS))?,
    );
    let spki = SubjectPublicKeyInfoOwned::from_key(&private.to_public_key())
        .map_err(|e| key_error("public key encoding", e))?;
    let builder = CertificateBuilder::new(profile, serial, validity, spki)
        .map_err(|e| key_error("certificate", e))?;
    let cert = builder
        .build::<_, pkcs1v15::Signature>(&signer)
        .map_err(|e| key_error("certificate signature", e))?;
    let der = cert
        .to_der()
        .map_err(|e| key_error("certificate encoding", e))?;
    let certificate = Certificate::from_der(&der).map_err(|e| key_error("certificate", e))?;
    Ok(IdpKeys {
        key: SigningKey::from_rsa(private.clone()),
        certificate,
        private,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_certificate_holds_the_key_and_the_clock_validity() {
        let now = time::macros::datetime!(2030-05-01 10:00 UTC);
        let keys = generate("mno sim/1", now, IDP_KEY_BITS).unwrap();
        assert_eq!(keys.key.bits(), IDP_KEY_BITS);
        assert_eq!(keys.certificate.key_bits(), IDP_KEY_BITS);
        assert!(keys.certificate.not_before() <= now);
        assert!(keys.certificate.not_after() > now + time::Duration::days(300));
        assert!(
            keys.certificate.subject().contains("mno-sim-1"),
            "{}",
            keys.certificate.subject()
        );
    }
}
