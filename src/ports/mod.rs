//! The ports: traits through which the SDK reaches the world.
//!
//! The core performs no I/O of its own. Time comes from [`Clock`], HTTP from [`HttpClient`],
//! randomness from [`RandomSource`], marketplace configurations from [`ConfigSource`], identity
//! map storage from [`IdMapStore`] and replay protection from [`ReplayCache`]. Real adapters
//! live in `crate::adapters`, behind features.

pub mod clock;
pub mod config;
pub mod http;
pub mod id_map;
pub mod random;
pub mod replay;
pub mod request_ids;
pub mod sleep;

pub use clock::{Clock, SystemClock};
pub use config::ConfigSource;
pub use http::{HttpClient, HttpRequest, HttpResponse, TransportError, TransportErrorKind};
pub use id_map::{IdMap, IdMapError, IdMapStore, LocalRef, Realm, RemoteRef};
pub use random::{OsRandom, RandomError, RandomSource};
pub use replay::{InMemoryReplayCache, ReplayCache, ReplayCacheError, ReplayKey};
pub use request_ids::{InMemoryRequestIdStore, RequestIdStore, RequestIdStoreError};
pub use sleep::Sleep;
#[cfg(feature = "tokio")]
pub use sleep::TokioSleep;

#[cfg(any(test, feature = "test-util"))]
pub use clock::ManualClock;
#[cfg(any(test, feature = "test-util"))]
pub use http::{FakeHttpClient, FakeReply};
#[cfg(any(test, feature = "test-util"))]
pub use random::SequenceRandom;
#[cfg(any(test, feature = "test-util"))]
pub use sleep::ManualSleep;
