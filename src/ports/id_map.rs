//! The `IdMapStore` port: where the identity map (local record ↔ remote entities) lives.
//!
//! A local record (class name + local id) may be linked to remote entities, each identified by
//! provider (for a marketplace: its key), realm (the customer account: for a marketplace, the
//! group uid), entity name and remote id.

use std::fmt::{self, Debug};

use async_trait::async_trait;
use time::OffsetDateTime;

/// Longest accepted value of any id map field, in bytes.
pub const MAX_FIELD_LEN: usize = 255;

/// An id map field failed validation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {field}: {reason}")]
pub struct FieldError {
    /// The field (`local_id`, `provider`, …).
    pub field: &'static str,
    /// What was wrong.
    pub reason: &'static str,
}

fn check_field(field: &'static str, value: &str) -> Result<(), FieldError> {
    if value.is_empty() {
        return Err(FieldError {
            field,
            reason: "must not be empty",
        });
    }
    if value.len() > MAX_FIELD_LEN {
        return Err(FieldError {
            field,
            reason: "must be at most 255 bytes",
        });
    }
    if value.contains('\0') {
        return Err(FieldError {
            field,
            reason: "must not contain NUL",
        });
    }
    Ok(())
}

/// A record of the application: its class (model) name and its id.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LocalRef {
    class_name: String,
    local_id: String,
}

impl LocalRef {
    /// A checked local reference.
    pub fn new(
        class_name: impl Into<String>,
        local_id: impl Into<String>,
    ) -> Result<Self, FieldError> {
        let (class_name, local_id) = (class_name.into(), local_id.into());
        check_field("class_name", &class_name)?;
        check_field("local_id", &local_id)?;
        Ok(Self {
            class_name,
            local_id,
        })
    }

    /// The class (model) name.
    pub fn class_name(&self) -> &str {
        &self.class_name
    }

    /// The local id.
    pub fn local_id(&self) -> &str {
        &self.local_id
    }
}

impl Debug for LocalRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LocalRef({}#{})", self.class_name, self.local_id)
    }
}

/// Where a remote entity lives: provider and realm (the customer account).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Realm {
    provider: String,
    realm: String,
}

impl Realm {
    /// A checked provider/realm pair.
    pub fn new(provider: impl Into<String>, realm: impl Into<String>) -> Result<Self, FieldError> {
        let (provider, realm) = (provider.into(), realm.into());
        check_field("provider", &provider)?;
        check_field("realm", &realm)?;
        Ok(Self { provider, realm })
    }

    /// The provider (a marketplace key, or `xero`, `quickbooks`, …).
    pub fn provider(&self) -> &str {
        &self.provider
    }

    /// The realm (for a marketplace: the group uid).
    pub fn realm(&self) -> &str {
        &self.realm
    }
}

impl Debug for Realm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Realm({}/{})", self.provider, self.realm)
    }
}

/// A remote entity: provider, realm, entity name and remote id.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RemoteRef {
    realm: Realm,
    entity: String,
    remote_id: String,
}

impl RemoteRef {
    /// A checked remote reference.
    pub fn new(
        realm: Realm,
        entity: impl Into<String>,
        remote_id: impl Into<String>,
    ) -> Result<Self, FieldError> {
        let (entity, remote_id) = (entity.into(), remote_id.into());
        check_field("entity", &entity)?;
        check_field("remote_id", &remote_id)?;
        Ok(Self {
            realm,
            entity,
            remote_id,
        })
    }

    /// Provider and realm.
    pub fn realm(&self) -> &Realm {
        &self.realm
    }

    /// The entity name (`people`, `invoices`, …).
    pub fn entity(&self) -> &str {
        &self.entity
    }

    /// The remote id.
    pub fn remote_id(&self) -> &str {
        &self.remote_id
    }
}

impl Debug for RemoteRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "RemoteRef({}/{}/{}#{})",
            self.realm.provider, self.realm.realm, self.entity, self.remote_id
        )
    }
}

/// One link of the identity map.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct IdMap {
    /// The local record.
    pub local: LocalRef,
    /// The remote entity.
    pub remote: RemoteRef,
    /// When the link was first made.
    pub created_at: OffsetDateTime,
    /// When the link was last changed.
    pub updated_at: OffsetDateTime,
    /// When the local record was last pushed to the remote side.
    pub pushed_to_remote_at: Option<OffsetDateTime>,
    /// When the remote entity was last pulled into the local record.
    pub pulled_from_remote_at: Option<OffsetDateTime>,
    /// Free-form data the application keeps with the link.
    pub metadata: Option<serde_json::Value>,
}

impl IdMap {
    /// A link made at `now`, with no push timestamps and no metadata.
    pub fn new(local: LocalRef, remote: RemoteRef, now: OffsetDateTime) -> Self {
        Self {
            local,
            remote,
            created_at: now,
            updated_at: now,
            pushed_to_remote_at: None,
            pulled_from_remote_at: None,
            metadata: None,
        }
    }
}

/// A page request for listings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// Continue after this remote reference (from the previous page), or start at the
    /// beginning.
    pub after: Option<RemoteRef>,
    /// At most this many links.
    pub limit: usize,
}

/// The identity map store failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdMapError {
    /// A field was invalid.
    #[error(transparent)]
    Field(#[from] FieldError),
    /// The remote entity is already linked to another local record.
    #[error("{remote:?} is already linked to {existing:?}, not {requested:?}")]
    Conflict {
        /// The remote entity.
        remote: RemoteRef,
        /// The record it is linked to.
        existing: LocalRef,
        /// The record the caller tried to link.
        requested: LocalRef,
    },
    /// The backing store failed.
    #[error("id map store failed: {0}")]
    Store(String),
}

/// Storage for the identity map.
#[async_trait]
pub trait IdMapStore: Send + Sync + Debug {
    /// Every link of a local record.
    async fn links_of(&self, local: &LocalRef) -> Result<Vec<IdMap>, IdMapError>;

    /// The links of a local record in one provider and realm (one per entity name).
    async fn links_in(&self, local: &LocalRef, realm: &Realm) -> Result<Vec<IdMap>, IdMapError>;

    /// The link of a remote entity, if any.
    async fn find_remote(&self, remote: &RemoteRef) -> Result<Option<IdMap>, IdMapError>;

    /// The links of many remote entities of one entity kind in one realm, in one call.
    async fn find_remotes(
        &self,
        realm: &Realm,
        entity: &str,
        remote_ids: &[String],
    ) -> Result<Vec<IdMap>, IdMapError>;

    /// The links of many local records of one class, in one call.
    async fn find_locals(
        &self,
        class_name: &str,
        local_ids: &[String],
    ) -> Result<Vec<IdMap>, IdMapError>;

    /// Creates the link or updates it (timestamps, metadata) when it exists with the same local
    /// record. A remote entity linked to another local record is a [`IdMapError::Conflict`].
    async fn link(&self, map: IdMap) -> Result<IdMap, IdMapError>;

    /// Removes the link of a remote entity; returns whether one existed.
    async fn unlink(&self, remote: &RemoteRef) -> Result<bool, IdMapError>;

    /// The links in one realm, ordered by entity and remote id, a page at a time.
    async fn list(&self, realm: &Realm, page: &PageRequest) -> Result<Vec<IdMap>, IdMapError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_validated() {
        assert!(LocalRef::new("Invoice", "42").is_ok());
        assert_eq!(
            LocalRef::new("", "42").unwrap_err(),
            FieldError {
                field: "class_name",
                reason: "must not be empty"
            }
        );
        assert_eq!(
            Realm::new("p", "r\0").unwrap_err().reason,
            "must not contain NUL"
        );
        let realm = Realm::new("maestrano", "cld-1").unwrap();
        assert_eq!(
            RemoteRef::new(realm, "invoices", "x".repeat(256))
                .unwrap_err()
                .field,
            "remote_id"
        );
    }
}
