//! Parse arbitrary bytes as a Connec! notification body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use maestrano::webhook::parse_notification;

fuzz_target!(|data: &[u8]| {
    if let Ok(batches) = parse_notification(data, 64 * 1024) {
        for b in &batches {
            for e in &b.entities {
                let _ = e.connec_id();
            }
        }
    }
});
