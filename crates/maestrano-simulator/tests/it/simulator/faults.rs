//! Faults in the simulator's own replies, as API clients meet them.

use std::sync::Arc;
use std::time::Duration;

use maestrano::adapters::ReqwestHttpClient;
use maestrano::config::ConfigSource;
use maestrano::config::{ConfigError, DevPlatformError, DevPlatformSource};
use maestrano::ports::{HttpClient, TransportErrorKind};
use maestrano_simulator::{Api, ApiFault, ApiScope};
use serde_json::json;

use super::support::*;

#[tokio::test]
async fn dev_platform_faults_reach_the_autoconfigure_client() {
    let sim = two(clock(), &app_url()).await;
    let impatient = Arc::new(
        ReqwestHttpClient::builder()
            .timeout(Duration::from_millis(300))
            .build()
            .unwrap(),
    );
    let source = DevPlatformSource::new(sim.dev_platform_settings().unwrap(), impatient);

    sim.inject_dev_platform_fault(ApiFault::InternalError, 1);
    let err = source.load_all().await.unwrap_err();
    assert!(
        matches!(
            err,
            ConfigError::DevPlatform(DevPlatformError::Rejected { status: 500, .. })
        ),
        "{err:?}"
    );

    sim.inject_dev_platform_fault(ApiFault::Delay(Duration::from_secs(2)), 1);
    let err = source.load_all().await.unwrap_err();
    match err {
        ConfigError::DevPlatform(DevPlatformError::Transport(e)) => {
            assert_eq!(e.kind(), TransportErrorKind::Timeout)
        }
        other => panic!("{other:?}"),
    }

    sim.inject_dev_platform_fault(ApiFault::DropConnection, 1);
    let err = source.load_all().await.unwrap_err();
    match err {
        ConfigError::DevPlatform(DevPlatformError::Transport(e)) => {
            assert_ne!(e.kind(), TransportErrorKind::Timeout, "{e}");
            assert!(e.may_have_been_sent());
        }
        other => panic!("{other:?}"),
    }

    // A short delay only slows the answer down; then everything is back to normal.
    sim.inject_dev_platform_fault(ApiFault::Delay(Duration::from_millis(150)), 1);
    let started = tokio::time::Instant::now();
    assert_eq!(source.load_all().await.unwrap().len(), 2);
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert_eq!(source.load_all().await.unwrap().len(), 2);
    assert_eq!(sim.dev_platform_requests(), 5);
}

#[tokio::test]
async fn marketplace_faults_are_scoped_counted_and_leave_state_untouched() {
    let sim = two(clock(), &app_url()).await;
    let [a, b] = sim.marketplaces() else { panic!() };
    let ha = sim.marketplace(&a.key).unwrap();
    let auth = basic(a.api_id.as_str(), a.api_key.expose());
    let bills = format!("{}bills", a.account_api_url());
    let bill =
        json!({"group_id": "cld-1", "price_cents": 100, "currency": "AUD", "description": "x"});

    // A dropped connection: the client sees a transport error, no bill is created.
    ha.inject_fault(Api::Account, ApiFault::DropConnection, 1);
    let err = send("POST", &bills, Some(&auth), Some(&bill))
        .await
        .unwrap_err();
    assert_ne!(err.kind(), TransportErrorKind::Timeout);
    assert!(ha.bills().is_empty());
    assert_eq!(
        send("POST", &bills, Some(&auth), Some(&bill))
            .await
            .unwrap()
            .status(),
        201
    );

    // Faults for one API leave the others alone; `All` takes whatever comes next.
    ha.inject_fault(Api::Idp, ApiFault::InternalError, 1);
    let r = send("GET", &format!("{}version", a.base_url), None, None)
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = send("GET", a.idp_sso_url().as_str(), None, None)
        .await
        .unwrap();
    assert_eq!(r.status(), 500);
    ha.inject_fault(ApiScope::All, ApiFault::InternalError, 2);
    assert_eq!(
        send("GET", &bills, Some(&auth), None)
            .await
            .unwrap()
            .status(),
        500
    );
    let r = send("GET", &format!("{}version", a.base_url), None, None)
        .await
        .unwrap();
    assert_eq!(r.status(), 500);
    assert_eq!(
        send("GET", &bills, Some(&auth), None)
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(ha.faults_applied(), 4);

    // A delay past the client's timeout: a timeout for the client, the request still served.
    ha.inject_fault(Api::Account, ApiFault::Delay(Duration::from_millis(600)), 1);
    let impatient = ReqwestHttpClient::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let request = http::Request::get(&bills)
        .header("authorization", &auth)
        .body(Vec::new())
        .unwrap();
    let err = impatient.send(request).await.unwrap_err();
    assert_eq!(err.kind(), TransportErrorKind::Timeout);

    // Faults queued and cleared are never applied; the other marketplace had none.
    ha.inject_fault(ApiScope::All, ApiFault::InternalError, 5);
    ha.clear_faults();
    assert_eq!(
        send("GET", &bills, Some(&auth), None)
            .await
            .unwrap()
            .status(),
        200
    );
    let hb = sim.marketplace(&b.key).unwrap();
    assert_eq!(hb.faults_applied(), 0);
    assert_eq!(hb.requests(Api::Account), 0);
    assert!(ha.requests(Api::Account) >= 6);
    assert_eq!(ha.requests(Api::Idp), 1);
}

#[tokio::test]
async fn shutdown_closes_the_ports() {
    let sim = two(clock(), &app_url()).await;
    let dev = sim.dev_platform_url().clone();
    let market = sim.marketplaces()[0].base_url.clone();
    sim.shutdown().await;
    for url in [dev, market] {
        let err = send("GET", url.as_str(), None, None).await.unwrap_err();
        assert_eq!(err.kind(), TransportErrorKind::Connect, "{url}");
    }
}

#[tokio::test]
async fn hostile_requests_get_an_answer_and_the_servers_stay_up() {
    let sim = two(clock(), &app_url()).await;
    let a = &sim.marketplaces()[0];
    let auth = basic(a.api_id.as_str(), a.api_key.expose());
    let base = a.base_url.as_str().trim_end_matches('/');
    let huge = serde_json::Value::String("x".repeat(3 * 1024 * 1024));
    let cases: Vec<(&str, String, Option<serde_json::Value>, u16)> = vec![
        ("GET", format!("{base}/"), None, 404),
        ("GET", format!("{base}/api/v1/account/%FF%FE"), None, 404),
        (
            "GET",
            format!("{base}/api/v1/account/bills/..%2F..%2Fetc"),
            None,
            200,
        ),
        (
            "GET",
            format!("{base}/api/v1/account/bills/a/b/c"),
            None,
            404,
        ),
        (
            "POST",
            format!("{base}/api/v1/account/bills"),
            Some(json!("not an object")),
            400,
        ),
        (
            "POST",
            format!("{base}/api/v1/account/bills"),
            Some(json!({"price_cents": "NaN", "units": "inf"})),
            400,
        ),
        (
            "POST",
            format!("{base}/api/v1/account/bills"),
            Some(huge.clone()),
            413,
        ),
        (
            "GET",
            format!("{base}/api/v1/account/bills?created_at_after=%FF"),
            None,
            400,
        ),
        (
            "GET",
            format!("{base}/api/v1/account/bills?price_cents_greater_than=NaN"),
            None,
            400,
        ),
        (
            "POST",
            format!("{base}/api/v2/cld-1/people"),
            Some(huge),
            413,
        ),
        (
            "POST",
            format!("{base}/api/v2/cld-1/people"),
            Some(json!({"people": {"id": 7}})),
            400,
        ),
        (
            "POST",
            format!("{base}/api/v2/cld-1/people"),
            Some(json!({"people": {"id": [{"id": 1}]}})),
            400,
        ),
        (
            "GET",
            format!("{base}/api/v2/cld-1/people?$skip=18446744073709551615&$top=1000"),
            None,
            200,
        ),
        (
            "GET",
            format!("{base}/api/v2/cld-1/people?$skip=-1"),
            None,
            400,
        ),
        (
            "GET",
            format!("{base}/api/v2/cld-1/people?$orderby=%27%27"),
            None,
            400,
        ),
        (
            "GET",
            format!(
                "{base}/api/v2/cld-1/people?$filter=a%20eq%20%27{}",
                "x".repeat(5000)
            ),
            None,
            400,
        ),
        ("DELETE", format!("{base}/api/v2/cld-1/people/x"), None, 405),
        (
            "POST",
            format!("{base}/batch"),
            Some(
                json!({"ops": [{"method": "FROB", "url": 3}, {"method": "get", "url": "http://elsewhere.example/api/v2/cld-1/people"}, {"method": "get", "url": "/api/v3/x"}]}),
            ),
            200,
        ),
        ("GET", format!("{base}/api/v1/auth/saml/usr-1"), None, 200),
        ("GET", format!("{base}/app_logout"), None, 400),
    ];
    for (method, url, body, want) in cases {
        let r = send(method, &url, Some(&auth), body.as_ref())
            .await
            .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        assert_eq!(
            r.status().as_u16(),
            want,
            "{method} {}",
            &url[..url.len().min(120)]
        );
    }
    // Still serving.
    let r = send(
        "GET",
        &format!("{base}/api/v1/account/groups"),
        Some(&auth),
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
}

/// A reply lost after the work was done: the client sees a transport error that may have been
/// sent, and the record exists all the same (the case a retrying client must not duplicate).
#[tokio::test]
async fn a_reply_dropped_after_handling_leaves_the_record_created() {
    let sim = two(clock(), &app_url()).await;
    let a = &sim.marketplaces()[0];
    let handle = sim.marketplace(&a.key).unwrap();
    let auth = basic(a.api_id.as_str(), a.api_key.expose());
    let group: maestrano::GroupUid = "cld-1".parse().unwrap();

    let people = format!("{}api/v2/cld-1/people", a.base_url);
    let person = json!({"people": {"first_name": "Jane", "last_name": "Doe"}});
    handle.inject_fault(Api::Connec, ApiFault::DropAfterHandling, 1);
    let err = send("POST", &people, Some(&auth), Some(&person))
        .await
        .unwrap_err();
    assert!(err.may_have_been_sent(), "{err}");
    let stored = handle.connec_entities(&group, "people");
    assert_eq!(
        stored
            .iter()
            .filter(|p| p["first_name"] == "Jane" && p["last_name"] == "Doe")
            .count(),
        1,
        "created once, though the client never heard of it"
    );

    let bills = format!("{}bills", a.account_api_url());
    let bill =
        json!({"group_id": "cld-1", "price_cents": 100, "currency": "AUD", "description": "x"});
    handle.inject_fault(Api::Account, ApiFault::DropAfterHandling, 1);
    assert!(
        send("POST", &bills, Some(&auth), Some(&bill))
            .await
            .is_err()
    );
    assert_eq!(handle.bills().len(), 1, "the bill was created");
}
