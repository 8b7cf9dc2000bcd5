//! OpenID 2.0 discovery answers from any host a claimed identifier names: arbitrary bytes as
//! an XRDS document, an HTML page and an answer of no declared type, then the claimed-id check
//! over whatever services they name. Nothing panics, and nothing is read beyond the limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use maestrano::openid::{Discovered, read_discovery, read_xrds, verify_claimed_id};

fuzz_target!(|data: &[u8]| {
    let fetched = url::Url::parse("http://api-sandbox.maestrano.io/api/openid/provider/app-1a2b/users/usr-1").unwrap();
    let op = url::Url::parse("http://api-sandbox.maestrano.io/api/openid/provider/app-1a2b").unwrap();
    for content_type in ["application/xrds+xml", "text/html; charset=utf-8", "text/plain"] {
        let response = http::Response::builder()
            .header(http::header::CONTENT_TYPE, content_type)
            .body(data.to_vec())
            .unwrap();
        if let Ok(Discovered::Services(services)) = read_discovery(&fetched, &response) {
            let _ = verify_claimed_id(&services, fetched.as_str(), fetched.as_str(), &op);
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = read_xrds(text);
    }
});
