//! The `Sleep` port: how the SDK waits between retries and bounds an attempt in time, without
//! depending on an async runtime.
//!
//! The core never starts a timer itself. The `tokio` feature ships [`TokioSleep`]; the
//! `test-util` feature ships [`ManualSleep`], which returns at once and moves a
//! [`ManualClock`](crate::ports::ManualClock) forward instead, so retry schedules are tested
//! without waiting.

use std::fmt::Debug;
use std::time::Duration;

use async_trait::async_trait;

/// Waits for a duration.
///
/// An implementation must complete after roughly `duration` (never much earlier, as the retry
/// deadline is computed from the [`Clock`](crate::ports::Clock)), and its future must be
/// cancellation-safe: the SDK drops it when the request it races against finishes first.
#[async_trait]
pub trait Sleep: Send + Sync + Debug {
    /// Completes once `duration` has elapsed.
    async fn sleep(&self, duration: Duration);
}

#[async_trait]
impl<S: Sleep + ?Sized> Sleep for std::sync::Arc<S> {
    async fn sleep(&self, duration: Duration) {
        (**self).sleep(duration).await;
    }
}

/// [`Sleep`] on the Tokio timer (feature `tokio`). Must be awaited within a Tokio runtime
/// with the time driver enabled.
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
#[derive(Debug, Default, Clone, Copy)]
pub struct TokioSleep;

#[cfg(feature = "tokio")]
#[async_trait]
impl Sleep for TokioSleep {
    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

#[cfg(any(test, feature = "test-util"))]
pub use manual::ManualSleep;

#[cfg(any(test, feature = "test-util"))]
mod manual {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use async_trait::async_trait;

    use super::Sleep;
    use crate::ports::ManualClock;

    /// A [`Sleep`] that returns at once, records each requested duration and moves a
    /// [`ManualClock`] forward by it (feature `test-util`).
    #[derive(Debug)]
    pub struct ManualSleep {
        clock: Arc<ManualClock>,
        slept: Mutex<Vec<Duration>>,
    }

    impl ManualSleep {
        /// A sleep that advances `clock`.
        pub fn new(clock: Arc<ManualClock>) -> Self {
            Self {
                clock,
                slept: Mutex::new(Vec::new()),
            }
        }

        /// Every duration slept so far, in order.
        pub fn slept(&self) -> Vec<Duration> {
            self.slept.lock().unwrap_or_else(|e| e.into_inner()).clone()
        }
    }

    #[async_trait]
    impl Sleep for ManualSleep {
        async fn sleep(&self, duration: Duration) {
            self.slept
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(duration);
            let by = time::Duration::try_from(duration).unwrap_or(time::Duration::MAX);
            self.clock.advance(by);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use time::macros::datetime;

    use super::*;
    use crate::ports::{Clock, ManualClock};

    #[tokio::test]
    async fn manual_sleep_records_and_moves_the_clock() {
        let clock = Arc::new(ManualClock::new(datetime!(2024-01-01 0:00 UTC)));
        let sleep = ManualSleep::new(clock.clone());
        sleep.sleep(Duration::from_millis(1500)).await;
        sleep.sleep(Duration::from_secs(2)).await;
        assert_eq!(
            sleep.slept(),
            [Duration::from_millis(1500), Duration::from_secs(2)]
        );
        assert_eq!(clock.now(), datetime!(2024-01-01 0:00:03.5 UTC));
    }

    #[cfg(feature = "tokio")]
    #[tokio::test]
    async fn tokio_sleep_waits_on_the_tokio_timer() {
        let start = tokio::time::Instant::now();
        TokioSleep.sleep(Duration::from_millis(30)).await;
        assert!(start.elapsed() >= Duration::from_millis(30));
    }
}
