//! SAML 2.0 single sign-on: hardened XML, canonicalization, XML-DSig verification and
//! Response validation.
//!
//! Start with [`ResponseValidator`]: give it the tenant's [`SpSettings`], then call
//! [`ResponseValidator::validate`] with the POSTed `SAMLResponse`, the id of the request the
//! app issued, a [`Clock`](crate::ports::Clock) and a [`ReplayCache`](crate::ports::ReplayCache).
//! The only way to obtain a [`VerifiedAssertion`] is through that validation.

pub mod authn_request;
pub mod c14n;
pub mod cert;
mod crypto;
pub mod decode;
mod dsig;
mod error;
pub mod flow;
pub mod identity;
pub mod metadata;
mod options;
mod response;
pub mod session;
pub mod sign;
pub(crate) mod xml;

#[cfg(test)]
mod conformance;

pub use authn_request::{
    AuthnContextComparison, AuthnRequest, LoginRedirect, ReceivedRedirect, RequestedAuthnContext,
    new_request_id,
};
pub use cert::{Certificate, CertificateError, Fingerprint, FingerprintError};
pub use crypto::CryptoBackend;
pub use dsig::{DSIG_NS, MIN_RSA_BITS};
pub use error::SamlError;
pub use flow::{CompletedLogin, LoginHandler, SsoFlow, SsoFlowError};
pub use identity::{
    AttributeError, IdentityMode, Membership, MnoGroup, MnoReseller, MnoSessionToken, MnoUser,
    SsoLogin, mask_uid, unmask_uid,
};
pub use metadata::SpMetadata;
pub use options::SsoOptions;
pub use response::{
    ASSERTION_NS, CheckedResponse, NameId, PROTOCOL_NS, ResponseValidator, SamlPolicy, SpSettings,
    VerifiedAssertion,
};
pub use session::{SessionError, SessionStatus, SsoSession};
pub use sign::{SigningKey, sign_enveloped};
pub use xml::XmlLimits;
