//! Issue 16: a real browser logs in through `maestrano-axum` and the simulator with the app
//! and the IdP on different sites (the app on `http://localhost:PORT`, the simulator's IdP on
//! `http://127.0.0.1:PORT`), so its `SameSite=Lax` cookies are not sent with the IdP's POST,
//! at each marketplace, by SAML and by OpenID 2.0; then a webhook-driven logout ends the app
//! session at the next page.
//!
//! Headless Chromium and ChromeDriver come from Debian (`chromium`, `chromium-driver`,
//! installed by `.ci/setup`). Without them the test fails under CI and is skipped elsewhere,
//! saying so.

use std::process::Stdio;
use std::time::Duration;

use fantoccini::{ClientBuilder, Locator};
use maestrano::MarketplaceKey;
use maestrano_simulator::{DeliveryOutcome, Webhook};

use crate::app::{self, Sessions};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// ChromeDriver on a free port, killed on drop.
struct Driver {
    child: tokio::process::Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

async fn start_driver() -> Option<Driver> {
    if !std::path::Path::new(CHROMEDRIVER).exists() || !std::path::Path::new(CHROMIUM).exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{CHROMEDRIVER} or {CHROMIUM} is missing: .ci/setup installs chromium and chromium-driver"
        );
        eprintln!(
            "skipped: no {CHROMEDRIVER} / {CHROMIUM} (apt-get install chromium chromium-driver)"
        );
        return None;
    }
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let child = tokio::process::Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Some(Driver {
                child,
                url: format!("http://127.0.0.1:{port}"),
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not listen on {port}");
}

async fn body_text(client: &fantoccini::Client) -> String {
    client
        .find(Locator::Css("body"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Waits until the page is the app's signed-in (or signed-out) page.
async fn wait_for_app_page(client: &fantoccini::Client) -> String {
    for _ in 0..100 {
        let url = client.current_url().await.unwrap();
        if url.path().starts_with("/app/") {
            return body_text(client).await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let url = client.current_url().await.unwrap();
    panic!(
        "never reached the app's page: at {url}: {}",
        body_text(client).await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_logs_in_across_sites_at_each_marketplace_and_a_webhook_logs_it_out() {
    let Some(driver) = start_driver().await else {
        return;
    };
    // The app's own session cookie (`SameSite=Lax`), then tower-sessions' (`SameSite=Strict`).
    for sessions in [Sessions::Cookie, Sessions::TowerSessions] {
        browser_login(&driver, sessions).await;
    }
}

async fn browser_login(driver: &Driver, sessions: Sessions) {
    let app = app::start("localhost", app::two_marketplaces, None, sessions).await;
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": CHROMIUM,
            "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
        }),
    );
    let client = ClientBuilder::rustls()
        .unwrap()
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .unwrap();

    let keys: Vec<MarketplaceKey> = app.registry.snapshot().marketplaces().cloned().collect();
    assert_eq!(keys.len(), 2);
    for key in &keys {
        let tenant = app.registry.with(key).unwrap();
        assert_eq!(tenant.init_url().host_str(), Some("localhost"));
        assert_eq!(tenant.idp_sso_url().host_str(), Some("127.0.0.1"));
        client.goto(tenant.init_url().as_str()).await.unwrap();
        let text = wait_for_app_page(&client).await;
        assert!(
            text.starts_with("Signed in as "),
            "{sessions:?} {key}: {text}"
        );
        assert!(
            text.ends_with(&format!("at {key}")),
            "{sessions:?} {key}: {text}"
        );
    }

    // Then through OpenID 2.0, from a browser with no session: the provider's auto-submitted
    // form is the cross-site POST this time.
    for key in &keys {
        let tenant = app.registry.with(key).unwrap();
        client.delete_all_cookies().await.unwrap();
        let init = format!(
            "{}{}/{key}/openid/initialize",
            app.app_url.as_str().trim_end_matches('/'),
            app.registry.router().prefix()
        );
        assert_eq!(
            maestrano::sso::openid_identifier(&tenant).host_str(),
            Some("127.0.0.1")
        );
        client.goto(&init).await.unwrap();
        let text = wait_for_app_page(&client).await;
        assert!(
            text.starts_with("Signed in as ") && text.ends_with(&format!("at {key}")),
            "OpenID {sessions:?} {key}: {text}"
        );
    }

    // The last marketplace removes its user from the company: the next page is signed out.
    let key = keys.last().unwrap();
    let (_, user, group) = app
        .state
        .members
        .lock()
        .unwrap()
        .iter()
        .find(|(m, _, _)| m == key)
        .cloned()
        .unwrap();
    let report = app
        .sim
        .marketplace(key)
        .unwrap()
        .deliver(Webhook::user_removed(group, user))
        .await;
    assert!(
        matches!(report.outcome, DeliveryOutcome::Delivered { .. }),
        "{report:?}"
    );
    client.refresh().await.unwrap();
    assert_eq!(body_text(&client).await, "Signed out", "{sessions:?}");
    // The other marketplace's member is untouched.
    assert!(
        app.state
            .members
            .lock()
            .unwrap()
            .iter()
            .any(|(m, _, _)| m == &keys[0])
    );
    client.close().await.unwrap();
}
