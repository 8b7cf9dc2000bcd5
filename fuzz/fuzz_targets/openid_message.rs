//! OpenID 2.0 messages from a provider: arbitrary bytes as a direct answer (key-value form, or
//! the platform's HTML page around it) read as an association (no-encryption and
//! Diffie-Hellman) and as a `check_authentication` answer, and as an indirect response (the
//! POSTed form) verified as a positive assertion with a fixed association and statelessly.
//! Nothing panics, and nothing is read beyond the size limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use maestrano::openid::{
    Association, AssociationRequest, AssociationType, Fields, check_positive,
    check_positive_stateless,
};
use maestrano::ports::{RandomError, RandomSource};
use time::macros::datetime;

/// A fixed Diffie-Hellman private value, so that a run is reproducible.
#[derive(Debug)]
struct Fixed;

impl RandomSource for Fixed {
    fn fill(&self, buf: &mut [u8]) -> Result<(), RandomError> {
        for (i, b) in buf.iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(31).wrapping_add(7);
        }
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    let now = datetime!(2026-12-03 13:32:15 UTC);
    let http_op = url::Url::parse("http://api-sandbox.maestrano.io/api/openid/provider/app-1a2b")
        .unwrap();
    if let Ok(fields) = Fields::from_key_value(data) {
        for kind in [AssociationType::HmacSha256, AssociationType::HmacSha1] {
            let _ = Association::from_plaintext_answer(&fields, kind, now);
            let dh = AssociationRequest::new(&http_op, kind, &Fixed).unwrap();
            let _ = dh.read_answer(&fields, now);
        }
    }
    let answer = Fields::from_key_value(
        b"assoc_handle:h\nassoc_type:HMAC-SHA256\nexpires_in:600\n\
          mac_key:4n7G4AV5jJPsjRx0rIVhsEusc5lEpr8Dq9P4VPOybnA=\n\
          ns:http://specs.openid.net/auth/2.0\nsession_type:no-encryption\n",
    )
    .unwrap();
    let association =
        Association::from_plaintext_answer(&answer, AssociationType::HmacSha256, now).unwrap();
    if let Ok(fields) = Fields::from_form(data) {
        let received = url::Url::parse("https://app.example.com/consume?state=s1").unwrap();
        let op = url::Url::parse("http://api-sandbox.maestrano.io/api/openid/provider/app-1a2b")
            .unwrap();
        let _ = check_positive(&fields, &received, &op, &association, now);
        if let Ok(check) = check_positive_stateless(&fields, &received, &op, now) {
            let _ = check.http_request();
            if let Ok(answer) = Fields::from_key_value(data) {
                let _ = check.finish(&answer);
            }
        }
    }
});
