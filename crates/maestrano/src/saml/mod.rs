//! SAML 2.0 single sign-on: hardened XML, canonicalization, XML-DSig verification and
//! Response validation.
//!
//! Start with [`ResponseValidator`]: give it the tenant's [`SpSettings`], then call
//! [`ResponseValidator::validate`] with the POSTed `SAMLResponse`, the id of the request the
//! app issued, the time now (`Clock::now`, read once) and the
//! [`SingleUseStore`](crate::ports::SingleUseStore) that records used assertions.
//! The only way to obtain a [`VerifiedAssertion`] is through that validation.

pub(crate) mod authn_request;
pub(crate) mod c14n;
mod cert;
mod crypto;
pub(crate) mod decode;
pub(crate) mod dsig;
mod error;
mod identity;
mod metadata;
mod options;
pub(crate) mod response;
pub(crate) mod sign;
pub(crate) mod xml;

#[cfg(test)]
mod conformance;

pub use authn_request::{
    AuthnContextComparison, AuthnRequest, LoginRedirect, ReceivedRedirect, RequestedAuthnContext,
};
pub use cert::{Certificate, CertificateError, Fingerprint, FingerprintError};
pub use crypto::CryptoBackend;
pub use dsig::MIN_RSA_BITS;
pub use error::SamlError;
pub use identity::{
    AttributeError, IdentityMode, Membership, MnoGroup, MnoReseller, MnoSessionToken, MnoUser,
    SsoLogin, mask_uid, unmask_uid,
};
pub use metadata::SpMetadata;
pub use options::SsoOptions;
pub use response::{
    CheckedResponse, LegacyCrypto, NameId, ResponseValidator, SamlPolicy, SignatureProfile,
    SpSettings, VerifiedAssertion,
};
pub use sign::SigningKey;
pub use xml::XmlLimits;
