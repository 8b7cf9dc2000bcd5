//! Parse arbitrary bytes as a Connec! notification body, the way the webhook handler does.
#![no_main]

use libfuzzer_sys::fuzz_target;
use maestrano::__private::parse_notification;

fuzz_target!(|data: &[u8]| {
    if let Ok(notification) = parse_notification(data, 64 * 1024) {
        for (_, entity) in notification.entities() {
            let _ = (entity.connec_id(), entity.group_id(), entity.updated_at());
        }
    }
});
