//! The crate's error type: one enum per capability, folded into [`Error`].

/// Any error the SDK returns.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An identifier was malformed.
    #[error(transparent)]
    Id(#[from] crate::types::IdError),
    /// An HTTP exchange failed below HTTP.
    #[error(transparent)]
    Transport(#[from] crate::ports::TransportError),
    /// A certificate could not be used.
    #[error(transparent)]
    Certificate(#[from] crate::saml::CertificateError),
    /// A SAML message was rejected.
    #[error(transparent)]
    Saml(#[from] crate::saml::SamlError),
    /// A webhook notification body was refused.
    #[error(transparent)]
    Notification(#[from] crate::webhook::NotificationError),
    /// The single-use store (assertions against replay, pending login requests) failed.
    #[error(transparent)]
    SingleUse(#[from] crate::ports::SingleUseError),
    /// The configuration cache failed.
    #[error(transparent)]
    ConfigCache(#[from] crate::config::ConfigCacheError),
    /// The identity map store failed, or an id map field was invalid.
    #[error(transparent)]
    IdMap(#[from] crate::idmap::IdMapError),
    /// The push outbox failed, or a push was refused.
    #[error(transparent)]
    Outbox(#[from] crate::idmap::OutboxError),
    /// A remote entity's URL could not be built.
    #[error(transparent)]
    RemoteUrl(#[from] crate::idmap::RemoteUrlError),
    /// The random source failed.
    #[error(transparent)]
    Random(#[from] crate::ports::RandomError),
    /// A configuration could not be loaded, or a tenant was not found.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// A router could not be built.
    #[error(transparent)]
    Route(#[from] crate::routes::RouteError),
    /// A request matched no endpoint.
    #[error(transparent)]
    Match(#[from] crate::routes::MatchError),
    /// An account API call failed.
    #[error(transparent)]
    Api(#[from] crate::api::ApiError),
    /// A Connec! call failed.
    #[error(transparent)]
    Connec(#[from] crate::connec::ConnecError),
    /// A path template could not be parsed.
    #[error(transparent)]
    Template(#[from] crate::routes::TemplateError),
    /// A certificate fingerprint could not be parsed.
    #[error(transparent)]
    Fingerprint(#[from] crate::saml::FingerprintError),
    /// A verified assertion lacks a Maestrano attribute, or holds a malformed one.
    #[error(transparent)]
    Attribute(#[from] crate::saml::AttributeError),
    /// A login could not be started or completed.
    #[error(transparent)]
    SsoFlow(#[from] crate::sso::SsoFlowError),
    /// An OpenID 2.0 message was refused.
    #[error(transparent)]
    OpenId(#[from] crate::openid::OpenIdError),
    /// A Maestrano session could not be checked.
    #[error(transparent)]
    Session(#[from] crate::sso::SessionError),
    /// A webhook call was not authenticated.
    #[error(transparent)]
    WebhookAuth(#[from] crate::webhook::AuthError),
    /// An amount or currency was invalid.
    #[error(transparent)]
    Money(#[from] crate::api::MoneyError),
    /// An offboarding erase stopped.
    #[error(transparent)]
    Offboard(#[from] crate::offboard::OffboardError),
    /// A reconciliation run stopped.
    #[error(transparent)]
    Reconcile(#[from] crate::reconcile::ReconcileError),
}

impl From<crate::config::FieldError> for Error {
    fn from(e: crate::config::FieldError) -> Self {
        Self::Config(e.into())
    }
}

impl From<crate::config::SettingError> for Error {
    fn from(e: crate::config::SettingError) -> Self {
        Self::Config(e.into())
    }
}

impl From<crate::config::DevPlatformError> for Error {
    fn from(e: crate::config::DevPlatformError) -> Self {
        Self::Config(e.into())
    }
}

impl From<crate::config::SecretError> for Error {
    fn from(e: crate::config::SecretError) -> Self {
        Self::Config(e.into())
    }
}

impl From<crate::idmap::FieldError> for Error {
    fn from(e: crate::idmap::FieldError) -> Self {
        Self::IdMap(e.into())
    }
}

/// `Result` with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::Error;

    fn converts<E: Into<Error> + std::error::Error>() {}

    /// Every public error type converts into the crate `Error`, so `?` works across
    /// capabilities (CONTRIBUTING.md, "Errors").
    #[test]
    fn every_public_error_converts_into_the_crate_error() {
        converts::<crate::IdError>();
        converts::<crate::ports::TransportError>();
        converts::<crate::ports::RandomError>();
        converts::<crate::config::ConfigError>();
        converts::<crate::reconcile::ReconcileError>();
        converts::<crate::offboard::OffboardError>();
        converts::<crate::config::FieldError>();
        converts::<crate::config::SettingError>();
        converts::<crate::config::DevPlatformError>();
        converts::<crate::config::ConfigCacheError>();
        converts::<crate::config::SecretError>();
        converts::<crate::routes::RouteError>();
        converts::<crate::routes::MatchError>();
        converts::<crate::routes::TemplateError>();
        converts::<crate::saml::SamlError>();
        converts::<crate::saml::CertificateError>();
        converts::<crate::saml::FingerprintError>();
        converts::<crate::saml::AttributeError>();
        converts::<crate::ports::SingleUseError>();
        converts::<crate::sso::SsoFlowError>();
        converts::<crate::openid::OpenIdError>();
        converts::<crate::sso::SessionError>();
        converts::<crate::webhook::AuthError>();
        converts::<crate::webhook::NotificationError>();
        converts::<crate::api::ApiError>();
        converts::<crate::api::MoneyError>();
        converts::<crate::connec::ConnecError>();
        converts::<crate::idmap::IdMapError>();
        converts::<crate::idmap::FieldError>();
        converts::<crate::idmap::RemoteUrlError>();
        converts::<crate::idmap::OutboxError>();
    }
}
