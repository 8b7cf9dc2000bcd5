//! Bulkheads: the account API and Connec! calls of each marketplace kept apart from every
//! other marketplace's, so that one slow or failing enterprise host cannot take the app's
//! capacity for all the others (issue 19).
//!
//! For each marketplace and service a [`Bulkhead`] keeps:
//! - a bound on the calls in flight: past it a call is refused at once
//!   ([`RestError::Saturated`]) instead of queueing, so a hung host holds at most that many
//!   of the app's tasks;
//! - a timeout per attempt (with a [`Sleep`]);
//! - a circuit breaker: after `failure_threshold` failures in a row (no reply, a timeout, a
//!   5xx or a 429), or at once when a 429 or 503 says `Retry-After`, calls are refused
//!   ([`RestError::CircuitOpen`]) for `open_for` (or as long as `Retry-After` asks, up to
//!   `max_open_for`); then one call goes through as a probe, and its outcome closes the
//!   circuit or opens it again.
//!
//! Time comes from the [`Clock`]: the breaker is tested with a fixed clock, like the rest.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use time::OffsetDateTime;

use super::RestError;
use crate::ports::{Clock, HttpResponse, Sleep, TransportError};
use crate::types::MarketplaceKey;

/// The default most calls in flight to one service of one marketplace.
pub const DEFAULT_MAX_IN_FLIGHT: u32 = 16;
/// The default failures in a row that open a circuit.
pub const DEFAULT_FAILURE_THRESHOLD: u32 = 5;
/// How long an open circuit refuses calls by default before it lets a probe through.
pub const DEFAULT_OPEN_FOR: Duration = Duration::from_secs(30);
/// The longest a `Retry-After` keeps a circuit open by default.
pub const DEFAULT_MAX_OPEN_FOR: Duration = Duration::from_secs(600);

/// The remote service a call goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ApiService {
    /// The marketplace's account API (`api.host`).
    Account,
    /// The marketplace's Connec! API (`connec.host`).
    Connec,
}

impl ApiService {
    /// The `service` label of the SDK's metrics: `account` or `connec`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Account => "account",
            Self::Connec => "connec",
        }
    }
}

impl fmt::Display for ApiService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Account => "account API",
            Self::Connec => "Connec! API",
        })
    }
}

/// The limits of a [`Bulkhead`], the same for every marketplace (each has its own).
///
/// ```
/// use std::time::Duration;
/// use maestrano::BulkheadOptions;
///
/// let options = BulkheadOptions::default()
///     .with_max_in_flight(8)
///     .with_timeout(Duration::from_secs(10))
///     .with_breaker(3, Duration::from_secs(60));
/// # let _ = options;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkheadOptions {
    max_in_flight: u32,
    failure_threshold: u32,
    open_for: Duration,
    max_open_for: Duration,
    timeout: Option<Duration>,
}

impl Default for BulkheadOptions {
    fn default() -> Self {
        Self {
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            failure_threshold: DEFAULT_FAILURE_THRESHOLD,
            open_for: DEFAULT_OPEN_FOR,
            max_open_for: DEFAULT_MAX_OPEN_FOR,
            timeout: None,
        }
    }
}

impl BulkheadOptions {
    /// The most calls in flight to one service of one marketplace (at least 1; default
    /// [`DEFAULT_MAX_IN_FLIGHT`]). A call holds its place through its retries.
    pub fn with_max_in_flight(mut self, max: u32) -> Self {
        self.max_in_flight = max.max(1);
        self
    }

    /// Opens the circuit after `failures` in a row (at least 1) for `open_for`.
    pub fn with_breaker(mut self, failures: u32, open_for: Duration) -> Self {
        self.failure_threshold = failures.max(1);
        self.open_for = open_for;
        self
    }

    /// The longest a `Retry-After` keeps the circuit open (default
    /// [`DEFAULT_MAX_OPEN_FOR`]): a host cannot switch an app off for longer.
    pub fn with_max_open_for(mut self, max: Duration) -> Self {
        self.max_open_for = max;
        self
    }

    /// Cuts each attempt off after `timeout` (needs [`Bulkhead::with_sleep`]); a client's own,
    /// shorter timeout (`connec.timeout`) still applies.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Breaker {
    /// Calls go through; this many failed in a row.
    Closed(u32),
    /// Calls are refused until then.
    Open(OffsetDateTime),
    /// One call is through as a probe since then; the others are refused, until `open_for`
    /// has passed without its outcome (a hung probe), when the next call probes again.
    Probing(OffsetDateTime),
}

#[derive(Debug)]
struct Cell {
    in_flight: u32,
    breaker: Breaker,
}

/// What a [`Bulkhead`] knows of one service of one marketplace, for a health report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct BulkheadState {
    /// Calls in flight.
    pub in_flight: u32,
    /// Failures in a row since the last success.
    pub consecutive_failures: u32,
    /// Until when the circuit refuses calls, when it is open.
    pub open_until: Option<OffsetDateTime>,
    /// Whether a probe call is in flight.
    pub probing: bool,
}

struct Inner {
    options: BulkheadOptions,
    clock: Arc<dyn Clock>,
    sleep: Option<Arc<dyn Sleep>>,
    /// Shared by the clones, and kept when [`Bulkhead::with_sleep`] rebuilds the rest.
    cells: Arc<Mutex<HashMap<(MarketplaceKey, ApiService), Cell>>>,
}

/// Per-marketplace concurrency limits, timeouts and circuit breakers for the account API and
/// Connec! clients. One per app, shared by every client (`with_bulkhead`); cheap to clone.
///
/// For each marketplace and service it keeps a bound on the calls in flight (past it a call is
/// refused at once with [`RestError::Saturated`] instead of queueing, so a hung host holds at
/// most that many of the app's tasks), a timeout per attempt (with a [`Sleep`]), and a circuit
/// breaker: after `failure_threshold` failures in a row (no reply, a timeout, a 5xx or a 429),
/// or at once when a 429 or 503 says `Retry-After`, calls are refused with
/// [`RestError::CircuitOpen`] for `open_for` (or as long as `Retry-After` asks, up to
/// `max_open_for`); then one call goes through as a probe, and its outcome closes the circuit
/// or opens it again. Time comes from the [`Clock`].
///
/// ```
/// use std::sync::Arc;
/// use maestrano::ports::SystemClock;
/// use maestrano::{Bulkhead, BulkheadOptions};
///
/// let bulkhead = Bulkhead::new(BulkheadOptions::default(), Arc::new(SystemClock));
/// // AccountClient::new(tenant, http).with_bulkhead(bulkhead.clone()), and so for Connec!.
/// # let _ = bulkhead;
/// ```
#[derive(Clone)]
pub struct Bulkhead {
    inner: Arc<Inner>,
}

impl fmt::Debug for Bulkhead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bulkhead")
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

impl Bulkhead {
    /// A bulkhead with `options`, its breaker timed on `clock`.
    pub fn new(options: BulkheadOptions, clock: Arc<dyn Clock>) -> Self {
        Self {
            inner: Arc::new(Inner {
                options,
                clock,
                sleep: None,
                cells: Arc::default(),
            }),
        }
    }

    /// Waits with `sleep`, so that [`BulkheadOptions::with_timeout`] can cut attempts off
    /// (without it the timeout is not applied, and a call lasts as long as the HTTP client
    /// lets it). The state is the same as this bulkhead's and its clones'.
    pub fn with_sleep(self, sleep: Arc<dyn Sleep>) -> Self {
        let inner = Inner {
            options: self.inner.options.clone(),
            clock: self.inner.clock.clone(),
            sleep: Some(sleep),
            cells: self.inner.cells.clone(),
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The state of `service` for `marketplace`.
    pub fn state(&self, marketplace: &MarketplaceKey, service: ApiService) -> BulkheadState {
        let now = self.inner.clock.now();
        let cells = self.cells();
        let Some(cell) = cells.get(&(marketplace.clone(), service)) else {
            return BulkheadState {
                in_flight: 0,
                consecutive_failures: 0,
                open_until: None,
                probing: false,
            };
        };
        BulkheadState {
            in_flight: cell.in_flight,
            consecutive_failures: match cell.breaker {
                Breaker::Closed(n) => n,
                _ => self.inner.options.failure_threshold,
            },
            open_until: match cell.breaker {
                Breaker::Open(until) if until > now => Some(until),
                _ => None,
            },
            probing: matches!(cell.breaker, Breaker::Probing(_)),
        }
    }

    fn cells(&self) -> std::sync::MutexGuard<'_, HashMap<(MarketplaceKey, ApiService), Cell>> {
        self.inner.cells.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The clock the breaker runs on.
    pub(crate) fn clock(&self) -> &dyn Clock {
        &*self.inner.clock
    }

    /// The timeout of each attempt, and the sleep that measures it.
    pub(crate) fn timeout(&self) -> Option<(Duration, &dyn Sleep)> {
        Some((self.inner.options.timeout?, self.inner.sleep.as_deref()?))
    }

    /// A place for one call to `service` of `marketplace`, or the refusal.
    pub(crate) fn admit(
        &self,
        marketplace: &MarketplaceKey,
        service: ApiService,
    ) -> Result<Permit<'_>, RestError> {
        let now = self.inner.clock.now();
        let options = &self.inner.options;
        let mut cells = self.cells();
        let cell = cells.entry((marketplace.clone(), service)).or_insert(Cell {
            in_flight: 0,
            breaker: Breaker::Closed(0),
        });
        let probe = match cell.breaker {
            Breaker::Closed(_) => false,
            Breaker::Open(until) if until > now => {
                return Err(RestError::CircuitOpen {
                    service,
                    retry_in: Duration::try_from(until - now).unwrap_or(Duration::ZERO),
                });
            }
            Breaker::Open(_) => true,
            Breaker::Probing(since)
                if now
                    < since.saturating_add(
                        options.open_for.try_into().unwrap_or(time::Duration::MAX),
                    ) =>
            {
                return Err(RestError::CircuitOpen {
                    service,
                    retry_in: Duration::ZERO,
                });
            }
            // The probe has hung for as long as the circuit stays open: probe again.
            Breaker::Probing(_) => true,
        };
        if cell.in_flight >= options.max_in_flight {
            return Err(RestError::Saturated {
                service,
                limit: options.max_in_flight,
            });
        }
        cell.in_flight += 1;
        if probe {
            cell.breaker = Breaker::Probing(now);
        }
        Ok(Permit {
            bulkhead: self,
            key: (marketplace.clone(), service),
            probe,
            settled: false,
        })
    }
}

/// One admitted call: its place is given back when it is dropped.
pub(crate) struct Permit<'b> {
    bulkhead: &'b Bulkhead,
    key: (MarketplaceKey, ApiService),
    probe: bool,
    /// A probe's outcome was recorded.
    settled: bool,
}

/// Whether an attempt's outcome counts against the host, and how long it asked to be left
/// alone.
fn failure(outcome: &Result<HttpResponse, TransportError>) -> (bool, Option<Duration>) {
    match outcome {
        Err(_) => (true, None),
        Ok(r) => {
            let status = r.status().as_u16();
            let hinted = matches!(status, 429 | 503)
                .then(|| super::retry::retry_after(r))
                .flatten();
            (status == 429 || status >= 500, hinted)
        }
    }
}

impl Permit<'_> {
    /// Whether another attempt (a retry) may go: not once the circuit opened.
    pub(crate) fn may_retry(&self) -> bool {
        let cells = self.bulkhead.cells();
        cells
            .get(&self.key)
            .is_some_and(|c| matches!(c.breaker, Breaker::Closed(_)))
    }

    /// Counts an attempt's outcome.
    pub(crate) fn record(&mut self, outcome: &Result<HttpResponse, TransportError>) {
        let inner = &self.bulkhead.inner;
        let now = inner.clock.now();
        let (failed, hinted) = failure(outcome);
        let mut cells = self.bulkhead.cells();
        let Some(cell) = cells.get_mut(&self.key) else {
            return;
        };
        let open = |wait: Duration| {
            Breaker::Open(now.saturating_add(wait.try_into().unwrap_or(time::Duration::MAX)))
        };
        let before = cell.breaker;
        cell.breaker = match (before, failed, hinted) {
            (_, true, Some(wait)) => open(wait.min(inner.options.max_open_for)),
            (_, false, _) => Breaker::Closed(0),
            (Breaker::Probing(_), true, None) => open(inner.options.open_for),
            (Breaker::Closed(n), true, None) if n + 1 >= inner.options.failure_threshold => {
                open(inner.options.open_for)
            }
            (Breaker::Closed(n), true, None) => Breaker::Closed(n + 1),
            // Opened meanwhile by another call: it stays open.
            (open_now @ Breaker::Open(_), true, None) => open_now,
        };
        if self.probe {
            self.settled = true;
        }
        if matches!(cell.breaker, Breaker::Open(_)) && !matches!(before, Breaker::Open(_)) {
            tracing::warn!(
                marketplace = %self.key.0,
                service = %self.key.1,
                "circuit open: calls refused until the host recovers"
            );
        }
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let mut cells = self.bulkhead.cells();
        if let Some(cell) = cells.get_mut(&self.key) {
            cell.in_flight = cell.in_flight.saturating_sub(1);
            // A probe dropped before its outcome (the caller gave up): the next call probes.
            if self.probe && !self.settled && matches!(cell.breaker, Breaker::Probing(_)) {
                cell.breaker = Breaker::Open(self.bulkhead.inner.clock.now());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::TransportErrorKind;
    use crate::test_util::ManualClock;

    fn reply(status: u16, retry_after: Option<&str>) -> Result<HttpResponse, TransportError> {
        let mut r = http::Response::builder().status(status);
        if let Some(v) = retry_after {
            r = r.header(http::header::RETRY_AFTER, v);
        }
        Ok(r.body(Vec::new()).unwrap())
    }

    fn timeout() -> Result<HttpResponse, TransportError> {
        Err(TransportError::new(TransportErrorKind::Timeout, "no reply"))
    }

    fn setup() -> (Arc<ManualClock>, Bulkhead, MarketplaceKey, MarketplaceKey) {
        let clock = Arc::new(ManualClock::new(
            time::macros::datetime!(2026-12-07 12:00 UTC),
        ));
        let options = BulkheadOptions::default()
            .with_max_in_flight(2)
            .with_breaker(3, Duration::from_secs(30));
        let bulkhead = Bulkhead::new(options, clock.clone());
        let a = MarketplaceKey::new("slow-corp").unwrap();
        let b = MarketplaceKey::new("maestrano").unwrap();
        (clock, bulkhead, a, b)
    }

    /// Three failures in a row: the threshold of `setup`'s options.
    fn open_circuit(bulkhead: &Bulkhead, m: &MarketplaceKey) {
        for _ in 0..3 {
            bulkhead
                .admit(m, ApiService::Account)
                .unwrap()
                .record(&timeout());
        }
    }

    #[test]
    fn calls_past_the_bound_are_refused_for_that_marketplace_and_service_only() {
        let (_, bulkhead, a, b) = setup();
        let first = bulkhead.admit(&a, ApiService::Account).unwrap();
        let _second = bulkhead.admit(&a, ApiService::Account).unwrap();
        assert!(matches!(
            bulkhead.admit(&a, ApiService::Account),
            Err(RestError::Saturated { limit: 2, .. })
        ));
        // Another marketplace, and the other service of the same one, have their own places.
        let _b = bulkhead.admit(&b, ApiService::Account).unwrap();
        let _c = bulkhead.admit(&a, ApiService::Connec).unwrap();
        assert_eq!(bulkhead.state(&a, ApiService::Account).in_flight, 2);
        // A finished call gives its place back.
        drop(first);
        assert!(bulkhead.admit(&a, ApiService::Account).is_ok());
    }

    #[test]
    fn failures_in_a_row_open_the_circuit_then_one_probe_closes_or_reopens_it() {
        let (clock, bulkhead, a, b) = setup();
        // A success between failures resets the count; 4xx replies are the caller's fault.
        for outcome in [
            timeout(),
            reply(502, None),
            reply(200, None),
            reply(404, None),
        ] {
            bulkhead
                .admit(&a, ApiService::Connec)
                .unwrap()
                .record(&outcome);
        }
        assert_eq!(
            bulkhead.state(&a, ApiService::Connec).consecutive_failures,
            0
        );
        for outcome in [timeout(), reply(500, None), reply(429, None)] {
            bulkhead
                .admit(&a, ApiService::Connec)
                .unwrap()
                .record(&outcome);
        }
        let state = bulkhead.state(&a, ApiService::Connec);
        assert_eq!(
            state.open_until,
            Some(time::macros::datetime!(2026-12-07 12:00:30 UTC))
        );
        match bulkhead.admit(&a, ApiService::Connec) {
            Err(RestError::CircuitOpen { retry_in, .. }) => {
                assert_eq!(retry_in, Duration::from_secs(30))
            }
            other => panic!("{:?}", other.map(|_| ())),
        }
        // The other marketplace is untouched.
        assert!(bulkhead.admit(&b, ApiService::Connec).is_ok());

        // Past the window one probe goes; the others wait for its outcome.
        clock.advance(time::Duration::seconds(30));
        let mut probe = bulkhead.admit(&a, ApiService::Connec).unwrap();
        assert!(bulkhead.state(&a, ApiService::Connec).probing);
        assert!(matches!(
            bulkhead.admit(&a, ApiService::Connec),
            Err(RestError::CircuitOpen { .. })
        ));
        probe.record(&timeout());
        drop(probe);
        assert!(bulkhead.state(&a, ApiService::Connec).open_until.is_some());

        clock.advance(time::Duration::seconds(30));
        let mut probe = bulkhead.admit(&a, ApiService::Connec).unwrap();
        probe.record(&reply(200, None));
        drop(probe);
        let state = bulkhead.state(&a, ApiService::Connec);
        assert_eq!((state.open_until, state.probing), (None, false));
        assert!(bulkhead.admit(&a, ApiService::Connec).is_ok());
    }

    #[test]
    fn retry_after_opens_the_circuit_at_once_for_as_long_as_asked_within_the_cap() {
        let (clock, bulkhead, a, _) = setup();
        bulkhead
            .admit(&a, ApiService::Account)
            .unwrap()
            .record(&reply(503, Some("120")));
        let now = clock.now();
        assert_eq!(
            bulkhead.state(&a, ApiService::Account).open_until,
            Some(now + time::Duration::seconds(120))
        );
        // A host cannot switch the app off for longer than the cap.
        clock.advance(time::Duration::seconds(120));
        bulkhead
            .admit(&a, ApiService::Account)
            .unwrap()
            .record(&reply(429, Some("86400")));
        assert_eq!(
            bulkhead.state(&a, ApiService::Account).open_until,
            Some(clock.now() + time::Duration::seconds(600))
        );
    }

    #[test]
    fn a_hung_probe_lets_another_through_once_the_window_has_passed_again() {
        let (clock, bulkhead, a, _) = setup();
        open_circuit(&bulkhead, &a);
        clock.advance(time::Duration::seconds(30));
        let _hung = bulkhead.admit(&a, ApiService::Account).unwrap();
        clock.advance(time::Duration::seconds(29));
        assert!(bulkhead.admit(&a, ApiService::Account).is_err());
        clock.advance(time::Duration::seconds(1));
        assert!(bulkhead.admit(&a, ApiService::Account).is_ok());
    }

    #[test]
    fn with_sleep_keeps_the_state_clones_watch() {
        let (_, bulkhead, a, _) = setup();
        let watched = bulkhead.clone();
        let slept = bulkhead.with_sleep(Arc::new(crate::test_util::ManualSleep::new(Arc::new(
            ManualClock::new(time::macros::datetime!(2026-12-07 12:00 UTC)),
        ))));
        let _call = slept.admit(&a, ApiService::Connec).unwrap();
        assert_eq!(watched.state(&a, ApiService::Connec).in_flight, 1);
    }

    #[test]
    fn a_probe_dropped_before_its_outcome_lets_the_next_call_probe() {
        let (clock, bulkhead, a, _) = setup();
        open_circuit(&bulkhead, &a);
        clock.advance(time::Duration::seconds(31));
        drop(bulkhead.admit(&a, ApiService::Account).unwrap());
        let state = bulkhead.state(&a, ApiService::Account);
        assert_eq!((state.in_flight, state.probing), (0, false));
        assert!(bulkhead.admit(&a, ApiService::Account).is_ok());
    }
}
