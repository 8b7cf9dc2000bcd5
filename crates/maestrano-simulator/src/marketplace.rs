//! One marketplace's listener: the IdP, the account API and Connec! on one port, with fault
//! injection and per-API request counts.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::response::Response;
use http::{Method, StatusCode};
use serde_json::json;

use super::account;
use super::connec::{self, Call};
use super::faults::{Api, ApiFault};
use super::idp;
use super::openid;
use super::server::ConnectionControl;
use super::state::Marketplace;
use super::wire::{basic_credentials, page, query_pairs, read_body, segments};

pub(crate) fn router(state: Arc<Marketplace>) -> Router {
    Router::new().fallback(handle).with_state(state)
}

/// Which API a path belongs to.
fn api_of(segments: &[String]) -> Option<Api> {
    let s: Vec<&str> = segments.iter().map(String::as_str).collect();
    match s.as_slice() {
        ["api", "v1", "auth", "saml", ..]
        | ["api", "openid", "provider", ..]
        | ["app_logout"]
        | ["app_access_unauthorized"] => Some(Api::Idp),
        ["api", "v1", "account", ..] => Some(Api::Account),
        ["api", "v2", ..] | ["batch"] | ["version"] | ["api", "reports", ..] => Some(Api::Connec),
        _ => None,
    }
}

fn authenticated(m: &Marketplace, headers: &http::HeaderMap) -> bool {
    basic_credentials(headers)
        .is_some_and(|(user, password)| m.tenant.check_credentials(&user, &password))
}

fn fault_reply(m: &Marketplace, api: Api) -> Response {
    match api {
        Api::Account => account::system_error(),
        Api::Connec => connec::respond((
            StatusCode::INTERNAL_SERVER_ERROR,
            connec::error_body(
                m.shared.random.as_ref(),
                "500",
                "internal-server-error",
                "Internal Server Error",
                "Internal Server Error",
                None,
            ),
        )),
        _ => page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal Server Error",
            "The marketplace failed to answer.",
        ),
    }
}

async fn handle(State(m): State<Arc<Marketplace>>, request: Request) -> Response {
    let segs = segments(request.uri());
    let Some(api) = api_of(&segs) else {
        return page(
            StatusCode::NOT_FOUND,
            "Not found",
            "No such page on this marketplace.",
        );
    };
    m.count_request(api);
    let mut drop_after = None;
    match m.faults.take(api) {
        Some(ApiFault::Delay(d)) => tokio::time::sleep(d).await,
        Some(ApiFault::InternalError) => return fault_reply(&m, api),
        Some(ApiFault::Unavailable { retry_after }) => {
            let mut r = fault_reply(&m, api);
            *r.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
            if let Ok(v) = http::HeaderValue::from_str(&retry_after.as_secs().to_string()) {
                r.headers_mut().insert(http::header::RETRY_AFTER, v);
            }
            return r;
        }
        Some(ApiFault::DropConnection) => {
            if let Some(c) = request.extensions().get::<ConnectionControl>() {
                return c.drop_connection().await;
            }
            return fault_reply(&m, api);
        }
        Some(ApiFault::DropAfterHandling) => {
            drop_after = request.extensions().get::<ConnectionControl>().cloned();
        }
        None => {}
    }
    let (parts, body) = request.into_parts();
    let response = route(&m, api, &parts, &segs, body).await;
    match drop_after {
        // The work is done (and kept); only the answer is lost.
        Some(c) => c.drop_connection().await,
        None => response,
    }
}

async fn route(
    m: &Marketplace,
    api: Api,
    parts: &http::request::Parts,
    segs: &[String],
    body: axum::body::Body,
) -> Response {
    match api {
        Api::Idp if segs.get(1).is_some_and(|s| s == "openid") => {
            let Some(body) = read_body(body).await else {
                return page(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "Too large",
                    "The body is too large.",
                );
            };
            openid::route(m, parts, segs, &body).unwrap_or_else(|| {
                page(StatusCode::NOT_FOUND, "Not found", "No such provider page.")
            })
        }
        Api::Idp => idp::route(m, &parts.method, &parts.uri, segs)
            .unwrap_or_else(|| page(StatusCode::NOT_FOUND, "Not found", "No such IdP page.")),
        Api::Account => {
            if !authenticated(m, &parts.headers) {
                return account::unauthorized();
            }
            let Some(body) = read_body(body).await else {
                return account::error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    &[("base".into(), "the body is too large".into())],
                );
            };
            account::handle(m, &parts.method, &parts.uri, &segs[3..], &body)
        }
        Api::Connec => connec_request(m, parts, segs, body).await,
        Api::DevPlatform => page(StatusCode::NOT_FOUND, "Not found", "No such page."),
    }
}

async fn connec_request(
    m: &Marketplace,
    parts: &http::request::Parts,
    segs: &[String],
    body: axum::body::Body,
) -> Response {
    let call = Call {
        m,
        now: m.shared.now(),
    };
    if segs == ["version"] {
        return connec::respond((
            StatusCode::OK,
            json!({
                "ci_build_number": "0",
                "ci_branch": "simulator",
                "ci_commit": env!("CARGO_PKG_VERSION"),
            }),
        ));
    }
    if !authenticated(m, &parts.headers) {
        return connec::respond((
            StatusCode::UNAUTHORIZED,
            connec::error_body(
                m.shared.random.as_ref(),
                "401",
                "unauthorized-access",
                "Unauthorized Access",
                "Unauthorized Access",
                None,
            ),
        ));
    }
    let Some(body) = read_body(body).await else {
        return connec::respond((
            StatusCode::PAYLOAD_TOO_LARGE,
            connec::error_body(
                m.shared.random.as_ref(),
                "413",
                "payload-too-large",
                "Payload Too Large",
                "The body is too large",
                None,
            ),
        ));
    };
    let query = query_pairs(&parts.uri);
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    let outcome = match (s.as_slice(), &parts.method) {
        (["batch"], &Method::POST) => call.batch(&body),
        (["api", "reports", group, report], &Method::GET) => call.report(group, report, &query),
        (["api", "v2", ..], method) => {
            let parsed: Option<serde_json::Value> = if body.is_empty() {
                None
            } else {
                match serde_json::from_slice(&body) {
                    Ok(v) => Some(v),
                    Err(_) => {
                        return connec::respond((
                            StatusCode::BAD_REQUEST,
                            connec::error_body(
                                m.shared.random.as_ref(),
                                "400",
                                "bad-request",
                                "Bad Request",
                                "The body is not JSON",
                                None,
                            ),
                        ));
                    }
                }
            };
            call.execute(method, &segs[2..], &query, parsed.as_ref())
        }
        _ => (
            StatusCode::NOT_FOUND,
            connec::error_body(
                m.shared.random.as_ref(),
                "404",
                "resource-not-found",
                "Resource not found",
                "Resource not found",
                None,
            ),
        ),
    };
    connec::respond(outcome)
}
