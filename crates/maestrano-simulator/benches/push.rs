//! The outbox's cost per push, beside its floor: a bare Connec! create.
//!
//! Both run against the simulated Connec! on loopback, over the same reqwest client:
//! - `bare_create`: one `ConnecClient::create` call, what a push costs with nothing durable;
//! - `outbox_push_sqlite`: `enqueue_push` on an SQLite file, then one `PushWorker::run_once`
//!   (claim, link lookup, the create, link and done in one transaction): what a push costs
//!   with the outbox;
//! - `outbox_push_memory`: the same on `InMemoryIdMapStore`, which separates the worker's own
//!   cost from the database's.
//!
//! ```text
//! cargo bench -p maestrano-simulator --bench push
//! ```

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration as StdDuration;

use criterion::{Criterion, criterion_group, criterion_main};
use maestrano::adapters::{ReqwestHttpClient, SqliteStore};
use maestrano::config::DevPlatformSource;
use maestrano::connec::{ConnecClient, Entity};
use maestrano::idmap::{ConnectedObject, InMemoryIdMapStore, PushOutbox, Realm};
use maestrano::ports::{Clock, HttpClient};
use maestrano::push::PushWorker;
use maestrano::test_util::ManualClock;
use maestrano::{GroupUid, Registry};
use maestrano_simulator::{Simulator, SimulatorConfig};
use serde_json::json;
use time::macros::datetime;
use tokio::runtime::Runtime;
use url::Url;

struct Invoice(u64);

impl ConnectedObject for Invoice {
    fn class_name(&self) -> &str {
        "Invoice"
    }
    fn local_id(&self) -> Cow<'_, str> {
        self.0.to_string().into()
    }
}

fn bench(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let clock = Arc::new(ManualClock::new(datetime!(2031-03-01 10:00 UTC)));
    let app = Url::parse("http://127.0.0.1:9").unwrap();
    let sim = rt
        .block_on(Simulator::start(SimulatorConfig::two_marketplaces(
            clock.clone(),
            &app,
        )))
        .unwrap();
    let http: Arc<dyn HttpClient> = Arc::new(ReqwestHttpClient::new().unwrap());
    let source = DevPlatformSource::new(sim.dev_platform_settings().unwrap(), http.clone());
    let registry = rt
        .block_on(Registry::builder(Arc::new(source), clock.clone()).build())
        .unwrap();
    let key = sim.marketplaces()[0].key.clone();
    let group: GroupUid = "cld-1".parse().unwrap();
    let tenant = registry.with(&key).unwrap();
    let client = ConnecClient::new(&tenant, group.clone(), http.clone()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn PushOutbox> =
        Arc::new(SqliteStore::open(dir.path().join("bench.sqlite3")).unwrap());
    let worker = PushWorker::new(
        registry.clone(),
        http.clone(),
        store.clone(),
        clock.clone(),
        "bench-app",
    )
    .unwrap();
    let memory: Arc<dyn PushOutbox> = Arc::new(InMemoryIdMapStore::new());
    let memory_worker =
        PushWorker::new(registry, http, memory.clone(), clock.clone(), "bench-app").unwrap();
    let realm = Realm::marketplace(&key, &group);
    let next = AtomicU64::new(0);
    let payload = json!({"title": "INV", "amount": 10});

    let mut g = c.benchmark_group("push");
    g.sample_size(30)
        .warm_up_time(StdDuration::from_secs(1))
        .measurement_time(StdDuration::from_secs(4));
    g.bench_function("bare_create", |b| {
        let entity = Entity::from_value(payload.clone()).unwrap();
        b.iter(|| rt.block_on(client.create("invoices", &entity)).unwrap());
    });
    for (name, store, worker) in [
        ("outbox_push_sqlite", &store, &worker),
        ("outbox_push_memory", &memory, &memory_worker),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                rt.block_on(async {
                    let invoice = Invoice(next.fetch_add(1, Ordering::Relaxed));
                    invoice
                        .enqueue_push(&**store, &realm, "invoices", payload.clone(), clock.now())
                        .await
                        .unwrap();
                    let report = worker.run_once().await.unwrap();
                    assert_eq!(report.created, 1);
                })
            });
        });
    }
    g.finish();
    rt.block_on(sim.shutdown());
}

criterion_group!(benches, bench);
criterion_main!(benches);
