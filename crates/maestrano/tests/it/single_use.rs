//! The single-use store conformance suite: it passes on the in-memory store, and it fails on
//! stores that break the contract the way a hand-written store would (a check-then-insert
//! race, a take that ignores expiry, keys that drop the scope), so a user's store that passes
//! it is known to hold.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use maestrano::MarketplaceKey;
use maestrano::ports::{InMemorySingleUseStore, OnceKey, Purpose, SingleUseError, SingleUseStore};
use maestrano::test_util::single_use_conformance;
use time::OffsetDateTime;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_in_memory_store_keeps_the_contract() {
    let store = Arc::new(InMemorySingleUseStore::new());
    single_use_conformance::run(store.clone(), store).await;
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Flaw {
    /// Reads, yields, then writes: two instances both see the key absent.
    CheckThenInsert,
    /// Takes an entry whatever its expiry.
    TakeIgnoresExpiry,
    /// Keys by id alone: one tenant's request is another's.
    DropsTheScope,
}

#[derive(Debug)]
struct Flawed {
    flaw: Flaw,
    entries: Mutex<HashMap<(String, String), OffsetDateTime>>,
}

impl Flawed {
    fn name(&self, key: &OnceKey) -> (String, String) {
        let scope = if self.flaw == Flaw::DropsTheScope {
            String::new()
        } else {
            format!("{}/{}", key.purpose(), key.scope())
        };
        (scope, key.id().to_owned())
    }
}

#[async_trait]
impl SingleUseStore for Flawed {
    async fn insert_if_absent(
        &self,
        key: &OnceKey,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, SingleUseError> {
        let name = self.name(key);
        let live = self
            .entries
            .lock()
            .unwrap()
            .get(&name)
            .is_some_and(|e| *e > now);
        if live {
            return Ok(false);
        }
        if self.flaw == Flaw::CheckThenInsert {
            tokio::task::yield_now().await;
        }
        self.entries.lock().unwrap().insert(name, expires_at);
        Ok(true)
    }

    async fn take(&self, key: &OnceKey, now: OffsetDateTime) -> Result<bool, SingleUseError> {
        let removed = self.entries.lock().unwrap().remove(&self.name(key));
        Ok(match removed {
            Some(_) if self.flaw == Flaw::TakeIgnoresExpiry => true,
            Some(exp) => exp > now,
            None => false,
        })
    }

    async fn erase_marketplace(&self, marketplace: &MarketplaceKey) -> Result<u64, SingleUseError> {
        let owned: Vec<String> = Purpose::OWNED_BY_MARKETPLACE
            .iter()
            .map(|p| format!("{p}/{marketplace}"))
            .collect();
        let mut entries = self.entries.lock().unwrap();
        let before = entries.len();
        entries.retain(|(scope, _), _| !owned.contains(scope));
        Ok((before - entries.len()) as u64)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_suite_fails_stores_that_break_the_contract() {
    // Each flaw is caught by the check written for it.
    for (flaw, caught_by) in [
        (Flaw::CheckThenInsert, "one winner per round"),
        (Flaw::TakeIgnoresExpiry, "expired: not taken"),
        (
            Flaw::DropsTheScope,
            "the same assertion id from another issuer",
        ),
    ] {
        let store = Arc::new(Flawed {
            flaw,
            entries: Mutex::default(),
        });
        let outcome = tokio::spawn(single_use_conformance::run(store.clone(), store)).await;
        let message = match outcome {
            Err(e) if e.is_panic() => {
                let payload = e.into_panic();
                payload
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default()
            }
            _ => panic!("the suite passed a store with the flaw {flaw:?}"),
        };
        assert!(message.contains(caught_by), "{flaw:?}: {message}");
    }
}
