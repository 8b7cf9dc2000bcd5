//! SAML login through the simulated IdPs, validated by the SDK's own validator with the
//! default policy, and the session check.

use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine as _;
use maestrano::adapters::ReqwestHttpClient;
use maestrano::config::DevPlatformSource;
use maestrano::ports::InMemorySingleUseStore;
use maestrano::ports::{Clock, OsRandom};
use maestrano::saml::{SamlError, SamlPolicy, SsoLogin};
use maestrano::sso::{LoginHandler, SessionStatus, SsoFlow, SsoSession};
use maestrano::test_util::ManualClock;
use maestrano::{GroupUid, UserUid};
use maestrano::{Registry, Tenant};
use maestrano_simulator::{
    AutoSubmitForm, IdpMode, MarketplaceSpec, SimGroup, SimUser, Simulator, SimulatorConfig,
};
use time::Duration;

use super::support::*;

async fn registry(sim: &Simulator, clock: Arc<ManualClock>) -> Registry {
    let source = DevPlatformSource::new(
        sim.dev_platform_settings().unwrap(),
        Arc::new(ReqwestHttpClient::new().unwrap()),
    );
    Registry::builder(Arc::new(source), clock)
        .build()
        .await
        .unwrap()
}

fn flow(clock: Arc<ManualClock>) -> SsoFlow {
    SsoFlow::new(
        clock,
        Arc::new(OsRandom),
        Arc::new(InMemorySingleUseStore::new()),
    )
}

/// GETs an IdP URL as a browser would and reads the auto-submitting form.
async fn idp_form(url: &url::Url) -> AutoSubmitForm {
    let r = send("GET", url.as_str(), None, None).await.unwrap();
    let page = String::from_utf8(r.body().clone()).unwrap();
    assert_eq!(r.status(), 200, "{page}");
    assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
    assert!(page.contains("document.forms[0].submit()"), "{page}");
    AutoSubmitForm::parse(&page).unwrap()
}

fn decoded(form: &AutoSubmitForm) -> String {
    let b64 = form.field("SAMLResponse").unwrap();
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn a_modern_login_round_trip_per_marketplace_validates_with_the_default_policy() {
    let clock = clock();
    let sim = Simulator::start(
        SimulatorConfig::two_marketplaces(clock.clone(), &app_url()).with_idp_mode(IdpMode::Modern),
    )
    .await
    .unwrap();
    let registry = registry(&sim, clock.clone()).await;
    let flow = flow(clock.clone());
    let replay = InMemorySingleUseStore::new();
    for (i, info) in sim.marketplaces().iter().enumerate() {
        let n = i + 1;
        let tenant = registry.with(&info.key).unwrap();
        assert_eq!(maestrano::sso::saml_policy(&tenant), SamlPolicy::default());
        let redirect = flow
            .initiate(&tenant, "198.51.100.7", Some("/dashboard?tab=1&x=<y>"), &[])
            .await
            .unwrap();
        let form = idp_form(&redirect.url).await;
        assert_eq!(form.action, tenant.acs_url().as_str());
        assert_eq!(form.method, "post");
        assert_eq!(form.field("RelayState"), Some("/dashboard?tab=1&x=<y>"));
        let xml = decoded(&form);
        // The Assertion is what is signed, RSA-SHA256 over exclusive C14N, with the
        // certificate in KeyInfo.
        let assertion_at = xml.find("<saml:Assertion").unwrap();
        let signature_at = xml.find("<ds:Signature").unwrap();
        assert!(signature_at > assertion_at, "{xml}");
        assert!(xml.contains("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"));
        assert!(xml.contains("http://www.w3.org/2001/10/xml-exc-c14n#"));
        assert!(xml.contains(&format!("Destination=\"{}\"", tenant.acs_url())));

        // The tenant's default-policy validator, with the request id the app kept; a policy
        // requiring the Assertion itself to be signed accepts it too.
        let strict = maestrano::saml::ResponseValidator::new(
            maestrano::sso::sp_settings(&tenant)
                .with_policy(SamlPolicy::default().with_require_signed_assertion(true))
                .with_idp_entity_id(info.idp_entity_id.clone()),
        );
        strict
            .check(
                form.field("SAMLResponse").unwrap().as_bytes(),
                Some(&redirect.request_id),
                clock.now(),
            )
            .unwrap();
        let assertion = maestrano::sso::response_validator(&tenant)
            .validate(
                form.field("SAMLResponse").unwrap().as_bytes(),
                Some(&redirect.request_id),
                clock.now(),
                &replay,
            )
            .await
            .unwrap();
        assert_eq!(assertion.issuer(), info.idp_entity_id);
        assert_eq!(
            assertion.in_response_to(),
            Some(redirect.request_id.as_str())
        );
        assert_eq!(assertion.name_id().value, format!("usr-{n}"));
        assert_eq!(
            assertion.name_id().format.as_deref(),
            Some("urn:oasis:names:tc:SAML:2.0:nameid-format:persistent")
        );
        assert_eq!(
            assertion.not_on_or_after(),
            Some(clock.now() + Duration::minutes(5))
        );
        assert!(assertion.session_index().is_some());
        for name in [
            "uid",
            "virtual_uid",
            "email",
            "virtual_email",
            "name",
            "surname",
            "country",
            "company_name",
            "group_uid",
            "group_name",
            "group_email",
            "group_role",
            "group_end_free_trial",
            "group_has_credit_card",
            "group_currency",
            "group_timezone",
            "group_country",
            "group_city",
            "group_org_uid",
            "mno_session",
            "mno_session_recheck",
        ] {
            assert!(assertion.attribute(name).is_some(), "attribute {name}");
        }
        let login = SsoLogin::from_assertion(&info.key, &assertion).unwrap();
        assert_eq!(login.user.uid.as_str(), format!("usr-{n}"));
        assert_eq!(login.user.virtual_uid.as_str(), format!("usr-{n}.cld-{n}"));
        assert_eq!(
            login.user.email,
            format!("user{n}@{}.example.com", info.key)
        );
        assert_eq!(login.user.first_name, "Jane");
        assert_eq!(login.group.uid.as_str(), format!("cld-{n}"));
        assert_eq!(login.group.currency.as_deref(), Some("AUD"));
        assert_eq!(login.group.has_credit_card, Some(true));
        assert_eq!(login.group.free_trial_end_at, None);
        assert_eq!(
            login.group.org_uid.as_deref(),
            Some(format!("org-cld-{n}").as_str())
        );
        assert_eq!(login.membership.role, "Admin");
        assert_eq!(login.session.recheck_at, clock.now() + Duration::minutes(3));

        // The same response again is a replay.
        let again = maestrano::sso::response_validator(&tenant)
            .validate(
                form.field("SAMLResponse").unwrap().as_bytes(),
                Some(&redirect.request_id),
                clock.now(),
                &replay,
            )
            .await;
        assert!(matches!(again, Err(SamlError::Replay { .. })), "{again:?}");
    }
}

struct Keep;

#[async_trait]
impl LoginHandler for Keep {
    type Output = String;
    async fn on_login(
        &self,
        login: &SsoLogin,
    ) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
        Ok(format!("{}:{}", login.marketplace, login.user.uid))
    }
}

#[tokio::test]
async fn the_consume_route_takes_the_posted_form_and_the_session_check_follows_logout() {
    let clock = clock();
    let sim = two(clock.clone(), &app_url()).await;
    let registry = registry(&sim, clock.clone()).await;
    let flow = flow(clock.clone());
    let http = ReqwestHttpClient::new().unwrap();
    let [a, b] = sim.marketplaces() else { panic!() };
    let (ta, tb) = (
        registry.with(&a.key).unwrap(),
        registry.with(&b.key).unwrap(),
    );

    let redirect = flow.initiate(&ta, "198.51.100.7", None, &[]).await.unwrap();
    let form = idp_form(&redirect.url).await;
    assert_eq!(form.field("RelayState"), None);
    let done = flow
        .consume(&ta, &form.to_form_body(), Some(&redirect.request_id), &Keep)
        .await
        .unwrap();
    assert_eq!(done.output, format!("{}:usr-1", a.key));
    let handle = sim.marketplace(&a.key).unwrap();
    let user: UserUid = "usr-1".parse().unwrap();
    assert_eq!(handle.live_sessions(&user), 1);

    // Valid while the IdP session lives, with the next re-check on the simulator's clock.
    let mut session = done.session.clone();
    clock.advance(Duration::minutes(4));
    assert!(session.remote_check_required(clock.now()));
    let status = session.check(&ta, &http).await.unwrap();
    assert_eq!(
        status,
        SessionStatus::Valid {
            recheck_at: clock.now() + Duration::minutes(3)
        }
    );
    // The session is never sent to the other marketplace's IdP.
    let mut elsewhere = done.session.clone();
    assert!(matches!(
        elsewhere.check(&tb, &http).await,
        Err(maestrano::sso::SessionError::WrongTenant { .. })
    ));
    // Had it been sent, that IdP would not know it either.
    let mut foreign = done.session.clone();
    foreign.marketplace = tb.marketplace().clone();
    assert_eq!(
        foreign.check(&tb, &http).await.unwrap(),
        SessionStatus::Invalid
    );
    // A wrong token is not a session.
    let mut forged = SsoSession::from_session_value(&session.to_session_value()).unwrap();
    forged.token = maestrano::Secret::new("forged");
    assert_eq!(
        forged.check(&ta, &http).await.unwrap(),
        SessionStatus::Invalid
    );

    // Logging out at the marketplace ends it.
    let r = send("GET", ta.logout_url(&user).as_str(), None, None)
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(handle.live_sessions(&user), 0);
    assert_eq!(
        session.check(&ta, &http).await.unwrap(),
        SessionStatus::Invalid
    );
    let r = send("GET", ta.unauthorized_url().as_str(), None, None)
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn a_response_of_one_marketplace_never_validates_for_the_other() {
    let clock = clock();
    let sim = two(clock.clone(), &app_url()).await;
    let registry = registry(&sim, clock.clone()).await;
    let flow = flow(clock.clone());
    let [a, b] = sim.marketplaces() else { panic!() };
    let (ta, tb) = (
        registry.with(&a.key).unwrap(),
        registry.with(&b.key).unwrap(),
    );
    let redirect = flow.initiate(&ta, "198.51.100.7", None, &[]).await.unwrap();
    let form = idp_form(&redirect.url).await;
    let message = form.field("SAMLResponse").unwrap().as_bytes();

    // As tenant B sees it: refused.
    let err = maestrano::sso::response_validator(&tb)
        .check(message, Some(&redirect.request_id), clock.now())
        .unwrap_err();
    assert!(!matches!(err, SamlError::Replay { .. }), "{err:?}");
    // Even with A's URLs and audience, B's certificate does not verify A's signature.
    let mut settings = maestrano::sso::sp_settings(&ta);
    settings.certificates = vec![b.certificate.clone()];
    let err = maestrano::saml::ResponseValidator::new(settings)
        .check(message, Some(&redirect.request_id), clock.now())
        .unwrap_err();
    assert_eq!(err, SamlError::SignatureInvalid);
    // Through B's consume route: refused as well.
    let err = flow
        .consume(&tb, &form.to_form_body(), None, &Keep)
        .await
        .unwrap_err();
    assert!(
        matches!(err, maestrano::sso::SsoFlowError::Saml(_)),
        "{err:?}"
    );
    // For A, it answers only the request it was issued for.
    let err = maestrano::sso::response_validator(&ta)
        .check(message, Some("_another_request"), clock.now())
        .unwrap_err();
    assert!(
        matches!(err, SamlError::InResponseToMismatch { .. }),
        "{err:?}"
    );
    // For A itself, the response is fine, but only until it expires.
    maestrano::sso::response_validator(&ta)
        .check(message, Some(&redirect.request_id), clock.now())
        .unwrap();
    // The platform's bearer confirmation lasts 3 minutes (saml_controller.rb, NotOnOrAfter
    // now + 3 min), the skew 180 s more.
    clock.advance(Duration::minutes(10));
    let err = maestrano::sso::response_validator(&ta)
        .check(message, Some(&redirect.request_id), clock.now())
        .unwrap_err();
    assert!(
        matches!(&err, SamlError::SubjectConfirmationInvalid { reason } if reason.contains("expired")),
        "{err:?}"
    );
}

#[tokio::test]
async fn the_idp_picks_user_and_group_and_refuses_foreign_requests() {
    let clock = clock();
    let (u1, u2): (UserUid, UserUid) = ("usr-a".parse().unwrap(), "usr-b".parse().unwrap());
    let (g1, g2): (GroupUid, GroupUid) = ("cld-a".parse().unwrap(), "cld-b".parse().unwrap());
    let spec = MarketplaceSpec::new(key("solo"), app_url())
        .user(SimUser::new(u1.clone(), "a@example.com", "Ann", "A"))
        .user(SimUser::new(u2.clone(), "b@example.com", "Bob", "B").with_company_name("Bob & Co"))
        .group(SimGroup::new(g1.clone(), "Alpha").with_currency("USD"))
        .group(SimGroup::new(g2.clone(), "Beta <b>").with_currency("EUR"))
        .member(&u1, &g1, "Admin")
        .member(&u2, &g1, "Member")
        .member(&u2, &g2, "Power User");
    // Modern mode: the platform's IdP escapes nothing, so "Beta <b>" would break its XML.
    let sim = Simulator::start(
        SimulatorConfig::new(clock.clone()).marketplace(spec.with_idp_mode(IdpMode::Modern)),
    )
    .await
    .unwrap();
    let info = &sim.marketplaces()[0];
    let tenant = Tenant::new(info.config.clone());
    let replay = InMemorySingleUseStore::new();
    let login = |extra: Vec<(&'static str, String)>| {
        let tenant = tenant.clone();
        let clock = clock.clone();
        async move {
            let id = format!("_req{}", extra.len());
            let request = maestrano::sso::authn_request(&tenant, &id, clock.now());
            let extra: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let url = request.redirect_url(None, &extra, None).unwrap();
            (id, send("GET", url.as_str(), None, None).await.unwrap())
        }
    };

    // Default: the first user and their first group.
    let (id, r) = login(vec![]).await;
    let form = AutoSubmitForm::parse(std::str::from_utf8(r.body()).unwrap()).unwrap();
    let a = maestrano::sso::response_validator(&tenant)
        .validate(
            form.field("SAMLResponse").unwrap().as_bytes(),
            Some(&id),
            clock.now(),
            &replay,
        )
        .await
        .unwrap();
    let l = SsoLogin::from_assertion(&info.key, &a).unwrap();
    assert_eq!(
        (l.user.uid.as_str(), l.group.uid.as_str()),
        ("usr-a", "cld-a")
    );

    // sim_user and group_id pick them.
    let (id, r) = login(vec![
        ("sim_user", "usr-b".into()),
        ("group_id", "cld-b".into()),
    ])
    .await;
    let form = AutoSubmitForm::parse(std::str::from_utf8(r.body()).unwrap()).unwrap();
    let a = maestrano::sso::response_validator(&tenant)
        .validate(
            form.field("SAMLResponse").unwrap().as_bytes(),
            Some(&id),
            clock.now(),
            &replay,
        )
        .await
        .unwrap();
    let l = SsoLogin::from_assertion(&info.key, &a).unwrap();
    assert_eq!(
        (l.user.uid.as_str(), l.group.uid.as_str()),
        ("usr-b", "cld-b")
    );
    assert_eq!(l.membership.role, "Power User");
    assert_eq!(l.group.name.as_deref(), Some("Beta <b>"));
    assert_eq!(l.group.currency.as_deref(), Some("EUR"));
    assert_eq!(l.user.company_name.as_deref(), Some("Bob & Co"));

    // Unknown user, a group the user is not in.
    let (_, r) = login(vec![("sim_user", "usr-zzz".into())]).await;
    assert_eq!(r.status(), 400);
    let (_, r) = login(vec![("group_id", "cld-b".into())]).await;
    assert_eq!(r.status(), 400);

    // A request from another application, or to another ACS.
    for tamper in [0, 1, 2] {
        let mut request = maestrano::sso::authn_request(&tenant, "_x", clock.now());
        match tamper {
            0 => request.issuer = "app-intruder".into(),
            1 => request.acs_url = "http://127.0.0.1:9/evil/consume".into(),
            _ => request.destination = "http://127.0.0.1:9/api/v1/auth/saml".into(),
        }
        // Sent to this IdP whatever the request's Destination says.
        let query = request.redirect_url(None, &[], None).unwrap();
        let url = format!("{}?{}", info.idp_sso_url(), query.query().unwrap());
        let r = send("GET", &url, None, None).await.unwrap();
        assert_eq!(r.status(), 400, "tamper {tamper}");
        assert!(AutoSubmitForm::parse(std::str::from_utf8(r.body()).unwrap()).is_none());
    }
    // Garbage and wrong methods never reach a login.
    let sso = info.idp_sso_url();
    for q in ["", "SAMLRequest=%%%", "SAMLRequest=AAAA", "RelayState=x"] {
        let r = send("GET", &format!("{sso}?{q}"), None, None)
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{q}");
    }
    let r = send("POST", sso.as_str(), None, None).await.unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(sim.marketplace(&info.key).unwrap().live_sessions(&u2), 1);
}

/// The default IdP sends what the platform sends (mno-api-sandbox cd52c0b on ruby-saml-idp
/// 0.3.2): RSA-SHA1 over a 1024-bit key, the Assertion alone signed, Issuer = the IdP request
/// URL cut at the first `&`, Audience = the ACS origin + "/", `Base64.encode64` lines, no
/// RelayState. A tenant with default settings logs in; the strict profile refuses it.
#[tokio::test]
async fn the_default_idp_sends_the_platform_response() {
    let clock = clock();
    let sim = two(clock.clone(), &app_url()).await;
    let registry = registry(&sim, clock.clone()).await;
    let flow = flow(clock.clone());
    let info = &sim.marketplaces()[0];
    let tenant = registry.with(&info.key).unwrap();
    assert_eq!(info.certificate.key_bits(), 1024);
    let redirect = flow
        .initiate(&tenant, "198.51.100.7", Some("/dashboard"), &[])
        .await
        .unwrap();
    let form = idp_form(&redirect.url).await;
    assert_eq!(
        form.field("RelayState"),
        None,
        "the platform drops RelayState"
    );
    let b64 = form.field("SAMLResponse").unwrap();
    let lines: Vec<&str> = b64.split_terminator('\n').collect();
    assert!(
        lines.len() > 2 && lines[..lines.len() - 1].iter().all(|l| l.len() == 60),
        "{b64}"
    );
    assert!(b64.ends_with('\n'));
    let xml = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(b64.replace('\n', ""))
            .unwrap(),
    )
    .unwrap();
    assert!(xml.starts_with("<samlp:Response ID=\"_"), "{xml}");
    assert!(xml.contains("#rsa-sha1\"></ds:SignatureMethod>"));
    assert!(xml.contains("#sha1\"></ds:DigestMethod>"));
    let issuer = format!(
        "<Issuer xmlns=\"urn:oasis:names:tc:SAML:2.0:assertion\">{}?SAMLRequest=",
        tenant.idp_sso_url()
    );
    assert!(xml.contains(&issuer), "{xml}");
    let acs = tenant.acs_url();
    let audience = format!(
        "<Audience>{}://{}/</Audience>",
        acs.scheme(),
        acs.authority()
    );
    assert!(xml.contains(&audience), "{xml}");
    assert!(!xml.contains("RelayState"));

    let done = flow
        .consume(
            &tenant,
            &form.to_form_body(),
            Some(&redirect.request_id),
            &Keep,
        )
        .await
        .unwrap();
    let legacy = done.legacy_crypto.unwrap();
    assert!(legacy.sha1);
    assert_eq!(legacy.rsa_key_bits, Some(1024));

    let strict = Tenant::new(
        tenant
            .config()
            .clone()
            .with_saml_policy(SamlPolicy::strict()),
    );
    let redirect = flow
        .initiate(&strict, "198.51.100.7", None, &[])
        .await
        .unwrap();
    let form = idp_form(&redirect.url).await;
    let err = flow
        .consume(
            &strict,
            &form.to_form_body(),
            Some(&redirect.request_id),
            &Keep,
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("SamlPolicy::signature_profile"),
        "{err}"
    );
}

/// One marketplace may sign with the public sandbox key pair.
#[tokio::test]
async fn a_marketplace_can_use_the_public_sandbox_key() {
    let clock = clock();
    let spec = MarketplaceSpec::demo(key("sandboxed"), app_url(), 1).with_sandbox_idp_key();
    let sim = Simulator::start(SimulatorConfig::new(clock.clone()).marketplace(spec))
        .await
        .unwrap();
    let info = &sim.marketplaces()[0];
    assert_eq!(
        info.certificate
            .sha1_fingerprint()
            .to_string()
            .to_lowercase(),
        "01:06:15:89:25:7d:78:12:28:a6:69:c7:de:63:ed:74:21:f9:f5:36"
    );
    let registry = registry(&sim, clock.clone()).await;
    let tenant = registry.with(&info.key).unwrap();
    let flow = flow(clock.clone());
    let redirect = flow
        .initiate(&tenant, "198.51.100.7", None, &[])
        .await
        .unwrap();
    let form = idp_form(&redirect.url).await;
    flow.consume(
        &tenant,
        &form.to_form_body(),
        Some(&redirect.request_id),
        &Keep,
    )
    .await
    .unwrap();
}
