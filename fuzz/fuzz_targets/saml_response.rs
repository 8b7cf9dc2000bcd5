//! Parse and validate arbitrary bytes as a SAML Response, with a fixed key and time.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use maestrano::saml::{Certificate, ResponseValidator, SamlPolicy, SpSettings};

const CERT: &str = include_str!("../../crates/maestrano/tests/fixtures/keys/idp-2048.crt");

fn validator() -> &'static ResponseValidator {
    static V: OnceLock<ResponseValidator> = OnceLock::new();
    V.get_or_init(|| {
        let mut policy = SamlPolicy::default();
        // Let inputs reach the later checks too.
        policy.insecure_allow_idp_initiated = true;
        policy.insecure_allow_sha1 = true;
        ResponseValidator::new(
            SpSettings::new(
                "https://app.example.test/mno-enterprise/acme-corp/saml/consume",
                "app-1a2b",
                vec![Certificate::from_pem(CERT).expect("test certificate")],
            )
            .with_idp_entity_id("https://idp.example.test")
            .with_policy(policy),
        )
    })
}

fuzz_target!(|data: &[u8]| {
    let now = time::macros::datetime!(2024-05-01 10:01:00 UTC);
    let _ = validator().check(data, None, now);
    let _ = validator().check(data, Some("_4c5a2b1e8f0d4e6a9b7c3d2e1f0a9b8c"), now);
});
