//! The two SSO routes an application serves, framework-agnostic: the init route builds the
//! redirect to the IdP and records the request in the shared single-use store; the consume
//! route validates the POSTed response, takes the request it answers from that store, maps the
//! assertion to user, group and membership, and hands them to the app.
//!
//! Nothing of the login needs to survive in the browser: the IdP's POST is cross-site, and a
//! `SameSite=Lax` session cookie is not sent with it. The store, shared by every instance of
//! the app, is what says the request was issued by this app, for this tenant, and not yet
//! answered.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use tracing::Instrument as _;

use super::session::SsoSession;
use super::tenant::{authn_request, response_validator};
use crate::config::registry::Registry;
use crate::config::tenant::Tenant;
use crate::openid::OpenIdError;
use crate::ports::HttpClient;
use crate::ports::{Clock, OnceKey, RandomError, RandomSource, SingleUseError, SingleUseStore};
use crate::saml::authn_request::new_request_id;
use crate::saml::response::Expected;
use crate::saml::{AttributeError, LegacyCrypto, LoginRedirect, SamlError, SsoLogin, SsoProtocols};
use crate::types::MarketplaceKey;

/// The app's side of a login: find or create its own records for the user, the company and
/// the membership, scoped to `login.marketplace`, and return what it needs to sign the user
/// in (for example its session).
#[async_trait]
pub trait LoginHandler: Send + Sync {
    /// What the app returns for a successful login.
    type Output: Send;

    /// Called once per verified login.
    async fn on_login(
        &self,
        login: &SsoLogin,
    ) -> Result<Self::Output, Box<dyn std::error::Error + Send + Sync>>;
}

/// A login could not be started or completed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SsoFlowError {
    /// The POSTed form is not what the IdP sends.
    #[error("invalid SSO form: {0}")]
    Form(String),
    /// The request the response answers was not issued by this app for this tenant, has
    /// expired, or was already answered (on this instance or another).
    #[error("the login request is unknown, expired or already used")]
    UnknownRequest,
    /// The response was rejected.
    #[error(transparent)]
    Saml(#[from] SamlError),
    /// The assertion lacks a Maestrano attribute.
    #[error(transparent)]
    Attributes(#[from] AttributeError),
    /// The OpenID assertion, or the provider's discovery or direct answer, was refused.
    #[error(transparent)]
    OpenId(#[from] OpenIdError),
    /// The tenant does not offer this login protocol
    /// ([`SsoOptions::protocols`](crate::saml::SsoOptions::protocols)).
    #[error("the tenant does not offer {protocol} logins")]
    ProtocolNotOffered {
        /// `saml` or `openid`.
        protocol: &'static str,
    },
    /// An OpenID login needs the provider, and the flow has no HTTP client
    /// ([`SsoFlowBuilder::http_client`]).
    #[error("OpenID logins need an HTTP client: expected SsoFlowBuilder::http_client, found none")]
    NoHttpClient,
    /// The single-use store failed; the login fails closed.
    #[error(transparent)]
    Store(#[from] SingleUseError),
    /// The random source failed.
    #[error(transparent)]
    Random(#[from] RandomError),
    /// The app's handler failed.
    #[error("the application's login handler failed: {0}")]
    Handler(Box<dyn std::error::Error + Send + Sync>),
    /// Every pending-login slot this client may use is taken: it (or the crowd of clients on
    /// the same tenant) started too many logins that are not answered or expired yet. Answer
    /// 429; the slots free when those logins complete or expire.
    #[error(
        "too many pending logins: expected a free one of this client's {per_client} slots \
         (of the tenant's {per_tenant}), found every one taken"
    )]
    TooManyPendingLogins {
        /// The most pending logins of one client ([`SsoFlow::with_pending_limits`]).
        per_client: u32,
        /// The most pending logins of one tenant.
        per_tenant: u32,
    },
}

/// A completed login.
#[derive(Debug)]
#[non_exhaustive]
pub struct CompletedLogin<T> {
    /// What the app's handler returned.
    pub output: T,
    /// The typed login.
    pub login: SsoLogin,
    /// The Maestrano session to keep and re-check.
    pub session: SsoSession,
    /// The RelayState the IdP sent back, if any (untrusted: check it before redirecting).
    pub relay_state: Option<String>,
    /// What the platform signature profile accepted that the strict profile refuses (the
    /// platform's IdP signs RSA-SHA1 with 1024-bit keys); `None` for a modern signature.
    pub legacy_crypto: Option<LegacyCrypto>,
}

/// The SSO routes, with the ports they need.
#[derive(Debug, Clone)]
pub struct SsoFlow {
    pub(super) clock: Arc<dyn Clock>,
    pub(super) random: Arc<dyn RandomSource>,
    pub(super) store: Arc<dyn SingleUseStore>,
    /// The OpenID provider's discovery, associations and `check_authentication`.
    pub(super) http: Option<Arc<dyn HttpClient>>,
    /// Whether OpenID logins associate with the provider (else each is verified by
    /// `check_authentication`).
    pub(super) openid_associations: bool,
    /// Each tenant's discovered provider and association.
    pub(super) providers: Arc<Mutex<HashMap<MarketplaceKey, super::openid::Provider>>>,
    /// Where a rotated IdP key is looked for, when set.
    registry: Option<Registry>,
    /// Tenants already warned about legacy crypto: one warning each, not one per login.
    warned_legacy: Arc<Mutex<HashSet<MarketplaceKey>>>,
    per_client: u32,
    per_tenant: u32,
}

/// Builds an [`SsoFlow`]; see [`SsoFlow::builder`].
#[derive(Debug, Default)]
#[must_use]
pub struct SsoFlowBuilder {
    clock: Option<Arc<dyn Clock>>,
    random: Option<Arc<dyn RandomSource>>,
    store: Option<Arc<dyn SingleUseStore>>,
    registry: Option<Registry>,
    pending: Option<(u32, u32)>,
    http: Option<Arc<dyn HttpClient>>,
    openid_associations: bool,
}

impl SsoFlowBuilder {
    /// The clock (default [`SystemClock`](crate::ports::SystemClock)).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The random source of request ids (default [`OsRandom`](crate::ports::OsRandom)).
    pub fn random(mut self, random: Arc<dyn RandomSource>) -> Self {
        self.random = Some(random);
        self
    }

    /// The single-use store every instance shares (default: in memory, one instance only).
    pub fn store(mut self, store: Arc<dyn SingleUseStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// See [`SsoFlow::with_registry`].
    pub fn registry(mut self, registry: Registry) -> Self {
        self.registry = Some(registry);
        self
    }

    /// See [`SsoFlow::with_pending_limits`].
    pub fn pending_limits(mut self, per_client: u32, per_tenant: u32) -> Self {
        self.pending = Some((per_client, per_tenant));
        self
    }

    /// The HTTP client OpenID logins reach the tenant's provider with (discovery,
    /// associations, `check_authentication`). SAML logins need none.
    pub fn http_client(mut self, http: Arc<dyn HttpClient>) -> Self {
        self.http = Some(http);
        self
    }

    /// Whether OpenID logins associate with the provider (default: no). An association saves
    /// the `check_authentication` request of each login, but it lives in this instance's
    /// memory: an assertion signed with it and answered by another instance of the app fails
    /// (the provider's `check_authentication` verifies only its own stateless signatures).
    /// Turn it on for one instance, or behind sticky sessions.
    pub fn openid_associations(mut self, on: bool) -> Self {
        self.openid_associations = on;
        self
    }

    /// The flow.
    pub fn build(self) -> SsoFlow {
        let store = self.store.unwrap_or_else(|| {
            tracing::warn!(
                "SsoFlow uses an in-memory single-use store: right for one instance only; \
                 behind a load balancer give every instance one shared store"
            );
            Arc::new(crate::ports::InMemorySingleUseStore::new())
        });
        let mut flow = SsoFlow::new(
            self.clock
                .unwrap_or_else(|| Arc::new(crate::ports::SystemClock)),
            self.random
                .unwrap_or_else(|| Arc::new(crate::ports::OsRandom)),
            store,
        );
        if let Some(registry) = self.registry {
            flow = flow.with_registry(registry);
        }
        if let Some((per_client, per_tenant)) = self.pending {
            flow = flow.with_pending_limits(per_client, per_tenant);
        }
        flow.http = self.http;
        flow.openid_associations = self.openid_associations;
        flow
    }
}

/// How many logins one client may have pending at once, by default.
pub const DEFAULT_PENDING_PER_CLIENT: u32 = 32;
/// How many logins one tenant may have pending at once, by default.
pub const DEFAULT_PENDING_PER_TENANT: u32 = 10_000;

/// The slot positions a client may use in its tenant: `per_client` distinct positions among
/// `per_tenant`, drawn with a hash keyed by the tenant's `api.key`, which every instance
/// knows and no client does, so a flood cannot aim at the positions of another client.
/// A drawn position already among the client's moves on to the next free one, so a client
/// always has `per_client` slots (two equal draws once left it one short, 1 time in 100 with
/// 2 of 100 positions).
fn slot_positions(
    tenant_key: &str,
    client: &str,
    per_client: u32,
    per_tenant: u32,
) -> impl Iterator<Item = u32> {
    let per_tenant = per_tenant.max(1);
    let per_client = per_client.clamp(1, per_tenant);
    // Tenant key and client hashed once; each position only adds its number. Drawn lazily:
    // a login usually takes the first.
    let mut prefix = Sha256::new();
    prefix.update(b"maestrano pending-login slot\0");
    prefix.update((tenant_key.len() as u64).to_be_bytes());
    prefix.update(tenant_key.as_bytes());
    prefix.update((client.len() as u64).to_be_bytes());
    prefix.update(client.as_bytes());
    let mut drawn: Vec<u32> = Vec::new();
    (0..per_client).map(move |i| {
        let digest = prefix.clone().chain_update(i.to_be_bytes()).finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        let mut position = (u64::from_be_bytes(first) % u64::from(per_tenant)) as u32;
        // Fewer than `per_tenant` are drawn, so a free position is found.
        while drawn.contains(&position) {
            position = (position + 1) % per_tenant;
        }
        drawn.push(position);
        position
    })
}

/// Runs one login step in a span naming the marketplace and the endpoint (nothing of the
/// user), then logs its outcome in that span: `done` on success, a warning naming the class
/// of a refusal; and counts it in `maestrano_sso_steps_total{marketplace, endpoint, outcome}`.
/// The error's text says what was expected and found; it never holds the response itself or
/// a credential.
pub(super) async fn traced<T>(
    tenant: &Tenant,
    endpoint: &'static str,
    step: impl std::future::Future<Output = Result<T, SsoFlowError>>,
    done: impl FnOnce(&T),
) -> Result<T, SsoFlowError> {
    let span = tracing::info_span!("maestrano_sso", marketplace = %tenant.marketplace(), endpoint);
    let result = step.instrument(span.clone()).await;
    span.in_scope(|| match &result {
        Ok(value) => done(value),
        Err(e) => tracing::warn!(refusal = e.class(), error = %e, "login refused"),
    });
    // Labelled by the tenant (from the configuration, so bounded) and the class, never by
    // anything of the user or of the message.
    metrics::counter!(
        "maestrano_sso_steps_total",
        "marketplace" => tenant.marketplace().to_string(),
        "endpoint" => endpoint,
        "outcome" => result.as_ref().map_or_else(|e| e.class(), |_| "ok")
    )
    .increment(1);
    result
}

impl SsoFlowError {
    /// A stable snake_case name for the class of refusal, for logs and metrics: the SAML
    /// class ([`SamlError::class`]) for a refused response, else `form`, `unknown_request`,
    /// `attributes`, `store`, `random`, `handler` or `too_many_pending_logins`.
    pub fn class(&self) -> &'static str {
        match self {
            Self::Form(_) => "form",
            Self::UnknownRequest => "unknown_request",
            Self::Saml(e) => e.class(),
            Self::Attributes(_) => "attributes",
            Self::Store(_) => "store",
            Self::Random(_) => "random",
            Self::Handler(_) => "handler",
            Self::TooManyPendingLogins { .. } => "too_many_pending_logins",
            Self::OpenId(e) => e.class(),
            Self::ProtocolNotOffered { .. } => "protocol_not_offered",
            Self::NoHttpClient => "no_http_client",
        }
    }
}

/// Hands a verified login to the app's handler: the completed login, with the Maestrano
/// session to keep.
pub(super) async fn complete<H: LoginHandler>(
    login: SsoLogin,
    handler: &H,
    relay_state: Option<String>,
    legacy_crypto: Option<LegacyCrypto>,
) -> Result<CompletedLogin<H::Output>, SsoFlowError> {
    let output = handler
        .on_login(&login)
        .await
        .map_err(SsoFlowError::Handler)?;
    let session = SsoSession::from_login(&login);
    Ok(CompletedLogin {
        output,
        login,
        session,
        relay_state,
        legacy_crypto,
    })
}

/// Refuses a login route of a protocol the tenant does not offer
/// ([`SsoOptions::protocols`](crate::saml::SsoOptions::protocols)).
pub(super) fn require(tenant: &Tenant, protocol: SsoProtocols) -> Result<(), SsoFlowError> {
    let offered = tenant.config().sso_options().protocols;
    let (ok, name) = match protocol {
        SsoProtocols::OpenId => (offered.openid(), "openid"),
        _ => (offered.saml(), "saml"),
    };
    if ok {
        Ok(())
    } else {
        Err(SsoFlowError::ProtocolNotOffered { protocol: name })
    }
}

/// The slot a request id names: its first eight hex digits after the `_`
/// ([`SsoFlow::initiate`] writes them).
fn slot_of(request_id: &str) -> Option<u32> {
    let digits = request_id.strip_prefix('_')?.get(..8)?;
    u32::from_str_radix(digits, 16).ok()
}

/// Largest form body accepted on the consume route.
const MAX_FORM_BYTES: usize = 512 * 1024;

impl SsoFlow {
    /// A flow on these ports. `store` holds the pending requests and the used assertions;
    /// every instance of the app that serves logins must share it (see
    /// [`SingleUseStore`] for the implementations).
    pub fn new(
        clock: Arc<dyn Clock>,
        random: Arc<dyn RandomSource>,
        store: Arc<dyn SingleUseStore>,
    ) -> Self {
        Self {
            clock,
            random,
            store,
            registry: None,
            http: None,
            openid_associations: false,
            providers: Arc::default(),
            warned_legacy: Arc::default(),
            per_client: DEFAULT_PENDING_PER_CLIENT,
            per_tenant: DEFAULT_PENDING_PER_TENANT,
        }
    }

    /// A builder with defaults for one instance: the system clock, the operating system's
    /// random source and an in-memory single-use store. The in-memory store is **not safe
    /// across instances** (a login started on one instance and answered on another is
    /// refused, and a response could be replayed on another instance): behind a load balancer
    /// give every instance the same [`store`](SsoFlowBuilder::store). `build` warns, through
    /// `tracing`, when it falls back on the in-memory store.
    ///
    /// ```
    /// use maestrano::sso::SsoFlow;
    ///
    /// let flow = SsoFlow::builder().pending_limits(16, 5_000).build();
    /// # let _ = flow;
    /// ```
    pub fn builder() -> SsoFlowBuilder {
        SsoFlowBuilder::default()
    }

    /// Bounds the logins that may be pending at once (started, not yet answered, not
    /// expired): `per_client` for one client, `per_tenant` for one tenant (defaults
    /// [`DEFAULT_PENDING_PER_CLIENT`] and [`DEFAULT_PENDING_PER_TENANT`]). Each login takes a
    /// slot in the shared store, among positions only its client may use, so a flood from one
    /// client or one tenant never pushes out the pending logins of others, on any instance;
    /// past the bound, [`initiate`](Self::initiate) refuses with
    /// [`SsoFlowError::TooManyPendingLogins`]. A slot frees when its login completes or
    /// expires. Both bounds are at least 1, and `per_client` at most `per_tenant`.
    pub fn with_pending_limits(mut self, per_client: u32, per_tenant: u32) -> Self {
        self.per_tenant = per_tenant.max(1);
        self.per_client = per_client.clamp(1, self.per_tenant);
        self
    }

    /// Picks up a rotated IdP key without a restart: when a response's signature does not
    /// verify with the keys the tenant knows, the flow asks `registry` for one refresh
    /// ([`Registry::refresh_for_unknown_key`], rate-limited) and, if the tenant's IdP
    /// certificates changed, validates the response again with them. Without it the response
    /// is refused until the registry refreshes on its own.
    pub fn with_registry(mut self, registry: Registry) -> Self {
        self.registry = Some(registry);
        self
    }

    /// Validates against `tenant`; on a signature that no known key verifies, once more
    /// against the tenant as a refresh of the registry describes it, if its keys changed.
    async fn check_with_refresh(
        &self,
        tenant: &Tenant,
        response: &[u8],
        expected: Expected<'_>,
        now: time::OffsetDateTime,
    ) -> Result<crate::saml::CheckedResponse, SamlError> {
        let first = response_validator(tenant).check_expecting(response, expected, now);
        let (
            Err(SamlError::SignatureInvalid | SamlError::CertificateRejected { .. }),
            Some(registry),
        ) = (&first, &self.registry)
        else {
            return first;
        };
        // Rate-limited or already running elsewhere (`Ok(None)`): the registry may still hold
        // newer certificates than the handle the app passed, so they are compared either way.
        if let Err(error) = registry.refresh_for_unknown_key().await {
            tracing::warn!(%error, "refresh for an unknown IdP key failed");
        }
        let Ok(fresh) = registry.with(tenant.marketplace()) else {
            return first;
        };
        let old = tenant.config().sso();
        let new = fresh.config().sso();
        if new.certificates() == old.certificates() && new.fingerprint() == old.fingerprint() {
            return first;
        }
        tracing::info!(
            marketplace = %tenant.marketplace(),
            "the IdP certificate changed: validating the response with the new one"
        );
        response_validator(&fresh).check_expecting(response, expected, now)
    }

    /// Says, once per tenant, that the platform signature profile accepted SHA-1 or a short key.
    fn warn_legacy_once(&self, tenant: &Tenant, legacy: LegacyCrypto) {
        let first = self
            .warned_legacy
            .lock()
            .map(|mut seen| seen.insert(tenant.marketplace().clone()))
            .unwrap_or(false);
        if first {
            tracing::warn!(
                marketplace = %tenant.marketplace(),
                sha1 = legacy.sha1,
                rsa_key_bits = legacy.rsa_key_bits,
                "accepted a SAML response signed with legacy crypto from the tenant's own IdP \
                 certificate (platform signature profile; SamlPolicy::strict refuses it)"
            );
        }
    }

    /// The init route: a fresh AuthnRequest for `tenant` (signed when the tenant has an SP
    /// key), its redirect URL with `relay_state` and the `extra` parameters (such as
    /// `group_id`), and the request recorded in the shared store for the consume route, until
    /// [`SsoOptions::request_ttl`](crate::saml::SsoOptions::request_ttl). The returned request
    /// id may also be kept in the user's session (then [`consume`](Self::consume) also checks
    /// that the response answers that very request), but it need not be.
    ///
    /// `client` names the browser as the app best knows it before login, usually its IP
    /// address (behind a proxy, the address the proxy reports): each client may have at most
    /// so many logins pending ([`with_pending_limits`](Self::with_pending_limits)), so a flood
    /// of this open route cannot push out the pending logins of other clients. It is only
    /// hashed, never stored. A text the client chooses (a cookie it sends) bounds nothing.
    ///
    /// # Errors
    ///
    /// [`SsoFlowError::TooManyPendingLogins`] when the client's slots are taken; a store or
    /// random source failure.
    pub async fn initiate(
        &self,
        tenant: &Tenant,
        client: &str,
        relay_state: Option<&str>,
        extra: &[(&str, &str)],
    ) -> Result<LoginRedirect, SsoFlowError> {
        traced(
            tenant,
            "initiate",
            self.initiate_inner(tenant, client, relay_state, extra),
            |_| tracing::info!("login started"),
        )
        .await
    }

    /// The consume route: reads `SAMLResponse` and `RelayState` from the POSTed form body,
    /// validates the response against the tenant, takes the request it answers (its
    /// `InResponseTo`) from the shared store, maps the assertion to a [`SsoLogin`] and calls
    /// `handler`.
    ///
    /// `request_id` is the id the app kept for this browser, if it kept one: the response must
    /// then answer that very request. With `None` the response must answer a request this app
    /// issued for this tenant, still pending in the store; a response that answers no request
    /// is accepted only when the tenant's policy allows IdP-initiated logins. Either way a
    /// request is answered once, and an assertion used once, across every instance.
    ///
    /// # Binding the login to the browser
    ///
    /// Only a kept id ties the response to the browser that started the login. With `None`, a
    /// user of the marketplace can start a login, keep the IdP's auto-submitted form and make
    /// a victim's browser post it, which signs the victim in to the app as that user (login
    /// CSRF). Keep the id in a cookie the IdP's cross-site POST carries, `HttpOnly; Secure;
    /// SameSite=None` (a `Lax` cookie is not sent with it), and pass it here; pass `None` only
    /// where no such cookie can be set (plain-HTTP development) or the risk is accepted.
    pub async fn consume<H: LoginHandler>(
        &self,
        tenant: &Tenant,
        form_body: &[u8],
        request_id: Option<&str>,
        handler: &H,
    ) -> Result<CompletedLogin<H::Output>, SsoFlowError> {
        traced(
            tenant,
            "consume",
            self.consume_inner(tenant, form_body, request_id, handler),
            |done| {
                tracing::info!(
                    legacy_crypto = done.legacy_crypto.is_some(),
                    "login completed"
                )
            },
        )
        .await
    }

    async fn initiate_inner(
        &self,
        tenant: &Tenant,
        client: &str,
        relay_state: Option<&str>,
        extra: &[(&str, &str)],
    ) -> Result<LoginRedirect, SsoFlowError> {
        require(tenant, SsoProtocols::Saml)?;
        let (slot, expires_at, now) = self.reserve_slot(tenant, client).await?;
        let issued = self
            .issue(tenant, slot, relay_state, extra, expires_at, now)
            .await;
        if issued.is_err() {
            self.free_slot(tenant, slot, now).await;
        }
        issued
    }

    /// Takes one of `client`'s pending-login slots in `tenant`: the slot, when its login
    /// expires, and now.
    pub(super) async fn reserve_slot(
        &self,
        tenant: &Tenant,
        client: &str,
    ) -> Result<(u32, time::OffsetDateTime, time::OffsetDateTime), SsoFlowError> {
        let now = self.clock.now();
        let options = tenant.config().sso_options();
        let expires_at = now.saturating_add(options.request_ttl);
        let tenant_key = tenant.config().api().key().expose();
        for position in slot_positions(tenant_key, client, self.per_client, self.per_tenant) {
            let key = OnceKey::login_slot(tenant.marketplace(), position);
            if self.store.insert_if_absent(&key, expires_at, now).await? {
                return Ok((position, expires_at, now));
            }
        }
        Err(SsoFlowError::TooManyPendingLogins {
            per_client: self.per_client,
            per_tenant: self.per_tenant,
        })
    }

    /// Frees `slot` when no request holds it, rather than keep it until it expires.
    pub(super) async fn free_slot(&self, tenant: &Tenant, slot: u32, now: time::OffsetDateTime) {
        let freed = self
            .store
            .take(&OnceKey::login_slot(tenant.marketplace(), slot), now)
            .await;
        if let Err(error) = freed {
            tracing::warn!(%error, "could not free a pending-login slot");
        }
    }

    /// A fresh request id naming `slot` (so that the consume route frees it), recorded as
    /// pending until `expires_at`.
    pub(super) async fn record_request(
        &self,
        tenant: &Tenant,
        slot: u32,
        expires_at: time::OffsetDateTime,
        now: time::OffsetDateTime,
    ) -> Result<String, SsoFlowError> {
        let random = new_request_id(self.random.as_ref())?;
        let id = format!("_{slot:08x}{}", random.trim_start_matches('_'));
        let recorded = self
            .store
            .insert_if_absent(
                &OnceKey::authn_request(tenant.marketplace(), &id),
                expires_at,
                now,
            )
            .await?;
        if !recorded {
            // 128 random bits collide only when the random source is broken.
            return Err(SsoFlowError::Store(SingleUseError::Store(
                "a fresh request id is already recorded: the random source repeats".into(),
            )));
        }
        Ok(id)
    }

    /// Spends the pending request `id` of `tenant` (answered once, on any instance) and frees
    /// its slot.
    pub(super) async fn spend_request(
        &self,
        tenant: &Tenant,
        id: &str,
        now: time::OffsetDateTime,
    ) -> Result<(), SsoFlowError> {
        if !self
            .store
            .take(&OnceKey::authn_request(tenant.marketplace(), id), now)
            .await?
        {
            return Err(SsoFlowError::UnknownRequest);
        }
        // The request was this tenant's and is answered: its slot is free again. (A failure
        // here only keeps the slot until the request would have expired.)
        if let Some(slot) = slot_of(id) {
            self.free_slot(tenant, slot, now).await;
        }
        Ok(())
    }

    /// The AuthnRequest of a login holding `slot`: its redirect, and the request recorded.
    async fn issue(
        &self,
        tenant: &Tenant,
        slot: u32,
        relay_state: Option<&str>,
        extra: &[(&str, &str)],
        expires_at: time::OffsetDateTime,
        now: time::OffsetDateTime,
    ) -> Result<LoginRedirect, SsoFlowError> {
        let id = self.record_request(tenant, slot, expires_at, now).await?;
        let options = tenant.config().sso_options();
        let url = authn_request(tenant, &id, now).redirect_url(
            relay_state,
            extra,
            options.signing_key.as_ref(),
        )?;
        Ok(LoginRedirect {
            url,
            request_id: id,
        })
    }

    async fn consume_inner<H: LoginHandler>(
        &self,
        tenant: &Tenant,
        form_body: &[u8],
        request_id: Option<&str>,
        handler: &H,
    ) -> Result<CompletedLogin<H::Output>, SsoFlowError> {
        require(tenant, SsoProtocols::Saml)?;
        if form_body.len() > MAX_FORM_BYTES {
            return Err(SsoFlowError::Form(format!(
                "body exceeds {MAX_FORM_BYTES} bytes"
            )));
        }
        let mut response = None;
        let mut relay_state = None;
        for (k, v) in url::form_urlencoded::parse(form_body) {
            match &*k {
                "SAMLResponse" if response.is_none() => response = Some(v.into_owned()),
                "RelayState" if relay_state.is_none() => relay_state = Some(v.into_owned()),
                "SAMLResponse" | "RelayState" => {
                    return Err(SsoFlowError::Form(format!("{k} appears twice")));
                }
                _ => {}
            }
        }
        let response =
            response.ok_or_else(|| SsoFlowError::Form("no SAMLResponse field".into()))?;
        // The request is taken only after the response validated against it, so that a forged
        // POST cannot spend the pending login of a user; the replay check, inside validation,
        // already stops a second use of the same response.
        let now = self.clock.now();
        let expected = match request_id {
            Some(id) => Expected::Id(id),
            None => Expected::Issued,
        };
        let assertion = self
            .check_with_refresh(tenant, response.as_bytes(), expected, now)
            .await?
            .check_replay(self.store.as_ref())
            .await?;
        // The key names this tenant: a request issued for another tenant is another key. (With
        // a kept id the response's InResponseTo is that id, or absent when the policy allows
        // IdP-initiated logins: the kept request is spent either way.)
        if let Some(id) = assertion.in_response_to().or(request_id) {
            self.spend_request(tenant, id, now).await?;
        }
        if let Some(legacy) = assertion.legacy_crypto() {
            self.warn_legacy_once(tenant, legacy);
        }
        let login = SsoLogin::from_assertion(tenant.marketplace(), &assertion)?;
        complete(login, handler, relay_state, assertion.legacy_crypto()).await
    }
}

#[cfg(test)]
mod tests {
    use super::slot_positions;

    /// A client always has as many slots as it is allowed, however the draws fall: with 2 of
    /// 100 positions, some of these 2,000 clients draw the same position twice.
    #[test]
    fn a_client_has_distinct_slot_positions() {
        let mut collided = 0;
        for client in 0..2_000 {
            let client = format!("198.51.100.{client}");
            let positions: Vec<u32> = slot_positions("tenant-key", &client, 2, 100).collect();
            assert_eq!(positions.len(), 2);
            assert_ne!(positions[0], positions[1], "{client}");
            assert!(positions.iter().all(|&p| p < 100));
            // The first draw is the plain hash; a second that moved on shows a collision.
            collided += usize::from(positions[1] == (positions[0] + 1) % 100);
        }
        assert!(collided > 0, "no client drew the same position twice");
        // Every position of a tenant, for one client that may use them all.
        let mut all: Vec<u32> = slot_positions("tenant-key", "203.0.113.9", 50, 50).collect();
        all.sort_unstable();
        assert_eq!(all, (0..50).collect::<Vec<_>>());
        // The draw depends on the tenant's key: another tenant, other positions.
        assert_ne!(
            slot_positions("tenant-key", "203.0.113.9", 8, 10_000).collect::<Vec<_>>(),
            slot_positions("other-key", "203.0.113.9", 8, 10_000).collect::<Vec<_>>()
        );
    }
}
