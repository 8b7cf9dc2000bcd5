//! The `PushOutbox` port: pushes to a remote API recorded durably, in the store of the id map.

use std::fmt;

use async_trait::async_trait;
use serde_json::Value;
use time::{Duration, OffsetDateTime};

use crate::idmap::store::validate_field;
use crate::idmap::{IdMap, IdMapError, IdMapStore, LocalRef, Realm};
use crate::types::json_kind;

/// Largest payload accepted by [`PushOutbox::enqueue`], in bytes of compact JSON.
pub const MAX_PUSH_PAYLOAD_BYTES: usize = 256 * 1024;

/// Most pushes one [`PushOutbox::claim`] or [`PushOutbox::failed`] call returns.
pub const MAX_CLAIM: usize = 1_000;

/// The id of a push in its outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PushId(i64);

impl PushId {
    /// The id a store gave the push.
    pub fn new(id: i64) -> Self {
        Self(id)
    }

    /// The number.
    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for PushId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "push #{}", self.0)
    }
}

/// What to push: the local record, where to (realm: the marketplace and its group), which
/// remote entity (the Connec! collection, which is also the entity name of the link), and the
/// fields.
#[derive(Debug, Clone, PartialEq)]
pub struct PushIntent {
    local: LocalRef,
    realm: Realm,
    entity: String,
    payload: Value,
}

impl PushIntent {
    /// A checked intent: `entity` is a valid id map field, `payload` a JSON object of at most
    /// [`MAX_PUSH_PAYLOAD_BYTES`].
    pub fn new(
        local: LocalRef,
        realm: Realm,
        entity: impl Into<String>,
        payload: Value,
    ) -> Result<Self, OutboxError> {
        let entity = entity.into();
        validate_field("entity", &entity).map_err(IdMapError::from)?;
        if !payload.is_object() {
            return Err(OutboxError::Payload {
                expected: "a JSON object",
                found: json_kind(&payload).to_owned(),
            });
        }
        let len = serde_json::to_vec(&payload)
            .map_err(|e| IdMapError::store("encode a push payload", e))?
            .len();
        if len > MAX_PUSH_PAYLOAD_BYTES {
            return Err(OutboxError::Payload {
                expected: "at most 262144 bytes of JSON",
                found: format!("{len} bytes"),
            });
        }
        Ok(Self {
            local,
            realm,
            entity,
            payload,
        })
    }

    /// The local record.
    pub fn local(&self) -> &LocalRef {
        &self.local
    }

    /// Where the record goes.
    pub fn realm(&self) -> &Realm {
        &self.realm
    }

    /// The remote entity (Connec! collection).
    pub fn entity(&self) -> &str {
        &self.entity
    }

    /// The fields to send.
    pub fn payload(&self) -> &Value {
        &self.payload
    }
}

/// A push a worker holds until its lease ends: what to send and the claim that proves it is
/// this worker's turn.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedPush {
    /// The push.
    pub id: PushId,
    /// How many times the push has been claimed, this claim included. It never goes back, so
    /// it is also the claim's token: a worker whose lease was taken over sees it differ.
    pub claim: u64,
    /// The intent's version: every [`PushOutbox::enqueue`] of the same record bumps it.
    pub version: u64,
    /// Attempts since the push was last enqueued from a failed state, this one included.
    pub attempts: u32,
    /// When the lease ends.
    pub lease_until: OffsetDateTime,
    /// What to send.
    pub intent: PushIntent,
}

impl ClaimedPush {
    /// Whether an earlier claim may already have reached the remote API (and created the
    /// record before its reply, or its link, was lost).
    pub fn may_have_been_sent_before(&self) -> bool {
        self.claim > 1
    }
}

/// A push that failed for good, kept with its reason for the application to inspect.
#[derive(Debug, Clone, PartialEq)]
pub struct FailedPush {
    /// The push.
    pub id: PushId,
    /// What was to be sent.
    pub intent: PushIntent,
    /// Attempts made.
    pub attempts: u32,
    /// Why it failed.
    pub reason: String,
    /// When it failed.
    pub failed_at: OffsetDateTime,
}

/// What [`PushOutbox::complete`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Completion {
    /// The push is done and gone from the outbox.
    Done,
    /// The link was recorded, but the record was enqueued again while the push was in
    /// flight: the newer version is pending.
    NewerPending,
}

/// How many pushes wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Backlog {
    /// Pushes waiting to be sent (claimed ones included).
    pub pending: u64,
    /// Pushes that failed for good.
    pub failed: u64,
}

impl Backlog {
    /// A backlog of `pending` and `failed` pushes (for stores written outside this crate).
    pub fn new(pending: u64, failed: u64) -> Self {
        Self { pending, failed }
    }
}

/// The outbox failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutboxError {
    /// The payload was refused before the store was touched.
    #[error("invalid push payload: expected {expected}, found {found}")]
    Payload {
        /// What was expected.
        expected: &'static str,
        /// What was found.
        found: String,
    },
    /// The claim is no longer this worker's: its lease ended and another worker claimed the
    /// push, or the push is gone. Nothing was written.
    #[error("{id}: expected claim {expected} to hold the lease, found {found}")]
    LeaseLost {
        /// The push.
        id: PushId,
        /// The claim the caller holds.
        expected: u64,
        /// The current claim, or `None` when the push is gone.
        found: ClaimFound,
    },
    /// The link, a field or the store failed (a failed call writes nothing).
    #[error(transparent)]
    IdMap(#[from] IdMapError),
}

/// What a stale claim found instead of itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClaimFound {
    /// A later claim.
    Claim(u64),
    /// No push: it was completed or discarded.
    Gone,
}

impl fmt::Display for ClaimFound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Claim(n) => write!(f, "claim {n}"),
            Self::Gone => f.write_str("no push"),
        }
    }
}

impl From<crate::idmap::FieldError> for OutboxError {
    fn from(e: crate::idmap::FieldError) -> Self {
        Self::IdMap(e.into())
    }
}

/// Checks the size of a claim or listing.
pub(crate) fn validate_limit(limit: usize) -> Result<(), OutboxError> {
    if limit == 0 || limit > MAX_CLAIM {
        return Err(IdMapError::Limit {
            what: "pushes in one call (at least 1)",
            max: MAX_CLAIM,
            found: limit,
        }
        .into());
    }
    Ok(())
}

/// The longest lease a claim may ask for.
pub const MAX_LEASE: Duration = Duration::days(7);

/// Checks a lease: positive, at most [`MAX_LEASE`].
pub(crate) fn validate_lease(lease: Duration) -> Result<(), OutboxError> {
    if lease <= Duration::ZERO || lease > MAX_LEASE {
        return Err(OutboxError::Payload {
            expected: "a lease above zero and at most 7 days",
            found: format!("{lease}"),
        });
    }
    Ok(())
}

/// Durable pushes to a remote API, kept **in the same store as the id map** so that recording
/// a push's result (the link) and marking the push done are one transaction.
///
/// An application records an intent when it saves a record
/// ([`ConnectedObject::enqueue_push`](crate::idmap::ConnectedObject::enqueue_push)); a worker
/// (`maestrano::push::PushWorker`) claims pushes, sends them and completes them.
///
/// # The contract every store keeps
///
/// - **One pending push per record and destination**: (local record, realm, entity) is
///   unique. Enqueueing again replaces the payload and bumps the version; a failed push
///   becomes pending again with its attempts reset; a push in flight keeps its lease, and its
///   [`complete`](Self::complete) then leaves the newer version pending
///   ([`Completion::NewerPending`]).
/// - **A claim is exclusive**: [`claim`](Self::claim) hands each pending, due push whose lease
///   is free to exactly one caller, across every instance sharing the store, increments its
///   claim counter and attempts, and leases it until `now + lease`. After the lease ends,
///   another claim may take it over; the earlier claimant's calls then fail with
///   [`OutboxError::LeaseLost`] and write nothing.
/// - [`complete`](Self::complete) links (as [`IdMapStore::link`] would, conflicts included)
///   and removes the push in **one transaction**: either both happen or neither.
/// - [`retry_later`](Self::retry_later) frees the lease and hides the push until `at`;
///   [`fail`](Self::fail) keeps it, with its reason, until it is enqueued again or discarded.
/// - Claims come oldest due first (by `not before`, then id).
///
/// `maestrano::test_util::outbox_conformance::run` (feature `test-util`) checks all of it,
/// with two instances racing.
#[async_trait]
pub trait PushOutbox: IdMapStore {
    /// Records (or replaces) the push of `intent`, due now.
    async fn enqueue(&self, intent: PushIntent, now: OffsetDateTime)
    -> Result<PushId, OutboxError>;

    /// Claims up to `limit` (1 to [`MAX_CLAIM`]) due pushes for `lease` (at most
    /// [`MAX_LEASE`]): of one provider
    /// (a marketplace key) when `provider` is given, of every provider otherwise.
    async fn claim(
        &self,
        provider: Option<&str>,
        limit: usize,
        lease: Duration,
        now: OffsetDateTime,
    ) -> Result<Vec<ClaimedPush>, OutboxError>;

    /// Records `link` (when given) and removes the push, in one transaction.
    async fn complete(
        &self,
        push: &ClaimedPush,
        link: Option<IdMap>,
        now: OffsetDateTime,
    ) -> Result<Completion, OutboxError>;

    /// Frees the lease and hides the push until `at`.
    async fn retry_later(
        &self,
        push: &ClaimedPush,
        at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), OutboxError>;

    /// Marks the push failed for good with `reason` (unless a newer version was enqueued
    /// meanwhile: that one stays pending).
    async fn fail(
        &self,
        push: &ClaimedPush,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<(), OutboxError>;

    /// Up to `limit` failed pushes of `realm`, oldest failure first.
    async fn failed(&self, realm: &Realm, limit: usize) -> Result<Vec<FailedPush>, OutboxError>;

    /// Removes a failed push; `false` if there was none with this id in the failed state.
    ///
    /// Its history goes with it: if it may have reached the remote API (it failed after
    /// retries, or its create's reply was lost), enqueue the record again instead, so that
    /// the worker searches before it creates.
    async fn discard(&self, id: PushId) -> Result<bool, OutboxError>;

    /// How many pushes are pending and failed, over every realm.
    async fn backlog(&self) -> Result<Backlog, OutboxError>;

    /// Removes every push of `provider` (a marketplace that left), or of its one `realm` (a
    /// company that cancelled), pending, claimed or failed, and returns how many went.
    async fn erase_pushes(&self, provider: &str, realm: Option<&str>) -> Result<u64, OutboxError>;
}

/// Bounds a reason before it is stored: at most 1,000 characters, NUL replaced by U+FFFD
/// (PostgreSQL's text refuses NUL).
pub(crate) fn bounded_reason(reason: &str) -> String {
    const MAX: usize = 1_000;
    let cut = match reason.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}…", &reason[..at]),
        None => reason.to_owned(),
    };
    cut.replace('\0', "\u{fffd}")
}

/// An intent read back from a SQL row: its text columns and the payload's JSON text.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn stored_intent(
    local: (String, String),
    realm: (String, String),
    entity: String,
    payload: &str,
) -> Result<PushIntent, OutboxError> {
    let corrupt = |e: String| IdMapError::store("read a push", e);
    let payload: Value = serde_json::from_str(payload)
        .map_err(|e| corrupt(format!("stored payload is not JSON: {e}")))?;
    PushIntent::new(
        LocalRef::new(local.0, local.1)?,
        Realm::new(realm.0, realm.1)?,
        entity,
        payload,
    )
}

/// Whether `push` still holds its claim, given the stored row's `(claim, failed)` (`None`
/// when the row is gone).
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn check_claim(
    push: &ClaimedPush,
    found: Option<(u64, bool)>,
) -> Result<(), OutboxError> {
    let found = match found {
        None => ClaimFound::Gone,
        Some((claim, false)) if claim == push.claim => return Ok(()),
        Some((claim, _)) => ClaimFound::Claim(claim),
    };
    Err(OutboxError::LeaseLost {
        id: push.id,
        expected: push.claim,
        found,
    })
}
