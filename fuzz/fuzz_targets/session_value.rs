//! Read arbitrary bytes as the stored Maestrano session value (a cookie or session-store
//! entry, so untrusted); whatever reads must write back to a value that reads the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use maestrano::MarketplaceKey;
use maestrano::sso::SsoSession;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let marketplace = MarketplaceKey::new("acme-corp").unwrap();
    for read in [
        SsoSession::from_session_value(text),
        SsoSession::from_session_value_of(text, &marketplace),
    ] {
        if let Ok(session) = read {
            let back = SsoSession::from_session_value(&session.to_session_value()).unwrap();
            assert_eq!(back.marketplace, session.marketplace);
            assert_eq!(back.uid, session.uid);
            assert_eq!(back.group_uid, session.group_uid);
        }
    }
});
