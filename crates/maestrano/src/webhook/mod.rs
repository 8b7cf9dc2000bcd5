//! Webhooks: the marketplace's calls to the application (a company cancelled, a user left a
//! company, data changed in Connec!), each authenticated with the credentials of the tenant
//! its route names, so that credentials of one marketplace never authenticate on another.
//!
//! Mount [`WebhookHandler::handle`] on the webhook routes of any web framework: it takes an
//! `http::Request<Vec<u8>>` and returns an `http::Response<Vec<u8>>`.
//!
//! ```
//! use std::sync::{Arc, Mutex};
//!
//! use maestrano::config::StaticSource;
//! use maestrano::ports::SystemClock;
//! use maestrano::webhook::{WebhookEvent, WebhookHandler, WebhookSink};
//! use maestrano::{Registry, async_trait};
//!
//! #[derive(Default)]
//! struct Seen(Mutex<Vec<&'static str>>);
//!
//! #[async_trait]
//! impl WebhookSink for Seen {
//!     async fn on_event(&self, event: WebhookEvent) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//!         self.0.lock().unwrap().push(event.name());
//!         Ok(())
//!     }
//! }
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
//! let seen = Arc::new(Seen::default());
//! let webhooks = WebhookHandler::new(registry, seen.clone());
//!
//! // The marketplace cancels a company, with the tenant's credentials (`app-1a2b:s3cret`).
//! let call = http::Request::delete("/mno-enterprise/acme-corp/account/group/cld-1")
//!     .header("authorization", "Basic YXBwLTFhMmI6czNjcmV0")
//!     .body(Vec::new())
//!     .unwrap();
//! assert_eq!(webhooks.handle(call).await.status(), 200);
//! assert_eq!(*seen.0.lock().unwrap(), ["group_destroyed"]);
//!
//! // Without them: 401, and nothing reaches the app.
//! let forged = http::Request::delete("/mno-enterprise/acme-corp/account/group/cld-1")
//!     .body(Vec::new())
//!     .unwrap();
//! assert_eq!(webhooks.handle(forged).await.status(), 401);
//! assert_eq!(seen.0.lock().unwrap().len(), 1);
//! # Ok(())
//! # }
//! ```

pub(crate) mod auth;
pub(crate) mod events;
mod handler;
mod ledger;

pub use auth::{AuthError, authenticate};
pub use events::{DEFAULT_MAX_BODY_BYTES, NotificationError, WebhookEvent};
pub use handler::{WebhookHandler, WebhookOptions, WebhookSink};
pub use ledger::{
    DEFAULT_LEASE, Delivery, DeliveryBusy, DeliveryClaim, DeliveryKey, DeliveryLedger,
    DeliveryOutcome, DeliveryRecord, DeliveryStep, DeliveryStore, EntityVersion,
};
