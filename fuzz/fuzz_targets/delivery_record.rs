//! Read arbitrary bytes as a delivery ledger record, as a `DeliveryStore` reads the text a
//! row holds (`maestrano_deliveries.record`): a damaged or hostile row must be refused with an
//! error, never panic, and a record that reads must keep the ledger's rules when each step runs
//! on it: it encodes back to a record that reads the same, a completed version is never
//! applied again, and a claim never holds two tokens.
#![no_main]

use libfuzzer_sys::fuzz_target;
use maestrano::connec::Entity;
use maestrano::webhook::{DeliveryOutcome, DeliveryRecord, DeliveryStep, EntityVersion};

fn version(data: &[u8]) -> EntityVersion {
    let at = i64::from(data.first().copied().unwrap_or(0)) * 1_000_000;
    let updated_at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(at) * 1_000)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let mut entity = Entity::new();
    entity.insert("updated_at", updated_at.into());
    entity.insert("n", u64::from(data.get(1).copied().unwrap_or(0)).into());
    EntityVersion::of(&entity)
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(record) = DeliveryRecord::decode(text) else {
        return;
    };
    assert_eq!(DeliveryRecord::decode(&record.encode()).unwrap(), record);
    let v = version(data.get(..2).unwrap_or(data));
    let now = 1_700_000_000_000_000;
    let claim = DeliveryStep::Claim {
        version: v,
        token: "fuzz".into(),
        now,
        lease_until: now + 60_000_000,
    };
    let (outcome, changed) = claim.run(Some(record.clone()));
    let after = changed.unwrap_or(record);
    if outcome == DeliveryOutcome::Claimed {
        let again = claim.run(Some(after.clone())).0;
        assert!(matches!(again, DeliveryOutcome::Busy { .. }), "{again:?}");
    }
    let (_, done) = DeliveryStep::Complete {
        version: v,
        token: "fuzz".into(),
    }
    .run(Some(after));
    let done = done.expect("a completion is recorded");
    let redelivered = DeliveryStep::Claim {
        version: v,
        token: "other".into(),
        now,
        lease_until: now + 1,
    }
    .run(Some(done));
    assert!(
        matches!(
            redelivered.0,
            DeliveryOutcome::AlreadyApplied | DeliveryOutcome::Stale
        ),
        "a completed version is applied again: {:?}",
        redelivered.0
    );
});
