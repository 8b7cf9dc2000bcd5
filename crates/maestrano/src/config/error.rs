//! Why a configuration could not be loaded, or a tenant could not be found.

use std::path::PathBuf;
use std::sync::Arc;

use crate::ports::TransportError;
use crate::saml::{CertificateError, FingerprintError};
use crate::types::{IdError, MarketplaceKey};

/// A configuration could not be loaded or used.
///
/// Messages say what was expected and what was found, and name the JSON path of the offending
/// field (`marketplaces[1].api.key`). They never contain a secret: for secret fields only the
/// kind of problem is reported, never the value.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The document is larger than the SDK accepts.
    #[error("configuration is too large: expected at most {max} bytes, found {found}")]
    TooLarge {
        /// The limit, [`MAX_CONFIG_BYTES`](super::MAX_CONFIG_BYTES).
        max: usize,
        /// The size found (at least `max + 1` when the size was not known in advance).
        found: usize,
    },
    /// The document is not JSON.
    #[error("configuration is not valid JSON: {message} at line {line}, column {column}")]
    Json {
        /// The parser's description (it never quotes the document).
        message: String,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
    },
    /// The document is JSON of the wrong shape at its top level.
    #[error("configuration has the wrong shape: expected {expected}, found {found}")]
    Shape {
        /// What was expected.
        expected: &'static str,
        /// What was found (a JSON type, never a value).
        found: &'static str,
    },
    /// A `marketplaces` list holds more entries than the SDK accepts.
    #[error("too many marketplaces: expected at most {max}, found {found}")]
    TooManyMarketplaces {
        /// The limit, [`MAX_MARKETPLACES`](super::MAX_MARKETPLACES).
        max: usize,
        /// The number found.
        found: usize,
    },
    /// A `marketplaces` list is empty, or a source yielded no marketplace.
    #[error("expected at least one marketplace, found none")]
    NoMarketplaces,
    /// One field of a marketplace is missing or invalid.
    #[error(transparent)]
    Field(#[from] FieldError),
    /// Two marketplaces have the same key.
    #[error("marketplace {marketplace} is configured twice: at {first} and at {second}")]
    DuplicateMarketplace {
        /// The key.
        marketplace: MarketplaceKey,
        /// Where it first appeared.
        first: String,
        /// Where it appeared again.
        second: String,
    },
    /// No tenant has this marketplace key. The SDK never falls back to a default tenant.
    #[error("unknown marketplace {marketplace}: no tenant is configured with this key")]
    UnknownMarketplace {
        /// The key asked for.
        marketplace: MarketplaceKey,
    },
    /// No tenant has the given API credentials.
    #[error("no marketplace has these API credentials")]
    UnknownCredentials,
    /// A host the SDK sends the tenant's credentials, its users' logins or its customers'
    /// data to is plain `http://` off this machine; allowed only for the marketplaces named
    /// by [`RegistryBuilder::insecure_allow_plain_http`](crate::RegistryBuilder::insecure_allow_plain_http).
    #[error(
        "marketplace {marketplace}: {field}: expected an https URL (plain http only on loopback, or with insecure_allow_plain_http), found {found}"
    )]
    PlainHttp {
        /// The tenant.
        marketplace: crate::types::MarketplaceKey,
        /// `api.host`, `connec.host` or `sso.idp`.
        field: &'static str,
        /// The URL's origin.
        found: String,
    },
    /// A tenant's paths overlap another tenant's or the app's prefixed routes, so a request
    /// could reach two tenants; the registry refuses that tenant's entry alone
    /// ([`Snapshot::refused`](crate::Snapshot::refused)).
    #[error("the marketplaces' routes conflict: {0}")]
    Routes(#[source] crate::routes::RouteError),
    /// Several tenants share the given API credentials, so they do not identify one.
    #[error("API credentials are shared by several marketplaces ({}), so they identify none", join_keys(.marketplaces))]
    AmbiguousCredentials {
        /// The tenants whose credentials matched.
        marketplaces: Vec<MarketplaceKey>,
    },
    /// A setting of the developer platform client is missing or invalid.
    #[error(transparent)]
    Setting(#[from] SettingError),
    /// The developer platform did not return a usable list of marketplaces.
    #[error(transparent)]
    DevPlatform(#[from] DevPlatformError),
    /// A secret the configuration needs could not be read
    /// ([`SecretSource`](crate::config::SecretSource)).
    #[error(transparent)]
    Secret(#[from] super::secrets::SecretError),
    /// A configuration file could not be read.
    #[error("cannot read configuration file {}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: Arc<std::io::Error>,
    },
}

fn join_keys(keys: &[MarketplaceKey]) -> String {
    keys.iter()
        .map(MarketplaceKey::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A field of a marketplace configuration is missing or invalid.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}{path}: {problem}", marketplace_prefix(.marketplace))]
#[non_exhaustive]
pub struct FieldError {
    /// The tenant, when its key was readable.
    pub marketplace: Option<MarketplaceKey>,
    /// The JSON path of the field, such as `marketplaces[1].api.key`.
    pub path: String,
    /// What is wrong with it.
    pub problem: FieldProblem,
}

fn marketplace_prefix(m: &Option<MarketplaceKey>) -> String {
    match m {
        Some(m) => format!("marketplace {m}: "),
        None => String::new(),
    }
}

impl FieldError {
    pub(crate) fn new(path: impl Into<String>, problem: FieldProblem) -> Self {
        Self {
            marketplace: None,
            path: path.into(),
            problem,
        }
    }

    pub(crate) fn in_marketplace(mut self, marketplace: Option<&MarketplaceKey>) -> Self {
        if self.marketplace.is_none() {
            self.marketplace = marketplace.cloned();
        }
        self
    }

    /// Whether the field held a certificate that could not be decoded (the conformance
    /// vocabulary's `error:Certificate`).
    pub fn is_certificate_error(&self) -> bool {
        matches!(self.problem, FieldProblem::Certificate(_))
    }
}

/// What is wrong with a field.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum FieldProblem {
    /// A required field is absent (or `null`, or an empty string).
    #[error("required, but missing")]
    Missing,
    /// The field has the wrong JSON type.
    #[error("expected {expected}, found {found}")]
    WrongType {
        /// The JSON type expected.
        expected: &'static str,
        /// The JSON type found.
        found: &'static str,
    },
    /// The field has the right type but an unusable value.
    #[error("expected {expected}, found {found}")]
    Invalid {
        /// What a valid value looks like.
        expected: &'static str,
        /// The value found, or only a description of it for secret fields.
        found: String,
    },
    /// An identifier is malformed.
    #[error(transparent)]
    Id(IdError),
    /// A certificate does not decode.
    #[error("expected an X.509 RSA certificate in PEM or base64 DER: {0}")]
    Certificate(CertificateError),
    /// A fingerprint does not decode.
    #[error(transparent)]
    Fingerprint(FingerprintError),
    /// The configured fingerprint is not the fingerprint of any configured certificate.
    #[error(
        "expected the fingerprint of a configured certificate ({computed}), found {configured}"
    )]
    FingerprintMismatch {
        /// The fingerprint from the configuration, normalised.
        configured: String,
        /// The fingerprints of the configured certificates, normalised.
        computed: String,
    },
}

/// A setting of the developer platform client (an environment variable or a key of a
/// settings file) is missing or invalid.
#[derive(Debug, Clone, thiserror::Error)]
#[error("developer platform setting {name}: {problem}")]
#[non_exhaustive]
pub struct SettingError {
    /// The setting: an environment variable such as `MNO_DEVPL_ENV_KEY`, or a settings file
    /// path such as `dev-platform.host`.
    pub name: String,
    /// What is wrong with it.
    pub problem: SettingProblem,
}

impl SettingError {
    pub(crate) fn missing(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            problem: SettingProblem::Missing,
        }
    }

    pub(crate) fn invalid(
        name: impl Into<String>,
        expected: &'static str,
        found: impl Into<String>,
    ) -> Self {
        Self {
            name: name.into(),
            problem: SettingProblem::Invalid {
                expected,
                found: found.into(),
            },
        }
    }
}

/// What is wrong with a developer platform setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SettingProblem {
    /// The setting is required but absent or empty.
    #[error("required, but missing")]
    Missing,
    /// The setting has an unusable value.
    #[error("expected {expected}, found {found}")]
    Invalid {
        /// What a valid value looks like.
        expected: &'static str,
        /// The value found, or a description of it for secrets.
        found: String,
    },
}

/// The developer platform did not return a usable list of marketplaces.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum DevPlatformError {
    /// The request could not be built from the settings.
    #[error("cannot build the developer platform request: {0}")]
    Request(String),
    /// The exchange failed below HTTP.
    #[error("developer platform request failed")]
    Transport(#[source] TransportError),
    /// HTTP 401: the environment key or secret was refused.
    #[error("developer platform refused the environment credentials (HTTP {status})")]
    Unauthorized {
        /// The status code (401).
        status: u16,
    },
    /// The reply carries an `error` member.
    #[error("developer platform returned an error (HTTP {status}): {message}")]
    Rejected {
        /// The status code.
        status: u16,
        /// The `error` member, truncated.
        message: String,
    },
    /// The reply has an unsuccessful status and no `error` member.
    #[error("developer platform replied with HTTP {status}, expected 200")]
    Status {
        /// The status code.
        status: u16,
    },
    /// The reply body is not JSON, such as an HTML error page.
    #[error(
        "developer platform reply is not JSON (HTTP {status}, content type {}): body starts with {excerpt:?}",
        content_type.as_deref().unwrap_or("none")
    )]
    NotJson {
        /// The status code.
        status: u16,
        /// The `Content-Type` header, when present.
        content_type: Option<String>,
        /// The first characters of the body, control characters escaped.
        excerpt: String,
    },
    /// The reply is JSON but not an object.
    #[error(
        "developer platform reply: expected a JSON object with a marketplaces array, found {found}"
    )]
    NotAnObject {
        /// The JSON type found.
        found: &'static str,
    },
    /// The reply object has no `marketplaces` member.
    #[error("developer platform reply: expected a marketplaces member, found none")]
    MissingMarketplaces,
    /// The reply's `marketplaces` list is empty.
    #[error("developer platform reply: expected at least one marketplace, found an empty list")]
    EmptyMarketplaces,
}
