//! The registry's refresher on a Tokio task (feature `tokio`).

use std::time::Duration;

use crate::config::registry::Registry;
use time::OffsetDateTime;

use crate::offboard::{OffboardScope, Offboarding};
use crate::ports::{OsRandom, RandomSource};
use crate::types::MarketplaceKey;

/// How often the [`Refresher`] looks at the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RefresherOptions {
    /// The time between two looks: 30 seconds unless set, and never under 100 ms. At each look the registry refreshes
    /// if its TTL has run out, or its retry delay after a failure
    /// ([`Registry::refresh_if_stale`]); otherwise nothing is sent.
    pub interval: Duration,
    /// Up to this much more, drawn afresh each time, so that the instances of an app started
    /// together do not all call the developer platform in the same second: 10 seconds unless
    /// set.
    pub jitter: Duration,
}

impl Default for RefresherOptions {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(30),
            jitter: Duration::from_secs(10),
        }
    }
}

impl RefresherOptions {
    /// Sets [`interval`](Self::interval).
    pub fn with_interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Sets [`jitter`](Self::jitter).
    pub fn with_jitter(mut self, jitter: Duration) -> Self {
        self.jitter = jitter;
        self
    }
}

/// Keeps a [`Registry`] fresh from a Tokio task, so that a rotated IdP key or a new
/// marketplace reaches a long-running server: started with one call, stopped when dropped.
///
/// ```no_run
/// # async fn demo(registry: maestrano::Registry) {
/// use maestrano::adapters::{Refresher, RefresherOptions};
///
/// let _refresher = Refresher::spawn(registry.clone(), RefresherOptions::default());
/// // … serve requests; the task stops when `_refresher` is dropped.
/// # }
/// ```
///
/// A failed refresh keeps the last good configuration (and is traced by the registry); the
/// task goes on looking.
#[derive(Debug)]
pub struct Refresher {
    task: tokio::task::JoinHandle<()>,
}

impl Refresher {
    /// Starts the task on the current Tokio runtime.
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime, as `tokio::spawn` does.
    pub fn spawn(registry: Registry, options: RefresherOptions) -> Self {
        Self::spawn_on(registry, options, &tokio::runtime::Handle::current())
    }

    /// Starts the task on `runtime`.
    pub fn spawn_on(
        registry: Registry,
        options: RefresherOptions,
        runtime: &tokio::runtime::Handle,
    ) -> Self {
        Self::start(registry, options, None, runtime)
    }

    /// As [`spawn`](Self::spawn), and erases with `offboarding` what the SDK stored for each
    /// marketplace a refresh removes from the configuration (not one only refused), once it
    /// has stayed out for the [grace period](Offboarding::with_grace); one that comes back
    /// meanwhile is kept.
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime, as `tokio::spawn` does.
    pub fn spawn_offboarding(
        registry: Registry,
        options: RefresherOptions,
        offboarding: Offboarding,
    ) -> Self {
        Self::start(
            registry,
            options,
            Some(offboarding),
            &tokio::runtime::Handle::current(),
        )
    }

    fn start(
        registry: Registry,
        options: RefresherOptions,
        offboarding: Option<Offboarding>,
        runtime: &tokio::runtime::Handle,
    ) -> Self {
        let task = runtime.spawn(async move {
            // At least 100 ms between looks, whatever the options say: never a busy loop.
            let interval = options.interval.max(Duration::from_millis(100));
            // Removed marketplaces and when they are due for erasing; at most the number of
            // marketplaces the configuration ever held.
            let mut departing: Vec<(MarketplaceKey, OffsetDateTime)> = Vec::new();
            loop {
                let pause = interval.saturating_add(jitter(options.jitter));
                tokio::time::sleep(pause).await;
                // Errors are traced by the registry, which keeps its last good snapshot.
                let refreshed = registry.refresh_if_stale().await;
                if let Some(offboarding) = &offboarding {
                    let now = registry.now();
                    if let Ok(Some(report)) = &refreshed {
                        let grace = time::Duration::try_from(offboarding.grace())
                            .unwrap_or(time::Duration::MAX);
                        for m in report
                            .removed
                            .iter()
                            .filter(|m| !report.refused.contains(m))
                        {
                            if !departing.iter().any(|(k, _)| k == m) {
                                departing.push((m.clone(), now.saturating_add(grace)));
                            }
                        }
                    }
                    departing = offboard_due(&registry, offboarding, departing, now).await;
                }
            }
        });
        Self { task }
    }

    /// Stops the task (as dropping it does).
    pub fn stop(self) {}
}

impl Drop for Refresher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Erases the departing marketplaces whose grace has passed and that are still out of the
/// configuration; returns those still waiting (a failed erase waits for the next look).
async fn offboard_due(
    registry: &Registry,
    offboarding: &Offboarding,
    departing: Vec<(MarketplaceKey, OffsetDateTime)>,
    now: OffsetDateTime,
) -> Vec<(MarketplaceKey, OffsetDateTime)> {
    let snapshot = registry.snapshot();
    let mut waiting = Vec::new();
    for (m, due) in departing {
        if snapshot.get(&m).is_ok() {
            tracing::info!(marketplace = %m, "a removed marketplace came back: not offboarded");
        } else if now < due {
            waiting.push((m, due));
        } else if let Err(error) = offboarding
            .erase(&OffboardScope::Marketplace(m.clone()))
            .await
        {
            tracing::error!(marketplace = %m, %error, "offboarding failed; trying again");
            waiting.push((m, due));
        }
    }
    waiting
}

/// A duration drawn uniformly from `[0, max)` (zero when the random source fails: the jitter
/// only spreads load).
fn jitter(max: Duration) -> Duration {
    let max_ms = u64::try_from(max.as_millis()).unwrap_or(u64::MAX);
    if max_ms == 0 {
        return Duration::ZERO;
    }
    let mut bytes = [0u8; 8];
    if OsRandom.fill(&mut bytes).is_err() {
        return Duration::ZERO;
    }
    Duration::from_millis(u64::from_le_bytes(bytes) % max_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_below_its_bound_and_varies() {
        let draws: Vec<Duration> = (0..64).map(|_| jitter(Duration::from_secs(10))).collect();
        assert!(draws.iter().all(|d| *d < Duration::from_secs(10)));
        assert!(draws.windows(2).any(|w| w[0] != w[1]), "{draws:?}");
        assert_eq!(jitter(Duration::ZERO), Duration::ZERO);
    }
}
