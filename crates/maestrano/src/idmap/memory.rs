//! [`InMemoryIdMapStore`]: the identity map in process memory.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::idmap::store::{validate_batch, validate_field};
use crate::idmap::{
    IdMap, IdMapError, IdMapPage, IdMapStore, LocalRef, PageRequest, Realm, RemoteRef,
};

/// (class name, local id, provider, realm, entity): the local side's unique key.
type LocalKey = (LocalRef, Realm, String);

#[derive(Debug, Default)]
struct State {
    /// Every link, by remote entity; `RemoteRef`'s order is provider, realm, entity, remote id.
    by_remote: BTreeMap<RemoteRef, IdMap>,
    /// The local side's unique index.
    by_local: BTreeMap<LocalKey, RemoteRef>,
}

/// An [`IdMapStore`] in process memory, for tests and examples.
///
/// It keeps the full contract, conflicts included, but forgets everything when dropped and is
/// not shared between processes: use the SQLite or PostgreSQL adapter for anything else.
#[derive(Debug, Default)]
pub struct InMemoryIdMapStore {
    state: Mutex<State>,
}

impl InMemoryIdMapStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many links are held.
    pub fn len(&self) -> usize {
        self.lock().by_remote.len()
    }

    /// Whether the store holds no link.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Every mutation below completes or returns before touching the maps, so a poisoned
        // lock still guards consistent data.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn local_key(map: &IdMap) -> LocalKey {
    (
        map.local.clone(),
        map.remote.realm().clone(),
        map.remote.entity().to_owned(),
    )
}

#[async_trait]
impl IdMapStore for InMemoryIdMapStore {
    async fn links_of(&self, local: &LocalRef) -> Result<Vec<IdMap>, IdMapError> {
        let state = self.lock();
        let mut out: Vec<IdMap> = state
            .by_local
            .range((local.clone(), min_realm(), String::new())..)
            .take_while(|((l, _, _), _)| l == local)
            .filter_map(|(_, remote)| state.by_remote.get(remote).cloned())
            .collect();
        out.sort_by(|a, b| a.remote.cmp(&b.remote));
        Ok(out)
    }

    async fn links_in(&self, local: &LocalRef, realm: &Realm) -> Result<Vec<IdMap>, IdMapError> {
        let state = self.lock();
        Ok(state
            .by_local
            .range((local.clone(), realm.clone(), String::new())..)
            .take_while(|((l, r, _), _)| l == local && r == realm)
            .filter_map(|(_, remote)| state.by_remote.get(remote).cloned())
            .collect())
    }

    async fn find_remote(&self, remote: &RemoteRef) -> Result<Option<IdMap>, IdMapError> {
        Ok(self.lock().by_remote.get(remote).cloned())
    }

    async fn find_remotes(
        &self,
        realm: &Realm,
        entity: &str,
        remote_ids: &[String],
    ) -> Result<Vec<IdMap>, IdMapError> {
        validate_field("entity", entity)?;
        validate_batch("remote_id", remote_ids)?;
        let wanted: BTreeSet<&str> = remote_ids.iter().map(String::as_str).collect();
        let state = self.lock();
        let mut out = Vec::new();
        for id in wanted {
            let remote = RemoteRef::new(realm.clone(), entity, id)?;
            if let Some(map) = state.by_remote.get(&remote) {
                out.push(map.clone());
            }
        }
        Ok(out)
    }

    async fn find_locals(
        &self,
        class_name: &str,
        local_ids: &[String],
        realm: Option<&Realm>,
    ) -> Result<Vec<IdMap>, IdMapError> {
        validate_field("class_name", class_name)?;
        validate_batch("local_id", local_ids)?;
        let wanted: BTreeSet<&str> = local_ids.iter().map(String::as_str).collect();
        let state = self.lock();
        let mut out = Vec::new();
        for id in wanted {
            let local = LocalRef::new(class_name, id)?;
            let mut links: Vec<IdMap> = state
                .by_local
                .range((local.clone(), min_realm(), String::new())..)
                .take_while(|((l, _, _), _)| *l == local)
                .filter(|((_, r, _), _)| realm.is_none_or(|realm| r == realm))
                .filter_map(|(_, remote)| state.by_remote.get(remote).cloned())
                .collect();
            links.sort_by(|a, b| a.remote.cmp(&b.remote));
            out.extend(links);
        }
        Ok(out)
    }

    async fn link(&self, map: IdMap) -> Result<IdMap, IdMapError> {
        map.validate()?;
        let map = map.normalized();
        let mut state = self.lock();
        if let Some(existing) = state.by_remote.get(&map.remote) {
            if existing.local != map.local {
                return Err(IdMapError::conflict(
                    map.remote.clone(),
                    existing.local.clone(),
                    map.local.clone(),
                ));
            }
            let merged = existing.clone().merged_with(&map);
            state.by_remote.insert(map.remote.clone(), merged.clone());
            return Ok(merged);
        }
        let key = local_key(&map);
        if let Some(existing) = state.by_local.get(&key) {
            return Err(IdMapError::local_conflict(
                map.local.clone(),
                existing.clone(),
                map.remote.clone(),
            ));
        }
        state.by_local.insert(key, map.remote.clone());
        state.by_remote.insert(map.remote.clone(), map.clone());
        Ok(map)
    }

    async fn unlink(&self, remote: &RemoteRef) -> Result<bool, IdMapError> {
        let mut state = self.lock();
        match state.by_remote.remove(remote) {
            Some(map) => {
                state.by_local.remove(&local_key(&map));
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn unlink_local(
        &self,
        local: &LocalRef,
        realm: Option<&Realm>,
    ) -> Result<u64, IdMapError> {
        let mut state = self.lock();
        let keys: Vec<LocalKey> = state
            .by_local
            .range((local.clone(), min_realm(), String::new())..)
            .take_while(|((l, _, _), _)| l == local)
            .filter(|((_, r, _), _)| realm.is_none_or(|realm| r == realm))
            .map(|(k, _)| k.clone())
            .collect();
        for key in &keys {
            if let Some(remote) = state.by_local.remove(key) {
                state.by_remote.remove(&remote);
            }
        }
        Ok(keys.len() as u64)
    }

    async fn list(&self, realm: &Realm, page: &PageRequest) -> Result<IdMapPage, IdMapError> {
        page.validate()?;
        let state = self.lock();
        let start = match &page.after {
            Some(cursor) => Bound::Excluded(RemoteRef::new(
                realm.clone(),
                cursor.entity(),
                cursor.remote_id(),
            )?),
            None => Bound::Included(RemoteRef::min_in(realm)),
        };
        let rows: Vec<IdMap> = state
            .by_remote
            .range((start, Bound::Unbounded))
            .take_while(|(r, _)| r.realm() == realm)
            .take(page.limit + 1)
            .map(|(_, m)| m.clone())
            .collect();
        Ok(IdMapPage::from_rows(rows, page.limit))
    }
}

fn min_realm() -> Realm {
    Realm::min_bound()
}
