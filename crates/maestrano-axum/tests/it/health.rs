//! Issue 19: the health report served to a probe, over the simulator's marketplaces.

use std::sync::Arc;

use maestrano::adapters::ReqwestHttpClient;
use maestrano::config::StaticSource;
use maestrano::health::HealthCheck;
use maestrano::ports::HttpClient;
use maestrano::test_util::ManualClock;
use maestrano::{Bulkhead, BulkheadOptions, Registry};
use maestrano_simulator::ApiFault;
use time::macros::datetime;

use crate::app::{self, Sessions};

/// Serves `check` on its own loopback listener, as an app's admin port would.
async fn serve(check: HealthCheck) -> url::Url {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = url::Url::parse(&format!(
        "http://{}/healthz",
        listener.local_addr().unwrap()
    ))
    .unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            maestrano_axum::health_router::<()>("/healthz", check),
        )
        .await;
    });
    url
}

async fn get(url: &url::Url) -> (u16, serde_json::Value, String) {
    let http = ReqwestHttpClient::new().unwrap();
    let request = http::Request::get(url.as_str()).body(Vec::new()).unwrap();
    let response = http.send(request).await.unwrap();
    let cache = response.headers()[http::header::CACHE_CONTROL]
        .to_str()
        .unwrap()
        .to_owned();
    let json = serde_json::from_slice(response.body()).unwrap();
    (response.status().as_u16(), json, cache)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_probe_sees_each_tenant_and_a_failed_refresh_without_leaving_rotation() {
    let app = app::start("127.0.0.1", app::two_marketplaces, None, Sessions::Cookie).await;
    let bulkhead = Bulkhead::new(
        BulkheadOptions::default(),
        Arc::new(maestrano::ports::SystemClock),
    );
    let url = serve(HealthCheck::new(app.registry.clone()).with_bulkhead(bulkhead)).await;

    let (status, report, cache) = get(&url).await;
    assert_eq!((status, cache.as_str()), (200, "no-store"));
    assert_eq!(report["status"], "ok", "{report}");
    let mut names: Vec<String> = app
        .sim
        .marketplaces()
        .iter()
        .map(|m| m.key.to_string())
        .collect();
    names.sort();
    let listed: Vec<&str> = report["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["marketplace"].as_str().unwrap())
        .collect();
    assert_eq!(listed, names);
    assert_eq!(report["tenants"][0]["account_api"]["in_flight"], 0);
    assert_eq!(report["snapshot"]["origin"], "source");

    // The developer platform fails a refresh: every tenant is degraded (still served from the
    // last good configuration), the probe keeps the instance in rotation.
    app.sim
        .inject_dev_platform_fault(ApiFault::InternalError, 1);
    assert!(app.registry.refresh().await.is_err());
    let (status, report, _) = get(&url).await;
    assert_eq!(status, 200);
    assert_eq!(report["status"], "degraded");
    assert!(
        report["snapshot"]["last_refresh_error"].is_string(),
        "{report}"
    );
    assert_eq!(report["tenants"][1]["status"], "degraded");

    // Once it answers again, all is well.
    app.registry.refresh().await.unwrap();
    assert_eq!(get(&url).await.1["status"], "ok");
}

/// The report's entry of `marketplace`.
fn tenant_of(report: &serde_json::Value, marketplace: &str) -> serde_json::Value {
    report["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["marketplace"] == marketplace)
        .unwrap()
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_tenants_connec_version_is_reported_as_last_read() {
    let app = app::start("127.0.0.1", app::two_marketplaces, None, Sessions::Cookie).await;
    let check = HealthCheck::new(app.registry.clone());
    let url = serve(check.clone()).await;
    let first = &app.sim.marketplaces()[0];
    let tenant = app.registry.with(&first.key).unwrap();
    let group = app.sim.marketplace(&first.key).unwrap().spec().groups[0]
        .uid
        .clone();
    let http: Arc<dyn HttpClient> = Arc::new(ReqwestHttpClient::new().unwrap());
    let client = maestrano::connec::ConnecClient::new(&tenant, group, http).unwrap();

    check.check_connec(&client).await;
    let (_, report, _) = get(&url).await;
    let mine = tenant_of(&report, first.key.as_str());
    // What the simulator's `/version` answers.
    assert_eq!(mine["connec_version"]["branch"], "simulator", "{report}");
    assert_eq!(report["status"], "ok");

    // Its Connec! fails the next read: that tenant is degraded, and says why.
    app.sim.marketplace(&first.key).unwrap().inject_fault(
        maestrano_simulator::Api::Connec,
        ApiFault::InternalError,
        1,
    );
    check.check_connec(&client).await;
    let (status, report, _) = get(&url).await;
    assert_eq!((status, report["status"].as_str()), (200, Some("degraded")));
    let mine = tenant_of(&report, first.key.as_str());
    assert!(mine["connec_version"]["error"].is_string(), "{report}");
    assert!(mine["connec_version"]["branch"].is_null());
}

#[tokio::test]
async fn an_instance_whose_tenants_all_have_expired_certificates_leaves_rotation() {
    let app = app::start("127.0.0.1", app::two_marketplaces, None, Sessions::Cookie).await;
    // The same configuration, read by an app whose clock is past every certificate's end.
    let source = StaticSource::from_json(&app.sim.dev_platform_json()).unwrap();
    let later = Arc::new(ManualClock::new(datetime!(2199-01-01 0:00 UTC)));
    let registry = Registry::builder(Arc::new(source), later)
        .build()
        .await
        .unwrap();
    let url = serve(HealthCheck::new(registry)).await;
    let (status, report, _) = get(&url).await;
    assert_eq!(status, 503);
    assert_eq!(report["status"], "failing");
    assert!(
        report["tenants"][0]["problems"][0]
            .as_str()
            .unwrap()
            .contains("every IdP certificate has expired"),
        "{report}"
    );
}
