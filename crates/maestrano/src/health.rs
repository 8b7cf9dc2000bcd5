//! Per-tenant health, for a readiness probe and a dashboard (issue 19).
//!
//! A [`HealthCheck`] reads what the SDK already knows, without calling any marketplace on a
//! probe: the
//! configuration snapshot (its age, where it came from, the last refresh error, which is the
//! developer platform's reachability), each tenant's IdP certificates (expired, or expiring
//! within the warning window), the [`Bulkhead`]'s view of each tenant's account API and
//! Connec! (calls in flight, failures in a row, an open circuit), the push outbox's backlog,
//! and each tenant's Connec! version as [`HealthCheck::check_connec`] last read it (run it
//! from a periodic task, not from the probe). [`HealthReport`] serializes to JSON;
//! `maestrano-axum` serves it.
//!
//! It also sets the gauges `maestrano_config_snapshot_age_seconds`,
//! `maestrano_idp_certificate_expiry_seconds{marketplace}` and
//! `maestrano_outbox_{pending,failed}` each time it runs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;

use crate::config::registry::{Registry, SnapshotOrigin};
use crate::connec::ConnecClient;
use crate::idmap::PushOutbox;
use crate::rest::{ApiService, Bulkhead};
use crate::timestamp::format_utc;
use crate::types::MarketplaceKey;

/// How long before an IdP certificate expires that its tenant is reported degraded, by
/// default.
pub const DEFAULT_CERTIFICATE_WARNING: Duration = Duration::from_secs(30 * 24 * 3600);

/// How healthy a tenant, or the whole app, is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum HealthStatus {
    /// Nothing to report.
    Ok,
    /// Serving, with something to act on soon (a certificate near its end, an open circuit,
    /// a configuration that could not be refreshed).
    Degraded,
    /// Cannot serve logins (every IdP certificate expired). For the whole app: every tenant
    /// is failing (one failing tenant alone makes the app `Degraded`, so that a probe never
    /// takes the instance away from the tenants it still serves).
    Failing,
}

/// One IdP certificate of a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct CertificateHealth {
    /// Its SHA-1 fingerprint, as the developer platform shows it.
    pub sha1_fingerprint: String,
    /// Its `notAfter`, RFC 3339.
    pub not_after: String,
    /// Seconds until then (negative once expired).
    pub expires_in_seconds: i64,
}

/// What the bulkhead knows of one service of a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ServiceHealth {
    /// Calls in flight.
    pub in_flight: u32,
    /// Failures in a row.
    pub consecutive_failures: u32,
    /// Until when its circuit refuses calls, RFC 3339, when it is open.
    pub circuit_open_until: Option<String>,
}

/// The health of one tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct TenantHealth {
    /// The marketplace.
    pub marketplace: String,
    /// Its status: the worst of its problems.
    pub status: HealthStatus,
    /// What is wrong, in words (empty when nothing is).
    pub problems: Vec<String>,
    /// Its IdP certificates.
    pub idp_certificates: Vec<CertificateHealth>,
    /// Its account API, when a bulkhead is watched.
    pub account_api: Option<ServiceHealth>,
    /// Its Connec! API, when a bulkhead is watched and the tenant has Connec!.
    pub connec: Option<ServiceHealth>,
    /// Its Connec! version, as last read.
    pub connec_version: Option<ConnecVersionHealth>,
}

/// A tenant's Connec! version, as [`HealthCheck::check_connec`] last read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ConnecVersionHealth {
    /// When it was read, RFC 3339.
    pub checked_at: String,
    /// The branch (`ci_branch`, such as `v1.1`), when the read succeeded.
    pub branch: Option<String>,
    /// The build number (`ci_build_number`).
    pub build: Option<String>,
    /// Why the read failed (never a secret: the client's errors are redacted).
    pub error: Option<String>,
}

/// The configuration snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SnapshotHealth {
    /// Its generation (1 for the first set loaded).
    pub generation: u64,
    /// When it was loaded, RFC 3339.
    pub loaded_at: String,
    /// Seconds since then.
    pub age_seconds: i64,
    /// `source`, or `cache` when the app started from its cache while the source was down.
    pub origin: &'static str,
    /// Whether a refresh is due.
    pub stale: bool,
    /// The last refresh's error, when it failed (the developer platform unreachable, a
    /// refused document): never a secret.
    pub last_refresh_error: Option<String>,
    /// Tenants the last set refused.
    pub refused_tenants: Vec<String>,
}

/// The push outbox's backlog, over every tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct OutboxHealth {
    /// Pushes waiting to be sent.
    pub pending: Option<u64>,
    /// Pushes that failed for good.
    pub failed: Option<u64>,
    /// Why the backlog could not be read.
    pub error: Option<String>,
}

/// The health of the app's SDK: the worst status, the snapshot, the outbox, each tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct HealthReport {
    /// The worst status of all.
    pub status: HealthStatus,
    /// When the report was made, RFC 3339.
    pub generated_at: String,
    /// The configuration snapshot.
    pub snapshot: SnapshotHealth,
    /// The outbox, when one is watched.
    pub outbox: Option<OutboxHealth>,
    /// Each tenant, by marketplace key.
    pub tenants: Vec<TenantHealth>,
}

impl HealthReport {
    /// The report as JSON.
    pub fn to_json(&self) -> String {
        // Every field is a string, a number, a bool or a list of them: this cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Builds [`HealthReport`]s ([module documentation](self)). Cheap to clone.
///
/// ```
/// # async fn demo(registry: maestrano::Registry, bulkhead: maestrano::Bulkhead) {
/// use maestrano::health::{HealthCheck, HealthStatus};
///
/// let check = HealthCheck::new(registry).with_bulkhead(bulkhead);
/// let report = check.report().await;
/// if report.status != HealthStatus::Ok {
///     eprintln!("{}", report.to_json());
/// }
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct HealthCheck {
    registry: Registry,
    bulkhead: Option<Bulkhead>,
    outbox: Option<Arc<dyn PushOutbox>>,
    certificate_warning: Duration,
    /// The Connec! versions last read, by marketplace; shared by the clones.
    connec_versions: Arc<Mutex<HashMap<MarketplaceKey, ConnecVersionHealth>>>,
}

impl HealthCheck {
    /// A check of `registry`'s tenants.
    pub fn new(registry: Registry) -> Self {
        Self {
            registry,
            bulkhead: None,
            outbox: None,
            certificate_warning: DEFAULT_CERTIFICATE_WARNING,
            connec_versions: Arc::default(),
        }
    }

    /// Reads `client`'s tenant's Connec! version (`GET /version`) and keeps it for the next
    /// reports; a failure is kept too, and makes the tenant degraded. Call it from a periodic
    /// task: a probe should not wait on a marketplace.
    pub async fn check_connec(&self, client: &ConnecClient) {
        let marketplace = client.tenant().marketplace().clone();
        let checked_at = format_utc(self.registry.now());
        let entry = match client.version().await {
            Ok(v) => ConnecVersionHealth {
                checked_at,
                branch: v.ci_branch,
                build: v.ci_build_number,
                error: None,
            },
            Err(e) => ConnecVersionHealth {
                checked_at,
                branch: None,
                build: None,
                error: Some(e.to_string()),
            },
        };
        // Only tenants of the configuration are kept, so the map stays bounded by it.
        let snapshot = self.registry.snapshot();
        let mut versions = self
            .connec_versions
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        versions.retain(|m, _| snapshot.get(m).is_ok());
        versions.insert(marketplace, entry);
    }

    /// Reports each tenant's services as `bulkhead` sees them.
    pub fn with_bulkhead(mut self, bulkhead: Bulkhead) -> Self {
        self.bulkhead = Some(bulkhead);
        self
    }

    /// Reports `outbox`'s backlog.
    pub fn with_outbox(mut self, outbox: Arc<dyn PushOutbox>) -> Self {
        self.outbox = Some(outbox);
        self
    }

    /// Reports a tenant degraded from `warning` before an IdP certificate expires (default
    /// [`DEFAULT_CERTIFICATE_WARNING`], 30 days).
    pub fn with_certificate_warning(mut self, warning: Duration) -> Self {
        self.certificate_warning = warning;
        self
    }

    /// The report, now.
    pub async fn report(&self) -> HealthReport {
        let now = self.registry.now();
        let snapshot = self.registry.snapshot();
        let last_refresh_error = self.registry.last_refresh_error().map(|e| e.to_string());
        let stale = self.registry.is_stale();
        let age = (now - snapshot.loaded_at()).whole_seconds();
        metrics::gauge!("maestrano_config_snapshot_age_seconds").set(age as f64);
        let mut worst = HealthStatus::Ok;
        if last_refresh_error.is_some() || snapshot.origin() != SnapshotOrigin::Source {
            worst = HealthStatus::Degraded;
        }
        let warning =
            time::Duration::try_from(self.certificate_warning).unwrap_or(time::Duration::MAX);
        let mut tenants = Vec::with_capacity(snapshot.tenants().len());
        let mut all_failing = snapshot.tenants().len() > 0;
        for tenant in snapshot.tenants() {
            let marketplace = tenant.marketplace();
            let mut status = HealthStatus::Ok;
            let mut problems = Vec::new();
            if let Some(e) = &last_refresh_error {
                problems.push(format!("the configuration could not be refreshed: {e}"));
                status = HealthStatus::Degraded;
            }
            let certificates = tenant.config().sso().certificates();
            let mut idp_certificates = Vec::with_capacity(certificates.len());
            let mut latest: Option<OffsetDateTime> = None;
            for c in certificates {
                let left = c.not_after() - now;
                latest = Some(latest.map_or(c.not_after(), |l| l.max(c.not_after())));
                idp_certificates.push(CertificateHealth {
                    sha1_fingerprint: c.sha1_fingerprint().to_string(),
                    not_after: format_utc(c.not_after()),
                    expires_in_seconds: left.whole_seconds(),
                });
            }
            match latest {
                Some(l) if l <= now => {
                    problems.push("every IdP certificate has expired: logins fail".into());
                    status = HealthStatus::Failing;
                }
                Some(l) if l - now <= warning => {
                    problems.push(format!(
                        "the IdP certificate expires in {} days: expected at least {} days left",
                        (l - now).whole_days(),
                        warning.whole_days()
                    ));
                    status = status.max(HealthStatus::Degraded);
                }
                _ => {}
            }
            if let Some(l) = latest {
                metrics::gauge!(
                    "maestrano_idp_certificate_expiry_seconds",
                    "marketplace" => marketplace.to_string()
                )
                .set((l - now).whole_seconds() as f64);
            }
            let service = |s: ApiService| {
                self.bulkhead.as_ref().map(|b| {
                    let state = b.state(marketplace, s);
                    ServiceHealth {
                        in_flight: state.in_flight,
                        consecutive_failures: state.consecutive_failures,
                        circuit_open_until: state.open_until.map(format_utc),
                    }
                })
            };
            let account_api = service(ApiService::Account);
            let connec = tenant
                .config()
                .connec()
                .and_then(|_| service(ApiService::Connec));
            for (name, s) in [("account API", &account_api), ("Connec! API", &connec)] {
                if let Some(until) = s.as_ref().and_then(|s| s.circuit_open_until.as_ref()) {
                    problems.push(format!("the {name}'s circuit is open until {until}"));
                    status = status.max(HealthStatus::Degraded);
                }
            }
            // One tenant's failure is the others' degradation at most: see `HealthStatus`.
            let connec_version = self
                .connec_versions
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(marketplace)
                .cloned();
            if let Some(e) = connec_version.as_ref().and_then(|v| v.error.as_ref()) {
                problems.push(format!("its Connec! version could not be read: {e}"));
                status = status.max(HealthStatus::Degraded);
            }
            worst = worst.max(status.min(HealthStatus::Degraded));
            all_failing &= status == HealthStatus::Failing;
            tenants.push(TenantHealth {
                marketplace: marketplace.to_string(),
                status,
                problems,
                idp_certificates,
                account_api,
                connec,
                connec_version,
            });
        }
        tenants.sort_by(|a, b| a.marketplace.cmp(&b.marketplace));
        if all_failing {
            worst = HealthStatus::Failing;
        }
        let outbox = match &self.outbox {
            None => None,
            Some(o) => Some(match o.backlog().await {
                Ok(b) => {
                    metrics::gauge!("maestrano_outbox_pending").set(b.pending as f64);
                    metrics::gauge!("maestrano_outbox_failed").set(b.failed as f64);
                    if b.failed > 0 {
                        worst = worst.max(HealthStatus::Degraded);
                    }
                    OutboxHealth {
                        pending: Some(b.pending),
                        failed: Some(b.failed),
                        error: None,
                    }
                }
                Err(e) => {
                    worst = worst.max(HealthStatus::Degraded);
                    OutboxHealth {
                        pending: None,
                        failed: None,
                        error: Some(e.to_string()),
                    }
                }
            }),
        };
        HealthReport {
            status: worst,
            generated_at: format_utc(now),
            snapshot: SnapshotHealth {
                generation: snapshot.generation(),
                loaded_at: format_utc(snapshot.loaded_at()),
                age_seconds: age,
                origin: match snapshot.origin() {
                    SnapshotOrigin::Source => "source",
                    SnapshotOrigin::Cache { .. } => "cache",
                },
                stale,
                last_refresh_error,
                refused_tenants: snapshot
                    .refused()
                    .iter()
                    .map(|r| r.marketplace.to_string())
                    .collect(),
            },
            outbox,
            tenants,
        }
    }
}
