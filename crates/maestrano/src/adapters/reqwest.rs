//! The [`HttpClient`] port on reqwest (feature `reqwest`).

use std::error::Error as _;
use std::fmt;
use std::time::Duration;

use ::reqwest as rq;
use async_trait::async_trait;

use crate::ports::{HttpClient, HttpRequest, HttpResponse, TransportError, TransportErrorKind};
use crate::types::Secret;

const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
const DEFAULT_USER_AGENT: &str = concat!("maestrano-rust/", env!("CARGO_PKG_VERSION"));

/// An [`HttpClient`] on [reqwest](https://docs.rs/reqwest) with rustls (feature `reqwest`).
///
/// - TLS is rustls; server certificates are always verified against the platform's trust
///   store, and there is no way to turn that off.
/// - Redirects are never followed: a `302` is returned as the response.
/// - The connect timeout bounds the TCP and TLS handshakes; the total timeout bounds the whole
///   exchange, reading the response body included.
/// - The response body is read in chunks and the exchange fails with
///   [`TransportErrorKind::BodyTooLarge`] as soon as it would exceed the cap (a larger
///   `Content-Length` is refused before any of the body is read).
/// - Nothing is retried, and the environment's proxies (`HTTP_PROXY`/`HTTPS_PROXY`) are never
///   used: each request goes straight to its host, or through the one proxy named with
///   [`ReqwestHttpClientBuilder::proxy`].
/// - Roots beyond the platform's trust store are trusted only when named with
///   [`ReqwestHttpClientBuilder::add_root_certificates_pem`] (an enterprise tenant on an
///   internal PKI).
/// - Error messages never contain the request's URL or headers, which may carry session
///   tokens or credentials.
///
/// Requests must be sent from within a Tokio runtime. Cloning is cheap and clones share one
/// connection pool.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
///
/// use maestrano::adapters::ReqwestHttpClient;
/// use maestrano::ports::HttpClient;
///
/// let client = ReqwestHttpClient::builder()
///     .connect_timeout(Duration::from_secs(5))
///     .timeout(Duration::from_secs(20))
///     .build()?;
/// let request = http::Request::get("https://developer.maestrano.com/").body(Vec::new())?;
/// let response = client.send(request).await?;
/// println!("{}", response.status());
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct ReqwestHttpClient {
    inner: rq::Client,
    settings: Settings,
}

/// The settings of a [`ReqwestHttpClient`], as reported by `Debug`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Settings {
    connect_timeout: Duration,
    timeout: Duration,
    max_body_bytes: usize,
    user_agent: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            timeout: DEFAULT_TIMEOUT,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            user_agent: DEFAULT_USER_AGENT.to_owned(),
        }
    }
}

impl fmt::Debug for ReqwestHttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReqwestHttpClient")
            .field("connect_timeout", &self.settings.connect_timeout)
            .field("timeout", &self.settings.timeout)
            .field("max_body_bytes", &self.settings.max_body_bytes)
            .field("user_agent", &self.settings.user_agent)
            .finish_non_exhaustive()
    }
}

impl ReqwestHttpClient {
    /// A client with the default settings: connect timeout 10 s, total timeout 30 s, response
    /// bodies up to 16 MiB, user agent `maestrano-rust/<version>`.
    ///
    /// # Errors
    ///
    /// A [`TransportErrorKind::Other`] error when the TLS stack cannot be set up.
    pub fn new() -> Result<Self, TransportError> {
        Self::builder().build()
    }

    /// A builder to change the defaults of [`ReqwestHttpClient::new`].
    pub fn builder() -> ReqwestHttpClientBuilder {
        ReqwestHttpClientBuilder::default()
    }

    /// Wraps a `reqwest::Client` the app already has (its pool, its proxy, its TLS roots).
    /// The body cap (default 16 MiB) and the error messages without URL or headers still
    /// apply; what the client itself does (redirects, retries, proxies, timeouts) is the
    /// app's choice, so give it `redirect::Policy::none()`: the SDK expects a `302` back.
    pub fn from_client(client: rq::Client) -> Self {
        Self {
            inner: client,
            settings: Settings::default(),
        }
    }

    /// This client with another response body cap, in bytes.
    pub fn with_max_body_bytes(mut self, max: usize) -> Self {
        self.settings.max_body_bytes = max;
        self
    }

    /// The largest response body this client accepts, in bytes.
    pub fn max_body_bytes(&self) -> usize {
        self.settings.max_body_bytes
    }

    async fn exchange(
        &self,
        request: rq::Request,
        url: &rq::Url,
    ) -> Result<HttpResponse, TransportError> {
        let mut response = self
            .inner
            .execute(request)
            .await
            .map_err(|e| transport_error(e, url))?;
        let max = self.settings.max_body_bytes;
        let declared = response.content_length();
        if declared.is_some_and(|len| len > max as u64) {
            return Err(too_large(max));
        }
        let mut body = Vec::with_capacity(declared.map_or(0, |len| len as usize));
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| transport_error(e, url))?
        {
            if chunk.len() > max - body.len() {
                return Err(too_large(max));
            }
            body.extend_from_slice(&chunk);
        }
        let mut out = http::Response::new(body);
        *out.status_mut() = response.status();
        *out.version_mut() = response.version();
        *out.headers_mut() = std::mem::take(response.headers_mut());
        Ok(out)
    }
}

#[async_trait]
impl HttpClient for ReqwestHttpClient {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let (parts, body) = request.into_parts();
        let url = rq::Url::parse(&parts.uri.to_string()).map_err(|_| {
            TransportError::new(
                TransportErrorKind::Other,
                "the request URI is not an absolute URL",
            )
            .with_may_have_been_sent(false)
        })?;
        let mut outgoing = rq::Request::new(parts.method, url.clone());
        *outgoing.headers_mut() = parts.headers;
        *outgoing.body_mut() = Some(rq::Body::from(body));
        self.exchange(outgoing, &url).await
    }
}

/// A builder of [`ReqwestHttpClient`]; see [`ReqwestHttpClient::builder`].
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct ReqwestHttpClientBuilder {
    settings: Settings,
    /// The proxy URL; a [`Secret`] as it may carry the proxy's credentials.
    proxy: Option<Secret>,
    roots: Vec<Vec<u8>>,
}

impl ReqwestHttpClientBuilder {
    /// How long the TCP connection and TLS handshake may take (default 10 s). A request that
    /// runs out of it fails with [`TransportErrorKind::Timeout`] and was not sent.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.settings.connect_timeout = timeout;
        self
    }

    /// How long the whole exchange may take, from connecting to the last byte of the response
    /// body (default 30 s). Past it the request fails with [`TransportErrorKind::Timeout`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.settings.timeout = timeout;
        self
    }

    /// The largest response body accepted, in bytes (default 16 MiB). A larger one fails with
    /// [`TransportErrorKind::BodyTooLarge`] without being buffered.
    pub fn max_body_bytes(mut self, max: usize) -> Self {
        self.settings.max_body_bytes = max;
        self
    }

    /// The `User-Agent` sent when a request has none of its own (default
    /// `maestrano-rust/<version>`).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.settings.user_agent = user_agent.into();
        self
    }

    /// Sends every request through the proxy at `url` (`http://` or `https://`; a
    /// `user:password@` in it is sent as `Proxy-Authorization`). The URL never appears in
    /// `Debug` or an error.
    pub fn proxy(mut self, url: impl Into<String>) -> Self {
        self.proxy = Some(Secret::new(url));
        self
    }

    /// Trusts the certificates of `pem` (one or more PEM `CERTIFICATE` blocks) as roots,
    /// beside the platform's trust store: for a tenant whose hosts have certificates from an
    /// internal certificate authority. Server certificates are still always verified.
    pub fn add_root_certificates_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.roots.push(pem.into());
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    ///
    /// A [`TransportErrorKind::Other`] error when the user agent is not a valid header value,
    /// the proxy URL or a root certificate does not parse, or the TLS stack cannot be set up.
    pub fn build(self) -> Result<ReqwestHttpClient, TransportError> {
        let not_sent = |message: String| {
            TransportError::new(TransportErrorKind::Other, message).with_may_have_been_sent(false)
        };
        let mut roots = Vec::new();
        for pem in &self.roots {
            let certs = rq::Certificate::from_pem_bundle(pem).map_err(|e| {
                not_sent(format!(
                    "a root certificate does not parse: {}",
                    describe(e)
                ))
            })?;
            if certs.is_empty() {
                return Err(not_sent(
                    "a root certificate bundle: expected PEM CERTIFICATE blocks, found none".into(),
                ));
            }
            roots.extend(certs);
        }
        let proxy = self
            .proxy
            .as_ref()
            .map(|url| rq::Proxy::all(url.expose()))
            .transpose()
            // reqwest's message may quote the URL, which may hold credentials: not kept.
            .map_err(|_| not_sent("the proxy URL is not a valid http(s) URL".into()))?;
        let settings = self.settings;
        let user_agent = http::HeaderValue::from_str(&settings.user_agent).map_err(|_| {
            TransportError::new(
                TransportErrorKind::Other,
                "the user agent is not a valid header value",
            )
            .with_may_have_been_sent(false)
        })?;
        let inner = rq::Client::builder()
            .tls_backend_rustls()
            .redirect(rq::redirect::Policy::none())
            .retry(rq::retry::never())
            .referer(false)
            .no_proxy()
            .tls_certs_merge(roots)
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.timeout)
            .user_agent(user_agent);
        let inner = match proxy {
            Some(proxy) => inner.proxy(proxy),
            None => inner,
        }
        .build()
        .map_err(|e| {
            TransportError::new(
                TransportErrorKind::Other,
                format!("cannot build the HTTP client: {}", describe(e)),
            )
            .with_may_have_been_sent(false)
        })?;
        Ok(ReqwestHttpClient { inner, settings })
    }
}

fn too_large(max: usize) -> TransportError {
    TransportError::new(
        TransportErrorKind::BodyTooLarge,
        format!("the response body exceeds {max} bytes"),
    )
}

/// Maps a reqwest error to the port's error, with a message free of the URL.
fn transport_error(error: rq::Error, url: &rq::Url) -> TransportError {
    let (kind, sent) = if error.is_timeout() {
        // A connect timeout fires before anything was written.
        (TransportErrorKind::Timeout, !error.is_connect())
    } else if error.is_connect() {
        (TransportErrorKind::Connect, false)
    } else if error.is_builder() {
        (TransportErrorKind::Other, false)
    } else {
        (TransportErrorKind::Other, true)
    };
    let message = redact(describe(error), url);
    TransportError::new(kind, message).with_may_have_been_sent(sent)
}

/// The error and its causes on one line, without the URL reqwest attaches.
fn describe(error: rq::Error) -> String {
    let error = error.without_url();
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.ends_with(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

/// Removes the URL from `message` should a nested cause have printed it.
fn redact(mut message: String, url: &rq::Url) -> String {
    let mut secrets = vec![url.as_str().to_owned()];
    if let Some(query) = url.query().filter(|q| !q.is_empty()) {
        secrets.push(query.to_owned());
    }
    if url.path().len() > 1 {
        secrets.push(url.path().to_owned());
    }
    for secret in secrets {
        if message.contains(&secret) {
            message = message.replace(&secret, "[redacted]");
        }
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_documented_values() {
        let client = ReqwestHttpClient::new().unwrap();
        assert_eq!(client.settings, Settings::default());
        assert_eq!(client.max_body_bytes(), 16 * 1024 * 1024);
        assert_eq!(
            client.settings.user_agent,
            format!("maestrano-rust/{}", env!("CARGO_PKG_VERSION"))
        );
    }

    #[test]
    fn an_invalid_user_agent_is_refused_at_build_time() {
        let err = ReqwestHttpClient::builder()
            .user_agent("bad\nagent")
            .build()
            .unwrap_err();
        assert_eq!(err.kind(), TransportErrorKind::Other);
        assert!(!err.may_have_been_sent());
    }

    #[test]
    fn redact_removes_the_url_its_path_and_its_query() {
        let url =
            rq::Url::parse("https://idp.example/api/v1/auth/saml/usr-1?session=SECRET").unwrap();
        let message = redact(
            format!("failed for url ({url}); query session=SECRET; path /api/v1/auth/saml/usr-1"),
            &url,
        );
        assert!(!message.contains("SECRET"), "{message}");
        assert!(!message.contains("usr-1"), "{message}");
        assert!(
            message.starts_with("failed for url ([redacted])"),
            "{message}"
        );
    }
}
