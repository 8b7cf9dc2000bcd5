//! The Connec! client: exact request building, pagination that never leaves the tenant's
//! Connec! host, batches split and mapped back, typed errors, and `connec.timeout`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use maestrano::__private::ConnecRequests;
use maestrano::__private::Retrier;
use maestrano::RestError;
use maestrano::RetryPolicy;
use maestrano::config::MarketplaceConfig;
use maestrano::connec::{
    BatchMethod, BatchOp, ConnecClient, ConnecError, Entity, IdArray, IdRef, ListQuery,
    MAX_BATCH_OPS, Person,
};
use maestrano::ports::{HttpClient, HttpRequest, HttpResponse, TransportError, TransportErrorKind};
use maestrano::test_util::{FakeHttpClient, FakeReply, ManualClock, ManualSleep};
use maestrano::{GroupUid, Secret, Tenant};
use serde_json::{Value, json};
use time::macros::datetime;

const FP: &str = "01:06:15:89:25:7d:78:12:28:a6:69:c7:de:63:ed:74:21:f9:f5:36";
const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/maestrano");
const CONNEC: &str = "https://api-connec.maestrano.com";
/// base64("app-1a2b:acme-secret-key")
const AUTH: &str = "Basic YXBwLTFhMmI6YWNtZS1zZWNyZXQta2V5";

fn tenant_with(connec_host: Option<&str>, timeout: Option<Duration>) -> Tenant {
    let mut b = MarketplaceConfig::builder("acme-corp")
        .app_host("https://app.example.com")
        .api_id("app-1a2b")
        .api_key(Secret::new("acme-secret-key"))
        .api_host("https://api-hub.example.com")
        .sso_idp("https://idp.example.com")
        .x509_fingerprint(FP);
    if let Some(h) = connec_host {
        b = b.connec_host(h);
    }
    if let Some(t) = timeout {
        b = b.connec_timeout(t);
    }
    Tenant::new(b.build().unwrap())
}

fn tenant() -> Tenant {
    tenant_with(Some(CONNEC), None)
}

fn group() -> GroupUid {
    GroupUid::new("cld-dkg601").unwrap()
}

fn fixture(file: &str) -> Vec<u8> {
    std::fs::read(format!("{ROOT}/{file}")).unwrap()
}

fn header<'a>(r: &'a HttpRequest, name: &str) -> Vec<&'a str> {
    r.headers()
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect()
}

fn json_body(r: &HttpRequest) -> Value {
    serde_json::from_slice(r.body()).unwrap()
}

fn requests() -> ConnecRequests {
    ConnecRequests::new(&tenant(), group()).unwrap()
}

#[test]
fn a_tenant_without_connec_gets_a_typed_error() {
    let e = ConnecRequests::new(&tenant_with(None, None), group()).unwrap_err();
    assert!(
        matches!(&e, ConnecError::NotConfigured { marketplace } if marketplace.as_str() == "acme-corp"),
        "{e}"
    );
}

#[test]
fn get_and_list_requests_are_exact() {
    let b = requests();
    let r = b
        .get("people", "23daf041-e18e-0133-7b6a-15461b913fab")
        .unwrap();
    assert_eq!(r.method(), http::Method::GET);
    assert_eq!(
        r.uri(),
        "https://api-connec.maestrano.com/api/v2/cld-dkg601/people/23daf041-e18e-0133-7b6a-15461b913fab"
    );
    assert_eq!(header(&r, "accept"), ["application/vnd.api+json"]);
    assert_eq!(header(&r, "content-type"), ["application/vnd.api+json"]);
    assert_eq!(header(&r, "authorization"), [AUTH]);
    assert_eq!(header(&r, "user-agent"), [maestrano::USER_AGENT]);
    assert_eq!(r.headers().len(), 4);
    assert!(r.body().is_empty());

    let q = ListQuery::new()
        .filter("first_name eq 'John'")
        .updated_since(datetime!(2016-02-01 0:00 UTC))
        .order_by("updated_at desc")
        .top(50)
        .skip(100);
    let r = b
        .clone()
        .with_external_ids(true)
        .list("people", &q)
        .unwrap();
    assert_eq!(
        r.uri().to_string(),
        "https://api-connec.maestrano.com/api/v2/cld-dkg601/people\
         ?%24filter=first_name+eq+%27John%27+and+updated_at+gt+%272016-02-01T00%3A00%3A00Z%27\
         &%24orderby=updated_at+desc&%24top=50&%24skip=100"
    );
    assert_eq!(header(&r, "connec-external-ids"), ["true"]);
    assert!(b.list("people", &ListQuery::new().top(0)).is_err());
}

#[test]
fn ids_are_path_segments_and_collections_are_checked() {
    let b = requests();
    let r = b.get("people", "a b?d#e").unwrap();
    assert_eq!(r.uri().path(), "/api/v2/cld-dkg601/people/a%20b%3Fd%23e");
    // A '/' would be sent as %2F, which a proxy that decodes it turns into another path.
    assert!(b.get("people", "a b/c").is_err());
    for bad in ["People", "../people", "", "people/1", "pe ople"] {
        assert!(
            matches!(
                b.get(bad, "1"),
                Err(ConnecError::Rest(RestError::InvalidInput { .. }))
            ),
            "{bad:?}"
        );
    }
    for bad in ["", "..", "\n"] {
        assert!(
            matches!(
                b.get("people", bad),
                Err(ConnecError::Rest(RestError::InvalidInput { .. }))
            ),
            "{bad:?}"
        );
    }
}

#[test]
fn create_and_update_use_the_entity_envelope() {
    let b = requests();
    let mut e = Entity::new();
    e.insert("first_name", json!("Jack"));
    let mut ids = IdArray::default();
    ids.set(IdRef::new("C-1002", "myapp", Some("realm-42".into())));
    e.set_ids(&ids);
    let r = b.create("people", &e).unwrap();
    assert_eq!(r.method(), http::Method::POST);
    assert_eq!(
        r.uri(),
        "https://api-connec.maestrano.com/api/v2/cld-dkg601/people"
    );
    assert_eq!(
        json_body(&r),
        json!({"people": {"first_name": "Jack", "id": [{"id": "C-1002", "provider": "myapp", "realm": "realm-42"}]}})
    );
    let r = b
        .create_many("people", &[e.clone(), Entity::new()])
        .unwrap();
    assert_eq!(json_body(&r)["people"].as_array().unwrap().len(), 2);
    let r = b.update("people", "11daf041", &e).unwrap();
    assert_eq!(r.method(), http::Method::PUT);
    assert_eq!(
        r.uri(),
        "https://api-connec.maestrano.com/api/v2/cld-dkg601/people/11daf041"
    );
    assert_eq!(json_body(&r)["people"]["first_name"], "Jack");
}

#[test]
fn batch_reports_and_version_requests_are_exact() {
    let b = requests();
    let mut e = Entity::new();
    e.insert("first_name", json!("Janet"));
    let ops = vec![
        b.batch_create("people", &e).unwrap(),
        b.batch_update("people", "11daf041", &e).unwrap(),
    ];
    let r = b.batch(&ops, true).unwrap();
    assert_eq!(r.method(), http::Method::POST);
    assert_eq!(r.uri(), "https://api-connec.maestrano.com/batch");
    assert_eq!(header(&r, "authorization"), [AUTH]);
    assert_eq!(
        json_body(&r),
        json!({"sequential": true, "ops": [
            {"method": "post", "url": "/api/v2/cld-dkg601/people", "params": {"people": {"first_name": "Janet"}}},
            {"method": "put", "url": "/api/v2/cld-dkg601/people/11daf041", "params": {"people": {"first_name": "Janet"}}}
        ]})
    );
    let too_many = vec![ops[0].clone(); MAX_BATCH_OPS + 1];
    assert!(matches!(
        b.batch(&too_many, true),
        Err(ConnecError::Rest(RestError::InvalidInput { .. }))
    ));
    assert!(b.batch(&[], true).is_err());
    let foreign = BatchOp::new(BatchMethod::Put, "/api/v2/cld-other/people/1", json!({}));
    assert!(
        matches!(
            b.batch(&[foreign], true),
            Err(ConnecError::Rest(RestError::InvalidInput { .. }))
        ),
        "ops stay in the client's group"
    );

    let r = b
        .report(
            "profit_and_loss",
            &[("from", "2016-01-01"), ("to", "2016-12-31")],
        )
        .unwrap();
    assert_eq!(
        r.uri(),
        "https://api-connec.maestrano.com/api/reports/cld-dkg601/profit_and_loss?from=2016-01-01&to=2016-12-31"
    );
    assert_eq!(header(&r, "authorization"), [AUTH]);
    assert!(b.report("../x", &[]).is_err());

    let r = b.version().unwrap();
    assert_eq!(r.uri(), "https://api-connec.maestrano.com/version");
    assert!(
        header(&r, "authorization").is_empty(),
        "the public version endpoint gets no credentials"
    );
}

#[test]
fn next_page_links_are_followed_only_on_the_same_host_and_group() {
    let b = requests();
    let own = b
        .next_page(
            "people",
            "https://api-connec.maestrano.com/api/v2/cld-dkg601/people?%24skip=2&%24top=2",
        )
        .unwrap();
    assert_eq!(
        own.uri(),
        "https://api-connec.maestrano.com/api/v2/cld-dkg601/people?%24skip=2&%24top=2"
    );
    assert_eq!(header(&own, "authorization"), [AUTH]);
    let relative = b
        .next_page("people", "/api/v2/cld-dkg601/people?%24skip=4")
        .unwrap();
    assert_eq!(
        relative.uri(),
        "https://api-connec.maestrano.com/api/v2/cld-dkg601/people?%24skip=4"
    );
    for foreign in [
        "https://evil.example/api/v2/cld-dkg601/people?%24skip=2",
        "http://api-connec.maestrano.com/api/v2/cld-dkg601/people",
        "https://api-connec.maestrano.com:8443/api/v2/cld-dkg601/people",
        "https://api-connec.maestrano.com.evil.example/api/v2/cld-dkg601/people",
        "https://user:pw@api-connec.maestrano.com/api/v2/cld-dkg601/people",
        "https://api-connec.maestrano.com/api/v2/cld-other/people",
        "https://api-connec.maestrano.com/api/v2/cld-dkg601/../cld-other/people",
        "https://api-connec.maestrano.com/api/v2/cld-dkg6011/people",
        "//evil.example/api/v2/cld-dkg601/people",
        // Another collection of the same group, or a walk hidden in encoded separators.
        "https://api-connec.maestrano.com/api/v2/cld-dkg601/invoices",
        "/api/v2/cld-dkg601/people/p-1",
        "/api/v2/cld-dkg601/..%2Fcld-other%2Fpeople",
        "/api/v2/cld-dkg601/people%2F..%2F..%2Fcld-other%2Fpeople",
        "/api/v2/cld-dkg601/%2e%2e/cld-other/people",
    ] {
        let e = b.next_page("people", foreign).unwrap_err();
        assert!(
            matches!(e, ConnecError::ForeignNextPage { .. }),
            "{foreign}: {e}"
        );
        assert!(!e.may_have_been_sent());
    }
}

fn page(people: Value, next: Option<String>) -> FakeReply {
    let mut body = json!({ "people": people });
    if let Some(n) = next {
        body["pagination"] = json!({ "next": n });
    }
    FakeReply::json(200, serde_json::to_vec(&body).unwrap())
}

#[tokio::test]
async fn pages_follow_next_links_on_the_tenant_host_then_stop() {
    let fake = Arc::new(FakeHttpClient::new());
    let base = "https://api-connec.maestrano.com/api/v2/cld-dkg601/people";
    fake.on(
        None,
        format!("{base}?%24skip=2"),
        vec![page(json!([{"first_name": "C"}]), None)],
    );
    fake.on(
        None,
        format!("{base}?%24top=2"),
        vec![page(
            json!([{"first_name": "A"}, {"first_name": "B"}]),
            Some(format!("{base}?%24skip=2&%24top=2")),
        )],
    );
    let client = ConnecClient::new(&tenant(), group(), fake.clone()).unwrap();
    let all = client
        .list_all("people", ListQuery::new().top(2))
        .await
        .unwrap();
    let names: Vec<_> = all.iter().map(|e| e.str("first_name").unwrap()).collect();
    assert_eq!(names, ["A", "B", "C"]);
    let sent: Vec<_> = fake
        .requests()
        .iter()
        .map(|r| r.uri().to_string())
        .collect();
    assert_eq!(
        sent,
        [
            format!("{base}?%24top=2"),
            format!("{base}?%24skip=2&%24top=2")
        ]
    );
}

#[tokio::test]
async fn a_foreign_next_link_yields_the_page_then_a_typed_error_and_is_never_requested() {
    let fake = Arc::new(FakeHttpClient::new());
    let replacing = String::from_utf8(fixture("shapes/connec/people-list-pagination.json"))
        .unwrap()
        .replace(
            "https://api-connec.maestrano.com",
            "https://attacker.example",
        );
    fake.on(None, CONNEC, vec![FakeReply::json(200, replacing)]);
    let client = ConnecClient::new(&tenant(), group(), fake.clone()).unwrap();
    let mut pages = client.pages("people", ListQuery::new()).unwrap();
    assert_eq!(pages.next_page().await.unwrap().unwrap().entities.len(), 2);
    let e = pages.next_page().await.unwrap().unwrap_err();
    assert!(
        matches!(&e, ConnecError::ForeignNextPage { found, .. } if found == "https://attacker.example"),
        "{e}"
    );
    assert!(pages.next_page().await.is_none());
    assert_eq!(fake.requests().len(), 1);
    assert!(
        fake.requests()
            .iter()
            .all(|r| r.uri().host() == Some("api-connec.maestrano.com"))
    );
    // list_all does not return a partial listing.
    assert!(matches!(
        client.list_all("people", ListQuery::new()).await,
        Err(ConnecError::ForeignNextPage { .. })
    ));
}

#[tokio::test]
async fn the_page_cap_and_a_repeating_link_stop_the_listing() {
    let fake = Arc::new(FakeHttpClient::new());
    let base = "https://api-connec.maestrano.com/api/v2/cld-dkg601/people";
    // Each page points at a page with a larger $skip, forever.
    for n in (0..10).rev() {
        fake.on(
            None,
            format!("{base}?%24skip={n}"),
            vec![page(
                json!([{"n": n}]),
                Some(format!("{base}?%24skip={}", n + 1)),
            )],
        );
    }
    let client = ConnecClient::new(&tenant(), group(), fake.clone())
        .unwrap()
        .with_max_pages(3);
    let mut pages = client.pages("people", ListQuery::new().skip(0)).unwrap();
    for _ in 0..3 {
        pages.next_page().await.unwrap().unwrap();
    }
    assert!(matches!(
        pages.next_page().await,
        Some(Err(ConnecError::TooManyPages { limit: 3 }))
    ));
    assert!(pages.next_page().await.is_none());
    assert_eq!(fake.requests().len(), 3);

    let fake = Arc::new(FakeHttpClient::new());
    fake.on(
        None,
        base,
        vec![page(json!([]), Some(format!("{base}?%24skip=2")))],
    );
    let client = ConnecClient::new(&tenant(), group(), fake.clone()).unwrap();
    let e = client
        .list_all("people", ListQuery::new())
        .await
        .unwrap_err();
    assert!(
        matches!(e, ConnecError::Rest(RestError::InvalidResponse { .. })),
        "{e}"
    );
    assert_eq!(fake.requests().len(), 2);
}

fn batch_reply(n: usize, status: u16) -> FakeReply {
    let results: Vec<Value> = (0..n)
        .map(|i| json!({"status": status, "body": {"people": {"id": [{"provider": "connec", "id": format!("id-{i}")}]}}}))
        .collect();
    FakeReply::json(
        200,
        serde_json::to_vec(&json!({ "results": results })).unwrap(),
    )
}

#[tokio::test]
async fn batches_go_by_fifty_and_results_map_back_to_their_operations() {
    let fake = Arc::new(FakeHttpClient::new());
    fake.on(
        Some(http::Method::POST),
        "https://api-connec.maestrano.com/batch",
        vec![
            batch_reply(50, 201),
            batch_reply(50, 201),
            batch_reply(20, 200),
        ],
    );
    let client = ConnecClient::new(&tenant(), group(), fake.clone()).unwrap();
    let b = &client;
    let ops: Vec<_> = (0..120)
        .map(|i| {
            let mut e = Entity::new();
            e.insert("n", json!(i));
            b.batch_create("people", &e).unwrap()
        })
        .collect();
    let outcomes = client.batch(&ops, false).await.unwrap();
    assert_eq!(outcomes.len(), 120);
    assert!(outcomes.iter().enumerate().all(|(i, o)| o.index == i));
    assert_eq!(outcomes[119].status, 200);
    assert_eq!(
        outcomes[51].result.as_ref().unwrap().connec_id().as_deref(),
        Some("id-1")
    );
    let sent = fake.requests();
    let sizes: Vec<_> = sent
        .iter()
        .map(|r| json_body(r)["ops"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, [50, 50, 20]);
    assert_eq!(json_body(&sent[1])["ops"][0]["params"]["people"]["n"], 50);
    assert_eq!(json_body(&sent[0])["sequential"], false);
}

#[tokio::test]
async fn a_failing_later_batch_call_reports_what_was_applied() {
    let fake = Arc::new(FakeHttpClient::new());
    fake.on(
        Some(http::Method::POST),
        "https://api-connec.maestrano.com/batch",
        vec![
            batch_reply(50, 201),
            FakeReply::Error(TransportError::new(TransportErrorKind::Timeout, "no reply")),
        ],
    );
    let client = ConnecClient::new(&tenant(), group(), fake.clone()).unwrap();
    let op = client.batch_create("people", &Entity::new()).unwrap();
    let e = client.batch(&vec![op; 60], true).await.unwrap_err();
    match &e {
        ConnecError::BatchIncomplete { completed, source } => {
            assert_eq!(completed.len(), 50);
            assert!(matches!(
                **source,
                ConnecError::Rest(RestError::Transport(_))
            ));
        }
        e => panic!("{e}"),
    }
    assert!(e.outcome_unknown());
    assert_eq!(
        fake.requests().len(),
        2,
        "a batch POST that may have been sent is not retried"
    );

    let fake = Arc::new(FakeHttpClient::new());
    fake.on(
        None,
        "https://api-connec.maestrano.com/batch",
        vec![batch_reply(1, 201)],
    );
    let client = ConnecClient::new(&tenant(), group(), fake).unwrap();
    let op = client.batch_create("people", &Entity::new()).unwrap();
    let e = client.batch(&[op.clone(), op], true).await.unwrap_err();
    assert!(
        matches!(&e, ConnecError::Rest(RestError::InvalidResponse { detail, .. }) if detail.contains("expected 2 batch results")),
        "{e}"
    );
}

#[tokio::test]
async fn json_api_errors_and_typed_entities_through_the_client() {
    let fake = Arc::new(FakeHttpClient::new());
    let base = "https://api-connec.maestrano.com/api/v2/cld-dkg601/people";
    fake.on(
        Some(http::Method::GET),
        format!("{base}/missing"),
        vec![FakeReply::json(
            404,
            fixture("shapes/connec/error-404-not-found.json"),
        )],
    );
    fake.on(
        Some(http::Method::GET),
        format!("{base}/23daf041"),
        vec![FakeReply::json(
            200,
            fixture("shapes/connec/person-single.json"),
        )],
    );
    fake.on(
        Some(http::Method::PUT),
        format!("{base}/23daf041"),
        vec![FakeReply::json(
            200,
            fixture("shapes/connec/person-single.json"),
        )],
    );
    fake.on(
        Some(http::Method::POST),
        base,
        vec![FakeReply::json(
            409,
            fixture("shapes/connec/error-409-creation-with-id.json"),
        )],
    );
    let client = ConnecClient::new(&tenant(), group(), fake.clone()).unwrap();
    let e = client.get("people", "missing").await.unwrap_err();
    assert_eq!(
        (e.status(), e.code()),
        (Some(404), Some("resource-not-found"))
    );
    let mut p: Person = client.get_typed("23daf041").await.unwrap();
    assert_eq!(p.last_name.as_deref(), Some("Doe"));
    p.first_name = Some("Johnny".into());
    client.update_typed("23daf041", &p).await.unwrap();
    let put = &fake.requests()[2];
    assert_eq!(json_body(put)["people"]["first_name"], "Johnny");
    assert_eq!(
        json_body(put)["people"]["code"],
        "PE3",
        "fields come back as read"
    );
    let e = client.create_typed(&p).await.unwrap_err();
    assert!(matches!(e, ConnecError::Api { status: 409, .. }), "{e}");
}

/// An HTTP client that never answers.
#[derive(Debug)]
struct Silent;

#[async_trait]
impl HttpClient for Silent {
    async fn send(&self, _: HttpRequest) -> Result<HttpResponse, TransportError> {
        std::future::pending().await
    }
}

#[tokio::test]
async fn connec_timeout_cuts_each_attempt_when_a_retrier_is_set() {
    let clock = Arc::new(ManualClock::new(datetime!(2024-05-01 10:00 UTC)));
    let sleep = Arc::new(ManualSleep::new(clock.clone()));
    let retrier = Retrier::new(
        RetryPolicy::default().with_max_attempts(2),
        clock,
        sleep.clone(),
    );
    let tenant = tenant_with(Some(CONNEC), Some(Duration::from_secs(7)));
    let client = ConnecClient::new(&tenant, group(), Arc::new(Silent))
        .unwrap()
        .with_retry(retrier);
    let e = client.get("people", "1").await.unwrap_err();
    assert!(
        matches!(&e, ConnecError::Rest(RestError::Transport(t)) if t.kind() == TransportErrorKind::Timeout),
        "{e}"
    );
    // Two attempts cut at 7 s each, with a 250 ms backoff between them.
    assert_eq!(
        sleep.slept(),
        [
            Duration::from_secs(7),
            Duration::from_millis(250),
            Duration::from_secs(7)
        ]
    );
}

#[test]
fn connec_futures_and_streams_are_send() {
    fn send<T: Send>(_: T) {}
    let client = ConnecClient::new(&tenant(), group(), Arc::new(FakeHttpClient::new())).unwrap();
    send(client.get("people", "1"));
    send(client.batch(&[], true));
    send(client.pages("people", ListQuery::new()).unwrap());
}

/// The platform's sandbox Connec! stub renders an entity as its document merged with
/// `id: entity.uid` (a plain string), `group_id` and `type`
/// (`maestrano/mno-api-sandbox`, `app/controllers/connec/api/v2/resources_controller.rb`,
/// `process_entity`), and answers a create with 201 and that shape. The client reads the
/// plain id as Connec!'s own, so a create made there is known to have been made.
#[tokio::test]
async fn entities_as_the_sandbox_renders_them_are_read() {
    let fake = Arc::new(FakeHttpClient::new());
    let base = "https://api-connec.maestrano.com/api/v2/cld-dkg601/people";
    // As `render json: { entities_key => process_entity(entity.reload) }, status: :created`.
    let created = json!({"people": {
        "first_name": "John", "last_name": "Doe",
        "id": "3f1c9a2e-6d5b-4a7e-9b1d-2c8e4f6a0b13",
        "group_id": "cld-dkg601", "type": "people"
    }});
    fake.on(
        Some(http::Method::POST),
        base.to_owned(),
        vec![FakeReply::json(201, serde_json::to_vec(&created).unwrap())],
    );
    // A rule for `/42` ahead of the listing's, which would match it as a prefix.
    let odd = json!({"people": {"id": 42}});
    fake.on(
        Some(http::Method::GET),
        format!("{base}/42"),
        vec![FakeReply::json(200, serde_json::to_vec(&odd).unwrap())],
    );
    // As `index`: `render json: { entities_key => process_entities(entities) }`.
    let listed = json!({"people": [created["people"].clone()]});
    fake.on(
        Some(http::Method::GET),
        base.to_owned(),
        vec![FakeReply::json(200, serde_json::to_vec(&listed).unwrap())],
    );
    let client = ConnecClient::new(&tenant(), group(), fake.clone()).unwrap();
    let person = Entity::from_value(json!({"first_name": "John", "last_name": "Doe"})).unwrap();
    let made = client.create("people", &person).await.unwrap();
    assert_eq!(
        made.connec_id().as_deref(),
        Some("3f1c9a2e-6d5b-4a7e-9b1d-2c8e4f6a0b13")
    );
    let page = client.list("people", &ListQuery::new()).await.unwrap();
    let typed: Person = page.entities[0].to_typed().unwrap();
    assert_eq!(
        typed.id.unwrap().connec_id(),
        Some("3f1c9a2e-6d5b-4a7e-9b1d-2c8e4f6a0b13")
    );
    // Anything else is still refused, with what was expected.
    let err = client.get("people", "42").await.unwrap_err();
    assert!(
        err.to_string()
            .contains("expected `id` to be an array of {id, provider, realm} or a non-empty id, found a number"),
        "{err}"
    );
}
