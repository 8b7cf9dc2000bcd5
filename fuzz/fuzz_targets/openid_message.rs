//! OpenID 2.0 messages from a provider: arbitrary bytes as a direct answer (key-value form, or
//! the platform's HTML page around it) read as an association, and as an indirect response
//! (the POSTed form) verified as a positive assertion with a fixed association. Nothing
//! panics, and nothing is read beyond the size limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use maestrano::openid::{Association, AssociationType, Fields, check_positive};
use time::macros::datetime;

fuzz_target!(|data: &[u8]| {
    let now = datetime!(2026-12-03 13:32:15 UTC);
    if let Ok(fields) = Fields::from_key_value(data) {
        for kind in [AssociationType::HmacSha256, AssociationType::HmacSha1] {
            let _ = Association::from_plaintext_answer(&fields, kind, now);
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
    }
});
