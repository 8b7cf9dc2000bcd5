//! The `SingleUseStore` port: whatever must be used once across every instance of the app.
//!
//! Two things go through it today: the assertions of SAML Responses (recorded when a login
//! uses them, so that a replay is refused) and the ids of AuthnRequests (recorded when a login
//! starts, taken when the answer arrives, so that a response completes only a login this app
//! started, for this tenant, once). Both are the same operation on a shared store: an atomic
//! "insert if absent" and an atomic "take", each with an expiry. One store behind both means
//! one thing to deploy (a Redis server, a SQL table) and one conformance suite to pass
//! ([`single_use_conformance`](crate::test_util::single_use_conformance)).

use std::collections::{HashMap, VecDeque};
use std::fmt::{self, Debug};
use std::sync::Mutex;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::types::MarketplaceKey;

/// What a single-use entry stands for. Each purpose is a namespace of its own: an assertion id
/// never collides with a request id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Purpose {
    /// A SAML assertion a login used: the scope is the issuing IdP, the id the assertion's `ID`.
    Assertion,
    /// An AuthnRequest the app issued and not yet saw answered: the scope is the marketplace
    /// key of the tenant that issued it, the id the request's `ID`.
    AuthnRequest,
    /// A slot a pending login holds, which bounds how many logins a client and a tenant may
    /// have pending: the scope is the marketplace key, the id the slot's number.
    LoginSlot,
    /// A job's lease on a marketplace, so that one instance runs it at a time (the
    /// reconciliation): the scope is the marketplace key, the id the job's name.
    Lease,
}

impl Purpose {
    /// The purpose as stored: `"assertion"`, `"authn_request"`, `"login_slot"` or `"lease"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Assertion => "assertion",
            Self::AuthnRequest => "authn_request",
            Self::LoginSlot => "login_slot",
            Self::Lease => "lease",
        }
    }

    /// The purposes whose entries a marketplace owns, under its key as their scope (what
    /// [`SingleUseStore::erase_marketplace`] removes): all but [`Purpose::Assertion`].
    pub const OWNED_BY_MARKETPLACE: [Purpose; 3] =
        [Purpose::AuthnRequest, Purpose::LoginSlot, Purpose::Lease];

    /// Whether entries of this purpose are a marketplace's own ([`Self::OWNED_BY_MARKETPLACE`]).
    pub fn owned_by_marketplace(self) -> bool {
        Self::OWNED_BY_MARKETPLACE.contains(&self)
    }

    /// Whether a bounded store may forget an entry of this purpose to make room.
    ///
    /// Forgetting a pending request can only make that login fail (it never lets anything
    /// in), while refusing new requests when full would let a flood of the open init route
    /// stop every new login until the flood's entries expire. `SsoFlow` bounds the pending
    /// logins of each client and each tenant with login slots, which are never forgotten, so
    /// a flood fills its own slots first; only a store too small for those bounds forgets the
    /// oldest pending requests. Forgetting a used assertion would let it be replayed: a full
    /// store refuses instead.
    fn evictable(self) -> bool {
        matches!(self, Self::AuthnRequest)
    }
}

impl fmt::Display for Purpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One single-use entry: a purpose, the scope it belongs to and an id within that scope.
///
/// ```
/// use maestrano::MarketplaceKey;
/// use maestrano::ports::{OnceKey, Purpose};
///
/// let key = OnceKey::authn_request(&MarketplaceKey::new("acme")?, "_4c5a2b1e");
/// assert_eq!(key.purpose(), Purpose::AuthnRequest);
/// assert_eq!(key.scope(), "acme");
/// assert_eq!(key.id(), "_4c5a2b1e");
/// # Ok::<(), maestrano::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OnceKey {
    purpose: Purpose,
    scope: String,
    id: String,
}

impl OnceKey {
    /// The key of an assertion: its issuer (the IdP's entity id, or the marketplace key when the
    /// assertion names no issuer) and its `ID`.
    pub fn assertion(issuer: &str, assertion_id: &str) -> Self {
        Self {
            purpose: Purpose::Assertion,
            scope: issuer.to_owned(),
            id: assertion_id.to_owned(),
        }
    }

    /// The key of an AuthnRequest `request_id` issued for `marketplace`. The same id issued for
    /// another marketplace is another key: a tenant never takes another tenant's request.
    pub fn authn_request(marketplace: &MarketplaceKey, request_id: &str) -> Self {
        Self {
            purpose: Purpose::AuthnRequest,
            scope: marketplace.as_str().to_owned(),
            id: request_id.to_owned(),
        }
    }

    /// The key of pending-login slot `slot` of `marketplace`.
    pub(crate) fn login_slot(marketplace: &MarketplaceKey, slot: u32) -> Self {
        Self {
            purpose: Purpose::LoginSlot,
            scope: marketplace.as_str().to_owned(),
            id: slot.to_string(),
        }
    }

    /// The key of the lease of job `job` on `marketplace`.
    pub fn lease(marketplace: &MarketplaceKey, job: &str) -> Self {
        Self {
            purpose: Purpose::Lease,
            scope: marketplace.as_str().to_owned(),
            id: job.to_owned(),
        }
    }

    /// What the entry stands for.
    pub fn purpose(&self) -> Purpose {
        self.purpose
    }

    /// The scope: the issuer of an assertion, the marketplace of a request.
    pub fn scope(&self) -> &str {
        &self.scope
    }

    /// The id within the scope.
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// The single-use store could not answer. Whatever asked fails closed on it: a login is
/// refused, never let through unchecked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SingleUseError {
    /// The store is full of entries that have not expired and may not be forgotten.
    #[error("single-use store is full ({capacity} unexpired entries)")]
    Full {
        /// The capacity.
        capacity: usize,
    },
    /// The backing store failed (the message has the whole chain of causes, never a secret).
    #[error("single-use store failed: {0}")]
    Store(String),
}

/// Entries that must be used once across every instance of the app, each until it expires.
///
/// Both methods must be atomic across every instance that shares the store: of two concurrent
/// [`insert_if_absent`](Self::insert_if_absent) calls with one key, exactly one returns `true`;
/// of two concurrent [`take`](Self::take) calls, at most one does. An expired entry counts as
/// absent. Implementations: [`InMemorySingleUseStore`] (one instance), and behind features
/// `SqliteStore`, `PostgresStore` and `RedisStore` in [`adapters`](crate::adapters). Check a
/// store of your own with [`single_use_conformance`](crate::test_util::single_use_conformance).
#[async_trait]
pub trait SingleUseStore: Send + Sync + Debug {
    /// Records `key` until `expires_at` and returns `true`; returns `false` and changes nothing
    /// when `key` is already recorded and unexpired at `now`.
    async fn insert_if_absent(
        &self,
        key: &OnceKey,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, SingleUseError>;

    /// Removes `key` and returns `true` when it is recorded and unexpired at `now`; returns
    /// `false` otherwise (never recorded, expired, or already taken).
    async fn take(&self, key: &OnceKey, now: OffsetDateTime) -> Result<bool, SingleUseError>;

    /// Removes the entries a marketplace owns under `marketplace`, expired or not: its
    /// pending login requests, login slots and leases ([`Purpose::owned_by_marketplace`]);
    /// never a used assertion, which must keep refusing its replay until it expires. Returns
    /// how many went. The offboarding of a marketplace that left
    /// ([`Offboarding`](crate::offboard::Offboarding)).
    async fn erase_marketplace(&self, marketplace: &MarketplaceKey) -> Result<u64, SingleUseError>;
}

#[async_trait]
impl<S: SingleUseStore + ?Sized> SingleUseStore for std::sync::Arc<S> {
    async fn insert_if_absent(
        &self,
        key: &OnceKey,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, SingleUseError> {
        (**self).insert_if_absent(key, expires_at, now).await
    }

    async fn take(&self, key: &OnceKey, now: OffsetDateTime) -> Result<bool, SingleUseError> {
        (**self).take(key, now).await
    }

    async fn erase_marketplace(&self, marketplace: &MarketplaceKey) -> Result<u64, SingleUseError> {
        (**self).erase_marketplace(marketplace).await
    }
}

/// A single-use store in process memory, bounded in size.
///
/// Right for one application instance. Several instances behind a load balancer need a shared
/// store (`RedisStore`, `PostgresStore`, or `SqliteStore` on one host): with this one a login
/// started on instance A and answered on instance B is refused.
///
/// When full it first forgets expired entries, then the oldest pending AuthnRequests; when what
/// remains are unexpired assertions it refuses with [`SingleUseError::Full`] (see why at
/// [`Purpose`]).
pub struct InMemorySingleUseStore {
    state: Mutex<Entries>,
    capacity: usize,
}

#[derive(Default)]
struct Entries {
    expiry: HashMap<OnceKey, OffsetDateTime>,
    /// Evictable keys in the order they were inserted; may still hold keys already taken.
    evictable: VecDeque<OnceKey>,
}

impl Entries {
    fn make_room(&mut self, capacity: usize, now: OffsetDateTime) -> bool {
        if self.expiry.len() < capacity {
            return true;
        }
        self.expiry.retain(|_, exp| *exp > now);
        while self.expiry.len() >= capacity {
            let Some(oldest) = self.evictable.pop_front() else {
                return false;
            };
            self.expiry.remove(&oldest);
        }
        true
    }

    fn remember_evictable(&mut self, key: &OnceKey, capacity: usize) {
        // Keys taken long ago linger in `evictable`; keep it within twice the capacity
        // (amortized: one pass per `capacity` insertions).
        if self.evictable.len() >= 2 * capacity {
            let expiry = &self.expiry;
            self.evictable.retain(|k| expiry.contains_key(k));
        }
        self.evictable.push_back(key.clone());
    }
}

impl Debug for InMemorySingleUseStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InMemorySingleUseStore")
            .field("len", &self.len())
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl InMemorySingleUseStore {
    /// Default capacity: 100,000 unexpired entries.
    pub const DEFAULT_CAPACITY: usize = 100_000;

    /// A store holding at most [`Self::DEFAULT_CAPACITY`] entries.
    pub fn new() -> Self {
        Self::with_capacity(Self::DEFAULT_CAPACITY)
    }

    /// A store holding at most `capacity` entries (at least one).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            state: Mutex::new(Entries::default()),
            capacity: capacity.max(1),
        }
    }

    /// How many entries are held (expired ones included until room is next made).
    pub fn len(&self) -> usize {
        self.lock().expiry.len()
    }

    /// Whether the store holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Default for InMemorySingleUseStore {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl SingleUseStore for InMemorySingleUseStore {
    async fn insert_if_absent(
        &self,
        key: &OnceKey,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, SingleUseError> {
        let mut state = self.lock();
        match state.expiry.get(key) {
            Some(exp) if *exp > now => return Ok(false),
            Some(_) => {}
            None => {
                if !state.make_room(self.capacity, now) {
                    return Err(SingleUseError::Full {
                        capacity: self.capacity,
                    });
                }
                if key.purpose.evictable() {
                    state.remember_evictable(key, self.capacity);
                }
            }
        }
        state.expiry.insert(key.clone(), expires_at);
        Ok(true)
    }

    async fn take(&self, key: &OnceKey, now: OffsetDateTime) -> Result<bool, SingleUseError> {
        let mut state = self.lock();
        Ok(match state.expiry.remove(key) {
            Some(exp) => exp > now,
            None => false,
        })
    }

    async fn erase_marketplace(&self, marketplace: &MarketplaceKey) -> Result<u64, SingleUseError> {
        let mut state = self.lock();
        let before = state.expiry.len();
        state
            .expiry
            .retain(|k, _| !(k.purpose.owned_by_marketplace() && k.scope == marketplace.as_str()));
        Ok((before - state.expiry.len()) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2024-01-01 0:00 UTC);
    const T1: OffsetDateTime = datetime!(2024-01-01 0:01 UTC);
    const T9: OffsetDateTime = datetime!(2024-01-01 0:09 UTC);

    fn request(id: &str) -> OnceKey {
        OnceKey::authn_request(&MarketplaceKey::new("a").unwrap(), id)
    }

    #[tokio::test]
    async fn a_full_store_forgets_pending_requests_but_never_used_assertions() {
        let s = InMemorySingleUseStore::with_capacity(2);
        assert!(
            s.insert_if_absent(&OnceKey::assertion("idp", "_a"), T9, T0)
                .await
                .unwrap()
        );
        assert!(s.insert_if_absent(&request("_1"), T9, T0).await.unwrap());
        assert!(s.insert_if_absent(&request("_2"), T9, T0).await.unwrap());
        assert!(!s.take(&request("_1"), T0).await.unwrap(), "forgotten");
        assert!(
            s.insert_if_absent(&OnceKey::assertion("idp", "_b"), T9, T0)
                .await
                .unwrap(),
            "the pending request _2 made room"
        );
        assert!(matches!(
            s.insert_if_absent(&OnceKey::assertion("idp", "_c"), T9, T0)
                .await,
            Err(SingleUseError::Full { capacity: 2 })
        ));
        assert!(
            !s.insert_if_absent(&OnceKey::assertion("idp", "_a"), T9, T0)
                .await
                .unwrap(),
            "a used assertion is still remembered"
        );
    }

    #[tokio::test]
    async fn expired_entries_make_room_and_memory_stays_bounded() {
        let s = InMemorySingleUseStore::with_capacity(2);
        let a = OnceKey::assertion("idp", "_a");
        assert!(s.insert_if_absent(&a, T1, T0).await.unwrap());
        assert!(
            s.insert_if_absent(&OnceKey::assertion("idp", "_b"), T9, T0)
                .await
                .unwrap()
        );
        assert!(
            s.insert_if_absent(&OnceKey::assertion("idp", "_c"), T9, T1)
                .await
                .unwrap(),
            "_a expired at T1"
        );
        // Many logins answered, many never answered: memory stays bounded either way.
        let r = InMemorySingleUseStore::with_capacity(2);
        for i in 0..1000 {
            let answered = request(&format!("_x{i}"));
            assert!(r.insert_if_absent(&answered, T9, T1).await.unwrap());
            assert!(r.take(&answered, T1).await.unwrap());
            let abandoned = request(&format!("_y{i}"));
            assert!(r.insert_if_absent(&abandoned, T9, T1).await.unwrap());
        }
        let state = r.lock();
        assert!(state.expiry.len() <= 2, "{}", state.expiry.len());
        assert!(state.evictable.len() <= 4, "{}", state.evictable.len());
    }
}
