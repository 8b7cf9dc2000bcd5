//! The SQLite adapter: the conformance suite on a file and in memory, persistence, WAL,
//! several connections on one file, schema versions, and the single-use store.
#![cfg(feature = "sqlite")]

use crate::idmap_support;

use std::sync::Arc;

use idmap_support::{SCHEMA_VERSION, T0, key};
use maestrano::adapters::SqliteStore;
use maestrano::idmap::{IdMap, IdMapError, IdMapStore, LocalRef, Realm, RemoteRef};
use maestrano::ports::SingleUseStore;
use maestrano::test_util::idmap_conformance as conformance;
use maestrano::test_util::single_use_conformance;
use time::Duration;
use tokio::sync::Barrier;

fn link(class: &str, id: &str, remote_id: &str) -> IdMap {
    IdMap::new(
        LocalRef::new(class, id).unwrap(),
        RemoteRef::new(
            Realm::new("acme-corp", "cld-1").unwrap(),
            "people",
            remote_id,
        )
        .unwrap(),
        T0,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_in_memory_store_passes_conformance() {
    conformance::run(Arc::new(SqliteStore::open_in_memory().unwrap())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_file_store_passes_conformance() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("idmap.sqlite3")).unwrap();
    conformance::run(Arc::new(store)).await;
}

#[tokio::test]
async fn sqlite_file_persists_across_reopen_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.sqlite3");
    let map = link("Person", "1", "p-1").with_metadata(serde_json::json!({"etag": "x"}));
    {
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.schema_version().await.unwrap(), SCHEMA_VERSION);
        store.link(map.clone()).await.unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(
        store.schema_version().await.unwrap(),
        SCHEMA_VERSION,
        "no step re-run"
    );
    assert_eq!(store.find_remote(&map.remote).await.unwrap(), Some(map));

    let conn = rusqlite::Connection::open(&path).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    // The unique keys are the database's, not only the adapter's.
    let dup = conn.execute(
        "INSERT INTO maestrano_id_maps (class_name, local_id, provider, realm, entity, \
         remote_id, created_at, updated_at) \
         VALUES ('Other', '9', 'acme-corp', 'cld-1', 'people', 'p-1', 0, 0)",
        [],
    );
    assert!(dup.is_err(), "a second link of p-1 is refused by SQLite");
    let empty = conn.execute(
        "INSERT INTO maestrano_id_maps (class_name, local_id, provider, realm, entity, \
         remote_id, created_at, updated_at) VALUES ('', '9', 'p', 'r', 'e', 'x', 0, 0)",
        [],
    );
    assert!(empty.is_err(), "an empty class name is refused by SQLite");
}

#[tokio::test]
async fn sqlite_refuses_a_schema_newer_than_it_knows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("newer.sqlite3");
    drop(SqliteStore::open(&path).unwrap());
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute(
            &format!(
                "INSERT INTO maestrano_schema_migrations (version, name) VALUES ({}, 'future')",
                SCHEMA_VERSION + 1
            ),
            [],
        )
        .unwrap();
    let e = SqliteStore::open(&path).unwrap_err();
    assert_eq!(e.to_string(), "id map store failed to migrate the schema");
    let source = std::error::Error::source(&e).unwrap().to_string();
    assert_eq!(
        source,
        format!(
            "the database schema is at version {}, newer than this SDK supports (at most {SCHEMA_VERSION})",
            SCHEMA_VERSION + 1
        )
    );
}

#[tokio::test]
async fn sqlite_open_reports_an_unusable_path() {
    let dir = tempfile::tempdir().unwrap();
    let e = SqliteStore::open(dir.path().join("missing-dir").join("x.sqlite3")).unwrap_err();
    assert!(
        matches!(
            e,
            IdMapError::Store {
                operation: "open the database",
                ..
            }
        ),
        "{e:?}"
    );
}

/// Two stores (two connections, as two application instances would have) on one file race to
/// link the same remote id: one wins, the other gets the conflict.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_two_connections_on_one_file_race_to_one_winner() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.sqlite3");
    let a: Arc<dyn IdMapStore> = Arc::new(SqliteStore::open(&path).unwrap());
    let b: Arc<dyn IdMapStore> = Arc::new(SqliteStore::open(&path).unwrap());
    for round in 0..20 {
        let rid = format!("p-{round}");
        let barrier = Arc::new(Barrier::new(2));
        let go = |store: &Arc<dyn IdMapStore>, map: IdMap| {
            let (store, barrier) = (Arc::clone(store), Arc::clone(&barrier));
            tokio::spawn(async move {
                barrier.wait().await;
                store.link(map).await
            })
        };
        let ta = go(&a, link("Person", &format!("{round}-a"), &rid));
        let tb = go(&b, link("Person", &format!("{round}-b"), &rid));
        let (ra, rb) = (ta.await.unwrap(), tb.await.unwrap());
        let winner = match (ra, rb) {
            (Ok(w), Err(IdMapError::Conflict(c))) | (Err(IdMapError::Conflict(c)), Ok(w)) => {
                assert_eq!(c.existing, w.local);
                w
            }
            (ra, rb) => panic!("round {round}: expected one winner, got {ra:?} and {rb:?}"),
        };
        // Each connection sees the winner's link.
        for store in [&a, &b] {
            assert_eq!(
                store.find_remote(&winner.remote).await.unwrap().as_ref(),
                Some(&winner)
            );
        }
    }
}

/// The single-use contract on one file opened twice, as two application instances on one
/// host would (two connections, two WAL readers, one writer at a time), and on a private
/// in-memory database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_single_use_store_keeps_the_contract_across_two_instances() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("single-use.sqlite3");
    single_use_conformance::run(
        Arc::new(SqliteStore::open(&path).unwrap()),
        Arc::new(SqliteStore::open(&path).unwrap()),
    )
    .await;
    let memory = Arc::new(SqliteStore::open_in_memory().unwrap());
    single_use_conformance::run(memory.clone(), memory).await;
}

#[tokio::test]
async fn sqlite_single_use_store_purges_expired_entries() {
    let store = SqliteStore::open_in_memory()
        .unwrap()
        .with_purge_interval(Duration::minutes(1));
    let soon = T0 + Duration::seconds(30);
    let later = T0 + Duration::hours(1);
    // The first insert purges (nothing yet) and starts the interval.
    for i in 0..3 {
        assert!(
            store
                .insert_if_absent(&key("idp", &format!("_old{i}")), soon, T0)
                .await
                .unwrap()
        );
    }
    assert!(
        store
            .insert_if_absent(&key("idp", "_live"), later, T0)
            .await
            .unwrap()
    );
    assert_eq!(
        store.purge_expired(T0).await.unwrap(),
        0,
        "nothing expired yet"
    );
    assert_eq!(
        store.purge_expired(soon).await.unwrap(),
        3,
        "the three short-lived entries"
    );
    assert_eq!(store.purge_expired(soon).await.unwrap(), 0);

    // Within the interval no purge runs on insert; after it, one does.
    for i in 0..2 {
        store
            .insert_if_absent(
                &key("idp", &format!("_old{i}")),
                soon + Duration::seconds(1),
                T0 + Duration::seconds(59),
            )
            .await
            .unwrap();
    }
    let after = soon + Duration::seconds(1);
    store
        .insert_if_absent(&key("idp", "_trigger"), later, T0 + Duration::minutes(2))
        .await
        .unwrap();
    assert_eq!(
        store.purge_expired(after).await.unwrap(),
        0,
        "the insert after the interval already purged them"
    );
    assert!(
        !store
            .insert_if_absent(&key("idp", "_live"), later, T0 + Duration::minutes(2))
            .await
            .unwrap(),
        "unexpired entries survive purges"
    );
}

/// Outside a Tokio runtime the store runs its calls on the calling thread.
#[test]
fn sqlite_store_works_without_a_tokio_runtime() {
    use std::future::Future;
    use std::pin::pin;
    use std::sync::Arc as StdArc;
    use std::task::{Context, Poll, Wake, Waker};

    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: StdArc<Self>) {
            self.0.unpark();
        }
    }
    fn block_on<F: Future>(f: F) -> F::Output {
        let waker = Waker::from(StdArc::new(Unpark(std::thread::current())));
        let mut cx = Context::from_waker(&waker);
        let mut f = pin!(f);
        loop {
            if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
            std::thread::park();
        }
    }

    let store = SqliteStore::open_in_memory().unwrap();
    let map = link("Person", "1", "p-1");
    block_on(store.link(map.clone())).unwrap();
    assert_eq!(block_on(store.find_remote(&map.remote)).unwrap(), Some(map));
}

/// The configuration cache in the same file as the links: empty, saved, replaced, read by a
/// second connection.
#[tokio::test]
async fn sqlite_keeps_the_last_good_configuration() {
    use maestrano::config::{CachedConfig, ConfigCache};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.sqlite3");
    let a = SqliteStore::open(&path).unwrap();
    assert_eq!(a.load().await.unwrap(), None);
    a.save(&CachedConfig::new(br#"{"marketplaces": [1]}"#.to_vec(), T0))
        .await
        .unwrap();
    let two = CachedConfig::new(
        br#"{"marketplaces": [2]}"#.to_vec(),
        T0 + Duration::microseconds(1),
    );
    a.save(&two).await.unwrap();
    let b = SqliteStore::open(&path).unwrap();
    assert_eq!(b.load().await.unwrap(), Some(two));
}
