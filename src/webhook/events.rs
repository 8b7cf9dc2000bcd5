//! The typed events a marketplace delivers, and the parser of Connec! notification bodies.

use time::OffsetDateTime;

use crate::timestamp::parse_lenient;
use crate::types::{GroupUid, MarketplaceKey, UserUid};

/// Default cap on a notification body: 10 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

/// A notification body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NotificationError {
    /// The body exceeds the size limit (checked before parsing).
    #[error("body is {found} bytes, more than the {max}-byte limit")]
    TooLarge {
        /// The limit.
        max: usize,
        /// The body size.
        found: usize,
    },
    /// The body is not JSON (or nests deeper than the parser allows).
    #[error("body is not JSON: {0}")]
    Json(String),
    /// The body is JSON of the wrong shape.
    #[error("expected {expected} at {path}, found {found}")]
    Shape {
        /// Where (`people[3].id[0]`).
        path: String,
        /// What was expected.
        expected: &'static str,
        /// What was found.
        found: String,
    },
}

/// One id of an entity in one system: `{id, provider, realm}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct EntityRef {
    /// The id in that system.
    pub id: String,
    /// The system (`connec`, or the app's own provider name).
    pub provider: String,
    /// The account in that system, when given.
    pub realm: Option<String>,
}

/// One entity of a Connec! notification.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct NotifiedEntity {
    /// The group (company) the entity belongs to, from its own `group_id`.
    pub group_id: Option<GroupUid>,
    /// Its id array; empty when the notification carries none.
    pub ids: Vec<EntityRef>,
    /// `updated_at`, when present and readable.
    pub updated_at: Option<OffsetDateTime>,
    /// The whole entity as sent.
    pub data: serde_json::Value,
}

impl NotifiedEntity {
    /// The id for `provider` (and `realm`, when given).
    pub fn id_for(&self, provider: &str, realm: Option<&str>) -> Option<&str> {
        self.ids
            .iter()
            .find(|r| {
                r.provider == provider && realm.is_none_or(|want| r.realm.as_deref() == Some(want))
            })
            .map(|r| r.id.as_str())
    }

    /// The Connec! id.
    pub fn connec_id(&self) -> Option<&str> {
        self.id_for("connec", None)
    }
}

/// The entities of one kind in a notification.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct EntityBatch {
    /// The entity kind as sent (`people`, `invoices`, or any kind the SDK does not know).
    pub kind: String,
    /// The entities.
    pub entities: Vec<NotifiedEntity>,
}

/// What a marketplace tells the application.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum WebhookEvent {
    /// A company cancelled the service.
    GroupDestroyed {
        /// The tenant.
        marketplace: MarketplaceKey,
        /// The group.
        group_uid: GroupUid,
    },
    /// A user left a company.
    UserRemovedFromGroup {
        /// The tenant.
        marketplace: MarketplaceKey,
        /// The group.
        group_uid: GroupUid,
        /// The user.
        user_uid: UserUid,
    },
    /// Data changed in another application.
    ConnecNotification {
        /// The tenant.
        marketplace: MarketplaceKey,
        /// The entities, by kind, in the order sent; unknown kinds included.
        batches: Vec<EntityBatch>,
    },
}

impl WebhookEvent {
    /// The tenant the event came from.
    pub fn marketplace(&self) -> &MarketplaceKey {
        match self {
            Self::GroupDestroyed { marketplace, .. }
            | Self::UserRemovedFromGroup { marketplace, .. }
            | Self::ConnecNotification { marketplace, .. } => marketplace,
        }
    }

    /// A short name of the event, for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Self::GroupDestroyed { .. } => "group_destroyed",
            Self::UserRemovedFromGroup { .. } => "user_removed_from_group",
            Self::ConnecNotification { .. } => "connec_notification",
        }
    }
}

fn shape(path: String, expected: &'static str, found: &serde_json::Value) -> NotificationError {
    let found = match found {
        serde_json::Value::Null => "null".to_owned(),
        serde_json::Value::Bool(_) => "a boolean".to_owned(),
        serde_json::Value::Number(_) => "a number".to_owned(),
        serde_json::Value::String(_) => "a string".to_owned(),
        serde_json::Value::Array(_) => "an array".to_owned(),
        serde_json::Value::Object(_) => "an object".to_owned(),
    };
    NotificationError::Shape {
        path,
        expected,
        found,
    }
}

fn parse_ids(
    path: &str,
    value: Option<&serde_json::Value>,
) -> Result<Vec<EntityRef>, NotificationError> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let items = match value {
        serde_json::Value::Null => return Ok(Vec::new()),
        serde_json::Value::Array(items) => items,
        // A bare string id (older Connec! payloads) is the Connec! id.
        serde_json::Value::String(id) => {
            return Ok(vec![EntityRef {
                id: id.clone(),
                provider: "connec".into(),
                realm: None,
            }]);
        }
        other => return Err(shape(format!("{path}.id"), "an id array", other)),
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let at = format!("{path}.id[{i}]");
            let obj = item
                .as_object()
                .ok_or_else(|| shape(at.clone(), "an {id, provider, realm} object", item))?;
            let text = |key: &'static str| match obj.get(key) {
                Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(other) => Err(shape(format!("{at}.{key}"), "a string", other)),
            };
            Ok(EntityRef {
                id: text("id")?.ok_or_else(|| {
                    shape(format!("{at}.id"), "a string", &serde_json::Value::Null)
                })?,
                provider: text("provider")?.ok_or_else(|| {
                    shape(
                        format!("{at}.provider"),
                        "a string",
                        &serde_json::Value::Null,
                    )
                })?,
                realm: text("realm")?,
            })
        })
        .collect()
}

fn parse_entity(
    path: String,
    value: &serde_json::Value,
) -> Result<NotifiedEntity, NotificationError> {
    let obj = value
        .as_object()
        .ok_or_else(|| shape(path.clone(), "an entity object", value))?;
    let group_id = match obj.get("group_id") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => {
            Some(GroupUid::new(s).map_err(|e| NotificationError::Shape {
                path: format!("{path}.group_id"),
                expected: "a group uid",
                found: e.to_string(),
            })?)
        }
        Some(other) => return Err(shape(format!("{path}.group_id"), "a string", other)),
    };
    let updated_at = obj
        .get("updated_at")
        .and_then(|v| v.as_str())
        .and_then(|s| parse_lenient(s).ok().flatten());
    Ok(NotifiedEntity {
        group_id,
        ids: parse_ids(&path, obj.get("id"))?,
        updated_at,
        data: value.clone(),
    })
}

/// Parses a Connec! notification body: `{"<kind>": [entity, …], …}` (a single entity object
/// is accepted where a list is expected). The size cap is checked before parsing.
pub fn parse_notification(
    body: &[u8],
    max_bytes: usize,
) -> Result<Vec<EntityBatch>, NotificationError> {
    if body.len() > max_bytes {
        return Err(NotificationError::TooLarge {
            max: max_bytes,
            found: body.len(),
        });
    }
    // serde_json refuses nesting deeper than 128 levels, which bounds the recursion.
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| NotificationError::Json(e.to_string()))?;
    let top = value
        .as_object()
        .ok_or_else(|| shape("the top level".into(), "an object of entity kinds", &value))?;
    let mut batches = Vec::with_capacity(top.len());
    for (kind, list) in top {
        let entities = match list {
            serde_json::Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, e)| parse_entity(format!("{kind}[{i}]"), e))
                .collect::<Result<Vec<_>, _>>()?,
            serde_json::Value::Object(_) => vec![parse_entity(kind.clone(), list)?],
            other => return Err(shape(kind.clone(), "a list of entities", other)),
        };
        batches.push(EntityBatch {
            kind: kind.clone(),
            entities,
        });
    }
    Ok(batches)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_wrong_shapes_with_their_path() {
        assert!(matches!(
            parse_notification(b"[1]", 100),
            Err(NotificationError::Shape { .. })
        ));
        assert!(
            matches!(parse_notification(b"{\"people\": 3}", 100), Err(NotificationError::Shape { path, .. }) if path == "people")
        );
        assert!(matches!(
            parse_notification(br#"{"people": [{"id": [{"id": 1, "provider": "x"}]}]}"#, 100),
            Err(NotificationError::Shape { path, .. }) if path == "people[0].id[0].id"
        ));
        assert!(matches!(
            parse_notification(br#"{"people": [{"group_id": "a/b"}]}"#, 100),
            Err(NotificationError::Shape { path, .. }) if path == "people[0].group_id"
        ));
        assert!(matches!(
            parse_notification(b"{", 100),
            Err(NotificationError::Json(_))
        ));
        assert!(matches!(
            parse_notification(&[b' '; 101], 100),
            Err(NotificationError::TooLarge { found: 101, .. })
        ));
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(200), "]".repeat(200));
        assert!(matches!(
            parse_notification(deep.as_bytes(), 10_000),
            Err(NotificationError::Json(_))
        ));
    }

    #[test]
    fn keeps_unknown_kinds_and_reads_ids() {
        let b = parse_notification(
            br#"{"widgets": {"id": "w-1", "group_id": "cld-1"}, "people": [{"id": [{"id": "c1", "provider": "connec", "realm": "org"}, {"id": "A", "provider": "app", "realm": "r"}]}]}"#,
            1000,
        )
        .unwrap();
        let widgets = b.iter().find(|b| b.kind == "widgets").unwrap();
        assert_eq!(widgets.entities[0].connec_id(), Some("w-1"));
        let people = b.iter().find(|b| b.kind == "people").unwrap();
        assert_eq!(people.entities[0].id_for("app", Some("r")), Some("A"));
        assert_eq!(people.entities[0].id_for("app", Some("other")), None);
        assert_eq!(people.entities[0].connec_id(), Some("c1"));
    }
}
