//! Parse arbitrary bytes as an Authorization header value; whatever parses must round-trip.
#![no_main]

use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use maestrano::__private::parse_basic;

fuzz_target!(|data: &[u8]| {
    if let Ok((user, password)) = parse_basic(data) {
        assert!(!user.contains(&b':'));
        let mut joined = user.clone();
        joined.push(b':');
        joined.extend_from_slice(&password);
        let header = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(&joined)
        );
        assert_eq!(parse_basic(header.as_bytes()), Ok((user, password)));
    }
});
