//! The push outbox conformance suite on every store that ships: in memory, two connections
//! to one SQLite file, two pools on the real PostgreSQL.

use std::sync::Arc;

use maestrano::adapters::{PostgresOptions, PostgresStore, SqliteStore};
use maestrano::idmap::{InMemoryIdMapStore, LocalRef, OutboxError, PushIntent, Realm};
use maestrano::test_util::outbox_conformance;
use serde_json::json;

use crate::idmap_support::{postgres_url, with_schema};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_in_memory_outbox_keeps_the_contract() {
    let store = Arc::new(InMemoryIdMapStore::new());
    outbox_conformance::run(store.clone(), store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sqlite_outbox_keeps_the_contract_across_two_instances() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("outbox.sqlite3");
    outbox_conformance::run(
        Arc::new(SqliteStore::open(&path).unwrap()),
        Arc::new(SqliteStore::open(&path).unwrap()),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_postgres_outbox_keeps_the_contract_across_two_instances() {
    let Some(url) = postgres_url("the_postgres_outbox_keeps_the_contract") else {
        return;
    };
    with_schema(&url, "outbox", |url, schema| async move {
        let open = || async {
            PostgresStore::connect_with(&url, PostgresOptions::new().schema(schema.clone()))
                .await
                .expect("connect to the test database")
        };
        outbox_conformance::run(Arc::new(open().await), Arc::new(open().await)).await;
    })
    .await;
}

#[test]
fn an_intent_is_checked_before_any_store_sees_it() {
    let local = LocalRef::new("Invoice", "1").unwrap();
    let realm = Realm::new("acme-corp", "cld-1").unwrap();
    let err = PushIntent::new(local.clone(), realm.clone(), "invoices", json!([1, 2])).unwrap_err();
    assert!(
        matches!(&err, OutboxError::Payload { found, .. } if found == "an array"),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "invalid push payload: expected a JSON object, found an array"
    );
    let big = json!({"notes": "x".repeat(maestrano::idmap::MAX_PUSH_PAYLOAD_BYTES)});
    let err = PushIntent::new(local.clone(), realm.clone(), "invoices", big).unwrap_err();
    assert!(
        err.to_string().contains("expected at most 262144 bytes"),
        "{err}"
    );
    let err = PushIntent::new(local, realm, "", json!({})).unwrap_err();
    assert!(err.to_string().contains("invalid entity"), "{err}");
}
