//! How much SAML validation allocates, counted with dhat: "as many allocations whatever the
//! number of attributes", "cost linear in size" and the peak checked as properties of real
//! signed responses. Counts, unlike
//! timings, do not depend on the machine or its load.

#[path = "it/common/mod.rs"]
mod common;

use common::*;
use maestrano::__private::sign_enveloped;
use maestrano::saml::{ResponseValidator, SamlPolicy, SpSettings};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

/// A signed response with `attributes` attributes, shaped like the benchmark's.
fn message(attributes: usize) -> String {
    let base = Spec::default();
    let spec = Spec {
        attributes: (0..attributes)
            .map(|i| {
                let (name, values) = &base.attributes[i % base.attributes.len()];
                (format!("{name}_{i}"), values.clone())
            })
            .collect(),
        ..base
    };
    let xml = sign_enveloped(
        &response_xml(&spec),
        &spec.assertion_id,
        &key("idp-2048"),
        Some(&cert("idp-2048")),
    )
    .unwrap();
    b64(&xml)
}

struct Cost {
    blocks: u64,
    bytes: u64,
    /// The most bytes live at once during the validation.
    peak: u64,
    message_bytes: u64,
}

/// What one successful validation of `message` allocates, in blocks and bytes.
fn measure(validator: &ResponseValidator, message: &str) -> Cost {
    let now = time::macros::datetime!(2024-05-01 10:01:00 UTC);
    let before = dhat::HeapStats::get();
    let verified = validator.check(message.as_bytes(), Some(REQUEST_ID), now);
    let after = dhat::HeapStats::get();
    assert!(verified.is_ok(), "{:?}", verified.err());
    drop(verified);
    Cost {
        blocks: after.total_blocks - before.total_blocks,
        bytes: after.total_bytes - before.total_bytes,
        // dhat's maximum is over the whole run; the messages grow, so each one's is its own.
        peak: after.max_bytes as u64 - before.curr_bytes as u64,
        message_bytes: message.len() as u64,
    }
}

// One test: dhat counts for the whole process, so nothing may run beside it.
#[test]
fn validation_allocates_as_many_blocks_whatever_the_attributes_and_bytes_linear_in_size() {
    let messages: Vec<(usize, String)> = [100, 1_100, 2_100]
        .into_iter()
        .map(|n| (n, message(n)))
        .collect();
    let validator = ResponseValidator::new(
        SpSettings::new(ACS, AUDIENCE, vec![cert("idp-2048")])
            .with_idp_entity_id(IDP)
            .with_policy(SamlPolicy::default().with_max_message_bytes(1 << 20)),
    );
    let _profiler = dhat::Profiler::builder().testing().build();
    let costs: Vec<Cost> = messages
        .iter()
        .map(|(_, m)| measure(&validator, m))
        .collect();
    for ((n, _), c) in messages.iter().zip(&costs) {
        eprintln!(
            "{n} attributes: {} B message, {} blocks, {} B allocated, peak {} B ({:.2}× the decoded XML)",
            c.message_bytes,
            c.blocks,
            c.bytes,
            c.peak,
            c.peak as f64 / (c.message_bytes as f64 * 0.75)
        );
    }

    // The document's arrays are sized once and the attributes share three arrays: a thousand
    // more attributes cost no further allocation (a vector growing past its estimate may add
    // one or two).
    for w in costs.windows(2) {
        let more = w[1].blocks.abs_diff(w[0].blocks);
        dhat::assert!(
            more <= 2,
            "{} then {} blocks: a thousand more attributes cost {more} allocations",
            w[0].blocks,
            w[1].blocks
        );
    }

    // Bytes grow linearly with the message: the second thousand attributes cost what the
    // first did (vector doubling makes the two steps differ by at most a factor of two).
    let step1 = costs[1].bytes - costs[0].bytes;
    let step2 = costs[2].bytes - costs[1].bytes;
    let ratio = step2 as f64 / step1 as f64;
    dhat::assert!(
        (0.5..=2.0).contains(&ratio),
        "allocation growth {step1} B then {step2} B for equal steps in size"
    );
    // And stay a small multiple of the input: decoded XML, the node arrays and the output.
    let per_byte = costs[2].bytes as f64 / costs[2].message_bytes as f64;
    dhat::assert!(
        per_byte <= 8.0,
        "{per_byte} bytes allocated per message byte, expected a small constant"
    );
    // At its peak a validation holds the decoded XML, the node arrays and the attributes:
    // measured 3.2× the decoded XML on 2026-12-08 (issue 18 asks for 2×; the node arrays are
    // the rest). This bound keeps it from growing.
    let peak = costs[2].peak as f64 / (costs[2].message_bytes as f64 * 0.75);
    dhat::assert!(
        peak <= 3.5,
        "peak {peak:.2}× the decoded XML, expected at most 3.5×"
    );
}
