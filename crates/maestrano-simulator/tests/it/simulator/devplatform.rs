//! The simulated developer platform, read by the SDK's autoconfigure client.

use std::sync::Arc;

use maestrano::Registry;
use maestrano::Secret;
use maestrano::adapters::ReqwestHttpClient;
use maestrano::config::ConfigSource;
use maestrano::config::{ConfigError, DevPlatformError, DevPlatformSettings, DevPlatformSource};

use super::support::*;

/// The SDK's autoconfigure client, pointed at the simulator with its credentials.
fn autoconfigure(sim: &maestrano_simulator::Simulator) -> DevPlatformSource {
    DevPlatformSource::new(
        sim.dev_platform_settings().unwrap(),
        Arc::new(ReqwestHttpClient::new().unwrap()),
    )
}

#[tokio::test]
async fn both_marketplaces_autoconfigure_through_the_dev_platform_client() {
    let clock = clock();
    let app = url::Url::parse("http://127.0.0.1:4321").unwrap();
    let sim = two(clock.clone(), &app).await;
    let source = autoconfigure(&sim);
    let registry = Registry::builder(Arc::new(source), clock.clone())
        .build()
        .await
        .unwrap();
    let snapshot = registry.snapshot();
    assert_eq!(snapshot.marketplaces().count(), 2);
    let infos = sim.marketplaces();
    assert_eq!(infos.len(), 2);
    assert_ne!(infos[0].port, infos[1].port, "each tenant is its own host");
    assert_ne!(infos[0].api_id, infos[1].api_id);
    assert_ne!(
        infos[0].certificate.sha1_fingerprint(),
        infos[1].certificate.sha1_fingerprint()
    );
    for info in infos {
        let tenant = registry.with(&info.key).unwrap();
        let c = tenant.config();
        assert_eq!(c.api().id(), &info.api_id);
        assert!(tenant.check_credentials(
            info.api_id.as_str().as_bytes(),
            info.api_key.expose().as_bytes()
        ));
        assert_eq!(c.api().host().as_str(), info.base_url.as_str());
        assert_eq!(c.sso().idp().as_str(), info.base_url.as_str());
        assert_eq!(c.connec().unwrap().host().as_str(), info.base_url.as_str());
        assert_eq!(c.app().host().as_str(), "http://127.0.0.1:4321/");
        assert_eq!(
            tenant.acs_url().as_str(),
            format!(
                "http://127.0.0.1:4321/maestrano/auth/saml/consume/{}",
                info.key
            )
        );
        assert_eq!(tenant.idp_sso_url().as_str(), info.idp_sso_url().as_str());
        assert_eq!(
            c.sso().certificates(),
            std::slice::from_ref(&info.certificate)
        );
        assert_eq!(
            info.certificate.key_bits(),
            maestrano_simulator::PLATFORM_IDP_KEY_BITS
        );
        // The certificate is valid on the simulator's clock.
        assert!(info.certificate.not_before() <= clock_now());
        assert!(info.certificate.not_after() > clock_now());
        // Credentials of one tenant are not the other's.
        let other = infos.iter().find(|o| o.key != info.key).unwrap();
        assert!(!tenant.check_credentials(
            other.api_id.as_str().as_bytes(),
            other.api_key.expose().as_bytes()
        ));
    }
    // The API key never shows in Debug output.
    let shown = format!("{sim:?} {:?}", sim.marketplaces());
    for info in sim.marketplaces() {
        assert!(!shown.contains(info.api_key.expose()), "{shown}");
    }
    assert!(!shown.contains(sim.env_secret().expose()));
    assert_eq!(sim.dev_platform_requests(), 1);
}

fn clock_now() -> time::OffsetDateTime {
    time::macros::datetime!(2031-03-01 10:00:00 UTC)
}

#[tokio::test]
async fn the_reply_has_the_developer_platform_shape() {
    let sim = two(clock(), &app_url()).await;
    let url = format!("{}api/config/v1/marketplaces", sim.dev_platform_url());
    let auth = basic(sim.env_key(), sim.env_secret().expose());
    let r = send("GET", &url, Some(&auth), None).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    let body = json_of(&r);
    assert_same_shape(&body, &shape("dev-platform/marketplaces-two.json"), "$");
    assert_eq!(body["marketplaces"].as_array().unwrap().len(), 2);
    // The reply parses with the SDK's parser into the same configurations the handle reports.
    let parsed = maestrano::config::parse_marketplaces(r.body()).unwrap();
    for (p, info) in parsed.iter().zip(sim.marketplaces()) {
        assert_eq!(p.marketplace(), &info.key);
        assert_eq!(p.api().id(), info.config.api().id());
    }
}

#[tokio::test]
async fn wrong_env_credentials_are_the_typed_401() {
    let sim = two(clock(), &app_url()).await;
    let http = Arc::new(ReqwestHttpClient::new().unwrap());
    for (key, secret) in [
        (sim.env_key().to_owned(), Secret::new("not-the-secret")),
        ("someone-else".to_owned(), sim.env_secret().clone()),
    ] {
        let settings = DevPlatformSettings::new(key, secret)
            .unwrap()
            .with_host(sim.dev_platform_url().as_str())
            .unwrap();
        let err = DevPlatformSource::new(settings, http.clone())
            .load_all()
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                ConfigError::DevPlatform(DevPlatformError::Unauthorized { status: 401 })
            ),
            "{err:?}"
        );
    }
    // No credentials at all, and another path.
    let base = sim.dev_platform_url().as_str().to_owned();
    let r = send(
        "GET",
        &format!("{base}api/config/v1/marketplaces"),
        None,
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(json_of(&r), shape("dev-platform/error-401.json"));
    assert!(r.headers().contains_key("www-authenticate"));
    let r = send("GET", &format!("{base}api/config/v1/other"), None, None)
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let auth = basic(sim.env_key(), sim.env_secret().expose());
    let r = send(
        "POST",
        &format!("{base}api/config/v1/marketplaces"),
        Some(&auth),
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 405);
}

#[tokio::test]
async fn inconsistent_configurations_are_refused_before_binding() {
    use maestrano_simulator::{MarketplaceSpec, SimUser, SimulatorConfig, SimulatorError};
    let c = clock();
    let empty = SimulatorConfig::new(c.clone());
    assert!(matches!(
        Simulator::start(empty).await,
        Err(SimulatorError::Config(_))
    ));
    let no_user =
        SimulatorConfig::new(c.clone()).marketplace(MarketplaceSpec::new(key("a"), app_url()));
    assert!(matches!(
        Simulator::start(no_user).await,
        Err(SimulatorError::Config(_))
    ));
    let twice = SimulatorConfig::new(c.clone())
        .marketplace(MarketplaceSpec::demo(key("a"), app_url(), 1))
        .marketplace(MarketplaceSpec::demo(key("a"), app_url(), 2));
    assert!(matches!(
        Simulator::start(twice).await,
        Err(SimulatorError::Config(_))
    ));
    let user = SimUser::new("usr-1".parse().unwrap(), "a@example.com", "A", "B");
    let unknown_group = SimulatorConfig::new(c).marketplace(
        MarketplaceSpec::new(key("a"), app_url()).user(user).member(
            &"usr-1".parse().unwrap(),
            &"cld-x".parse().unwrap(),
            "Admin",
        ),
    );
    let err = Simulator::start(unknown_group).await.unwrap_err();
    assert!(err.to_string().contains("cld-x"), "{err}");
}

use maestrano_simulator::Simulator;

/// The simulator prints its marketplaces as the developer platform answers them: the very
/// document autoconfiguration reads, which a static configuration file can hold instead.
#[tokio::test]
async fn the_printed_json_is_what_the_dev_platform_answers() {
    let clock = clock();
    let app = url::Url::parse("http://127.0.0.1:4321").unwrap();
    let sim = two(clock.clone(), &app).await;
    let source = autoconfigure(&sim);
    let served = source.load_document().await.unwrap().document.unwrap();
    let printed = sim.dev_platform_json();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&printed).unwrap(),
        serde_json::from_slice::<serde_json::Value>(&served).unwrap()
    );
    let from_file = maestrano::config::StaticSource::from_json(&printed).unwrap();
    let registry = Registry::builder(Arc::new(from_file), clock)
        .build()
        .await
        .unwrap();
    for info in sim.marketplaces() {
        let tenant = registry.with(&info.key).unwrap();
        assert_eq!(tenant.config().api().id(), &info.api_id);
    }
}
