//! The account and Connec! clients over the SDK's reqwest adapter against a real HTTP server
//! on loopback that serves the conformance files: successes, a slow reply past the timeout, a
//! 500, an HTML body, a connection reset, a 401 for wrong credentials, and `pagination.next`
//! links to a foreign host, which are never followed.
#![cfg(feature = "reqwest")]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use maestrano::RestError;
use maestrano::adapters::ReqwestHttpClient;
use maestrano::api::{AccountClient, ApiError, Filter};
use maestrano::config::MarketplaceConfig;
use maestrano::connec::{ConnecClient, ConnecError, Entity, ListQuery};
use maestrano::ports::{HttpClient, TransportErrorKind};
use maestrano::{BillId, GroupUid, RecurringBillId, ResellerUid, UserUid};
use maestrano::{Secret, Tenant};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/maestrano");
const FP: &str = "01:06:15:89:25:7d:78:12:28:a6:69:c7:de:63:ed:74:21:f9:f5:36";
/// base64("app-1a2b:acme-secret-key")
const AUTH: &str = "Basic YXBwLTFhMmI6YWNtZS1zZWNyZXQta2V5";
const TEST_LIMIT: Duration = Duration::from_secs(30);

fn fixture(file: &str) -> Vec<u8> {
    std::fs::read(format!("{ROOT}/{file}")).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// What the server does for a path (with its query).
#[derive(Clone)]
enum Act {
    Reply(u16, &'static str, Vec<u8>),
    /// Waits this long, then replies.
    Slow(Duration, Vec<u8>),
    /// Closes the connection with a TCP reset after reading the request.
    Reset,
}

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    target: String,
    authorization: Option<String>,
    user_agent: Option<String>,
}

struct Server {
    base: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

async fn serve(routes: impl FnOnce(&str) -> HashMap<String, Act>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let routes = Arc::new(routes(&base));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let routes = routes.clone();
            let log = log.clone();
            tokio::spawn(handle(stream, routes, log));
        }
    });
    Server { base, seen }
}

async fn handle(
    mut stream: TcpStream,
    routes: Arc<HashMap<String, Act>>,
    log: Arc<Mutex<Vec<Seen>>>,
) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let method = request_line.next().unwrap_or_default().to_owned();
    let target = request_line.next().unwrap_or_default().to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let length: usize = get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    let authorization = get("authorization");
    log.lock().unwrap().push(Seen {
        method: method.clone(),
        target: target.clone(),
        authorization: authorization.clone(),
        user_agent: get("user-agent"),
    });
    let act = if target.contains("/api/v1/") && authorization.as_deref() != Some(AUTH) {
        Act::Reply(
            401,
            "application/json",
            fixture("shapes/account/error-401-invalid-token.json"),
        )
    } else {
        routes
            .get(&format!("{method} {target}"))
            .cloned()
            .unwrap_or(Act::Reply(404, "text/plain", b"no route".to_vec()))
    };
    let (status, content_type, body) = match act {
        Act::Reply(s, c, b) => (s, c, b),
        Act::Slow(d, b) => {
            tokio::time::sleep(d).await;
            (200, "application/json", b)
        }
        Act::Reset => {
            let _ = stream.set_zero_linger();
            drop(stream);
            return;
        }
    };
    let head = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(&body).await;
    let _ = stream.shutdown().await;
}

fn http_client() -> Arc<dyn HttpClient> {
    Arc::new(
        ReqwestHttpClient::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_millis(1500))
            .build()
            .unwrap(),
    )
}

fn tenant(base: &str, key: &str) -> Tenant {
    Tenant::new(
        MarketplaceConfig::builder("acme-corp")
            .app_host("https://app.example.com")
            .api_id("app-1a2b")
            .api_key(Secret::new(key))
            .api_host(base)
            .sso_idp("https://idp.example.com")
            .x509_fingerprint(FP)
            .connec_host(base)
            .build()
            .unwrap(),
    )
}

fn reply(file: &str) -> Act {
    Act::Reply(200, "application/json", fixture(file))
}

async fn bounded<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(TEST_LIMIT, f)
        .await
        .expect("the test did not finish in time")
}

#[tokio::test]
async fn account_api_over_real_http() {
    bounded(async {
        let server = serve(|_| {
            let mut r = HashMap::new();
            r.insert("GET /api/v1/account/bills?group_id=cld-4f5d".into(), reply("shapes/account/bills-list.json"));
            r.insert("GET /api/v1/account/bills/bill-13".into(), reply("shapes/account/bill-single.json"));
            r.insert("DELETE /api/v1/account/bills/bill-12".into(), reply("shapes/account/bill-cancelled.json"));
            r.insert(
                "DELETE /api/v1/account/bills/bill-13".into(),
                Act::Reply(400, "application/json", fixture("shapes/account/error-400-cancel-invoiced.json")),
            );
            r.insert("GET /api/v1/account/groups/cld-gone".into(), reply("shapes/account/error-200-id-not-found.json"));
            r.insert("GET /api/v1/account/groups/cld-slow".into(), Act::Slow(Duration::from_secs(4), fixture("shapes/account/group-single.json")));
            r.insert("GET /api/v1/account/users".into(), Act::Reply(500, "application/json", fixture("shapes/account/error-500-system.json")));
            r.insert(
                "GET /api/v1/account/users/usr-html".into(),
                Act::Reply(200, "text/html", fixture("maestrano-ruby/written/maestrano_test-dev-platform-bad-response.html")),
            );
            r.insert("GET /api/v1/account/recurring_bills/rbill-reset".into(), Act::Reset);
            r.insert("GET /api/v1/account/resellers/rsl-449s8fsd".into(), reply("shapes/account/reseller-single.json"));
            r
        })
        .await;
        let client = AccountClient::new(tenant(&server.base, "acme-secret-key"), http_client());

        let bills = client.list_bills(&Filter::new().eq("group_id", "cld-4f5d")).await.unwrap();
        assert_eq!(bills.len(), 3);
        assert_eq!(client.bill(&BillId::new("bill-13").unwrap()).await.unwrap().price.minor_units(), 1999);
        assert_eq!(client.cancel_bill(&BillId::new("bill-12").unwrap()).await.unwrap().id.as_str(), "bill-12");
        assert!(matches!(client.cancel_bill(&BillId::new("bill-13").unwrap()).await, Err(ApiError::NotCancellable { status: 400, .. })));
        assert!(matches!(client.group(&GroupUid::new("cld-gone").unwrap()).await, Err(ApiError::NotFound { status: 200, .. })));
        assert_eq!(client.reseller(&ResellerUid::new("rsl-449s8fsd").unwrap()).await.unwrap().name.as_deref(), Some("Blue Consulting"));

        let slow = client.group(&GroupUid::new("cld-slow").unwrap()).await.unwrap_err();
        assert!(matches!(&slow, ApiError::Rest(RestError::Transport(t)) if t.kind() == TransportErrorKind::Timeout), "{slow}");
        assert!(slow.may_have_been_sent() && slow.outcome_unknown());

        let e = client.list_users(&Filter::new()).await.unwrap_err();
        assert!(matches!(&e, ApiError::Server { status: 500, message: Some(_), .. }), "{e}");

        let e = client.user(&UserUid::new("usr-html").unwrap()).await.unwrap_err();
        match &e {
            ApiError::Rest(RestError::NotJson { status: 200, excerpt }) => {
                assert!(excerpt.contains('<'), "{excerpt}");
                assert!(excerpt.chars().count() <= 201);
            }
            e => panic!("{e}"),
        }

        let e = client.recurring_bill(&RecurringBillId::new("rbill-reset").unwrap()).await.unwrap_err();
        assert!(matches!(&e, ApiError::Rest(RestError::Transport(t)) if t.may_have_been_sent()), "{e}");

        let wrong = AccountClient::new(tenant(&server.base, "wrong-key"), http_client());
        let e = wrong.bill(&BillId::new("bill-13").unwrap()).await.unwrap_err();
        assert!(matches!(&e, ApiError::Authentication { status: 401, message: Some(m) } if m == "Invalid API token"), "{e}");
        assert!(!e.to_string().contains("wrong-key"));

        let seen = server.seen.lock().unwrap();
        let ua = format!("maestrano-rust/{}", env!("CARGO_PKG_VERSION"));
        assert!(seen.iter().all(|s| s.user_agent.as_deref() == Some(ua.as_str())));
        assert!(seen.iter().filter(|s| s.target.contains("bill-13") && s.method == "GET").count() >= 1);
    })
    .await;
}

#[tokio::test]
async fn connec_over_real_http_never_follows_a_foreign_next_link() {
    bounded(async {
        // A second server stands for a foreign host: it must never be contacted.
        let foreign = serve(|_| HashMap::new()).await;
        let foreign_base = foreign.base.clone();
        let server = serve(|base| {
            let first = String::from_utf8(fixture("shapes/connec/people-list-pagination.json"))
                .unwrap()
                .replace("https://api-connec.maestrano.com", base);
            let to_foreign = String::from_utf8(fixture("maestrano-connector-rails/written/entity_spec-people-pagination-first-page.json"))
                .unwrap()
                .replace("https://api-connec.maestrano.com", &foreign_base);
            let mut r = HashMap::new();
            r.insert("GET /api/v2/cld-dkg601/people?%24top=2".into(), Act::Reply(200, "application/vnd.api+json", first.into_bytes()));
            r.insert(
                "GET /api/v2/cld-dkg601/people?%24skip=2&%24top=2".into(),
                reply("maestrano-connector-rails/written/connec_to_external_spec-people-list.json"),
            );
            // Verbatim: next points at the production Connec! host, not this one.
            r.insert("GET /api/v2/cld-dkg601/people?%24top=3".into(), reply("shapes/connec/people-list-pagination.json"));
            r.insert("GET /api/v2/cld-dkg601/people?%24top=4".into(), Act::Reply(200, "application/json", to_foreign.into_bytes()));
            r.insert("GET /api/v2/cld-dkg601/people/missing".into(), Act::Reply(404, "application/json", fixture("shapes/connec/error-404-not-found.json")));
            r.insert("POST /batch".into(), reply("shapes/connec/batch-reply.json"));
            r.insert("GET /version".into(), reply("maestrano-connector-rails/written/connec_helper_spec-version.json"));
            r.insert("GET /api/reports/cld-dkg601/balance_sheet?period=2016".into(), Act::Reply(200, "application/json", br#"{"balance_sheet":{"total":0}}"#.to_vec()));
            r.insert("GET /api/v2/cld-dkg601/people/html".into(), Act::Reply(502, "text/html", b"<html><body>Bad Gateway</body></html>".to_vec()));
            r.insert("GET /api/v2/cld-dkg601/people/reset".into(), Act::Reset);
            r
        })
        .await;
        let tenant = tenant(&server.base, "acme-secret-key");
        let client = ConnecClient::new(&tenant, GroupUid::new("cld-dkg601").unwrap(), http_client()).unwrap();

        let all = client.list_all("people", ListQuery::new().top(2)).await.unwrap();
        assert_eq!(all.len(), 3, "two pages followed on the tenant's own host");
        assert_eq!(all[2].id_array("organization_id").unwrap().id_for("provider", Some("oauth uid")), Some("ext org id"));

        for top in [3, 4] {
            let mut pages = client.pages("people", ListQuery::new().top(top)).unwrap();
            pages.next_page().await.unwrap().unwrap();
            let e = pages.next_page().await.unwrap().unwrap_err();
            assert!(matches!(e, ConnecError::ForeignNextPage { .. }), "{e}");
            assert!(pages.next_page().await.is_none());
        }
        assert!(foreign.seen.lock().unwrap().is_empty(), "the foreign host was never contacted");

        let e = client.get("people", "missing").await.unwrap_err();
        assert_eq!((e.status(), e.code()), (Some(404), Some("resource-not-found")));
        let e = client.get("people", "html").await.unwrap_err();
        assert!(matches!(&e, ConnecError::Server { status: 502, excerpt } if excerpt.contains("Bad Gateway")), "{e}");
        let e = client.get("people", "reset").await.unwrap_err();
        assert!(matches!(e, ConnecError::Rest(RestError::Transport(_))), "{e}");

        let b = &client;
        let ops = vec![
            b.batch_create("people", &Entity::new()).unwrap(),
            b.batch_update("people", "11daf041-e18e-0133-7b6a-15461b913abc", &Entity::new()).unwrap(),
            b.batch_update("people", "ffffffff-e18e-0133-7b6a-000000000000", &Entity::new()).unwrap(),
        ];
        let outcomes = client.batch(&ops, true).await.unwrap();
        assert_eq!(outcomes.len(), 3);
        assert_eq!(outcomes[0].result.as_ref().unwrap().id_for("myapp", Some("realm-42")).as_deref(), Some("C-1002"));
        let e = outcomes[2].result.as_ref().unwrap_err();
        assert_eq!((e.status(), e.code()), (Some(404), Some("resource-not-found")));

        assert_eq!(client.version().await.unwrap().version(), Some("1.1"));
        let report = client.report("balance_sheet", &[("period", "2016")]).await.unwrap();
        assert_eq!(report, json!({"balance_sheet": {"total": 0}}));

        let seen = server.seen.lock().unwrap();
        for s in seen.iter() {
            let expected = if s.target == "/version" { None } else { Some(AUTH) };
            assert_eq!(s.authorization.as_deref(), expected, "{s:?}");
        }
        assert!(seen.iter().any(|s| s.method == "POST" && s.target == "/batch"));
    })
    .await;
}
