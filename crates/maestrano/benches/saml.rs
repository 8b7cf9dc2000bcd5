//! SAML Response validation against its floor.
//!
//! For each crypto backend and each size, two numbers are measured in the same run:
//! - `validate`: `ResponseValidator::check` on the base64 message (decode, parse, structure,
//!   canonicalization, digest, signature, semantics; replay excluded, it is storage I/O);
//! - `floor`: SHA-256 of the canonical assertion plus one RSA-2048 PKCS#1 v1.5 verification,
//!   with the same backend: the work no implementation can avoid.
//!
//! Inputs: a sweep of signed-Assertion responses from a typical Maestrano one (15 attributes,
//! about 7 KB with its KeyInfo) to 4,000 attributes (about 530 KB), so that the cost per KB
//! beyond the floor is the slope between sizes. `benches/saml_table.py` prints that table
//! from criterion's estimates after a run.

#[path = "../tests/it/common/mod.rs"]
mod common;

use std::hint::black_box;

use common::*;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use maestrano::__private::sign_enveloped;
use maestrano::__private::{C14nMethod, canonicalize_document};
use maestrano::saml::{CryptoBackend, ResponseValidator, SamlPolicy, SpSettings, XmlLimits};

fn spec(attributes: usize) -> Spec {
    let base = Spec::default();
    Spec {
        // Large responses are dominated by their attributes; without a NameFormat on each,
        // 2,000 of them make about 200 KB, the size the benchmark is specified for.
        attribute_name_format: if attributes > 100 {
            None
        } else {
            base.attribute_name_format.clone()
        },
        attributes: (0..attributes)
            .map(|i| {
                let (name, values) = &base.attributes[i % 20];
                (format!("{name}_{i}"), values.clone())
            })
            .collect(),
        ..base
    }
}

/// The signed Assertion on its own, as exclusive canonicalization sees it.
fn canonical_assertion(xml: &str) -> Vec<u8> {
    let start = xml.find("<saml:Assertion ").unwrap();
    let end = xml.find("</saml:Assertion>").unwrap() + "</saml:Assertion>".len();
    let standalone = xml[start..end].replacen(
        "<saml:Assertion ",
        "<saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ",
        1,
    );
    let method = C14nMethod::Exclusive {
        with_comments: false,
        inclusive_prefixes: Vec::new(),
    };
    let mut limits = XmlLimits::default();
    limits.max_nodes = 1_000_000;
    canonicalize_document(&standalone, &method, &limits).unwrap()
}

/// What the floor needs, prepared outside the measured loop.
struct Floor {
    canonical: Vec<u8>,
    signed_info: Vec<u8>,
    signature: Vec<u8>,
    rsa: rsa::PublicKey,
    #[cfg_attr(not(feature = "aws-lc-rs"), allow(dead_code))]
    pkcs1: Vec<u8>,
}

impl Floor {
    fn new(xml: &str) -> Self {
        use base64::Engine as _;
        use rsa::pkcs1::DecodeRsaPublicKey;
        let si_start = xml.find("<ds:SignedInfo>").unwrap();
        let si_end = xml.find("</ds:SignedInfo>").unwrap() + "</ds:SignedInfo>".len();
        let signed_info = canonicalize_document(
            &xml[si_start..si_end].replacen(
                "<ds:SignedInfo>",
                "<ds:SignedInfo xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\">",
                1,
            ),
            &C14nMethod::Exclusive {
                with_comments: false,
                inclusive_prefixes: Vec::new(),
            },
            &XmlLimits::default(),
        )
        .unwrap();
        let sv_start = xml.find("<ds:SignatureValue>").unwrap() + "<ds:SignatureValue>".len();
        let sv_end = xml.find("</ds:SignatureValue>").unwrap();
        let signature = base64::engine::general_purpose::STANDARD
            .decode(&xml[sv_start..sv_end])
            .unwrap();
        let pkcs1 = pkcs1(&cert("idp-2048"));
        Floor {
            canonical: canonical_assertion(xml),
            signed_info,
            signature,
            rsa: rsa::PublicKey::from_pkcs1_der(&pkcs1).unwrap(),
            pkcs1,
        }
    }

    /// SHA-256 of the canonical assertion and one RSA-2048 verification.
    fn run(&self, backend: CryptoBackend) -> bool {
        match backend {
            CryptoBackend::RustCrypto => {
                use rsa::pkcs1v15::Pkcs1v15Sign;
                use sha2::{Digest, Sha256};
                black_box(Sha256::digest(&self.canonical));
                let h = Sha256::digest(&self.signed_info);
                self.rsa
                    .verify(Pkcs1v15Sign::new::<Sha256>(), &h, &self.signature)
                    .is_ok()
            }
            #[cfg(feature = "aws-lc-rs")]
            CryptoBackend::AwsLcRs => {
                use aws_lc_rs::{digest, signature as sig};
                black_box(digest::digest(&digest::SHA256, &self.canonical));
                sig::UnparsedPublicKey::new(&sig::RSA_PKCS1_2048_8192_SHA256, &self.pkcs1)
                    .verify(&self.signed_info, &self.signature)
                    .is_ok()
            }
            _ => unreachable!("every backend is listed"),
        }
    }
}

/// The PKCS#1 RSAPublicKey inside the certificate's SubjectPublicKeyInfo.
fn pkcs1(c: &maestrano::saml::Certificate) -> Vec<u8> {
    use rsa::pkcs1::EncodeRsaPublicKey;
    use rsa::pkcs8::DecodePublicKey;
    use x509_cert::der::{Decode, Encode};
    let x = x509_cert::Certificate::from_der(c.der()).unwrap();
    let spki = x
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .unwrap();
    rsa::PublicKey::from_public_key_der(&spki)
        .unwrap()
        .to_pkcs1_der()
        .unwrap()
        .as_bytes()
        .to_vec()
}

fn bench(c: &mut Criterion) {
    let k = key("idp-2048");
    let idp = cert("idp-2048");
    let now = time::macros::datetime!(2024-05-01 10:01:00 UTC);
    for attributes in [15, 100, 500, 1000, 2000, 4000] {
        let name = format!("{attributes}_attributes");
        let s = spec(attributes);
        let xml = sign_enveloped(&response_xml(&s), &s.assertion_id, &k, Some(&idp)).unwrap();
        let message = b64(&xml);
        let floor = Floor::new(&xml);

        let mut group = c.benchmark_group(format!("saml/{name}"));
        group.throughput(Throughput::Bytes(message.len() as u64));
        if attributes > 500 {
            group.sample_size(30);
        }
        for &backend in CryptoBackend::available() {
            let mut policy = SamlPolicy::default()
                .with_crypto_backend(backend)
                .with_max_message_bytes(1 << 20);
            policy.xml_limits.max_nodes = 1_000_000;
            let validator = ResponseValidator::new(
                SpSettings::new(ACS, AUDIENCE, vec![idp.clone()])
                    .with_idp_entity_id(IDP)
                    .with_policy(policy),
            );
            assert!(
                validator
                    .check(message.as_bytes(), Some(REQUEST_ID), now)
                    .is_ok()
            );
            assert!(floor.run(backend), "the floor verifies");
            group.bench_function(format!("{backend:?}/validate"), |b| {
                b.iter(|| {
                    validator
                        .check(black_box(message.as_bytes()), Some(REQUEST_ID), now)
                        .unwrap()
                })
            });
            group.bench_function(format!("{backend:?}/floor"), |b| {
                b.iter(|| floor.run(black_box(backend)))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
