//! No credential leaves in an error value (issue 15): a proxy or error page that echoes the
//! request's headers, a JSON error that quotes the key, an excerpt cut in the middle of the
//! credentials. The echoing server is a real loopback server over the reqwest adapter; what it
//! echoes is what it received, so the leaked bytes are the SDK's real request headers.
#![cfg(feature = "reqwest")]

use std::sync::Arc;
use std::time::Duration;

use maestrano::adapters::ReqwestHttpClient;
use maestrano::api::{AccountClient, Filter};
use maestrano::config::{ConfigSource, DevPlatformSettings, DevPlatformSource, MarketplaceConfig};
use maestrano::connec::{ConnecClient, Entity, ListQuery};
use maestrano::ports::HttpClient;
use maestrano::{BillId, GroupUid, Secret, Tenant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const FP: &str = "01:06:15:89:25:7d:78:12:28:a6:69:c7:de:63:ed:74:21:f9:f5:36";
const KEY: &str = "acme-secret-key";
/// base64("app-1a2b:acme-secret-key"), written out: not computed by the code under test.
const B64: &str = "YXBwLTFhMmI6YWNtZS1zZWNyZXQta2V5";

/// How the server answers, given the request head it read (request line and headers).
#[derive(Clone, Copy)]
enum Echo {
    /// A 502 HTML page listing the request headers, as a misconfigured proxy shows them.
    ProxyPage,
    /// A 200 `text/plain` page with the headers after 180 bytes of padding, so an excerpt of
    /// 200 characters cuts the credentials in the middle.
    CutPage,
    /// A 400 Connec! JSON-API error whose detail quotes the `Authorization` value and the key.
    JsonApi,
    /// A 400 account API envelope whose field error quotes the key.
    Envelope,
    /// A 500 JSON body with the credentials in a field that names nothing secret.
    Hidden,
    /// The developer platform refusing with the environment's credentials in its message.
    DevPlatform,
}

fn header_value<'a>(head: &'a str, name: &str) -> &'a str {
    head.lines()
        .find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then_some(v.trim())
        })
        .unwrap_or("")
}

fn answer(echo: Echo, head: &str) -> (u16, &'static str, String) {
    let auth = header_value(head, "authorization");
    let token = auth.strip_prefix("Basic ").unwrap_or(auth);
    match echo {
        Echo::ProxyPage => (
            502,
            "text/html",
            format!(
                "<html><body><h1>Bad Gateway</h1><pre>{}</pre></body></html>",
                head.replace('\r', "")
            ),
        ),
        Echo::CutPage => (
            200,
            "text/plain",
            format!("{}{}", "x".repeat(180), head.replace("\r\n", " ")),
        ),
        Echo::JsonApi => (
            400,
            "application/vnd.api+json",
            serde_json::json!({"errors": [{
                "code": "bad-request",
                "title": format!("credentials {auth} rejected"),
                "detail": format!("the key {KEY} is not valid for this group; token {token}"),
            }]})
            .to_string(),
        ),
        Echo::Envelope => (
            400,
            "application/json",
            serde_json::json!({"success": false, "data": null, "errors": {
                "group_id": [format!("does not belong to {KEY} ({token})")]
            }})
            .to_string(),
        ),
        Echo::Hidden => (
            500,
            "application/json",
            format!(r#"{{"request":"{token}","echo":"{KEY}"}}"#),
        ),
        Echo::DevPlatform => (
            403,
            "application/json",
            serde_json::json!({"error": format!("environment {token} ({auth}) may not read marketplaces")})
                .to_string(),
        ),
    }
}

async fn serve(echo: Echo) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&buf).into_owned();
                let head = head.split("\r\n\r\n").next().unwrap_or_default().to_owned();
                let (status, content_type, body) = answer(echo, &head);
                let reply = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(reply.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    base
}

fn http() -> Arc<dyn HttpClient> {
    Arc::new(
        ReqwestHttpClient::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap(),
    )
}

fn tenant(base: &str) -> Tenant {
    Tenant::new(
        MarketplaceConfig::builder("acme-corp")
            .app_host("https://app.example.com")
            .api_id("app-1a2b")
            .api_key(Secret::new(KEY))
            .api_host(base)
            .sso_idp("https://idp.example.com")
            .x509_fingerprint(FP)
            .connec_host(base)
            .build()
            .unwrap(),
    )
}

/// Neither the error's message nor its `Debug` (what `{e:?}` and `tracing` print) carries any
/// form or piece of the credentials.
fn assert_clean(what: &str, e: &dyn std::fmt::Debug, display: String) {
    let debug = format!("{e:?}");
    for text in [&display, &debug] {
        for secret in [KEY, "secret-key", B64, &B64[..12], "YWNtZS1zZWNyZXQta2V5"] {
            assert!(
                !text.contains(secret),
                "{what}: {secret:?} leaked in\n{text}"
            );
        }
    }
}

#[tokio::test]
async fn connec_errors_never_carry_the_echoed_credentials() {
    for echo in [Echo::ProxyPage, Echo::CutPage, Echo::JsonApi, Echo::Hidden] {
        let base = serve(echo).await;
        let client =
            ConnecClient::new(&tenant(&base), GroupUid::new("cld-1").unwrap(), http()).unwrap();
        let errors = [
            client.list("people", &ListQuery::new()).await.unwrap_err(),
            client.create("people", &Entity::new()).await.unwrap_err(),
            client
                .batch(
                    &[client.batch_create("people", &Entity::new()).unwrap()],
                    true,
                )
                .await
                .unwrap_err(),
        ];
        for e in &errors {
            assert_clean("connec", e, e.to_string());
        }
        // The error still says what happened.
        let text = errors[0].to_string();
        assert!(
            text.contains("HTTP") || text.contains("JSON"),
            "useful message: {text}"
        );
    }
}

#[tokio::test]
async fn account_api_errors_never_carry_the_echoed_credentials() {
    for echo in [Echo::ProxyPage, Echo::CutPage, Echo::Envelope, Echo::Hidden] {
        let base = serve(echo).await;
        let client = AccountClient::new(tenant(&base), http());
        let errors = [
            client.list_bills(&Filter::new()).await.unwrap_err(),
            client
                .bill(&BillId::new("bill-1").unwrap())
                .await
                .unwrap_err(),
            client
                .cancel_bill(&BillId::new("bill-1").unwrap())
                .await
                .unwrap_err(),
        ];
        for e in &errors {
            assert_clean("account", e, e.to_string());
        }
    }
}

#[tokio::test]
async fn developer_platform_errors_never_carry_the_environment_credentials() {
    for echo in [Echo::DevPlatform, Echo::ProxyPage, Echo::CutPage] {
        let base = serve(echo).await;
        let settings = DevPlatformSettings::new("env-key-7", Secret::new("env-secret-long-9"))
            .unwrap()
            .with_host(&base)
            .unwrap();
        let e = DevPlatformSource::new(settings, http())
            .load_all()
            .await
            .unwrap_err();
        let (display, debug) = (e.to_string(), format!("{e:?}"));
        // base64("env-key-7:env-secret-long-9"), written out.
        for secret in [
            "env-secret-long-9",
            "ZW52LWtleS03OmVudi1zZWNyZXQtbG9uZy05",
            "ZW52LWtleS03",
        ] {
            assert!(!display.contains(secret), "{secret} in {display}");
            assert!(!debug.contains(secret), "{secret} in {debug}");
        }
    }
}
