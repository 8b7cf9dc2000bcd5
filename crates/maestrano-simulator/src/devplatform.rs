//! The developer platform: `GET /api/config/v1/marketplaces` with HTTP Basic
//! `env_key:env_secret`, answering `{"marketplaces": [...]}` shaped like the developer
//! platform's reply.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::response::Response;
use http::{HeaderValue, Method, StatusCode, header};
use serde_json::json;

use super::config::MarketplaceSpec;
use super::faults::{Api, ApiFault, FaultQueue};
use super::server::ConnectionControl;
use super::state::Marketplace;
use super::wire::{basic_credentials, json, segments};
use maestrano::config::DevPlatformSettings;
use maestrano::saml::Certificate;
use maestrano::{ApiId, Secret};

/// The developer platform's state.
pub(crate) struct DevPlatform {
    pub(crate) env_key: String,
    pub(crate) env_secret: Secret,
    pub(crate) marketplaces: Vec<Arc<Marketplace>>,
    pub(crate) faults: FaultQueue,
    pub(crate) requests: std::sync::atomic::AtomicU64,
}

/// `url` as text without the lone trailing slash of a bare origin.
pub(crate) fn origin_text(url: &url::Url) -> String {
    url.as_str().trim_end_matches('/').to_owned()
}

/// The marketplace object the developer platform serves for `spec`, with every field of
/// `shapes/dev-platform/marketplaces-two.json`.
pub(crate) fn marketplace_json(
    spec: &MarketplaceSpec,
    base_url: &url::Url,
    api_id: &ApiId,
    api_key: &Secret,
    certificate: &Certificate,
) -> serde_json::Value {
    let key = spec.key.as_str();
    let app = origin_text(&spec.app_host);
    let hub = origin_text(base_url);
    json!({
        "nid": format!("{key}-app"),
        "marketplace": key,
        "environment": "simulator",
        "app": {
            "host": app,
            "synchronization_start_path": format!("/maestrano/{key}/synchronizations"),
            "synchronization_toggle_path": format!("/maestrano/{key}/synchronizations/toggle_sync"),
            "synchronization_status_path": format!("/maestrano/{key}/synchronizations/:cld-uid"),
        },
        "api": {
            "id": api_id.as_str(),
            "key": api_key.expose(),
            "host": hub,
            "base": "/api/v1/",
        },
        "sso": {
            "idm": app,
            "init_path": spec.paths.init_path,
            "consume_path": spec.paths.consume_path,
            "idp": hub,
            "x509_fingerprint": certificate.sha1_fingerprint().to_string(),
            "x509_certificate": certificate.to_pem(),
        },
        "connec": {
            "host": hub,
            "base_path": "/api/v2",
            "timeout": 60,
        },
        "webhooks": {
            "account": {
                "group_path": spec.paths.group_path,
                "group_user_path": spec.paths.group_user_path,
            },
            "connec": {
                "external_ids": false,
                "initialization_path": format!("/maestrano/connec/initialize/{key}"),
                "notification_path": spec.paths.notification_path,
            },
        },
    })
}

pub(crate) fn router(state: Arc<DevPlatform>) -> Router {
    Router::new().fallback(handle).with_state(state)
}

fn unauthorized() -> Response {
    let mut r = json(StatusCode::UNAUTHORIZED, &json!({"error": "Unauthorized"}));
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"developer platform\""),
    );
    r
}

async fn handle(State(state): State<Arc<DevPlatform>>, request: Request) -> Response {
    state
        .requests
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    match state.faults.take(Api::DevPlatform) {
        Some(ApiFault::Delay(d)) => tokio::time::sleep(d).await,
        Some(ApiFault::InternalError) => {
            return json(
                StatusCode::INTERNAL_SERVER_ERROR,
                &json!({"error": "Internal Server Error"}),
            );
        }
        Some(ApiFault::Unavailable { retry_after }) => {
            let mut r = json(
                StatusCode::SERVICE_UNAVAILABLE,
                &json!({"error": "Service Unavailable"}),
            );
            if let Ok(v) = http::HeaderValue::from_str(&retry_after.as_secs().to_string()) {
                r.headers_mut().insert(http::header::RETRY_AFTER, v);
            }
            return r;
        }
        // The developer platform only reads: losing the reply after handling is the same as
        // losing the connection before.
        Some(ApiFault::DropConnection | ApiFault::DropAfterHandling) => {
            if let Some(c) = request.extensions().get::<ConnectionControl>() {
                return c.drop_connection().await;
            }
        }
        None => {}
    }
    let path = segments(request.uri());
    let default_path: Vec<&str> = DevPlatformSettings::DEFAULT_API_PATH
        .split('/')
        .filter(|s| !s.is_empty())
        .chain(["marketplaces"])
        .collect();
    if path != default_path {
        return json(StatusCode::NOT_FOUND, &json!({"error": "Not Found"}));
    }
    if request.method() != Method::GET {
        let mut r = json(
            StatusCode::METHOD_NOT_ALLOWED,
            &json!({"error": "Method Not Allowed"}),
        );
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET"));
        return r;
    }
    let authorized = basic_credentials(request.headers()).is_some_and(|(user, password)| {
        let key_ok = maestrano::__private::ct_eq_bytes(state.env_key.as_bytes(), &user);
        let secret_ok = state.env_secret.ct_eq(&password);
        key_ok & secret_ok
    });
    if !authorized {
        return unauthorized();
    }
    json(StatusCode::OK, &state.document())
}

impl DevPlatform {
    /// The reply to an authorized `GET …/marketplaces`: `{"marketplaces": [...]}`, each
    /// marketplace with its current keys.
    pub(crate) fn document(&self) -> serde_json::Value {
        let list: Vec<serde_json::Value> = self
            .marketplaces
            .iter()
            .map(|m| m.keys().config_json.clone())
            .collect();
        json!({ "marketplaces": list })
    }
}
