//! [`InMemoryIdMapStore`]: the identity map in process memory.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::sync::Mutex;

use async_trait::async_trait;
use time::{Duration, OffsetDateTime};

use crate::idmap::store::{normalize_time, validate_batch, validate_field};
use crate::idmap::{
    Backlog, ClaimFound, ClaimedPush, Completion, FailedPush, IdMap, IdMapError, IdMapPage,
    IdMapStore, LocalRef, OutboxError, PageRequest, PushId, PushIntent, PushOutbox, Realm,
    RemoteRef,
};
use crate::idmap::{bounded_reason, validate_lease, validate_limit};

/// (class name, local id, provider, realm, entity): the local side's unique key.
type LocalKey = (LocalRef, Realm, String);

#[derive(Debug, Default)]
struct State {
    /// Every link, by remote entity; `RemoteRef`'s order is provider, realm, entity, remote id.
    by_remote: BTreeMap<RemoteRef, IdMap>,
    /// The local side's unique index.
    by_local: BTreeMap<LocalKey, RemoteRef>,
    /// The push outbox, under the same lock as the links: completing a push is atomic.
    outbox: Outbox,
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

impl State {
    /// The body of [`IdMapStore::link`] on a validated, normalized link.
    fn link(&mut self, map: IdMap) -> Result<IdMap, IdMapError> {
        if let Some(existing) = self.by_remote.get(&map.remote) {
            if existing.local != map.local {
                return Err(IdMapError::conflict(
                    map.remote.clone(),
                    existing.local.clone(),
                    map.local.clone(),
                ));
            }
            let merged = existing.clone().merged_with(&map);
            self.by_remote.insert(map.remote.clone(), merged.clone());
            return Ok(merged);
        }
        let key = local_key(&map);
        if let Some(existing) = self.by_local.get(&key) {
            return Err(IdMapError::local_conflict(
                map.local.clone(),
                existing.clone(),
                map.remote.clone(),
            ));
        }
        self.by_local.insert(key, map.remote.clone());
        self.by_remote.insert(map.remote.clone(), map.clone());
        Ok(map)
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
        self.lock().link(map.normalized())
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

    async fn erase(&self, provider: &str, realm: Option<&str>) -> Result<u64, IdMapError> {
        let mut state = self.lock();
        let gone: Vec<RemoteRef> = state
            .by_remote
            .keys()
            .filter(|r| {
                r.realm().provider() == provider && realm.is_none_or(|g| r.realm().realm() == g)
            })
            .cloned()
            .collect();
        for remote in &gone {
            if let Some(map) = state.by_remote.remove(remote) {
                state.by_local.remove(&local_key(&map));
            }
        }
        Ok(gone.len() as u64)
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

/// The push outbox of an [`InMemoryIdMapStore`].
#[derive(Debug, Default)]
struct Outbox {
    next_id: i64,
    rows: BTreeMap<i64, PushRow>,
    /// (local record, realm, entity) → push id: one push per record and destination.
    by_key: BTreeMap<LocalKey, i64>,
}

#[derive(Debug)]
struct PushRow {
    intent: PushIntent,
    version: u64,
    claim: u64,
    attempts: u32,
    not_before: OffsetDateTime,
    lease_until: Option<OffsetDateTime>,
    failed: Option<(String, OffsetDateTime)>,
}

impl Outbox {
    /// The row of `push` if `push` still holds its claim.
    fn held(&mut self, push: &ClaimedPush) -> Result<&mut PushRow, OutboxError> {
        let lost = |found| OutboxError::LeaseLost {
            id: push.id,
            expected: push.claim,
            found,
        };
        match self.rows.get_mut(&push.id.get()) {
            None => Err(lost(ClaimFound::Gone)),
            Some(row) if row.claim != push.claim || row.failed.is_some() => {
                Err(lost(ClaimFound::Claim(row.claim)))
            }
            Some(row) => Ok(row),
        }
    }

    fn remove(&mut self, id: i64) {
        if let Some(row) = self.rows.remove(&id) {
            self.by_key.remove(&intent_key(&row.intent));
        }
    }
}

fn intent_key(intent: &PushIntent) -> LocalKey {
    (
        intent.local().clone(),
        intent.realm().clone(),
        intent.entity().to_owned(),
    )
}

#[async_trait]
impl PushOutbox for InMemoryIdMapStore {
    async fn enqueue(
        &self,
        intent: PushIntent,
        now: OffsetDateTime,
    ) -> Result<PushId, OutboxError> {
        let now = normalize_time(now);
        let mut state = self.lock();
        let outbox = &mut state.outbox;
        let key = intent_key(&intent);
        if let Some(&id) = outbox.by_key.get(&key)
            && let Some(row) = outbox.rows.get_mut(&id)
        {
            row.intent = intent;
            row.version += 1;
            if row.failed.take().is_some() {
                row.attempts = 0;
            }
            row.not_before = row.not_before.min(now);
            return Ok(PushId::new(id));
        }
        outbox.next_id += 1;
        let id = outbox.next_id;
        outbox.by_key.insert(key, id);
        outbox.rows.insert(
            id,
            PushRow {
                intent,
                version: 1,
                claim: 0,
                attempts: 0,
                not_before: now,
                lease_until: None,
                failed: None,
            },
        );
        Ok(PushId::new(id))
    }

    async fn claim(
        &self,
        provider: Option<&str>,
        limit: usize,
        lease: Duration,
        now: OffsetDateTime,
    ) -> Result<Vec<ClaimedPush>, OutboxError> {
        validate_limit(limit)?;
        validate_lease(lease)?;
        let now = normalize_time(now);
        let lease_until = now.saturating_add(lease);
        let mut state = self.lock();
        let mut due: Vec<(OffsetDateTime, i64)> = state
            .outbox
            .rows
            .iter()
            .filter(|(_, r)| {
                r.failed.is_none()
                    && r.not_before <= now
                    && r.lease_until.is_none_or(|l| l <= now)
                    && provider.is_none_or(|p| r.intent.realm().provider() == p)
            })
            .map(|(id, r)| (r.not_before, *id))
            .collect();
        due.sort();
        let mut out = Vec::new();
        for (_, id) in due.into_iter().take(limit) {
            let Some(row) = state.outbox.rows.get_mut(&id) else {
                continue;
            };
            row.claim += 1;
            row.attempts = row.attempts.saturating_add(1);
            row.lease_until = Some(lease_until);
            out.push(ClaimedPush {
                id: PushId::new(id),
                claim: row.claim,
                version: row.version,
                attempts: row.attempts,
                lease_until,
                intent: row.intent.clone(),
            });
        }
        Ok(out)
    }

    async fn complete(
        &self,
        push: &ClaimedPush,
        link: Option<IdMap>,
        now: OffsetDateTime,
    ) -> Result<Completion, OutboxError> {
        if let Some(map) = &link {
            map.validate()?;
        }
        let now = normalize_time(now);
        let mut state = self.lock();
        let newer = state.outbox.held(push)?.version != push.version;
        // Link first: a conflict returns before the push is touched, so nothing is written.
        if let Some(map) = link {
            state.link(map.normalized())?;
        }
        if newer {
            let row = state.outbox.held(push)?;
            row.lease_until = None;
            row.not_before = now;
            // The newer version starts its own count of attempts.
            row.attempts = 0;
            Ok(Completion::NewerPending)
        } else {
            state.outbox.remove(push.id.get());
            Ok(Completion::Done)
        }
    }

    async fn retry_later(
        &self,
        push: &ClaimedPush,
        at: OffsetDateTime,
        _now: OffsetDateTime,
    ) -> Result<(), OutboxError> {
        let mut state = self.lock();
        let row = state.outbox.held(push)?;
        row.lease_until = None;
        row.not_before = normalize_time(at);
        Ok(())
    }

    async fn fail(
        &self,
        push: &ClaimedPush,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<(), OutboxError> {
        let now = normalize_time(now);
        let mut state = self.lock();
        let row = state.outbox.held(push)?;
        row.lease_until = None;
        if row.version != push.version {
            // A newer version was enqueued while this one was in flight: give it its turn.
            row.attempts = 0;
            row.not_before = now;
        } else {
            row.failed = Some((bounded_reason(reason), now));
        }
        Ok(())
    }

    async fn failed(&self, realm: &Realm, limit: usize) -> Result<Vec<FailedPush>, OutboxError> {
        validate_limit(limit)?;
        let state = self.lock();
        let mut out: Vec<FailedPush> = state
            .outbox
            .rows
            .iter()
            .filter(|(_, r)| r.intent.realm() == realm)
            .filter_map(|(id, r)| {
                let (reason, failed_at) = r.failed.clone()?;
                Some(FailedPush {
                    id: PushId::new(*id),
                    intent: r.intent.clone(),
                    attempts: r.attempts,
                    reason,
                    failed_at,
                })
            })
            .collect();
        out.sort_by_key(|f| (f.failed_at, f.id));
        out.truncate(limit);
        Ok(out)
    }

    async fn discard(&self, id: PushId) -> Result<bool, OutboxError> {
        let mut state = self.lock();
        let failed = state
            .outbox
            .rows
            .get(&id.get())
            .is_some_and(|r| r.failed.is_some());
        if failed {
            state.outbox.remove(id.get());
        }
        Ok(failed)
    }

    async fn erase_pushes(&self, provider: &str, realm: Option<&str>) -> Result<u64, OutboxError> {
        let mut state = self.lock();
        let outbox = &mut state.outbox;
        let gone: Vec<i64> = outbox
            .rows
            .iter()
            .filter(|(_, row)| {
                let r = row.intent.realm();
                r.provider() == provider && realm.is_none_or(|g| r.realm() == g)
            })
            .map(|(&id, _)| id)
            .collect();
        for &id in &gone {
            outbox.remove(id);
        }
        Ok(gone.len() as u64)
    }

    async fn backlog(&self) -> Result<Backlog, OutboxError> {
        let state = self.lock();
        let failed = state
            .outbox
            .rows
            .values()
            .filter(|r| r.failed.is_some())
            .count() as u64;
        Ok(Backlog::new(
            state.outbox.rows.len() as u64 - failed,
            failed,
        ))
    }
}
