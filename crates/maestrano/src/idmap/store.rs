//! The `IdMapStore` port and its data types (the contract is on the trait).

use std::error::Error as StdError;
use std::fmt::{self, Debug};

use async_trait::async_trait;
use time::{OffsetDateTime, UtcOffset};

use crate::types::{GroupUid, MarketplaceKey};

/// Longest accepted value of any id map field, in bytes.
pub const MAX_FIELD_LEN: usize = 255;

/// Most ids accepted by one batch lookup ([`IdMapStore::find_remotes`],
/// [`IdMapStore::find_locals`]).
pub const MAX_BATCH: usize = 100_000;

/// Most links in one page of [`IdMapStore::list`].
pub const MAX_PAGE_SIZE: usize = 1_000;

/// Largest metadata accepted on a link, in bytes of compact JSON.
pub const MAX_METADATA_BYTES: usize = 64 * 1024;

/// What was wrong with an id map field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FieldProblem {
    /// The value was empty.
    Empty,
    /// The value was longer than [`MAX_FIELD_LEN`] bytes.
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// The value contained a NUL byte.
    Nul {
        /// The byte offset of the first NUL.
        at: usize,
    },
}

impl fmt::Display for FieldProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("an empty string"),
            Self::TooLong { len } => write!(f, "{len} bytes"),
            Self::Nul { at } => write!(f, "a NUL byte at offset {at}"),
        }
    }
}

/// An id map field failed validation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {field}: expected 1 to 255 bytes without NUL, found {problem}")]
#[non_exhaustive]
pub struct FieldError {
    /// The field (`local_id`, `provider`, …).
    pub field: &'static str,
    /// What was wrong.
    pub problem: FieldProblem,
}

/// Checks one id map field: 1 to [`MAX_FIELD_LEN`] bytes, no NUL.
///
/// The constructors of [`LocalRef`], [`Realm`] and [`RemoteRef`] call it; a store calls it on
/// the loose strings of batch lookups.
pub(crate) fn validate_field(field: &'static str, value: &str) -> Result<(), FieldError> {
    let problem = if value.is_empty() {
        FieldProblem::Empty
    } else if value.len() > MAX_FIELD_LEN {
        FieldProblem::TooLong { len: value.len() }
    } else if let Some(at) = value.bytes().position(|b| b == 0) {
        FieldProblem::Nul { at }
    } else {
        return Ok(());
    };
    Err(FieldError { field, problem })
}

/// Checks the ids of a batch lookup: at most [`MAX_BATCH`] of them, each a valid `field`.
pub(crate) fn validate_batch(field: &'static str, ids: &[String]) -> Result<(), IdMapError> {
    if ids.len() > MAX_BATCH {
        return Err(IdMapError::Limit {
            what: "ids in one batch",
            max: MAX_BATCH,
            found: ids.len(),
        });
    }
    for id in ids {
        validate_field(field, id)?;
    }
    Ok(())
}

/// A record of the application: its class (model) name and its id.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LocalRef {
    class_name: String,
    local_id: String,
}

impl LocalRef {
    /// A checked local reference.
    pub fn new(
        class_name: impl Into<String>,
        local_id: impl Into<String>,
    ) -> Result<Self, FieldError> {
        let (class_name, local_id) = (class_name.into(), local_id.into());
        validate_field("class_name", &class_name)?;
        validate_field("local_id", &local_id)?;
        Ok(Self {
            class_name,
            local_id,
        })
    }

    /// The class (model) name.
    pub fn class_name(&self) -> &str {
        &self.class_name
    }

    /// The local id.
    pub fn local_id(&self) -> &str {
        &self.local_id
    }
}

impl Debug for LocalRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LocalRef({:?}#{:?})", self.class_name, self.local_id)
    }
}

impl fmt::Display for LocalRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}#{:?}", self.class_name, self.local_id)
    }
}

/// Where a remote entity lives: provider and realm (the customer account).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Realm {
    provider: String,
    realm: String,
}

impl Realm {
    /// A checked provider/realm pair.
    pub fn new(provider: impl Into<String>, realm: impl Into<String>) -> Result<Self, FieldError> {
        let (provider, realm) = (provider.into(), realm.into());
        validate_field("provider", &provider)?;
        validate_field("realm", &realm)?;
        Ok(Self { provider, realm })
    }

    /// A marketplace's realm: the marketplace key as provider, the group uid as realm.
    ///
    /// Infallible: both identifiers are already checked to be 1 to 255 path-safe bytes.
    pub fn marketplace(marketplace: &MarketplaceKey, group: &GroupUid) -> Self {
        Self {
            provider: marketplace.as_str().to_owned(),
            realm: group.as_str().to_owned(),
        }
    }

    /// The smallest realm, a lower bound for range scans. Built without validation (its empty
    /// strings would not pass it); never stored.
    pub(crate) fn min_bound() -> Self {
        Self {
            provider: String::new(),
            realm: String::new(),
        }
    }

    /// The provider (a marketplace key, or `xero`, `quickbooks`, …).
    pub fn provider(&self) -> &str {
        &self.provider
    }

    /// The realm (for a marketplace: the group uid).
    pub fn realm(&self) -> &str {
        &self.realm
    }
}

impl Debug for Realm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Realm({:?}/{:?})", self.provider, self.realm)
    }
}

impl fmt::Display for Realm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}/{:?}", self.provider, self.realm)
    }
}

/// A remote entity: provider, realm, entity name and remote id.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RemoteRef {
    realm: Realm,
    entity: String,
    remote_id: String,
}

impl RemoteRef {
    /// A checked remote reference.
    pub fn new(
        realm: Realm,
        entity: impl Into<String>,
        remote_id: impl Into<String>,
    ) -> Result<Self, FieldError> {
        let (entity, remote_id) = (entity.into(), remote_id.into());
        validate_field("entity", &entity)?;
        validate_field("remote_id", &remote_id)?;
        Ok(Self {
            realm,
            entity,
            remote_id,
        })
    }

    /// The smallest remote reference in `realm`, a lower bound for range scans. Built without
    /// validation (its empty strings would not pass it); never stored.
    pub(crate) fn min_in(realm: &Realm) -> Self {
        Self {
            realm: realm.clone(),
            entity: String::new(),
            remote_id: String::new(),
        }
    }

    /// Provider and realm.
    pub fn realm(&self) -> &Realm {
        &self.realm
    }

    /// The provider (shortcut for `realm().provider()`).
    pub fn provider(&self) -> &str {
        &self.realm.provider
    }

    /// The entity name (`people`, `invoices`, …).
    pub fn entity(&self) -> &str {
        &self.entity
    }

    /// The remote id.
    pub fn remote_id(&self) -> &str {
        &self.remote_id
    }
}

impl Debug for RemoteRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RemoteRef({self})")
    }
}

impl fmt::Display for RemoteRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?}/{:?}/{:?}#{:?}",
            self.realm.provider, self.realm.realm, self.entity, self.remote_id
        )
    }
}

/// One link of the identity map.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct IdMap {
    /// The local record.
    pub local: LocalRef,
    /// The remote entity.
    pub remote: RemoteRef,
    /// When the link was first made.
    pub created_at: OffsetDateTime,
    /// When the link was last changed.
    pub updated_at: OffsetDateTime,
    /// When the local record was last pushed to the remote side.
    pub pushed_to_remote_at: Option<OffsetDateTime>,
    /// When the remote entity was last pulled into the local record.
    pub pulled_from_remote_at: Option<OffsetDateTime>,
    /// Free-form data the application keeps with the link.
    pub metadata: Option<serde_json::Value>,
}

impl IdMap {
    /// A link made at `now` (read it from the [`Clock`](crate::ports::Clock)), with no push
    /// timestamps and no metadata.
    pub fn new(local: LocalRef, remote: RemoteRef, now: OffsetDateTime) -> Self {
        Self {
            local,
            remote,
            created_at: now,
            updated_at: now,
            pushed_to_remote_at: None,
            pulled_from_remote_at: None,
            metadata: None,
        }
    }

    /// Sets when the local record was last pushed to the remote side.
    pub fn with_pushed_to_remote_at(mut self, at: OffsetDateTime) -> Self {
        self.pushed_to_remote_at = Some(at);
        self
    }

    /// Sets when the remote entity was last pulled into the local record.
    pub fn with_pulled_from_remote_at(mut self, at: OffsetDateTime) -> Self {
        self.pulled_from_remote_at = Some(at);
        self
    }

    /// Sets the metadata.
    pub fn with_metadata(mut self, metadata: serde_json::Value) -> Self {
        self.metadata = Some(metadata);
        self
    }

    /// The link as a store keeps it: every timestamp in UTC, truncated to the microsecond.
    pub fn normalized(mut self) -> Self {
        self.created_at = normalize_time(self.created_at);
        self.updated_at = normalize_time(self.updated_at);
        self.pushed_to_remote_at = self.pushed_to_remote_at.map(normalize_time);
        self.pulled_from_remote_at = self.pulled_from_remote_at.map(normalize_time);
        self
    }

    /// Checks what the field types do not: the metadata size. Stores call it in
    /// [`IdMapStore::link`] before writing.
    pub fn validate(&self) -> Result<(), IdMapError> {
        if let Some(metadata) = &self.metadata {
            let len = metadata_len(metadata);
            if len > MAX_METADATA_BYTES {
                return Err(IdMapError::Limit {
                    what: "bytes of metadata",
                    max: MAX_METADATA_BYTES,
                    found: len,
                });
            }
        }
        Ok(())
    }

    /// Applies the upsert rule of [`IdMapStore::link`] to an existing link of the same local
    /// record and remote entity: `created_at` is kept, `updated_at` is taken from `update`,
    /// and each optional field is taken from `update` when it is set there, else kept.
    pub fn merged_with(mut self, update: &IdMap) -> Self {
        self.updated_at = update.updated_at;
        if update.pushed_to_remote_at.is_some() {
            self.pushed_to_remote_at = update.pushed_to_remote_at;
        }
        if update.pulled_from_remote_at.is_some() {
            self.pulled_from_remote_at = update.pulled_from_remote_at;
        }
        if update.metadata.is_some() {
            self.metadata.clone_from(&update.metadata);
        }
        self
    }
}

fn metadata_len(value: &serde_json::Value) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    // Writing a `Value` into an infallible writer cannot fail.
    let _ = serde_json::to_writer(&mut counter, value);
    counter.0
}

/// `at` in UTC, truncated to the microsecond: the precision every store keeps. A time whose
/// UTC date would fall past year 9999 (or before year -9999) keeps its own offset rather than
/// panicking; it still names the same instant.
pub(crate) fn normalize_time(at: OffsetDateTime) -> OffsetDateTime {
    let at = at.checked_to_offset(UtcOffset::UTC).unwrap_or(at);
    let micros = at.microsecond();
    at.replace_microsecond(micros).unwrap_or(at)
}

/// Where a page of [`IdMapStore::list`] starts: after this entity and remote id.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PageCursor {
    entity: String,
    remote_id: String,
}

impl PageCursor {
    /// A checked cursor.
    pub fn new(
        entity: impl Into<String>,
        remote_id: impl Into<String>,
    ) -> Result<Self, FieldError> {
        let (entity, remote_id) = (entity.into(), remote_id.into());
        validate_field("entity", &entity)?;
        validate_field("remote_id", &remote_id)?;
        Ok(Self { entity, remote_id })
    }

    /// The cursor just after `map`.
    pub fn after(map: &IdMap) -> Self {
        Self {
            entity: map.remote.entity.clone(),
            remote_id: map.remote.remote_id.clone(),
        }
    }

    /// The entity name of the last link of the previous page.
    pub fn entity(&self) -> &str {
        &self.entity
    }

    /// The remote id of the last link of the previous page.
    pub fn remote_id(&self) -> &str {
        &self.remote_id
    }
}

impl Debug for PageCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PageCursor({:?}#{:?})", self.entity, self.remote_id)
    }
}

/// A page request for [`IdMapStore::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PageRequest {
    /// Continue after this cursor (the previous page's [`IdMapPage::next`]), or start at the
    /// beginning.
    pub after: Option<PageCursor>,
    /// At most this many links: 1 to [`MAX_PAGE_SIZE`].
    pub limit: usize,
}

impl PageRequest {
    /// The first page, of at most `limit` links.
    pub fn first(limit: usize) -> Self {
        Self { after: None, limit }
    }

    /// The page after `cursor`, of at most `limit` links.
    pub fn after(cursor: PageCursor, limit: usize) -> Self {
        Self {
            after: Some(cursor),
            limit,
        }
    }

    /// Checks the limit: 1 to [`MAX_PAGE_SIZE`].
    pub fn validate(&self) -> Result<(), IdMapError> {
        if self.limit == 0 || self.limit > MAX_PAGE_SIZE {
            return Err(IdMapError::Limit {
                what: "links in one page (and at least 1)",
                max: MAX_PAGE_SIZE,
                found: self.limit,
            });
        }
        Ok(())
    }
}

/// One page of [`IdMapStore::list`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct IdMapPage {
    /// The links, ordered by entity then remote id.
    pub items: Vec<IdMap>,
    /// Where the next page starts, or `None` when this page is the last.
    pub next: Option<PageCursor>,
}

impl IdMapPage {
    /// A page from `rows` fetched in order with a limit of `limit + 1`: when there are more
    /// than `limit` rows, the extra one is dropped and `next` points after the last kept row.
    pub fn from_rows(mut rows: Vec<IdMap>, limit: usize) -> Self {
        let next = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(PageCursor::after)
        } else {
            None
        };
        Self { items: rows, next }
    }
}

/// A remote entity is already linked to another local record: [`IdMapError::Conflict`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("remote entity {remote} is already linked to {existing}, not {requested}: unlink it first")]
pub struct RemoteConflict {
    /// The remote entity.
    pub remote: RemoteRef,
    /// The record it is linked to.
    pub existing: LocalRef,
    /// The record the caller tried to link.
    pub requested: LocalRef,
}

/// A local record is already linked to another remote entity of the same entity name in the
/// same realm: [`IdMapError::LocalConflict`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("local record {local} is already linked to {existing}, not {requested}: unlink it first")]
pub struct LocalConflict {
    /// The local record.
    pub local: LocalRef,
    /// The remote entity it is linked to.
    pub existing: RemoteRef,
    /// The remote entity the caller tried to link.
    pub requested: RemoteRef,
}

/// One link was asked for but the record has several in the realm:
/// [`IdMapError::Ambiguous`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "local record {local} has {} links in {realm} (entities {entities:?}), expected at most one: name the entity",
    entities.len()
)]
pub struct AmbiguousLinks {
    /// The local record.
    pub local: LocalRef,
    /// The realm.
    pub realm: Realm,
    /// The entity names it is linked under.
    pub entities: Vec<String>,
}

/// The identity map store failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdMapError {
    /// A field was invalid.
    #[error(transparent)]
    Field(#[from] FieldError),
    /// A size limit was exceeded.
    #[error("too many {what}: expected at most {max}, found {found}")]
    Limit {
        /// What was counted.
        what: &'static str,
        /// The limit.
        max: usize,
        /// The count found.
        found: usize,
    },
    /// The remote entity is already linked to another local record.
    #[error(transparent)]
    Conflict(Box<RemoteConflict>),
    /// The local record is already linked to another remote entity of the same entity name in
    /// the same realm.
    #[error(transparent)]
    LocalConflict(Box<LocalConflict>),
    /// A single link was asked for but the record has several in the realm, one per entity.
    #[error(transparent)]
    Ambiguous(Box<AmbiguousLinks>),
    /// The backing store failed.
    #[error("id map store failed to {operation}")]
    Store {
        /// What the store was doing (`open the database`, `link`, …).
        operation: &'static str,
        /// The store's own error.
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
}

impl IdMapError {
    /// An [`IdMapError::Conflict`]: `remote` is linked to `existing`, not `requested`.
    pub fn conflict(remote: RemoteRef, existing: LocalRef, requested: LocalRef) -> Self {
        Self::Conflict(Box::new(RemoteConflict {
            remote,
            existing,
            requested,
        }))
    }

    /// An [`IdMapError::LocalConflict`]: `local` is linked to `existing`, not `requested`.
    pub fn local_conflict(local: LocalRef, existing: RemoteRef, requested: RemoteRef) -> Self {
        Self::LocalConflict(Box::new(LocalConflict {
            local,
            existing,
            requested,
        }))
    }

    /// A [`IdMapError::Store`] error.
    pub fn store(
        operation: &'static str,
        source: impl Into<Box<dyn StdError + Send + Sync>>,
    ) -> Self {
        Self::Store {
            operation,
            source: source.into(),
        }
    }
}

/// Storage for the identity map: where the identity map (local record ↔ remote entities)
/// lives.
///
/// A local record (class name + local id) may be linked to remote entities, each identified by
/// provider (for a marketplace: its key), realm (the customer account: for a marketplace, the
/// group uid), entity name and remote id.
///
/// # The contract every store keeps
///
/// - **One mapping per remote entity**: (provider, realm, entity, remote id) is unique, and
///   **one per local record and remote kind**: (class name, local id, provider, realm, entity)
///   is unique. A store enforces both with unique constraints, not with a read before a write.
/// - [`link`](IdMapStore::link) is an idempotent upsert. Linking a remote entity that is
///   already linked to *another* local record fails with [`IdMapError::Conflict`]; linking a
///   local record that already has another remote id of the same entity in the same realm
///   fails with [`IdMapError::LocalConflict`]. Nothing is ever overwritten silently, and a
///   failed call writes nothing.
/// - Timestamps are kept to the microsecond ([`IdMap::normalized`]) and come back in UTC.
/// - Orders are byte-wise on the UTF-8 text (Rust's `str` order), whatever the database's
///   collation.
/// - Every text field is 1 to [`MAX_FIELD_LEN`] bytes without NUL; batches hold at most
///   [`MAX_BATCH`] ids; pages hold 1 to [`MAX_PAGE_SIZE`] links; metadata serialises to at most
///   [`MAX_METADATA_BYTES`]. Anything else is a typed error before the store is touched.
///
/// The conformance suite (`maestrano::idmap::conformance`, feature `test-util`) checks all of
/// it against any implementation.
///
/// Implementations keep this contract; the conformance suite
/// (`maestrano::test_util::idmap_conformance::run`, feature `test-util`) checks it.
#[async_trait]
pub trait IdMapStore: Send + Sync + Debug {
    /// Every link of a local record, ordered by provider, realm, entity and remote id.
    async fn links_of(&self, local: &LocalRef) -> Result<Vec<IdMap>, IdMapError>;

    /// The links of a local record in one provider and realm (at most one per entity name),
    /// ordered by entity.
    async fn links_in(&self, local: &LocalRef, realm: &Realm) -> Result<Vec<IdMap>, IdMapError>;

    /// The link of a remote entity, if any.
    async fn find_remote(&self, remote: &RemoteRef) -> Result<Option<IdMap>, IdMapError>;

    /// The links of many remote entities of one entity name in one realm, in one call: one
    /// link per id that has one (ids without a link and repeated ids are skipped), ordered by
    /// remote id.
    async fn find_remotes(
        &self,
        realm: &Realm,
        entity: &str,
        remote_ids: &[String],
    ) -> Result<Vec<IdMap>, IdMapError>;

    /// The links of many local records of one class, in one call, everywhere or only in
    /// `realm`; ordered by local id, provider, realm, entity and remote id.
    async fn find_locals(
        &self,
        class_name: &str,
        local_ids: &[String],
        realm: Option<&Realm>,
    ) -> Result<Vec<IdMap>, IdMapError>;

    /// Creates the link, or updates it when the same local record is already linked to the
    /// same remote entity, and returns the link as stored.
    ///
    /// An update keeps `created_at`, takes `updated_at` from `map` and takes each optional
    /// field (`pushed_to_remote_at`, `pulled_from_remote_at`, `metadata`) from `map` when it is
    /// set there, keeping the stored value otherwise ([`IdMap::merged_with`]).
    ///
    /// A remote entity linked to another local record is an [`IdMapError::Conflict`]; a local
    /// record with another remote id of the same entity in the same realm is an
    /// [`IdMapError::LocalConflict`]. Either way nothing is written.
    async fn link(&self, map: IdMap) -> Result<IdMap, IdMapError>;

    /// Removes the link of a remote entity; returns whether one existed.
    async fn unlink(&self, remote: &RemoteRef) -> Result<bool, IdMapError>;

    /// Removes the links of a local record, everywhere or only in `realm`; returns how many
    /// there were.
    async fn unlink_local(
        &self,
        local: &LocalRef,
        realm: Option<&Realm>,
    ) -> Result<u64, IdMapError>;

    /// The links in one realm, ordered by entity then remote id, a page at a time.
    async fn list(&self, realm: &Realm, page: &PageRequest) -> Result<IdMapPage, IdMapError>;

    /// Removes every link of `provider` (a marketplace that left), or of its one `realm` (a
    /// company that cancelled), and returns how many went: the offboarding of
    /// [`Offboarding`](crate::offboard::Offboarding).
    async fn erase(&self, provider: &str, realm: Option<&str>) -> Result<u64, IdMapError>;
}

macro_rules! forward_store {
    ($($ty:ty),*) => {$(
        #[async_trait]
        impl<S: IdMapStore + ?Sized> IdMapStore for $ty {
            async fn links_of(&self, local: &LocalRef) -> Result<Vec<IdMap>, IdMapError> {
                (**self).links_of(local).await
            }
            async fn links_in(
                &self,
                local: &LocalRef,
                realm: &Realm,
            ) -> Result<Vec<IdMap>, IdMapError> {
                (**self).links_in(local, realm).await
            }
            async fn find_remote(&self, remote: &RemoteRef) -> Result<Option<IdMap>, IdMapError> {
                (**self).find_remote(remote).await
            }
            async fn find_remotes(
                &self,
                realm: &Realm,
                entity: &str,
                remote_ids: &[String],
            ) -> Result<Vec<IdMap>, IdMapError> {
                (**self).find_remotes(realm, entity, remote_ids).await
            }
            async fn find_locals(
                &self,
                class_name: &str,
                local_ids: &[String],
                realm: Option<&Realm>,
            ) -> Result<Vec<IdMap>, IdMapError> {
                (**self).find_locals(class_name, local_ids, realm).await
            }
            async fn link(&self, map: IdMap) -> Result<IdMap, IdMapError> {
                (**self).link(map).await
            }
            async fn unlink(&self, remote: &RemoteRef) -> Result<bool, IdMapError> {
                (**self).unlink(remote).await
            }
            async fn unlink_local(
                &self,
                local: &LocalRef,
                realm: Option<&Realm>,
            ) -> Result<u64, IdMapError> {
                (**self).unlink_local(local, realm).await
            }
            async fn list(
                &self,
                realm: &Realm,
                page: &PageRequest,
            ) -> Result<IdMapPage, IdMapError> {
                (**self).list(realm, page).await
            }
            async fn erase(&self, provider: &str, realm: Option<&str>) -> Result<u64, IdMapError> {
                (**self).erase(provider, realm).await
            }
        }
    )*};
}

forward_store!(std::sync::Arc<S>, Box<S>);

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn fields_are_validated() {
        assert!(LocalRef::new("Invoice", "42").is_ok());
        assert_eq!(
            LocalRef::new("", "42").unwrap_err(),
            FieldError {
                field: "class_name",
                problem: FieldProblem::Empty
            }
        );
        assert_eq!(
            Realm::new("p", "r\0").unwrap_err().problem,
            FieldProblem::Nul { at: 1 }
        );
        let realm = Realm::new("maestrano", "cld-1").unwrap();
        let err = RemoteRef::new(realm.clone(), "invoices", "x".repeat(256)).unwrap_err();
        assert_eq!(err.field, "remote_id");
        assert_eq!(err.problem, FieldProblem::TooLong { len: 256 });
        assert_eq!(
            err.to_string(),
            "invalid remote_id: expected 1 to 255 bytes without NUL, found 256 bytes"
        );
        // 255 bytes of multi-byte characters are fine; 256 are not.
        assert!(RemoteRef::new(realm.clone(), "invoices", "é".repeat(127) + "x").is_ok());
        assert!(RemoteRef::new(realm, "invoices", "é".repeat(128)).is_err());
    }

    #[test]
    fn batches_are_bounded_and_checked() {
        let ok = vec!["a".to_owned(); MAX_BATCH];
        assert!(validate_batch("remote_id", &ok).is_ok());
        let too_many = vec!["a".to_owned(); MAX_BATCH + 1];
        assert!(matches!(
            validate_batch("remote_id", &too_many),
            Err(IdMapError::Limit { found, max: MAX_BATCH, .. }) if found == MAX_BATCH + 1
        ));
        let bad = vec!["a".to_owned(), String::new()];
        assert!(matches!(
            validate_batch("local_id", &bad),
            Err(IdMapError::Field(FieldError {
                field: "local_id",
                problem: FieldProblem::Empty
            }))
        ));
    }

    #[test]
    fn marketplace_realm_uses_key_and_group() {
        let realm = Realm::marketplace(
            &MarketplaceKey::new("acme-corp").unwrap(),
            &GroupUid::new("cld-1a2b").unwrap(),
        );
        assert_eq!(realm, Realm::new("acme-corp", "cld-1a2b").unwrap());
    }

    #[test]
    fn times_are_normalized_to_utc_micros() {
        let t = datetime!(2024-05-06 07:08:09.123_456_789 +02:00);
        let n = normalize_time(t);
        assert_eq!(n.offset(), UtcOffset::UTC);
        assert_eq!(n, datetime!(2024-05-06 05:08:09.123_456 UTC));
    }

    #[test]
    fn merge_keeps_created_and_unset_fields() {
        let realm = Realm::new("p", "r").unwrap();
        let local = LocalRef::new("C", "1").unwrap();
        let remote = RemoteRef::new(realm, "e", "x").unwrap();
        let t0 = datetime!(2024-01-01 0:00 UTC);
        let t1 = datetime!(2024-01-02 0:00 UTC);
        let stored = IdMap::new(local.clone(), remote.clone(), t0)
            .with_pushed_to_remote_at(t0)
            .with_metadata(serde_json::json!({"a": 1}));
        let update = IdMap::new(local, remote, t1).with_pulled_from_remote_at(t1);
        let merged = stored.merged_with(&update);
        assert_eq!(merged.created_at, t0);
        assert_eq!(merged.updated_at, t1);
        assert_eq!(merged.pushed_to_remote_at, Some(t0));
        assert_eq!(merged.pulled_from_remote_at, Some(t1));
        assert_eq!(merged.metadata, Some(serde_json::json!({"a": 1})));
    }

    #[test]
    fn metadata_size_is_bounded() {
        let realm = Realm::new("p", "r").unwrap();
        let map = IdMap::new(
            LocalRef::new("C", "1").unwrap(),
            RemoteRef::new(realm, "e", "x").unwrap(),
            datetime!(2024-01-01 0:00 UTC),
        );
        // `"…"` adds two quote bytes to the string.
        let fits = map.clone().with_metadata(serde_json::Value::String(
            "x".repeat(MAX_METADATA_BYTES - 2),
        ));
        assert!(fits.validate().is_ok());
        let over = map.with_metadata(serde_json::Value::String(
            "x".repeat(MAX_METADATA_BYTES - 1),
        ));
        assert!(matches!(
            over.validate(),
            Err(IdMapError::Limit { found, .. }) if found == MAX_METADATA_BYTES + 1
        ));
    }

    #[test]
    fn page_from_rows_sets_next_only_when_more() {
        let realm = Realm::new("p", "r").unwrap();
        let t = datetime!(2024-01-01 0:00 UTC);
        let rows: Vec<IdMap> = (0..3)
            .map(|i| {
                IdMap::new(
                    LocalRef::new("C", i.to_string()).unwrap(),
                    RemoteRef::new(realm.clone(), "e", i.to_string()).unwrap(),
                    t,
                )
            })
            .collect();
        let page = IdMapPage::from_rows(rows.clone(), 2);
        assert_eq!(page.items.len(), 2);
        assert_eq!(page.next, Some(PageCursor::new("e", "1").unwrap()));
        let page = IdMapPage::from_rows(rows, 3);
        assert_eq!(page.items.len(), 3);
        assert_eq!(page.next, None);
        assert!(PageRequest::first(0).validate().is_err());
        assert!(PageRequest::first(MAX_PAGE_SIZE + 1).validate().is_err());
        assert!(PageRequest::first(MAX_PAGE_SIZE).validate().is_ok());
    }
}
