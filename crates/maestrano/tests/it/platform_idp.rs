//! The SAML Response the Maestrano platform's IdP sends, rebuilt here from its public source and
//! independently of the SDK: string templates, SHA-1, RSA PKCS#1 v1.5 and base64 only (no XML
//! library, no SDK code).
//!
//! Source: `maestrano/mno-api-sandbox` at cd52c0b, `app/controllers/api/v1/auth/saml_controller.rb`
//! (`idp_build_user_assertions` L168-215 builds the attribute list; `encode_SAMLResponse`
//! L243-272 overrides the gem's template), on ruby-saml-idp 0.3.2
//! (`lawrencepit/ruby-saml-idp` at 021c5a9, `lib/saml_idp/controller.rb` L57-58 reads the
//! request with regexes, L86-89 signs): the digest is SHA-1 over the template's own bytes (no
//! canonicalization), the signature RSA-SHA1 over the SignedInfo string, nothing is
//! XML-escaped, and the document is sent as Ruby `Base64.encode64` (60-column lines, each ending
//! in "\n") in a hidden form field, which a browser posts with CRLF line breaks.
//!
//! `the_builder_reproduces_the_platform_bytes` checks this builder against the SHA-256 of the
//! bytes the real Ruby code produced for three inputs, so what the other tests feed the SDK is
//! what the platform sends.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rsa::pkcs1::DecodeRsaPrivateKey as _;
use rsa::{Pkcs1v15Sign, PrivateKey};
use sha1::{Digest as _, Sha1};
use time::OffsetDateTime;

/// What one faithful response is built from.
#[derive(Debug, Clone)]
pub(crate) struct PlatformInputs {
    /// The AuthnRequest's first `ID='…'`, inserted verbatim (controller.rb L57).
    pub request_id: String,
    /// The AuthnRequest's `AssertionConsumerServiceURL`, inserted verbatim (controller.rb L58).
    pub acs_url: String,
    /// `request.original_url` of the IdP's GET (its `SAMLRequest` query included).
    pub idp_request_url: String,
    pub now: OffsetDateTime,
    /// Two `UUID.generate` results (36 characters), for the Response and the Assertion.
    pub response_uuid: String,
    pub assertion_uuid: String,
    /// The user uid: NameID and `mno_uid`.
    pub name_id: String,
    /// The attributes after `mno_uid`, in order.
    pub attributes: Vec<(String, String)>,
    /// The IdP's PKCS#1 private key PEM and its certificate PEM.
    pub key_pem: String,
    pub cert_pem: String,
}

/// Ruby's `Time#iso8601` on a UTC time: whole seconds, `Z`.
pub(crate) fn ts(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// The parts of one response, for tests that look inside.
pub(crate) struct Built {
    pub assertion_unsigned: String,
    pub digest: String,
    pub signed_info: String,
    pub signature_value: String,
    pub xml: String,
    /// `Base64.encode64(xml)`: what the hidden form field holds.
    pub encode64: String,
}

impl Built {
    /// The `SAMLResponse` value as a browser posts it: the field's LF line breaks become CRLF.
    pub(crate) fn as_posted(&self) -> String {
        self.encode64.replace('\n', "\r\n")
    }
}

pub(crate) fn build(i: &PlatformInputs) -> Built {
    // saml_controller.rb L226: the Issuer is the IdP request URL with everything from the first
    // `&` removed, so it keeps `?SAMLRequest=…`.
    let issuer = match i.idp_request_url.find('&') {
        Some(n) => &i.idp_request_url[..n],
        None => &i.idp_request_url,
    };
    // L246: `saml_acs_url[/^(.*?\/\/.*?\/)/, 1]`: scheme, host and port, and the "/" after them.
    let audience = i
        .acs_url
        .find("//")
        .and_then(|a| {
            i.acs_url[a + 2..]
                .find('/')
                .map(|b| &i.acs_url[..a + 2 + b + 1])
        })
        .unwrap_or("");
    let reference = format!("_{}", i.assertion_uuid);
    let now = ts(i.now);
    let scd = ts(i.now + time::Duration::minutes(3));
    let not_before = ts(i.now - time::Duration::seconds(5));
    let not_after = ts(i.now + time::Duration::hours(1));
    let cert_body = i
        .cert_pem
        .replace("-----BEGIN CERTIFICATE-----", "")
        .replace("-----END CERTIFICATE-----", "")
        .trim()
        .to_owned();
    let attrs: String = i
        .attributes
        .iter()
        .map(|(n, v)| {
            format!("<Attribute Name=\"{n}\"><AttributeValue>{v}</AttributeValue></Attribute>")
        })
        .collect();
    let head = format!(
        "<Assertion xmlns=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"{reference}\" IssueInstant=\"{now}\" Version=\"2.0\"><Issuer>{issuer}</Issuer>"
    );
    let tail = format!(
        "<Subject><NameID Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:persistent\">{name_id}</NameID>\
<SubjectConfirmation Method=\"urn:oasis:names:tc:SAML:2.0:cm:bearer\">\
<SubjectConfirmationData InResponseTo=\"{rid}\" NotOnOrAfter=\"{scd}\" Recipient=\"{acs}\"></SubjectConfirmationData></SubjectConfirmation></Subject>\
<Conditions NotBefore=\"{not_before}\" NotOnOrAfter=\"{not_after}\"><AudienceRestriction><Audience>{audience}</Audience></AudienceRestriction></Conditions>\
<AttributeStatement><Attribute Name=\"mno_uid\"><AttributeValue>{name_id}</AttributeValue></Attribute>{attrs}</AttributeStatement>\
<AuthnStatement AuthnInstant=\"{now}\" SessionIndex=\"{reference}\"><AuthnContext>\
<AuthnContextClassRef>urn:federation:authentication:windows</AuthnContextClassRef>\
</AuthnContext></AuthnStatement></Assertion>",
        name_id = i.name_id,
        rid = i.request_id,
        acs = i.acs_url,
    );
    let assertion_unsigned = format!("{head}{tail}");
    let digest = STANDARD.encode(Sha1::digest(assertion_unsigned.as_bytes()));
    let signed_info = format!(
        "<ds:SignedInfo xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\">\
<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"></ds:CanonicalizationMethod>\
<ds:SignatureMethod Algorithm=\"http://www.w3.org/2000/09/xmldsig#rsa-sha1\"></ds:SignatureMethod>\
<ds:Reference URI=\"#{reference}\"><ds:Transforms>\
<ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"></ds:Transform>\
<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"></ds:Transform></ds:Transforms>\
<ds:DigestMethod Algorithm=\"http://www.w3.org/2000/09/xmldsig#sha1\"></ds:DigestMethod>\
<ds:DigestValue>{digest}</ds:DigestValue></ds:Reference></ds:SignedInfo>"
    );
    let key = PrivateKey::from_pkcs1_pem(&i.key_pem).expect("a PKCS#1 RSA key");
    let signature = key
        .sign(
            Pkcs1v15Sign::new::<Sha1>(),
            &Sha1::digest(signed_info.as_bytes()),
        )
        .expect("RSA-SHA1 signature");
    let signature_value = STANDARD.encode(signature);
    let signature_xml = format!(
        "<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\">{signed_info}\
<ds:SignatureValue>{signature_value}</ds:SignatureValue>\
<KeyInfo xmlns=\"http://www.w3.org/2000/09/xmldsig#\"><ds:X509Data><ds:X509Certificate>{cert_body}</ds:X509Certificate></ds:X509Data></KeyInfo></ds:Signature>"
    );
    let xml = format!(
        "<samlp:Response ID=\"_{ruuid}\" Version=\"2.0\" IssueInstant=\"{now}\" Destination=\"{acs}\" \
Consent=\"urn:oasis:names:tc:SAML:2.0:consent:unspecified\" InResponseTo=\"{rid}\" \
xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\">\
<Issuer xmlns=\"urn:oasis:names:tc:SAML:2.0:assertion\">{issuer}</Issuer>\
<samlp:Status><samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\" /></samlp:Status>\
{head}{signature_xml}{tail}</samlp:Response>",
        ruuid = i.response_uuid,
        acs = i.acs_url,
        rid = i.request_id,
    );
    // Ruby `Base64.encode64`: 60 characters a line, every line (the last too) ending in "\n".
    let flat = STANDARD.encode(xml.as_bytes());
    let mut encode64 = String::with_capacity(flat.len() + flat.len() / 60 + 1);
    for chunk in flat.as_bytes().chunks(60) {
        encode64.push_str(std::str::from_utf8(chunk).unwrap());
        encode64.push('\n');
    }
    Built {
        assertion_unsigned,
        digest,
        signed_info,
        signature_value,
        xml,
        encode64,
    }
}

/// The sandbox's attribute list (saml_controller.rb L168-215) for a user and group; `reseller`
/// adds the three rows a reseller SSO sends (L192-196).
pub(crate) fn sandbox_attributes(
    session: &str,
    recheck: OffsetDateTime,
    uid: &str,
    group: &str,
    role: Option<&str>,
    reseller: bool,
) -> Vec<(String, String)> {
    let mut a: Vec<(&str, String)> = vec![
        ("mno_session", session.to_owned()),
        ("mno_session_recheck", ts(recheck)),
        ("group_uid", group.to_owned()),
        ("group_name", "TestGroup".to_owned()),
        ("group_end_free_trial", "2016-07-28T08:00:00Z".to_owned()),
        // `role || 'Guest'` (L209), at the position the hash was built in (L182).
        ("group_role", role.unwrap_or("Guest").to_owned()),
        ("group_has_credit_card", "false".to_owned()),
        ("group_email", format!("{group}@example.com")),
        ("group_currency", "USD".to_owned()),
        ("group_timezone", "America/Los_Angeles".to_owned()),
        ("group_country", "US".to_owned()),
        ("group_city", "Los Angeles".to_owned()),
        ("group_reseller_id", "rsl-449s8fsd".to_owned()),
    ];
    if reseller {
        a.push(("reseller_id", "rsl-449s8fsd".to_owned()));
        a.push(("reseller_name", "Blue Consulting".to_owned()));
        a.push(("reseller_country", "AU".to_owned()));
    }
    a.extend([
        ("uid", uid.to_owned()),
        ("virtual_uid", format!("{uid}.{group}")),
        ("email", "jsmith@example.com".to_owned()),
        (
            "virtual_email",
            format!("{uid}.{group}@mno-api-sandbox-mail.maestrano.com"),
        ),
        ("name", "John".to_owned()),
        ("surname", "Smith".to_owned()),
        ("country", "AU".to_owned()),
        ("company_name", "Maestrano".to_owned()),
        ("app_owner", "true".to_owned()),
        ("organizations", "{}".to_owned()),
    ]);
    a.into_iter().map(|(n, v)| (n.to_owned(), v)).collect()
}
