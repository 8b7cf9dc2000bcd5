//! SSO part 2 through the public API: login requests, the consume flow, users, groups and
//! memberships, the session re-check and SP metadata.

use crate::common;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use common::*;
use maestrano::__private::sign_enveloped;
use maestrano::config::parse_marketplaces;
use maestrano::ports::InMemorySingleUseStore;
use maestrano::ports::{TransportError, TransportErrorKind};
use maestrano::saml::{
    AttributeError, IdentityMode, ReceivedRedirect, SamlError, SamlPolicy, SsoLogin, SsoOptions,
    mask_uid, unmask_uid,
};
use maestrano::sso::{
    LoginHandler, SessionError, SessionStatus, SsoFlow, SsoFlowError, SsoSession,
};
use maestrano::test_util::{FakeHttpClient, FakeReply, ManualClock, SequenceRandom};
use maestrano::{GroupUid, Tenant, UserUid};
use time::macros::datetime;

const TWO: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/maestrano/shapes/dev-platform/marketplaces-two.json"
);

/// The two tenants of the conformance data. The sandbox tenant's IdP key is the public,
/// 1024-bit sandbox key, so its policy allows weak test certificates.
fn tenants() -> (Tenant, Tenant) {
    let mut configs = parse_marketplaces(read(TWO).as_bytes()).unwrap();
    let uat = Tenant::new(configs.pop().unwrap());
    let policy = SamlPolicy::default().with_insecure_allow_weak_test_certs(true);
    let sandbox = Tenant::new(configs.pop().unwrap().with_saml_policy(policy));
    (sandbox, uat)
}

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(datetime!(2024-05-01 10:00:00 UTC)))
}

/// A Maestrano response for `tenant`, answering `request_id`, signed with the sandbox key.
fn sandbox_response(tenant: &Tenant, request_id: &str, spec: Spec) -> String {
    let spec = Spec {
        destination: Some(tenant.acs_url().to_string()),
        recipient: tenant.acs_url().to_string(),
        audience: tenant.config().sso().audience().to_owned(),
        issuer: tenant.config().sso().idp().to_string(),
        in_response_to: Some(request_id.to_owned()),
        ..spec
    };
    let xml = sign_enveloped(
        &response_xml(&spec),
        &spec.assertion_id,
        &sandbox_key(),
        None,
    )
    .unwrap();
    format!(
        "SAMLResponse={}&RelayState=%2Fdashboard",
        urlencode(&b64(&xml))
    )
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[derive(Default)]
struct Recorder(Mutex<Vec<(String, String, String, String)>>);

#[async_trait]
impl LoginHandler for Recorder {
    type Output = String;

    async fn on_login(
        &self,
        login: &SsoLogin,
    ) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
        let mut seen = self.0.lock().unwrap();
        seen.push((
            login.marketplace.to_string(),
            login.user.uid.to_string(),
            login.group.uid.to_string(),
            login.membership.role.clone(),
        ));
        Ok(format!("app-session-{}", seen.len()))
    }
}

fn flow(clock: Arc<ManualClock>) -> SsoFlow {
    SsoFlow::new(
        clock,
        Arc::new(SequenceRandom::default()),
        Arc::new(InMemorySingleUseStore::new()),
    )
}

#[tokio::test]
async fn a_login_request_round_trips_with_every_field() {
    let (sandbox, _) = tenants();
    let f = flow(clock());
    let redirect = f
        .initiate(
            &sandbox,
            "198.51.100.7",
            Some("/after"),
            &[("group_id", "cld-7")],
        )
        .await
        .unwrap();
    assert!(
        redirect
            .url
            .as_str()
            .starts_with("http://localhost:3001/api/v1/auth/saml?SAMLRequest=")
    );
    let got = ReceivedRedirect::from_query(redirect.url.query().unwrap(), 64 * 1024).unwrap();
    let r = &got.request;
    assert_eq!(r.id, redirect.request_id);
    // `_`, the eight hex digits of its pending-login slot, 128 random bits in hex.
    assert_eq!(r.id.len(), 41);
    assert!(r.id[1..].bytes().all(|b| b.is_ascii_hexdigit()), "{}", r.id);
    assert_eq!(r.issue_instant, datetime!(2024-05-01 10:00:00 UTC));
    assert_eq!(r.destination, "http://localhost:3001/api/v1/auth/saml");
    assert_eq!(
        r.acs_url,
        "http://localhost:3000/maestrano/auth/saml/consume/mno-sandbox"
    );
    assert_eq!(r.issuer, "app-1a2b");
    assert_eq!(
        r.protocol_binding,
        "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
    );
    assert_eq!(
        r.name_id_format.as_deref(),
        Some("urn:oasis:names:tc:SAML:2.0:nameid-format:persistent")
    );
    assert!(r.allow_create);
    assert_eq!(got.relay_state.as_deref(), Some("/after"));
    assert_eq!(got.extra, vec![("group_id".to_owned(), "cld-7".to_owned())]);
    assert!(!got.is_signed());
    let second = f
        .initiate(&sandbox, "198.51.100.7", None, &[])
        .await
        .unwrap();
    assert_ne!(second.request_id, redirect.request_id);
}

#[tokio::test]
async fn a_tenant_with_an_sp_key_signs_its_redirects() {
    let (sandbox, _) = tenants();
    let options =
        SsoOptions::default().with_signing(key("idp-2048-next"), Some(cert("idp-2048-next")));
    let signing = Tenant::new(sandbox.config().clone().with_sso_options(options));
    let redirect = flow(clock())
        .initiate(&signing, "198.51.100.7", Some("s"), &[])
        .await
        .unwrap();
    let got = ReceivedRedirect::from_query(redirect.url.query().unwrap(), 64 * 1024).unwrap();
    got.verify_signature(&cert("idp-2048-next")).unwrap();
    let metadata = maestrano::sso::sp_metadata(&signing);
    assert!(metadata.contains("AuthnRequestsSigned=\"true\""));
    assert!(metadata.contains("<md:KeyDescriptor use=\"signing\">"));
}

#[tokio::test]
async fn the_consume_flow_maps_a_sandbox_signed_response_to_user_group_and_membership() {
    let (sandbox, _) = tenants();
    let c = clock();
    let f = flow(c.clone());
    let redirect = f
        .initiate(&sandbox, "198.51.100.7", None, &[])
        .await
        .unwrap();
    c.advance(time::Duration::seconds(30));
    let body = sandbox_response(
        &sandbox,
        &redirect.request_id,
        Spec {
            not_before: "2024-05-01T09:59:00Z".into(),
            not_on_or_after: "2024-05-01T10:05:00Z".into(),
            ..Spec::default()
        },
    );
    let handler = Recorder::default();
    let done = f
        .consume(
            &sandbox,
            body.as_bytes(),
            Some(&redirect.request_id),
            &handler,
        )
        .await
        .unwrap();
    assert_eq!(done.output, "app-session-1");
    assert_eq!(done.relay_state.as_deref(), Some("/dashboard"));
    let login = &done.login;
    assert_eq!(login.marketplace.as_str(), "mno-sandbox");
    assert_eq!(login.user.uid.as_str(), "usr-1");
    assert_eq!(login.user.virtual_uid.as_str(), "usr-1.cld-1");
    assert_eq!(login.user.email, "j.doe@example.com");
    assert_eq!(login.user.first_name, "John");
    assert_eq!(login.user.last_name, "Doe");
    assert_eq!(login.group.uid.as_str(), "cld-1");
    assert_eq!(login.group.name.as_deref(), Some("SomeCompany"));
    assert_eq!(login.group.has_credit_card, Some(true));
    assert_eq!(
        login.group.free_trial_end_at,
        Some(datetime!(2024-06-01 00:00:00 UTC))
    );
    assert_eq!(login.group.currency.as_deref(), Some("AUD"));
    assert_eq!(login.group.city.as_deref(), Some("Sydney"));
    assert_eq!(login.membership.role, "Admin");
    let mode = sandbox.config().sso_options().identity_mode;
    assert_eq!(
        login.user.uid_for(mode).as_str(),
        "usr-1",
        "real by default"
    );
    assert_eq!(login.user.email_for(mode), "j.doe@example.com");
    assert_eq!(
        login.user.uid_for(IdentityMode::Virtual).as_str(),
        "usr-1.cld-1"
    );
    assert_eq!(
        login.user.email_for(IdentityMode::Virtual),
        "usr-1.cld-1@example.com"
    );
    assert_eq!(login.user.uid_for(IdentityMode::Real).as_str(), "usr-1");
    assert_eq!(
        login.user.email_for(IdentityMode::Real),
        "j.doe@example.com"
    );
    assert_eq!(login.membership.user_uid.as_str(), "usr-1");
    assert_eq!(login.session.recheck_at, datetime!(2024-05-01 10:03:00 UTC));
    assert_eq!(done.session.uid.as_str(), "usr-1");
    assert_eq!(done.session.group_uid.as_str(), "cld-1");
    assert!(
        !format!("{login:?}").contains("7ds8f9789a7fd7x0b898bvb8vc9989"),
        "the session token stays secret"
    );

    // The same response again: the replay cache refuses the assertion (and the request id
    // was used too).
    let again = f
        .consume(
            &sandbox,
            body.as_bytes(),
            Some(&redirect.request_id),
            &handler,
        )
        .await;
    assert!(
        matches!(again, Err(SsoFlowError::Saml(SamlError::Replay { .. }))),
        "{again:?}"
    );
    assert_eq!(handler.0.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_forged_post_does_not_spend_a_pending_login() {
    let (sandbox, _) = tenants();
    let f = flow(clock());
    let redirect = f
        .initiate(&sandbox, "198.51.100.7", None, &[])
        .await
        .unwrap();
    let forged = f
        .consume(
            &sandbox,
            b"SAMLResponse=PGZvby8%2B",
            Some(&redirect.request_id),
            &Recorder::default(),
        )
        .await;
    assert!(matches!(forged, Err(SsoFlowError::Saml(_))));
    let body = sandbox_response(&sandbox, &redirect.request_id, Spec::default());
    f.consume(
        &sandbox,
        body.as_bytes(),
        Some(&redirect.request_id),
        &Recorder::default(),
    )
    .await
    .expect("the real answer still completes the login");
}

#[tokio::test]
async fn a_replayed_response_is_rejected_even_with_a_fresh_request_id() {
    let (sandbox, _) = tenants();
    let c = clock();
    let f = flow(c.clone());
    let first = f
        .initiate(&sandbox, "198.51.100.7", None, &[])
        .await
        .unwrap();
    let body = sandbox_response(&sandbox, &first.request_id, Spec::default());
    let handler = Recorder::default();
    f.consume(&sandbox, body.as_bytes(), Some(&first.request_id), &handler)
        .await
        .unwrap();
    // An attacker replays the captured response against a request of its own: the
    // InResponseTo no longer matches, and the assertion is already spent anyway.
    let second = f
        .initiate(&sandbox, "198.51.100.7", None, &[])
        .await
        .unwrap();
    let replay = f
        .consume(
            &sandbox,
            body.as_bytes(),
            Some(&second.request_id),
            &handler,
        )
        .await;
    assert!(matches!(
        replay,
        Err(SsoFlowError::Saml(SamlError::InResponseToMismatch { .. }))
    ));
}

#[tokio::test]
async fn a_request_of_one_tenant_cannot_complete_a_login_on_another() {
    let (sandbox, uat) = tenants();
    let f = flow(clock());
    let redirect = f.initiate(&uat, "198.51.100.7", None, &[]).await.unwrap();
    let body = sandbox_response(&sandbox, &redirect.request_id, Spec::default());
    let r = f
        .consume(
            &sandbox,
            body.as_bytes(),
            Some(&redirect.request_id),
            &Recorder::default(),
        )
        .await;
    assert!(matches!(r, Err(SsoFlowError::UnknownRequest)));
    // And a sandbox-signed response is worthless for the other tenant, whose IdP key differs.
    let mine = f.initiate(&uat, "198.51.100.7", None, &[]).await.unwrap();
    let forged = sandbox_response(&uat, &mine.request_id, Spec::default());
    let r = f
        .consume(
            &uat,
            forged.as_bytes(),
            Some(&mine.request_id),
            &Recorder::default(),
        )
        .await;
    assert!(
        matches!(
            r,
            Err(SsoFlowError::Saml(SamlError::CertificateRejected { .. })
                | SsoFlowError::Saml(SamlError::SignatureInvalid))
        ),
        "{r:?}"
    );
}

type Attributes = Vec<(String, Vec<String>)>;

#[tokio::test]
async fn attributes_are_typed_and_missing_ones_are_named() {
    let (sandbox, _) = tenants();
    let f = flow(clock());
    let attrs = |edit: &dyn Fn(&mut Attributes)| {
        let mut a = Spec::default().attributes;
        edit(&mut a);
        a
    };
    let run = |spec: Spec| {
        let f = f.clone();
        let sandbox = sandbox.clone();
        async move {
            let r = f
                .initiate(&sandbox, "198.51.100.7", None, &[])
                .await
                .unwrap();
            let body = sandbox_response(&sandbox, &r.request_id, spec);
            f.consume(
                &sandbox,
                body.as_bytes(),
                Some(&r.request_id),
                &Recorder::default(),
            )
            .await
        }
    };
    let set = |name: &'static str, value: &'static str| {
        move |a: &mut Attributes| {
            a.iter_mut().find(|(n, _)| n == name).unwrap().1 = vec![value.to_owned()];
        }
    };
    let login = run(Spec {
        attributes: attrs(&|a| {
            set("group_end_free_trial", "0000-01-01T00:00:00Z")(a);
            set("group_has_credit_card", "false")(a);
            set("group_country", "NZ")(a);
            set("mno_session_recheck", "2024-05-01T10:03:00.123+0000")(a);
        }),
        assertion_id: "_a2".into(),
        ..Spec::default()
    })
    .await
    .unwrap()
    .login;
    assert_eq!(
        login.group.free_trial_end_at, None,
        "year 0000 means no date"
    );
    assert_eq!(login.group.has_credit_card, Some(false));
    assert_eq!(login.group.country.as_deref(), Some("NZ"));
    assert_eq!(
        login.user.country.as_deref(),
        Some("AU"),
        "group and user countries are distinct"
    );
    assert_eq!(
        login.session.recheck_at,
        datetime!(2024-05-01 10:03:00.123 UTC)
    );

    let missing = run(Spec {
        attributes: attrs(&|a| a.retain(|(n, _)| n != "group_role")),
        assertion_id: "_a3".into(),
        ..Spec::default()
    })
    .await;
    assert!(matches!(
        missing,
        Err(SsoFlowError::Attributes(AttributeError::Missing {
            name: "group_role"
        }))
    ));
    let bad = run(Spec {
        attributes: attrs(&|a| set("group_has_credit_card", "yes")(a)),
        assertion_id: "_a4".into(),
        ..Spec::default()
    })
    .await;
    assert!(matches!(
        bad,
        Err(SsoFlowError::Attributes(AttributeError::Invalid {
            name: "group_has_credit_card",
            ..
        }))
    ));
}

#[test]
fn identity_modes_and_virtual_uids() {
    let user = UserUid::new("usr-1").unwrap();
    let group = GroupUid::new("cld-1").unwrap();
    let v = mask_uid(&user, &group).unwrap();
    assert_eq!(v.as_str(), "usr-1.cld-1");
    assert_eq!(unmask_uid(&v), Some((user.clone(), group)));
    assert_eq!(unmask_uid(&user), None);
    // As the official SDKs: ruby `sso.creation_mode` defaults to `real`, php `getUid()` is real.
    assert_eq!(IdentityMode::default(), IdentityMode::Real);
}

#[test]
fn the_session_round_trips_through_the_form_other_sdks_store() {
    let value = {
        use base64::Engine as _;
        // As Ruby's Base64.encode64 writes it: with a line break every 60 characters.
        let json = br#"{"uid":"usr-1","session":"tok-123","session_recheck":"2024-05-01T10:03:00Z","group_uid":"cld-1"}"#;
        let b = base64::engine::general_purpose::STANDARD.encode(json);
        format!("{}\n{}\n", &b[..60], &b[60..])
    };
    let (sandbox, uat) = tenants();
    match SsoSession::from_session_value(&value) {
        Err(SessionError::InvalidStoredValue(m)) => {
            assert!(m.contains("expected a \"marketplace\" field"), "{m}")
        }
        other => panic!("a value without its marketplace: got {other:?}"),
    }
    let s = SsoSession::from_session_value_of(&value, sandbox.marketplace()).unwrap();
    assert_eq!(&s.marketplace, sandbox.marketplace());
    assert_eq!(s.uid.as_str(), "usr-1");
    assert_eq!(s.token.expose(), "tok-123");
    assert_eq!(s.group_uid.as_str(), "cld-1");
    assert!(!format!("{s:?}").contains("tok-123"));
    let back = SsoSession::from_session_value(&s.to_session_value()).unwrap();
    assert_eq!(back.recheck_at, s.recheck_at);
    assert_eq!(
        back.marketplace, s.marketplace,
        "the marketplace round-trips"
    );
    match SsoSession::from_session_value_of(&s.to_session_value(), uat.marketplace()) {
        Err(SessionError::InvalidStoredValue(m)) => {
            assert!(m.contains("expected a session of marketplace"), "{m}")
        }
        other => panic!("a sandbox session read for UAT: got {other:?}"),
    }
    assert!(!s.remote_check_required(datetime!(2024-05-01 10:02:59 UTC)));
    assert!(s.remote_check_required(datetime!(2024-05-01 10:03:00 UTC)));
    for bad in ["", "not base64!", "e30=", &"A".repeat(20_000)] {
        assert!(
            matches!(
                SsoSession::from_session_value(bad),
                Err(SessionError::InvalidStoredValue(_))
            ),
            "{bad:.20}"
        );
    }
    // Through serde (a session store), as the same value and with the same checks.
    let stored = serde_json::to_string(&s).unwrap();
    assert_eq!(stored, format!("\"{}\"", s.to_session_value()));
    let read: SsoSession = serde_json::from_str(&stored).unwrap();
    assert_eq!(
        (read.uid, read.marketplace),
        (s.uid.clone(), s.marketplace.clone())
    );
    let foreign = serde_json::to_string(&value).unwrap();
    let e = serde_json::from_str::<SsoSession>(&foreign).unwrap_err();
    assert!(
        e.to_string().contains("expected a \"marketplace\" field"),
        "{e}"
    );
    assert!(serde_json::from_str::<SsoSession>("42").is_err());
}

#[tokio::test]
async fn session_check_replies_of_the_conformance_data_parse_as_documented() {
    let (sandbox, _) = tenants();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/maestrano/");
    let cases: [(&str, Option<time::OffsetDateTime>); 8] = [
        (
            "shapes/session/session-check-valid-bool.json",
            Some(datetime!(2016-06-28 08:03:00 UTC)),
        ),
        (
            "shapes/session/session-check-valid-string.json",
            Some(datetime!(2016-06-28 08:03:00 UTC)),
        ),
        ("shapes/session/session-check-invalid-bool.json", None),
        ("shapes/session/session-check-invalid-string.json", None),
        (
            "maestrano-java/written/SessionTest-session-check-valid-string.json",
            Some(datetime!(2017-08-11 08:54:30.123 UTC)),
        ),
        (
            "maestrano-java/written/SessionTest-session-check-invalid-string.json",
            None,
        ),
        (
            "maestrano-php/written/SessionTest-session-check-valid-string.json",
            Some(datetime!(2017-03-06 02:40:39 UTC)),
        ),
        (
            "x4d3-maestrano-dotnet/written/SessionTests-session-check-no-offset.json",
            Some(datetime!(2017-06-02 08:21:32 UTC)),
        ),
    ];
    for (file, expected) in cases {
        let http = FakeHttpClient::new();
        http.on(
            Some(http::Method::GET),
            "http://localhost:3001/api/v1/auth/saml/usr-1?",
            vec![FakeReply::json(200, read(&format!("{dir}{file}")))],
        );
        let mut s =
            SsoSession::from_session_value_of(&session_value(), sandbox.marketplace()).unwrap();
        let status = s.check(&sandbox, &http).await.unwrap();
        match expected {
            Some(t) => {
                assert_eq!(status, SessionStatus::Valid { recheck_at: t }, "{file}");
                assert_eq!(s.recheck_at, t);
            }
            None => assert_eq!(status, SessionStatus::Invalid, "{file}"),
        }
        let sent = http.requests();
        assert_eq!(
            sent[0].uri().to_string(),
            "http://localhost:3001/api/v1/auth/saml/usr-1?session=tok%2F1%2B2%263"
        );
    }
}

fn session_value() -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(
        br#"{"uid":"usr-1","session":"tok/1+2&3","session_recheck":"2024-05-01T10:03:00Z","group_uid":"cld-1"}"#,
    )
}

#[tokio::test]
async fn a_network_failure_is_reported_and_leaves_the_session_as_it_was() {
    let (sandbox, _) = tenants();
    let http = FakeHttpClient::new();
    http.on(
        None,
        "http://",
        vec![FakeReply::Error(TransportError::new(
            TransportErrorKind::Connect,
            "refused",
        ))],
    );
    let mut s = SsoSession::from_session_value_of(&session_value(), sandbox.marketplace()).unwrap();
    let before = s.recheck_at;
    assert!(matches!(
        s.check(&sandbox, &http).await,
        Err(SessionError::Transport(_))
    ));
    assert_eq!(s.recheck_at, before);
    let http = FakeHttpClient::new();
    http.on(None, "http://", vec![FakeReply::raw(200, "<html>")]);
    assert!(matches!(
        s.check(&sandbox, &http).await,
        Err(SessionError::InvalidReply { status: 200, .. })
    ));
    let http = FakeHttpClient::new();
    http.on(
        None,
        "http://",
        vec![FakeReply::json(200, r#"{"valid":"yes"}"#)],
    );
    assert!(matches!(
        s.check(&sandbox, &http).await,
        Err(SessionError::InvalidReply { .. })
    ));
}

#[test]
fn sp_metadata_names_the_entity_acs_and_format() {
    let (sandbox, _) = tenants();
    let m = maestrano::sso::sp_metadata(&sandbox);
    assert!(m.contains("entityID=\"app-1a2b\""), "{m}");
    assert!(m.contains(
        "<md:AssertionConsumerService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" Location=\"http://localhost:3000/maestrano/auth/saml/consume/mno-sandbox\""
    ));
    assert!(m.contains(
        "<md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>"
    ));
    assert!(m.contains("AuthnRequestsSigned=\"false\""));
    assert!(!m.contains("KeyDescriptor"));
}

/// Completes the login `redirect` started, as the IdP would.
async fn complete(f: &SsoFlow, tenant: &Tenant, request_id: &str, assertion: &str) {
    let body = sandbox_response(
        tenant,
        request_id,
        Spec {
            assertion_id: assertion.to_owned(),
            ..Spec::default()
        },
    );
    f.consume(
        tenant,
        body.as_bytes(),
        Some(request_id),
        &Recorder::default(),
    )
    .await
    .unwrap();
}

/// Issue 15: a flood of the open init route from one client used to push the pending logins
/// of everyone else out of the store (the in-memory store forgets the oldest requests when
/// full). Now the flood runs out of its own slots, and the victim's login, started before,
/// completes; so does a new one.
#[tokio::test]
async fn a_flood_from_one_client_cannot_push_out_another_clients_login() {
    let (sandbox, _) = tenants();
    let f = SsoFlow::new(
        clock(),
        Arc::new(maestrano::ports::OsRandom),
        Arc::new(InMemorySingleUseStore::with_capacity(200)),
    )
    .with_pending_limits(4, 64);
    let victim = f.initiate(&sandbox, "192.0.2.10", None, &[]).await.unwrap();
    let mut refused = 0;
    for _ in 0..1_000 {
        match f.initiate(&sandbox, "203.0.113.66", None, &[]).await {
            Ok(_) => {}
            Err(SsoFlowError::TooManyPendingLogins {
                per_client,
                per_tenant,
            }) => {
                assert_eq!((per_client, per_tenant), (4, 64));
                refused += 1;
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert!(
        refused >= 996,
        "at most 4 pending logins for the flooding client, refused {refused}"
    );
    complete(&f, &sandbox, &victim.request_id, "_victim-1").await;
    let again = f.initiate(&sandbox, "192.0.2.10", None, &[]).await.unwrap();
    complete(&f, &sandbox, &again.request_id, "_victim-2").await;
}

/// A crowd of clients on one tenant fills that tenant's slots, not another tenant's; a
/// completed login frees its slot at once.
#[tokio::test]
async fn a_crowded_tenant_is_bounded_alone_and_completed_logins_free_their_slots() {
    let (sandbox, uat) = tenants();
    let f = SsoFlow::new(
        clock(),
        Arc::new(maestrano::ports::OsRandom),
        Arc::new(InMemorySingleUseStore::new()),
    )
    .with_pending_limits(2, 16);
    let mut pending = Vec::new();
    for i in 0..200 {
        if let Ok(r) = f
            .initiate(&sandbox, &format!("198.51.100.{i}"), None, &[])
            .await
        {
            pending.push(r);
        }
    }
    assert!(
        pending.len() <= 16,
        "at most 16 pending on the tenant, found {}",
        pending.len()
    );
    assert!(
        pending.len() >= 8,
        "the bound is reached, not undershot: {}",
        pending.len()
    );
    // The other tenant's slots are its own: its first clients are not refused.
    for i in 0..2 {
        f.initiate(&uat, &format!("198.51.100.{i}"), None, &[])
            .await
            .expect("the other tenant is untouched");
    }
    // One client, two slots: both taken, then one freed by a completed login.
    let f = SsoFlow::new(
        clock(),
        Arc::new(maestrano::ports::OsRandom),
        Arc::new(InMemorySingleUseStore::new()),
    )
    .with_pending_limits(2, 1_000);
    let first = f.initiate(&sandbox, "192.0.2.1", None, &[]).await;
    let second = f.initiate(&sandbox, "192.0.2.1", None, &[]).await;
    let (Ok(first), Ok(_)) = (first, second) else {
        panic!("two slots");
    };
    assert!(matches!(
        f.initiate(&sandbox, "192.0.2.1", None, &[]).await,
        Err(SsoFlowError::TooManyPendingLogins { .. })
    ));
    complete(&f, &sandbox, &first.request_id, "_freed").await;
    f.initiate(&sandbox, "192.0.2.1", None, &[])
        .await
        .expect("the completed login's slot is free");
}

/// The bound holds across instances: two flows on two connections to one SQLite file, and on
/// two Redis connections, racing 32 logins of one client, let exactly its 4 through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_login_bounds_hold_across_instances() {
    use maestrano::ports::SingleUseStore;
    let (sandbox, _) = tenants();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("logins.sqlite3");
    type Store = Arc<dyn SingleUseStore>;
    let mut pairs: Vec<(&str, Store, Store)> = vec![(
        "sqlite",
        Arc::new(maestrano::adapters::SqliteStore::open(&path).unwrap()),
        Arc::new(maestrano::adapters::SqliteStore::open(&path).unwrap()),
    )];
    if let Ok(url) = std::env::var("MAESTRANO_TEST_REDIS_URL") {
        // A client name of its own per run: the Redis database outlives the test.
        let open = || maestrano::adapters::RedisStore::connect(&url);
        pairs.push((
            "redis",
            Arc::new(open().await.unwrap()),
            Arc::new(open().await.unwrap()),
        ));
    } else if std::env::var_os("CI").is_some() {
        panic!("MAESTRANO_TEST_REDIS_URL is required under CI");
    }
    for (name, a, b) in pairs {
        let flows = [a, b].map(|store| {
            SsoFlow::new(clock(), Arc::new(maestrano::ports::OsRandom), store)
                .with_pending_limits(4, 100_000)
        });
        let client = format!("2001:db8::{:x}", std::process::id() ^ rand_tag());
        let barrier = Arc::new(tokio::sync::Barrier::new(32));
        let tasks: Vec<_> = (0..32)
            .map(|i| {
                let f = flows[i % 2].clone();
                let (tenant, client, barrier) = (sandbox.clone(), client.clone(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    f.initiate(&tenant, &client, None, &[]).await
                })
            })
            .collect();
        let mut accepted = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => accepted += 1,
                Err(SsoFlowError::TooManyPendingLogins { .. }) => {}
                Err(e) => panic!("{name}: {e}"),
            }
        }
        assert_eq!(
            accepted, 4,
            "{name}: the client's 4 slots, across two instances"
        );
    }
}

fn rand_tag() -> u32 {
    let mut b = [0u8; 4];
    maestrano::ports::RandomSource::fill(&maestrano::ports::OsRandom, &mut b).unwrap();
    u32::from_be_bytes(b)
}

/// What this thread logged while capturing.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

thread_local! {
    static CAPTURE: std::cell::RefCell<Option<Logs>> = const { std::cell::RefCell::new(None) };
}

/// The global subscriber's writer: into the capturing thread's buffer, else nowhere.
struct ToCapture;

impl std::io::Write for ToCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        CAPTURE.with(|c| {
            if let Some(logs) = &*c.borrow() {
                logs.0.lock().unwrap().extend_from_slice(buf);
            }
        });
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Stops the capture when dropped.
struct Capturing;

impl Drop for Capturing {
    fn drop(&mut self) {
        CAPTURE.with(|c| c.borrow_mut().take());
    }
}

impl Logs {
    /// Captures what this thread logs at INFO and above until the guard drops. One global
    /// subscriber serves every test of the binary, set once: `tracing` caches per callsite
    /// whether a subscriber wants it, which scoped subscribers in parallel tests upset.
    /// The tests using it are `#[tokio::test]`s on one thread, so the flow logs here.
    fn capture() -> (Self, Capturing) {
        static INIT: std::sync::Once = std::sync::Once::new();
        INIT.call_once(|| {
            let subscriber = tracing_subscriber::fmt()
                .with_writer(|| ToCapture)
                .with_ansi(false)
                .with_max_level(tracing::Level::INFO)
                .finish();
            tracing::subscriber::set_global_default(subscriber)
                .expect("no other global subscriber in the test binary");
        });
        let logs = Logs::default();
        CAPTURE.with(|c| *c.borrow_mut() = Some(logs.clone()));
        (logs, Capturing)
    }
}

/// Every login step runs in a span naming the marketplace and the endpoint; a refused one is
/// a warning naming its class, and no log line holds the response, the request id's slot
/// secret or the tenant's key.
#[tokio::test]
async fn logins_are_traced_by_marketplace_and_refusals_by_class() {
    let (logs, _capture) = Logs::capture();
    let (sandbox, _) = tenants();
    let f = flow(clock());
    let good = f.initiate(&sandbox, "192.0.2.1", None, &[]).await.unwrap();
    complete(&f, &sandbox, &good.request_id, "_traced-1").await;
    let other = f.initiate(&sandbox, "192.0.2.1", None, &[]).await.unwrap();
    let body = sandbox_response(
        &sandbox,
        &other.request_id,
        Spec {
            assertion_id: "_traced-2".into(),
            ..Spec::default()
        },
    );
    let saml = body
        .strip_prefix("SAMLResponse=")
        .and_then(|r| r.split('&').next())
        .unwrap()
        .to_owned();
    // The same response signed, then one signed value changed: the signature no longer holds.
    let spec = Spec {
        destination: Some(sandbox.acs_url().to_string()),
        recipient: sandbox.acs_url().to_string(),
        audience: sandbox.config().sso().audience().to_owned(),
        issuer: sandbox.config().sso().idp().to_string(),
        in_response_to: Some(other.request_id.clone()),
        assertion_id: "_traced-2".into(),
        ..Spec::default()
    };
    let xml = sign_enveloped(
        &response_xml(&spec),
        &spec.assertion_id,
        &sandbox_key(),
        None,
    )
    .unwrap();
    let forged = xml.replacen("cld-1", "cld-9", 1);
    assert_ne!(forged, xml, "the fixture names the group");
    let forged_body = format!("SAMLResponse={}", urlencode(&b64(&forged)));
    let r = f
        .consume(
            &sandbox,
            forged_body.as_bytes(),
            Some(&other.request_id),
            &Recorder::default(),
        )
        .await;
    let class = r.as_ref().map(|_| "").unwrap_err().class();
    assert!(
        matches!(
            class,
            "signature_invalid" | "digest_mismatch" | "signed_element_invalid"
        ),
        "{class}"
    );
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let started = lines.iter().filter(|l| l.contains("login started")).count();
    assert_eq!(started, 2, "{text}");
    assert!(
        lines.iter().any(|l| l.contains("login completed")
            && l.contains("maestrano_sso")
            && l.contains("marketplace=mno-sandbox")
            && l.contains("endpoint=\"consume\"")),
        "{text}"
    );
    let refusal = lines
        .iter()
        .find(|l| l.contains("login refused"))
        .unwrap_or_else(|| panic!("no refusal in {text}"));
    assert!(refusal.contains(" WARN "), "{refusal}");
    assert!(
        refusal.contains(&format!("refusal=\"{class}\""))
            || refusal.contains(&format!("refusal={class}")),
        "{refusal}"
    );
    assert!(refusal.contains("marketplace=mno-sandbox"), "{refusal}");
    let key = sandbox.config().api().key().expose().to_owned();
    for line in &lines {
        assert!(!line.contains(&key), "the tenant's key in {line}");
        assert!(!line.contains(&saml[..40]), "the response in {line}");
        assert!(!line.contains("<saml"), "XML in {line}");
    }
}

/// The builder's in-memory default works for one instance and says loudly that it is one
/// instance's store; given a shared store, it says nothing.
#[tokio::test]
async fn the_flow_builder_defaults_to_memory_and_warns_about_it() {
    let (logs, _capture) = Logs::capture();
    let (sandbox, _) = tenants();
    let f = SsoFlow::builder()
        .clock(clock())
        .pending_limits(2, 100)
        .build();
    let warned = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        warned.contains("WARN") && warned.contains("in-memory single-use store"),
        "{warned}"
    );
    let first = f.initiate(&sandbox, "192.0.2.5", None, &[]).await.unwrap();
    f.initiate(&sandbox, "192.0.2.5", None, &[]).await.unwrap();
    assert!(matches!(
        f.initiate(&sandbox, "192.0.2.5", None, &[]).await,
        Err(SsoFlowError::TooManyPendingLogins {
            per_client: 2,
            per_tenant: 100
        })
    ));
    complete(&f, &sandbox, &first.request_id, "_built-1").await;

    logs.0.lock().unwrap().clear();
    let _shared = SsoFlow::builder()
        .clock(clock())
        .store(Arc::new(InMemorySingleUseStore::new()))
        .build();
    let quiet = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(!quiet.contains("in-memory single-use store"), "{quiet}");
}

/// A login that fails after taking its slot (here: an `extra` parameter that would make the
/// redirect ambiguous) frees the slot at once, so a client's failed attempts never use up
/// its bound.
#[tokio::test]
async fn a_failed_init_frees_its_slot() {
    let (sandbox, _) = tenants();
    let f = flow(clock()).with_pending_limits(1, 100);
    for _ in 0..3 {
        let r = f
            .initiate(&sandbox, "192.0.2.9", None, &[("SAMLRequest", "x")])
            .await;
        assert!(
            matches!(r, Err(SsoFlowError::Saml(_))),
            "the ambiguous redirect is refused: {r:?}"
        );
    }
    let ok = f.initiate(&sandbox, "192.0.2.9", None, &[]).await.unwrap();
    complete(&f, &sandbox, &ok.request_id, "_after-failures").await;
}
