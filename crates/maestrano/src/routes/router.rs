//! The route table and the request matcher.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use http::{Method, StatusCode};

use super::template::{PathTemplate, Segment, decode_segment, split_path};
use crate::types::{GroupUid, IdError, MarketplaceKey, UserUid};

/// How the router is laid out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterOptions {
    prefix: String,
    tenant_paths: bool,
}

impl Default for RouterOptions {
    fn default() -> Self {
        Self {
            prefix: Self::DEFAULT_PREFIX.to_owned(),
            tenant_paths: true,
        }
    }
}

impl RouterOptions {
    /// The prefix of the tenant-parameterised routes by default.
    pub const DEFAULT_PREFIX: &'static str = "/mno-enterprise";

    /// The default layout: prefix `/mno-enterprise`, tenant paths served.
    pub fn new() -> Self {
        Self::default()
    }

    /// Another prefix, such as `/sso` (or `/` for none). Checked when the router is built.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Whether the per-tenant paths from the configuration are served (default) or only the
    /// prefixed routes.
    pub fn with_tenant_paths(mut self, serve: bool) -> Self {
        self.tenant_paths = serve;
        self
    }

    /// The prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }
}

/// The kind of an endpoint, without its identifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RouteKind {
    /// `GET`: start SSO (send the user to the IdP with an AuthnRequest).
    SamlInitialize,
    /// `POST`: the assertion consumer service.
    SamlConsume,
    /// `DELETE`: a group (customer company) left the application.
    GroupDestroyed,
    /// `DELETE`: a user left a group.
    GroupUserRemoved,
    /// `POST`: Connec! notifications.
    ConnecNotification,
    /// `GET`: start an OpenID 2.0 login (send the user to the provider with `checkid_setup`).
    /// A prefixed route only: the developer platform configures no OpenID path.
    OpenIdInitialize,
    /// `POST`, and `GET` as well: the provider's positive assertion (an auto-submitted form
    /// from the platform, a redirect from providers whose answer is short). A prefixed route
    /// only.
    OpenIdReturn,
}

impl RouteKind {
    /// The method the endpoint answers.
    pub fn method(self) -> Method {
        match self {
            Self::SamlInitialize | Self::OpenIdInitialize => Method::GET,
            Self::SamlConsume | Self::ConnecNotification | Self::OpenIdReturn => Method::POST,
            Self::GroupDestroyed | Self::GroupUserRemoved => Method::DELETE,
        }
    }

    /// The configuration field of the tenant path for this kind.
    pub fn config_field(self) -> &'static str {
        match self {
            Self::SamlInitialize => "sso.init_path",
            Self::SamlConsume => "sso.consume_path",
            Self::GroupDestroyed => "webhooks.account.group_path",
            Self::GroupUserRemoved => "webhooks.account.group_user_path",
            Self::ConnecNotification => "webhooks.connec.notification_path",
            Self::OpenIdInitialize | Self::OpenIdReturn => "none (a prefixed route only)",
        }
    }
}

/// What a request addresses, with its identifiers checked.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EndpointKind {
    /// Start SSO.
    SamlInitialize,
    /// Consume a SAML response.
    SamlConsume,
    /// A group left the application.
    GroupDestroyed {
        /// The group.
        group: GroupUid,
    },
    /// A user left a group.
    GroupUserRemoved {
        /// The group.
        group: GroupUid,
        /// The user.
        user: UserUid,
    },
    /// A Connec! notification.
    ConnecNotification,
    /// Start an OpenID login.
    OpenIdInitialize,
    /// The provider's answer to an OpenID login.
    OpenIdReturn,
}

impl EndpointKind {
    /// The kind without identifiers.
    pub fn route_kind(&self) -> RouteKind {
        match self {
            Self::SamlInitialize => RouteKind::SamlInitialize,
            Self::SamlConsume => RouteKind::SamlConsume,
            Self::GroupDestroyed { .. } => RouteKind::GroupDestroyed,
            Self::GroupUserRemoved { .. } => RouteKind::GroupUserRemoved,
            Self::ConnecNotification => RouteKind::ConnecNotification,
            Self::OpenIdInitialize => RouteKind::OpenIdInitialize,
            Self::OpenIdReturn => RouteKind::OpenIdReturn,
        }
    }
}

/// Which family of routes matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RouteOrigin {
    /// A prefixed route with the tenant in the path.
    Prefixed,
    /// A path from the tenant's configuration.
    TenantPath,
}

/// A matched request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Endpoint {
    /// The tenant.
    pub marketplace: MarketplaceKey,
    /// What is addressed.
    pub kind: EndpointKind,
    /// Which family of routes matched.
    pub origin: RouteOrigin,
}

/// Why a request matched no endpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MatchError {
    /// No route has this path (and query): not a Maestrano request.
    #[error("no Maestrano route matches this path")]
    NotFound,
    /// A route has this path, but not this method.
    #[error("method not allowed: expected {}", method_list(.allowed))]
    MethodNotAllowed {
        /// The methods the path answers, for the `Allow` header of a 405.
        allowed: Vec<Method>,
    },
    /// The path names a marketplace that is not configured.
    #[error("unknown marketplace {marketplace}")]
    UnknownTenant {
        /// The key from the path.
        marketplace: MarketplaceKey,
    },
    /// An identifier in the path is malformed.
    #[error("malformed :{param} in the path")]
    MalformedId {
        /// The template parameter (`marketplace`, `id`, `group_id`).
        param: &'static str,
        /// Why it was refused.
        #[source]
        source: IdError,
    },
}

fn method_list(methods: &[Method]) -> String {
    methods
        .iter()
        .map(Method::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

impl MatchError {
    /// The status to answer with: 404, 405, 404 and 400.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NotFound | Self::UnknownTenant { .. } => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::MalformedId { .. } => StatusCode::BAD_REQUEST,
        }
    }
}

/// A router could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RouteError {
    /// The prefix is not a plain absolute path.
    #[error("route prefix: expected {expected}, found {found:?}")]
    InvalidPrefix {
        /// What a valid prefix looks like.
        expected: &'static str,
        /// The prefix given.
        found: String,
    },
    /// A tenant path has a parameter the SDK does not know for its kind.
    #[error("marketplace {marketplace}: {field} {template:?}: unsupported parameter :{param}")]
    UnsupportedParameter {
        /// The tenant.
        marketplace: MarketplaceKey,
        /// The configuration field.
        field: &'static str,
        /// The template.
        template: String,
        /// The parameter.
        param: String,
    },
    /// Two routes could match the same request.
    #[error("routes conflict: {first} and {second} can match the same request")]
    Conflict {
        /// One route.
        first: String,
        /// The other.
        second: String,
    },
}

/// A route, for listings.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RouteInfo {
    /// The method.
    pub method: Method,
    /// The path template, with the query if any.
    pub path: String,
    /// What it serves.
    pub kind: RouteKind,
    /// The tenant of a tenant path; `None` for a prefixed route serving every tenant.
    pub marketplace: Option<MarketplaceKey>,
    /// The family.
    pub origin: RouteOrigin,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Lit(String),
    Marketplace,
    Group(&'static str),
    User(&'static str),
}

#[derive(Debug, Clone)]
struct Route {
    method: Method,
    kind: RouteKind,
    origin: RouteOrigin,
    marketplace: Option<MarketplaceKey>,
    segments: Vec<Seg>,
    query: Vec<(String, String)>,
    path: String,
}

impl Route {
    fn describe(&self) -> String {
        match &self.marketplace {
            Some(m) => format!(
                "{} {} (marketplace {m}, {})",
                self.method,
                self.path,
                self.kind.config_field()
            ),
            None => format!("{} {} (prefixed route)", self.method, self.path),
        }
    }

    fn info(&self) -> RouteInfo {
        RouteInfo {
            method: self.method.clone(),
            path: self.path.clone(),
            kind: self.kind,
            marketplace: self.marketplace.clone(),
            origin: self.origin,
        }
    }

    fn path_matches(&self, decoded: &[Cow<'_, str>]) -> bool {
        self.segments.iter().zip(decoded).all(|(s, d)| match s {
            Seg::Lit(l) => l == d,
            Seg::Marketplace | Seg::Group(_) | Seg::User(_) => true,
        })
    }

    fn overlaps(&self, other: &Route) -> bool {
        self.method == other.method
            && self.segments.len() == other.segments.len()
            && self
                .segments
                .iter()
                .zip(&other.segments)
                .all(|(a, b)| match (a, b) {
                    (Seg::Lit(x), Seg::Lit(y)) => x == y,
                    _ => true,
                })
            // Two required values for one key can never both hold.
            && !self
                .query
                .iter()
                .any(|(k, v)| other.query.iter().any(|(k2, v2)| k == k2 && v != v2))
    }

    /// Whether the prefixed route `prefixed` already answers every request this tenant route
    /// of `marketplace` matches with the same endpoint: the same kind, and the same segments
    /// with the tenant's own key in the `:marketplace` place (a tenant that points its
    /// configured paths at the SDK's prefixed routes, as the developer platform may).
    fn is_served_by(&self, prefixed: &Route, marketplace: &MarketplaceKey) -> bool {
        prefixed.origin == RouteOrigin::Prefixed
            && prefixed.kind == self.kind
            && prefixed.method == self.method
            && prefixed.segments.len() == self.segments.len()
            && prefixed
                .segments
                .iter()
                .zip(&self.segments)
                .all(|(p, t)| match (p, t) {
                    (Seg::Marketplace, Seg::Lit(l)) => l == marketplace.as_str(),
                    (Seg::Lit(a), Seg::Lit(b)) => a == b,
                    (Seg::Group(_), Seg::Group(_)) | (Seg::User(_), Seg::User(_)) => true,
                    _ => false,
                })
    }

    fn endpoint(
        &self,
        decoded: &[Cow<'_, str>],
        tenants: &HashSet<MarketplaceKey>,
    ) -> Result<Endpoint, MatchError> {
        let mut marketplace = self.marketplace.clone();
        let mut group = None;
        let mut user = None;
        for (seg, value) in self.segments.iter().zip(decoded) {
            match seg {
                Seg::Lit(_) => {}
                Seg::Marketplace => {
                    let key = MarketplaceKey::new(value.as_ref()).map_err(|source| {
                        MatchError::MalformedId {
                            param: "marketplace",
                            source,
                        }
                    })?;
                    if !tenants.contains(&key) {
                        return Err(MatchError::UnknownTenant { marketplace: key });
                    }
                    marketplace = Some(key);
                }
                Seg::Group(param) => {
                    group = Some(
                        GroupUid::new(value.as_ref())
                            .map_err(|source| MatchError::MalformedId { param, source })?,
                    );
                }
                Seg::User(param) => {
                    user = Some(
                        UserUid::new(value.as_ref())
                            .map_err(|source| MatchError::MalformedId { param, source })?,
                    );
                }
            }
        }
        // Every route is built with the segments its kind needs; NotFound covers the
        // impossible rest without a panic.
        let marketplace = marketplace.ok_or(MatchError::NotFound)?;
        let kind = match (self.kind, group, user) {
            (RouteKind::SamlInitialize, _, _) => EndpointKind::SamlInitialize,
            (RouteKind::SamlConsume, _, _) => EndpointKind::SamlConsume,
            (RouteKind::ConnecNotification, _, _) => EndpointKind::ConnecNotification,
            (RouteKind::OpenIdInitialize, _, _) => EndpointKind::OpenIdInitialize,
            (RouteKind::OpenIdReturn, _, _) => EndpointKind::OpenIdReturn,
            (RouteKind::GroupDestroyed, Some(group), _) => EndpointKind::GroupDestroyed { group },
            (RouteKind::GroupUserRemoved, Some(group), Some(user)) => {
                EndpointKind::GroupUserRemoved { group, user }
            }
            _ => return Err(MatchError::NotFound),
        };
        Ok(Endpoint {
            marketplace,
            kind,
            origin: self.origin,
        })
    }
}

/// Whether every required pair is in `query`, each occurrence of a required key carrying the
/// required value (so that frameworks taking the first or the last occurrence agree).
fn query_matches(required: &[(String, String)], query: Option<&str>) -> bool {
    let query = query.unwrap_or("");
    required.iter().all(|(k, v)| {
        let mut seen = false;
        for (qk, qv) in url::form_urlencoded::parse(query.as_bytes()) {
            if qk == k.as_str() {
                if qv != v.as_str() {
                    return false;
                }
                seen = true;
            }
        }
        seen
    })
}

/// The paths one tenant serves, as its configuration sets them
/// ([`MarketplaceConfig::routes`](crate::config::MarketplaceConfig::routes)).
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct TenantRoutes<'a> {
    /// The tenant.
    pub marketplace: &'a MarketplaceKey,
    /// `sso.init_path` (`GET`).
    pub sso_init: &'a PathTemplate,
    /// `sso.consume_path` (`POST`).
    pub sso_consume: &'a PathTemplate,
    /// `webhooks.account.group_path` (`DELETE`).
    pub group: &'a PathTemplate,
    /// `webhooks.account.group_user_path` (`DELETE`).
    pub group_user: &'a PathTemplate,
    /// `webhooks.connec.notification_path` (`POST`).
    pub connec_notification: &'a PathTemplate,
}

/// Matches requests to endpoints, for one set of tenants. Each registry snapshot holds the
/// router of its tenants ([`Registry::router`](crate::config::registry::Registry::router)).
#[derive(Debug, Clone)]
pub struct Router {
    prefix: String,
    routes: Vec<Route>,
    by_len: HashMap<usize, Vec<usize>>,
    tenants: HashSet<MarketplaceKey>,
    max_segments: usize,
}

/// Builds a [`Router`] one tenant at a time: a tenant whose routes are invalid or can match a
/// request that a route already added matches is refused alone, and nothing of it is added.
/// The registry builds its snapshot's router this way, so one bad tenant never takes the
/// others' routes down.
#[derive(Debug)]
pub(crate) struct RouterBuilder {
    prefix: String,
    routes: Vec<Route>,
    by_len: HashMap<usize, Vec<usize>>,
    tenants: HashSet<MarketplaceKey>,
    tenant_paths: bool,
}

impl RouterBuilder {
    /// The prefixed routes of `options`, with no tenant yet.
    pub(crate) fn new(options: &RouterOptions) -> Result<Self, RouteError> {
        let prefix = prefix_segments(&options.prefix)?;
        let prefix_text: String = prefix.iter().map(|s| format!("/{s}")).collect();
        let mut routes = Vec::new();
        let lit = |s: &str| Seg::Lit(s.to_owned());
        let prefixed: [(RouteKind, Vec<Seg>, &str); 7] = [
            (
                RouteKind::SamlInitialize,
                vec![lit("saml"), lit("initialize")],
                "saml/initialize",
            ),
            (
                RouteKind::SamlConsume,
                vec![lit("saml"), lit("consume")],
                "saml/consume",
            ),
            (
                RouteKind::GroupDestroyed,
                vec![lit("account"), lit("group"), Seg::Group("id")],
                "account/group/:id",
            ),
            (
                RouteKind::GroupUserRemoved,
                vec![
                    lit("account"),
                    lit("group"),
                    Seg::Group("group_id"),
                    lit("user"),
                    Seg::User("id"),
                ],
                "account/group/:group_id/user/:id",
            ),
            (
                RouteKind::ConnecNotification,
                vec![lit("connec"), lit("receive")],
                "connec/receive",
            ),
            (
                RouteKind::OpenIdInitialize,
                vec![lit("openid"), lit("initialize")],
                "openid/initialize",
            ),
            (
                RouteKind::OpenIdReturn,
                vec![lit("openid"), lit("return")],
                "openid/return",
            ),
        ];
        for (kind, tail, text) in prefixed {
            let mut segments: Vec<Seg> = prefix.iter().map(|s| Seg::Lit(s.clone())).collect();
            segments.push(Seg::Marketplace);
            segments.extend(tail);
            let route = Route {
                method: kind.method(),
                kind,
                origin: RouteOrigin::Prefixed,
                marketplace: None,
                segments,
                query: Vec::new(),
                path: format!("{prefix_text}/:marketplace/{text}"),
            };
            if kind == RouteKind::OpenIdReturn {
                // The provider redirects short answers (a GET) and posts long ones.
                routes.push(Route {
                    method: Method::GET,
                    ..route.clone()
                });
            }
            routes.push(route);
        }
        let mut by_len: HashMap<usize, Vec<usize>> = HashMap::new();
        for (i, r) in routes.iter().enumerate() {
            by_len.entry(r.segments.len()).or_default().push(i);
        }
        Ok(Self {
            prefix: prefix_text,
            routes,
            by_len,
            tenants: HashSet::new(),
            tenant_paths: options.tenant_paths,
        })
    }

    /// Adds `tenant`, or refuses it (adding nothing) when one of its paths is invalid or
    /// conflicts with a route already added or with another of its own.
    pub(crate) fn add(&mut self, tenant: TenantRoutes<'_>) -> Result<(), RouteError> {
        let mut new = Vec::new();
        if self.tenant_paths {
            for (kind, template) in [
                (RouteKind::SamlInitialize, tenant.sso_init),
                (RouteKind::SamlConsume, tenant.sso_consume),
                (RouteKind::GroupDestroyed, tenant.group),
                (RouteKind::GroupUserRemoved, tenant.group_user),
                (RouteKind::ConnecNotification, tenant.connec_notification),
            ] {
                new.push(tenant_route(tenant.marketplace, kind, template)?);
            }
        }
        let mut kept: Vec<Route> = Vec::new();
        for route in new {
            let existing = self
                .by_len
                .get(&route.segments.len())
                .into_iter()
                .flatten()
                .map(|&i| &self.routes[i]);
            let mut redundant = false;
            for other in existing.chain(&kept).filter(|o| o.overlaps(&route)) {
                if route.is_served_by(other, tenant.marketplace) {
                    redundant = true;
                } else {
                    return Err(RouteError::Conflict {
                        first: other.describe(),
                        second: route.describe(),
                    });
                }
            }
            // The tenant's own prefixed route already serves it, with the same endpoint.
            if !redundant {
                kept.push(route);
            }
        }
        self.tenants.insert(tenant.marketplace.clone());
        for route in kept {
            self.by_len
                .entry(route.segments.len())
                .or_default()
                .push(self.routes.len());
            self.routes.push(route);
        }
        Ok(())
    }

    /// The router of the tenants added.
    pub(crate) fn build(self) -> Router {
        let max_segments = self
            .routes
            .iter()
            .map(|r| r.segments.len())
            .max()
            .unwrap_or(0);
        Router {
            prefix: self.prefix,
            routes: self.routes,
            by_len: self.by_len,
            tenants: self.tenants,
            max_segments,
        }
    }
}

impl Router {
    /// A router for `tenants`, laid out by `options`.
    pub fn new<'a>(
        options: &RouterOptions,
        tenants: impl IntoIterator<Item = TenantRoutes<'a>>,
    ) -> Result<Self, RouteError> {
        let mut builder = RouterBuilder::new(options)?;
        for tenant in tenants {
            builder.add(tenant)?;
        }
        Ok(builder.build())
    }

    /// The endpoint `request` addresses.
    pub fn match_request<B>(&self, request: &http::Request<B>) -> Result<Endpoint, MatchError> {
        self.match_parts(
            request.method(),
            request.uri().path(),
            request.uri().query(),
        )
    }

    /// The endpoint addressed by `method`, the raw (still percent-encoded) `path` and the raw
    /// `query`. Never panics, whatever the input.
    pub fn match_parts(
        &self,
        method: &Method,
        path: &str,
        query: Option<&str>,
    ) -> Result<Endpoint, MatchError> {
        if !path.starts_with('/') {
            return Err(MatchError::NotFound);
        }
        let raw: Vec<&str> = split_path(path).take(self.max_segments + 1).collect();
        let Some(candidates) = self.by_len.get(&raw.len()) else {
            return Err(MatchError::NotFound);
        };
        let decoded: Vec<Cow<'_, str>> = raw.iter().map(|s| decode_segment(s)).collect();
        let mut allowed: Vec<Method> = Vec::new();
        for &i in candidates {
            let route = &self.routes[i];
            if !route.path_matches(&decoded)
                || (!route.query.is_empty() && !query_matches(&route.query, query))
            {
                continue;
            }
            if route.method == *method {
                return route.endpoint(&decoded, &self.tenants);
            }
            if !allowed.contains(&route.method) {
                allowed.push(route.method.clone());
            }
        }
        if allowed.is_empty() {
            Err(MatchError::NotFound)
        } else {
            allowed.sort_by(|a, b| a.as_str().cmp(b.as_str()));
            Err(MatchError::MethodNotAllowed { allowed })
        }
    }

    /// Every route: the prefixed ones first, then each tenant's paths.
    pub fn routes(&self) -> impl Iterator<Item = RouteInfo> + '_ {
        self.routes.iter().map(Route::info)
    }

    /// The routes that reach one tenant: the prefixed routes with its key filled in, then its
    /// own paths. Empty for an unknown tenant.
    pub fn routes_for(&self, marketplace: &MarketplaceKey) -> Vec<RouteInfo> {
        if !self.tenants.contains(marketplace) {
            return Vec::new();
        }
        self.routes
            .iter()
            .filter(|r| r.marketplace.as_ref().is_none_or(|m| m == marketplace))
            .map(|r| {
                let mut info = r.info();
                if r.marketplace.is_none() {
                    info.path = info.path.replace(":marketplace", marketplace.as_str());
                    info.marketplace = Some(marketplace.clone());
                }
                info
            })
            .collect()
    }

    /// The prefix of the prefixed routes, without a trailing `/` (empty for none): the
    /// prefixed routes are `{prefix}/:marketplace/saml/consume` and so on. Adapters serve
    /// more per-tenant routes under it, such as `maestrano-axum`'s SP metadata.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Whether `marketplace` is one of the router's tenants.
    pub fn has_tenant(&self, marketplace: &MarketplaceKey) -> bool {
        self.tenants.contains(marketplace)
    }
}

fn prefix_segments(prefix: &str) -> Result<Vec<String>, RouteError> {
    let invalid = |expected| RouteError::InvalidPrefix {
        expected,
        found: prefix.to_owned(),
    };
    if prefix.is_empty() || prefix == "/" {
        return Ok(Vec::new());
    }
    let t = PathTemplate::parse(prefix).map_err(|e| invalid(e.expected))?;
    if !t.query().is_empty() {
        return Err(invalid("a path without a query"));
    }
    t.segments()
        .iter()
        .map(|s| match s {
            Segment::Literal(l) => Ok(l.clone()),
            Segment::Param(_) => Err(invalid("a path without parameters")),
        })
        .collect()
}

fn tenant_route(
    marketplace: &MarketplaceKey,
    kind: RouteKind,
    template: &PathTemplate,
) -> Result<Route, RouteError> {
    let segments = template
        .segments()
        .iter()
        .map(|s| match (s, kind) {
            (Segment::Literal(l), _) => Ok(Seg::Lit(l.clone())),
            (Segment::Param(p), RouteKind::GroupDestroyed) if p == "id" => Ok(Seg::Group("id")),
            (Segment::Param(p), RouteKind::GroupUserRemoved) if p == "group_id" => {
                Ok(Seg::Group("group_id"))
            }
            (Segment::Param(p), RouteKind::GroupUserRemoved) if p == "id" => Ok(Seg::User("id")),
            (Segment::Param(p), _) => Err(RouteError::UnsupportedParameter {
                marketplace: marketplace.clone(),
                field: kind.config_field(),
                template: template.as_str().to_owned(),
                param: p.clone(),
            }),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Route {
        method: kind.method(),
        kind,
        origin: RouteOrigin::TenantPath,
        marketplace: Some(marketplace.clone()),
        segments,
        query: template.query().to_vec(),
        path: template.as_str().to_owned(),
    })
}
