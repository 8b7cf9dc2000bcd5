//! What the layer logs: a `maestrano_http` span per request with the marketplace and the
//! endpoint, each refusal a warning with its class (here the replay cache's, for a response
//! replayed with the very login cookie it was bound to), and never the response or a secret.

use std::sync::Mutex;

use http::StatusCode;
use maestrano::MarketplaceKey;
use maestrano_simulator::{MarketplaceSpec, SimulatorConfig};

use crate::app::{self, Sessions};
use crate::http_login::Browser;

static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct ToLogs;

impl std::io::Write for ToLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Everything the binary logs at INFO and above goes to one buffer: the server runs on other
/// threads than the test, so the lines of this test are told by its own marketplace's key.
fn capture() {
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        let subscriber = tracing_subscriber::fmt()
            .with_writer(|| ToLogs)
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_request_has_a_span_and_a_replay_is_refused_by_class_without_secrets() {
    capture();
    let key = MarketplaceKey::new("traced-co").unwrap();
    let spec_key = key.clone();
    let config = move |clock, url: &url::Url| {
        SimulatorConfig::new(clock).marketplace(MarketplaceSpec::demo(spec_key, url.clone(), 7))
    };
    let app = app::start("127.0.0.1", config, None, Sessions::Cookie).await;
    let tenant = app.registry.with(&key).unwrap();

    let mut browser = Browser::default();
    let form = browser.start_login(&tenant).await;
    let bound = browser.cookie("mno_login").unwrap().to_owned();
    assert_eq!(browser.submit(&form).await.status(), StatusCode::SEE_OTHER);
    // The same response with the same login cookie, as a thief of both would send it.
    let mut thief = Browser::default();
    thief.set_cookie("mno_login", &bound);
    let replay = thief.submit(&form).await;
    assert_eq!(replay.status(), StatusCode::FORBIDDEN);
    assert_eq!(replay.body(), b"login refused");

    let logs = String::from_utf8(LOGS.lock().unwrap().clone()).unwrap();
    let ours: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("marketplace=traced-co"))
        .collect();
    let has = |needles: &[&str]| ours.iter().any(|l| needles.iter().all(|n| l.contains(n)));
    assert!(
        has(&["maestrano_http", "endpoint=SamlInitialize", "login started"]),
        "{logs}"
    );
    assert!(
        has(&["maestrano_http", "endpoint=SamlConsume", "login completed"]),
        "{logs}"
    );
    assert!(
        has(&[
            "WARN",
            "endpoint=SamlConsume",
            "refused",
            "class=\"replay\"",
            "status=403"
        ]),
        "{logs}"
    );
    let response = form.field("SAMLResponse").unwrap();
    let api_key = tenant.config().api().key().expose().to_owned();
    for line in logs.lines() {
        assert!(
            !line.contains(&response[..40]),
            "the response is logged: {line}"
        );
        assert!(!line.contains(&api_key), "the api key is logged: {line}");
    }
}
