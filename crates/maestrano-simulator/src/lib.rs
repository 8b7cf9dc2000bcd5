//! A marketplace simulator (feature `simulator`): everything a Maestrano marketplace does,
//! served over real HTTP on loopback, for integration tests and demos.
//!
//! [`Simulator::start`] binds, on `127.0.0.1` ephemeral ports:
//!
//! - one listener for the **developer platform**: `GET /api/config/v1/marketplaces` with HTTP
//!   Basic `env_key:env_secret` ([`Simulator::env_key`], [`Simulator::env_secret`]) answers
//!   `{"marketplaces": [...]}`, one configuration per simulated marketplace, shaped like the
//!   developer platform's reply; anything else is a 401;
//! - one listener **per marketplace**, so that tenants really are different hosts, serving at
//!   its [`MarketplaceInfo::base_url`] (`http://127.0.0.1:{port}`, the `sso.idp`, `api.host`
//!   and `connec.host` of its configuration):
//!
//!   | path | what |
//!   | --- | --- |
//!   | `GET /api/v1/auth/saml?SAMLRequest=…` | the IdP: decodes the AuthnRequest and answers an auto-submitting form that POSTs a signed `SAMLResponse` to the ACS |
//!   | `GET /api/v1/auth/saml/{uid}?session=…` | the session check: `{"valid":true,"recheck":…}` or `{"valid":false}` |
//!   | `GET /app_logout?user_uid=…` | ends the user's IdP sessions |
//!   | `GET /app_access_unauthorized` | the page users land on when the app refuses them |
//!   | `/api/v1/account/{bills,recurring_bills,groups,users,resellers}[/{id}]` | the account API, Basic `api.id:api.key` |
//!   | `/api/v2/{group}/{collection}[/{id}]`, `POST /batch`, `GET /api/reports/{group}/{report}`, `GET /version` | Connec!, Basic `api.id:api.key` (`/version` is public) |
//!
//! Each marketplace has its own IdP key pair and self-signed certificate generated at start
//! (RSA-1024 in the platform mode, RSA-2048 in the modern one, or the public sandbox pair with
//! [`MarketplaceSpec::with_sandbox_idp_key`]), and its own random `api.id` and `api.key`;
//! credentials of one marketplace are refused by every other.
//!
//! # What the IdP sends
//!
//! By default ([`IdpMode::Platform`]) exactly what the Maestrano platform's IdP sends, from its
//! public source (mno-api-sandbox cd52c0b on ruby-saml-idp 0.3.2): RSA-SHA1 with a 1024-bit
//! key and a SHA-1 digest over the template's own bytes, the Assertion alone signed, unescaped
//! attribute values (so simulated names must not hold `&` or `<`, as on the platform), both
//! Issuers the IdP request URL cut at the first `&`, Audience the ACS origin followed by "/",
//! the document as Ruby's `Base64.encode64` with its line breaks, and no RelayState. A unit
//! test checks the template against the bytes the real Ruby code produced.
//! [`IdpMode::Modern`] (RSA-SHA256, 2048 bits, prefixed and escaped, RelayState echoed) serves
//! tests of the SDK's strict signature profile.
//!
//! # Logging in
//!
//! The IdP checks that the AuthnRequest's issuer is the marketplace's `api.id` and that its
//! ACS URL is the configured one (a 400 page otherwise). It logs in the user named by the
//! extra query parameter [`SIM_USER_PARAM`] (`sim_user=usr-…`), or else the marketplace's first
//! user, for the group named by [`GROUP_PARAM`] (`group_id=cld-…`), or else the user's first
//! group. The Response has Destination = ACS, InResponseTo = the request's ID, the IdP entity
//! ([`MarketplaceInfo::idp_entity_id`]) as Issuer, and an Assertion signed RSA-SHA256 with
//! exclusive C14N carrying the NameID (the user's uid), a bearer SubjectConfirmation,
//! Conditions with the audience `api.id`, an AuthnStatement and the Maestrano attribute set
//! (`uid`, `virtual_uid`, `email`, …, `group_uid`, `group_role`, …, `mno_session`,
//! `mno_session_recheck`). Read the form with [`AutoSubmitForm::parse`] to post it as a
//! browser would.
//!
//! # Driving it from tests
//!
//! [`Simulator::marketplace`] gives a [`MarketplaceHandle`] that reads and changes a
//! marketplace's state (bills, Connec! entities, sessions), sends webhooks to the application
//! ([`MarketplaceHandle::deliver`], with retries and a report of every attempt), and injects
//! faults: [`MarketplaceHandle::inject_fault`] into the marketplace's own replies (delays,
//! HTTP 500, dropped connections), [`MarketplaceHandle::inject_delivery_fault`] into webhook
//! deliveries, and [`Simulator::inject_dev_platform_fault`] into the developer platform.
//!
//! Every time it writes comes from the [`Clock`](maestrano::ports::Clock) given in the
//! [`SimulatorConfig`], so a test can pin it with a manual clock.
//!
//! # In your own integration tests
//!
//! Start the application under test on a loopback port first, then the simulator with that
//! URL as the marketplaces' `app.host`, then let the application autoconfigure from
//! [`Simulator::dev_platform_settings`]. Each test can start its own simulator: ports are
//! ephemeral and keys are generated at start (an RSA-2048 key takes about a second in a debug
//! build, a 1024-bit one much less, in parallel for several marketplaces). Drive logins through the application's own
//! init route; the IdP answers with the form to post to its ACS.
//!
//! ```
//! use std::sync::Arc;
//!
//! use maestrano::adapters::ReqwestHttpClient;
//! use maestrano::Registry;
//! use maestrano::config::DevPlatformSource;
//! use maestrano::ports::SystemClock;
//! use maestrano_simulator::{Simulator, SimulatorConfig};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // The application under test listens here (it only needs to be reachable for webhooks).
//! let app: url::Url = "http://127.0.0.1:3000".parse()?;
//! let clock = Arc::new(SystemClock);
//! let sim = Simulator::start(SimulatorConfig::two_marketplaces(clock.clone(), &app)).await?;
//!
//! // The application autoconfigures from the simulated developer platform.
//! let source = DevPlatformSource::new(
//!     sim.dev_platform_settings()?,
//!     Arc::new(ReqwestHttpClient::new()?),
//! );
//! let registry = Registry::builder(Arc::new(source), clock).build().await?;
//! for info in sim.marketplaces() {
//!     let tenant = registry.with(&info.key)?;
//!     assert_eq!(tenant.config().api().id(), &info.api_id);
//!     assert_eq!(tenant.idp_sso_url().as_str(), info.idp_sso_url().as_str());
//! }
//! sim.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! Webhooks and faults are driven from the test:
//!
//! ```no_run
//! # async fn demo(sim: &maestrano_simulator::Simulator) -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//!
//! use maestrano_simulator::{
//!     Api, ApiFault, Credentials, DeliveryFault, DeliveryOptions, DeliveryOutcome, Webhook,
//! };
//!
//! let acme = sim.marketplace(&"acme-corp".parse()?)?;
//! let group: maestrano::GroupUid = "cld-1".parse()?;
//!
//! // The app's answer is lost twice; the sender retries and the third attempt is delivered.
//! acme.inject_delivery_fault(DeliveryFault::ReplaceWith500, 1);
//! acme.inject_delivery_fault(DeliveryFault::DelayResponse(Duration::from_secs(10)), 1);
//! let report = acme.deliver(Webhook::group_destroyed(group.clone())).await;
//! assert!(report.is_delivered());
//! assert_eq!(report.attempts.len(), 3);
//!
//! // Another marketplace's credentials must be refused, and are not retried.
//! let options = DeliveryOptions::default()
//!     .with_credentials(Credentials::OfMarketplace("globex".parse()?));
//! let report = acme.deliver_with(Webhook::group_destroyed(group), options).await;
//! assert_eq!(report.outcome, DeliveryOutcome::Rejected { status: 401 });
//!
//! // The next two account API calls get HTTP 500; then one hangs for two seconds.
//! acme.inject_fault(Api::Account, ApiFault::InternalError, 2);
//! acme.inject_fault(Api::Account, ApiFault::Delay(Duration::from_secs(2)), 1);
//! // … run the application's billing job and check that it retries …
//! assert_eq!(acme.bills().len(), 1);
//! # Ok(()) }
//! ```
//!
//! The simulator binds only to `127.0.0.1`, serves at most 256 connections per listener at once,
//! reads request bodies of at most 2 MiB and bounds what it stores (sessions, bills, entities).
//! The IdP does not verify signed AuthnRequests: it does not know the application's key.

mod account;
mod assertion;
mod config;
mod connec;
mod devplatform;
mod error;
mod faults;
mod form;
mod idp;
mod info;
mod keys;
mod marketplace;
mod openid;
mod platform;
mod server;
mod state;
mod webhooks;
mod wire;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use url::Url;

pub use config::{
    AppPaths, IdpMode, MarketplaceSpec, SimGroup, SimMembership, SimReseller, SimUser,
    SimulatorConfig,
};
pub use connec::{
    COLLECTIONS, CONNEC_MEDIA_TYPE, DEFAULT_PAGE_SIZE, MAX_BATCH_OPS, MAX_PAGE_SIZE, REPORTS,
};
pub use error::SimulatorError;
pub use faults::{Api, ApiFault, ApiScope, DeliveryFault};
pub use form::AutoSubmitForm;
pub use idp::{GROUP_PARAM, SIM_USER_PARAM};
pub use info::MarketplaceInfo;
pub use keys::{IDP_KEY_BITS, PLATFORM_IDP_KEY_BITS};
pub use webhooks::{
    AttemptResult, Credentials, DeliveryAttempt, DeliveryOptions, DeliveryOutcome, DeliveryReport,
    RetryPolicy, Webhook,
};

use devplatform::DevPlatform;
use maestrano::Tenant;
use maestrano::adapters::ReqwestHttpClient;
use maestrano::config::{DevPlatformSettings, parse_marketplace};
use maestrano::ports::Clock as _;
use maestrano::saml::Certificate;
use maestrano::{ApiId, BillId, GroupUid, MarketplaceKey, Secret, UserUid};
use state::{Marketplace, Shared, lock};

/// A running simulator. Dropping it stops its servers (as [`shutdown`](Self::shutdown) does,
/// without waiting).
pub struct Simulator {
    dev_platform_url: Url,
    dev: Arc<DevPlatform>,
    marketplaces: Arc<Vec<Arc<Marketplace>>>,
    infos: Vec<MarketplaceInfo>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("dev_platform_url", &self.dev_platform_url.as_str())
            .field("env_key", &self.dev.env_key)
            .field("marketplaces", &self.infos)
            .finish_non_exhaustive()
    }
}

impl Simulator {
    /// Generates the marketplaces' keys and credentials, binds every listener on
    /// `127.0.0.1` and starts serving. Must be called within a Tokio runtime.
    ///
    /// # Errors
    ///
    /// [`SimulatorError::Config`] for an inconsistent configuration (no marketplace, a
    /// duplicate key or uid, a membership naming an unknown user or group, a marketplace
    /// without users), [`SimulatorError::Bind`] when a port cannot be bound,
    /// [`SimulatorError::Keys`] when key generation fails.
    pub async fn start(config: SimulatorConfig) -> Result<Self, SimulatorError> {
        config.check()?;
        let started_at = config.clock.now();
        let random = config.random.clone();
        let hex = |n| {
            wire::random_hex(random.as_ref(), n).map_err(|e| SimulatorError::Keys(e.to_string()))
        };

        let (dev_listener, dev_addr) = server::bind().await?;
        let mut bound = Vec::with_capacity(config.marketplaces.len());
        for _ in &config.marketplaces {
            bound.push(server::bind().await?);
        }

        // Key generation is slow: one blocking task per marketplace, in parallel.
        let mut key_tasks = Vec::with_capacity(config.marketplaces.len());
        for spec in &config.marketplaces {
            let cn = format!("{}.idp.simulator", spec.key);
            let (mode, sandbox) = (spec.idp_mode, spec.sandbox_idp_key);
            key_tasks.push(tokio::task::spawn_blocking(move || match (mode, sandbox) {
                (IdpMode::Platform, true) => keys::sandbox(),
                (IdpMode::Platform, false) => {
                    keys::generate(&cn, started_at, keys::PLATFORM_IDP_KEY_BITS)
                }
                (_, _) => keys::generate(&cn, started_at, keys::IDP_KEY_BITS),
            }));
        }
        let mut generated = Vec::with_capacity(key_tasks.len());
        for t in key_tasks {
            generated.push(
                t.await
                    .map_err(|e| SimulatorError::Keys(format!("key generation task: {e}")))??,
            );
        }

        let http = ReqwestHttpClient::builder()
            .timeout(std::time::Duration::from_secs(60))
            .build()?;
        let shared = Arc::new(Shared {
            clock: config.clock.clone(),
            random: config.random.clone(),
            started_at,
            session_recheck: config.session_recheck,
            assertion_lifetime: config.assertion_lifetime,
            session_lifetime: config.session_lifetime,
            webhook_timeout: config.webhook_timeout,
            http: Arc::new(http),
        });

        let mut marketplaces = Vec::with_capacity(config.marketplaces.len());
        let mut infos = Vec::with_capacity(config.marketplaces.len());
        for ((spec, (_, addr)), idp_keys) in config.marketplaces.iter().zip(&bound).zip(generated) {
            let base_url = Url::parse(&format!("http://{addr}"))
                .map_err(|e| SimulatorError::Config(e.to_string()))?;
            let api_id = ApiId::new(format!("app-{}", hex(6)?))
                .map_err(|e| SimulatorError::Config(e.to_string()))?;
            let api_key = Secret::new(hex(32)?);
            let json = devplatform::marketplace_json(
                spec,
                &base_url,
                &api_id,
                &api_key,
                &idp_keys.certificate,
            );
            let parsed = parse_marketplace(json.to_string().as_bytes())?;
            let info = MarketplaceInfo {
                key: spec.key.clone(),
                port: addr.port(),
                base_url: base_url.clone(),
                api_id,
                api_key,
                certificate: idp_keys.certificate.clone(),
                idp_entity_id: devplatform::origin_text(&base_url),
                config: parsed.clone(),
            };
            infos.push(info.clone());
            marketplaces.push(Arc::new(Marketplace::new(
                shared.clone(),
                info,
                spec.clone(),
                Tenant::new(parsed),
                json,
                idp_keys,
            )));
        }

        let (env_key, env_secret) = match config.env_credentials.clone() {
            Some(c) => c,
            None => (format!("env-{}", hex(8)?), Secret::new(hex(32)?)),
        };
        let dev = Arc::new(DevPlatform {
            env_key,
            env_secret,
            marketplaces: marketplaces.clone(),
            faults: faults::FaultQueue::default(),
            requests: AtomicU64::new(0),
        });

        let (shutdown, stop) = watch::channel(false);
        let mut tasks = Vec::with_capacity(marketplaces.len() + 1);
        tasks.push(server::spawn(
            dev_listener,
            devplatform::router(dev.clone()),
            stop.clone(),
        ));
        for ((listener, _), m) in bound.into_iter().zip(&marketplaces) {
            tasks.push(server::spawn(
                listener,
                marketplace::router(m.clone()),
                stop.clone(),
            ));
        }
        let dev_platform_url = Url::parse(&format!("http://{dev_addr}"))
            .map_err(|e| SimulatorError::Config(e.to_string()))?;
        tracing::info!(
            dev_platform = %dev_platform_url,
            marketplaces = marketplaces.len(),
            "marketplace simulator started"
        );
        Ok(Self {
            dev_platform_url,
            dev,
            marketplaces: Arc::new(marketplaces),
            infos,
            shutdown,
            tasks,
        })
    }

    /// The developer platform's base URL, `http://127.0.0.1:{port}`.
    pub fn dev_platform_url(&self) -> &Url {
        &self.dev_platform_url
    }

    /// The environment key (the developer platform's Basic user name).
    pub fn env_key(&self) -> &str {
        &self.dev.env_key
    }

    /// The environment secret (the developer platform's Basic password).
    pub fn env_secret(&self) -> &Secret {
        &self.dev.env_secret
    }

    /// Settings for [`DevPlatformSource`](maestrano::config::DevPlatformSource) that reach this
    /// simulator with its credentials.
    ///
    /// # Errors
    ///
    /// Never in practice: the URL and credentials are the simulator's own.
    pub fn dev_platform_settings(
        &self,
    ) -> Result<DevPlatformSettings, maestrano::config::ConfigError> {
        DevPlatformSettings::new(self.dev.env_key.clone(), self.dev.env_secret.clone())?
            .with_host(self.dev_platform_url.as_str())
    }

    /// The simulated marketplaces as the developer platform answers them
    /// (`{"marketplaces": [...]}`, pretty-printed): a configuration file for
    /// [`StaticSource`](maestrano::config::StaticSource) that reaches this simulator without
    /// autoconfiguration. It holds every tenant's `api.key`: keep it out of logs.
    pub fn dev_platform_json(&self) -> String {
        serde_json::to_string_pretty(&self.dev.document()).unwrap_or_default()
    }

    /// The simulated marketplaces, in the configured order.
    pub fn marketplaces(&self) -> &[MarketplaceInfo] {
        &self.infos
    }

    /// A handle on one marketplace.
    ///
    /// # Errors
    ///
    /// [`SimulatorError::UnknownMarketplace`] when no simulated marketplace has this key.
    pub fn marketplace(&self, key: &MarketplaceKey) -> Result<MarketplaceHandle, SimulatorError> {
        self.marketplaces
            .iter()
            .find(|m| m.info.key == *key)
            .map(|m| MarketplaceHandle {
                this: m.clone(),
                all: self.marketplaces.clone(),
            })
            .ok_or_else(|| SimulatorError::UnknownMarketplace(key.clone()))
    }

    /// Makes the next `times` requests to the developer platform fail with `fault`.
    pub fn inject_dev_platform_fault(&self, fault: ApiFault, times: u32) {
        if !self.dev.faults.push(ApiScope::All, fault, times) {
            tracing::warn!("too many faults queued; this one is ignored");
        }
    }

    /// How many requests the developer platform received.
    pub fn dev_platform_requests(&self) -> u64 {
        self.dev.requests.load(Ordering::Relaxed)
    }

    /// Stops every listener and waits for the servers to finish.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        for t in std::mem::take(&mut self.tasks) {
            let _ = t.await;
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// A handle on one running simulated marketplace. Cheap to clone; it stays usable after the
/// simulator stops, but its servers then no longer answer.
#[derive(Clone)]
pub struct MarketplaceHandle {
    this: Arc<Marketplace>,
    all: Arc<Vec<Arc<Marketplace>>>,
}

impl std::fmt::Debug for MarketplaceHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("MarketplaceHandle")
            .field(&self.this.info.key)
            .finish()
    }
}

impl MarketplaceHandle {
    /// Where the marketplace listens and the credentials it issued.
    pub fn info(&self) -> &MarketplaceInfo {
        &self.this.info
    }

    /// What was configured: users, groups, memberships, resellers and the app's paths.
    pub fn spec(&self) -> &MarketplaceSpec {
        &self.this.spec
    }

    /// The marketplace as the SDK sees it through the served configuration (at start).
    pub fn tenant(&self) -> &Tenant {
        &self.this.tenant
    }

    /// Rotates the IdP's key, as a marketplace operator would: a fresh key of the same size
    /// (the sandbox pair is replaced by a generated 1024-bit key) signs every login from now
    /// on, and the developer platform serves its certificate. An app learns of it only through
    /// its configuration source; [`info`](Self::info) keeps the certificate of the start.
    /// Returns the new certificate.
    pub async fn rotate_idp_key(&self) -> Result<Certificate, SimulatorError> {
        let cn = format!("{}.idp.simulator", self.this.spec.key);
        let bits = match self.this.spec.idp_mode {
            IdpMode::Platform => keys::PLATFORM_IDP_KEY_BITS,
            _ => keys::IDP_KEY_BITS,
        };
        let now = self.this.shared.clock.now();
        let generated = tokio::task::spawn_blocking(move || keys::generate(&cn, now, bits))
            .await
            .map_err(|e| SimulatorError::Keys(format!("key generation task: {e}")))??;
        let certificate = generated.certificate.clone();
        self.this.rotate_keys(generated);
        Ok(certificate)
    }

    /// Makes the next `times` requests in `scope` fail with `fault` (in the order faults were
    /// injected). Returns `false` when too many faults are queued already.
    pub fn inject_fault(&self, scope: impl Into<ApiScope>, fault: ApiFault, times: u32) -> bool {
        self.this.faults.push(scope.into(), fault, times)
    }

    /// Forgets every queued fault, of the API replies and of webhook deliveries.
    pub fn clear_faults(&self) {
        self.this.faults.clear();
        self.this.delivery_faults.clear();
    }

    /// How many injected API faults were applied so far.
    pub fn faults_applied(&self) -> u64 {
        self.this.faults.applied()
    }

    /// How many requests `api` of this marketplace received.
    pub fn requests(&self, api: Api) -> u64 {
        self.this.requests(api)
    }

    /// Makes the next `times` webhook delivery attempts of this marketplace suffer `fault`.
    /// Returns `false` when too many faults are queued already.
    pub fn inject_delivery_fault(&self, fault: DeliveryFault, times: u32) -> bool {
        self.this.delivery_faults.push(fault, times)
    }

    /// Delivers `webhook` to the application with this marketplace's credentials and the
    /// default [`RetryPolicy`].
    pub async fn deliver(&self, webhook: Webhook) -> DeliveryReport {
        self.deliver_with(webhook, DeliveryOptions::default()).await
    }

    /// Delivers `webhook` with explicit options.
    pub async fn deliver_with(&self, webhook: Webhook, options: DeliveryOptions) -> DeliveryReport {
        let credentials = match options.credentials {
            Credentials::Own => Some((
                self.this.info.api_id.to_string(),
                self.this.info.api_key.clone(),
            )),
            Credentials::OfMarketplace(key) => self
                .all
                .iter()
                .find(|m| m.info.key == key)
                .map(|m| (m.info.api_id.to_string(), m.info.api_key.clone())),
            Credentials::Custom { api_id, api_key } => Some((api_id.to_string(), api_key)),
            Credentials::None => None,
        };
        webhooks::deliver(&self.this, &webhook, credentials, options.retry).await
    }

    /// The company `group` cancels the application: it leaves the account API (no longer
    /// listed, its users no longer its members) and the webhook the platform sends for it
    /// is returned, to [`deliver`](Self::deliver), or to drop as a lost webhook would be.
    /// `false` in the second value when the group was not (or no longer) there.
    pub fn cancel_group(&self, group: &GroupUid) -> (Webhook, bool) {
        let mut store = lock(&self.this.account);
        let known = self.this.spec.groups.iter().any(|g| &g.uid == group)
            && !store.departed_groups.contains(group);
        if known {
            store.departed_groups.push(group.clone());
        }
        (
            Webhook::GroupDestroyed {
                group: group.clone(),
            },
            known,
        )
    }

    /// `user` leaves the company `group`: `GET users?group_id=` no longer lists them, and
    /// the webhook the platform sends for it is returned, as [`cancel_group`](Self::cancel_group)
    /// does. `false` when they were not a member.
    pub fn remove_member(&self, group: &GroupUid, user: &UserUid) -> (Webhook, bool) {
        let mut store = lock(&self.this.account);
        let known = self
            .this
            .spec
            .memberships
            .iter()
            .any(|m| &m.group == group && &m.user == user)
            && !store
                .ended_memberships
                .iter()
                .any(|(g, u)| g == group && u == user);
        if known {
            store.ended_memberships.push((group.clone(), user.clone()));
        }
        (
            Webhook::UserRemovedFromGroup {
                group: group.clone(),
                user: user.clone(),
            },
            known,
        )
    }

    /// The bills created through the account API, as the API returns them.
    pub fn bills(&self) -> Vec<Value> {
        lock(&self.this.account)
            .bills
            .iter()
            .cloned()
            .map(Value::Object)
            .collect()
    }

    /// The recurring bills created through the account API, as the API returns them.
    pub fn recurring_bills(&self) -> Vec<Value> {
        lock(&self.this.account)
            .recurring_bills
            .iter()
            .cloned()
            .map(Value::Object)
            .collect()
    }

    /// Marks a bill invoiced, as the marketplace does once it charged the customer: it can no
    /// longer be cancelled.
    ///
    /// # Errors
    ///
    /// [`SimulatorError::NotFound`] when there is no such bill.
    pub fn mark_bill_invoiced(&self, id: &BillId) -> Result<(), SimulatorError> {
        if account::mark_invoiced(&self.this, id.as_str()) {
            Ok(())
        } else {
            Err(SimulatorError::NotFound {
                kind: "bill",
                id: id.to_string(),
            })
        }
    }

    /// The Connec! entities of one collection of one group, in creation order.
    pub fn connec_entities(&self, group: &GroupUid, collection: &str) -> Vec<Value> {
        lock(&self.this.connec).entities(group.as_str(), collection)
    }

    /// Stores an entity in Connec! as if another application had created it, and returns it
    /// with its ids, `group_id` and timestamps.
    ///
    /// # Errors
    ///
    /// [`SimulatorError::Refused`], with the JSON-API error, for an unknown group or
    /// collection or an entity Connec! would refuse.
    pub fn insert_connec_entity(
        &self,
        group: &GroupUid,
        collection: &str,
        entity: Value,
    ) -> Result<Value, SimulatorError> {
        let call = connec::Call {
            m: &self.this,
            now: self.this.shared.now(),
        };
        let (status, body) = call.insert(group.as_str(), collection, entity);
        if status.is_success() {
            Ok(body.get(collection).cloned().unwrap_or(Value::Null))
        } else {
            Err(SimulatorError::Refused {
                status: status.as_u16(),
                body: body.to_string(),
            })
        }
    }

    /// How many IdP sessions of `user` are live now.
    pub fn live_sessions(&self, user: &UserUid) -> usize {
        self.this
            .live_sessions(user.as_str(), self.this.shared.now())
            .len()
    }

    /// Ends every IdP session of `user`, as `/app_logout` does; how many were ended.
    pub fn end_sessions(&self, user: &UserUid) -> usize {
        self.this.end_sessions(user.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>(_: &T) {}

    #[test]
    fn handles_and_their_futures_can_move_across_threads() {
        send_sync::<Simulator>();
        send_sync::<MarketplaceHandle>();
        send_sync::<DeliveryReport>();
        let start = Simulator::start(SimulatorConfig::new(Arc::new(
            maestrano::ports::SystemClock,
        )));
        send(&start);
        fn send_future<F, Fut>(_: F)
        where
            F: Fn(MarketplaceHandle) -> Fut,
            Fut: std::future::Future + Send,
        {
        }
        send_future(|h: MarketplaceHandle| async move {
            h.deliver(Webhook::ConnecNotification {
                entities: Vec::new(),
            })
            .await
        });
    }
}
