//! The endpoints an application exposes to Registry, and a matcher from an
//! [`http::Request`] to the typed [`Endpoint`] it addresses.
//!
//! Two families of routes are served:
//!
//! - **Prefixed routes**, the same for every tenant, with the tenant in the path (prefix
//!   `/mno-enterprise` by default, see [`RouterOptions`]):
//!
//!   | method | path | endpoint |
//!   | --- | --- | --- |
//!   | `GET` | `/mno-enterprise/:marketplace/saml/initialize` | [`EndpointKind::SamlInitialize`] |
//!   | `POST` | `/mno-enterprise/:marketplace/saml/consume` | [`EndpointKind::SamlConsume`] |
//!   | `DELETE` | `/mno-enterprise/:marketplace/account/group/:id` | [`EndpointKind::GroupDestroyed`] |
//!   | `DELETE` | `/mno-enterprise/:marketplace/account/group/:group_id/user/:id` | [`EndpointKind::GroupUserRemoved`] |
//!   | `POST` | `/mno-enterprise/:marketplace/connec/receive` | [`EndpointKind::ConnecNotification`] |
//!
//! - **Tenant paths**, the ones the developer platform configures per tenant:
//!   `sso.init_path` (`GET`), `sso.consume_path` (`POST`), `webhooks.account.group_path` and
//!   `group_user_path` (`DELETE`), `webhooks.connec.notification_path` (`POST`). A query in
//!   such a path (`/maestrano/consume/?marketplace=acme-corp`) must be matched too.
//!
//! Matching decodes percent-encoding exactly once, per segment, after splitting the path on
//! `/`; so an encoded slash (`%2F`) stays inside its segment, where no identifier accepts it,
//! and `%252F` decodes to `%2F`, which no identifier accepts either. `.`, `..` and empty
//! segments never match an identifier, and paths are never normalised. The outcomes are
//! distinct: no route ([`MatchError::NotFound`]), wrong method
//! ([`MatchError::MethodNotAllowed`], with the allowed methods), unknown tenant
//! ([`MatchError::UnknownTenant`]) and malformed identifier ([`MatchError::MalformedId`]).
//!
//! Routes that could match the same request are refused when the router is built
//! ([`RouteError::Conflict`]), so a request never reaches an arbitrary one of two tenants.
//!
//! ```
//! use std::sync::Arc;
//!
//! use maestrano::config::StaticSource;
//! use maestrano::ports::SystemClock;
//! use maestrano::routes::{EndpointKind, MatchError};
//! use maestrano::Registry;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), maestrano::Error> {
//! let source = StaticSource::from_json(r#"{"marketplaces": [{
//!     "marketplace": "acme-corp",
//!     "app": {"host": "https://app.example.com"},
//!     "api": {"id": "app-1a2b", "key": "s3cret", "host": "https://hub.acme.example"},
//!     "sso": {"idp": "https://hub.acme.example",
//!             "x509_fingerprint": "01:06:15:89:25:7d:78:12:28:a6:69:c7:de:63:ed:74:21:f9:f5:36"}
//! }]}"#)?;
//! let registry = Registry::builder(Arc::new(source), Arc::new(SystemClock)).build().await?;
//! let router = registry.router();
//! let login = http::Request::post("/mno-enterprise/acme-corp/saml/consume").body(()).unwrap();
//! let endpoint = router.match_request(&login)?;
//! assert_eq!((endpoint.marketplace.as_str(), endpoint.kind), ("acme-corp", EndpointKind::SamlConsume));
//!
//! // Not a Maestrano path: the app's own.
//! let page = http::Request::get("/dashboard").body(()).unwrap();
//! assert_eq!(router.match_request(&page), Err(MatchError::NotFound));
//! # Ok(())
//! # }
//! ```

mod router;
pub(crate) use router::RouterBuilder;
mod template;

pub use router::{
    Endpoint, EndpointKind, MatchError, RouteError, RouteInfo, RouteKind, RouteOrigin, Router,
    RouterOptions, TenantRoutes,
};
pub use template::{PathTemplate, TemplateError};
