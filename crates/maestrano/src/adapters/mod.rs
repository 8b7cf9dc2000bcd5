//! Real adapters for the [ports](crate::ports), each behind its own feature.
//!
//! | adapter | port | feature |
//! | --- | --- | --- |
//! | [`ReqwestHttpClient`] | [`HttpClient`](crate::ports::HttpClient) | `reqwest` |
//! | [`SqliteStore`] | [`IdMapStore`](crate::idmap::IdMapStore), [`SingleUseStore`](crate::ports::SingleUseStore) | `sqlite` |
//! | [`TokioSleep`] | [`Sleep`](crate::ports::Sleep) | `tokio` |
//! | [`Refresher`] | drives [`Registry::refresh_if_stale`](crate::Registry::refresh_if_stale) | `tokio` |
//! | [`SqliteStore`], [`PostgresStore`] | [`ConfigCache`](crate::config::ConfigCache) | `sqlite`, `postgres` |
//! | [`PostgresStore`] | [`IdMapStore`](crate::idmap::IdMapStore), [`SingleUseStore`](crate::ports::SingleUseStore) | `postgres` |
//! | [`SqliteStore`], [`PostgresStore`] | [`DeliveryStore`](crate::webhook::DeliveryStore) (the delivery ledger) | `sqlite`, `postgres` |
//! | [`RedisStore`] | [`SingleUseStore`](crate::ports::SingleUseStore) | `redis` |
//!
//! ```no_run
//! # #[cfg(all(feature = "sqlite", feature = "reqwest"))]
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//!
//! use maestrano::adapters::{ReqwestHttpClient, SqliteStore};
//! use maestrano::sso::SsoFlow;
//!
//! // One SQLite file for the identity map, the push outbox and the single-use store.
//! let store = Arc::new(SqliteStore::open("app.sqlite3")?);
//! let http = Arc::new(ReqwestHttpClient::new()?); // rustls, certificates always verified
//! let flow = SsoFlow::builder().store(store.clone()).build();
//! # let _ = (http, flow);
//! # Ok(())
//! # }
//! # #[cfg(not(all(feature = "sqlite", feature = "reqwest")))]
//! # fn main() {}
//! ```

#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "postgres")]
mod postgres_outbox;
#[cfg(feature = "tokio")]
mod push_runner;
#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "tokio")]
mod refresher;
#[cfg(feature = "reqwest")]
mod reqwest;
#[cfg(feature = "sqlite")]
mod sqlite;
#[cfg(feature = "sqlite")]
mod sqlite_outbox;
#[cfg(feature = "tokio")]
mod tokio_sleep;

#[cfg(feature = "reqwest")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
pub use self::reqwest::{ReqwestHttpClient, ReqwestHttpClientBuilder};

/// The reqwest crate [`ReqwestHttpClient::from_client`] wraps a client of.
#[cfg(feature = "reqwest")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
pub use ::reqwest as reqwest_client;

#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use self::sqlite::SqliteStore;
/// The SQLite driver [`SqliteStore::enqueue_in_transaction`] takes a transaction of.
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use rusqlite;

#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use self::redis::RedisStore;
/// The Redis client [`RedisStore::from_connection_manager`] takes (for TLS, or a connection
/// shared with the application).
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use ::redis as redis_client;

#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub use self::push_runner::PushRunner;
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub use self::refresher::{Refresher, RefresherOptions};
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub use self::tokio_sleep::TokioSleep;

#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use self::postgres::{PostgresOptions, PostgresStore};
/// The PostgreSQL driver and pool [`PostgresStore::from_pool`] takes (for TLS, or a pool
/// shared with the application).
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use {deadpool_postgres, tokio_postgres};

/// How often, by default, the SQL single-use stores also delete expired entries.
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

/// One step of an SQL schema. In the PostgreSQL schema, `{p}` stands for the schema prefix
/// (`"name".` or nothing).
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) struct Migration {
    pub(crate) version: u32,
    pub(crate) name: &'static str,
    pub(crate) sql: &'static str,
}

/// A store failure's whole chain of causes in one message.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
fn error_chain(e: &crate::idmap::IdMapError) -> String {
    let mut message = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    message
}

/// A store failure as the single-use store reports it.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn single_use_error(e: crate::idmap::IdMapError) -> crate::ports::SingleUseError {
    crate::ports::SingleUseError::Store(error_chain(&e))
}

/// A store failure as the configuration cache reports it, for `operation`.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn cache_error(
    operation: &'static str,
) -> impl Fn(crate::idmap::IdMapError) -> crate::config::ConfigCacheError {
    move |e| crate::config::ConfigCacheError::Store {
        operation,
        message: error_chain(&e),
    }
}

#[cfg(all(test, any(feature = "sqlite", feature = "postgres")))]
mod tests {
    use super::*;
    use crate::idmap::IdMapError;
    use crate::ports::SingleUseError;

    #[test]
    fn single_use_errors_keep_every_cause() {
        let cause = std::io::Error::other("disk full");
        let SingleUseError::Store(message) = single_use_error(IdMapError::store("insert", cause))
        else {
            panic!("expected a store error");
        };
        assert!(message.contains("insert"), "{message}");
        assert!(message.ends_with(": disk full"), "{message}");
        let crate::config::ConfigCacheError::Store { message, .. } = cache_error("save")(
            IdMapError::store("insert", std::io::Error::other("disk full")),
        ) else {
            panic!("expected a store error");
        };
        assert!(!message.contains("single-use"), "{message}");
        assert!(message.ends_with(": disk full"), "{message}");
    }
}
