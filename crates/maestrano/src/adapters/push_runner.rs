//! A [`PushWorker`] on a Tokio task (feature `tokio`).

use std::time::Duration;

use crate::push::PushWorker;

/// Runs a [`PushWorker`] on a Tokio task: it sends everything due, sleeps `interval`, and
/// again, until the runner is dropped or [stopped](Self::stop). Run one on every instance:
/// claims are exclusive, so the instances share the work.
///
/// Stopping (or a crash) mid-push is safe by construction: the push stays claimed until its
/// lease ends, then any worker takes it over and searches Connec! before it creates.
///
/// ```no_run
/// # fn demo(worker: maestrano::push::PushWorker) {
/// use std::time::Duration;
/// use maestrano::adapters::PushRunner;
///
/// // Inside a Tokio runtime; keep the handle for as long as pushes should go out.
/// let runner = PushRunner::spawn(worker, Duration::from_secs(1));
/// # drop(runner);
/// # }
/// ```
#[derive(Debug)]
pub struct PushRunner {
    task: tokio::task::JoinHandle<()>,
}

impl PushRunner {
    /// Starts the worker on the current Tokio runtime, looking for due pushes every
    /// `interval` (at least 100 ms).
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime; use [`spawn_on`](Self::spawn_on) there.
    pub fn spawn(worker: PushWorker, interval: Duration) -> Self {
        Self::spawn_on(worker, interval, &tokio::runtime::Handle::current())
    }

    /// Starts the worker on `runtime`.
    pub fn spawn_on(
        worker: PushWorker,
        interval: Duration,
        runtime: &tokio::runtime::Handle,
    ) -> Self {
        // At least 100 ms between looks, whatever the caller says: never a busy loop.
        let interval = interval.max(Duration::from_millis(100));
        let task = runtime.spawn(async move {
            loop {
                if let Err(e) = worker.drain().await {
                    // The pushes stay in the outbox; the next round tries again.
                    tracing::warn!(error = %e, "push outbox failed");
                }
                tokio::time::sleep(interval).await;
            }
        });
        Self { task }
    }

    /// Stops the worker (as dropping it does), at its next await point.
    pub fn stop(self) {}
}

impl Drop for PushRunner {
    fn drop(&mut self) {
        self.task.abort();
    }
}
