//! Decode arbitrary bytes as a POST-binding message (base64 or raw XML). What is not XML is
//! decoded by the SIMD decoder, which must accept and produce exactly what the `base64`
//! crate's strict standard engine does (white space removed).
#![no_main]

use libfuzzer_sys::fuzz_target;
use maestrano::__private::decode_post_message;

fuzz_target!(|data: &[u8]| {
    let ours = decode_post_message(data, 64 * 1024);
    if let Ok(text) = &ours {
        assert!(text.len() <= 64 * 1024);
    }
    let trimmed = data.trim_ascii();
    if data.len() <= 64 * 1024 && !trimmed.starts_with(b"<") && !trimmed.starts_with(b"\xEF\xBB\xBF<") {
        use base64::Engine as _;
        let compact: Vec<u8> = trimmed
            .iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        let theirs = base64::engine::general_purpose::STANDARD
            .decode(&compact)
            .ok()
            .map(|bytes| bytes.strip_prefix(b"\xEF\xBB\xBF").map(<[u8]>::to_vec).unwrap_or(bytes))
            .and_then(|bytes| String::from_utf8(bytes).ok());
        assert_eq!(ours.ok(), theirs, "the SIMD decoder agrees with the base64 crate");
    }
});
