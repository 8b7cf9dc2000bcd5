//! Static configuration: JSON text, a JSON file, or marketplaces registered in code.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;

use super::error::ConfigError;
use super::json::parse_marketplaces;
use super::model::MarketplaceConfig;
use super::{MAX_CONFIG_BYTES, MAX_MARKETPLACES};
use crate::config::ConfigSource;

/// A fixed set of marketplaces, validated once when the source is made.
#[derive(Debug, Clone)]
pub struct StaticSource {
    marketplaces: Arc<[MarketplaceConfig]>,
}

impl StaticSource {
    /// Marketplaces registered in code (see [`MarketplaceConfig::builder`]). Refuses an empty
    /// list, more than [`MAX_MARKETPLACES`] entries and duplicate keys.
    pub fn from_configs(
        marketplaces: impl IntoIterator<Item = MarketplaceConfig>,
    ) -> Result<Self, ConfigError> {
        let marketplaces: Vec<MarketplaceConfig> = marketplaces.into_iter().collect();
        check_set(&marketplaces)?;
        Ok(Self {
            marketplaces: marketplaces.into(),
        })
    }

    /// Marketplaces from JSON text: one marketplace object, or `{"marketplaces": [...]}`.
    pub fn from_json(json: &str) -> Result<Self, ConfigError> {
        Self::from_configs(parse_marketplaces(json.as_bytes())?)
    }

    /// Marketplaces from a JSON file (read with [`read_config_file`]).
    pub fn from_json_file(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let bytes = read_config_file(path)?;
        Self::from_configs(parse_marketplaces(&bytes)?)
    }

    /// The marketplaces, in the order given.
    pub fn marketplaces(&self) -> &[MarketplaceConfig] {
        &self.marketplaces
    }
}

/// Checks what every source must yield: at least one marketplace, at most
/// [`MAX_MARKETPLACES`], no key twice.
pub(crate) fn check_set(marketplaces: &[MarketplaceConfig]) -> Result<(), ConfigError> {
    if marketplaces.is_empty() {
        return Err(ConfigError::NoMarketplaces);
    }
    if marketplaces.len() > MAX_MARKETPLACES {
        return Err(ConfigError::TooManyMarketplaces {
            max: MAX_MARKETPLACES,
            found: marketplaces.len(),
        });
    }
    let mut keys: Vec<(&crate::types::MarketplaceKey, usize)> = marketplaces
        .iter()
        .enumerate()
        .map(|(i, c)| (c.marketplace(), i))
        .collect();
    keys.sort();
    for pair in keys.windows(2) {
        if pair[0].0 == pair[1].0 {
            return Err(ConfigError::DuplicateMarketplace {
                marketplace: pair[0].0.clone(),
                first: format!("marketplaces[{}]", pair[0].1),
                second: format!("marketplaces[{}]", pair[1].1),
            });
        }
    }
    Ok(())
}

#[async_trait]
impl ConfigSource for StaticSource {
    async fn load_all(&self) -> Result<Vec<MarketplaceConfig>, ConfigError> {
        Ok(self.marketplaces.to_vec())
    }
}

/// Reads a configuration file, refusing one larger than [`MAX_CONFIG_BYTES`]. The only file
/// I/O of the configuration module; parse the bytes with
/// [`parse_marketplaces`](super::parse_marketplaces).
pub fn read_config_file(path: impl AsRef<Path>) -> Result<Vec<u8>, ConfigError> {
    let path = path.as_ref();
    let io = |e: std::io::Error| ConfigError::Io {
        path: path.to_owned(),
        source: Arc::new(e),
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    // One byte over the limit is enough to know the file is too large, whatever its length
    // claims (it may be growing, or a device).
    file.take(MAX_CONFIG_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() > MAX_CONFIG_BYTES {
        return Err(ConfigError::TooLarge {
            max: MAX_CONFIG_BYTES,
            found: bytes.len(),
        });
    }
    Ok(bytes)
}
