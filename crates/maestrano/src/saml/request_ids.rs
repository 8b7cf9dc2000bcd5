//! The `RequestIdStore` port: AuthnRequest IDs the app issued, each usable once.

use std::collections::{HashMap, VecDeque};
use std::fmt::Debug;
use std::sync::Mutex;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::types::MarketplaceKey;

/// The request id store could not answer. The login fails closed on it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RequestIdStoreError {
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
///
/// When it is full, the oldest pending requests are forgotten: the init route is open to
/// anyone, so refusing new requests would let anyone block every login, while forgetting an
/// old one can only make that one login fail (it never lets anything in).
#[derive(Debug)]
pub struct InMemoryRequestIdStore {
    state: Mutex<Pending>,
    capacity: usize,
}

#[derive(Debug, Default)]
struct Pending {
    by_id: HashMap<String, (MarketplaceKey, OffsetDateTime)>,
    /// Ids in the order they were remembered; may still hold ids already consumed.
    order: VecDeque<String>,
}

impl InMemoryRequestIdStore {
    /// Default capacity: 100,000 pending requests.
    pub const DEFAULT_CAPACITY: usize = 100_000;

    /// A store holding at most [`Self::DEFAULT_CAPACITY`] pending requests.
    pub fn new() -> Self {
        Self::with_capacity(Self::DEFAULT_CAPACITY)
    }

    /// A store holding at most `capacity` pending requests (at least one); when full, the
    /// oldest are forgotten.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            state: Mutex::new(Pending::default()),
            capacity: capacity.max(1),
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
        _now: OffsetDateTime,
    ) -> Result<(), RequestIdStoreError> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        while state.by_id.len() >= self.capacity {
            let Some(oldest) = state.order.pop_front() else {
                break;
            };
            state.by_id.remove(&oldest);
        }
        // Ids consumed long ago linger in `order`; keep it from growing past twice the
        // capacity.
        if state.order.len() >= 2 * self.capacity {
            let Pending { by_id, order } = &mut *state;
            order.retain(|id| by_id.contains_key(id));
        }
        if state
            .by_id
            .insert(request_id.to_owned(), (marketplace.clone(), expires_at))
            .is_none()
        {
            state.order.push_back(request_id.to_owned());
        }
        Ok(())
    }

    async fn consume(
        &self,
        marketplace: &MarketplaceKey,
        request_id: &str,
        now: OffsetDateTime,
    ) -> Result<bool, RequestIdStoreError> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        Ok(match state.by_id.get(request_id) {
            Some((m, exp)) if m == marketplace && *exp > now => {
                state.by_id.remove(request_id);
                true
            }
            // Another tenant's id stays pending for that tenant.
            Some((m, _)) if m != marketplace => false,
            Some(_) => {
                state.by_id.remove(request_id);
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
    async fn a_full_store_forgets_its_oldest_requests() {
        let s = InMemoryRequestIdStore::with_capacity(2);
        let a = MarketplaceKey::new("a").unwrap();
        let t0 = datetime!(2024-01-01 0:00 UTC);
        let exp = datetime!(2024-01-01 0:10 UTC);
        for id in ["_1", "_2", "_3"] {
            s.remember(&a, id, exp, t0).await.unwrap();
        }
        assert!(
            !s.consume(&a, "_1", t0).await.unwrap(),
            "the oldest was forgotten"
        );
        assert!(s.consume(&a, "_2", t0).await.unwrap());
        assert!(s.consume(&a, "_3", t0).await.unwrap());
        // Many requests never answered: memory stays bounded.
        for i in 0..1000 {
            s.remember(&a, &format!("_x{i}"), exp, t0).await.unwrap();
        }
        let state = s.state.lock().unwrap();
        assert!(state.by_id.len() <= 2 && state.order.len() <= 4);
    }
}
