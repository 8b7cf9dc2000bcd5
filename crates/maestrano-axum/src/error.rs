//! The SDK's errors as HTTP answers: the right status, a generic body, the detail in the log.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use maestrano::config::ConfigError;
use maestrano::openid::OpenIdError;
use maestrano::sso::SsoFlowError;

/// An SDK error answered to a browser or a marketplace: [`status`](Self::status) picks the
/// status, the body is a short generic text for that status (never the error's detail, which
/// can name what the SDK expected of a forged message), and the detail goes to the log as a
/// `tracing` warning with its class.
///
/// | error | status |
/// |---|---|
/// | a malformed SSO form (an OpenID message too large, or with a field twice) | 400 |
/// | a refused login (unknown or used request, invalid response or assertion, missing attribute, no login started in this browser, a cancel at the provider) | 403 |
/// | an unknown marketplace, no such route, a login protocol the tenant does not offer | 404 |
/// | a wrong method | 405 |
/// | too many pending logins | 429 with `Retry-After` |
/// | a Maestrano session to sign in again | 401 |
/// | the platform's API or Connec! failed, the OpenID provider's discovery or direct answer failed | 502 |
/// | the single-use store failed (fails closed) | 503 |
/// | anything else, such as the app's login handler failing or an OpenID login without an HTTP client | 500 |
///
/// ```
/// use axum::response::IntoResponse;
/// use maestrano::sso::SsoFlowError;
/// use maestrano_axum::ErrorResponse;
///
/// let answer = ErrorResponse::from(SsoFlowError::UnknownRequest).into_response();
/// assert_eq!(answer.status(), 403);
/// ```
#[derive(Debug)]
pub struct ErrorResponse {
    error: maestrano::Error,
}

/// How long a client refused for too many pending logins should wait: the pending logins of
/// its slots expire or complete within the request TTL (10 minutes by default); a minute lets
/// most of them clear without inviting a retry storm.
const PENDING_RETRY_AFTER_SECONDS: &str = "60";

impl ErrorResponse {
    /// The status this error is answered with (see the table above).
    pub fn status(&self) -> StatusCode {
        use maestrano::Error as E;
        match &self.error {
            E::SsoFlow(e) => match e {
                SsoFlowError::Form(_) => StatusCode::BAD_REQUEST,
                SsoFlowError::TooManyPendingLogins { .. } => StatusCode::TOO_MANY_REQUESTS,
                SsoFlowError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
                SsoFlowError::Random(_) | SsoFlowError::Handler(_) | SsoFlowError::NoHttpClient => {
                    StatusCode::INTERNAL_SERVER_ERROR
                }
                SsoFlowError::ProtocolNotOffered { .. } => StatusCode::NOT_FOUND,
                SsoFlowError::OpenId(e) => match e {
                    OpenIdError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
                    OpenIdError::Random(_) => StatusCode::INTERNAL_SERVER_ERROR,
                    // The provider's discovery or direct answer failed, not the browser.
                    OpenIdError::Provider(_) | OpenIdError::Discovery { .. } => {
                        StatusCode::BAD_GATEWAY
                    }
                    OpenIdError::TooLarge { .. } | OpenIdError::DuplicateField { .. } => {
                        StatusCode::BAD_REQUEST
                    }
                    _ => StatusCode::FORBIDDEN,
                },
                _ => StatusCode::FORBIDDEN,
            },
            E::Saml(_) | E::Attribute(_) => StatusCode::FORBIDDEN,
            E::Match(e) => e.status(),
            E::Config(ConfigError::UnknownMarketplace { .. }) => StatusCode::NOT_FOUND,
            E::Session(_) => StatusCode::UNAUTHORIZED,
            E::SingleUse(_) => StatusCode::SERVICE_UNAVAILABLE,
            E::Transport(_) | E::Api(_) | E::Connec(_) => StatusCode::BAD_GATEWAY,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The error.
    pub fn error(&self) -> &maestrano::Error {
        &self.error
    }

    /// A login the browser did not start: the IdP's response came back to a browser that
    /// holds no pending login for it, even after the same-site resubmission.
    pub(crate) fn no_login_in_this_browser() -> Self {
        Self::from(SsoFlowError::UnknownRequest)
    }

    fn class(&self) -> &'static str {
        match &self.error {
            maestrano::Error::SsoFlow(e) => e.class(),
            maestrano::Error::OpenId(e) => e.class(),
            maestrano::Error::Saml(e) => e.class(),
            _ => "other",
        }
    }
}

impl<E: Into<maestrano::Error>> From<E> for ErrorResponse {
    fn from(error: E) -> Self {
        Self {
            error: error.into(),
        }
    }
}

impl std::fmt::Display for ErrorResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl IntoResponse for ErrorResponse {
    fn into_response(self) -> Response {
        let status = self.status();
        tracing::warn!(status = status.as_u16(), class = self.class(), error = %self.error, "refused");
        let text = match status {
            StatusCode::BAD_REQUEST => "bad request",
            StatusCode::UNAUTHORIZED => "please sign in again",
            StatusCode::FORBIDDEN => "login refused",
            StatusCode::NOT_FOUND => "not found",
            StatusCode::METHOD_NOT_ALLOWED => "method not allowed",
            StatusCode::TOO_MANY_REQUESTS => "too many logins in progress, try again later",
            StatusCode::BAD_GATEWAY => "the marketplace did not answer",
            StatusCode::SERVICE_UNAVAILABLE => "unavailable, try again later",
            _ => "internal error",
        };
        let mut response = (status, text).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if status == StatusCode::TOO_MANY_REQUESTS {
            headers.insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(PENDING_RETRY_AFTER_SECONDS),
            );
        }
        if let maestrano::Error::Match(maestrano::routes::MatchError::MethodNotAllowed {
            allowed,
        }) = &self.error
        {
            let list: Vec<&str> = allowed.iter().map(http::Method::as_str).collect();
            if let Ok(value) = HeaderValue::from_str(&list.join(", ")) {
                headers.insert(header::ALLOW, value);
            }
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use axum::response::IntoResponse;
    use http::{Method, StatusCode, header};
    use maestrano::ports::{SingleUseError, TransportError, TransportErrorKind};
    use maestrano::routes::MatchError;
    use maestrano::sso::SsoFlowError;

    use super::ErrorResponse;

    fn answer(error: impl Into<maestrano::Error>) -> axum::response::Response {
        ErrorResponse::from(error).into_response()
    }

    #[test]
    fn each_class_of_error_has_its_documented_status_and_no_detail() {
        let secret_detail = "detail-that-must-not-leak"; // the body test reads one body
        let cases: Vec<(maestrano::Error, StatusCode)> = vec![
            (
                SsoFlowError::Form(secret_detail.into()).into(),
                StatusCode::BAD_REQUEST,
            ),
            (SsoFlowError::UnknownRequest.into(), StatusCode::FORBIDDEN),
            (
                SsoFlowError::TooManyPendingLogins {
                    per_client: 1,
                    per_tenant: 2,
                }
                .into(),
                StatusCode::TOO_MANY_REQUESTS,
            ),
            (
                SsoFlowError::Store(SingleUseError::Store(secret_detail.into())).into(),
                StatusCode::SERVICE_UNAVAILABLE,
            ),
            (
                SsoFlowError::Handler(secret_detail.into()).into(),
                StatusCode::INTERNAL_SERVER_ERROR,
            ),
            (
                TransportError::new(TransportErrorKind::Timeout, secret_detail).into(),
                StatusCode::BAD_GATEWAY,
            ),
            (MatchError::NotFound.into(), StatusCode::NOT_FOUND),
            (
                MatchError::MethodNotAllowed {
                    allowed: vec![Method::GET, Method::POST],
                }
                .into(),
                StatusCode::METHOD_NOT_ALLOWED,
            ),
        ];
        for (error, status) in cases {
            let shown = error.to_string();
            let response = answer(error);
            assert_eq!(response.status(), status, "{shown}");
            assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
        }
        let busy = answer(SsoFlowError::TooManyPendingLogins {
            per_client: 1,
            per_tenant: 2,
        });
        assert_eq!(busy.headers()[header::RETRY_AFTER], "60");
        let wrong = answer(MatchError::MethodNotAllowed {
            allowed: vec![Method::GET, Method::POST],
        });
        assert_eq!(wrong.headers()[header::ALLOW], "GET, POST");
    }

    #[tokio::test]
    async fn the_body_is_the_generic_text_of_the_status() {
        let response = answer(SsoFlowError::Form("detail-that-must-not-leak".into()));
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        assert_eq!(&body[..], b"bad request");
    }
}
