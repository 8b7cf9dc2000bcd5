//! SAML 2.0 single sign-on: hardened XML, canonicalization, XML-DSig verification and
//! Response validation.
//!
//! Start with [`ResponseValidator`]: give it the tenant's [`SpSettings`], then call
//! [`ResponseValidator::validate`] with the POSTed `SAMLResponse`, the id of the request the
//! app issued, a [`Clock`](crate::ports::Clock) and a [`ReplayCache`](crate::ports::ReplayCache).
//! The only way to obtain a [`VerifiedAssertion`] is through that validation.

pub mod c14n;
pub mod cert;
mod crypto;
pub mod decode;
mod dsig;
mod error;
mod response;
pub mod sign;
pub(crate) mod xml;

#[cfg(test)]
mod conformance;

pub use cert::{Certificate, CertificateError, Fingerprint, FingerprintError};
pub use crypto::CryptoBackend;
pub use dsig::{DSIG_NS, MIN_RSA_BITS};
pub use error::SamlError;
pub use response::{
    ASSERTION_NS, CheckedResponse, NameId, PROTOCOL_NS, ResponseValidator, SamlPolicy, SpSettings,
    VerifiedAssertion,
};
pub use sign::{SigningKey, sign_enveloped};
pub use xml::XmlLimits;
