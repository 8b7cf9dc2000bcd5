//! Connec! batches: `POST {connec.host}/batch` with `{sequential, ops: [{method, url,
//! params}]}`; at most [`MAX_BATCH_OPS`] operations a call; each result mapped back to the
//! operation it answers.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::decode::error_from_body;
use super::entity::Entity;
use super::error::ConnecError;
use crate::rest::RestError;

/// Most operations in one batch call.
pub const MAX_BATCH_OPS: usize = 50;

/// The method of a batch operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum BatchMethod {
    /// Create.
    Post,
    /// Update.
    Put,
    /// Read.
    Get,
}

/// One operation of a batch: a method, a path on the Connec! host
/// (`/api/v2/{group}/people/{id}`) and the entity envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BatchOp {
    /// The method.
    pub method: BatchMethod,
    /// The path, from the host's root.
    pub url: String,
    /// The body, such as `{"people": {...}}`.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub params: Value,
}

impl BatchOp {
    /// An operation. Prefer [`ConnecClient::batch_create`](super::ConnecClient::batch_create)
    /// and [`batch_update`](super::ConnecClient::batch_update), which scope the path to the
    /// client's group.
    pub fn new(method: BatchMethod, url: impl Into<String>, params: Value) -> Self {
        Self {
            method,
            url: url.into(),
            params,
        }
    }

    /// The collection the operation is on: the path segment after the group
    /// (`people` in `/api/v2/cld-1/people/123`), given the base path.
    pub(crate) fn collection_after(&self, group_prefix: &str) -> Option<&str> {
        let rest = self.url.strip_prefix(group_prefix)?.trim_start_matches('/');
        rest.split(['/', '?']).next().filter(|s| !s.is_empty())
    }
}

/// The body of a batch call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BatchRequest {
    /// Whether Connec! applies the operations one after the other.
    pub sequential: bool,
    /// The operations.
    pub ops: Vec<BatchOp>,
}

/// The reply to a batch call: one result per operation, in order.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct BatchReply {
    /// The results.
    pub results: Vec<BatchResult>,
}

/// The result of one batch operation: its status and body, as Connec! sent them.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct BatchResult {
    /// The operation's HTTP status.
    pub status: u16,
    /// Its body: an entity envelope, JSON-API errors, or a bare string.
    #[serde(default)]
    pub body: Value,
}

impl BatchResult {
    /// The entity under `collection` of a 2xx result, or the error of another.
    ///
    /// # Errors
    ///
    /// For a non-2xx status, the error its body describes: JSON-API errors give
    /// [`ConnecError::Api`] (or [`ConnecError::Authentication`] for 401), a bare string gives
    /// [`ConnecError::Api`] with that string as title and detail. A 2xx without the entity is
    /// [`RestError::InvalidResponse`](crate::RestError::InvalidResponse).
    pub fn entity(&self, collection: &str) -> Result<Entity, ConnecError> {
        if !(200..300).contains(&self.status) {
            return Err(error_from_body(self.status, &self.body));
        }
        let invalid = |detail: String| {
            ConnecError::Rest(RestError::InvalidResponse {
                status: self.status,
                detail,
            })
        };
        let value = self
            .body
            .get(collection)
            .ok_or_else(|| invalid(format!("expected key {collection:?} in the batch result")))?;
        let entity = Entity::from_value(value.clone())
            .map_err(|_| invalid(format!("expected {collection:?} to be an object")))?;
        entity.check_ids().map_err(invalid)?;
        Ok(entity)
    }
}

/// The outcome of one operation of a batch, mapped back to its input.
#[derive(Debug)]
#[non_exhaustive]
pub struct BatchOutcome {
    /// The position of the operation in the input.
    pub index: usize,
    /// The status Connec! gave it.
    pub status: u16,
    /// The entity created or updated, or the operation's error.
    pub result: Result<Entity, ConnecError>,
}
