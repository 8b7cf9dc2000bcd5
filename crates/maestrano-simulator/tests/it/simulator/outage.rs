//! A platform outage and a key rotation, end to end: the developer platform is down when the
//! app starts (the simulator's fault mode), so the app starts from the configuration it
//! persisted on its last start; the platform comes back with a rotated IdP key, and the next
//! login, signed with the new key, succeeds after exactly one refresh.

use std::sync::Arc;

use async_trait::async_trait;
use maestrano::adapters::{ReqwestHttpClient, SqliteStore};
use maestrano::config::{ConfigCache, ConfigError, DevPlatformSource, FileConfigCache};
use maestrano::ports::{InMemorySingleUseStore, OsRandom};
use maestrano::saml::{SamlError, SsoLogin};
use maestrano::sso::{LoginHandler, SsoFlow, SsoFlowError};
use maestrano::test_util::ManualClock;
use maestrano::{Registry, SnapshotOrigin, Tenant};
use maestrano_simulator::{ApiFault, Simulator};

use super::support::*;

struct Accept;

#[async_trait]
impl LoginHandler for Accept {
    type Output = SsoLogin;

    async fn on_login(
        &self,
        login: &SsoLogin,
    ) -> Result<SsoLogin, Box<dyn std::error::Error + Send + Sync>> {
        Ok(login.clone())
    }
}

fn source(sim: &Simulator) -> Arc<DevPlatformSource> {
    Arc::new(DevPlatformSource::new(
        sim.dev_platform_settings().unwrap(),
        Arc::new(ReqwestHttpClient::new().unwrap()),
    ))
}

async fn registry(
    sim: &Simulator,
    clock: Arc<ManualClock>,
    cache: Option<Arc<dyn ConfigCache>>,
) -> Result<Registry, ConfigError> {
    let mut b = Registry::builder(source(sim), clock);
    if let Some(c) = cache {
        b = b.cache(c);
    }
    b.build().await
}

/// The browser's round trip through the simulated IdP: the form the IdP answers, as posted.
async fn login_form(flow: &SsoFlow, tenant: &Tenant) -> Vec<u8> {
    let redirect = flow
        .initiate(tenant, "198.51.100.7", None, &[])
        .await
        .unwrap();
    let page = send("GET", redirect.url.as_str(), None, None)
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let form =
        maestrano_simulator::AutoSubmitForm::parse(std::str::from_utf8(page.body()).unwrap())
            .unwrap();
    form.to_form_body()
}

async fn outage_then_rotation(cache: Arc<dyn ConfigCache>) {
    let clock = clock();
    let sim = two(clock.clone(), &app_url()).await;
    let marketplace = sim.marketplaces()[0].key.clone();

    // Yesterday's start, platform up: the configuration is persisted.
    let first = registry(&sim, clock.clone(), Some(cache.clone()))
        .await
        .unwrap();
    assert_eq!(first.snapshot().origin(), SnapshotOrigin::Source);
    let saved = cache
        .load()
        .await
        .unwrap()
        .expect("the first start saved its configuration");
    drop(first);

    // Today's start, platform down: without the cache the app cannot start...
    sim.inject_dev_platform_fault(ApiFault::InternalError, 1);
    assert!(registry(&sim, clock.clone(), None).await.is_err());
    // ...with it, it serves yesterday's tenants, and says so.
    sim.inject_dev_platform_fault(ApiFault::DropConnection, 1);
    let registry = registry(&sim, clock.clone(), Some(cache.clone()))
        .await
        .unwrap();
    assert_eq!(
        registry.snapshot().origin(),
        SnapshotOrigin::Cache {
            saved_at: saved.saved_at()
        }
    );
    assert_eq!(registry.snapshot().marketplaces().count(), 2);
    assert!(
        registry.last_refresh_error().is_some(),
        "the outage is reported"
    );
    let tenant = registry.with(&marketplace).unwrap();

    // The platform is back, and the marketplace has rotated its IdP key.
    let new_cert = sim
        .marketplace(&marketplace)
        .unwrap()
        .rotate_idp_key()
        .await
        .unwrap();
    assert!(!tenant.config().sso().certificates().contains(&new_cert));

    let flow = SsoFlow::new(
        clock.clone(),
        Arc::new(OsRandom),
        Arc::new(InMemorySingleUseStore::new()),
    )
    .with_registry(registry.clone());
    let body = login_form(&flow, &tenant).await;
    let before = sim.dev_platform_requests();
    let done = flow
        .consume(&tenant, &body, None, &Accept)
        .await
        .unwrap_or_else(|e| panic!("the login signed with the rotated key: {e}"));
    assert_eq!(done.login.marketplace, marketplace);
    assert_eq!(
        sim.dev_platform_requests(),
        before + 1,
        "exactly one refresh"
    );
    let now = registry.snapshot();
    assert_eq!(now.origin(), SnapshotOrigin::Source);
    assert!(
        now.get(&marketplace)
            .unwrap()
            .config()
            .sso()
            .certificates()
            .contains(&new_cert)
    );
    let resaved = cache.load().await.unwrap().unwrap();
    assert_ne!(
        resaved.document(),
        saved.document(),
        "the new key is persisted"
    );

    // Another rotation at once: within the refresh interval the unknown key triggers no
    // refresh (rate-limited, so forged responses cannot hammer the platform) and the login is
    // refused; once the interval has passed, the next login refreshes once and succeeds.
    sim.marketplace(&marketplace)
        .unwrap()
        .rotate_idp_key()
        .await
        .unwrap();
    let tenant = registry.with(&marketplace).unwrap();
    let body = login_form(&flow, &tenant).await;
    let before = sim.dev_platform_requests();
    match flow.consume(&tenant, &body, None, &Accept).await {
        Err(SsoFlowError::Saml(SamlError::SignatureInvalid)) => {}
        other => panic!("within the interval: expected SignatureInvalid, got {other:?}"),
    }
    assert_eq!(
        sim.dev_platform_requests(),
        before,
        "rate-limited: no refresh"
    );
    clock.advance(time::Duration::minutes(1));
    let body = login_form(&flow, &tenant).await;
    flow.consume(&tenant, &body, None, &Accept)
        .await
        .unwrap_or_else(|e| panic!("after the interval: {e}"));
    assert_eq!(sim.dev_platform_requests(), before + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cold_start_during_an_outage_serves_the_file_cache_and_a_rotated_key_is_picked_up() {
    let dir = tempfile::tempdir().unwrap();
    outage_then_rotation(Arc::new(FileConfigCache::new(
        dir.path().join("maestrano.json"),
    )))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cold_start_during_an_outage_serves_the_sqlite_cache() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("app.sqlite3")).unwrap();
    outage_then_rotation(Arc::new(store)).await;
}

/// Without a registry to refresh, a rotated key is refused until the app restarts: what
/// `SsoFlow::with_registry` fixes.
#[tokio::test]
async fn without_a_registry_a_rotated_key_is_refused() {
    let clock = clock();
    let sim = two(clock.clone(), &app_url()).await;
    let registry = registry(&sim, clock.clone(), None).await.unwrap();
    let marketplace = sim.marketplaces()[0].key.clone();
    let tenant = registry.with(&marketplace).unwrap();
    sim.marketplace(&marketplace)
        .unwrap()
        .rotate_idp_key()
        .await
        .unwrap();
    let flow = SsoFlow::new(
        clock.clone(),
        Arc::new(OsRandom),
        Arc::new(InMemorySingleUseStore::new()),
    );
    let body = login_form(&flow, &tenant).await;
    match flow.consume(&tenant, &body, None, &Accept).await {
        Err(SsoFlowError::Saml(SamlError::SignatureInvalid)) => {}
        other => panic!("expected SignatureInvalid, got {other:?}"),
    }
}

/// A tampered response with a registry: the refresh brings no new key, and the response is
/// still refused; the refresh happened once.
#[tokio::test]
async fn a_tampered_response_is_refused_after_the_refresh_brings_no_new_key() {
    use base64::Engine as _;
    let clock = clock();
    let sim = two(clock.clone(), &app_url()).await;
    let registry = registry(&sim, clock.clone(), None).await.unwrap();
    let tenant = registry.with(&sim.marketplaces()[0].key).unwrap();
    let flow = SsoFlow::new(
        clock.clone(),
        Arc::new(OsRandom),
        Arc::new(InMemorySingleUseStore::new()),
    )
    .with_registry(registry.clone());
    let body = login_form(&flow, &tenant).await;
    let b64: String = url::form_urlencoded::parse(&body)
        .find(|(k, _)| k == "SAMLResponse")
        .unwrap()
        .1
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let xml = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap(),
    )
    .unwrap();
    // One digit of the signed Assertion's IssueInstant changed.
    let at = xml
        .find("<Assertion")
        .or_else(|| xml.find("<saml:Assertion"))
        .unwrap();
    let instant = at + xml[at..].find("IssueInstant=\"20").unwrap() + "IssueInstant=\"20".len();
    let digit = if &xml[instant..instant + 1] == "3" {
        "4"
    } else {
        "3"
    };
    let forged = format!("{}{digit}{}", &xml[..instant], &xml[instant + 1..]);
    let forged_body: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair(
            "SAMLResponse",
            &base64::engine::general_purpose::STANDARD.encode(forged),
        )
        .finish();
    let before = sim.dev_platform_requests();
    match flow
        .consume(&tenant, forged_body.as_bytes(), None, &Accept)
        .await
    {
        Err(SsoFlowError::Saml(SamlError::SignatureInvalid)) => {}
        other => panic!("expected SignatureInvalid, got {other:?}"),
    }
    assert_eq!(
        sim.dev_platform_requests(),
        before + 1,
        "one refresh, no new key"
    );
    assert_eq!(registry.snapshot().generation(), 2);
}
