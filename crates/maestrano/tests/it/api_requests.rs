//! The account API client: exact request building, tenant scoping, retries and the rules
//! that keep a bill from being created twice. No network: requests are built and replies
//! decoded by the pure halves, or exchanged with the `FakeHttpClient`.

use std::sync::Arc;
use std::time::Duration;

use maestrano::__private::{AccountRequests, Retrier};
use maestrano::RestError;
use maestrano::RetryPolicy;
use maestrano::USER_AGENT;
use maestrano::api::{
    AccountClient, ApiError, Currency, Decimal, Filter, Money, NewBill, NewRecurringBill, Period,
};
use maestrano::config::MarketplaceConfig;
use maestrano::ports::{Clock, HttpClient, HttpRequest, TransportError, TransportErrorKind};
use maestrano::test_util::{FakeHttpClient, FakeReply, ManualClock, ManualSleep};
use maestrano::{BillId, GroupUid, RecurringBillId, ResellerUid, UserUid};
use maestrano::{Secret, Tenant};
use time::macros::datetime;

const FP: &str = "01:06:15:89:25:7d:78:12:28:a6:69:c7:de:63:ed:74:21:f9:f5:36";
const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/maestrano");

fn tenant(key: &str, api_host: &str, id: &str, secret: &str) -> Tenant {
    Tenant::new(
        MarketplaceConfig::builder(key)
            .app_host("https://app.example.com")
            .api_id(id)
            .api_key(Secret::new(secret))
            .api_host(api_host)
            .sso_idp("https://idp.example.com")
            .x509_fingerprint(FP)
            .build()
            .unwrap(),
    )
}

fn acme() -> Tenant {
    tenant(
        "acme-corp",
        "https://api-hub.acme.example",
        "app-1a2b",
        "acme-secret-key",
    )
}

fn globex() -> Tenant {
    tenant(
        "globex",
        "https://hub.globex.example/",
        "app-9z8y",
        "globex-secret-key",
    )
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

/// base64("app-1a2b:acme-secret-key")
const ACME_AUTH: &str = "Basic YXBwLTFhMmI6YWNtZS1zZWNyZXQta2V5";

fn aud(cents: i64) -> Money {
    Money::new(cents, Currency::new("AUD").unwrap())
}

fn group() -> GroupUid {
    GroupUid::new("cld-9axx").unwrap()
}

#[test]
fn get_requests_carry_exactly_the_tenant_credentials_and_headers() {
    let b = AccountRequests::new(&acme());
    let r = b.get_bill(&BillId::new("bill-13").unwrap()).unwrap();
    assert_eq!(r.method(), http::Method::GET);
    assert_eq!(
        r.uri(),
        "https://api-hub.acme.example/api/v1/account/bills/bill-13"
    );
    assert_eq!(header(&r, "authorization"), [ACME_AUTH]);
    assert_eq!(header(&r, "accept"), ["application/json"]);
    assert_eq!(header(&r, "user-agent"), [USER_AGENT]);
    assert!(
        USER_AGENT.starts_with("maestrano-rust/")
            && USER_AGENT.ends_with(env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(
        r.headers().len(),
        3,
        "no other header: {:?}",
        r.headers().keys().collect::<Vec<_>>()
    );
    assert!(r.body().is_empty());
    assert!(r.headers()["authorization"].is_sensitive());
    let shown = format!("{r:?} {b:?}");
    assert!(
        !shown.contains("YXBw") && !shown.contains("acme-secret-key"),
        "{shown}"
    );
}

#[test]
fn every_endpoint_has_its_path() {
    let b = AccountRequests::new(&acme());
    let none = Filter::new();
    let cases: Vec<(HttpRequest, &str, &str)> = vec![
        (b.list_bills(&none).unwrap(), "GET", "account/bills"),
        (
            b.cancel_bill(&BillId::new("bill-1").unwrap()).unwrap(),
            "DELETE",
            "account/bills/bill-1",
        ),
        (
            b.list_recurring_bills(&none).unwrap(),
            "GET",
            "account/recurring_bills",
        ),
        (
            b.get_recurring_bill(&RecurringBillId::new("rbill-7").unwrap())
                .unwrap(),
            "GET",
            "account/recurring_bills/rbill-7",
        ),
        (
            b.cancel_recurring_bill(&RecurringBillId::new("rbill-7").unwrap())
                .unwrap(),
            "DELETE",
            "account/recurring_bills/rbill-7",
        ),
        (b.list_groups(&none).unwrap(), "GET", "account/groups"),
        (
            b.get_group(&group()).unwrap(),
            "GET",
            "account/groups/cld-9axx",
        ),
        (b.list_users(&none).unwrap(), "GET", "account/users"),
        (
            b.get_user(&UserUid::new("usr-123").unwrap()).unwrap(),
            "GET",
            "account/users/usr-123",
        ),
        (b.list_resellers(&none).unwrap(), "GET", "account/resellers"),
        (
            b.get_reseller(&ResellerUid::new("rsl-449s8fsd").unwrap())
                .unwrap(),
            "GET",
            "account/resellers/rsl-449s8fsd",
        ),
        (
            b.list_reseller_groups(&ResellerUid::new("rsl-449s8fsd").unwrap(), &none)
                .unwrap(),
            "GET",
            "account/resellers/rsl-449s8fsd/groups",
        ),
    ];
    for (r, method, path) in cases {
        assert_eq!(r.method().as_str(), method);
        assert_eq!(
            r.uri().to_string(),
            format!("https://api-hub.acme.example/api/v1/{path}")
        );
        assert_eq!(header(&r, "authorization"), [ACME_AUTH]);
        assert!(r.body().is_empty());
    }
}

#[test]
fn filters_become_query_parameters_with_suffixes_and_rfc3339_values() {
    let b = AccountRequests::new(&acme());
    let filter = Filter::new()
        .eq("group_id", &group())
        .after("created_at", datetime!(2017-03-01 0:00 +10:00))
        .strictly_before("created_at", datetime!(2017-04-01 0:00 UTC))
        .greater_than("price_cents", 1000);
    let r = b.list_bills(&filter).unwrap();
    assert_eq!(
        r.uri().to_string(),
        "https://api-hub.acme.example/api/v1/account/bills?group_id=cld-9axx\
         &created_at_after=2017-02-28T14%3A00%3A00Z\
         &created_at_strictly_before=2017-04-01T00%3A00%3A00Z\
         &price_cents_greater_than=1000"
    );
    let bad = Filter::new().eq("created_at_after", "x");
    assert!(matches!(
        b.list_bills(&bad),
        Err(ApiError::Rest(RestError::InvalidInput { .. }))
    ));
}

#[test]
fn a_bill_is_created_with_a_json_body_in_minor_units() {
    let b = AccountRequests::new(&acme());
    let bill = NewBill::new(group(), aud(1999), "Extra storage (1.5 GB)")
        .units("1.5".parse().unwrap())
        .period(
            datetime!(2017-03-01 0:00 UTC),
            datetime!(2017-03-31 23:59:59 UTC),
        )
        .third_party(false);
    let r = b.create_bill(&bill).unwrap();
    assert_eq!(r.method(), http::Method::POST);
    assert_eq!(r.uri(), "https://api-hub.acme.example/api/v1/account/bills");
    assert_eq!(header(&r, "content-type"), ["application/json"]);
    assert_eq!(header(&r, "authorization"), [ACME_AUTH]);
    assert_eq!(
        std::str::from_utf8(r.body()).unwrap(),
        r#"{"group_id":"cld-9axx","price_cents":1999,"currency":"AUD","description":"Extra storage (1.5 GB)","units":1.5,"period_started_at":"2017-03-01T00:00:00Z","period_ended_at":"2017-03-31T23:59:59Z","third_party":false}"#
    );
    let minimal = b
        .create_bill(&NewBill::new(group(), aud(2000), "A bill"))
        .unwrap();
    assert_eq!(
        std::str::from_utf8(minimal.body()).unwrap(),
        r#"{"group_id":"cld-9axx","price_cents":2000,"currency":"AUD","description":"A bill"}"#
    );
}

#[test]
fn bad_bills_are_refused_before_anything_is_built() {
    let b = AccountRequests::new(&acme());
    let cases = [
        NewBill::new(group(), aud(0), "free"),
        NewBill::new(group(), aud(-5), "negative"),
        NewBill::new(group(), aud(100), "  "),
        NewBill::new(group(), aud(100), "x".repeat(256)),
        NewBill::new(group(), aud(100), "zero units").units(Decimal::from_integer(0)),
        NewBill::new(group(), aud(100), "backwards").period(
            datetime!(2017-04-01 0:00 UTC),
            datetime!(2017-03-01 0:00 UTC),
        ),
    ];
    for bill in cases {
        let e = b.create_bill(&bill).unwrap_err();
        assert!(
            matches!(e, ApiError::Rest(RestError::InvalidInput { .. })),
            "{e}"
        );
        assert!(!e.may_have_been_sent());
    }
}

#[test]
fn a_recurring_bill_is_created_with_its_period_in_lower_case() {
    let b = AccountRequests::new(&acme());
    let period: Period = "SemiMonth".parse().unwrap();
    let rb = NewRecurringBill::new(
        group(),
        Money::new(4500, Currency::new("GBP").unwrap()),
        "Team plan",
        period,
    )
    .frequency(2)
    .cycles(12)
    .start_date(datetime!(2016-08-01 15:30:20 UTC))
    .initial_cents(10000);
    let r = b.create_recurring_bill(&rb).unwrap();
    assert_eq!(
        r.uri(),
        "https://api-hub.acme.example/api/v1/account/recurring_bills"
    );
    assert_eq!(
        std::str::from_utf8(r.body()).unwrap(),
        r#"{"group_id":"cld-9axx","price_cents":4500,"currency":"GBP","description":"Team plan","period":"semimonth","frequency":2,"cycles":12,"start_date":"2016-08-01T15:30:20Z","initial_cents":10000}"#
    );
    assert!(b.create_recurring_bill(&rb.clone().cycles(0)).is_err());
    assert!(b.create_recurring_bill(&rb.frequency(0)).is_err());
    assert!("fortnight".parse::<Period>().is_err());
}

#[tokio::test]
async fn each_tenant_only_ever_talks_to_its_own_host_with_its_own_credentials() {
    let fake = Arc::new(FakeHttpClient::new());
    fake.on(
        None,
        "https://api-hub.acme.example/",
        vec![FakeReply::json(
            200,
            fixture("shapes/account/bills-list.json"),
        )],
    );
    fake.on(
        None,
        "https://hub.globex.example/",
        vec![FakeReply::json(
            200,
            fixture("shapes/account/groups-list.json"),
        )],
    );
    let http: Arc<dyn HttpClient> = fake.clone();
    let a = AccountClient::new(acme(), http.clone());
    let g = AccountClient::new(globex(), http);
    assert_eq!(a.list_bills(&Filter::new()).await.unwrap().len(), 3);
    assert_eq!(g.list_groups(&Filter::new()).await.unwrap().len(), 2);
    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].uri().host(), Some("api-hub.acme.example"));
    assert_eq!(header(&requests[0], "authorization"), [ACME_AUTH]);
    assert_eq!(
        requests[1].uri().to_string(),
        "https://hub.globex.example/api/v1/account/groups"
    );
    // base64("app-9z8y:globex-secret-key")
    assert_eq!(
        header(&requests[1], "authorization"),
        ["Basic YXBwLTl6OHk6Z2xvYmV4LXNlY3JldC1rZXk="]
    );
}

#[tokio::test]
async fn cancel_checks_the_returned_status() {
    let fake = Arc::new(FakeHttpClient::new());
    let id = BillId::new("bill-12").unwrap();
    fake.on(
        Some(http::Method::DELETE),
        "https://api-hub.acme.example/api/v1/account/bills/bill-12",
        vec![
            FakeReply::json(200, fixture("shapes/account/bill-cancelled.json")),
            FakeReply::json(200, fixture("shapes/account/bill-single.json")),
            FakeReply::json(
                400,
                fixture("shapes/account/error-400-cancel-invoiced.json"),
            ),
        ],
    );
    let client = AccountClient::new(acme(), fake.clone());
    assert_eq!(
        client.cancel_bill(&id).await.unwrap().id.as_str(),
        "bill-12"
    );
    assert!(matches!(
        client.cancel_bill(&id).await,
        Err(ApiError::NotCancellable { status: 200, .. })
    ));
    assert!(matches!(
        client.cancel_bill(&id).await,
        Err(ApiError::NotCancellable { status: 400, .. })
    ));
}

fn retrier(policy: RetryPolicy) -> (Retrier, Arc<ManualClock>, Arc<ManualSleep>) {
    let clock = Arc::new(ManualClock::new(datetime!(2024-05-01 10:00 UTC)));
    let sleep = Arc::new(ManualSleep::new(clock.clone()));
    (
        Retrier::new(policy, clock.clone(), sleep.clone()),
        clock,
        sleep,
    )
}

#[tokio::test]
async fn reads_are_retried_with_exponential_backoff_until_they_succeed() {
    let fake = Arc::new(FakeHttpClient::new());
    fake.on(
        None,
        "https://api-hub.acme.example/api/v1/account/groups/cld-9axx",
        vec![
            FakeReply::raw(503, "<html>busy</html>"),
            FakeReply::Error(TransportError::new(
                TransportErrorKind::Other,
                "connection reset",
            )),
            FakeReply::json(500, fixture("shapes/account/error-500-system.json")),
            FakeReply::json(200, fixture("shapes/account/group-single.json")),
        ],
    );
    let (r, _, sleep) = retrier(
        RetryPolicy::default().with_backoff(Duration::from_millis(100), Duration::from_secs(1)),
    );
    let client = AccountClient::new(acme(), fake.clone()).with_retry(r);
    let g = client.group(&group()).await.unwrap();
    assert_eq!(g.id.as_str(), "cld-9axx");
    assert_eq!(fake.requests().len(), 4);
    assert_eq!(
        sleep.slept(),
        [
            Duration::from_millis(100),
            Duration::from_millis(200),
            Duration::from_millis(400)
        ]
    );
}

#[tokio::test]
async fn retries_stop_at_the_deadline_with_the_last_error() {
    let fake = Arc::new(FakeHttpClient::new());
    fake.on(
        None,
        "https://api-hub.acme.example/",
        vec![FakeReply::raw(503, "busy")],
    );
    let policy = RetryPolicy::default()
        .with_max_attempts(100)
        .with_backoff(Duration::from_secs(1), Duration::from_secs(4))
        .with_deadline(Duration::from_secs(10));
    let (r, clock, sleep) = retrier(policy);
    let client = AccountClient::new(acme(), fake.clone()).with_retry(r);
    let e = client.list_users(&Filter::new()).await.unwrap_err();
    assert!(matches!(e, ApiError::Server { status: 503, .. }), "{e}");
    // 1 + 2 + 4 = 7 s slept; the next wait (4 s) would end past the 10 s deadline.
    assert_eq!(
        sleep.slept().iter().sum::<Duration>(),
        Duration::from_secs(7)
    );
    assert_eq!(fake.requests().len(), 4);
    assert_eq!(clock.now(), datetime!(2024-05-01 10:00:07 UTC));
}

#[tokio::test]
async fn a_bill_create_that_may_have_reached_the_server_is_never_sent_twice() {
    for failure in [
        FakeReply::Error(TransportError::new(TransportErrorKind::Timeout, "no reply")),
        FakeReply::Error(TransportError::new(
            TransportErrorKind::Other,
            "connection reset",
        )),
        FakeReply::raw(502, "<html>bad gateway</html>"),
        FakeReply::json(500, fixture("shapes/account/error-500-system.json")),
    ] {
        let fake = Arc::new(FakeHttpClient::new());
        fake.on(
            Some(http::Method::POST),
            "https://api-hub.acme.example/",
            vec![
                failure,
                FakeReply::json(200, fixture("shapes/account/bill-single.json")),
            ],
        );
        let (r, _, sleep) = retrier(RetryPolicy::default());
        let client = AccountClient::new(acme(), fake.clone()).with_retry(r);
        let e = client
            .create_bill(&NewBill::new(group(), aud(1999), "Extra storage"))
            .await
            .unwrap_err();
        assert_eq!(fake.requests().len(), 1, "sent once: {e}");
        assert!(sleep.slept().is_empty());
        assert!(e.may_have_been_sent() && e.outcome_unknown(), "{e}");
    }
}

#[tokio::test]
async fn a_create_refused_at_connect_time_is_retried_as_nothing_was_sent() {
    let fake = Arc::new(FakeHttpClient::new());
    fake.on(
        Some(http::Method::POST),
        "https://api-hub.acme.example/",
        vec![
            FakeReply::Error(TransportError::new(
                TransportErrorKind::Connect,
                "connection refused",
            )),
            FakeReply::json(200, fixture("shapes/account/bill-single.json")),
        ],
    );
    let (r, _, _) = retrier(RetryPolicy::default());
    let client = AccountClient::new(acme(), fake.clone()).with_retry(r);
    let bill = client
        .create_bill(&NewBill::new(group(), aud(1999), "Extra storage (1.5 GB)"))
        .await
        .unwrap();
    assert_eq!(bill.id.as_str(), "bill-13");
    assert_eq!(fake.requests().len(), 2);
}

#[tokio::test]
async fn an_unknown_outcome_is_reconciled_by_looking_the_bill_up() {
    let fake = Arc::new(FakeHttpClient::new());
    fake.on(
        Some(http::Method::POST),
        "https://api-hub.acme.example/",
        vec![FakeReply::Error(TransportError::new(
            TransportErrorKind::Timeout,
            "no reply",
        ))],
    );
    fake.on(
        Some(http::Method::GET),
        "https://api-hub.acme.example/api/v1/account/bills?",
        vec![FakeReply::json(
            200,
            fixture("shapes/account/bills-list.json"),
        )],
    );
    let client = AccountClient::new(acme(), fake.clone());
    let wanted = NewBill::new(
        GroupUid::new("cld-4f5d").unwrap(),
        Money::new(1999, Currency::new("USD").unwrap()),
        "Extra storage (1.5 GB)",
    )
    .units("1.50".parse().unwrap())
    .period(
        datetime!(2017-03-01 0:00 UTC),
        datetime!(2017-03-31 23:59:59 UTC),
    );
    let since = datetime!(2017-03-27 16:00 UTC);
    let e = client.create_bill(&wanted).await.unwrap_err();
    assert!(e.outcome_unknown());
    let found = client.find_bill(&wanted, since).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id.as_str(), "bill-13");
    let lookup = &fake.requests()[1];
    assert_eq!(
        lookup.uri().to_string(),
        "https://api-hub.acme.example/api/v1/account/bills?group_id=cld-4f5d&created_at_after=2017-03-27T16%3A00%3A00Z"
    );
    let other = NewBill::new(
        GroupUid::new("cld-4f5d").unwrap(),
        Money::new(1999, Currency::new("USD").unwrap()),
        "Something else",
    );
    assert!(client.find_bill(&other, since).await.unwrap().is_empty());
}

#[tokio::test]
async fn transport_errors_keep_whether_the_request_may_have_been_sent() {
    let fake = Arc::new(FakeHttpClient::new());
    fake.on(
        None,
        "https://api-hub.acme.example/",
        vec![FakeReply::Error(TransportError::new(
            TransportErrorKind::Connect,
            "refused",
        ))],
    );
    let client = AccountClient::new(acme(), fake);
    let e = client
        .user(&UserUid::new("usr-1").unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ApiError::Rest(RestError::Transport(t)) if t.kind() == TransportErrorKind::Connect)
    );
    assert!(!e.may_have_been_sent() && !e.outcome_unknown());
    let err: maestrano::Error = e.into();
    assert!(err.to_string().contains("refused"));
}

#[test]
fn account_futures_are_send() {
    fn send<T: Send>(_: T) {}
    let fake: Arc<dyn HttpClient> = Arc::new(FakeHttpClient::new());
    let client = AccountClient::new(acme(), fake);
    send(client.list_bills(&Filter::new()));
    send(client.create_bill(&NewBill::new(group(), aud(1), "x")));
}

/// What the SDK sends and matches is what the platform keeps: bill periods at whole seconds
/// and `units` with at most two decimals (mno-api-sandbox `app/models/bill.rb`, a
/// `decimal(10,2)` column and `datetime` columns; `app/views/api/v1/account/bills/*` render
/// them), so a bill asked for with fractions is recognised in the reply the platform renders.
#[tokio::test]
async fn bills_are_sent_and_matched_as_the_platform_keeps_them() {
    let fake = Arc::new(FakeHttpClient::new());
    fake.on(
        Some(http::Method::GET),
        "https://api-hub.acme.example/api/v1/account/bills?",
        vec![FakeReply::json(
            200,
            fixture("shapes/account/bills-list.json"),
        )],
    );
    fake.on(
        Some(http::Method::POST),
        "https://api-hub.acme.example/",
        vec![FakeReply::json(
            201,
            fixture("shapes/account/bill-single.json"),
        )],
    );
    let client = AccountClient::new(acme(), fake.clone());
    // The period as an app computes it, with fractions; the platform kept 00:00:00 and
    // 23:59:59 (the vendored reply renders them as `.000Z`).
    let wanted = NewBill::new(
        GroupUid::new("cld-4f5d").unwrap(),
        Money::new(1999, Currency::new("USD").unwrap()),
        "Extra storage (1.5 GB)",
    )
    .units("1.5".parse().unwrap())
    .period(
        datetime!(2017-03-01 00:00:00.400 UTC),
        datetime!(2017-03-31 23:59:59.999999 UTC),
    );
    client.create_bill(&wanted).await.unwrap();
    let sent: serde_json::Value = serde_json::from_slice(fake.requests()[0].body()).unwrap();
    assert_eq!(sent["period_started_at"], "2017-03-01T00:00:00Z");
    assert_eq!(sent["period_ended_at"], "2017-03-31T23:59:59Z");

    let found = client
        .find_bill(&wanted, datetime!(2017-03-27 16:11:22.600 UTC))
        .await
        .unwrap();
    assert_eq!(found.len(), 1, "the bill the platform kept matches");
    // The bill was created at 16:11:22 as the platform keeps it; the bound goes down to it.
    assert!(
        fake.requests()[1]
            .uri()
            .to_string()
            .ends_with("created_at_after=2017-03-27T16%3A11%3A22Z"),
        "{}",
        fake.requests()[1].uri()
    );

    // Units the platform would round or overflow are refused before anything is sent.
    let before = fake.requests().len();
    for units in ["1.333", "0.001", "100000000", "123456789.5"] {
        let e = client
            .create_bill(&wanted.clone().units(units.parse().unwrap()))
            .await
            .unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("units") && text.contains("decimal(10,2)"),
            "{units}: {text}"
        );
        assert!(text.contains(units), "says what was found: {text}");
    }
    assert_eq!(fake.requests().len(), before);
    for units in ["2.50", "3.000", "99999999.99"] {
        let bill = wanted.clone().units(units.parse().unwrap());
        client.create_bill(&bill).await.unwrap();
    }
}
