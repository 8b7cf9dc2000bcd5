//! The `ConfigSource` port: where marketplace configurations come from.

use std::fmt::Debug;

use async_trait::async_trait;

use crate::config::{ConfigError, MarketplaceConfig};
use crate::types::MarketplaceKey;

/// A source of marketplace configurations: static JSON, code, the developer platform, or an
/// application's own store.
///
/// The registry ([`Registry`](crate::config::registry::Registry)) calls [`load_all`](Self::load_all)
/// at start-up and on every refresh, so a source may do I/O each time; it should return
/// either a complete, validated set or an error, never a partial set.
#[async_trait]
pub trait ConfigSource: Send + Sync + Debug {
    /// Every marketplace configuration.
    async fn load_all(&self) -> Result<Vec<MarketplaceConfig>, ConfigError>;

    /// The configuration of one marketplace, or `None` when the source has no such
    /// marketplace. The default loads everything and picks one.
    async fn load(
        &self,
        marketplace: &MarketplaceKey,
    ) -> Result<Option<MarketplaceConfig>, ConfigError> {
        Ok(self
            .load_all()
            .await?
            .into_iter()
            .find(|c| c.marketplace() == marketplace))
    }
}

#[async_trait]
impl<S: ConfigSource + ?Sized> ConfigSource for std::sync::Arc<S> {
    async fn load_all(&self) -> Result<Vec<MarketplaceConfig>, ConfigError> {
        (**self).load_all().await
    }

    async fn load(
        &self,
        marketplace: &MarketplaceKey,
    ) -> Result<Option<MarketplaceConfig>, ConfigError> {
        (**self).load(marketplace).await
    }
}
