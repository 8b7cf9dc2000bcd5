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
    /// The replay cache failed.
    #[error(transparent)]
    ReplayCache(#[from] crate::saml::ReplayCacheError),
    /// The identity map store failed, or an id map field was invalid.
    #[error(transparent)]
    IdMap(#[from] crate::idmap::IdMapError),
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
}

impl From<crate::idmap::store::FieldError> for Error {
    fn from(e: crate::idmap::store::FieldError) -> Self {
        Self::IdMap(e.into())
    }
}

/// `Result` with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
