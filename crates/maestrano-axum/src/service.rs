//! [`Maestrano`]: every tenant's endpoints as one tower layer (or one axum router).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::{HeaderName, HeaderValue, Method, Request, StatusCode, header};
use maestrano::routes::{EndpointKind, MatchError};
use maestrano::saml::SsoLogin;
use maestrano::sso::{LoginHandler, SsoFlow, SsoFlowError};
use maestrano::webhook::{WebhookHandler, WebhookSink};
use maestrano::{Registry, Tenant, async_trait};
use tracing::Instrument as _;
use url::Url;

use crate::error::ErrorResponse;
use crate::login;
use crate::webhook::WebhookService;

/// The largest SSO form body read (the SDK's consume route refuses more as well).
const MAX_FORM_BYTES: usize = 512 * 1024;

/// Where the client address that bounds pending logins comes from
/// ([`SsoFlow::initiate`]'s `client`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ClientAddress {
    /// The peer address of the connection, from axum's `ConnectInfo<SocketAddr>`: serve with
    /// `into_make_service_with_connect_info::<SocketAddr>()`. Without it every client counts
    /// as one, and a warning says so.
    #[default]
    Peer,
    /// The last value of this header, as a reverse proxy that the app trusts appends it (such
    /// as `X-Forwarded-For`). Use it only behind such a proxy: a client sets the header itself
    /// otherwise.
    LastHeaderValue(HeaderName),
}

/// A login handler that also sees the consume request: its headers and its extensions, where
/// a session layer such as tower-sessions puts the request's session. Use it with
/// [`Maestrano::builder_with_request`] when the app's session lives in such a layer.
///
/// ```no_run
/// use axum::response::{IntoResponse, Redirect, Response};
/// use http::request::Parts;
/// use maestrano::async_trait;
/// use maestrano::saml::SsoLogin;
/// use maestrano_axum::LoginWithRequest;
///
/// /// The app's session, as its session layer keeps it in the request's extensions.
/// #[derive(Clone)]
/// struct AppSession(std::sync::Arc<std::sync::Mutex<Option<String>>>);
///
/// struct Login;
///
/// #[async_trait]
/// impl LoginWithRequest for Login {
///     type Output = Response;
///     async fn on_login(
///         &self,
///         login: &SsoLogin,
///         request: &Parts,
///     ) -> Result<Response, Box<dyn std::error::Error + Send + Sync>> {
///         let session = request.extensions.get::<AppSession>().ok_or("no session layer")?;
///         *session.0.lock().map_err(|_| "poisoned")? = Some(login.user.uid.to_string());
///         Ok(Redirect::to("/").into_response())
///     }
/// }
/// ```
#[async_trait]
pub trait LoginWithRequest: Send + Sync + 'static {
    /// What the consume route answers with.
    type Output: IntoResponse + Send;

    /// Called once per verified login, with the parts of the request that completed it.
    async fn on_login(
        &self,
        login: &SsoLogin,
        request: &Parts,
    ) -> Result<Self::Output, Box<dyn std::error::Error + Send + Sync>>;
}

/// The app's login handler, its output type erased.
#[async_trait]
trait SignIn: Send + Sync {
    async fn consume(
        &self,
        flow: &SsoFlow,
        tenant: &Tenant,
        answer: Answer<'_>,
        request_id: &str,
        request: &Parts,
    ) -> Result<Response, SsoFlowError>;
}

/// What a login's answer route received.
#[derive(Clone, Copy)]
enum Answer<'a> {
    /// The IdP's SAML form.
    Saml { form: &'a [u8] },
    /// The OpenID provider's message (a form body, or a GET's query), received at `received`.
    OpenId {
        received: &'a Url,
        message: &'a [u8],
    },
}

impl<'a> Answer<'a> {
    /// The fields the route received.
    fn message(self) -> &'a [u8] {
        match self {
            Self::Saml { form } => form,
            Self::OpenId { message, .. } => message,
        }
    }
}

/// The SDK's [`LoginHandler`], which needs nothing of the request.
struct IgnoringRequest<H>(H);

#[async_trait]
impl<H> LoginWithRequest for IgnoringRequest<H>
where
    H: LoginHandler + 'static,
    H::Output: IntoResponse,
{
    type Output = H::Output;

    async fn on_login(
        &self,
        login: &SsoLogin,
        _request: &Parts,
    ) -> Result<H::Output, Box<dyn std::error::Error + Send + Sync>> {
        self.0.on_login(login).await
    }
}

/// A [`LoginWithRequest`].
struct WithRequest<H>(H);

/// A [`LoginWithRequest`] as the SDK's [`LoginHandler`] for one request.
struct Bound<'a, H> {
    handler: &'a H,
    request: &'a Parts,
}

#[async_trait]
impl<H: LoginWithRequest> LoginHandler for Bound<'_, H> {
    type Output = H::Output;

    async fn on_login(
        &self,
        login: &SsoLogin,
    ) -> Result<H::Output, Box<dyn std::error::Error + Send + Sync>> {
        self.handler.on_login(login, self.request).await
    }
}

#[async_trait]
impl<H: LoginWithRequest> SignIn for WithRequest<H> {
    async fn consume(
        &self,
        flow: &SsoFlow,
        tenant: &Tenant,
        answer: Answer<'_>,
        request_id: &str,
        request: &Parts,
    ) -> Result<Response, SsoFlowError> {
        let bound = Bound {
            handler: &self.0,
            request,
        };
        let output = match answer {
            Answer::Saml { form } => {
                flow.consume(tenant, form, Some(request_id), &bound)
                    .await?
                    .output
            }
            Answer::OpenId { received, message } => {
                flow.openid_consume(tenant, received, message, Some(request_id), &bound)
                    .await?
                    .output
            }
        };
        Ok(output.into_response())
    }
}

struct Inner {
    registry: Registry,
    flow: SsoFlow,
    sign_in: Box<dyn SignIn>,
    webhooks: WebhookService,
    /// Whether the missing `ConnectInfo` was already said: once, not on every login.
    warned_no_peer: AtomicBool,
    client: ClientAddress,
    init_params: Vec<String>,
}

/// Every tenant's Maestrano endpoints, for axum: SSO init and consume, SP metadata, account
/// webhooks and Connec! notifications, at the prefixed routes
/// (`/mno-enterprise/:marketplace/saml/initialize`, …, and
/// `/mno-enterprise/:marketplace/saml/metadata`) and at the paths each tenant's configuration
/// names (those the developer platform sends), as the registry's current snapshot lays them
/// out. Cheap to clone.
///
/// Mount it as a layer in front of the app's own routes ([`layer`](Self::layer)): a request
/// that no Maestrano route matches goes on to the app, with this value in its extensions for
/// the [`CurrentTenant`](crate::CurrentTenant) extractor. Or use [`router`](Self::router) in an
/// app without a fallback of its own.
///
/// - **Logins** go through [`SsoFlow`]: the init route redirects to the tenant's IdP and sets
///   a login cookie (`mno_login`: `HttpOnly`, `SameSite=Lax`, `Secure` over HTTPS, scoped to
///   the tenant's consume path); the consume route validates the response against the very
///   request that cookie names and answers with what the app's [`LoginHandler`] returns (its
///   own session cookie and a redirect, say). The IdP's POST is cross-site and comes without
///   the cookie: it is resubmitted once from the app's origin (see the crate page).
/// - **OpenID 2.0 logins**, for tenants whose
///   [`SsoOptions::protocols`](maestrano::saml::SsoOptions::protocols) offer it, go the same
///   way through `{prefix}/:marketplace/openid/initialize` and `…/openid/return` to the same
///   handler; give the flow ([`MaestranoBuilder::sso_flow`]) an HTTP client for the provider
///   ([`SsoFlowBuilder::http_client`](maestrano::sso::SsoFlowBuilder::http_client)).
/// - **Webhooks** go through [`WebhookHandler`] to the app's [`WebhookSink`], with its
///   statuses.
/// - **Errors** answer as [`ErrorResponse`] does: the status, no detail.
///
/// Every request gets a `maestrano_http` span with the marketplace and the endpoint.
#[derive(Clone)]
pub struct Maestrano {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Maestrano {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Maestrano")
            .field("client", &self.inner.client)
            .field("init_params", &self.inner.init_params)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Maestrano`]; see [`Maestrano::builder`].
#[must_use]
pub struct MaestranoBuilder {
    registry: Registry,
    sign_in: Box<dyn SignIn>,
    sink: Arc<dyn WebhookSink>,
    flow: Option<SsoFlow>,
    client: ClientAddress,
    init_params: Vec<String>,
}

impl std::fmt::Debug for MaestranoBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MaestranoBuilder")
            .field("client", &self.client)
            .field("init_params", &self.init_params)
            .finish_non_exhaustive()
    }
}

impl MaestranoBuilder {
    /// The SSO flow, with the single-use store every instance of the app shares. Default:
    /// [`SsoFlow::builder`]'s one-instance defaults (an in-memory store, with a warning:
    /// behind a load balancer give every instance the same store).
    pub fn sso_flow(mut self, flow: SsoFlow) -> Self {
        self.flow = Some(flow);
        self
    }

    /// Where the client address comes from (default [`ClientAddress::Peer`]).
    pub fn client_address(mut self, client: ClientAddress) -> Self {
        self.client = client;
        self
    }

    /// A query parameter of the init route forwarded to the IdP (default: `group_id`, the
    /// company a user launching the app from the marketplace logs in for).
    pub fn forward_init_param(mut self, name: impl Into<String>) -> Self {
        self.init_params.push(name.into());
        self
    }

    /// The endpoints.
    pub fn build(self) -> Maestrano {
        let flow = self
            .flow
            .unwrap_or_else(|| SsoFlow::builder().registry(self.registry.clone()).build());
        Maestrano {
            inner: Arc::new(Inner {
                webhooks: WebhookService::new(WebhookHandler::new(
                    self.registry.clone(),
                    self.sink,
                )),
                warned_no_peer: AtomicBool::new(false),
                registry: self.registry,
                flow,
                sign_in: self.sign_in,
                client: self.client,
                init_params: self.init_params,
            }),
        }
    }
}

impl Maestrano {
    /// The endpoints of `registry`'s tenants: logins answered by `login` (its output is the
    /// answer to the browser), webhooks delivered to `sink`.
    ///
    /// ```no_run
    /// # async fn doc(registry: maestrano::Registry, login: impl maestrano::sso::LoginHandler<Output = axum::response::Redirect> + 'static, sink: std::sync::Arc<dyn maestrano::webhook::WebhookSink>) {
    /// let maestrano = maestrano_axum::Maestrano::builder(registry, login, sink).build();
    /// let app: axum::Router = axum::Router::new()
    ///     .route("/", axum::routing::get(|| async { "home" }))
    ///     .layer(maestrano.layer());
    /// # let _ = app;
    /// # }
    /// ```
    pub fn builder<H>(registry: Registry, login: H, sink: Arc<dyn WebhookSink>) -> MaestranoBuilder
    where
        H: LoginHandler + 'static,
        H::Output: IntoResponse,
    {
        Self::builder_with_request(registry, IgnoringRequest(login), sink)
    }

    /// As [`builder`](Self::builder), with a login handler that also sees the consume request
    /// (see [`LoginWithRequest`]), such as one that writes the app's tower-sessions session.
    pub fn builder_with_request(
        registry: Registry,
        login: impl LoginWithRequest,
        sink: Arc<dyn WebhookSink>,
    ) -> MaestranoBuilder {
        MaestranoBuilder {
            registry,
            sign_in: Box::new(WithRequest(login)),
            sink,
            flow: None,
            client: ClientAddress::default(),
            init_params: vec!["group_id".to_owned()],
        }
    }

    /// The registry the endpoints serve.
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// A tower layer that serves the Maestrano endpoints and passes every other request on.
    pub fn layer(&self) -> MaestranoLayer {
        MaestranoLayer {
            maestrano: self.clone(),
        }
    }

    /// An axum router that serves the Maestrano endpoints and answers 404 to everything else
    /// (its fallback: merge it only into a router without a fallback of its own, or use
    /// [`layer`](Self::layer)).
    pub fn router<S: Clone + Send + Sync + 'static>(&self) -> axum::Router<S> {
        axum::Router::new().fallback_service(self.layer().into_service(NotFound))
    }

    /// Serves `request` if a Maestrano route matches it; gives it back otherwise.
    ///
    /// # Errors
    ///
    /// The request itself when it is not Maestrano's, for the app to serve.
    pub async fn serve(&self, request: Request<Body>) -> Result<Response, Request<Body>> {
        let snapshot = self.inner.registry.snapshot();
        let router = snapshot.router();
        let uri = request.uri();
        match router.match_parts(request.method(), uri.path(), uri.query()) {
            Ok(endpoint) => {
                let span = tracing::info_span!(
                    "maestrano_http",
                    marketplace = %endpoint.marketplace,
                    endpoint = ?endpoint.kind.route_kind(),
                );
                let tenant = snapshot.get(&endpoint.marketplace);
                let prefix = router.prefix();
                Ok(async move {
                    match (endpoint.kind, tenant) {
                        (EndpointKind::SamlInitialize, Ok(tenant)) => {
                            self.initiate(&tenant, request).await
                        }
                        (EndpointKind::SamlConsume, Ok(tenant)) => {
                            self.consume(&tenant, request).await
                        }
                        (EndpointKind::OpenIdInitialize, Ok(tenant)) => {
                            self.openid_initiate(&tenant, prefix, request).await
                        }
                        (EndpointKind::OpenIdReturn, Ok(tenant)) => {
                            self.openid_return(&tenant, prefix, request).await
                        }
                        (
                            EndpointKind::SamlInitialize
                            | EndpointKind::SamlConsume
                            | EndpointKind::OpenIdInitialize
                            | EndpointKind::OpenIdReturn,
                            Err(e),
                        ) => ErrorResponse::from(e).into_response(),
                        _ => self.webhook(request).await,
                    }
                }
                .instrument(span)
                .await)
            }
            Err(MatchError::NotFound) => match metadata_tenant(router.prefix(), uri.path()) {
                Some(key)
                    if request.method() == Method::GET || request.method() == Method::HEAD =>
                {
                    let span = tracing::info_span!(
                        "maestrano_http",
                        marketplace = %key,
                        endpoint = "SamlMetadata",
                    );
                    let _entered = span.enter();
                    Ok(
                        match maestrano::MarketplaceKey::new(key)
                            .map_err(ErrorResponse::from)
                            .and_then(|k| snapshot.get(&k).map_err(ErrorResponse::from))
                        {
                            Ok(tenant) => login::metadata(&tenant),
                            Err(_) => ErrorResponse::from(MatchError::NotFound).into_response(),
                        },
                    )
                }
                _ => Err(request),
            },
            // A webhook route with a wrong method, an unknown marketplace or a malformed id:
            // the webhook handler answers every such refusal alike (401), so that a scanner
            // cannot list the marketplaces the app serves.
            Err(_) => Ok(self.webhook(request).await),
        }
    }

    async fn initiate(&self, tenant: &Tenant, request: Request<Body>) -> Response {
        let query = request.uri().query().unwrap_or("");
        let extra: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
            .filter(|(k, _)| self.inner.init_params.iter().any(|p| p == k))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let extra: Vec<(&str, &str)> = extra
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let client = self.client_of(&request);
        let started = self
            .inner
            .flow
            .initiate(tenant, &client, None, &extra)
            .await;
        redirect_with_cookie(tenant, tenant.acs_url(), started)
    }

    /// The OpenID init route: the `checkid_setup` redirect, and the login cookie scoped to
    /// the return route.
    async fn openid_initiate(
        &self,
        tenant: &Tenant,
        prefix: &str,
        request: Request<Body>,
    ) -> Response {
        let return_to = maestrano::sso::openid_return_to(tenant, prefix);
        let client = self.client_of(&request);
        let started = self
            .inner
            .flow
            .openid_initiate(tenant, &client, &return_to, None)
            .await;
        redirect_with_cookie(tenant, &return_to, started)
    }

    /// The OpenID return route: the provider's form POST (resubmitted once from the app's
    /// origin when it came without the login cookie, as the SAML consume route does) or its
    /// redirect (a top-level GET, which carries a `Lax` cookie).
    async fn openid_return(
        &self,
        tenant: &Tenant,
        prefix: &str,
        request: Request<Body>,
    ) -> Response {
        let return_to = maestrano::sso::openid_return_to(tenant, prefix);
        let (parts, body) = request.into_parts();
        let path_and_query = parts
            .uri
            .path_and_query()
            .map_or(parts.uri.path(), |p| p.as_str());
        // The URL that received the assertion, as the provider was told to reach it: the
        // return route's origin, this request's path and query (§11.1 compares them).
        let Ok(received) = Url::parse(&format!(
            "{}{path_and_query}",
            return_to.origin().ascii_serialization()
        )) else {
            return ErrorResponse::from(MatchError::NotFound).into_response();
        };
        let message = if parts.method == Method::POST {
            match read_form(body).await {
                Ok(form) => form.to_vec(),
                Err(refused) => return *refused,
            }
        } else {
            parts.uri.query().unwrap_or("").as_bytes().to_vec()
        };
        let answer = Answer::OpenId {
            received: &received,
            message: &message,
        };
        self.answer(tenant, &parts, answer, &return_to).await
    }

    async fn consume(&self, tenant: &Tenant, request: Request<Body>) -> Response {
        let (parts, body) = request.into_parts();
        let form = match read_form(body).await {
            Ok(form) => form,
            Err(refused) => return *refused,
        };
        let answer = Answer::Saml { form: &form };
        self.answer(tenant, &parts, answer, tenant.acs_url()).await
    }

    /// An answer route, SAML or OpenID. With the login cookie: the flow's verdict on the
    /// very request the cookie names, the cookie (scoped to `cookie_url`) cleared either way.
    /// Without it: a POST is resubmitted once from the app's origin, with only the
    /// provider's fields; a GET, or a POST already resubmitted, is refused (no login was
    /// started in this browser).
    async fn answer(
        &self,
        tenant: &Tenant,
        parts: &Parts,
        answer: Answer<'_>,
        cookie_url: &Url,
    ) -> Response {
        let message = answer.message();
        let Some(request_id) = login::cookie(&parts.headers, login::LOGIN_COOKIE) else {
            if parts.method != Method::POST || login::was_resubmitted(message) {
                tracing::warn!("no login was started in this browser for this answer");
                return ErrorResponse::no_login_in_this_browser().into_response();
            }
            let carried = match answer {
                Answer::Saml { .. } => login::Carried::Saml,
                Answer::OpenId { .. } => {
                    // Read as the flow will (bounded, each field once) before it is
                    // reflected in a page; with the cookie, the flow reads it itself.
                    if let Err(e) = maestrano::openid::Fields::from_form(message) {
                        return ErrorResponse::from(SsoFlowError::OpenId(e)).into_response();
                    }
                    login::Carried::OpenId
                }
            };
            let action = parts
                .uri
                .path_and_query()
                .map_or(parts.uri.path(), |p| p.as_str());
            return login::resubmit_page(action, message, carried)
                .unwrap_or_else(|e| ErrorResponse::from(e).into_response());
        };
        let mut response = match self
            .inner
            .sign_in
            .consume(&self.inner.flow, tenant, answer, request_id, parts)
            .await
        {
            Ok(response) => response,
            Err(e) => ErrorResponse::from(e).into_response(),
        };
        // Answered (or refused) either way: the cookie has done its work.
        if let Some(clear) = login::clear_login_cookie(cookie_url) {
            response.headers_mut().append(header::SET_COOKIE, clear);
        }
        response
    }

    async fn webhook(&self, request: Request<Body>) -> Response {
        self.inner.webhooks.respond(request).await
    }

    fn client_of(&self, request: &Request<Body>) -> String {
        match &self.inner.client {
            ClientAddress::Peer => match request.extensions().get::<ConnectInfo<SocketAddr>>() {
                Some(ConnectInfo(peer)) => peer.ip().to_string(),
                None => {
                    if !self.inner.warned_no_peer.swap(true, Ordering::Relaxed) {
                        tracing::warn!(
                            "no ConnectInfo<SocketAddr>: every client shares one pending-login \
                         bound (serve with into_make_service_with_connect_info, or set \
                         ClientAddress::LastHeaderValue behind a proxy)"
                        );
                    }
                    String::new()
                }
            },
            ClientAddress::LastHeaderValue(name) => request
                .headers()
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .next_back()
                .map(|v| v.trim().to_owned())
                .unwrap_or_default(),
        }
    }
}

/// A login form body of at most [`MAX_FORM_BYTES`], or the answer refusing it.
async fn read_form(body: Body) -> Result<axum::body::Bytes, Box<Response>> {
    axum::body::to_bytes(body, MAX_FORM_BYTES)
        .await
        .map_err(|_| {
            Box::new(
                ErrorResponse::from(SsoFlowError::Form(format!(
                    "expected a form body of at most {MAX_FORM_BYTES} bytes, found more"
                )))
                .into_response(),
            )
        })
}

/// The redirect of a login `started` for `tenant`, with the login cookie scoped to `answer`
/// (the URL its answer comes back to), or the refusal.
fn redirect_with_cookie(
    tenant: &Tenant,
    answer: &Url,
    started: Result<maestrano::saml::LoginRedirect, SsoFlowError>,
) -> Response {
    match started {
        Ok(redirect) => {
            let mut response = StatusCode::FOUND.into_response();
            let headers = response.headers_mut();
            if let Ok(location) = HeaderValue::from_str(redirect.url.as_str()) {
                headers.insert(header::LOCATION, location);
            }
            if let Some(cookie) = login::login_cookie(tenant, answer, &redirect.request_id) {
                headers.insert(header::SET_COOKIE, cookie);
            }
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(e) => ErrorResponse::from(e).into_response(),
    }
}

/// The marketplace key of `{prefix}/{key}/saml/metadata`, if `path` is that.
fn metadata_tenant<'a>(prefix: &str, path: &'a str) -> Option<&'a str> {
    let rest = path.strip_prefix(prefix)?.strip_prefix('/')?;
    let key = rest.strip_suffix("/saml/metadata")?;
    (!key.is_empty() && !key.contains('/')).then_some(key)
}

/// The tower layer of [`Maestrano::layer`].
#[derive(Debug, Clone)]
pub struct MaestranoLayer {
    maestrano: Maestrano,
}

impl MaestranoLayer {
    fn into_service<S>(self, inner: S) -> MaestranoService<S> {
        MaestranoService {
            maestrano: self.maestrano,
            inner,
        }
    }
}

impl<S> tower_layer::Layer<S> for MaestranoLayer {
    type Service = MaestranoService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        self.clone().into_service(inner)
    }
}

/// The service of [`MaestranoLayer`]: the Maestrano endpoints in front of `S`.
#[derive(Debug, Clone)]
pub struct MaestranoService<S> {
    maestrano: Maestrano,
    inner: S,
}

impl<S> tower_service::Service<Request<Body>> for MaestranoService<S>
where
    S: tower_service::Service<Request<Body>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<Body>) -> Self::Future {
        let maestrano = self.maestrano.clone();
        // The service that was polled ready serves this request; a fresh clone waits for the
        // next one.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        request.extensions_mut().insert(maestrano.clone());
        Box::pin(async move {
            match maestrano.serve(request).await {
                Ok(response) => Ok(response),
                Err(request) => inner.call(request).await,
            }
        })
    }
}

/// The rest of [`Maestrano::router`]: 404.
#[derive(Debug, Clone, Copy)]
struct NotFound;

impl tower_service::Service<Request<Body>> for NotFound {
    type Response = Response;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<Body>) -> Self::Future {
        std::future::ready(Ok(StatusCode::NOT_FOUND.into_response()))
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::sync::Arc;

    use axum::body::Body;
    use axum::extract::ConnectInfo;
    use http::{HeaderName, Request};
    use maestrano::config::StaticSource;
    use maestrano::ports::SystemClock;
    use maestrano::saml::SsoLogin;
    use maestrano::webhook::{WebhookEvent, WebhookSink};
    use maestrano::{Registry, async_trait};

    use super::{ClientAddress, Maestrano, metadata_tenant};

    type BoxError = Box<dyn std::error::Error + Send + Sync>;

    struct Nobody;

    #[async_trait]
    impl maestrano::sso::LoginHandler for Nobody {
        type Output = &'static str;
        async fn on_login(&self, _: &SsoLogin) -> Result<&'static str, BoxError> {
            Ok("")
        }
    }

    #[async_trait]
    impl WebhookSink for Nobody {
        async fn on_event(&self, _: WebhookEvent) -> Result<(), BoxError> {
            Ok(())
        }
    }

    async fn with_client(client: ClientAddress) -> Maestrano {
        let source = StaticSource::from_json(
            r#"{"marketplaces": [{"marketplace": "acme-corp",
            "app": {"host": "https://app.example.com"},
            "api": {"id": "app-1", "key": "k", "host": "https://hub.example.com"},
            "sso": {"idp": "https://hub.example.com",
            "x509_fingerprint": "01:06:15:89:25:7d:78:12:28:a6:69:c7:de:63:ed:74:21:f9:f5:36"}}]}"#,
        )
        .unwrap();
        let registry = Registry::builder(Arc::new(source), Arc::new(SystemClock))
            .build()
            .await
            .unwrap();
        Maestrano::builder(registry, Nobody, Arc::new(Nobody))
            .client_address(client)
            .build()
    }

    #[tokio::test]
    async fn the_client_is_the_peer_or_the_last_value_the_trusted_proxy_appended() {
        let peer = with_client(ClientAddress::Peer).await;
        let mut request = Request::new(Body::empty());
        let addr: SocketAddr = "203.0.113.7:4321".parse().unwrap();
        request.extensions_mut().insert(ConnectInfo(addr));
        request
            .headers_mut()
            .insert("x-forwarded-for", "198.51.100.1".parse().unwrap());
        assert_eq!(peer.client_of(&request), "203.0.113.7");
        assert_eq!(peer.client_of(&Request::new(Body::empty())), "");

        let proxied = with_client(ClientAddress::LastHeaderValue(HeaderName::from_static(
            "x-forwarded-for",
        )))
        .await;
        let mut request = Request::new(Body::empty());
        let headers = request.headers_mut();
        // The client's own claim first, the proxy's appended value last.
        headers.append("x-forwarded-for", "10.0.0.1, 198.51.100.1".parse().unwrap());
        headers.append("x-forwarded-for", "192.0.2.9".parse().unwrap());
        assert_eq!(proxied.client_of(&request), "192.0.2.9");
    }

    #[test]
    fn the_metadata_route_names_one_segment() {
        assert_eq!(
            metadata_tenant("/mno-enterprise", "/mno-enterprise/acme/saml/metadata"),
            Some("acme")
        );
        assert_eq!(metadata_tenant("", "/acme/saml/metadata"), Some("acme"));
        assert_eq!(
            metadata_tenant("/mno-enterprise", "/mno-enterprise/a/b/saml/metadata"),
            None
        );
        assert_eq!(
            metadata_tenant("/mno-enterprise", "/mno-enterprise//saml/metadata"),
            None
        );
        assert_eq!(
            metadata_tenant("/mno-enterprise", "/other/acme/saml/metadata"),
            None
        );
    }
}
