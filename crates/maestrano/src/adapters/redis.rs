//! [`RedisStore`]: the single-use store on Redis (feature `redis`).
//!
//! Redis is what many apps already run for their sessions, and its `SET key value NX PX ttl` is
//! the atomic "insert if absent, until" the [`SingleUseStore`] contract asks for: of two
//! instances inserting one key, exactly one gets `OK`. Redis expires the key by itself (no
//! purge), and `GETDEL` takes it atomically (Redis 6.2 or newer).
//!
//! Each entry's value is its expiry in Unix microseconds: `take` counts a key as live only
//! when that expiry is after the caller's `now`, and an insert that finds a key whose stored
//! expiry has passed by the caller's clock (Redis has not dropped it yet) replaces it with a
//! compare-and-set, so of two such inserts only one wins. Redis drops keys on its own clock,
//! `expires_at - now` after the insert, as the SQL stores purge on the purging instance's
//! clock: keep the instances' clocks synchronized (NTP), since an instance whose clock runs
//! ahead by *d* makes entries vanish up to *d* early.
//!
//! Run it on a Redis server or database whose `maxmemory-policy` is `noeviction`: an eviction
//! policy may drop a used assertion before it expires, and a replay of it would then pass.

use std::fmt;

use async_trait::async_trait;
use redis::aio::ConnectionManager;
use time::OffsetDateTime;

use crate::ports::{OnceKey, SingleUseError, SingleUseStore};

/// Replaces `KEYS[1]` only if it still holds `ARGV[1]` (the expired value the caller read):
/// an atomic compare-and-set, run by Redis as one command.
const REPLACE_EXPIRED: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
    redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
    return 1
end
return 0
";

/// The [`SingleUseStore`] on a Redis server, shared by every application instance that
/// connects to it.
///
/// ```no_run
/// # async fn demo() -> Result<(), maestrano::Error> {
/// use std::sync::Arc;
/// use maestrano::adapters::RedisStore;
/// use maestrano::ports::SingleUseStore;
///
/// let store: Arc<dyn SingleUseStore> =
///     Arc::new(RedisStore::connect("redis://127.0.0.1:6379/0").await?);
/// # Ok(()) }
/// ```
///
/// Keys are `{prefix}{purpose}:{scope length}:{scope}:{id}` (the length makes every key name
/// one entry only, whatever the scope holds); the prefix is `maestrano:` unless set with
/// [`with_key_prefix`](Self::with_key_prefix). The connection is a [`ConnectionManager`]: one
/// multiplexed connection, re-established after a failure; a call made while Redis is down
/// fails with [`SingleUseError::Store`], and the login it serves is refused.
#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
    prefix: String,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The connection holds the URL, which may hold a password: only the prefix is shown.
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// The default key prefix.
const DEFAULT_PREFIX: &str = "maestrano:";

fn store_error(operation: &str, e: &redis::RedisError) -> SingleUseError {
    // A RedisError's text names the command and the server's reply; never the URL.
    SingleUseError::Store(format!("redis: {operation}: {e}"))
}

impl RedisStore {
    /// Connects to the Redis server at `url` (`redis://[user:password@]host[:port][/db]`, or
    /// `unix:///path`), and checks that it answers.
    pub async fn connect(url: &str) -> Result<Self, SingleUseError> {
        // The URL may hold a password: the error says only that it did not parse.
        let client = redis::Client::open(url).map_err(|_| {
            SingleUseError::Store(
                "redis: expected a redis:// or unix:// URL, found one that does not parse".into(),
            )
        })?;
        let conn = ConnectionManager::new(client)
            .await
            .map_err(|e| store_error("connect", &e))?;
        Ok(Self::from_connection_manager(conn))
    }

    /// A store on a connection the application already manages (for TLS, or a connection
    /// shared with its session store).
    pub fn from_connection_manager(conn: ConnectionManager) -> Self {
        Self {
            conn,
            prefix: DEFAULT_PREFIX.to_owned(),
        }
    }

    /// Puts every key under `prefix` instead of `maestrano:` (for apps that share one Redis
    /// database between several environments).
    pub fn with_key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    fn key(&self, key: &OnceKey) -> String {
        entry_key(&self.prefix, key)
    }
}

fn entry_key(prefix: &str, key: &OnceKey) -> String {
    format!(
        "{prefix}{}:{}:{}:{}",
        key.purpose().as_str(),
        key.scope().len(),
        key.scope(),
        key.id()
    )
}

/// `s` with Redis's glob characters escaped, to match it literally in `SCAN MATCH`.
fn glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\' | '^' | '-') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn micros(at: OffsetDateTime) -> i128 {
    at.unix_timestamp_nanos() / 1_000
}

/// What a stored value says: its expiry in microseconds, or none for a value this store did
/// not write (which then counts as expired: it names no time it is valid until).
fn stored_expiry(value: &[u8]) -> Option<i128> {
    std::str::from_utf8(value).ok()?.parse().ok()
}

/// `SET key value NX PX ttl_ms`: whether this call created the key.
async fn set_nx(
    conn: &mut ConnectionManager,
    key: &str,
    value: &str,
    ttl_ms: u64,
) -> Result<bool, SingleUseError> {
    let set: Option<String> = redis::cmd("SET")
        .arg(key)
        .arg(value)
        .arg("NX")
        .arg("PX")
        .arg(ttl_ms)
        .query_async(conn)
        .await
        .map_err(|e| store_error("SET NX PX", &e))?;
    Ok(set.is_some())
}

#[async_trait]
impl SingleUseStore for RedisStore {
    async fn insert_if_absent(
        &self,
        key: &OnceKey,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, SingleUseError> {
        let key = self.key(key);
        let value = micros(expires_at).to_string();
        // At least one millisecond: SET refuses PX 0, and an entry that expires at once is
        // still refused to a concurrent insert while it lives.
        let ttl_ms = (expires_at - now).whole_milliseconds().max(1);
        let ttl_ms = u64::try_from(ttl_ms).unwrap_or(u64::MAX);
        let mut conn = self.conn.clone();
        if set_nx(&mut conn, &key, &value, ttl_ms).await? {
            return Ok(true);
        }
        // The key exists. Live by the caller's clock: refused. Expired by it (Redis has not
        // dropped it yet): replaced, if no one else replaced it first.
        let current: Option<Vec<u8>> = redis::cmd("GET")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .map_err(|e| store_error("GET", &e))?;
        let Some(current) = current else {
            // Dropped in between: one more atomic insert decides.
            return set_nx(&mut conn, &key, &value, ttl_ms).await;
        };
        if stored_expiry(&current).is_some_and(|exp| exp > micros(now)) {
            return Ok(false);
        }
        let replaced: i64 = redis::cmd("EVAL")
            .arg(REPLACE_EXPIRED)
            .arg(1)
            .arg(&key)
            .arg(current)
            .arg(&value)
            .arg(ttl_ms)
            .query_async(&mut conn)
            .await
            .map_err(|e| store_error("replace an expired entry", &e))?;
        Ok(replaced == 1)
    }

    async fn erase_marketplace(
        &self,
        marketplace: &crate::types::MarketplaceKey,
    ) -> Result<u64, SingleUseError> {
        let mut conn = self.conn.clone();
        let mut erased = 0u64;
        for purpose in crate::ports::Purpose::OWNED_BY_MARKETPLACE {
            // Every key of the purpose under this scope: its prefix with the glob characters
            // escaped (SCAN matches a pattern), then anything as the id.
            let prefix = format!(
                "{}{}:{}:{}:",
                self.prefix,
                purpose.as_str(),
                marketplace.as_str().len(),
                marketplace.as_str()
            );
            let pattern = format!("{}*", glob_escape(&prefix));
            let mut cursor = 0u64;
            loop {
                let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(500)
                    .query_async(&mut conn)
                    .await
                    .map_err(|e| store_error("SCAN", &e))?;
                if !keys.is_empty() {
                    let n: u64 = redis::cmd("DEL")
                        .arg(&keys)
                        .query_async(&mut conn)
                        .await
                        .map_err(|e| store_error("DEL", &e))?;
                    erased += n;
                }
                if next == 0 {
                    break;
                }
                cursor = next;
            }
        }
        Ok(erased)
    }

    async fn take(&self, key: &OnceKey, now: OffsetDateTime) -> Result<bool, SingleUseError> {
        let mut conn = self.conn.clone();
        // GETDEL is atomic: of two takes, one gets the value, the other nothing.
        let value: Option<Vec<u8>> = redis::cmd("GETDEL")
            .arg(self.key(key))
            .query_async(&mut conn)
            .await
            .map_err(|e| store_error("GETDEL", &e))?;
        Ok(value
            .as_deref()
            .and_then(stored_expiry)
            .is_some_and(|exp| exp > micros(now)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_name_one_entry_whatever_the_scope_holds() {
        let k = |scope: &str, id: &str| entry_key("p:", &OnceKey::assertion(scope, id));
        assert_eq!(k("idp", "_a"), "p:assertion:3:idp:_a");
        // Without the length, "a:1" + "b" and "a" + "1:b" would be one key.
        assert_ne!(k("a:1", "b"), k("a", "1:b"));
        let m = crate::types::MarketplaceKey::new("idp").unwrap();
        assert_ne!(
            entry_key("p:", &OnceKey::authn_request(&m, "_a")),
            k("idp", "_a"),
            "purposes are namespaces"
        );
    }

    #[test]
    fn a_value_this_store_did_not_write_counts_as_expired() {
        assert_eq!(
            stored_expiry(b"1700000000000000"),
            Some(1_700_000_000_000_000)
        );
        assert_eq!(stored_expiry(b"yes"), None);
        assert_eq!(stored_expiry(&[0xff, 0xfe]), None);
    }
}
