//! The PostgreSQL adapter, against the server named by `MAESTRANO_TEST_POSTGRES_URL` (each
//! test in its own schema, dropped afterwards). Without the variable the tests print a SKIPPED
//! line and return; under CI (`CI` set) they fail instead. `cargo test -- postgres` selects
//! them all.
#![cfg(feature = "postgres")]

use crate::idmap_support;

use std::sync::Arc;

use idmap_support::{SCHEMA_VERSION, T0, key, postgres_url, with_schema};
use maestrano::adapters::{PostgresOptions, PostgresStore, tokio_postgres};
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

async fn store(url: &str, schema: &str) -> PostgresStore {
    PostgresStore::connect_with(url, PostgresOptions::new().schema(schema))
        .await
        .expect("connect to the test database")
}

async fn admin(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_store_passes_conformance() {
    let Some(url) = postgres_url("postgres_store_passes_conformance") else {
        return;
    };
    with_schema(&url, "conformance", |url, schema| async move {
        conformance::run(Arc::new(store(&url, &schema).await)).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_single_use_store_keeps_the_contract_across_two_instances() {
    let Some(url) = postgres_url("postgres_single_use_store_keeps_the_contract") else {
        return;
    };
    with_schema(&url, "single_use", |url, schema| async move {
        // Two stores, two pools: two application instances on one database.
        single_use_conformance::run(
            Arc::new(store(&url, &schema).await),
            Arc::new(store(&url, &schema).await),
        )
        .await;
    })
    .await;
}

#[tokio::test]
async fn postgres_single_use_store_purges_expired_entries() {
    let Some(url) = postgres_url("postgres_single_use_store_purges_expired_entries") else {
        return;
    };
    with_schema(&url, "purge", |url, schema| async move {
        let store = PostgresStore::connect_with(
            &url,
            PostgresOptions::new()
                .schema(&schema)
                .purge_interval(Duration::minutes(1)),
        )
        .await
        .unwrap();
        let soon = T0 + Duration::seconds(30);
        let later = T0 + Duration::hours(1);
        for i in 0..3 {
            let k = key("idp", &format!("_old{i}"));
            assert!(store.insert_if_absent(&k, soon, T0).await.unwrap());
        }
        assert!(
            store
                .insert_if_absent(&key("idp", "_live"), later, T0)
                .await
                .unwrap()
        );
        assert_eq!(store.purge_expired(T0).await.unwrap(), 0);
        assert_eq!(store.purge_expired(soon).await.unwrap(), 3);

        let late = soon + Duration::seconds(1);
        for i in 0..2 {
            let k = key("idp", &format!("_old{i}"));
            let now = T0 + Duration::seconds(59);
            assert!(store.insert_if_absent(&k, late, now).await.unwrap());
        }
        let k = key("idp", "_trigger");
        store
            .insert_if_absent(&k, later, T0 + Duration::minutes(2))
            .await
            .unwrap();
        assert_eq!(
            store.purge_expired(late).await.unwrap(),
            0,
            "the insert after the interval already purged them"
        );
        let rows: i64 = admin(&url)
            .await
            .query_one(
                &format!("SELECT count(*) FROM \"{schema}\".maestrano_single_use"),
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(rows, 2, "_live and _trigger remain");
    })
    .await;
}

/// Instances starting together migrate once; a later SDK's schema is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_schema_is_migrated_once_and_newer_is_refused() {
    let Some(url) = postgres_url("postgres_schema_is_migrated_once_and_newer_is_refused") else {
        return;
    };
    with_schema(&url, "migrate", |url, schema| async move {
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let (url, schema) = (url.clone(), schema.clone());
                tokio::spawn(async move { store(&url, &schema).await })
            })
            .collect();
        for t in tasks {
            let s = t.await.unwrap();
            assert_eq!(s.schema_version().await.unwrap(), SCHEMA_VERSION);
        }
        let admin = admin(&url).await;
        let steps: i64 = admin
            .query_one(
                &format!("SELECT count(*) FROM \"{schema}\".maestrano_schema_migrations"),
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(steps, i64::from(SCHEMA_VERSION), "each step recorded once");
        admin
            .batch_execute(&format!(
                "INSERT INTO \"{schema}\".maestrano_schema_migrations VALUES ({}, 'future')",
                SCHEMA_VERSION + 1
            ))
            .await
            .unwrap();
        let e = PostgresStore::connect_with(&url, PostgresOptions::new().schema(&schema))
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), "id map store failed to migrate the schema");
        assert_eq!(
            std::error::Error::source(&e).unwrap().to_string(),
            format!(
                "the database schema is at version {}, newer than this SDK supports (at most {SCHEMA_VERSION})",
                SCHEMA_VERSION + 1
            )
        );
    })
    .await;
}

#[tokio::test]
async fn postgres_constraints_hold_outside_the_adapter() {
    let Some(url) = postgres_url("postgres_constraints_hold_outside_the_adapter") else {
        return;
    };
    with_schema(&url, "constraints", |url, schema| async move {
        let s = store(&url, &schema).await;
        s.link(link("Person", "1", "p-1")).await.unwrap();
        let admin = admin(&url).await;
        let insert = |class: &str, id: &str, rid: &str| {
            format!(
                "INSERT INTO \"{schema}\".maestrano_id_maps (class_name, local_id, provider, \
                 realm, entity, remote_id, created_at, updated_at) VALUES ('{class}', '{id}', \
                 'acme-corp', 'cld-1', 'people', '{rid}', now(), now())"
            )
        };
        for (what, sql) in [
            ("a second link of p-1", insert("Other", "9", "p-1")),
            (
                "a second people link of Person#1",
                insert("Person", "1", "p-2"),
            ),
            ("an empty local id", insert("Person", "", "p-3")),
        ] {
            assert!(
                admin.batch_execute(&sql).await.is_err(),
                "{what} is refused"
            );
        }
    })
    .await;
}

/// Two application instances (two pools) race to link one remote id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_instances_race_to_one_winner() {
    let Some(url) = postgres_url("postgres_two_instances_race_to_one_winner") else {
        return;
    };
    with_schema(&url, "instances", |url, schema| async move {
        let a: Arc<dyn IdMapStore> = Arc::new(store(&url, &schema).await);
        let b: Arc<dyn IdMapStore> = Arc::new(store(&url, &schema).await);
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
            let winner = match (ta.await.unwrap(), tb.await.unwrap()) {
                (Ok(w), Err(IdMapError::Conflict(c))) | (Err(IdMapError::Conflict(c)), Ok(w)) => {
                    assert_eq!(c.existing, w.local);
                    w
                }
                (ra, rb) => panic!("round {round}: expected one winner, got {ra:?} and {rb:?}"),
            };
            for store in [&a, &b] {
                assert_eq!(
                    store.find_remote(&winner.remote).await.unwrap().as_ref(),
                    Some(&winner)
                );
            }
        }
    })
    .await;
}

#[tokio::test]
async fn postgres_connect_reports_bad_settings() {
    let Some(url) = postgres_url("postgres_connect_reports_bad_settings") else {
        return;
    };
    let e = PostgresStore::connect_with(&url, PostgresOptions::new().schema("Bad-Name"))
        .await
        .unwrap_err();
    assert_eq!(
        std::error::Error::source(&e).unwrap().to_string(),
        "expected a schema name of 1 to 63 ASCII lowercase letters, digits and '_', not \
         starting with a digit, found \"Bad-Name\""
    );
    let e = PostgresStore::connect("postgres://postgres@127.0.0.1:notaport/test")
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            IdMapError::Store {
                operation: "parse the connection string",
                ..
            }
        ),
        "{e:?}"
    );
    // Nothing listens on port 1: a store error, quickly.
    let e = PostgresStore::connect_with(
        "postgres://postgres@127.0.0.1:1/test",
        PostgresOptions::new().timeout(std::time::Duration::from_secs(2)),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            e,
            IdMapError::Store {
                operation: "migrate the schema",
                ..
            }
        ),
        "{e:?}"
    );
}

/// The configuration cache in the store's schema: empty, saved, replaced, shared by a second
/// instance.
#[tokio::test]
async fn postgres_keeps_the_last_good_configuration() {
    use maestrano::config::{CachedConfig, ConfigCache};
    let Some(url) = postgres_url("postgres_keeps_the_last_good_configuration") else {
        return;
    };
    with_schema(&url, "config_cache", |url, schema| async move {
        let a = store(&url, &schema).await;
        assert_eq!(a.load().await.unwrap(), None);
        let one = CachedConfig::new(br#"{"marketplaces": [1]}"#.to_vec(), T0);
        a.save(&one).await.unwrap();
        let two = CachedConfig::new(
            br#"{"marketplaces": [2]}"#.to_vec(),
            T0 + Duration::microseconds(1),
        );
        a.save(&two).await.unwrap();
        let b = store(&url, &schema).await;
        assert_eq!(
            b.load().await.unwrap(),
            Some(two),
            "the latest, on another instance"
        );
    })
    .await;
}

/// A database a version-1 SDK left (its replay cache table, as released) is migrated in place:
/// an assertion it recorded is still refused.
#[tokio::test]
async fn postgres_used_assertions_survive_the_move_to_the_single_use_table() {
    let Some(url) = postgres_url("postgres_used_assertions_survive") else {
        return;
    };
    with_schema(&url, "v1_upgrade", |url, schema| async move {
        let exp = T0 + Duration::minutes(5);
        admin(&url)
            .await
            .batch_execute(&format!(
                r#"CREATE SCHEMA "{schema}";
                   CREATE TABLE "{schema}".maestrano_schema_migrations (
                       version INTEGER PRIMARY KEY, name TEXT NOT NULL);
                   INSERT INTO "{schema}".maestrano_schema_migrations
                       VALUES (1, 'id maps and replay cache');
                   CREATE TABLE "{schema}".maestrano_replay_cache (
                       issuer TEXT COLLATE "C" NOT NULL,
                       assertion_id TEXT COLLATE "C" NOT NULL,
                       expires_at TIMESTAMPTZ NOT NULL,
                       PRIMARY KEY (issuer, assertion_id));
                   INSERT INTO "{schema}".maestrano_replay_cache
                       VALUES ('https://idp.example.test', '_used', '2024-05-01T12:05:00Z');"#
            ))
            .await
            .unwrap();
        let s = store(&url, &schema).await;
        assert_eq!(s.schema_version().await.unwrap(), SCHEMA_VERSION);
        let used = key("https://idp.example.test", "_used");
        assert!(
            !s.insert_if_absent(&used, exp, T0).await.unwrap(),
            "still used"
        );
        assert!(
            s.insert_if_absent(&used, exp + Duration::minutes(5), exp)
                .await
                .unwrap(),
            "until its expiry"
        );
    })
    .await;
}
