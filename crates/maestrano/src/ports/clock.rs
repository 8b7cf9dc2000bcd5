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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::ManualClock;
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
