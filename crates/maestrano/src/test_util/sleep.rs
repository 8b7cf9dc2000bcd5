use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use crate::ports::Sleep;
use crate::test_util::ManualClock;

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
