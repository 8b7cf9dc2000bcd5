//! The cross-cutting ports: the traits through which the SDK reaches the world.
//!
//! The core performs no I/O of its own. Time comes from [`Clock`], HTTP from [`HttpClient`],
//! randomness from [`RandomSource`], waiting from [`Sleep`], and whatever must happen once
//! across every instance of the app (a SAML assertion, the answer to an AuthnRequest) goes
//! through a [`SingleUseStore`]. The ports of one capability live next to it:
//! [`ConfigSource`](crate::config::ConfigSource) in `config`,
//! [`IdMapStore`](crate::idmap::IdMapStore) in `idmap`. Real adapters live in
//! `maestrano::adapters`, behind features; fakes in `maestrano::test_util`.
//!
//! ```
//! use maestrano::ports::{Clock, InMemorySingleUseStore, OnceKey, SingleUseStore, SystemClock};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), maestrano::Error> {
//! // What must happen once, across every instance that shares the store: here, an assertion.
//! let store = InMemorySingleUseStore::new();
//! let now = SystemClock.now();
//! let key = OnceKey::assertion("https://hub.acme.example", "_a1b2c3");
//! let expires = now + time::Duration::minutes(5);
//! assert!(store.insert_if_absent(&key, expires, now).await?); // first use
//! assert!(!store.insert_if_absent(&key, expires, now).await?); // a replay
//! # Ok(())
//! # }
//! ```

pub(crate) mod clock;
pub(crate) mod http;
mod random;
mod single_use;
mod sleep;

pub use clock::{Clock, SystemClock};
pub use http::{HttpClient, HttpRequest, HttpResponse, TransportError, TransportErrorKind};
pub use random::{OsRandom, RandomError, RandomSource};
pub use single_use::{InMemorySingleUseStore, OnceKey, Purpose, SingleUseError, SingleUseStore};
pub use sleep::Sleep;
