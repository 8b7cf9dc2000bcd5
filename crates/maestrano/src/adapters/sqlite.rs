//! [`SqliteStore`]: the identity map, the single-use store and the delivery ledger in SQLite
//! (feature `sqlite`).
//!
//! SQLite is compiled into the crate (rusqlite's `bundled`), so no system library is needed.
//! The store is a file (shared by every process that opens it: several application instances
//! on one host, or on a volume with working locks) or a private in-memory database.
//!
//! Opening creates or migrates the schema (its version is kept in
//! `maestrano_schema_migrations`), switches a file to WAL and sets a busy timeout, so readers
//! never block the writer and writers from other processes wait their turn instead of failing.
//! Every statement is prepared with bound parameters.
//!
//! rusqlite is synchronous: each call runs on Tokio's blocking pool when a Tokio runtime is
//! running (on the calling thread otherwise), one at a time on the store's connection.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, TransactionBehavior, params};
use time::{Duration, OffsetDateTime};

use crate::config::{CachedConfig, ConfigCache, ConfigCacheError};
use crate::idmap::store::{validate_batch, validate_field};
use crate::idmap::{
    IdMap, IdMapError, IdMapPage, IdMapStore, LocalRef, PageRequest, Realm, RemoteRef,
};
use crate::ports::{OnceKey, SingleUseError, SingleUseStore};
use crate::webhook::{DeliveryKey, DeliveryOutcome, DeliveryRecord, DeliveryStep, DeliveryStore};

use super::{DEFAULT_PURGE_INTERVAL, Migration, SchemaTooNew, cache_error, single_use_error};

/// The schema, oldest step first. Steps are append-only: a released step never changes.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "id maps and replay cache",
        sql: "
        CREATE TABLE maestrano_id_maps (
            id INTEGER PRIMARY KEY,
            class_name TEXT NOT NULL,
            local_id TEXT NOT NULL,
            provider TEXT NOT NULL,
            realm TEXT NOT NULL,
            entity TEXT NOT NULL,
            remote_id TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            pushed_to_remote_at INTEGER,
            pulled_from_remote_at INTEGER,
            metadata TEXT,
            CONSTRAINT maestrano_id_maps_remote_key
                UNIQUE (provider, realm, entity, remote_id),
            CONSTRAINT maestrano_id_maps_local_key
                UNIQUE (class_name, local_id, provider, realm, entity),
            CONSTRAINT maestrano_id_maps_field_lengths CHECK (
                length(CAST(class_name AS BLOB)) BETWEEN 1 AND 255
                AND length(CAST(local_id AS BLOB)) BETWEEN 1 AND 255
                AND length(CAST(provider AS BLOB)) BETWEEN 1 AND 255
                AND length(CAST(realm AS BLOB)) BETWEEN 1 AND 255
                AND length(CAST(entity AS BLOB)) BETWEEN 1 AND 255
                AND length(CAST(remote_id AS BLOB)) BETWEEN 1 AND 255
            )
        );
        CREATE TABLE maestrano_replay_cache (
            issuer TEXT NOT NULL,
            assertion_id TEXT NOT NULL,
            expires_at INTEGER NOT NULL,
            PRIMARY KEY (issuer, assertion_id)
        ) WITHOUT ROWID;
        CREATE INDEX maestrano_replay_cache_expires_at ON maestrano_replay_cache (expires_at);
    ",
    },
    Migration {
        version: 2,
        name: "one single-use store for assertions and pending login requests",
        sql: "
            CREATE TABLE maestrano_single_use (
                purpose TEXT NOT NULL,
                scope TEXT NOT NULL,
                id TEXT NOT NULL,
                expires_at INTEGER NOT NULL,
                PRIMARY KEY (purpose, scope, id)
            ) WITHOUT ROWID;
            CREATE INDEX maestrano_single_use_expires_at ON maestrano_single_use (expires_at);
            INSERT INTO maestrano_single_use (purpose, scope, id, expires_at)
                SELECT 'assertion', issuer, assertion_id, expires_at FROM maestrano_replay_cache;
            DROP TABLE maestrano_replay_cache;
        ",
    },
    Migration {
        version: 3,
        name: "the last good configuration document",
        sql: "
            CREATE TABLE maestrano_config_cache (
                name TEXT PRIMARY KEY,
                document BLOB NOT NULL,
                saved_at INTEGER NOT NULL
            ) WITHOUT ROWID;
        ",
    },
    Migration {
        version: 4,
        name: "the push outbox",
        // AUTOINCREMENT: an id is never reused, so a stale claim never matches a new push.
        sql: "
            CREATE TABLE maestrano_push_outbox (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                class_name TEXT NOT NULL,
                local_id TEXT NOT NULL,
                provider TEXT NOT NULL,
                realm TEXT NOT NULL,
                entity TEXT NOT NULL,
                payload TEXT NOT NULL,
                version INTEGER NOT NULL,
                claim INTEGER NOT NULL DEFAULT 0,
                attempts INTEGER NOT NULL DEFAULT 0,
                not_before INTEGER NOT NULL,
                lease_until INTEGER,
                failed_at INTEGER,
                reason TEXT,
                CONSTRAINT maestrano_push_outbox_key
                    UNIQUE (class_name, local_id, provider, realm, entity)
            );
            CREATE INDEX maestrano_push_outbox_due
                ON maestrano_push_outbox (not_before, id) WHERE failed_at IS NULL;
            CREATE INDEX maestrano_push_outbox_failed
                ON maestrano_push_outbox (provider, realm, failed_at, id)
                WHERE failed_at IS NOT NULL;
        ",
    },
    Migration {
        version: 5,
        name: "the delivery ledger",
        sql: "
            CREATE TABLE maestrano_deliveries (
                marketplace TEXT NOT NULL,
                grp TEXT NOT NULL,
                kind TEXT NOT NULL,
                connec_id TEXT NOT NULL,
                record TEXT NOT NULL,
                PRIMARY KEY (marketplace, grp, kind, connec_id)
            ) WITHOUT ROWID;
        ",
    },
];

/// The columns of an [`IdMap`] row, in the order [`read_row`] expects.
const COLUMNS: &str = "class_name, local_id, provider, realm, entity, remote_id, created_at, \
                       updated_at, pushed_to_remote_at, pulled_from_remote_at, metadata";

/// How long a writer waits for another process's write lock before failing.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// A stored row could not be read back as a link.
#[derive(Debug, thiserror::Error)]
#[error("stored link is malformed: {0}")]
struct CorruptRow(String);

/// The identity map ([`IdMapStore`]) and the [`SingleUseStore`] (used assertions, pending
/// login requests) in SQLite. Every process that opens the same file shares both: two
/// application instances on one host complete each other's logins.
///
/// ```no_run
/// # fn demo() -> Result<(), maestrano::Error> {
/// use std::sync::Arc;
/// use maestrano::adapters::SqliteStore;
/// use maestrano::idmap::IdMapStore;
/// use maestrano::ports::SingleUseStore;
///
/// let store = Arc::new(SqliteStore::open("/var/lib/app/maestrano.sqlite3")?);
/// let id_maps: Arc<dyn IdMapStore> = store.clone();
/// let single_use: Arc<dyn SingleUseStore> = store;
/// # Ok(()) }
/// ```
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    path: Option<PathBuf>,
    purge: Arc<Mutex<Purge>>,
}

#[derive(Debug)]
struct Purge {
    interval: Duration,
    last: Option<OffsetDateTime>,
}

impl Purge {
    /// Whether a purge is due at `now`; if so, records it as done.
    fn due(&mut self, now: OffsetDateTime) -> bool {
        let due = self.last.is_none_or(|last| now - last >= self.interval);
        if due {
            self.last = Some(now);
        }
        due
    }
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating it if needed) the database file at `path`, creates or migrates the
    /// schema and switches the file to WAL. Blocking: call it at startup.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, IdMapError> {
        let path = path.as_ref();
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI,
        )
        .map_err(|e| IdMapError::store("open the database", e))?;
        Self::setup(conn, Some(path.to_owned()))
    }

    /// A private database in memory, gone when the store is dropped.
    pub fn open_in_memory() -> Result<Self, IdMapError> {
        let conn =
            Connection::open_in_memory().map_err(|e| IdMapError::store("open the database", e))?;
        Self::setup(conn, None)
    }

    fn setup(mut conn: Connection, path: Option<PathBuf>) -> Result<Self, IdMapError> {
        configure(&conn).map_err(|e| IdMapError::store("configure the database", e))?;
        migrate(&mut conn, MIGRATIONS)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            path,
            purge: Arc::new(Mutex::new(Purge {
                interval: DEFAULT_PURGE_INTERVAL,
                last: None,
            })),
        })
    }

    /// Sets how often [`SingleUseStore::insert_if_absent`] also deletes expired entries, measured
    /// on the `now` it is given
    /// ([`DEFAULT_PURGE_INTERVAL`](super::DEFAULT_PURGE_INTERVAL) unless set).
    pub fn with_purge_interval(self, interval: Duration) -> Self {
        lock(&self.purge).interval = interval;
        self
    }

    /// The schema version of the database.
    pub async fn schema_version(&self) -> Result<u32, IdMapError> {
        self.call("read the schema version", |conn| {
            current_version(conn).map_err(|e| IdMapError::store("read the schema version", e))
        })
        .await
    }

    /// Deletes the single-use entries that have expired at `now`; returns how many.
    pub async fn purge_expired(&self, now: OffsetDateTime) -> Result<u64, SingleUseError> {
        let now = micros(now).map_err(single_use_error)?;
        self.call("purge the single-use store", move |conn| {
            purge(conn, now).map_err(|e| IdMapError::store("purge the single-use store", e))
        })
        .await
        .map_err(single_use_error)
    }

    /// Runs `f` on the connection: on Tokio's blocking pool when a Tokio runtime is running,
    /// on this thread otherwise.
    pub(super) async fn call<T, E, F>(&self, operation: &'static str, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<IdMapError> + Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, E> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        let job = move || f(&mut lock(&conn));
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => runtime
                .spawn_blocking(job)
                .await
                .map_err(|e| E::from(IdMapError::store(operation, e)))?,
            Err(_) => job(),
        }
    }

    /// [`call`](Self::call) for a query that only fails in SQLite.
    pub(super) async fn query<T, F>(&self, operation: &'static str, f: F) -> Result<T, IdMapError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        self.call(operation, move |conn| {
            f(conn).map_err(|e| store_error(operation, e))
        })
        .await
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic inside a transaction rolls it back when the transaction is dropped, so a
    // poisoned connection is still consistent.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // `memory` for an in-memory database, `wal` for a file.
    let _mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    // Durable across application crashes in WAL mode; a power loss may drop the last commits.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

fn current_version(conn: &Connection) -> rusqlite::Result<u32> {
    let exists: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1)",
        ["maestrano_schema_migrations"],
        |r| r.get(0),
    )?;
    if !exists {
        return Ok(0);
    }
    conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM maestrano_schema_migrations",
        [],
        |r| r.get(0),
    )
}

/// Brings the schema to the last of `migrations`, in one immediate transaction so that two
/// processes opening the same new file do not both create it.
fn migrate(conn: &mut Connection, migrations: &[Migration]) -> Result<u32, IdMapError> {
    let err = |e| IdMapError::store("migrate the schema", e);
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(err)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS maestrano_schema_migrations (
             version INTEGER PRIMARY KEY,
             name TEXT NOT NULL
         )",
    )
    .map_err(err)?;
    let found = current_version(&tx).map_err(err)?;
    let supported = migrations.last().map_or(0, |m| m.version);
    if found > supported {
        return Err(IdMapError::store(
            "migrate the schema",
            SchemaTooNew { found, supported },
        ));
    }
    for m in migrations.iter().filter(|m| m.version > found) {
        tx.execute_batch(m.sql).map_err(err)?;
        tx.execute(
            "INSERT INTO maestrano_schema_migrations (version, name) VALUES (?1, ?2)",
            params![m.version, m.name],
        )
        .map_err(err)?;
    }
    tx.commit().map_err(err)?;
    Ok(supported)
}

pub(super) fn store_error(operation: &'static str, e: rusqlite::Error) -> IdMapError {
    match e {
        // A row the link types refuse: report it as such rather than as SQLite's error.
        rusqlite::Error::FromSqlConversionFailure(_, _, source) => {
            IdMapError::store(operation, source)
        }
        other => IdMapError::store(operation, other),
    }
}

/// Microseconds since the Unix epoch: how timestamps are stored.
pub(super) fn micros(at: OffsetDateTime) -> Result<i64, IdMapError> {
    i64::try_from(at.unix_timestamp_nanos() / 1_000)
        .map_err(|e| IdMapError::store("convert a timestamp", e))
}

pub(super) fn from_micros(micros: i64) -> Result<OffsetDateTime, String> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
        .map_err(|e| format!("timestamp {micros}: {e}"))
}

fn conversion(idx: usize, message: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        idx,
        rusqlite::types::Type::Text,
        Box::new(CorruptRow(message)),
    )
}

fn read_row(row: &Row<'_>) -> rusqlite::Result<IdMap> {
    let text = |i: usize| row.get::<_, String>(i);
    let time = |i: usize| -> rusqlite::Result<OffsetDateTime> {
        from_micros(row.get(i)?).map_err(|m| conversion(i, m))
    };
    let opt_time = |i: usize| -> rusqlite::Result<Option<OffsetDateTime>> {
        row.get::<_, Option<i64>>(i)?
            .map(|v| from_micros(v).map_err(|m| conversion(i, m)))
            .transpose()
    };
    let local = LocalRef::new(text(0)?, text(1)?).map_err(|e| conversion(0, e.to_string()))?;
    let realm = Realm::new(text(2)?, text(3)?).map_err(|e| conversion(2, e.to_string()))?;
    let remote =
        RemoteRef::new(realm, text(4)?, text(5)?).map_err(|e| conversion(4, e.to_string()))?;
    let metadata = row
        .get::<_, Option<String>>(10)?
        .map(|json| serde_json::from_str(&json).map_err(|e| conversion(10, e.to_string())))
        .transpose()?;
    let mut map = IdMap::new(local, remote, time(6)?);
    map.updated_at = time(7)?;
    map.pushed_to_remote_at = opt_time(8)?;
    map.pulled_from_remote_at = opt_time(9)?;
    map.metadata = metadata;
    Ok(map)
}

fn collect(
    stmt: &mut rusqlite::CachedStatement<'_>,
    params: impl rusqlite::Params,
) -> rusqlite::Result<Vec<IdMap>> {
    stmt.query_map(params, read_row)?.collect()
}

fn find_by_remote(conn: &Connection, remote: &RemoteRef) -> rusqlite::Result<Option<IdMap>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM maestrano_id_maps
         WHERE provider = ?1 AND realm = ?2 AND entity = ?3 AND remote_id = ?4"
    ))?
    .query_row(
        params![
            remote.provider(),
            remote.realm().realm(),
            remote.entity(),
            remote.remote_id()
        ],
        read_row,
    )
    .optional()
}

/// The stored row's values for the columns a link writes.
struct Values {
    created_at: i64,
    updated_at: i64,
    pushed: Option<i64>,
    pulled: Option<i64>,
    metadata: Option<String>,
}

impl Values {
    fn of(map: &IdMap) -> Result<Self, IdMapError> {
        Ok(Self {
            created_at: micros(map.created_at)?,
            updated_at: micros(map.updated_at)?,
            pushed: map.pushed_to_remote_at.map(micros).transpose()?,
            pulled: map.pulled_from_remote_at.map(micros).transpose()?,
            metadata: map
                .metadata
                .as_ref()
                .map(serde_json::to_string)
                .transpose()
                .map_err(|e| IdMapError::store("encode metadata", e))?,
        })
    }
}

/// [`IdMapStore::link`], in an immediate transaction of its own.
fn link(conn: &mut Connection, map: IdMap) -> Result<IdMap, IdMapError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| store_error("link", e))?;
    let result = link_in(&tx, map)?;
    tx.commit().map_err(|e| store_error("link", e))?;
    Ok(result)
}

/// The body of [`IdMapStore::link`], inside the caller's immediate transaction: on an error
/// the caller drops the transaction, so nothing is written.
pub(super) fn link_in(tx: &Connection, map: IdMap) -> Result<IdMap, IdMapError> {
    let err = |e| store_error("link", e);
    let (result, values) = match find_by_remote(tx, &map.remote).map_err(err)? {
        Some(existing) if existing.local != map.local => {
            return Err(IdMapError::conflict(map.remote, existing.local, map.local));
        }
        Some(existing) => {
            let merged = existing.merged_with(&map);
            let values = Values::of(&merged)?;
            tx.prepare_cached(
                "UPDATE maestrano_id_maps
                 SET updated_at = ?5, pushed_to_remote_at = ?6, pulled_from_remote_at = ?7,
                     metadata = ?8
                 WHERE provider = ?1 AND realm = ?2 AND entity = ?3 AND remote_id = ?4",
            )
            .and_then(|mut s| {
                s.execute(params![
                    map.remote.provider(),
                    map.remote.realm().realm(),
                    map.remote.entity(),
                    map.remote.remote_id(),
                    values.updated_at,
                    values.pushed,
                    values.pulled,
                    values.metadata,
                ])
            })
            .map_err(err)?;
            (merged, None)
        }
        None => {
            let existing: Option<(String, String)> = tx
                .prepare_cached(
                    "SELECT entity, remote_id FROM maestrano_id_maps
                     WHERE class_name = ?1 AND local_id = ?2 AND provider = ?3 AND realm = ?4
                       AND entity = ?5",
                )
                .and_then(|mut s| {
                    s.query_row(
                        params![
                            map.local.class_name(),
                            map.local.local_id(),
                            map.remote.provider(),
                            map.remote.realm().realm(),
                            map.remote.entity(),
                        ],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()
                })
                .map_err(err)?;
            if let Some((entity, remote_id)) = existing {
                let existing = RemoteRef::new(map.remote.realm().clone(), entity, remote_id)
                    .map_err(|e| IdMapError::store("link", CorruptRow(e.to_string())))?;
                return Err(IdMapError::local_conflict(map.local, existing, map.remote));
            }
            let values = Values::of(&map)?;
            (map, Some(values))
        }
    };
    if let Some(v) = values {
        tx.prepare_cached(&format!(
            "INSERT INTO maestrano_id_maps ({COLUMNS})
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
        ))
        .and_then(|mut s| {
            s.execute(params![
                result.local.class_name(),
                result.local.local_id(),
                result.remote.provider(),
                result.remote.realm().realm(),
                result.remote.entity(),
                result.remote.remote_id(),
                v.created_at,
                v.updated_at,
                v.pushed,
                v.pulled,
                v.metadata,
            ])
        })
        .map_err(err)?;
    }
    Ok(result)
}

fn purge(conn: &Connection, now: i64) -> rusqlite::Result<u64> {
    let n = conn
        .prepare_cached("DELETE FROM maestrano_single_use WHERE expires_at <= ?1")?
        .execute([now])?;
    Ok(n as u64)
}

/// A JSON array of `ids`: one bound parameter that `json_each` turns into a set, however
/// many ids there are.
fn json_array(ids: &[String]) -> Result<String, IdMapError> {
    serde_json::to_string(ids).map_err(|e| IdMapError::store("encode a batch", e))
}

#[async_trait]
impl IdMapStore for SqliteStore {
    async fn links_of(&self, local: &LocalRef) -> Result<Vec<IdMap>, IdMapError> {
        let local = local.clone();
        self.query("read links", move |conn| {
            collect(
                &mut conn.prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM maestrano_id_maps
                     WHERE class_name = ?1 AND local_id = ?2
                     ORDER BY provider, realm, entity, remote_id"
                ))?,
                params![local.class_name(), local.local_id()],
            )
        })
        .await
    }

    async fn links_in(&self, local: &LocalRef, realm: &Realm) -> Result<Vec<IdMap>, IdMapError> {
        let (local, realm) = (local.clone(), realm.clone());
        self.query("read links", move |conn| {
            collect(
                &mut conn.prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM maestrano_id_maps
                     WHERE class_name = ?1 AND local_id = ?2 AND provider = ?3 AND realm = ?4
                     ORDER BY entity"
                ))?,
                params![
                    local.class_name(),
                    local.local_id(),
                    realm.provider(),
                    realm.realm()
                ],
            )
        })
        .await
    }

    async fn find_remote(&self, remote: &RemoteRef) -> Result<Option<IdMap>, IdMapError> {
        let remote = remote.clone();
        self.query("find a link", move |conn| find_by_remote(conn, &remote))
            .await
    }

    async fn find_remotes(
        &self,
        realm: &Realm,
        entity: &str,
        remote_ids: &[String],
    ) -> Result<Vec<IdMap>, IdMapError> {
        validate_field("entity", entity)?;
        validate_batch("remote_id", remote_ids)?;
        if remote_ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids = json_array(remote_ids)?;
        let (realm, entity) = (realm.clone(), entity.to_owned());
        self.query("find links", move |conn| {
            collect(
                &mut conn.prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM maestrano_id_maps
                     WHERE provider = ?1 AND realm = ?2 AND entity = ?3
                       AND remote_id IN (SELECT value FROM json_each(?4))
                     ORDER BY remote_id"
                ))?,
                params![realm.provider(), realm.realm(), entity, ids],
            )
        })
        .await
    }

    async fn find_locals(
        &self,
        class_name: &str,
        local_ids: &[String],
        realm: Option<&Realm>,
    ) -> Result<Vec<IdMap>, IdMapError> {
        validate_field("class_name", class_name)?;
        validate_batch("local_id", local_ids)?;
        if local_ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids = json_array(local_ids)?;
        let (class_name, realm) = (class_name.to_owned(), realm.cloned());
        self.query("find links", move |conn| match realm {
            None => collect(
                &mut conn.prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM maestrano_id_maps
                     WHERE class_name = ?1 AND local_id IN (SELECT value FROM json_each(?2))
                     ORDER BY local_id, provider, realm, entity, remote_id"
                ))?,
                params![class_name, ids],
            ),
            Some(realm) => collect(
                &mut conn.prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM maestrano_id_maps
                     WHERE class_name = ?1 AND local_id IN (SELECT value FROM json_each(?2))
                       AND provider = ?3 AND realm = ?4
                     ORDER BY local_id, provider, realm, entity, remote_id"
                ))?,
                params![class_name, ids, realm.provider(), realm.realm()],
            ),
        })
        .await
    }

    async fn link(&self, map: IdMap) -> Result<IdMap, IdMapError> {
        map.validate()?;
        let map = map.normalized();
        self.call("link", move |conn| link(conn, map)).await
    }

    async fn unlink(&self, remote: &RemoteRef) -> Result<bool, IdMapError> {
        let remote = remote.clone();
        self.query("unlink", move |conn| {
            let n = conn
                .prepare_cached(
                    "DELETE FROM maestrano_id_maps
                     WHERE provider = ?1 AND realm = ?2 AND entity = ?3 AND remote_id = ?4",
                )?
                .execute(params![
                    remote.provider(),
                    remote.realm().realm(),
                    remote.entity(),
                    remote.remote_id()
                ])?;
            Ok(n > 0)
        })
        .await
    }

    async fn erase(&self, provider: &str, realm: Option<&str>) -> Result<u64, IdMapError> {
        let (provider, realm) = (provider.to_owned(), realm.map(str::to_owned));
        self.query("erase links", move |conn| {
            let n = conn
                .prepare_cached(
                    "DELETE FROM maestrano_id_maps
                     WHERE provider = ?1 AND (?2 IS NULL OR realm = ?2)",
                )?
                .execute(params![provider, realm])?;
            Ok(n as u64)
        })
        .await
    }

    async fn unlink_local(
        &self,
        local: &LocalRef,
        realm: Option<&Realm>,
    ) -> Result<u64, IdMapError> {
        let (local, realm) = (local.clone(), realm.cloned());
        self.query("unlink", move |conn| {
            let n = match realm {
                None => conn
                    .prepare_cached(
                        "DELETE FROM maestrano_id_maps WHERE class_name = ?1 AND local_id = ?2",
                    )?
                    .execute(params![local.class_name(), local.local_id()])?,
                Some(realm) => conn
                    .prepare_cached(
                        "DELETE FROM maestrano_id_maps
                         WHERE class_name = ?1 AND local_id = ?2 AND provider = ?3
                           AND realm = ?4",
                    )?
                    .execute(params![
                        local.class_name(),
                        local.local_id(),
                        realm.provider(),
                        realm.realm()
                    ])?,
            };
            Ok(n as u64)
        })
        .await
    }

    async fn list(&self, realm: &Realm, page: &PageRequest) -> Result<IdMapPage, IdMapError> {
        page.validate()?;
        let (realm, after, limit) = (realm.clone(), page.after.clone(), page.limit);
        // `limit` is at most MAX_PAGE_SIZE, so it fits.
        let fetch = i64::try_from(limit + 1).unwrap_or(i64::MAX);
        let rows = self
            .query("list links", move |conn| match after {
                None => collect(
                    &mut conn.prepare_cached(&format!(
                        "SELECT {COLUMNS} FROM maestrano_id_maps
                         WHERE provider = ?1 AND realm = ?2
                         ORDER BY entity, remote_id LIMIT ?3"
                    ))?,
                    params![realm.provider(), realm.realm(), fetch],
                ),
                Some(cursor) => collect(
                    &mut conn.prepare_cached(&format!(
                        "SELECT {COLUMNS} FROM maestrano_id_maps
                         WHERE provider = ?1 AND realm = ?2 AND (entity, remote_id) > (?3, ?4)
                         ORDER BY entity, remote_id LIMIT ?5"
                    ))?,
                    params![
                        realm.provider(),
                        realm.realm(),
                        cursor.entity(),
                        cursor.remote_id(),
                        fetch
                    ],
                ),
            })
            .await?;
        Ok(IdMapPage::from_rows(rows, limit))
    }
}

#[async_trait]
impl SingleUseStore for SqliteStore {
    async fn erase_marketplace(
        &self,
        marketplace: &crate::types::MarketplaceKey,
    ) -> Result<u64, SingleUseError> {
        let scope = marketplace.to_string();
        let [a, b, c] = crate::ports::Purpose::OWNED_BY_MARKETPLACE.map(|p| p.as_str());
        self.query("erase a marketplace's single-use entries", move |conn| {
            let n = conn
                .prepare_cached(
                    "DELETE FROM maestrano_single_use
                     WHERE scope = ?1 AND purpose IN (?2, ?3, ?4)",
                )?
                .execute(params![scope, a, b, c])?;
            Ok(n as u64)
        })
        .await
        .map_err(single_use_error)
    }

    async fn insert_if_absent(
        &self,
        key: &OnceKey,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, SingleUseError> {
        let purge_due = lock(&self.purge).due(now);
        let (expires_at, now) = (
            micros(expires_at).map_err(single_use_error)?,
            micros(now).map_err(single_use_error)?,
        );
        let key = key.clone();
        self.query("record a single-use entry", move |conn| {
            if purge_due {
                purge(conn, now)?;
            }
            // One statement, atomic across every process on the file: a live entry is left
            // alone (no row returned), an expired one is replaced, a missing one inserted.
            let inserted = conn
                .prepare_cached(
                    "INSERT INTO maestrano_single_use (purpose, scope, id, expires_at)
                     VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (purpose, scope, id) DO UPDATE SET expires_at = excluded.expires_at
                     WHERE maestrano_single_use.expires_at <= ?5
                     RETURNING 1",
                )?
                .query_row(
                    params![
                        key.purpose().as_str(),
                        key.scope(),
                        key.id(),
                        expires_at,
                        now
                    ],
                    |_| Ok(()),
                )
                .optional()?;
            Ok(inserted.is_some())
        })
        .await
        .map_err(single_use_error)
    }

    async fn take(&self, key: &OnceKey, now: OffsetDateTime) -> Result<bool, SingleUseError> {
        let now = micros(now).map_err(single_use_error)?;
        let key = key.clone();
        self.query("take a single-use entry", move |conn| {
            // The row goes either way (an expired entry is worth nothing); only a live one
            // counts, and only for the one statement that deleted it.
            let live = conn
                .prepare_cached(
                    "DELETE FROM maestrano_single_use
                     WHERE purpose = ?1 AND scope = ?2 AND id = ?3
                     RETURNING expires_at > ?4",
                )?
                .query_row(
                    params![key.purpose().as_str(), key.scope(), key.id(), now],
                    |row| row.get::<_, bool>(0),
                )
                .optional()?;
            Ok(live == Some(true))
        })
        .await
        .map_err(single_use_error)
    }
}

/// The delivery ledger's records, one row per entity. Each step reads, decides and writes in
/// one `IMMEDIATE` transaction, which holds the file's write lock: two processes never decide
/// on one record at once.
#[async_trait]
impl DeliveryStore for SqliteStore {
    async fn erase(
        &self,
        marketplace: &crate::types::MarketplaceKey,
        group: Option<&str>,
    ) -> Result<u64, IdMapError> {
        let (marketplace, group) = (marketplace.to_string(), group.map(str::to_owned));
        self.query("erase deliveries", move |conn| {
            let n = conn
                .prepare_cached(
                    "DELETE FROM maestrano_deliveries
                     WHERE marketplace = ?1 AND (?2 IS NULL OR grp = ?2)",
                )?
                .execute(params![marketplace, group])?;
            Ok(n as u64)
        })
        .await
    }

    async fn apply(
        &self,
        key: &DeliveryKey,
        step: &DeliveryStep,
    ) -> Result<DeliveryOutcome, IdMapError> {
        let (key, step) = (key.clone(), step.clone());
        self.call("apply a delivery step", move |conn| {
            let err = |e| store_error("apply a delivery step", e);
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(err)?;
            let keys = params![
                key.marketplace().as_str(),
                key.group(),
                key.kind(),
                key.connec_id()
            ];
            let stored: Option<String> = tx
                .prepare_cached(
                    "SELECT record FROM maestrano_deliveries
                     WHERE marketplace = ?1 AND grp = ?2 AND kind = ?3 AND connec_id = ?4",
                )
                .and_then(|mut stmt| stmt.query_row(keys, |row| row.get(0)).optional())
                .map_err(err)?;
            let record = stored.as_deref().map(DeliveryRecord::decode).transpose()?;
            let (outcome, changed) = step.run(record);
            if let Some(record) = changed {
                tx.prepare_cached(
                    "INSERT INTO maestrano_deliveries (marketplace, grp, kind, connec_id, record)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (marketplace, grp, kind, connec_id)
                     DO UPDATE SET record = excluded.record",
                )
                .and_then(|mut stmt| {
                    stmt.execute(params![
                        key.marketplace().as_str(),
                        key.group(),
                        key.kind(),
                        key.connec_id(),
                        record.encode()
                    ])
                })
                .map_err(err)?;
            }
            tx.commit().map_err(err)?;
            Ok(outcome)
        })
        .await
    }
}

/// The last good configuration document, in one row (`name = 'default'`): the database the
/// app already keeps its links in survives the developer platform's outages too.
#[async_trait]
impl ConfigCache for SqliteStore {
    async fn load(&self) -> Result<Option<CachedConfig>, ConfigCacheError> {
        let row = self
            .query("read the configuration cache", |conn| {
                conn.prepare_cached(
                    "SELECT document, saved_at FROM maestrano_config_cache WHERE name = 'default'",
                )?
                .query_row([], |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?)))
                .optional()
            })
            .await
            .map_err(cache_error("read"))?;
        row.map(|(document, saved_at)| {
            let saved_at = from_micros(saved_at).map_err(|found| ConfigCacheError::Corrupt {
                expected: "saved_at in microseconds since 1970",
                found,
            })?;
            Ok(CachedConfig::new(document, saved_at))
        })
        .transpose()
    }

    async fn save(&self, config: &CachedConfig) -> Result<(), ConfigCacheError> {
        let saved_at = micros(config.saved_at()).map_err(cache_error("save"))?;
        let document = config.document().to_vec();
        self.query("save the configuration cache", move |conn| {
            conn.prepare_cached(
                "INSERT INTO maestrano_config_cache (name, document, saved_at)
                 VALUES ('default', ?1, ?2)
                 ON CONFLICT (name) DO UPDATE SET
                     document = excluded.document, saved_at = excluded.saved_at",
            )?
            .execute(params![document, saved_at])
            .map(|_| ())
        })
        .await
        .map_err(cache_error("save"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LATEST: u32 = MIGRATIONS.len() as u32;

    fn with_step(version: u32, name: &'static str, sql: &'static str) -> Vec<Migration> {
        let mut steps: Vec<Migration> = MIGRATIONS
            .iter()
            .map(|m| Migration {
                version: m.version,
                name: m.name,
                sql: m.sql,
            })
            .collect();
        steps.push(Migration { version, name, sql });
        steps
    }

    #[test]
    fn migrations_apply_once_in_order() {
        let mut conn = Connection::open_in_memory().unwrap();
        assert_eq!(current_version(&conn).unwrap(), 0);
        assert_eq!(migrate(&mut conn, &MIGRATIONS[..1]).unwrap(), 1);
        assert_eq!(
            migrate(&mut conn, &MIGRATIONS[..1]).unwrap(),
            1,
            "idempotent"
        );
        assert_eq!(
            migrate(&mut conn, MIGRATIONS).unwrap(),
            LATEST,
            "the later steps run"
        );
        let next = with_step(
            LATEST + 1,
            "test step",
            "CREATE TABLE maestrano_test_step (x INTEGER);",
        );
        assert_eq!(
            migrate(&mut conn, &next).unwrap(),
            LATEST + 1,
            "only the new step runs"
        );
        let steps: Vec<(u32, String)> = conn
            .prepare("SELECT version, name FROM maestrano_schema_migrations ORDER BY version")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let expected: Vec<(u32, String)> = next
            .iter()
            .map(|m| (m.version, m.name.to_owned()))
            .collect();
        assert_eq!(steps, expected);
        // An SDK that knows fewer steps refuses the newer database.
        let e = migrate(&mut conn, MIGRATIONS).unwrap_err();
        let source = std::error::Error::source(&e).unwrap().to_string();
        assert_eq!(
            source,
            format!(
                "the database schema is at version {}, newer than this SDK supports (at most {LATEST})",
                LATEST + 1
            )
        );
    }

    #[test]
    fn a_failed_step_leaves_the_schema_as_it_was() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn, MIGRATIONS).unwrap();
        let broken = with_step(
            LATEST + 1,
            "broken",
            "CREATE TABLE maestrano_half (x INTEGER); THIS IS NOT SQL;",
        );
        assert!(migrate(&mut conn, &broken).is_err());
        assert_eq!(current_version(&conn).unwrap(), LATEST);
        let half: bool = conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'maestrano_half')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(!half, "the failed step's first statement was rolled back");
    }

    /// An assertion used before the upgrade is still refused after it.
    #[tokio::test]
    async fn used_assertions_survive_the_move_to_the_single_use_table() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn, &MIGRATIONS[..1]).unwrap();
        let t0 = time::macros::datetime!(2024-05-01 12:00 UTC);
        let exp = t0 + Duration::minutes(5);
        conn.execute(
            "INSERT INTO maestrano_replay_cache (issuer, assertion_id, expires_at) VALUES (?1, ?2, ?3)",
            params!["https://idp.example.test", "_used", micros(exp).unwrap()],
        )
        .unwrap();
        let store = SqliteStore::setup(conn, None).unwrap();
        assert_eq!(store.schema_version().await.unwrap(), LATEST);
        let used = OnceKey::assertion("https://idp.example.test", "_used");
        assert!(
            !store.insert_if_absent(&used, exp, t0).await.unwrap(),
            "still used"
        );
        assert!(
            store
                .insert_if_absent(&used, exp + Duration::minutes(5), exp)
                .await
                .unwrap(),
            "with its expiry"
        );
    }

    #[test]
    fn purge_is_due_once_per_interval() {
        let t0 = time::macros::datetime!(2024-01-01 0:00 UTC);
        let mut p = Purge {
            interval: Duration::minutes(5),
            last: None,
        };
        assert!(p.due(t0));
        assert!(!p.due(t0 + Duration::minutes(4)));
        assert!(p.due(t0 + Duration::minutes(5)));
        assert!(!p.due(t0 + Duration::minutes(6)));
    }
}
