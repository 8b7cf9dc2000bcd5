//! The framework-agnostic webhook handler: an `http::Request` in, an `http::Response` out.

use std::sync::Arc;

use async_trait::async_trait;
use http::{Response, StatusCode};
use tracing::Instrument as _;

use super::auth::authenticate;
use super::events::{DEFAULT_MAX_BODY_BYTES, WebhookEvent, parse_notification};
use super::ledger::DeliveryBusy;
use crate::config::registry::{Registry, Snapshot};
use crate::routes::EndpointKind;
use crate::types::MarketplaceKey;

/// The application's side of the webhooks: apply each event (scoped to its marketplace).
///
/// Return an error when the event could not be applied: the marketplace gets a 5xx and
/// delivers it again later, so the application must apply events idempotently (see
/// [`DeliveryLedger`](super::DeliveryLedger)).
#[async_trait]
pub trait WebhookSink: Send + Sync {
    /// Called once per authenticated, well-formed delivery.
    async fn on_event(
        &self,
        event: WebhookEvent,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>>;
}

/// Handler settings.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct WebhookOptions {
    /// Largest notification body accepted (checked before parsing). Default 10 MiB; the
    /// Connec! decoder refuses more than 16 MiB whatever this says.
    pub max_body_bytes: usize,
}

impl Default for WebhookOptions {
    fn default() -> Self {
        Self {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }
}

impl WebhookOptions {
    /// These options with another body size cap.
    pub fn with_max_body_bytes(mut self, max: usize) -> Self {
        self.max_body_bytes = max;
        self
    }
}

/// Serves the marketplace's calls: account webhooks (`DELETE` a group, `DELETE` a group
/// user) and Connec! notifications (`POST`), each authenticated with the HTTP Basic
/// credentials of the tenant its route names. Routes are those of the registry's current
/// snapshot, laid out by [`RegistryBuilder::router_options`](crate::RegistryBuilder::router_options):
/// a tenant whose paths would conflict was refused alone when the snapshot was built.
///
/// Replies: 200 `{"success":true}`; 401 `{"error":"Invalid credentials"}` for every request
/// refused before it is authenticated (no such route, a marketplace the app does not serve, a
/// wrong method, a malformed identifier in the path, missing or wrong credentials): the same
/// status, headers and body, so a scanner cannot tell which marketplaces an app serves (the
/// reason is logged); after authentication, 400 with the reason for a malformed body, 413 for
/// a body over the limit, 404 for a login route, and 500 when the application's sink fails,
/// so that the marketplace retries.
pub struct WebhookHandler {
    registry: Registry,
    sink: Arc<dyn WebhookSink>,
    options: WebhookOptions,
}

impl std::fmt::Debug for WebhookHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookHandler")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

fn json_response(status: StatusCode, body: serde_json::Value) -> Response<Vec<u8>> {
    let mut r = Response::new(body.to_string().into_bytes());
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    r
}

fn error_response(status: StatusCode, message: &str) -> Response<Vec<u8>> {
    json_response(status, serde_json::json!({ "error": message }))
}

impl WebhookHandler {
    /// A handler for the tenants of `registry` (a clone: it shares the registry's snapshots),
    /// delivering events to `sink`.
    pub fn new(registry: Registry, sink: Arc<dyn WebhookSink>) -> Self {
        Self::with_options(registry, sink, WebhookOptions::default())
    }

    /// A handler with explicit options.
    pub fn with_options(
        registry: Registry,
        sink: Arc<dyn WebhookSink>,
        options: WebhookOptions,
    ) -> Self {
        Self {
            registry,
            sink,
            options,
        }
    }

    /// Handles one request.
    pub async fn handle(&self, request: http::Request<Vec<u8>>) -> Response<Vec<u8>> {
        // One snapshot for the route and the tenant, so both come from the same set.
        let snapshot = self.registry.snapshot();
        let endpoint = match snapshot.router().match_request(&request) {
            Ok(e) => e,
            Err(e) => {
                // Whatever the path names, an unauthenticated refusal looks the same: a 404
                // for an unknown marketplace beside a 401 for a known one would list the
                // tenants the app serves.
                tracing::warn!(reason = %e, "webhook refused before authentication");
                // No marketplace label: the path is the sender's, not yet a tenant's.
                count_webhook(None, "unauthenticated");
                return unauthorized();
            }
        };
        let marketplace = endpoint.marketplace.clone();
        let kind = endpoint.kind.route_kind();
        let span =
            tracing::info_span!("maestrano_webhook", marketplace = %marketplace, endpoint = ?kind);
        let event = match span.in_scope(|| self.event_for(&snapshot, endpoint, &request)) {
            Ok(event) => event,
            Err(response) => return *response,
        };
        let name = event.name();
        match self.sink.on_event(event).instrument(span.clone()).await {
            Ok(()) => {
                span.in_scope(|| tracing::info!(event = name, "webhook applied"));
                count_webhook(Some(&marketplace), "applied");
                json_response(StatusCode::OK, serde_json::json!({ "success": true }))
            }
            Err(e) => {
                if let Some(busy) = e.downcast_ref::<DeliveryBusy>() {
                    span.in_scope(|| {
                        tracing::info!(
                            event = name,
                            "webhook delivery already being applied; the marketplace will retry"
                        )
                    });
                    count_webhook(Some(&marketplace), "busy");
                    return busy_response(busy);
                }
                span.in_scope(|| {
                    tracing::error!(event = name, error = %e, "webhook sink failed; the marketplace will retry")
                });
                count_webhook(Some(&marketplace), "sink_failed");
                error_response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the application could not apply the event",
                )
            }
        }
    }

    /// Authenticates the request and reads its event; a ready response when it must be
    /// refused.
    fn event_for(
        &self,
        snapshot: &Snapshot,
        endpoint: crate::routes::Endpoint,
        request: &http::Request<Vec<u8>>,
    ) -> Result<WebhookEvent, Box<Response<Vec<u8>>>> {
        let marketplace = endpoint.marketplace;
        let tenant = match snapshot.get(&marketplace) {
            Ok(t) => t,
            Err(_) => {
                tracing::warn!(
                    "webhook refused before authentication: marketplace left the configuration"
                );
                count_webhook(None, "unauthenticated");
                return Err(Box::new(unauthorized()));
            }
        };
        if let Err(e) = authenticate(&tenant, request.headers(), self.registry.now()) {
            tracing::warn!(reason = %e, "webhook refused: invalid credentials");
            count_webhook(Some(&marketplace), "invalid_credentials");
            return Err(Box::new(unauthorized()));
        }
        Ok(match endpoint.kind {
            EndpointKind::GroupDestroyed { group } => WebhookEvent::GroupDestroyed {
                marketplace,
                group_uid: group,
            },
            EndpointKind::GroupUserRemoved { group, user } => WebhookEvent::UserRemovedFromGroup {
                marketplace,
                group_uid: group,
                user_uid: user,
            },
            EndpointKind::ConnecNotification => {
                match parse_notification(request.body(), self.options.max_body_bytes) {
                    Ok(notification) => WebhookEvent::ConnecNotification {
                        marketplace,
                        notification,
                    },
                    Err(e) => {
                        let reason = e.reason();
                        tracing::warn!(%reason, "webhook refused: malformed body");
                        count_webhook(
                            Some(&marketplace),
                            if e.is_too_large() {
                                "too_large"
                            } else {
                                "malformed_body"
                            },
                        );
                        let status = if e.is_too_large() {
                            StatusCode::PAYLOAD_TOO_LARGE
                        } else {
                            StatusCode::BAD_REQUEST
                        };
                        return Err(Box::new(error_response(status, &reason)));
                    }
                }
            }
            EndpointKind::SamlInitialize
            | EndpointKind::SamlConsume
            | EndpointKind::OpenIdInitialize
            | EndpointKind::OpenIdReturn => {
                return Err(Box::new(error_response(
                    StatusCode::NOT_FOUND,
                    "not a webhook endpoint",
                )));
            }
        })
    }
}

/// Counts a webhook request in `maestrano_webhook_requests_total{marketplace, outcome}`:
/// `applied`, `busy`, `sink_failed`, or the refusal (`unauthenticated`, with no marketplace,
/// `invalid_credentials`, `malformed_body`, `too_large`).
fn count_webhook(marketplace: Option<&MarketplaceKey>, outcome: &'static str) {
    metrics::counter!(
        "maestrano_webhook_requests_total",
        "marketplace" => marketplace.map(|m| m.to_string()).unwrap_or_default(),
        "outcome" => outcome
    )
    .increment(1);
}

/// The one answer to every request refused before authentication.
/// 503 with the end of the other claim's lease as an HTTP-date `Retry-After` (RFC 9110
/// §10.2.3), which needs no clock here.
fn busy_response(busy: &DeliveryBusy) -> Response<Vec<u8>> {
    let mut r = error_response(
        StatusCode::SERVICE_UNAVAILABLE,
        "another delivery of this notification is being applied",
    );
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let until = busy.until().to_offset(time::UtcOffset::UTC);
    if let Ok(date) = until.format(&format)
        && let Ok(value) = http::HeaderValue::from_str(&date)
    {
        r.headers_mut().insert(http::header::RETRY_AFTER, value);
    }
    r
}

fn unauthorized() -> Response<Vec<u8>> {
    let mut r = error_response(StatusCode::UNAUTHORIZED, "Invalid credentials");
    r.headers_mut().insert(
        http::header::WWW_AUTHENTICATE,
        http::HeaderValue::from_static("Basic realm=\"maestrano\""),
    );
    r
}
