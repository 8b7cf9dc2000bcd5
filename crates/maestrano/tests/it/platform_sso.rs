//! Logins from the real platform: the response bytes the Maestrano IdP sends (built by
//! `platform_idp`, from the platform's public source and independently of the SDK) through the
//! public API, on a tenant configured from the developer platform's JSON shape with no option
//! set by the app.

use crate::common;
use crate::platform_idp::{PlatformInputs, build, sandbox_attributes};

use std::sync::Arc;

use async_trait::async_trait;
use common::*;
use maestrano::Tenant;
use maestrano::config::parse_marketplaces;
use maestrano::ports::{InMemorySingleUseStore, RandomSource as _, SingleUseStore};
use maestrano::saml::{SamlError, SamlPolicy, SsoLogin};
use maestrano::sso::{LoginHandler, SessionError, SsoFlow, SsoFlowError};
use maestrano::test_util::{ManualClock, SequenceRandom};
use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;
use time::macros::datetime;

const TWO: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/maestrano/shapes/dev-platform/marketplaces-two.json"
);
const SANDBOX_CERTS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/maestrano/mno-api-sandbox/idp-certs"
);

fn key_pem() -> String {
    read(&format!("{SANDBOX_CERTS}/rsaprivkey.pem"))
}

fn cert_pem() -> String {
    read(&format!("{SANDBOX_CERTS}/rsacert.pem"))
}

/// The developer platform's two marketplaces, as loaded with no option set in code: the
/// sandbox one (IdP `http://localhost:3001`, the public 1024-bit sandbox certificate) and UAT.
fn tenants() -> (Tenant, Tenant) {
    let mut configs = parse_marketplaces(read(TWO).as_bytes()).unwrap();
    let uat = Tenant::new(configs.pop().unwrap());
    let sandbox = Tenant::new(configs.pop().unwrap());
    (sandbox, uat)
}

/// The inputs of the reference vectors: the sandbox's own spec fixtures
/// (`spec/controllers/api/v1/auth/saml_controller_spec.rb` L11-14) at 2016-06-28T08:00:00Z.
fn reference_inputs(reseller: bool, nil_fields: bool) -> PlatformInputs {
    let now = OffsetDateTime::from_unix_timestamp(1_467_100_800).unwrap();
    let mut attributes = sandbox_attributes(
        "9n04q5vmirj8ae3ptflbyc7d6x1kwszguho2",
        now + time::Duration::minutes(3),
        "usr-1",
        "cld-1",
        (!nil_fields).then_some("Member"),
        reseller,
    );
    if nil_fields {
        for (n, v) in &mut attributes {
            if n == "group_name" || n == "company_name" {
                v.clear();
            }
        }
    }
    PlatformInputs {
        request_id: "_5f8e3a10-1f2b-0134-9d3c-0242ac110002".into(),
        acs_url: "https://app.example.com/maestrano/auth/saml/consume".into(),
        idp_request_url: "http://localhost:3001/api/v1/auth/saml?SAMLRequest=nZJNTwIxGIT%2Fyt56Km13AaFhN9lATEjQGFAPXsxrKWGTfqx9u4j%2F3u4SI148%0AeG1nnulMukCwppV1F49uq987jTGrEXWIjXdL77CzOux0ODVKP203JTnG2KJk%0ADNp2pM9gW6NHyltmIVkDOM8gsViPZeriJ9kq3TUOeuaFkADGKzBHj1EWnIvE%0Aa9hJ%2FJhJtl6V5HVymOkCBKfikL9RLooxne8LRXk%2BzkEJwTnPkxSx02uHEVws%0ASc7FlPIpzWeP%2FEZO5nIyeyHZsw445OcjTrKzNQ7lUL4kXXDSAzYoHViNMiq5%0Aq%2B82MillG3z0yhtSLXq1HKLClf9vO3xvSaq0GBULdkW5IFt5n2zr1YM3jfrM%0AamP8xzJoiLokMXRpvlsfLMS%2Fg%2FqTZk8Pg1S2fVmM2sX%2FVGXV5Zm%2F%2F0X1BQ%3D%3D%0A&user_uid=usr-1".into(),
        now,
        response_uuid: "a1b2c3d4-3f1e-0134-5a6b-0242ac110002".into(),
        assertion_uuid: "a1b2c3d5-3f1e-0134-5a6b-0242ac110002".into(),
        name_id: "usr-1".into(),
        attributes,
        key_pem: key_pem(),
        cert_pem: cert_pem(),
    }
}

fn sha256_hex(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// The builder is the platform: for three inputs, its output is byte for byte what the real
/// Ruby code (mno-api-sandbox cd52c0b on ruby-saml-idp 0.3.2) produced, identified by the
/// SHA-256 of that output and its intermediate digest and signature values.
#[test]
fn the_builder_reproduces_the_platform_bytes() {
    let cases = [
        (
            reference_inputs(false, false),
            "U1KcRxWq/DyvKebf9fKJkK2lZ4I=",
            "eqbxhu1iK1CU38/Xh7aRtgDjkdGorjMeTwqGf94vuNDYtcHBkiTYtQPWB/tUFV2RT+U6QeYoJQjeuPpnGVTPMh+WfgfPuo5YNETjEh3mo9mtp0c6GYwIKCTnMkTSgbDxrziMdWIpNq5cSNZW/LcqkKjmhpcmDBsfUCzENwlPwAU=",
            "8215041b47e7e5c5c91ee2fc25dc39d405a521bccd5859ccce337e63f709ad6d",
            "619bf3f21e0ec797fcd727198de2eae545c6279dfe28cfb3a1dc4dfb8d28757a",
            9496,
        ),
        (
            reference_inputs(true, false),
            "L1ldqq2Hf59Zl9EweByuzI8f1eY=",
            "Yt8L9cyqxG5izjNy2yCEK8dntvu9e6kZSN6VvLCTJE7scuMK4eo+mEjZHptGACPb1AJ0go2FGNmyckw7aT3ZBJF7Nnu+CtTfAkCRbYleLleKfdnG+Kyqc4tSspcEgkH4UonG7nCuWB0MO/9C4XDOHuGgiQnFDvOZhuKsAdOnHl8=",
            "",
            "ca6d767968fe81594b19d0cb43815c07083d7212b956b1e0b83d0483e613e2df",
            9850,
        ),
        (
            reference_inputs(false, true),
            "i4ZfHecO9SSKGji1QBE0E5TIEvU=",
            "p6XRjOJm4yAz4rNuoFBr9IcyjzaP+hGLTk6cAjzkOX3RfSnEG/VeO+E4YNoIyym2qGhtM/GZchoPcUa1eVSqzcLjNaXLQPCUzk87QOhP93sWtX6IxHl6KOsMm9q4r5oRc7MJ/0eu8+PDyjBAjeAzjF0fpcTy38YizlTAUO+EOCM=",
            "",
            "585ed26fdf360f5902418c347f597a0ae75823591ba88f2d5f4284030105230e",
            9472,
        ),
    ];
    for (inputs, digest, signature, xml_sha, b64_sha, b64_len) in cases {
        let b = build(&inputs);
        assert_eq!(b.digest, digest);
        assert_eq!(b.signature_value, signature);
        if !xml_sha.is_empty() {
            assert_eq!(sha256_hex(b.xml.as_bytes()), xml_sha);
            assert_eq!(b.assertion_unsigned.len(), 3632);
            assert_eq!(b.signed_info.len(), 708);
        }
        assert_eq!(b.encode64.len(), b64_len);
        assert_eq!(sha256_hex(b.encode64.as_bytes()), b64_sha);
    }
}

struct Accept;

#[async_trait]
impl LoginHandler for Accept {
    type Output = SsoLogin;

    async fn on_login(
        &self,
        login: &SsoLogin,
    ) -> Result<SsoLogin, Box<dyn std::error::Error + Send + Sync>> {
        Ok(login.clone())
    }
}

const NOW: OffsetDateTime = datetime!(2026-12-01 09:00:00 UTC);

fn flow(clock: Arc<ManualClock>) -> SsoFlow {
    SsoFlow::new(
        clock,
        Arc::new(SequenceRandom::default()),
        Arc::new(InMemorySingleUseStore::new()),
    )
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// What the IdP's regexes read from our AuthnRequest (ruby-saml-idp 0.3.2 controller.rb
/// L57-58: the first `ID='…'`, `AssertionConsumerServiceURL='…'`, and the app found by
/// `<saml:Issuer …>(.*)</saml:Issuer>`), from the redirect URL the browser follows.
fn idp_reads(redirect: &url::Url) -> (String, String, String) {
    let saml_request = redirect
        .query_pairs()
        .find(|(k, _)| k == "SAMLRequest")
        .map(|(_, v)| v.into_owned())
        .expect("a SAMLRequest parameter");
    let deflated = b64_decode(&saml_request);
    let mut xml = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::DeflateDecoder::new(&deflated[..]),
        &mut xml,
    )
    .expect("raw DEFLATE, as the gem's Zlib::Inflate.new(-Zlib::MAX_WBITS) reads it");
    let quoted_after = |marker: &str| -> String {
        let at = xml
            .find(marker)
            .unwrap_or_else(|| panic!("no {marker} in {xml}"))
            + marker.len();
        let quote = xml[at..].chars().next().unwrap();
        assert!(
            quote == '"' || quote == '\'',
            "{marker} not quoted in {xml}"
        );
        let rest = &xml[at + 1..];
        rest[..rest.find(quote).unwrap()].to_owned()
    };
    let issuer_open = xml.find("<saml:Issuer").expect("a saml:-prefixed Issuer");
    let issuer_text_start = issuer_open + xml[issuer_open..].find('>').unwrap() + 1;
    let issuer_end = xml.find("</saml:Issuer>").expect("a closing saml:Issuer");
    let issuer = xml[issuer_text_start..issuer_end].to_owned();
    assert!(
        !issuer.contains('\n'),
        "the Issuer must stay on one line for the IdP's regex"
    );
    (
        quoted_after("ID="),
        quoted_after("AssertionConsumerServiceURL="),
        issuer,
    )
}

fn b64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

/// One login on `tenant` as the platform performs it: the app's redirect, the IdP reading it
/// with its regexes, the IdP's response for user `usr-1` of `cld-1`, and the browser's POST.
async fn platform_login(
    f: &SsoFlow,
    tenant: &Tenant,
    key_pem: &str,
    edit: impl FnOnce(&mut PlatformInputs),
) -> (String, String) {
    let redirect = f.initiate(tenant, "198.51.100.7", None, &[]).await.unwrap();
    let (request_id, acs_url, issuer) = idp_reads(&redirect.url);
    assert_eq!(request_id, redirect.request_id);
    assert_eq!(acs_url, tenant.acs_url().as_str());
    assert_eq!(issuer, tenant.config().api().id().as_str());
    let mut inputs = PlatformInputs {
        request_id,
        acs_url,
        idp_request_url: redirect.url.to_string(),
        now: NOW,
        response_uuid: "3e9d7c10-9b1a-0135-1f2e-0242ac110003".into(),
        assertion_uuid: "3e9d7c11-9b1a-0135-1f2e-0242ac110003".into(),
        name_id: "usr-1".into(),
        attributes: sandbox_attributes(
            "s3ss10ntok3nabcdefghijklmnopqrstuvwx",
            NOW + time::Duration::minutes(3),
            "usr-1",
            "cld-1",
            Some("Admin"),
            false,
        ),
        key_pem: key_pem.to_owned(),
        cert_pem: cert_pem(),
    };
    edit(&mut inputs);
    let posted = build(&inputs).as_posted();
    // The gem's auto-submit form (app/views/saml_idp/idp/saml_post.html.erb): no RelayState.
    let body = format!(
        "utf8=%E2%9C%93&authenticity_token=tok&SAMLResponse={}&commit=Submit",
        urlencode(&posted)
    );
    (body, redirect.request_id)
}

#[tokio::test]
async fn a_platform_response_logs_in_on_a_tenant_with_default_settings() {
    let (sandbox, _) = tenants();
    let f = flow(Arc::new(ManualClock::new(NOW)));
    let (body, request_id) = platform_login(&f, &sandbox, &key_pem(), |_| {}).await;
    let done = f
        .consume(&sandbox, body.as_bytes(), Some(&request_id), &Accept)
        .await
        .unwrap_or_else(|e| panic!("the platform's response was refused: {e}"));
    let login = done.output;
    assert_eq!(login.user.uid.as_str(), "usr-1");
    assert_eq!(login.user.virtual_uid.as_str(), "usr-1.cld-1");
    assert_eq!(login.user.email, "jsmith@example.com");
    assert_eq!(login.user.first_name, "John");
    assert_eq!(login.user.last_name, "Smith");
    assert_eq!(login.user.mno_uid.as_ref().unwrap().as_str(), "usr-1");
    assert_eq!(login.user.app_owner, Some(true));
    assert_eq!(login.user.organizations, Some(serde_json::json!({})));
    assert_eq!(login.user.company_name.as_deref(), Some("Maestrano"));
    assert_eq!(login.group.uid.as_str(), "cld-1");
    assert_eq!(login.group.name.as_deref(), Some("TestGroup"));
    assert_eq!(login.group.has_credit_card, Some(false));
    assert_eq!(login.group.currency.as_deref(), Some("USD"));
    assert_eq!(
        login.group.reseller_id.as_ref().unwrap().as_str(),
        "rsl-449s8fsd"
    );
    assert_eq!(login.membership.role, "Admin");
    assert_eq!(login.session.recheck_at, NOW + time::Duration::minutes(3));
    assert!(login.reseller.is_none());
    let legacy = done
        .legacy_crypto
        .expect("the platform signs with legacy crypto");
    assert!(legacy.sha1);
    assert_eq!(legacy.rsa_key_bits, Some(1024));
}

#[tokio::test]
async fn a_reseller_login_and_a_missing_role_read_as_sent() {
    let (sandbox, _) = tenants();
    let f = flow(Arc::new(ManualClock::new(NOW)));
    let (body, request_id) = platform_login(&f, &sandbox, &key_pem(), |i| {
        i.attributes = sandbox_attributes(
            "s3ss10ntok3nabcdefghijklmnopqrstuvwx",
            NOW + time::Duration::minutes(3),
            "usr-1",
            "cld-1",
            None,
            true,
        );
    })
    .await;
    let login = f
        .consume(&sandbox, body.as_bytes(), Some(&request_id), &Accept)
        .await
        .unwrap()
        .output;
    let reseller = login.reseller.expect("the reseller attributes");
    assert_eq!(reseller.uid.as_str(), "rsl-449s8fsd");
    assert_eq!(reseller.name.as_deref(), Some("Blue Consulting"));
    assert_eq!(reseller.country.as_deref(), Some("AU"));
    // `role || 'Guest'` (saml_controller.rb L209).
    assert_eq!(login.membership.role, "Guest");
}

#[tokio::test]
async fn the_strict_profile_refuses_the_platform_response_naming_the_setting() {
    let (sandbox, _) = tenants();
    let strict = Tenant::new(
        sandbox
            .config()
            .clone()
            .with_saml_policy(SamlPolicy::strict()),
    );
    let f = flow(Arc::new(ManualClock::new(NOW)));
    let (body, request_id) = platform_login(&f, &strict, &key_pem(), |_| {}).await;
    match f
        .consume(&strict, body.as_bytes(), Some(&request_id), &Accept)
        .await
    {
        Err(SsoFlowError::Saml(e @ SamlError::StrictProfileRefused { .. })) => {
            assert!(
                e.to_string().contains("SamlPolicy::signature_profile"),
                "{e}"
            );
            assert!(e.to_string().contains("rsa-sha1"), "{e}");
        }
        other => panic!("expected the strict profile's refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn a_sha1_signature_from_another_1024_bit_key_is_refused() {
    let (sandbox, _) = tenants();
    let f = flow(Arc::new(ManualClock::new(NOW)));
    let other = read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/keys/attacker-1024.key"
    ));
    let (body, request_id) = platform_login(&f, &sandbox, &other, |_| {}).await;
    match f
        .consume(&sandbox, body.as_bytes(), Some(&request_id), &Accept)
        .await
    {
        Err(SsoFlowError::Saml(SamlError::SignatureInvalid)) => {}
        other => panic!("expected SignatureInvalid, got {other:?}"),
    }
}

#[tokio::test]
async fn tampered_expired_replayed_and_wrong_tenant_platform_responses_are_refused() {
    let (sandbox, uat) = tenants();
    let clock = Arc::new(ManualClock::new(NOW));
    let f = flow(clock.clone());

    // Tampered: one attribute value changed after signing.
    let (body, request_id) = platform_login(&f, &sandbox, &key_pem(), |_| {}).await;
    let xml_b64 = url::form_urlencoded::parse(body.as_bytes())
        .find(|(k, _)| k == "SAMLResponse")
        .unwrap()
        .1
        .replace("\r\n", "");
    let xml = String::from_utf8(b64_decode(&xml_b64)).unwrap();
    let forged = xml.replace(">Admin<", ">Super<");
    assert_ne!(forged, xml);
    use base64::Engine as _;
    let forged_body = format!(
        "SAMLResponse={}",
        urlencode(&base64::engine::general_purpose::STANDARD.encode(forged))
    );
    match f
        .consume(&sandbox, forged_body.as_bytes(), Some(&request_id), &Accept)
        .await
    {
        Err(SsoFlowError::Saml(SamlError::SignatureInvalid)) => {}
        other => panic!("tampered: expected SignatureInvalid, got {other:?}"),
    }

    // The genuine one logs in once; its replay is refused.
    f.consume(&sandbox, body.as_bytes(), Some(&request_id), &Accept)
        .await
        .unwrap();
    assert!(
        f.consume(&sandbox, body.as_bytes(), Some(&request_id), &Accept)
            .await
            .is_err(),
        "a replayed platform response must be refused"
    );

    // Expired: the bearer confirmation (now + 3 min) and the skew (180 s) have run out.
    let (body, request_id) = platform_login(&f, &sandbox, &key_pem(), |_| {}).await;
    clock.advance(time::Duration::minutes(7));
    match f
        .consume(&sandbox, body.as_bytes(), Some(&request_id), &Accept)
        .await
    {
        Err(SsoFlowError::Saml(e)) => {
            assert_eq!(e.class(), "subject_confirmation_invalid", "{e}");
            assert!(e.to_string().contains("expired"), "{e}");
        }
        other => panic!("expired: got {other:?}"),
    }
    clock.set(NOW);

    // Wrong tenant: a response for the sandbox tenant, posted to the UAT tenant's ACS.
    let (body, request_id) = platform_login(&f, &sandbox, &key_pem(), |_| {}).await;
    assert!(
        f.consume(&uat, body.as_bytes(), Some(&request_id), &Accept)
            .await
            .is_err(),
        "a sandbox response must not log in on another tenant"
    );
}

#[test]
fn the_audience_defaults_to_the_acs_origin_and_can_be_overridden() {
    let (sandbox, uat) = tenants();
    assert_eq!(
        sandbox.acs_url().as_str(),
        "http://localhost:3000/maestrano/auth/saml/consume/mno-sandbox"
    );
    assert_eq!(sandbox.config().sso().audience(), "http://localhost:3000/");
    assert_eq!(
        uat.config().sso().audience(),
        "https://sso.myapp-uat.example.com/"
    );
    assert_eq!(
        maestrano::sso::sp_settings(&sandbox).audience,
        "http://localhost:3000/"
    );
    // The AuthnRequest Issuer stays `api.id`.
    assert_eq!(maestrano::sso::sp_entity_id(&sandbox), "app-1a2b");

    let json = read(TWO).replacen(
        "\"idp\": \"http://localhost:3001\"",
        "\"idp\": \"http://localhost:3001\", \"audience\": \"urn:app:custom\"",
        1,
    );
    let configs = parse_marketplaces(json.as_bytes()).unwrap();
    assert_eq!(configs[0].sso().audience(), "urn:app:custom");
    let coded = maestrano::config::MarketplaceConfig::builder("acme")
        .app_host("https://app.example.com:8443")
        .api_id("app-1")
        .api_key(maestrano::Secret::new("k"))
        .api_host("https://hub.example.com")
        .sso_idp("https://hub.example.com")
        .x509_fingerprint("01:06:15:89:25:7d:78:12:28:a6:69:c7:de:63:ed:74:21:f9:f5:36")
        .build()
        .unwrap();
    assert_eq!(coded.sso().audience(), "https://app.example.com:8443/");
    let coded = maestrano::config::MarketplaceConfig::builder("acme")
        .app_host("https://app.example.com")
        .api_id("app-1")
        .api_key(maestrano::Secret::new("k"))
        .api_host("https://hub.example.com")
        .sso_idp("https://hub.example.com")
        .x509_fingerprint("01:06:15:89:25:7d:78:12:28:a6:69:c7:de:63:ed:74:21:f9:f5:36")
        .audience("urn:app:1")
        .build()
        .unwrap();
    assert_eq!(coded.sso().audience(), "urn:app:1");
}

/// The session check as the platform answers it: `render json: {valid: …, recheck: …}` with
/// the time as Rails renders it, whole seconds on the sandbox's Rails 3.2 and milliseconds on
/// later Rails (mno-api-sandbox cd52c0b, saml_controller.rb `show`, L33-62); both are read.
#[tokio::test]
async fn the_session_check_reads_rails_3_and_later_rails_times() {
    let (sandbox, _) = tenants();
    let f = flow(Arc::new(ManualClock::new(NOW)));
    let (body, request_id) = platform_login(&f, &sandbox, &key_pem(), |_| {}).await;
    let done = f
        .consume(&sandbox, body.as_bytes(), Some(&request_id), &Accept)
        .await
        .unwrap();
    let request = done.session.check_request(&sandbox).unwrap();
    assert_eq!(done.session.marketplace, *sandbox.marketplace());
    // The session of the sandbox tenant is never checked against UAT's IdP.
    let (_, uat) = tenants();
    match done.session.check_request(&uat) {
        Err(SessionError::WrongTenant { session, tenant }) => {
            assert_eq!(
                (&session, &tenant),
                (sandbox.marketplace(), uat.marketplace())
            );
        }
        other => panic!("expected WrongTenant, got {other:?}"),
    }
    assert_eq!(
        request.uri().to_string(),
        "http://localhost:3001/api/v1/auth/saml/usr-1?session=s3ss10ntok3nabcdefghijklmnopqrstuvwx"
    );
    for (recheck, want) in [
        ("2026-12-01T09:08:00Z", datetime!(2026-12-01 09:08:00 UTC)),
        (
            "2026-12-01T09:08:00.000Z",
            datetime!(2026-12-01 09:08:00 UTC),
        ),
    ] {
        let mut session = done.session.clone();
        let reply = http::Response::builder()
            .status(200)
            .header("content-type", "application/json; charset=utf-8")
            .body(format!(r#"{{"valid":true,"recheck":"{recheck}"}}"#).into_bytes())
            .unwrap();
        let status = session.apply_check_response(&reply).unwrap();
        assert!(
            matches!(status, maestrano::sso::SessionStatus::Valid { .. }),
            "{status:?}"
        );
        assert_eq!(session.recheck_at, want, "{recheck}");
    }
    let mut session = done.session.clone();
    let reply = http::Response::builder()
        .status(200)
        .body(br#"{"valid":false,"recheck":"2026-12-01T09:08:00Z"}"#.to_vec())
        .unwrap();
    assert!(matches!(
        session.apply_check_response(&reply).unwrap(),
        maestrano::sso::SessionStatus::Invalid
    ));
}

/// Counts `WARN` events, for the once-per-tenant warning.
#[derive(Default)]
struct WarnCounter(std::sync::atomic::AtomicUsize);

impl tracing::Subscriber for WarnCounter {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        if *event.metadata().level() == tracing::Level::WARN {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// Set in the child process that [`legacy_crypto_is_warned_about_once_per_tenant`] runs in.
const WARN_CHILD: &str = "MAESTRANO_TEST_WARN_COUNT_CHILD";

/// Each acceptance of legacy crypto is visible: a warning, once per tenant, however many
/// logins follow.
///
/// The count runs in a child process that runs this test alone. `tracing` caches each
/// callsite's interest process-wide: when another test thread hits the warning's callsite for
/// the first time while this test registers its subscriber, the callsite can be cached as
/// "never" and the warning is lost (it made CI fail once, counting 0). Alone in a process, the
/// count depends only on the code under test.
#[test]
fn legacy_crypto_is_warned_about_once_per_tenant() {
    if std::env::var_os(WARN_CHILD).is_none() {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "platform_sso::legacy_crypto_is_warned_about_once_per_tenant",
                "--test-threads=1",
                "--nocapture",
            ])
            .env(WARN_CHILD, "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "child failed: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Guard against a filter that matched nothing: the child must have run this test.
        assert!(stdout.contains("1 passed"), "child ran no test: {stdout}");
        return;
    }
    let counter = Arc::new(WarnCounter::default());
    let dispatch = tracing::Dispatch::from(counter.clone());
    tracing::dispatcher::with_default(&dispatch, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let (sandbox, _) = tenants();
            let f = flow(Arc::new(ManualClock::new(NOW)));
            for n in 0..3 {
                let (body, request_id) = platform_login(&f, &sandbox, &key_pem(), |i| {
                    i.assertion_uuid = format!("4f0e8d2{n}-9b1a-0135-1f2e-0242ac110003");
                })
                .await;
                f.consume(&sandbox, body.as_bytes(), Some(&request_id), &Accept)
                    .await
                    .unwrap();
            }
        });
    });
    assert_eq!(counter.0.load(std::sync::atomic::Ordering::SeqCst), 1);
}

/// A uuid-shaped id fresh on every run, for stores that outlive the test (PostgreSQL, Redis).
fn fresh_uuid() -> String {
    let mut b = [0u8; 16];
    maestrano::ports::OsRandom.fill(&mut b).unwrap();
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

fn flow_on(store: Arc<dyn SingleUseStore>) -> SsoFlow {
    SsoFlow::new(
        Arc::new(ManualClock::new(NOW)),
        // Request ids from the OS: a shared store outlives a test run.
        Arc::new(maestrano::ports::OsRandom),
        store,
    )
}

/// Two app instances on one shared store, with a browser that keeps no cookie (the IdP's
/// cross-site POST carries no `SameSite=Lax` cookie): the login starts on `a`, the platform's
/// response completes it on `b`, the same response is then refused on either, a request issued
/// for the other tenant completes nothing, and neither does a request never issued.
async fn logins_span_two_instances(a: Arc<dyn SingleUseStore>, b: Arc<dyn SingleUseStore>) {
    let (sandbox, uat) = tenants();
    let store_a = a.clone();
    let (on_a, on_b) = (flow_on(a), flow_on(b));
    let fresh = |i: &mut PlatformInputs| {
        i.response_uuid = fresh_uuid();
        i.assertion_uuid = fresh_uuid();
    };

    let (body, _request_id_not_kept) = platform_login(&on_a, &sandbox, &key_pem(), fresh).await;
    let done = on_b
        .consume(&sandbox, body.as_bytes(), None, &Accept)
        .await
        .unwrap_or_else(|e| panic!("a login started on A must complete on B: {e}"));
    assert_eq!(done.login.user.uid.as_str(), "usr-1");
    for (name, f) in [("A", &on_a), ("B", &on_b)] {
        match f.consume(&sandbox, body.as_bytes(), None, &Accept).await {
            Err(SsoFlowError::Saml(SamlError::Replay { .. })) => {}
            other => panic!("the same response again on {name}: expected Replay, got {other:?}"),
        }
    }

    // A request issued for UAT, answered by a valid sandbox response: the sandbox tenant does
    // not find it (the key names the tenant), and UAT's request stays pending.
    let for_uat = on_a
        .initiate(&uat, "198.51.100.7", None, &[])
        .await
        .unwrap();
    let (body, _) = platform_login(&on_a, &sandbox, &key_pem(), |i| {
        fresh(i);
        i.request_id = for_uat.request_id.clone();
    })
    .await;
    match on_b.consume(&sandbox, body.as_bytes(), None, &Accept).await {
        Err(SsoFlowError::UnknownRequest) => {}
        other => panic!("another tenant's request id: expected UnknownRequest, got {other:?}"),
    }
    assert!(
        store_a
            .take(
                &maestrano::ports::OnceKey::authn_request(uat.marketplace(), &for_uat.request_id),
                NOW
            )
            .await
            .unwrap(),
        "UAT's request is still pending for UAT"
    );

    // A request id no instance issued.
    let (body, _) = platform_login(&on_a, &sandbox, &key_pem(), |i| {
        fresh(i);
        i.request_id = format!("_{}", fresh_uuid());
    })
    .await;
    match on_b.consume(&sandbox, body.as_bytes(), None, &Accept).await {
        Err(SsoFlowError::UnknownRequest) => {}
        other => panic!("a request never issued: expected UnknownRequest, got {other:?}"),
    }

    // With the id kept in a session, the response must answer that very request.
    let (body, _) = platform_login(&on_a, &sandbox, &key_pem(), fresh).await;
    let other = on_a
        .initiate(&sandbox, "198.51.100.7", None, &[])
        .await
        .unwrap();
    match on_b
        .consume(&sandbox, body.as_bytes(), Some(&other.request_id), &Accept)
        .await
    {
        Err(SsoFlowError::Saml(SamlError::InResponseToMismatch { .. })) => {}
        other => panic!("a kept id of another login: expected a mismatch, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_spans_two_instances_on_one_in_memory_store() {
    let store = Arc::new(InMemorySingleUseStore::new());
    logins_span_two_instances(store.clone(), store).await;
}

/// Without a shared store the second instance refuses: what the shared stores fix.
#[tokio::test]
async fn a_login_does_not_span_two_instances_with_private_stores() {
    let (sandbox, _) = tenants();
    let on_a = flow_on(Arc::new(InMemorySingleUseStore::new()));
    let on_b = flow_on(Arc::new(InMemorySingleUseStore::new()));
    let (body, _) = platform_login(&on_a, &sandbox, &key_pem(), |_| {}).await;
    match on_b.consume(&sandbox, body.as_bytes(), None, &Accept).await {
        Err(SsoFlowError::UnknownRequest) => {}
        other => panic!("expected UnknownRequest, got {other:?}"),
    }
}

#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_spans_two_instances_on_one_sqlite_file() {
    use maestrano::adapters::SqliteStore;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.sqlite3");
    logins_span_two_instances(
        Arc::new(SqliteStore::open(&path).unwrap()),
        Arc::new(SqliteStore::open(&path).unwrap()),
    )
    .await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_spans_two_instances_on_postgres() {
    use crate::idmap_support::{postgres_url, with_schema};
    use maestrano::adapters::{PostgresOptions, PostgresStore};
    let Some(url) = postgres_url("a_login_spans_two_instances_on_postgres") else {
        return;
    };
    with_schema(&url, "sso_instances", |url, schema| async move {
        let open = || PostgresStore::connect_with(&url, PostgresOptions::new().schema(&schema));
        logins_span_two_instances(
            Arc::new(open().await.unwrap()),
            Arc::new(open().await.unwrap()),
        )
        .await;
    })
    .await;
}

#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_spans_two_instances_on_redis() {
    use maestrano::adapters::RedisStore;
    let Some(url) = crate::idmap_support::redis_url("a_login_spans_two_instances_on_redis") else {
        return;
    };
    let prefix = format!("maestrano-test:sso:{}:", fresh_uuid());
    let open = || async {
        RedisStore::connect(&url)
            .await
            .unwrap()
            .with_key_prefix(&prefix)
    };
    logins_span_two_instances(Arc::new(open().await), Arc::new(open().await)).await;
}
