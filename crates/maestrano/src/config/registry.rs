//! The registry of tenants: one immutable snapshot at a time, refreshed from a
//! [`ConfigSource`] after a TTL measured on the [`Clock`].

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use subtle::{ConditionallySelectable, ConstantTimeEq};
use time::{Duration, OffsetDateTime};

use super::cache::{CachedConfig, ConfigCache};
use super::error::ConfigError;
use super::json::parse_document;
use super::model::MarketplaceConfig;
use super::source::check_set;
use super::tenant::Tenant;
use crate::config::ConfigSource;
use crate::ports::Clock;
use crate::routes::{Router, RouterBuilder, RouterOptions};
use crate::saml::{SamlPolicy, SsoOptions};
use crate::types::MarketplaceKey;

/// A consistent set of tenants, as loaded at one instant.
#[derive(Debug)]
pub struct Snapshot {
    tenants: BTreeMap<MarketplaceKey, Tenant>,
    router: Arc<Router>,
    refused: Vec<RefusedTenant>,
    loaded_at: OffsetDateTime,
    generation: u64,
    origin: SnapshotOrigin,
}

/// Where a snapshot's configuration came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SnapshotOrigin {
    /// The registry's source, when it was loaded.
    Source,
    /// The [`ConfigCache`]: the source failed at start-up, and this is the document it gave
    /// last, loaded from it at `saved_at`. The registry keeps trying the source.
    Cache {
        /// When the cached document was loaded from the source.
        saved_at: OffsetDateTime,
    },
}

/// A tenant entry the registry refused while loading a set, alone: every other tenant of the
/// set is served.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RefusedTenant {
    /// The tenant.
    pub marketplace: MarketplaceKey,
    /// Why its entry was refused: a field of the entry ([`ConfigError::Field`]), its paths
    /// ([`ConfigError::Routes`]) or its hosts ([`ConfigError::PlainHttp`]).
    pub error: ConfigError,
    /// Whether the tenant is still served, with the last good entry of the snapshot before.
    pub kept_previous: bool,
}

/// A tenant entry that passed the checks of its own, before its routes are placed.
struct Candidate {
    tenant: Tenant,
    /// The tenant as the previous snapshot served it, to fall back on.
    previous: Option<Tenant>,
}

impl Snapshot {
    /// The tenant with this key.
    pub fn get(&self, marketplace: &MarketplaceKey) -> Result<Tenant, ConfigError> {
        self.tenants
            .get(marketplace)
            .cloned()
            .ok_or_else(|| ConfigError::UnknownMarketplace {
                marketplace: marketplace.clone(),
            })
    }

    /// Every tenant, by key.
    pub fn tenants(&self) -> impl ExactSizeIterator<Item = &Tenant> {
        self.tenants.values()
    }

    /// The tenant keys, sorted.
    pub fn marketplaces(&self) -> impl ExactSizeIterator<Item = &MarketplaceKey> {
        self.tenants.keys()
    }

    /// The request router of these tenants, laid out by the registry's
    /// [`router_options`](RegistryBuilder::router_options). Built with the snapshot, so a
    /// tenant whose paths would conflict was refused then, alone.
    pub fn router(&self) -> Arc<Router> {
        Arc::clone(&self.router)
    }

    /// The tenant entries of the loaded set that were refused, each alone, and why. A tenant
    /// listed here with `kept_previous` is served with its last good entry.
    pub fn refused(&self) -> &[RefusedTenant] {
        &self.refused
    }

    /// When this set was loaded, on the registry's clock.
    pub fn loaded_at(&self) -> OffsetDateTime {
        self.loaded_at
    }

    /// 1 for the first set, then one more for every successful refresh.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Whether this set came from the source or, at a start-up while the source was down,
    /// from the [`ConfigCache`].
    pub fn origin(&self) -> SnapshotOrigin {
        self.origin
    }

    /// The only tenant whose `(api.id, api.key)` are these credentials.
    ///
    /// Every tenant is compared, in constant time per tenant, whether or not an earlier one
    /// matched. Credentials shared by several tenants identify none of them:
    /// [`ConfigError::AmbiguousCredentials`].
    pub fn find_by_credentials(
        &self,
        api_id: &[u8],
        api_key: &[u8],
    ) -> Result<Tenant, ConfigError> {
        let tenants: Vec<&Tenant> = self.tenants.values().collect();
        let mut index = 0u64;
        let mut count = 0u64;
        for (i, t) in tenants.iter().enumerate() {
            let hit = subtle::Choice::from(u8::from(t.check_credentials(api_id, api_key)));
            index.conditional_assign(&(i as u64), hit & count.ct_eq(&0));
            count += u64::from(hit.unwrap_u8());
        }
        match count {
            0 => Err(ConfigError::UnknownCredentials),
            1 => Ok(tenants[index as usize].clone()),
            _ => Err(ConfigError::AmbiguousCredentials {
                marketplaces: tenants
                    .iter()
                    .filter(|t| t.check_credentials(api_id, api_key))
                    .map(|t| t.marketplace().clone())
                    .collect(),
            }),
        }
    }

    /// Builds a set, refusing each bad tenant entry alone: one whose hosts would carry
    /// credentials in clear, or whose paths would conflict (with the app's router layout, or
    /// with a tenant placed before). Tenants whose paths are unchanged since `previous` are
    /// placed first, so a newcomer or a changed entry never displaces them; a refused entry
    /// falls back to the tenant's entry in `previous` when that one still fits. Fails as a
    /// whole only when the set itself is malformed, or when no tenant is left to serve.
    fn build(
        configs: Vec<MarketplaceConfig>,
        source_refused: Vec<(MarketplaceKey, ConfigError)>,
        policies: &Policies,
        previous: Option<&Snapshot>,
        loaded_at: OffsetDateTime,
        generation: u64,
        origin: SnapshotOrigin,
    ) -> Result<Self, ConfigError> {
        if !configs.is_empty() || source_refused.is_empty() {
            check_set(&configs)?;
        }
        let mut router = RouterBuilder::new(&policies.router).map_err(ConfigError::Routes)?;
        let last_good = |key: &MarketplaceKey| previous.and_then(|p| p.tenants.get(key)).cloned();
        let mut refused: Vec<_> = source_refused
            .into_iter()
            .map(|(key, error)| {
                let previous = last_good(&key);
                (key, error, previous)
            })
            .collect();
        let mut candidates = Vec::new();
        for config in configs {
            let key = config.marketplace().clone();
            let previous = last_good(&key);
            match check_transport(&config, &policies.plain_http) {
                Ok(()) => {
                    let mut tenant = Tenant::new(policies.apply(config));
                    if let Some(p) = &previous {
                        let until = loaded_at.saturating_add(policies.credential_overlap);
                        tenant = tenant.with_retired(p, until, loaded_at);
                    }
                    candidates.push(Candidate { tenant, previous });
                }
                Err(error) => refused.push((key, error, previous)),
            }
        }
        // Unchanged paths first, then the rest in key order (the set is sorted by key).
        candidates.sort_by_key(|c| {
            let unchanged = c
                .previous
                .as_ref()
                .is_some_and(|p| same_routes(p, &c.tenant));
            (!unchanged, c.tenant.marketplace().clone())
        });
        let mut tenants = BTreeMap::new();
        for candidate in candidates {
            match router.add(candidate.tenant.config().routes()) {
                Ok(()) => {
                    tenants.insert(candidate.tenant.marketplace().clone(), candidate.tenant);
                }
                Err(error) => refused.push((
                    candidate.tenant.marketplace().clone(),
                    ConfigError::Routes(error),
                    candidate.previous,
                )),
            }
        }
        let refused: Vec<RefusedTenant> = refused
            .into_iter()
            .map(|(marketplace, error, previous)| {
                let kept_previous = previous.is_some_and(|p| {
                    let fits = router.add(p.config().routes()).is_ok();
                    if fits {
                        tenants.insert(marketplace.clone(), p);
                    }
                    fits
                });
                tracing::warn!(
                    %marketplace,
                    %error,
                    kept_previous,
                    "maestrano tenant entry refused; the other tenants are served"
                );
                RefusedTenant {
                    marketplace,
                    error,
                    kept_previous,
                }
            })
            .collect();
        if tenants.is_empty() {
            return Err(refused
                .into_iter()
                .next()
                .map_or(ConfigError::NoMarketplaces, |r| r.error));
        }
        Ok(Self {
            tenants,
            router: Arc::new(router.build()),
            refused,
            loaded_at,
            generation,
            origin,
        })
    }
}

/// Whether two entries of a tenant serve the same paths.
fn same_routes(a: &Tenant, b: &Tenant) -> bool {
    let (a, b) = (a.config().routes(), b.config().routes());
    a.sso_init == b.sso_init
        && a.sso_consume == b.sso_consume
        && a.group == b.group
        && a.group_user == b.group_user
        && a.connec_notification == b.connec_notification
}

#[derive(Debug, Default, Clone)]
struct Policies {
    default: Option<SamlPolicy>,
    per_tenant: HashMap<MarketplaceKey, SamlPolicy>,
    plain_http: std::collections::HashSet<MarketplaceKey>,
    router: RouterOptions,
    sso_default: Option<SsoOptions>,
    sso_per_tenant: HashMap<MarketplaceKey, SsoOptions>,
    credential_overlap: Duration,
}

/// How long webhooks may still carry a tenant's replaced credentials, by default.
pub const DEFAULT_CREDENTIAL_OVERLAP: Duration = Duration::hours(1);

impl Policies {
    /// The entry with the SAML policy and the SSO options the app set for it.
    fn apply(&self, c: MarketplaceConfig) -> MarketplaceConfig {
        let c = match (self.per_tenant.get(c.marketplace()), &self.default) {
            (Some(p), _) => c.with_saml_policy(p.clone()),
            (None, Some(p)) if c.saml_policy().is_none() => c.with_saml_policy(p.clone()),
            _ => c,
        };
        match self
            .sso_per_tenant
            .get(c.marketplace())
            .or(self.sso_default.as_ref())
        {
            Some(options) => c.with_sso_options(options.clone()),
            None => c,
        }
    }
}

/// Whether `url` is on this machine: `localhost` (and `*.localhost`, RFC 6761), 127.0.0.0/8
/// or `::1`. Plain HTTP there never crosses a network.
fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Refuses a tenant whose credential-bearing hosts are plain HTTP off this machine, unless
/// the app named it in `allowed`. Checked here rather than when parsing: a configuration is
/// data (the platform's own sandbox answers on `http://`), the registry decides what it
/// serves.
fn check_transport(
    config: &MarketplaceConfig,
    allowed: &std::collections::HashSet<MarketplaceKey>,
) -> Result<(), ConfigError> {
    if allowed.contains(config.marketplace()) {
        return Ok(());
    }
    let hosts = [
        ("api.host", Some(config.api().host())),
        ("connec.host", config.connec().map(|c| c.host())),
        ("sso.idp", Some(config.sso().idp())),
    ];
    for (field, url) in hosts {
        if let Some(url) = url
            && url.scheme() == "http"
            && !is_loopback(url)
        {
            return Err(ConfigError::PlainHttp {
                marketplace: config.marketplace().clone(),
                field,
                found: url.origin().ascii_serialization(),
            });
        }
    }
    Ok(())
}

/// What a successful refresh changed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RefreshReport {
    /// The new snapshot's generation.
    pub generation: u64,
    /// How many tenants it holds.
    pub tenants: usize,
    /// Tenants that were not in the previous snapshot.
    pub added: Vec<MarketplaceKey>,
    /// Tenants that are gone.
    pub removed: Vec<MarketplaceKey>,
    /// Tenant entries refused alone (see [`Snapshot::refused`]).
    pub refused: Vec<MarketplaceKey>,
}

#[derive(Debug)]
struct RefreshState {
    next_attempt_at: OffsetDateTime,
    last_error: Option<ConfigError>,
}

struct Inner {
    source: Arc<dyn ConfigSource>,
    clock: Arc<dyn Clock>,
    ttl: Duration,
    retry_after: Duration,
    key_refresh_interval: Duration,
    policies: Policies,
    cache: Option<Arc<dyn ConfigCache>>,
    current: RwLock<Arc<Snapshot>>,
    state: Mutex<RefreshState>,
    refreshing: AtomicBool,
    /// When the last refresh for an unknown signing key ran.
    last_key_refresh: Mutex<Option<OffsetDateTime>>,
}

/// The registry of tenants: `with(marketplace)` gives a tenant handle.
///
/// Readers take the current [`Snapshot`] (an `Arc` clone under a lock held only for that
/// clone), so they are never blocked by a refresh and never see a half-updated set: a refresh
/// loads and validates a whole new set first, then swaps the pointer. When a refresh fails,
/// the last good snapshot keeps being served and the error is returned, traced, and kept in
/// [`last_refresh_error`](Self::last_refresh_error).
///
/// The core runs no timer of its own: call [`refresh_if_stale`](Self::refresh_if_stale) from
/// the application's timer, or before handling a request (it returns at once while the
/// snapshot is fresh, or while another task is refreshing).
///
/// Cheap to clone; clones share the same snapshot.
#[derive(Clone)]
pub struct Registry {
    inner: Arc<Inner>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let snap = self.snapshot();
        f.debug_struct("Maestrano")
            .field("source", &self.inner.source)
            .field("ttl", &self.inner.ttl)
            .field("generation", &snap.generation)
            .field("marketplaces", &snap.tenants.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Builds a [`Registry`] registry.
#[derive(Debug)]
pub struct RegistryBuilder {
    source: Arc<dyn ConfigSource>,
    clock: Arc<dyn Clock>,
    ttl: Duration,
    retry_after: Duration,
    key_refresh_interval: Duration,
    policies: Policies,
    cache: Option<Arc<dyn ConfigCache>>,
    cache_max_age: Duration,
}

impl RegistryBuilder {
    /// How long a snapshot is fresh. Default: one hour.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// How long to wait after a failed refresh before [`Registry::refresh_if_stale`] tries
    /// again. Default: 30 seconds.
    pub fn retry_after(mut self, delay: Duration) -> Self {
        self.retry_after = delay;
        self
    }

    /// Keeps the last document the source gave in `cache` (a file, a SQL table), so that a
    /// start while the source is down serves the tenants served before (see
    /// [`SnapshotOrigin::Cache`]) instead of failing.
    ///
    /// The cached document holds the tenants' IdP certificates, the trust anchors of every
    /// login: protect it as the app's other secrets (the file is owner-only; a SQL table needs
    /// the same care), since whoever can write it can admit any signature.
    pub fn cache(mut self, cache: Arc<dyn ConfigCache>) -> Self {
        self.cache = Some(cache);
        self
    }

    /// How old a cached document may be and still be served at start-up: 7 days unless set.
    /// An older one is refused (the start fails with the source's error), so that an app
    /// started during a long outage does not keep trusting IdP keys and tenants that may have
    /// been revoked since.
    pub fn cache_max_age(mut self, max_age: Duration) -> Self {
        self.cache_max_age = max_age;
        self
    }

    /// The least time between two refreshes that a signature from an unknown key triggers
    /// ([`Registry::refresh_for_unknown_key`]). Default: one minute.
    pub fn key_refresh_interval(mut self, interval: Duration) -> Self {
        self.key_refresh_interval = interval;
        self
    }

    /// The SAML policy of tenants whose configuration sets none.
    pub fn default_saml_policy(mut self, policy: SamlPolicy) -> Self {
        self.policies.default = Some(policy);
        self
    }

    /// The SAML policy of one tenant, overriding any set in its configuration.
    pub fn saml_policy(mut self, marketplace: MarketplaceKey, policy: SamlPolicy) -> Self {
        self.policies.per_tenant.insert(marketplace, policy);
        self
    }

    /// The SSO options (identity mode, SP key, login protocols, …) of every tenant loaded,
    /// unless [`sso_options`](Self::sso_options) sets a tenant's own. The developer platform's
    /// JSON carries none: they are the app's choices.
    pub fn default_sso_options(mut self, options: SsoOptions) -> Self {
        self.policies.sso_default = Some(options);
        self
    }

    /// The SSO options of one tenant, such as the login protocols it offers
    /// ([`SsoOptions::protocols`]).
    pub fn sso_options(mut self, marketplace: MarketplaceKey, options: SsoOptions) -> Self {
        self.policies.sso_per_tenant.insert(marketplace, options);
        self
    }

    /// How long after a refresh that changed a tenant's `api.key` (or `api.id`) webhooks may
    /// still authenticate with the old credentials (default
    /// [`DEFAULT_CREDENTIAL_OVERLAP`], one hour): the marketplace may switch to the new key
    /// later than the developer platform publishes it. Outbound calls use the new key at
    /// once. `Duration::ZERO` accepts the new key only.
    pub fn credential_overlap(mut self, overlap: Duration) -> Self {
        self.policies.credential_overlap = overlap.max(Duration::ZERO);
        self
    }

    /// `insecure_allow_plain_http`: serve `marketplace` although its `api.host`,
    /// `connec.host` or `sso.idp` is plain `http://` on a host other than loopback. Off by
    /// default, since the tenant's credentials, its users' logins and its customers' data
    /// would cross the network in clear; for a platform sandbox served over plain HTTP only
    /// (such as `http://api-sandbox.maestrano.io`). Without it such a tenant's entry is refused
    /// alone with [`ConfigError::PlainHttp`] (see [`Snapshot::refused`]).
    pub fn insecure_allow_plain_http(mut self, marketplace: MarketplaceKey) -> Self {
        self.policies.plain_http.insert(marketplace);
        self
    }

    /// The router layout the app serves (its prefix, whether tenant paths are served); the
    /// default is [`RouterOptions::default`]. Every loaded set is checked against it, and
    /// [`Registry::router`] routes with it, so what the registry accepts is what the app's
    /// router serves.
    pub fn router_options(mut self, options: RouterOptions) -> Self {
        self.policies.router = options;
        self
    }

    /// Loads the first snapshot. When the source fails, serves the [cached](Self::cache)
    /// document if there is one (and retries the source after
    /// [`retry_after`](Self::retry_after)); fails otherwise: there is no default tenant.
    pub async fn build(self) -> Result<Registry, ConfigError> {
        let loaded = self.source.load_document().await;
        let now = self.clock.now();
        let (snapshot, next_attempt_at, last_error) = match loaded {
            Ok(loaded) => {
                let snapshot = Snapshot::build(
                    loaded.configs,
                    loaded.refused,
                    &self.policies,
                    None,
                    now,
                    1,
                    SnapshotOrigin::Source,
                )?;
                save_to_cache(self.cache.as_deref(), loaded.document, now).await;
                tracing::info!(
                    marketplaces = snapshot.tenants.len(),
                    "maestrano configuration loaded"
                );
                (snapshot, now.saturating_add(self.ttl), None)
            }
            Err(error) => {
                let Some(snapshot) = from_cache(
                    self.cache.as_deref(),
                    &self.policies,
                    now,
                    self.cache_max_age,
                    &error,
                )
                .await
                else {
                    return Err(error);
                };
                (snapshot, now.saturating_add(self.retry_after), Some(error))
            }
        };
        Ok(Registry {
            inner: Arc::new(Inner {
                source: self.source,
                clock: self.clock,
                ttl: self.ttl,
                retry_after: self.retry_after,
                key_refresh_interval: self.key_refresh_interval,
                policies: self.policies,
                cache: self.cache,
                current: RwLock::new(Arc::new(snapshot)),
                state: Mutex::new(RefreshState {
                    next_attempt_at,
                    last_error,
                }),
                refreshing: AtomicBool::new(false),
                last_key_refresh: Mutex::new(None),
            }),
        })
    }
}

/// Saves what the source read, when it read a document. A cache that fails is reported and
/// otherwise ignored: the configuration in memory is good.
async fn save_to_cache(
    cache: Option<&dyn ConfigCache>,
    document: Option<Vec<u8>>,
    now: OffsetDateTime,
) {
    if let (Some(cache), Some(document)) = (cache, document)
        && let Err(error) = cache.save(&CachedConfig::new(document, now)).await
    {
        tracing::warn!(%error, "could not save the maestrano configuration to its cache");
    }
}

/// The cached snapshot a start-up serves while the source is down, if there is one.
async fn from_cache(
    cache: Option<&dyn ConfigCache>,
    policies: &Policies,
    now: OffsetDateTime,
    max_age: Duration,
    source_error: &ConfigError,
) -> Option<Snapshot> {
    let cached = match cache?.load().await {
        Ok(Some(cached)) => cached,
        Ok(None) => return None,
        Err(error) => {
            tracing::warn!(%error, "could not read the maestrano configuration cache");
            return None;
        }
    };
    if now - cached.saved_at() > max_age {
        tracing::warn!(
            saved_at = %crate::timestamp::format_utc(cached.saved_at()),
            "the cached maestrano configuration is older than the cache's maximum age; not \
             serving it"
        );
        return None;
    }
    let origin = SnapshotOrigin::Cache {
        saved_at: cached.saved_at(),
    };
    let built = parse_document(cached.document()).and_then(|list| {
        Snapshot::build(list.configs, list.refused, policies, None, now, 1, origin)
    });
    match built {
        Ok(snapshot) => {
            tracing::warn!(
                error = %source_error,
                saved_at = %crate::timestamp::format_utc(cached.saved_at()),
                marketplaces = snapshot.tenants.len(),
                "maestrano configuration source unavailable at start; serving the cached \
                 configuration and retrying the source"
            );
            Some(snapshot)
        }
        Err(error) => {
            tracing::warn!(%error, "the cached maestrano configuration does not load");
            None
        }
    }
}

/// Clears the single-flight flag even when the refresh future is dropped mid-way.
struct RefreshGuard<'a>(&'a AtomicBool);

impl Drop for RefreshGuard<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl Registry {
    /// Now, on the registry's clock (the one inbound checks of tenant credentials use).
    pub(crate) fn now(&self) -> OffsetDateTime {
        self.inner.clock.now()
    }

    /// Starts building a registry on `source`, with time from `clock`.
    pub fn builder(source: Arc<dyn ConfigSource>, clock: Arc<dyn Clock>) -> RegistryBuilder {
        RegistryBuilder {
            source,
            clock,
            ttl: Duration::hours(1),
            retry_after: Duration::seconds(30),
            key_refresh_interval: Duration::minutes(1),
            policies: Policies {
                credential_overlap: DEFAULT_CREDENTIAL_OVERLAP,
                ..Policies::default()
            },
            cache: None,
            cache_max_age: Duration::days(7),
        }
    }

    /// The tenant with this key, from the current snapshot. Never does I/O, never waits for a
    /// refresh. An unknown key is [`ConfigError::UnknownMarketplace`].
    pub fn with(&self, marketplace: &MarketplaceKey) -> Result<Tenant, ConfigError> {
        self.snapshot().get(marketplace)
    }

    /// The current snapshot. Hold it to see one consistent set across several look-ups.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        Arc::clone(&self.inner.current.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// The only tenant with these API credentials (see [`Snapshot::find_by_credentials`]).
    pub fn find_by_credentials(
        &self,
        api_id: &[u8],
        api_key: &[u8],
    ) -> Result<Tenant, ConfigError> {
        self.snapshot().find_by_credentials(api_id, api_key)
    }

    /// The request router of the current tenants (see [`Snapshot::router`]).
    pub fn router(&self) -> Arc<Router> {
        self.snapshot().router()
    }

    /// Whether the TTL has run out (or the retry delay after a failure), on the clock.
    pub fn is_stale(&self) -> bool {
        let state = self.inner.state.lock().unwrap_or_else(|e| e.into_inner());
        self.inner.clock.now() >= state.next_attempt_at
    }

    /// The error of the last refresh, when it failed; cleared by a successful one.
    pub fn last_refresh_error(&self) -> Option<ConfigError> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .last_error
            .clone()
    }

    /// Loads a new snapshot now. On failure the current snapshot stays in service and the
    /// error is returned (and traced, and kept for [`last_refresh_error`](Self::last_refresh_error)).
    pub async fn refresh(&self) -> Result<RefreshReport, ConfigError> {
        let loaded = self.inner.source.load_document().await;
        let now = self.inner.clock.now();
        let (result, document) = self.install(loaded, now);
        // Saved after the swap, outside the lock (a cache may do I/O).
        if result.is_ok() {
            save_to_cache(self.inner.cache.as_deref(), document, now).await;
        }
        result
    }

    /// Builds the loaded set and swaps it in, under the state lock: concurrent refreshes each
    /// number and compare against the snapshot they replace.
    fn install(
        &self,
        loaded: Result<super::port::Loaded, ConfigError>,
        now: OffsetDateTime,
    ) -> (Result<RefreshReport, ConfigError>, Option<Vec<u8>>) {
        let mut state = self.inner.state.lock().unwrap_or_else(|e| e.into_inner());
        let previous = self.snapshot();
        let (built, document) = match loaded {
            Ok(loaded) => (
                Snapshot::build(
                    loaded.configs,
                    loaded.refused,
                    &self.inner.policies,
                    Some(&previous),
                    now,
                    previous.generation + 1,
                    SnapshotOrigin::Source,
                ),
                loaded.document,
            ),
            Err(e) => (Err(e), None),
        };
        let result = match built {
            Ok(snapshot) => {
                let report = RefreshReport {
                    generation: snapshot.generation,
                    tenants: snapshot.tenants.len(),
                    added: snapshot
                        .tenants
                        .keys()
                        .filter(|k| !previous.tenants.contains_key(*k))
                        .cloned()
                        .collect(),
                    removed: previous
                        .tenants
                        .keys()
                        .filter(|k| !snapshot.tenants.contains_key(*k))
                        .cloned()
                        .collect(),
                    refused: snapshot
                        .refused
                        .iter()
                        .map(|r| r.marketplace.clone())
                        .collect(),
                };
                *self
                    .inner
                    .current
                    .write()
                    .unwrap_or_else(|e| e.into_inner()) = Arc::new(snapshot);
                state.next_attempt_at = now.saturating_add(self.inner.ttl);
                state.last_error = None;
                metrics::counter!("maestrano_config_refreshes_total", "outcome" => "ok")
                    .increment(1);
                metrics::gauge!("maestrano_tenants").set(report.tenants as f64);
                tracing::info!(
                    generation = report.generation,
                    marketplaces = report.tenants,
                    added = report.added.len(),
                    removed = report.removed.len(),
                    "maestrano configuration refreshed"
                );
                Ok(report)
            }
            Err(error) => {
                state.next_attempt_at = now.saturating_add(self.inner.retry_after);
                state.last_error = Some(error.clone());
                metrics::counter!("maestrano_config_refreshes_total", "outcome" => "error")
                    .increment(1);
                tracing::warn!(
                    %error,
                    generation = previous.generation,
                    "maestrano configuration refresh failed; keeping the last good configuration"
                );
                Err(error)
            }
        };
        (result, document)
    }

    /// The single-flight flag, taken: `None` while another refresh runs.
    fn begin_refresh(&self) -> Option<RefreshGuard<'_>> {
        self.inner
            .refreshing
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
            .then(|| RefreshGuard(&self.inner.refreshing))
    }

    /// Refreshes when [stale](Self::is_stale), unless another refresh is already running.
    /// Returns `Ok(None)` when nothing was done.
    pub async fn refresh_if_stale(&self) -> Result<Option<RefreshReport>, ConfigError> {
        if !self.is_stale() {
            return Ok(None);
        }
        let Some(_guard) = self.begin_refresh() else {
            return Ok(None);
        };
        // Another task may have refreshed between the staleness check and the flag.
        if !self.is_stale() {
            return Ok(None);
        }
        self.refresh().await.map(Some)
    }

    /// Refreshes because a tenant's response was signed by a key the tenant does not know (its
    /// IdP may have rotated it), at most once per
    /// [`key_refresh_interval`](RegistryBuilder::key_refresh_interval), so forged responses
    /// cannot make the registry hammer its source. Returns `Ok(None)` when rate-limited or
    /// when another refresh is running.
    pub async fn refresh_for_unknown_key(&self) -> Result<Option<RefreshReport>, ConfigError> {
        let now = self.inner.clock.now();
        let recent = |last: &Option<OffsetDateTime>| {
            last.is_some_and(|t| now - t < self.inner.key_refresh_interval)
        };
        if recent(
            &self
                .inner
                .last_key_refresh
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        ) {
            return Ok(None);
        }
        // Another refresh running (the refresher's, or another login's) loads the same source:
        // no second one, and the window stays open for the next unknown key.
        let Some(_guard) = self.begin_refresh() else {
            return Ok(None);
        };
        {
            let mut last = self
                .inner
                .last_key_refresh
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if recent(&last) {
                return Ok(None);
            }
            *last = Some(now);
        }
        tracing::info!("a signature from an unknown key: refreshing the maestrano configuration");
        self.refresh().await.map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Secret;

    const SANDBOX_FP: &str = "01:06:15:89:25:7d:78:12:28:a6:69:c7:de:63:ed:74:21:f9:f5:36";

    fn config(key: &str, id: &str, secret: &str) -> MarketplaceConfig {
        MarketplaceConfig::builder(key)
            .app_host("https://app.example.com")
            .api_id(id)
            .api_key(Secret::new(secret))
            .api_host("https://hub.example.com")
            .sso_idp("https://idp.example.com")
            .x509_fingerprint(SANDBOX_FP)
            .build()
            .unwrap()
    }

    fn snapshot(configs: Vec<MarketplaceConfig>) -> Snapshot {
        Snapshot::build(
            configs,
            Vec::new(),
            &Policies::default(),
            None,
            time::macros::datetime!(2024-01-01 0:00 UTC),
            1,
            SnapshotOrigin::Source,
        )
        .unwrap()
    }

    /// Applications refresh from spawned tasks, so the futures must be `Send`.
    #[allow(dead_code)]
    fn refresh_futures_are_send(registry: &Registry) {
        fn assert_send<T: Send>(_: &T) {}
        assert_send(&registry.refresh());
        assert_send(&registry.refresh_if_stale());
        assert_send(
            &Registry::builder(
                Arc::new(
                    crate::config::StaticSource::from_configs([config("a", "b", "c")]).unwrap(),
                ),
                Arc::new(crate::ports::SystemClock),
            )
            .build(),
        );
    }

    #[test]
    fn credentials_identify_exactly_one_tenant() {
        let s = snapshot(vec![
            config("a", "app-a", "key-a"),
            config("b", "app-b", "key-b"),
            config("c", "app-c", "key-c"),
        ]);
        for (id, key, want) in [("app-a", "key-a", "a"), ("app-c", "key-c", "c")] {
            let t = s
                .find_by_credentials(id.as_bytes(), key.as_bytes())
                .unwrap();
            assert_eq!(t.marketplace().as_str(), want);
        }
        for (id, key) in [
            ("app-a", "key-b"),
            ("app-b", ""),
            ("", "key-b"),
            ("app-x", "key-x"),
        ] {
            assert!(matches!(
                s.find_by_credentials(id.as_bytes(), key.as_bytes()),
                Err(ConfigError::UnknownCredentials)
            ));
        }
    }

    #[test]
    fn shared_credentials_are_ambiguous() {
        let s = snapshot(vec![
            config("a", "app-x", "same"),
            config("b", "app-x", "same"),
        ]);
        match s.find_by_credentials(b"app-x", b"same") {
            Err(ConfigError::AmbiguousCredentials { marketplaces }) => {
                assert_eq!(marketplaces.len(), 2)
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn policies_apply_by_precedence() {
        let strict = SamlPolicy {
            require_signed_assertion: true,
            ..SamlPolicy::default()
        };
        let own = SamlPolicy {
            clock_skew: time::Duration::seconds(30),
            ..SamlPolicy::default()
        };
        let tenant_override = SamlPolicy {
            insecure_allow_sha1: true,
            ..SamlPolicy::default()
        };
        let policies = Policies {
            default: Some(strict.clone()),
            per_tenant: [(MarketplaceKey::new("c").unwrap(), tenant_override.clone())].into(),
            ..Policies::default()
        };
        let s = Snapshot::build(
            vec![
                config("a", "app-a", "k"),
                config("b", "app-b", "k").with_saml_policy(own.clone()),
                config("c", "app-c", "k").with_saml_policy(own.clone()),
            ],
            Vec::new(),
            &policies,
            None,
            time::macros::datetime!(2024-01-01 0:00 UTC),
            1,
            SnapshotOrigin::Source,
        )
        .unwrap();
        let policy = |k: &str| {
            s.get(&MarketplaceKey::new(k).unwrap())
                .unwrap()
                .config()
                .saml_policy()
                .cloned()
                .unwrap_or_default()
        };
        assert_eq!(policy("a"), strict);
        assert_eq!(policy("b"), own);
        assert_eq!(policy("c"), tenant_override);
    }
}
