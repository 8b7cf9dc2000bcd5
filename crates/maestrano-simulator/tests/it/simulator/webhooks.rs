//! The webhook sender against a small multi-tenant app (axum + the SDK's `WebhookHandler` on
//! loopback) that de-duplicates: with faults injected, every failed delivery is retried and
//! applied exactly once; another marketplace's credentials are refused.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::body::Body;
use maestrano::Registry;
use maestrano::adapters::ReqwestHttpClient;
use maestrano::config::DevPlatformSource;
use maestrano::ports::Clock;
use maestrano::test_util::ManualClock;
use maestrano::webhook::{Delivery, DeliveryLedger, WebhookEvent, WebhookHandler, WebhookSink};
use maestrano::{GroupUid, MarketplaceKey, UserUid};
use maestrano_simulator::{
    AttemptResult, Credentials, DeliveryFault, DeliveryOptions, DeliveryOutcome, RetryPolicy,
    Simulator, Webhook,
};
use serde_json::json;
use tokio::net::TcpListener;

use super::support::*;

/// The app's side: applies each event once, whatever the number of deliveries.
struct App {
    clock: Arc<ManualClock>,
    ledger: DeliveryLedger,
    groups_destroyed: Mutex<HashSet<(MarketplaceKey, GroupUid)>>,
    members_removed: Mutex<HashSet<(MarketplaceKey, GroupUid, UserUid)>>,
    /// Every application of an event to the app's data, by event name.
    applied: Mutex<HashMap<&'static str, u32>>,
    /// Every authenticated delivery that reached the sink.
    received: Mutex<u32>,
    /// How many more deliveries fail as if the database were down.
    fail_next: Mutex<u32>,
}

impl App {
    fn applied(&self, event: &str) -> u32 {
        self.applied
            .lock()
            .unwrap()
            .get(event)
            .copied()
            .unwrap_or(0)
    }
    fn received(&self) -> u32 {
        *self.received.lock().unwrap()
    }
    fn apply(&self, event: &'static str) {
        *self.applied.lock().unwrap().entry(event).or_default() += 1;
    }
}

#[async_trait]
impl WebhookSink for App {
    async fn on_event(
        &self,
        event: WebhookEvent,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        *self.received.lock().unwrap() += 1;
        {
            let mut fail = self.fail_next.lock().unwrap();
            if *fail > 0 {
                *fail -= 1;
                return Err("database down".into());
            }
        }
        let name = event.name();
        match event {
            WebhookEvent::GroupDestroyed {
                marketplace,
                group_uid,
            } => {
                if self
                    .groups_destroyed
                    .lock()
                    .unwrap()
                    .insert((marketplace, group_uid))
                {
                    self.apply(name);
                }
            }
            WebhookEvent::UserRemovedFromGroup {
                marketplace,
                group_uid,
                user_uid,
            } => {
                if self
                    .members_removed
                    .lock()
                    .unwrap()
                    .insert((marketplace, group_uid, user_uid))
                {
                    self.apply(name);
                }
            }
            WebhookEvent::ConnecNotification {
                marketplace,
                notification,
            } => {
                for (kind, entity) in notification.entities() {
                    match self
                        .ledger
                        .claim(&marketplace, kind, entity, self.clock.now())
                        .await?
                    {
                        Delivery::Apply(claim) => {
                            self.apply(name);
                            claim.complete().await?;
                        }
                        Delivery::Busy(busy) => return Err(Box::new(busy)),
                        Delivery::AlreadyApplied | Delivery::Stale => {}
                        Delivery::Untracked => self.apply(name),
                    }
                }
            }
            _ => return Err("unknown event".into()),
        }
        Ok(())
    }
}

/// Starts the app on loopback, then the simulator pointing at it, then autoconfigures the
/// app from the simulator.
async fn setup() -> (Simulator, Arc<App>, tokio::task::JoinHandle<()>) {
    let clock = clock();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app_url = url::Url::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
    let sim = two(clock.clone(), &app_url).await;
    let source = DevPlatformSource::new(
        sim.dev_platform_settings().unwrap(),
        Arc::new(ReqwestHttpClient::new().unwrap()),
    );
    let registry = Registry::builder(Arc::new(source), clock.clone())
        .build()
        .await
        .unwrap();
    let app = Arc::new(App {
        clock,
        ledger: DeliveryLedger::in_memory(),
        groups_destroyed: Mutex::default(),
        members_removed: Mutex::default(),
        applied: Mutex::default(),
        received: Mutex::default(),
        fail_next: Mutex::default(),
    });
    let handler = Arc::new(WebhookHandler::new(registry, app.clone()));
    let router = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let handler = handler.clone();
        async move {
            let (parts, body) = req.into_parts();
            let bytes = axum::body::to_bytes(body, 10 * 1024 * 1024)
                .await
                .unwrap_or_default();
            handler
                .handle(http::Request::from_parts(parts, bytes.to_vec()))
                .await
                .map(Body::from)
        }
    });
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (sim, app, server)
}

fn quick(attempts: u32) -> DeliveryOptions {
    DeliveryOptions::default().with_retry(
        RetryPolicy::default()
            .with_max_attempts(attempts)
            .with_backoff(Duration::from_millis(5), Duration::from_millis(40))
            .with_attempt_timeout(Duration::from_millis(500)),
    )
}

#[tokio::test]
async fn every_failed_delivery_is_retried_and_applied_exactly_once() {
    let (sim, app, server) = setup().await;
    let [a, b] = sim.marketplaces() else { panic!() };
    let ha = sim.marketplace(&a.key).unwrap();
    let hb = sim.marketplace(&b.key).unwrap();
    let (g1, u1): (GroupUid, UserUid) = ("cld-1".parse().unwrap(), "usr-1".parse().unwrap());

    // A clean delivery: one attempt, to the configured path, with the marketplace's credentials.
    let report = ha
        .deliver_with(Webhook::group_destroyed(g1.clone()), quick(5))
        .await;
    assert_eq!(report.outcome, DeliveryOutcome::Delivered { status: 200 });
    assert_eq!(report.attempts.len(), 1);
    assert_eq!(report.method, http::Method::DELETE);
    assert_eq!(
        report.url.as_str(),
        format!(
            "{}maestrano/account/groups/cld-1/{}",
            a.config.app().host(),
            a.key
        )
    );
    assert_eq!(app.applied("group_destroyed"), 1);

    // Each kind of fault, one per attempt: the application sees the request three times, the
    // sender sees four failures, the fifth attempt succeeds, and the removal applies once.
    for fault in [
        DeliveryFault::ReplaceWith500,
        DeliveryFault::DropAfterSend,
        DeliveryFault::DelayResponse(Duration::from_millis(800)),
        DeliveryFault::FailBeforeSend,
    ] {
        assert!(ha.inject_delivery_fault(fault, 1));
    }
    let received = app.received();
    let report = ha
        .deliver_with(Webhook::user_removed(g1.clone(), u1.clone()), quick(5))
        .await;
    assert_eq!(
        report.outcome,
        DeliveryOutcome::Delivered { status: 200 },
        "{report:#?}"
    );
    let faults: Vec<_> = report.attempts.iter().map(|a| a.fault).collect();
    assert_eq!(
        faults,
        [
            Some(DeliveryFault::ReplaceWith500),
            Some(DeliveryFault::DropAfterSend),
            Some(DeliveryFault::DelayResponse(Duration::from_millis(800))),
            Some(DeliveryFault::FailBeforeSend),
            None,
        ]
    );
    let app_statuses: Vec<_> = report.attempts.iter().map(|a| a.app_status).collect();
    assert_eq!(app_statuses, [Some(200), Some(200), None, None, Some(200)]);
    assert_eq!(report.attempts[0].result, AttemptResult::Status(500));
    assert!(matches!(
        report.attempts[2].result,
        AttemptResult::Transport {
            kind: maestrano::ports::TransportErrorKind::Timeout,
            ..
        }
    ));
    assert!(matches!(
        report.attempts[3].result,
        AttemptResult::Transport {
            kind: maestrano::ports::TransportErrorKind::Connect,
            ..
        }
    ));
    // The delayed attempt reached the app too (its answer came too late to count).
    assert_eq!(app.received() - received, 4);
    assert_eq!(app.applied("user_removed_from_group"), 1);

    // The app itself failing (HTTP 500 from the handler) is retried the same way.
    *app.fail_next.lock().unwrap() = 2;
    let person = ha
        .insert_connec_entity(
            &g1,
            "people",
            json!({"first_name": "Ann", "last_name": "Lee"}),
        )
        .unwrap();
    let invoice = ha
        .insert_connec_entity(&g1, "invoices", json!({"title": "INV-1"}))
        .unwrap();
    let note = Webhook::ConnecNotification {
        entities: vec![
            ("people".into(), vec![person.clone()]),
            ("invoices".into(), vec![invoice.clone()]),
        ],
    };
    let report = ha.deliver_with(note.clone(), quick(5)).await;
    assert!(report.is_delivered(), "{report:#?}");
    assert_eq!(report.attempts.len(), 3);
    assert_eq!(app.applied("connec_notification"), 2);

    // Out of attempts: the sender gives up although the app applied the first one; the next
    // delivery of the same event succeeds and changes nothing.
    ha.inject_delivery_fault(DeliveryFault::ReplaceWith500, 3);
    let report = ha
        .deliver_with(Webhook::group_destroyed("cld-9".parse().unwrap()), quick(3))
        .await;
    assert_eq!(report.outcome, DeliveryOutcome::GaveUp);
    assert_eq!(report.attempts.len(), 3);
    assert_eq!(app.applied("group_destroyed"), 2);
    let report = ha
        .deliver_with(Webhook::group_destroyed("cld-9".parse().unwrap()), quick(3))
        .await;
    assert!(report.is_delivered());
    assert_eq!(app.applied("group_destroyed"), 2);
    // The notification delivered again (as a marketplace retrying would): nothing reapplied.
    assert!(ha.deliver(note).await.is_delivered());
    assert_eq!(app.applied("connec_notification"), 2);

    // The other marketplace's own deliveries are its own events.
    let report = hb.deliver(Webhook::group_destroyed(g1.clone())).await;
    assert!(report.is_delivered());
    assert_eq!(app.applied("group_destroyed"), 3);
    server.abort();
}

#[tokio::test]
async fn credentials_of_the_other_marketplace_are_refused_and_not_retried() {
    let (sim, app, server) = setup().await;
    let [a, b] = sim.marketplaces() else { panic!() };
    let ha = sim.marketplace(&a.key).unwrap();
    let g: GroupUid = "cld-1".parse().unwrap();
    for credentials in [
        Credentials::OfMarketplace(b.key.clone()),
        Credentials::Custom {
            api_id: a.api_id.clone(),
            api_key: b.api_key.clone(),
        },
        Credentials::None,
    ] {
        let report = ha
            .deliver_with(
                Webhook::group_destroyed(g.clone()),
                quick(5).with_credentials(credentials),
            )
            .await;
        assert_eq!(report.outcome, DeliveryOutcome::Rejected { status: 401 });
        assert_eq!(report.attempts.len(), 1);
    }
    assert_eq!(app.received(), 0);
    assert_eq!(app.applied("group_destroyed"), 0);
    // With its own, it goes through.
    assert!(
        ha.deliver_with(Webhook::group_destroyed(g), quick(1))
            .await
            .is_delivered()
    );
    assert_eq!(app.applied("group_destroyed"), 1);
    server.abort();
}

#[tokio::test]
async fn an_unreachable_app_exhausts_the_attempts() {
    let sim = two(clock(), &app_url()).await;
    let h = sim.marketplace(&sim.marketplaces()[0].key).unwrap();
    let report = h
        .deliver_with(Webhook::group_destroyed("cld-1".parse().unwrap()), quick(3))
        .await;
    assert_eq!(report.outcome, DeliveryOutcome::GaveUp);
    assert_eq!(report.attempts.len(), 3);
    assert!(
        report
            .attempts
            .iter()
            .all(|a| a.app_status.is_none() && matches!(a.result, AttemptResult::Transport { .. }))
    );
}
