//! The retry policy's sleep on the Tokio timer (feature `tokio`).

use std::time::Duration;

use async_trait::async_trait;

use crate::ports::Sleep;

/// [`Sleep`] on the Tokio timer (feature `tokio`). Must be awaited within a Tokio runtime
/// with the time driver enabled.
#[derive(Debug, Default, Clone, Copy)]
pub struct TokioSleep;

#[async_trait]
impl Sleep for TokioSleep {
    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn tokio_sleep_waits_on_the_tokio_timer() {
        let start = tokio::time::Instant::now();
        TokioSleep.sleep(Duration::from_millis(30)).await;
        assert!(start.elapsed() >= Duration::from_millis(30));
    }
}
