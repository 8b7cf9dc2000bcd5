//! The conformance suite for [`PushOutbox`] implementations (feature `test-util`).
//!
//! One call checks the whole [contract](crate::idmap::PushOutbox): one pending push per record
//! and destination, exclusive claims with leases that expire and hand over, stale claims
//! refused, completion that links and removes in one step (a conflicting link writes
//! nothing), newer versions enqueued mid-flight kept, retries hidden until due, failures kept
//! with their reason, namespaces, hostile text, and two *instances* racing: on claims (each
//! push to exactly one claimant), on enqueues of one record (one push), and on the completion
//! of one push by a stale and a current claimant (only the current one wins).
//!
//! ```no_run
//! # async fn demo() {
//! use std::sync::Arc;
//! use maestrano::idmap::InMemoryIdMapStore;
//! use maestrano::test_util::outbox_conformance;
//!
//! // In a `#[tokio::test(flavor = "multi_thread")]`. Give two handles on one backing store,
//! // opened separately (two connections, two pools), as two app instances would.
//! let store = Arc::new(InMemoryIdMapStore::new());
//! outbox_conformance::run(store.clone(), store).await;
//! # }
//! ```
//!
//! Every push the suite writes is under a provider of its own, fresh on every run, and it
//! claims only that provider's pushes: it can run on a store that holds other pushes, its own
//! earlier runs' included. It prints each check's name to stderr and panics at the first
//! failure.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use tokio::sync::Barrier;

use crate::idmap::{
    ClaimFound, ClaimedPush, Completion, IdMap, IdMapError, LocalRef, OutboxError, PushIntent,
    PushOutbox, Realm, RemoteRef,
};

const T0: OffsetDateTime = datetime!(2024-03-01 10:00:00.123_456 UTC);
const LEASE: Duration = Duration::minutes(5);

type Store = Arc<dyn PushOutbox>;

/// Names unique to one run of the suite.
struct Run {
    tag: String,
}

impl Run {
    /// A provider (marketplace key) of this run; `n` tells the checks apart.
    fn provider(&self, n: &str) -> String {
        format!("outbox-{n}-{}", self.tag)
    }

    fn realm(&self, n: &str) -> Realm {
        Realm::new(self.provider(n), "cld-1a2b").expect("valid realm")
    }

    fn intent(&self, n: &str, local: &str, payload: Value) -> PushIntent {
        PushIntent::new(
            LocalRef::new("Invoice", local).expect("valid local ref"),
            self.realm(n),
            "invoices",
            payload,
        )
        .expect("valid intent")
    }
}

/// Runs every check against `a` and `b`, two handles on one backing store. Panics at the first
/// failure, after printing the name of the check to stderr.
pub async fn run(a: Arc<dyn PushOutbox>, b: Arc<dyn PushOutbox>) {
    let run = Run {
        tag: super::run_tag(),
    };
    macro_rules! checks {
        ($($check:ident),* $(,)?) => {$(
            eprintln!("outbox conformance: {}", stringify!($check));
            $check(&run, &a, &b).await;
        )*};
    }
    checks!(
        a_claim_returns_the_intent_and_holds_it,
        an_expired_lease_hands_over_and_the_stale_claim_is_refused,
        completing_links_and_removes_in_one_step,
        a_conflicting_link_writes_nothing,
        a_version_enqueued_in_flight_stays_pending,
        a_lapsed_lease_nobody_took_still_completes,
        a_retry_is_hidden_until_due,
        a_failure_keeps_its_reason_until_enqueued_again_or_discarded,
        a_failure_with_a_newer_version_keeps_the_newer_pending,
        claims_come_oldest_first_within_the_limit,
        providers_and_realms_are_namespaces,
        erasing_a_realm_or_a_provider_removes_only_its_pushes,
        hostile_text_is_data,
        racing_claims_hand_each_push_to_one_claimant,
        racing_enqueues_of_one_record_keep_one_push,
        racing_completions_let_only_the_current_claim_win,
    );
    eprintln!("outbox conformance: all checks passed");
}

async fn claim(
    s: &Store,
    run: &Run,
    n: &str,
    limit: usize,
    now: OffsetDateTime,
) -> Vec<ClaimedPush> {
    s.claim(Some(&run.provider(n)), limit, LEASE, now)
        .await
        .expect("claim answers")
}

fn link_of(push: &ClaimedPush, remote_id: &str, now: OffsetDateTime) -> IdMap {
    let intent = &push.intent;
    let remote = RemoteRef::new(intent.realm().clone(), intent.entity(), remote_id)
        .expect("valid remote ref");
    IdMap::new(intent.local().clone(), remote, now).with_pushed_to_remote_at(now)
}

fn assert_lost(result: Result<impl std::fmt::Debug, OutboxError>, found: ClaimFound, what: &str) {
    match result {
        Err(OutboxError::LeaseLost { found: f, .. }) if f == found => {}
        other => panic!("{what}: expected LeaseLost with {found}, found {other:?}"),
    }
}

async fn a_claim_returns_the_intent_and_holds_it(run: &Run, a: &Store, b: &Store) {
    let intent = run.intent("claim", "1", json!({"title": "INV-1", "amount": 12.5}));
    let id = a.enqueue(intent.clone(), T0).await.expect("enqueue");
    let got = claim(b, run, "claim", 10, T0).await;
    assert_eq!(got.len(), 1, "one due push");
    let p = &got[0];
    assert_eq!(p.id, id, "the enqueued push");
    assert_eq!(p.intent, intent, "the intent as enqueued");
    assert_eq!(
        (p.claim, p.version, p.attempts),
        (1, 1, 1),
        "first claim, version, attempt"
    );
    assert!(
        !p.may_have_been_sent_before(),
        "a first claim was never sent"
    );
    assert_eq!(p.lease_until, T0 + LEASE, "leased until now + lease");
    assert!(
        claim(a, run, "claim", 10, T0 + LEASE - Duration::microseconds(1))
            .await
            .is_empty(),
        "a held push is not claimed again before its lease ends"
    );
    assert!(
        a.backlog().await.expect("backlog").pending >= 1,
        "a held push counts as pending"
    );
    assert_eq!(
        a.complete(p, None, T0).await.expect("complete"),
        Completion::Done
    );
    assert!(
        claim(a, run, "claim", 10, T0 + Duration::hours(1))
            .await
            .is_empty(),
        "a completed push is gone"
    );
}

async fn an_expired_lease_hands_over_and_the_stale_claim_is_refused(
    run: &Run,
    a: &Store,
    b: &Store,
) {
    a.enqueue(run.intent("lease", "1", json!({"n": 1})), T0)
        .await
        .expect("enqueue");
    let old = claim(a, run, "lease", 1, T0).await.pop().expect("claimed");
    let later = T0 + LEASE;
    let new = claim(b, run, "lease", 1, later)
        .await
        .pop()
        .expect("taken over at lease end");
    assert_eq!(
        (new.id, new.claim, new.attempts),
        (old.id, 2, 2),
        "the same push, claim 2"
    );
    assert!(
        new.may_have_been_sent_before(),
        "the first claim may have sent it"
    );
    let found = ClaimFound::Claim(2);
    assert_lost(
        a.complete(&old, Some(link_of(&old, "r-old", later)), later)
            .await,
        found,
        "stale complete",
    );
    assert_lost(
        a.retry_later(&old, later, later).await,
        found,
        "stale retry_later",
    );
    assert_lost(a.fail(&old, "stale", later).await, found, "stale fail");
    assert!(
        a.links_in(old.intent.local(), old.intent.realm())
            .await
            .expect("links")
            .is_empty(),
        "the stale completion linked nothing"
    );
    assert_eq!(
        b.complete(&new, None, later)
            .await
            .expect("current complete"),
        Completion::Done
    );
    assert_lost(
        b.complete(&new, None, later).await,
        ClaimFound::Gone,
        "complete twice",
    );
}

async fn completing_links_and_removes_in_one_step(run: &Run, a: &Store, b: &Store) {
    a.enqueue(run.intent("complete", "7", json!({})), T0)
        .await
        .expect("enqueue");
    let p = claim(a, run, "complete", 1, T0)
        .await
        .pop()
        .expect("claimed");
    let map = link_of(&p, "remote-7", T0);
    assert_eq!(
        a.complete(&p, Some(map.clone()), T0)
            .await
            .expect("complete"),
        Completion::Done
    );
    let links = b
        .links_in(p.intent.local(), p.intent.realm())
        .await
        .expect("links");
    assert_eq!(links.len(), 1, "linked once");
    assert_eq!(links[0].remote, map.remote, "to the remote id given");
    assert_eq!(links[0].pushed_to_remote_at, Some(T0), "with its push time");
    assert!(
        claim(b, run, "complete", 1, T0 + Duration::hours(1))
            .await
            .is_empty(),
        "and the push is gone"
    );
}

async fn a_conflicting_link_writes_nothing(run: &Run, a: &Store, b: &Store) {
    // The remote record is already linked to another invoice.
    let realm = run.realm("conflict");
    let taken = RemoteRef::new(realm.clone(), "invoices", "remote-x").expect("remote");
    let other = LocalRef::new("Invoice", "other").expect("local");
    a.link(IdMap::new(other.clone(), taken.clone(), T0))
        .await
        .expect("link the other invoice");
    a.enqueue(run.intent("conflict", "mine", json!({})), T0)
        .await
        .expect("enqueue");
    let p = claim(a, run, "conflict", 1, T0)
        .await
        .pop()
        .expect("claimed");
    match b.complete(&p, Some(link_of(&p, "remote-x", T0)), T0).await {
        Err(OutboxError::IdMap(IdMapError::Conflict(c))) => {
            assert_eq!(c.existing, other, "the conflict names the linked invoice");
        }
        other => panic!("expected IdMap(Conflict), found {other:?}"),
    }
    assert!(
        a.links_in(p.intent.local(), &realm)
            .await
            .expect("links")
            .is_empty(),
        "no link written"
    );
    // The invoice is already linked to another remote record of the same entity.
    let mine = p.intent.local().clone();
    let first = RemoteRef::new(realm.clone(), "invoices", "remote-first").expect("remote");
    a.link(IdMap::new(mine.clone(), first.clone(), T0))
        .await
        .expect("link the invoice");
    match b
        .complete(&p, Some(link_of(&p, "remote-second", T0)), T0)
        .await
    {
        Err(OutboxError::IdMap(IdMapError::LocalConflict(c))) => {
            assert_eq!(c.existing, first, "the conflict names the linked record");
        }
        other => panic!("expected IdMap(LocalConflict), found {other:?}"),
    }
    let links = a.links_in(&mine, &realm).await.expect("links");
    assert_eq!(links.len(), 1, "no second link written");
    assert_eq!(links[0].remote, first);
    a.unlink(&first).await.expect("unlink");
    // The push is still there and still this claim's.
    assert_eq!(
        a.complete(&p, None, T0)
            .await
            .expect("the claim still holds"),
        Completion::Done
    );
}

async fn a_version_enqueued_in_flight_stays_pending(run: &Run, a: &Store, b: &Store) {
    let first = a
        .enqueue(run.intent("newer", "1", json!({"v": 1})), T0)
        .await
        .expect("enqueue v1");
    let p1 = claim(a, run, "newer", 1, T0)
        .await
        .pop()
        .expect("claimed v1");
    let again = b
        .enqueue(
            run.intent("newer", "1", json!({"v": 2})),
            T0 + Duration::seconds(1),
        )
        .await
        .expect("enqueue v2");
    assert_eq!(again, first, "one push per record and destination");
    assert!(
        claim(b, run, "newer", 1, T0 + Duration::seconds(1))
            .await
            .is_empty(),
        "the push in flight keeps its lease"
    );
    let done_at = T0 + Duration::seconds(2);
    assert_eq!(
        a.complete(&p1, Some(link_of(&p1, "r-1", done_at)), done_at)
            .await
            .expect("complete v1"),
        Completion::NewerPending,
        "a version enqueued in flight is kept"
    );
    let p2 = claim(b, run, "newer", 1, done_at)
        .await
        .pop()
        .expect("v2 due at once");
    assert_eq!(p2.version, 2, "the newer version");
    assert_eq!(p2.attempts, 1, "starts its own count of attempts");
    assert_eq!(
        p2.intent.payload(),
        &json!({"v": 2}),
        "with the newer payload"
    );
    assert_eq!(
        b.complete(&p2, None, done_at).await.expect("complete v2"),
        Completion::Done
    );
}

async fn a_lapsed_lease_nobody_took_still_completes(run: &Run, a: &Store, b: &Store) {
    a.enqueue(run.intent("lapsed", "1", json!({})), T0)
        .await
        .expect("enqueue");
    let p = claim(a, run, "lapsed", 1, T0).await.pop().expect("claimed");
    let late = T0 + LEASE + Duration::minutes(1);
    assert_eq!(
        b.complete(&p, Some(link_of(&p, "r-lapsed", late)), late)
            .await
            .expect("a lapsed lease nobody took over still holds"),
        Completion::Done
    );
    for bad in [
        Duration::ZERO,
        crate::idmap::MAX_LEASE + Duration::seconds(1),
    ] {
        assert!(
            matches!(
                a.claim(None, 1, bad, T0).await,
                Err(OutboxError::Payload { .. })
            ),
            "a lease of {bad} is refused"
        );
    }
}

async fn a_retry_is_hidden_until_due(run: &Run, a: &Store, b: &Store) {
    a.enqueue(run.intent("retry", "1", json!({})), T0)
        .await
        .expect("enqueue");
    let p = claim(a, run, "retry", 1, T0).await.pop().expect("claimed");
    let at = T0 + Duration::minutes(10);
    a.retry_later(&p, at, T0).await.expect("retry_later");
    assert!(
        claim(b, run, "retry", 1, at - Duration::microseconds(1))
            .await
            .is_empty(),
        "hidden until due"
    );
    let p2 = claim(b, run, "retry", 1, at)
        .await
        .pop()
        .expect("due at `at`");
    assert_eq!(
        (p2.claim, p2.attempts),
        (2, 2),
        "second claim, second attempt"
    );
    b.complete(&p2, None, at).await.expect("complete");
}

async fn a_failure_keeps_its_reason_until_enqueued_again_or_discarded(
    run: &Run,
    a: &Store,
    b: &Store,
) {
    let realm = run.realm("fail");
    a.enqueue(run.intent("fail", "1", json!({"x": 1})), T0)
        .await
        .expect("enqueue");
    let p = claim(a, run, "fail", 1, T0).await.pop().expect("claimed");
    let failed_at = T0 + Duration::seconds(3);
    a.fail(&p, "HTTP 422: title is required", failed_at)
        .await
        .expect("fail");
    assert!(
        claim(b, run, "fail", 1, T0 + Duration::days(30))
            .await
            .is_empty(),
        "a failed push is never claimed"
    );
    let failed = b.failed(&realm, 10).await.expect("failed");
    assert_eq!(failed.len(), 1, "listed");
    assert_eq!(failed[0].id, p.id);
    assert_eq!(
        failed[0].reason, "HTTP 422: title is required",
        "with its reason"
    );
    assert_eq!((failed[0].attempts, failed[0].failed_at), (1, failed_at));
    assert_eq!(failed[0].intent, p.intent, "and its intent");
    assert!(
        b.backlog().await.expect("backlog").failed >= 1,
        "counted as failed"
    );
    // Enqueued again (the app fixed the record): pending, attempts reset.
    a.enqueue(run.intent("fail", "1", json!({"x": 2})), failed_at)
        .await
        .expect("enqueue again");
    assert!(
        b.failed(&realm, 10).await.expect("failed").is_empty(),
        "no longer failed"
    );
    let p2 = claim(b, run, "fail", 1, failed_at)
        .await
        .pop()
        .expect("pending again");
    assert_eq!(
        (p2.attempts, p2.claim, p2.version),
        (1, 2, 2),
        "attempts reset, claims kept"
    );
    b.fail(&p2, "again", failed_at).await.expect("fail again");
    assert!(
        a.discard(p2.id).await.expect("discard"),
        "a failed push is discarded"
    );
    assert!(!a.discard(p2.id).await.expect("discard"), "once");
    assert!(
        b.failed(&realm, 10).await.expect("failed").is_empty(),
        "gone"
    );
    // A pending push is not discarded.
    let id = a
        .enqueue(run.intent("fail", "2", json!({})), T0)
        .await
        .expect("enqueue");
    assert!(
        !a.discard(id).await.expect("discard"),
        "only failed pushes are discarded"
    );
    let p3 = claim(a, run, "fail", 1, T0)
        .await
        .pop()
        .expect("still pending");
    a.complete(&p3, None, T0).await.expect("complete");
}

async fn a_failure_with_a_newer_version_keeps_the_newer_pending(run: &Run, a: &Store, b: &Store) {
    a.enqueue(run.intent("fail-newer", "1", json!({"v": 1})), T0)
        .await
        .expect("enqueue");
    let p = claim(a, run, "fail-newer", 1, T0)
        .await
        .pop()
        .expect("claimed");
    b.enqueue(run.intent("fail-newer", "1", json!({"v": 2})), T0)
        .await
        .expect("enqueue v2");
    a.fail(&p, "v1 refused", T0).await.expect("fail v1");
    assert!(
        a.failed(&run.realm("fail-newer"), 10)
            .await
            .expect("failed")
            .is_empty(),
        "not failed: v2 deserves its own try"
    );
    let p2 = claim(b, run, "fail-newer", 1, T0)
        .await
        .pop()
        .expect("v2 pending");
    assert_eq!((p2.version, p2.attempts), (2, 1), "v2, attempts reset");
    b.complete(&p2, None, T0).await.expect("complete");
}

async fn claims_come_oldest_first_within_the_limit(run: &Run, a: &Store, b: &Store) {
    for (i, local) in ["c", "a", "b"].iter().enumerate() {
        let at = T0 + Duration::seconds(i as i64);
        a.enqueue(run.intent("order", local, json!({})), at)
            .await
            .expect("enqueue");
    }
    let at = T0 + Duration::seconds(10);
    let got = claim(b, run, "order", 2, at).await;
    let locals: Vec<&str> = got.iter().map(|p| p.intent.local().local_id()).collect();
    assert_eq!(locals, ["c", "a"], "oldest first, at most the limit");
    let rest = claim(b, run, "order", 10, at).await;
    assert_eq!(rest.len(), 1, "the third");
    for p in got.iter().chain(&rest) {
        b.complete(p, None, at).await.expect("complete");
    }
    for bad in [0, crate::idmap::MAX_CLAIM + 1] {
        assert!(
            matches!(
                a.claim(None, bad, LEASE, T0).await,
                Err(OutboxError::IdMap(IdMapError::Limit { .. }))
            ),
            "a claim of {bad} is refused"
        );
    }
}

async fn erasing_a_realm_or_a_provider_removes_only_its_pushes(run: &Run, a: &Store, b: &Store) {
    let mine = run.intent("erase", "1", json!({}));
    let other_group = PushIntent::new(
        mine.local().clone(),
        Realm::new(run.provider("erase"), "cld-other").expect("realm"),
        "invoices",
        json!({}),
    )
    .expect("intent");
    let theirs = run.intent("erase-other", "1", json!({}));
    for intent in [mine, other_group, theirs] {
        a.enqueue(intent, T0).await.expect("enqueue");
    }
    // A claimed push goes too.
    assert_eq!(claim(b, run, "erase", 1, T0).await.len(), 1);
    let provider = run.provider("erase");
    let n = b
        .erase_pushes(&provider, Some("cld-1a2b"))
        .await
        .expect("erase answers");
    assert_eq!(n, 1, "the push of realm cld-1a2b");
    let left = claim(a, run, "erase", 10, T0 + LEASE + Duration::seconds(1)).await;
    assert_eq!(left.len(), 1, "the other group's push is kept");
    assert_eq!(left[0].intent.realm().realm(), "cld-other");
    assert_eq!(b.erase_pushes(&provider, None).await.expect("erase"), 1);
    assert!(claim(a, run, "erase", 10, T0 + LEASE * 3).await.is_empty());
    assert_eq!(
        claim(a, run, "erase-other", 10, T0).await.len(),
        1,
        "another provider's is kept"
    );
}

async fn providers_and_realms_are_namespaces(run: &Run, a: &Store, b: &Store) {
    let mine = run.intent("ns-a", "1", json!({}));
    let theirs = run.intent("ns-b", "1", json!({}));
    let other_group = PushIntent::new(
        mine.local().clone(),
        Realm::new(run.provider("ns-a"), "cld-other").expect("realm"),
        "invoices",
        json!({}),
    )
    .expect("intent");
    let ids = [
        a.enqueue(mine, T0).await.expect("enqueue"),
        a.enqueue(theirs, T0).await.expect("enqueue"),
        a.enqueue(other_group, T0).await.expect("enqueue"),
    ];
    assert!(
        ids[0] != ids[1] && ids[0] != ids[2],
        "one push per destination"
    );
    let got = claim(b, run, "ns-a", 10, T0).await;
    assert_eq!(got.len(), 2, "both groups of provider ns-a, not ns-b");
    assert!(
        got.iter()
            .all(|p| p.intent.realm().provider() == run.provider("ns-a"))
    );
    for p in &got {
        b.fail(p, "namespaced", T0).await.expect("fail");
    }
    let failed = a.failed(&run.realm("ns-a"), 10).await.expect("failed");
    assert_eq!(failed.len(), 1, "failed() lists one realm only");
    assert_eq!(failed[0].intent.realm(), &run.realm("ns-a"));
    let p = claim(b, run, "ns-b", 10, T0)
        .await
        .pop()
        .expect("ns-b's push");
    b.complete(&p, None, T0).await.expect("complete");
    for f in a
        .failed(&run.realm("ns-a"), 10)
        .await
        .expect("failed")
        .into_iter()
        .chain(
            a.failed(
                &Realm::new(run.provider("ns-a"), "cld-other").expect("realm"),
                10,
            )
            .await
            .expect("failed"),
        )
    {
        a.discard(f.id).await.expect("discard");
    }
}

async fn hostile_text_is_data(run: &Run, a: &Store, b: &Store) {
    let payload = json!({
        "title": "it's \"quoted\"; DROP TABLE maestrano_push_outbox; --",
        "nul": "a\u{0}b",
        "unicode": "Ünïcødé ✓ 𝄞",
        "nested": {"list": [1, 2.5, null, true, {"k": "v"}]},
    });
    let local = "Robert'); DROP TABLE x;-- ✓";
    let intent = run.intent("hostile", local, payload.clone());
    a.enqueue(intent.clone(), T0).await.expect("enqueue");
    let p = claim(b, run, "hostile", 1, T0)
        .await
        .pop()
        .expect("claimed");
    assert_eq!(p.intent, intent, "every byte comes back");
    b.fail(&p, "reason with 'quotes' and \u{0} NUL", T0)
        .await
        .expect("fail");
    let f = a
        .failed(&run.realm("hostile"), 1)
        .await
        .expect("failed")
        .pop()
        .expect("listed");
    assert_eq!(
        f.reason, "reason with 'quotes' and \u{fffd} NUL",
        "the reason as given, NUL replaced"
    );
    a.discard(f.id).await.expect("discard");
}

async fn racing_claims_hand_each_push_to_one_claimant(run: &Run, a: &Store, b: &Store) {
    const PUSHES: usize = 40;
    const TASKS: usize = 6;
    for i in 0..PUSHES {
        a.enqueue(
            run.intent("race-claim", &format!("{i:03}"), json!({"i": i})),
            T0,
        )
        .await
        .expect("enqueue");
    }
    let barrier = Arc::new(Barrier::new(TASKS));
    let provider = run.provider("race-claim");
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let store = if t % 2 == 0 { a.clone() } else { b.clone() };
            let (barrier, provider) = (barrier.clone(), provider.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                let mut mine = Vec::new();
                loop {
                    let got = store
                        .claim(Some(&provider), 3, LEASE, T0)
                        .await
                        .expect("claim answers");
                    if got.is_empty() {
                        return mine;
                    }
                    mine.extend(got);
                }
            })
        })
        .collect();
    let mut seen: BTreeMap<i64, usize> = BTreeMap::new();
    let mut all = Vec::new();
    for t in tasks {
        for p in t.await.expect("task") {
            *seen.entry(p.id.get()).or_default() += 1;
            all.push(p);
        }
    }
    assert_eq!(seen.len(), PUSHES, "every push claimed");
    assert!(
        seen.values().all(|&n| n == 1),
        "each by exactly one claimant: {seen:?}"
    );
    for p in &all {
        a.complete(p, None, T0).await.expect("complete");
    }
}

async fn racing_enqueues_of_one_record_keep_one_push(run: &Run, a: &Store, b: &Store) {
    const TASKS: usize = 6;
    let barrier = Arc::new(Barrier::new(TASKS));
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let store = if t % 2 == 0 { a.clone() } else { b.clone() };
            let intent = run.intent("race-enqueue", "one", json!({"t": t}));
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                store.enqueue(intent, T0).await.expect("enqueue answers")
            })
        })
        .collect();
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.expect("task"));
    }
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "one push: {ids:?}");
    let got = claim(a, run, "race-enqueue", 10, T0).await;
    assert_eq!(got.len(), 1, "one push to claim");
    assert_eq!(got[0].version, TASKS as u64, "every enqueue counted once");
    a.complete(&got[0], None, T0).await.expect("complete");
}

async fn racing_completions_let_only_the_current_claim_win(run: &Run, a: &Store, b: &Store) {
    for round in 0..8 {
        let local = format!("r{round}");
        a.enqueue(run.intent("race-complete", &local, json!({})), T0)
            .await
            .expect("enqueue");
        let stale = claim(a, run, "race-complete", 1, T0)
            .await
            .pop()
            .expect("claim 1");
        let current = claim(b, run, "race-complete", 1, T0 + LEASE)
            .await
            .pop()
            .expect("claim 2");
        let barrier = Arc::new(Barrier::new(2));
        let go = |store: Store, push: ClaimedPush, remote: String| {
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                let at = T0 + LEASE;
                store
                    .complete(&push, Some(link_of(&push, &remote, at)), at)
                    .await
            })
        };
        let s = go(a.clone(), stale.clone(), format!("stale-{round}"));
        let c = go(b.clone(), current.clone(), format!("current-{round}"));
        let (s, c) = (s.await.expect("task"), c.await.expect("task"));
        // Claim 2 still there, or already completed: either way, refused.
        assert!(
            matches!(s, Err(OutboxError::LeaseLost { expected: 1, .. })),
            "the stale completion: expected LeaseLost, found {s:?}"
        );
        assert_eq!(c.expect("the current completion"), Completion::Done);
        let links = a
            .links_in(current.intent.local(), current.intent.realm())
            .await
            .expect("links");
        assert_eq!(links.len(), 1, "one link");
        assert_eq!(
            links[0].remote.remote_id(),
            format!("current-{round}"),
            "the current claim's"
        );
    }
}
