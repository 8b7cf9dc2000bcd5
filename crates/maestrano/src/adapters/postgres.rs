//! [`PostgresStore`]: the identity map and the single-use store in PostgreSQL (feature
//! `postgres`).
//!
//! Built on tokio-postgres with a deadpool pool. Connecting creates or migrates the schema
//! (its version is kept in `maestrano_schema_migrations`) under an advisory lock, so several
//! application instances starting at once migrate exactly once. Every statement is prepared
//! (and cached per connection) with bound parameters; text columns use the `"C"` collation so
//! that orders and pagination are byte-wise whatever the database's locale.
//!
//! [`PostgresStore::connect`] connects without TLS (a database on the host or a private
//! network); for TLS, build a [`deadpool_postgres::Pool`] with your TLS connector and hand it
//! to [`PostgresStore::from_pool`].

use std::fmt;
use std::str::FromStr;
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use time::{Duration, OffsetDateTime};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};

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
        sql: r#"
        CREATE TABLE {p}maestrano_id_maps (
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            class_name TEXT COLLATE "C" NOT NULL,
            local_id TEXT COLLATE "C" NOT NULL,
            provider TEXT COLLATE "C" NOT NULL,
            realm TEXT COLLATE "C" NOT NULL,
            entity TEXT COLLATE "C" NOT NULL,
            remote_id TEXT COLLATE "C" NOT NULL,
            created_at TIMESTAMPTZ NOT NULL,
            updated_at TIMESTAMPTZ NOT NULL,
            pushed_to_remote_at TIMESTAMPTZ,
            pulled_from_remote_at TIMESTAMPTZ,
            metadata JSONB,
            CONSTRAINT maestrano_id_maps_remote_key
                UNIQUE (provider, realm, entity, remote_id),
            CONSTRAINT maestrano_id_maps_local_key
                UNIQUE (class_name, local_id, provider, realm, entity),
            CONSTRAINT maestrano_id_maps_field_lengths CHECK (
                octet_length(class_name) BETWEEN 1 AND 255
                AND octet_length(local_id) BETWEEN 1 AND 255
                AND octet_length(provider) BETWEEN 1 AND 255
                AND octet_length(realm) BETWEEN 1 AND 255
                AND octet_length(entity) BETWEEN 1 AND 255
                AND octet_length(remote_id) BETWEEN 1 AND 255
            )
        );
        CREATE TABLE {p}maestrano_replay_cache (
            issuer TEXT COLLATE "C" NOT NULL,
            assertion_id TEXT COLLATE "C" NOT NULL,
            expires_at TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (issuer, assertion_id)
        );
        CREATE INDEX maestrano_replay_cache_expires_at
            ON {p}maestrano_replay_cache (expires_at);
    "#,
    },
    Migration {
        version: 2,
        name: "one single-use store for assertions and pending login requests",
        sql: r#"
            CREATE TABLE {p}maestrano_single_use (
                purpose TEXT COLLATE "C" NOT NULL,
                scope TEXT COLLATE "C" NOT NULL,
                id TEXT COLLATE "C" NOT NULL,
                expires_at TIMESTAMPTZ NOT NULL,
                PRIMARY KEY (purpose, scope, id)
            );
            CREATE INDEX maestrano_single_use_expires_at ON {p}maestrano_single_use (expires_at);
            INSERT INTO {p}maestrano_single_use (purpose, scope, id, expires_at)
                SELECT 'assertion', issuer, assertion_id, expires_at
                FROM {p}maestrano_replay_cache;
            DROP TABLE {p}maestrano_replay_cache;
        "#,
    },
    Migration {
        version: 3,
        name: "the last good configuration document",
        sql: r#"
            CREATE TABLE {p}maestrano_config_cache (
                name TEXT COLLATE "C" PRIMARY KEY,
                document BYTEA NOT NULL,
                saved_at TIMESTAMPTZ NOT NULL
            );
        "#,
    },
    Migration {
        version: 4,
        name: "the push outbox",
        // The payload is JSON text, not JSONB: JSONB refuses the \u0000 escape a payload may
        // carry. An identity column never reuses an id, so a stale claim never matches a new
        // push.
        sql: r#"
            CREATE TABLE {p}maestrano_push_outbox (
                id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                class_name TEXT COLLATE "C" NOT NULL,
                local_id TEXT COLLATE "C" NOT NULL,
                provider TEXT COLLATE "C" NOT NULL,
                realm TEXT COLLATE "C" NOT NULL,
                entity TEXT COLLATE "C" NOT NULL,
                payload TEXT NOT NULL,
                version BIGINT NOT NULL,
                claim BIGINT NOT NULL DEFAULT 0,
                attempts INTEGER NOT NULL DEFAULT 0,
                not_before TIMESTAMPTZ NOT NULL,
                lease_until TIMESTAMPTZ,
                failed_at TIMESTAMPTZ,
                reason TEXT,
                CONSTRAINT maestrano_push_outbox_key
                    UNIQUE (class_name, local_id, provider, realm, entity)
            );
            CREATE INDEX maestrano_push_outbox_due
                ON {p}maestrano_push_outbox (not_before, id) WHERE failed_at IS NULL;
            CREATE INDEX maestrano_push_outbox_failed
                ON {p}maestrano_push_outbox (provider, realm, failed_at, id)
                WHERE failed_at IS NOT NULL;
        "#,
    },
    Migration {
        version: 5,
        name: "the delivery ledger",
        sql: r#"
            CREATE TABLE {p}maestrano_deliveries (
                marketplace TEXT COLLATE "C" NOT NULL,
                grp TEXT COLLATE "C" NOT NULL,
                kind TEXT COLLATE "C" NOT NULL,
                connec_id TEXT COLLATE "C" NOT NULL,
                record TEXT NOT NULL,
                PRIMARY KEY (marketplace, grp, kind, connec_id)
            );
        "#,
    },
];

/// The columns of an [`IdMap`] row, in the order [`read_row`] expects.
const COLUMNS: &str = "class_name, local_id, provider, realm, entity, remote_id, created_at, \
                       updated_at, pushed_to_remote_at, pulled_from_remote_at, metadata";

pub(super) const LOCAL_KEY: &str = "maestrano_id_maps_local_key";

/// How often [`IdMapStore::link`] re-runs when the conflicting link it should report vanished
/// (unlinked by someone else) between its write and its read.
const LINK_ATTEMPTS: usize = 5;

/// Options of [`PostgresStore`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PostgresOptions {
    /// The schema the tables live in (created if missing), or `None` for the connection's
    /// `search_path` (usually `public`).
    pub schema: Option<String>,
    /// Most connections the pool opens ([`connect`](PostgresStore::connect) only): 10 unless
    /// set.
    pub max_connections: usize,
    /// How long opening a connection, or waiting for a free one, may take: 10 s unless set.
    pub timeout: StdDuration,
    /// How often [`SingleUseStore::insert_if_absent`] also deletes expired entries, measured on
    /// the `now` it is given.
    pub purge_interval: Duration,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        Self {
            schema: None,
            max_connections: 10,
            timeout: StdDuration::from_secs(10),
            purge_interval: DEFAULT_PURGE_INTERVAL,
        }
    }
}

impl PostgresOptions {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Puts the tables in `schema`: 1 to 63 ASCII lowercase letters, digits and `_`, not
    /// starting with a digit (checked when connecting).
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = Some(schema.into());
        self
    }

    /// Sets the most connections the pool opens.
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = max;
        self
    }

    /// Sets the connection timeout.
    pub fn timeout(mut self, timeout: StdDuration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets how often the single-use store also deletes expired entries.
    pub fn purge_interval(mut self, interval: Duration) -> Self {
        self.purge_interval = interval;
        self
    }
}

/// The schema name was refused.
#[derive(Debug, thiserror::Error)]
#[error(
    "expected a schema name of 1 to 63 ASCII lowercase letters, digits and '_', not starting with a digit, found {0:?}"
)]
struct InvalidSchemaName(String);

/// The conflicting link kept changing while `link` tried to report it.
#[derive(Debug, thiserror::Error)]
#[error("the conflicting link changed {0} times while it was being read; try again")]
pub(super) struct Contended(pub(super) usize);

/// A stored row could not be read back as a link.
#[derive(Debug, thiserror::Error)]
#[error("stored link is malformed: {0}")]
struct CorruptRow(String);

fn check_schema_name(name: &str) -> Result<(), IdMapError> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(IdMapError::store(
            "use the configured schema",
            InvalidSchemaName(name.to_owned()),
        ))
    }
}

/// The statements, with the table names qualified once.
#[derive(Debug)]
pub(super) struct Sql {
    links_of: String,
    links_in: String,
    pub(super) find_remote: String,
    find_remotes: String,
    find_locals: String,
    find_locals_in: String,
    pub(super) find_local_key: String,
    pub(super) upsert: String,
    unlink: String,
    unlink_local: String,
    unlink_local_in: String,
    erase: String,
    delivery_erase: String,
    once_erase: String,
    list_first: String,
    list_after: String,
    once_insert: String,
    once_take: String,
    once_purge: String,
    cache_load: String,
    cache_save: String,
    delivery_seed: String,
    delivery_lock: String,
    delivery_save: String,
}

impl Sql {
    fn new(p: &str) -> Self {
        let t = format!("{p}maestrano_id_maps");
        let r = format!("{p}maestrano_single_use");
        let d = format!("{p}maestrano_deliveries");
        let select = format!("SELECT {COLUMNS} FROM {t}");
        Self {
            links_of: format!(
                "{select} WHERE class_name = $1 AND local_id = $2
                 ORDER BY provider, realm, entity, remote_id"
            ),
            links_in: format!(
                "{select} WHERE class_name = $1 AND local_id = $2 AND provider = $3 AND realm = $4
                 ORDER BY entity"
            ),
            find_remote: format!(
                "{select} WHERE provider = $1 AND realm = $2 AND entity = $3 AND remote_id = $4"
            ),
            // Batches run as one-shot statements (see `query_maps_once`), so they always get
            // a plan made for the ids at hand: an index probe per id.
            find_remotes: format!(
                "{select} WHERE provider = $1 AND realm = $2 AND entity = $3
                   AND remote_id = ANY($4)
                 ORDER BY remote_id"
            ),
            find_locals: format!(
                "{select} WHERE class_name = $1 AND local_id = ANY($2)
                 ORDER BY local_id, provider, realm, entity, remote_id"
            ),
            find_locals_in: format!(
                "{select} WHERE class_name = $1 AND local_id = ANY($2)
                   AND provider = $3 AND realm = $4
                 ORDER BY local_id, provider, realm, entity, remote_id"
            ),
            find_local_key: format!(
                "{select} WHERE class_name = $1 AND local_id = $2 AND provider = $3
                   AND realm = $4 AND entity = $5"
            ),
            // A remote id linked to the same record is updated; linked to another record,
            // the WHERE leaves it alone and no row comes back. A local record linked to
            // another remote id fails on the local key.
            upsert: format!(
                "INSERT INTO {t} AS m ({COLUMNS})
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                 ON CONFLICT (provider, realm, entity, remote_id) DO UPDATE SET
                     updated_at = EXCLUDED.updated_at,
                     pushed_to_remote_at =
                         COALESCE(EXCLUDED.pushed_to_remote_at, m.pushed_to_remote_at),
                     pulled_from_remote_at =
                         COALESCE(EXCLUDED.pulled_from_remote_at, m.pulled_from_remote_at),
                     metadata = COALESCE(EXCLUDED.metadata, m.metadata)
                 WHERE m.class_name = EXCLUDED.class_name AND m.local_id = EXCLUDED.local_id
                 RETURNING {COLUMNS}"
            ),
            unlink: format!(
                "DELETE FROM {t}
                 WHERE provider = $1 AND realm = $2 AND entity = $3 AND remote_id = $4"
            ),
            unlink_local: format!("DELETE FROM {t} WHERE class_name = $1 AND local_id = $2"),
            erase: format!(
                "DELETE FROM {t} WHERE provider = $1 AND ($2::text IS NULL OR realm = $2)"
            ),
            once_erase: format!("DELETE FROM {r} WHERE scope = $1 AND purpose = ANY($2)"),
            delivery_erase: format!(
                "DELETE FROM {d} WHERE marketplace = $1 AND ($2::text IS NULL OR grp = $2)"
            ),
            unlink_local_in: format!(
                "DELETE FROM {t}
                 WHERE class_name = $1 AND local_id = $2 AND provider = $3 AND realm = $4"
            ),
            list_first: format!(
                "{select} WHERE provider = $1 AND realm = $2
                 ORDER BY entity, remote_id LIMIT $3"
            ),
            list_after: format!(
                "{select} WHERE provider = $1 AND realm = $2 AND (entity, remote_id) > ($3, $4)
                 ORDER BY entity, remote_id LIMIT $5"
            ),
            // A live entry is left alone (no row returned), an expired one replaced, a missing
            // one inserted. Two concurrent inserts of one key: the second waits for the first
            // to commit, then sees a live row.
            once_insert: format!(
                "INSERT INTO {r} AS c (purpose, scope, id, expires_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (purpose, scope, id) DO UPDATE SET expires_at = EXCLUDED.expires_at
                 WHERE c.expires_at <= $5
                 RETURNING 1"
            ),
            // The row goes either way; only the one statement that deleted a live row wins.
            once_take: format!(
                "DELETE FROM {r} WHERE purpose = $1 AND scope = $2 AND id = $3
                 RETURNING expires_at > $4"
            ),
            once_purge: format!("DELETE FROM {r} WHERE expires_at <= $1"),
            // A missing record is first inserted empty, so that the row lock below always
            // has a row to hold: two instances claiming a new entity at once queue on it.
            delivery_seed: format!(
                "INSERT INTO {d} (marketplace, grp, kind, connec_id, record)
                 VALUES ($1, $2, $3, $4, '{{}}')
                 ON CONFLICT (marketplace, grp, kind, connec_id) DO NOTHING"
            ),
            delivery_lock: format!(
                "SELECT record FROM {d}
                 WHERE marketplace = $1 AND grp = $2 AND kind = $3 AND connec_id = $4
                 FOR UPDATE"
            ),
            delivery_save: format!(
                "UPDATE {d} SET record = $5
                 WHERE marketplace = $1 AND grp = $2 AND kind = $3 AND connec_id = $4"
            ),
            cache_load: format!(
                "SELECT document, saved_at FROM {p}maestrano_config_cache WHERE name = 'default'"
            ),
            cache_save: format!(
                "INSERT INTO {p}maestrano_config_cache (name, document, saved_at)
                 VALUES ('default', $1, $2)
                 ON CONFLICT (name) DO UPDATE SET
                     document = EXCLUDED.document, saved_at = EXCLUDED.saved_at"
            ),
        }
    }
}

/// The identity map ([`IdMapStore`]) and the [`SingleUseStore`] (used assertions, pending
/// login requests) in PostgreSQL, shared by every application instance that connects to it.
///
/// ```no_run
/// # async fn demo() -> Result<(), maestrano::Error> {
/// use std::sync::Arc;
/// use maestrano::adapters::{PostgresOptions, PostgresStore};
/// use maestrano::idmap::IdMapStore;
/// use maestrano::ports::SingleUseStore;
///
/// let store = Arc::new(
///     PostgresStore::connect_with(
///         "postgres://app@db.internal/app",
///         PostgresOptions::new().schema("maestrano"),
///     )
///     .await?,
/// );
/// let id_maps: Arc<dyn IdMapStore> = store.clone();
/// let single_use: Arc<dyn SingleUseStore> = store;
/// # Ok(()) }
/// ```
pub struct PostgresStore {
    pool: Pool,
    pub(super) sql: Sql,
    pub(super) outbox: super::postgres_outbox::OutboxSql,
    schema: Option<String>,
    purge_interval: Duration,
    last_purge: std::sync::Mutex<Option<OffsetDateTime>>,
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("schema", &self.schema)
            .field("pool", &self.pool.status())
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user@host:port/db?…`, or `host=… user=…`) without TLS,
    /// with the default options, and creates or migrates the schema.
    pub async fn connect(url: &str) -> Result<Self, IdMapError> {
        Self::connect_with(url, PostgresOptions::default()).await
    }

    /// Connects to `url` without TLS with `options`, and creates or migrates the schema.
    pub async fn connect_with(url: &str, options: PostgresOptions) -> Result<Self, IdMapError> {
        let mut config = tokio_postgres::Config::from_str(url)
            .map_err(|e| IdMapError::store("parse the connection string", e))?;
        if config.get_application_name().is_none() {
            config.application_name("maestrano");
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(options.timeout);
        }
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.max_connections.max(1))
            .runtime(Runtime::Tokio1)
            .create_timeout(Some(options.timeout))
            .wait_timeout(Some(options.timeout))
            .build()
            .map_err(|e| IdMapError::store("build the connection pool", e))?;
        Self::from_pool(pool, options).await
    }

    /// Uses an existing pool (with TLS, or shared with the application), and creates or
    /// migrates the schema. `options.max_connections` and `options.timeout` are the pool's
    /// business here and are ignored.
    pub async fn from_pool(pool: Pool, options: PostgresOptions) -> Result<Self, IdMapError> {
        if let Some(schema) = &options.schema {
            check_schema_name(schema)?;
        }
        let prefix = options
            .schema
            .as_ref()
            .map_or_else(String::new, |s| format!("\"{s}\"."));
        let store = Self {
            pool,
            sql: Sql::new(&prefix),
            outbox: super::postgres_outbox::OutboxSql::new(&prefix),
            schema: options.schema,
            purge_interval: options.purge_interval,
            last_purge: std::sync::Mutex::new(None),
        };
        let mut client = store.client("migrate the schema").await?;
        migrate(&mut client, &prefix, store.schema.as_deref(), MIGRATIONS).await?;
        Ok(store)
    }

    /// The schema version of the database.
    pub async fn schema_version(&self) -> Result<u32, IdMapError> {
        let prefix = self
            .schema
            .as_ref()
            .map_or_else(String::new, |s| format!("\"{s}\"."));
        let client = self.client("read the schema version").await?;
        current_version(&client, &prefix)
            .await
            .map_err(|e| IdMapError::store("read the schema version", e))
    }

    /// Deletes the single-use entries that have expired at `now`; returns how many.
    pub async fn purge_expired(&self, now: OffsetDateTime) -> Result<u64, SingleUseError> {
        let client = self
            .client("purge the single-use store")
            .await
            .map_err(single_use_error)?;
        self.purge(&client, now).await.map_err(single_use_error)
    }

    async fn purge(&self, client: &Object, now: OffsetDateTime) -> Result<u64, IdMapError> {
        let err = |e| IdMapError::store("purge the single-use store", e);
        let stmt = client
            .prepare_cached(&self.sql.once_purge)
            .await
            .map_err(err)?;
        client.execute(&stmt, &[&now]).await.map_err(err)
    }

    pub(super) async fn client(&self, operation: &'static str) -> Result<Object, IdMapError> {
        self.pool
            .get()
            .await
            .map_err(|e| IdMapError::store(operation, e))
    }

    async fn query(
        &self,
        operation: &'static str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<IdMap>, IdMapError> {
        let client = self.client(operation).await?;
        query_maps(&client, operation, sql, params).await
    }

    async fn execute(
        &self,
        operation: &'static str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, IdMapError> {
        let err = |e| IdMapError::store(operation, e);
        let client = self.client(operation).await?;
        let stmt = client.prepare_cached(sql).await.map_err(err)?;
        client.execute(&stmt, params).await.map_err(err)
    }
}

pub(super) async fn query_maps(
    client: &Object,
    operation: &'static str,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<IdMap>, IdMapError> {
    let err = |e| IdMapError::store(operation, e);
    let stmt = client.prepare_cached(sql).await.map_err(err)?;
    let rows = client.query(&stmt, params).await.map_err(err)?;
    rows.iter()
        .map(|row| read_row(row).map_err(|e| IdMapError::store(operation, e)))
        .collect()
}

/// [`query_maps`] for batches: a statement prepared for this call only. Its plan is made for
/// the ids at hand, whereas a cached statement switches after five runs to a generic plan,
/// which may check `= ANY($n)` as a filter, scanning the whole array for every row of the
/// realm: quadratic, over a second for 10,000 ids. One more round trip, for a plan that is
/// right whatever the table's statistics.
async fn query_maps_once(
    client: &Object,
    operation: &'static str,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<IdMap>, IdMapError> {
    let err = |e| IdMapError::store(operation, e);
    let rows = client.query(sql, params).await.map_err(err)?;
    rows.iter()
        .map(|row| read_row(row).map_err(|e| IdMapError::store(operation, e)))
        .collect()
}

fn read_row(row: &Row) -> Result<IdMap, CorruptRow> {
    fn get<'a, T: tokio_postgres::types::FromSql<'a>>(
        row: &'a Row,
        i: usize,
    ) -> Result<T, CorruptRow> {
        row.try_get(i).map_err(|e| CorruptRow(e.to_string()))
    }
    let bad = |e: crate::idmap::store::FieldError| CorruptRow(e.to_string());
    let local = LocalRef::new(get::<String>(row, 0)?, get::<String>(row, 1)?).map_err(bad)?;
    let realm = Realm::new(get::<String>(row, 2)?, get::<String>(row, 3)?).map_err(bad)?;
    let remote =
        RemoteRef::new(realm, get::<String>(row, 4)?, get::<String>(row, 5)?).map_err(bad)?;
    let mut map = IdMap::new(local, remote, get(row, 6)?);
    map.updated_at = get(row, 7)?;
    map.pushed_to_remote_at = get(row, 8)?;
    map.pulled_from_remote_at = get(row, 9)?;
    map.metadata = get(row, 10)?;
    Ok(map)
}

/// A stable 64-bit key for the migration advisory lock of one schema (FNV-1a).
fn lock_key(schema: Option<&str>) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in "maestrano_schema_migrations:"
        .bytes()
        .chain(schema.unwrap_or("").bytes())
    {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    i64::from_ne_bytes(hash.to_ne_bytes())
}

async fn current_version(
    client: &impl deadpool_postgres::GenericClient,
    prefix: &str,
) -> Result<u32, tokio_postgres::Error> {
    let table = match prefix {
        "" => "maestrano_schema_migrations".to_owned(),
        p => format!("{p}maestrano_schema_migrations"),
    };
    let exists: bool = client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])
        .await?
        .get(0);
    if !exists {
        return Ok(0);
    }
    let version: i32 = client
        .query_one(
            &format!("SELECT COALESCE(MAX(version), 0) FROM {table}"),
            &[],
        )
        .await?
        .get(0);
    Ok(u32::try_from(version).unwrap_or(0))
}

/// Brings the schema to the last of `migrations`, in one transaction holding an advisory lock,
/// so that instances starting together migrate once and a failed step leaves nothing behind.
async fn migrate(
    client: &mut Object,
    prefix: &str,
    schema: Option<&str>,
    migrations: &[Migration],
) -> Result<u32, IdMapError> {
    let err = |e| IdMapError::store("migrate the schema", e);
    let tx = client.transaction().await.map_err(err)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&lock_key(schema)])
        .await
        .map_err(err)?;
    if let Some(schema) = schema {
        tx.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
            .await
            .map_err(err)?;
    }
    tx.batch_execute(&format!(
        "CREATE TABLE IF NOT EXISTS {prefix}maestrano_schema_migrations (
             version INTEGER PRIMARY KEY,
             name TEXT NOT NULL
         )"
    ))
    .await
    .map_err(err)?;
    let found = current_version(&tx, prefix).await.map_err(err)?;
    let supported = migrations.last().map_or(0, |m| m.version);
    if found > supported {
        return Err(IdMapError::store(
            "migrate the schema",
            SchemaTooNew { found, supported },
        ));
    }
    for m in migrations.iter().filter(|m| m.version > found) {
        tx.batch_execute(&m.sql.replace("{p}", prefix))
            .await
            .map_err(err)?;
        let version = i32::try_from(m.version).unwrap_or(i32::MAX);
        tx.execute(
            &format!(
                "INSERT INTO {prefix}maestrano_schema_migrations (version, name) VALUES ($1, $2)"
            ),
            &[&version, &m.name],
        )
        .await
        .map_err(err)?;
    }
    tx.commit().await.map_err(err)?;
    Ok(supported)
}

pub(super) fn is_unique_violation(e: &tokio_postgres::Error, constraint: &str) -> bool {
    e.as_db_error().is_some_and(|db| {
        *db.code() == SqlState::UNIQUE_VIOLATION && db.constraint() == Some(constraint)
    })
}

#[async_trait]
impl IdMapStore for PostgresStore {
    async fn links_of(&self, local: &LocalRef) -> Result<Vec<IdMap>, IdMapError> {
        self.query(
            "read links",
            &self.sql.links_of,
            &[&local.class_name(), &local.local_id()],
        )
        .await
    }

    async fn links_in(&self, local: &LocalRef, realm: &Realm) -> Result<Vec<IdMap>, IdMapError> {
        self.query(
            "read links",
            &self.sql.links_in,
            &[
                &local.class_name(),
                &local.local_id(),
                &realm.provider(),
                &realm.realm(),
            ],
        )
        .await
    }

    async fn find_remote(&self, remote: &RemoteRef) -> Result<Option<IdMap>, IdMapError> {
        let mut rows = self
            .query(
                "find a link",
                &self.sql.find_remote,
                &[
                    &remote.provider(),
                    &remote.realm().realm(),
                    &remote.entity(),
                    &remote.remote_id(),
                ],
            )
            .await?;
        Ok(rows.pop())
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
        let client = self.client("find links").await?;
        query_maps_once(
            &client,
            "find links",
            &self.sql.find_remotes,
            &[&realm.provider(), &realm.realm(), &entity, &remote_ids],
        )
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
        let client = self.client("find links").await?;
        match realm {
            None => {
                query_maps_once(
                    &client,
                    "find links",
                    &self.sql.find_locals,
                    &[&class_name, &local_ids],
                )
                .await
            }
            Some(realm) => {
                query_maps_once(
                    &client,
                    "find links",
                    &self.sql.find_locals_in,
                    &[&class_name, &local_ids, &realm.provider(), &realm.realm()],
                )
                .await
            }
        }
    }

    async fn link(&self, map: IdMap) -> Result<IdMap, IdMapError> {
        map.validate()?;
        let map = map.normalized();
        let err = |e| IdMapError::store("link", e);
        let client = self.client("link").await?;
        let upsert = client.prepare_cached(&self.sql.upsert).await.map_err(err)?;
        let (local, remote) = (&map.local, &map.remote);
        for _ in 0..LINK_ATTEMPTS {
            let outcome = client
                .query_opt(
                    &upsert,
                    &[
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
                    ],
                )
                .await;
            match outcome {
                Ok(Some(row)) => {
                    return read_row(&row).map_err(|e| IdMapError::store("link", e));
                }
                Ok(None) => {
                    // The remote id is linked to another record: report which.
                    let existing = query_maps(
                        &client,
                        "link",
                        &self.sql.find_remote,
                        &[
                            &remote.provider(),
                            &remote.realm().realm(),
                            &remote.entity(),
                            &remote.remote_id(),
                        ],
                    )
                    .await?
                    .pop();
                    if let Some(existing) = existing
                        && existing.local != *local
                    {
                        return Err(IdMapError::conflict(map.remote, existing.local, map.local));
                    }
                    // Unlinked, or relinked to this record, meanwhile: try again.
                }
                Err(e) if is_unique_violation(&e, LOCAL_KEY) => {
                    let existing = query_maps(
                        &client,
                        "link",
                        &self.sql.find_local_key,
                        &[
                            &local.class_name(),
                            &local.local_id(),
                            &remote.provider(),
                            &remote.realm().realm(),
                            &remote.entity(),
                        ],
                    )
                    .await?
                    .pop();
                    if let Some(existing) = existing
                        && existing.remote != *remote
                    {
                        return Err(IdMapError::local_conflict(
                            map.local,
                            existing.remote,
                            map.remote,
                        ));
                    }
                }
                Err(e) => return Err(err(e)),
            }
        }
        Err(IdMapError::store("link", Contended(LINK_ATTEMPTS)))
    }

    async fn unlink(&self, remote: &RemoteRef) -> Result<bool, IdMapError> {
        let n = self
            .execute(
                "unlink",
                &self.sql.unlink,
                &[
                    &remote.provider(),
                    &remote.realm().realm(),
                    &remote.entity(),
                    &remote.remote_id(),
                ],
            )
            .await?;
        Ok(n > 0)
    }

    async fn erase(&self, provider: &str, realm: Option<&str>) -> Result<u64, IdMapError> {
        self.execute("erase links", &self.sql.erase, &[&provider, &realm])
            .await
    }

    async fn unlink_local(
        &self,
        local: &LocalRef,
        realm: Option<&Realm>,
    ) -> Result<u64, IdMapError> {
        match realm {
            None => {
                self.execute(
                    "unlink",
                    &self.sql.unlink_local,
                    &[&local.class_name(), &local.local_id()],
                )
                .await
            }
            Some(realm) => {
                self.execute(
                    "unlink",
                    &self.sql.unlink_local_in,
                    &[
                        &local.class_name(),
                        &local.local_id(),
                        &realm.provider(),
                        &realm.realm(),
                    ],
                )
                .await
            }
        }
    }

    async fn list(&self, realm: &Realm, page: &PageRequest) -> Result<IdMapPage, IdMapError> {
        page.validate()?;
        // `limit` is at most MAX_PAGE_SIZE, so it fits.
        let fetch = i64::try_from(page.limit + 1).unwrap_or(i64::MAX);
        let rows = match &page.after {
            None => {
                self.query(
                    "list links",
                    &self.sql.list_first,
                    &[&realm.provider(), &realm.realm(), &fetch],
                )
                .await?
            }
            Some(cursor) => {
                self.query(
                    "list links",
                    &self.sql.list_after,
                    &[
                        &realm.provider(),
                        &realm.realm(),
                        &cursor.entity(),
                        &cursor.remote_id(),
                        &fetch,
                    ],
                )
                .await?
            }
        };
        Ok(IdMapPage::from_rows(rows, page.limit))
    }
}

#[async_trait]
impl SingleUseStore for PostgresStore {
    async fn erase_marketplace(
        &self,
        marketplace: &crate::types::MarketplaceKey,
    ) -> Result<u64, SingleUseError> {
        let purposes: Vec<&str> = crate::ports::Purpose::OWNED_BY_MARKETPLACE
            .iter()
            .map(|p| p.as_str())
            .collect();
        self.execute(
            "erase a marketplace's single-use entries",
            &self.sql.once_erase,
            &[&marketplace.as_str(), &purposes],
        )
        .await
        .map_err(single_use_error)
    }

    async fn insert_if_absent(
        &self,
        key: &OnceKey,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, SingleUseError> {
        let purge_due = {
            let mut last = self.last_purge.lock().unwrap_or_else(|e| e.into_inner());
            let due = last.is_none_or(|last| now - last >= self.purge_interval);
            if due {
                *last = Some(now);
            }
            due
        };
        let client = self
            .client("record a single-use entry")
            .await
            .map_err(single_use_error)?;
        if purge_due {
            self.purge(&client, now).await.map_err(single_use_error)?;
        }
        let err = |e| single_use_error(IdMapError::store("record a single-use entry", e));
        let stmt = client
            .prepare_cached(&self.sql.once_insert)
            .await
            .map_err(err)?;
        let row = client
            .query_opt(
                &stmt,
                &[
                    &key.purpose().as_str(),
                    &key.scope(),
                    &key.id(),
                    &expires_at,
                    &now,
                ],
            )
            .await
            .map_err(err)?;
        Ok(row.is_some())
    }

    async fn take(&self, key: &OnceKey, now: OffsetDateTime) -> Result<bool, SingleUseError> {
        let client = self
            .client("take a single-use entry")
            .await
            .map_err(single_use_error)?;
        let err = |e| single_use_error(IdMapError::store("take a single-use entry", e));
        let stmt = client
            .prepare_cached(&self.sql.once_take)
            .await
            .map_err(err)?;
        let row = client
            .query_opt(
                &stmt,
                &[&key.purpose().as_str(), &key.scope(), &key.id(), &now],
            )
            .await
            .map_err(err)?;
        Ok(match row {
            Some(row) => row.try_get::<_, bool>(0).map_err(err)?,
            None => false,
        })
    }
}

/// The delivery ledger's records, one row per entity, each step under the row's lock
/// (`SELECT … FOR UPDATE` in one transaction): instances on one database queue per entity.
#[async_trait]
impl DeliveryStore for PostgresStore {
    async fn erase(
        &self,
        marketplace: &crate::types::MarketplaceKey,
        group: Option<&str>,
    ) -> Result<u64, IdMapError> {
        self.execute(
            "erase deliveries",
            &self.sql.delivery_erase,
            &[&marketplace.as_str(), &group],
        )
        .await
    }

    async fn apply(
        &self,
        key: &DeliveryKey,
        step: &DeliveryStep,
    ) -> Result<DeliveryOutcome, IdMapError> {
        let err = |e| IdMapError::store("apply a delivery step", e);
        let mut client = self.client("apply a delivery step").await?;
        let tx = client.transaction().await.map_err(err)?;
        let keys: [&(dyn ToSql + Sync); 4] = [
            &key.marketplace().as_str(),
            &key.group(),
            &key.kind(),
            &key.connec_id(),
        ];
        let seed = tx
            .prepare_cached(&self.sql.delivery_seed)
            .await
            .map_err(err)?;
        tx.execute(&seed, &keys).await.map_err(err)?;
        let lock = tx
            .prepare_cached(&self.sql.delivery_lock)
            .await
            .map_err(err)?;
        let row = tx.query_one(&lock, &keys).await.map_err(err)?;
        let stored: String = row.try_get(0).map_err(err)?;
        let (outcome, changed) = step.run(Some(DeliveryRecord::decode(&stored)?));
        if let Some(record) = changed {
            let save = tx
                .prepare_cached(&self.sql.delivery_save)
                .await
                .map_err(err)?;
            let text = record.encode();
            tx.execute(&save, &[keys[0], keys[1], keys[2], keys[3], &text])
                .await
                .map_err(err)?;
        }
        tx.commit().await.map_err(err)?;
        Ok(outcome)
    }
}

/// The last good configuration document, in one row (`name = 'default'`) of the store's
/// schema: every instance of the app starts from it while the developer platform is down.
#[async_trait]
impl ConfigCache for PostgresStore {
    async fn load(&self) -> Result<Option<CachedConfig>, ConfigCacheError> {
        let client = self
            .client("read the configuration cache")
            .await
            .map_err(cache_error("read"))?;
        let err = |e| cache_error("read")(IdMapError::store("read the configuration cache", e));
        let stmt = client
            .prepare_cached(&self.sql.cache_load)
            .await
            .map_err(err)?;
        let row = client.query_opt(&stmt, &[]).await.map_err(err)?;
        row.map(|row| {
            Ok(CachedConfig::new(
                row.try_get::<_, Vec<u8>>(0).map_err(err)?,
                row.try_get::<_, OffsetDateTime>(1).map_err(err)?,
            ))
        })
        .transpose()
    }

    async fn save(&self, config: &CachedConfig) -> Result<(), ConfigCacheError> {
        let client = self
            .client("save the configuration cache")
            .await
            .map_err(cache_error("save"))?;
        let err = |e| cache_error("save")(IdMapError::store("save the configuration cache", e));
        let stmt = client
            .prepare_cached(&self.sql.cache_save)
            .await
            .map_err(err)?;
        client
            .execute(&stmt, &[&config.document(), &config.saved_at()])
            .await
            .map_err(err)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names_are_checked() {
        for ok in ["maestrano", "_x", "a1_b2", &"a".repeat(63)] {
            assert!(check_schema_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "1a", "A", "a-b", "a\"b", "a b", &"a".repeat(64), "é"] {
            let e = check_schema_name(bad).unwrap_err();
            let source = std::error::Error::source(&e).unwrap().to_string();
            assert!(
                source.starts_with("expected a schema name"),
                "{bad}: {source}"
            );
        }
    }

    #[test]
    fn lock_keys_differ_by_schema() {
        assert_eq!(lock_key(Some("a")), lock_key(Some("a")));
        assert_ne!(lock_key(Some("a")), lock_key(Some("b")));
        assert_ne!(lock_key(None), lock_key(Some("public")));
    }
}
