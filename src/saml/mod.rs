//! SAML 2.0 single sign-on: hardened XML, canonicalization, XML-DSig verification and
//! Response validation.

pub mod cert;

pub use cert::{Certificate, CertificateError, Fingerprint, FingerprintError};
