//! Connec! entities: free-form JSON objects with typed access to ids and common fields, and
//! typed structs for a few common kinds that keep every unknown field.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::error::ConnecError;
use crate::rest::RestError;
use crate::timestamp::parse_rfc3339 as parse_timestamp;

/// One reference in an id array: an entity's id at a provider (`connec` for Connec!'s own
/// id) in a realm (the provider's account or organization).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct IdRef {
    /// The id at the provider.
    pub id: String,
    /// The provider: `connec`, or the application's provider name.
    pub provider: String,
    /// The realm; Connec! omits it in some replies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realm: Option<String>,
}

impl IdRef {
    /// A reference to `id` at `provider` in `realm`.
    pub fn new(id: impl Into<String>, provider: impl Into<String>, realm: Option<String>) -> Self {
        Self {
            id: id.into(),
            provider: provider.into(),
            realm,
        }
    }
}

/// An id array `[{id, provider, realm}]`: the ids of one entity at several providers.
///
/// It is read from either shape the platform sends: Connec!'s array, or the plain string of
/// the platform's sandbox Connec! stub, whose `process_entity` merges `id: entity.uid` into
/// the document (`maestrano/mno-api-sandbox`,
/// `app/controllers/connec/api/v2/resources_controller.rb`); a plain string is Connec!'s own
/// id (provider `connec`). It is always written as an array.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct IdArray(pub Vec<IdRef>);

/// The two wire shapes of an entity's `id`.
#[derive(Deserialize)]
#[serde(untagged)]
enum IdsWire {
    Array(Vec<IdRef>),
    Plain(String),
}

impl<'de> Deserialize<'de> for IdArray {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match IdsWire::deserialize(deserializer)? {
            IdsWire::Array(refs) => Ok(Self(refs)),
            IdsWire::Plain(id) if !id.is_empty() => {
                Ok(Self(vec![IdRef::new(id, CONNEC_PROVIDER, None)]))
            }
            IdsWire::Plain(_) => Err(serde::de::Error::custom(
                "expected an id array or a non-empty id, found an empty string",
            )),
        }
    }
}

/// The provider name of Connec!'s own ids.
pub const CONNEC_PROVIDER: &str = "connec";

impl IdArray {
    /// Connec!'s own id (provider `connec`).
    pub fn connec_id(&self) -> Option<&str> {
        self.0
            .iter()
            .find(|r| r.provider == CONNEC_PROVIDER)
            .map(|r| r.id.as_str())
    }

    /// The id at `provider` in `realm` (with `realm` `None`, at `provider` in any realm).
    pub fn id_for(&self, provider: &str, realm: Option<&str>) -> Option<&str> {
        self.0
            .iter()
            .find(|r| {
                r.provider == provider && realm.is_none_or(|want| r.realm.as_deref() == Some(want))
            })
            .map(|r| r.id.as_str())
    }

    /// Adds a reference, replacing the one for the same provider and realm.
    pub fn set(&mut self, reference: IdRef) {
        self.0
            .retain(|r| !(r.provider == reference.provider && r.realm == reference.realm));
        self.0.push(reference);
    }

    /// The references.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &IdRef> {
        self.0.iter()
    }

    /// How many references.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Reads an id array from JSON (either shape, see [`IdArray`]), `None` when `value` is
    /// neither.
    pub fn from_json(value: &Value) -> Option<Self> {
        if let Value::String(id) = value {
            return (!id.is_empty()).then(|| Self(vec![IdRef::new(id, CONNEC_PROVIDER, None)]));
        }
        let items = value.as_array()?;
        items
            .iter()
            .map(|i| serde_json::from_value::<IdRef>(i.clone()).ok())
            .collect::<Option<Vec<_>>>()
            .map(IdArray)
    }
}

/// A Connec! entity: a JSON object, kept whole so that fields this SDK does not know survive
/// a read-modify-write, with typed access to the common fields.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Entity(Map<String, Value>);

impl Entity {
    /// An empty entity.
    pub fn new() -> Self {
        Self::default()
    }

    /// The entity `value`, which must be an object.
    ///
    /// # Errors
    ///
    /// [`RestError::InvalidInput`](crate::RestError::InvalidInput) when `value` is not an object.
    pub fn from_value(value: Value) -> Result<Self, ConnecError> {
        match value {
            Value::Object(m) => Ok(Self(m)),
            other => Err(ConnecError::Rest(RestError::InvalidInput {
                field: "entity",
                expected: "a JSON object",
                found: crate::rest::wire::json_kind(&other).to_owned(),
            })),
        }
    }

    /// The fields.
    pub fn fields(&self) -> &Map<String, Value> {
        &self.0
    }

    /// The fields, to change them.
    pub fn fields_mut(&mut self) -> &mut Map<String, Value> {
        &mut self.0
    }

    /// The entity as a JSON object.
    pub fn into_value(self) -> Value {
        Value::Object(self.0)
    }

    /// One field.
    pub fn get(&self, field: &str) -> Option<&Value> {
        self.0.get(field)
    }

    /// Sets a field; returns the previous value.
    pub fn insert(&mut self, field: impl Into<String>, value: Value) -> Option<Value> {
        self.0.insert(field.into(), value)
    }

    /// A text field.
    pub fn str(&self, field: &str) -> Option<&str> {
        self.0.get(field).and_then(Value::as_str)
    }

    /// A boolean field.
    pub fn bool(&self, field: &str) -> Option<bool> {
        self.0.get(field).and_then(Value::as_bool)
    }

    /// A timestamp field (RFC 3339, with or without fractional seconds).
    pub fn timestamp(&self, field: &str) -> Option<OffsetDateTime> {
        self.str(field)
            .and_then(|s| parse_timestamp(s).ok().flatten())
    }

    /// The id array in `field` (`id`, `organization_id`, `person_id`, …); `None` when absent
    /// or not an id array.
    pub fn id_array(&self, field: &str) -> Option<IdArray> {
        self.0.get(field).and_then(IdArray::from_json)
    }

    /// The entity's own ids (`id`). Entities decoded by the client always have a well-formed
    /// id array or none.
    pub fn ids(&self) -> Option<IdArray> {
        self.id_array("id")
    }

    /// Sets the entity's own ids.
    pub fn set_ids(&mut self, ids: &IdArray) {
        self.0.insert(
            "id".into(),
            serde_json::to_value(ids).expect("id arrays serialise"),
        );
    }

    /// Connec!'s id of the entity.
    pub fn connec_id(&self) -> Option<String> {
        self.ids()
            .and_then(|ids| ids.connec_id().map(str::to_owned))
    }

    /// The entity's id at `provider` in `realm`.
    pub fn id_for(&self, provider: &str, realm: Option<&str>) -> Option<String> {
        self.ids()
            .and_then(|ids| ids.id_for(provider, realm).map(str::to_owned))
    }

    /// The group (tenant customer) the entity belongs to (`group_id`).
    pub fn group_id(&self) -> Option<&str> {
        self.str("group_id")
    }

    /// When the entity was created.
    pub fn created_at(&self) -> Option<OffsetDateTime> {
        self.timestamp("created_at")
    }

    /// When the entity last changed.
    pub fn updated_at(&self) -> Option<OffsetDateTime> {
        self.timestamp("updated_at")
    }

    /// The entity as a typed struct.
    ///
    /// # Errors
    ///
    /// [`RestError::InvalidInput`](crate::RestError::InvalidInput) when a known field has the wrong type.
    pub fn to_typed<T: ConnecEntity>(&self) -> Result<T, ConnecError> {
        serde_json::from_value(Value::Object(self.0.clone())).map_err(|e| {
            ConnecError::Rest(RestError::InvalidInput {
                field: "entity",
                expected: T::COLLECTION,
                found: e.to_string(),
            })
        })
    }

    /// A typed struct as an entity.
    pub fn from_typed<T: ConnecEntity>(typed: &T) -> Result<Self, ConnecError> {
        let value = serde_json::to_value(typed).map_err(|e| {
            ConnecError::Rest(RestError::InvalidInput {
                field: "entity",
                expected: "an entity that serialises to JSON",
                found: e.to_string(),
            })
        })?;
        Self::from_value(value)
    }

    /// Checks that `id`, when present, is an id array (Connec! v2) or the sandbox's plain
    /// string id.
    pub(crate) fn check_ids(&self) -> Result<(), String> {
        match self.0.get("id") {
            None | Some(Value::Null) => Ok(()),
            Some(v) if IdArray::from_json(v).is_some() => Ok(()),
            Some(v) => Err(format!(
                "expected `id` to be an array of {{id, provider, realm}} or a non-empty id, found {}",
                crate::rest::wire::json_kind(v)
            )),
        }
    }
}

/// A typed Connec! entity: its collection name and its JSON form.
pub trait ConnecEntity: Serialize + DeserializeOwned {
    /// The collection, such as `people`.
    const COLLECTION: &'static str;
}

macro_rules! typed_entity {
    (
        $(#[$m:meta])* $name:ident => $collection:literal {
            $($(#[$fm:meta])* $field:ident : $ty:ty $(as $rename:literal)?,)*
        }
    ) => {
        $(#[$m])*
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        #[non_exhaustive]
        pub struct $name {
            /// The entity's ids.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub id: Option<IdArray>,
            $(
                $(#[$fm])*
                #[serde(default, skip_serializing_if = "Option::is_none" $(, rename = $rename)?)]
                pub $field: $ty,
            )*
            /// The group (customer) the entity belongs to.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub group_id: Option<String>,
            /// When the entity was created.
            #[serde(default, skip_serializing_if = "Option::is_none", with = "time::serde::rfc3339::option")]
            pub created_at: Option<OffsetDateTime>,
            /// When the entity last changed.
            #[serde(default, skip_serializing_if = "Option::is_none", with = "time::serde::rfc3339::option")]
            pub updated_at: Option<OffsetDateTime>,
            /// Every other field, kept as sent so that it survives a round trip.
            #[serde(flatten)]
            pub extra: Map<String, Value>,
        }

        impl ConnecEntity for $name {
            const COLLECTION: &'static str = $collection;
        }
    };
}

typed_entity! {
    /// A person (`people`): a contact, customer, supplier or lead.
    Person => "people" {
        /// The code, such as `PE3`.
        code: Option<String>,
        /// The status, such as `ACTIVE`.
        status: Option<String>,
        /// The title, such as `Mr.`.
        title: Option<String>,
        /// First name.
        first_name: Option<String>,
        /// Last name.
        last_name: Option<String>,
        /// Job title.
        job_title: Option<String>,
        /// The organization the person belongs to.
        organization_id: Option<IdArray>,
        /// Whether the person is a customer.
        is_customer: Option<bool>,
        /// Whether the person is a supplier.
        is_supplier: Option<bool>,
        /// Whether the person is a lead.
        is_lead: Option<bool>,
    }
}

typed_entity! {
    /// An organization (`organizations`): a company.
    Organization => "organizations" {
        /// The code.
        code: Option<String>,
        /// The status, such as `ACTIVE`.
        status: Option<String>,
        /// The name.
        name: Option<String>,
        /// The industry.
        industry: Option<String>,
        /// Whether the organization is a customer.
        is_customer: Option<bool>,
        /// Whether the organization is a supplier.
        is_supplier: Option<bool>,
        /// Whether the organization is a lead.
        is_lead: Option<bool>,
    }
}

typed_entity! {
    /// An invoice (`invoices`). Amounts and lines stay in [`extra`](Invoice::extra) as sent.
    Invoice => "invoices" {
        /// The invoice number.
        transaction_number: Option<String>,
        /// The title.
        title: Option<String>,
        /// The status, such as `DRAFT` or `PAID`.
        status: Option<String>,
        /// `CUSTOMER` (sales) or `SUPPLIER` (purchases).
        invoice_type: Option<String> as "type",
        /// The invoice date.
        transaction_date: Option<String>,
        /// The due date.
        due_date: Option<String>,
        /// The organization invoiced.
        organization_id: Option<IdArray>,
        /// The person invoiced.
        person_id: Option<IdArray>,
    }
}

typed_entity! {
    /// An item (`items`): a product or service. Prices stay in [`extra`](Item::extra) as sent.
    Item => "items" {
        /// The code.
        code: Option<String>,
        /// The name.
        name: Option<String>,
        /// The description.
        description: Option<String>,
        /// The status.
        status: Option<String>,
        /// `PURCHASED`, `MANUFACTURED`, `SERVICE`, …
        item_type: Option<String> as "type",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn id_arrays_pick_by_provider_and_realm() {
        let ids: IdArray = serde_json::from_value(json!([
            {"realm": "org-fg4a", "provider": "connec", "id": "c-1"},
            {"realm": "realm-42", "provider": "myapp", "id": "C-1001"},
            {"realm": "realm-43", "provider": "myapp", "id": "C-2002"},
            {"provider": "other", "id": "o-1"}
        ]))
        .unwrap();
        assert_eq!(ids.connec_id(), Some("c-1"));
        assert_eq!(ids.id_for("myapp", Some("realm-43")), Some("C-2002"));
        assert_eq!(ids.id_for("myapp", None), Some("C-1001"));
        assert_eq!(ids.id_for("myapp", Some("nope")), None);
        assert_eq!(ids.id_for("other", None), Some("o-1"));
        let mut ids = ids;
        ids.set(IdRef::new("C-9", "myapp", Some("realm-42".into())));
        assert_eq!(ids.len(), 4);
        assert_eq!(ids.id_for("myapp", Some("realm-42")), Some("C-9"));
    }

    #[test]
    fn typed_entities_keep_unknown_fields_on_round_trip() {
        let v = json!({
            "id": [{"realm": "org", "provider": "connec", "id": "c-1"}],
            "first_name": "John",
            "email": {"address": "j@example.com"},
            "phone": {"landline": "123"},
            "is_customer": true,
            "group_id": "cld-1",
            "updated_at": "2016-02-03T22:40:12.389Z",
            "future_field": [1, 2, {"x": null}]
        });
        let p: Person = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(p.first_name.as_deref(), Some("John"));
        assert_eq!(p.id.as_ref().unwrap().connec_id(), Some("c-1"));
        assert_eq!(p.extra["email"]["address"], "j@example.com");
        assert_eq!(serde_json::to_value(&p).unwrap(), v);
    }

    #[test]
    fn invoice_type_is_renamed() {
        let i: Invoice = serde_json::from_value(json!({"type": "CUSTOMER", "lines": []})).unwrap();
        assert_eq!(i.invoice_type.as_deref(), Some("CUSTOMER"));
        assert_eq!(
            serde_json::to_value(&i).unwrap(),
            json!({"type": "CUSTOMER", "lines": []})
        );
    }

    #[test]
    fn plain_string_ids_are_connec_ids() {
        let e = Entity::from_value(json!({"id": "9f3b"})).unwrap();
        assert!(e.check_ids().is_ok());
        assert_eq!(e.connec_id().as_deref(), Some("9f3b"));
        let typed: Person = serde_json::from_value(json!({"id": "9f3b"})).unwrap();
        assert_eq!(typed.id.unwrap().connec_id(), Some("9f3b"));
        let empty = Entity::from_value(json!({"id": ""})).unwrap();
        assert!(
            empty.check_ids().unwrap_err().contains("a string"),
            "empty is refused"
        );
        assert!(serde_json::from_value::<Person>(json!({"id": ""})).is_err());
        let number = Entity::from_value(json!({"id": 7})).unwrap();
        assert!(number.check_ids().unwrap_err().contains("a number"));
        assert!(
            Entity::from_value(json!({"first_name": "x"}))
                .unwrap()
                .check_ids()
                .is_ok()
        );
        assert!(Entity::from_value(json!([1])).is_err());
    }
}
