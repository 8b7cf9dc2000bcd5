//! Route matching through the public API, with the tenants of
//! `shapes/dev-platform/marketplaces-two.json` and the inbound requests of
//! `shapes/webhooks/*.json`.

use std::sync::{Arc, LazyLock};

use base64::Engine as _;
use http::Method;
use maestrano::Registry;
use maestrano::config::{MarketplaceConfig, StaticSource, parse_marketplaces};
use maestrano::ports::SystemClock;
use maestrano::routes::{
    Endpoint, EndpointKind, MatchError, RouteError, RouteKind, RouteOrigin, Router, RouterOptions,
};
use maestrano::{GroupUid, MarketplaceKey, Secret, UserUid};
use proptest::prelude::*;
use serde_json::Value;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/maestrano/");

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(format!("{DATA}{rel}")).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn configs() -> Vec<MarketplaceConfig> {
    parse_marketplaces(&read("shapes/dev-platform/marketplaces-two.json")).unwrap()
}

fn router() -> Router {
    Router::new(
        &RouterOptions::default(),
        configs().iter().map(MarketplaceConfig::routes),
    )
    .unwrap()
}

/// Built once: the property tests run thousands of cases.
static ROUTER: LazyLock<Router> = LazyLock::new(router);

fn key(k: &str) -> MarketplaceKey {
    MarketplaceKey::new(k).unwrap()
}

fn group(g: &str) -> GroupUid {
    GroupUid::new(g).unwrap()
}

fn user(u: &str) -> UserUid {
    UserUid::new(u).unwrap()
}

fn hit(r: &Router, method: Method, target: &str) -> Result<Endpoint, MatchError> {
    let request = http::Request::builder()
        .method(method)
        .uri(target)
        .body(())
        .unwrap();
    r.match_request(&request)
}

fn kind_of(r: Result<Endpoint, MatchError>) -> (String, EndpointKind, RouteOrigin) {
    let e = r.unwrap();
    (e.marketplace.as_str().to_owned(), e.kind, e.origin)
}

#[test]
fn account_webhook_requests_match_and_authenticate_as_the_manifest_says() {
    let spec: Value =
        serde_json::from_slice(&read("shapes/webhooks/account-webhook-requests.json")).unwrap();
    assert_eq!(
        spec["config_file"],
        "shapes/dev-platform/marketplaces-two.json"
    );
    let configs = configs();
    let router = Router::new(
        &RouterOptions::default(),
        configs.iter().map(MarketplaceConfig::routes),
    )
    .unwrap();
    let tenants: Vec<_> = configs.into_iter().map(maestrano::Tenant::new).collect();
    let requests = spec["requests"].as_array().unwrap();
    assert_eq!(requests.len(), 5);
    let mut authenticated = 0;
    for req in requests {
        let name = req["name"].as_str().unwrap();
        let method = Method::from_bytes(req["method"].as_str().unwrap().as_bytes()).unwrap();
        let endpoint = hit(&router, method, req["path"].as_str().unwrap())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(endpoint.marketplace.as_str(), spec["marketplace"], "{name}");
        assert_eq!(endpoint.origin, RouteOrigin::TenantPath);
        let params = &req["params"];
        match (&endpoint.kind, params.get("group_id")) {
            (EndpointKind::GroupDestroyed { group }, None) => {
                assert_eq!(group.as_str(), params["id"], "{name}");
                assert_eq!(
                    req["path_template"],
                    tenants[1]
                        .config()
                        .webhooks()
                        .account()
                        .group_path()
                        .as_str()
                );
            }
            (EndpointKind::GroupUserRemoved { group, user }, Some(g)) => {
                assert_eq!(group.as_str(), g, "{name}");
                assert_eq!(user.as_str(), params["id"], "{name}");
            }
            other => panic!("{name}: {other:?}"),
        }

        // Credentials are checked against the tenant the route names, never another.
        let tenant = tenants
            .iter()
            .find(|t| *t.marketplace() == endpoint.marketplace)
            .unwrap();
        let ok = req["headers"]["Authorization"]
            .as_str()
            .and_then(|h| h.strip_prefix("Basic "))
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .and_then(|raw| {
                let raw = String::from_utf8(raw).ok()?;
                let (id, key) = raw.split_once(':')?;
                Some(tenant.check_credentials(id.as_bytes(), key.as_bytes()))
            })
            .unwrap_or(false);
        assert_eq!(ok, req["expected"]["authenticated"], "{name}");
        authenticated += usize::from(ok);
    }
    assert_eq!(authenticated, 2);
}

#[test]
fn connec_notification_request_matches() {
    let spec: Value =
        serde_json::from_slice(&read("shapes/webhooks/connec-notification-request.json")).unwrap();
    let (m, kind, origin) = kind_of(hit(&router(), Method::POST, spec["path"].as_str().unwrap()));
    assert_eq!(m, spec["marketplace"]);
    assert_eq!(kind, EndpointKind::ConnecNotification);
    assert_eq!(origin, RouteOrigin::TenantPath);
}

#[test]
fn prefixed_routes_serve_every_tenant() {
    let r = router();
    let cases = [
        (
            Method::GET,
            "/mno-enterprise/mno-sandbox/saml/initialize",
            "mno-sandbox",
            EndpointKind::SamlInitialize,
        ),
        (
            Method::POST,
            "/mno-enterprise/maestrano-uat/saml/consume",
            "maestrano-uat",
            EndpointKind::SamlConsume,
        ),
        (
            Method::DELETE,
            "/mno-enterprise/maestrano-uat/account/group/cld-9axx",
            "maestrano-uat",
            EndpointKind::GroupDestroyed {
                group: group("cld-9axx"),
            },
        ),
        (
            Method::DELETE,
            "/mno-enterprise/mno-sandbox/account/group/cld-9axx/user/usr-9f2k",
            "mno-sandbox",
            EndpointKind::GroupUserRemoved {
                group: group("cld-9axx"),
                user: user("usr-9f2k"),
            },
        ),
        (
            Method::POST,
            "/mno-enterprise/maestrano-uat/connec/receive",
            "maestrano-uat",
            EndpointKind::ConnecNotification,
        ),
        // One trailing slash is not significant; percent-encoding is decoded once.
        (
            Method::POST,
            "/mno-enterprise/mno-sandbox/connec/receive/",
            "mno-sandbox",
            EndpointKind::ConnecNotification,
        ),
        (
            Method::DELETE,
            "/mno%2Denterprise/maestrano%2Duat/account/group/cld%2D9axx",
            "maestrano-uat",
            EndpointKind::GroupDestroyed {
                group: group("cld-9axx"),
            },
        ),
    ];
    for (method, path, marketplace, want) in cases {
        let (m, kind, origin) = kind_of(hit(&r, method, path));
        assert_eq!(m, marketplace, "{path}");
        assert_eq!(kind, want, "{path}");
        assert_eq!(origin, RouteOrigin::Prefixed);
    }
}

#[test]
fn tenant_paths_with_a_query_must_match_it() {
    let r = router();
    let (m, kind, _) = kind_of(hit(
        &r,
        Method::GET,
        "/maestrano/init/?marketplace=maestrano-uat",
    ));
    assert_eq!(
        (m.as_str(), kind),
        ("maestrano-uat", EndpointKind::SamlInitialize)
    );
    let (m, kind, _) = kind_of(hit(
        &r,
        Method::POST,
        "/maestrano/consume?foo=1&marketplace=maestrano%2Duat",
    ));
    assert_eq!(
        (m.as_str(), kind),
        ("maestrano-uat", EndpointKind::SamlConsume)
    );
    for target in [
        "/maestrano/init/",
        "/maestrano/init/?marketplace=mno-sandbox",
        "/maestrano/init/?marketplace=maestrano-uat&marketplace=mno-sandbox",
        "/maestrano/init/?Marketplace=maestrano-uat",
    ] {
        assert_eq!(
            hit(&r, Method::GET, target),
            Err(MatchError::NotFound),
            "{target}"
        );
    }
    // Path-only tenant paths of the sandbox tenant.
    let (m, kind, _) = kind_of(hit(
        &r,
        Method::GET,
        "/maestrano/auth/saml/init/mno-sandbox",
    ));
    assert_eq!(
        (m.as_str(), kind),
        ("mno-sandbox", EndpointKind::SamlInitialize)
    );
}

#[test]
fn wrong_method_lists_the_allowed_ones() {
    let r = router();
    assert_eq!(
        hit(
            &r,
            Method::GET,
            "/mno-enterprise/maestrano-uat/saml/consume"
        ),
        Err(MatchError::MethodNotAllowed {
            allowed: vec![Method::POST]
        })
    );
    assert_eq!(
        hit(
            &r,
            Method::POST,
            "/maestrano/init/?marketplace=maestrano-uat"
        ),
        Err(MatchError::MethodNotAllowed {
            allowed: vec![Method::GET]
        })
    );
    let e = hit(
        &r,
        Method::PUT,
        "/maestrano/account/groups/cld-1/maestrano-uat",
    )
    .unwrap_err();
    assert_eq!(e.status(), http::StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(e.to_string(), "method not allowed: expected DELETE");
}

#[test]
fn unknown_tenants_and_malformed_ids_are_distinct() {
    let r = router();
    assert_eq!(
        hit(&r, Method::POST, "/mno-enterprise/acme-corp/saml/consume"),
        Err(MatchError::UnknownTenant {
            marketplace: key("acme-corp")
        })
    );
    assert_eq!(
        hit(&r, Method::POST, "/mno-enterprise/acme-corp/saml/consume")
            .unwrap_err()
            .status(),
        http::StatusCode::NOT_FOUND
    );
    for (target, param) in [
        ("/mno-enterprise/maestrano-uat/account/group/..", "id"),
        ("/mno-enterprise/maestrano-uat/account/group/.", "id"),
        ("/mno-enterprise/maestrano-uat/account/group/%2E%2E", "id"),
        ("/mno-enterprise/maestrano-uat/account/group/a%2Fb", "id"),
        ("/mno-enterprise/maestrano-uat/account/group/%2F", "id"),
        ("/mno-enterprise/maestrano-uat/account/group/a%252Fb", "id"),
        ("/mno-enterprise/maestrano-uat/account/group/%FF", "id"),
        (
            "/mno-enterprise/maestrano-uat/account/group//user/usr-1",
            "group_id",
        ),
        (
            "/mno-enterprise/maestrano-uat/account/group/cld-1/user/..",
            "id",
        ),
        (
            "/mno-enterprise/maestrano-uat/account/group/cld-1/user/%252F",
            "id",
        ),
        ("/mno-enterprise/%2E%2E/account/group/cld-1", "marketplace"),
        ("/mno-enterprise/a%2Fb/saml/initialize", "marketplace"),
        ("/maestrano/account/groups/%2E%2E/maestrano-uat", "id"),
        (
            "/maestrano/account/groups/cld-1/users/a%2Fb/maestrano-uat",
            "id",
        ),
    ] {
        let method = if target.contains("saml") {
            Method::GET
        } else {
            Method::DELETE
        };
        match hit(&r, method, target) {
            Err(e @ MatchError::MalformedId { .. }) => {
                assert!(
                    matches!(e, MatchError::MalformedId { param: p, .. } if p == param),
                    "{target}: {e:?}"
                );
                assert_eq!(e.status(), http::StatusCode::BAD_REQUEST);
            }
            other => panic!("{target}: {other:?}"),
        }
    }
    // Traversal never reaches a route by normalisation.
    for target in [
        "/mno-enterprise/maestrano-uat/x/../saml/consume",
        "/mno-enterprise/maestrano-uat/saml/./consume",
        "//mno-enterprise/maestrano-uat/saml/consume",
        "/mno-enterprise/maestrano-uat/saml/consume//",
        "/mno-enterprise/maestrano-uat/saml%2Fconsume",
        "/",
        "/maestrano/account/groups/cld-1/other-tenant",
    ] {
        assert_eq!(
            hit(&r, Method::POST, target),
            Err(MatchError::NotFound),
            "{target}"
        );
    }
    assert_eq!(
        r.match_parts(&Method::POST, "*", None),
        Err(MatchError::NotFound)
    );
}

fn config_with(k: &str, init: &str, consume: &str) -> MarketplaceConfig {
    MarketplaceConfig::builder(k)
        .app_host("https://app.example.com")
        .api_id(format!("app-{k}"))
        .api_key(Secret::new("k"))
        .api_host("https://hub.example.com")
        .sso_idp("https://idp.example.com")
        .x509_fingerprint("01:06:15:89:25:7d:78:12:28:a6:69:c7:de:63:ed:74:21:f9:f5:36")
        .sso_init_path(init)
        .sso_consume_path(consume)
        .build()
        .unwrap()
}

#[test]
fn overlapping_routes_are_refused_at_build() {
    let options = RouterOptions::default();
    // The same path for two tenants, with no query to tell them apart.
    let same = [
        config_with("a", "/sso/init", "/sso/consume"),
        config_with("b", "/sso/init", "/sso/consume"),
    ];
    assert!(matches!(
        Router::new(&options, same.iter().map(MarketplaceConfig::routes)),
        Err(RouteError::Conflict { .. })
    ));
    // A query on one side only does not tell them apart either.
    let half = [
        config_with("a", "/sso/init?marketplace=a", "/sso/consume?marketplace=a"),
        config_with("b", "/sso/init", "/sso/consume?marketplace=b"),
    ];
    match Router::new(&options, half.iter().map(MarketplaceConfig::routes)) {
        Err(RouteError::Conflict { first, second }) => {
            assert!(first.contains("sso.init_path"), "{first}");
            assert!(second.contains("marketplace b"), "{second}");
        }
        other => panic!("{other:?}"),
    }
    // Distinct queries do.
    let distinct = [
        config_with("a", "/sso/init?marketplace=a", "/sso/consume?marketplace=a"),
        config_with("b", "/sso/init?marketplace=b", "/sso/consume?marketplace=b"),
    ];
    let r = Router::new(&options, distinct.iter().map(MarketplaceConfig::routes)).unwrap();
    assert_eq!(
        kind_of(hit(&r, Method::GET, "/sso/init?marketplace=b")).0,
        "b"
    );
    // A tenant path shadowing a prefixed route.
    let shadow = [config_with(
        "a",
        "/mno-enterprise/x/saml/initialize",
        "/sso/consume",
    )];
    assert!(matches!(
        Router::new(&options, shadow.iter().map(MarketplaceConfig::routes)),
        Err(RouteError::Conflict { .. })
    ));
    // Issue 16: a tenant pointing its paths at its own prefixed routes is served by them (the
    // same endpoint, not a conflict), while pointing them at another tenant's still conflicts.
    let own = [
        config_with(
            "a",
            "/mno-enterprise/a/saml/initialize",
            "/mno-enterprise/a/saml/consume",
        ),
        config_with("b", "/b/init", "/b/consume"),
    ];
    let r = Router::new(&options, own.iter().map(MarketplaceConfig::routes)).unwrap();
    assert_eq!(
        kind_of(hit(&r, Method::POST, "/mno-enterprise/a/saml/consume")),
        ("a".into(), EndpointKind::SamlConsume, RouteOrigin::Prefixed)
    );
    assert_eq!(
        kind_of(hit(&r, Method::GET, "/mno-enterprise/a/saml/initialize")),
        (
            "a".into(),
            EndpointKind::SamlInitialize,
            RouteOrigin::Prefixed
        )
    );
    let foreign = [config_with(
        "a",
        "/mno-enterprise/b/saml/initialize",
        "/sso/consume",
    )];
    assert!(matches!(
        Router::new(&options, foreign.iter().map(MarketplaceConfig::routes)),
        Err(RouteError::Conflict { .. })
    ));
    // Same path, different methods: no conflict.
    let methods = [config_with("a", "/sso", "/sso")];
    let r = Router::new(&options, methods.iter().map(MarketplaceConfig::routes)).unwrap();
    assert_eq!(
        kind_of(hit(&r, Method::GET, "/sso")).1,
        EndpointKind::SamlInitialize
    );
    assert_eq!(
        kind_of(hit(&r, Method::POST, "/sso")).1,
        EndpointKind::SamlConsume
    );
}

#[test]
fn the_prefix_is_configurable() {
    let r = Router::new(
        &RouterOptions::new().with_prefix("/sso/mno/"),
        configs().iter().map(MarketplaceConfig::routes),
    )
    .unwrap();
    assert_eq!(
        kind_of(hit(&r, Method::GET, "/sso/mno/mno-sandbox/saml/initialize")).1,
        EndpointKind::SamlInitialize
    );
    assert_eq!(
        hit(
            &r,
            Method::GET,
            "/mno-enterprise/mno-sandbox/saml/initialize"
        ),
        Err(MatchError::NotFound)
    );
    let root = Router::new(
        &RouterOptions::new().with_prefix("/"),
        configs().iter().map(MarketplaceConfig::routes),
    )
    .unwrap();
    assert_eq!(
        kind_of(hit(&root, Method::POST, "/maestrano-uat/connec/receive")).1,
        EndpointKind::ConnecNotification
    );
    for bad in ["sso", "/a/:x", "/a?b=c", "/a/../b"] {
        assert!(
            matches!(
                Router::new(
                    &RouterOptions::new().with_prefix(bad),
                    configs().iter().map(MarketplaceConfig::routes)
                ),
                Err(RouteError::InvalidPrefix { .. })
            ),
            "{bad}"
        );
    }
    let prefixed_only = Router::new(
        &RouterOptions::new().with_tenant_paths(false),
        configs().iter().map(MarketplaceConfig::routes),
    )
    .unwrap();
    assert_eq!(
        hit(
            &prefixed_only,
            Method::GET,
            "/maestrano/init/?marketplace=maestrano-uat"
        ),
        Err(MatchError::NotFound)
    );
    // SAML init and consume, the two webhooks, Connec!, OpenID init, and OpenID return by
    // POST and by GET.
    assert_eq!(prefixed_only.routes().count(), 8);
}

#[tokio::test]
async fn the_registry_builds_a_router_and_lists_each_tenants_routes() {
    let source =
        StaticSource::from_json_file(format!("{DATA}shapes/dev-platform/marketplaces-two.json"))
            .unwrap();
    let registry = Registry::builder(Arc::new(source), Arc::new(SystemClock))
        // The platform sandbox of the conformance data answers on plain http.
        .insecure_allow_plain_http(maestrano::MarketplaceKey::new("mno-sandbox").unwrap())
        .build()
        .await
        .unwrap();
    let router = registry.router();
    assert!(router.has_tenant(&key("mno-sandbox")));
    assert_eq!(router.routes().count(), 8 + 2 * 5);
    let routes = router.routes_for(&key("maestrano-uat"));
    assert_eq!(routes.len(), 13);
    assert!(
        routes
            .iter()
            .all(|r| r.marketplace == Some(key("maestrano-uat")))
    );
    let paths: Vec<_> = routes
        .iter()
        .map(|r| (r.method.clone(), r.path.as_str()))
        .collect();
    assert!(paths.contains(&(Method::GET, "/mno-enterprise/maestrano-uat/saml/initialize")));
    // The OpenID routes are prefixed only: the developer platform configures no OpenID path.
    for (method, path) in [
        (
            Method::GET,
            "/mno-enterprise/maestrano-uat/openid/initialize",
        ),
        (Method::POST, "/mno-enterprise/maestrano-uat/openid/return"),
        (Method::GET, "/mno-enterprise/maestrano-uat/openid/return"),
    ] {
        assert!(paths.contains(&(method.clone(), path)), "{method} {path}");
        let endpoint = router.match_parts(&method, path, None).unwrap();
        assert!(matches!(
            endpoint.kind,
            EndpointKind::OpenIdInitialize | EndpointKind::OpenIdReturn
        ));
    }
    assert!(paths.contains(&(
        Method::DELETE,
        "/maestrano/account/groups/:id/maestrano-uat"
    )));
    assert!(paths.contains(&(
        Method::POST,
        "/maestrano/consume/?marketplace=maestrano-uat"
    )));
    assert!(
        routes
            .iter()
            .any(|r| r.kind == RouteKind::GroupUserRemoved && r.origin == RouteOrigin::TenantPath)
    );
    assert!(router.routes_for(&key("acme-corp")).is_empty());
}

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("mno-enterprise".to_owned()),
        Just("maestrano-uat".to_owned()),
        Just("mno-sandbox".to_owned()),
        Just("account".to_owned()),
        Just("group".to_owned()),
        Just("groups".to_owned()),
        Just("user".to_owned()),
        Just("users".to_owned()),
        Just("saml".to_owned()),
        Just("maestrano".to_owned()),
        Just("..".to_owned()),
        Just(".".to_owned()),
        Just(String::new()),
        Just("%2F".to_owned()),
        Just("%252F".to_owned()),
        Just("%2E%2E".to_owned()),
        "[a-z0-9%._~/+-]{0,12}",
        "\\PC{0,6}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_paths_never_panic_and_ids_never_hold_a_slash(
        path in prop_oneof![
            proptest::collection::vec(segment(), 0..9).prop_map(|s| format!("/{}", s.join("/"))),
            (segment(), segment()).prop_map(|(m, g)| format!("/mno-enterprise/{m}/account/group/{g}")),
            (segment(), segment(), segment())
                .prop_map(|(m, g, u)| format!("/mno-enterprise/{m}/account/group/{g}/user/{u}")),
            (segment(), segment())
                .prop_map(|(g, u)| format!("/maestrano/account/groups/{g}/users/{u}/maestrano-uat")),
        ],
        query in proptest::option::of("[a-z=&%+.-]{0,24}"),
        method in prop_oneof![Just(Method::GET), Just(Method::POST), Just(Method::DELETE), Just(Method::PUT)],
    ) {
        let r = &*ROUTER;
        if let Ok(e) = r.match_parts(&method, &path, query.as_deref()) {
            let ids: Vec<&str> = match &e.kind {
                EndpointKind::GroupDestroyed { group } => vec![group.as_str()],
                EndpointKind::GroupUserRemoved { group, user } => vec![group.as_str(), user.as_str()],
                _ => vec![],
            };
            for id in ids.into_iter().chain([e.marketplace.as_str()]) {
                prop_assert!(!id.is_empty());
                prop_assert!(!id.contains('/') && !id.contains('%'), "{id}");
                prop_assert!(id != "." && id != "..");
            }
            prop_assert!(r.has_tenant(&e.marketplace));
        }
    }

    #[test]
    fn arbitrary_strings_never_panic(path in "\\PC{0,64}", query in proptest::option::of("\\PC{0,32}")) {
        let r = &*ROUTER;
        let _ = r.match_parts(&Method::DELETE, &path, query.as_deref());
        let _ = r.match_parts(&Method::GET, &format!("/{path}"), query.as_deref());
    }
}

/// A tenant whose group path is drawn from a small alphabet, so that sets collide often, with
/// one another and with the app's prefixed routes.
fn colliding_tenant(i: usize, group_path: &str) -> MarketplaceConfig {
    let k = format!("t{i}");
    MarketplaceConfig::builder(k.as_str())
        .app_host("https://app.example.com")
        .api_id(format!("app-{k}"))
        .api_key(Secret::new(format!("key-{k}")))
        .api_host("https://hub.example.com")
        .sso_idp("https://idp.example.com")
        .x509_fingerprint("01:06:15:89:25:7d:78:12:28:a6:69:c7:de:63:ed:74:21:f9:f5:36")
        .group_path(group_path)
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Issue 15, as a property over sets that collide: whatever the app's prefix, the tenants
    /// the registry serves form a router that builds under that very layout; every refused
    /// tenant really conflicts with them (adding it back fails); and every served tenant's
    /// webhook route reaches it.
    #[test]
    fn the_registry_serves_a_conflict_free_maximal_set_under_the_apps_layout(
        prefix in prop::sample::select(vec!["/mno-enterprise", "/hooks", "/"]),
        paths in prop::collection::vec(
            prop::sample::select(vec![
                "/hooks/:marketplace/account/group/:id",
                "/hooks/x/account/group/:id",
                "/a/:id",
                "/a/:id/b",
                "/b/:id",
                "/:id/account/group/z",
                "/mno-enterprise/t1/account/group/:id",
            ]),
            1..6,
        ),
    ) {
        let configs: Vec<_> = paths
            .iter()
            .enumerate()
            .map(|(i, p)| colliding_tenant(i, &p.replace(":marketplace", &format!("t{i}"))))
            .collect();
        let options = RouterOptions::new().with_prefix(prefix);
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let built = rt.block_on(
            Registry::builder(
                Arc::new(StaticSource::from_configs(configs.clone()).unwrap()),
                Arc::new(SystemClock),
            )
            .router_options(options.clone())
            .build(),
        );
        let Ok(registry) = built else {
            // Nothing was servable: then no single tenant fits on its own.
            for c in &configs {
                prop_assert!(Router::new(&options, [c.routes()]).is_err());
            }
            return Ok(());
        };
        let snapshot = registry.snapshot();
        let served: Vec<&MarketplaceConfig> = snapshot.tenants().map(|t| t.config()).collect();
        prop_assert_eq!(served.len() + snapshot.refused().len(), configs.len());
        prop_assert!(Router::new(&options, served.iter().map(|c| c.routes())).is_ok());
        for refused in snapshot.refused() {
            let config = configs.iter().find(|c| c.marketplace() == &refused.marketplace).unwrap();
            let with_it = served.iter().map(|c| c.routes()).chain([config.routes()]);
            prop_assert!(Router::new(&options, with_it).is_err(), "{} fits", refused.marketplace);
        }
        let router = registry.router();
        for c in &served {
            let path = c.routes().group.as_str().replace(":id", "cld-1");
            let endpoint = router.match_parts(&Method::DELETE, &path, None).unwrap();
            prop_assert_eq!(&endpoint.marketplace, c.marketplace());
        }
    }
}
