//! # maestrano
//!
//! Sell one SaaS application through many Maestrano marketplaces at once: Maestrano.com and
//! the enterprise tenants that run their own copy of the platform.
//!
//! An application integrates once and then serves every marketplace ("tenant"), each named by
//! a [`MarketplaceKey`]. For every tenant the SDK provides its configuration (fetched from the
//! developer platform or given in code), the routes the application serves, SAML 2.0 single
//! sign-on with signatures verified in pure Rust, and the account and data-sharing APIs, each
//! scoped to the tenant so that nothing of one marketplace is ever used for another.
//!
//! ## Architecture
//!
//! The core is sans-IO, like rustls and quinn-proto: protocol logic is pure, and everything
//! that touches the world goes through a port in [`ports`]: time through
//! [`Clock`](ports::Clock), HTTP through [`HttpClient`](ports::HttpClient), configuration
//! through [`ConfigSource`](ports::ConfigSource), storage through
//! [`IdMapStore`](ports::IdMapStore) and [`ReplayCache`](ports::ReplayCache). Real adapters
//! ship behind cargo features.
//!
//! ## Quick start
//!
//! ```
//! use std::sync::Arc;
//!
//! use maestrano::config::StaticSource;
//! use maestrano::ports::SystemClock;
//! use maestrano::{Maestrano, MarketplaceKey};
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
//! let registry = Maestrano::builder(Arc::new(source), Arc::new(SystemClock)).build().await?;
//!
//! let tenant = registry.with(&MarketplaceKey::new("acme-corp")?)?;
//! assert_eq!(tenant.idp_sso_url().as_str(), "https://hub.acme.example/api/v1/auth/saml");
//!
//! // An unknown marketplace is an error, never a default tenant.
//! assert!(registry.with(&MarketplaceKey::new("someone-else")?).is_err());
//!
//! // Validate the SAMLResponse POSTed to the tenant's ACS URL:
//! let validator = tenant.response_validator();
//! # let _ = validator;
//! // let assertion = validator.validate(form_value, Some(&request_id), &clock, &replay_cache).await?;
//! # Ok(())
//! # }
//! ```
//!
//! ## Features
//!
//! | feature | what it adds |
//! | --- | --- |
//! | `reqwest` | [`adapters::ReqwestHttpClient`]: the `HttpClient` port on reqwest with rustls |
//! | `aws-lc-rs` | a second crypto provider for SAML signature verification, on AWS-LC |
//! | `test-util` | fakes for tests: a manual clock, a scripted HTTP client, a counter random source |
//! | `simulator` | [`simulator`]: a marketplace simulator on loopback (developer platform, IdP, account API, Connec!, webhook sender, fault injection) for integration tests; brings in axum, hyper and tokio |
//!
//! ## Security
//!
//! Checks fail closed. Every option that weakens one is off by default and named
//! `insecure_*` (see [`saml::SamlPolicy`]). Secrets ([`Secret`]) have a redacted `Debug`, are
//! compared in constant time and never logged. Untrusted input (SAML messages, API replies,
//! configuration JSON) is size-capped before it is decoded and rejected with a typed error.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(any(feature = "reqwest", feature = "sqlite", feature = "postgres"))]
#[cfg_attr(
    docsrs,
    doc(cfg(any(feature = "reqwest", feature = "sqlite", feature = "postgres")))
)]
pub mod adapters;
pub mod api;
pub mod config;
pub mod connec;
pub mod error;
pub mod idmap;
pub mod ports;
pub mod routes;
pub mod saml;
#[cfg(feature = "simulator")]
#[cfg_attr(docsrs, doc(cfg(feature = "simulator")))]
pub mod simulator;
pub mod timestamp;
pub mod types;
pub mod webhook;

pub use api::{AccountClient, ApiError};
pub use config::{Maestrano, MarketplaceConfig, Tenant};
pub use connec::{ConnecClient, ConnecError};

/// The User-Agent the SDK sends: the crate's name and version.
pub const USER_AGENT: &str = concat!("maestrano-rust/", env!("CARGO_PKG_VERSION"));
pub use error::{Error, Result};
pub use types::{ApiId, ApiKey, GroupUid, MarketplaceKey, Secret, UserUid};
