//! Offboarding (issue 19): when a company cancels (`GroupDestroyed`) or a marketplace leaves
//! the configuration, erase what the SDK stores for it, on every store the app gave it.
//!
//! [`Offboarding::erase`] removes, for one group or a whole marketplace:
//! - the identity map's links (realm = the marketplace key and the group uid,
//!   [`Realm::marketplace`](crate::idmap::Realm::marketplace));
//! - the push outbox's entries, pending, claimed or failed;
//! - the delivery ledger's records of Connec! notifications.
//!
//! - for a whole marketplace, the single-use store's entries it owns: pending login requests,
//!   login slots and leases ([`SingleUseStore::erase_marketplace`]);
//!
//! and says how many of each went ([`Erased`]). Used assertions are left alone on purpose:
//! their only job is to refuse a replay until they expire, and erasing them early would
//! reopen that. Pending requests belong to a marketplace, not to a company, so a group's
//! erase leaves them (they expire within `SsoOptions::request_ttl`). The SDK keeps no
//! sessions of its own: the app's session store is the app's to clear, in its `WebhookSink`.
//!
//! Wiring: [`Offboarding::sink`] wraps the app's sink, so a `GroupDestroyed` the app applied
//! (from a webhook or from a [reconciliation](crate::reconcile)) also erases the group;
//! [`Offboarding::erase_removed`] erases at once the marketplaces a refresh removed
//! ([`RefreshReport::removed`], less those only [refused](RefreshReport::refused));
//! `adapters::Refresher::spawn_offboarding` erases a removed marketplace only once it has
//! stayed out of the configuration for the [grace period](Offboarding::with_grace), so that a
//! developer platform that leaves a marketplace out of one reply costs it nothing.
//!
//! The identity map's provider names are shared: a marketplace's links are under its key, an
//! app's links to other providers under their names. An app that links other providers must
//! not name them like a marketplace key, or erasing that marketplace erases them too.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::config::registry::RefreshReport;
use crate::idmap::{IdMapError, IdMapStore, OutboxError, PushOutbox};
use crate::ports::{SingleUseError, SingleUseStore};
use crate::types::{GroupUid, MarketplaceKey};
use crate::webhook::{DeliveryLedger, WebhookEvent, WebhookSink};

/// What to erase.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OffboardScope {
    /// One company of one marketplace.
    Group {
        /// The marketplace.
        marketplace: MarketplaceKey,
        /// The company.
        group: GroupUid,
    },
    /// Everything of a marketplace.
    Marketplace(MarketplaceKey),
}

impl OffboardScope {
    fn parts(&self) -> (&MarketplaceKey, Option<&str>) {
        match self {
            Self::Group { marketplace, group } => (marketplace, Some(group.as_str())),
            Self::Marketplace(m) => (m, None),
        }
    }
}

/// How many records an erase removed, per store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Erased {
    /// Identity map links.
    pub id_maps: u64,
    /// Push outbox entries.
    pub pushes: u64,
    /// Delivery ledger records.
    pub deliveries: u64,
    /// Single-use entries of the marketplace (pending logins, slots, leases).
    pub single_use: u64,
}

/// An erase that stopped: what was erased before stays erased; erasing again is safe.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OffboardError {
    /// The identity map or the ledger failed.
    #[error("offboarding: {0}")]
    IdMap(#[from] IdMapError),
    /// The outbox failed.
    #[error("offboarding: {0}")]
    Outbox(#[from] OutboxError),
    /// The single-use store failed.
    #[error("offboarding: {0}")]
    SingleUse(#[from] SingleUseError),
}

/// Erases what the SDK stores for a group or a marketplace ([module documentation](self)).
///
/// ```
/// # async fn demo() -> Result<(), maestrano::offboard::OffboardError> {
/// use std::sync::Arc;
/// use maestrano::idmap::InMemoryIdMapStore;
/// use maestrano::offboard::{OffboardScope, Offboarding};
/// use maestrano::webhook::DeliveryLedger;
/// use maestrano::{GroupUid, MarketplaceKey};
///
/// let store = Arc::new(InMemoryIdMapStore::new());
/// let offboarding = Offboarding::new()
///     .with_id_map(store.clone())
///     .with_outbox(store)
///     .with_ledger(DeliveryLedger::in_memory());
/// let erased = offboarding
///     .erase(&OffboardScope::Group {
///         marketplace: MarketplaceKey::new("acme-corp").expect("key"),
///         group: GroupUid::new("cld-1").expect("uid"),
///     })
///     .await?;
/// assert_eq!(erased.id_maps, 0);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Offboarding {
    id_map: Option<Arc<dyn IdMapStore>>,
    outbox: Option<Arc<dyn PushOutbox>>,
    ledger: Option<DeliveryLedger>,
    single_use: Option<Arc<dyn SingleUseStore>>,
    grace: Duration,
}

/// How long a marketplace removed from the configuration stays out before the refresher
/// erases it, by default.
pub const DEFAULT_OFFBOARDING_GRACE: Duration = Duration::from_secs(24 * 3600);

impl Default for Offboarding {
    fn default() -> Self {
        Self {
            id_map: None,
            outbox: None,
            ledger: None,
            single_use: None,
            grace: DEFAULT_OFFBOARDING_GRACE,
        }
    }
}

impl std::fmt::Debug for Offboarding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Offboarding")
            .field("id_map", &self.id_map.is_some())
            .field("outbox", &self.outbox.is_some())
            .field("ledger", &self.ledger.is_some())
            .field("single_use", &self.single_use.is_some())
            .field("grace", &self.grace)
            .finish()
    }
}

impl Offboarding {
    /// Erases nothing until given its stores.
    pub fn new() -> Self {
        Self::default()
    }

    /// Erases the identity map's links.
    pub fn with_id_map(mut self, store: Arc<dyn IdMapStore>) -> Self {
        self.id_map = Some(store);
        self
    }

    /// Erases the push outbox's entries.
    pub fn with_outbox(mut self, outbox: Arc<dyn PushOutbox>) -> Self {
        self.outbox = Some(outbox);
        self
    }

    /// Erases the delivery ledger's records.
    pub fn with_ledger(mut self, ledger: DeliveryLedger) -> Self {
        self.ledger = Some(ledger);
        self
    }

    /// Erases a departed marketplace's single-use entries (not its used assertions).
    pub fn with_single_use(mut self, store: Arc<dyn SingleUseStore>) -> Self {
        self.single_use = Some(store);
        self
    }

    /// How long a removed marketplace must stay out of the configuration before the
    /// refresher erases it (default [`DEFAULT_OFFBOARDING_GRACE`], a day).
    pub fn with_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// The grace period.
    pub fn grace(&self) -> Duration {
        self.grace
    }

    /// Erases `scope` from every store given.
    pub async fn erase(&self, scope: &OffboardScope) -> Result<Erased, OffboardError> {
        let (marketplace, group) = scope.parts();
        let mut erased = Erased::default();
        // The outbox first: a push erased after its link would be pushed again meanwhile.
        if let Some(outbox) = &self.outbox {
            erased.pushes = outbox.erase_pushes(marketplace.as_str(), group).await?;
        }
        if let Some(store) = &self.id_map {
            erased.id_maps = store.erase(marketplace.as_str(), group).await?;
        }
        if let Some(ledger) = &self.ledger {
            erased.deliveries = ledger.erase(marketplace, group).await?;
        }
        if let (Some(store), None) = (&self.single_use, group) {
            erased.single_use = store.erase_marketplace(marketplace).await?;
        }
        tracing::info!(
            %marketplace,
            group = group.unwrap_or("*"),
            id_maps = erased.id_maps,
            pushes = erased.pushes,
            deliveries = erased.deliveries,
            single_use = erased.single_use,
            "offboarded"
        );
        Ok(erased)
    }

    /// Erases, now, every marketplace `report` says a refresh removed, except those it only
    /// refused (an entry refused alone is a configuration error to fix, not a departure).
    pub async fn erase_removed(
        &self,
        report: &RefreshReport,
    ) -> Result<Vec<(MarketplaceKey, Erased)>, OffboardError> {
        let mut out = Vec::with_capacity(report.removed.len());
        for marketplace in report
            .removed
            .iter()
            .filter(|m| !report.refused.contains(m))
        {
            let erased = self
                .erase(&OffboardScope::Marketplace(marketplace.clone()))
                .await?;
            out.push((marketplace.clone(), erased));
        }
        Ok(out)
    }

    /// `inner`, the app's sink, with each `GroupDestroyed` it applies also erased here. The
    /// app's sink goes first: if it fails, nothing is erased and the marketplace retries.
    pub fn sink(self, inner: Arc<dyn WebhookSink>) -> Arc<dyn WebhookSink> {
        Arc::new(OffboardingSink {
            offboarding: self,
            inner,
        })
    }
}

struct OffboardingSink {
    offboarding: Offboarding,
    inner: Arc<dyn WebhookSink>,
}

#[async_trait]
impl WebhookSink for OffboardingSink {
    async fn on_event(
        &self,
        event: WebhookEvent,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let scope = match &event {
            WebhookEvent::GroupDestroyed {
                marketplace,
                group_uid,
            } => Some(OffboardScope::Group {
                marketplace: marketplace.clone(),
                group: group_uid.clone(),
            }),
            _ => None,
        };
        self.inner.on_event(event).await?;
        if let Some(scope) = scope {
            self.offboarding.erase(&scope).await?;
        }
        Ok(())
    }
}
