//! The cross-cutting ports: the traits through which the SDK reaches the world.
//!
//! The core performs no I/O of its own. Time comes from [`Clock`], HTTP from [`HttpClient`],
//! randomness from [`RandomSource`] and waiting from [`Sleep`]. The ports of one capability
//! live next to it: [`ConfigSource`](crate::config::ConfigSource) in `config`,
//! [`IdMapStore`](crate::idmap::IdMapStore) in `idmap`, [`ReplayCache`](crate::saml::ReplayCache)
//! and [`RequestIdStore`](crate::saml::RequestIdStore) in `saml`. Real adapters live in
//! `maestrano::adapters`, behind features; fakes in `maestrano::test_util`.

pub(crate) mod clock;
pub(crate) mod http;
mod random;
mod sleep;

pub use clock::{Clock, SystemClock};
pub use http::{HttpClient, HttpRequest, HttpResponse, TransportError, TransportErrorKind};
pub use random::{OsRandom, RandomError, RandomSource};
pub use sleep::Sleep;
