//! Real adapters for the [ports](crate::ports), each behind its own feature.
//!
//! | adapter | port | feature |
//! | --- | --- | --- |
//! | [`ReqwestHttpClient`] | [`HttpClient`](crate::ports::HttpClient) | `reqwest` |
//! | [`SqliteStore`] | [`IdMapStore`](crate::ports::IdMapStore), [`ReplayCache`](crate::ports::ReplayCache) | `sqlite` |
//! | [`PostgresStore`] | [`IdMapStore`](crate::ports::IdMapStore), [`ReplayCache`](crate::ports::ReplayCache) | `postgres` |

#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "reqwest")]
mod reqwest;
#[cfg(feature = "sqlite")]
mod sqlite;

#[cfg(feature = "reqwest")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
pub use self::reqwest::{ReqwestHttpClient, ReqwestHttpClientBuilder};

#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use self::sqlite::SqliteStore;

#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use self::postgres::{PostgresOptions, PostgresStore};
/// The PostgreSQL driver and pool [`PostgresStore::from_pool`] takes (for TLS, or a pool
/// shared with the application).
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use {deadpool_postgres, tokio_postgres};

/// How often, by default, the SQL replay caches also delete expired entries.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub const DEFAULT_PURGE_INTERVAL: time::Duration = time::Duration::minutes(5);

/// The database's schema is newer than this crate knows: it was migrated by a newer SDK.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
#[derive(Debug, thiserror::Error)]
#[error(
    "the database schema is at version {found}, newer than this SDK supports (at most {supported})"
)]
pub(crate) struct SchemaTooNew {
    pub(crate) found: u32,
    pub(crate) supported: u32,
}
