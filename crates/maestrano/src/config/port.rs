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
/// either a complete, validated set or an error, never a partial set. A source that reads
/// a document of many entries may instead report a bad entry that names its key in
/// [`Loaded::refused`], so that the registry refuses that tenant alone.
#[async_trait]
pub trait ConfigSource: Send + Sync + Debug {
    /// Every marketplace configuration.
    async fn load_all(&self) -> Result<Vec<MarketplaceConfig>, ConfigError>;

    /// Every marketplace configuration, with the JSON document it was read from when there is
    /// one (what [`parse_marketplaces`](crate::config::parse_marketplaces) reads), for a
    /// [`ConfigCache`](crate::config::ConfigCache) to keep. The default has no document: a
    /// source that reads one (the developer platform's) returns it.
    async fn load_document(&self) -> Result<Loaded, ConfigError> {
        Ok(Loaded::new(self.load_all().await?, None))
    }

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

/// What [`ConfigSource::load_document`] loaded. Its `Debug` shows the document's size only: it
/// holds the tenants' API keys.
#[non_exhaustive]
pub struct Loaded {
    /// The configurations, validated.
    pub configs: Vec<MarketplaceConfig>,
    /// The document they were read from, if the source read one.
    pub document: Option<Vec<u8>>,
    /// Entries the source read but could not accept, each by the key it names, with why: the
    /// registry refuses each alone and keeps that tenant's last good entry.
    pub refused: Vec<(MarketplaceKey, ConfigError)>,
}

impl Debug for Loaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loaded")
            .field("configs", &self.configs)
            .field("document_bytes", &self.document.as_ref().map(Vec::len))
            .field("refused", &self.refused)
            .finish()
    }
}

impl Loaded {
    /// Configurations and the document they came from.
    pub fn new(configs: Vec<MarketplaceConfig>, document: Option<Vec<u8>>) -> Self {
        Self {
            configs,
            document,
            refused: Vec::new(),
        }
    }

    /// These configurations, with entries of the document that were refused alone.
    pub fn with_refused(mut self, refused: Vec<(MarketplaceKey, ConfigError)>) -> Self {
        self.refused = refused;
        self
    }
}

#[async_trait]
impl<S: ConfigSource + ?Sized> ConfigSource for std::sync::Arc<S> {
    async fn load_all(&self) -> Result<Vec<MarketplaceConfig>, ConfigError> {
        (**self).load_all().await
    }

    async fn load_document(&self) -> Result<Loaded, ConfigError> {
        (**self).load_document().await
    }

    async fn load(
        &self,
        marketplace: &MarketplaceKey,
    ) -> Result<Option<MarketplaceConfig>, ConfigError> {
        (**self).load(marketplace).await
    }
}
