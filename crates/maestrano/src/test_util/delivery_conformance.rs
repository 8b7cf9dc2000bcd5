//! The conformance suite for [`DeliveryStore`](crate::webhook::DeliveryStore)
//! implementations (feature `test-util`), run through the [`DeliveryLedger`] the app uses.
//!
//! One call checks the whole contract: a version is applied once (a duplicate is skipped, a
//! delivery in progress makes the others wait), a crashed claim is taken over when its lease
//! ends and a released one at once, an older version is stale, another content at the same
//! time is a new version, the recorded version never moves back, marketplaces, groups and
//! kinds are namespaces, hostile text is data, and two *instances* racing on one delivery
//! have exactly one winner.
//!
//! ```no_run
//! # async fn demo() {
//! use maestrano::test_util::delivery_conformance;
//! use maestrano::webhook::DeliveryLedger;
//!
//! // In a `#[tokio::test(flavor = "multi_thread")]`. Give two ledgers on one backing store,
//! // opened separately (two connections, two pools), as two app instances would; an
//! // in-memory ledger can only be shared, so it is passed twice.
//! let ledger = DeliveryLedger::in_memory();
//! delivery_conformance::run(ledger.clone(), ledger).await;
//! # }
//! ```
//!
//! The ledgers' lease is set by the suite. Every entity it writes is under a marketplace of
//! its own, fresh on every run, so it can run on a store that holds other records. It prints
//! each check's name to stderr and panics at the first failure.

use std::sync::Arc;

use serde_json::json;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use tokio::sync::Barrier;

use crate::connec::Entity;

use crate::types::MarketplaceKey;
use crate::webhook::{Delivery, DeliveryClaim, DeliveryLedger};

const T0: OffsetDateTime = datetime!(2024-03-01 10:00:00.123_456 UTC);
const LEASE: Duration = Duration::seconds(30);

struct Run {
    tag: String,
    a: DeliveryLedger,
    b: DeliveryLedger,
}

impl Run {
    fn marketplace(&self, name: &str) -> MarketplaceKey {
        MarketplaceKey::new(format!("{name}-{}", self.tag)).expect("valid marketplace key")
    }
}

/// An entity as Connec! notifies it (the shape of `shapes/connec/notification-two-kinds.json`):
/// an id array with the Connec! id, a group and an `updated_at`.
fn entity(id: &str, group: &str, updated_at: OffsetDateTime, name: &str) -> Entity {
    let at = updated_at
        .format(&time::format_description::well_known::Rfc3339)
        .expect("formats");
    Entity::from_value(json!({
        "id": [{ "realm": "org-1", "provider": "connec", "id": id }],
        "group_id": group,
        "first_name": name,
        "updated_at": at,
    }))
    .expect("an entity")
}

/// Runs every check. Panics at the first failure, after printing the name of the check.
pub async fn run(a: DeliveryLedger, b: DeliveryLedger) {
    let run = Run {
        tag: super::run_tag(),
        a: a.with_lease(LEASE),
        b: b.with_lease(LEASE),
    };
    macro_rules! checks {
        ($($check:ident),* $(,)?) => {$(
            eprintln!("delivery conformance: {}", stringify!($check));
            $check(&run).await;
        )*};
    }
    checks!(
        a_version_is_applied_once,
        a_claim_in_progress_makes_every_other_delivery_wait,
        a_crashed_claim_is_taken_over_when_its_lease_ends,
        a_released_claim_is_free_at_once,
        an_older_version_is_stale,
        other_content_at_the_same_time_is_a_new_version,
        the_recorded_version_never_moves_back,
        marketplaces_groups_and_kinds_are_namespaces,
        erasing_a_group_or_a_marketplace_forgets_only_it,
        hostile_text_is_data,
        racing_claims_of_one_delivery_have_one_winner,
        racing_redeliveries_are_applied_once,
    );
    eprintln!("delivery conformance: all checks passed");
}

async fn claim(
    l: &DeliveryLedger,
    m: &MarketplaceKey,
    e: &Entity,
    now: OffsetDateTime,
) -> Delivery {
    l.claim(m, "people", e, now).await.expect("claim answers")
}

fn applied(d: Delivery, what: &str) -> DeliveryClaim {
    match d {
        Delivery::Apply(c) => c,
        other => panic!("{what}: expected Apply, found {other:?}"),
    }
}

async fn complete(c: DeliveryClaim) -> bool {
    c.complete().await.expect("complete answers")
}

async fn a_version_is_applied_once(run: &Run) {
    let m = run.marketplace("once");
    let e = entity("p-1", "cld-1", T0, "Ann");
    let c = applied(claim(&run.a, &m, &e, T0).await, "first delivery");
    assert_eq!(c.lease_until(), T0 + LEASE, "the lease");
    assert!(complete(c).await, "the claim held");
    for (l, what) in [(&run.a, "same instance"), (&run.b, "other instance")] {
        let d = claim(l, &m, &e, T0 + Duration::seconds(1)).await;
        assert!(
            matches!(d, Delivery::AlreadyApplied),
            "{what}: expected AlreadyApplied, found {d:?}"
        );
    }
}

async fn a_claim_in_progress_makes_every_other_delivery_wait(run: &Run) {
    let m = run.marketplace("busy");
    let e = entity("p-1", "cld-1", T0, "Ann");
    let newer = entity("p-1", "cld-1", T0 + Duration::seconds(5), "Anna");
    let c = applied(claim(&run.a, &m, &e, T0).await, "first delivery");
    for (x, what) in [(&e, "the same version"), (&newer, "a newer version")] {
        match claim(&run.b, &m, x, T0 + Duration::seconds(1)).await {
            Delivery::Busy(busy) => assert_eq!(busy.until(), T0 + LEASE, "{what}"),
            other => panic!("{what}: expected Busy, found {other:?}"),
        }
    }
    assert!(complete(c).await);
    applied(
        claim(&run.b, &m, &newer, T0 + Duration::seconds(2)).await,
        "the newer version once the first completed",
    )
    .release()
    .await
    .expect("release answers");
}

async fn a_crashed_claim_is_taken_over_when_its_lease_ends(run: &Run) {
    let m = run.marketplace("crash");
    let e = entity("p-1", "cld-1", T0, "Ann");
    let crashed = applied(claim(&run.a, &m, &e, T0).await, "first delivery");
    let just_before = T0 + LEASE - Duration::microseconds(1);
    assert!(
        matches!(claim(&run.b, &m, &e, just_before).await, Delivery::Busy(_)),
        "the lease holds to the microsecond"
    );
    let taken = applied(
        claim(&run.b, &m, &e, T0 + LEASE).await,
        "the retry when the lease ends",
    );
    assert!(complete(taken).await, "the retry's claim holds");
    assert!(
        !complete(crashed).await,
        "the crashed instance, back late, learns its claim was lost"
    );
    assert!(matches!(
        claim(&run.a, &m, &e, T0 + LEASE * 2).await,
        Delivery::AlreadyApplied
    ));
}

async fn a_released_claim_is_free_at_once(run: &Run) {
    let m = run.marketplace("release");
    let e = entity("p-1", "cld-1", T0, "Ann");
    applied(claim(&run.a, &m, &e, T0).await, "first delivery")
        .release()
        .await
        .expect("release answers");
    let c = applied(
        claim(&run.b, &m, &e, T0 + Duration::seconds(1)).await,
        "the retry after a release",
    );
    assert!(complete(c).await);
}

async fn an_older_version_is_stale(run: &Run) {
    let m = run.marketplace("stale");
    let new = entity("p-1", "cld-1", T0 + Duration::seconds(10), "Anna");
    let old = entity("p-1", "cld-1", T0, "Ann");
    assert!(complete(applied(claim(&run.a, &m, &new, T0).await, "new")).await);
    let d = claim(&run.b, &m, &old, T0).await;
    assert!(matches!(d, Delivery::Stale), "expected Stale, found {d:?}");
    let micro_older = entity(
        "p-1",
        "cld-1",
        T0 + Duration::seconds(10) - Duration::microseconds(1),
        "Anna",
    );
    let d = claim(&run.b, &m, &micro_older, T0).await;
    assert!(matches!(d, Delivery::Stale), "one microsecond older: {d:?}");
}

async fn other_content_at_the_same_time_is_a_new_version(run: &Run) {
    let m = run.marketplace("same-time");
    let first = entity("p-1", "cld-1", T0, "Ann");
    let second = entity("p-1", "cld-1", T0, "Anne");
    assert!(complete(applied(claim(&run.a, &m, &first, T0).await, "first edit")).await);
    let c = applied(
        claim(&run.b, &m, &second, T0).await,
        "a second edit within the same updated_at",
    );
    assert!(complete(c).await);
    for x in [&first, &second] {
        let d = claim(&run.a, &m, x, T0).await;
        assert!(matches!(d, Delivery::AlreadyApplied), "redelivered: {d:?}");
    }
}

async fn the_recorded_version_never_moves_back(run: &Run) {
    let m = run.marketplace("monotonic");
    let v1 = entity("p-1", "cld-1", T0, "Ann");
    let v2 = entity("p-1", "cld-1", T0 + Duration::seconds(1), "Anna");
    let slow = applied(claim(&run.a, &m, &v1, T0).await, "v1");
    let fast = applied(
        claim(&run.b, &m, &v2, T0 + LEASE).await,
        "v2 after v1's lease",
    );
    assert!(complete(fast).await);
    assert!(!complete(slow).await, "v1 completes late");
    let d = claim(&run.a, &m, &v2, T0 + LEASE * 2).await;
    assert!(
        matches!(d, Delivery::AlreadyApplied),
        "v2 still recorded: {d:?}"
    );
    let d = claim(&run.b, &m, &v1, T0 + LEASE * 2).await;
    assert!(matches!(d, Delivery::Stale), "v1 stale: {d:?}");
}

async fn marketplaces_groups_and_kinds_are_namespaces(run: &Run) {
    let m = run.marketplace("ns");
    let other_m = run.marketplace("ns-other");
    let e = entity("p-1", "cld-1", T0, "Ann");
    assert!(complete(applied(claim(&run.a, &m, &e, T0).await, "first")).await);
    let other_group = entity("p-1", "cld-2", T0, "Ann");
    let cases: [(&MarketplaceKey, &str, &Entity, &str); 3] = [
        (&other_m, "people", &e, "another marketplace"),
        (&m, "people", &other_group, "another group"),
        (&m, "organizations", &e, "another kind"),
    ];
    for (market, kind, x, what) in cases {
        let d = run
            .b
            .claim(market, kind, x, T0)
            .await
            .expect("claim answers");
        let c = applied(d, what);
        assert!(complete(c).await, "{what}");
    }
}

async fn erasing_a_group_or_a_marketplace_forgets_only_it(run: &Run) {
    let (m, other_m) = (run.marketplace("erase"), run.marketplace("erase-other"));
    let (e1, e2) = (
        entity("p-1", "cld-1", T0, "Ann"),
        entity("p-2", "cld-2", T0, "Bo"),
    );
    for (market, e) in [(&m, &e1), (&m, &e2), (&other_m, &e1)] {
        assert!(complete(applied(claim(&run.a, market, e, T0).await, "first")).await);
    }
    let n = run.b.erase(&m, Some("cld-1")).await.expect("erase answers");
    assert_eq!(n, 1, "one record of group cld-1");
    // The group's record is gone: the same version is new again; the rest is kept.
    assert!(matches!(
        claim(&run.a, &m, &e1, T0).await,
        Delivery::Apply(_)
    ));
    assert!(matches!(
        claim(&run.a, &m, &e2, T0).await,
        Delivery::AlreadyApplied
    ));
    assert!(matches!(
        claim(&run.a, &other_m, &e1, T0).await,
        Delivery::AlreadyApplied
    ));
    let n = run.b.erase(&m, None).await.expect("erase answers");
    assert_eq!(
        n, 2,
        "the marketplace's two records (one of them a fresh claim)"
    );
    assert!(matches!(
        claim(&run.a, &m, &e2, T0).await,
        Delivery::Apply(_)
    ));
    assert!(matches!(
        claim(&run.a, &other_m, &e1, T0).await,
        Delivery::AlreadyApplied
    ));
}

async fn hostile_text_is_data(run: &Run) {
    let m = run.marketplace("hostile");
    let ids = [
        "'; DROP TABLE maestrano_deliveries; --".to_owned(),
        "p\u{301}\u{1F600}\"\\".to_owned(),
        "x".repeat(255),
    ];
    for id in &ids {
        let e = entity(id, "cld-'1", T0, "O'Brien \u{0}?");
        assert!(complete(applied(claim(&run.a, &m, &e, T0).await, id)).await);
        let d = claim(&run.b, &m, &e, T0).await;
        assert!(matches!(d, Delivery::AlreadyApplied), "{id}: {d:?}");
    }
    let too_long = entity(&"x".repeat(256), "cld-1", T0, "Ann");
    assert!(
        run.a.claim(&m, "people", &too_long, T0).await.is_err(),
        "an id over 255 bytes is refused"
    );
}

/// Spawns `n` deliveries of `e`, alternating between the two instances, released together;
/// each runs `deliver` on its instance.
fn race<T, F, Fut>(run: &Run, n: usize, deliver: F) -> Vec<tokio::task::JoinHandle<T>>
where
    T: Send + 'static,
    F: Fn(DeliveryLedger) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    let barrier = Arc::new(Barrier::new(n));
    (0..n)
        .map(|i| {
            let l = if i % 2 == 0 {
                run.a.clone()
            } else {
                run.b.clone()
            };
            let (barrier, delivery) = (barrier.clone(), deliver(l));
            tokio::spawn(async move {
                barrier.wait().await;
                delivery.await
            })
        })
        .collect()
}

async fn racing_claims_of_one_delivery_have_one_winner(run: &Run) {
    for round in 0..8 {
        let m = run.marketplace(&format!("race-{round}"));
        let e = entity("p-1", "cld-1", T0, "Ann");
        let tasks = race(run, 8, |l| {
            let (m, e) = (m.clone(), e.clone());
            async move { l.claim(&m, "people", &e, T0).await.expect("claim answers") }
        });
        let mut winners = Vec::new();
        for t in tasks {
            match t.await.expect("task") {
                Delivery::Apply(c) => winners.push(c),
                Delivery::Busy(_) => {}
                other => panic!("round {round}: expected Apply or Busy, found {other:?}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: one claim wins");
        for c in winners {
            assert!(complete(c).await);
        }
    }
}

async fn racing_redeliveries_are_applied_once(run: &Run) {
    let m = run.marketplace("redeliver");
    let e = entity("p-1", "cld-1", T0, "Ann");
    let n = 8;
    let tasks = race(run, n, |l| {
        let (m, e) = (m.clone(), e.clone());
        async move {
            // Each delivery retries while another holds the claim, as the marketplace
            // does after a 503, and completes at once when it wins.
            for attempt in 0..10_000_i64 {
                let now = T0 + Duration::microseconds(attempt);
                match l.claim(&m, "people", &e, now).await.expect("claim answers") {
                    Delivery::Apply(c) => {
                        assert!(c.complete().await.expect("complete answers"));
                        return 1;
                    }
                    Delivery::Busy(_) => tokio::task::yield_now().await,
                    Delivery::AlreadyApplied => return 0,
                    other => panic!("expected Apply, Busy or AlreadyApplied, found {other:?}"),
                }
            }
            panic!("a delivery was busy 10,000 times over");
        }
    });
    let mut total = 0;
    for t in tasks {
        total += t.await.expect("task");
    }
    assert_eq!(
        total, 1,
        "applied once across {n} deliveries on two instances"
    );
}
