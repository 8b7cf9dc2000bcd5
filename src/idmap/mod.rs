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
//! A store written outside this crate proves that it keeps the [contract](crate::ports::id_map)
//! with one call to `conformance::run` (feature `test-util`).

mod connected;
mod memory;

#[cfg(any(test, feature = "test-util"))]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub mod conformance;

pub use connected::{ConnectedObject, RemoteUrlError, RemoteUrls};
pub use memory::InMemoryIdMapStore;

pub use crate::ports::id_map::{
    AmbiguousLinks, FieldError, FieldProblem, IdMap, IdMapError, IdMapPage, IdMapStore,
    LocalConflict, LocalRef, PageCursor, PageRequest, Realm, RemoteConflict, RemoteRef,
};
