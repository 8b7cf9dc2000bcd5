//! Retries of idempotent calls: bounded exponential backoff within a total deadline, waiting
//! through the [`Sleep`] port and measuring time on the [`Clock`], so the policy itself is
//! pure and runtime-free.
//!
//! # What is retried
//!
//! - A transport failure that certainly happened before the request was sent (connection
//!   refused, DNS, TLS handshake): any method, as nothing reached the server.
//! - A timeout, a reset or any failure after the request may have been sent, and a reply with
//!   status 429, 500, 502, 503 or 504: only idempotent methods, `GET`, `HEAD`, `PUT` (Connec!
//!   updates replace the fields they carry, so sending one twice leaves the same state) and
//!   `DELETE` (cancelling a bill twice leaves it cancelled: the API answers the second with the
//!   cancelled bill).
//! - Never a `POST` that may have reached the server: creating a bill twice bills twice. See
//!   [the module documentation](crate::api#avoiding-double-billing).
//!
//! A 4xx reply other than 429 is never retried: the same request would be refused again.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use http::Method;

use super::RestError;
use super::bulkhead::{ApiService, Bulkhead};
use super::wire::clone_request;
use crate::ports::{
    Clock, HttpClient, HttpRequest, HttpResponse, Sleep, TransportError, TransportErrorKind,
};
use crate::types::MarketplaceKey;

/// When and how often an idempotent call is tried again.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Most attempts in all, the first one included (1 = never retry).
    pub max_attempts: u32,
    /// The wait before the first retry.
    pub initial_backoff: Duration,
    /// The longest wait between two attempts.
    pub max_backoff: Duration,
    /// No retry starts once this much time has passed since the first attempt, and no wait
    /// runs past it; each attempt is also cut off when it would run past it.
    pub deadline: Duration,
    /// Whether `PUT` counts as idempotent (default true: Connec! updates are).
    pub retry_put: bool,
    /// Whether `DELETE` counts as idempotent (default true: cancelling is).
    pub retry_delete: bool,
}

impl Default for RetryPolicy {
    /// 4 attempts, backoff 250 ms doubling up to 5 s, 30 s deadline.
    fn default() -> Self {
        Self {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(5),
            deadline: Duration::from_secs(30),
            retry_put: true,
            retry_delete: true,
        }
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RetryDecision {
    /// Wait this long, then try again.
    RetryAfter(Duration),
    /// Return the outcome as it is.
    Stop,
}

/// The outcome of one attempt, as the policy sees it.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum AttemptOutcome<'a> {
    /// A reply arrived.
    Response(&'a HttpResponse),
    /// No reply.
    Transport(&'a TransportError),
}

impl RetryPolicy {
    /// Never retry.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// Sets the most attempts (at least 1).
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Sets the first wait and the longest wait.
    pub fn with_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max.max(initial);
        self
    }

    /// Sets the total deadline.
    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// The wait before retry number `retry` (1 for the first retry): the initial backoff
    /// doubled each time, capped at the maximum.
    pub fn backoff(&self, retry: u32) -> Duration {
        let factor = 1u32
            .checked_shl(retry.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.initial_backoff
            .checked_mul(factor)
            .unwrap_or(self.max_backoff)
            .min(self.max_backoff)
    }

    /// Whether `method` may be sent again after it may have reached the server.
    pub fn is_idempotent(&self, method: &Method) -> bool {
        *method == Method::GET
            || *method == Method::HEAD
            || (*method == Method::PUT && self.retry_put)
            || (*method == Method::DELETE && self.retry_delete)
    }

    /// Decides, after attempt number `attempt` (1 for the first) of a `method` request ended
    /// with `outcome`, `elapsed` after the first attempt started. Pure.
    pub fn decide(
        &self,
        method: &Method,
        attempt: u32,
        outcome: AttemptOutcome<'_>,
        elapsed: Duration,
    ) -> RetryDecision {
        if attempt >= self.max_attempts {
            return RetryDecision::Stop;
        }
        let idempotent = self.is_idempotent(method);
        let (retryable, hinted) = match outcome {
            AttemptOutcome::Transport(e) => (
                !e.may_have_been_sent()
                    || (idempotent && e.kind() != TransportErrorKind::BodyTooLarge),
                None,
            ),
            AttemptOutcome::Response(r) => {
                let status = r.status().as_u16();
                (
                    idempotent && matches!(status, 429 | 500 | 502 | 503 | 504),
                    retry_after(r),
                )
            }
        };
        if !retryable {
            return RetryDecision::Stop;
        }
        let wait = hinted
            .map_or_else(|| self.backoff(attempt), |h| h.max(self.backoff(attempt)))
            .min(self.max_backoff);
        match elapsed.checked_add(wait) {
            Some(at) if at < self.deadline => RetryDecision::RetryAfter(wait),
            _ => RetryDecision::Stop,
        }
    }
}

/// `Retry-After` in seconds, when the reply has one.
pub(super) fn retry_after(r: &HttpResponse) -> Option<Duration> {
    let v = r.headers().get(http::header::RETRY_AFTER)?.to_str().ok()?;
    v.trim()
        .parse::<u32>()
        .ok()
        .map(|s| Duration::from_secs(u64::from(s)))
}

/// A [`RetryPolicy`] with the clock and the sleep it runs on.
#[derive(Debug, Clone)]
pub struct Retrier {
    policy: RetryPolicy,
    clock: Arc<dyn Clock>,
    sleep: Arc<dyn Sleep>,
}

impl Retrier {
    /// Runs `policy`, measuring time on `clock` and waiting with `sleep`.
    pub fn new(policy: RetryPolicy, clock: Arc<dyn Clock>, sleep: Arc<dyn Sleep>) -> Self {
        Self {
            policy,
            clock,
            sleep,
        }
    }

    /// The policy.
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }
}

/// Where a call goes: the marketplace and the service (the labels of its metrics), and the
/// bulkhead that holds it, if any.
#[derive(Clone, Copy)]
pub(crate) struct CallSite<'a> {
    pub(crate) marketplace: &'a MarketplaceKey,
    pub(crate) service: ApiService,
    pub(crate) bulkhead: Option<&'a Bulkhead>,
}

/// The outcome label of a call in `maestrano_api_calls_total`.
fn outcome_label(outcome: &Result<HttpResponse, RestError>) -> &'static str {
    match outcome {
        Ok(r) => match r.status().as_u16() {
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        },
        Err(RestError::Saturated { .. }) => "saturated",
        Err(RestError::CircuitOpen { .. }) => "circuit_open",
        Err(RestError::Transport(e)) if e.kind() == TransportErrorKind::Timeout => "timeout",
        Err(_) => "transport",
    }
}

/// Sends `request` as [`execute_unmetered`] does, and counts the call in
/// `maestrano_api_calls_total{marketplace, service, outcome}`, with its duration in
/// `maestrano_api_call_seconds{marketplace, service}` when a clock is at hand (the
/// retrier's or the bulkhead's: the core reads no clock of its own).
pub(crate) async fn execute(
    http: &dyn HttpClient,
    retrier: Option<&Retrier>,
    attempt_timeout: Option<Duration>,
    request: HttpRequest,
    site: CallSite<'_>,
) -> Result<HttpResponse, RestError> {
    let clock = retrier
        .map(|r| &*r.clock)
        .or_else(|| site.bulkhead.map(|b| b.clock()));
    let started = clock.map(|c| c.now());
    let outcome = execute_unmetered(http, retrier, attempt_timeout, request, site).await;
    let (marketplace, service) = (site.marketplace.to_string(), site.service.label());
    metrics::counter!(
        "maestrano_api_calls_total",
        "marketplace" => marketplace.clone(),
        "service" => service,
        "outcome" => outcome_label(&outcome)
    )
    .increment(1);
    if let (Some(clock), Some(started)) = (clock, started) {
        let seconds = (clock.now() - started).as_seconds_f64().max(0.0);
        metrics::histogram!(
            "maestrano_api_call_seconds",
            "marketplace" => marketplace,
            "service" => service
        )
        .record(seconds);
    }
    outcome
}

/// Sends `request` through `http`, retrying as `retrier` allows. With `attempt_timeout` (and a
/// retrier to provide a sleep), each attempt is cut off after that long, and never runs past
/// the deadline. With a bulkhead, the call is refused when its marketplace's service is
/// saturated or its circuit open, each attempt's outcome is counted, no retry goes once the
/// circuit opened, and the bulkhead's timeout also bounds each attempt. Returns the last
/// outcome.
async fn execute_unmetered(
    http: &dyn HttpClient,
    retrier: Option<&Retrier>,
    attempt_timeout: Option<Duration>,
    request: HttpRequest,
    site: CallSite<'_>,
) -> Result<HttpResponse, RestError> {
    let mut permit = match site.bulkhead {
        Some(bulkhead) => Some(bulkhead.admit(site.marketplace, site.service)?),
        None => None,
    };
    // The bulkhead's timeout, on its own sleep, when the retrier brings none.
    let bulkhead_timeout = site.bulkhead.and_then(|b| b.timeout());
    let Some(retrier) = retrier else {
        let outcome = match bulkhead_timeout {
            Some((limit, sleep)) => {
                let limit = attempt_timeout.map_or(limit, |t| t.min(limit));
                race(http.send(request), sleep, limit).await
            }
            None => http.send(request).await,
        };
        if let Some(p) = &mut permit {
            p.record(&outcome);
        }
        return Ok(outcome?);
    };
    let policy = &retrier.policy;
    let method = request.method().clone();
    let start = retrier.clock.now();
    let elapsed =
        |clock: &dyn Clock| Duration::try_from(clock.now() - start).unwrap_or(Duration::ZERO);
    let attempt_timeout = match (attempt_timeout, bulkhead_timeout) {
        (Some(a), Some((b, _))) => Some(a.min(b)),
        (a, b) => a.or(b.map(|(b, _)| b)),
    };
    let mut attempt = 1;
    loop {
        let remaining = policy.deadline.saturating_sub(elapsed(&*retrier.clock));
        let limit = attempt_timeout.map_or(remaining, |t| t.min(remaining));
        let outcome = race(http.send(clone_request(&request)), &*retrier.sleep, limit).await;
        if let Some(p) = &mut permit {
            p.record(&outcome);
        }
        let decision = match &outcome {
            Ok(r) => policy.decide(
                &method,
                attempt,
                AttemptOutcome::Response(r),
                elapsed(&*retrier.clock),
            ),
            Err(e) => policy.decide(
                &method,
                attempt,
                AttemptOutcome::Transport(e),
                elapsed(&*retrier.clock),
            ),
        };
        match decision {
            RetryDecision::RetryAfter(_) if permit.as_ref().is_some_and(|p| !p.may_retry()) => {
                tracing::debug!(attempt, "not retrying: the circuit opened");
                return Ok(outcome?);
            }
            RetryDecision::RetryAfter(wait) => {
                tracing::debug!(attempt, ?wait, "retrying an API call");
                retrier.sleep.sleep(wait).await;
                attempt += 1;
            }
            RetryDecision::Stop => return Ok(outcome?),
        }
    }
}

/// `send` unless `sleep` finishes `limit` first, which is a timeout (the request may have been
/// sent). `send` is polled first, so a ready reply always wins.
async fn race<F>(
    send: F,
    sleep: &dyn Sleep,
    limit: Duration,
) -> Result<HttpResponse, TransportError>
where
    F: Future<Output = Result<HttpResponse, TransportError>>,
{
    let mut send = pin!(send);
    let mut timer = sleep.sleep(limit);
    std::future::poll_fn(|cx| {
        if let Poll::Ready(out) = send.as_mut().poll(cx) {
            return Poll::Ready(out);
        }
        if timer.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(TransportError::new(
                TransportErrorKind::Timeout,
                format!("no reply within {} ms", limit.as_millis()),
            )));
        }
        Poll::Pending
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16) -> HttpResponse {
        http::Response::builder()
            .status(status)
            .body(Vec::new())
            .unwrap()
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let p = RetryPolicy::default()
            .with_backoff(Duration::from_millis(100), Duration::from_millis(500));
        let waits: Vec<_> = (1..=5).map(|n| p.backoff(n).as_millis()).collect();
        assert_eq!(waits, [100, 200, 400, 500, 500]);
        assert_eq!(p.backoff(200), Duration::from_millis(500));
    }

    #[test]
    fn idempotent_calls_retry_on_5xx_and_429_but_not_on_4xx() {
        let p = RetryPolicy::default();
        for status in [429, 500, 502, 503, 504] {
            assert_eq!(
                p.decide(
                    &Method::GET,
                    1,
                    AttemptOutcome::Response(&reply(status)),
                    Duration::ZERO
                ),
                RetryDecision::RetryAfter(Duration::from_millis(250)),
                "{status}"
            );
        }
        for status in [200, 400, 401, 404, 409, 501] {
            assert_eq!(
                p.decide(
                    &Method::GET,
                    1,
                    AttemptOutcome::Response(&reply(status)),
                    Duration::ZERO
                ),
                RetryDecision::Stop,
                "{status}"
            );
        }
    }

    #[test]
    fn a_post_is_retried_only_when_it_certainly_was_not_sent() {
        let p = RetryPolicy::default();
        let refused = TransportError::new(TransportErrorKind::Connect, "refused");
        let timeout = TransportError::new(TransportErrorKind::Timeout, "slow");
        let reset = TransportError::new(TransportErrorKind::Other, "reset");
        assert!(matches!(
            p.decide(
                &Method::POST,
                1,
                AttemptOutcome::Transport(&refused),
                Duration::ZERO
            ),
            RetryDecision::RetryAfter(_)
        ));
        for e in [&timeout, &reset] {
            assert_eq!(
                p.decide(
                    &Method::POST,
                    1,
                    AttemptOutcome::Transport(e),
                    Duration::ZERO
                ),
                RetryDecision::Stop
            );
            assert!(matches!(
                p.decide(
                    &Method::GET,
                    1,
                    AttemptOutcome::Transport(e),
                    Duration::ZERO
                ),
                RetryDecision::RetryAfter(_)
            ));
        }
        assert_eq!(
            p.decide(
                &Method::POST,
                1,
                AttemptOutcome::Response(&reply(503)),
                Duration::ZERO
            ),
            RetryDecision::Stop
        );
        let too_large = TransportError::new(TransportErrorKind::BodyTooLarge, "big");
        assert_eq!(
            p.decide(
                &Method::GET,
                1,
                AttemptOutcome::Transport(&too_large),
                Duration::ZERO
            ),
            RetryDecision::Stop
        );
    }

    #[test]
    fn attempts_and_deadline_bound_the_retries() {
        let p = RetryPolicy::default()
            .with_max_attempts(3)
            .with_deadline(Duration::from_secs(2));
        let r = reply(503);
        assert!(matches!(
            p.decide(
                &Method::GET,
                2,
                AttemptOutcome::Response(&r),
                Duration::ZERO
            ),
            RetryDecision::RetryAfter(_)
        ));
        assert_eq!(
            p.decide(
                &Method::GET,
                3,
                AttemptOutcome::Response(&r),
                Duration::ZERO
            ),
            RetryDecision::Stop
        );
        assert_eq!(
            p.decide(
                &Method::GET,
                1,
                AttemptOutcome::Response(&r),
                Duration::from_millis(1800)
            ),
            RetryDecision::Stop
        );
        assert_eq!(
            RetryPolicy::none().decide(
                &Method::GET,
                1,
                AttemptOutcome::Response(&r),
                Duration::ZERO
            ),
            RetryDecision::Stop
        );
    }

    #[test]
    fn retry_after_is_honoured_up_to_the_maximum_backoff() {
        let p = RetryPolicy::default();
        let mut r = reply(503);
        r.headers_mut()
            .insert(http::header::RETRY_AFTER, "2".parse().unwrap());
        assert_eq!(
            p.decide(
                &Method::GET,
                1,
                AttemptOutcome::Response(&r),
                Duration::ZERO
            ),
            RetryDecision::RetryAfter(Duration::from_secs(2))
        );
        r.headers_mut()
            .insert(http::header::RETRY_AFTER, "3600".parse().unwrap());
        assert_eq!(
            p.decide(
                &Method::GET,
                1,
                AttemptOutcome::Response(&r),
                Duration::ZERO
            ),
            RetryDecision::RetryAfter(Duration::from_secs(5))
        );
    }

    #[test]
    fn put_and_delete_can_be_made_non_idempotent() {
        let p = RetryPolicy {
            retry_put: false,
            retry_delete: false,
            ..RetryPolicy::default()
        };
        assert!(p.is_idempotent(&Method::GET));
        assert!(!p.is_idempotent(&Method::PUT));
        assert!(!p.is_idempotent(&Method::DELETE));
        assert!(!p.is_idempotent(&Method::POST));
    }
}
