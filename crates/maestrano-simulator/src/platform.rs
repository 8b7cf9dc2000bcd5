//! The IdP's SAML Response as the Maestrano platform sends it, byte for byte: the string
//! templates of `maestrano/mno-api-sandbox` at cd52c0b (`app/controllers/api/v1/auth/
//! saml_controller.rb`: `idp_build_user_assertions` L168-215 for the attributes,
//! `encode_SAMLResponse` L243-272 for the document) on ruby-saml-idp 0.3.2, whose
//! `algorithm` defaults to `:sha1` and is never overridden.
//!
//! What makes it differ from modern SAML, on purpose: the digest is SHA-1 over the template's
//! own bytes (the template is already in exclusive canonical form) and the signature RSA-SHA1
//! over the SignedInfo string; only the Assertion is signed; nothing is XML-escaped; both
//! Issuers are the IdP request URL cut at the first `&` (so they hold `?SAMLRequest=…`); the
//! Audience is the ACS URL's origin followed by "/"; the KeyInfo certificate keeps the PEM's
//! line breaks; the document is sent as Ruby's `Base64.encode64` (60-column lines, each ending
//! in "\n").

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rsa::Pkcs1v15Sign;
use sha1::{Digest as _, Sha1};
use time::OffsetDateTime;

/// Everything one platform Response says.
pub(crate) struct PlatformResponse<'a> {
    /// The AuthnRequest's ID and AssertionConsumerServiceURL, as the IdP's regexes read them.
    pub(crate) request_id: &'a str,
    pub(crate) acs_url: &'a str,
    /// The URL the browser requested at the IdP, query included.
    pub(crate) idp_request_url: &'a str,
    pub(crate) now: OffsetDateTime,
    /// Two UUIDs (36 characters, without the leading `_`).
    pub(crate) response_uuid: &'a str,
    pub(crate) assertion_uuid: &'a str,
    /// The user uid: NameID and `mno_uid`.
    pub(crate) uid: &'a str,
    /// The attributes after `mno_uid`, in order.
    pub(crate) attributes: &'a [(&'static str, String)],
}

/// Ruby's `Time#iso8601` of a UTC time: whole seconds, `Z`.
pub(crate) fn iso8601(t: OffsetDateTime) -> String {
    maestrano::__private::format_utc(t)
}

impl PlatformResponse<'_> {
    /// The document, signed with `key`, whose certificate is `certificate_pem`.
    pub(crate) fn to_xml(
        &self,
        key: &rsa::PrivateKey,
        certificate_pem: &str,
    ) -> Result<String, rsa::Error> {
        let issuer = self
            .idp_request_url
            .split_once('&')
            .map_or(self.idp_request_url, |(head, _)| head);
        // `saml_acs_url[/^(.*?\/\/.*?\/)/, 1]` (L246); `nil` interpolates as "".
        let audience = self
            .acs_url
            .find("//")
            .and_then(|a| {
                self.acs_url[a + 2..]
                    .find('/')
                    .map(|b| &self.acs_url[..a + 2 + b + 1])
            })
            .unwrap_or("");
        let reference = format!("_{}", self.assertion_uuid);
        let now = iso8601(self.now);
        let scd = iso8601(self.now + time::Duration::minutes(3));
        let not_before = iso8601(self.now - time::Duration::seconds(5));
        let not_after = iso8601(self.now + time::Duration::hours(1));
        let cert_body = certificate_pem
            .replace("-----BEGIN CERTIFICATE-----", "")
            .replace("-----END CERTIFICATE-----", "")
            .trim()
            .to_owned();
        let mut attributes = String::new();
        for (name, value) in self.attributes {
            attributes.push_str(&format!(
                "<Attribute Name=\"{name}\"><AttributeValue>{value}</AttributeValue></Attribute>"
            ));
        }
        let uid = self.uid;
        let rid = self.request_id;
        let acs = self.acs_url;
        let head = format!(
            "<Assertion xmlns=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"{reference}\" \
             IssueInstant=\"{now}\" Version=\"2.0\"><Issuer>{issuer}</Issuer>"
        );
        let tail = format!(
            "<Subject><NameID Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:persistent\">{uid}</NameID>\
             <SubjectConfirmation Method=\"urn:oasis:names:tc:SAML:2.0:cm:bearer\">\
             <SubjectConfirmationData InResponseTo=\"{rid}\" NotOnOrAfter=\"{scd}\" Recipient=\"{acs}\">\
             </SubjectConfirmationData></SubjectConfirmation></Subject>\
             <Conditions NotBefore=\"{not_before}\" NotOnOrAfter=\"{not_after}\"><AudienceRestriction>\
             <Audience>{audience}</Audience></AudienceRestriction></Conditions>\
             <AttributeStatement><Attribute Name=\"mno_uid\"><AttributeValue>{uid}</AttributeValue>\
             </Attribute>{attributes}</AttributeStatement>\
             <AuthnStatement AuthnInstant=\"{now}\" SessionIndex=\"{reference}\"><AuthnContext>\
             <AuthnContextClassRef>urn:federation:authentication:windows</AuthnContextClassRef>\
             </AuthnContext></AuthnStatement></Assertion>"
        );
        // L259: the digest of the unsigned assertion's bytes, no canonicalization.
        let digest = STANDARD.encode(Sha1::digest(format!("{head}{tail}").as_bytes()));
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
        // L263 and the gem's controller.rb L86-89: RSA-SHA1 over the SignedInfo string.
        let signature = STANDARD.encode(key.sign(
            Pkcs1v15Sign::new::<Sha1>(),
            &Sha1::digest(signed_info.as_bytes()),
        )?);
        let ruuid = self.response_uuid;
        Ok(format!(
            "<samlp:Response ID=\"_{ruuid}\" Version=\"2.0\" IssueInstant=\"{now}\" Destination=\"{acs}\" \
             Consent=\"urn:oasis:names:tc:SAML:2.0:consent:unspecified\" InResponseTo=\"{rid}\" \
             xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\">\
             <Issuer xmlns=\"urn:oasis:names:tc:SAML:2.0:assertion\">{issuer}</Issuer>\
             <samlp:Status><samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\" />\
             </samlp:Status>{head}<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\">{signed_info}\
             <ds:SignatureValue>{signature}</ds:SignatureValue>\
             <KeyInfo xmlns=\"http://www.w3.org/2000/09/xmldsig#\"><ds:X509Data><ds:X509Certificate>{cert_body}\
             </ds:X509Certificate></ds:X509Data></KeyInfo></ds:Signature>{tail}</samlp:Response>"
        ))
    }
}

/// Ruby's `Base64.encode64`: 60 characters a line, every line (the last too) ending in "\n".
pub(crate) fn encode64(bytes: &[u8]) -> String {
    let flat = STANDARD.encode(bytes);
    let mut out = String::with_capacity(flat.len() + flat.len() / 60 + 1);
    for line in flat.as_bytes().chunks(60) {
        // Base64 output is ASCII.
        out.extend(line.iter().map(|&b| char::from(b)));
        out.push('\n');
    }
    out
}

/// A UUID in the `uuid` gem's default format (36 characters, lower-case hex and dashes) from
/// 16 random bytes.
pub(crate) fn uuid(bytes: [u8; 16]) -> String {
    let h: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode64_wraps_at_60_and_ends_every_line() {
        let out = encode64(&[0u8; 100]);
        let lines: Vec<&str> = out.split_terminator('\n').collect();
        assert_eq!(
            lines.iter().map(|l| l.len()).collect::<Vec<_>>(),
            [60, 60, 16]
        );
        assert!(out.ends_with('\n'));
    }

    #[test]
    fn uuids_have_the_gem_shape() {
        assert_eq!(uuid([0xab; 16]), "abababab-abab-abab-abab-abababababab");
    }
}

#[cfg(test)]
mod reference {
    use rsa::pkcs1::DecodeRsaPrivateKey as _;
    use sha2::{Digest as _, Sha256};

    use super::*;

    const KEY: &str =
        include_str!("../tests/data/maestrano/mno-api-sandbox/idp-certs/rsaprivkey.pem");
    const CERT: &str =
        include_str!("../tests/data/maestrano/mno-api-sandbox/idp-certs/rsacert.pem");

    /// The simulator's template is the platform's: for the sandbox's own spec fixtures
    /// (`spec/controllers/api/v1/auth/saml_controller_spec.rb` L11-14) it produces the bytes the
    /// real Ruby code produced, identified by their SHA-256.
    #[test]
    fn the_template_reproduces_the_platform_bytes() {
        let attributes: Vec<(&'static str, String)> = [
            ("mno_session", "9n04q5vmirj8ae3ptflbyc7d6x1kwszguho2"),
            ("mno_session_recheck", "2016-06-28T08:03:00Z"),
            ("group_uid", "cld-1"),
            ("group_name", "TestGroup"),
            ("group_end_free_trial", "2016-07-28T08:00:00Z"),
            ("group_role", "Member"),
            ("group_has_credit_card", "false"),
            ("group_email", "cld-1@example.com"),
            ("group_currency", "USD"),
            ("group_timezone", "America/Los_Angeles"),
            ("group_country", "US"),
            ("group_city", "Los Angeles"),
            ("group_reseller_id", "rsl-449s8fsd"),
            ("uid", "usr-1"),
            ("virtual_uid", "usr-1.cld-1"),
            ("email", "jsmith@example.com"),
            (
                "virtual_email",
                "usr-1.cld-1@mno-api-sandbox-mail.maestrano.com",
            ),
            ("name", "John"),
            ("surname", "Smith"),
            ("country", "AU"),
            ("company_name", "Maestrano"),
            ("app_owner", "true"),
            ("organizations", "{}"),
        ]
        .into_iter()
        .map(|(n, v)| (n, v.to_owned()))
        .collect();
        let response = PlatformResponse {
            request_id: "_5f8e3a10-1f2b-0134-9d3c-0242ac110002",
            acs_url: "https://app.example.com/maestrano/auth/saml/consume",
            idp_request_url: "http://localhost:3001/api/v1/auth/saml?SAMLRequest=nZJNTwIxGIT%2Fyt56Km13AaFhN9lATEjQGFAPXsxrKWGTfqx9u4j%2F3u4SI148%0AeG1nnulMukCwppV1F49uq987jTGrEXWIjXdL77CzOux0ODVKP203JTnG2KJk%0ADNp2pM9gW6NHyltmIVkDOM8gsViPZeriJ9kq3TUOeuaFkADGKzBHj1EWnIvE%0Aa9hJ%2FJhJtl6V5HVymOkCBKfikL9RLooxne8LRXk%2BzkEJwTnPkxSx02uHEVws%0ASc7FlPIpzWeP%2FEZO5nIyeyHZsw445OcjTrKzNQ7lUL4kXXDSAzYoHViNMiq5%0Aq%2B82MillG3z0yhtSLXq1HKLClf9vO3xvSaq0GBULdkW5IFt5n2zr1YM3jfrM%0AamP8xzJoiLokMXRpvlsfLMS%2Fg%2FqTZk8Pg1S2fVmM2sX%2FVGXV5Zm%2F%2F0X1BQ%3D%3D%0A&user_uid=usr-1",
            now: OffsetDateTime::from_unix_timestamp(1_467_100_800).unwrap(),
            response_uuid: "a1b2c3d4-3f1e-0134-5a6b-0242ac110002",
            assertion_uuid: "a1b2c3d5-3f1e-0134-5a6b-0242ac110002",
            uid: "usr-1",
            attributes: &attributes,
        };
        let key = rsa::PrivateKey::from_pkcs1_pem(KEY).unwrap();
        let xml = response.to_xml(&key, CERT).unwrap();
        let hex = |b: &[u8]| -> String {
            Sha256::digest(b)
                .iter()
                .map(|x| format!("{x:02x}"))
                .collect()
        };
        assert_eq!(
            hex(xml.as_bytes()),
            "8215041b47e7e5c5c91ee2fc25dc39d405a521bccd5859ccce337e63f709ad6d"
        );
        assert_eq!(
            hex(encode64(xml.as_bytes()).as_bytes()),
            "619bf3f21e0ec797fcd727198de2eae545c6279dfe28cfb3a1dc4dfb8d28757a"
        );
    }
}
