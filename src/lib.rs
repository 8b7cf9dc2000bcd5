//! # maestrano
//!
//! Sell one SaaS application through many Maestrano marketplaces at once.
//!
//! An application integrates once and then serves every marketplace ("tenant"), each named by
//! a [`MarketplaceKey`](types::MarketplaceKey). The crate is sans-IO at its core: protocol
//! logic is pure, and everything that touches the world goes through a port in [`ports`].
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(any(feature = "reqwest", feature = "sqlite", feature = "postgres"))]
#[cfg_attr(
    docsrs,
    doc(cfg(any(feature = "reqwest", feature = "sqlite", feature = "postgres")))
)]
pub mod adapters;
pub mod config;
pub mod error;
pub mod idmap;
pub mod ports;
pub mod routes;
pub mod saml;
pub mod types;

pub use config::{Maestrano, MarketplaceConfig, Tenant};
pub use error::{Error, Result};
pub use types::{ApiId, ApiKey, GroupUid, MarketplaceKey, Secret, UserUid};
