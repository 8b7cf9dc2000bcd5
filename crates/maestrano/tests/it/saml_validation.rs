//! SAML Response validation through the public API, organised by threat.

use crate::common;

use common::*;
use maestrano::__private::sign_enveloped;
use maestrano::ports::InMemorySingleUseStore;
use maestrano::saml::{Fingerprint, ResponseValidator, SamlError, SamlPolicy, SpSettings};
use time::OffsetDateTime;
use time::macros::datetime;

fn now() -> OffsetDateTime {
    datetime!(2024-05-01 10:01:00 UTC)
}

fn settings() -> SpSettings {
    SpSettings::new(ACS, AUDIENCE, vec![cert("idp-2048")]).with_idp_entity_id(IDP)
}

fn check(
    settings: SpSettings,
    message: &str,
) -> Result<maestrano::saml::CheckedResponse, SamlError> {
    ResponseValidator::new(settings).check(message.as_bytes(), Some(REQUEST_ID), now())
}

async fn validate(
    settings: SpSettings,
    message: &str,
) -> Result<maestrano::saml::VerifiedAssertion, SamlError> {
    let cache = InMemorySingleUseStore::new();
    ResponseValidator::new(settings)
        .validate(message.as_bytes(), Some(REQUEST_ID), now(), &cache)
        .await
}

#[tokio::test]
async fn a_signed_maestrano_response_yields_its_values() {
    let xml = signed_assertion(&Spec::default(), &key("idp-2048"));
    let a = validate(settings(), &b64(&xml)).await.unwrap();
    assert_eq!(a.name_id().value, "usr-1");
    assert_eq!(a.issuer(), IDP);
    assert_eq!(a.assertion_id(), "_a1");
    assert_eq!(a.session_index(), Some("_s1"));
    assert_eq!(
        a.session_not_on_or_after(),
        Some(datetime!(2024-05-02 10:00:00 UTC))
    );
    assert_eq!(a.in_response_to(), Some(REQUEST_ID));
    assert_eq!(a.first_value("group_uid"), Some("cld-1"));
    assert_eq!(a.attributes().len(), 20);
    assert_eq!(
        a.attributes().iter().next().map(|x| x.name()),
        Some("mno_session"),
        "document order is kept"
    );
    let shown = format!("{a:?}");
    assert!(
        shown.contains("mno_session") && !shown.contains("7ds8f9789a7fd7x0b898bvb8vc9989"),
        "{shown}"
    );
}

#[tokio::test]
async fn a_replayed_assertion_is_rejected() {
    let xml = b64(&signed_assertion(&Spec::default(), &key("idp-2048")));
    let validator = ResponseValidator::new(settings());
    let cache = InMemorySingleUseStore::new();
    validator
        .validate(xml.as_bytes(), Some(REQUEST_ID), now(), &cache)
        .await
        .unwrap();
    let again = validator
        .validate(xml.as_bytes(), Some(REQUEST_ID), now(), &cache)
        .await;
    assert_eq!(
        again.unwrap_err(),
        SamlError::Replay {
            assertion_id: "_a1".into()
        }
    );
}

#[test]
fn a_key_the_tenant_does_not_trust_is_rejected_even_when_keyinfo_carries_it() {
    let attacker = key("attacker-2048");
    let xml = sign_enveloped(
        &response_xml(&Spec::default()),
        "_a1",
        &attacker,
        Some(&cert("attacker-2048")),
    )
    .unwrap();
    assert_eq!(
        check(settings(), &xml).unwrap_err(),
        SamlError::SignatureInvalid
    );
}

#[test]
fn altering_any_signed_value_breaks_the_signature() {
    let xml = signed_assertion(&Spec::default(), &key("idp-2048"));
    for (from, to) in [
        (">usr-1<", ">usr-2<"),
        (">cld-1<", ">cld-2<"),
        ("Name=\"group_role\" ", "Name=\"group_rol\" "),
    ] {
        assert!(xml.contains(from));
        let tampered = xml.replacen(from, to, 1);
        assert_eq!(
            check(settings(), &tampered).unwrap_err(),
            SamlError::SignatureInvalid,
            "{from}"
        );
    }
}

#[test]
fn a_comment_inside_the_name_id_cannot_truncate_it() {
    // The attacker registers "usr-1<!---->.evil" at the IdP; the canonical form drops the
    // comment, so the signature covers "usr-1.evil", and that is what the SP must read.
    let spec = Spec {
        name_id: "usr-1.evil".into(),
        ..Spec::default()
    };
    let xml =
        signed_assertion(&spec, &key("idp-2048")).replace(">usr-1.evil<", ">usr-1<!---->.evil<");
    let a = futures_block_on(validate(settings(), &xml)).unwrap();
    assert_eq!(a.name_id().value, "usr-1.evil");
}

fn futures_block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn an_unsigned_response_is_rejected() {
    assert_eq!(
        check(settings(), &response_xml(&Spec::default())).unwrap_err(),
        SamlError::MissingSignature
    );
}

#[test]
fn key_rotation_accepts_either_configured_certificate() {
    let mut s = settings();
    s.certificates = vec![cert("idp-2048"), cert("idp-2048-next")];
    for k in ["idp-2048", "idp-2048-next"] {
        assert!(
            check(s.clone(), &signed_assertion(&Spec::default(), &key(k))).is_ok(),
            "{k}"
        );
    }
}

#[test]
fn sha1_weak_and_expired_keys_are_refused_by_the_strict_profile() {
    // The sandbox IdP key is RSA-1024: refused by the strict profile, which names its setting,
    // unless the test-only switch is on; the default (platform) profile accepts it.
    let xml = signed_assertion(&Spec::default(), &sandbox_key());
    let mut s = settings().with_policy(SamlPolicy::strict());
    s.certificates = vec![sandbox_cert()];
    assert!(
        matches!(check(s.clone(), &xml), Err(SamlError::CertificateRejected { reason }) if reason.contains("1024-bit") && reason.contains("SamlPolicy::signature_profile"))
    );
    let mut platform = s.clone();
    platform.policy = SamlPolicy::default();
    assert!(check(platform, &xml).is_ok());
    let mut p = SamlPolicy::strict();
    p.insecure_allow_weak_test_certs = true;
    assert!(check(s.with_policy(p), &xml).is_ok());

    let mut s = settings();
    s.certificates = vec![cert("expired-2048")];
    let xml = signed_assertion(&Spec::default(), &key("expired-2048"));
    assert!(
        matches!(check(s, &xml), Err(SamlError::CertificateRejected { reason }) if reason.contains("valid from"))
    );

    // An RSA-SHA1 signature from the corpus (python3-saml valid_response, settings1 cert).
    let corpus = read(&format!(
        "{SHARED}/saml/python3-saml/data/responses/valid_response.xml.base64"
    ));
    let mut s = SpSettings::new(
        "https://pitbulk.no-ip.org/newonelogin/demo1/index.php?acs",
        "http://stuff.com/endpoints/metadata.php",
        vec![
            maestrano::saml::Certificate::from_pem(&read(&format!(
                "{SHARED}/saml/python3-saml/derived/settings1-idp-cert.pem"
            )))
            .unwrap(),
        ],
    );
    let mut p = SamlPolicy::strict();
    p.insecure_allow_weak_test_certs = true;
    s = s.with_policy(p.clone());
    let at = datetime!(2014-02-19 01:37:31 UTC);
    let v = ResponseValidator::new(s.clone());
    let err = v
        .check(
            corpus.as_bytes(),
            Some("ONELOGIN_5fe9d6e499b2f0913206aab3f7191729049bb807"),
            at,
        )
        .unwrap_err();
    assert!(
        matches!(&err, SamlError::StrictProfileRefused { found } if found.ends_with("rsa-sha1")),
        "{err}"
    );
    p.insecure_allow_sha1 = true;
    let v = ResponseValidator::new(s.with_policy(p));
    assert!(
        v.check(
            corpus.as_bytes(),
            Some("ONELOGIN_5fe9d6e499b2f0913206aab3f7191729049bb807"),
            at
        )
        .is_ok()
    );
}

#[test]
fn fingerprint_mode_uses_only_a_keyinfo_certificate_that_hashes_to_the_pin() {
    let idp = cert("idp-2048");
    let mut s = settings();
    s.certificates.clear();
    s.fingerprints =
        vec![Fingerprint::parse(&idp.sha1_fingerprint().to_string().to_uppercase()).unwrap()];
    let good = sign_enveloped(
        &response_xml(&Spec::default()),
        "_a1",
        &key("idp-2048"),
        Some(&idp),
    )
    .unwrap();
    assert!(check(s.clone(), &good).is_ok());
    let no_keyinfo = signed_assertion(&Spec::default(), &key("idp-2048"));
    assert!(matches!(
        check(s.clone(), &no_keyinfo),
        Err(SamlError::CertificateRejected { .. })
    ));
    let attacker = sign_enveloped(
        &response_xml(&Spec::default()),
        "_a1",
        &key("attacker-2048"),
        Some(&cert("attacker-2048")),
    )
    .unwrap();
    assert!(matches!(
        check(s, &attacker),
        Err(SamlError::CertificateRejected { .. })
    ));
}

#[test]
fn time_checks_apply_the_skew_with_exclusive_not_on_or_after() {
    let xml = signed_assertion(&Spec::default(), &key("idp-2048"));
    let v = ResponseValidator::new(settings());
    // NotBefore 09:59:00, NotOnOrAfter 10:05:00, skew 180 s.
    assert!(
        v.check(
            xml.as_bytes(),
            Some(REQUEST_ID),
            datetime!(2024-05-01 09:56:00 UTC)
        )
        .is_ok()
    );
    assert!(matches!(
        v.check(
            xml.as_bytes(),
            Some(REQUEST_ID),
            datetime!(2024-05-01 09:55:59 UTC)
        ),
        Err(SamlError::ConditionsNotYetValid { .. })
    ));
    assert!(
        v.check(
            xml.as_bytes(),
            Some(REQUEST_ID),
            datetime!(2024-05-01 10:07:59 UTC)
        )
        .is_ok()
    );
    assert!(matches!(
        v.check(
            xml.as_bytes(),
            Some(REQUEST_ID),
            datetime!(2024-05-01 10:08:00 UTC)
        ),
        Err(SamlError::ConditionsExpired { .. })
    ));
}

#[test]
fn the_response_must_answer_our_request_unless_idp_initiated_is_allowed() {
    let xml = signed_assertion(&Spec::default(), &key("idp-2048"));
    let v = ResponseValidator::new(settings());
    assert!(matches!(
        v.check(xml.as_bytes(), Some("_other"), now()),
        Err(SamlError::InResponseToMismatch { .. })
    ));
    assert_eq!(
        v.check(xml.as_bytes(), None, now()).unwrap_err(),
        SamlError::UnsolicitedResponse
    );

    let unsolicited = signed_assertion(
        &Spec {
            in_response_to: None,
            ..Spec::default()
        },
        &key("idp-2048"),
    );
    assert_eq!(
        v.check(unsolicited.as_bytes(), None, now()).unwrap_err(),
        SamlError::UnsolicitedResponse
    );
    let mut p = SamlPolicy::default();
    p.insecure_allow_idp_initiated = true;
    let lenient = ResponseValidator::new(settings().with_policy(p));
    assert!(lenient.check(unsolicited.as_bytes(), None, now()).is_ok());
    // Even when allowed, a response answering someone else's request is not accepted.
    assert!(lenient.check(xml.as_bytes(), None, now()).is_err());
}

#[test]
fn every_address_and_name_must_be_ours() {
    let k = key("idp-2048");
    let cases: Vec<(Spec, &str)> = vec![
        (
            Spec {
                destination: Some("https://evil.example/acs".into()),
                ..Spec::default()
            },
            "destination_mismatch",
        ),
        (
            Spec {
                recipient: "https://evil.example/acs".into(),
                ..Spec::default()
            },
            "subject_confirmation_invalid",
        ),
        (
            Spec {
                audience: "app-other".into(),
                ..Spec::default()
            },
            "audience_mismatch",
        ),
        (
            Spec {
                issuer: "https://evil.example".into(),
                ..Spec::default()
            },
            "issuer_mismatch",
        ),
        (
            Spec {
                name_id: "  ".into(),
                ..Spec::default()
            },
            "nameid_empty",
        ),
        (
            Spec {
                session_not_on_or_after: "2024-05-01T09:00:00Z".into(),
                ..Spec::default()
            },
            "session_expired",
        ),
        (
            Spec {
                not_before: "2024-05-01".into(),
                ..Spec::default()
            },
            "invalid_time",
        ),
    ];
    for (spec, class) in cases {
        let err = check(settings(), &signed_assertion(&spec, &k)).unwrap_err();
        assert_eq!(err.class(), class, "{err}");
    }
}

#[test]
fn hostile_documents_are_refused_before_any_crypto() {
    let xml = signed_assertion(&Spec::default(), &key("idp-2048"));
    let doctype = format!("<!DOCTYPE r [<!ENTITY x \"y\">]>{xml}");
    assert_eq!(
        check(settings(), &doctype).unwrap_err(),
        SamlError::DtdForbidden
    );
    let trailing = format!("{xml}<samlp:Response/>");
    assert!(matches!(
        check(settings(), &trailing),
        Err(SamlError::XmlMalformed { .. })
    ));
    let mut p = SamlPolicy::default();
    p.max_message_bytes = 1000;
    assert!(
        matches!(check(settings().with_policy(p), &b64(&xml)), Err(SamlError::Decode(m)) if m.contains("limit"))
    );
    let deep = format!("{}{}", "<a>".repeat(100), "</a>".repeat(100));
    assert!(matches!(
        check(settings(), &deep),
        Err(SamlError::LimitExceeded { .. })
    ));
}

#[test]
fn status_failures_report_the_idps_codes() {
    let xml = response_xml(&Spec::default()).replace(
        "<samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"/>",
        "<samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:Responder\"><samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:AuthnFailed\"/></samlp:StatusCode><samlp:StatusMessage>denied</samlp:StatusMessage>",
    );
    assert_eq!(
        check(settings(), &xml).unwrap_err(),
        SamlError::StatusNotSuccess {
            code: "urn:oasis:names:tc:SAML:2.0:status:Responder".into(),
            sub_code: Some("urn:oasis:names:tc:SAML:2.0:status:AuthnFailed".into()),
            message: Some("denied".into()),
        }
    );
}

#[test]
fn a_signed_response_covers_an_unsigned_assertion_unless_the_policy_requires_more() {
    let k = key("idp-2048");
    let xml = sign_enveloped(&response_xml(&Spec::default()), "_r1", &k, None).unwrap();
    assert!(check(settings(), &xml).is_ok());
    let mut p = SamlPolicy::default();
    p.require_signed_assertion = true;
    assert_eq!(
        check(settings().with_policy(p.clone()), &xml).unwrap_err(),
        SamlError::AssertionSignatureRequired
    );
    let both = sign_enveloped(&signed_assertion(&Spec::default(), &k), "_r1", &k, None).unwrap();
    assert!(check(settings().with_policy(p), &both).is_ok());
}

#[test]
fn errors_say_what_was_expected_and_found() {
    let spec = Spec {
        audience: "app-other".into(),
        ..Spec::default()
    };
    let err = check(settings(), &signed_assertion(&spec, &key("idp-2048"))).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("app-1a2b") && text.contains("app-other"),
        "{text}"
    );
}

#[test]
fn hostile_signature_parameters_are_refused_before_any_canonicalization() {
    let xml = signed_assertion(&Spec::default(), &key("idp-2048"));
    let transform = "<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>";
    assert!(xml.contains(transform));
    let with = |inner: &str| {
        xml.replacen(
            transform,
            &format!(
                "<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\">{inner}</ds:Transform>"
            ),
            1,
        )
    };
    let ns = "xmlns:ec=\"http://www.w3.org/2001/10/xml-exc-c14n#\"";
    let long: Vec<String> = (0..40).map(|i| format!("p{i}")).collect();
    let cases = [
        format!(
            "<ec:InclusiveNamespaces {ns} PrefixList=\"{}\"/>",
            long.join(" ")
        ),
        format!("<ec:InclusiveNamespaces {ns} PrefixList=\"a b\"><ec:x/></ec:InclusiveNamespaces>"),
        format!("<ec:InclusiveNamespaces {ns} PrefixList=\"a(b)\"/>"),
    ];
    for case in cases {
        let err = check(settings(), &with(&case)).unwrap_err();
        assert_eq!(err.class(), "signature_malformed", "{err}");
    }
    // A short, valid list is accepted syntactically (the digest then decides).
    let ok = format!("<ec:InclusiveNamespaces {ns} PrefixList=\"xs #default xs\"/>");
    assert_eq!(
        check(settings(), &with(&ok)).unwrap_err(),
        SamlError::SignatureInvalid
    );
}
