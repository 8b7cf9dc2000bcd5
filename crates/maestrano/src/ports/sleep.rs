//! The `Sleep` port: how the SDK waits between retries and bounds an attempt in time, without
//! depending on an async runtime.
//!
//! The core never starts a timer itself. The `tokio` feature ships `TokioSleep` (in the adapters); the
//! `test-util` feature ships [`ManualSleep`], which returns at once and moves a
//! [`ManualClock`](crate::test_util::ManualClock) forward instead, so retry schedules are tested
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

#[cfg(test)]
mod tests {
    use crate::test_util::ManualSleep;
    use std::sync::Arc;

    use time::macros::datetime;

    use super::*;
    use crate::ports::Clock;
    use crate::test_util::ManualClock;

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
}
