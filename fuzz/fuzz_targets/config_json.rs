//! Parse arbitrary bytes as marketplace configuration: a JSON document (one marketplace or the
//! developer platform's `{"marketplaces": [...]}`), a developer platform reply, and the file
//! the configuration cache writes. Whatever the cache file yields must parse the same way again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use maestrano::__private::{decode_config_cache, decode_response};
use maestrano::config::{parse_marketplace, parse_marketplaces};

fuzz_target!(|data: &[u8]| {
    let _ = parse_marketplaces(data);
    let _ = parse_marketplace(data);
    let reply = http::Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(data.to_vec())
        .unwrap();
    let _ = decode_response(&reply);
    if let Ok(cached) = decode_config_cache(data) {
        let _ = parse_marketplaces(cached.document());
        let again = decode_config_cache(data).map(|c| c.document().to_vec());
        assert_eq!(again.as_deref().ok(), Some(cached.document()));
    }
});
