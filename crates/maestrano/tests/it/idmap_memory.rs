//! The identity map in memory: the conformance suite, and `ConnectedObject` from a model's
//! side (links, lookups, unlinking, remote URLs) with a manual clock.

use std::borrow::Cow;
use std::sync::Arc;

use maestrano::config::MarketplaceConfig;
use maestrano::idmap::{
    ConnectedObject, IdMapError, IdMapStore, InMemoryIdMapStore, LocalRef, Realm, RemoteRef,
    RemoteUrlError, RemoteUrls,
};
use maestrano::ports::Clock;
use maestrano::test_util::ManualClock;
use maestrano::test_util::idmap_conformance as conformance;
use maestrano::{Error, GroupUid, MarketplaceKey, Secret, Tenant};
use time::Duration;
use time::macros::datetime;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_store_passes_conformance() {
    conformance::run(Arc::new(InMemoryIdMapStore::new())).await;
}

struct Invoice {
    id: String,
}

impl ConnectedObject for Invoice {
    fn class_name(&self) -> &str {
        "Invoice"
    }

    fn local_id(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.id)
    }
}

fn invoice(id: &str) -> Invoice {
    Invoice { id: id.into() }
}

fn tenant(key: &str, with_connec: bool) -> Tenant {
    let mut b = MarketplaceConfig::builder(key)
        .app_host("https://app.example.test")
        .api_id("app-1")
        .api_key(Secret::new("k3y"))
        .api_host("https://hub.example.test")
        .sso_idp("https://idp.example.test")
        .x509_certificate(include_str!(
            "../../tests/data/maestrano/mno-api-sandbox/idp-certs/rsacert.pem"
        ));
    if with_connec {
        b = b.connec_host("https://connec.example.test");
    }
    Tenant::new(b.build().expect("valid test config"))
}

fn marketplace_realm(key: &str, group: &str) -> Realm {
    Realm::marketplace(
        &MarketplaceKey::new(key).unwrap(),
        &GroupUid::new(group).unwrap(),
    )
}

#[tokio::test]
async fn a_model_links_looks_up_and_unlinks_with_clock_timestamps() {
    let store = InMemoryIdMapStore::new();
    let clock = ManualClock::new(datetime!(2024-02-03 04:05:06 UTC));
    let acme = marketplace_realm("acme-corp", "cld-1");
    let xero = Realm::new("xero", "org-9").unwrap();
    let inv = invoice("42");

    assert_eq!(inv.id_maps(&store).await.unwrap(), vec![]);
    assert_eq!(inv.id_map_for(&store, &acme).await.unwrap(), None);

    let remote = RemoteRef::new(acme.clone(), "Invoices", "inv-abc").unwrap();
    let link = inv.link(&store, clock.now(), remote.clone()).await.unwrap();
    assert_eq!(link.local, LocalRef::new("Invoice", "42").unwrap());
    assert_eq!(link.created_at, datetime!(2024-02-03 04:05:06 UTC));
    assert_eq!(link.updated_at, link.created_at);

    // Linking again later keeps created_at and moves updated_at, from the clock.
    clock.advance(Duration::hours(1));
    let again = inv.link(&store, clock.now(), remote.clone()).await.unwrap();
    assert_eq!(again.created_at, datetime!(2024-02-03 04:05:06 UTC));
    assert_eq!(again.updated_at, datetime!(2024-02-03 05:05:06 UTC));

    inv.link(
        &store,
        clock.now(),
        RemoteRef::new(xero.clone(), "Invoice", "X-1").unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(inv.id_maps(&store).await.unwrap().len(), 2);
    let found = inv.id_map_for(&store, &acme).await.unwrap().unwrap();
    assert_eq!(found.remote, remote);

    // Another record may not take the same remote entity.
    let other = invoice("43");
    match other.link(&store, clock.now(), remote.clone()).await {
        Err(IdMapError::Conflict(c)) => {
            assert_eq!(c.existing, inv.local_ref().unwrap());
            assert_eq!(
                c.to_string(),
                "remote entity \"acme-corp\"/\"cld-1\"/\"Invoices\"#\"inv-abc\" is already \
                 linked to \"Invoice\"#\"42\", not \"Invoice\"#\"43\": unlink it first"
            );
        }
        r => panic!("expected a conflict, got {r:?}"),
    }

    // Two entity names in one realm: `id_map_for` refuses to pick one.
    inv.link(
        &store,
        clock.now(),
        RemoteRef::new(acme.clone(), "Payments", "pay-1").unwrap(),
    )
    .await
    .unwrap();
    let e = inv.id_map_for(&store, &acme).await.unwrap_err();
    match &e {
        IdMapError::Ambiguous(a) => {
            assert_eq!(a.entities, ["Invoices".to_owned(), "Payments".to_owned()])
        }
        other => panic!("expected Ambiguous, got {other:?}"),
    }
    assert_eq!(
        e.to_string(),
        "local record \"Invoice\"#\"42\" has 2 links in \"acme-corp\"/\"cld-1\" \
         (entities [\"Invoices\", \"Payments\"]), expected at most one: name the entity"
    );
    let payment = inv
        .id_map_for_entity(&store, &acme, "Payments")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(payment.remote.remote_id(), "pay-1");

    assert_eq!(inv.unlink(&store, &acme).await.unwrap(), 2);
    assert_eq!(inv.id_maps(&store).await.unwrap().len(), 1);
    assert_eq!(inv.unlink_all(&store).await.unwrap(), 1);
    assert!(store.is_empty());
    // The remote entity is free now.
    other.link(&store, clock.now(), remote).await.unwrap();
}

#[tokio::test]
async fn a_model_with_an_invalid_id_gets_a_field_error() {
    let store = InMemoryIdMapStore::new();
    let e = invoice("").id_maps(&store).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid local_id: expected 1 to 255 bytes without NUL, found an empty string"
    );
    let e: Error = LocalRef::new("Invoice", "a\0b").unwrap_err().into();
    assert_eq!(
        e.to_string(),
        "invalid local_id: expected 1 to 255 bytes without NUL, found a NUL byte at offset 1"
    );
}

#[tokio::test]
async fn remote_urls_for_marketplaces_and_other_providers() {
    let store = InMemoryIdMapStore::new();
    let clock = ManualClock::new(datetime!(2024-01-01 0:00 UTC));
    let inv = invoice("7");
    let acme = marketplace_realm("acme-corp", "cld-1a2b");
    let bare = marketplace_realm("bare-corp", "cld-3");
    let xero = Realm::new("xero", "org 9").unwrap();
    let urls = RemoteUrls::new()
        .with_tenant(tenant("acme-corp", true))
        .with_tenant(tenant("bare-corp", false))
        .with_base_url("xero", "https://go.xero.example/orgs/".parse().unwrap());

    assert_eq!(inv.remote_url(&store, &acme, &urls).await.unwrap(), None);

    for (realm, entity, id) in [
        (&acme, "Invoices", "inv-1"),
        (&bare, "Invoices", "inv-2"),
        (&xero, "Invoice", "a b"),
    ] {
        inv.link(
            &store,
            clock.now(),
            RemoteRef::new(realm.clone(), entity, id).unwrap(),
        )
        .await
        .unwrap();
    }
    assert_eq!(
        inv.remote_url(&store, &acme, &urls)
            .await
            .unwrap()
            .unwrap()
            .as_str(),
        "https://connec.example.test/api/v2/cld-1a2b/invoices/inv-1"
    );
    assert_eq!(
        inv.remote_url(&store, &xero, &urls)
            .await
            .unwrap()
            .unwrap()
            .as_str(),
        "https://go.xero.example/orgs/org%209/invoice/a%20b"
    );
    match inv.remote_url(&store, &bare, &urls).await {
        Err(RemoteUrlError::NoConnec { marketplace }) => {
            assert_eq!(marketplace, "bare-corp")
        }
        r => panic!("expected NoConnec, got {r:?}"),
    }
    let e = inv
        .remote_url(&store, &xero, &RemoteUrls::new())
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "no URL is known for provider \"xero\": expected a registered provider or a known marketplace"
    );
}

#[tokio::test]
async fn stores_work_behind_arc_and_box() {
    let arc: Arc<dyn IdMapStore> = Arc::new(InMemoryIdMapStore::new());
    let boxed: Box<dyn IdMapStore> = Box::new(Arc::clone(&arc));
    let clock = ManualClock::new(datetime!(2024-01-01 0:00 UTC));
    let remote = RemoteRef::new(Realm::new("p", "r").unwrap(), "e", "1").unwrap();
    invoice("1")
        .link(&*boxed, clock.now(), remote.clone())
        .await
        .unwrap();
    assert!(arc.find_remote(&remote).await.unwrap().is_some());
}

#[tokio::test]
async fn remote_urls_follow_the_tenant_registry() {
    use maestrano::Registry;
    use maestrano::config::StaticSource;

    let configs = vec![
        tenant("acme-corp", true).config().clone(),
        tenant("bare-corp", false).config().clone(),
    ];
    let clock = Arc::new(ManualClock::new(datetime!(2024-01-01 0:00 UTC)));
    let registry = Registry::builder(
        Arc::new(StaticSource::from_configs(configs).unwrap()),
        clock,
    )
    .build()
    .await
    .unwrap();
    let urls = RemoteUrls::new().with_marketplaces(registry);
    let remote = RemoteRef::new(marketplace_realm("acme-corp", "cld-1"), "People", "p 1").unwrap();
    assert_eq!(
        urls.url_of(&remote).unwrap().as_str(),
        "https://connec.example.test/api/v2/cld-1/people/p%201"
    );
    let unknown = RemoteRef::new(marketplace_realm("nobody", "cld-1"), "People", "p").unwrap();
    assert!(matches!(
        urls.url_of(&unknown),
        Err(RemoteUrlError::UnknownProvider { provider }) if provider == "nobody"
    ));
    let bare = RemoteRef::new(marketplace_realm("bare-corp", "cld-1"), "People", "p").unwrap();
    assert!(matches!(
        urls.url_of(&bare),
        Err(RemoteUrlError::NoConnec { .. })
    ));
}
