//! OpenID 2.0 single sign-on, the platform's other login: the relying party's protocol, pure.
//!
//! Every marketplace runs an OpenID 2.0 provider at `{sso.idp}/api/openid/provider/{api.id}`
//! (mno-api-sandbox cd52c0b, config/routes.rb, `namespace :openid`), on ruby-openid 2.7.0,
//! which answers with SReg and Attribute Exchange data. Most apps use it through
//! [`SsoFlow::openid_initiate`](crate::sso::SsoFlow::openid_initiate) and
//! [`SsoFlow::openid_consume`](crate::sso::SsoFlow::openid_consume), which run these steps on
//! the SDK's ports; each step is here, sans-IO, for other flows:
//!
//! - discovery ([`discovery_request`], [`read_discovery`], [`read_xrds`]): the provider's
//!   endpoint from its XRDS document (read by the same hardened parser as SAML) or an HTML
//!   page's links;
//! - associations ([`AssociationRequest`], [`Association`]): HMAC-SHA256 (HMAC-SHA1 only where
//!   the provider offers nothing better), the key sent by Diffie-Hellman or, over HTTPS only,
//!   in clear;
//! - the redirect ([`checkid_setup_url`]) with an AX fetch request for the Maestrano
//!   attributes;
//! - the messages ([`Fields`]: the key-value form of direct answers, even inside the HTML page
//!   the platform wraps them in, and the `openid.` fields of indirect ones);
//! - verification as §11 requires ([`check_positive`] with an association, or
//!   [`check_positive_stateless`] and the provider's `check_authentication`: `return_to`,
//!   `op_endpoint`, the nonce's time, the signature over every field read; then
//!   [`verify_claimed_id`] on the claimed identifier's own discovery, and
//!   [`CheckedOpenId::check_replay`]: the nonce used once across instances);
//! - the login ([`VerifiedOpenId::login`]): the AX values make the same
//!   [`SsoLogin`](crate::saml::SsoLogin) as a SAML login.
//!
//! ```
//! use maestrano::openid::{Association, AssociationType, Fields};
//!
//! // A provider's answer to `associate` (no-encryption, over TLS), as the platform sends it:
//! // key-value lines inside an auto-submitting page.
//! let page = b"<!DOCTYPE html><html><body onload=\"document.forms[0].submit();\">\n\
//!     assoc_handle:{HMAC-SHA256}{6b116f56}{lGSJhA==}\nassoc_type:HMAC-SHA256\n\
//!     expires_in:1209600\nmac_key:4n7G4AV5jJPsjRx0rIVhsEusc5lEpr8Dq9P4VPOybnA=\n\
//!     ns:http://specs.openid.net/auth/2.0\nsession_type:no-encryption\n</body></html>";
//! let answer = Fields::from_key_value(page)?;
//! let now = time::OffsetDateTime::UNIX_EPOCH;
//! let association = Association::from_plaintext_answer(&answer, AssociationType::HmacSha256, now)?;
//! assert_eq!(association.handle(), "{HMAC-SHA256}{6b116f56}{lGSJhA==}");
//! assert!(!format!("{association:?}").contains("4n7G4AV5"));
//! # Ok::<(), maestrano::openid::OpenIdError>(())
//! ```

mod assoc;
mod ax;
mod checkid;
mod direct;
mod discovery;
mod error;
mod message;
mod verify;

pub use assoc::{Association, AssociationType};
pub use checkid::checkid_setup_url;
pub use direct::{AssociationRequest, SessionType};
pub use discovery::{
    Discovered, Service, discovery_request, read_discovery, read_xrds, verify_claimed_id,
};
pub use error::OpenIdError;
pub use message::{Fields, MAX_DIRECT_BYTES, MAX_INDIRECT_BYTES};
pub use verify::{
    CheckedOpenId, NONCE_WINDOW, StatelessCheck, VerifiedOpenId, check_positive,
    check_positive_stateless,
};

pub(crate) use discovery::op_endpoint;

/// The OpenID 2.0 namespace (`openid.ns`).
pub const OPENID2_NS: &str = "http://specs.openid.net/auth/2.0";
