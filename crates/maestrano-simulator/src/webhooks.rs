//! The webhook sender: a marketplace calling the application's configured webhook paths with
//! its credentials, retrying failed deliveries with backoff, with injectable faults.

use std::time::Duration;

use base64::Engine as _;
use http::{HeaderValue, Method, header};
use serde_json::Value;
use url::Url;

use super::faults::DeliveryFault;
use super::state::Marketplace;
use maestrano::ports::{HttpResponse, TransportError, TransportErrorKind};
use maestrano::routes::PathTemplate;
use maestrano::{ApiId, GroupUid, MarketplaceKey, Secret, UserUid};

/// What a marketplace tells the application.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Webhook {
    /// A group left the application: `DELETE` on `webhooks.account.group_path`.
    GroupDestroyed {
        /// The group.
        group: GroupUid,
    },
    /// A user left a group: `DELETE` on `webhooks.account.group_user_path`.
    UserRemovedFromGroup {
        /// The group.
        group: GroupUid,
        /// The user.
        user: UserUid,
    },
    /// Entities changed in Connec!: `POST` `{"<kind>": [entities]}` on
    /// `webhooks.connec.notification_path`.
    ConnecNotification {
        /// The entities, by kind (`people`, `invoices`, …), in the order sent.
        entities: Vec<(String, Vec<Value>)>,
    },
}

impl Webhook {
    /// A group-destroyed webhook.
    pub fn group_destroyed(group: GroupUid) -> Self {
        Self::GroupDestroyed { group }
    }

    /// A user-removed-from-group webhook.
    pub fn user_removed(group: GroupUid, user: UserUid) -> Self {
        Self::UserRemovedFromGroup { group, user }
    }

    /// A Connec! notification of entities of one kind.
    pub fn connec_notification(kind: impl Into<String>, entities: Vec<Value>) -> Self {
        Self::ConnecNotification {
            entities: vec![(kind.into(), entities)],
        }
    }

    /// The event's name: `group_destroyed`, `user_removed_from_group` or
    /// `connec_notification`, as the SDK's `WebhookEvent::name` says it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::GroupDestroyed { .. } => "group_destroyed",
            Self::UserRemovedFromGroup { .. } => "user_removed_from_group",
            Self::ConnecNotification { .. } => "connec_notification",
        }
    }
}

/// Which credentials a delivery carries.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Credentials {
    /// The sending marketplace's own `api.id:api.key` (what a marketplace sends).
    Own,
    /// Another simulated marketplace's credentials (which the application must refuse); no
    /// `Authorization` header when no simulated marketplace has this key.
    OfMarketplace(MarketplaceKey),
    /// These credentials.
    Custom {
        /// The Basic user name.
        api_id: ApiId,
        /// The Basic password.
        api_key: Secret,
    },
    /// No `Authorization` header.
    None,
}

/// How many times, and how patiently, a delivery is attempted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Most attempts, the first included (at least 1). Default 5.
    pub max_attempts: u32,
    /// The wait before the second attempt; it doubles for every further one. Default 20 ms.
    pub initial_backoff: Duration,
    /// The longest wait between two attempts. Default 1 s.
    pub max_backoff: Duration,
    /// How long one attempt may take; `None` for the simulator's default (5 s unless
    /// configured).
    pub attempt_timeout: Option<Duration>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_secs(1),
            attempt_timeout: None,
        }
    }
}

impl RetryPolicy {
    /// One attempt, no retry.
    pub fn no_retry() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// This policy with another number of attempts (at least 1, at most 100).
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.clamp(1, 100);
        self
    }

    /// This policy with other backoff bounds.
    pub fn with_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max.max(initial);
        self
    }

    /// This policy with another attempt timeout.
    pub fn with_attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = Some(timeout);
        self
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u32
            .checked_shl(attempt.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

/// Options of one delivery.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DeliveryOptions {
    /// The credentials sent.
    pub credentials: Credentials,
    /// The retry policy.
    pub retry: RetryPolicy,
}

impl Default for DeliveryOptions {
    fn default() -> Self {
        Self {
            credentials: Credentials::Own,
            retry: RetryPolicy::default(),
        }
    }
}

impl DeliveryOptions {
    /// These options with other credentials.
    pub fn with_credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = credentials;
        self
    }

    /// These options with another retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }
}

/// What one attempt ended with, as the sender saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AttemptResult {
    /// An HTTP answer with this status (possibly replaced by a fault).
    Status(u16),
    /// No answer.
    Transport {
        /// What failed.
        kind: TransportErrorKind,
        /// A description.
        message: String,
    },
}

/// One attempt of a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeliveryAttempt {
    /// 1 for the first attempt.
    pub number: u32,
    /// The fault injected into this attempt.
    pub fault: Option<DeliveryFault>,
    /// The status the application actually answered, when it answered (even if the answer
    /// was then lost to a fault).
    pub app_status: Option<u16>,
    /// What the sender saw.
    pub result: AttemptResult,
}

/// How a delivery ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeliveryOutcome {
    /// The application accepted it (HTTP 2xx).
    Delivered {
        /// The status.
        status: u16,
    },
    /// The application refused it with a status that is not retried (4xx other than 408
    /// and 429), such as 401 for wrong credentials.
    Rejected {
        /// The status.
        status: u16,
    },
    /// Every attempt failed.
    GaveUp,
}

/// The report of one delivery.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DeliveryReport {
    /// The sending marketplace.
    pub marketplace: MarketplaceKey,
    /// The event's name (see [`Webhook::name`]).
    pub event: &'static str,
    /// The method.
    pub method: Method,
    /// The URL called.
    pub url: Url,
    /// Every attempt, in order.
    pub attempts: Vec<DeliveryAttempt>,
    /// How it ended.
    pub outcome: DeliveryOutcome,
}

impl DeliveryReport {
    /// Whether the application accepted the delivery.
    pub fn is_delivered(&self) -> bool {
        matches!(self.outcome, DeliveryOutcome::Delivered { .. })
    }
}

/// Path-segment encoding: everything but unreserved characters.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Fills the `:name` segments of a path template, keeping its query.
pub(crate) fn fill(template: &PathTemplate, params: &[(&str, &str)]) -> String {
    let raw = template.as_str();
    let (path, query) = raw
        .split_once('?')
        .map_or((raw, None), |(p, q)| (p, Some(q)));
    let filled: Vec<String> = path
        .split('/')
        .map(|seg| match seg.strip_prefix(':') {
            Some(name) => params
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| percent_encoding::utf8_percent_encode(v, SEGMENT).to_string())
                .unwrap_or_else(|| seg.to_owned()),
            None => seg.to_owned(),
        })
        .collect();
    match query {
        Some(q) => format!("{}?{q}", filled.join("/")),
        None => filled.join("/"),
    }
}

fn basic(api_id: &str, api_key: &Secret) -> Option<HeaderValue> {
    let token =
        base64::engine::general_purpose::STANDARD.encode(format!("{api_id}:{}", api_key.expose()));
    let mut v = HeaderValue::from_str(&format!("Basic {token}")).ok()?;
    v.set_sensitive(true);
    Some(v)
}

/// The request of a webhook: method, URL and body.
pub(crate) fn target(
    m: &Marketplace,
    webhook: &Webhook,
) -> Result<(Method, Url, Option<Vec<u8>>), String> {
    let config = m.tenant.config();
    let hooks = config.webhooks();
    let (method, path, body) = match webhook {
        Webhook::GroupDestroyed { group } => (
            Method::DELETE,
            fill(hooks.account().group_path(), &[("id", group.as_str())]),
            None,
        ),
        Webhook::UserRemovedFromGroup { group, user } => (
            Method::DELETE,
            fill(
                hooks.account().group_user_path(),
                &[("group_id", group.as_str()), ("id", user.as_str())],
            ),
            None,
        ),
        Webhook::ConnecNotification { entities } => {
            let mut body = serde_json::Map::new();
            for (kind, list) in entities {
                match body.get_mut(kind) {
                    Some(Value::Array(existing)) => existing.extend(list.iter().cloned()),
                    _ => {
                        body.insert(kind.clone(), Value::Array(list.clone()));
                    }
                }
            }
            (
                Method::POST,
                fill(hooks.connec().notification_path(), &[]),
                Some(Value::Object(body).to_string().into_bytes()),
            )
        }
    };
    let base = config.app().host().as_str().trim_end_matches('/');
    let url = Url::parse(&format!("{base}{path}")).map_err(|e| e.to_string())?;
    Ok((method, url, body))
}

fn retryable(status: u16) -> bool {
    status >= 500 || status == 408 || status == 429
}

/// Delivers `webhook` from `m`, with `authorization` (already resolved from the options).
pub(crate) async fn deliver(
    m: &Marketplace,
    webhook: &Webhook,
    authorization: Option<(String, Secret)>,
    retry: RetryPolicy,
) -> DeliveryReport {
    let event = webhook.name();
    let (method, url, body) = match target(m, webhook) {
        Ok(t) => t,
        Err(e) => {
            return DeliveryReport {
                marketplace: m.info.key.clone(),
                event,
                method: Method::GET,
                url: m.tenant.config().app().host().clone(),
                attempts: vec![DeliveryAttempt {
                    number: 1,
                    fault: None,
                    app_status: None,
                    result: AttemptResult::Transport {
                        kind: TransportErrorKind::Other,
                        message: format!("the webhook URL cannot be built: {e}"),
                    },
                }],
                outcome: DeliveryOutcome::GaveUp,
            };
        }
    };
    let auth = authorization.and_then(|(id, key)| basic(&id, &key));
    let timeout = retry.attempt_timeout.unwrap_or(m.shared.webhook_timeout);
    let max = retry.max_attempts.clamp(1, 100);
    let mut attempts = Vec::new();
    let mut outcome = DeliveryOutcome::GaveUp;
    for number in 1..=max {
        let fault = m.delivery_faults.take();
        let (app_status, result) = attempt(
            m,
            &method,
            &url,
            body.as_deref(),
            auth.as_ref(),
            fault,
            timeout,
        )
        .await;
        let decided = match &result {
            AttemptResult::Status(s) if (200..300).contains(s) => {
                Some(DeliveryOutcome::Delivered { status: *s })
            }
            AttemptResult::Status(s) if !retryable(*s) => {
                Some(DeliveryOutcome::Rejected { status: *s })
            }
            _ => None,
        };
        tracing::debug!(
            marketplace = %m.info.key,
            event,
            attempt = number,
            fault = ?fault,
            result = ?result,
            "simulated webhook attempt"
        );
        attempts.push(DeliveryAttempt {
            number,
            fault,
            app_status,
            result,
        });
        if let Some(o) = decided {
            outcome = o;
            break;
        }
        if number < max {
            tokio::time::sleep(retry.backoff(number)).await;
        }
    }
    DeliveryReport {
        marketplace: m.info.key.clone(),
        event,
        method,
        url,
        attempts,
        outcome,
    }
}

async fn attempt(
    m: &Marketplace,
    method: &Method,
    url: &Url,
    body: Option<&[u8]>,
    auth: Option<&HeaderValue>,
    fault: Option<DeliveryFault>,
    timeout: Duration,
) -> (Option<u16>, AttemptResult) {
    if fault == Some(DeliveryFault::FailBeforeSend) {
        return (
            None,
            AttemptResult::Transport {
                kind: TransportErrorKind::Connect,
                message: "injected fault: the request was not sent".into(),
            },
        );
    }
    let mut builder = http::Request::builder()
        .method(method.clone())
        .uri(url.as_str())
        .header(header::USER_AGENT, "maestrano-simulator");
    if let Some(a) = auth {
        builder = builder.header(header::AUTHORIZATION, a.clone());
    }
    if body.is_some() {
        builder = builder.header(header::CONTENT_TYPE, "application/json");
    }
    let request = match builder.body(body.map(<[u8]>::to_vec).unwrap_or_default()) {
        Ok(r) => r,
        Err(e) => {
            return (
                None,
                AttemptResult::Transport {
                    kind: TransportErrorKind::Other,
                    message: format!("the request cannot be built: {e}"),
                },
            );
        }
    };
    let exchange = async {
        let answer: Result<HttpResponse, TransportError> = m.shared.http.send(request).await;
        if let Some(DeliveryFault::DelayResponse(d)) = fault {
            tokio::time::sleep(d).await;
        }
        answer
    };
    match tokio::time::timeout(timeout, exchange).await {
        Err(_) => (
            None,
            AttemptResult::Transport {
                kind: TransportErrorKind::Timeout,
                message: format!("no answer within {timeout:?}"),
            },
        ),
        Ok(Err(e)) => (
            None,
            AttemptResult::Transport {
                kind: e.kind(),
                message: e.message().to_owned(),
            },
        ),
        Ok(Ok(response)) => {
            let status = response.status().as_u16();
            let result = match fault {
                Some(DeliveryFault::ReplaceWith500) => AttemptResult::Status(500),
                Some(DeliveryFault::DropAfterSend) => AttemptResult::Transport {
                    kind: TransportErrorKind::Other,
                    message: "injected fault: the connection dropped after the request was sent"
                        .into(),
                },
                _ => AttemptResult::Status(status),
            };
            (Some(status), result)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_filled_and_keep_their_query() {
        let t = PathTemplate::parse("/maestrano/account/groups/:group_id/users/:id/acme").unwrap();
        assert_eq!(
            fill(&t, &[("id", "usr-1"), ("group_id", "cld-2")]),
            "/maestrano/account/groups/cld-2/users/usr-1/acme"
        );
        let t = PathTemplate::parse("/hooks/:id/?marketplace=acme").unwrap();
        assert_eq!(
            fill(&t, &[("id", "cld 1")]),
            "/hooks/cld%201/?marketplace=acme"
        );
    }

    #[test]
    fn backoff_doubles_up_to_its_bound() {
        let p = RetryPolicy::default()
            .with_backoff(Duration::from_millis(10), Duration::from_millis(35));
        assert_eq!(p.backoff(1), Duration::from_millis(10));
        assert_eq!(p.backoff(2), Duration::from_millis(20));
        assert_eq!(p.backoff(3), Duration::from_millis(35));
        assert_eq!(p.backoff(40), Duration::from_millis(35));
        assert!(retryable(503) && retryable(429) && retryable(408));
        assert!(!retryable(401) && !retryable(404));
    }
}
