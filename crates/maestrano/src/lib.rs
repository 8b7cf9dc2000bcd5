//! # maestrano
//!
//! Sell one SaaS application through many Maestrano marketplaces at once: Maestrano.com and
//! the enterprise tenants that run their own copy of the platform.
//!
//! An application integrates once and then serves every marketplace ("tenant"), each named by
//! a [`MarketplaceKey`]. For every tenant the SDK provides its configuration (fetched from the
//! developer platform or given in code), the routes the application serves, SAML 2.0 single
//! sign-on with signatures verified in pure Rust, account webhooks and Connec! notifications
//! authenticated per tenant, the account and data-sharing APIs, and the identity map of
//! connected objects, each scoped to the tenant so that nothing of one marketplace is ever used
//! for another.
//!
//! ## The public interface
//!
//! - At the root: the [`Registry`] of tenants (built with a [`RegistryBuilder`] from a
//!   [`config::ConfigSource`]), the [`Tenant`] handle it hands out, the identifiers
//!   ([`MarketplaceKey`], [`ApiId`], [`GroupUid`], [`UserUid`], …), [`Secret`], and the crate
//!   [`Error`] into which every error of the SDK converts.
//! - [`ports`]: the cross-cutting ports ([`Clock`](ports::Clock),
//!   [`HttpClient`](ports::HttpClient), [`RandomSource`](ports::RandomSource),
//!   [`Sleep`](ports::Sleep), and [`SingleUseStore`](ports::SingleUseStore), which every
//!   instance of the app shares for what must happen once: a used assertion, a pending login
//!   request).
//! - [`config`]: the marketplace model and its sources (JSON, code, the developer platform).
//! - [`routes`]: the endpoints an application serves and a matcher from `http::Request`.
//! - [`sso`]: the login routes ([`SsoFlow`](sso::SsoFlow)) and the Maestrano session;
//!   [`saml`]: the SAML 2.0 protocol underneath (validation, AuthnRequest, certificates,
//!   policy).
//! - [`webhook`]: the marketplace's calls to the app, as typed events.
//! - [`api`]: the account and billing API; [`connec`]: the Connec! data-sharing API.
//! - [`idmap`]: connected objects, the identity map and its store port, and the push outbox.
//! - [`push`]: the worker that sends the outbox's pushes to Connec!, each record once.
//! - `adapters` (features `reqwest`, `sqlite`, `postgres`, `redis`, `tokio`): real implementations of
//!   the ports; `test_util` (feature `test-util`): fakes and conformance suites.
//!
//! ## Architecture
//!
//! The core is sans-IO, like rustls and quinn-proto: protocol logic is pure, and everything
//! that touches the world goes through a port. Real adapters ship behind cargo features; the
//! marketplace simulator is its own crate, `maestrano-simulator`. ARCHITECTURE.md in the
//! repository gives the layers and the rule they follow.
//!
//! ## Quick start
//!
//! ```
//! use std::sync::Arc;
//!
//! use maestrano::config::StaticSource;
//! use maestrano::ports::SystemClock;
//! use maestrano::{MarketplaceKey, Registry};
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
//!
//! let tenant = registry.with(&MarketplaceKey::new("acme-corp")?)?;
//! assert_eq!(tenant.idp_sso_url().as_str(), "https://hub.acme.example/api/v1/auth/saml");
//!
//! // An unknown marketplace is an error, never a default tenant.
//! assert!(registry.with(&MarketplaceKey::new("someone-else")?).is_err());
//!
//! // The tenant's SAML settings, as the SSO routes use them:
//! let settings = maestrano::sso::sp_settings(&tenant);
//! # let _ = settings;
//! # Ok(())
//! # }
//! ```
//!
//! ## Mounting it in a web app
//!
//! A web app mounts two things for every tenant: the login routes ([`sso::SsoFlow`]:
//! `initiate` redirects to the tenant's IdP, `consume` validates the POSTed response and calls
//! the app's [`sso::LoginHandler`]) and the marketplace's calls ([`webhook::WebhookHandler`]:
//! authenticated per tenant, typed events to the app's [`webhook::WebhookSink`]);
//! [`Registry::router`] tells which endpoint a request addresses. With axum, the
//! `maestrano-axum` crate does all of it in one layer. With any other framework, one function
//! from `http::Request` to `http::Response` does (the repository's `hyper_app` example serves it
//! on hyper alone):
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use http::{Request, Response, header};
//! use maestrano::config::StaticSource;
//! use maestrano::ports::{InMemorySingleUseStore, SystemClock};
//! use maestrano::routes::EndpointKind;
//! use maestrano::saml::SsoLogin;
//! use maestrano::sso::{LoginHandler, SsoFlow};
//! use maestrano::webhook::{WebhookEvent, WebhookHandler, WebhookSink};
//! use maestrano::{Registry, async_trait};
//!
//! type BoxError = Box<dyn std::error::Error + Send + Sync>;
//!
//! struct Login; // find or create the user, company and membership; start the app's session
//! #[async_trait]
//! impl LoginHandler for Login {
//!     type Output = String;
//!     async fn on_login(&self, login: &SsoLogin) -> Result<String, BoxError> {
//!         Ok(format!("Welcome, {}", login.user.first_name))
//!     }
//! }
//!
//! struct Events; // a company left, a user left a company, Connec! data changed
//! #[async_trait]
//! impl WebhookSink for Events {
//!     async fn on_event(&self, event: WebhookEvent) -> Result<(), BoxError> {
//!         Ok(println!("{}", event.name()))
//!     }
//! }
//!
//! /// One request of the framework: `client` is the peer's IP address, `login` the request id
//! /// the app kept for this browser at the init route (in a cookie).
//! async fn handle(
//!     registry: &Registry, flow: &SsoFlow, webhooks: &WebhookHandler,
//!     request: Request<Vec<u8>>, client: &str, login: Option<&str>,
//! ) -> Response<Vec<u8>> {
//!     let answer = |status: u16| Response::builder().status(status).body(Vec::new()).unwrap();
//!     let Ok(endpoint) = registry.router().match_request(&request) else {
//!         return webhooks.handle(request).await; // every refusal alike (401)
//!     };
//!     let Ok(tenant) = registry.with(&endpoint.marketplace) else { return answer(404) };
//!     match endpoint.kind {
//!         EndpointKind::SamlInitialize => match flow.initiate(&tenant, client, None, &[]).await {
//!             Ok(to_idp) => Response::builder()
//!                 .status(302)
//!                 .header(header::LOCATION, to_idp.url.as_str())
//!                 .header(header::SET_COOKIE, format!("login={}; HttpOnly", to_idp.request_id))
//!                 .body(Vec::new())
//!                 .unwrap(),
//!             Err(_) => answer(429),
//!         },
//!         EndpointKind::SamlConsume => match flow.consume(&tenant, request.body(), login, &Login).await {
//!             Ok(done) => Response::new(done.output.into_bytes()),
//!             Err(_) => answer(403), // the reason is in the log, by class
//!         },
//!         _ => webhooks.handle(request).await,
//!     }
//! }
//!
//! # async fn setup() -> Result<(), BoxError> {
//! let source = Arc::new(StaticSource::from_json_file("marketplaces.json")?);
//! let registry = Registry::builder(source, Arc::new(SystemClock)).build().await?;
//! // Behind a load balancer, one store for every instance: adapters::RedisStore, PostgresStore.
//! let flow = SsoFlow::builder().store(Arc::new(InMemorySingleUseStore::new())).build();
//! let webhooks = WebhookHandler::new(registry.clone(), Arc::new(Events));
//! # let _ = (handle, flow, webhooks); Ok(()) }
//! ```
//!
//! The IdP posts from its own site, so a `SameSite=Lax` cookie does not come with the
//! response: `maestrano-axum` resubmits the IdP's form once from the app's origin; without it,
//! set the login cookie `SameSite=None; Secure` over HTTPS (see [`sso::SsoFlow::consume`]).
//!
//! ## Features
//!
//! | feature | what it adds |
//! | --- | --- |
//! | `reqwest` | `adapters::ReqwestHttpClient`: the `HttpClient` port on reqwest with rustls |
//! | `sqlite` | `adapters::SqliteStore`: the identity map and the single-use store in SQLite (compiled in) |
//! | `postgres` | `adapters::PostgresStore`: the same on PostgreSQL, for apps that run many instances |
//! | `redis` | `adapters::RedisStore`: the single-use store on Redis (`SET NX PX`), beside the app's sessions |
//! | `tokio` | `adapters::TokioSleep` (the retry policy's sleep on the Tokio timer) and `adapters::Refresher` (keeps the registry fresh) |
//! | `aws-lc-rs` | a second crypto provider for SAML signature verification, on AWS-LC |
//! | `test-util` | `test_util`: a manual clock, a scripted HTTP client, a counter random source, the conformance suites of the id map and single-use stores |
//!
//! ## Security
//!
//! Checks fail closed. Every option that weakens one is off by default and named
//! `insecure_*` (see [`saml::SamlPolicy`]), with one documented exception that the platform
//! needs: the Maestrano IdP signs with RSA-SHA1 and 1024-bit keys, so the default
//! [platform signature profile](saml::SignatureProfile::Platform) accepts those, only from the
//! tenant's own configured certificate, and says so on every login
//! ([`sso::CompletedLogin::legacy_crypto`]) and in a `tracing` warning once per tenant.
//! [`saml::SamlPolicy::strict`] refuses them. Each tenant's Audience defaults to what the
//! platform sends, the ACS origin followed by "/". Secrets ([`Secret`]) have a redacted `Debug`, are
//! compared in constant time and never logged. Untrusted input (SAML messages, API replies,
//! configuration JSON) is size-capped before it is decoded and rejected with a typed error.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod error;
mod redact;
mod timestamp;
mod types;

pub mod api;
pub mod config;
pub mod connec;
pub mod health;
pub mod idmap;
pub mod offboard;
pub mod openid;
pub mod ports;
pub mod push;
pub mod reconcile;
pub mod routes;
pub mod saml;
pub mod sso;
pub mod webhook;

mod rest;

#[cfg(any(
    feature = "reqwest",
    feature = "sqlite",
    feature = "postgres",
    feature = "tokio"
))]
#[cfg_attr(
    docsrs,
    doc(cfg(any(
        feature = "reqwest",
        feature = "sqlite",
        feature = "postgres",
        feature = "tokio"
    )))
)]
pub mod adapters;

#[cfg(any(test, feature = "test-util"))]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub mod test_util;

/// The `#[async_trait]` attribute the SDK's traits (`LoginHandler`, `WebhookSink`, the store
/// ports) are written with, so that an app implements them without naming the crate itself.
pub use async_trait::async_trait;
pub use config::registry::{
    DEFAULT_CREDENTIAL_OVERLAP, RefreshReport, RefusedTenant, Registry, RegistryBuilder, Snapshot,
    SnapshotOrigin,
};
pub use config::tenant::Tenant;
pub use error::{Error, Result};
pub use rest::{
    ApiService, Bulkhead, BulkheadOptions, BulkheadState, DEFAULT_FAILURE_THRESHOLD,
    DEFAULT_MAX_IN_FLIGHT, DEFAULT_MAX_OPEN_FOR, DEFAULT_OPEN_FOR, RestError, RetryPolicy,
};
pub use types::{
    ApiId, ApiKey, BillId, GroupUid, IdError, MarketplaceKey, RecurringBillId, ResellerUid, Secret,
    UserUid,
};

/// The User-Agent the SDK sends: the crate's name and version.
pub const USER_AGENT: &str = concat!("maestrano-rust/", env!("CARGO_PKG_VERSION"));

/// Internals that the fuzz targets, the conformance drivers and the simulator crate reach.
/// Not part of the public interface: no semver guarantee, may change in any release.
#[doc(hidden)]
pub mod __private {
    pub use crate::saml::authn_request::new_request_id;
    pub use crate::saml::c14n::{C14nMethod, canonicalize_document, copying_agrees_with_writing};
    pub use crate::saml::decode::{decode_post_message, decode_redirect_message, inflate};
    pub use crate::saml::dsig::DSIG_NS;
    pub use crate::saml::response::{ASSERTION_NS, PROTOCOL_NS};
    pub use crate::saml::sign::sign_enveloped;
    #[cfg(feature = "__xml-oracle")]
    pub use crate::saml::xml::differential as xml_differential;
    pub use crate::saml::xml::escape as xml_escape;
    pub use crate::timestamp::{format_utc, parse_lenient};
    pub use crate::types::ct_eq_bytes;

    pub use crate::api::account::{
        AccountRequests, decode_cancelled_bill, decode_cancelled_recurring_bill,
    };
    pub use crate::api::envelope::{decode_list, decode_one};
    pub use crate::api::timestamp::parse_timestamp;
    pub use crate::config::autoconfigure::{build_request, decode_response};
    pub use crate::config::cache::decode_file as decode_config_cache;
    pub use crate::connec::decode::{
        decode_batch, decode_entities, decode_entity, decode_notification, decode_page,
        decode_report, decode_version,
    };
    pub use crate::connec::requests::{CONNEC_MEDIA_TYPE, ConnecRequests};
    pub use crate::rest::retry::Retrier;
    pub use crate::webhook::auth::parse_basic;
    pub use crate::webhook::events::parse_notification;
}
