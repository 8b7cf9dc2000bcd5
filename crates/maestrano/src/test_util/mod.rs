//! Fakes for tests (feature `test-util`): a manual clock, a scripted HTTP client, a
//! predictable random source, a sleep that moves the clock, and the conformance suites of the
//! identity map store, the push outbox and the single-use store, for users' own tests of their
//! integration and their own stores.

mod clock;
pub mod delivery_conformance;
mod http;
pub mod idmap_conformance;
pub mod outbox_conformance;
mod random;
pub mod single_use_conformance;
mod sleep;

pub use clock::ManualClock;
pub use http::{FakeHttpClient, FakeReply};
pub use random::SequenceRandom;
pub use sleep::ManualSleep;
