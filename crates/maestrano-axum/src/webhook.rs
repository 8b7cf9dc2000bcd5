//! [`WebhookService`]: the SDK's webhook handler as a `tower::Service`.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{Request, StatusCode};
use maestrano::webhook::WebhookHandler;

/// The SDK's [`WebhookHandler`] as a `tower::Service`, for an app that mounts the webhook
/// routes alone (with `Router::route_service` or `fallback_service`, or in any tower stack).
/// It reads the body up to `max_body_bytes` (one byte more, so that the handler answers 413
/// after authenticating) and answers as the handler does. [`Maestrano`](crate::Maestrano)
/// serves the same routes along with the logins.
///
/// ```no_run
/// # fn doc(registry: maestrano::Registry, sink: std::sync::Arc<dyn maestrano::webhook::WebhookSink>) {
/// use maestrano::webhook::WebhookHandler;
/// use maestrano_axum::WebhookService;
///
/// let webhooks = WebhookService::new(WebhookHandler::new(registry, sink));
/// let app: axum::Router = axum::Router::new().fallback_service(webhooks);
/// # let _ = app;
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct WebhookService {
    handler: Arc<WebhookHandler>,
    max_body_bytes: usize,
}

impl WebhookService {
    /// The service of `handler`, reading bodies of at most 10 MiB (the handler's default cap).
    pub fn new(handler: WebhookHandler) -> Self {
        Self {
            handler: Arc::new(handler),
            max_body_bytes: 10 * 1024 * 1024,
        }
    }

    /// Reads bodies of at most `max` bytes; set it to the handler's own cap when that differs.
    pub fn with_max_body_bytes(mut self, max: usize) -> Self {
        self.max_body_bytes = max;
        self
    }
}

impl WebhookService {
    /// Reads the body (one byte more than the cap, so that the handler, after authenticating,
    /// answers 413) and answers as the handler does.
    pub(crate) async fn respond(&self, request: Request<Body>) -> Response {
        let (parts, body) = request.into_parts();
        let limit = self.max_body_bytes.saturating_add(1);
        let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
            return StatusCode::PAYLOAD_TOO_LARGE.into_response();
        };
        self.handler
            .handle(Request::from_parts(parts, bytes.to_vec()))
            .await
            .map(Body::from)
    }
}

impl tower_service::Service<Request<Body>> for WebhookService {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let service = self.clone();
        Box::pin(async move { Ok(service.respond(request).await) })
    }
}
