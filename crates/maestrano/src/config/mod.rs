//! Tenant-scoped configuration: the typed marketplace model, its sources (static JSON, code,
//! the developer platform), the registry of tenants, per-tenant URLs and metadata.
//!
//! ```
//! # async fn demo() -> Result<(), maestrano::Error> {
//! use std::sync::Arc;
//! use maestrano::config::{Registry, StaticSource};
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
//! See [`model`] for which fields are required and the defaults of the others.

pub(crate) mod autoconfigure;
mod error;
mod json;
mod metadata;
mod model;
mod port;
pub(crate) mod registry;
mod source;
pub(crate) mod tenant;
mod urls;

pub use autoconfigure::{DevPlatformSettings, DevPlatformSource};
pub use error::{
    ConfigError, DevPlatformError, FieldError, FieldProblem, SettingError, SettingProblem,
};
pub use json::{parse_marketplace, parse_marketplaces};
pub use model::{
    AccountWebhooks, ApiConfig, AppConfig, ConnecConfig, ConnecWebhooks, MarketplaceConfig,
    MarketplaceConfigBuilder, SsoConfig, WebhooksConfig,
};
pub use port::ConfigSource;
pub use source::{StaticSource, read_config_file};

/// Largest configuration document accepted, from a file or from the developer platform:
/// 4 MiB, room for about a thousand marketplaces with their certificates.
pub const MAX_CONFIG_BYTES: usize = 4 * 1024 * 1024;

/// Most marketplaces accepted in one configuration.
pub const MAX_MARKETPLACES: usize = 1000;
