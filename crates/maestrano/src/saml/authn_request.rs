//! AuthnRequests: building them, sending them with the HTTP-Redirect binding (optionally
//! signed), and decoding them again (for the simulator and for debugging).

use std::fmt::Write as _;
use std::io::Write as _;

use base64::Engine as _;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use time::OffsetDateTime;
use url::Url;

use super::cert::Certificate;
use super::crypto::{CryptoBackend, DigestAlg};
use super::decode;
use super::error::SamlError;
use super::response::{ASSERTION_NS, PROTOCOL_NS};
use super::sign::SigningKey;
use super::xml::escape as esc;
use super::xml::{Document, XmlLimits};
use crate::ports::{RandomError, RandomSource};
use crate::timestamp::format_utc;

/// The persistent NameID format, the default of Maestrano logins.
pub(crate) const NAMEID_PERSISTENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";
/// The HTTP-POST binding, by which the IdP answers.
pub(crate) const BINDING_HTTP_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
/// RSA-SHA256, the algorithm of signed redirects.
pub(crate) const SIG_ALG_RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";

/// Everything but unreserved characters is percent-encoded, so the signed query string is the
/// one on the wire, byte for byte.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// How requested authentication contexts compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AuthnContextComparison {
    /// Exactly one of the listed classes.
    #[default]
    Exact,
    /// At least as strong as one of them.
    Minimum,
    /// At most as strong as one of them.
    Maximum,
    /// Stronger than all of them.
    Better,
}

impl AuthnContextComparison {
    fn as_str(self) -> &'static str {
        match self {
            Self::Exact => "exact",
            Self::Minimum => "minimum",
            Self::Maximum => "maximum",
            Self::Better => "better",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "exact" => Self::Exact,
            "minimum" => Self::Minimum,
            "maximum" => Self::Maximum,
            "better" => Self::Better,
            _ => return None,
        })
    }
}

/// A `RequestedAuthnContext`: the authentication classes the SP asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RequestedAuthnContext {
    /// How the IdP compares its authentication to the listed classes.
    pub comparison: AuthnContextComparison,
    /// AuthnContextClassRef URIs, at least one.
    pub class_refs: Vec<String>,
}

impl RequestedAuthnContext {
    /// Asks for `class_refs` with the given comparison.
    pub fn new(comparison: AuthnContextComparison, class_refs: Vec<String>) -> Self {
        Self {
            comparison,
            class_refs,
        }
    }
}

/// A SAML 2.0 AuthnRequest.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuthnRequest {
    /// The request ID: `_` followed by 128 random bits in hex. Keep it: the response must
    /// answer it.
    pub id: String,
    /// When the request was issued (UTC).
    pub issue_instant: OffsetDateTime,
    /// The IdP's SSO URL.
    pub destination: String,
    /// Where the IdP must POST the response.
    pub acs_url: String,
    /// The SP's entity id (for Maestrano: the app's `api.id`).
    pub issuer: String,
    /// The binding of the response; HTTP-POST.
    pub protocol_binding: String,
    /// The NameID format requested, `None` to leave it to the IdP.
    pub name_id_format: Option<String>,
    /// Whether the IdP may create an identifier for the user.
    pub allow_create: bool,
    /// The authentication classes requested, if any.
    pub requested_authn_context: Option<RequestedAuthnContext>,
}

/// A login redirect: the URL to send the browser to, and the request ID to keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginRedirect {
    /// The IdP URL carrying the deflated, encoded request (and its signature when signed).
    pub url: Url,
    /// The ID of the request: hand it to validation as the expected InResponseTo.
    pub request_id: String,
}

/// A request ID: `_` followed by 128 random bits from `random`, in lower-case hex.
pub fn new_request_id(random: &dyn RandomSource) -> Result<String, RandomError> {
    let mut bytes = [0u8; 16];
    random.fill(&mut bytes)?;
    let mut id = String::with_capacity(33);
    id.push('_');
    for b in bytes {
        let _ = write!(id, "{b:02x}");
    }
    Ok(id)
}

/// The parameters of the HTTP-Redirect binding itself.
const BINDING_PARAMETERS: [&str; 4] = ["SAMLRequest", "RelayState", "SigAlg", "Signature"];

/// Refuses plain parameters (the IdP URL's own query, and `extra`) that would make the
/// redirect ambiguous: a second `SAMLRequest`, `RelayState`, `SigAlg` or `Signature` (the
/// IdP would see two, or a lone `Signature` outside the signed string), or a value that does
/// not decode to UTF-8 (which [`ReceivedRedirect::from_query`] refuses).
fn check_plain_parameters(query: &str, extra: &[(&str, &str)]) -> Result<(), SamlError> {
    let refuse = |found: String| SamlError::Structure {
        expected: "plain query parameters other than the SAML binding's, in UTF-8",
        found,
    };
    for part in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        let (Ok(key), Ok(_)) = (
            percent_decode_str(k).decode_utf8(),
            percent_decode_str(v).decode_utf8(),
        ) else {
            return Err(refuse(format!("{part:?} in the IdP URL")));
        };
        if BINDING_PARAMETERS.contains(&&*key) {
            return Err(refuse(format!("{key} in the IdP URL")));
        }
    }
    if let Some((k, _)) = extra.iter().find(|(k, _)| BINDING_PARAMETERS.contains(k)) {
        return Err(refuse(format!("{k} as an extra parameter")));
    }
    Ok(())
}

impl AuthnRequest {
    /// A request with the persistent NameID format, AllowCreate, the HTTP-POST binding and no
    /// requested authentication context.
    pub fn new(
        id: impl Into<String>,
        issue_instant: OffsetDateTime,
        destination: impl Into<String>,
        acs_url: impl Into<String>,
        issuer: impl Into<String>,
    ) -> Self {
        Self {
            id: id.into(),
            issue_instant,
            destination: destination.into(),
            acs_url: acs_url.into(),
            issuer: issuer.into(),
            protocol_binding: BINDING_HTTP_POST.to_owned(),
            name_id_format: Some(NAMEID_PERSISTENT.to_owned()),
            allow_create: true,
            requested_authn_context: None,
        }
    }

    /// The XML of the request. The Issuer keeps the `saml:` prefix: the marketplace IdP finds
    /// the issuer by that literal tag.
    pub fn to_xml(&self) -> String {
        let mut x = format!(
            "<samlp:AuthnRequest xmlns:samlp=\"{PROTOCOL_NS}\" xmlns:saml=\"{ASSERTION_NS}\" \
             ID=\"{}\" Version=\"2.0\" IssueInstant=\"{}\" Destination=\"{}\" \
             AssertionConsumerServiceURL=\"{}\" ProtocolBinding=\"{}\">\
             <saml:Issuer>{}</saml:Issuer>",
            esc(&self.id),
            format_utc(self.issue_instant),
            esc(&self.destination),
            esc(&self.acs_url),
            esc(&self.protocol_binding),
            esc(&self.issuer),
        );
        let allow_create = if self.allow_create { "true" } else { "false" };
        match &self.name_id_format {
            Some(f) => {
                let _ = write!(
                    x,
                    "<samlp:NameIDPolicy Format=\"{}\" AllowCreate=\"{allow_create}\"/>",
                    esc(f)
                );
            }
            None => {
                let _ = write!(x, "<samlp:NameIDPolicy AllowCreate=\"{allow_create}\"/>");
            }
        }
        if let Some(ctx) = &self.requested_authn_context {
            let _ = write!(
                x,
                "<samlp:RequestedAuthnContext Comparison=\"{}\">",
                ctx.comparison.as_str()
            );
            for c in &ctx.class_refs {
                let _ = write!(
                    x,
                    "<saml:AuthnContextClassRef>{}</saml:AuthnContextClassRef>",
                    esc(c)
                );
            }
            x.push_str("</samlp:RequestedAuthnContext>");
        }
        x.push_str("</samlp:AuthnRequest>");
        x
    }

    /// The HTTP-Redirect binding: the request raw-DEFLATEd, base64 on one line and
    /// percent-encoded as `SAMLRequest` on the destination URL, then `RelayState` if any. With
    /// a signing key, `SigAlg` (RSA-SHA256) and `Signature` over that exact query string.
    /// `extra` parameters (such as `group_id`, which picks the company when the user belongs
    /// to several) follow as plain parameters, outside the signature. A parameter of the
    /// binding itself in `extra` or in the IdP URL's own query is refused, as is a query value
    /// there that is not UTF-8.
    pub fn redirect_url(
        &self,
        relay_state: Option<&str>,
        extra: &[(&str, &str)],
        signing_key: Option<&SigningKey>,
    ) -> Result<Url, SamlError> {
        let mut deflater =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        deflater
            .write_all(self.to_xml().as_bytes())
            .map_err(|e| SamlError::Decode(format!("deflate failed: {e}")))?;
        let deflated = deflater
            .finish()
            .map_err(|e| SamlError::Decode(format!("deflate failed: {e}")))?;
        let encoded = base64::engine::general_purpose::STANDARD.encode(deflated);
        let mut signed = format!("SAMLRequest={}", utf8_percent_encode(&encoded, QUERY_VALUE));
        if let Some(rs) = relay_state {
            let _ = write!(
                signed,
                "&RelayState={}",
                utf8_percent_encode(rs, QUERY_VALUE)
            );
        }
        if let Some(key) = signing_key {
            let _ = write!(
                signed,
                "&SigAlg={}",
                utf8_percent_encode(SIG_ALG_RSA_SHA256, QUERY_VALUE)
            );
            let signature = base64::engine::general_purpose::STANDARD
                .encode(key.sign_sha256(signed.as_bytes())?);
            let _ = write!(
                signed,
                "&Signature={}",
                utf8_percent_encode(&signature, QUERY_VALUE)
            );
        }
        for (k, v) in extra {
            let _ = write!(
                signed,
                "&{}={}",
                utf8_percent_encode(k, QUERY_VALUE),
                utf8_percent_encode(v, QUERY_VALUE)
            );
        }
        let mut url = Url::parse(&self.destination).map_err(|e| SamlError::Structure {
            expected: "an absolute IdP SSO URL",
            found: format!("{:?}: {e}", self.destination),
        })?;
        check_plain_parameters(url.query().unwrap_or(""), extra)?;
        let query = match url.query() {
            Some(q) if !q.is_empty() => format!("{q}&{signed}"),
            _ => signed,
        };
        url.set_query(Some(&query));
        Ok(url)
    }

    /// Reads an AuthnRequest from its XML, with the same hardened parser as responses.
    pub fn from_xml(xml: &str) -> Result<Self, SamlError> {
        let doc = Document::parse(xml.to_owned(), &XmlLimits::default())?;
        let root = doc.root();
        if !doc.is(root, PROTOCOL_NS, "AuthnRequest") {
            return Err(SamlError::Structure {
                expected: "a samlp:AuthnRequest",
                found: doc.qname(root),
            });
        }
        let version = doc.attr(root, "Version").unwrap_or("");
        if version != "2.0" {
            return Err(SamlError::UnsupportedVersion {
                found: version.to_owned(),
            });
        }
        let required = |name: &'static str| {
            doc.attr(root, name)
                .map(str::to_owned)
                .ok_or(SamlError::Structure {
                    expected: "an AuthnRequest attribute",
                    found: format!("no {name}"),
                })
        };
        let id = required("ID")?;
        let instant = required("IssueInstant")?;
        let issue_instant = crate::timestamp::parse_lenient(&instant)
            .ok()
            .flatten()
            .ok_or(SamlError::InvalidTime {
                attribute: "IssueInstant",
                found: instant,
            })?;
        let issuer = doc
            .children_named(root, ASSERTION_NS, "Issuer")
            .next()
            .map(|i| doc.text_content(i).trim().to_owned())
            .ok_or(SamlError::IssuerMissing {
                element: "AuthnRequest",
            })?;
        let policy = doc.children_named(root, PROTOCOL_NS, "NameIDPolicy").next();
        let requested_authn_context = match doc
            .children_named(root, PROTOCOL_NS, "RequestedAuthnContext")
            .next()
        {
            Some(r) => {
                let comparison = match doc.attr(r, "Comparison") {
                    None => AuthnContextComparison::Exact,
                    Some(c) => {
                        AuthnContextComparison::parse(c).ok_or_else(|| SamlError::Structure {
                            expected: "Comparison exact, minimum, maximum or better",
                            found: c.to_owned(),
                        })?
                    }
                };
                Some(RequestedAuthnContext {
                    comparison,
                    class_refs: doc
                        .children_named(r, ASSERTION_NS, "AuthnContextClassRef")
                        .map(|c| doc.text_content(c).trim().to_owned())
                        .collect(),
                })
            }
            None => None,
        };
        Ok(Self {
            id,
            issue_instant,
            destination: doc.attr(root, "Destination").unwrap_or("").to_owned(),
            acs_url: doc
                .attr(root, "AssertionConsumerServiceURL")
                .unwrap_or("")
                .to_owned(),
            issuer,
            protocol_binding: doc.attr(root, "ProtocolBinding").unwrap_or("").to_owned(),
            name_id_format: policy
                .and_then(|p| doc.attr(p, "Format"))
                .map(str::to_owned),
            allow_create: policy.and_then(|p| doc.attr(p, "AllowCreate")) == Some("true"),
            requested_authn_context,
        })
    }
}

/// An AuthnRequest as received with the HTTP-Redirect binding.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReceivedRedirect {
    /// The decoded request.
    pub request: AuthnRequest,
    /// The RelayState, if any.
    pub relay_state: Option<String>,
    /// Every other query parameter, decoded, in order.
    pub extra: Vec<(String, String)>,
    signature: Option<(String, Vec<u8>, String)>,
}

impl ReceivedRedirect {
    /// Decodes the query string of a redirect (as the IdP receives it). The inflated request
    /// is capped at `max_bytes`.
    pub fn from_query(query: &str, max_bytes: usize) -> Result<Self, SamlError> {
        if query.len() > max_bytes {
            return Err(SamlError::Decode(format!(
                "query exceeds the {max_bytes}-byte limit"
            )));
        }
        let mut saml_request = None;
        let mut relay_state = None;
        let (mut sig_alg, mut signature) = (None, None);
        let mut signed_parts: Vec<&str> = Vec::new();
        let mut extra = Vec::new();
        let decode_value = |v: &str| {
            percent_decode_str(v)
                .decode_utf8()
                .map(|s| s.into_owned())
                .map_err(|_| SamlError::Decode("a query value is not UTF-8".into()))
        };
        for part in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            match k {
                "SAMLRequest" if saml_request.is_none() => {
                    saml_request = Some(decode_value(v)?);
                    signed_parts.push(part);
                }
                "RelayState" if relay_state.is_none() => {
                    relay_state = Some(decode_value(v)?);
                    signed_parts.push(part);
                }
                "SigAlg" if sig_alg.is_none() => {
                    sig_alg = Some(decode_value(v)?);
                    signed_parts.push(part);
                }
                "Signature" if signature.is_none() => signature = Some(decode_value(v)?),
                "SAMLRequest" | "RelayState" | "SigAlg" | "Signature" => {
                    return Err(SamlError::Structure {
                        expected: "each SAML parameter once",
                        found: format!("{k} repeated"),
                    });
                }
                _ => {
                    // A binding parameter whose name arrives percent-encoded would reach the
                    // app as an unsigned second copy of a signed value.
                    let key = decode_value(k)?;
                    if BINDING_PARAMETERS.contains(&key.as_str()) {
                        return Err(SamlError::Structure {
                            expected: "each SAML parameter once, under its literal name",
                            found: format!("{key} with a percent-encoded name"),
                        });
                    }
                    extra.push((key, decode_value(v)?));
                }
            }
        }
        let saml_request = saml_request.ok_or(SamlError::Structure {
            expected: "a SAMLRequest parameter",
            found: "none".into(),
        })?;
        let xml = decode::decode_redirect_message(saml_request.as_bytes(), max_bytes)?;
        let request = AuthnRequest::from_xml(&xml)?;
        let signature = match (sig_alg, signature) {
            (Some(alg), Some(sig)) => {
                let bytes = decode::decode_base64(sig.as_bytes())?;
                Some((alg, bytes, signed_parts.join("&")))
            }
            (None, None) => None,
            _ => {
                return Err(SamlError::SignatureMalformed {
                    expected: "SigAlg and Signature together",
                    found: "only one of them".into(),
                });
            }
        };
        Ok(Self {
            request,
            relay_state,
            extra,
            signature,
        })
    }

    /// Whether the redirect carries a signature.
    pub fn is_signed(&self) -> bool {
        self.signature.is_some()
    }

    /// Verifies the redirect signature with the SP's certificate (RSA-SHA256 only).
    pub fn verify_signature(&self, certificate: &Certificate) -> Result<(), SamlError> {
        let Some((alg, sig, signed)) = &self.signature else {
            return Err(SamlError::MissingSignature);
        };
        if alg != SIG_ALG_RSA_SHA256 {
            return Err(SamlError::AlgorithmNotAllowed {
                algorithm: alg.clone(),
            });
        }
        let provider = CryptoBackend::RustCrypto.provider();
        if provider.verify_rsa_pkcs1(DigestAlg::Sha256, certificate, signed.as_bytes(), sig) {
            Ok(())
        } else {
            Err(SamlError::SignatureInvalid)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::SequenceRandom;
    use time::macros::datetime;

    fn request() -> AuthnRequest {
        let mut r = AuthnRequest::new(
            "_0123456789abcdef0123456789abcdef",
            datetime!(2024-05-01 10:00:00.25 +02:00),
            "https://idp.example.test/api/v1/auth/saml",
            "https://app.example.test/maestrano/consume?marketplace=acme-corp",
            "app-1a2b",
        );
        r.requested_authn_context = Some(RequestedAuthnContext::new(
            AuthnContextComparison::Minimum,
            vec!["urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport".into()],
        ));
        r
    }

    #[test]
    fn request_ids_have_128_random_bits() {
        let r = SequenceRandom::default();
        let a = new_request_id(&r).unwrap();
        let b = new_request_id(&r).unwrap();
        assert_eq!(a.len(), 33);
        assert!(a.starts_with('_') && a[1..].bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn xml_has_every_field_and_the_saml_issuer_prefix() {
        let x = request().to_xml();
        for needle in [
            "IssueInstant=\"2024-05-01T08:00:00Z\"",
            "<saml:Issuer>app-1a2b</saml:Issuer>",
            "Destination=\"https://idp.example.test/api/v1/auth/saml\"",
            "AssertionConsumerServiceURL=\"https://app.example.test/maestrano/consume?marketplace=acme-corp\"",
            "ProtocolBinding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\"",
            "<samlp:NameIDPolicy Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:persistent\" AllowCreate=\"true\"/>",
            "<samlp:RequestedAuthnContext Comparison=\"minimum\"><saml:AuthnContextClassRef>",
        ] {
            assert!(x.contains(needle), "{needle} in {x}");
        }
    }

    #[test]
    fn redirect_round_trips_with_relay_state_and_extra_parameters() {
        let r = request();
        let url = r
            .redirect_url(Some("/after login?x=1"), &[("group_id", "cld-9")], None)
            .unwrap();
        assert!(
            url.as_str()
                .starts_with("https://idp.example.test/api/v1/auth/saml?SAMLRequest=")
        );
        assert!(url.as_str().ends_with("&group_id=cld-9"));
        let got = ReceivedRedirect::from_query(url.query().unwrap(), 64 * 1024).unwrap();
        assert_eq!(
            got.request,
            AuthnRequest {
                issue_instant: datetime!(2024-05-01 08:00:00 UTC),
                ..r
            }
        );
        assert_eq!(got.relay_state.as_deref(), Some("/after login?x=1"));
        assert_eq!(got.extra, vec![("group_id".to_owned(), "cld-9".to_owned())]);
        assert!(!got.is_signed());
    }

    #[test]
    fn signed_redirects_verify_and_tampering_breaks_them() {
        let key =
            SigningKey::from_pem(include_str!("../../tests/fixtures/keys/idp-2048.key")).unwrap();
        let cert =
            Certificate::from_pem(include_str!("../../tests/fixtures/keys/idp-2048.crt")).unwrap();
        let other =
            Certificate::from_pem(include_str!("../../tests/fixtures/keys/attacker-2048.crt"))
                .unwrap();
        let url = request()
            .redirect_url(Some("state"), &[("group_id", "cld-9")], Some(&key))
            .unwrap();
        let q = url.query().unwrap();
        assert!(q.contains(
            "&SigAlg=http%3A%2F%2Fwww.w3.org%2F2001%2F04%2Fxmldsig-more%23rsa-sha256&Signature="
        ));
        let got = ReceivedRedirect::from_query(q, 64 * 1024).unwrap();
        got.verify_signature(&cert).unwrap();
        assert_eq!(
            got.verify_signature(&other),
            Err(SamlError::SignatureInvalid)
        );
        let tampered = q.replace("RelayState=state", "RelayState=other");
        let got = ReceivedRedirect::from_query(&tampered, 64 * 1024).unwrap();
        assert_eq!(
            got.verify_signature(&cert),
            Err(SamlError::SignatureInvalid)
        );
        // Extra parameters are outside the signature by design.
        let moved = q.replace("group_id=cld-9", "group_id=cld-1");
        ReceivedRedirect::from_query(&moved, 64 * 1024)
            .unwrap()
            .verify_signature(&cert)
            .unwrap();
        // ... but a binding parameter cannot pose as one by percent-encoding its name: it would
        // be an unsigned second RelayState beside the signed one.
        for smuggled in [
            "Relay%53tate=evil",
            "SAML%52equest=x",
            "Sig%41lg=x",
            "Signatur%65=x",
        ] {
            assert!(
                matches!(
                    ReceivedRedirect::from_query(&format!("{q}&{smuggled}"), 64 * 1024),
                    Err(SamlError::Structure { .. })
                ),
                "{smuggled} was accepted"
            );
        }
    }

    #[test]
    fn hostile_queries_are_refused() {
        assert!(ReceivedRedirect::from_query("RelayState=x", 1024).is_err());
        assert!(ReceivedRedirect::from_query("SAMLRequest=%%%", 1024).is_err());
        assert!(ReceivedRedirect::from_query(&"a".repeat(2000), 1024).is_err());
        let url = request().redirect_url(None, &[], None).unwrap();
        let q = url.query().unwrap();
        assert!(ReceivedRedirect::from_query(&format!("{q}&{q}"), 64 * 1024).is_err());
        assert!(ReceivedRedirect::from_query(&format!("{q}&SigAlg=x"), 64 * 1024).is_err());
        assert!(matches!(
            ReceivedRedirect::from_query(q, 100),
            Err(SamlError::Decode(_))
        ));
    }

    /// The query of a redirect carrying `xml` as its SAMLRequest.
    fn query_for(xml: &str) -> String {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(xml.as_bytes()).unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(e.finish().unwrap());
        format!("SAMLRequest={}", utf8_percent_encode(&b64, QUERY_VALUE))
    }

    #[test]
    fn a_hostile_issue_instant_is_an_error_not_a_panic() {
        for instant in ["a€bbbb", "9999-12-31T23:59:59-23:59"] {
            let xml = request().to_xml().replace("2024-05-01T08:00:00Z", instant);
            assert!(
                matches!(
                    ReceivedRedirect::from_query(&query_for(&xml), 64 * 1024),
                    Err(SamlError::InvalidTime { .. })
                ),
                "{instant}"
            );
        }
    }

    #[test]
    fn binding_parameters_outside_the_binding_are_refused() {
        // A decoded request whose Destination already carried a SAMLRequest re-encoded into a
        // URL with two of them, which the decoder (rightly) refuses.
        for destination in [
            "https://idp.example.test/sso?SAMLRequest=x",
            "https://idp.example.test/sso?a=1&RelayState",
            "https://idp.example.test/sso?Sig%41lg=x",
            "https://idp.example.test/sso?Signature=x",
            "https://idp.example.test/sso?a=%FF",
        ] {
            let mut r = request();
            r.destination = destination.into();
            assert!(
                matches!(
                    r.redirect_url(Some("s"), &[], None),
                    Err(SamlError::Structure { .. })
                ),
                "{destination}"
            );
        }
        assert!(
            request()
                .redirect_url(None, &[("RelayState", "x")], None)
                .is_err()
        );
        // A plain query on the IdP URL stays, and the binding's parameters follow it.
        let mut r = request();
        r.destination = "https://idp.example.test/sso?tenant=a%20b".into();
        let url = r
            .redirect_url(Some("s"), &[("group_id", "g")], None)
            .unwrap();
        let got = ReceivedRedirect::from_query(url.query().unwrap(), 64 * 1024).unwrap();
        assert_eq!(got.request.destination, r.destination);
        assert_eq!(
            got.extra,
            vec![
                ("tenant".to_owned(), "a b".to_owned()),
                ("group_id".to_owned(), "g".to_owned())
            ]
        );
    }
}
