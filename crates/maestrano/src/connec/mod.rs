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
