//! Decode arbitrary bytes as a POST-binding message (base64 or raw XML).
#![no_main]

use libfuzzer_sys::fuzz_target;
use maestrano::__private::decode_post_message;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = decode_post_message(data, 64 * 1024) {
        assert!(text.len() <= 64 * 1024);
    }
});
