//! Webhooks: the marketplace's calls to the application (a company cancelled, a user left a
//! company, data changed in Connec!), each authenticated with the credentials of the tenant
//! its route names, so that credentials of one marketplace never authenticate on another.
//!
//! Mount [`WebhookHandler::handle`] on the webhook routes of any web framework: it takes an
//! `http::Request<Vec<u8>>` and returns an `http::Response<Vec<u8>>`.

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
