//! Read arbitrary bytes as a request line, `METHOD target` (the method up to the first space;
//! the target is the path with its query), and match it against the routes of the two tenants
//! of `shapes/dev-platform/marketplaces-two.json`: with the default layout (prefixed routes
//! and tenant paths) and with prefix `/` and no tenant paths. Method and target come from any
//! client that reaches the app, so untrusted. An endpoint found is of a known tenant and
//! answers the method asked; the allowed methods of a 405 never hold it; matching an
//! `http::Request` agrees with matching its parts.
#![no_main]

use std::sync::LazyLock;

use http::Method;
use libfuzzer_sys::fuzz_target;
use maestrano::config::{MarketplaceConfig, parse_marketplaces};
use maestrano::routes::{MatchError, Router, RouterOptions};

static ROUTERS: LazyLock<[Router; 2]> = LazyLock::new(|| {
    let configs = parse_marketplaces(include_bytes!(
        "../../crates/maestrano/tests/data/maestrano/shapes/dev-platform/marketplaces-two.json"
    ))
    .unwrap();
    let build = |options: RouterOptions| {
        Router::new(&options, configs.iter().map(MarketplaceConfig::routes)).unwrap()
    };
    [
        build(RouterOptions::default()),
        build(
            RouterOptions::new()
                .with_prefix("/")
                .with_tenant_paths(false),
        ),
    ]
});

fuzz_target!(|data: &[u8]| {
    let (method, target) = match data.iter().position(|&b| b == b' ') {
        Some(i) => (
            Method::from_bytes(&data[..i]).unwrap_or(Method::GET),
            &data[i + 1..],
        ),
        None => (Method::GET, data),
    };
    let Ok(target) = std::str::from_utf8(target) else {
        return;
    };
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    let request = http::Uri::try_from(target).ok().map(|uri| {
        http::Request::builder()
            .method(method.clone())
            .uri(uri)
            .body(())
            .unwrap()
    });
    for router in ROUTERS.iter() {
        let found = router.match_parts(&method, path, query);
        match &found {
            Ok(endpoint) => {
                assert!(router.has_tenant(&endpoint.marketplace));
                let kind = endpoint.kind.route_kind();
                assert_eq!(kind.method(), method);
                assert!(
                    router
                        .routes_for(&endpoint.marketplace)
                        .iter()
                        .any(|r| r.kind == kind && r.origin == endpoint.origin)
                );
            }
            Err(MatchError::MethodNotAllowed { allowed }) => {
                assert!(!allowed.is_empty() && !allowed.contains(&method));
                assert!(allowed.is_sorted_by(|a, b| a.as_str() < b.as_str()));
            }
            Err(MatchError::UnknownTenant { marketplace }) => {
                assert!(!router.has_tenant(marketplace));
            }
            Err(_) => {}
        }
        if let Err(e) = &found {
            let _ = (e.status(), e.to_string());
        }
        if let Some(request) = &request {
            let uri = request.uri();
            assert_eq!(
                router.match_request(request),
                router.match_parts(&method, uri.path(), uri.query())
            );
        }
    }
});
