//! Decode arbitrary bytes as account API replies of every kind, with several statuses.
//! Nothing may panic, whatever the body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use maestrano::api::{self, Bill, Group, RecurringBill, Reseller, User};

fuzz_target!(|data: &[u8]| {
    // The first byte picks the status, so error paths are reached too.
    let (status, body) = match data.split_first() {
        Some((s, rest)) => ([200u16, 400, 401, 404, 500, 302][usize::from(*s) % 6], rest),
        None => (200, data),
    };
    let response = http::Response::builder()
        .status(status)
        .body(body.to_vec())
        .expect("valid status");
    let _ = maestrano::__private::decode_one::<Bill>(&response);
    let _ = maestrano::__private::decode_list::<Bill>(&response);
    let _ = maestrano::__private::decode_one::<RecurringBill>(&response);
    let _ = maestrano::__private::decode_list::<Group>(&response);
    let _ = maestrano::__private::decode_one::<User>(&response);
    let _ = maestrano::__private::decode_list::<Reseller>(&response);
    let _ = maestrano::__private::decode_cancelled_bill(&response);
    if let Ok(text) = std::str::from_utf8(body) {
        let _ = maestrano::__private::parse_timestamp(text);
        let _ = text.parse::<api::Decimal>();
        let _ = api::Currency::new(text);
    }
});
