//! The direct requests a relying party sends its provider (§5.1): `associate` (§8), with a
//! Diffie-Hellman session or, over HTTPS only, none; and `check_authentication` (§11.4.2), the
//! stateless check of an assertion whose association this relying party does not hold.

use base64::Engine as _;
use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams};
use crypto_bigint::{BoxedUint, Odd};
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Method};
use sha2::Digest as _;
use time::OffsetDateTime;
use url::Url;
use zeroize::Zeroize as _;

use super::OPENID2_NS;
use super::assoc::{Association, AssociationType};
use super::error::OpenIdError;
use super::message::Fields;
use crate::ports::{HttpRequest, RandomSource};
use crate::types::shown;

/// The default Diffie-Hellman modulus of OpenID 2.0 (§8.1.2, Appendix B), 1024 bits.
const DH_MODULUS: &str = "DCF93A0B883972EC0E19989AC5A2CE310E1D37717E8D9571BB7623731866E61EF75A2E27898B057F9891C2E27A639C3F29B60814581CD3B2CA3986D2683705577D45C2E7E52DC81C7A171876E5CEA74B1448BFDFAF18828EFD2519F14E45E3826634AF1949E5B535CC829A483B8A76223E5D490A257F05BDFF16F2FB22C583AB";
const DH_BITS: u32 = 1024;
const DH_BYTES: usize = 128;

/// How the MAC key travels in an association answer (§8.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionType {
    /// In clear: only over HTTPS (§8.4.1).
    NoEncryption,
    /// Encrypted with a Diffie-Hellman secret hashed with SHA-256 (with HMAC-SHA256).
    DhSha256,
    /// Encrypted with a Diffie-Hellman secret hashed with SHA-1 (with HMAC-SHA1).
    DhSha1,
}

impl SessionType {
    /// The protocol name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoEncryption => "no-encryption",
            Self::DhSha256 => "DH-SHA256",
            Self::DhSha1 => "DH-SHA1",
        }
    }
}

/// An `associate` request to one provider, holding the Diffie-Hellman private value its answer
/// needs (never shown by `Debug`).
pub struct AssociationRequest {
    endpoint: Url,
    kind: AssociationType,
    session: SessionType,
    /// `x` of `g^x mod p`, when the session is Diffie-Hellman.
    private: Option<BoxedUint>,
    /// `btwoc(g^x mod p)`, base64.
    public: Option<String>,
}

impl std::fmt::Debug for AssociationRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AssociationRequest")
            .field("endpoint", &self.endpoint.as_str())
            .field("kind", &self.kind)
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

impl Drop for AssociationRequest {
    fn drop(&mut self) {
        // The private value decrypts the MAC key of the answer: gone with the request.
        if let Some(private) = &mut self.private {
            private.zeroize();
        }
    }
}

/// The group, computed once: the modulus, its Montgomery parameters, and `p - 1` as the
/// big-endian bytes a server value is compared with.
struct Group {
    params: BoxedMontyParams,
    p_minus_1: [u8; DH_BYTES],
}

static GROUP: std::sync::LazyLock<Group> = std::sync::LazyLock::new(|| {
    let p = BoxedUint::from_be_hex(DH_MODULUS, DH_BITS)
        .into_option()
        .and_then(|p| Odd::new(p).into_option())
        .expect("the OpenID default modulus is 256 hex digits and odd");
    let mut p_minus_1 = [0u8; DH_BYTES];
    p_minus_1.copy_from_slice(&p.as_ref().to_be_bytes());
    // p is odd: subtracting 1 borrows nothing.
    p_minus_1[DH_BYTES - 1] -= 1;
    Group {
        params: BoxedMontyParams::new(p),
        p_minus_1,
    }
});

/// Big-endian two's complement, shortest form (§4.2 `btwoc`).
fn btwoc(value: &BoxedUint) -> Vec<u8> {
    let bytes = value.to_be_bytes();
    let first = bytes
        .iter()
        .position(|&b| b != 0)
        .unwrap_or(bytes.len() - 1);
    let mut out = Vec::with_capacity(bytes.len() - first + 1);
    if bytes[first] & 0x80 != 0 {
        out.push(0);
    }
    out.extend_from_slice(&bytes[first..]);
    out
}

impl AssociationRequest {
    /// A request for a `kind` association with the provider at `endpoint`: no-encryption over
    /// HTTPS, a Diffie-Hellman session of the matching hash otherwise (its private value drawn
    /// from `random`).
    ///
    /// # Errors
    ///
    /// [`OpenIdError::Random`] when the random source fails.
    pub fn new(
        endpoint: &Url,
        kind: AssociationType,
        random: &dyn RandomSource,
    ) -> Result<Self, OpenIdError> {
        let session = match (endpoint.scheme(), kind) {
            ("https", _) => SessionType::NoEncryption,
            (_, AssociationType::HmacSha256) => SessionType::DhSha256,
            (_, AssociationType::HmacSha1) => SessionType::DhSha1,
        };
        let (private, public) = if session == SessionType::NoEncryption {
            (None, None)
        } else {
            let mut bytes = [0u8; DH_BYTES];
            random.fill(&mut bytes)?;
            // Below 2^1023 < p, and 0 or 1 only for a broken source (refused below).
            bytes[0] &= 0x7f;
            let x = BoxedUint::from_be_slice_truncated(&bytes, DH_BITS);
            if x.bit_width() < 64 {
                return Err(OpenIdError::Random(crate::ports::RandomError(
                    "the random source returned a near-zero Diffie-Hellman private value".into(),
                )));
            }
            let g = BoxedMontyForm::new(
                BoxedUint::from_be_slice_truncated(&[2], DH_BITS),
                &GROUP.params,
            );
            let public = g.pow(&x).retrieve();
            let public = base64::engine::general_purpose::STANDARD.encode(btwoc(&public));
            (Some(x), Some(public))
        };
        Ok(Self {
            endpoint: endpoint.clone(),
            kind,
            session,
            private,
            public,
        })
    }

    /// The session type asked for.
    pub fn session(&self) -> SessionType {
        self.session
    }

    /// The association type asked for.
    pub fn kind(&self) -> AssociationType {
        self.kind
    }

    /// The POST to send.
    ///
    /// # Errors
    ///
    /// [`OpenIdError::InvalidField`] for an endpoint `http` cannot carry.
    pub fn http_request(&self) -> Result<HttpRequest, OpenIdError> {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("openid.ns", OPENID2_NS)
            .append_pair("openid.mode", "associate")
            .append_pair("openid.assoc_type", self.kind.as_str())
            .append_pair("openid.session_type", self.session.as_str());
        if let Some(public) = &self.public {
            // The default modulus and generator are not sent (§8.1.2).
            form.append_pair("openid.dh_consumer_public", public);
        }
        post(&self.endpoint, form.finish().into_bytes())
    }

    /// Reads the provider's answer (its key-value fields) at `now`.
    ///
    /// # Errors
    ///
    /// [`OpenIdError::AssociationRefused`] when the provider refuses the types asked (with the
    /// association type it suggests), else what
    /// [`Association::from_plaintext_answer`] refuses, or a Diffie-Hellman value out of range.
    pub fn read_answer(
        &self,
        answer: &Fields,
        now: OffsetDateTime,
    ) -> Result<Association, OpenIdError> {
        if answer.get("error_code") == Some("unsupported-type") {
            return Err(OpenIdError::AssociationRefused {
                suggested: answer.get("assoc_type").map(shown),
            });
        }
        let Some(private) = &self.private else {
            return Association::from_plaintext_answer(answer, self.kind, now);
        };
        let get = |name: &'static str| answer.get(name).ok_or(OpenIdError::MissingField { name });
        let invalid =
            |name: &'static str, expected: &'static str, found: &str| OpenIdError::InvalidField {
                name,
                expected,
                found: shown(found),
            };
        let server = get("dh_server_public")?;
        let server_bytes = base64::engine::general_purpose::STANDARD
            .decode(server)
            .map_err(|_| invalid("dh_server_public", "base64", server))?;
        let trimmed = &server_bytes[server_bytes
            .iter()
            .position(|&b| b != 0)
            .unwrap_or(server_bytes.len())..];
        let mut padded = [0u8; DH_BYTES];
        let fits = trimmed.len() <= DH_BYTES;
        if fits {
            padded[DH_BYTES - trimmed.len()..].copy_from_slice(trimmed);
        }
        // 1 < y < p - 1 (§8.4.2 needs a value of the group; 0, 1 and p-1 make the secret
        // known), compared as big-endian numbers of the modulus's width.
        let above_one = trimmed.len() > 1 || trimmed.first().is_some_and(|&b| b > 1);
        let in_range = fits && above_one && padded < GROUP.p_minus_1;
        if !in_range {
            return Err(invalid(
                "dh_server_public",
                "a Diffie-Hellman public value between 1 and p-1",
                server,
            ));
        }
        let y = BoxedMontyForm::new(
            BoxedUint::from_be_slice_truncated(&padded, DH_BITS),
            &GROUP.params,
        );
        let mut secret = y.pow(private).retrieve();
        let mut shared = btwoc(&secret);
        let mut hashed = match self.session {
            SessionType::DhSha1 => sha1::Sha1::digest(&shared).to_vec(),
            _ => sha2::Sha256::digest(&shared).to_vec(),
        };
        let association =
            Association::from_answer(answer, self.kind, self.session, Some(&hashed), now);
        // The shared secret and its hash give the MAC key: gone once it is read.
        secret.zeroize();
        shared.zeroize();
        hashed.zeroize();
        association
    }
}

/// The `check_authentication` request (§11.4.2.1) for the positive assertion `fields`: every
/// field as received, `mode` changed.
///
/// # Errors
///
/// [`OpenIdError::InvalidField`] for an endpoint `http` cannot carry.
pub(crate) fn check_authentication_request(
    endpoint: &Url,
    fields: &Fields,
) -> Result<HttpRequest, OpenIdError> {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in fields.iter() {
        let value = if key == "mode" {
            "check_authentication"
        } else {
            value
        };
        form.append_pair(&format!("openid.{key}"), value);
    }
    post(endpoint, form.finish().into_bytes())
}

/// Reads the answer to `check_authentication` (§11.4.2.2): `is_valid:true` or the signature is
/// refused. Returns the `invalidate_handle` the provider sent, if any (the association to drop).
pub(crate) fn read_check_authentication(answer: &Fields) -> Result<Option<String>, OpenIdError> {
    if answer.get("ns") != Some(OPENID2_NS) || answer.get("is_valid") != Some("true") {
        return Err(OpenIdError::SignatureInvalid);
    }
    Ok(answer.get("invalidate_handle").map(str::to_owned))
}

/// A form POST of `body` to `endpoint`.
fn post(endpoint: &Url, body: Vec<u8>) -> Result<HttpRequest, OpenIdError> {
    let mut request = request(Method::POST, endpoint, body)?;
    request.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    Ok(request)
}

/// A GET of `url`, for discovery.
pub(crate) fn get(url: &Url) -> Result<HttpRequest, OpenIdError> {
    request(Method::GET, url, Vec::new())
}

fn request(method: Method, url: &Url, body: Vec<u8>) -> Result<HttpRequest, OpenIdError> {
    let uri: http::Uri = url
        .as_str()
        .parse()
        .map_err(|_| OpenIdError::InvalidField {
            name: "op_endpoint",
            expected: "a URL an HTTP request can carry",
            found: shown(url.as_str()),
        })?;
    let mut request = http::Request::new(body);
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Fixed(u8);
    impl RandomSource for Fixed {
        fn fill(&self, buf: &mut [u8]) -> Result<(), crate::ports::RandomError> {
            buf.fill(self.0);
            Ok(())
        }
    }

    #[test]
    fn btwoc_is_the_shortest_twos_complement() {
        let n = |b: &[u8]| BoxedUint::from_be_slice_truncated(b, 64);
        assert_eq!(btwoc(&n(&[0])), [0]);
        assert_eq!(btwoc(&n(&[0x7f])), [0x7f]);
        assert_eq!(btwoc(&n(&[0x80])), [0, 0x80]);
        assert_eq!(btwoc(&n(&[1, 0])), [1, 0]);
    }

    #[test]
    fn https_asks_no_encryption_and_http_a_dh_session() {
        let https = Url::parse("https://op.example/openid").unwrap();
        let http = Url::parse("http://op.example/openid").unwrap();
        let r = AssociationRequest::new(&https, AssociationType::HmacSha256, &Fixed(7)).unwrap();
        assert_eq!(r.session(), SessionType::NoEncryption);
        let body = String::from_utf8(r.http_request().unwrap().into_body()).unwrap();
        assert!(!body.contains("dh_consumer_public"), "{body}");
        let r = AssociationRequest::new(&http, AssociationType::HmacSha256, &Fixed(7)).unwrap();
        assert_eq!(r.session(), SessionType::DhSha256);
        let body = String::from_utf8(r.http_request().unwrap().into_body()).unwrap();
        assert!(body.contains("openid.session_type=DH-SHA256&openid.dh_consumer_public="));
        assert!(!format!("{r:?}").contains("private"));
        assert!(matches!(
            AssociationRequest::new(&http, AssociationType::HmacSha1, &Fixed(0)),
            Err(OpenIdError::Random(_))
        ));
    }
}
