//! Issue 19, offboarding: a company's `GroupDestroyed` and a marketplace a refresh removed
//! erase what the SDK stored for them, in a SQLite file (the identity map, the push outbox
//! and the delivery ledger of one store), and nothing of anyone else.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use maestrano::adapters::SqliteStore;
use maestrano::config::{ConfigError, ConfigSource, MarketplaceConfig, StaticSource};
use maestrano::connec::Entity;
use maestrano::idmap::{IdMap, IdMapStore, LocalRef, PushIntent, PushOutbox, Realm, RemoteRef};
use maestrano::offboard::{Erased, Offboarding};
use maestrano::ports::{OnceKey, SingleUseStore};
use maestrano::test_util::ManualClock;
use maestrano::webhook::{Delivery, DeliveryLedger, WebhookEvent, WebhookSink};
use maestrano::{GroupUid, MarketplaceKey, Registry};
use serde_json::json;
use time::macros::datetime;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/maestrano/");
const T0: time::OffsetDateTime = datetime!(2026-12-07 12:00 UTC);

fn key(k: &str) -> MarketplaceKey {
    MarketplaceKey::new(k).unwrap()
}

/// The developer platform's two marketplaces, then only the first of them.
#[derive(Debug)]
struct Shrinking {
    configs: Vec<MarketplaceConfig>,
    loads: AtomicU64,
}

#[async_trait]
impl ConfigSource for Shrinking {
    async fn load_all(&self) -> Result<Vec<MarketplaceConfig>, ConfigError> {
        let n = self.loads.fetch_add(1, Ordering::SeqCst);
        Ok(if n == 0 {
            self.configs.clone()
        } else {
            self.configs[..1].to_vec()
        })
    }
}

#[derive(Default)]
struct AppSink(Mutex<Vec<String>>);

#[async_trait]
impl WebhookSink for AppSink {
    async fn on_event(
        &self,
        event: WebhookEvent,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        self.0.lock().unwrap().push(event.name().to_owned());
        Ok(())
    }
}

fn entity(id: &str, group: &str) -> Entity {
    Entity::from_value(json!({
        "id": [{ "realm": "org-1", "provider": "connec", "id": id }],
        "group_id": group,
        "updated_at": "2026-12-07T11:00:00Z",
    }))
    .unwrap()
}

/// One link, one push and one ledger record in `marketplace`'s `group`.
async fn fill(
    store: &SqliteStore,
    ledger: &DeliveryLedger,
    marketplace: &str,
    group: &str,
    n: u32,
) {
    let realm = Realm::marketplace(&key(marketplace), &GroupUid::new(group).unwrap());
    let local = LocalRef::new("Invoice", format!("{n}")).unwrap();
    let remote = RemoteRef::new(realm.clone(), "invoices", format!("r-{n}")).unwrap();
    store
        .link(IdMap::new(local.clone(), remote, T0))
        .await
        .unwrap();
    let intent = PushIntent::new(local, realm, "people", json!({"n": n})).unwrap();
    store.enqueue(intent, T0).await.unwrap();
    match ledger
        .claim(
            &key(marketplace),
            "people",
            &entity(&format!("p-{n}"), group),
            T0,
        )
        .await
        .unwrap()
    {
        Delivery::Apply(c) => assert!(c.complete().await.unwrap()),
        other => panic!("{other:?}"),
    }
}

async fn links(store: &SqliteStore, n: u32) -> usize {
    store
        .links_of(&LocalRef::new("Invoice", format!("{n}")).unwrap())
        .await
        .unwrap()
        .len()
}

/// A registry over [`Shrinking`] (refreshing at every look when `ttl` is zero), the names of
/// the marketplace that stays and of the one that leaves, and a SQLite store with its ledger.
async fn setup(
    ttl: time::Duration,
    clock: Arc<ManualClock>,
) -> (
    Registry,
    String,
    String,
    tempfile::TempDir,
    Arc<SqliteStore>,
    DeliveryLedger,
) {
    let configs =
        StaticSource::from_json_file(format!("{DATA}shapes/dev-platform/marketplaces-two.json"))
            .unwrap()
            .marketplaces()
            .to_vec();
    let (kept, departing) = (
        configs[0].marketplace().to_string(),
        configs[1].marketplace().to_string(),
    );
    let source = Arc::new(Shrinking {
        configs,
        loads: AtomicU64::new(0),
    });
    let registry = Registry::builder(source, clock)
        .ttl(ttl)
        .insecure_allow_plain_http(key("mno-sandbox"))
        .build()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("app.sqlite3")).unwrap());
    let ledger = DeliveryLedger::new(store.clone());
    (registry, kept, departing, dir, store, ledger)
}

#[tokio::test]
async fn a_cancelled_company_and_a_departed_marketplace_are_erased_alone() {
    let (registry, kept, departing, _dir, store, ledger) =
        setup(time::Duration::hours(1), Arc::new(ManualClock::new(T0))).await;
    fill(&store, &ledger, &kept, "cld-1", 1).await;
    fill(&store, &ledger, &kept, "cld-2", 2).await;
    fill(&store, &ledger, &departing, "cld-1", 3).await;
    assert_eq!(store.backlog().await.unwrap().pending, 3);

    let app = Arc::new(AppSink::default());
    // A login of the departing marketplace is pending, and one of its assertions was used.
    let pending = OnceKey::authn_request(&key(&departing), "_pending");
    let used = OnceKey::assertion(&departing, "_used");
    for k in [&pending, &used] {
        assert!(
            store
                .insert_if_absent(k, T0 + time::Duration::hours(1), T0)
                .await
                .unwrap()
        );
    }
    let offboarding = Offboarding::new()
        .with_id_map(store.clone())
        .with_outbox(store.clone())
        .with_ledger(ledger.clone())
        .with_single_use(store.clone());
    let sink = offboarding.clone().sink(app.clone());

    // The company cld-1 of the first marketplace cancels: the app applies the event, then
    // its links, pushes and ledger records go; the other company's and the other
    // marketplace's group of the same uid stay.
    sink.on_event(WebhookEvent::GroupDestroyed {
        marketplace: key(&kept),
        group_uid: GroupUid::new("cld-1").unwrap(),
    })
    .await
    .unwrap();
    assert_eq!(*app.0.lock().unwrap(), ["group_destroyed"]);
    assert_eq!(
        (
            links(&store, 1).await,
            links(&store, 2).await,
            links(&store, 3).await
        ),
        (0, 1, 1)
    );
    assert_eq!(store.backlog().await.unwrap().pending, 2);
    // The same notification is new again for the erased group only.
    assert!(matches!(
        ledger
            .claim(&key(&kept), "people", &entity("p-1", "cld-1"), T0)
            .await
            .unwrap(),
        Delivery::Apply(_)
    ));
    assert!(matches!(
        ledger
            .claim(&key(&kept), "people", &entity("p-2", "cld-2"), T0)
            .await
            .unwrap(),
        Delivery::AlreadyApplied
    ));

    // The second marketplace leaves the configuration: a refresh reports it removed, and
    // everything of it goes.
    let report = registry.refresh().await.unwrap();
    assert_eq!(report.removed, [key(&departing)]);
    let erased = offboarding.erase_removed(&report).await.unwrap();
    assert_eq!(erased.len(), 1);
    let (m, counts): &(MarketplaceKey, Erased) = &erased[0];
    assert_eq!(m, &key(&departing));
    assert_eq!(
        (counts.id_maps, counts.pushes, counts.deliveries),
        (1, 1, 1)
    );
    assert_eq!(links(&store, 3).await, 0);
    assert_eq!(links(&store, 2).await, 1);
    assert_eq!(store.backlog().await.unwrap().pending, 1);
}

#[tokio::test]
async fn the_refresher_erases_a_marketplace_its_refresh_removed() {
    let clock = Arc::new(ManualClock::new(T0));
    let (registry, kept, departing, _dir, store, ledger) =
        setup(time::Duration::ZERO, clock.clone()).await;
    fill(&store, &ledger, &kept, "cld-1", 1).await;
    fill(&store, &ledger, &departing, "cld-1", 3).await;
    let offboarding = Offboarding::new()
        .with_id_map(store.clone())
        .with_outbox(store.clone())
        .with_ledger(ledger)
        .with_grace(std::time::Duration::from_secs(3600));
    let _refresher = maestrano::adapters::Refresher::spawn_offboarding(
        registry.clone(),
        maestrano::adapters::RefresherOptions::default()
            .with_interval(std::time::Duration::from_millis(100))
            .with_jitter(std::time::Duration::ZERO),
        offboarding,
    );
    // Within the grace period the departed marketplace's data stays (a platform that left
    // it out of one reply costs it nothing), though it is out of the configuration.
    for _ in 0..100 {
        if registry.with(&key(&departing)).is_err() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(350)).await;
    assert_eq!(
        links(&store, 3).await,
        1,
        "erased before its grace period ended"
    );
    clock.advance(time::Duration::hours(1));
    for _ in 0..100 {
        if links(&store, 3).await == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        links(&store, 3).await,
        0,
        "the departed marketplace's link is erased"
    );
    assert_eq!(links(&store, 1).await, 1, "the kept marketplace's stays");
    assert!(registry.with(&key(&departing)).is_err());
    assert_eq!(store.backlog().await.unwrap().pending, 1);
}
