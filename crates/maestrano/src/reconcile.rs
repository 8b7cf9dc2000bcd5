//! Missed-webhook reconciliation (issue 19): what the marketplace's account API says against
//! what the app holds, and the `GroupDestroyed` and `UserRemovedFromGroup` events that never
//! arrived, delivered through the app's own [`WebhookSink`].
//!
//! A webhook is lost when the app was down longer than the platform retried. Then a company
//! that cancelled keeps its access (and its bills). [`Reconciler::run`] catches that up, one
//! bounded batch of the app's groups at a time:
//! - the marketplace's groups come from `GET account/groups`, which lists the groups that
//!   have the app (mno-api-sandbox, `groups_controller.rb`: `current_app.groups`), so a group
//!   the app holds and the list lacks has left: `GroupDestroyed`;
//! - a group's members come from `GET account/users?group_id=…` (`users_controller.rb`: the
//!   group as parent), so a member the app holds and the list lacks has left:
//!   `UserRemovedFromGroup`.
//!
//! A missing event is emitted only on two readings that agree, because what follows it (an
//! [offboarding](crate::offboard)) cannot be undone: a group the list lacks is looked up on
//! its own (`GET account/groups/{id}`) and is gone only if that answers not found; a group
//! the list shows with no member at all is left alone (every company has its owner), so an
//! empty list from a glitch removes nobody. Nothing is emitted when a call fails. The events
//! go to the same sink as the webhooks, which must already apply an
//! event twice without harm (the platform retries deliveries); once applied, the app no longer
//! holds what it removed, so the next run emits nothing for it. Runs of one marketplace hold a
//! lease in the [`SingleUseStore`], so that instances started together do the work once (a
//! run gives its lease back only while it is still its own: one that outlasted it lets it
//! expire); a run stopped half-way (a crash, or the batch bound) resumes from the cursor it
//! returned.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::api::{AccountClient, ApiError, Filter};
use crate::ports::{Clock, OnceKey, SingleUseError, SingleUseStore};
use crate::types::{GroupUid, MarketplaceKey, UserUid};
use crate::webhook::{WebhookEvent, WebhookSink};

/// The error an app's [`HeldAccounts`] or sink returns.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The default most groups one [`Reconciler::run`] looks at.
pub const DEFAULT_BATCH: usize = 200;
/// How long a run's lease lasts by default; a run that takes longer may be joined by another.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(600);

/// What the app holds of a marketplace: the companies it serves and their members, as its
/// own database knows them. Implemented by the app.
#[async_trait]
pub trait HeldAccounts: Send + Sync {
    /// Up to `limit` of the groups of `marketplace` the app holds, in ascending uid order,
    /// after `after` when given.
    async fn groups(
        &self,
        marketplace: &MarketplaceKey,
        after: Option<&GroupUid>,
        limit: usize,
    ) -> Result<Vec<GroupUid>, BoxError>;

    /// The members of `group` the app holds.
    async fn members(
        &self,
        marketplace: &MarketplaceKey,
        group: &GroupUid,
    ) -> Result<Vec<UserUid>, BoxError>;
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ReconcileReport {
    /// The groups of the app looked at.
    pub groups_checked: usize,
    /// The groups found gone, each sent as `GroupDestroyed`.
    pub groups_destroyed: Vec<GroupUid>,
    /// The memberships found ended, each sent as `UserRemovedFromGroup`.
    pub members_removed: Vec<(GroupUid, UserUid)>,
    /// Where the next run goes on, when the batch bound stopped this one; `None` once every
    /// group of the app was looked at.
    pub next: Option<GroupUid>,
    /// Another instance held the marketplace's lease: this run did nothing.
    pub skipped: bool,
}

/// Why a run stopped. Whatever was emitted before stays emitted; run again.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReconcileError {
    /// The account API could not be read.
    #[error("reconciliation: the account API failed: {0}")]
    Api(#[from] ApiError),
    /// The app's [`HeldAccounts`] failed.
    #[error("reconciliation: the app's accounts could not be read: {0}")]
    Held(#[source] BoxError),
    /// The sink refused an event.
    #[error("reconciliation: the sink failed on {event}: {source}")]
    Sink {
        /// The event's name.
        event: &'static str,
        /// The sink's error.
        #[source]
        source: BoxError,
    },
    /// The lease could not be taken or given back.
    #[error("reconciliation: {0}")]
    Lease(#[from] SingleUseError),
}

/// Reconciles one marketplace ([module documentation](self)).
///
/// ```no_run
/// # async fn demo(
/// #     client: maestrano::api::AccountClient,
/// #     held: std::sync::Arc<dyn maestrano::reconcile::HeldAccounts>,
/// #     sink: std::sync::Arc<dyn maestrano::webhook::WebhookSink>,
/// #     store: std::sync::Arc<dyn maestrano::ports::SingleUseStore>,
/// # ) -> Result<(), maestrano::reconcile::ReconcileError> {
/// use std::sync::Arc;
/// use maestrano::ports::SystemClock;
/// use maestrano::reconcile::Reconciler;
///
/// let reconciler = Reconciler::new(client, held, sink, store, Arc::new(SystemClock));
/// let mut cursor = None;
/// loop {
///     let report = reconciler.run(cursor.as_ref()).await?;
///     // Another instance is on it: leave it to that one.
///     if report.skipped {
///         break;
///     }
///     cursor = report.next;
///     if cursor.is_none() {
///         break;
///     }
/// }
/// # Ok(()) }
/// ```
pub struct Reconciler {
    client: AccountClient,
    held: Arc<dyn HeldAccounts>,
    sink: Arc<dyn WebhookSink>,
    store: Arc<dyn SingleUseStore>,
    clock: Arc<dyn Clock>,
    batch: usize,
    lease: Duration,
}

impl std::fmt::Debug for Reconciler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reconciler")
            .field("marketplace", self.client.tenant().marketplace())
            .field("batch", &self.batch)
            .field("lease", &self.lease)
            .finish_non_exhaustive()
    }
}

impl Reconciler {
    /// A reconciler of `client`'s tenant: `held` says what the app holds, `sink` receives the
    /// missed events, `store` (shared by every instance) holds the lease.
    pub fn new(
        client: AccountClient,
        held: Arc<dyn HeldAccounts>,
        sink: Arc<dyn WebhookSink>,
        store: Arc<dyn SingleUseStore>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            client,
            held,
            sink,
            store,
            clock,
            batch: DEFAULT_BATCH,
            lease: DEFAULT_LEASE,
        }
    }

    /// The most groups of the app one run looks at (at least 1; default [`DEFAULT_BATCH`]).
    pub fn with_batch(mut self, groups: usize) -> Self {
        self.batch = groups.max(1);
        self
    }

    /// How long a run's lease lasts (default [`DEFAULT_LEASE`]).
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// Looks at up to the batch bound of the app's groups after `after`, emits what was
    /// missed, and says where to go on.
    pub async fn run(&self, after: Option<&GroupUid>) -> Result<ReconcileReport, ReconcileError> {
        let marketplace = self.client.tenant().marketplace().clone();
        let now = self.clock.now();
        let key = OnceKey::lease(&marketplace, "reconcile");
        let until = now.saturating_add(self.lease.try_into().unwrap_or(time::Duration::MAX));
        if !self.store.insert_if_absent(&key, until, now).await? {
            tracing::info!(%marketplace, "reconciliation already running on another instance");
            return Ok(ReconcileReport {
                skipped: true,
                next: after.cloned(),
                ..ReconcileReport::default()
            });
        }
        let result = self.batch(&marketplace, after).await;
        // Given back whatever happened, so the next run need not wait for the lease to end;
        // but only while it is still this run's: past its end another run may hold it.
        let end = self.clock.now();
        let freed = if end < until {
            self.store.take(&key, end).await.map(|_| ())
        } else {
            tracing::warn!(%marketplace, "reconciliation outlasted its lease; not freeing it");
            Ok(())
        };
        let report = result?;
        freed?;
        tracing::info!(
            %marketplace,
            checked = report.groups_checked,
            destroyed = report.groups_destroyed.len(),
            removed = report.members_removed.len(),
            "reconciliation batch done"
        );
        Ok(report)
    }

    async fn batch(
        &self,
        marketplace: &MarketplaceKey,
        after: Option<&GroupUid>,
    ) -> Result<ReconcileReport, ReconcileError> {
        let held = self
            .held
            .groups(marketplace, after, self.batch)
            .await
            .map_err(ReconcileError::Held)?;
        let mut report = ReconcileReport::default();
        if held.is_empty() {
            return Ok(report);
        }
        let live: HashSet<GroupUid> = self
            .client
            .list_groups(&Filter::new())
            .await?
            .into_iter()
            .map(|g| g.id)
            .collect();
        for group in held.iter().take(self.batch) {
            report.groups_checked += 1;
            if !live.contains(group) && self.confirmed_gone(group).await? {
                self.emit(WebhookEvent::GroupDestroyed {
                    marketplace: marketplace.clone(),
                    group_uid: group.clone(),
                })
                .await?;
                report.groups_destroyed.push(group.clone());
                continue;
            }
            let members = self
                .held
                .members(marketplace, group)
                .await
                .map_err(ReconcileError::Held)?;
            if members.is_empty() || !live.contains(group) {
                continue;
            }
            let current: HashSet<UserUid> = self
                .client
                .list_users(&Filter::new().eq("group_id", group))
                .await?
                .into_iter()
                .map(|u| u.id)
                .collect();
            if current.is_empty() {
                tracing::warn!(
                    %marketplace,
                    %group,
                    "the account API lists no member of a company it lists: not reconciled"
                );
                continue;
            }
            for user in members {
                if !current.contains(&user) {
                    self.emit(WebhookEvent::UserRemovedFromGroup {
                        marketplace: marketplace.clone(),
                        group_uid: group.clone(),
                        user_uid: user.clone(),
                    })
                    .await?;
                    report.members_removed.push((group.clone(), user));
                }
            }
        }
        if held.len() >= self.batch {
            report.next = held.get(self.batch - 1).cloned();
        }
        Ok(report)
    }

    /// Whether the account API, asked for `group` alone, says it is not found: a group the
    /// list lacked and the lookup still returns is not reported gone.
    async fn confirmed_gone(&self, group: &GroupUid) -> Result<bool, ReconcileError> {
        match self.client.group(group).await {
            Err(ApiError::NotFound { .. }) => Ok(true),
            Ok(_) => {
                tracing::warn!(%group, "a company missing from the list is still there: not reconciled");
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn emit(&self, event: WebhookEvent) -> Result<(), ReconcileError> {
        let name = event.name();
        tracing::warn!(
            marketplace = %event.marketplace(),
            event = name,
            "reconciliation: applying a webhook that never arrived"
        );
        metrics::counter!(
            "maestrano_reconciled_events_total",
            "marketplace" => event.marketplace().to_string(),
            "event" => name
        )
        .increment(1);
        self.sink
            .on_event(event)
            .await
            .map_err(|source| ReconcileError::Sink {
                event: name,
                source,
            })
    }
}
