use std::collections::VecDeque;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::ports::{HttpClient, HttpRequest, HttpResponse, TransportError};

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
