//! [`PushOutbox`] on [`SqliteStore`]: the outbox in the database file that holds the links,
//! so that completing a push (link + done) is one SQLite transaction.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};
use time::{Duration, OffsetDateTime};

use crate::idmap::{
    Backlog, ClaimedPush, Completion, FailedPush, IdMap, IdMapError, OutboxError, PushId,
    PushIntent, PushOutbox, Realm, bounded_reason, check_claim, stored_intent, validate_lease,
    validate_limit,
};

use super::sqlite::{SqliteStore, from_micros, link_in, micros, store_error};

/// The columns of an intent, in the order [`read_intent`] expects, from column `at` on.
const INTENT: &str = "class_name, local_id, provider, realm, entity, payload";

fn read_intent(row: &Row<'_>, at: usize) -> rusqlite::Result<Result<PushIntent, OutboxError>> {
    Ok(stored_intent(
        (row.get(at)?, row.get(at + 1)?),
        (row.get(at + 2)?, row.get(at + 3)?),
        row.get(at + 4)?,
        &row.get::<_, String>(at + 5)?,
    ))
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn time_of(micros: i64) -> Result<OffsetDateTime, OutboxError> {
    from_micros(micros).map_err(|e| IdMapError::store("read a push", e).into())
}

/// The stored `(claim, failed)` of push `id`, inside the caller's transaction.
fn claim_of(conn: &Connection, id: PushId) -> Result<Option<(u64, bool)>, IdMapError> {
    conn.prepare_cached(
        "SELECT claim, failed_at IS NOT NULL FROM maestrano_push_outbox WHERE id = ?1",
    )
    .and_then(|mut s| {
        s.query_row([id.get()], |r| Ok((count(r.get(0)?), r.get(1)?)))
            .optional()
    })
    .map_err(|e| store_error("read a push", e))
}

/// Runs `f` on push `push` inside an immediate transaction, once its claim is checked.
fn with_claim<T>(
    conn: &mut Connection,
    push: &ClaimedPush,
    f: impl FnOnce(&Connection) -> Result<T, OutboxError>,
) -> Result<T, OutboxError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| store_error("update a push", e))?;
    check_claim(push, claim_of(&tx, push.id)?)?;
    let out = f(&tx)?;
    tx.commit().map_err(|e| store_error("update a push", e))?;
    Ok(out)
}

/// One statement, atomic across processes: a new push, or the record's pending push with the
/// newer payload (a failed one back to pending with its attempts reset).
fn enqueue_on(
    conn: &Connection,
    intent: &PushIntent,
    payload: &str,
    now: i64,
) -> rusqlite::Result<i64> {
    conn.prepare_cached(&format!(
        "INSERT INTO maestrano_push_outbox ({INTENT}, version, not_before)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, ?7)
         ON CONFLICT (class_name, local_id, provider, realm, entity) DO UPDATE SET
             payload = excluded.payload,
             version = version + 1,
             attempts = CASE WHEN failed_at IS NULL THEN attempts ELSE 0 END,
             not_before = min(not_before, excluded.not_before),
             failed_at = NULL,
             reason = NULL
         RETURNING id"
    ))?
    .query_row(
        params![
            intent.local().class_name(),
            intent.local().local_id(),
            intent.realm().provider(),
            intent.realm().realm(),
            intent.entity(),
            payload,
            now
        ],
        |r| r.get::<_, i64>(0),
    )
}

fn encode_payload(intent: &PushIntent) -> Result<String, OutboxError> {
    serde_json::to_string(intent.payload())
        .map_err(|e| IdMapError::store("encode a push payload", e).into())
}

impl SqliteStore {
    /// Fails push `id`, whose stored row could not be read, with the reason.
    async fn quarantine(&self, id: PushId, e: &OutboxError, now: i64) -> Result<(), OutboxError> {
        tracing::warn!(push = %id, error = %e, "stored push unreadable; failed");
        let reason = bounded_reason(&format!("the stored push is unreadable: {e}"));
        self.query("fail an unreadable push", move |conn| {
            conn.prepare_cached(
                "UPDATE maestrano_push_outbox
                 SET lease_until = NULL, failed_at = ?2, reason = ?3 WHERE id = ?1",
            )?
            .execute(params![id.get(), now, reason])
        })
        .await?;
        Ok(())
    }

    /// Enqueues `intent` inside the application's own transaction on the same database file,
    /// so that the record and its push are saved together or not at all (the transactional
    /// outbox). The store must have opened the file first (it creates the table).
    ///
    /// ```no_run
    /// # fn demo(intent: maestrano::idmap::PushIntent, now: time::OffsetDateTime) -> Result<(), Box<dyn std::error::Error>> {
    /// use maestrano::adapters::{SqliteStore, rusqlite};
    ///
    /// let mut conn = rusqlite::Connection::open("/var/lib/app/app.sqlite3")?;
    /// let tx = conn.transaction()?;
    /// tx.execute("UPDATE invoices SET title = ?1 WHERE id = 42", ["INV-42"])?;
    /// SqliteStore::enqueue_in_transaction(&tx, intent, now)?;
    /// tx.commit()?;
    /// # Ok(()) }
    /// ```
    pub fn enqueue_in_transaction(
        tx: &rusqlite::Transaction<'_>,
        intent: PushIntent,
        now: OffsetDateTime,
    ) -> Result<PushId, OutboxError> {
        let payload = encode_payload(&intent)?;
        let id = enqueue_on(tx, &intent, &payload, micros(now)?)
            .map_err(|e| store_error("enqueue a push", e))?;
        Ok(PushId::new(id))
    }
}

#[async_trait]
impl PushOutbox for SqliteStore {
    async fn enqueue(
        &self,
        intent: PushIntent,
        now: OffsetDateTime,
    ) -> Result<PushId, OutboxError> {
        let now = micros(now)?;
        let payload = encode_payload(&intent)?;
        let id = self
            .query("enqueue a push", move |conn| {
                enqueue_on(conn, &intent, &payload, now)
            })
            .await?;
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
        let lease_until = micros(now.saturating_add(lease))?;
        let now = micros(now)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let provider = provider.map(str::to_owned);
        // One UPDATE: SQLite's write lock makes it exclusive across every process on the
        // file, so a push goes to one claimant.
        let rows = self
            .query("claim pushes", move |conn| {
                let mut stmt = conn.prepare_cached(&format!(
                    "UPDATE maestrano_push_outbox
                     SET claim = claim + 1, attempts = attempts + 1, lease_until = ?2
                     WHERE id IN (
                         SELECT id FROM maestrano_push_outbox
                         WHERE failed_at IS NULL AND not_before <= ?1
                           AND (lease_until IS NULL OR lease_until <= ?1)
                           AND (?4 IS NULL OR provider = ?4)
                         ORDER BY not_before, id LIMIT ?3)
                     RETURNING id, claim, version, attempts, not_before, {INTENT}"
                ))?;
                let rows = stmt.query_map(params![now, lease_until, limit, provider], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        count(r.get(1)?),
                        count(r.get(2)?),
                        r.get::<_, u32>(3)?,
                        r.get::<_, i64>(4)?,
                        read_intent(r, 5)?,
                    ))
                })?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?;
        let lease_until = time_of(lease_until)?;
        let mut out = Vec::with_capacity(rows.len());
        let mut order = Vec::with_capacity(rows.len());
        for (id, claim, version, attempts, not_before, intent) in rows {
            let intent = match intent {
                Ok(intent) => intent,
                Err(e) => {
                    // One unreadable row must not block the outbox: it is failed, with why.
                    self.quarantine(PushId::new(id), &e, now).await?;
                    continue;
                }
            };
            order.push((not_before, id));
            out.push(ClaimedPush {
                id: PushId::new(id),
                claim,
                version,
                attempts,
                lease_until,
                intent,
            });
        }
        // RETURNING comes in no promised order.
        let mut both: Vec<_> = order.into_iter().zip(out).collect();
        both.sort_by_key(|(k, _)| *k);
        Ok(both.into_iter().map(|(_, p)| p).collect())
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
        let now = micros(now)?;
        let push = push.clone();
        self.call("complete a push", move |conn| {
            with_claim(conn, &push, |tx| {
                if let Some(map) = link {
                    link_in(tx, map)?;
                }
                let err = |e| store_error("complete a push", e);
                let version: i64 = tx
                    .query_row(
                        "SELECT version FROM maestrano_push_outbox WHERE id = ?1",
                        [push.id.get()],
                        |r| r.get(0),
                    )
                    .map_err(err)?;
                if count(version) == push.version {
                    tx.prepare_cached("DELETE FROM maestrano_push_outbox WHERE id = ?1")
                        .and_then(|mut s| s.execute([push.id.get()]))
                        .map_err(err)?;
                    Ok(Completion::Done)
                } else {
                    // The newer version starts its own count of attempts.
                    tx.prepare_cached(
                        "UPDATE maestrano_push_outbox
                         SET lease_until = NULL, not_before = ?2, attempts = 0
                         WHERE id = ?1",
                    )
                    .and_then(|mut s| s.execute(params![push.id.get(), now]))
                    .map_err(err)?;
                    Ok(Completion::NewerPending)
                }
            })
        })
        .await
    }

    async fn retry_later(
        &self,
        push: &ClaimedPush,
        at: OffsetDateTime,
        _now: OffsetDateTime,
    ) -> Result<(), OutboxError> {
        let at = micros(at)?;
        let push = push.clone();
        self.call("reschedule a push", move |conn| {
            with_claim(conn, &push, |tx| {
                tx.prepare_cached(
                    "UPDATE maestrano_push_outbox SET lease_until = NULL, not_before = ?2
                     WHERE id = ?1",
                )
                .and_then(|mut s| s.execute(params![push.id.get(), at]))
                .map_err(|e| store_error("reschedule a push", e))?;
                Ok(())
            })
        })
        .await
    }

    async fn fail(
        &self,
        push: &ClaimedPush,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<(), OutboxError> {
        let now = micros(now)?;
        let reason = bounded_reason(reason);
        let push = push.clone();
        self.call("fail a push", move |conn| {
            with_claim(conn, &push, |tx| {
                // A newer version enqueued while this one was in flight gets its turn instead.
                tx.prepare_cached(
                    "UPDATE maestrano_push_outbox SET
                         lease_until = NULL,
                         failed_at = CASE WHEN version = ?2 THEN ?3 END,
                         reason = CASE WHEN version = ?2 THEN ?4 END,
                         attempts = CASE WHEN version = ?2 THEN attempts ELSE 0 END,
                         not_before = CASE WHEN version = ?2 THEN not_before ELSE ?3 END
                     WHERE id = ?1",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        push.id.get(),
                        i64::try_from(push.version).unwrap_or(i64::MAX),
                        now,
                        reason
                    ])
                })
                .map_err(|e| store_error("fail a push", e))?;
                Ok(())
            })
        })
        .await
    }

    async fn failed(&self, realm: &Realm, limit: usize) -> Result<Vec<FailedPush>, OutboxError> {
        validate_limit(limit)?;
        let realm = realm.clone();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .query("list failed pushes", move |conn| {
                let mut stmt = conn.prepare_cached(&format!(
                    "SELECT id, attempts, reason, failed_at, {INTENT} FROM maestrano_push_outbox
                     WHERE provider = ?1 AND realm = ?2 AND failed_at IS NOT NULL
                     ORDER BY failed_at, id LIMIT ?3"
                ))?;
                let rows =
                    stmt.query_map(params![realm.provider(), realm.realm(), limit], |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, u32>(1)?,
                            r.get::<_, Option<String>>(2)?,
                            r.get::<_, i64>(3)?,
                            read_intent(r, 4)?,
                        ))
                    })?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for (id, attempts, reason, failed_at, intent) in rows {
            let Ok(intent) = intent else {
                tracing::warn!(push = %PushId::new(id), "failed push unreadable; discard it by id");
                continue;
            };
            out.push(FailedPush {
                id: PushId::new(id),
                intent,
                attempts,
                reason: reason.unwrap_or_default(),
                failed_at: time_of(failed_at)?,
            });
        }
        Ok(out)
    }

    async fn discard(&self, id: PushId) -> Result<bool, OutboxError> {
        let n = self
            .query("discard a push", move |conn| {
                conn.prepare_cached(
                    "DELETE FROM maestrano_push_outbox WHERE id = ?1 AND failed_at IS NOT NULL",
                )?
                .execute([id.get()])
            })
            .await?;
        Ok(n > 0)
    }

    async fn erase_pushes(&self, provider: &str, realm: Option<&str>) -> Result<u64, OutboxError> {
        let (provider, realm) = (provider.to_owned(), realm.map(str::to_owned));
        let n = self
            .query("erase pushes", move |conn| {
                conn.prepare_cached(
                    "DELETE FROM maestrano_push_outbox
                     WHERE provider = ?1 AND (?2 IS NULL OR realm = ?2)",
                )?
                .execute(rusqlite::params![provider, realm])
            })
            .await?;
        Ok(n as u64)
    }

    async fn backlog(&self) -> Result<Backlog, OutboxError> {
        let (pending, failed) = self
            .query("count pushes", |conn| {
                conn.prepare_cached(
                    "SELECT count(*) FILTER (WHERE failed_at IS NULL),
                            count(*) FILTER (WHERE failed_at IS NOT NULL)
                     FROM maestrano_push_outbox",
                )?
                .query_row([], |r| Ok((count(r.get(0)?), count(r.get(1)?))))
            })
            .await?;
        Ok(Backlog::new(pending, failed))
    }
}
