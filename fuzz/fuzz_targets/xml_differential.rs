//! The crate's XML tokenizer against quick-xml, the parser it replaced: on any text, both
//! accept and build the same tree, or both refuse (where quick-xml is laxer than XML 1.0,
//! the tokenizer's refusal stands; see `differential`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use maestrano::saml::XmlLimits;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(difference) = maestrano::__private::xml_differential(text, &XmlLimits::default()) {
        panic!("{difference}");
    }
});
