//! Connec!, the data-sharing API of a marketplace: one client per (tenant, group) at
//! `{connec.host}{connec.base_path}/{group_id}/{entity}[/{id}]`.
//!
//! As for the account API, each call is a pure request builder, the
//! [`HttpClient`](crate::ports::HttpClient) port and a pure decoder; [`ConnecClient`] chains
//! them.
//!
//! - Entities are JSON objects ([`Entity`]) with typed access to their id arrays
//!   ([`IdArray`]: pick the id of a provider and realm), group and timestamps; [`Person`],
//!   [`Organization`], [`Invoice`] and [`Item`] are typed and keep every unknown field.
//! - Listings follow `pagination.next` ([`ConnecClient::pages`], a [`Stream`](futures_core::Stream))
//!   only while it points at the same tenant's Connec! host and group, up to a page cap: the
//!   credentials are never sent elsewhere.
//! - Batches ([`ConnecClient::batch`]) go by at most [`MAX_BATCH_OPS`] operations a call, each
//!   result mapped back to its operation.
//! - JSON-API errors (`{errors: [{id, href, status, code, title, detail}]}`) become
//!   [`ConnecError::Api`] with the HTTP status (even when the inner `status` disagrees) and
//!   [`ConnecError::Authentication`] for 401.
//!
//! ```
//! use std::sync::Arc;
//!
//! use maestrano::config::StaticSource;
//! use maestrano::connec::{ConnecClient, Entity};
//! use maestrano::ports::SystemClock;
//! use maestrano::test_util::{FakeHttpClient, FakeReply};
//! use maestrano::{GroupUid, MarketplaceKey, Registry};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let source = StaticSource::from_json(r#"{"marketplaces": [{
//!     "marketplace": "acme-corp",
//!     "app": {"host": "https://app.example.com"},
//!     "api": {"id": "app-1a2b", "key": "s3cret", "host": "https://hub.acme.example"},
//!     "sso": {"idp": "https://hub.acme.example",
//!             "x509_fingerprint": "01:06:15:89:25:7d:78:12:28:a6:69:c7:de:63:ed:74:21:f9:f5:36"},
//!     "connec": {"host": "https://connec.acme.example"}
//! }]}"#)?;
//! let registry = Registry::builder(Arc::new(source), Arc::new(SystemClock)).build().await?;
//! let tenant = registry.with(&MarketplaceKey::new("acme-corp")?)?;
//! // A scripted Connec! for the example; an app passes `adapters::ReqwestHttpClient`.
//! let http = Arc::new(FakeHttpClient::new());
//! http.on(None, "https://connec.acme.example/", vec![FakeReply::json(
//!     201,
//!     r#"{"invoices": {"id": [{"id": "8f3a", "provider": "connec", "realm": "cld-1"}], "title": "Invoice 1"}}"#,
//! )]);
//! let connec = ConnecClient::new(&tenant, GroupUid::new("cld-1")?, http.clone())?;
//! let created = connec
//!     .create("invoices", &Entity::from_value(serde_json::json!({"title": "Invoice 1"}))?)
//!     .await?;
//! assert_eq!(created.connec_id().as_deref(), Some("8f3a"));
//! assert!(http.requests()[0].uri().to_string().ends_with("/cld-1/invoices"));
//! # Ok(())
//! # }
//! ```

mod batch;
mod client;
pub(crate) mod decode;
mod entity;
mod error;
mod query;
pub(crate) mod requests;

pub use batch::{
    BatchMethod, BatchOp, BatchOutcome, BatchReply, BatchRequest, BatchResult, MAX_BATCH_OPS,
};
pub use client::{ConnecClient, DEFAULT_MAX_PAGES, Pages};
pub use decode::{ConnecVersion, Notification, Page};
pub use entity::{
    CONNEC_PROVIDER, ConnecEntity, Entity, IdArray, IdRef, Invoice, Item, Organization, Person,
};
pub use error::{ConnecError, JsonApiError};
pub use query::{ListQuery, MAX_QUERY_CHARS};
