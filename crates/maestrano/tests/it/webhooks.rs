//! Webhooks through the public API: the conformance requests, every refusal, tenant
//! isolation as a property, and the handler mounted in a real HTTP server on loopback.

use crate::common;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use base64::Engine as _;
use common::*;
use maestrano::config::StaticSource;
use maestrano::ports::Clock as _;
use maestrano::test_util::ManualClock;
use maestrano::webhook::{
    Delivery, DeliveryLedger, WebhookEvent, WebhookHandler, WebhookOptions, WebhookSink,
};
use maestrano::{MarketplaceKey, Registry};
use serde_json::Value;
use time::macros::datetime;

const MNO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/maestrano/");

#[derive(Default)]
struct Sink {
    events: Mutex<Vec<WebhookEvent>>,
    fail: bool,
}

#[async_trait]
impl WebhookSink for Sink {
    async fn on_event(
        &self,
        event: WebhookEvent,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        if self.fail {
            return Err("database down".into());
        }
        self.events.lock().unwrap().push(event);
        Ok(())
    }
}

async fn registry_from(json: &str) -> Registry {
    Registry::builder(
        Arc::new(StaticSource::from_json(json).unwrap()),
        Arc::new(ManualClock::new(datetime!(2024-01-01 0:00 UTC))),
    )
    // The platform sandbox of the conformance data answers on plain http.
    .insecure_allow_plain_http(maestrano::MarketplaceKey::new("mno-sandbox").unwrap())
    .build()
    .await
    .unwrap()
}

async fn two() -> Registry {
    registry_from(&read(&format!(
        "{MNO}shapes/dev-platform/marketplaces-two.json"
    )))
    .await
}

fn request(method: &str, path: &str, auth: Option<&str>, body: Vec<u8>) -> http::Request<Vec<u8>> {
    let mut b = http::Request::builder().method(method).uri(path);
    if let Some(a) = auth {
        b = b.header("authorization", a);
    }
    b.body(body).unwrap()
}

fn basic(id: &str, key: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{key}"))
    )
}

fn body_json(r: &http::Response<Vec<u8>>) -> Value {
    serde_json::from_slice(r.body()).unwrap()
}

#[tokio::test]
async fn the_conformance_account_webhook_requests_get_their_outcome() {
    let spec: Value = serde_json::from_str(&read(&format!(
        "{MNO}shapes/webhooks/account-webhook-requests.json"
    )))
    .unwrap();
    let sink = Arc::new(Sink::default());
    let handler = WebhookHandler::new(two().await, sink.clone());
    let mut authenticated = 0;
    for r in spec["requests"].as_array().unwrap() {
        let auth = r["headers"]["Authorization"].as_str();
        let response = handler
            .handle(request(
                r["method"].as_str().unwrap(),
                r["path"].as_str().unwrap(),
                auth,
                Vec::new(),
            ))
            .await;
        let expected = &r["expected"];
        assert_eq!(
            response.status().as_u16() as u64,
            expected["status"].as_u64().unwrap(),
            "{}",
            r["name"]
        );
        assert_eq!(body_json(&response), expected["body"], "{}", r["name"]);
        if expected["authenticated"] == true {
            authenticated += 1;
        } else {
            assert_eq!(
                response.headers()["www-authenticate"],
                "Basic realm=\"maestrano\""
            );
        }
    }
    assert_eq!(authenticated, 2);
    let events = sink.events.lock().unwrap();
    assert_eq!(
        *events,
        vec![
            WebhookEvent::GroupDestroyed {
                marketplace: MarketplaceKey::new("maestrano-uat").unwrap(),
                group_uid: "cld-9axx".parse().unwrap(),
            },
            WebhookEvent::UserRemovedFromGroup {
                marketplace: MarketplaceKey::new("maestrano-uat").unwrap(),
                group_uid: "cld-9axx".parse().unwrap(),
                user_uid: "usr-9f2k".parse().unwrap(),
            },
        ]
    );
}

#[tokio::test]
async fn the_conformance_connec_notifications_are_delivered_by_kind_with_their_groups() {
    let spec: Value = serde_json::from_str(&read(&format!(
        "{MNO}shapes/webhooks/connec-notification-request.json"
    )))
    .unwrap();
    let sink = Arc::new(Sink::default());
    let handler = WebhookHandler::new(two().await, sink.clone());
    let body = std::fs::read(format!("{MNO}{}", spec["body_file"].as_str().unwrap())).unwrap();
    let response = handler
        .handle(request(
            "POST",
            spec["path"].as_str().unwrap(),
            spec["headers"]["Authorization"].as_str(),
            body,
        ))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(body_json(&response), serde_json::json!({"success": true}));
    {
        let events = sink.events.lock().unwrap();
        let WebhookEvent::ConnecNotification {
            marketplace,
            notification,
        } = &events[0]
        else {
            panic!()
        };
        assert_eq!(marketplace.as_str(), "maestrano-uat");
        for (kind, count) in spec["expected"]["entities"].as_object().unwrap() {
            assert_eq!(
                notification.kinds[kind].len() as u64,
                count.as_u64().unwrap(),
                "{kind}"
            );
        }
        let groups: Vec<&str> = notification
            .entities()
            .filter_map(|(_, e)| e.group_id())
            .collect();
        for g in spec["expected"]["groups"].as_array().unwrap() {
            assert!(groups.contains(&g.as_str().unwrap()), "{g}");
        }
        let person = &notification.kinds["people"][0];
        assert_eq!(
            person.connec_id().as_deref(),
            Some("23daf041-e18e-0133-7b6a-15461b913fab")
        );
        assert_eq!(
            person.id_for("myapp", Some("realm-42")).as_deref(),
            Some("C-1001")
        );
        assert_eq!(
            person.updated_at(),
            Some(datetime!(2016-02-03 22:40:12.389 UTC))
        );
    }

    // Connector-rails' notification: group "cld_333", no id array: accepted, id absent.
    let body = std::fs::read(format!(
        "{MNO}maestrano-connector-rails/written/connec_controller_spec-notification-people.json"
    ))
    .unwrap();
    let response = handler
        .handle(request(
            "POST",
            "/mno-enterprise/maestrano-uat/connec/receive",
            Some(&basic("app-3c4d", UAT_KEY)),
            body,
        ))
        .await;
    assert_eq!(response.status(), 200);
    let events = sink.events.lock().unwrap();
    let WebhookEvent::ConnecNotification { notification, .. } = &events[1] else {
        panic!()
    };
    let person = &notification.kinds["people"][0];
    assert_eq!(person.group_id(), Some("cld_333"));
    assert!(person.ids().is_none());
}

const UAT_KEY: &str = "9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0";
const SANDBOX_KEY: &str = "5b1e0c9d7f3a2e4b6c8d0f1a3b5c7d9e1f2a4b6c8d0e2f4a6b8c0d2e4f6a8b0c";

#[tokio::test]
async fn every_refusal_has_its_status() {
    let sink = Arc::new(Sink::default());
    let handler = WebhookHandler::with_options(
        two().await,
        sink.clone(),
        WebhookOptions::default().with_max_body_bytes(1024),
    );
    let auth = basic("app-3c4d", UAT_KEY);
    let cases: Vec<(http::Request<Vec<u8>>, u16)> = vec![
        (
            request(
                "DELETE",
                "/mno-enterprise/nobody/account/group/cld-1",
                Some(&auth),
                vec![],
            ),
            401,
        ),
        (
            request(
                "GET",
                "/mno-enterprise/maestrano-uat/account/group/cld-1",
                Some(&auth),
                vec![],
            ),
            401,
        ),
        (
            request(
                "DELETE",
                "/mno-enterprise/maestrano-uat/account/group/cld%2F1",
                Some(&auth),
                vec![],
            ),
            401,
        ),
        (
            request(
                "DELETE",
                "/mno-enterprise/maestrano-uat/account/group/..",
                Some(&auth),
                vec![],
            ),
            401,
        ),
        (
            request(
                "POST",
                "/mno-enterprise/maestrano-uat/connec/receive",
                Some(&auth),
                b"not json".to_vec(),
            ),
            400,
        ),
        (
            request(
                "POST",
                "/mno-enterprise/maestrano-uat/connec/receive",
                Some(&auth),
                b"[]".to_vec(),
            ),
            400,
        ),
        (
            request(
                "POST",
                "/mno-enterprise/maestrano-uat/connec/receive",
                Some(&auth),
                vec![b' '; 1025],
            ),
            413,
        ),
        (
            request(
                "POST",
                "/mno-enterprise/maestrano-uat/saml/consume",
                Some(&auth),
                vec![],
            ),
            404,
        ),
        (request("DELETE", "/elsewhere", Some(&auth), vec![]), 401),
        (
            request(
                "DELETE",
                "/mno-enterprise/maestrano-uat/account/group/cld-1",
                Some("Basic !!!"),
                vec![],
            ),
            401,
        ),
        (
            request(
                "DELETE",
                "/mno-enterprise/maestrano-uat/account/group/cld-1",
                Some("Bearer x"),
                vec![],
            ),
            401,
        ),
        (
            request(
                "DELETE",
                "/mno-enterprise/maestrano-uat/account/group/cld-1",
                Some(&basic("app-1a2b", SANDBOX_KEY)),
                vec![],
            ),
            401,
        ),
    ];
    for (req, status) in cases {
        let what = format!("{} {}", req.method(), req.uri());
        let r = handler.handle(req).await;
        assert_eq!(r.status().as_u16(), status, "{what}");
        assert!(body_json(&r)["error"].is_string(), "{what}");
    }
    // Refusals explain without echoing the body (notifications carry personal data).
    let secret_text = b"not json: Jane Doe, jane@example.com".to_vec();
    let r = handler
        .handle(request(
            "POST",
            "/mno-enterprise/maestrano-uat/connec/receive",
            Some(&auth),
            secret_text,
        ))
        .await;
    assert_eq!(r.status(), 400);
    assert!(
        !String::from_utf8_lossy(r.body()).contains("Jane"),
        "{:?}",
        String::from_utf8_lossy(r.body())
    );
    let long_key = format!("{{\"{}\": 3}}", "k".repeat(900));
    let r = handler
        .handle(request(
            "POST",
            "/mno-enterprise/maestrano-uat/connec/receive",
            Some(&auth),
            long_key.into_bytes(),
        ))
        .await;
    assert_eq!(r.status(), 400);
    assert!(
        r.body().len() < 300,
        "the reason is short: {} bytes",
        r.body().len()
    );

    // An unauthenticated body is never parsed: 401, not 400.
    let r = handler
        .handle(request(
            "POST",
            "/mno-enterprise/maestrano-uat/connec/receive",
            None,
            b"not json".to_vec(),
        ))
        .await;
    assert_eq!(r.status(), 401);
    assert!(sink.events.lock().unwrap().is_empty());

    let failing = WebhookHandler::new(
        two().await,
        Arc::new(Sink {
            fail: true,
            ..Sink::default()
        }),
    );
    let r = failing
        .handle(request(
            "DELETE",
            "/mno-enterprise/maestrano-uat/account/group/cld-1",
            Some(&auth),
            vec![],
        ))
        .await;
    assert_eq!(
        r.status(),
        500,
        "a failing app gets the marketplace to retry"
    );
    assert!(
        !String::from_utf8_lossy(r.body()).contains("database"),
        "internal errors stay internal"
    );
}

mod isolation {
    use super::*;
    use proptest::prelude::*;

    fn tenant_json(key: &str, id: &str, secret: &str) -> Value {
        serde_json::json!({
            "marketplace": key,
            "app": {"host": "https://app.example.com"},
            "api": {"id": id, "key": secret, "host": "https://hub.example.com"},
            "sso": {"idp": "https://hub.example.com", "x509_fingerprint": "01:06:15:89:25:7d:78:12:28:a6:69:c7:de:63:ed:74:21:f9:f5:36"},
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn credentials_of_one_tenant_never_authenticate_on_another(
            id_a in "[a-z0-9-]{1,12}", key_a in "[ -~]{1,40}",
            id_b in "[a-z0-9-]{1,12}", key_b in "[ -~]{1,40}",
            same_id in any::<bool>(),
        ) {
            let id_b = if same_id { id_a.clone() } else { id_b };
            prop_assume!((id_a.as_str(), key_a.as_str()) != (id_b.as_str(), key_b.as_str()));
            let json = serde_json::json!({"marketplaces": [
                tenant_json("tenant-a", &format!("app-{id_a}"), &key_a),
                tenant_json("tenant-b", &format!("app-{id_b}"), &key_b),
            ]}).to_string();
            let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
            rt.block_on(async {
                let handler = WebhookHandler::new(registry_from(&json).await, Arc::new(Sink::default()));
                for (tenant, own, other) in [
                    ("tenant-a", basic(&format!("app-{id_a}"), &key_a), basic(&format!("app-{id_b}"), &key_b)),
                    ("tenant-b", basic(&format!("app-{id_b}"), &key_b), basic(&format!("app-{id_a}"), &key_a)),
                ] {
                    let path = format!("/mno-enterprise/{tenant}/account/group/cld-1");
                    let r = handler.handle(request("DELETE", &path, Some(&other), vec![])).await;
                    prop_assert_eq!(r.status().as_u16(), 401, "other tenant's credentials on {}", tenant);
                    let r = handler.handle(request("DELETE", &path, Some(&own), vec![])).await;
                    prop_assert_eq!(r.status().as_u16(), 200, "own credentials on {}", tenant);
                }
                Ok(())
            })?;
        }
    }
}

/// The handler mounted in a real HTTP server (axum on loopback), called with real requests.
#[cfg(feature = "reqwest")]
#[tokio::test]
async fn end_to_end_over_loopback() {
    use axum::body::Body;
    let sink = Arc::new(Sink::default());
    let handler = Arc::new(WebhookHandler::new(two().await, sink.clone()));
    let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let handler = handler.clone();
        async move {
            let (parts, body) = req.into_parts();
            let bytes = axum::body::to_bytes(body, 10 * 1024 * 1024)
                .await
                .unwrap_or_default();
            let response = handler
                .handle(http::Request::from_parts(parts, bytes.to_vec()))
                .await;
            response.map(Body::from)
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    use maestrano::ports::HttpClient;
    let client = maestrano::adapters::ReqwestHttpClient::new().unwrap();
    let send = |method: &str, path: &str, auth: Option<String>, body: Vec<u8>| {
        let mut b = http::Request::builder()
            .method(method)
            .uri(format!("{base}{path}"));
        if let Some(a) = auth {
            b = b.header("authorization", a);
        }
        client.send(b.body(body).unwrap())
    };
    let ok = send(
        "DELETE",
        "/maestrano/account/groups/cld-9axx/maestrano-uat",
        Some(basic("app-3c4d", UAT_KEY)),
        vec![],
    )
    .await
    .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.headers()["content-type"], "application/json");
    let other = send(
        "DELETE",
        "/maestrano/account/groups/cld-9axx/maestrano-uat",
        Some(basic("app-1a2b", SANDBOX_KEY)),
        vec![],
    )
    .await
    .unwrap();
    assert_eq!(other.status(), 401);
    let body = std::fs::read(format!("{MNO}shapes/connec/notification-two-kinds.json")).unwrap();
    let notif = send(
        "POST",
        "/maestrano/connec/notifications/maestrano-uat",
        Some(basic("app-3c4d", UAT_KEY)),
        body,
    )
    .await
    .unwrap();
    assert_eq!(notif.status(), 200);
    let wrong = send(
        "PUT",
        "/maestrano/connec/notifications/maestrano-uat",
        None,
        vec![],
    )
    .await
    .unwrap();
    assert_eq!(
        wrong.status(),
        401,
        "refused before authentication, like any other"
    );
    assert_eq!(sink.events.lock().unwrap().len(), 2);
    server.abort();
}

/// A notification can carry kinds and ids of any size up to the body limit; neither ledger
/// keeps them: both refuse them by the id map's field rules, so memory per entry stays small.
/// A scanner without the credentials learns nothing about which marketplaces an app serves:
/// a path naming an unknown marketplace, a served one (without, with wrong, or with another
/// marketplace's credentials), a wrong method, a malformed id and a path that is no route get
/// the same status, headers and body (issue 15).
#[tokio::test]
async fn unauthenticated_refusals_are_alike_for_served_and_unknown_marketplaces() {
    let sink = Arc::new(Sink::default());
    let handler = WebhookHandler::new(two().await, sink.clone());
    let sandbox = basic("app-1a2b", SANDBOX_KEY);
    let wrong = basic("app-3c4d", "not-the-key");
    let probes = [
        (
            "DELETE",
            "/mno-enterprise/maestrano-uat/account/group/cld-1",
            None,
        ),
        (
            "DELETE",
            "/mno-enterprise/maestrano-uat/account/group/cld-1",
            Some(wrong.as_str()),
        ),
        (
            "DELETE",
            "/mno-enterprise/maestrano-uat/account/group/cld-1",
            Some(sandbox.as_str()),
        ),
        (
            "DELETE",
            "/mno-enterprise/not-served/account/group/cld-1",
            None,
        ),
        (
            "DELETE",
            "/mno-enterprise/not-served/account/group/cld-1",
            Some(wrong.as_str()),
        ),
        ("POST", "/mno-enterprise/maestrano-uat/connec/receive", None),
        ("POST", "/mno-enterprise/not-served/connec/receive", None),
        (
            "GET",
            "/mno-enterprise/maestrano-uat/account/group/cld-1",
            None,
        ),
        (
            "GET",
            "/mno-enterprise/not-served/account/group/cld-1",
            None,
        ),
        (
            "DELETE",
            "/mno-enterprise/maestrano-uat/account/group/..",
            None,
        ),
        (
            "DELETE",
            "/mno-enterprise/not-served/account/group/..",
            None,
        ),
        ("DELETE", "/wp-admin/setup.php", None),
    ];
    let mut answers = Vec::new();
    for (method, path, auth) in probes {
        let r = handler
            .handle(request(method, path, auth, b"{}".to_vec()))
            .await;
        let mut headers: Vec<(String, Vec<u8>)> = r
            .headers()
            .iter()
            .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
            .collect();
        headers.sort();
        answers.push((
            (method, path, auth.is_some()),
            r.status().as_u16(),
            headers,
            r.into_body(),
        ));
    }
    let (_, status, headers, body) = &answers[0];
    assert_eq!(*status, 401);
    assert_eq!(
        body_json(&http::Response::new(body.clone()))["error"],
        "Invalid credentials"
    );
    for (probe, s, h, b) in &answers[1..] {
        assert_eq!(
            (s, h, b),
            (status, headers, body),
            "{probe:?} answers differently"
        );
    }
    assert!(sink.events.lock().unwrap().is_empty());
}

/// The app's sink of the race below: claims each entity, then waits at `gate` before
/// completing, as a slow database write would.
struct SlowApplier {
    ledger: DeliveryLedger,
    clock: Arc<ManualClock>,
    gate: tokio::sync::Semaphore,
    claimed: tokio::sync::Notify,
    applied: Mutex<u32>,
}

#[async_trait]
impl WebhookSink for SlowApplier {
    async fn on_event(
        &self,
        event: WebhookEvent,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let WebhookEvent::ConnecNotification {
            marketplace,
            notification,
        } = event
        else {
            return Err("expected a notification".into());
        };
        for (kind, entity) in notification.entities() {
            match self
                .ledger
                .claim(&marketplace, kind, entity, self.clock.now())
                .await?
            {
                Delivery::Apply(claim) => {
                    self.claimed.notify_one();
                    let _permit = self.gate.acquire().await?;
                    *self.applied.lock().unwrap() += 1;
                    claim.complete().await?;
                }
                Delivery::Busy(busy) => return Err(Box::new(busy)),
                Delivery::AlreadyApplied | Delivery::Stale => {}
                Delivery::Untracked => *self.applied.lock().unwrap() += 1,
            }
        }
        Ok(())
    }
}

/// The issue 15 race: the marketplace retries a notification while the first delivery is
/// still being applied. The retry is answered 503 with a `Retry-After` at the end of the first
/// claim's lease, the first completes, and a later retry finds the version applied: the
/// platform-shaped notification (`shapes/connec/notification-two-kinds.json`) is applied once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_racing_the_first_delivery_is_applied_once() {
    let clock = Arc::new(ManualClock::new(datetime!(2024-01-01 0:00 UTC)));
    let app = Arc::new(SlowApplier {
        ledger: DeliveryLedger::in_memory(),
        clock: clock.clone(),
        gate: tokio::sync::Semaphore::new(0),
        claimed: tokio::sync::Notify::new(),
        applied: Mutex::new(0),
    });
    let handler = Arc::new(WebhookHandler::new(two().await, app.clone()));
    let body = std::fs::read(format!("{MNO}shapes/connec/notification-two-kinds.json")).unwrap();
    let auth = basic("app-1a2b", SANDBOX_KEY);
    let deliver = || {
        let (handler, body, auth) = (handler.clone(), body.clone(), auth.clone());
        async move {
            handler
                .handle(request(
                    "POST",
                    "/mno-enterprise/mno-sandbox/connec/receive",
                    Some(&auth),
                    body,
                ))
                .await
        }
    };
    let first = tokio::spawn(deliver());
    // The first delivery holds its claim (blocked at the gate) ...
    app.claimed.notified().await;
    // ... when the retry arrives. (Were it let through, it would wait at the gate too.)
    let retry = tokio::time::timeout(std::time::Duration::from_secs(10), deliver())
        .await
        .expect("the retry is answered at once, not applied beside the first delivery");
    assert_eq!(
        retry.status().as_u16(),
        503,
        "{:?}",
        String::from_utf8_lossy(retry.body())
    );
    assert_eq!(
        retry.headers()["retry-after"],
        "Mon, 01 Jan 2024 00:01:00 GMT"
    );
    app.gate.add_permits(100);
    let first = first.await.unwrap();
    assert_eq!(first.status().as_u16(), 200);
    let later = deliver().await;
    assert_eq!(later.status().as_u16(), 200);
    // Two people and one payment in the notification, each applied once.
    assert_eq!(*app.applied.lock().unwrap(), 3);
}

/// Issue 15: with an app route prefix other than the default, a tenant whose `group_path`
/// collides with the app's prefixed routes passed the registry (checked against the default
/// layout only) and then broke the handler's router: every tenant got 500. The registry now
/// checks against the layout the app serves and refuses that tenant alone.
#[tokio::test]
async fn a_tenant_colliding_with_the_apps_route_layout_is_refused_alone() {
    let tenant = |k: &str, group_path: Option<&str>| {
        let b = maestrano::config::MarketplaceConfig::builder(k)
            .app_host("https://app.example.com")
            .api_id(format!("app-{k}"))
            .api_key(maestrano::Secret::new(format!("key-{k}")))
            .api_host("https://hub.example.com")
            .sso_idp("https://idp.example.com")
            .x509_fingerprint("01:06:15:89:25:7d:78:12:28:a6:69:c7:de:63:ed:74:21:f9:f5:36");
        match group_path {
            Some(p) => b.group_path(p),
            None => b,
        }
        .build()
        .unwrap()
    };
    let configs = [
        tenant("good", None),
        // The app's prefixed route `/hooks/:marketplace/account/group/:id` matches this too,
        // as the route of another tenant (`good`): a conflict. (Its own prefixed route,
        // `/hooks/bad/…`, would be the same endpoint and be served: issue 16.)
        tenant("bad", Some("/hooks/good/account/group/:id")),
    ];
    let registry = Registry::builder(
        Arc::new(StaticSource::from_configs(configs).unwrap()),
        Arc::new(ManualClock::new(datetime!(2024-01-01 0:00 UTC))),
    )
    .router_options(maestrano::routes::RouterOptions::new().with_prefix("/hooks"))
    .build()
    .await
    .unwrap();
    let snapshot = registry.snapshot();
    let refused: Vec<_> = snapshot
        .refused()
        .iter()
        .map(|r| r.marketplace.as_str())
        .collect();
    assert_eq!(refused, ["bad"]);
    assert!(matches!(
        snapshot.refused()[0].error,
        maestrano::config::ConfigError::Routes(maestrano::routes::RouteError::Conflict { .. })
    ));
    let sink = Arc::new(Sink::default());
    let handler = WebhookHandler::new(registry, sink.clone());
    let good = basic("app-good", "key-good");
    for path in [
        "/hooks/good/account/group/cld-1",
        &(tenant("good", None)
            .routes()
            .group
            .as_str()
            .replace(":id", "cld-2")),
    ] {
        let r = handler
            .handle(request("DELETE", path, Some(&good), vec![]))
            .await;
        assert_eq!(
            r.status().as_u16(),
            200,
            "{path}: {:?}",
            String::from_utf8_lossy(r.body())
        );
    }
    // The refused tenant is not served, and its path is no route of its own.
    let bad = basic("app-bad", "key-bad");
    let r = handler
        .handle(request(
            "DELETE",
            "/hooks/bad/account/group/cld-1",
            Some(&bad),
            vec![],
        ))
        .await;
    assert_eq!(r.status().as_u16(), 401);
    assert_eq!(sink.events.lock().unwrap().len(), 2);
}

/// A source whose document the test replaces, as the developer platform's changes.
#[derive(Debug)]
struct Switchable(Mutex<String>);

#[async_trait]
impl maestrano::config::ConfigSource for Switchable {
    async fn load_all(
        &self,
    ) -> Result<Vec<maestrano::config::MarketplaceConfig>, maestrano::config::ConfigError> {
        let json = self.0.lock().unwrap().clone();
        maestrano::config::parse_marketplaces(json.as_bytes())
    }
}

#[tokio::test]
async fn after_a_key_rotation_webhooks_accept_the_old_key_for_the_overlap_window_only() {
    let doc = |key: &str| {
        format!(
            r#"{{"marketplaces": [{{"marketplace": "acme-corp",
                "app": {{"host": "https://app.example.com"}},
                "api": {{"id": "app-1a2b", "key": "{key}", "host": "https://hub.acme.example"}},
                "sso": {{"idp": "https://hub.acme.example",
                        "x509_fingerprint": "01:06:15:89:25:7d:78:12:28:a6:69:c7:de:63:ed:74:21:f9:f5:36"}}}}]}}"#
        )
    };
    let source = Arc::new(Switchable(Mutex::new(doc("old-key"))));
    let clock = Arc::new(ManualClock::new(datetime!(2026-12-07 12:00 UTC)));
    let registry = Registry::builder(source.clone(), clock.clone())
        .credential_overlap(time::Duration::minutes(30))
        .build()
        .await
        .unwrap();
    let sink = Arc::new(Sink::default());
    let handler = WebhookHandler::new(registry.clone(), sink.clone());
    let status = |key: &'static str| {
        let handler = &handler;
        async move {
            handler
                .handle(request(
                    "DELETE",
                    "/mno-enterprise/acme-corp/account/group/cld-1",
                    Some(&basic("app-1a2b", key)),
                    Vec::new(),
                ))
                .await
                .status()
                .as_u16()
        }
    };
    assert_eq!(status("old-key").await, 200);
    assert_eq!(status("new-key").await, 401);

    // The developer platform publishes the new key.
    *source.0.lock().unwrap() = doc("new-key");
    registry.refresh().await.unwrap();
    let tenant = registry
        .with(&MarketplaceKey::new("acme-corp").unwrap())
        .unwrap();
    assert_eq!(
        tenant.config().api().key().expose(),
        "new-key",
        "outbound calls use the new key"
    );
    assert_eq!(
        tenant.retired_credentials_until(),
        Some(datetime!(2026-12-07 12:30 UTC))
    );
    assert_eq!(status("new-key").await, 200);
    assert_eq!(status("old-key").await, 200, "within the overlap window");
    assert_eq!(status("other").await, 401);

    // A refresh that changes nothing keeps the window; it still closes on time.
    clock.advance(time::Duration::minutes(20));
    registry.refresh().await.unwrap();
    assert_eq!(status("old-key").await, 200);
    clock.advance(time::Duration::minutes(10));
    assert_eq!(status("old-key").await, 401, "the window has closed");
    assert_eq!(status("new-key").await, 200);
    registry.refresh().await.unwrap();
    let tenant = registry
        .with(&MarketplaceKey::new("acme-corp").unwrap())
        .unwrap();
    assert_eq!(tenant.retired_credentials_until(), None);
    assert_eq!(sink.events.lock().unwrap().len(), 5);
}
