//! The simulator's error type.

/// The simulator could not start, or a call on its handle was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimulatorError {
    /// The configuration is inconsistent (a duplicate key, a membership naming an unknown user
    /// or group, a marketplace without users, …).
    #[error("invalid simulator configuration: {0}")]
    Config(String),
    /// A loopback listener could not be bound.
    #[error("cannot bind a loopback listener: {0}")]
    Bind(#[source] std::io::Error),
    /// A key pair or certificate could not be generated.
    #[error("key generation failed: {0}")]
    Keys(String),
    /// The developer-platform configuration the simulator serves was refused by the SDK's own
    /// parser (a bug in the simulator or an invalid app URL).
    #[error("the simulated marketplace configuration is invalid: {0}")]
    MarketplaceConfig(#[from] maestrano::config::ConfigError),
    /// No simulated marketplace has this key.
    #[error("no simulated marketplace {0}")]
    UnknownMarketplace(maestrano::MarketplaceKey),
    /// The simulated marketplace has no such object.
    #[error("{kind} {id} does not exist in the simulated marketplace")]
    NotFound {
        /// What was looked for (`bill`, `group`, …).
        kind: &'static str,
        /// Its id.
        id: String,
    },
    /// The simulated API refused what a test asked it to store, as it would refuse the request
    /// (an unknown group or collection, an entity carrying a Connec! id, …).
    #[error("the simulated API refused it with HTTP {status}: {body}")]
    Refused {
        /// The HTTP status the API answers.
        status: u16,
        /// The error body the API answers.
        body: String,
    },
    /// The HTTP client of the webhook sender could not be built.
    #[error("webhook sender: {0}")]
    Http(#[from] maestrano::ports::TransportError),
}
