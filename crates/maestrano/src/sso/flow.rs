//! The two SSO routes an application serves, framework-agnostic: the init route builds the
//! redirect to the IdP and records the request in the shared single-use store; the consume
//! route validates the POSTed response, takes the request it answers from that store, maps the
//! assertion to user, group and membership, and hands them to the app.
//!
//! Nothing of the login needs to survive in the browser: the IdP's POST is cross-site, and a
//! `SameSite=Lax` session cookie is not sent with it. The store, shared by every instance of
//! the app, is what says the request was issued by this app, for this tenant, and not yet
//! answered.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::session::SsoSession;
use super::tenant::{authn_request, response_validator};
use crate::config::registry::Registry;
use crate::config::tenant::Tenant;
use crate::ports::{Clock, OnceKey, RandomError, RandomSource, SingleUseError, SingleUseStore};
use crate::saml::authn_request::new_request_id;
use crate::saml::response::Expected;
use crate::saml::{AttributeError, LegacyCrypto, LoginRedirect, SamlError, SsoLogin};
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
    /// The single-use store failed; the login fails closed.
    #[error(transparent)]
    Store(#[from] SingleUseError),
    /// The random source failed.
    #[error(transparent)]
    Random(#[from] RandomError),
    /// The app's handler failed.
    #[error("the application's login handler failed: {0}")]
    Handler(Box<dyn std::error::Error + Send + Sync>),
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
    clock: Arc<dyn Clock>,
    random: Arc<dyn RandomSource>,
    store: Arc<dyn SingleUseStore>,
    /// Where a rotated IdP key is looked for, when set.
    registry: Option<Registry>,
    /// Tenants already warned about legacy crypto: one warning each, not one per login.
    warned_legacy: Arc<Mutex<HashSet<MarketplaceKey>>>,
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
            warned_legacy: Arc::default(),
        }
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
    pub async fn initiate(
        &self,
        tenant: &Tenant,
        relay_state: Option<&str>,
        extra: &[(&str, &str)],
    ) -> Result<LoginRedirect, SsoFlowError> {
        let now = self.clock.now();
        let id = new_request_id(self.random.as_ref())?;
        let options = tenant.config().sso_options();
        let url = authn_request(tenant, &id, now).redirect_url(
            relay_state,
            extra,
            options.signing_key.as_ref(),
        )?;
        let recorded = self
            .store
            .insert_if_absent(
                &OnceKey::authn_request(tenant.marketplace(), &id),
                now.saturating_add(options.request_ttl),
                now,
            )
            .await?;
        if !recorded {
            // 128 random bits collide only when the random source is broken.
            return Err(SsoFlowError::Store(SingleUseError::Store(
                "a fresh request id is already recorded: the random source repeats".into(),
            )));
        }
        Ok(LoginRedirect {
            url,
            request_id: id,
        })
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
        if let Some(id) = assertion.in_response_to().or(request_id)
            && !self
                .store
                .take(&OnceKey::authn_request(tenant.marketplace(), id), now)
                .await?
        {
            return Err(SsoFlowError::UnknownRequest);
        }
        if let Some(legacy) = assertion.legacy_crypto() {
            self.warn_legacy_once(tenant, legacy);
        }
        let login = SsoLogin::from_assertion(tenant.marketplace(), &assertion)?;
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
            legacy_crypto: assertion.legacy_crypto(),
        })
    }
}
