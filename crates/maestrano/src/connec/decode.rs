//! Pure decoders of Connec! replies.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::batch::BatchReply;
use super::entity::Entity;
use super::error::{ConnecError, JsonApiError};
use crate::ports::HttpResponse;
use crate::rest::RestError;
use crate::rest::wire::json_kind;
use crate::rest::wire::{BodyLimit, check_body, excerpt, is_json};

/// One page of a list: the entities and the link to the next page.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Page {
    /// The entities, in order.
    pub entities: Vec<Entity>,
    /// `pagination.next`: the absolute URL of the next page, if any.
    pub next: Option<String>,
    /// The whole `pagination` object as sent (totals, previous page, …).
    pub pagination: Option<Map<String, Value>>,
}

/// The reply of `GET {connec.host}/version`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct ConnecVersion {
    /// The build number.
    #[serde(default)]
    pub ci_build_number: Option<String>,
    /// The branch, such as `v1.1`.
    #[serde(default)]
    pub ci_branch: Option<String>,
    /// The commit.
    #[serde(default)]
    pub ci_commit: Option<String>,
}

impl ConnecVersion {
    /// The version, from the branch without its `v` (`v1.1` → `1.1`), when the branch names
    /// a version.
    pub fn version(&self) -> Option<&str> {
        let branch = self.ci_branch.as_deref()?;
        let v = branch.strip_prefix(['v', 'V']).unwrap_or(branch);
        let numeric = !v.is_empty()
            && v.split('.')
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        numeric.then_some(v)
    }

    /// Whether the version is at least `major.minor` (false when unknown).
    pub fn is_at_least(&self, major: u32, minor: u32) -> bool {
        let Some(v) = self.version() else {
            return false;
        };
        let mut parts = v.split('.').map(|p| p.parse::<u32>().unwrap_or(u32::MAX));
        let have = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
        have >= (major, minor)
    }
}

/// A Connec! notification body: entities by kind (`{"people": [...], "invoices": [...]}`).
/// Unknown kinds are kept; each entity carries its own `group_id`.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Notification {
    /// The entities of each kind.
    pub kinds: BTreeMap<String, Vec<Entity>>,
}

impl Notification {
    /// Every entity with its kind.
    pub fn entities(&self) -> impl Iterator<Item = (&str, &Entity)> {
        self.kinds
            .iter()
            .flat_map(|(k, es)| es.iter().map(move |e| (k.as_str(), e)))
    }
}

fn limit_error(status: u16, e: BodyLimit) -> ConnecError {
    match e {
        BodyLimit::TooLarge { limit, found } => ConnecError::Rest(RestError::ResponseTooLarge {
            status,
            limit,
            found,
        }),
        BodyLimit::TooDeep { limit } => {
            ConnecError::Rest(RestError::NestingTooDeep { status, limit })
        }
    }
}

/// The error a JSON body stands for: JSON-API `errors`, a bare string, or anything else.
pub(crate) fn error_from_body(status: u16, body: &Value) -> ConnecError {
    if let Some(errors) = body
        .get("errors")
        .and_then(|e| serde_json::from_value::<Vec<JsonApiError>>(e.clone()).ok())
    {
        if status == 401 {
            return ConnecError::Authentication { status, errors };
        }
        return ConnecError::Api { status, errors };
    }
    match (status, body) {
        (401, _) => ConnecError::Authentication {
            status,
            errors: Vec::new(),
        },
        (_, Value::String(s)) => ConnecError::Api {
            status,
            errors: vec![JsonApiError::message(s.clone())],
        },
        (500..=599, other) => ConnecError::Server {
            status,
            excerpt: excerpt(other.to_string().as_bytes()),
        },
        (_, other) => ConnecError::Rest(RestError::UnexpectedStatus {
            status,
            excerpt: excerpt(other.to_string().as_bytes()),
        }),
    }
}

/// Checks limits and status; returns the JSON body of a 2xx reply.
pub(crate) fn open(response: &HttpResponse) -> Result<Value, ConnecError> {
    let status = response.status().as_u16();
    let body = response.body().as_slice();
    check_body(body).map_err(|e| limit_error(status, e))?;
    let parsed = serde_json::from_slice::<Value>(body);
    if !(200..300).contains(&status) {
        return Err(match parsed {
            Ok(v) => error_from_body(status, &v),
            Err(_) if status == 401 => ConnecError::Authentication {
                status,
                errors: Vec::new(),
            },
            Err(_) if status >= 500 => ConnecError::Server {
                status,
                excerpt: excerpt(body),
            },
            Err(_) if !is_json(body) && !body.is_empty() => ConnecError::Rest(RestError::NotJson {
                status,
                excerpt: excerpt(body),
            }),
            Err(_) => ConnecError::Rest(RestError::UnexpectedStatus {
                status,
                excerpt: excerpt(body),
            }),
        });
    }
    parsed.map_err(|_| {
        ConnecError::Rest(RestError::NotJson {
            status,
            excerpt: excerpt(body),
        })
    })
}

fn invalid(status: u16, detail: String) -> ConnecError {
    ConnecError::Rest(RestError::InvalidResponse { status, detail })
}

fn entity_from(status: u16, collection: &str, value: Value) -> Result<Entity, ConnecError> {
    let kind = json_kind(&value);
    let entity = Entity::from_value(value).map_err(|_| {
        invalid(
            status,
            format!("expected {collection:?} to hold objects, found {kind}"),
        )
    })?;
    entity.check_ids().map_err(|d| invalid(status, d))?;
    Ok(entity)
}

fn take_key(
    status: u16,
    body: Value,
    collection: &str,
) -> Result<(Value, Map<String, Value>), ConnecError> {
    let Value::Object(mut map) = body else {
        return Err(invalid(
            status,
            format!(
                "expected an object with key {collection:?}, found {}",
                json_kind(&body)
            ),
        ));
    };
    let value = map.remove(collection).ok_or_else(|| {
        let keys: Vec<&str> = map.keys().map(String::as_str).take(5).collect();
        invalid(
            status,
            format!("expected key {collection:?}, found keys {keys:?}"),
        )
    })?;
    Ok((value, map))
}

/// Decodes a reply holding one entity under `collection` (`{"people": {...}}`).
///
/// # Errors
///
/// The error of a non-2xx reply (JSON-API errors typed, the HTTP status kept), or
/// [`RestError::InvalidResponse`](crate::RestError::InvalidResponse) when the key is missing, holds no object, or the entity's
/// `id` is not an id array.
pub fn decode_entity(response: &HttpResponse, collection: &str) -> Result<Entity, ConnecError> {
    let status = response.status().as_u16();
    let (value, _) = take_key(status, open(response)?, collection)?;
    match value {
        Value::Array(mut items) if items.len() == 1 => {
            entity_from(status, collection, items.remove(0))
        }
        other => entity_from(status, collection, other),
    }
}

/// Decodes a reply holding entities under `collection` (`{"people": [...]}`; a single object
/// counts as one entity).
///
/// # Errors
///
/// As [`decode_entity`].
pub fn decode_entities(
    response: &HttpResponse,
    collection: &str,
) -> Result<Vec<Entity>, ConnecError> {
    Ok(decode_page(response, collection)?.entities)
}

/// Decodes one page of a list: the entities under `collection` and `pagination.next`.
///
/// # Errors
///
/// As [`decode_entity`]; also when `pagination.next` is not a string.
pub fn decode_page(response: &HttpResponse, collection: &str) -> Result<Page, ConnecError> {
    let status = response.status().as_u16();
    let (value, mut rest) = take_key(status, open(response)?, collection)?;
    let items = match value {
        Value::Array(items) => items,
        Value::Null => Vec::new(),
        other => vec![other],
    };
    let entities = items
        .into_iter()
        .map(|v| entity_from(status, collection, v))
        .collect::<Result<Vec<_>, _>>()?;
    let pagination = match rest.remove("pagination") {
        None | Some(Value::Null) => None,
        Some(Value::Object(p)) => Some(p),
        Some(other) => {
            return Err(invalid(
                status,
                format!(
                    "expected `pagination` to be an object, found {}",
                    json_kind(&other)
                ),
            ));
        }
    };
    let next = match pagination.as_ref().and_then(|p| p.get("next")) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            return Err(invalid(
                status,
                format!(
                    "expected `pagination.next` to be a URL, found {}",
                    json_kind(other)
                ),
            ));
        }
    };
    Ok(Page {
        entities,
        next,
        pagination,
    })
}

/// Decodes the reply of a batch call.
///
/// # Errors
///
/// The error of a non-2xx reply, or [`RestError::InvalidResponse`](crate::RestError::InvalidResponse) without a `results`
/// array of `{status, body}`.
pub fn decode_batch(response: &HttpResponse) -> Result<BatchReply, ConnecError> {
    let status = response.status().as_u16();
    serde_json::from_value(open(response)?).map_err(|e| {
        invalid(
            status,
            format!("expected {{results: [{{status, body}}]}}: {e}"),
        )
    })
}

/// Decodes the reply of `GET {connec.host}/version`.
///
/// # Errors
///
/// The error of a non-2xx reply, or [`RestError::InvalidResponse`](crate::RestError::InvalidResponse) when it is not an object.
pub fn decode_version(response: &HttpResponse) -> Result<ConnecVersion, ConnecError> {
    let status = response.status().as_u16();
    serde_json::from_value(open(response)?)
        .map_err(|e| invalid(status, format!("expected {{ci_branch, ci_commit, …}}: {e}")))
}

/// Decodes the reply of a report: its JSON as sent.
///
/// # Errors
///
/// The error of a non-2xx reply, or [`RestError::NotJson`](crate::RestError::NotJson).
pub fn decode_report(response: &HttpResponse) -> Result<Value, ConnecError> {
    open(response)
}

/// Decodes a Connec! notification body (what Connec! POSTs to the application): an object of
/// entity kinds, each an array of entities (or one entity).
///
/// # Errors
///
/// [`RestError::ResponseTooLarge`](crate::RestError::ResponseTooLarge), [`RestError::NestingTooDeep`](crate::RestError::NestingTooDeep), [`RestError::NotJson`](crate::RestError::NotJson)
/// or [`RestError::InvalidResponse`](crate::RestError::InvalidResponse) (with status 0: there is no HTTP status).
pub fn decode_notification(body: &[u8]) -> Result<Notification, ConnecError> {
    check_body(body).map_err(|e| limit_error(0, e))?;
    let value: Value = serde_json::from_slice(body).map_err(|_| {
        ConnecError::Rest(RestError::NotJson {
            status: 0,
            excerpt: excerpt(body),
        })
    })?;
    let Value::Object(map) = value else {
        return Err(invalid(
            0,
            format!(
                "expected an object of entity kinds, found {}",
                json_kind(&value)
            ),
        ));
    };
    let mut kinds = BTreeMap::new();
    for (kind, value) in map {
        let items = match value {
            Value::Array(items) => items,
            Value::Object(_) => vec![value],
            Value::Null => Vec::new(),
            other => {
                return Err(invalid(
                    0,
                    format!(
                        "expected {kind:?} to hold entities, found {}",
                        json_kind(&other)
                    ),
                ));
            }
        };
        let entities = items
            .into_iter()
            .map(|v| entity_from(0, &kind, v))
            .collect::<Result<Vec<_>, _>>()?;
        kinds.insert(kind, entities);
    }
    Ok(Notification { kinds })
}
