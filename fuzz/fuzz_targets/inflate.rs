//! Inflate arbitrary bytes (HTTP-Redirect binding); the output cap must hold.
#![no_main]

use libfuzzer_sys::fuzz_target;
use maestrano::__private::{decode_redirect_message, inflate};

fuzz_target!(|data: &[u8]| {
    if let Ok(out) = inflate(data, 4096) {
        assert!(out.len() <= 4096);
    }
    let _ = decode_redirect_message(data, 4096);
});
