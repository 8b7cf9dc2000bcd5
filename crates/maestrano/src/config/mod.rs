//! Tenant-scoped configuration: the typed marketplace model, its sources (static JSON, code,
//! the developer platform), the registry of tenants, per-tenant URLs and metadata.
//!
//! ```
//! # async fn demo() -> Result<(), maestrano::Error> {
//! use std::sync::Arc;
//! use maestrano::Registry;
//! use maestrano::config::StaticSource;
//! use maestrano::ports::SystemClock;
//! use maestrano::MarketplaceKey;
//!
//! let source = StaticSource::from_json_file("marketplaces.json")?;
//! let registry = Registry::builder(Arc::new(source), Arc::new(SystemClock)).build().await?;
//! let tenant = registry.with(&MarketplaceKey::new("acme-corp")?)?;
//! println!("SSO starts at {}", tenant.init_url());
//! # Ok(()) }
//! ```
//!
//! ## The model
//!
//! The typed marketplace configuration, field for field the developer platform's marketplace
//! object, and its validation.
//!
//! # Required and optional fields
//!
//! The SDK is lenient where a default is safe and strict where a guess could route users or
//! money to the wrong place:
//!
//! | field | when absent (or `null`, or `""`) |
//! | --- | --- |
//! | `marketplace`, `app.host`, `api.id`, `api.key`, `api.host`, `sso.idp` | error naming the path |
//! | `sso.x509_certificate` **and** `sso.x509_fingerprint` | error: at least one is required |
//! | `nid`, `environment`, `app.synchronization_*_path` | `None` |
//! | `api.base` | `/api/v1/` |
//! | `sso.idm` | `app.host` |
//! | `sso.init_path` | `/maestrano/auth/saml/init/{marketplace}` |
//! | `sso.consume_path` | `/maestrano/auth/saml/consume/{marketplace}` |
//! | `connec` block | `None` (no Connec! for this tenant) |
//! | `connec.host` (block present) | error naming the path |
//! | `connec.base_path` | `/api/v2` |
//! | `connec.timeout` (seconds) | `None`: the HTTP client's own timeout |
//! | `webhooks` block, or any of its members | the defaults below |
//! | `webhooks.account.group_path` | `/maestrano/account/groups/:id/{marketplace}` |
//! | `webhooks.account.group_user_path` | `/maestrano/account/groups/:group_id/users/:id/{marketplace}` |
//! | `webhooks.connec.external_ids` | `false` |
//! | `webhooks.connec.initialization_path` | `None` |
//! | `webhooks.connec.notification_path` | `/maestrano/connec/notifications/{marketplace}` |
//!
//! The path defaults follow the developer platform's convention of ending each tenant's paths
//! with its key, so that defaulted tenants never share a route. Unknown members are ignored, so
//! that a newer developer platform does not break older applications.
//!
//! # Certificates
//!
//! The IdP certificate is decoded when the configuration is loaded: a broken certificate is a
//! configuration error naming the tenant and the field, not a login failure later. Several
//! certificates may be configured for one tenant (key rotation, in code through the builder).
//! When a fingerprint is configured too, it must be the fingerprint of one of them.
//!
//! A tenant with only a fingerprint is accepted. That is a weaker mode: the SAML validator then
//! trusts the certificate embedded in the response's `KeyInfo` when it hashes to the
//! fingerprint; it is documented as the weaker mode in [`crate::saml::SpSettings`].

pub(crate) mod autoconfigure;
pub(crate) mod cache;
mod error;
mod json;
mod metadata;
mod model;
mod port;
pub(crate) mod registry;
mod secrets;
mod source;
pub(crate) mod tenant;
mod urls;

pub use autoconfigure::{DevPlatformSettings, DevPlatformSource};
pub use cache::{CachedConfig, ConfigCache, ConfigCacheError, FileConfigCache};
pub use error::{
    ConfigError, DevPlatformError, FieldError, FieldProblem, SettingError, SettingProblem,
};
pub use json::{parse_marketplace, parse_marketplaces};
pub use model::{
    AccountWebhooks, ApiConfig, AppConfig, ConnecConfig, ConnecWebhooks, MarketplaceConfig,
    MarketplaceConfigBuilder, SsoConfig, WebhooksConfig,
};
pub use port::{ConfigSource, Loaded};
pub use secrets::{EnvSecrets, FileSecrets, SecretError, SecretSource};
pub use source::{StaticSource, read_config_file};

/// Largest configuration document accepted, from a file or from the developer platform:
/// 4 MiB, room for about a thousand marketplaces with their certificates.
pub const MAX_CONFIG_BYTES: usize = 4 * 1024 * 1024;

/// Most marketplaces accepted in one configuration.
pub const MAX_MARKETPLACES: usize = 1000;
