//! Decode arbitrary bytes as Connec! replies and notifications. Nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use maestrano::connec;

fuzz_target!(|data: &[u8]| {
    let (status, body) = match data.split_first() {
        Some((s, rest)) => (
            [200u16, 201, 400, 401, 404, 409, 500][usize::from(*s) % 7],
            rest,
        ),
        None => (200, data),
    };
    let response = http::Response::builder()
        .status(status)
        .body(body.to_vec())
        .expect("valid status");
    let _ = maestrano::__private::decode_entity(&response, "people");
    if let Ok(page) = maestrano::__private::decode_page(&response, "people") {
        for entity in &page.entities {
            let _ = entity.ids();
            let _ = entity.to_typed::<connec::Person>();
        }
    }
    if let Ok(reply) = maestrano::__private::decode_batch(&response) {
        for result in &reply.results {
            let _ = result.entity("people");
        }
    }
    let _ = maestrano::__private::decode_version(&response);
    let _ = maestrano::__private::decode_notification(body);
});
