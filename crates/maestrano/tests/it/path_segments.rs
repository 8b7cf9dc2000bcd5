//! Paths built from data never leave their customer (issue 15): Connec! entity ids and next
//! links, batch operations, remote URLs of the id map and configured paths are checked as a
//! proxy in front of the server would see them, one that decodes `%2F` (and decodes again) and
//! resolves `..`. The "proxy" here is written in this file, independently of the SDK's check.

use maestrano::__private::ConnecRequests;
use maestrano::config::MarketplaceConfig;
use maestrano::connec::{BatchMethod, BatchOp, ConnecError, Entity};
use maestrano::idmap::{Realm, RemoteRef, RemoteUrlError, RemoteUrls};
use maestrano::{GroupUid, Secret, Tenant};
use proptest::prelude::*;
use serde_json::json;

const FP: &str = "01:06:15:89:25:7d:78:12:28:a6:69:c7:de:63:ed:74:21:f9:f5:36";

fn builder() -> maestrano::config::MarketplaceConfigBuilder {
    MarketplaceConfig::builder("acme-corp")
        .app_host("https://app.example.com")
        .api_id("app-1a2b")
        .api_key(Secret::new("acme-secret-key"))
        .api_host("https://api-hub.example.com")
        .sso_idp("https://idp.example.com")
        .x509_fingerprint(FP)
        .connec_host("https://api-connec.example.com")
}

fn tenant() -> Tenant {
    Tenant::new(builder().build().unwrap())
}

fn cld1() -> ConnecRequests {
    ConnecRequests::new(&tenant(), GroupUid::new("cld-1").unwrap()).unwrap()
}

/// What a permissive proxy forwards: the path percent-decoded until nothing changes (at most
/// eight times), `\` read as `/`, then `.` and `..` segments resolved (RFC 3986 §5.2.4).
fn as_a_decoding_proxy_sees_it(path: &str) -> String {
    let mut bytes = path.as_bytes().to_vec();
    for _ in 0..8 {
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if bytes[i] == b'%'
                && i + 2 < bytes.len()
                && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
            {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
            out.push(bytes[i]);
            i += 1;
        }
        if out == bytes {
            break;
        }
        bytes = out;
    }
    let text = String::from_utf8_lossy(&bytes).replace('\\', "/");
    let mut kept: Vec<&str> = Vec::new();
    for segment in text.split('/').skip(1) {
        let segment = segment.split(';').next().unwrap_or_default();
        match segment {
            "." => {}
            ".." => {
                kept.pop();
            }
            s => kept.push(s),
        }
    }
    format!("/{}", kept.join("/"))
}

#[test]
fn the_proxy_in_this_file_decodes_and_walks() {
    assert_eq!(
        as_a_decoding_proxy_sees_it("/api/v2/cld-1/people/..%2F..%2Fcld-2%2Fpeople%2Fp-1"),
        "/api/v2/cld-2/people/p-1"
    );
    assert_eq!(
        as_a_decoding_proxy_sees_it("/api/v2/cld-1/%252e%252e/cld-2"),
        "/api/v2/cld-2"
    );
}

#[test]
fn the_reported_walks_into_another_customer_are_refused() {
    let b = cld1();
    // From the issue: an entity id and a pagination.next that reach cld-2 behind such a proxy.
    let id = "../../cld-2/people/p-1";
    for built in [
        b.get("people", id).map(|_| ()),
        b.update("people", id, &Entity::new()).map(|_| ()),
        b.batch_update("people", id, &Entity::new()).map(|_| ()),
    ] {
        let e = built.unwrap_err();
        let text = e.to_string();
        assert!(text.contains("entity id"), "{text}");
        assert!(text.contains("'..'"), "says what was expected: {text}");
        assert!(
            text.contains("cld-2/people/p-1"),
            "says what was found: {text}"
        );
    }
    for next in [
        "/api/v2/cld-1/..%2Fcld-2%2Fpeople",
        "https://api-connec.example.com/api/v2/cld-1/..%2Fcld-2%2Fpeople?%24skip=100",
        "/api/v2/cld-1/people/%2e%2e/%2e%2e/cld-2/people",
        "/api/v2/cld-1/people%252F..%252F..%252Fcld-2%252Fpeople",
        "/api/v2/cld-1/people/..%5C..%5Ccld-2%5Cpeople",
        "/api/v2/cld-1/..;/cld-2/people",
    ] {
        let e = b.next_page("people", next).unwrap_err();
        assert!(
            matches!(e, ConnecError::ForeignNextPage { .. }),
            "{next}: {e}"
        );
    }
    // The same group's own next link is still followed.
    let own = b
        .next_page("people", "/api/v2/cld-1/people?%24skip=100&%24top=100")
        .unwrap();
    assert_eq!(
        own.uri(),
        "https://api-connec.example.com/api/v2/cld-1/people?%24skip=100&%24top=100"
    );
}

#[test]
fn batch_operations_stay_in_the_group_after_any_decoding() {
    let b = cld1();
    let op = |url: &str| BatchOp::new(BatchMethod::Put, url, json!({"people": {}}));
    for url in [
        "/api/v2/cld-1/people/..%2F..%2Fcld-2%2Fpeople%2Fp-1",
        "/api/v2/cld-1/%2e%2e/cld-2/people",
        "/api/v2/cld-1/people/%252e%252e/x",
        "/api/v2/cld-1/people/p-1/extra",
        "/api/v2/cld-1",
    ] {
        let e = b.batch(&[op(url)], true).unwrap_err();
        assert!(e.to_string().contains("batch operation url"), "{url}: {e}");
    }
    b.batch(&[op("/api/v2/cld-1/people/p-1")], true).unwrap();
    b.batch(&[op("/api/v2/cld-1/people")], true).unwrap();
}

/// Ids made of the characters that walks are made of.
fn hostile_id() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("."),
            Just(".."),
            Just("/"),
            Just("\\"),
            Just("%"),
            Just("%2F"),
            Just("%2f"),
            Just("%25"),
            Just("%2e"),
            Just("%5C"),
            Just("2F"),
            Just("cld-2"),
            Just("p-1"),
            Just(";"),
            Just("\u{0}"),
            Just("a"),
        ],
        1..10,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #[test]
    fn whatever_id_is_accepted_stays_one_segment_under_the_collection(id in hostile_id()) {
        let b = cld1();
        if let Ok(request) = b.get("people", &id) {
            let seen = as_a_decoding_proxy_sees_it(request.uri().path());
            let rest = seen.strip_prefix("/api/v2/cld-1/people/");
            prop_assert!(rest.is_some_and(|r| !r.is_empty() && !r.contains('/')), "{} -> {}", id, seen);
        }
        if let Ok(op) = b.batch_update("people", &id, &Entity::new()) {
            let seen = as_a_decoding_proxy_sees_it(&op.url);
            prop_assert!(seen.starts_with("/api/v2/cld-1/people/"), "{} -> {}", id, seen);
        }
    }

    #[test]
    fn whatever_next_link_is_followed_lists_the_same_collection(tail in hostile_id()) {
        let b = cld1();
        for next in [format!("/api/v2/cld-1/{tail}"), format!("/api/v2/cld-1/people/{tail}"), format!("/api/v2/{tail}/people")] {
            if let Ok(request) = b.next_page("people", &next) {
                prop_assert_eq!(as_a_decoding_proxy_sees_it(request.uri().path()), "/api/v2/cld-1/people");
            }
        }
    }

    #[test]
    fn whatever_remote_url_is_built_names_one_entity(id in hostile_id(), realm in hostile_id()) {
        let urls = RemoteUrls::new().with_tenant(tenant());
        let (Ok(realm), Ok(remote_realm)) = (Realm::new("acme-corp", realm.clone()), Realm::new("acme-corp", "cld-1")) else {
            return Ok(());
        };
        for remote in [RemoteRef::new(realm, "People", "p-1"), RemoteRef::new(remote_realm, "People", id.clone())] {
            let Ok(remote) = remote else { continue };
            if let Ok(url) = urls.url_of(&remote) {
                let seen = as_a_decoding_proxy_sees_it(url.path());
                let parts: Vec<&str> = seen.split('/').collect();
                prop_assert_eq!(parts.len(), 6, "{} -> {}", remote, seen);
                prop_assert_eq!(&parts[..3], ["", "api", "v2"]);
                prop_assert_eq!(parts[4], "people");
            }
        }
    }
}

#[test]
fn id_map_remote_urls_refuse_a_stored_id_that_walks() {
    let urls = RemoteUrls::new()
        .with_tenant(tenant())
        .with_base_url("xero", "https://go.xero.example/orgs/".parse().unwrap());
    let cld1 = Realm::new("acme-corp", "cld-1").unwrap();
    for (realm, id) in [
        (cld1.clone(), "../../cld-2/people/p-1"),
        (cld1.clone(), "..%2F..%2Fcld-2%2Fpeople%2Fp-1"),
        (Realm::new("xero", "org-1").unwrap(), "a/b"),
        (Realm::new("acme-corp", "..").unwrap(), "p-1"),
    ] {
        let remote = RemoteRef::new(realm, "People", id).unwrap();
        match urls.url_of(&remote) {
            Err(RemoteUrlError::UnsafeSegment { field, .. }) => {
                assert!(field == "remote_id" || field == "realm", "{field}")
            }
            other => panic!("{remote}: expected UnsafeSegment, got {other:?}"),
        }
    }
    let ok = RemoteRef::new(cld1, "People", "5b3c-9f").unwrap();
    assert_eq!(
        urls.url_of(&ok).unwrap().as_str(),
        "https://api-connec.example.com/api/v2/cld-1/people/5b3c-9f"
    );
}

#[test]
fn configured_paths_that_walk_after_decoding_are_refused() {
    for base in [
        "/api/../v2",
        "/api/%2e%2e/v2",
        "/api/v2%2F..%2Fv3",
        "/api/a%5Cb",
    ] {
        let e = builder().connec_base_path(base).build().unwrap_err();
        assert!(e.to_string().contains("connec.base_path"), "{base}: {e}");
    }
    builder()
        .connec_base_path("/connec/api/v2")
        .build()
        .unwrap();
    for path in [
        "/mno/%252e%252e/groups/:id",
        "/mno/a%252Fb/groups/:id",
        "/mno/a%5Cb/groups/:id",
    ] {
        let e = builder().group_path(path).build().unwrap_err();
        assert!(e.to_string().contains("group_path"), "{path}: {e}");
    }
    builder()
        .group_path("/mno/hooks/groups/:id")
        .build()
        .unwrap();
}

#[test]
fn account_api_ids_cannot_carry_a_walk() {
    use maestrano::{BillId, RecurringBillId, ResellerUid, UserUid};
    for walk in [
        "..",
        "../bill-2",
        "..%2Fbill-2",
        "bill-1%2F..",
        "a\\b",
        "%2e%2e",
    ] {
        assert!(BillId::new(walk).is_err(), "{walk}");
        assert!(RecurringBillId::new(walk).is_err(), "{walk}");
        assert!(GroupUid::new(walk).is_err(), "{walk}");
        assert!(UserUid::new(walk).is_err(), "{walk}");
        assert!(ResellerUid::new(walk).is_err(), "{walk}");
    }
    // What an id may hold goes into the account API path as it is.
    let requests = maestrano::__private::AccountRequests::new(&tenant());
    let r = requests
        .get_bill(&BillId::new("bill-1.v2~x").unwrap())
        .unwrap();
    assert_eq!(
        as_a_decoding_proxy_sees_it(r.uri().path()),
        "/api/v1/account/bills/bill-1.v2~x"
    );
}
