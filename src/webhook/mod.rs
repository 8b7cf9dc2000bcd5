//! Webhooks: the marketplace's calls to the application (a company cancelled, a user left a
//! company, data changed in Connec!), each authenticated with the credentials of the tenant
//! its route names, so that credentials of one marketplace never authenticate on another.
//!
//! Mount [`WebhookHandler::handle`] on the webhook routes of any web framework: it takes an
//! `http::Request<Vec<u8>>` and returns an `http::Response<Vec<u8>>`.

mod auth;
mod dedupe;
mod events;
mod handler;

pub use auth::{AuthError, MAX_AUTHORIZATION_BYTES, authenticate, parse_basic};
pub use dedupe::{DeliveryLedger, IN_MEMORY_LEDGER_CAPACITY};
pub use events::{DEFAULT_MAX_BODY_BYTES, NotificationError, WebhookEvent, parse_notification};
pub use handler::{WebhookHandler, WebhookOptions, WebhookSink};
