//! SAML 2.0 single sign-on: hardened XML, canonicalization, XML-DSig verification and
//! Response validation.
//!
//! **An app logs users in with [`crate::sso::SsoFlow`]** (or `maestrano-axum`, which mounts
//! it): `initiate` builds the tenant's [`AuthnRequest`] and its redirect, `consume` validates
//! the POSTed response with the tenant's settings, spends the request and the assertion once
//! across instances, and maps the attributes to a typed [`SsoLogin`]. This module is what it
//! is built on.
//!
//! [`ResponseValidator`] is the low-level piece: give it the tenant's [`SpSettings`]
//! ([`crate::sso::sp_settings`]), then call [`ResponseValidator::validate`] with the POSTed
//! `SAMLResponse`, the id of the request the app issued, the time now (`Clock::now`, read
//! once) and the [`SingleUseStore`](crate::ports::SingleUseStore) that records used
//! assertions. The only way to obtain a [`VerifiedAssertion`] is through that validation, and
//! every refusal is a [`SamlError`] naming what was expected and found (a signature mismatch
//! is one opaque [`SamlError::SignatureInvalid`]).
//!
//! ```
//! use std::sync::Arc;
//!
//! use maestrano::config::StaticSource;
//! use maestrano::ports::SystemClock;
//! use maestrano::saml::SamlError;
//! use maestrano::{MarketplaceKey, Registry};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), maestrano::Error> {
//! let source = StaticSource::from_json(r#"{"marketplaces": [{
//!     "marketplace": "acme-corp",
//!     "app": {"host": "https://app.example.com"},
//!     "api": {"id": "app-1a2b", "key": "s3cret", "host": "https://hub.acme.example"},
//!     "sso": {"idp": "https://hub.acme.example",
//!             "x509_fingerprint": "01:06:15:89:25:7d:78:12:28:a6:69:c7:de:63:ed:74:21:f9:f5:36"}
//! }]}"#)?;
//! let registry = Registry::builder(Arc::new(source), Arc::new(SystemClock)).build().await?;
//! let tenant = registry.with(&MarketplaceKey::new("acme-corp")?)?;
//! let validator = maestrano::sso::response_validator(&tenant);
//! let now = maestrano::ports::Clock::now(&SystemClock);
//! // Not what an IdP sends: refused with what was expected and found, before any crypto.
//! let forged = br#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"/>"#;
//! let refused = validator.check(forged, Some("_request-id"), now).unwrap_err();
//! assert!(matches!(refused, SamlError::UnsupportedVersion { .. }));
//! assert_eq!(refused.to_string(), r#"expected SAML Version 2.0, found """#);
//! # Ok(())
//! # }
//! ```

mod attributes;
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

pub use attributes::{Attribute, AttributeValues, Attributes, AttributesIter};
pub use authn_request::{
    AuthnContextComparison, AuthnRequest, LoginRedirect, ReceivedRedirect, RequestedAuthnContext,
};
pub use cert::{Certificate, CertificateError, Fingerprint, FingerprintError};
pub use crypto::CryptoBackend;
pub use dsig::MIN_RSA_BITS;
pub use error::SamlError;
pub(crate) use identity::AttributeSource;
pub use identity::{
    AttributeError, IdentityMode, Membership, MnoGroup, MnoReseller, MnoSessionToken, MnoUser,
    SsoLogin, mask_uid, unmask_uid,
};
pub use metadata::SpMetadata;
pub use options::{SsoOptions, SsoProtocols};
pub use response::{
    CheckedResponse, LegacyCrypto, NameId, ResponseValidator, SamlPolicy, SignatureProfile,
    SpSettings, VerifiedAssertion,
};
pub use sign::SigningKey;
pub use xml::XmlLimits;
