//! SAML 2.0 single sign-on: hardened XML, canonicalization, XML-DSig verification and
//! Response validation.

pub mod c14n;
pub mod cert;
pub(crate) mod xml;

pub use cert::{Certificate, CertificateError, Fingerprint, FingerprintError};
