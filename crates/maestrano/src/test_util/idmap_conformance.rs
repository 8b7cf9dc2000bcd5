//! The conformance suite for [`IdMapStore`] implementations (feature `test-util`).
//!
//! One call checks the whole [contract](crate::idmap::IdMapStore): lookups, the idempotent upsert,
//! both kinds of conflict, unlinking, batch lookups, paginated listing, timestamp precision,
//! metadata, hostile input and concurrency (two tasks linking the same remote id at once: one
//! wins, the other gets the conflict, nothing half-written).
//!
//! ```no_run
//! # async fn demo() {
//! use std::sync::Arc;
//! use maestrano::idmap::InMemoryIdMapStore;
//! use maestrano::test_util::idmap_conformance;
//!
//! // In a `#[tokio::test]`, with a store that holds no link yet:
//! idmap_conformance::run(Arc::new(InMemoryIdMapStore::new())).await;
//! # }
//! ```
//!
//! The suite needs a Tokio runtime (it spawns tasks; a multi-threaded one makes the races
//! real) and an empty store: it writes about a thousand links and expects to find only its own,
//! so a second run on the same store fails. It prints each check's name to stderr as it starts
//! and panics at the first failure.

use std::error::Error as _;
use std::fmt::Debug;
use std::sync::Arc;

use serde_json::json;
use time::OffsetDateTime;
use time::macros::datetime;
use tokio::sync::Barrier;

use crate::idmap::store::{MAX_BATCH, MAX_METADATA_BYTES, MAX_PAGE_SIZE, normalize_time};
use crate::idmap::{
    FieldError, FieldProblem, IdMap, IdMapError, IdMapPage, IdMapStore, LocalConflict, LocalRef,
    PageCursor, PageRequest, Realm, RemoteConflict, RemoteRef,
};

const T0: OffsetDateTime = datetime!(2024-03-01 10:00:00.123_456 UTC);
const T1: OffsetDateTime = datetime!(2024-03-02 11:30:00.654_321 UTC);
const T2: OffsetDateTime = datetime!(2024-03-03 12:45:00 UTC);

type Store = Arc<dyn IdMapStore>;

/// Runs every check against `store`, which must be empty. Panics at the first failure, after
/// printing the name of the check to stderr.
pub async fn run(store: Arc<dyn IdMapStore>) {
    macro_rules! checks {
        ($($check:ident),* $(,)?) => {$(
            eprintln!("idmap conformance: {}", stringify!($check));
            $check(&store).await;
        )*};
    }
    checks!(
        link_then_find,
        relink_is_an_idempotent_upsert,
        remote_conflict_writes_nothing,
        local_conflict_writes_nothing,
        unlink_removes_only_what_it_names,
        erase_removes_a_realm_or_a_provider,
        batch_lookups,
        batch_input_is_validated,
        listing_pages_through_one_realm,
        timestamps_are_utc_microseconds,
        metadata_round_trips_and_is_bounded,
        hostile_text_is_data,
        concurrent_links_of_one_remote_id,
        concurrent_links_of_one_local_record,
        concurrent_identical_links,
        concurrent_distinct_links,
    );
    eprintln!("idmap conformance: all checks passed");
}

fn realm(provider: &str, realm: &str) -> Realm {
    Realm::new(provider, realm).expect("valid realm")
}

fn local(class_name: &str, id: &str) -> LocalRef {
    LocalRef::new(class_name, id).expect("valid local ref")
}

fn remote(realm: &Realm, entity: &str, id: &str) -> RemoteRef {
    RemoteRef::new(realm.clone(), entity, id).expect("valid remote ref")
}

#[track_caller]
fn ok<T>(result: Result<T, IdMapError>, what: &str) -> T {
    match result {
        Ok(v) => v,
        Err(e) => {
            let mut message = format!("{what}: {e}");
            let mut source = e.source();
            while let Some(s) = source {
                message.push_str(&format!(": {s}"));
                source = s.source();
            }
            panic!("{message}")
        }
    }
}

#[track_caller]
fn err<T: Debug>(result: Result<T, IdMapError>, what: &str) -> IdMapError {
    match result {
        Ok(v) => panic!("{what}: expected an error, got {v:?}"),
        Err(e) => e,
    }
}

async fn link_then_find(s: &Store) {
    let r = realm("conformance-find", "realm-a");
    let map = IdMap::new(local("Invoice", "1"), remote(&r, "invoices", "inv-1"), T0);
    let stored = ok(s.link(map.clone()).await, "link");
    assert_eq!(stored, map, "link returns the link as stored");
    assert_eq!(
        ok(s.find_remote(&map.remote).await, "find_remote"),
        Some(map.clone())
    );
    assert_eq!(
        ok(s.links_of(&map.local).await, "links_of"),
        vec![map.clone()]
    );
    assert_eq!(
        ok(s.links_in(&map.local, &r).await, "links_in"),
        vec![map.clone()]
    );
    let other = realm("conformance-find", "realm-b");
    assert_eq!(ok(s.links_in(&map.local, &other).await, "links_in"), vec![]);
    for missing in [
        remote(&r, "invoices", "inv-2"),
        remote(&r, "invoices", "INV-1"),
        remote(&r, "Invoices", "inv-1"),
        remote(&other, "invoices", "inv-1"),
        remote(&realm("conformance-find2", "realm-a"), "invoices", "inv-1"),
    ] {
        assert_eq!(
            ok(s.find_remote(&missing).await, "find_remote"),
            None,
            "{missing:?} is not linked (matching is exact and case-sensitive)"
        );
    }
    assert_eq!(
        ok(s.links_of(&local("Invoice", "2")).await, "links_of"),
        vec![]
    );
    assert_eq!(
        ok(s.links_of(&local("invoice", "1")).await, "links_of"),
        vec![]
    );
}

async fn relink_is_an_idempotent_upsert(s: &Store) {
    let r = realm("conformance-upsert", "realm-a");
    let first = IdMap::new(local("UpsertInvoice", "1"), remote(&r, "invoices", "x"), T0)
        .with_pushed_to_remote_at(T0)
        .with_metadata(json!({"v": 1}));
    ok(s.link(first.clone()).await, "first link");

    let again =
        IdMap::new(first.local.clone(), first.remote.clone(), T1).with_pulled_from_remote_at(T1);
    let merged = ok(s.link(again).await, "second link");
    assert_eq!(merged.created_at, T0, "created_at is kept");
    assert_eq!(merged.updated_at, T1, "updated_at is taken from the update");
    assert_eq!(merged.pushed_to_remote_at, Some(T0), "unset field is kept");
    assert_eq!(merged.pulled_from_remote_at, Some(T1), "set field is taken");
    assert_eq!(
        merged.metadata,
        Some(json!({"v": 1})),
        "unset metadata is kept"
    );
    assert_eq!(
        ok(s.find_remote(&first.remote).await, "find_remote"),
        Some(merged.clone())
    );

    let third = IdMap::new(first.local.clone(), first.remote.clone(), T2)
        .with_pushed_to_remote_at(T2)
        .with_metadata(json!({"v": 2}));
    let merged = ok(s.link(third.clone()).await, "third link");
    assert_eq!(merged.created_at, T0);
    assert_eq!(merged.pushed_to_remote_at, Some(T2));
    assert_eq!(merged.pulled_from_remote_at, Some(T1));
    assert_eq!(
        merged.metadata,
        Some(json!({"v": 2})),
        "set metadata replaces"
    );

    let repeated = ok(s.link(third).await, "same link again");
    assert_eq!(
        repeated, merged,
        "linking the same thing again changes nothing"
    );
    assert_eq!(ok(s.links_of(&first.local).await, "links_of").len(), 1);
    let page = ok(s.list(&r, &PageRequest::first(10)).await, "list");
    assert_eq!(
        page.items,
        vec![merged],
        "one row, however often it is linked"
    );
}

async fn remote_conflict_writes_nothing(s: &Store) {
    let r = realm("conformance-conflict", "realm-a");
    let a = IdMap::new(local("Person", "a"), remote(&r, "people", "x"), T0);
    ok(s.link(a.clone()).await, "link a");
    let b = IdMap::new(local("Person", "b"), a.remote.clone(), T1).with_metadata(json!(1));
    match err(s.link(b.clone()).await, "linking x to b") {
        IdMapError::Conflict(c) => {
            let RemoteConflict {
                remote,
                existing,
                requested,
            } = *c;
            assert_eq!(remote, a.remote);
            assert_eq!(existing, a.local);
            assert_eq!(requested, b.local);
        }
        other => panic!("expected a Conflict, got {other:?}"),
    }
    assert_eq!(
        ok(s.find_remote(&a.remote).await, "find_remote"),
        Some(a.clone()),
        "the existing link is untouched"
    );
    assert_eq!(ok(s.links_of(&b.local).await, "links_of"), vec![]);
    // Another class with the same local id is another record.
    let c = IdMap::new(local("Company", "a"), a.remote.clone(), T1);
    assert!(matches!(
        err(s.link(c).await, "linking x to Company#a"),
        IdMapError::Conflict(_)
    ));
}

async fn local_conflict_writes_nothing(s: &Store) {
    let ra = realm("conformance-local", "realm-a");
    let rb = realm("conformance-local", "realm-b");
    let a = local("LocalInvoice", "7");
    let x1 = IdMap::new(a.clone(), remote(&ra, "invoices", "x1"), T0);
    ok(s.link(x1.clone()).await, "link x1");
    let x2 = IdMap::new(a.clone(), remote(&ra, "invoices", "x2"), T1);
    match err(s.link(x2.clone()).await, "linking a second invoice id") {
        IdMapError::LocalConflict(c) => {
            let LocalConflict {
                local,
                existing,
                requested,
            } = *c;
            assert_eq!(local, a);
            assert_eq!(existing, x1.remote);
            assert_eq!(requested, x2.remote);
        }
        other => panic!("expected a LocalConflict, got {other:?}"),
    }
    assert_eq!(ok(s.find_remote(&x2.remote).await, "find_remote"), None);

    let payment = IdMap::new(a.clone(), remote(&ra, "payments", "y"), T1);
    ok(
        s.link(payment.clone()).await,
        "another entity in the same realm",
    );
    let elsewhere = IdMap::new(a.clone(), remote(&rb, "invoices", "x1"), T1);
    ok(
        s.link(elsewhere.clone()).await,
        "the same entity in another realm",
    );
    assert_eq!(
        ok(s.links_of(&a).await, "links_of"),
        vec![x1.clone(), payment.clone(), elsewhere],
        "ordered by provider, realm, entity, remote id"
    );
    assert_eq!(
        ok(s.links_in(&a, &ra).await, "links_in"),
        vec![x1, payment],
        "ordered by entity"
    );
}

async fn unlink_removes_only_what_it_names(s: &Store) {
    let ra = realm("conformance-unlink", "realm-a");
    let rb = realm("conformance-unlink", "realm-b");
    let a = local("Item", "a");
    let b = local("Item", "b");
    let x = IdMap::new(a.clone(), remote(&ra, "items", "x"), T0);
    ok(s.link(x.clone()).await, "link");
    assert!(ok(s.unlink(&x.remote).await, "unlink"), "a link existed");
    assert!(!ok(s.unlink(&x.remote).await, "unlink"), "no link any more");
    assert_eq!(ok(s.find_remote(&x.remote).await, "find_remote"), None);
    assert_eq!(ok(s.links_of(&a).await, "links_of"), vec![]);
    // Both unique keys are free again.
    ok(
        s.link(IdMap::new(b.clone(), x.remote.clone(), T1)).await,
        "x to another record",
    );
    ok(
        s.link(IdMap::new(a.clone(), remote(&ra, "items", "x2"), T1))
            .await,
        "a to another remote id",
    );

    ok(
        s.link(IdMap::new(a.clone(), remote(&ra, "lines", "l1"), T1))
            .await,
        "link",
    );
    ok(
        s.link(IdMap::new(a.clone(), remote(&rb, "items", "x"), T1))
            .await,
        "link",
    );
    assert_eq!(
        ok(s.unlink_local(&a, Some(&ra)).await, "unlink_local"),
        2,
        "two links of a in realm-a"
    );
    assert_eq!(ok(s.links_of(&a).await, "links_of").len(), 1);
    assert_eq!(
        ok(s.links_of(&b).await, "links_of").len(),
        1,
        "b is untouched"
    );
    assert_eq!(ok(s.unlink_local(&a, None).await, "unlink_local"), 1);
    assert_eq!(ok(s.unlink_local(&a, None).await, "unlink_local"), 0);
    assert_eq!(ok(s.links_of(&b).await, "links_of").len(), 1);
}

async fn erase_removes_a_realm_or_a_provider(s: &Store) {
    let (ra, rb) = (
        realm("conformance-erase", "cld-a"),
        realm("conformance-erase", "cld-b"),
    );
    let other = realm("conformance-erase-other", "cld-a");
    for (i, r) in [&ra, &ra, &rb, &other].into_iter().enumerate() {
        let map = IdMap::new(
            local("Item", &format!("e{i}")),
            remote(r, "items", &format!("x{i}")),
            T0,
        );
        ok(s.link(map).await, "link");
    }
    assert_eq!(
        ok(s.erase("conformance-erase", Some("cld-a")).await, "erase"),
        2
    );
    assert_eq!(
        ok(s.links_of(&local("Item", "e0")).await, "links_of"),
        vec![]
    );
    assert_eq!(
        ok(s.links_of(&local("Item", "e2")).await, "links_of").len(),
        1
    );
    // The local side is free again: the record can be linked anew.
    ok(
        s.link(IdMap::new(
            local("Item", "e0"),
            remote(&ra, "items", "x9"),
            T1,
        ))
        .await,
        "relink after erase",
    );
    assert_eq!(ok(s.erase("conformance-erase", None).await, "erase"), 2);
    assert_eq!(ok(s.erase("conformance-erase", None).await, "erase"), 0);
    assert_eq!(
        ok(s.links_of(&local("Item", "e3")).await, "links_of").len(),
        1,
        "another provider is untouched"
    );
}

async fn batch_lookups(s: &Store) {
    let rc = realm("conformance-batch", "realm-c");
    let rd = realm("conformance-batch", "realm-d");
    for i in 0..300 {
        let id = i.to_string();
        let rid = format!("p-{i:04}");
        ok(
            s.link(IdMap::new(
                local("BatchPerson", &id),
                remote(&rc, "people", &rid),
                T0,
            ))
            .await,
            "link",
        );
        if i % 3 == 0 {
            ok(
                s.link(IdMap::new(
                    local("BatchPerson", &id),
                    remote(&rd, "people", &rid),
                    T0,
                ))
                .await,
                "link",
            );
        }
    }
    ok(
        s.link(IdMap::new(
            local("BatchLead", "0"),
            remote(&rc, "leads", "p-0000"),
            T0,
        ))
        .await,
        "link",
    );

    // Every other id, one missing, one repeated, in reverse order.
    let mut ids: Vec<String> = (0..300).step_by(2).map(|i| format!("p-{i:04}")).collect();
    ids.push("missing".into());
    ids.push("p-0000".into());
    ids.reverse();
    let found = ok(s.find_remotes(&rc, "people", &ids).await, "find_remotes");
    assert_eq!(
        found.len(),
        150,
        "each linked id once, the missing one skipped"
    );
    let expected: Vec<String> = (0..300).step_by(2).map(|i| format!("p-{i:04}")).collect();
    let got: Vec<&str> = found.iter().map(|m| m.remote.remote_id()).collect();
    assert_eq!(got, expected, "ordered by remote id");
    assert!(found.iter().all(|m| m.remote.realm() == &rc
        && m.remote.entity() == "people"
        && m.local.class_name() == "BatchPerson"));
    assert_eq!(
        ok(s.find_remotes(&rc, "people", &[]).await, "find_remotes"),
        vec![]
    );
    assert_eq!(
        ok(s.find_remotes(&rd, "people", &ids).await, "find_remotes").len(),
        50,
        "only realm-d's links"
    );

    // A large batch, mostly missing, in one call.
    let big: Vec<String> = (0..5_000).map(|i| format!("p-{i:04}")).collect();
    assert_eq!(
        ok(s.find_remotes(&rc, "people", &big).await, "find_remotes").len(),
        300
    );

    let locals: Vec<String> = ["0", "5", "299", "nope", "5", "3"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let found = ok(
        s.find_locals("BatchPerson", &locals, None).await,
        "find_locals everywhere",
    );
    let got: Vec<(&str, &str)> = found
        .iter()
        .map(|m| (m.local.local_id(), m.remote.realm().realm()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("0", "realm-c"),
            ("0", "realm-d"),
            ("299", "realm-c"),
            ("3", "realm-c"),
            ("3", "realm-d"),
            ("5", "realm-c"),
        ],
        "ordered by local id (byte-wise), then provider, realm, entity, remote id"
    );
    let found = ok(
        s.find_locals("BatchPerson", &locals, Some(&rd)).await,
        "find_locals in realm-d",
    );
    let got: Vec<&str> = found.iter().map(|m| m.local.local_id()).collect();
    assert_eq!(got, vec!["0", "3"]);
    assert_eq!(
        ok(
            s.find_locals("BatchLead", &locals, None).await,
            "find_locals"
        )
        .len(),
        1
    );
    assert_eq!(
        ok(s.find_locals("BatchPerson", &[], None).await, "find_locals"),
        vec![]
    );
}

async fn batch_input_is_validated(s: &Store) {
    let r = realm("conformance-validate", "realm-a");
    let field = |e: IdMapError| match e {
        IdMapError::Field(FieldError { field, problem, .. }) => (field, problem),
        other => panic!("expected a field error, got {other:?}"),
    };
    let e = err(
        s.find_remotes(&r, "e", &["ok".into(), String::new()]).await,
        "empty id",
    );
    assert_eq!(field(e), ("remote_id", FieldProblem::Empty));
    let e = err(s.find_remotes(&r, "e", &["a\0b".into()]).await, "NUL");
    assert_eq!(field(e), ("remote_id", FieldProblem::Nul { at: 1 }));
    let e = err(s.find_remotes(&r, "e", &["x".repeat(256)]).await, "long id");
    assert_eq!(field(e), ("remote_id", FieldProblem::TooLong { len: 256 }));
    let e = err(s.find_remotes(&r, "", &["x".into()]).await, "empty entity");
    assert_eq!(field(e), ("entity", FieldProblem::Empty));
    let e = err(s.find_locals("", &["x".into()], None).await, "empty class");
    assert_eq!(field(e), ("class_name", FieldProblem::Empty));
    let e = err(
        s.find_locals("C", &["x".repeat(300)], Some(&r)).await,
        "long local id",
    );
    assert_eq!(field(e), ("local_id", FieldProblem::TooLong { len: 300 }));
    let too_many = vec!["x".to_owned(); MAX_BATCH + 1];
    assert!(matches!(
        err(s.find_remotes(&r, "e", &too_many).await, "too many ids"),
        IdMapError::Limit { found, .. } if found == MAX_BATCH + 1
    ));
    assert!(matches!(
        err(s.find_locals("C", &too_many, None).await, "too many ids"),
        IdMapError::Limit { .. }
    ));
}

async fn listing_pages_through_one_realm(s: &Store) {
    let re = realm("conformance-list", "realm-e");
    let mut all = Vec::new();
    for i in 0..10 {
        all.push(IdMap::new(
            local("ListA", &i.to_string()),
            remote(&re, "a-entity", &format!("r{i:02}")),
            T0,
        ));
    }
    for i in 0..15 {
        all.push(IdMap::new(
            local("ListB", &i.to_string()),
            remote(&re, "b-entity", &format!("r{i:02}")),
            T0,
        ));
    }
    // Reverse insertion order, so a store returning rows by insertion fails.
    for map in all.iter().rev() {
        ok(s.link(map.clone()).await, "link");
    }
    // Neighbours that must never show up.
    for (p, r) in [
        ("conformance-list", "realm-d"),
        ("conformance-list", "realm-f"),
        ("conformance-list", "realm-e0"),
        ("conformance-lisu", "realm-e"),
        ("conformance-lis", "realm-e"),
    ] {
        let neighbour = realm(p, r);
        ok(
            s.link(IdMap::new(
                local("ListN", &format!("{p}/{r}")),
                remote(&neighbour, "a-entity", "r05"),
                T0,
            ))
            .await,
            "link",
        );
    }

    let mut seen = Vec::new();
    let mut page = PageRequest::first(10);
    let mut sizes = Vec::new();
    loop {
        let IdMapPage { items, next } = ok(s.list(&re, &page).await, "list");
        sizes.push(items.len());
        seen.extend(items);
        match next {
            Some(cursor) => page = PageRequest::after(cursor, 10),
            None => break,
        }
        assert!(sizes.len() <= 3, "three pages at most");
    }
    assert_eq!(sizes, vec![10, 10, 5]);
    assert_eq!(
        seen, all,
        "ordered by entity then remote id, each link once"
    );

    let exact = ok(s.list(&re, &PageRequest::first(25)).await, "list");
    assert_eq!(exact.items.len(), 25);
    assert_eq!(exact.next, None, "no next page when the rows end exactly");
    let short = ok(s.list(&re, &PageRequest::first(24)).await, "list");
    assert_eq!(
        short.next,
        Some(PageCursor::after(&all[23])),
        "next points after the last link"
    );

    // A cursor between existing ids (its link may have been removed since).
    let cursor = PageCursor::new("a-entity", "r04x").expect("valid cursor");
    let page = ok(s.list(&re, &PageRequest::after(cursor, 3)).await, "list");
    let ids: Vec<&str> = page.items.iter().map(|m| m.remote.remote_id()).collect();
    assert_eq!(ids, vec!["r05", "r06", "r07"]);
    let cursor = PageCursor::new("b-entity", "r14").expect("valid cursor");
    let page = ok(s.list(&re, &PageRequest::after(cursor, 3)).await, "list");
    assert_eq!(page.items, vec![]);
    assert_eq!(page.next, None);

    let empty = ok(
        s.list(
            &realm("conformance-list", "nothing"),
            &PageRequest::first(5),
        )
        .await,
        "list",
    );
    assert_eq!((empty.items, empty.next), (vec![], None));

    for limit in [0, MAX_PAGE_SIZE + 1] {
        assert!(matches!(
            err(s.list(&re, &PageRequest::first(limit)).await, "bad limit"),
            IdMapError::Limit { found, .. } if found == limit
        ));
    }
    let full = ok(
        s.list(&re, &PageRequest::first(MAX_PAGE_SIZE)).await,
        "list",
    );
    assert_eq!(full.items.len(), 25);
}

async fn timestamps_are_utc_microseconds(s: &Store) {
    let r = realm("conformance-time", "realm-a");
    let created = datetime!(2024-06-30 23:59:59.999_999_999 +02:00);
    let updated = datetime!(2024-07-01 00:00:00.000_001_500 -05:30);
    let mut map = IdMap::new(local("T", "1"), remote(&r, "t", "1"), created)
        .with_pushed_to_remote_at(datetime!(1970-01-01 0:00 UTC))
        .with_pulled_from_remote_at(datetime!(2262-04-12 0:00 UTC));
    map.updated_at = updated;
    let stored = ok(s.link(map.clone()).await, "link");
    let expected = map.clone().normalized();
    assert_eq!(
        stored.created_at,
        datetime!(2024-06-30 21:59:59.999_999 UTC),
        "truncated to the microsecond"
    );
    assert_eq!(stored, expected);
    let found = ok(s.find_remote(&map.remote).await, "find_remote").expect("linked");
    assert_eq!(found, expected);
    for t in [
        found.created_at,
        found.updated_at,
        found.pushed_to_remote_at.expect("set"),
        found.pulled_from_remote_at.expect("set"),
    ] {
        assert_eq!(
            t.offset(),
            time::UtcOffset::UTC,
            "timestamps come back in UTC"
        );
        assert_eq!(t, normalize_time(t));
    }
}

async fn metadata_round_trips_and_is_bounded(s: &Store) {
    let r = realm("conformance-meta", "realm-a");
    let values = [
        json!({"nested": {"list": [1, -2, 3.5, true, null, "é🚀"]}, "big": i64::MAX, "neg": i64::MIN}),
        json!(["a", {"b": []}]),
        json!("just a string with 'quotes' and \"doubles\""),
        json!(0),
        json!(null),
        json!({}),
    ];
    for (i, value) in values.iter().enumerate() {
        let map = IdMap::new(
            local("M", &i.to_string()),
            remote(&r, "m", &i.to_string()),
            T0,
        )
        .with_metadata(value.clone());
        let stored = ok(s.link(map.clone()).await, "link with metadata");
        assert_eq!(stored.metadata.as_ref(), Some(value));
        let found = ok(s.find_remote(&map.remote).await, "find_remote").expect("linked");
        assert_eq!(
            found.metadata.as_ref(),
            Some(value),
            "metadata {value} round-trips"
        );
    }
    let none = IdMap::new(local("M", "none"), remote(&r, "m", "none"), T0);
    ok(s.link(none.clone()).await, "link without metadata");
    let found = ok(s.find_remote(&none.remote).await, "find_remote").expect("linked");
    assert_eq!(found.metadata, None, "no metadata is not JSON null");

    let huge = IdMap::new(local("M", "huge"), remote(&r, "m", "huge"), T0)
        .with_metadata(json!("x".repeat(MAX_METADATA_BYTES)));
    assert!(matches!(
        err(s.link(huge.clone()).await, "oversized metadata"),
        IdMapError::Limit {
            max: MAX_METADATA_BYTES,
            ..
        }
    ));
    assert_eq!(
        ok(s.find_remote(&huge.remote).await, "find_remote"),
        None,
        "nothing written"
    );
}

async fn hostile_text_is_data(s: &Store) {
    let texts: Vec<String> = vec![
        "'; DROP TABLE maestrano_id_maps; --".into(),
        "\"quoted\" \\ back\\slash".into(),
        "100%_".into(),
        "100%".into(),
        "*?[]$1:name@name".into(),
        "  spaced  ".into(),
        "line\nbreak\ttab\r".into(),
        "ünïcödé 🚀 中文".into(),
        "x".repeat(255),
        "é".repeat(127) + "x",
        "ABC".into(),
        "abc".into(),
    ];
    for (i, text) in texts.iter().enumerate() {
        let r = realm(&format!("conformance-hostile-{i}"), text);
        let map = IdMap::new(local(text, text), remote(&r, text, text), T0);
        ok(s.link(map.clone()).await, "link hostile text");
        assert_eq!(
            ok(s.find_remote(&map.remote).await, "find_remote"),
            Some(map.clone()),
            "{text:?} is stored and found exactly"
        );
        assert_eq!(
            ok(s.links_of(&map.local).await, "links_of"),
            vec![map.clone()]
        );
        assert_eq!(
            ok(
                s.find_remotes(&r, text, std::slice::from_ref(text)).await,
                "find_remotes"
            ),
            vec![map.clone()]
        );
        assert_eq!(
            ok(
                s.find_locals(text, std::slice::from_ref(text), Some(&r))
                    .await,
                "find_locals"
            ),
            vec![map.clone()]
        );
        let page = ok(s.list(&r, &PageRequest::first(5)).await, "list");
        assert_eq!(page.items, vec![map]);
    }
    // No pattern matching: `100%` matches itself only.
    let r = realm("conformance-hostile-2", "100%_");
    assert_eq!(
        ok(
            s.find_remotes(&r, "100%_", &["100%".into(), "100".into(), "100%__".into()])
                .await,
            "find_remotes"
        ),
        vec![]
    );
    assert_eq!(
        ok(s.links_of(&local("100%", "100%_")).await, "links_of"),
        vec![]
    );
}

/// Two tasks race to run `a` and `b` from a barrier; returns both results.
async fn race(
    s: &Store,
    a: IdMap,
    b: IdMap,
) -> (Result<IdMap, IdMapError>, Result<IdMap, IdMapError>) {
    let barrier = Arc::new(Barrier::new(2));
    let spawn = |map: IdMap| {
        let (s, barrier) = (Arc::clone(s), Arc::clone(&barrier));
        tokio::spawn(async move {
            barrier.wait().await;
            s.link(map).await
        })
    };
    let (ta, tb) = (spawn(a), spawn(b));
    let ra = ta.await.expect("task a did not panic");
    let rb = tb.await.expect("task b did not panic");
    (ra, rb)
}

async fn concurrent_links_of_one_remote_id(s: &Store) {
    let r = realm("conformance-race", "realm-a");
    for round in 0..16 {
        let x = remote(&r, "orders", &format!("x{round}"));
        let a = IdMap::new(local("RaceOrder", &format!("{round}-a")), x.clone(), T0);
        let b = IdMap::new(local("RaceOrder", &format!("{round}-b")), x.clone(), T1);
        let (winner, loser, conflict) = match race(s, a.clone(), b.clone()).await {
            (Ok(w), Err(e)) => (w, &b, e),
            (Err(e), Ok(w)) => (w, &a, e),
            (ra, rb) => panic!("round {round}: expected one winner, got {ra:?} and {rb:?}"),
        };
        match conflict {
            IdMapError::Conflict(c) => {
                let RemoteConflict {
                    remote,
                    existing,
                    requested,
                } = *c;
                assert_eq!(remote, x);
                assert_eq!(existing, winner.local, "the conflict names the winner");
                assert_eq!(requested, loser.local);
            }
            other => panic!("round {round}: expected a Conflict, got {other:?}"),
        }
        let stored = ok(s.find_remote(&x).await, "find_remote").expect("linked");
        assert_eq!(stored, winner, "round {round}: the winner's link, whole");
        assert_eq!(
            ok(s.links_of(&loser.local).await, "links_of"),
            vec![],
            "round {round}: nothing of the loser"
        );
    }
}

async fn concurrent_links_of_one_local_record(s: &Store) {
    let r = realm("conformance-race-local", "realm-a");
    for round in 0..16 {
        let l = local("RaceLocalOrder", &round.to_string());
        let a = IdMap::new(l.clone(), remote(&r, "orders", &format!("{round}-a")), T0);
        let b = IdMap::new(l.clone(), remote(&r, "orders", &format!("{round}-b")), T1);
        let (winner, loser) = match race(s, a.clone(), b.clone()).await {
            (Ok(w), Err(IdMapError::LocalConflict(c))) => {
                assert_eq!(c.existing, a.remote);
                (w, b)
            }
            (Err(IdMapError::LocalConflict(c)), Ok(w)) => {
                assert_eq!(c.existing, b.remote);
                (w, a)
            }
            (ra, rb) => panic!(
                "round {round}: expected one winner and one LocalConflict, got {ra:?} and {rb:?}"
            ),
        };
        assert_eq!(ok(s.links_of(&l).await, "links_of"), vec![winner]);
        assert_eq!(ok(s.find_remote(&loser.remote).await, "find_remote"), None);
    }
}

async fn concurrent_identical_links(s: &Store) {
    let r = realm("conformance-race-same", "realm-a");
    for round in 0..8 {
        let map = IdMap::new(
            local("RaceSameOrder", &round.to_string()),
            remote(&r, "orders", &round.to_string()),
            T0,
        );
        let (ra, rb) = race(s, map.clone(), map.clone()).await;
        assert_eq!(ok(ra, "first of two identical links"), map);
        assert_eq!(ok(rb, "second of two identical links"), map);
        assert_eq!(ok(s.links_of(&map.local).await, "links_of"), vec![map]);
    }
}

async fn concurrent_distinct_links(s: &Store) {
    let r = realm("conformance-race-many", "realm-a");
    let tasks: Vec<_> = (0..8)
        .map(|t| {
            let s = Arc::clone(s);
            let r = r.clone();
            tokio::spawn(async move {
                for i in 0..25 {
                    let id = format!("{t}-{i:02}");
                    let map = IdMap::new(local("RaceLine", &id), remote(&r, "lines", &id), T0);
                    s.link(map).await?;
                }
                Ok::<(), IdMapError>(())
            })
        })
        .collect();
    for task in tasks {
        ok(task.await.expect("task did not panic"), "concurrent link");
    }
    let page = ok(s.list(&r, &PageRequest::first(MAX_PAGE_SIZE)).await, "list");
    assert_eq!(page.items.len(), 200, "every concurrent link is stored");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idmap::InMemoryIdMapStore;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn in_memory_store_passes() {
        run(Arc::new(InMemoryIdMapStore::new())).await;
    }
}
