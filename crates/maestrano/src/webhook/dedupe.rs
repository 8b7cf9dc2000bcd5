//! Duplicate deliveries: marketplaces retry, so the same notification may arrive twice. The
//! ledger remembers which version (`updated_at`) of each entity the app already applied.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use time::OffsetDateTime;

use crate::connec::Entity;
use crate::idmap::store::validate_field;
use crate::idmap::{IdMap, IdMapError, IdMapStore, LocalRef, Realm, RemoteRef};
use crate::types::MarketplaceKey;

/// Remembers applied entity versions, in memory or in the app's [`IdMapStore`].
#[derive(Debug, Clone)]
pub struct DeliveryLedger {
    backend: Backend,
}

/// The latest applied `updated_at` per (marketplace, kind, Connec! id), and the keys in the
/// order they were first recorded, to forget the oldest when full.
#[derive(Debug, Default)]
struct SeenVersions {
    latest: HashMap<(String, String, String), OffsetDateTime>,
    order: VecDeque<(String, String, String)>,
}

/// How many entities the in-memory ledger remembers; past that it forgets the oldest, so a
/// very old version redelivered could be applied again (which idempotent apps tolerate).
pub(crate) const IN_MEMORY_LEDGER_CAPACITY: usize = 100_000;

#[derive(Debug, Clone)]
enum Backend {
    Memory(Arc<Mutex<SeenVersions>>),
    IdMap(Arc<dyn IdMapStore>),
}

/// Identifies an entity for the ledger: tenant, kind and Connec! id. Entities without a
/// Connec! id or `updated_at` cannot be de-duplicated and are always applied. Kind and id
/// obey the id map's field rules, as in the id map backend, so that what memory keeps per
/// entry stays small whatever a notification carries.
fn key(
    marketplace: &MarketplaceKey,
    kind: &str,
    entity: &Entity,
) -> Result<Option<(String, String, String)>, IdMapError> {
    let Some(id) = entity.connec_id() else {
        return Ok(None);
    };
    validate_field("entity", kind)?;
    validate_field("remote_id", &id)?;
    Ok(Some((marketplace.to_string(), kind.to_owned(), id)))
}

impl DeliveryLedger {
    /// A ledger in process memory.
    pub fn in_memory() -> Self {
        Self {
            backend: Backend::Memory(Arc::default()),
        }
    }

    /// A ledger in the identity map: an applied entity is the remote entity
    /// (provider = marketplace, realm = group, entity = kind, remote id = Connec! id) linked
    /// to the app's record, with `pulled_from_remote_at` set to the applied `updated_at`.
    pub fn on_id_map(store: Arc<dyn IdMapStore>) -> Self {
        Self {
            backend: Backend::IdMap(store),
        }
    }

    fn remote(
        marketplace: &MarketplaceKey,
        kind: &str,
        entity: &Entity,
    ) -> Result<Option<RemoteRef>, IdMapError> {
        let (Some(group), Some(id)) = (entity.group_id(), entity.connec_id()) else {
            return Ok(None);
        };
        let realm = Realm::new(marketplace.as_str(), group)?;
        Ok(Some(RemoteRef::new(realm, kind, id)?))
    }

    /// Whether this version of the entity was already applied (same Connec! id and the same
    /// or a later `updated_at`); then the app can skip it.
    ///
    /// # Errors
    ///
    /// [`IdMapError::Field`] when the kind or the Connec! id breaks the id map's field rules
    /// (1 to 255 bytes, no NUL), with either backend; a store failure with the id map one.
    pub async fn already_applied(
        &self,
        marketplace: &MarketplaceKey,
        kind: &str,
        entity: &Entity,
    ) -> Result<bool, IdMapError> {
        let Some(updated_at) = entity.updated_at() else {
            return Ok(false);
        };
        match &self.backend {
            Backend::Memory(map) => {
                let Some(k) = key(marketplace, kind, entity)? else {
                    return Ok(false);
                };
                let map = map.lock().unwrap_or_else(|e| e.into_inner());
                Ok(map.latest.get(&k).is_some_and(|seen| *seen >= updated_at))
            }
            Backend::IdMap(store) => {
                let Some(remote) = Self::remote(marketplace, kind, entity)? else {
                    return Ok(false);
                };
                Ok(store
                    .find_remote(&remote)
                    .await?
                    .and_then(|m| m.pulled_from_remote_at)
                    .is_some_and(|seen| seen >= updated_at))
            }
        }
    }

    /// Records that the app applied this version of the entity to its record `local` at
    /// `now`.
    pub async fn record_applied(
        &self,
        marketplace: &MarketplaceKey,
        kind: &str,
        entity: &Entity,
        local: &LocalRef,
        now: OffsetDateTime,
    ) -> Result<(), IdMapError> {
        let Some(updated_at) = entity.updated_at() else {
            return Ok(());
        };
        match &self.backend {
            Backend::Memory(map) => {
                if let Some(k) = key(marketplace, kind, entity)? {
                    let mut map = map.lock().unwrap_or_else(|e| e.into_inner());
                    if !map.latest.contains_key(&k) {
                        while map.latest.len() >= IN_MEMORY_LEDGER_CAPACITY {
                            let Some(oldest) = map.order.pop_front() else {
                                break;
                            };
                            map.latest.remove(&oldest);
                        }
                        map.order.push_back(k.clone());
                    }
                    let seen = map.latest.entry(k).or_insert(updated_at);
                    *seen = (*seen).max(updated_at);
                }
                Ok(())
            }
            Backend::IdMap(store) => {
                let Some(remote) = Self::remote(marketplace, kind, entity)? else {
                    return Ok(());
                };
                let mut map = match store.find_remote(&remote).await? {
                    Some(existing) => existing,
                    None => IdMap::new(local.clone(), remote, now),
                };
                map.updated_at = now;
                map.pulled_from_remote_at = Some(
                    map.pulled_from_remote_at
                        .map_or(updated_at, |s| s.max(updated_at)),
                );
                store.link(map).await.map(|_| ())
            }
        }
    }
}
