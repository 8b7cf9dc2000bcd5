//! Enveloped XML-DSig signing (RSA-SHA256 over exclusive canonicalization), as an IdP does.
//!
//! An SP never needs this to validate logins. It serves the marketplace simulator, tests that
//! build signed responses, and apps that must sign their own SAML documents.

use std::fmt;

use base64::Engine as _;
use rsa::pkcs1v15::Pkcs1v15Sign;
use sha2::{Digest as _, Sha256};

use super::c14n::{self, C14nMethod, EXC_C14N};
use super::cert::{Certificate, CertificateError};
use super::dsig::DSIG_NS;
use super::error::SamlError;
use super::response::ASSERTION_NS;
use super::xml::{Document, NodeId, XmlLimits};

/// An RSA private key that signs SAML documents. Its `Debug` output shows only the key size.
#[derive(Clone)]
pub struct SigningKey {
    key: rsa::PrivateKey,
}

impl SigningKey {
    /// Reads a private key from PEM: PKCS#1 (`-----BEGIN RSA PRIVATE KEY-----`) or PKCS#8
    /// (`-----BEGIN PRIVATE KEY-----`).
    pub fn from_pem(pem: &str) -> Result<Self, CertificateError> {
        use rsa::pkcs1::DecodeRsaPrivateKey;
        use rsa::pkcs8::DecodePrivateKey;
        let pem = pem.trim();
        let key = if pem.contains("-----BEGIN RSA PRIVATE KEY-----") {
            rsa::PrivateKey::from_pkcs1_pem(pem)
                .map_err(|e| CertificateError::Key(e.to_string()))?
        } else {
            rsa::PrivateKey::from_pkcs8_pem(pem)
                .map_err(|e| CertificateError::Key(e.to_string()))?
        };
        Ok(Self { key })
    }

    /// Wraps an `rsa` private key.
    pub fn from_rsa(key: rsa::PrivateKey) -> Self {
        Self { key }
    }

    /// The modulus size in bits.
    pub fn bits(&self) -> usize {
        use rsa::traits::PublicKeyParts;
        self.key.n().bit_width_vartime() as usize
    }

    /// The key, for building certificates.
    pub fn as_rsa(&self) -> &rsa::PrivateKey {
        &self.key
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256 over `message`.
    pub fn sign_sha256(&self, message: &[u8]) -> Result<Vec<u8>, SamlError> {
        let hashed = Sha256::digest(message);
        self.key
            .sign(Pkcs1v15Sign::new::<Sha256>(), &hashed)
            .map_err(|e| SamlError::Decode(format!("signing failed: {e}")))
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey(RSA-{}, <redacted>)", self.bits())
    }
}

fn escape_attr(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('"', "&quot;")
}

/// Signs the element whose `ID` attribute is `element_id` with an enveloped signature
/// (RSA-SHA256, SHA-256 digest, exclusive canonicalization), inserted after the element's
/// `saml:Issuer` child as the SAML schema requires, or as its first child when it has no
/// Issuer. With `certificate`, the signature carries it in KeyInfo.
///
/// To sign both an Assertion and its Response, sign the Assertion first.
pub fn sign_enveloped(
    xml: &str,
    element_id: &str,
    key: &SigningKey,
    certificate: Option<&Certificate>,
) -> Result<String, SamlError> {
    let doc = Document::parse(xml.to_owned(), &XmlLimits::default())?;
    let target: NodeId = (0..doc.len())
        .find(|&n| doc.attr(n, "ID") == Some(element_id))
        .ok_or_else(|| SamlError::Structure {
            expected: "an element with the ID to sign",
            found: format!("no element with ID {element_id:?}"),
        })?;
    let range = doc.source_range(target);
    let tag_end = doc.start_tag_end(target);
    if tag_end == range.end {
        return Err(SamlError::Structure {
            expected: "an element with content to sign",
            found: "an empty element".into(),
        });
    }
    let exclusive = C14nMethod::Exclusive {
        with_comments: false,
        inclusive_prefixes: Vec::new(),
    };
    let mut canonical = Vec::new();
    c14n::canonicalize(&doc, target, None, &exclusive, false, &mut canonical);
    let b64 = base64::engine::general_purpose::STANDARD;
    let digest = b64.encode(Sha256::digest(&canonical));

    let signed_info = format!(
        "<ds:SignedInfo><ds:CanonicalizationMethod Algorithm=\"{EXC_C14N}\"/>\
         <ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256\"/>\
         <ds:Reference URI=\"#{}\"><ds:Transforms>\
         <ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>\
         <ds:Transform Algorithm=\"{EXC_C14N}\"/></ds:Transforms>\
         <ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>\
         <ds:DigestValue>{digest}</ds:DigestValue></ds:Reference></ds:SignedInfo>",
        escape_attr(element_id)
    );
    // Exclusive canonicalization of SignedInfo depends only on the namespaces it uses, all
    // declared on the Signature element, so it can be computed on the fragment alone.
    let fragment = Document::parse(
        format!("<ds:Signature xmlns:ds=\"{DSIG_NS}\">{signed_info}</ds:Signature>"),
        &XmlLimits::default(),
    )?;
    let mut signed_info_c14n = Vec::new();
    c14n::canonicalize(&fragment, 1, None, &exclusive, false, &mut signed_info_c14n);
    let signature_value = b64.encode(key.sign_sha256(&signed_info_c14n)?);
    let key_info = certificate
        .map(|c| {
            format!(
                "<ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>",
                b64.encode(c.der())
            )
        })
        .unwrap_or_default();
    let signature = format!(
        "<ds:Signature xmlns:ds=\"{DSIG_NS}\">{signed_info}<ds:SignatureValue>{signature_value}</ds:SignatureValue>{key_info}</ds:Signature>"
    );

    let at = match doc.children_named(target, ASSERTION_NS, "Issuer").next() {
        Some(issuer) => doc.source_range(issuer).end,
        None => tag_end,
    };
    let src = doc.source();
    let mut out = String::with_capacity(src.len() + signature.len());
    out.push_str(&src[..at]);
    out.push_str(&signature);
    out.push_str(&src[at..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::saml::CryptoBackend;
    use crate::saml::dsig::{self, DsigPolicy, Trust};

    const KEY: &str =
        include_str!("../../tests/data/maestrano/mno-api-sandbox/idp-certs/rsaprivkey.pem");
    const CERT: &str =
        include_str!("../../tests/data/maestrano/mno-api-sandbox/idp-certs/rsacert.pem");

    fn policy() -> DsigPolicy {
        DsigPolicy {
            legacy: false,
            allow_sha1: false,
            allow_weak_certs: true,
            backend: CryptoBackend::RustCrypto,
            now: time::macros::datetime!(2020-01-01 0:00 UTC),
        }
    }

    #[test]
    fn signed_element_verifies_and_tampering_breaks_it() {
        let key = SigningKey::from_pem(KEY).unwrap();
        assert!(!format!("{key:?}").contains("MII"));
        let cert = Certificate::from_pem(CERT).unwrap();
        let xml = format!(
            "<r xmlns:saml=\"{ASSERTION_NS}\"><saml:Assertion ID=\"_a1\"><saml:Issuer>idp</saml:Issuer><saml:Subject>alice</saml:Subject></saml:Assertion></r>"
        );
        let signed = sign_enveloped(&xml, "_a1", &key, Some(&cert)).unwrap();
        assert!(signed.contains("</saml:Issuer><ds:Signature"));
        let doc = Document::parse(signed.clone(), &XmlLimits::default()).unwrap();
        let sig = doc
            .descendants_named(0, DSIG_NS, "Signature")
            .next()
            .unwrap();
        dsig::verify(
            &doc,
            sig,
            Trust::Certificates(std::slice::from_ref(&cert)),
            &policy(),
        )
        .unwrap();

        let tampered = signed.replace(">alice<", ">mallory<");
        let doc = Document::parse(tampered, &XmlLimits::default()).unwrap();
        let sig = doc
            .descendants_named(0, DSIG_NS, "Signature")
            .next()
            .unwrap();
        assert_eq!(
            dsig::verify(
                &doc,
                sig,
                Trust::Certificates(std::slice::from_ref(&cert)),
                &policy()
            ),
            Err(SamlError::SignatureInvalid)
        );
    }
}
