//! Issue 19: the per-tenant health report and the metrics, over the developer platform's
//! own two-marketplace reply (`shapes/dev-platform/marketplaces-two.json`). The certificates'
//! end dates and fingerprints below were read with `openssl x509 -enddate -fingerprint
//! -sha1`, not with the SDK.

use std::sync::Arc;
use std::time::Duration;

use maestrano::api::{AccountClient, Filter};
use maestrano::config::StaticSource;
use maestrano::health::{HealthCheck, HealthStatus};
use maestrano::ports::Clock as _;
use maestrano::test_util::{FakeHttpClient, FakeReply, ManualClock};
use maestrano::{ApiService, Bulkhead, BulkheadOptions, MarketplaceKey, Registry};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use time::macros::datetime;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/maestrano/");
/// `notAfter` of each marketplace's IdP certificate, as openssl prints it.
const SANDBOX_END: time::OffsetDateTime = datetime!(2033-12-30 05:22:39 UTC);
const UAT_END: time::OffsetDateTime = datetime!(2033-12-30 05:23:14 UTC);

fn key(k: &str) -> MarketplaceKey {
    MarketplaceKey::new(k).unwrap()
}

async fn registry(clock: Arc<ManualClock>) -> Registry {
    let source =
        StaticSource::from_json_file(format!("{DATA}shapes/dev-platform/marketplaces-two.json"))
            .unwrap();
    Registry::builder(Arc::new(source), clock)
        .insecure_allow_plain_http(key("mno-sandbox"))
        .build()
        .await
        .unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn the_report_names_each_tenant_its_certificates_circuits_and_what_is_wrong() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        runtime().block_on(async {
            let clock = Arc::new(ManualClock::new(datetime!(2026-12-07 12:00 UTC)));
            let registry = registry(clock.clone()).await;
            let bulkhead = Bulkhead::new(BulkheadOptions::default(), clock.clone());
            let check = HealthCheck::new(registry.clone()).with_bulkhead(bulkhead.clone());

            let report = check.report().await;
            assert_eq!(report.status, HealthStatus::Ok, "{}", report.to_json());
            let names: Vec<_> = report
                .tenants
                .iter()
                .map(|t| t.marketplace.as_str())
                .collect();
            assert_eq!(names, ["maestrano-uat", "mno-sandbox"]);
            let sandbox = &report.tenants[1];
            assert_eq!(
                sandbox.idp_certificates[0]
                    .sha1_fingerprint
                    .to_ascii_uppercase(),
                "01:06:15:89:25:7D:78:12:28:A6:69:C7:DE:63:ED:74:21:F9:F5:36"
            );
            assert_eq!(
                sandbox.idp_certificates[0].expires_in_seconds,
                (SANDBOX_END - clock.now()).whole_seconds()
            );
            assert_eq!(sandbox.account_api.as_ref().unwrap().in_flight, 0);

            // The sandbox's account API asks to be left alone: its tenant is degraded, the
            // other is not.
            let http = Arc::new(FakeHttpClient::new());
            http.on(
                None,
                "",
                vec![FakeReply::Response {
                    status: 503,
                    headers: vec![("retry-after".into(), "90".into())],
                    body: b"{}".to_vec(),
                }],
            );
            let client = AccountClient::new(registry.with(&key("mno-sandbox")).unwrap(), http)
                .with_bulkhead(bulkhead.clone());
            assert!(client.list_groups(&Filter::new()).await.is_err());
            assert!(client.list_groups(&Filter::new()).await.is_err());
            assert_eq!(
                bulkhead
                    .state(&key("mno-sandbox"), ApiService::Account)
                    .open_until,
                Some(clock.now() + time::Duration::seconds(90))
            );
            let report = check.report().await;
            assert_eq!(report.status, HealthStatus::Degraded);
            assert_eq!(report.tenants[0].status, HealthStatus::Ok);
            let sandbox = &report.tenants[1];
            assert_eq!(sandbox.status, HealthStatus::Degraded);
            assert!(
                sandbox.problems[0].contains("account API's circuit is open"),
                "{:?}",
                sandbox.problems
            );
            let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
            assert_eq!(json["tenants"][1]["status"], "degraded");
            assert!(json["tenants"][1]["account_api"]["circuit_open_until"].is_string());

            // Twenty days before the sandbox's certificate ends, inside the 30-day warning.
            clock.set(SANDBOX_END - time::Duration::days(20));
            let report = check.report().await;
            for t in &report.tenants {
                assert_eq!(t.status, HealthStatus::Degraded, "{t:?}");
                assert!(
                    t.problems.iter().any(|p| p.contains("expires in 20 days")),
                    "{:?}",
                    t.problems
                );
            }
            // With a 10-day window, it is not yet worth a warning.
            let narrow = HealthCheck::new(registry.clone())
                .with_certificate_warning(Duration::from_secs(10 * 24 * 3600));
            assert_eq!(narrow.report().await.status, HealthStatus::Ok);

            // Between the two end dates: the sandbox cannot log anyone in, the other still can,
            // so the app is degraded, not failing (a probe keeps serving the other).
            clock.set(SANDBOX_END + time::Duration::seconds(1));
            let report = check.report().await;
            assert_eq!(report.status, HealthStatus::Degraded);
            assert_eq!(report.tenants[1].status, HealthStatus::Failing);
            assert_eq!(report.tenants[0].status, HealthStatus::Degraded);
            assert_eq!(
                report.tenants[0].idp_certificates[0].expires_in_seconds,
                (UAT_END - clock.now()).whole_seconds()
            );
            // Past both: no tenant can be served.
            clock.set(UAT_END + time::Duration::seconds(1));
            assert_eq!(check.report().await.status, HealthStatus::Failing);
        })
    });

    // The metrics, labelled by marketplace and class only.
    let metrics = snapshotter.snapshot().into_vec();
    let find = |name: &str, labels: &[(&str, &str)]| {
        metrics
            .iter()
            .find(|(k, _, _, _)| {
                k.key().name() == name
                    && labels.iter().all(|(l, v)| {
                        k.key()
                            .labels()
                            .any(|label| label.key() == *l && label.value() == *v)
                    })
            })
            .map(|(_, _, _, v)| v)
    };
    assert_eq!(
        find(
            "maestrano_api_calls_total",
            &[
                ("marketplace", "mno-sandbox"),
                ("service", "account"),
                ("outcome", "5xx")
            ]
        ),
        Some(&DebugValue::Counter(1))
    );
    assert_eq!(
        find(
            "maestrano_api_calls_total",
            &[("marketplace", "mno-sandbox"), ("outcome", "circuit_open")]
        ),
        Some(&DebugValue::Counter(1))
    );
    assert!(matches!(
        find("maestrano_api_call_seconds", &[("marketplace", "mno-sandbox")]),
        Some(DebugValue::Histogram(h)) if h.len() == 2
    ));
    assert_eq!(
        find("maestrano_config_refreshes_total", &[("outcome", "ok")]),
        None,
        "the first load is not a refresh"
    );
    assert_eq!(
        find(
            "maestrano_idp_certificate_expiry_seconds",
            &[("marketplace", "maestrano-uat")]
        ),
        Some(&DebugValue::Gauge(
            ((UAT_END - (UAT_END + time::Duration::seconds(1))).whole_seconds() as f64).into()
        ))
    );
    assert!(find("maestrano_config_snapshot_age_seconds", &[]).is_some());
}
