//! Batch lookup of 10,000 remote ids on the SQL adapters.
//!
//! Each store holds 10,000 links in one realm (plus 10,000 in a neighbouring realm, so the
//! lookup has to use the index rather than read everything). Two numbers per adapter:
//! - `find_remotes_10000`: one `find_remotes` call with all 10,000 ids (throughput in ids, so
//!   criterion prints the per-id cost);
//! - `find_remote_1`: one `find_remote` call, the cost each id would pay without batching.
//!
//! SQLite runs on a file in a temporary directory (WAL). PostgreSQL runs only when
//! `MAESTRANO_TEST_POSTGRES_URL` is set (and the `postgres` feature is on), in a schema of its
//! own that is dropped at the end:
//!
//! ```text
//! MAESTRANO_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//!     cargo bench --bench idmap --features sqlite,postgres
//! ```

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use maestrano::adapters::SqliteStore;
use maestrano::idmap::{IdMap, IdMapStore, LocalRef, Realm, RemoteRef};
use time::macros::datetime;
use tokio::runtime::Runtime;

const N: usize = 10_000;
const ENTITY: &str = "people";

fn realm() -> Realm {
    Realm::new("acme-corp", "cld-bench").unwrap()
}

fn remote_ids() -> Vec<String> {
    (0..N).map(|i| format!("rid-{i:05}")).collect()
}

/// Links `N` records in the benchmark realm and `N` in a neighbour, four writers at a time.
async fn fill(store: Arc<dyn IdMapStore>) {
    let now = datetime!(2024-01-01 0:00 UTC);
    let tasks: Vec<_> = (0..4)
        .map(|w| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let realms = [realm(), Realm::new("acme-corp", "cld-other").unwrap()];
                for (r, realm) in realms.iter().enumerate() {
                    for i in (w..N).step_by(4) {
                        let map = IdMap::new(
                            LocalRef::new("Person", format!("{r}-{i}")).unwrap(),
                            RemoteRef::new(realm.clone(), ENTITY, format!("rid-{i:05}")).unwrap(),
                            now,
                        )
                        .with_metadata(serde_json::json!({ "etag": i }));
                        store.link(map).await.unwrap();
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
}

fn bench_store(c: &mut Criterion, rt: &Runtime, name: &str, store: Arc<dyn IdMapStore>) {
    rt.block_on(fill(Arc::clone(&store)));
    let ids = remote_ids();
    let realm = realm();
    let found = rt
        .block_on(store.find_remotes(&realm, ENTITY, &ids))
        .unwrap();
    assert_eq!(found.len(), N, "every id is linked");

    let mut group = c.benchmark_group(format!("idmap/{name}"));
    group.sample_size(20);
    group.measurement_time(StdDuration::from_secs(10));
    group.throughput(Throughput::Elements(N as u64));
    group.bench_function("find_remotes_10000", |b| {
        b.iter(|| {
            let found = rt
                .block_on(store.find_remotes(&realm, ENTITY, black_box(&ids)))
                .unwrap();
            assert_eq!(found.len(), N);
            found
        })
    });
    group.throughput(Throughput::Elements(1));
    let one = RemoteRef::new(realm.clone(), ENTITY, "rid-04242").unwrap();
    group.bench_function("find_remote_1", |b| {
        b.iter(|| {
            rt.block_on(store.find_remote(black_box(&one)))
                .unwrap()
                .unwrap()
        })
    });
    group.finish();
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteStore::open(dir.path().join("bench.sqlite3")).unwrap();
    bench_store(c, &rt, "sqlite", Arc::new(sqlite));

    #[cfg(feature = "postgres")]
    postgres::bench(c, &rt);
    #[cfg(not(feature = "postgres"))]
    eprintln!("SKIPPED idmap/postgres: built without the `postgres` feature");
}

#[cfg(feature = "postgres")]
mod postgres {
    use super::*;
    use maestrano::adapters::{PostgresOptions, PostgresStore, tokio_postgres};

    async fn drop_schema(url: &str, schema: &str) {
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        client
            .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
            .await
            .unwrap();
    }

    pub(crate) fn bench(c: &mut Criterion, rt: &Runtime) {
        let Ok(url) = std::env::var("MAESTRANO_TEST_POSTGRES_URL") else {
            eprintln!("SKIPPED idmap/postgres: MAESTRANO_TEST_POSTGRES_URL is not set");
            return;
        };
        let schema = format!("maestrano_bench_{}", std::process::id());
        rt.block_on(drop_schema(&url, &schema));
        let store = rt
            .block_on(PostgresStore::connect_with(
                &url,
                PostgresOptions::new().schema(&schema),
            ))
            .unwrap();
        bench_store(c, rt, "postgres", Arc::new(store));
        rt.block_on(drop_schema(&url, &schema));
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
