//! The simulated account API over raw HTTP (the SDK's reqwest adapter), its bodies checked
//! against the conformance shapes.

use maestrano::BillId;
use maestrano_simulator::{Api, ApiFault, MarketplaceInfo};
use serde_json::{Value, json};
use time::Duration;

use super::support::*;

struct Account<'a> {
    info: &'a MarketplaceInfo,
    auth: String,
}

impl<'a> Account<'a> {
    fn of(info: &'a MarketplaceInfo) -> Self {
        Self {
            info,
            auth: basic(info.api_id.as_str(), info.api_key.expose()),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.info.account_api_url())
    }

    async fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let r = send(method, &self.url(path), Some(&self.auth), body)
            .await
            .unwrap();
        assert_eq!(r.headers()["content-type"], "application/json");
        (r.status().as_u16(), json_of(&r))
    }

    async fn create_bill(&self, body: Value) -> Value {
        let (status, reply) = self.call("POST", "bills", Some(&body)).await;
        assert_eq!(status, 201, "{reply}");
        reply["data"].clone()
    }
}

fn bill(group: &str, cents: i64, description: &str) -> Value {
    json!({"group_id": group, "price_cents": cents, "currency": "AUD", "description": description})
}

#[tokio::test]
async fn every_error_has_the_sandbox_shape() {
    let clock = clock();
    let sim = two(clock.clone(), &app_url()).await;
    let [a, b] = sim.marketplaces() else { panic!() };
    let api = Account::of(a);

    // 401: no credentials, wrong key, and the other marketplace's credentials.
    let other = basic(b.api_id.as_str(), b.api_key.expose());
    let wrong = basic(a.api_id.as_str(), "not-the-key");
    for auth in [None, Some(wrong.as_str()), Some(other.as_str())] {
        let r = send("GET", &api.url("bills"), auth, None).await.unwrap();
        assert_eq!(r.status(), 401);
        assert_eq!(json_of(&r), shape("account/error-401-invalid-token.json"));
    }

    // 400: validation, each field named, in the order of the conformance file.
    let (status, body) = api
        .call(
            "POST",
            "bills",
            Some(&json!({"group_id": "cld-1", "price_cents": 0, "currency": "XXX", "description": " "})),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(body, shape("account/error-400-validation-multiple.json"));
    let r = send(
        "POST",
        &api.url("bills"),
        Some(&api.auth),
        Some(&json!({"group_id": "cld-1", "price_cents": 0, "currency": "XXX", "description": ""})),
    )
    .await
    .unwrap();
    let text = String::from_utf8(r.body().clone()).unwrap();
    assert!(
        text.find("price_cents").unwrap() < text.find("currency").unwrap()
            && text.find("currency").unwrap() < text.find("description").unwrap(),
        "the first error is the one clients report: {text}"
    );

    // 400: a group that is not this marketplace's (cld-2 is the other marketplace's).
    for group in ["cld-2", "cld-nope"] {
        let (status, body) = api
            .call("POST", "bills", Some(&bill(group, 100, "x")))
            .await;
        assert_eq!(status, 400);
        assert_eq!(body, shape("account/error-400-group-id.json"));
    }

    // 200 with success false: an unknown id on GET.
    for path in [
        "bills/bill-nope",
        "recurring_bills/rbill-nope",
        "groups/cld-2",
        "users/usr-2",
        "resellers/rsl-nope",
    ] {
        let (status, body) = api.call("GET", path, None).await;
        assert_eq!(status, 200, "{path}");
        assert_eq!(body, shape("account/error-200-id-not-found.json"), "{path}");
    }

    // 400 on cancelling an invoiced bill; the bill stays invoiced.
    let created = api.create_bill(bill("cld-1", 1999, "Extra storage")).await;
    let id = created["id"].as_str().unwrap();
    let handle = sim.marketplace(&a.key).unwrap();
    handle
        .mark_bill_invoiced(&BillId::new(id).unwrap())
        .unwrap();
    let (status, body) = api.call("DELETE", &format!("bills/{id}"), None).await;
    assert_eq!(status, 400);
    assert_eq!(body, shape("account/error-400-cancel-invoiced.json"));
    assert_eq!(handle.bills()[0]["status"], "invoiced");
    assert!(
        handle
            .mark_bill_invoiced(&BillId::new("bill-nope").unwrap())
            .is_err()
    );
    // DELETE of an unknown bill: the not-found body, with HTTP 400.
    let (status, body) = api.call("DELETE", "bills/bill-nope", None).await;
    assert_eq!(status, 400);
    assert_eq!(body, shape("account/error-200-id-not-found.json"));

    // 500 through the fault mode: the request is not acted on.
    assert!(handle.inject_fault(Api::Account, ApiFault::InternalError, 1));
    let (status, body) = api
        .call("POST", "bills", Some(&bill("cld-1", 5, "lost")))
        .await;
    assert_eq!(status, 500);
    assert_eq!(body, shape("account/error-500-system.json"));
    assert_eq!(handle.bills().len(), 1);
    assert_eq!(handle.faults_applied(), 1);
    // The next request is served normally.
    let (status, _) = api.call("GET", "bills", None).await;
    assert_eq!(status, 200);

    // Unknown resources and methods.
    let (status, _) = api.call("GET", "invoices", None).await;
    assert_eq!(status, 404);
    let (status, _) = api.call("DELETE", "groups/cld-1", None).await;
    assert_eq!(status, 405);
    let (status, body) = api.call("GET", "bills?colour=red", None).await;
    assert_eq!(status, 400);
    assert_eq!(
        body["errors"]["colour"][0],
        "is not a field that can be filtered"
    );
    assert!(handle.requests(Api::Account) > 10);
}

#[tokio::test]
async fn bills_are_created_listed_filtered_and_cancelled() {
    let clock = clock();
    let sim = two(clock.clone(), &app_url()).await;
    let info = &sim.marketplaces()[0];
    let api = Account::of(info);
    let t0 = clock_text(&clock);
    let first = api
        .create_bill(json!({
            "group_id": "cld-1", "price_cents": 2300, "currency": "AUD",
            "description": "Monthly subscription",
        }))
        .await;
    clock.advance(Duration::hours(1));
    let t1 = clock_text(&clock);
    let second = api
        .create_bill(json!({"bill": {
            "group_id": "cld-1", "price_cents": 1999, "currency": "usd",
            "description": "Extra storage (1.5 GB)", "units": 1.5,
            "period_started_at": "2031-03-01T00:00:00Z", "period_ended_at": "2031-03-31T23:59:59Z",
        }}))
        .await;
    clock.advance(Duration::hours(1));
    let third = api
        .create_bill(json!({
            "group_id": "cld-1", "price_cents": 500, "currency": "EUR",
            "description": "SMS pack", "units": 2, "third_party": true,
        }))
        .await;

    assert_same_shape(&second, &shape("account/bill-single.json")["data"], "bill");
    assert_eq!(second["object"], "account_bill");
    assert_eq!(second["status"], "submitted");
    assert_eq!(second["currency"], "USD");
    assert_eq!(second["units"], 1.5);
    assert_eq!(second["created_at"], t1);
    assert_eq!(first["units"], Value::Null);
    assert_eq!(first["third_party"], false);
    assert!(first["id"].as_str().unwrap().starts_with("bill-"));

    let (status, list) = api.call("GET", "bills", None).await;
    assert_eq!(status, 200);
    assert_same_shape(&list, &shape("account/bills-list.json"), "$");
    assert_eq!(list["data"].as_array().unwrap().len(), 3);

    let ids = |v: &Value| -> Vec<String> {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let id = |b: &Value| b["id"].as_str().unwrap().to_owned();
    let q = |s: &str| s.replace(':', "%3A").replace('+', "%2B");
    // Times: _after and _before include the bound, _strictly_* exclude it.
    for (query, want) in [
        (
            format!("created_at_after={}", q(&t1)),
            vec![id(&second), id(&third)],
        ),
        (
            format!("created_at_strictly_after={}", q(&t1)),
            vec![id(&third)],
        ),
        (
            format!("created_at_before={}", q(&t1)),
            vec![id(&first), id(&second)],
        ),
        (
            format!("created_at_strictly_before={}", q(&t1)),
            vec![id(&first)],
        ),
        (format!("created_at={}", q(&t0)), vec![id(&first)]),
        // Numbers: _greater_than and _lower_than include the bound.
        (
            "price_cents_greater_than=1999".into(),
            vec![id(&first), id(&second)],
        ),
        (
            "price_cents_strictly_greater_than=1999".into(),
            vec![id(&first)],
        ),
        (
            "price_cents_lower_than=1999".into(),
            vec![id(&second), id(&third)],
        ),
        (
            "price_cents_strictly_lower_than=1999".into(),
            vec![id(&third)],
        ),
        (
            "units_greater_than=1.5".into(),
            vec![id(&second), id(&third)],
        ),
        // Equality and several conditions, ANDed.
        ("currency=EUR".into(), vec![id(&third)]),
        ("third_party=true".into(), vec![id(&third)]),
        (
            "group_id=cld-1&price_cents_lower_than=2000&units_strictly_lower_than=2".into(),
            vec![id(&second)],
        ),
        ("status=cancelled".into(), vec![]),
    ] {
        let (status, body) = api.call("GET", &format!("bills?{query}"), None).await;
        assert_eq!(status, 200, "{query}: {body}");
        assert_eq!(ids(&body), want, "{query}");
    }
    for bad in [
        "created_at_after=yesterday",
        "price_cents_greater_than=lots",
    ] {
        let (status, body) = api.call("GET", &format!("bills?{bad}"), None).await;
        assert_eq!(status, 400, "{bad}");
        assert_eq!(body["success"], false);
    }

    // Retrieve, cancel (idempotently), and the cancelled bill's shape.
    let (status, got) = api
        .call("GET", &format!("bills/{}", id(&first)), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(got["data"], first);
    clock.advance(Duration::minutes(5));
    let (status, cancelled) = api
        .call("DELETE", &format!("bills/{}", id(&first)), None)
        .await;
    assert_eq!(status, 200);
    assert_same_shape(&cancelled, &shape("account/bill-cancelled.json"), "$");
    assert_eq!(cancelled["data"]["status"], "cancelled");
    assert_eq!(cancelled["data"]["updated_at"], clock_text(&clock));
    let (status, again) = api
        .call("DELETE", &format!("bills/{}", id(&first)), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(again["data"]["status"], "cancelled");
    let (_, body) = api.call("GET", "bills?status=cancelled", None).await;
    assert_eq!(ids(&body), vec![id(&first)]);

    // What was stored is what tests read; the other marketplace has none of it.
    let handle = sim.marketplace(&info.key).unwrap();
    assert_eq!(handle.bills().len(), 3);
    let other = Account::of(&sim.marketplaces()[1]);
    let (_, body) = other.call("GET", "bills", None).await;
    assert_eq!(body["data"], json!([]));
}

fn clock_text(clock: &maestrano::test_util::ManualClock) -> String {
    use maestrano::ports::Clock;
    maestrano::__private::format_utc(clock.now())
}

#[tokio::test]
async fn recurring_bills_groups_users_and_resellers() {
    let clock = clock();
    let sim = two(clock.clone(), &app_url()).await;
    let info = &sim.marketplaces()[0];
    let api = Account::of(info);

    let (status, body) = api
        .call(
            "POST",
            "recurring_bills",
            Some(&json!({
                "group_id": "cld-1", "price_cents": 4500, "currency": "GBP",
                "description": "Team plan (5 seats)", "period": "semimonth",
                "frequency": 2, "cycles": 12, "initial_cents": 10000,
            })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_same_shape(&body, &shape("account/recurring-bill-single.json"), "$");
    let rb = &body["data"];
    assert_eq!(rb["object"], "account_recurring_bill");
    assert_eq!(rb["remaining_cycles"], 12);
    assert_eq!(rb["next_execution_at"], rb["start_date"]);
    let (status, body) = api
        .call(
            "POST",
            "recurring_bills",
            Some(&json!({"group_id": "cld-1", "price_cents": 100, "currency": "AUD", "description": "x", "period": "fortnight", "frequency": 0})),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        body["errors"]["period"].is_array() && body["errors"]["frequency"].is_array(),
        "{body}"
    );
    let (_, list) = api
        .call(
            "GET",
            "recurring_bills?period=semimonth&frequency_greater_than=2",
            None,
        )
        .await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert_same_shape(&list, &shape("account/recurring-bills-list.json"), "$");
    let id = rb["id"].as_str().unwrap();
    let (status, cancelled) = api
        .call("DELETE", &format!("recurring_bills/{id}"), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(cancelled["data"]["status"], "cancelled");
    assert_eq!(
        sim.marketplace(&info.key).unwrap().recurring_bills().len(),
        1
    );

    let (status, groups) = api.call("GET", "groups", None).await;
    assert_eq!(status, 200);
    assert_same_shape(
        &groups["data"][0],
        &shape("account/group-single.json")["data"],
        "group",
    );
    assert_eq!(groups["data"][0]["id"], "cld-1");
    assert_eq!(
        groups["data"][0]["free_trial_end_at"],
        "0000-01-01T00:00:00Z"
    );
    let (_, group) = api.call("GET", "groups/cld-1", None).await;
    assert_eq!(group["data"]["name"], format!("Company 1 of {}", info.key));
    let (_, none) = api.call("GET", "groups?currency=USD", None).await;
    assert_eq!(none["data"], json!([]));

    let (_, users) = api.call("GET", "users", None).await;
    assert_same_shape(&users, &shape("account/users-list.json"), "$");
    assert_eq!(users["data"][0]["id"], "usr-1");
    let (_, user) = api.call("GET", "users/usr-1", None).await;
    assert_same_shape(&user, &shape("account/user-single.json"), "$");

    let (_, resellers) = api.call("GET", "resellers", None).await;
    assert_same_shape(&resellers, &shape("account/resellers-list.json"), "$");
    let (_, reseller) = api.call("GET", "resellers/rsl-1?", None).await;
    assert_same_shape(&reseller, &shape("account/reseller-single.json"), "$");
    assert_eq!(reseller["data"]["code"], "AU-000001-RSL");
}

/// The documented double-billing guard, against the simulator's account API, which keeps
/// bills as the platform does (mno-api-sandbox `app/models/bill.rb`: `datetime` periods and
/// `created_at` at whole seconds, `units` as `decimal(10,2)`): a create whose reply is lost,
/// with a period and a clock carrying fractions of a second, is found again, exactly once, so
/// the app does not bill twice.
#[tokio::test]
async fn a_lost_create_is_found_again_although_the_platform_keeps_whole_seconds() {
    use maestrano::Registry;
    use maestrano::api::{AccountClient, Currency, Money, NewBill};
    use maestrano::config::DevPlatformSource;
    use maestrano::ports::Clock as _;
    use std::sync::Arc;

    let clock = clock();
    clock.advance(time::Duration::milliseconds(700));
    let sim = two(clock.clone(), &app_url()).await;
    let http: Arc<dyn maestrano::ports::HttpClient> = Arc::new(client());
    let source = DevPlatformSource::new(sim.dev_platform_settings().unwrap(), http.clone());
    let registry = Registry::builder(Arc::new(source), clock.clone())
        .build()
        .await
        .unwrap();
    let a = &sim.marketplaces()[0];
    let handle = sim.marketplace(&a.key).unwrap();
    let client = AccountClient::new(registry.with(&a.key).unwrap(), http);

    let start = time::macros::datetime!(2031-02-01 00:00:00.250 UTC);
    let end = time::macros::datetime!(2031-02-28 23:59:59.999 UTC);
    let wanted = NewBill::new(
        "cld-1".parse().unwrap(),
        Money::new(1250, Currency::new("AUD").unwrap()),
        "Seats in February",
    )
    .units("2.50".parse().unwrap())
    .period(start, end);
    // What the app records before sending: "now", with its fractions.
    let since = clock.now();
    clock.advance(time::Duration::milliseconds(200));
    handle.inject_fault(Api::Account, ApiFault::DropAfterHandling, 1);
    let lost = client.create_bill(&wanted).await.unwrap_err();
    assert!(lost.outcome_unknown(), "{lost}");
    assert_eq!(handle.bills().len(), 1, "the bill exists");

    let found = client.find_bill(&wanted, since).await.unwrap();
    assert_eq!(found.len(), 1, "found once: not created a second time");
    let kept = &found[0];
    assert_eq!(
        kept.period_started_at,
        Some(time::macros::datetime!(2031-02-01 00:00:00 UTC))
    );
    assert_eq!(kept.units, Some("2.5".parse().unwrap()));

    // What the platform would round is refused before anything is sent.
    let rounded = wanted.clone().units("2.505".parse().unwrap());
    let e = client.create_bill(&rounded).await.unwrap_err();
    assert!(e.to_string().contains("decimal(10,2)"), "{e}");
    assert!(!e.outcome_unknown());
    assert_eq!(handle.bills().len(), 1);
}
