//! The delivery ledger on every store that ships (in memory, two connections to one SQLite
//! file, two pools on the real PostgreSQL), through the conformance suite, and with the
//! platform's notification shape.

use maestrano::MarketplaceKey;
use maestrano::adapters::{PostgresOptions, PostgresStore, SqliteStore};
use maestrano::idmap::{FieldError, IdMapError};
use maestrano::test_util::delivery_conformance;
use maestrano::webhook::{
    Delivery, DeliveryKey, DeliveryLedger, DeliveryOutcome, DeliveryRecord, DeliveryStep,
    DeliveryStore,
};
use std::sync::Arc;
use time::macros::datetime;

use crate::idmap_support::{postgres_url, with_schema};

const MNO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/maestrano/");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_in_memory_ledger_keeps_the_contract() {
    let ledger = DeliveryLedger::in_memory();
    delivery_conformance::run(ledger.clone(), ledger).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sqlite_ledger_keeps_the_contract_across_two_instances() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite3");
    delivery_conformance::run(
        DeliveryLedger::new(Arc::new(SqliteStore::open(&path).unwrap())),
        DeliveryLedger::new(Arc::new(SqliteStore::open(&path).unwrap())),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_postgres_ledger_keeps_the_contract_across_two_instances() {
    let Some(url) = postgres_url("the_postgres_ledger_keeps_the_contract") else {
        return;
    };
    with_schema(&url, "ledger", |url, schema| async move {
        let open = || async {
            PostgresStore::connect_with(&url, PostgresOptions::new().schema(schema.clone()))
                .await
                .expect("connect to the test database")
        };
        delivery_conformance::run(
            DeliveryLedger::new(Arc::new(open().await)),
            DeliveryLedger::new(Arc::new(open().await)),
        )
        .await;
    })
    .await;
}

fn platform_person() -> maestrano::connec::Entity {
    let notification = maestrano::__private::parse_notification(
        &std::fs::read(format!("{MNO}shapes/connec/notification-two-kinds.json")).unwrap(),
        1 << 20,
    )
    .unwrap();
    notification.kinds["people"][0].clone()
}

/// The issue 15 loss: the platform renders `updated_at` to whole seconds in places, so two
/// edits within one second carry the same `updated_at`; the second is a different version and
/// is applied, and each is then skipped when redelivered.
#[tokio::test]
async fn a_second_edit_within_the_same_second_is_applied() {
    let ledger = DeliveryLedger::in_memory();
    let m = MarketplaceKey::new("maestrano-uat").unwrap();
    let now = datetime!(2024-01-01 0:00 UTC);
    let mut first = platform_person();
    first.insert("updated_at", serde_json::json!("2016-02-03T22:40:12Z"));
    let mut second = first.clone();
    second.insert("last_name", serde_json::json!("Doe-Smith"));
    for (entity, what) in [
        (&first, "first edit"),
        (&second, "second edit, same second"),
    ] {
        let Delivery::Apply(claim) = ledger.claim(&m, "people", entity, now).await.unwrap() else {
            panic!("{what} must be applied");
        };
        assert!(claim.complete().await.unwrap());
    }
    for entity in [&first, &second] {
        assert!(matches!(
            ledger.claim(&m, "people", entity, now).await.unwrap(),
            Delivery::AlreadyApplied
        ));
    }
    let mut older = first.clone();
    older.insert("updated_at", serde_json::json!("2016-02-03T22:40:11.999Z"));
    assert!(matches!(
        ledger.claim(&m, "people", &older, now).await.unwrap(),
        Delivery::Stale
    ));
}

#[tokio::test]
async fn untracked_and_oversized_entities_are_told_apart() {
    let ledger = DeliveryLedger::in_memory();
    let m = MarketplaceKey::new("maestrano-uat").unwrap();
    let now = datetime!(2024-01-01 0:00 UTC);
    let person = platform_person();
    // Connector-rails' notification has no id array: nothing tells two deliveries apart.
    let mut no_id = person.clone();
    no_id.fields_mut().remove("id");
    assert!(matches!(
        ledger.claim(&m, "people", &no_id, now).await.unwrap(),
        Delivery::Untracked
    ));
    let mut huge_id = person.clone();
    huge_id.insert(
        "id",
        serde_json::json!([{"id": "x".repeat(100_000), "provider": "connec", "realm": "org"}]),
    );
    let huge_kind = "k".repeat(100_000);
    for (kind, entity, field) in [
        (huge_kind.as_str(), &person, "entity"),
        ("people", &huge_id, "remote_id"),
    ] {
        let r = ledger.claim(&m, kind, entity, now).await;
        assert!(
            matches!(&r, Err(IdMapError::Field(FieldError { field: f, .. })) if *f == field),
            "{field}: {r:?}"
        );
    }
}

/// A store that reads, then writes, without holding a lock across the two: what a
/// hand-written store on a plain key-value table would do.
#[derive(Debug, Default)]
struct CheckThenWrite {
    records: std::sync::Mutex<std::collections::HashMap<DeliveryKey, DeliveryRecord>>,
}

#[async_trait::async_trait]
impl DeliveryStore for CheckThenWrite {
    async fn apply(
        &self,
        key: &DeliveryKey,
        step: &DeliveryStep,
    ) -> Result<DeliveryOutcome, IdMapError> {
        let stored = self.records.lock().unwrap().get(key).cloned();
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        let (outcome, changed) = step.run(stored);
        if let Some(record) = changed {
            self.records.lock().unwrap().insert(key.clone(), record);
        }
        Ok(outcome)
    }

    async fn erase(
        &self,
        marketplace: &maestrano::MarketplaceKey,
        group: Option<&str>,
    ) -> Result<u64, IdMapError> {
        let mut records = self.records.lock().unwrap();
        let before = records.len();
        records.retain(|k, _| {
            !(k.marketplace() == marketplace && group.is_none_or(|g| k.group() == g))
        });
        Ok((before - records.len()) as u64)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_suite_fails_a_store_that_checks_then_writes() {
    let ledger = DeliveryLedger::new(Arc::new(CheckThenWrite::default()));
    let outcome = tokio::spawn(delivery_conformance::run(ledger.clone(), ledger)).await;
    let panic = outcome.expect_err("the suite must fail");
    let message = panic
        .into_panic()
        .downcast::<String>()
        .map(|s| *s)
        .unwrap_or_default();
    assert!(message.contains("one claim wins"), "{message}");
}
