//! The push outbox under faults, against the simulated Connec! over real HTTP: lost replies
//! after the record was created, 500s, dropped connections, a worker that crashes between
//! the create and the link, and a runner stopped mid-way. However it goes, every invoice ends
//! linked to exactly one remote record and none is lost (issue 14).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use maestrano::adapters::{
    PostgresOptions, PostgresStore, PushRunner, SqliteStore, tokio_postgres,
};
use maestrano::config::DevPlatformSource;
use maestrano::connec::{ConnecClient, Entity, IdArray, IdRef};
use maestrano::idmap::{ConnectedObject, IdMapStore, LocalRef, PushOutbox, Realm};
use maestrano::ports::{Clock, HttpClient, OsRandom, RandomSource};
use maestrano::push::{PushOptions, PushWorker};
use maestrano::test_util::ManualClock;
use maestrano::{GroupUid, Registry};
use maestrano_simulator::{Api, ApiFault, Simulator};
use serde_json::{Value, json};
use time::Duration;

use super::support::*;

/// The app's name in Connec!'s id arrays.
const PROVIDER: &str = "invoicing-app";
const INVOICES: usize = 12;

struct Invoice {
    class: String,
    id: usize,
}

impl ConnectedObject for Invoice {
    fn class_name(&self) -> &str {
        &self.class
    }
    fn local_id(&self) -> Cow<'_, str> {
        format!("inv-{:03}", self.id).into()
    }
}

struct World {
    sim: Simulator,
    clock: Arc<ManualClock>,
    registry: Registry,
    http: Arc<dyn HttpClient>,
    realm: Realm,
    group: GroupUid,
    /// A class name fresh on every run: the PostgreSQL schema outlives a failed run.
    class: String,
}

async fn world() -> World {
    let clock = clock();
    let sim = two(clock.clone(), &app_url()).await;
    let http: Arc<dyn HttpClient> = Arc::new(client());
    let source = DevPlatformSource::new(sim.dev_platform_settings().unwrap(), http.clone());
    let registry = Registry::builder(Arc::new(source), clock.clone())
        .build()
        .await
        .unwrap();
    let group: GroupUid = "cld-1".parse().unwrap();
    let realm = Realm::marketplace(&sim.marketplaces()[0].key, &group);
    World {
        sim,
        clock,
        registry,
        http,
        realm,
        group,
        class: format!("Invoice{}", tag()),
    }
}

fn tag() -> String {
    let mut b = [0u8; 6];
    OsRandom.fill(&mut b).unwrap();
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl World {
    fn invoice(&self, id: usize) -> Invoice {
        Invoice {
            class: self.class.clone(),
            id,
        }
    }

    fn worker(&self, store: Arc<dyn PushOutbox>) -> PushWorker {
        PushWorker::new(
            self.registry.clone(),
            self.http.clone(),
            store,
            self.clock.clone(),
            PROVIDER,
        )
        .unwrap()
        .with_options(
            PushOptions::default()
                .with_batch(5)
                .with_lease(Duration::minutes(5))
                .with_backoff(Duration::seconds(1), Duration::seconds(1)),
        )
    }

    fn connec(&self) -> maestrano_simulator::MarketplaceHandle {
        self.sim
            .marketplace(&self.sim.marketplaces()[0].key)
            .unwrap()
    }

    fn remote_invoices(&self) -> Vec<Value> {
        self.connec().connec_entities(&self.group, "invoices")
    }

    /// Sends everything due until nothing is pending, moving the clock past every backoff.
    async fn settle(&self, worker: &PushWorker, store: &Arc<dyn PushOutbox>) {
        for _ in 0..50 {
            worker.drain().await.unwrap();
            if store.backlog().await.unwrap().pending == 0 {
                return;
            }
            self.clock.advance(Duration::minutes(6));
        }
        panic!("pushes still pending: {:?}", store.backlog().await.unwrap());
    }

    /// Every invoice is linked to exactly one remote record, that record carries the
    /// invoice's id, and Connec! holds no other invoice of this app.
    async fn assert_each_linked_once(&self, store: &Arc<dyn PushOutbox>) {
        let remote = self.remote_invoices();
        let mut by_local: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for e in &remote {
            let e = Entity::from_value(e.clone()).unwrap();
            if let Some(local) = e.id_for(PROVIDER, Some(self.group.as_str())) {
                by_local
                    .entry(local)
                    .or_default()
                    .push(e.connec_id().unwrap());
            }
        }
        assert_eq!(
            by_local.len(),
            INVOICES,
            "one remote record per invoice: {by_local:?}"
        );
        for i in 0..INVOICES {
            let invoice = self.invoice(i);
            let local = invoice.local_id().into_owned();
            let records = &by_local[&local];
            assert_eq!(
                records.len(),
                1,
                "{local}: exactly one remote record, found {records:?}"
            );
            let links = store
                .links_in(&invoice.local_ref().unwrap(), &self.realm)
                .await
                .unwrap();
            assert_eq!(links.len(), 1, "{local}: one link");
            assert_eq!(
                links[0].remote.remote_id(),
                records[0],
                "{local}: linked to it"
            );
            assert!(links[0].pushed_to_remote_at.is_some());
        }
    }
}

async fn enqueue_all(w: &World, store: &Arc<dyn PushOutbox>) {
    for i in 0..INVOICES {
        w.invoice(i)
            .enqueue_push(
                &**store,
                &w.realm,
                "invoices",
                json!({"title": format!("INV-{i}"), "amount": i * 10}),
                w.clock.now(),
            )
            .await
            .unwrap();
    }
}

/// The scenario, on two handles (two instances) of one store.
async fn faults_scenario(a: Arc<dyn PushOutbox>, b: Arc<dyn PushOutbox>) {
    let w = world().await;
    enqueue_all(&w, &a).await;
    let connec = w.connec();

    // Instance A, first batch of five: the first two creates reach Connec! and their replies
    // are lost; the next two get 500s; the fifth connection drops before it is handled.
    assert!(connec.inject_fault(Api::Connec, ApiFault::DropAfterHandling, 2));
    assert!(connec.inject_fault(Api::Connec, ApiFault::InternalError, 2));
    assert!(connec.inject_fault(Api::Connec, ApiFault::DropConnection, 1));
    let first = w.worker(a.clone()).run_once().await.unwrap();
    assert_eq!(
        (first.claimed, first.retried, first.created),
        (5, 5, 0),
        "{first:?}"
    );
    assert_eq!(
        w.remote_invoices().len(),
        2,
        "the two lost replies created their records"
    );

    // A worker that crashes between the create and the link: it claims, creates (with the
    // invoice's id in the body, as the worker sends it), and is gone.
    let crashed = a
        .claim(None, 1, Duration::minutes(5), w.clock.now())
        .await
        .unwrap()
        .pop()
        .unwrap();
    let tenant = w.registry.with(&w.sim.marketplaces()[0].key).unwrap();
    let client = ConnecClient::new(&tenant, w.group.clone(), w.http.clone()).unwrap();
    let mut body = Entity::from_value(crashed.intent.payload().clone()).unwrap();
    body.set_ids(&IdArray(vec![IdRef::new(
        crashed.intent.local().local_id(),
        PROVIDER,
        Some(w.group.as_str().to_owned()),
    )]));
    client.create("invoices", &body).await.unwrap();
    assert_eq!(w.remote_invoices().len(), 3);

    // A runner on instance B, stopped mid-way.
    let runner = PushRunner::spawn(w.worker(b.clone()), StdDuration::from_millis(100));
    for _ in 0..200 {
        if w.remote_invoices().len() >= 6 {
            break;
        }
        tokio::time::sleep(StdDuration::from_millis(5)).await;
    }
    runner.stop();

    // After the leases and backoffs, instance B (restarted) finishes everything.
    w.clock.advance(Duration::minutes(6));
    let restarted = w.worker(b.clone());
    w.settle(&restarted, &b).await;
    w.assert_each_linked_once(&b).await;
    w.assert_each_linked_once(&a).await;
    assert_eq!(
        w.remote_invoices().len(),
        INVOICES,
        "no duplicate, no orphan"
    );
    assert_eq!(a.backlog().await.unwrap().failed, 0, "none lost");

    // An edit after linking is an idempotent update of the same record.
    w.invoice(3)
        .enqueue_push(
            &*a,
            &w.realm,
            "invoices",
            json!({"title": "INV-3 (edited)"}),
            w.clock.now(),
        )
        .await
        .unwrap();
    connec.inject_fault(Api::Connec, ApiFault::DropAfterHandling, 1);
    w.settle(&restarted, &b).await;
    let remote = w.remote_invoices();
    assert_eq!(
        remote.len(),
        INVOICES,
        "an update, even replayed, creates nothing"
    );
    assert_eq!(
        remote
            .iter()
            .filter(|e| e["title"] == "INV-3 (edited)")
            .count(),
        1,
        "the edit landed"
    );
    w.assert_each_linked_once(&a).await;

    // A push Connec! refuses for good (an unknown collection: HTTP 400 `unknown-resource`) is
    // kept with its reason.
    let odd = LocalRef::new(&w.class, "odd").unwrap();
    let intent =
        maestrano::idmap::PushIntent::new(odd, w.realm.clone(), "widgets", json!({})).unwrap();
    a.enqueue(intent, w.clock.now()).await.unwrap();
    let report = restarted.drain().await.unwrap();
    assert_eq!(report.failed, 1, "{report:?}");
    let failed = a.failed(&w.realm, 10).await.unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(
        failed[0].reason,
        "Connec! refused the request (HTTP 400): unknown-resource: Unknown Resource"
    );
    assert!(a.discard(failed[0].id).await.unwrap());
    w.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_survive_faults_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.sqlite3");
    faults_scenario(
        Arc::new(SqliteStore::open(&path).unwrap()),
        Arc::new(SqliteStore::open(&path).unwrap()),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_survive_faults_on_postgres() {
    let Ok(url) = std::env::var("MAESTRANO_TEST_POSTGRES_URL") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must set MAESTRANO_TEST_POSTGRES_URL (.ci/run does)"
        );
        eprintln!("skipped: MAESTRANO_TEST_POSTGRES_URL is not set");
        return;
    };
    let schema = format!("push_{}", tag());
    let open = || async {
        Arc::new(
            PostgresStore::connect_with(&url, PostgresOptions::new().schema(schema.clone()))
                .await
                .unwrap(),
        )
    };
    faults_scenario(open().await, open().await).await;
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
        .batch_execute(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .await
        .unwrap();
}

/// An HTTP client on which every request takes `step` of the manual clock: a slow Connec!.
#[derive(Debug)]
struct Slow {
    inner: Arc<dyn HttpClient>,
    clock: Arc<ManualClock>,
    step: Duration,
}

#[async_trait::async_trait]
impl HttpClient for Slow {
    async fn send(
        &self,
        request: maestrano::ports::HttpRequest,
    ) -> Result<maestrano::ports::HttpResponse, maestrano::ports::TransportError> {
        let reply = self.inner.send(request).await;
        self.clock.advance(self.step);
        reply
    }
}

/// A push is started only while half its lease is left: with Connec! this slow, the end of
/// a batch is released for the next claim instead of being sent after its lease (when
/// another worker could be sending it too). Everything still goes out once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_started_too_late_is_released_unsent() {
    let w = world().await;
    let store: Arc<dyn PushOutbox> = Arc::new(SqliteStore::open_in_memory().unwrap());
    for i in 0..5 {
        w.invoice(i)
            .enqueue_push(
                &*store,
                &w.realm,
                "invoices",
                json!({"n": i}),
                w.clock.now(),
            )
            .await
            .unwrap();
    }
    let slow: Arc<dyn HttpClient> = Arc::new(Slow {
        inner: w.http.clone(),
        clock: w.clock.clone(),
        step: Duration::minutes(2),
    });
    let worker = PushWorker::new(
        w.registry.clone(),
        slow,
        store.clone(),
        w.clock.clone(),
        PROVIDER,
    )
    .unwrap()
    .with_options(
        PushOptions::default()
            .with_batch(5)
            .with_lease(Duration::minutes(5)),
    );
    // 0 min: the first create; 2 min: the second (3 min of lease left); 4 min: 1 min left,
    // under half: the last three are released unsent.
    let report = worker.run_once().await.unwrap();
    assert_eq!(
        (report.claimed, report.created, report.released),
        (5, 2, 3),
        "{report:?}"
    );
    assert_eq!(
        w.remote_invoices().len(),
        2,
        "nothing sent past half the lease"
    );
    for _ in 0..20 {
        worker.run_once().await.unwrap();
        if store.backlog().await.unwrap().pending == 0 {
            break;
        }
    }
    let remote = w.remote_invoices();
    assert_eq!(remote.len(), 5, "each invoice once: {remote:?}");
    for i in 0..5 {
        let links = store
            .links_in(&w.invoice(i).local_ref().unwrap(), &w.realm)
            .await
            .unwrap();
        assert_eq!(links.len(), 1);
    }
    w.sim.shutdown().await;
}
