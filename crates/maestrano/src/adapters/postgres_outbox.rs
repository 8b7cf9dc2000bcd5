//! [`PushOutbox`] on [`PostgresStore`]: the outbox in the database that holds the links, so
//! that completing a push (link + done) is one PostgreSQL transaction.

use async_trait::async_trait;
use time::{Duration, OffsetDateTime};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::idmap::{
    Backlog, ClaimedPush, Completion, FailedPush, IdMap, IdMapError, OutboxError, PushId,
    PushIntent, PushOutbox, Realm, bounded_reason, check_claim, stored_intent, validate_lease,
    validate_limit,
};

use super::postgres::{Contended, LOCAL_KEY, PostgresStore, is_unique_violation, query_maps};

/// The columns of an intent, in the order [`read_intent`] expects.
const INTENT: &str = "class_name, local_id, provider, realm, entity, payload";

/// The outbox statements, with the table name qualified once.
#[derive(Debug)]
pub(super) struct OutboxSql {
    enqueue: String,
    claim: String,
    lock: String,
    delete: String,
    reschedule: String,
    requeue: String,
    quarantine: String,
    fail: String,
    failed: String,
    discard: String,
    backlog: String,
    erase: String,
}

impl OutboxSql {
    pub(super) fn new(p: &str) -> Self {
        let t = format!("{p}maestrano_push_outbox");
        Self {
            // One statement: a new push, or the record's pending push with the newer payload
            // (a failed one back to pending with its attempts reset).
            enqueue: format!(
                "INSERT INTO {t} AS o ({INTENT}, version, not_before)
                 VALUES ($1, $2, $3, $4, $5, $6, 1, $7)
                 ON CONFLICT (class_name, local_id, provider, realm, entity) DO UPDATE SET
                     payload = EXCLUDED.payload,
                     version = o.version + 1,
                     attempts = CASE WHEN o.failed_at IS NULL THEN o.attempts ELSE 0 END,
                     not_before = LEAST(o.not_before, EXCLUDED.not_before),
                     failed_at = NULL,
                     reason = NULL
                 RETURNING id"
            ),
            // SKIP LOCKED: concurrent claims take disjoint rows; a row another claim updated
            // meanwhile is re-checked against the WHERE (its lease is then in the future).
            claim: format!(
                "UPDATE {t} SET claim = claim + 1, attempts = attempts + 1, lease_until = $2
                 WHERE id IN (
                     SELECT id FROM {t}
                     WHERE failed_at IS NULL AND not_before <= $1
                       AND (lease_until IS NULL OR lease_until <= $1)
                       AND ($4::text IS NULL OR provider = $4)
                     ORDER BY not_before, id LIMIT $3
                     FOR UPDATE SKIP LOCKED)
                 RETURNING id, claim, version, attempts, not_before, {INTENT}"
            ),
            lock: format!(
                "SELECT claim, failed_at IS NOT NULL, version FROM {t} WHERE id = $1 FOR UPDATE"
            ),
            delete: format!("DELETE FROM {t} WHERE id = $1"),
            reschedule: format!("UPDATE {t} SET lease_until = NULL, not_before = $2 WHERE id = $1"),
            // The newer version starts its own count of attempts.
            requeue: format!(
                "UPDATE {t} SET lease_until = NULL, not_before = $2, attempts = 0 WHERE id = $1"
            ),
            quarantine: format!(
                "UPDATE {t} SET lease_until = NULL, failed_at = $2, reason = $3 WHERE id = $1"
            ),
            // A newer version enqueued while this one was in flight gets its turn instead.
            fail: format!(
                "UPDATE {t} SET
                     lease_until = NULL,
                     failed_at = CASE WHEN version = $2::bigint THEN $3::timestamptz END,
                     reason = CASE WHEN version = $2::bigint THEN $4::text END,
                     attempts = CASE WHEN version = $2::bigint THEN attempts ELSE 0 END,
                     not_before =
                         CASE WHEN version = $2::bigint THEN not_before ELSE $3::timestamptz END
                 WHERE id = $1"
            ),
            failed: format!(
                "SELECT id, attempts, reason, failed_at, {INTENT} FROM {t}
                 WHERE provider = $1 AND realm = $2 AND failed_at IS NOT NULL
                 ORDER BY failed_at, id LIMIT $3"
            ),
            discard: format!("DELETE FROM {t} WHERE id = $1 AND failed_at IS NOT NULL"),
            erase: format!(
                "DELETE FROM {t} WHERE provider = $1 AND ($2::text IS NULL OR realm = $2)"
            ),
            backlog: format!(
                "SELECT count(*) FILTER (WHERE failed_at IS NULL),
                        count(*) FILTER (WHERE failed_at IS NOT NULL)
                 FROM {t}"
            ),
        }
    }
}

fn store(operation: &'static str) -> impl Fn(tokio_postgres::Error) -> OutboxError {
    move |e| IdMapError::store(operation, e).into()
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn read_intent(row: &Row, at: usize) -> Result<PushIntent, OutboxError> {
    let get = |i: usize| -> Result<String, OutboxError> {
        row.try_get(at + i)
            .map_err(|e| IdMapError::store("read a push", e).into())
    };
    stored_intent((get(0)?, get(1)?), (get(2)?, get(3)?), get(4)?, &get(5)?)
}

fn get<'a, T: tokio_postgres::types::FromSql<'a>>(
    row: &'a Row,
    idx: usize,
) -> Result<T, OutboxError> {
    row.try_get(idx)
        .map_err(|e| IdMapError::store("read a push", e).into())
}

impl PostgresStore {
    /// Fails push `id`, whose stored row could not be read, with the reason.
    async fn quarantine(
        &self,
        client: &deadpool_postgres::Object,
        id: PushId,
        e: &OutboxError,
        now: OffsetDateTime,
    ) -> Result<(), OutboxError> {
        tracing::warn!(push = %id, error = %e, "stored push unreadable; failed");
        let err = store("fail an unreadable push");
        let reason = bounded_reason(&format!("the stored push is unreadable: {e}"));
        let stmt = client
            .prepare_cached(&self.outbox.quarantine)
            .await
            .map_err(&err)?;
        client
            .execute(&stmt, &[&id.get(), &now, &reason])
            .await
            .map_err(&err)?;
        Ok(())
    }

    /// Runs `f` in a transaction that holds push `push`'s row, once its claim is checked;
    /// `f` gets the row's current version.
    async fn with_claim<T>(
        &self,
        operation: &'static str,
        push: &ClaimedPush,
        f: impl AsyncFnOnce(&deadpool_postgres::Transaction<'_>, u64) -> Result<T, OutboxError>,
    ) -> Result<T, OutboxError> {
        let err = store(operation);
        let mut client = self.client(operation).await?;
        let tx = client.transaction().await.map_err(&err)?;
        let stmt = tx.prepare_cached(&self.outbox.lock).await.map_err(&err)?;
        let row = tx.query_opt(&stmt, &[&push.id.get()]).await.map_err(&err)?;
        let found = row
            .as_ref()
            .map(|r| -> Result<_, OutboxError> {
                Ok((count(get(r, 0)?), get::<bool>(r, 1)?, count(get(r, 2)?)))
            })
            .transpose()?;
        check_claim(push, found.map(|(claim, failed, _)| (claim, failed)))?;
        let version = found.map_or(0, |(_, _, v)| v);
        let out = f(&tx, version).await?;
        tx.commit().await.map_err(&err)?;
        Ok(out)
    }

    /// Links `map` inside `tx`; on a conflict, says which link is in the way (read after
    /// the transaction is gone, as a unique violation aborts it).
    async fn link_in(
        &self,
        tx: &deadpool_postgres::Transaction<'_>,
        map: &IdMap,
    ) -> Result<Result<(), Conflict>, OutboxError> {
        let err = store("complete a push");
        let upsert = tx.prepare_cached(&self.sql.upsert).await.map_err(&err)?;
        let (local, remote) = (&map.local, &map.remote);
        let params: [&(dyn ToSql + Sync); 11] = [
            &local.class_name(),
            &local.local_id(),
            &remote.provider(),
            &remote.realm().realm(),
            &remote.entity(),
            &remote.remote_id(),
            &map.created_at,
            &map.updated_at,
            &map.pushed_to_remote_at,
            &map.pulled_from_remote_at,
            &map.metadata,
        ];
        match tx.query_opt(&upsert, &params).await {
            Ok(Some(_)) => Ok(Ok(())),
            Ok(None) => Ok(Err(Conflict::Remote)),
            Err(e) if is_unique_violation(&e, LOCAL_KEY) => Ok(Err(Conflict::Local)),
            Err(e) => Err(err(e)),
        }
    }

    /// The error for a link that conflicted inside a transaction now rolled back.
    async fn conflict(&self, map: IdMap, conflict: Conflict) -> OutboxError {
        let client = match self.client("complete a push").await {
            Ok(c) => c,
            Err(e) => return e.into(),
        };
        let (local, remote) = (&map.local, &map.remote);
        let found = match conflict {
            Conflict::Remote => {
                query_maps(
                    &client,
                    "complete a push",
                    &self.sql.find_remote,
                    &[
                        &remote.provider(),
                        &remote.realm().realm(),
                        &remote.entity(),
                        &remote.remote_id(),
                    ],
                )
                .await
            }
            Conflict::Local => {
                query_maps(
                    &client,
                    "complete a push",
                    &self.sql.find_local_key,
                    &[
                        &local.class_name(),
                        &local.local_id(),
                        &remote.provider(),
                        &remote.realm().realm(),
                        &remote.entity(),
                    ],
                )
                .await
            }
        };
        match (conflict, found.map(|mut v| v.pop())) {
            (_, Err(e)) => e.into(),
            (Conflict::Remote, Ok(Some(existing))) if existing.local != map.local => {
                IdMapError::conflict(map.remote, existing.local, map.local).into()
            }
            (Conflict::Local, Ok(Some(existing))) if existing.remote != map.remote => {
                IdMapError::local_conflict(map.local, existing.remote, map.remote).into()
            }
            // The link in the way went meanwhile: nothing was written, the caller may retry.
            _ => IdMapError::store("complete a push", Contended(1)).into(),
        }
    }
}

impl PostgresStore {
    /// Enqueues `intent` inside the application's own transaction on the same database, so
    /// that the record and its push are saved together or not at all (the transactional
    /// outbox).
    ///
    /// ```no_run
    /// # async fn demo(store: maestrano::adapters::PostgresStore, pool: maestrano::adapters::deadpool_postgres::Pool, intent: maestrano::idmap::PushIntent, now: time::OffsetDateTime) -> Result<(), Box<dyn std::error::Error>> {
    /// let mut client = pool.get().await?;
    /// let tx = client.transaction().await?;
    /// tx.execute("UPDATE invoices SET title = $1 WHERE id = 42", &[&"INV-42"]).await?;
    /// store.enqueue_in_transaction(&tx, intent, now).await?;
    /// tx.commit().await?;
    /// # Ok(()) }
    /// ```
    pub async fn enqueue_in_transaction(
        &self,
        tx: &tokio_postgres::Transaction<'_>,
        intent: PushIntent,
        now: OffsetDateTime,
    ) -> Result<PushId, OutboxError> {
        let stmt = tx
            .prepare(&self.outbox.enqueue)
            .await
            .map_err(store("enqueue a push"))?;
        self.enqueue_on(tx, &stmt, &intent, now).await
    }

    async fn enqueue_on<C: tokio_postgres::GenericClient + Sync>(
        &self,
        client: &C,
        stmt: &tokio_postgres::Statement,
        intent: &PushIntent,
        now: OffsetDateTime,
    ) -> Result<PushId, OutboxError> {
        let err = store("enqueue a push");
        let payload = serde_json::to_string(intent.payload())
            .map_err(|e| IdMapError::store("encode a push payload", e))?;
        let row = client
            .query_one(
                stmt,
                &[
                    &intent.local().class_name(),
                    &intent.local().local_id(),
                    &intent.realm().provider(),
                    &intent.realm().realm(),
                    &intent.entity(),
                    &payload,
                    &now,
                ],
            )
            .await
            .map_err(&err)?;
        Ok(PushId::new(get(&row, 0)?))
    }
}

#[derive(Debug, Clone, Copy)]
enum Conflict {
    Remote,
    Local,
}

#[async_trait]
impl PushOutbox for PostgresStore {
    async fn enqueue(
        &self,
        intent: PushIntent,
        now: OffsetDateTime,
    ) -> Result<PushId, OutboxError> {
        let client = self.client("enqueue a push").await?;
        let stmt = client
            .prepare_cached(&self.outbox.enqueue)
            .await
            .map_err(store("enqueue a push"))?;
        self.enqueue_on(&**client, &stmt, &intent, now).await
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
        let err = store("claim pushes");
        let lease_until = now.saturating_add(lease);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let client = self.client("claim pushes").await?;
        let stmt = client
            .prepare_cached(&self.outbox.claim)
            .await
            .map_err(&err)?;
        let rows = client
            .query(&stmt, &[&now, &lease_until, &limit, &provider])
            .await
            .map_err(&err)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let not_before: OffsetDateTime = get(row, 4)?;
            let intent = match read_intent(row, 5) {
                Ok(intent) => intent,
                Err(e) => {
                    // One unreadable row must not block the outbox: it is failed, with why.
                    self.quarantine(&client, PushId::new(get(row, 0)?), &e, now)
                        .await?;
                    continue;
                }
            };
            out.push((
                (not_before, get::<i64>(row, 0)?),
                ClaimedPush {
                    id: PushId::new(get(row, 0)?),
                    claim: count(get(row, 1)?),
                    version: count(get(row, 2)?),
                    attempts: u32::try_from(get::<i32>(row, 3)?).unwrap_or(0),
                    lease_until,
                    intent,
                },
            ));
        }
        // RETURNING comes in no promised order.
        out.sort_by_key(|(k, _)| *k);
        Ok(out.into_iter().map(|(_, p)| p).collect())
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
        let link = link.map(IdMap::normalized);
        let conflict = std::sync::Mutex::new(None);
        let result = self
            .with_claim("complete a push", push, async |tx, version| {
                let err = store("complete a push");
                if let Some(map) = &link
                    && let Err(c) = self.link_in(tx, map).await?
                {
                    *conflict.lock().unwrap_or_else(|e| e.into_inner()) = Some(c);
                    // Returning an error drops the transaction: nothing is written.
                    return Err(IdMapError::store("complete a push", Contended(0)).into());
                }
                if version == push.version {
                    let stmt = tx.prepare_cached(&self.outbox.delete).await.map_err(&err)?;
                    tx.execute(&stmt, &[&push.id.get()]).await.map_err(&err)?;
                    Ok(Completion::Done)
                } else {
                    let stmt = tx
                        .prepare_cached(&self.outbox.requeue)
                        .await
                        .map_err(&err)?;
                    tx.execute(&stmt, &[&push.id.get(), &now])
                        .await
                        .map_err(&err)?;
                    Ok(Completion::NewerPending)
                }
            })
            .await;
        let conflict = conflict.into_inner().unwrap_or_else(|e| e.into_inner());
        match (result, conflict, link) {
            (Err(_), Some(c), Some(map)) => Err(self.conflict(map, c).await),
            (result, _, _) => result,
        }
    }

    async fn retry_later(
        &self,
        push: &ClaimedPush,
        at: OffsetDateTime,
        _now: OffsetDateTime,
    ) -> Result<(), OutboxError> {
        self.with_claim("reschedule a push", push, async |tx, _| {
            let err = store("reschedule a push");
            let stmt = tx
                .prepare_cached(&self.outbox.reschedule)
                .await
                .map_err(&err)?;
            tx.execute(&stmt, &[&push.id.get(), &at])
                .await
                .map_err(&err)?;
            Ok(())
        })
        .await
    }

    async fn fail(
        &self,
        push: &ClaimedPush,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<(), OutboxError> {
        let reason = bounded_reason(reason);
        let version = i64::try_from(push.version).unwrap_or(i64::MAX);
        self.with_claim("fail a push", push, async |tx, _| {
            let err = store("fail a push");
            let stmt = tx.prepare_cached(&self.outbox.fail).await.map_err(&err)?;
            tx.execute(&stmt, &[&push.id.get(), &version, &now, &reason])
                .await
                .map_err(&err)?;
            Ok(())
        })
        .await
    }

    async fn failed(&self, realm: &Realm, limit: usize) -> Result<Vec<FailedPush>, OutboxError> {
        validate_limit(limit)?;
        let err = store("list failed pushes");
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let client = self.client("list failed pushes").await?;
        let stmt = client
            .prepare_cached(&self.outbox.failed)
            .await
            .map_err(&err)?;
        let rows = client
            .query(&stmt, &[&realm.provider(), &realm.realm(), &limit])
            .await
            .map_err(&err)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let id = PushId::new(get(row, 0)?);
            let Ok(intent) = read_intent(row, 4) else {
                tracing::warn!(push = %id, "failed push unreadable; discard it by id");
                continue;
            };
            out.push(FailedPush {
                id,
                attempts: u32::try_from(get::<i32>(row, 1)?).unwrap_or(0),
                reason: get::<Option<String>>(row, 2)?.unwrap_or_default(),
                failed_at: get(row, 3)?,
                intent,
            });
        }
        Ok(out)
    }

    async fn discard(&self, id: PushId) -> Result<bool, OutboxError> {
        let err = store("discard a push");
        let client = self.client("discard a push").await?;
        let stmt = client
            .prepare_cached(&self.outbox.discard)
            .await
            .map_err(&err)?;
        Ok(client.execute(&stmt, &[&id.get()]).await.map_err(&err)? > 0)
    }

    async fn erase_pushes(&self, provider: &str, realm: Option<&str>) -> Result<u64, OutboxError> {
        let err = store("erase pushes");
        let client = self.client("erase pushes").await?;
        let stmt = client
            .prepare_cached(&self.outbox.erase)
            .await
            .map_err(&err)?;
        client
            .execute(&stmt, &[&provider, &realm])
            .await
            .map_err(&err)
    }

    async fn backlog(&self) -> Result<Backlog, OutboxError> {
        let err = store("count pushes");
        let client = self.client("count pushes").await?;
        let stmt = client
            .prepare_cached(&self.outbox.backlog)
            .await
            .map_err(&err)?;
        let row = client.query_one(&stmt, &[]).await.map_err(&err)?;
        Ok(Backlog::new(count(get(&row, 0)?), count(get(&row, 1)?)))
    }
}
