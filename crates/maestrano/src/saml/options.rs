//! What an application decides about SSO for a tenant, beyond what the developer platform
//! sends.

use time::Duration;

use super::authn_request::{NAMEID_PERSISTENT, RequestedAuthnContext};
use super::cert::Certificate;
use super::identity::IdentityMode;
use super::sign::SigningKey;

/// The application's SSO choices for a tenant (set in code with
/// [`MarketplaceConfig::with_sso_options`](crate::config::MarketplaceConfig::with_sso_options)).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SsoOptions {
    /// Which identity of users the app records. Default: virtual (one account per user and
    /// company), as the earlier SDKs.
    pub identity_mode: IdentityMode,
    /// The NameID format requested. Default: persistent.
    pub name_id_format: Option<String>,
    /// The authentication classes requested, if any.
    pub requested_authn_context: Option<RequestedAuthnContext>,
    /// The SP's key: when set, AuthnRequest redirects are signed (RSA-SHA256).
    pub signing_key: Option<SigningKey>,
    /// The SP's certificate, published in the SP metadata.
    pub signing_certificate: Option<Certificate>,
    /// How long an issued request stays answerable. Default: 10 minutes.
    pub request_ttl: Duration,
    /// The login protocols the app offers on the tenant. Default: SAML only.
    pub protocols: SsoProtocols,
}

/// The login protocols an app offers on a tenant: every marketplace runs both a SAML IdP and
/// an OpenID 2.0 provider (mno-api-sandbox cd52c0b, config/routes.rb); the routes of a
/// protocol the tenant does not offer refuse every request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SsoProtocols {
    /// SAML 2.0 only (the default, as every earlier SDK).
    #[default]
    Saml,
    /// OpenID 2.0 only.
    OpenId,
    /// Both: the app lets the user (or its own logic) pick the init route.
    Both,
}

impl SsoProtocols {
    /// Whether SAML logins are served.
    pub fn saml(self) -> bool {
        matches!(self, Self::Saml | Self::Both)
    }

    /// Whether OpenID logins are served.
    pub fn openid(self) -> bool {
        matches!(self, Self::OpenId | Self::Both)
    }
}

impl Default for SsoOptions {
    fn default() -> Self {
        Self {
            identity_mode: IdentityMode::default(),
            name_id_format: Some(NAMEID_PERSISTENT.to_owned()),
            requested_authn_context: None,
            signing_key: None,
            signing_certificate: None,
            request_ttl: Duration::minutes(10),
            protocols: SsoProtocols::default(),
        }
    }
}

impl SsoOptions {
    /// These options with the login protocols `protocols`.
    pub fn with_protocols(mut self, protocols: SsoProtocols) -> Self {
        self.protocols = protocols;
        self
    }

    /// These options with another identity mode.
    pub fn with_identity_mode(mut self, mode: IdentityMode) -> Self {
        self.identity_mode = mode;
        self
    }

    /// These options with an SP signing key and its certificate.
    pub fn with_signing(mut self, key: SigningKey, certificate: Option<Certificate>) -> Self {
        self.signing_key = Some(key);
        self.signing_certificate = certificate;
        self
    }
}
