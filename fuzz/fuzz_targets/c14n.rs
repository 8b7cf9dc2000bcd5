//! Canonicalize arbitrary text with every algorithm; the output must be stable under a second
//! canonicalization (canonical XML is a fixed point), and copying from the source what reads
//! as canonical must write what writing from the tree writes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use maestrano::__private::{C14nMethod, canonicalize_document, copying_agrees_with_writing};
use maestrano::saml::XmlLimits;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let methods = [
        C14nMethod::Exclusive {
            with_comments: false,
            inclusive_prefixes: vec![],
        },
        C14nMethod::Exclusive {
            with_comments: true,
            inclusive_prefixes: vec![String::new(), "a".into()],
        },
        C14nMethod::Inclusive {
            with_comments: false,
        },
        C14nMethod::Inclusive {
            with_comments: true,
        },
    ];
    for m in &methods {
        assert!(
            copying_agrees_with_writing(text, m, &XmlLimits::default()),
            "copying from the source writes what the tree writes"
        );
        if let Ok(once) = canonicalize_document(text, m, &XmlLimits::default()) {
            let once = String::from_utf8(once).expect("canonical output is UTF-8");
            let twice = canonicalize_document(&once, m, &XmlLimits::default())
                .expect("canonical output parses again");
            assert_eq!(
                once.as_bytes(),
                &twice[..],
                "canonicalization is idempotent"
            );
        }
    }
});
