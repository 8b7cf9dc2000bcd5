//! Read arbitrary bytes as the IdP's reply to the session check (`GET {idp}/api/v1/auth/saml/
//! {uid}?session=…`, answered `{"valid": …, "recheck": …}`): the body comes over the network
//! from the IdP, so untrusted. A valid reply moves the re-check time to the instant it returns,
//! which the stored session value then keeps; any other outcome leaves it as it was, and a
//! non-2xx reply is refused whatever its body.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use maestrano::MarketplaceKey;
use maestrano::sso::{SessionError, SessionStatus, SsoSession};
use time::UtcOffset;

/// A session of another SDK's stored value (`tests/it/saml_sso.rs`), bound to the sandbox.
static SESSION: LazyLock<SsoSession> = LazyLock::new(|| {
    SsoSession::from_session_value_of(
        "eyJ1aWQiOiJ1c3ItMSIsInNlc3Npb24iOiJ0b2svMSsyJjMiLCJzZXNzaW9uX3JlY2hlY2siOiIyMDI0LTA1LTAx\
         VDEwOjAzOjAwWiIsImdyb3VwX3VpZCI6ImNsZC0xIn0=",
        &MarketplaceKey::new("mno-sandbox").unwrap(),
    )
    .unwrap()
});

fn reply(status: u16, body: &[u8]) -> http::Response<Vec<u8>> {
    http::Response::builder()
        .status(status)
        .header("content-type", "application/json; charset=utf-8")
        .body(body.to_vec())
        .unwrap()
}

fuzz_target!(|data: &[u8]| {
    let before = SESSION.recheck_at;
    let mut session = SESSION.clone();
    match session.apply_check_response(&reply(200, data)) {
        Ok(SessionStatus::Valid { recheck_at }) => {
            assert_eq!(session.recheck_at, recheck_at);
            assert_eq!(recheck_at.offset(), UtcOffset::UTC);
            let back = SsoSession::from_session_value(&session.to_session_value()).unwrap();
            assert_eq!(back.recheck_at, recheck_at.replace_nanosecond(0).unwrap());
        }
        _ => assert_eq!(session.recheck_at, before),
    }
    for status in [302, 401, 500] {
        let mut session = SESSION.clone();
        assert!(matches!(
            session.apply_check_response(&reply(status, data)),
            Err(SessionError::InvalidReply { status: s, .. }) if s == status
        ));
        assert_eq!(session.recheck_at, before);
    }
});
