//! Decode arbitrary query strings as HTTP-Redirect AuthnRequests (what the simulator's IdP
//! receives); a decoded request must survive a re-encode and decode unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use maestrano::saml::ReceivedRedirect;

fuzz_target!(|data: &[u8]| {
    let Ok(query) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(got) = ReceivedRedirect::from_query(query, 64 * 1024) {
        if let Ok(url) = got
            .request
            .redirect_url(got.relay_state.as_deref(), &[], None)
        {
            let again = ReceivedRedirect::from_query(url.query().unwrap_or(""), 1 << 20)
                .expect("a re-encoded request decodes");
            let mut want = got.request.clone();
            want.issue_instant = want.issue_instant.replace_nanosecond(0).unwrap();
            assert_eq!(again.request, want);
        }
    }
});
