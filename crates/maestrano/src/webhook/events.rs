//! The typed events a marketplace delivers, and the reading of Connec! notification bodies.

use crate::connec::decode::decode_notification;
use crate::connec::{ConnecError, Notification};
use crate::rest::RestError;
use crate::types::{GroupUid, MarketplaceKey, UserUid};

/// Default cap on a notification body: 10 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

/// A notification body was refused.
#[derive(Debug, thiserror::Error)]
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
    /// The body is not a notification: not JSON, nested too deep, or of the wrong shape.
    #[error("invalid notification: {0}")]
    Invalid(#[source] ConnecError),
}

impl NotificationError {
    /// A short reason for the reply and the logs: what was wrong, never the body itself (a
    /// notification carries personal data) and never more than 160 characters.
    pub fn reason(&self) -> String {
        let reason = match self {
            Self::TooLarge { .. } => self.to_string(),
            Self::Invalid(ConnecError::Rest(RestError::NotJson { .. })) => {
                "the body is not JSON".to_owned()
            }
            Self::Invalid(ConnecError::Rest(RestError::NestingTooDeep { limit, .. })) => {
                format!("the body nests JSON deeper than {limit} levels")
            }
            Self::Invalid(ConnecError::Rest(RestError::ResponseTooLarge {
                limit, found, ..
            })) => {
                format!("body is {found} bytes, more than the {limit}-byte limit")
            }
            Self::Invalid(ConnecError::Rest(RestError::InvalidResponse { detail, .. })) => {
                detail.clone()
            }
            Self::Invalid(_) => "the body is not a Connec! notification".to_owned(),
        };
        match reason.char_indices().nth(160) {
            Some((at, _)) => format!("{}…", &reason[..at]),
            None => reason,
        }
    }

    /// Whether the body was refused for its size.
    pub fn is_too_large(&self) -> bool {
        matches!(
            self,
            Self::TooLarge { .. }
                | Self::Invalid(ConnecError::Rest(RestError::ResponseTooLarge { .. }))
        )
    }
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
    /// Data changed in another application: the entities by kind (unknown kinds included),
    /// each with its own `group_id` and id array.
    ConnecNotification {
        /// The tenant.
        marketplace: MarketplaceKey,
        /// The entities.
        notification: Notification,
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

/// Reads a Connec! notification body (`{"<kind>": [entity, …], …}`), refusing a body over
/// `max_bytes` before parsing it.
pub fn parse_notification(
    body: &[u8],
    max_bytes: usize,
) -> Result<Notification, NotificationError> {
    if body.len() > max_bytes {
        return Err(NotificationError::TooLarge {
            max: max_bytes,
            found: body.len(),
        });
    }
    decode_notification(body).map_err(NotificationError::Invalid)
}
