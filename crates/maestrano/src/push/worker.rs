//! [`PushWorker`]: claims pushes from the outbox and sends them to Connec!.

use std::sync::Arc;

use time::{Duration, OffsetDateTime};

use crate::config::registry::Registry;
use crate::connec::{
    CONNEC_PROVIDER, ConnecClient, ConnecError, Entity, IdArray, IdRef, ListQuery,
};
use crate::idmap::{
    ClaimedPush, Completion, FieldError, IdMap, IdMapError, OutboxError, PushOutbox, RemoteRef,
};
use crate::ports::{Clock, HttpClient};
use crate::rest::RestError;
use crate::types::{GroupUid, MarketplaceKey};

/// Options of a [`PushWorker`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PushOptions {
    /// Most pushes claimed at a time: 20 unless set.
    pub batch: usize,
    /// How long a claim holds a batch: 5 minutes unless set (at most 7 days). A push is only
    /// started while at least half the lease is left, so keep it above twice the time one
    /// push can take (Connec!'s timeout, times the calls of one push: at most three); the
    /// pushes of a batch not started in time are released for the next claim.
    pub lease: Duration,
    /// Attempts before a transient failure fails the push for good: 10 unless set.
    pub max_attempts: u32,
    /// The wait after the first failed attempt, doubled after each: 2 seconds unless set.
    pub backoff: Duration,
    /// The longest wait between attempts: 1 hour unless set.
    pub max_backoff: Duration,
    /// Only this marketplace's pushes (a worker per tenant), or every marketplace's (`None`,
    /// the default).
    pub marketplace: Option<MarketplaceKey>,
}

impl Default for PushOptions {
    fn default() -> Self {
        Self {
            batch: 20,
            lease: Duration::minutes(5),
            max_attempts: 10,
            backoff: Duration::seconds(2),
            max_backoff: Duration::hours(1),
            marketplace: None,
        }
    }
}

impl PushOptions {
    /// Sets [`batch`](Self::batch) (1 to [`MAX_CLAIM`](crate::idmap::MAX_CLAIM)).
    pub fn with_batch(mut self, batch: usize) -> Self {
        self.batch = batch.clamp(1, crate::idmap::MAX_CLAIM);
        self
    }

    /// Sets [`lease`](Self::lease).
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease.clamp(Duration::seconds(1), Duration::days(7));
        self
    }

    /// Sets [`max_attempts`](Self::max_attempts) (at least 1).
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Sets [`backoff`](Self::backoff) and [`max_backoff`](Self::max_backoff) (each at most
    /// 30 days).
    pub fn with_backoff(mut self, first: Duration, max: Duration) -> Self {
        self.backoff = first.clamp(Duration::ZERO, Duration::days(30));
        self.max_backoff = max.clamp(Duration::ZERO, Duration::days(30));
        self
    }

    /// Sets [`marketplace`](Self::marketplace).
    pub fn with_marketplace(mut self, marketplace: MarketplaceKey) -> Self {
        self.marketplace = Some(marketplace);
        self
    }

    /// The wait after failed attempt `attempt` (1-based).
    fn backoff_after(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(30);
        let wait = self
            .backoff
            .checked_mul(2_i32.pow(doublings))
            .unwrap_or(self.max_backoff);
        wait.min(self.max_backoff).max(Duration::ZERO)
    }
}

/// What one [`PushWorker::run_once`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct PushReport {
    /// Pushes claimed.
    pub claimed: usize,
    /// New remote records created (and linked).
    pub created: usize,
    /// Linked remote records updated.
    pub updated: usize,
    /// Records an earlier attempt had created without linking, found and linked.
    pub recovered: usize,
    /// Pushes put back for a later attempt.
    pub retried: usize,
    /// Pushes failed for good.
    pub failed: usize,
    /// Pushes whose lease another worker took over before this one finished.
    pub lost: usize,
    /// Pushes of the batch released unsent because less than half their lease was left.
    pub released: usize,
}

impl PushReport {
    fn add(&mut self, other: PushReport) {
        self.claimed += other.claimed;
        self.created += other.created;
        self.updated += other.updated;
        self.recovered += other.recovered;
        self.retried += other.retried;
        self.failed += other.failed;
        self.lost += other.lost;
        self.released += other.released;
    }
}

/// Claims pushes from a [`PushOutbox`] and sends them to each tenant's Connec!, so that every
/// record ends linked to exactly one remote entity (see [the module](crate::push)).
///
/// ```no_run
/// # async fn demo(registry: maestrano::Registry, http: std::sync::Arc<dyn maestrano::ports::HttpClient>) -> Result<(), maestrano::Error> {
/// use std::sync::Arc;
/// use maestrano::idmap::{ConnectedObject, PushOutbox, Realm};
/// use maestrano::ports::{Clock, SystemClock};
/// use maestrano::push::PushWorker;
/// # use maestrano::idmap::InMemoryIdMapStore;
///
/// struct Invoice { id: u64, title: String }
/// impl ConnectedObject for Invoice {
///     fn class_name(&self) -> &str { "Invoice" }
///     fn local_id(&self) -> std::borrow::Cow<'_, str> { self.id.to_string().into() }
/// }
///
/// // In production: `adapters::SqliteStore` or `adapters::PostgresStore`, the id map's store.
/// let store: Arc<dyn PushOutbox> = Arc::new(InMemoryIdMapStore::new());
/// let invoice = Invoice { id: 42, title: "INV-42".into() };
/// let realm = Realm::new("maestrano", "cld-1a2b")?;
/// // When the invoice is saved:
/// invoice
///     .enqueue_push(&*store, &realm, "invoices", serde_json::json!({"title": invoice.title}), SystemClock.now())
///     .await?;
/// // On any instance, in a loop or on `adapters::PushRunner`:
/// let worker = PushWorker::new(registry, http, store, Arc::new(SystemClock), "my-app")?;
/// let report = worker.run_once().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct PushWorker {
    registry: Registry,
    http: Arc<dyn HttpClient>,
    outbox: Arc<dyn PushOutbox>,
    clock: Arc<dyn Clock>,
    provider: String,
    options: PushOptions,
}

/// How one push went.
enum Sent {
    Created(String),
    Updated(Box<IdMap>),
    Recovered(String),
}

impl PushWorker {
    /// A worker over `outbox` (which is also the id map it links in), calling Connec! with
    /// `http`. `provider` names the application in Connec!'s id arrays: every pushed entity
    /// carries `{id: <local id>, provider, realm: <group id>}`.
    ///
    /// # Errors
    ///
    /// `provider` is not a valid id map field (1 to 255 bytes, no NUL).
    pub fn new(
        registry: Registry,
        http: Arc<dyn HttpClient>,
        outbox: Arc<dyn PushOutbox>,
        clock: Arc<dyn Clock>,
        provider: impl Into<String>,
    ) -> Result<Self, FieldError> {
        let provider = provider.into();
        // Checked as an id map field: it ends up in the same kind of column.
        crate::idmap::Realm::new(provider.clone(), "-")?;
        Ok(Self {
            registry,
            http,
            outbox,
            clock,
            provider,
            options: PushOptions::default(),
        })
    }

    /// Uses `options`.
    pub fn with_options(mut self, options: PushOptions) -> Self {
        self.options = options;
        self
    }

    /// Claims up to [`PushOptions::batch`] due pushes and sends them, one after the other.
    ///
    /// # Errors
    ///
    /// The outbox failed. The pushes of this batch not yet finished stay claimed until their
    /// lease ends, then any worker takes them over (and searches before it creates).
    pub async fn run_once(&self) -> Result<PushReport, OutboxError> {
        let now = self.clock.now();
        let marketplace = self
            .options
            .marketplace
            .as_ref()
            .map(MarketplaceKey::as_str);
        let claimed = self
            .outbox
            .claim(marketplace, self.options.batch, self.options.lease, now)
            .await?;
        let mut report = PushReport {
            claimed: claimed.len(),
            ..PushReport::default()
        };
        for push in &claimed {
            // A push started late could outlive its lease: another worker would take it over
            // while this one's create is in flight, and no search can see that create yet.
            let now = self.clock.now();
            if push.lease_until - now < self.options.lease / 2 {
                match self.outbox.retry_later(push, now, now).await {
                    Ok(()) | Err(OutboxError::LeaseLost { .. }) => report.released += 1,
                    Err(e) => return Err(e),
                }
                continue;
            }
            report.add(self.process(push).await?);
        }
        Ok(report)
    }

    /// [`run_once`](Self::run_once) until nothing is due: what a test, or a shutdown, wants.
    /// Pushes waiting for a backoff are left for later.
    ///
    /// # Errors
    ///
    /// As [`run_once`](Self::run_once).
    pub async fn drain(&self) -> Result<PushReport, OutboxError> {
        let mut report = PushReport::default();
        loop {
            let once = self.run_once().await?;
            report.add(once);
            // Released pushes are due again at once: claim them next round, unless nothing
            // else got done (then the lease is too short for the batch, and a loop would spin).
            if once.claimed == 0 || once.claimed == once.released {
                return Ok(report);
            }
        }
    }

    async fn process(&self, push: &ClaimedPush) -> Result<PushReport, OutboxError> {
        let mut report = PushReport::default();
        let outcome = self.send(push).await;
        let now = self.clock.now();
        let result = match outcome {
            Ok(sent) => self.finish(push, sent, now, &mut report).await,
            Err(Failure::Transient(reason)) if push.attempts < self.options.max_attempts => {
                let at = now.saturating_add(self.options.backoff_after(push.attempts));
                tracing::info!(push = %push.id, attempt = push.attempts, %reason, "push failed; will retry");
                report.retried += 1;
                self.outbox.retry_later(push, at, now).await
            }
            Err(Failure::Transient(reason)) => {
                let reason = format!("gave up after {} attempts: {reason}", push.attempts);
                self.give_up(push, &reason, now, &mut report).await
            }
            Err(Failure::Permanent(reason)) => self.give_up(push, &reason, now, &mut report).await,
        };
        match result {
            Ok(()) => Ok(report),
            Err(OutboxError::LeaseLost { .. }) => {
                // Another worker took the push over; it searches before it creates.
                tracing::warn!(push = %push.id, "push lease lost to another worker");
                Ok(PushReport {
                    lost: 1,
                    ..PushReport::default()
                })
            }
            Err(e) => Err(e),
        }
    }

    /// Links what was sent and completes the push.
    async fn finish(
        &self,
        push: &ClaimedPush,
        sent: Sent,
        now: OffsetDateTime,
        report: &mut PushReport,
    ) -> Result<(), OutboxError> {
        let intent = &push.intent;
        let map = match sent {
            Sent::Created(ref id) | Sent::Recovered(ref id) => {
                match RemoteRef::new(intent.realm().clone(), intent.entity(), id.clone()) {
                    Ok(remote) => IdMap::new(intent.local().clone(), remote, now),
                    Err(e) => {
                        // Connec! answered an id no link can hold: no retry will do better.
                        let reason = format!("Connec! returned an id that cannot be linked: {e}");
                        return self.give_up(push, &reason, now, report).await;
                    }
                }
            }
            Sent::Updated(ref map) => (**map).clone(),
        }
        .with_pushed_to_remote_at(now);
        match self.outbox.complete(push, Some(map), now).await {
            Ok(Completion::Done | Completion::NewerPending) => {
                match sent {
                    Sent::Created(_) => report.created += 1,
                    Sent::Recovered(_) => report.recovered += 1,
                    Sent::Updated(_) => report.updated += 1,
                }
                tracing::info!(push = %push.id, local = %intent.local(), entity = intent.entity(), "pushed to Connec!");
                Ok(())
            }
            Err(OutboxError::IdMap(
                e @ (IdMapError::Conflict(_) | IdMapError::LocalConflict(_)),
            )) => {
                let reason = format!("the remote record could not be linked: {e}");
                self.give_up(push, &reason, now, report).await
            }
            Err(e) => Err(e),
        }
    }

    async fn give_up(
        &self,
        push: &ClaimedPush,
        reason: &str,
        now: OffsetDateTime,
        report: &mut PushReport,
    ) -> Result<(), OutboxError> {
        tracing::warn!(push = %push.id, local = %push.intent.local(), %reason, "push failed for good");
        report.failed += 1;
        self.outbox.fail(push, reason, now).await
    }

    /// Sends one push: update the linked entity, or find what an earlier attempt created, or
    /// create.
    async fn send(&self, push: &ClaimedPush) -> Result<Sent, Failure> {
        let intent = &push.intent;
        let realm = intent.realm();
        let marketplace = MarketplaceKey::new(realm.provider()).map_err(|e| {
            Failure::Permanent(format!(
                "the realm's provider is not a marketplace key: {e}"
            ))
        })?;
        let group = GroupUid::new(realm.realm())
            .map_err(|e| Failure::Permanent(format!("the realm is not a group id: {e}")))?;
        // An unknown marketplace may be one the configuration has not loaded yet.
        let tenant = self
            .registry
            .with(&marketplace)
            .map_err(|e| Failure::Transient(e.to_string()))?;
        let client = ConnecClient::new(&tenant, group.clone(), self.http.clone())
            .map_err(|e| Failure::Permanent(e.to_string()))?;
        let local_id = intent.local().local_id();
        let mut entity = Entity::from_value(intent.payload().clone())
            .map_err(|e| Failure::Permanent(e.to_string()))?;
        // The record's id rides in the id array: that is how a lost create is found again.
        let mut ids = IdArray(
            entity
                .ids()
                .unwrap_or_default()
                .0
                .into_iter()
                .filter(|r| r.provider != CONNEC_PROVIDER)
                .collect(),
        );
        ids.set(IdRef::new(
            local_id,
            &self.provider,
            Some(group.as_str().to_owned()),
        ));
        entity.set_ids(&ids);
        let collection = intent.entity();

        let linked = self
            .outbox
            .links_in(intent.local(), realm)
            .await
            .map_err(|e| Failure::Transient(e.to_string()))?
            .into_iter()
            .find(|m| m.remote.entity() == collection);
        if let Some(map) = linked {
            return match client
                .update(collection, map.remote.remote_id(), &entity)
                .await
            {
                Ok(_) => Ok(Sent::Updated(Box::new(map))),
                Err(e) if e.status() == Some(404) => Err(Failure::Permanent(format!(
                    "the linked {collection} {} is gone from Connec! (HTTP 404): unlink the record, then enqueue it again",
                    map.remote.remote_id()
                ))),
                Err(e) => Err(classify(&e)),
            };
        }
        if push.may_have_been_sent_before()
            && let Some(found) = self
                .find_created(&client, collection, local_id, group.as_str())
                .await?
        {
            return match client.update(collection, &found, &entity).await {
                Ok(_) => Ok(Sent::Recovered(found)),
                Err(e) => Err(classify(&e)),
            };
        }
        let created = client
            .create(collection, &entity)
            .await
            .map_err(|e| classify(&e))?;
        let id = created.connec_id().ok_or_else(|| {
            // Created, but with no id to link: a retry would search and find it.
            Failure::Transient(format!(
                "Connec! created the {collection} entity without a connec id"
            ))
        })?;
        Ok(Sent::Created(id))
    }

    /// The Connec! id of the entity an earlier attempt created for `local_id`, if any.
    async fn find_created(
        &self,
        client: &ConnecClient,
        collection: &str,
        local_id: &str,
        group: &str,
    ) -> Result<Option<String>, Failure> {
        // OData quoting: a quote inside the value is doubled.
        let filter = format!("id eq '{}'", local_id.replace('\'', "''"));
        let mut pages = client
            .pages(collection, ListQuery::new().filter(filter).top(100))
            .map_err(|e| classify(&e))?;
        let mut ours: Vec<Entity> = Vec::new();
        while let Some(page) = pages.next_page().await {
            let page = page.map_err(|e| classify(&e))?;
            ours.extend(page.entities.into_iter().filter(|e| {
                // Connec! omits the realm in some replies: no realm still names this group.
                e.ids().is_some_and(|ids| {
                    ids.iter().any(|r| {
                        r.provider == self.provider
                            && r.id == local_id
                            && r.realm.as_deref().is_none_or(|realm| realm == group)
                    })
                })
            }));
            // Other providers' records may share the id; ten pages of 100 is plenty.
            if pages.pages_fetched() >= MAX_SEARCH_PAGES {
                break;
            }
        }
        // Several (made by something other than this worker): the oldest is the one to keep.
        ours.sort_by_key(Entity::created_at);
        match ours.iter().find_map(Entity::connec_id) {
            Some(id) => Ok(Some(id)),
            None if ours.is_empty() => Ok(None),
            // Ours, but with no id to update or link: creating again would duplicate it.
            None => Err(Failure::Permanent(format!(
                "Connec! holds {} {collection} entities carrying this record's id, none with a connec id",
                ours.len()
            ))),
        }
    }
}

/// Most pages a search for a lost create reads.
const MAX_SEARCH_PAGES: u32 = 10;

/// Why a push did not go through.
enum Failure {
    /// Worth another attempt.
    Transient(String),
    /// Not worth one.
    Permanent(String),
}

fn classify(e: &ConnecError) -> Failure {
    let transient = match e {
        ConnecError::Rest(RestError::Transport(_)) => true,
        // Credentials may be rotated by a configuration refresh; 408 and 429 ask for a retry.
        _ => e
            .status()
            .is_some_and(|s| s >= 500 || matches!(s, 401 | 408 | 429)),
    };
    if transient {
        Failure::Transient(e.to_string())
    } else {
        Failure::Permanent(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let o = PushOptions::default().with_backoff(Duration::seconds(2), Duration::minutes(1));
        let waits: Vec<i64> = (1..=8)
            .map(|a| o.backoff_after(a).whole_seconds())
            .collect();
        assert_eq!(waits, [2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(o.backoff_after(u32::MAX), Duration::minutes(1));
        let huge = PushOptions::default().with_backoff(Duration::days(365), Duration::days(9999));
        assert_eq!(
            huge.backoff_after(40),
            Duration::days(30),
            "clamped to 30 days, no overflow"
        );
        let lease = PushOptions::default().with_lease(Duration::days(9999));
        assert_eq!(
            lease.lease,
            Duration::days(7),
            "within what a claim accepts"
        );
    }
}
