//! The `ReplayCache` port: remembers which SAML assertions were already used.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Mutex;

use async_trait::async_trait;
use time::OffsetDateTime;

/// Identifies one assertion: the issuing IdP and the assertion's `ID`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReplayKey {
    /// The IdP (its entity id, or the marketplace key when the assertion names no issuer).
    pub issuer: String,
    /// The assertion's `ID` attribute.
    pub assertion_id: String,
}

/// The replay cache could not answer. Validation fails closed on it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayCacheError {
    /// The cache is full of entries that have not expired yet.
    #[error("replay cache is full ({capacity} unexpired entries)")]
    Full {
        /// The capacity.
        capacity: usize,
    },
    /// The backing store failed.
    #[error("replay cache store failed: {0}")]
    Store(String),
}

/// Remembers used assertions until they expire.
///
/// Implementations must make [`insert_if_absent`](Self::insert_if_absent) atomic: of two
/// concurrent calls with the same key, exactly one returns `true`.
#[async_trait]
pub trait ReplayCache: Send + Sync + Debug {
    /// Records `key` until `expires_at` and returns `true`, or returns `false` when `key` is
    /// already recorded and has not expired at `now`.
    async fn insert_if_absent(
        &self,
        key: &ReplayKey,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, ReplayCacheError>;
}

#[async_trait]
impl<C: ReplayCache + ?Sized> ReplayCache for std::sync::Arc<C> {
    async fn insert_if_absent(
        &self,
        key: &ReplayKey,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, ReplayCacheError> {
        (**self).insert_if_absent(key, expires_at, now).await
    }
}

/// A replay cache in process memory, bounded in size.
///
/// Right for a single application instance; several instances behind a load balancer need a
/// shared store (SQLite on a shared volume, or PostgreSQL).
#[derive(Debug)]
pub struct InMemoryReplayCache {
    entries: Mutex<HashMap<ReplayKey, OffsetDateTime>>,
    capacity: usize,
}

impl InMemoryReplayCache {
    /// Default capacity: 100,000 unexpired assertions.
    pub const DEFAULT_CAPACITY: usize = 100_000;

    /// A cache holding at most [`Self::DEFAULT_CAPACITY`] entries.
    pub fn new() -> Self {
        Self::with_capacity(Self::DEFAULT_CAPACITY)
    }

    /// A cache holding at most `capacity` unexpired entries. When it is full, new assertions
    /// are refused (fail closed) rather than old ones forgotten.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    /// How many entries are held (expired ones included until the next purge).
    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether the cache holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for InMemoryReplayCache {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl ReplayCache for InMemoryReplayCache {
    async fn insert_if_absent(
        &self,
        key: &ReplayKey,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, ReplayCacheError> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(exp) = entries.get(key)
            && *exp > now
        {
            return Ok(false);
        }
        if entries.len() >= self.capacity && !entries.contains_key(key) {
            entries.retain(|_, exp| *exp > now);
            if entries.len() >= self.capacity {
                return Err(ReplayCacheError::Full {
                    capacity: self.capacity,
                });
            }
        }
        entries.insert(key.clone(), expires_at);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn key(id: &str) -> ReplayKey {
        ReplayKey {
            issuer: "idp".into(),
            assertion_id: id.into(),
        }
    }

    #[tokio::test]
    async fn second_insert_is_refused_until_expiry() {
        let c = InMemoryReplayCache::new();
        let t0 = datetime!(2020-01-01 0:00 UTC);
        let exp = datetime!(2020-01-01 0:05 UTC);
        assert!(c.insert_if_absent(&key("a"), exp, t0).await.unwrap());
        assert!(!c.insert_if_absent(&key("a"), exp, t0).await.unwrap());
        assert!(c.insert_if_absent(&key("b"), exp, t0).await.unwrap());
        assert!(c.insert_if_absent(&key("a"), exp, exp).await.unwrap());
    }

    #[tokio::test]
    async fn full_cache_purges_expired_then_fails_closed() {
        let c = InMemoryReplayCache::with_capacity(2);
        let t0 = datetime!(2020-01-01 0:00 UTC);
        let t1 = datetime!(2020-01-01 0:01 UTC);
        let t9 = datetime!(2020-01-01 0:09 UTC);
        assert!(c.insert_if_absent(&key("a"), t1, t0).await.unwrap());
        assert!(c.insert_if_absent(&key("b"), t9, t0).await.unwrap());
        assert!(matches!(
            c.insert_if_absent(&key("c"), t9, t0).await,
            Err(ReplayCacheError::Full { capacity: 2 })
        ));
        // At t1 "a" has expired, so there is room again.
        assert!(c.insert_if_absent(&key("c"), t9, t1).await.unwrap());
        assert_eq!(c.len(), 2);
    }
}
