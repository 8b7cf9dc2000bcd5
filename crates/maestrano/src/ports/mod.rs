//! The cross-cutting ports: the traits through which the SDK reaches the world.
//!
//! The core performs no I/O of its own. Time comes from [`Clock`], HTTP from [`HttpClient`],
//! randomness from [`RandomSource`], waiting from [`Sleep`], and whatever must happen once
//! across every instance of the app (a SAML assertion, the answer to an AuthnRequest) goes
//! through a [`SingleUseStore`]. The ports of one capability live next to it:
//! [`ConfigSource`](crate::config::ConfigSource) in `config`,
//! [`IdMapStore`](crate::idmap::IdMapStore) in `idmap`. Real adapters live in
//! `maestrano::adapters`, behind features; fakes in `maestrano::test_util`.

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
