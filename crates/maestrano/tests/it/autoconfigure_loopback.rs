//! Autoconfigure over a real HTTP exchange with a server on loopback.
//!
//! The `HttpClient` is the SDK's reqwest adapter (feature `reqwest`); the server is a minimal
//! HTTP/1.1 responder on 127.0.0.1 that records what it received, answers from a script, and
//! stops after the scripted replies.
#![cfg(feature = "reqwest")]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use maestrano::MarketplaceKey;
use maestrano::Registry;
use maestrano::adapters::ReqwestHttpClient;
use maestrano::config::{ConfigError, DevPlatformError, DevPlatformSettings, DevPlatformSource};
use maestrano::ports::{HttpClient, SystemClock};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const TWO: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/maestrano/shapes/dev-platform/marketplaces-two.json"
);

fn client() -> Arc<dyn HttpClient> {
    Arc::new(
        ReqwestHttpClient::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap(),
    )
}

/// Serves `replies` (status, content type, body) to successive connections, one request each,
/// and records each request head.
async fn serve(replies: Vec<(u16, &'static str, Vec<u8>)>) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        for (status, content_type, body) in replies {
            let Ok(Ok((mut stream, _))) =
                tokio::time::timeout(Duration::from_secs(10), listener.accept()).await
            else {
                return;
            };
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            log.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&head).into_owned());
            let reply = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(reply.as_bytes()).await;
            let _ = stream.write_all(&body).await;
            let _ = stream.shutdown().await;
        }
    });
    (base, seen)
}

#[tokio::test]
async fn autoconfigure_over_loopback_then_a_refused_refresh() {
    let two = std::fs::read(TWO).unwrap();
    let (base, seen) = serve(vec![
        (200, "application/json", two),
        (
            401,
            "application/json",
            br#"{"error":"Unauthorized"}"#.to_vec(),
        ),
        (200, "text/html", b"<html></html>".to_vec()),
    ])
    .await;
    let settings = DevPlatformSettings::from_lookup(|name| match name {
        "MNO_DEVPL_HOST" => Some(base.clone()),
        "MNO_DEVPL_API_PATH" => Some("/api/config/v1/marketplaces".into()),
        "MNO_DEVPL_ENV_KEY" => Some("123".into()),
        "MNO_DEVPL_ENV_SECRET" => Some("456".into()),
        _ => None,
    })
    .unwrap();
    let source = DevPlatformSource::new(settings, client());
    let registry = Registry::builder(Arc::new(source), Arc::new(SystemClock))
        // The platform sandbox of the conformance data answers on plain http.
        .insecure_allow_plain_http(maestrano::MarketplaceKey::new("mno-sandbox").unwrap())
        .build()
        .await
        .unwrap();
    let uat = MarketplaceKey::new("maestrano-uat").unwrap();
    assert_eq!(
        registry.with(&uat).unwrap().config().api().id().as_str(),
        "app-3c4d"
    );

    assert!(matches!(
        registry.refresh().await,
        Err(ConfigError::DevPlatform(DevPlatformError::Unauthorized {
            status: 401
        }))
    ));
    assert!(matches!(
        registry.refresh().await,
        Err(ConfigError::DevPlatform(DevPlatformError::NotJson {
            status: 200,
            ..
        }))
    ));
    // The last good configuration is still served.
    assert!(registry.with(&uat).is_ok());
    assert_eq!(registry.snapshot().generation(), 1);

    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 3);
    let head = seen[0].to_ascii_lowercase();
    assert!(
        head.starts_with("get /api/config/v1/marketplaces http/1.1\r\n"),
        "{head}"
    );
    assert!(head.contains("\r\naccept: application/json\r\n"), "{head}");
    // base64("123:456")
    assert!(
        head.contains("\r\nauthorization: basic mtizojq1ng==\r\n"),
        "{head}"
    );
}

#[tokio::test]
async fn a_secret_rotated_in_its_file_is_sent_from_the_next_refresh_on() {
    use base64::Engine as _;
    use maestrano::config::{FileSecrets, SecretError};

    let two = std::fs::read(TWO).unwrap();
    let (base, seen) = serve(vec![
        (200, "application/json", two.clone()),
        (200, "application/json", two),
    ])
    .await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("devpl_secret"), "first-secret\n").unwrap();
    let settings = DevPlatformSettings::from_lookup(|name| match name {
        "MNO_DEVPL_HOST" => Some(base.clone()),
        "MNO_DEVPL_API_PATH" => Some("/api/config/v1/marketplaces".into()),
        "MNO_DEVPL_ENV_KEY" => Some("123".into()),
        // Replaced by the file's secret on every load.
        "MNO_DEVPL_ENV_SECRET" => Some("unused".into()),
        _ => None,
    })
    .unwrap();
    let source = DevPlatformSource::new(settings, client())
        .with_secret_source(Arc::new(FileSecrets::new(dir.path())), "devpl_secret");
    let registry = Registry::builder(Arc::new(source), Arc::new(SystemClock))
        .insecure_allow_plain_http(maestrano::MarketplaceKey::new("mno-sandbox").unwrap())
        .build()
        .await
        .unwrap();
    std::fs::write(dir.path().join("devpl_secret"), "rotated-secret\n").unwrap();
    registry.refresh().await.unwrap();
    let basic = |secret: &str| {
        format!(
            "authorization: Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("123:{secret}"))
        )
    };
    let heads = seen.lock().unwrap().clone();
    assert_eq!(heads.len(), 2);
    assert!(
        heads[0]
            .to_ascii_lowercase()
            .contains(&basic("first-secret").to_ascii_lowercase()),
        "{}",
        heads[0]
    );
    assert!(
        heads[1]
            .to_ascii_lowercase()
            .contains(&basic("rotated-secret").to_ascii_lowercase()),
        "{}",
        heads[1]
    );

    // A secret that cannot be read fails the refresh closed; the last good set is kept.
    std::fs::remove_file(dir.path().join("devpl_secret")).unwrap();
    let refused = registry.refresh().await;
    assert!(
        matches!(
            refused,
            Err(ConfigError::Secret(SecretError::Missing { .. }))
        ),
        "{refused:?}"
    );
    assert!(
        registry
            .with(&MarketplaceKey::new("maestrano-uat").unwrap())
            .is_ok()
    );
}
