//! The OpenID 2.0 login routes of [`SsoFlow`]: the same pending-login slots, request ids and
//! single-use store as the SAML routes, the same [`LoginHandler`], the same [`SsoLogin`].
//!
//! The provider is the tenant's: its identifier is `{sso.idp}/api/openid/provider/{api.id}`
//! (mno-api-sandbox cd52c0b, config/routes.rb, `namespace :openid` and
//! `resources :provider`), discovered once per tenant and kept until the tenant's
//! configuration names another one.

use std::sync::Arc;

use time::OffsetDateTime;
use url::Url;

use super::flow::{CompletedLogin, LoginHandler, SsoFlow, SsoFlowError, complete, require};
use crate::config::tenant::Tenant;
use crate::openid::{
    Association, AssociationRequest, AssociationType, CheckedOpenId, Discovered, Fields,
    OpenIdError, check_positive, check_positive_stateless, checkid_setup_url, discovery_request,
    read_discovery, verify_claimed_id,
};
use crate::ports::HttpClient;
use crate::saml::{LoginRedirect, SsoProtocols};

/// The query parameter of `return_to` that names the pending request.
pub(crate) const REQUEST_PARAM: &str = "mno_request";
/// The query parameter of `return_to` that carries the RelayState.
const RELAY_PARAM: &str = "RelayState";
/// Most discovery fetches for one identifier (redirects and `X-XRDS-Location`).
const MAX_DISCOVERY_STEPS: usize = 3;

/// Most associations kept per tenant: a login started just before a new association was made
/// still comes back signed with the one before.
const MAX_ASSOCIATIONS: usize = 4;
/// How long after a failed `associate` logins go stateless before the flow tries again.
const ASSOCIATE_RETRY: time::Duration = time::Duration::minutes(10);
/// How long before its expiry an association is replaced for new logins.
const ASSOCIATION_MARGIN: time::Duration = time::Duration::minutes(10);

/// What the flow knows of one tenant's provider.
#[derive(Debug, Clone)]
pub(super) struct Provider {
    identifier: Url,
    endpoint: Url,
    /// Newest last; shared, so that a login's copy of the provider holds no copy of a key.
    associations: Vec<Arc<Association>>,
    /// When associating last failed.
    failed_at: Option<OffsetDateTime>,
}

impl Provider {
    /// The association new logins are signed with, if it is not about to expire.
    fn current(&self, now: OffsetDateTime) -> Option<&Association> {
        self.associations
            .last()
            .map(|a| &**a)
            .filter(|a| a.expires_at() > now + ASSOCIATION_MARGIN)
    }
}

/// The tenant's OpenID provider identifier, `{sso.idp}/api/openid/provider/{api.id}`
/// (`api.id` is a checked path segment).
pub fn openid_identifier(tenant: &Tenant) -> Url {
    let config = tenant.config();
    let mut url = config.sso().idp().clone();
    url.set_query(None);
    url.set_fragment(None);
    // `sso.idp` is an http(s) URL (the configuration refuses others), which always has path
    // segments to extend: the `Err` of a URL that cannot be a base never happens here.
    if let Ok(mut segments) = url.path_segments_mut() {
        segments
            .pop_if_empty()
            .extend(["api", "openid", "provider", config.api().id().as_str()]);
    }
    url
}

/// The absolute URL of the tenant's OpenID return route, the `return_to` of its logins: the
/// origin of `sso.idm` (the app's base URL), then `{prefix}/{marketplace}/openid/return`, the
/// prefixed route of a [`Router`](crate::routes::Router) with that
/// [`prefix`](crate::routes::Router::prefix).
///
/// ```
/// use maestrano::Tenant;
/// use maestrano::config::parse_marketplace;
///
/// let json = br#"{"marketplace": "acme-corp", "app": {"host": "https://app.example.com"},
///     "api": {"id": "app-1a2b", "key": "s3cret", "host": "https://hub.acme.example"},
///     "sso": {"idp": "https://hub.acme.example",
///             "x509_fingerprint": "01:06:15:89:25:7d:78:12:28:a6:69:c7:de:63:ed:74:21:f9:f5:36"}}"#;
/// let tenant = Tenant::new(parse_marketplace(json)?);
/// assert_eq!(
///     maestrano::sso::openid_return_to(&tenant, "/mno-enterprise").as_str(),
///     "https://app.example.com/mno-enterprise/acme-corp/openid/return"
/// );
/// assert_eq!(
///     maestrano::sso::openid_identifier(&tenant).as_str(),
///     "https://hub.acme.example/api/openid/provider/app-1a2b"
/// );
/// # Ok::<(), maestrano::config::ConfigError>(())
/// ```
pub fn openid_return_to(tenant: &Tenant, prefix: &str) -> Url {
    let mut url = tenant.config().sso().idm().clone();
    url.set_query(None);
    url.set_fragment(None);
    // As in `openid_identifier`: `sso.idm` is an http(s) URL, so the path can be set.
    if let Ok(mut segments) = url.path_segments_mut() {
        segments
            .clear()
            .extend(prefix.split('/').filter(|s| !s.is_empty()))
            .extend([tenant.marketplace().as_str(), "openid", "return"]);
    }
    url
}

impl SsoFlow {
    /// The OpenID init route: discovers the tenant's provider (once), associates with it when
    /// [`openid_associations`](super::SsoFlowBuilder::openid_associations) is on, records a
    /// pending request exactly as [`initiate`](Self::initiate) does, and returns the
    /// `checkid_setup` redirect with the AX fetch request. `return_to` is the absolute URL of
    /// the app's OpenID return route for this tenant; the request id and `relay_state` are
    /// added to its query, where the provider's signature covers them.
    ///
    /// # Errors
    ///
    /// [`SsoFlowError::ProtocolNotOffered`] when the tenant's
    /// [`SsoOptions::protocols`](crate::saml::SsoOptions::protocols) exclude OpenID,
    /// [`SsoFlowError::NoHttpClient`] without an HTTP client, a discovery failure
    /// ([`SsoFlowError::OpenId`]), or what [`initiate`](Self::initiate) refuses.
    pub async fn openid_initiate(
        &self,
        tenant: &Tenant,
        client: &str,
        return_to: &Url,
        relay_state: Option<&str>,
    ) -> Result<LoginRedirect, SsoFlowError> {
        super::flow::traced(
            tenant,
            "openid_initiate",
            self.openid_initiate_inner(tenant, client, return_to, relay_state),
            |_| tracing::info!("login started"),
        )
        .await
    }

    /// The OpenID return route: reads the provider's positive assertion from `message` (the
    /// POSTed form body, or the query of a GET), received at `received` (the full URL of the
    /// request, query included), and verifies it as OpenID 2.0 §11 requires: `return_to` is
    /// `received`, `op_endpoint` is the tenant's provider, the signature (with the
    /// association, or by `check_authentication` when this instance holds none) covers every
    /// field read, the claimed identifier's own discovery names that provider, the nonce is
    /// fresh and used once across instances. Then it spends the pending request named in
    /// `return_to` (which must be `request_id` when the app kept one), maps the AX values to
    /// the [`SsoLogin`](crate::saml::SsoLogin) a SAML login makes and calls `handler`.
    ///
    /// # Errors
    ///
    /// [`SsoFlowError::OpenId`] with the rule the assertion breaks,
    /// [`SsoFlowError::UnknownRequest`] for a request not pending (or another than
    /// `request_id`), the handler's failure.
    pub async fn openid_consume<H: LoginHandler>(
        &self,
        tenant: &Tenant,
        received: &Url,
        message: &[u8],
        request_id: Option<&str>,
        handler: &H,
    ) -> Result<CompletedLogin<H::Output>, SsoFlowError> {
        super::flow::traced(
            tenant,
            "openid_consume",
            self.openid_consume_inner(tenant, received, message, request_id, handler),
            |_| tracing::info!("login completed"),
        )
        .await
    }

    async fn openid_initiate_inner(
        &self,
        tenant: &Tenant,
        client: &str,
        return_to: &Url,
        relay_state: Option<&str>,
    ) -> Result<LoginRedirect, SsoFlowError> {
        require(tenant, SsoProtocols::OpenId)?;
        let http = self.http()?;
        let provider = self.provider(tenant, http, true).await?;
        let (slot, expires_at, now) = self.reserve_slot(tenant, client).await?;
        let id = match self.record_request(tenant, slot, expires_at, now).await {
            Ok(id) => id,
            Err(e) => {
                self.free_slot(tenant, slot, now).await;
                return Err(e);
            }
        };
        let mut back = return_to.clone();
        {
            let mut q = back.query_pairs_mut();
            q.append_pair(REQUEST_PARAM, &id);
            if let Some(relay) = relay_state {
                q.append_pair(RELAY_PARAM, relay);
            }
        }
        let realm = format!("{}/", return_to.origin().ascii_serialization());
        let handle = provider.current(now).map(Association::handle);
        Ok(LoginRedirect {
            url: checkid_setup_url(&provider.endpoint, &back, &realm, handle),
            request_id: id,
        })
    }

    async fn openid_consume_inner<H: LoginHandler>(
        &self,
        tenant: &Tenant,
        received: &Url,
        message: &[u8],
        request_id: Option<&str>,
        handler: &H,
    ) -> Result<CompletedLogin<H::Output>, SsoFlowError> {
        require(tenant, SsoProtocols::OpenId)?;
        let http = self.http()?;
        let fields = Fields::from_form(message)?;
        // A cancel needs no provider (the checks below would refuse it the same, after a
        // discovery).
        if fields.get("mode") == Some("cancel") {
            return Err(OpenIdError::Cancelled.into());
        }
        let now = self.clock.now();
        let provider = self.provider(tenant, http, false).await?;
        let held = provider
            .associations
            .iter()
            .map(|a| &**a)
            .find(|a| Some(a.handle()) == fields.get("assoc_handle"));
        let checked = match held {
            Some(association) => {
                check_positive(&fields, received, &provider.endpoint, association, now)?
            }
            None => {
                self.check_stateless(tenant, http, &fields, received, &provider, now)
                    .await?
            }
        };
        verify_claimed(http, &checked, &provider.endpoint).await?;
        let verified = checked.check_replay(self.store.as_ref(), now).await?;
        // The signed return_to names the request this login answers.
        let return_to = verified
            .signed_field("return_to")
            .and_then(|r| Url::parse(r).ok())
            .ok_or(OpenIdError::MissingField { name: "return_to" })?;
        let pairs: Vec<(String, String)> = return_to.query_pairs().into_owned().collect();
        let named = |key: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        let id = named(REQUEST_PARAM).ok_or(SsoFlowError::UnknownRequest)?;
        if request_id.is_some_and(|kept| kept != id) {
            return Err(SsoFlowError::UnknownRequest);
        }
        self.spend_request(tenant, id, now).await?;
        let login = verified.login(tenant.marketplace())?;
        complete(login, handler, named(RELAY_PARAM).map(str::to_owned), None).await
    }

    /// §11.4.2: the provider verifies its own signature; an `invalidate_handle` naming the
    /// association held drops it.
    async fn check_stateless(
        &self,
        tenant: &Tenant,
        http: &dyn HttpClient,
        fields: &Fields,
        received: &Url,
        provider: &Provider,
        now: OffsetDateTime,
    ) -> Result<CheckedOpenId, SsoFlowError> {
        let check = check_positive_stateless(fields, received, &provider.endpoint, now)?;
        let answer = direct(http, check.http_request(), false).await?;
        let (checked, invalidate) = check.finish(&answer)?;
        if let Some(handle) = invalidate
            && let Ok(mut providers) = self.providers.lock()
            && let Some(kept) = providers.get_mut(tenant.marketplace())
        {
            kept.associations.retain(|a| a.handle() != handle);
        }
        Ok(checked)
    }

    fn http(&self) -> Result<&dyn HttpClient, SsoFlowError> {
        self.http.as_deref().ok_or(SsoFlowError::NoHttpClient)
    }

    /// The tenant's provider: discovered once, kept until the tenant's identifier changes;
    /// when associations are on and `associate` is asked, with a current association (made
    /// now if there is none, unless the last attempt failed within [`ASSOCIATE_RETRY`]).
    async fn provider(
        &self,
        tenant: &Tenant,
        http: &dyn HttpClient,
        associate: bool,
    ) -> Result<Provider, SsoFlowError> {
        let identifier = openid_identifier(tenant);
        let now = self.clock.now();
        let kept = self.kept_provider(tenant, &identifier);
        let provider = match kept {
            Some(p) => p,
            None => {
                // The identifier comes from the tenant's own configuration (`sso.idp`).
                let (services, _) = discover(http, &identifier, false).await?;
                let endpoint = crate::openid::op_endpoint(&services).cloned().ok_or(
                    OpenIdError::Discovery {
                        expected: "a server or signon service",
                        found: "none".into(),
                    },
                )?;
                let found = Provider {
                    identifier: identifier.clone(),
                    endpoint,
                    associations: Vec::new(),
                    failed_at: None,
                };
                // Another login may have stored it meanwhile, with its associations.
                self.update_provider(tenant, &identifier, found, |_| {})
            }
        };
        let retry = provider
            .failed_at
            .is_none_or(|at| now - at >= ASSOCIATE_RETRY);
        if !(associate && self.openid_associations && provider.current(now).is_none() && retry) {
            return Ok(provider);
        }
        let made = self.associate(http, &provider.endpoint, now).await;
        Ok(
            self.update_provider(tenant, &identifier, provider, |p| match made {
                Some(association) => {
                    p.associations.retain(|a| a.expires_at() > now);
                    p.associations.push(Arc::new(association));
                    let extra = p.associations.len().saturating_sub(MAX_ASSOCIATIONS);
                    p.associations.drain(..extra);
                    p.failed_at = None;
                }
                None => p.failed_at = Some(now),
            }),
        )
    }

    /// The provider kept for `tenant`, if it is still the one `identifier` names.
    fn kept_provider(&self, tenant: &Tenant, identifier: &Url) -> Option<Provider> {
        self.providers
            .lock()
            .ok()
            .and_then(|p| p.get(tenant.marketplace()).cloned())
            .filter(|p| p.identifier == *identifier)
    }

    /// Applies `change` to the provider kept for `tenant` (or to `fallback` when none of that
    /// identifier is kept, as after another task replaced it) and returns the result: changes
    /// made by concurrent logins are merged, not overwritten.
    fn update_provider(
        &self,
        tenant: &Tenant,
        identifier: &Url,
        fallback: Provider,
        change: impl FnOnce(&mut Provider),
    ) -> Provider {
        let Ok(mut providers) = self.providers.lock() else {
            let mut p = fallback;
            change(&mut p);
            return p;
        };
        let entry = providers
            .entry(tenant.marketplace().clone())
            .or_insert_with(|| fallback.clone());
        if entry.identifier != *identifier {
            *entry = fallback;
        }
        change(entry);
        entry.clone()
    }

    /// An HMAC-SHA256 association, or HMAC-SHA1 when the provider offers only that; `None`
    /// (logins then verify by `check_authentication`) when it refuses both or fails.
    async fn associate(
        &self,
        http: &dyn HttpClient,
        endpoint: &Url,
        now: OffsetDateTime,
    ) -> Option<Association> {
        let mut kind = AssociationType::HmacSha256;
        for _ in 0..2 {
            let attempt = async {
                let request = AssociationRequest::new(endpoint, kind, self.random.as_ref())?;
                let answer = direct(http, request.http_request()?, true).await?;
                Ok::<_, SsoFlowError>(request.read_answer(&answer, now)?)
            };
            match attempt.await {
                Ok(association) => return Some(association),
                Err(SsoFlowError::OpenId(OpenIdError::AssociationRefused { suggested }))
                    if kind == AssociationType::HmacSha256
                        && suggested.as_deref() == Some("HMAC-SHA1") =>
                {
                    tracing::warn!("the OpenID provider offers only HMAC-SHA1 associations");
                    kind = AssociationType::HmacSha1;
                }
                Err(error) => {
                    tracing::warn!(%error, "no OpenID association: logins verify by check_authentication");
                    return None;
                }
            }
        }
        None
    }
}

/// Sends a direct request and reads its key-value answer (also inside the platform's HTML
/// page). Only `associate` reads a 400 (`error_ok`): it carries the provider's refusal and
/// the type it suggests (§8.2.4); a `check_authentication` answer counts only with a 200.
async fn direct(
    http: &dyn HttpClient,
    request: crate::ports::HttpRequest,
    error_ok: bool,
) -> Result<Fields, SsoFlowError> {
    let response = http
        .send(request)
        .await
        .map_err(|e| OpenIdError::Provider(e.to_string()))?;
    let status = response.status();
    if !(status == http::StatusCode::OK || (error_ok && status == http::StatusCode::BAD_REQUEST)) {
        return Err(OpenIdError::Provider(format!(
            "expected status 200, found {}",
            status.as_u16()
        ))
        .into());
    }
    Ok(Fields::from_key_value(response.body())?)
}

/// Discovery of `identifier`, following at most [`MAX_DISCOVERY_STEPS`] redirects and XRDS
/// locations (only on `identifier`'s own origin when `same_origin`): its services, and
/// whether an HTTP redirect was followed (the identifier then is another URL, §7.2; a
/// document's XRDS location leaves it as it is).
async fn discover(
    http: &dyn HttpClient,
    identifier: &Url,
    same_origin: bool,
) -> Result<(Vec<crate::openid::Service>, bool), SsoFlowError> {
    let mut url = identifier.clone();
    let mut redirected = false;
    for _ in 0..MAX_DISCOVERY_STEPS {
        let response = http
            .send(discovery_request(&url)?)
            .await
            .map_err(|e| OpenIdError::Provider(e.to_string()))?;
        match read_discovery(&url, &response)? {
            Discovered::Services(services) => return Ok((services, redirected)),
            Discovered::FetchNext(next) => {
                if same_origin && next.origin() != identifier.origin() {
                    return Err(OpenIdError::Discovery {
                        expected: "a redirect or XRDS location on the identifier's own origin",
                        found: crate::types::shown(next.as_str()),
                    }
                    .into());
                }
                redirected |= response.status().is_redirection();
                url = next;
            }
        }
    }
    Err(OpenIdError::Discovery {
        expected: "OpenID services after the redirects and XRDS locations allowed",
        found: format!("more than {MAX_DISCOVERY_STEPS} fetches"),
    }
    .into())
}

/// §11.2: the claimed identifier names that provider and the assertion's identity. Only a
/// claimed identifier on the provider's own origin is fetched (the platform's are
/// `{provider}/users/{uid}`: mno-api-sandbox cd52c0b, config/routes.rb), so that no tenant's
/// provider can make the app fetch another host, an internal one say.
async fn verify_claimed(
    http: &dyn HttpClient,
    checked: &CheckedOpenId,
    endpoint: &Url,
) -> Result<(), SsoFlowError> {
    let claimed = checked.claimed_id();
    let identity = checked
        .signed_field("identity")
        .ok_or(OpenIdError::MissingField { name: "identity" })?;
    let url = Url::parse(claimed)
        .ok()
        .filter(|u| u.origin() == endpoint.origin())
        .ok_or(OpenIdError::ClaimedIdMismatch {
            claimed_id: crate::types::shown(claimed),
        })?;
    let (services, redirected) = discover(http, &url, true).await?;
    if redirected {
        // The claimed identifier would be the URL redirected to, not the one asserted.
        return Err(OpenIdError::ClaimedIdMismatch {
            claimed_id: crate::types::shown(claimed),
        }
        .into());
    }
    verify_claimed_id(&services, claimed, identity, endpoint)?;
    Ok(())
}
