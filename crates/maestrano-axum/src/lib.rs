//! Mount every Maestrano marketplace of an app in axum with one layer.
//!
//! [`Maestrano`] serves each tenant's endpoints (SAML init and consume, SP metadata, OpenID 2.0
//! init and return, account webhooks, Connec! notifications), at the SDK's prefixed routes and at the paths the
//! developer platform sends, and calls the app's [`LoginHandler`](maestrano::sso::LoginHandler)
//! and [`WebhookSink`](maestrano::webhook::WebhookSink). The [`CurrentTenant`] extractor gives
//! the app's own routes their tenant, [`ErrorResponse`] answers the SDK's errors with the right
//! status and no detail, [`WebhookService`] is the webhook handler alone as a
//! `tower::Service`, and [`health_router`] serves the per-tenant health report to a probe.
//!
//! A whole app: configuration, the endpoints, a store, and the app's two handlers.
//!
//! ```no_run
//! use std::net::SocketAddr;
//! use std::sync::Arc;
//!
//! use axum::response::{IntoResponse, Redirect};
//! use maestrano::config::StaticSource;
//! use maestrano::ports::SystemClock;
//! use maestrano::saml::SsoLogin;
//! use maestrano::sso::LoginHandler;
//! use maestrano::webhook::{WebhookEvent, WebhookSink};
//! use maestrano::{Registry, async_trait};
//! use maestrano_axum::Maestrano;
//!
//! type BoxError = Box<dyn std::error::Error + Send + Sync>;
//!
//! struct Login;
//!
//! #[async_trait]
//! impl LoginHandler for Login {
//!     type Output = axum::response::Response;
//!     async fn on_login(&self, login: &SsoLogin) -> Result<Self::Output, BoxError> {
//!         // Find or create the user, company and membership, then start the app's session.
//!         println!("{} signed in from {}", login.user.email, login.marketplace);
//!         Ok(Redirect::to("/").into_response())
//!     }
//! }
//!
//! struct Events;
//!
//! #[async_trait]
//! impl WebhookSink for Events {
//!     async fn on_event(&self, event: WebhookEvent) -> Result<(), BoxError> {
//!         println!("{}", event.name()); // a company left, a user left, Connec! data changed
//!         Ok(())
//!     }
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), BoxError> {
//!     let source = Arc::new(StaticSource::from_json_file("marketplaces.json")?);
//!     let registry = Registry::builder(source, Arc::new(SystemClock)).build().await?;
//!     let maestrano = Maestrano::builder(registry, Login, Arc::new(Events)).build();
//!     let app = axum::Router::new()
//!         .route("/", axum::routing::get(|| async { "home" }))
//!         .layer(maestrano.layer());
//!     let listener = tokio::net::TcpListener::bind("0.0.0.0:8080").await?;
//!     let app = app.into_make_service_with_connect_info::<SocketAddr>();
//!     axum::serve(listener, app).await?;
//!     Ok(())
//! }
//! ```
//!
//! # Logins across sites
//!
//! The IdP posts its response from its own site, and a browser sends no `SameSite=Lax` cookie
//! with a cross-site POST: neither the app's session cookie nor the login cookie that binds
//! the response to the browser that started the login. The consume route therefore answers a
//! POST without the login cookie with a small page that submits the same two fields again from
//! the app's own origin (a script allowed by its hash, a button without script); that POST is
//! same-site and carries the cookie. Nothing is validated or spent before it, and a
//! resubmitted POST still without the cookie is refused (403), so a response cannot be pushed
//! into a browser that did not start the login (login CSRF). IdP-initiated logins, which no
//! browser started, are refused for the same reason.
//!
//! # Sessions
//!
//! What a login answers is the app's: the [`LoginHandler`](maestrano::sso::LoginHandler)'s
//! output, such as a redirect that sets the app's own session cookie. When the app's session
//! lives in a session layer such as tower-sessions, which puts each request's session in its
//! extensions, implement [`LoginWithRequest`] instead: it sees the consume request, whose
//! session it writes (cycling its id first, against session fixation), and
//! [`Maestrano::builder_with_request`] mounts it. The login cookie is the layer's own either
//! way, so it works with any session layer, or none. Keep the
//! [`SsoSession`](maestrano::sso::SsoSession) of the login with it
//! ([`SsoSession::from_login`](maestrano::sso::SsoSession::from_login)) and re-check it when
//! it says so.
//!
//! # Several instances
//!
//! Give every instance the same single-use store
//! ([`MaestranoBuilder::sso_flow`] with [`SsoFlow::builder`](maestrano::sso::SsoFlow::builder)
//! and a shared store such as `maestrano::adapters::RedisStore`): a login started on one
//! instance is answered on another, and a response is used once across all of them.

mod error;
mod extract;
mod health;
mod login;
mod service;
mod webhook;

pub use error::ErrorResponse;
pub use extract::CurrentTenant;
pub use health::health_router;
pub use service::{
    ClientAddress, LoginWithRequest, Maestrano, MaestranoBuilder, MaestranoLayer, MaestranoService,
};
pub use webhook::WebhookService;
