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

#[cfg(any(test, feature = "test-util"))]
pub use fake::{FakeHttpClient, FakeReply};

#[cfg(any(test, feature = "test-util"))]
mod fake {
    use std::collections::VecDeque;
    use std::sync::Mutex;

    use async_trait::async_trait;

    use super::{HttpClient, HttpRequest, HttpResponse, TransportError};

    /// A scripted reply of [`FakeHttpClient`].
    #[derive(Debug, Clone)]
    pub enum FakeReply {
        /// Answer with this status, headers and body.
        Response {
            /// The status code.
            status: u16,
            /// Header name and value pairs.
            headers: Vec<(String, String)>,
            /// The body.
            body: Vec<u8>,
        },
        /// Fail with this transport error.
        Error(TransportError),
    }

    impl FakeReply {
        /// A JSON reply with the given status.
        pub fn json(status: u16, body: impl Into<Vec<u8>>) -> Self {
            Self::Response {
                status,
                headers: vec![("content-type".into(), "application/json".into())],
                body: body.into(),
            }
        }

        /// A reply with any body and no headers.
        pub fn raw(status: u16, body: impl Into<Vec<u8>>) -> Self {
            Self::Response {
                status,
                headers: Vec::new(),
                body: body.into(),
            }
        }
    }

    #[derive(Debug)]
    struct Rule {
        method: Option<http::Method>,
        url_prefix: String,
        replies: VecDeque<FakeReply>,
    }

    /// An in-memory [`HttpClient`] (feature `test-util`): answers requests from scripted
    /// rules and records every request it receives.
    ///
    /// A rule matches a method (or any) and a URL prefix; it answers with its replies in order,
    /// repeating the last one. A request no rule matches gets a 404 with an empty body.
    #[derive(Debug, Default)]
    pub struct FakeHttpClient {
        rules: Mutex<Vec<Rule>>,
        requests: Mutex<Vec<HttpRequest>>,
    }

    impl FakeHttpClient {
        /// A client with no rules.
        pub fn new() -> Self {
            Self::default()
        }

        /// Adds a rule: requests with `method` (any when `None`) whose URL starts with
        /// `url_prefix` get `replies`, in order, the last one repeating.
        pub fn on(
            &self,
            method: Option<http::Method>,
            url_prefix: impl Into<String>,
            replies: Vec<FakeReply>,
        ) -> &Self {
            self.rules
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(Rule {
                    method,
                    url_prefix: url_prefix.into(),
                    replies: replies.into(),
                });
            self
        }

        /// Every request received so far, in order.
        pub fn requests(&self) -> Vec<HttpRequest> {
            self.requests
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .map(clone_request)
                .collect()
        }
    }

    fn clone_request(r: &HttpRequest) -> HttpRequest {
        let mut b = http::Request::builder()
            .method(r.method().clone())
            .uri(r.uri().clone())
            .version(r.version());
        for (k, v) in r.headers() {
            b = b.header(k, v);
        }
        b.body(r.body().clone())
            .expect("a copy of a valid request is valid")
    }

    #[async_trait]
    impl HttpClient for FakeHttpClient {
        async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
            let url = request.uri().to_string();
            let reply = {
                let mut rules = self.rules.lock().unwrap_or_else(|e| e.into_inner());
                rules
                    .iter_mut()
                    .find(|r| {
                        r.method.as_ref().is_none_or(|m| m == request.method())
                            && url.starts_with(&r.url_prefix)
                    })
                    .and_then(|r| {
                        if r.replies.len() > 1 {
                            r.replies.pop_front()
                        } else {
                            r.replies.front().cloned()
                        }
                    })
            };
            self.requests
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(request);
            match reply {
                Some(FakeReply::Response {
                    status,
                    headers,
                    body,
                }) => {
                    let mut b = http::Response::builder().status(status);
                    for (k, v) in headers {
                        b = b.header(k, v);
                    }
                    Ok(b.body(body).expect("scripted response is valid"))
                }
                Some(FakeReply::Error(e)) => Err(e),
                None => Ok(http::Response::builder()
                    .status(404)
                    .body(Vec::new())
                    .expect("static response is valid")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
