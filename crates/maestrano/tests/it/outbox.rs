//! The push outbox conformance suite on every store that ships (in memory, two connections
//! to one SQLite file, two pools on the real PostgreSQL), and its failure on outboxes that
//! break the contract the way a hand-written one would.

use std::sync::Arc;

use async_trait::async_trait;
use maestrano::adapters::{PostgresOptions, PostgresStore, SqliteStore};
use maestrano::idmap::{
    Backlog, ClaimedPush, Completion, FailedPush, IdMap, IdMapError, IdMapPage, IdMapStore,
    InMemoryIdMapStore, LocalRef, OutboxError, PageRequest, PushId, PushIntent, PushOutbox, Realm,
    RemoteRef,
};
use maestrano::test_util::outbox_conformance;
use serde_json::json;
use time::{Duration, OffsetDateTime};

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

/// How a hand-written outbox typically goes wrong.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Flaw {
    /// Claims whatever is due, leased or not: two workers send one push.
    ClaimIgnoresTheLease,
    /// Links, then removes the push, in two steps, without checking the claim first: a
    /// worker whose lease was taken over still links.
    LinksBeforeCheckingTheClaim,
    /// A new enqueue of a record in flight is dropped: the newer payload never goes out.
    DropsEnqueuesInFlight,
}

#[derive(Debug)]
struct Flawed {
    flaw: Flaw,
    inner: InMemoryIdMapStore,
    handed: std::sync::Mutex<Vec<ClaimedPush>>,
    queued: std::sync::Mutex<std::collections::HashMap<(LocalRef, Realm), PushId>>,
}

#[async_trait]
impl IdMapStore for Flawed {
    async fn links_of(&self, local: &LocalRef) -> Result<Vec<IdMap>, IdMapError> {
        self.inner.links_of(local).await
    }
    async fn links_in(&self, local: &LocalRef, realm: &Realm) -> Result<Vec<IdMap>, IdMapError> {
        self.inner.links_in(local, realm).await
    }
    async fn find_remote(&self, remote: &RemoteRef) -> Result<Option<IdMap>, IdMapError> {
        self.inner.find_remote(remote).await
    }
    async fn find_remotes(
        &self,
        realm: &Realm,
        entity: &str,
        ids: &[String],
    ) -> Result<Vec<IdMap>, IdMapError> {
        self.inner.find_remotes(realm, entity, ids).await
    }
    async fn find_locals(
        &self,
        class_name: &str,
        ids: &[String],
        realm: Option<&Realm>,
    ) -> Result<Vec<IdMap>, IdMapError> {
        self.inner.find_locals(class_name, ids, realm).await
    }
    async fn link(&self, map: IdMap) -> Result<IdMap, IdMapError> {
        self.inner.link(map).await
    }
    async fn unlink(&self, remote: &RemoteRef) -> Result<bool, IdMapError> {
        self.inner.unlink(remote).await
    }
    async fn unlink_local(
        &self,
        local: &LocalRef,
        realm: Option<&Realm>,
    ) -> Result<u64, IdMapError> {
        self.inner.unlink_local(local, realm).await
    }
    async fn list(&self, realm: &Realm, page: &PageRequest) -> Result<IdMapPage, IdMapError> {
        self.inner.list(realm, page).await
    }
    async fn erase(&self, provider: &str, realm: Option<&str>) -> Result<u64, IdMapError> {
        self.inner.erase(provider, realm).await
    }
}

#[async_trait]
impl PushOutbox for Flawed {
    async fn enqueue(
        &self,
        intent: PushIntent,
        now: OffsetDateTime,
    ) -> Result<PushId, OutboxError> {
        if self.flaw == Flaw::DropsEnqueuesInFlight {
            // "Already queued": a record it has queued and not seen completed is skipped.
            let key = (intent.local().clone(), intent.realm().clone());
            if let Some(id) = self.queued.lock().unwrap().get(&key) {
                return Ok(*id);
            }
            let id = self.inner.enqueue(intent, now).await?;
            self.queued.lock().unwrap().insert(key, id);
            return Ok(id);
        }
        self.inner.enqueue(intent, now).await
    }
    async fn claim(
        &self,
        provider: Option<&str>,
        limit: usize,
        lease: Duration,
        now: OffsetDateTime,
    ) -> Result<Vec<ClaimedPush>, OutboxError> {
        let mut got = self.inner.claim(provider, limit, lease, now).await?;
        if self.flaw == Flaw::ClaimIgnoresTheLease {
            // Hands out again what it handed out before, held or not.
            let mut handed = self.handed.lock().unwrap();
            let again: Vec<ClaimedPush> = handed
                .iter()
                .filter(|p| provider.is_none_or(|pr| p.intent.realm().provider() == pr))
                .cloned()
                .collect();
            handed.extend(got.iter().cloned());
            got.extend(again);
        }
        Ok(got)
    }
    async fn complete(
        &self,
        push: &ClaimedPush,
        link: Option<IdMap>,
        now: OffsetDateTime,
    ) -> Result<Completion, OutboxError> {
        match (self.flaw, link) {
            (Flaw::LinksBeforeCheckingTheClaim, Some(map)) => {
                self.inner.link(map).await?;
                self.inner.complete(push, None, now).await
            }
            (_, link) => {
                let done = self.inner.complete(push, link, now).await?;
                if done == Completion::Done {
                    let key = (push.intent.local().clone(), push.intent.realm().clone());
                    self.queued.lock().unwrap().remove(&key);
                }
                Ok(done)
            }
        }
    }
    async fn retry_later(
        &self,
        push: &ClaimedPush,
        at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), OutboxError> {
        self.inner.retry_later(push, at, now).await
    }
    async fn fail(
        &self,
        push: &ClaimedPush,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<(), OutboxError> {
        self.inner.fail(push, reason, now).await
    }
    async fn failed(&self, realm: &Realm, limit: usize) -> Result<Vec<FailedPush>, OutboxError> {
        self.inner.failed(realm, limit).await
    }
    async fn discard(&self, id: PushId) -> Result<bool, OutboxError> {
        self.inner.discard(id).await
    }
    async fn backlog(&self) -> Result<Backlog, OutboxError> {
        self.inner.backlog().await
    }
    async fn erase_pushes(&self, provider: &str, realm: Option<&str>) -> Result<u64, OutboxError> {
        self.inner.erase_pushes(provider, realm).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_suite_fails_outboxes_that_break_the_contract() {
    // Each flaw is caught by the check written for it.
    for (flaw, caught_by) in [
        (
            Flaw::ClaimIgnoresTheLease,
            "a held push is not claimed again before its lease ends",
        ),
        (
            Flaw::LinksBeforeCheckingTheClaim,
            "the stale completion linked nothing",
        ),
        (
            Flaw::DropsEnqueuesInFlight,
            "a version enqueued in flight is kept",
        ),
    ] {
        let store = Arc::new(Flawed {
            flaw,
            inner: InMemoryIdMapStore::new(),
            handed: Default::default(),
            queued: Default::default(),
        });
        let outcome = tokio::spawn(outbox_conformance::run(store.clone(), store)).await;
        let message = match outcome {
            Err(e) if e.is_panic() => {
                let payload = e.into_panic();
                payload
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default()
            }
            _ => panic!("the suite passed an outbox with the flaw {flaw:?}"),
        };
        assert!(message.contains(caught_by), "{flaw:?}: {message}");
    }
}

fn intent(local: &str) -> PushIntent {
    PushIntent::new(
        LocalRef::new("Invoice", local).unwrap(),
        Realm::new("acme-corp", "cld-1").unwrap(),
        "invoices",
        json!({"title": local}),
    )
    .unwrap()
}

const NOW: OffsetDateTime = time::macros::datetime!(2024-05-01 12:00 UTC);

#[tokio::test]
async fn sqlite_enqueues_inside_the_apps_own_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.sqlite3");
    let store = SqliteStore::open(&path).unwrap();
    let mut app = maestrano::adapters::rusqlite::Connection::open(&path).unwrap();
    app.execute_batch("CREATE TABLE invoices (id TEXT PRIMARY KEY, title TEXT)")
        .unwrap();

    // Rolled back: neither the record nor its push.
    let tx = app.transaction().unwrap();
    tx.execute("INSERT INTO invoices VALUES ('1', 'INV-1')", [])
        .unwrap();
    SqliteStore::enqueue_in_transaction(&tx, intent("1"), NOW).unwrap();
    drop(tx);
    assert_eq!(store.backlog().await.unwrap().pending, 0);

    // Committed: both.
    let tx = app.transaction().unwrap();
    tx.execute("INSERT INTO invoices VALUES ('1', 'INV-1')", [])
        .unwrap();
    let id = SqliteStore::enqueue_in_transaction(&tx, intent("1"), NOW).unwrap();
    tx.commit().unwrap();
    let claimed = store
        .claim(Some("acme-corp"), 10, Duration::minutes(5), NOW)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!((claimed[0].id, &claimed[0].intent), (id, &intent("1")));
}

#[tokio::test]
async fn postgres_enqueues_inside_the_apps_own_transaction() {
    let Some(url) = postgres_url("postgres_enqueues_inside_the_apps_own_transaction") else {
        return;
    };
    with_schema(&url, "outbox_tx", |url, schema| async move {
        let store =
            PostgresStore::connect_with(&url, PostgresOptions::new().schema(schema.clone()))
                .await
                .unwrap();
        let (mut app, conn) = maestrano::adapters::tokio_postgres::connect(
            &url,
            maestrano::adapters::tokio_postgres::NoTls,
        )
        .await
        .unwrap();
        tokio::spawn(conn);
        app.batch_execute(&format!(
            "CREATE TABLE \"{schema}\".invoices (id TEXT PRIMARY KEY, title TEXT)"
        ))
        .await
        .unwrap();
        let insert = format!("INSERT INTO \"{schema}\".invoices VALUES ('1', 'INV-1')");

        let tx = app.transaction().await.unwrap();
        tx.execute(&insert, &[]).await.unwrap();
        store
            .enqueue_in_transaction(&tx, intent("1"), NOW)
            .await
            .unwrap();
        tx.rollback().await.unwrap();
        assert_eq!(
            store.backlog().await.unwrap().pending,
            0,
            "rolled back with the record"
        );

        let tx = app.transaction().await.unwrap();
        tx.execute(&insert, &[]).await.unwrap();
        let id = store
            .enqueue_in_transaction(&tx, intent("1"), NOW)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let claimed = store
            .claim(Some("acme-corp"), 10, Duration::minutes(5), NOW)
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1);
        assert_eq!((claimed[0].id, &claimed[0].intent), (id, &intent("1")));
    })
    .await;
}
