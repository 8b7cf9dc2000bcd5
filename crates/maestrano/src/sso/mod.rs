//! Single sign-on for a tenant: the two routes an application serves ([`SsoFlow`]: the
//! redirect to the tenant's IdP, then the POSTed response validated, mapped to user, group and
//! membership, and handed to the app's [`LoginHandler`]), and the Maestrano session kept
//! after a login and re-checked with the platform ([`SsoSession`]).
//!
//! This is where a tenant's configuration meets the SAML protocol of [`crate::saml`]: the
//! tenant's SP settings, AuthnRequest and SP metadata are built here from its
//! configuration ([`sp_settings`], [`authn_request`], [`sp_metadata`]). The same flow serves
//! the platform's other login, OpenID 2.0 ([`SsoFlow::openid_initiate`],
//! [`SsoFlow::openid_consume`], on [`crate::openid`]), to the same handler with the same
//! [`SsoLogin`](crate::saml::SsoLogin); each tenant offers the protocols its
//! [`SsoOptions::protocols`](crate::saml::SsoOptions::protocols) name.
//!
//! ```
//! use std::sync::Arc;
//!
//! use maestrano::config::StaticSource;
//! use maestrano::ports::SystemClock;
//! use maestrano::sso::SsoFlow;
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
//! let tenant = registry.with(&MarketplaceKey::new("acme-corp")?)?;
//! // One instance: in-memory defaults (give every instance one shared store in production).
//! let flow = SsoFlow::builder().registry(registry.clone()).build();
//!
//! // The init route: where to send the browser, and the request id to keep in its cookie.
//! let to_idp = flow.initiate(&tenant, "203.0.113.7", None, &[("group_id", "cld-1")]).await?;
//! assert!(to_idp.url.as_str().starts_with("https://hub.acme.example/api/v1/auth/saml?SAMLRequest="));
//! assert!(to_idp.request_id.starts_with('_'));
//!
//! // The consume route refuses what the IdP did not send, with a typed error.
//! # struct App;
//! # #[maestrano::async_trait]
//! # impl maestrano::sso::LoginHandler for App {
//! #     type Output = ();
//! #     async fn on_login(&self, _: &maestrano::saml::SsoLogin) -> Result<(), Box<dyn std::error::Error + Send + Sync>> { Ok(()) }
//! # }
//! let refused = flow.consume(&tenant, b"SAMLResponse=forged", Some(&to_idp.request_id), &App).await;
//! assert_eq!(refused.unwrap_err().class(), "decode");
//! # Ok(())
//! # }
//! ```

mod flow;
mod openid;
mod session;
mod tenant;

pub use flow::{
    CompletedLogin, DEFAULT_PENDING_PER_CLIENT, DEFAULT_PENDING_PER_TENANT, LoginHandler, SsoFlow,
    SsoFlowBuilder, SsoFlowError,
};
pub use openid::{openid_identifier, openid_return_to};
pub use session::{SessionError, SessionStatus, SsoSession};
pub use tenant::{
    authn_request, response_validator, saml_policy, sp_entity_id, sp_metadata, sp_settings,
};
