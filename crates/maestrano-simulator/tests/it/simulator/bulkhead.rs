//! Issue 19, bulkheads: one marketplace's slow or failing host, played by the simulator's
//! fault mode, is held inside its own place in the app's `Bulkhead`; the other marketplace's
//! calls go on as before.

use std::sync::Arc;
use std::time::Duration;

use maestrano::adapters::TokioSleep;
use maestrano::api::{AccountClient, ApiError, Filter};
use maestrano::ports::{HttpClient, SystemClock, TransportErrorKind};
use maestrano::{ApiService, Bulkhead, BulkheadOptions, RestError};
use maestrano_simulator::{Api, ApiFault};

use super::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_marketplace_is_held_in_its_bulkhead_and_the_other_keeps_being_served() {
    let sim = two(clock(), &app_url()).await;
    let [a, b] = sim.marketplaces() else { panic!() };
    let (slow, healthy) = (
        sim.marketplace(&a.key).unwrap(),
        sim.marketplace(&b.key).unwrap(),
    );
    let http: Arc<dyn HttpClient> = Arc::new(client());
    let bulkhead = Bulkhead::new(
        BulkheadOptions::default()
            .with_max_in_flight(4)
            .with_timeout(Duration::from_millis(1500))
            .with_breaker(3, Duration::from_secs(60)),
        Arc::new(SystemClock),
    )
    .with_sleep(Arc::new(TokioSleep));
    let client_a =
        AccountClient::new(slow.tenant().clone(), http.clone()).with_bulkhead(bulkhead.clone());
    let client_b =
        AccountClient::new(healthy.tenant().clone(), http).with_bulkhead(bulkhead.clone());

    // The first marketplace's account API hangs for 3 s on every request.
    slow.inject_fault(Api::Account, ApiFault::Delay(Duration::from_secs(3)), 1000);
    let calls: Vec<_> = (0..10)
        .map(|_| {
            let c = client_a.clone();
            tokio::spawn(async move { c.list_groups(&Filter::new()).await })
        })
        .collect();
    // While four of them hang, the other marketplace is served, every call of it.
    for _ in 0..100_000 {
        if bulkhead.state(&a.key, ApiService::Account).in_flight == 4 {
            break;
        }
        tokio::task::yield_now().await;
    }
    let mut seen_busy = false;
    for _ in 0..10 {
        let groups = client_b.list_groups(&Filter::new()).await.unwrap();
        assert!(!groups.is_empty());
        seen_busy |= bulkhead.state(&a.key, ApiService::Account).in_flight == 4;
    }
    assert!(
        seen_busy,
        "the slow marketplace's calls were in flight meanwhile"
    );
    let mut saturated = 0;
    let mut timed_out = 0;
    for call in calls {
        match call.await.unwrap() {
            Err(ApiError::Rest(RestError::Saturated { limit: 4, .. })) => saturated += 1,
            Err(ApiError::Rest(RestError::Transport(e)))
                if e.kind() == TransportErrorKind::Timeout =>
            {
                timed_out += 1
            }
            other => panic!("{other:?}"),
        }
    }
    // Only four reached the hung host, each cut off by the timeout; six were refused at once.
    assert_eq!((timed_out, saturated), (4, 6));
    assert_eq!(slow.requests(Api::Account), 4);

    // Four failures in a row: its circuit is open, and calls no longer reach the host.
    match client_a.list_groups(&Filter::new()).await {
        Err(ApiError::Rest(RestError::CircuitOpen {
            service: ApiService::Account,
            retry_in,
        })) => {
            assert!(retry_in > Duration::from_secs(50), "{retry_in:?}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(slow.requests(Api::Account), 4);
    // The other marketplace's circuit is closed, and it is still served.
    let state = bulkhead.state(&b.key, ApiService::Account);
    assert_eq!(
        (
            state.open_until,
            state.in_flight,
            state.consecutive_failures
        ),
        (None, 0, 0)
    );
    assert!(client_b.list_groups(&Filter::new()).await.is_ok());
}

#[tokio::test]
async fn retry_after_keeps_the_app_away_from_that_host_only() {
    let sim = two(clock(), &app_url()).await;
    let [a, b] = sim.marketplaces() else { panic!() };
    let (busy, other) = (
        sim.marketplace(&a.key).unwrap(),
        sim.marketplace(&b.key).unwrap(),
    );
    let http: Arc<dyn HttpClient> = Arc::new(client());
    let bulkhead = Bulkhead::new(BulkheadOptions::default(), Arc::new(SystemClock));
    let client_a =
        AccountClient::new(busy.tenant().clone(), http.clone()).with_bulkhead(bulkhead.clone());
    let client_b = AccountClient::new(other.tenant().clone(), http).with_bulkhead(bulkhead.clone());

    busy.inject_fault(
        Api::Account,
        ApiFault::Unavailable {
            retry_after: Duration::from_secs(120),
        },
        1,
    );
    let err = client_a.list_groups(&Filter::new()).await.unwrap_err();
    assert_eq!(err.status(), Some(503), "{err:?}");
    // One 503 with Retry-After is enough: the next call is refused without being sent.
    match client_a.list_groups(&Filter::new()).await {
        Err(ApiError::Rest(RestError::CircuitOpen { retry_in, .. })) => {
            assert!(
                retry_in > Duration::from_secs(110) && retry_in <= Duration::from_secs(120),
                "{retry_in:?}"
            )
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(busy.requests(Api::Account), 1);
    assert!(client_b.list_groups(&Filter::new()).await.is_ok());
    assert_eq!(other.requests(Api::Account), 1);

    // The same for Connec!, in its own circuit: the account API's open one does not stop it,
    // and its own opens on its `Retry-After`.
    let group = busy.spec().groups[0].uid.clone();
    let connec = maestrano::connec::ConnecClient::new(busy.tenant(), group, Arc::new(client()))
        .unwrap()
        .with_bulkhead(bulkhead.clone());
    assert!(connec.version().await.is_ok());
    busy.inject_fault(
        Api::Connec,
        ApiFault::Unavailable {
            retry_after: Duration::from_secs(60),
        },
        1,
    );
    assert!(connec.version().await.is_err());
    let before = busy.requests(Api::Connec);
    match connec.version().await {
        Err(maestrano::connec::ConnecError::Rest(RestError::CircuitOpen {
            service: ApiService::Connec,
            ..
        })) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(
        busy.requests(Api::Connec),
        before,
        "refused without being sent"
    );
}
