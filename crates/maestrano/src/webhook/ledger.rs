//! The delivery ledger: each version of a Connec! entity is applied once, however many times
//! the marketplace delivers it and however many app instances receive the deliveries.
//!
//! Why it is built as a claim and not as "check, apply, record": a marketplace retries a
//! notification while the first attempt may still be running, so two instances can both
//! check before either records, and both apply. Here a delivery is *claimed* first, in one
//! atomic step of the store, with a lease; the claim is completed after the app applied it (or
//! released when the app failed, or left to expire when the instance crashed, so that a retry
//! takes it over).
//!
//! A version is what identifies it: the entity's `updated_at` *and* a SHA-256 of its content
//! (the JSON with keys sorted). The Connec! notification format carries no version counter
//! (see the platform-rendered notification shapes under `tests/data/conformance/shapes/connec/`
//! and the connector framework's `connec_controller_spec` fixture), and `updated_at` alone
//! would merge two edits made within its precision. So:
//! - an older `updated_at` than the one recorded is stale and skipped;
//! - the same `updated_at` with content already applied at that time is a duplicate;
//! - the same `updated_at` with other content is a different version and is applied;
//! - the recorded version only moves forward: completing an older claim never lowers it.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use crate::connec::Entity;
use crate::idmap::IdMapError;
use crate::idmap::store::validate_field;
use crate::ports::{OsRandom, RandomSource};
use crate::types::MarketplaceKey;

/// How long a claim holds by default before another delivery may take it over.
pub const DEFAULT_LEASE: Duration = Duration::seconds(60);

/// How many different contents applied at one `updated_at` a record remembers; an older one
/// redelivered past that is applied again (which an app applying by value tolerates).
pub(crate) const DIGESTS_PER_TIME: usize = 8;

/// How many entities the in-memory store remembers; past that it forgets the oldest.
pub(crate) const IN_MEMORY_LEDGER_CAPACITY: usize = 100_000;

/// Which entity a delivery is about: tenant, Connec! group, entity kind and Connec! id.
///
/// The group is part of the key so that one customer's notifications never touch another
/// customer's entries, even within one marketplace.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DeliveryKey {
    marketplace: MarketplaceKey,
    group: String,
    kind: String,
    connec_id: String,
}

impl DeliveryKey {
    /// The key of `entity` of `kind` notified by `marketplace`; `None` when the entity has no
    /// Connec! id (it cannot be told apart from another, so it is not tracked).
    ///
    /// # Errors
    ///
    /// [`IdMapError::Field`] when the kind, the group or the id breaks the id map's field
    /// rules (1 to 255 bytes, no NUL; an absent group is the empty text).
    pub fn of(
        marketplace: &MarketplaceKey,
        kind: &str,
        entity: &Entity,
    ) -> Result<Option<Self>, IdMapError> {
        let Some(connec_id) = entity.connec_id() else {
            return Ok(None);
        };
        validate_field("entity", kind)?;
        validate_field("remote_id", &connec_id)?;
        let group = entity.group_id().unwrap_or_default();
        if !group.is_empty() {
            validate_field("realm", group)?;
        }
        Ok(Some(Self {
            marketplace: marketplace.clone(),
            group: group.to_owned(),
            kind: kind.to_owned(),
            connec_id,
        }))
    }

    /// The marketplace that notified the entity.
    pub fn marketplace(&self) -> &MarketplaceKey {
        &self.marketplace
    }

    /// The Connec! group (customer) of the entity; empty when the notification named none.
    pub fn group(&self) -> &str {
        &self.group
    }

    /// The entity kind (`people`, `invoices`, …).
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The entity's Connec! id.
    pub fn connec_id(&self) -> &str {
        &self.connec_id
    }
}

/// One version of an entity: its `updated_at` (to the microsecond; the Unix epoch when the
/// notification has none) and the SHA-256 of its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntityVersion {
    updated_at: i64,
    digest: [u8; 32],
}

impl EntityVersion {
    /// The version `entity` carries.
    pub fn of(entity: &Entity) -> Self {
        let mut hasher = Sha256::new();
        for (key, value) in sorted(entity.fields()) {
            hash_str(&mut hasher, key);
            hash_value(&mut hasher, value);
        }
        Self {
            updated_at: entity.updated_at().map_or(0, micros),
            digest: hasher.finalize().into(),
        }
    }

    /// Its `updated_at`, in microseconds since the Unix epoch.
    pub fn updated_at_micros(&self) -> i64 {
        self.updated_at
    }
}

fn micros(at: OffsetDateTime) -> i64 {
    // Every `updated_at` the strict reader accepts fits (years 1 to 9999).
    i64::try_from(at.unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX)
}

fn sorted(map: &serde_json::Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut fields: Vec<_> = map.iter().collect();
    fields.sort_unstable_by(|a, b| a.0.cmp(b.0));
    fields
}

/// Hashes a JSON value with object keys sorted and every item length-prefixed, so two
/// documents hash alike exactly when they hold the same data.
fn hash_value(h: &mut Sha256, value: &Value) {
    match value {
        Value::Null => h.update(b"n"),
        Value::Bool(b) => h.update(if *b { b"t" } else { b"f" }),
        Value::Number(n) => {
            h.update(b"#");
            hash_str(h, &n.to_string());
        }
        Value::String(s) => {
            h.update(b"s");
            hash_str(h, s);
        }
        Value::Array(items) => {
            h.update(b"[");
            h.update((items.len() as u64).to_be_bytes());
            for item in items {
                hash_value(h, item);
            }
        }
        Value::Object(map) => {
            h.update(b"{");
            h.update((map.len() as u64).to_be_bytes());
            for (key, item) in sorted(map) {
                hash_str(h, key);
                hash_value(h, item);
            }
        }
    }
}

fn hash_str(h: &mut Sha256, s: &str) {
    h.update((s.len() as u64).to_be_bytes());
    h.update(s.as_bytes());
}

/// What a [`DeliveryStore`] keeps per entity: the latest applied version (its time and the
/// contents applied at that time) and the claim in progress, if any. Stores keep it as the
/// text of [`encode`](Self::encode) and read it back with [`decode`](Self::decode).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    #[serde(rename = "a", default, skip_serializing_if = "Option::is_none")]
    applied_at: Option<i64>,
    #[serde(rename = "d", default, skip_serializing_if = "Vec::is_empty")]
    applied: Vec<Hex>,
    #[serde(rename = "c", default, skip_serializing_if = "Option::is_none")]
    claim: Option<HeldClaim>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct HeldClaim {
    #[serde(rename = "t")]
    token: String,
    #[serde(rename = "v")]
    updated_at: i64,
    #[serde(rename = "h")]
    digest: Hex,
    #[serde(rename = "u")]
    lease_until: i64,
}

/// A digest as 64 hex digits in the stored text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Hex([u8; 32]);

impl Serialize for Hex {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let text: String = self.0.iter().map(|b| format!("{b:02x}")).collect();
        s.serialize_str(&text)
    }
}

impl<'de> Deserialize<'de> for Hex {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let bytes = text.as_bytes();
        let mut out = [0u8; 32];
        if bytes.len() != 64 {
            return Err(serde::de::Error::invalid_length(
                bytes.len(),
                &"64 hex digits",
            ));
        }
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            let pair = std::str::from_utf8(pair).ok();
            out[i] = pair
                .and_then(|p| u8::from_str_radix(p, 16).ok())
                .ok_or_else(|| serde::de::Error::custom("expected hex digits"))?;
        }
        Ok(Self(out))
    }
}

/// The longest stored record [`DeliveryRecord::decode`] reads.
const MAX_RECORD_BYTES: usize = 4096;

impl DeliveryRecord {
    /// The record as stored text (compact JSON).
    pub fn encode(&self) -> String {
        // A struct of integers, texts and vectors always serializes.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a record [`encode`](Self::encode) wrote.
    ///
    /// # Errors
    ///
    /// [`IdMapError::Store`] when the text is not such a record (a damaged row).
    pub fn decode(text: &str) -> Result<Self, IdMapError> {
        if text.len() > MAX_RECORD_BYTES {
            return Err(IdMapError::store(
                "read a delivery record",
                format!(
                    "expected at most {MAX_RECORD_BYTES} bytes, found {}",
                    text.len()
                ),
            ));
        }
        serde_json::from_str(text).map_err(|e| IdMapError::store("read a delivery record", e))
    }

    fn covers(&self, version: &EntityVersion) -> Option<DeliveryOutcome> {
        let at = self.applied_at?;
        if version.updated_at < at {
            Some(DeliveryOutcome::Stale)
        } else if version.updated_at == at && self.applied.contains(&Hex(version.digest)) {
            Some(DeliveryOutcome::AlreadyApplied)
        } else {
            None
        }
    }

    /// Merges an applied version: later times replace, the same time adds its content.
    fn merge(&mut self, version: &EntityVersion) {
        match self.applied_at {
            Some(at) if version.updated_at < at => {}
            Some(at) if version.updated_at == at => {
                let digest = Hex(version.digest);
                if !self.applied.contains(&digest) {
                    if self.applied.len() >= DIGESTS_PER_TIME {
                        self.applied.remove(0);
                    }
                    self.applied.push(digest);
                }
            }
            _ => {
                self.applied_at = Some(version.updated_at);
                self.applied = vec![Hex(version.digest)];
            }
        }
    }
}

/// One atomic step on the record of an entity, run by [`DeliveryStore::apply`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryStep {
    /// Claim `version` for applying, unless it is covered by what was applied or another
    /// claim still holds.
    Claim {
        /// The version delivered.
        version: EntityVersion,
        /// The claim's token, unique to this claim.
        token: String,
        /// The time now, in microseconds since the Unix epoch.
        now: i64,
        /// When the claim stops holding, in microseconds since the Unix epoch.
        lease_until: i64,
    },
    /// Record `version` as applied and end the claim `token` if it still holds.
    Complete {
        /// The version applied.
        version: EntityVersion,
        /// The claim's token.
        token: String,
    },
    /// End the claim `token` without applying, so that a retry may claim at once.
    Release {
        /// The claim's token.
        token: String,
    },
}

/// What a [`DeliveryStep`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// The version is now claimed by this step's token.
    Claimed,
    /// This very version (time and content) was applied already.
    AlreadyApplied,
    /// A later version was applied already.
    Stale,
    /// Another claim holds until this time (microseconds since the Unix epoch).
    Busy {
        /// When that claim's lease ends.
        until: i64,
    },
    /// The step completed or released; `held` says whether the claim still held (a claim
    /// whose lease ran out may have been taken over by another delivery).
    Ended {
        /// Whether the claim was still this step's.
        held: bool,
    },
}

impl DeliveryStep {
    /// Runs the step on `record` (the default record when the store holds none), returning
    /// what it found and the record to store when it changed. Every [`DeliveryStore`] runs
    /// this one function under its lock, so every backend decides alike.
    pub fn run(&self, record: Option<DeliveryRecord>) -> (DeliveryOutcome, Option<DeliveryRecord>) {
        let mut record = record.unwrap_or_default();
        match self {
            Self::Claim {
                version,
                token,
                now,
                lease_until,
            } => {
                if let Some(done) = record.covers(version) {
                    return (done, None);
                }
                if let Some(held) = &record.claim
                    && held.lease_until > *now
                {
                    return (
                        DeliveryOutcome::Busy {
                            until: held.lease_until,
                        },
                        None,
                    );
                }
                record.claim = Some(HeldClaim {
                    token: token.clone(),
                    updated_at: version.updated_at,
                    digest: Hex(version.digest),
                    lease_until: *lease_until,
                });
                (DeliveryOutcome::Claimed, Some(record))
            }
            Self::Complete { version, token } => {
                let held = record.claim.as_ref().is_some_and(|c| &c.token == token);
                if held {
                    record.claim = None;
                }
                record.merge(version);
                (DeliveryOutcome::Ended { held }, Some(record))
            }
            Self::Release { token } => {
                let held = record.claim.as_ref().is_some_and(|c| &c.token == token);
                if !held {
                    return (DeliveryOutcome::Ended { held }, None);
                }
                record.claim = None;
                (DeliveryOutcome::Ended { held }, Some(record))
            }
        }
    }
}

/// Where the ledger keeps its records: process memory ([`DeliveryLedger::in_memory`]), the
/// SQLite and PostgreSQL stores of `adapters`, or the app's own database.
///
/// An implementation runs [`DeliveryStep::run`] on the stored record of `key` and stores what
/// it returns, as one atomic step across every instance that shares the store (a row lock, a
/// serializable transaction, a compare-and-set loop). It does nothing else: the decisions
/// are all in `run`. `test_util::delivery_conformance` checks an implementation, two
/// instances racing included.
#[async_trait]
pub trait DeliveryStore: Send + Sync + fmt::Debug {
    /// Runs `step` on the record of `key` atomically and returns its outcome.
    async fn apply(
        &self,
        key: &DeliveryKey,
        step: &DeliveryStep,
    ) -> Result<DeliveryOutcome, IdMapError>;

    /// Removes the records of `marketplace` (a marketplace that left), or of its one `group`
    /// (a company that cancelled), and returns how many went.
    async fn erase(
        &self,
        marketplace: &MarketplaceKey,
        group: Option<&str>,
    ) -> Result<u64, IdMapError>;
}

/// Records in process memory: one instance only; past
/// [`IN_MEMORY_LEDGER_CAPACITY`] entities the oldest is forgotten.
#[derive(Debug, Default)]
struct InMemoryDeliveryStore {
    inner: Mutex<Records>,
}

#[derive(Debug, Default)]
struct Records {
    by_key: HashMap<DeliveryKey, DeliveryRecord>,
    order: VecDeque<DeliveryKey>,
}

#[async_trait]
impl DeliveryStore for InMemoryDeliveryStore {
    async fn erase(
        &self,
        marketplace: &MarketplaceKey,
        group: Option<&str>,
    ) -> Result<u64, IdMapError> {
        let mut records = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let before = records.by_key.len();
        let gone =
            |k: &DeliveryKey| &k.marketplace == marketplace && group.is_none_or(|g| k.group == g);
        records.by_key.retain(|k, _| !gone(k));
        records.order.retain(|k| !gone(k));
        Ok((before - records.by_key.len()) as u64)
    }

    async fn apply(
        &self,
        key: &DeliveryKey,
        step: &DeliveryStep,
    ) -> Result<DeliveryOutcome, IdMapError> {
        let mut records = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let (outcome, changed) = step.run(records.by_key.get(key).cloned());
        if let Some(record) = changed {
            if !records.by_key.contains_key(key) {
                while records.by_key.len() >= IN_MEMORY_LEDGER_CAPACITY {
                    let Some(oldest) = records.order.pop_front() else {
                        break;
                    };
                    records.by_key.remove(&oldest);
                }
                records.order.push_back(key.clone());
            }
            records.by_key.insert(key.clone(), record);
        }
        Ok(outcome)
    }
}

/// Applies each version of a Connec! entity once across deliveries and instances.
///
/// ```
/// # async fn demo(entity: maestrano::connec::Entity, now: time::OffsetDateTime) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
/// use maestrano::MarketplaceKey;
/// use maestrano::webhook::{Delivery, DeliveryLedger};
///
/// let ledger = DeliveryLedger::in_memory();
/// let marketplace = MarketplaceKey::new("maestrano-prod")?;
/// match ledger.claim(&marketplace, "people", &entity, now).await? {
///     Delivery::Apply(claim) => {
///         // Apply the entity to the app's data; on failure `claim.release()` lets the
///         // marketplace's retry claim it at once.
///         claim.complete().await?;
///     }
///     Delivery::Untracked => { /* no Connec! id: apply, it cannot be told apart */ }
///     Delivery::AlreadyApplied | Delivery::Stale => { /* nothing to do */ }
///     // Another delivery is applying it: answer with an error so that the marketplace
///     // retries later (the webhook handler answers 503 with Retry-After).
///     Delivery::Busy(busy) => return Err(Box::new(busy)),
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct DeliveryLedger {
    store: Arc<dyn DeliveryStore>,
    lease: Duration,
    random: Arc<dyn RandomSource>,
}

impl fmt::Debug for DeliveryLedger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeliveryLedger")
            .field("store", &self.store)
            .field("lease", &self.lease)
            .finish_non_exhaustive()
    }
}

/// What to do with one delivered entity.
#[derive(Debug)]
#[must_use = "a claim must be completed or released"]
pub enum Delivery {
    /// Apply it, then [`complete`](DeliveryClaim::complete) the claim.
    Apply(DeliveryClaim),
    /// The entity has no Connec! id, so deliveries cannot be told apart: apply it.
    Untracked,
    /// This version was applied already.
    AlreadyApplied,
    /// A later version was applied already.
    Stale,
    /// Another delivery of the entity is being applied; retry after its lease.
    Busy(DeliveryBusy),
}

/// Another delivery of the entity holds a claim. As the sink's error, it makes the webhook
/// handler answer 503 with a `Retry-After`, so the marketplace delivers again later.
#[derive(Debug, Clone, thiserror::Error)]
#[error("another delivery of {kind} {connec_id} is being applied until {until}")]
pub struct DeliveryBusy {
    kind: String,
    connec_id: String,
    until: OffsetDateTime,
}

impl DeliveryBusy {
    /// When the other claim's lease ends.
    pub fn until(&self) -> OffsetDateTime {
        self.until
    }
}

/// A claimed delivery: the app applies the entity, then completes the claim. Dropping it
/// without completing leaves the claim to expire with its lease.
#[derive(Debug)]
#[must_use = "a claim must be completed or released"]
pub struct DeliveryClaim {
    store: Arc<dyn DeliveryStore>,
    key: DeliveryKey,
    version: EntityVersion,
    token: String,
    lease_until: OffsetDateTime,
}

impl DeliveryClaim {
    /// The claimed entity.
    pub fn key(&self) -> &DeliveryKey {
        &self.key
    }

    /// When the claim stops holding: the app should finish applying before then.
    pub fn lease_until(&self) -> OffsetDateTime {
        self.lease_until
    }

    /// Records the version as applied. Returns whether the claim still held; `false` means
    /// its lease ran out first, so another delivery may have applied the entity too (raise
    /// the lease with [`DeliveryLedger::with_lease`]).
    ///
    /// # Errors
    ///
    /// A store failure.
    pub async fn complete(self) -> Result<bool, IdMapError> {
        let step = DeliveryStep::Complete {
            version: self.version,
            token: self.token,
        };
        let held = ended(self.store.apply(&self.key, &step).await?);
        if !held {
            tracing::warn!(
                kind = self.key.kind(),
                "a delivery completed after its lease ran out; raise the ledger's lease"
            );
        }
        Ok(held)
    }

    /// Gives the claim up without applying (the app failed), so that a retry claims at once.
    ///
    /// # Errors
    ///
    /// A store failure.
    pub async fn release(self) -> Result<(), IdMapError> {
        let step = DeliveryStep::Release { token: self.token };
        self.store.apply(&self.key, &step).await.map(|_| ())
    }
}

fn ended(outcome: DeliveryOutcome) -> bool {
    matches!(outcome, DeliveryOutcome::Ended { held: true })
}

fn time_of(micros: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

impl DeliveryLedger {
    /// A ledger in process memory: right for one instance; several instances need a shared
    /// store ([`new`](Self::new) with the SQLite or PostgreSQL store).
    pub fn in_memory() -> Self {
        Self::new(Arc::new(InMemoryDeliveryStore::default()))
    }

    /// A ledger on `store`, shared by every instance that opens the same database.
    pub fn new(store: Arc<dyn DeliveryStore>) -> Self {
        Self {
            store,
            lease: DEFAULT_LEASE,
            random: Arc::new(OsRandom),
        }
    }

    /// How long a claim holds before a retry may take it over (default [`DEFAULT_LEASE`]):
    /// longer than the app ever takes to apply one entity.
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// Forgets the deliveries of `marketplace`, or of its one `group`: the offboarding of
    /// [`Offboarding`](crate::offboard::Offboarding). How many records went.
    pub async fn erase(
        &self,
        marketplace: &MarketplaceKey,
        group: Option<&str>,
    ) -> Result<u64, IdMapError> {
        self.store.erase(marketplace, group).await
    }

    /// Claims `entity` of `kind`, notified by `marketplace`, for applying at `now`.
    ///
    /// # Errors
    ///
    /// [`IdMapError::Field`] when the kind, the group or the Connec! id breaks the id map's
    /// field rules; a store failure.
    pub async fn claim(
        &self,
        marketplace: &MarketplaceKey,
        kind: &str,
        entity: &Entity,
        now: OffsetDateTime,
    ) -> Result<Delivery, IdMapError> {
        let Some(key) = DeliveryKey::of(marketplace, kind, entity)? else {
            return Ok(Delivery::Untracked);
        };
        let version = EntityVersion::of(entity);
        let mut bytes = [0u8; 16];
        self.random
            .fill(&mut bytes)
            .map_err(|e| IdMapError::store("draw a claim token", e))?;
        let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let lease_until = now + self.lease;
        let step = DeliveryStep::Claim {
            version,
            token: token.clone(),
            now: micros(now),
            lease_until: micros(lease_until),
        };
        Ok(match self.store.apply(&key, &step).await? {
            DeliveryOutcome::Claimed => Delivery::Apply(DeliveryClaim {
                store: self.store.clone(),
                key,
                version,
                token,
                lease_until,
            }),
            DeliveryOutcome::AlreadyApplied => Delivery::AlreadyApplied,
            DeliveryOutcome::Stale => Delivery::Stale,
            DeliveryOutcome::Busy { until } => Delivery::Busy(DeliveryBusy {
                kind: key.kind,
                connec_id: key.connec_id,
                until: time_of(until),
            }),
            DeliveryOutcome::Ended { .. } => {
                return Err(IdMapError::store(
                    "claim a delivery",
                    "the store answered a claim with the outcome of another step",
                ));
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entity(value: Value) -> Entity {
        Entity::from_value(value).unwrap()
    }

    #[test]
    fn the_digest_ignores_key_order_and_tells_values_apart() {
        let a = entity(json!({"id": "p", "a": 1, "b": {"x": [1, "2"], "y": null}}));
        let b = entity(json!({"b": {"y": null, "x": [1, "2"]}, "a": 1, "id": "p"}));
        let c = entity(json!({"id": "p", "a": 1, "b": {"x": [1, 2], "y": null}}));
        let d = entity(json!({"id": "p", "a": "1", "b": {"x": [1, "2"], "y": null}}));
        assert_eq!(EntityVersion::of(&a), EntityVersion::of(&b));
        assert_ne!(EntityVersion::of(&a), EntityVersion::of(&c));
        assert_ne!(EntityVersion::of(&a), EntityVersion::of(&d));
    }

    #[test]
    fn records_round_trip_and_damaged_text_is_refused() {
        let mut record = DeliveryRecord::default();
        record.merge(&EntityVersion {
            updated_at: 5,
            digest: [7; 32],
        });
        record.claim = Some(HeldClaim {
            token: "t".into(),
            updated_at: 6,
            digest: Hex([1; 32]),
            lease_until: 9,
        });
        assert_eq!(DeliveryRecord::decode(&record.encode()).unwrap(), record);
        assert_eq!(
            DeliveryRecord::decode("{}").unwrap(),
            DeliveryRecord::default()
        );
        for bad in [r#"{"d":["zz"]}"#, "[", r#"{"a":"x"}"#] {
            assert!(DeliveryRecord::decode(bad).is_err(), "{bad}");
        }
        assert!(DeliveryRecord::decode(&" ".repeat(MAX_RECORD_BYTES + 1)).is_err());
    }

    #[test]
    fn contents_at_one_time_are_bounded() {
        let mut record = DeliveryRecord::default();
        for i in 0..=DIGESTS_PER_TIME as u8 {
            record.merge(&EntityVersion {
                updated_at: 1,
                digest: [i; 32],
            });
        }
        assert_eq!(record.applied.len(), DIGESTS_PER_TIME);
        assert!(!record.applied.contains(&Hex([0; 32])), "the oldest went");
    }
}
