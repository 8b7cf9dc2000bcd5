//! The `HttpClient` port: every HTTP exchange the SDK makes goes through it.
//!
//! The core builds an [`HttpRequest`], hands it to the port, and decodes the [`HttpResponse`];
//! it never opens a socket itself. The `reqwest` feature ships a real adapter; the `test-util`
//! feature ships [`FakeHttpClient`] for tests.

use std::fmt::{self, Debug};

use async_trait::async_trait;

/// A request with its whole body in memory.
pub type HttpRequest = http::Request<Vec<u8>>;
/// A response with its whole body in memory.
pub type HttpResponse = http::Response<Vec<u8>>;

/// What kind of transport failure happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// No connection could be made (DNS, refused, TLS handshake); the request was not sent.
    Connect,
    /// The exchange did not finish in time; the request may have reached the server.
    Timeout,
    /// The response body was larger than the client accepts.
    BodyTooLarge,
    /// Any other failure (connection reset mid-exchange, protocol error).
    Other,
}

impl fmt::Display for TransportErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Connect => "connect",
            Self::Timeout => "timeout",
            Self::BodyTooLarge => "body too large",
            Self::Other => "transport",
        })
    }
}

/// An HTTP exchange failed below the HTTP layer (no response was received).
///
/// It never carries the request's URL query or headers, which may hold credentials or session
/// tokens.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{kind} error: {message}")]
pub struct TransportError {
    kind: TransportErrorKind,
    message: String,
    may_have_been_sent: bool,
}

impl TransportError {
    /// A new error. `message` must not contain secrets.
    pub fn new(kind: TransportErrorKind, message: impl Into<String>) -> Self {
        let may_have_been_sent = !matches!(kind, TransportErrorKind::Connect);
        Self {
            kind,
            message: message.into(),
            may_have_been_sent,
        }
    }

    /// Overrides whether the request may have reached the server.
    pub fn with_may_have_been_sent(mut self, sent: bool) -> Self {
        self.may_have_been_sent = sent;
        self
    }

    /// The kind of failure.
    pub fn kind(&self) -> TransportErrorKind {
        self.kind
    }

    /// The description.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether the server may have received (and acted on) the request. Only a request that
    /// certainly was not sent is safe to retry when it is not idempotent.
    pub fn may_have_been_sent(&self) -> bool {
        self.may_have_been_sent
    }
}

/// An asynchronous HTTP client.
///
/// Implementations must not follow redirects, must verify TLS certificates, and should bound
/// the size of the response body they buffer.
#[async_trait]
pub trait HttpClient: Send + Sync + Debug {
    /// Sends `request` and returns the response, whatever its status.
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError>;
}

#[async_trait]
impl<C: HttpClient + ?Sized> HttpClient for std::sync::Arc<C> {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        (**self).send(request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{FakeHttpClient, FakeReply};

    #[test]
    fn connect_errors_were_not_sent_and_timeouts_may_have_been() {
        assert!(!TransportError::new(TransportErrorKind::Connect, "refused").may_have_been_sent());
        assert!(TransportError::new(TransportErrorKind::Timeout, "slow").may_have_been_sent());
    }

    #[tokio::test]
    async fn fake_client_scripts_replies_in_order_and_records_requests() {
        let fake = FakeHttpClient::new();
        fake.on(
            Some(http::Method::GET),
            "http://x/a",
            vec![FakeReply::raw(500, "no"), FakeReply::json(200, "{}")],
        );
        let req = || http::Request::get("http://x/a/b").body(Vec::new()).unwrap();
        assert_eq!(fake.send(req()).await.unwrap().status(), 500);
        assert_eq!(fake.send(req()).await.unwrap().status(), 200);
        assert_eq!(fake.send(req()).await.unwrap().status(), 200);
        let other = http::Request::post("http://x/a").body(Vec::new()).unwrap();
        assert_eq!(fake.send(other).await.unwrap().status(), 404);
        assert_eq!(fake.requests().len(), 4);
    }
}
