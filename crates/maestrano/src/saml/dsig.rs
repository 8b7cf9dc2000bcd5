//! XML-DSig verification of enveloped signatures, restricted to what SAML needs.
//!
//! A signature is accepted only in this shape: one SignedInfo, one SignatureValue, optionally
//! one KeyInfo, nothing else; SignedInfo holds one CanonicalizationMethod, one SignatureMethod
//! and exactly one Reference; the Reference URI is `#` + the ID of the element enclosing the
//! Signature; its transforms are enveloped-signature plus at most one canonicalization. The
//! key comes only from the tenant's configuration (KeyInfo is never trusted, except that in
//! fingerprint mode a KeyInfo certificate is used when it hashes to the pinned fingerprint).

use base64::Engine as _;
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use super::c14n::{self, C14nMethod};
use super::cert::{Certificate, Fingerprint};
use super::crypto::{CryptoBackend, DigestAlg, DigestSink};
use super::error::SamlError;
use super::xml::{Document, NodeId, NodeKind};

/// The XML-DSig namespace.
pub const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
const EXC_C14N_NS: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";

/// Most prefixes accepted in an InclusiveNamespaces PrefixList.
const MAX_INCLUSIVE_PREFIXES: usize = 32;

/// Most nodes accepted in a SignedInfo: its fixed shape needs about 20, comments included.
const MAX_SIGNED_INFO_NODES: usize = 256;

/// Smallest RSA modulus accepted unless weak test certificates are allowed.
pub const MIN_RSA_BITS: usize = 2048;

/// Which keys may verify a signature.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Trust<'a> {
    /// Only these certificates' keys.
    Certificates(&'a [Certificate]),
    /// The weaker mode of the older SDKs: a certificate from KeyInfo, accepted only when it
    /// hashes to one of these fingerprints.
    Fingerprints(&'a [Fingerprint]),
}

/// Verification settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DsigPolicy {
    /// The platform profile: SHA-1 and RSA keys of 1024 bits or more, from the tenant's own
    /// certificate (the only keys `keys_for` ever returns).
    pub(crate) legacy: bool,
    pub(crate) allow_sha1: bool,
    pub(crate) allow_weak_certs: bool,
    pub(crate) backend: CryptoBackend,
    pub(crate) now: OffsetDateTime,
}

fn malformed(expected: &'static str, found: impl Into<String>) -> SamlError {
    SamlError::SignatureMalformed {
        expected,
        found: found.into(),
    }
}

const RSA_SHA1: &str = "http://www.w3.org/2000/09/xmldsig#rsa-sha1";
const SHA1: &str = "http://www.w3.org/2000/09/xmldsig#sha1";

/// Smallest RSA modulus of the platform profile: the Maestrano IdPs sign with 1024-bit keys
/// (the sandbox pair in mno-api-sandbox `config/initializers/01_saml_idp_config.rb`, and the
/// production and UAT certificates of the official SDKs).
pub(crate) const MIN_PLATFORM_RSA_BITS: usize = 1024;

/// What a verified signature used that the strict profile would refuse.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct LegacyUse {
    pub(crate) sha1: bool,
    /// The bits of the verifying key, when under [`MIN_RSA_BITS`].
    pub(crate) short_key_bits: Option<usize>,
}

fn signature_alg(uri: &str, policy: &DsigPolicy) -> Result<DigestAlg, SamlError> {
    match uri {
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256" => Ok(DigestAlg::Sha256),
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384" => Ok(DigestAlg::Sha384),
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512" => Ok(DigestAlg::Sha512),
        RSA_SHA1 if policy.allow_sha1 || policy.legacy => Ok(DigestAlg::Sha1),
        RSA_SHA1 => Err(SamlError::StrictProfileRefused {
            found: uri.to_owned(),
        }),
        _ => Err(SamlError::AlgorithmNotAllowed {
            algorithm: uri.to_owned(),
        }),
    }
}

fn digest_alg(uri: &str, policy: &DsigPolicy) -> Result<DigestAlg, SamlError> {
    match uri {
        "http://www.w3.org/2001/04/xmlenc#sha256" => Ok(DigestAlg::Sha256),
        "http://www.w3.org/2001/04/xmldsig-more#sha384" => Ok(DigestAlg::Sha384),
        "http://www.w3.org/2001/04/xmlenc#sha512" => Ok(DigestAlg::Sha512),
        SHA1 if policy.allow_sha1 || policy.legacy => Ok(DigestAlg::Sha1),
        SHA1 => Err(SamlError::StrictProfileRefused {
            found: uri.to_owned(),
        }),
        _ => Err(SamlError::AlgorithmNotAllowed {
            algorithm: uri.to_owned(),
        }),
    }
}

/// The element children of `id`, refusing non-blank text: XML-DSig elements hold either
/// elements or text, never a mix.
fn ds_children(doc: &Document, id: NodeId) -> Result<Vec<NodeId>, SamlError> {
    let mut out = Vec::new();
    for c in doc.children(id) {
        match &doc.node(c).kind {
            NodeKind::Element(_) => out.push(c),
            NodeKind::Text(t) if doc.str(*t).trim().is_empty() => {}
            NodeKind::Text(_) => {
                return Err(malformed(
                    "only elements",
                    format!("text inside {}", doc.qname(id)),
                ));
            }
            NodeKind::Comment(_) | NodeKind::Pi { .. } => {}
        }
    }
    Ok(out)
}

fn expect_ds(doc: &Document, id: Option<NodeId>, local: &'static str) -> Result<NodeId, SamlError> {
    match id {
        Some(n) if doc.is(n, DSIG_NS, local) => Ok(n),
        Some(n) => Err(malformed(local, doc.qname(n))),
        None => Err(malformed(local, "nothing")),
    }
}

fn algorithm_attr(doc: &Document, id: NodeId) -> Result<&str, SamlError> {
    doc.attr(id, "Algorithm").ok_or_else(|| {
        malformed(
            "an Algorithm attribute",
            format!("{} without one", doc.qname(id)),
        )
    })
}

/// The whole text content of a base64-valued element (DigestValue, SignatureValue,
/// X509Certificate), decoded. White space of any kind, including a carriage return that
/// arrived as `&#13;`, is skipped.
fn base64_content(doc: &Document, id: NodeId, what: &'static str) -> Result<Vec<u8>, SamlError> {
    if doc.has_child_elements(id) {
        return Err(malformed(what, "an element inside it"));
    }
    let text = doc.text_content(id);
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .map_err(|_| malformed(what, "text that is not base64"))
}

/// Whether `id` can be an ID value referenced by a bare-name fragment. XML Schema IDs are
/// NCNames, but real IdPs use UUIDs that start with a digit, so digits may lead; anything that
/// could be XPointer or XPath syntax (parentheses, slashes, quotes, white space) may not.
fn is_id_token(id: &str) -> bool {
    !id.is_empty()
        && id.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(c, '-' | '_' | '.')
                || (!c.is_ascii() && c.is_alphanumeric())
        })
}

/// Reads a canonicalization algorithm element (CanonicalizationMethod or Transform) with its
/// optional InclusiveNamespaces child.
fn c14n_method(doc: &Document, id: NodeId, uri: &str) -> Result<Option<C14nMethod>, SamlError> {
    let Some(mut method) = C14nMethod::from_uri(uri) else {
        return Ok(None);
    };
    let kids = ds_children(doc, id)?;
    match (&mut method, kids.as_slice()) {
        (_, []) => {}
        (
            C14nMethod::Exclusive {
                inclusive_prefixes, ..
            },
            [inc],
        ) if doc.is(*inc, EXC_C14N_NS, "InclusiveNamespaces") => {
            if !ds_children(doc, *inc)?.is_empty() {
                return Err(malformed("an empty InclusiveNamespaces", "child elements"));
            }
            let list = doc.attr(*inc, "PrefixList").unwrap_or("");
            let mut prefixes: Vec<String> = Vec::new();
            for p in list.split_ascii_whitespace() {
                let prefix = match p {
                    "#default" => "",
                    p if super::xml::is_ncname(p) => p,
                    _ => {
                        return Err(malformed(
                            "a PrefixList of prefixes and #default",
                            p.to_owned(),
                        ));
                    }
                };
                if !prefixes.iter().any(|q| q == prefix) {
                    prefixes.push(prefix.to_owned());
                }
                // Every listed prefix costs a lookup per canonicalized element: a real
                // signature lists a handful, so a long list is refused, not processed.
                if prefixes.len() > MAX_INCLUSIVE_PREFIXES {
                    return Err(malformed("at most 32 prefixes in a PrefixList", "more"));
                }
            }
            *inclusive_prefixes = prefixes;
        }
        (_, [other, ..]) => {
            return Err(malformed(
                "no children but InclusiveNamespaces",
                doc.qname(*other),
            ));
        }
    }
    Ok(Some(method))
}

/// The certificates whose keys may verify a signature, after the key policy.
fn keys_for(
    doc: &Document,
    keyinfo: Option<NodeId>,
    trust: Trust<'_>,
    policy: &DsigPolicy,
) -> Result<Vec<Certificate>, SamlError> {
    let candidates: Vec<Certificate> = match trust {
        Trust::Certificates(certs) => certs.to_vec(),
        Trust::Fingerprints(pins) => {
            let Some(ki) = keyinfo else {
                return Err(SamlError::CertificateRejected {
                    reason:
                        "fingerprint mode needs a KeyInfo certificate and the signature has none"
                            .into(),
                });
            };
            let mut found = Vec::new();
            for x in doc.descendants_named(ki, DSIG_NS, "X509Certificate") {
                let der = base64_content(doc, x, "X509Certificate")?;
                if pins.iter().any(|p| p.matches(&der)) {
                    let cert = Certificate::from_der(&der).map_err(|e| SamlError::CertificateRejected {
                        reason: format!("the KeyInfo certificate matches the fingerprint but cannot be read: {e}"),
                    })?;
                    found.push(cert);
                }
            }
            if found.is_empty() {
                return Err(SamlError::CertificateRejected {
                    reason: "no KeyInfo certificate matches the pinned fingerprint".into(),
                });
            }
            found
        }
    };
    if policy.allow_weak_certs {
        return Ok(candidates);
    }
    let mut reasons = Vec::new();
    let usable: Vec<Certificate> = candidates
        .into_iter()
        .filter(|c| {
            let min = if policy.legacy {
                MIN_PLATFORM_RSA_BITS
            } else {
                MIN_RSA_BITS
            };
            if c.key_bits() < min {
                reasons.push(if c.key_bits() >= MIN_PLATFORM_RSA_BITS {
                    format!(
                        "{} has a {}-bit key: the strict signature profile (SamlPolicy::signature_profile = Strict) requires {MIN_RSA_BITS} bits; the platform profile accepts {MIN_PLATFORM_RSA_BITS} from the tenant's own certificate",
                        c.sha1_fingerprint(),
                        c.key_bits()
                    )
                } else {
                    format!(
                        "{} has a {}-bit key (minimum {min})",
                        c.sha1_fingerprint(),
                        c.key_bits()
                    )
                });
                false
            } else if policy.now < c.not_before() || policy.now > c.not_after() {
                reasons.push(format!(
                    "{} is valid from {} to {}, not at {}",
                    c.sha1_fingerprint(),
                    c.not_before(),
                    c.not_after(),
                    policy.now
                ));
                false
            } else {
                true
            }
        })
        .collect();
    if usable.is_empty() {
        return Err(SamlError::CertificateRejected {
            reason: if reasons.is_empty() {
                "no certificate is configured".into()
            } else {
                reasons.join("; ")
            },
        });
    }
    Ok(usable)
}

/// Verifies the enveloped signature `sig`, which must be a child of the element it signs.
pub(crate) fn verify(
    doc: &Document,
    sig: NodeId,
    trust: Trust<'_>,
    policy: &DsigPolicy,
) -> Result<LegacyUse, SamlError> {
    let parent = doc.parent(sig).ok_or_else(|| {
        malformed(
            "a Signature inside the signed element",
            "a Signature at the root",
        )
    })?;

    let kids = ds_children(doc, sig)?;
    let signed_info = expect_ds(doc, kids.first().copied(), "SignedInfo")?;
    let signature_value = expect_ds(doc, kids.get(1).copied(), "SignatureValue")?;
    let keyinfo = match kids.get(2) {
        Some(&k) => Some(expect_ds(doc, Some(k), "KeyInfo")?),
        None => None,
    };
    if let Some(&extra) = kids.get(3) {
        return Err(malformed("nothing after KeyInfo", doc.qname(extra)));
    }

    let si_kids = ds_children(doc, signed_info)?;
    let c14n_el = expect_ds(doc, si_kids.first().copied(), "CanonicalizationMethod")?;
    let sig_method_el = expect_ds(doc, si_kids.get(1).copied(), "SignatureMethod")?;
    let references: Vec<NodeId> = si_kids[2.min(si_kids.len())..].to_vec();
    if references.len() != 1 || !doc.is(references[0], DSIG_NS, "Reference") {
        return Err(malformed(
            "exactly one Reference in SignedInfo",
            format!("{} other elements", references.len()),
        ));
    }
    let reference = references[0];

    let c14n_uri = algorithm_attr(doc, c14n_el)?;
    let signed_info_method =
        c14n_method(doc, c14n_el, c14n_uri)?.ok_or_else(|| SamlError::AlgorithmNotAllowed {
            algorithm: c14n_uri.to_owned(),
        })?;
    if !ds_children(doc, sig_method_el)?.is_empty() {
        return Err(malformed("an empty SignatureMethod", "child elements"));
    }
    let sig_alg = signature_alg(algorithm_attr(doc, sig_method_el)?, policy)?;

    // The Reference: URI, transforms, digest.
    let uri = doc
        .attr(reference, "URI")
        .ok_or_else(|| SamlError::ReferenceUriInvalid { uri: String::new() })?;
    let id = uri
        .strip_prefix('#')
        .filter(|id| is_id_token(id))
        .ok_or_else(|| SamlError::ReferenceUriInvalid {
            uri: uri.to_owned(),
        })?;
    let parent_id = doc.attr(parent, "ID").unwrap_or("");
    if id != parent_id {
        return Err(SamlError::ReferenceNotParent {
            expected: parent_id.to_owned(),
            found: id.to_owned(),
        });
    }

    let ref_kids = ds_children(doc, reference)?;
    let (transforms, rest) = match ref_kids.first() {
        Some(&t) if doc.is(t, DSIG_NS, "Transforms") => (Some(t), &ref_kids[1..]),
        _ => (None, &ref_kids[..]),
    };
    let digest_method = expect_ds(doc, rest.first().copied(), "DigestMethod")?;
    let digest_value_el = expect_ds(doc, rest.get(1).copied(), "DigestValue")?;
    if let Some(&extra) = rest.get(2) {
        return Err(malformed("nothing after DigestValue", doc.qname(extra)));
    }

    let mut enveloped = false;
    let mut reference_method: Option<C14nMethod> = None;
    if let Some(t) = transforms {
        let list = ds_children(doc, t)?;
        if list.is_empty() || list.len() > 2 {
            return Err(SamlError::TransformNotAllowed {
                algorithm: format!("{} transforms", list.len()),
            });
        }
        for tr in list {
            if !doc.is(tr, DSIG_NS, "Transform") {
                return Err(malformed("Transform", doc.qname(tr)));
            }
            let alg = algorithm_attr(doc, tr)?;
            if alg == ENVELOPED && !enveloped {
                if !ds_children(doc, tr)?.is_empty() {
                    return Err(malformed(
                        "an empty enveloped-signature Transform",
                        "child elements",
                    ));
                }
                enveloped = true;
            } else if reference_method.is_none() {
                match c14n_method(doc, tr, alg)? {
                    Some(m) => reference_method = Some(m),
                    None => {
                        return Err(SamlError::TransformNotAllowed {
                            algorithm: alg.to_owned(),
                        });
                    }
                }
            } else {
                return Err(SamlError::TransformNotAllowed {
                    algorithm: alg.to_owned(),
                });
            }
        }
    }
    if !ds_children(doc, digest_method)?.is_empty() {
        return Err(malformed("an empty DigestMethod", "child elements"));
    }
    let dig_alg = digest_alg(algorithm_attr(doc, digest_method)?, policy)?;
    // These two hold the cryptographic values themselves: a value that does not even decode is
    // a cryptographic mismatch like any other, reported opaquely.
    let digest_value = base64_content(doc, digest_value_el, "DigestValue")
        .map_err(|_| SamlError::SignatureInvalid)?;
    let signature_bytes = base64_content(doc, signature_value, "SignatureValue")
        .map_err(|_| SamlError::SignatureInvalid)?;

    let keys = keys_for(doc, keyinfo, trust, policy)?;
    let provider = policy.backend.provider();

    // The signature over SignedInfo is checked first: it is small (its size is capped), and
    // until it verifies, nothing of the document is worth canonicalizing, so an attacker
    // without the IdP's key cannot make the SP canonicalize a large hostile document.
    let signed_info_nodes = doc.node(signed_info).end - signed_info;
    if signed_info_nodes > MAX_SIGNED_INFO_NODES {
        return Err(malformed(
            "a SignedInfo of at most 256 nodes",
            format!("{signed_info_nodes} nodes"),
        ));
    }
    let mut signed_info_bytes = Vec::with_capacity(1024);
    c14n::canonicalize(
        doc,
        signed_info,
        None,
        &signed_info_method,
        signed_info_method.with_comments(),
        &mut signed_info_bytes,
    );
    let Some(key) = keys
        .iter()
        .find(|k| provider.verify_rsa_pkcs1(sig_alg, k, &signed_info_bytes, &signature_bytes))
    else {
        return Err(SamlError::SignatureInvalid);
    };
    let legacy = LegacyUse {
        sha1: sig_alg == DigestAlg::Sha1 || dig_alg == DigestAlg::Sha1,
        short_key_bits: (key.key_bits() < MIN_RSA_BITS).then_some(key.key_bits()),
    };

    // A same-document reference drops comments whatever the algorithm says; without a
    // canonicalization transform the node set is serialised with Canonical XML 1.0.
    let method = reference_method.unwrap_or(C14nMethod::Inclusive {
        with_comments: false,
    });
    let mut sink = DigestSink::new(provider.digest(dig_alg));
    c14n::canonicalize(
        doc,
        parent,
        enveloped.then_some(sig),
        &method,
        false,
        &mut sink,
    );
    let computed = sink.finish();
    let digest_ok = bool::from(computed.ct_eq(&digest_value));

    if digest_ok {
        Ok(legacy)
    } else {
        Err(SamlError::SignatureInvalid)
    }
}
