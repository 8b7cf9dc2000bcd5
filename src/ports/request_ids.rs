//! The `RequestIdStore` port: AuthnRequest IDs the app issued, each usable once.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Mutex;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::types::MarketplaceKey;

/// The request id store could not answer. The login fails closed on it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RequestIdStoreError {
    /// The store is full of pending requests that have not expired.
    #[error("request id store is full ({capacity} pending requests)")]
    Full {
        /// The capacity.
        capacity: usize,
    },
    /// The backing store failed.
    #[error("request id store failed: {0}")]
    Store(String),
}

/// Remembers the IDs of AuthnRequests until they are answered or expire.
///
/// [`consume`](Self::consume) must be atomic: of two concurrent calls with the same id, at most
/// one returns `true`.
#[async_trait]
pub trait RequestIdStore: Send + Sync + Debug {
    /// Records that `marketplace` issued `request_id`, valid until `expires_at`.
    async fn remember(
        &self,
        marketplace: &MarketplaceKey,
        request_id: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), RequestIdStoreError>;

    /// Removes `request_id` and returns `true` when `marketplace` issued it and it has not
    /// expired at `now`; `false` otherwise (unknown, another tenant's, expired or used).
    async fn consume(
        &self,
        marketplace: &MarketplaceKey,
        request_id: &str,
        now: OffsetDateTime,
    ) -> Result<bool, RequestIdStoreError>;
}

#[async_trait]
impl<S: RequestIdStore + ?Sized> RequestIdStore for std::sync::Arc<S> {
    async fn remember(
        &self,
        marketplace: &MarketplaceKey,
        request_id: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), RequestIdStoreError> {
        (**self)
            .remember(marketplace, request_id, expires_at, now)
            .await
    }

    async fn consume(
        &self,
        marketplace: &MarketplaceKey,
        request_id: &str,
        now: OffsetDateTime,
    ) -> Result<bool, RequestIdStoreError> {
        (**self).consume(marketplace, request_id, now).await
    }
}

/// A request id store in process memory, bounded in size.
#[derive(Debug)]
pub struct InMemoryRequestIdStore {
    pending: Mutex<HashMap<String, (MarketplaceKey, OffsetDateTime)>>,
    capacity: usize,
}

impl InMemoryRequestIdStore {
    /// Default capacity: 100,000 pending requests.
    pub const DEFAULT_CAPACITY: usize = 100_000;

    /// A store holding at most [`Self::DEFAULT_CAPACITY`] pending requests.
    pub fn new() -> Self {
        Self::with_capacity(Self::DEFAULT_CAPACITY)
    }

    /// A store holding at most `capacity` pending requests; when full, new ones are refused
    /// rather than older ones forgotten.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            pending: Mutex::new(HashMap::new()),
            capacity,
        }
    }
}

impl Default for InMemoryRequestIdStore {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl RequestIdStore for InMemoryRequestIdStore {
    async fn remember(
        &self,
        marketplace: &MarketplaceKey,
        request_id: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), RequestIdStoreError> {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        if pending.len() >= self.capacity {
            pending.retain(|_, (_, exp)| *exp > now);
            if pending.len() >= self.capacity {
                return Err(RequestIdStoreError::Full {
                    capacity: self.capacity,
                });
            }
        }
        pending.insert(request_id.to_owned(), (marketplace.clone(), expires_at));
        Ok(())
    }

    async fn consume(
        &self,
        marketplace: &MarketplaceKey,
        request_id: &str,
        now: OffsetDateTime,
    ) -> Result<bool, RequestIdStoreError> {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        Ok(match pending.get(request_id) {
            Some((m, exp)) if m == marketplace && *exp > now => {
                pending.remove(request_id);
                true
            }
            // Another tenant's id stays pending for that tenant.
            Some((m, _)) if m != marketplace => false,
            Some(_) => {
                pending.remove(request_id);
                false
            }
            None => false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[tokio::test]
    async fn an_id_is_consumed_once_by_its_own_tenant_before_expiry() {
        let s = InMemoryRequestIdStore::new();
        let a = MarketplaceKey::new("a").unwrap();
        let b = MarketplaceKey::new("b").unwrap();
        let t0 = datetime!(2024-01-01 0:00 UTC);
        let exp = datetime!(2024-01-01 0:10 UTC);
        s.remember(&a, "_1", exp, t0).await.unwrap();
        assert!(
            !s.consume(&b, "_1", t0).await.unwrap(),
            "another tenant's id"
        );
        assert!(s.consume(&a, "_1", t0).await.unwrap());
        assert!(!s.consume(&a, "_1", t0).await.unwrap(), "used once");
        s.remember(&a, "_2", exp, t0).await.unwrap();
        assert!(!s.consume(&a, "_2", exp).await.unwrap(), "expired");
        assert!(!s.consume(&a, "_3", t0).await.unwrap(), "unknown");
    }

    #[tokio::test]
    async fn a_full_store_refuses_new_ids() {
        let s = InMemoryRequestIdStore::with_capacity(1);
        let a = MarketplaceKey::new("a").unwrap();
        let t0 = datetime!(2024-01-01 0:00 UTC);
        let exp = datetime!(2024-01-01 0:10 UTC);
        s.remember(&a, "_1", exp, t0).await.unwrap();
        assert!(matches!(
            s.remember(&a, "_2", exp, t0).await,
            Err(RequestIdStoreError::Full { capacity: 1 })
        ));
        s.remember(&a, "_3", exp, exp).await.unwrap();
    }
}
