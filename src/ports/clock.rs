//! The `Clock` port: the only way the SDK learns what time it is.

use std::fmt::Debug;

use time::OffsetDateTime;

/// A source of the current UTC time.
///
/// Every time check in the SDK (SAML conditions, session re-checks, configuration TTLs, id map
/// timestamps) reads the time from a `Clock`, so tests can pin it.
pub trait Clock: Send + Sync + Debug {
    /// The current instant, in UTC.
    fn now(&self) -> OffsetDateTime;
}

/// The wall clock of the machine. The only code in the crate that reads it.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one sanctioned reader of the wall clock
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

impl<C: Clock + ?Sized> Clock for std::sync::Arc<C> {
    fn now(&self) -> OffsetDateTime {
        (**self).now()
    }
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now(&self) -> OffsetDateTime {
        (**self).now()
    }
}

#[cfg(any(test, feature = "test-util"))]
pub use manual::ManualClock;

#[cfg(any(test, feature = "test-util"))]
mod manual {
    use std::sync::Mutex;

    use time::{Duration, OffsetDateTime};

    use super::Clock;

    /// A clock that stands still until told to move (feature `test-util`).
    #[derive(Debug)]
    pub struct ManualClock {
        now: Mutex<OffsetDateTime>,
    }

    impl ManualClock {
        /// A clock showing `at`.
        pub fn new(at: OffsetDateTime) -> Self {
            Self {
                now: Mutex::new(at),
            }
        }

        /// Sets the time.
        pub fn set(&self, at: OffsetDateTime) {
            *self.now.lock().unwrap_or_else(|e| e.into_inner()) = at;
        }

        /// Moves the time forward (or back, with a negative duration).
        pub fn advance(&self, by: Duration) {
            let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
            *now += by;
        }
    }

    impl Clock for ManualClock {
        fn now(&self) -> OffsetDateTime {
            *self.now.lock().unwrap_or_else(|e| e.into_inner())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::new(datetime!(2020-01-01 0:00 UTC));
        assert_eq!(c.now(), datetime!(2020-01-01 0:00 UTC));
        c.advance(time::Duration::seconds(90));
        assert_eq!(c.now(), datetime!(2020-01-01 0:01:30 UTC));
        c.set(datetime!(2021-01-01 0:00 UTC));
        assert_eq!(c.now(), datetime!(2021-01-01 0:00 UTC));
    }

    #[test]
    fn system_clock_is_utc() {
        assert_eq!(SystemClock.now().offset(), time::UtcOffset::UTC);
    }
}
