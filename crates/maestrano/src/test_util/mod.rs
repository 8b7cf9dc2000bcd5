//! Fakes for tests (feature `test-util`): a manual clock, a scripted HTTP client, a
//! predictable random source, a sleep that moves the clock, and the conformance suites of the
//! identity map store, the push outbox and the single-use store, for users' own tests of their
//! integration and their own stores.
//!
//! ```
//! use maestrano::ports::Clock;
//! use maestrano::test_util::ManualClock;
//! use time::macros::datetime;
//!
//! // Time moves only when the test says so: expiry is tested without sleeping.
//! let clock = ManualClock::new(datetime!(2030-01-01 00:00 UTC));
//! clock.advance(time::Duration::minutes(11));
//! assert_eq!(clock.now(), datetime!(2030-01-01 00:11 UTC));
//! ```

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

/// A tag unique to one run of a conformance suite (16 hex digits from the OS), so that every
/// run writes under names of its own, on a store that may hold earlier runs' entries.
fn run_tag() -> String {
    use crate::ports::RandomSource as _;
    let mut bytes = [0u8; 8];
    crate::ports::OsRandom
        .fill(&mut bytes)
        .expect("the OS random source answers");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
