//! Parse arbitrary bytes as marketplace configuration: a JSON document (one marketplace or the
//! developer platform's `{"marketplaces": [...]}`), a developer platform reply, and the file
//! the configuration cache writes. Whatever the cache file yields must parse the same way again,
//! and every marketplace that parses must serialize (serde) to a form that parses back to the
//! same form.
#![no_main]

use libfuzzer_sys::fuzz_target;
use maestrano::__private::{decode_config_cache, decode_response};
use maestrano::config::{parse_marketplace, parse_marketplaces};

fuzz_target!(|data: &[u8]| {
    let _ = parse_marketplaces(data);
    if let Ok(config) = parse_marketplace(data) {
        let form = serde_json::to_vec(&config).expect("a parsed config serializes");
        let again = parse_marketplace(&form).expect("its serialized form parses");
        assert_eq!(serde_json::to_vec(&again).ok(), Some(form));
    }
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
