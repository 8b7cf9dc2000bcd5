//! Fault injection: into the simulator's own API replies (for tests of API clients) and into
//! webhook deliveries (for tests of the application's webhook handling).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Which API of the simulator a request addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Api {
    /// The developer platform (`/api/config/v1/…`), on its own port.
    DevPlatform,
    /// A marketplace's IdP: SSO, session check, logout (`/api/v1/auth/saml…`, `/app_logout`,
    /// `/app_access_unauthorized`).
    Idp,
    /// A marketplace's account API (`/api/v1/account/…`).
    Account,
    /// A marketplace's Connec! API (`/api/v2/…`, `/batch`, `/api/reports/…`, `/version`).
    Connec,
}

/// Which requests a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ApiScope {
    /// Requests to this API only.
    Only(Api),
    /// Every request the listener receives.
    All,
}

impl ApiScope {
    fn covers(self, api: Api) -> bool {
        match self {
            Self::All => true,
            Self::Only(a) => a == api,
        }
    }
}

impl From<Api> for ApiScope {
    fn from(api: Api) -> Self {
        Self::Only(api)
    }
}

/// A fault in one of the simulator's own replies. The request is not acted on, except for
/// [`ApiFault::Delay`], which answers normally after the delay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ApiFault {
    /// Wait this long, then handle the request normally.
    Delay(Duration),
    /// Answer HTTP 500 with the API's own error body (the account API's `errors.system`
    /// envelope, a JSON-API error for Connec!).
    InternalError,
    /// Answer HTTP 503 with `Retry-After` in whole seconds and the API's own error body: an
    /// overloaded or maintained host asking clients to come back later.
    Unavailable {
        /// What `Retry-After` says.
        retry_after: Duration,
    },
    /// Close the connection without answering.
    DropConnection,
    /// Handle the request (a create creates its record), then close the connection without
    /// answering: the reply is lost after the work was done, the case an idempotent client
    /// must survive.
    DropAfterHandling,
}

#[derive(Debug)]
struct Rule<F> {
    scope: ApiScope,
    fault: F,
    remaining: u32,
}

/// A FIFO of faults, each for a number of requests.
#[derive(Debug)]
pub(crate) struct FaultQueue {
    rules: Mutex<VecDeque<Rule<ApiFault>>>,
    applied: AtomicU64,
}

impl Default for FaultQueue {
    fn default() -> Self {
        Self {
            rules: Mutex::new(VecDeque::new()),
            applied: AtomicU64::new(0),
        }
    }
}

/// Most rules queued at once; older rules are not dropped, new ones are refused.
pub(crate) const MAX_RULES: usize = 1024;

impl FaultQueue {
    pub(crate) fn push(&self, scope: ApiScope, fault: ApiFault, times: u32) -> bool {
        if times == 0 {
            return true;
        }
        let mut rules = self.rules.lock().unwrap_or_else(|e| e.into_inner());
        if rules.len() >= MAX_RULES {
            return false;
        }
        rules.push_back(Rule {
            scope,
            fault,
            remaining: times,
        });
        true
    }

    /// The fault for the next request to `api`, if one is queued.
    pub(crate) fn take(&self, api: Api) -> Option<ApiFault> {
        let mut rules = self.rules.lock().unwrap_or_else(|e| e.into_inner());
        let i = rules.iter().position(|r| r.scope.covers(api))?;
        let fault = rules[i].fault;
        rules[i].remaining -= 1;
        if rules[i].remaining == 0 {
            rules.remove(i);
        }
        self.applied.fetch_add(1, Ordering::Relaxed);
        Some(fault)
    }

    pub(crate) fn clear(&self) {
        self.rules.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    pub(crate) fn applied(&self) -> u64 {
        self.applied.load(Ordering::Relaxed)
    }
}

/// A fault in one attempt of a webhook delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeliveryFault {
    /// The attempt fails before anything is sent, as when the application is unreachable.
    FailBeforeSend,
    /// The request reaches the application, which handles it; its answer is held back this
    /// long. Past the attempt timeout the attempt times out and is retried: the application
    /// has then seen the delivery although the sender counts a failure.
    DelayResponse(Duration),
    /// The request reaches the application, which handles it; its answer is replaced by an
    /// HTTP 500, and the delivery is retried.
    ReplaceWith500,
    /// The request reaches the application, which handles it; the sender then discards the
    /// answer as a connection dropped after sending would, and the delivery is retried.
    DropAfterSend,
}

/// A FIFO of delivery faults, one per attempt.
#[derive(Debug, Default)]
pub(crate) struct DeliveryFaults {
    queue: Mutex<VecDeque<(DeliveryFault, u32)>>,
}

impl DeliveryFaults {
    pub(crate) fn push(&self, fault: DeliveryFault, times: u32) -> bool {
        if times == 0 {
            return true;
        }
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        if q.len() >= MAX_RULES {
            return false;
        }
        q.push_back((fault, times));
        true
    }

    pub(crate) fn take(&self) -> Option<DeliveryFault> {
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        let (fault, remaining) = q.front_mut()?;
        let fault = *fault;
        *remaining -= 1;
        if *remaining == 0 {
            q.pop_front();
        }
        Some(fault)
    }

    pub(crate) fn clear(&self) {
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_are_taken_in_order_for_their_scope_and_count() {
        let q = FaultQueue::default();
        assert!(q.push(Api::Account.into(), ApiFault::InternalError, 2));
        assert!(q.push(ApiScope::All, ApiFault::DropConnection, 1));
        assert_eq!(q.take(Api::Connec), Some(ApiFault::DropConnection));
        assert_eq!(q.take(Api::Connec), None);
        assert_eq!(q.take(Api::Account), Some(ApiFault::InternalError));
        assert_eq!(q.take(Api::Account), Some(ApiFault::InternalError));
        assert_eq!(q.take(Api::Account), None);
        assert_eq!(q.applied(), 3);
        assert!(q.push(ApiScope::All, ApiFault::InternalError, 0));
        assert_eq!(q.take(Api::Idp), None);
    }

    #[test]
    fn delivery_faults_count_down() {
        let d = DeliveryFaults::default();
        d.push(DeliveryFault::ReplaceWith500, 2);
        d.push(DeliveryFault::DropAfterSend, 1);
        assert_eq!(d.take(), Some(DeliveryFault::ReplaceWith500));
        assert_eq!(d.take(), Some(DeliveryFault::ReplaceWith500));
        assert_eq!(d.take(), Some(DeliveryFault::DropAfterSend));
        assert_eq!(d.take(), None);
    }
}
