//! The `ConfigCache` port: the last configuration document that loaded, kept where a cold start
//! finds it when the developer platform is down.
//!
//! The registry saves the document its source read (the developer platform's reply, byte for
//! byte) after every successful load, and reads it back only when the source fails at start-up:
//! the app then serves the tenants it served before, says so
//! ([`Snapshot::origin`](crate::Snapshot::origin)), and keeps trying the source.

use std::fmt;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use async_trait::async_trait;

use crate::ports::RandomSource as _;
use serde_json::value::RawValue;
use time::OffsetDateTime;

use super::MAX_CONFIG_BYTES;
use crate::timestamp::parse_lenient;

/// A configuration document as it was loaded, and when. It holds the tenants' API keys: keep
/// it where the app's other secrets are kept.
#[derive(Clone, PartialEq, Eq)]
pub struct CachedConfig {
    document: Vec<u8>,
    saved_at: OffsetDateTime,
}

impl fmt::Debug for CachedConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The document holds secrets: only its size is shown.
        f.debug_struct("CachedConfig")
            .field("document_bytes", &self.document.len())
            .field("saved_at", &self.saved_at)
            .finish()
    }
}

impl CachedConfig {
    /// `document` (what [`parse_marketplaces`](crate::config::parse_marketplaces) reads),
    /// loaded at `saved_at`.
    pub fn new(document: Vec<u8>, saved_at: OffsetDateTime) -> Self {
        Self { document, saved_at }
    }

    /// The document.
    pub fn document(&self) -> &[u8] {
        &self.document
    }

    /// When it was loaded from the source.
    pub fn saved_at(&self) -> OffsetDateTime {
        self.saved_at
    }
}

/// The configuration cache could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigCacheError {
    /// The backing file or database failed.
    #[error("configuration cache failed to {operation}: {message}")]
    Store {
        /// What was being done.
        operation: &'static str,
        /// The cause (never the document).
        message: String,
    },
    /// What the cache holds is not what it writes.
    #[error("configuration cache is corrupt: expected {expected}, found {found}")]
    Corrupt {
        /// What was expected.
        expected: &'static str,
        /// What was found (never the document).
        found: String,
    },
}

/// Where the last good configuration document is kept.
///
/// Implementations: [`FileConfigCache`], and `SqliteStore` and `PostgresStore` in
/// [`adapters`](crate::adapters).
#[async_trait]
pub trait ConfigCache: Send + Sync + fmt::Debug {
    /// The document saved last, or `None` when none was ever saved.
    async fn load(&self) -> Result<Option<CachedConfig>, ConfigCacheError>;

    /// Replaces the saved document with `config`, atomically: a crash leaves the old one or
    /// the new one, never a mix.
    async fn save(&self, config: &CachedConfig) -> Result<(), ConfigCacheError>;
}

#[async_trait]
impl<C: ConfigCache + ?Sized> ConfigCache for std::sync::Arc<C> {
    async fn load(&self) -> Result<Option<CachedConfig>, ConfigCacheError> {
        (**self).load().await
    }

    async fn save(&self, config: &CachedConfig) -> Result<(), ConfigCacheError> {
        (**self).save(config).await
    }
}

/// The format tag of the file; another tag is refused rather than guessed at.
const FORMAT: &str = "maestrano-config-cache/1";

#[derive(serde::Serialize, serde::Deserialize)]
struct FileForm<'a> {
    format: &'a str,
    saved_at: String,
    #[serde(borrow)]
    document: &'a RawValue,
}

/// The configuration cache in one file.
///
/// The file is JSON (`{"format", "saved_at", "document"}`, the document embedded as the source
/// sent it, less the whitespace around it), written to a temporary file beside
/// it, flushed to disk, then renamed over it, so a crash never leaves half a file; on Unix it
/// is created readable by its owner only (it holds API keys). Reads and writes are small and
/// synchronous; the registry does them at start-up and after a refresh.
#[derive(Debug, Clone)]
pub struct FileConfigCache {
    path: PathBuf,
}

impl FileConfigCache {
    /// A cache in the file at `path` (created on the first save; its directory must exist).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read(&self) -> Result<Option<CachedConfig>, ConfigCacheError> {
        let io = |operation, e: std::io::Error| ConfigCacheError::Store {
            operation,
            message: e.to_string(),
        };
        let file = match std::fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io("open the file", e)),
        };
        // The document is at most MAX_CONFIG_BYTES; the envelope adds little.
        let limit = MAX_CONFIG_BYTES as u64 + 4096;
        let mut bytes = Vec::new();
        file.take(limit + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| io("read the file", e))?;
        if bytes.len() as u64 > limit {
            return Err(ConfigCacheError::Corrupt {
                expected: "a file of at most the configuration size limit",
                found: format!("more than {limit} bytes"),
            });
        }
        decode_file(&bytes).map(Some)
    }

    fn write(&self, config: &CachedConfig) -> Result<(), ConfigCacheError> {
        let io = |operation, e: std::io::Error| ConfigCacheError::Store {
            operation,
            message: e.to_string(),
        };
        let bytes = encode_file(config)?;
        // A fresh, unpredictable name, created only if nothing is there (`create_new` does not
        // follow a planted symlink and never reuses a file with other permissions), so two
        // writers never share a temporary file and the mode below always applies.
        let mut suffix = [0u8; 8];
        crate::ports::OsRandom
            .fill(&mut suffix)
            .map_err(|e| ConfigCacheError::Store {
                operation: "name the temporary file",
                message: e.to_string(),
            })?;
        let mut tmp = self.path.clone().into_os_string();
        tmp.push(format!(".tmp-{}", u64::from_le_bytes(suffix)));
        let tmp = PathBuf::from(tmp);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let result = (|| {
            let mut file = options.open(&tmp)?;
            file.write_all(&bytes)?;
            file.sync_all()?;
            std::fs::rename(&tmp, &self.path)?;
            // The rename itself is durable once the directory is.
            #[cfg(unix)]
            if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::File::open(dir)?.sync_all()?;
            }
            Ok(())
        })();
        if let Err(e) = result {
            let _ = std::fs::remove_file(&tmp);
            return Err(io("write the file", e));
        }
        Ok(())
    }
}

fn encode_file(config: &CachedConfig) -> Result<Vec<u8>, ConfigCacheError> {
    let document: &RawValue =
        serde_json::from_slice(&config.document).map_err(|e| ConfigCacheError::Corrupt {
            expected: "a JSON document to save",
            found: format!("invalid JSON ({e})"),
        })?;
    serde_json::to_vec(&FileForm {
        format: FORMAT,
        // Full precision: `saved_at` is what the snapshot reports, to the nanosecond.
        saved_at: config
            .saved_at
            .to_offset(time::UtcOffset::UTC)
            .format(&time::format_description::well_known::Rfc3339)
            .map_err(|e| ConfigCacheError::Store {
                operation: "encode the file",
                message: e.to_string(),
            })?,
        document,
    })
    .map_err(|e| ConfigCacheError::Store {
        operation: "encode the file",
        message: e.to_string(),
    })
}

/// Reads the file form [`FileConfigCache`] writes (for the fuzz target).
pub fn decode_file(bytes: &[u8]) -> Result<CachedConfig, ConfigCacheError> {
    let form: FileForm<'_> =
        serde_json::from_slice(bytes).map_err(|e| ConfigCacheError::Corrupt {
            expected: "the JSON object {format, saved_at, document}",
            found: format!("{e}"),
        })?;
    if form.format != FORMAT {
        return Err(ConfigCacheError::Corrupt {
            expected: "format maestrano-config-cache/1",
            found: crate::types::shown(form.format),
        });
    }
    let saved_at = parse_lenient(&form.saved_at)
        .ok()
        .flatten()
        .ok_or_else(|| ConfigCacheError::Corrupt {
            expected: "saved_at as an RFC 3339 time",
            found: crate::types::shown(&form.saved_at),
        })?;
    Ok(CachedConfig::new(
        form.document.get().as_bytes().to_vec(),
        saved_at,
    ))
}

#[async_trait]
impl ConfigCache for FileConfigCache {
    async fn load(&self) -> Result<Option<CachedConfig>, ConfigCacheError> {
        self.read()
    }

    async fn save(&self, config: &CachedConfig) -> Result<(), ConfigCacheError> {
        self.write(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[tokio::test]
    async fn a_saved_document_reads_back_and_a_missing_file_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let cache = FileConfigCache::new(dir.path().join("config.json"));
        assert_eq!(cache.load().await.unwrap(), None);
        let doc = br#"{"marketplaces": [{"marketplace": "a", "api": {"key": "s3cret"}}]}"#;
        let saved = CachedConfig::new(doc.to_vec(), datetime!(2026-12-01 09:00:00.5 UTC));
        cache.save(&saved).await.unwrap();
        assert_eq!(cache.load().await.unwrap(), Some(saved.clone()));
        assert!(!format!("{saved:?}").contains("s3cret"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(cache.path())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "owner-only: the file holds API keys");
        }
        let newer = CachedConfig::new(b"{\"marketplaces\": []}".to_vec(), saved.saved_at());
        cache.save(&newer).await.unwrap();
        assert_eq!(cache.load().await.unwrap(), Some(newer));
        let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary file is left behind");
    }

    /// Writers in parallel never share a temporary file: the cache always holds one whole
    /// document, and nothing is left beside it.
    #[test]
    fn concurrent_saves_leave_one_whole_document() {
        let dir = tempfile::tempdir().unwrap();
        let cache = FileConfigCache::new(dir.path().join("config.json"));
        let docs: Vec<Vec<u8>> = (0..8)
            .map(|i| {
                format!(r#"{{"marketplaces": [{}]}}"#, "0,".repeat(i * 500) + "0").into_bytes()
            })
            .collect();
        std::thread::scope(|s| {
            for doc in &docs {
                let cache = cache.clone();
                s.spawn(move || {
                    for _ in 0..10 {
                        cache
                            .write(&CachedConfig::new(
                                doc.clone(),
                                datetime!(2026-12-01 0:00 UTC),
                            ))
                            .unwrap();
                    }
                });
            }
        });
        let kept = cache.read().unwrap().unwrap();
        assert!(docs.iter().any(|d| d == kept.document()));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[tokio::test]
    async fn a_damaged_file_is_corrupt_never_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        let cache = FileConfigCache::new(&path);
        for bad in [
            &b""[..],
            b"{",
            b"[]",
            br#"{"format": "other/1", "saved_at": "2026-12-01T09:00:00Z", "document": {}}"#,
            br#"{"format": "maestrano-config-cache/1", "saved_at": "yesterday", "document": {}}"#,
            br#"{"format": "maestrano-config-cache/1", "saved_at": "2026-12-01T09:00:00Z"}"#,
        ] {
            std::fs::write(&path, bad).unwrap();
            assert!(
                matches!(cache.load().await, Err(ConfigCacheError::Corrupt { .. })),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let huge = vec![b' '; MAX_CONFIG_BYTES + 8192];
        std::fs::write(&path, huge).unwrap();
        assert!(matches!(
            cache.load().await,
            Err(ConfigCacheError::Corrupt { .. })
        ));
        let not_json = CachedConfig::new(b"not json".to_vec(), datetime!(2026-12-01 0:00 UTC));
        assert!(cache.save(&not_json).await.is_err());
    }
}
