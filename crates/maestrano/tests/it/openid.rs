//! Issue 17, first part: the OpenID 2.0 relying party's protocol against messages made by an
//! independent implementation (python3-openid 3.2.0 playing the platform's provider:
//! `tests/data/openid/make_vectors.py`), each verification rule broken on purpose refused with
//! its own error.

use maestrano::MarketplaceKey;
use maestrano::openid::{
    Association, AssociationType, Fields, NONCE_WINDOW, OpenIdError, check_positive,
};
use maestrano::ports::InMemorySingleUseStore;
use serde_json::Value;
use time::OffsetDateTime;
use url::Url;

const VECTORS: &str = include_str!("../data/openid/vectors.json");

struct Vector {
    kind: AssociationType,
    associate_kv: String,
    associate_html: String,
    positive: Vec<(String, String)>,
}

fn vectors() -> (Value, Vec<Vector>) {
    let all: Value = serde_json::from_str(VECTORS).unwrap();
    let list = all["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| Vector {
            kind: match v["assoc_type"].as_str().unwrap() {
                "HMAC-SHA256" => AssociationType::HmacSha256,
                _ => AssociationType::HmacSha1,
            },
            associate_kv: v["associate_kv"].as_str().unwrap().to_owned(),
            associate_html: v["associate_html"].as_str().unwrap().to_owned(),
            positive: v["positive"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                .collect(),
        })
        .collect();
    (all, list)
}

/// The positive assertion as the provider's auto-submitted form posts it.
fn form(pairs: &[(String, String)]) -> Vec<u8> {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish().into_bytes()
}

fn nonce_time(pairs: &[(String, String)]) -> OffsetDateTime {
    let nonce = &pairs
        .iter()
        .find(|(k, _)| k == "openid.response_nonce")
        .unwrap()
        .1;
    OffsetDateTime::parse(&nonce[..20], &time::format_description::well_known::Rfc3339).unwrap()
}

fn with(pairs: &[(String, String)], key: &str, value: &str) -> Vec<(String, String)> {
    let mut out: Vec<_> = pairs.iter().filter(|(k, _)| k != key).cloned().collect();
    out.push((key.to_owned(), value.to_owned()));
    out
}

fn get<'a>(pairs: &'a [(String, String)], key: &str) -> &'a str {
    &pairs.iter().find(|(k, _)| k == key).unwrap().1
}

#[tokio::test]
async fn a_positive_assertion_of_the_independent_provider_verifies_once_and_makes_the_login() {
    let (all, vectors) = vectors();
    let op = Url::parse(all["op_endpoint"].as_str().unwrap()).unwrap();
    let return_to = Url::parse(all["return_to"].as_str().unwrap()).unwrap();
    for v in vectors {
        let now = nonce_time(&v.positive);
        // The platform wraps its direct answers in an HTML page; both read the same.
        let kv = Fields::from_key_value(v.associate_kv.as_bytes()).unwrap();
        assert_eq!(
            Fields::from_key_value(v.associate_html.as_bytes()).unwrap(),
            kv
        );
        let association = Association::from_plaintext_answer(&kv, v.kind, now).unwrap();
        assert!(!format!("{association:?}").contains(kv.get("mac_key").unwrap()));

        let fields = Fields::from_form(&form(&v.positive)).unwrap();
        let checked = check_positive(&fields, &return_to, &op, &association, now).unwrap();
        let store = InMemorySingleUseStore::new();
        let verified = checked.check_replay(&store, now).await.unwrap();
        assert_eq!(verified.claimed_id(), all["identity"].as_str().unwrap());

        let login = verified
            .login(&MarketplaceKey::new("acme-corp").unwrap())
            .unwrap();
        assert_eq!(login.user.uid.as_str(), "usr-1");
        assert_eq!(login.user.virtual_uid.as_str(), "usr-1.cld-1");
        assert_eq!(login.user.email, "jane@example.com");
        assert_eq!(login.user.virtual_email, "usr-1.cld-1@example.com");
        assert_eq!(
            (
                login.user.first_name.as_str(),
                login.user.last_name.as_str()
            ),
            ("Jane", "Doe")
        );
        assert_eq!(login.user.country.as_deref(), Some("AU"));
        assert_eq!(login.group.uid.as_str(), "cld-1");
        assert_eq!(login.group.name.as_deref(), Some("Acme Pty"));
        assert_eq!(login.group.timezone.as_deref(), Some("America/Los_Angeles"));
        // The provider drops the blank role: the same Guest as the SAML IdP sends.
        assert_eq!(login.membership.role, "Guest");
        assert_eq!(
            login.session.token.expose(),
            "abcdefghijklmnopqrstuvwxyz0123456789"
        );
        assert_eq!(
            login.session.recheck_at,
            time::macros::datetime!(2026-12-03 12:03:00 UTC)
        );
        assert!(login.reseller.is_none() && login.group.reseller_id.is_none());

        // The same response again, on this instance or any sharing the store.
        let again = check_positive(&fields, &return_to, &op, &association, now).unwrap();
        assert!(matches!(
            again.check_replay(&store, now).await,
            Err(OpenIdError::Replayed)
        ));
    }
}

#[test]
fn each_verification_rule_broken_on_purpose_is_refused_with_its_own_error() {
    let (all, vectors) = vectors();
    let op = Url::parse(all["op_endpoint"].as_str().unwrap()).unwrap();
    let return_to = Url::parse(all["return_to"].as_str().unwrap()).unwrap();
    let v = &vectors[0];
    let now = nonce_time(&v.positive);
    let kv = Fields::from_key_value(v.associate_kv.as_bytes()).unwrap();
    let association = Association::from_plaintext_answer(&kv, v.kind, now).unwrap();
    let check = |pairs: &[(String, String)], received: &Url, op: &Url, assoc: &Association, at| {
        let fields = Fields::from_form(&form(pairs)).unwrap();
        check_positive(&fields, received, op, assoc, at).map(|_| ())
    };
    let ok = || check(&v.positive, &return_to, &op, &association, now);
    assert!(ok().is_ok());

    // A forged value: the signature no longer verifies (one opaque error).
    let email_key = v
        .positive
        .iter()
        .find(|(_, val)| val == "jane@example.com")
        .map(|(k, _)| k.clone())
        .unwrap();
    let forged = with(&v.positive, &email_key, "mallory@example.com");
    assert!(matches!(
        check(&forged, &return_to, &op, &association, now),
        Err(OpenIdError::SignatureInvalid)
    ));
    let forged = with(&v.positive, "openid.sig", "AAAA");
    assert!(matches!(
        check(&forged, &return_to, &op, &association, now),
        Err(OpenIdError::SignatureInvalid)
    ));

    // A field left out of `signed`.
    let signed = get(&v.positive, "openid.signed").replace("return_to,", "");
    let unsigned = with(&v.positive, "openid.signed", &signed);
    match check(&unsigned, &return_to, &op, &association, now) {
        Err(OpenIdError::NotSigned { name }) => assert_eq!(name, "return_to"),
        other => panic!("{other:?}"),
    }
    // An AX value added outside the signature.
    let mut smuggled = v.positive.clone();
    smuggled.push((
        "openid.ax.type.ext99".into(),
        "http://openid.maestrano.com/schema/company/role".into(),
    ));
    smuggled.push(("openid.ax.value.ext99".into(), "Admin".into()));
    assert!(matches!(
        check(&smuggled, &return_to, &op, &association, now),
        Err(OpenIdError::NotSigned { .. })
    ));

    // A foreign op_endpoint.
    let foreign = Url::parse("https://evil.example/api/openid/provider/app-1a2b").unwrap();
    assert!(matches!(
        check(&v.positive, &return_to, &foreign, &association, now),
        Err(OpenIdError::OpEndpointMismatch { .. })
    ));

    // A return_to that is not the URL that received it: another path, a missing parameter.
    let elsewhere = Url::parse("https://app.example.com/other?state=s1").unwrap();
    assert!(matches!(
        check(&v.positive, &elsewhere, &op, &association, now),
        Err(OpenIdError::ReturnToMismatch { .. })
    ));
    let stateless =
        Url::parse("https://app.example.com/maestrano/auth/openid/consume/acme-corp").unwrap();
    assert!(matches!(
        check(&v.positive, &stateless, &op, &association, now),
        Err(OpenIdError::ReturnToMismatch { .. })
    ));
    let two = Url::parse(&format!("{return_to}&state=s2")).unwrap();
    assert!(matches!(
        check(&v.positive, &two, &op, &association, now),
        Err(OpenIdError::ReturnToMismatch { .. })
    ));

    // An expired association, an unknown one, a stale nonce.
    let old =
        Association::from_plaintext_answer(&kv, v.kind, now - time::Duration::days(15)).unwrap();
    assert!(matches!(
        check(&v.positive, &return_to, &op, &old, now),
        Err(OpenIdError::AssociationExpired { .. })
    ));
    let other_kv = Fields::from_key_value(vectors[1].associate_kv.as_bytes()).unwrap();
    let other = Association::from_plaintext_answer(&other_kv, vectors[1].kind, now).unwrap();
    assert!(matches!(
        check(&v.positive, &return_to, &op, &other, now),
        Err(OpenIdError::UnknownAssociation { .. })
    ));
    let late = now + NONCE_WINDOW + time::Duration::seconds(1);
    assert!(matches!(
        check(&v.positive, &return_to, &op, &association, late),
        Err(OpenIdError::NonceStale { .. })
    ));

    // A cancel, and a message of another protocol version.
    let cancel = with(&v.positive, "openid.mode", "cancel");
    assert!(matches!(
        check(&cancel, &return_to, &op, &association, now),
        Err(OpenIdError::Cancelled)
    ));
    let v1 = with(&v.positive, "openid.ns", "http://openid.net/signon/1.1");
    assert!(matches!(
        check(&v1, &return_to, &op, &association, now),
        Err(OpenIdError::InvalidField { name: "ns", .. })
    ));
}

#[test]
fn an_association_answer_is_refused_when_it_is_not_what_was_asked() {
    let (_, vectors) = vectors();
    let now = OffsetDateTime::UNIX_EPOCH;
    let kv = Fields::from_key_value(vectors[0].associate_kv.as_bytes()).unwrap();
    // Asked for SHA-1, answered SHA-256: refused, not taken.
    assert!(matches!(
        Association::from_plaintext_answer(&kv, AssociationType::HmacSha1, now),
        Err(OpenIdError::InvalidField {
            name: "assoc_type",
            ..
        })
    ));
    let error = Fields::from_key_value(
        b"ns:http://specs.openid.net/auth/2.0\nerror:Unsupported\nerror_code:unsupported-type\n",
    )
    .unwrap();
    assert!(matches!(
        Association::from_plaintext_answer(&error, AssociationType::HmacSha256, now),
        Err(OpenIdError::InvalidField { name: "error", .. })
    ));
    let text = vectors[0].associate_kv.replace("mac_key:", "mac_key:AAAA");
    let short = Fields::from_key_value(text.as_bytes()).unwrap();
    assert!(matches!(
        Association::from_plaintext_answer(&short, AssociationType::HmacSha256, now),
        Err(OpenIdError::InvalidField {
            name: "mac_key",
            ..
        })
    ));
}

/// A user's XRDS as the sandbox renders it (mno-api-sandbox cd52c0b,
/// app/views/api/openid/users/show.xrds.builder, through Builder::XmlMarkup: no white space;
/// ruby-openid's OPENID_2_0_TYPE, OPENID_1_1_TYPE and OPENID_1_0_TYPE; SReg 1.1 and 1.0 and
/// AX 1.0 type URIs).
const SANDBOX_USER_XRDS: &str = concat!(
    r#"<?xml version="1.0" encoding="UTF-8"?><xrds:XRDS xmlns:openid="http://openid.net/xmlns/1.0" xmlns:xrds="xri://$xrds" xmlns="xri://$xrd*($v*2.0)"><XRD>"#,
    r#"<Service priority="1"><Type>http://specs.openid.net/auth/2.0/signon</Type><Type>http://openid.net/extensions/sreg/1.1</Type><Type>http://openid.net/sreg/1.0</Type><Type>http://openid.net/srv/ax/1.0</Type><URI>http://api-sandbox.maestrano.io/api/openid/provider/app-1a2b</URI><LocalID>http://api-sandbox.maestrano.io/api/openid/provider/app-1a2b/users/usr-1</LocalID></Service>"#,
    r#"<Service priority="2"><Type>http://openid.net/signon/1.1</Type><Type>http://openid.net/extensions/sreg/1.1</Type><Type>http://openid.net/sreg/1.0</Type><Type>http://openid.net/srv/ax/1.0</Type><URI>http://api-sandbox.maestrano.io/api/openid/provider/app-1a2b</URI><openid:Delegate>http://api-sandbox.maestrano.io/api/openid/provider/app-1a2b/users/usr-1</openid:Delegate></Service>"#,
    r#"<Service priority="3"><Type>http://openid.net/signon/1.0</Type><Type>http://openid.net/extensions/sreg/1.1</Type><Type>http://openid.net/sreg/1.0</Type><Type>http://openid.net/srv/ax/1.0</Type><URI>http://api-sandbox.maestrano.io/api/openid/provider/app-1a2b</URI><openid:Delegate>http://api-sandbox.maestrano.io/api/openid/provider/app-1a2b/users/usr-1</openid:Delegate></Service>"#,
    r#"</XRD></xrds:XRDS>"#
);

#[test]
fn the_sandbox_user_document_proves_the_claimed_id_for_its_own_endpoint_only() {
    use maestrano::openid::{read_xrds, verify_claimed_id};
    let services = read_xrds(SANDBOX_USER_XRDS).unwrap();
    // Only the OpenID 2.0 service is kept.
    assert_eq!(services.len(), 1);
    let op = Url::parse("http://api-sandbox.maestrano.io/api/openid/provider/app-1a2b").unwrap();
    let user = "http://api-sandbox.maestrano.io/api/openid/provider/app-1a2b/users/usr-1";
    verify_claimed_id(&services, user, user, &op).unwrap();
    // Another endpoint signed it, or it names another OP-local identifier.
    let other = Url::parse("http://evil.example/api/openid/provider/app-1a2b").unwrap();
    assert!(matches!(
        verify_claimed_id(&services, user, user, &other),
        Err(OpenIdError::ClaimedIdMismatch { .. })
    ));
    assert!(matches!(
        verify_claimed_id(&services, user, &format!("{user}x"), &op),
        Err(OpenIdError::ClaimedIdMismatch { .. })
    ));
}

/// The sandbox provider's own XRDS (app/views/api/openid/provider/show.xrds.builder at
/// cd52c0b): an OP identifier service.
const SANDBOX_PROVIDER_XRDS: &str = concat!(
    r#"<?xml version="1.0" encoding="UTF-8"?><xrds:XRDS xmlns:openid="http://openid.net/xmlns/1.0" xmlns:xrds="xri://$xrds" xmlns="xri://$xrd*($v*2.0)"><XRD>"#,
    r#"<Service priority="1"><Type>http://specs.openid.net/auth/2.0/server</Type><Type>http://openid.net/extensions/sreg/1.1</Type><Type>http://openid.net/sreg/1.0</Type><Type>http://openid.net/srv/ax/1.0</Type><URI>http://api-sandbox.maestrano.io/api/openid/provider/app-1a2b</URI></Service>"#,
    r#"</XRD></xrds:XRDS>"#
);

#[tokio::test]
async fn the_flow_verifies_with_the_provider_and_counts_its_answer_only_with_a_200() {
    use maestrano::Tenant;
    use maestrano::ports::HttpClient;
    use maestrano::saml::{SsoOptions, SsoProtocols};
    use maestrano::sso::{LoginHandler, SsoFlow, SsoFlowError};
    use maestrano::test_util::{FakeHttpClient, FakeReply, ManualClock};
    use std::sync::Arc;

    struct Never;
    #[maestrano::async_trait]
    impl LoginHandler for Never {
        type Output = ();
        async fn on_login(
            &self,
            _: &maestrano::saml::SsoLogin,
        ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
            panic!("no login: the assertion answers no request of this app")
        }
    }

    let (all, vectors) = vectors();
    let op = all["op_endpoint"].as_str().unwrap();
    let identity = all["identity"].as_str().unwrap();
    let received = Url::parse(all["return_to"].as_str().unwrap()).unwrap();
    let json = r#"{"marketplace": "acme-corp", "app": {"host": "https://app.example.com"},
        "api": {"id": "app-1a2b", "key": "s3cret", "host": "http://api-sandbox.maestrano.io"},
        "sso": {"idp": "http://api-sandbox.maestrano.io",
                "x509_fingerprint": "01:06:15:89:25:7d:78:12:28:a6:69:c7:de:63:ed:74:21:f9:f5:36"}}"#;
    let tenant = Tenant::new(
        maestrano::config::parse_marketplace(json.as_bytes())
            .unwrap()
            .with_sso_options(SsoOptions::default().with_protocols(SsoProtocols::OpenId)),
    );
    let xrds = |body: &str| FakeReply::Response {
        status: 200,
        headers: vec![("content-type".into(), "application/xrds+xml".into())],
        body: body.as_bytes().to_vec(),
    };
    let valid = "ns:http://specs.openid.net/auth/2.0\nis_valid:true\n";
    let fake = Arc::new(FakeHttpClient::new());
    fake.on(
        Some(http::Method::GET),
        identity,
        vec![xrds(SANDBOX_USER_XRDS)],
    )
    .on(
        Some(http::Method::GET),
        op,
        vec![xrds(SANDBOX_PROVIDER_XRDS)],
    )
    .on(
        Some(http::Method::POST),
        op,
        // A 400 that says is_valid:true is no verification; then the provider's 200.
        vec![FakeReply::raw(400, valid), FakeReply::raw(200, valid)],
    );
    let positive = &vectors[0].positive;
    let clock = Arc::new(ManualClock::new(nonce_time(positive)));
    let flow = SsoFlow::builder()
        .clock(clock)
        .http_client(fake.clone() as Arc<dyn HttpClient>)
        .build();
    let body = form(positive);

    let refused = flow
        .openid_consume(&tenant, &received, &body, None, &Never)
        .await;
    assert!(
        matches!(refused, Err(SsoFlowError::OpenId(OpenIdError::Provider(_)))),
        "{refused:?}"
    );
    // Verified by the provider, the claimed identifier discovered, the nonce spent: then no
    // request of this app is named in return_to, so no login.
    let refused = flow
        .openid_consume(&tenant, &received, &body, None, &Never)
        .await;
    assert!(
        matches!(refused, Err(SsoFlowError::UnknownRequest)),
        "{refused:?}"
    );
    let again = flow
        .openid_consume(&tenant, &received, &body, None, &Never)
        .await;
    assert!(
        matches!(again, Err(SsoFlowError::OpenId(OpenIdError::Replayed))),
        "{again:?}"
    );
    // A claimed identifier on another host (even one the provider vouches for) is never
    // fetched: no provider of one tenant makes the app reach an internal address.
    let elsewhere = "http://169.254.169.254/latest/meta-data";
    let other = with(
        &with(&vectors[1].positive, "openid.claimed_id", elsewhere),
        "openid.identity",
        elsewhere,
    );
    let refused = flow
        .openid_consume(&tenant, &received, &form(&other), None, &Never)
        .await;
    assert!(
        matches!(
            refused,
            Err(SsoFlowError::OpenId(OpenIdError::ClaimedIdMismatch { .. }))
        ),
        "{refused:?}"
    );
    assert!(
        fake.requests()
            .iter()
            .all(|r| r.uri().host() != Some("169.254.169.254"))
    );
    let requests = fake.requests();
    let check = requests
        .iter()
        .find(|r| r.method() == http::Method::POST)
        .unwrap();
    let sent = String::from_utf8(check.body().clone()).unwrap();
    assert!(sent.contains("openid.mode=check_authentication"), "{sent}");
    assert!(
        requests.iter().any(|r| *r.uri() == identity),
        "the claimed identifier was discovered"
    );
}

#[test]
fn a_signed_list_naming_a_field_twice_and_a_return_to_mismatch_keep_the_query_out_of_the_error() {
    let (all, vectors) = vectors();
    let op = Url::parse(all["op_endpoint"].as_str().unwrap()).unwrap();
    let return_to = Url::parse(all["return_to"].as_str().unwrap()).unwrap();
    let v = &vectors[0];
    let now = nonce_time(&v.positive);
    let kv = Fields::from_key_value(v.associate_kv.as_bytes()).unwrap();
    let association = Association::from_plaintext_answer(&kv, v.kind, now).unwrap();
    let signed = get(&v.positive, "openid.signed").to_owned();
    let twice = with(&v.positive, "openid.signed", &format!("{signed},ns"));
    let fields = Fields::from_form(&form(&twice)).unwrap();
    assert!(matches!(
        check_positive(&fields, &return_to, &op, &association, now),
        Err(OpenIdError::InvalidField { name: "signed", .. })
    ));
    let fields = Fields::from_form(&form(&v.positive)).unwrap();
    let elsewhere = Url::parse("https://app.example.com/other?openid.sig=secret").unwrap();
    let e = check_positive(&fields, &elsewhere, &op, &association, now).unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, OpenIdError::ReturnToMismatch { .. }));
    assert!(
        !text.contains("secret") && !text.contains("state=s1"),
        "{text}"
    );
}
