//! Connected objects: the identity map between the application's records and remote entities.
//!
//! Apps sync records with marketplaces and with other providers (Xero, QuickBooks, …), so any
//! local record (class name + local id) may be linked to remote entities identified by
//! provider (for a marketplace: its key), realm (the customer account: for a marketplace, the
//! group uid), entity name and remote id. Each link is an [`IdMap`], kept by an
//! [`IdMapStore`]:
//!
//! | store | where | feature |
//! | --- | --- | --- |
//! | [`InMemoryIdMapStore`] | process memory (tests, examples) | none |
//! | `adapters::SqliteStore` | an SQLite file, or SQLite in memory | `sqlite` |
//! | `adapters::PostgresStore` | PostgreSQL | `postgres` |
//!
//! The application's models implement [`ConnectedObject`] (class name and local id) and get
//! `id_maps`, `id_map_for`, `link`, `unlink` and `remote_url`; [`RemoteUrls`] says where a
//! remote entity can be seen.
//!
//! Pushes to Connec! go through a [`PushOutbox`], kept in the same store as the links: the
//! application records the intent when it saves a record
//! ([`ConnectedObject::enqueue_push`]), and `maestrano::push::PushWorker` sends it, links the
//! remote id and marks it done in one transaction. Both SQL adapters and
//! [`InMemoryIdMapStore`] implement it.
//!
//! A store written outside this crate proves that it keeps the [contract](IdMapStore)
//! with one call to `maestrano::test_util::idmap_conformance::run` (feature `test-util`).
//!
//! ```
//! use std::borrow::Cow;
//!
//! use maestrano::idmap::{ConnectedObject, IdMapStore, InMemoryIdMapStore, Realm, RemoteRef};
//!
//! struct Invoice {
//!     id: u64,
//! }
//!
//! impl ConnectedObject for Invoice {
//!     fn class_name(&self) -> &str { "Invoice" }
//!     fn local_id(&self) -> Cow<'_, str> { self.id.to_string().into() }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), maestrano::Error> {
//! let store = InMemoryIdMapStore::new();
//! let remote = RemoteRef::new(Realm::new("acme-corp", "cld-1")?, "invoices", "8f3a")?;
//! let now = time::OffsetDateTime::UNIX_EPOCH;
//! Invoice { id: 42 }.link(&store, now, remote.clone()).await?;
//! let link = store.find_remote(&remote).await?.expect("linked");
//! assert_eq!(link.local.local_id(), "42");
//! # Ok(())
//! # }
//! ```

mod connected;
mod memory;
mod outbox;

pub(crate) mod store;

pub use connected::{ConnectedObject, RemoteUrlError, RemoteUrls};
pub use memory::InMemoryIdMapStore;
pub use outbox::{
    Backlog, ClaimFound, ClaimedPush, Completion, FailedPush, MAX_CLAIM, MAX_LEASE,
    MAX_PUSH_PAYLOAD_BYTES, OutboxError, PushId, PushIntent, PushOutbox,
};
pub(crate) use outbox::{bounded_reason, validate_lease, validate_limit};
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) use outbox::{check_claim, stored_intent};

pub use store::{
    AmbiguousLinks, FieldError, FieldProblem, IdMap, IdMapError, IdMapPage, IdMapStore,
    LocalConflict, LocalRef, MAX_BATCH, MAX_FIELD_LEN, MAX_METADATA_BYTES, MAX_PAGE_SIZE,
    PageCursor, PageRequest, Realm, RemoteConflict, RemoteRef,
};
