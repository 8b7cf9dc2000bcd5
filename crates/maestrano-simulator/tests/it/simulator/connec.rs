//! The simulated Connec! API over raw HTTP.

use maestrano::GroupUid;
use maestrano_simulator::{Api, ApiFault, MAX_BATCH_OPS, MarketplaceInfo};
use serde_json::{Value, json};

use super::support::*;

struct Connec<'a> {
    info: &'a MarketplaceInfo,
    auth: String,
}

impl<'a> Connec<'a> {
    fn of(info: &'a MarketplaceInfo) -> Self {
        Self {
            info,
            auth: basic(info.api_id.as_str(), info.api_key.expose()),
        }
    }

    async fn call_url(&self, method: &str, url: &str, body: Option<&Value>) -> (u16, Value) {
        let r = send(method, url, Some(&self.auth), body).await.unwrap();
        assert_eq!(
            r.headers()["content-type"],
            "application/vnd.api+json",
            "{url}"
        );
        (r.status().as_u16(), json_of(&r))
    }

    async fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let url = format!(
            "{}{}",
            self.info.base_url.as_str().trim_end_matches('/'),
            path
        );
        self.call_url(method, &url, body).await
    }
}

fn person(first: &str, last: &str, age: i64) -> Value {
    json!({"people": {"first_name": first, "last_name": last, "age": age,
        "id": [{"id": format!("C-{first}"), "provider": "myapp", "realm": "realm-42"}],
        "opts": {"matching_fields": ["first_name"]}}})
}

/// Encodes the spaces and quotes of a query, as a client must.
fn enc(q: &str) -> String {
    q.replace(' ', "%20").replace('\'', "%27")
}

fn connec_id(entity: &Value) -> String {
    entity["id"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["provider"] == "connec")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn names(body: &Value) -> Vec<&str> {
    body["people"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["first_name"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn entities_are_created_listed_filtered_paged_and_updated() {
    let sim = two(clock(), &app_url()).await;
    let info = &sim.marketplaces()[0];
    let api = Connec::of(info);

    let mut created = Vec::new();
    for (first, last, age) in [
        ("John", "Doe", 40),
        ("Jane", "Roe", 30),
        ("Ana", "Lima", 50),
        ("Zed", "Doe", 20),
        ("Bob", "O'Hara", 35),
    ] {
        let (status, body) = api
            .call(
                "POST",
                "/api/v2/cld-1/people/",
                Some(&person(first, last, age)),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        created.push(body["people"].clone());
    }
    let john = &created[0];
    assert_same_shape(
        john,
        &json!({
            "id": [{"id": "", "provider": "", "realm": ""}], "first_name": "", "last_name": "", "age": 0,
            "group_id": "", "created_at": "", "updated_at": "",
        }),
        "person",
    );
    let ids = john["id"].as_array().unwrap();
    assert_eq!(ids[0]["provider"], "connec");
    assert_eq!(ids[0]["realm"], "org-cld-1");
    assert_eq!(
        ids[1],
        json!({"id": "C-John", "provider": "myapp", "realm": "realm-42"})
    );
    assert_eq!(john["group_id"], "cld-1");
    assert!(john.get("opts").is_none());

    // Single entity: the collection key holds an object.
    let id = connec_id(john);
    let (status, got) = api
        .call("GET", &format!("/api/v2/cld-1/people/{id}"), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(&got["people"], john);

    // $filter, $orderby, $top, $skip.
    let api = &api;
    let list = |q: &str| {
        let path = format!("/api/v2/cld-1/people?{}", enc(q));
        async move { api.call("GET", &path, None).await }
    };
    let (_, body) = list("%24filter=last_name eq %27Doe%27").await;
    assert_eq!(names(&body), ["John", "Zed"]);
    assert!(body.get("pagination").is_none());
    let (_, body) = list("$filter=last_name eq 'O''Hara'").await;
    assert_eq!(names(&body), ["Bob"]);
    let (_, body) = list("$filter=age gt 30 and age le 50&$orderby=age desc").await;
    assert_eq!(names(&body), ["Ana", "John", "Bob"]);
    let (_, body) = list("$filter=id eq 'C-Jane'").await;
    assert_eq!(names(&body), ["Jane"]);
    let (_, body) = list("$orderby=first_name").await;
    assert_eq!(names(&body), ["Ana", "Bob", "Jane", "John", "Zed"]);
    let (_, body) = list("$orderby=age asc&$top=2&$skip=1").await;
    assert_eq!(names(&body), ["Jane", "Bob"]);

    // pagination.next: an absolute URL on the same host, followed until the last page.
    let (status, page) = list("$orderby=age&$top=2").await;
    assert_eq!(status, 200);
    let mut expected = shape("connec/people-list-pagination.json");
    expected["people"] = json!([]);
    assert_same_shape(&page, &expected, "$");
    let mut seen = names(&page)
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>();
    let mut next = page["pagination"]["next"].as_str().map(str::to_owned);
    let mut pages = 1;
    while let Some(url) = next {
        assert!(url.starts_with(info.base_url.as_str()), "{url}");
        assert!(
            url.contains("%24skip=") && url.contains("%24top=2"),
            "{url}"
        );
        let (status, page) = api.call_url("GET", &url, None).await;
        assert_eq!(status, 200);
        seen.extend(names(&page).iter().map(|s| s.to_string()));
        next = page["pagination"]["next"].as_str().map(str::to_owned);
        pages += 1;
        assert!(pages <= 5);
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ["Zed", "Jane", "Bob", "John", "Ana"]);

    // PUT merges fields and external ids.
    let (status, body) = api
        .call(
            "PUT",
            &format!("/api/v2/cld-1/people/{id}"),
            Some(&json!({"people": {"first_name": "Johnny", "id": [{"id": "C-99", "provider": "myapp", "realm": "realm-42"}, {"id": "X-1", "provider": "other"}]}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["people"]["first_name"], "Johnny");
    assert_eq!(body["people"]["last_name"], "Doe");
    let ids = body["people"]["id"].as_array().unwrap();
    assert_eq!(ids.len(), 3);
    assert_eq!(ids[1]["id"], "C-99");

    // Tests read what was stored; groups are separate.
    let handle = sim.marketplace(&info.key).unwrap();
    let group: GroupUid = "cld-1".parse().unwrap();
    let stored = handle.connec_entities(&group, "people");
    assert_eq!(stored.len(), 5);
    assert_eq!(stored[0]["first_name"], "Johnny");
    assert!(handle.connec_entities(&group, "invoices").is_empty());
    let inserted = handle
        .insert_connec_entity(&group, "invoices", json!({"title": "INV-1", "amount": 10}))
        .unwrap();
    assert_eq!(inserted["group_id"], "cld-1");
    let (_, body) = api.call("GET", "/api/v2/cld-1/invoices", None).await;
    assert_eq!(body["invoices"][0]["title"], "INV-1");
    let err = handle
        .insert_connec_entity(&group, "widgets", json!({}))
        .unwrap_err();
    assert!(
        matches!(
            err,
            maestrano_simulator::SimulatorError::Refused { status: 400, .. }
        ),
        "{err}"
    );
    assert!(handle.requests(Api::Connec) >= 15);
}

#[tokio::test]
async fn errors_are_json_api_shaped() {
    let sim = two(clock(), &app_url()).await;
    let [a, b] = sim.marketplaces() else { panic!() };
    let api = Connec::of(a);
    let error_shape = shape("connec/error-404-not-found.json");

    let check = |status: u16, body: &Value, want_status: u16, code: &str| {
        assert_eq!(status, want_status, "{body}");
        assert_same_shape(body, &error_shape, "$");
        assert_eq!(body["errors"][0]["code"], code, "{body}");
    };
    let (s, body) = api.call("GET", "/api/v2/cld-1/people/nope", None).await;
    check(s, &body, 404, "resource-not-found");
    assert_eq!(body["errors"][0]["status"], "404");
    assert_eq!(
        body["errors"][0]["href"],
        "http://maestrano.github.io/connec/#people-person-get"
    );
    let (s, body) = api.call("GET", "/api/v2/cld-1/foos", None).await;
    check(s, &body, 400, "unknown-resource");
    assert_eq!(
        body["errors"][0]["href"],
        shape("connec/error-400-unknown-resource.json")["errors"][0]["href"]
    );
    let (s, body) = api
        .call(
            "POST",
            "/api/v2/cld-1/people",
            Some(&json!({"people": {"id": [{"id": "x", "provider": "connec"}]}})),
        )
        .await;
    check(s, &body, 409, "creation-of-resource-with-id");
    assert_eq!(body["errors"][0]["status"], "404", "the sandbox's quirk");
    let (s, body) = api
        .call(
            "POST",
            "/api/v2/cld-1/people",
            Some(&json!({"persons": {}})),
        )
        .await;
    check(s, &body, 400, "bad-request");
    let (s, body) = api
        .call(
            "GET",
            &format!("/api/v2/cld-1/people?{}", enc("$filter=name like 'x'")),
            None,
        )
        .await;
    check(s, &body, 400, "bad-request");
    let (s, body) = api.call("GET", "/api/v2/cld-1/people?$top=0", None).await;
    check(s, &body, 400, "bad-request");
    // The other marketplace's group, and its credentials.
    let (s, body) = api.call("GET", "/api/v2/cld-2/people", None).await;
    check(s, &body, 404, "resource-not-found");
    let other = basic(b.api_id.as_str(), b.api_key.expose());
    for auth in [None, Some(other.as_str())] {
        let url = format!("{}people", a.connec_api_url().join("cld-1/").unwrap());
        let r = send("GET", &url, auth, None).await.unwrap();
        assert_eq!(r.status(), 401);
        let body = json_of(&r);
        assert_same_shape(&body, &shape("connec/error-401-unauthorized.json"), "$");
        assert_eq!(body["errors"][0]["code"], "unauthorized-access");
        assert_eq!(body["errors"][0]["href"], Value::Null);
    }
    // A 500 from the fault mode.
    let handle = sim.marketplace(&a.key).unwrap();
    handle.inject_fault(Api::Connec, ApiFault::InternalError, 1);
    let (s, body) = api.call("GET", "/api/v2/cld-1/people", None).await;
    check(s, &body, 500, "internal-server-error");
    // /version is public.
    let r = send("GET", &format!("{}version", a.base_url), None, None)
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_same_shape(
        &json_of(&r),
        &json!({"ci_build_number": "", "ci_branch": "", "ci_commit": ""}),
        "$",
    );
}

#[tokio::test]
async fn batches_run_each_operation_and_report_its_status() {
    let sim = two(clock(), &app_url()).await;
    let info = &sim.marketplaces()[0];
    let api = Connec::of(info);
    let (_, body) = api
        .call(
            "POST",
            "/api/v2/cld-1/people",
            Some(&person("Janet", "Roe", 33)),
        )
        .await;
    let janet = connec_id(&body["people"]);
    let batch = json!({"sequential": true, "ops": [
        {"method": "post", "url": "/api/v2/cld-1/people/", "params": person("Jack", "Black", 41)},
        {"method": "put", "url": format!("/api/v2/cld-1/people/{janet}"), "params": {"people": {"first_name": "Janet", "code": "PE4"}}},
        {"method": "put", "url": "/api/v2/cld-1/people/ffffffff-e18e-0133-7b6a-000000000000", "params": {"people": {}}},
        {"method": "get", "url": format!("{}api/v2/cld-1/people?$filter=last_name%20eq%20'Black'", info.base_url)},
    ]});
    let (status, reply) = api.call("POST", "/batch", Some(&batch)).await;
    assert_eq!(status, 200, "{reply}");
    let expected = shape("connec/batch-reply.json");
    let results = reply["results"].as_array().unwrap();
    assert_eq!(results.len(), 4);
    let statuses: Vec<u64> = results
        .iter()
        .map(|r| r["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [201, 200, 404, 200]);
    assert_eq!(results[0]["body"]["people"]["first_name"], "Jack");
    assert_eq!(results[1]["body"]["people"]["code"], "PE4");
    assert_same_shape(
        &results[2]["body"],
        &expected["results"][2]["body"],
        "results[2].body",
    );
    assert_eq!(results[3]["body"]["people"][0]["first_name"], "Jack");
    let group: GroupUid = "cld-1".parse().unwrap();
    assert_eq!(
        sim.marketplace(&info.key)
            .unwrap()
            .connec_entities(&group, "people")
            .len(),
        2
    );

    // The conformance request itself runs (its group is not this marketplace's: 404s).
    let (status, reply) = api
        .call("POST", "/batch", Some(&shape("connec/batch-request.json")))
        .await;
    assert_eq!(status, 200);
    assert_eq!(reply["results"].as_array().unwrap().len(), 3);
    // Too many operations, and a body that is no batch.
    let ops: Vec<Value> = (0..=MAX_BATCH_OPS)
        .map(|_| json!({"method": "get", "url": "/api/v2/cld-1/people"}))
        .collect();
    let (status, body) = api
        .call(
            "POST",
            "/batch",
            Some(&json!({"sequential": true, "ops": ops})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = api.call("POST", "/batch", Some(&json!([1, 2]))).await;
    assert_eq!(status, 400);

    // Reports: a small fixed shape.
    let (status, report) = api
        .call(
            "GET",
            "/api/reports/cld-1/profit_and_loss?from=2031-01-01",
            None,
        )
        .await;
    assert_eq!(status, 200, "{report}");
    let r = &report["profit_and_loss"];
    assert_eq!(r["group_id"], "cld-1");
    assert_eq!(r["params"]["from"], "2031-01-01");
    assert_eq!(r["rows"][0], json!({"label": "people", "value": 2}));
    let (status, _) = api.call("GET", "/api/reports/cld-1/horoscope", None).await;
    assert_eq!(status, 404);
}
