//! Attribute Exchange (OpenID AX 1.0) values of a verified assertion, read by type URI and
//! mapped to the SAML attribute names of the same Maestrano values, so that an OpenID login
//! makes the same [`SsoLogin`] as a SAML one.

use super::error::OpenIdError;
use super::verify::VerifiedOpenId;
use crate::saml::{AttributeSource, SsoLogin};
use crate::types::MarketplaceKey;

/// The AX 1.0 namespace.
pub(crate) const AX_NS: &str = "http://openid.net/srv/ax/1.0";

/// Each AX type URI the platform sends and the SAML attribute carrying the same value:
/// mno-api-sandbox cd52c0b, app/controllers/api/openid/provider_controller.rb,
/// `add_identity_details` (the AX data), against app/controllers/api/v1/auth/saml_controller.rb
/// (the SAML attributes). `u_city` and `u_tz` have no SAML counterpart and are not read.
pub(crate) const MAESTRANO_TYPES: [(&str, &str); 20] = [
    ("http://openid.net/schema/person/guid", "uid"),
    (
        "http://openid.maestrano.com/schema/person/vguid",
        "virtual_uid",
    ),
    ("http://openid.net/schema/namePerson/first", "name"),
    ("http://openid.net/schema/namePerson/last", "surname"),
    ("http://openid.net/schema/contact/internet/email", "email"),
    (
        "http://openid.maestrano.com/schema/contact/internet/vemail",
        "virtual_email",
    ),
    ("http://openid.net/schema/contact/country/home", "country"),
    (
        "http://openid.maestrano.com/schema/session/key",
        "mno_session",
    ),
    (
        "http://openid.maestrano.com/schema/session/expiration",
        "mno_session_recheck",
    ),
    (
        "http://openid.maestrano.com/schema/company/guid",
        "group_uid",
    ),
    (
        "http://openid.maestrano.com/schema/company/role",
        "group_role",
    ),
    ("http://openid.net/schema/company/name", "group_name"),
    (
        "http://openid.maestrano.com/schema/company/email",
        "group_email",
    ),
    (
        "http://openid.maestrano.com/schema/company/country",
        "group_country",
    ),
    (
        "http://openid.maestrano.com/schema/company/city",
        "group_city",
    ),
    (
        "http://openid.maestrano.com/schema/company/timezone",
        "group_timezone",
    ),
    (
        "http://openid.maestrano.com/schema/company/reseller_id",
        "group_reseller_id",
    ),
    (
        "http://openid.maestrano.com/schema/reseller/guid",
        "reseller_id",
    ),
    (
        "http://openid.maestrano.com/schema/reseller/name",
        "reseller_name",
    ),
    (
        "http://openid.maestrano.com/schema/reseller/country",
        "reseller_country",
    ),
];

/// The AX values of an assertion, by SAML attribute name.
#[derive(Debug, Default)]
pub(crate) struct AxValues {
    values: Vec<(&'static str, String)>,
}

impl AttributeSource for AxValues {
    fn first_value(&self, name: &str) -> Option<&str> {
        let found = self
            .values
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str());
        // The SAML IdP sends `user.role(group) || 'Guest'` (saml_controller.rb L209); the
        // OpenID provider drops the blank role instead (`add_identity_details` removes blank
        // values), so a missing role is the same Guest.
        match (found, name) {
            (None, "group_role") => Some("Guest"),
            (found, _) => found,
        }
    }
}

impl AxValues {
    /// Reads the signed AX fetch response of `verified`, by type URI: the provider renumbers
    /// the aliases (`ext0`, `ext1`, …) and sends AX whether or not it was asked for. A value in
    /// the count form (`count.X=1`, `value.X.1`) is read as its first value.
    pub(crate) fn read(verified: &VerifiedOpenId) -> Result<Self, OpenIdError> {
        let signed = verified.signed();
        let mut aliases = signed
            .iter()
            .filter(|(k, v)| k.starts_with("ns.") && *v == AX_NS)
            .map(|(k, _)| &k[3..]);
        let Some(alias) = aliases.next() else {
            return Ok(Self::default());
        };
        if aliases.next().is_some() {
            return Err(OpenIdError::DuplicateField {
                name: "ns.<AX alias>".into(),
            });
        }
        let mut out = Self::default();
        let type_prefix = format!("{alias}.type.");
        for (key, uri) in signed.iter() {
            let Some(name) = key.strip_prefix(&type_prefix) else {
                continue;
            };
            let Some(&(_, saml_name)) = MAESTRANO_TYPES.iter().find(|(t, _)| *t == uri) else {
                continue;
            };
            if out.values.iter().any(|(n, _)| *n == saml_name) {
                return Err(OpenIdError::DuplicateField { name: key.into() });
            }
            let value = match signed.get(&format!("{alias}.count.{name}")) {
                Some("0") => None,
                Some(_) => signed.get(&format!("{alias}.value.{name}.1")),
                None => signed.get(&format!("{alias}.value.{name}")),
            };
            if let Some(value) = value {
                out.values.push((saml_name, value.to_owned()));
            }
        }
        Ok(out)
    }
}

impl VerifiedOpenId {
    /// The Maestrano login this assertion makes, for `marketplace`: the same [`SsoLogin`] as a
    /// SAML login of the same user (user, group, membership, session, reseller).
    ///
    /// # Errors
    ///
    /// [`OpenIdError::Attributes`] when a required Maestrano attribute is missing or malformed.
    pub fn login(&self, marketplace: &MarketplaceKey) -> Result<SsoLogin, OpenIdError> {
        let values = AxValues::read(self)?;
        Ok(SsoLogin::from_attributes(marketplace, &values)?)
    }
}
