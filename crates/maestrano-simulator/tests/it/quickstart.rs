//! The quickstart scenario as a test, and the webhook sender's fault mode against the demo
//! app: every failed delivery is retried and applied exactly once.

#[path = "../../examples/demo_app/mod.rs"]
mod demo_app;

use std::sync::Arc;
use std::time::Duration;

use maestrano::Registry;
use maestrano::adapters::{ReqwestHttpClient, SqliteStore};
use maestrano::config::DevPlatformSource;
use maestrano::ports::{Clock, HttpClient, SystemClock};
use maestrano_simulator::{DeliveryFault, DeliveryOutcome, Simulator, SimulatorConfig, Webhook};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quickstart_scenario_checks_out() {
    let mut transcript = Vec::new();
    let result = demo_app::scenario::run(&mut transcript).await;
    let text = String::from_utf8_lossy(&transcript);
    assert!(result.is_ok(), "{text}\nfailed: {result:?}");
    assert_eq!(text.matches('✔').count(), 13, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faulty_deliveries_are_retried_and_applied_exactly_once() {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let http: Arc<dyn HttpClient> = Arc::new(ReqwestHttpClient::new().unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app_url = url::Url::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
    let sim = Simulator::start(
        SimulatorConfig::two_marketplaces(clock.clone(), &app_url)
            .with_webhook_timeout(Duration::from_millis(300)),
    )
    .await
    .unwrap();
    let source = DevPlatformSource::new(sim.dev_platform_settings().unwrap(), http.clone());
    let registry = Registry::builder(Arc::new(source), clock.clone())
        .build()
        .await
        .unwrap();
    let app = demo_app::DemoApp::new(
        registry.clone(),
        http.clone(),
        clock.clone(),
        Arc::new(SqliteStore::open_in_memory().unwrap()),
    );
    let server = tokio::spawn(demo_app::serve(app.clone(), listener));

    // Log in once (to create the organization), then put an invoice in Connec! and link it.
    let key = registry.snapshot().marketplaces().next().unwrap().clone();
    let handle = sim.marketplace(&key).unwrap();
    let group = handle.spec().groups[0].uid.clone();
    {
        let mut db = app.db();
        db.organizations.insert(
            (key.clone(), group.clone()),
            demo_app::Organization {
                group: group.clone(),
                name: "Co".into(),
                currency: "AUD".into(),
            },
        );
    }
    let (invoice, _) = app.issue_invoice(&key, &group, 1000).await.unwrap();
    let stored = handle.connec_entities(&group, "invoices");

    // Every kind of failure, one per attempt, for each of three versions of the invoice.
    let faults = [
        DeliveryFault::FailBeforeSend,
        DeliveryFault::ReplaceWith500,
        DeliveryFault::DropAfterSend,
        DeliveryFault::DelayResponse(Duration::from_millis(600)),
    ];
    for (version, status) in ["PAID", "VOIDED", "ARCHIVED"].iter().enumerate() {
        for f in &faults {
            assert!(handle.inject_delivery_fault(*f, 1));
        }
        let mut entity = stored[0].clone();
        entity["status"] = serde_json::json!(status);
        entity["group_id"] = serde_json::json!(group.as_str());
        entity["updated_at"] = serde_json::json!(format!("2030-01-0{}T00:00:00Z", version + 1));
        let report = handle
            .deliver(Webhook::connec_notification("invoices", vec![entity]))
            .await;
        assert!(
            matches!(report.outcome, DeliveryOutcome::Delivered { .. }),
            "{report:?}"
        );
        assert!(
            report.attempts.len() >= 5,
            "four failed attempts, then success: {report:?}"
        );
        assert_eq!(app.db().invoices[&invoice.id].status, *status);
    }
    // The app saw deliveries that the sender counted as failures (500, dropped, delayed), yet
    // applied each version exactly once.
    assert_eq!(app.db().applied_notifications, 3);
    server.abort();
    sim.shutdown().await;
}
