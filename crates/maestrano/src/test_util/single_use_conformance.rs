//! The conformance suite for [`SingleUseStore`] implementations (feature `test-util`).
//!
//! One call checks the whole [contract](crate::ports::SingleUseStore): an entry is refused
//! until it expires and accepted again after, `take` succeeds once and only on a live entry,
//! purposes and scopes (issuers, tenants) are namespaces, expiry is exact to the microsecond,
//! hostile text is data, and two *instances* of the store racing on one key never both win
//! (an insert, a take, and the replacement of an expired entry).
//!
//! ```no_run
//! # async fn demo() {
//! use std::sync::Arc;
//! use maestrano::ports::InMemorySingleUseStore;
//! use maestrano::test_util::single_use_conformance;
//!
//! // In a `#[tokio::test(flavor = "multi_thread")]`. Give two handles on one backing store,
//! // opened separately (two connections, two pools), as two app instances would; an
//! // in-memory store can only be shared, so it is passed twice.
//! let store = Arc::new(InMemorySingleUseStore::new());
//! single_use_conformance::run(store.clone(), store).await;
//! # }
//! ```
//!
//! The suite needs a Tokio runtime (a multi-threaded one makes the races real). It writes
//! under scopes of its own, fresh on every run, so it can run again on a store that holds
//! entries, its own earlier runs' included. It prints each check's name to stderr as it starts
//! and panics at the first failure.

use std::sync::Arc;

use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use tokio::sync::Barrier;

use crate::ports::{OnceKey, SingleUseStore};
use crate::types::MarketplaceKey;

const T0: OffsetDateTime = datetime!(2024-03-01 10:00:00.123_456 UTC);

type Store = Arc<dyn SingleUseStore>;

/// Scopes unique to one run of the suite.
struct Run {
    tag: String,
}

impl Run {
    fn issuer(&self, name: &str) -> String {
        format!("https://{name}.{}.example.test", self.tag)
    }

    fn assertion(&self, issuer: &str, id: &str) -> OnceKey {
        OnceKey::assertion(&self.issuer(issuer), id)
    }

    fn tenant(&self, name: &str) -> MarketplaceKey {
        MarketplaceKey::new(format!("{name}-{}", self.tag)).expect("valid marketplace key")
    }

    fn request(&self, tenant: &str, id: &str) -> OnceKey {
        OnceKey::authn_request(&self.tenant(tenant), id)
    }
}

/// Runs every check against `a` and `b`, two handles on one backing store. Panics at the first
/// failure, after printing the name of the check to stderr.
pub async fn run(a: Arc<dyn SingleUseStore>, b: Arc<dyn SingleUseStore>) {
    let run = Run {
        tag: super::run_tag(),
    };
    macro_rules! checks {
        ($($check:ident),* $(,)?) => {$(
            eprintln!("single-use conformance: {}", stringify!($check));
            $check(&run, &a, &b).await;
        )*};
    }
    checks!(
        refused_until_expiry_then_accepted_again,
        taken_once_and_only_while_live,
        expiry_is_exact_to_the_microsecond,
        purposes_issuers_and_tenants_are_namespaces,
        erasing_a_marketplace_keeps_used_assertions_and_other_tenants,
        the_other_instance_sees_every_entry,
        hostile_text_is_data,
        racing_inserts_of_one_key_have_one_winner,
        racing_takes_of_one_key_have_at_most_one_winner,
        racing_replacements_of_an_expired_entry_have_one_winner,
    );
    eprintln!("single-use conformance: all checks passed");
}

async fn insert(s: &Store, k: &OnceKey, exp: OffsetDateTime, now: OffsetDateTime) -> bool {
    s.insert_if_absent(k, exp, now)
        .await
        .expect("insert_if_absent answers")
}

async fn take(s: &Store, k: &OnceKey, now: OffsetDateTime) -> bool {
    s.take(k, now).await.expect("take answers")
}

async fn refused_until_expiry_then_accepted_again(run: &Run, a: &Store, _: &Store) {
    let exp = T0 + Duration::minutes(5);
    let k = run.assertion("idp", "_a");
    assert!(insert(a, &k, exp, T0).await, "first use");
    assert!(!insert(a, &k, exp, T0).await, "second use refused");
    assert!(
        !insert(a, &k, exp + Duration::minutes(5), T0 + Duration::minutes(4)).await,
        "refused until expiry, whatever expiry the refused call asks for"
    );
    let exp2 = exp + Duration::minutes(5);
    assert!(
        insert(a, &k, exp2, exp).await,
        "accepted again once expired"
    );
    assert!(
        !insert(a, &k, exp2, exp + Duration::minutes(1)).await,
        "refused until the new expiry"
    );
}

async fn taken_once_and_only_while_live(run: &Run, a: &Store, _: &Store) {
    let exp = T0 + Duration::minutes(10);
    let k = run.request("tenant", "_req1");
    assert!(!take(a, &k, T0).await, "never recorded");
    assert!(insert(a, &k, exp, T0).await);
    assert!(take(a, &k, T0 + Duration::minutes(1)).await, "taken");
    assert!(!take(a, &k, T0 + Duration::minutes(1)).await, "taken once");
    assert!(
        insert(a, &k, exp, T0 + Duration::minutes(2)).await,
        "a taken entry is absent"
    );

    let late = run.request("tenant", "_req2");
    assert!(insert(a, &late, exp, T0).await);
    assert!(!take(a, &late, exp).await, "expired: not taken");
    assert!(
        !take(a, &late, T0).await,
        "an expired take still removed it"
    );
}

async fn expiry_is_exact_to_the_microsecond(run: &Run, a: &Store, _: &Store) {
    let exp = T0 + Duration::seconds(30);
    let just_before = exp - Duration::microseconds(1);
    let k = run.assertion("idp", "_precise");
    assert!(insert(a, &k, exp, T0).await);
    assert!(
        !insert(a, &k, exp, just_before).await,
        "live one microsecond before expiry"
    );
    assert!(
        insert(a, &k, exp + Duration::minutes(1), exp).await,
        "expired at expiry"
    );

    let r = run.request("tenant", "_precise-request");
    assert!(insert(a, &r, exp, T0).await);
    assert!(
        take(a, &r, just_before).await,
        "taken one microsecond before expiry"
    );
    assert!(insert(a, &r, exp, T0).await);
    assert!(!take(a, &r, exp).await, "not taken at expiry");
}

async fn purposes_issuers_and_tenants_are_namespaces(run: &Run, a: &Store, _: &Store) {
    let exp = T0 + Duration::minutes(5);
    let id = "_same-id";
    assert!(insert(a, &run.assertion("idp", id), exp, T0).await);
    assert!(
        insert(a, &run.assertion("other-idp", id), exp, T0).await,
        "the same assertion id from another issuer"
    );
    // A scope that equals an issuer, under another purpose.
    let as_request = OnceKey::authn_request(
        &MarketplaceKey::new(format!("idp-{}", run.tag)).expect("valid key"),
        id,
    );
    let as_assertion = OnceKey::assertion(&format!("idp-{}", run.tag), id);
    assert!(insert(a, &as_assertion, exp, T0).await);
    assert!(
        insert(a, &as_request, exp, T0).await,
        "a request id is not an assertion id"
    );

    let for_b = run.request("tenant-b", "_req");
    assert!(insert(a, &for_b, exp, T0).await, "issued for tenant B");
    assert!(
        !take(a, &run.request("tenant-a", "_req"), T0).await,
        "tenant A cannot take tenant B's request"
    );
    assert!(
        take(a, &for_b, T0).await,
        "and tenant B's request is still pending for B"
    );
}

async fn erasing_a_marketplace_keeps_used_assertions_and_other_tenants(
    run: &Run,
    a: &Store,
    b: &Store,
) {
    let gone = run.tenant("erase");
    let other = run.tenant("erase-other");
    let later = T0 + Duration::minutes(5);
    let pending = [
        OnceKey::authn_request(&gone, "_r1"),
        OnceKey::authn_request(&gone, "_r2"),
        OnceKey::lease(&gone, "reconcile"),
    ];
    // A used assertion whose issuer is the marketplace key (an assertion naming no issuer),
    // and the other marketplace's request.
    let assertion = OnceKey::assertion(gone.as_str(), "_a1");
    let kept = OnceKey::authn_request(&other, "_r1");
    for k in pending.iter().chain([&assertion, &kept]) {
        assert!(insert(a, k, later, T0).await, "{k:?}");
    }
    let n = b
        .erase_marketplace(&gone)
        .await
        .expect("erase_marketplace answers");
    assert_eq!(n, 3, "the marketplace's two requests and its lease");
    for k in &pending {
        assert!(!take(a, k, T0).await, "{k:?} erased");
    }
    assert!(
        !insert(a, &assertion, later, T0).await,
        "the used assertion is still refused"
    );
    assert!(
        take(a, &kept, T0).await,
        "the other marketplace's request is kept"
    );
    assert_eq!(b.erase_marketplace(&gone).await.expect("answers"), 0);
}

async fn the_other_instance_sees_every_entry(run: &Run, a: &Store, b: &Store) {
    let exp = T0 + Duration::minutes(10);
    let k = run.request("tenant", "_cross");
    assert!(insert(a, &k, exp, T0).await, "issued on instance A");
    assert!(!insert(b, &k, exp, T0).await, "instance B sees it");
    assert!(take(b, &k, T0).await, "answered on instance B");
    assert!(!take(a, &k, T0).await, "and no longer pending on A");

    let used = run.assertion("idp", "_cross");
    assert!(insert(b, &used, exp, T0).await, "used on B");
    assert!(!insert(a, &used, exp, T0).await, "replay on A refused");
}

async fn hostile_text_is_data(run: &Run, a: &Store, _: &Store) {
    let exp = T0 + Duration::minutes(5);
    let long = "x".repeat(1024);
    let hostile = [
        "'; DELETE FROM maestrano_single_use; --",
        "\" OR 1=1 --",
        "%",
        "_",
        "*",
        "?",
        "a:1:b",
        "\\",
        "line\nbreak",
        "tab\there",
        "é🚀",
        "{}",
        long.as_str(),
    ];
    for text in hostile {
        let k = OnceKey::assertion(&run.issuer(text), text);
        assert!(insert(a, &k, exp, T0).await, "{text:?}");
        assert!(!insert(a, &k, exp, T0).await, "{text:?} is one entry");
    }
    // A pattern character names only itself.
    let pattern = run.request("tenant", "_%");
    let other = run.request("tenant", "_x");
    assert!(insert(a, &other, exp, T0).await);
    assert!(!take(a, &pattern, T0).await, "'_%' is not a pattern");
    assert!(take(a, &other, T0).await);
    // Scope and id do not run together: ("a:1", "b") is not ("a", "1:b").
    let one = OnceKey::assertion(&format!("{}:1", run.issuer("split")), "b");
    let two = OnceKey::assertion(&run.issuer("split"), "1:b");
    assert!(insert(a, &one, exp, T0).await);
    assert!(
        insert(a, &two, exp, T0).await,
        "scope and id are kept apart"
    );
}

/// `rounds` times: `per_side` tasks on each of `a` and `b` start `op` on one fresh key at once;
/// returns how many won in each round.
async fn race<F, Fut>(a: &Store, b: &Store, rounds: usize, per_side: usize, op: F) -> Vec<usize>
where
    F: Fn(Store, usize) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = bool> + Send + 'static,
{
    let mut wins = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let barrier = Arc::new(Barrier::new(2 * per_side));
        let tasks: Vec<_> = (0..2 * per_side)
            .map(|i| {
                let store = if i % 2 == 0 { a.clone() } else { b.clone() };
                let (barrier, op) = (Arc::clone(&barrier), op.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    op(store, round).await
                })
            })
            .collect();
        let mut n = 0;
        for t in tasks {
            if t.await.expect("racing task") {
                n += 1;
            }
        }
        wins.push(n);
    }
    wins
}

async fn racing_inserts_of_one_key_have_one_winner(run: &Run, a: &Store, b: &Store) {
    let exp = T0 + Duration::minutes(5);
    let scope = run.issuer("race-insert");
    let wins = race(a, b, 16, 3, move |s, round| {
        let k = OnceKey::assertion(&scope, &format!("_r{round}"));
        async move { insert(&s, &k, exp, T0).await }
    })
    .await;
    assert!(
        wins.iter().all(|&w| w == 1),
        "one winner per round: {wins:?}"
    );
}

async fn racing_takes_of_one_key_have_at_most_one_winner(run: &Run, a: &Store, b: &Store) {
    let exp = T0 + Duration::minutes(5);
    let tenant = run.tenant("race-take");
    for round in 0..16 {
        let k = OnceKey::authn_request(&tenant, &format!("_r{round}"));
        assert!(insert(a, &k, exp, T0).await);
    }
    let wins = race(a, b, 16, 3, move |s, round| {
        let k = OnceKey::authn_request(&tenant, &format!("_r{round}"));
        async move { take(&s, &k, T0).await }
    })
    .await;
    assert!(
        wins.iter().all(|&w| w == 1),
        "a live entry is taken exactly once: {wins:?}"
    );
}

async fn racing_replacements_of_an_expired_entry_have_one_winner(run: &Run, a: &Store, b: &Store) {
    // Entries that live a minute on a server's own clock (Redis) but have expired by the
    // callers' clock: the racing inserts must go through the replacement of a stored entry.
    let soon = T0 + Duration::minutes(1);
    let later = T0 + Duration::minutes(5);
    let now = T0 + Duration::minutes(2);
    let scope = run.issuer("race-expired");
    for round in 0..16 {
        let k = OnceKey::assertion(&scope, &format!("_r{round}"));
        assert!(insert(a, &k, soon, T0).await);
    }
    let wins = race(a, b, 16, 3, move |s, round| {
        let k = OnceKey::assertion(&scope, &format!("_r{round}"));
        async move { insert(&s, &k, later, now).await }
    })
    .await;
    assert!(
        wins.iter().all(|&w| w == 1),
        "an expired entry is replaced once: {wins:?}"
    );
}
