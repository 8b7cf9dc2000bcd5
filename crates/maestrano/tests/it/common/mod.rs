//! Helpers shared by the integration tests: test keys and a builder of Maestrano-shaped SAML
//! responses.
#![allow(dead_code)] // each test binary uses a different subset

use maestrano::__private::sign_enveloped;
use maestrano::saml::{Certificate, SigningKey};

pub(crate) const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
pub(crate) const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");

pub(crate) fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub(crate) fn key(name: &str) -> SigningKey {
    SigningKey::from_pem(&read(&format!("{FIXTURES}/keys/{name}.key"))).unwrap()
}

pub(crate) fn cert(name: &str) -> Certificate {
    Certificate::from_pem(&read(&format!("{FIXTURES}/keys/{name}.crt"))).unwrap()
}

pub(crate) fn sandbox_key() -> SigningKey {
    SigningKey::from_pem(&read(&format!(
        "{SHARED}/maestrano/mno-api-sandbox/idp-certs/rsaprivkey.pem"
    )))
    .unwrap()
}

pub(crate) fn sandbox_cert() -> Certificate {
    Certificate::from_pem(&read(&format!(
        "{SHARED}/maestrano/mno-api-sandbox/idp-certs/rsacert.pem"
    )))
    .unwrap()
}

pub(crate) const IDP: &str = "https://idp.example.test";
pub(crate) const ACS: &str = "https://app.example.test/mno-enterprise/acme-corp/saml/consume";
pub(crate) const AUDIENCE: &str = "app-1a2b";
pub(crate) const REQUEST_ID: &str = "_4c5a2b1e8f0d4e6a9b7c3d2e1f0a9b8c";

/// What goes into a test response. Times are RFC 3339 strings.
#[derive(Clone)]
pub(crate) struct Spec {
    pub response_id: String,
    pub assertion_id: String,
    pub issuer: String,
    pub destination: Option<String>,
    pub recipient: String,
    pub audience: String,
    pub in_response_to: Option<String>,
    pub name_id: String,
    pub issue_instant: String,
    pub not_before: String,
    pub not_on_or_after: String,
    pub session_not_on_or_after: String,
    pub attributes: Vec<(String, Vec<String>)>,
    /// The NameFormat of every Attribute, if any.
    pub attribute_name_format: Option<String>,
}

impl Default for Spec {
    fn default() -> Self {
        let attrs = [
            ("mno_session", "7ds8f9789a7fd7x0b898bvb8vc9989"),
            ("mno_session_recheck", "2024-05-01T10:03:00Z"),
            ("group_uid", "cld-1"),
            ("group_name", "SomeCompany"),
            ("group_email", "cld-1@example.com"),
            ("group_role", "Admin"),
            ("group_end_free_trial", "2024-06-01T00:00:00Z"),
            ("group_has_credit_card", "true"),
            ("group_currency", "AUD"),
            ("group_timezone", "Australia/Sydney"),
            ("group_country", "AU"),
            ("group_city", "Sydney"),
            ("uid", "usr-1"),
            ("virtual_uid", "usr-1.cld-1"),
            ("email", "j.doe@example.com"),
            ("virtual_email", "usr-1.cld-1@example.com"),
            ("name", "John"),
            ("surname", "Doe"),
            ("country", "AU"),
            ("company_name", "SomeCompany"),
        ];
        Spec {
            response_id: "_r1".into(),
            assertion_id: "_a1".into(),
            issuer: IDP.into(),
            destination: Some(ACS.into()),
            recipient: ACS.into(),
            audience: AUDIENCE.into(),
            in_response_to: Some(REQUEST_ID.into()),
            name_id: "usr-1".into(),
            issue_instant: "2024-05-01T10:00:00Z".into(),
            not_before: "2024-05-01T09:59:00Z".into(),
            not_on_or_after: "2024-05-01T10:05:00Z".into(),
            session_not_on_or_after: "2024-05-02T10:00:00Z".into(),
            attributes: attrs
                .iter()
                .map(|(k, v)| (k.to_string(), vec![v.to_string()]))
                .collect(),
            attribute_name_format: Some("urn:oasis:names:tc:SAML:2.0:attrname-format:basic".into()),
        }
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The unsigned XML of a response.
pub(crate) fn response_xml(s: &Spec) -> String {
    let irt = s
        .in_response_to
        .as_ref()
        .map(|i| format!(" InResponseTo=\"{}\"", esc(i)))
        .unwrap_or_default();
    let dest = s
        .destination
        .as_ref()
        .map(|d| format!(" Destination=\"{}\"", esc(d)))
        .unwrap_or_default();
    let attrs: String = s
        .attributes
        .iter()
        .map(|(n, vs)| {
            let values: String = vs
                .iter()
                .map(|v| {
                    format!(
                        "<saml:AttributeValue xsi:type=\"xs:string\">{}</saml:AttributeValue>",
                        esc(v)
                    )
                })
                .collect();
            let format = s
                .attribute_name_format
                .as_ref()
                .map(|f| format!(" NameFormat=\"{}\"", esc(f)))
                .unwrap_or_default();
            format!(
                "<saml:Attribute Name=\"{}\"{format}>{values}</saml:Attribute>",
                esc(n)
            )
        })
        .collect();
    format!(
        r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{rid}" Version="2.0" IssueInstant="{ii}"{dest}{irt}><saml:Issuer>{iss}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status><saml:Assertion xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ID="{aid}" Version="2.0" IssueInstant="{ii}"><saml:Issuer>{iss}</saml:Issuer><saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified">{nid}</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="{noa}" Recipient="{rcp}"{irt}/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="{nb}" NotOnOrAfter="{noa}"><saml:AudienceRestriction><saml:Audience>{aud}</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:AuthnStatement AuthnInstant="{ii}" SessionNotOnOrAfter="{snoa}" SessionIndex="_s1"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement><saml:AttributeStatement>{attrs}</saml:AttributeStatement></saml:Assertion></samlp:Response>"#,
        rid = esc(&s.response_id),
        aid = esc(&s.assertion_id),
        ii = s.issue_instant,
        iss = esc(&s.issuer),
        nid = esc(&s.name_id),
        noa = s.not_on_or_after,
        rcp = esc(&s.recipient),
        nb = s.not_before,
        aud = esc(&s.audience),
        snoa = s.session_not_on_or_after,
    )
}

/// The response with its Assertion signed by `key`.
pub(crate) fn signed_assertion(s: &Spec, key: &SigningKey) -> String {
    sign_enveloped(&response_xml(s), &s.assertion_id, key, None).unwrap()
}

/// Base64 of `xml`, as the POST binding sends it.
pub(crate) fn b64(xml: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(xml)
}
