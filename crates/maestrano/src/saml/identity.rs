//! Typed users, groups and memberships from the attributes of a verified Maestrano assertion.

use std::fmt;

use time::OffsetDateTime;

use super::response::VerifiedAssertion;
use crate::timestamp::parse_lenient;
use crate::types::{GroupUid, IdError, MarketplaceKey, ResellerUid, Secret, UserUid};

/// An attribute of the assertion was missing or unreadable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AttributeError {
    /// A required attribute is absent (or has no value).
    #[error("the assertion has no {name:?} attribute, which is required")]
    Missing {
        /// The attribute name.
        name: &'static str,
    },
    /// An attribute has a value of the wrong form.
    #[error("attribute {name:?}: expected {expected}, found {found:?}")]
    Invalid {
        /// The attribute name.
        name: &'static str,
        /// What was expected.
        expected: &'static str,
        /// The value found (truncated to 64 characters).
        found: String,
    },
}

fn invalid(name: &'static str, expected: &'static str, found: &str) -> AttributeError {
    AttributeError::Invalid {
        name,
        expected,
        found: found.chars().take(64).collect(),
    }
}

/// Which identity of a user the application records: Maestrano sends both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum IdentityMode {
    /// One account per user and company (`usr-1.cld-1`, `usr-1.cld-1@…`): a user who belongs to
    /// two companies is two users of the app (the official SDKs' `virtual` creation mode).
    Virtual,
    /// One account per real person (`usr-1`, their own email). The default, as in the official
    /// SDKs: maestrano-ruby's `sso.creation_mode` defaults to `real`, and maestrano-php's
    /// `getUid()` is the real uid (the virtual one is an explicit call).
    #[default]
    Real,
}

/// The virtual uid of a user in a group: `{user}.{group}`.
pub fn mask_uid(user: &UserUid, group: &GroupUid) -> Result<UserUid, IdError> {
    UserUid::new(format!("{user}.{group}"))
}

/// Splits a virtual uid `{user}.{group}` into its parts; `None` for a real uid.
pub fn unmask_uid(uid: &UserUid) -> Option<(UserUid, GroupUid)> {
    let (user, group) = uid.as_str().split_once('.')?;
    Some((UserUid::new(user).ok()?, GroupUid::new(group).ok()?))
}

/// The user, as Maestrano describes them.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MnoUser {
    /// The real uid (`uid`), such as `usr-1`.
    pub uid: UserUid,
    /// The uid within the group (`virtual_uid`), such as `usr-1.cld-1`.
    pub virtual_uid: UserUid,
    /// The real email (`email`).
    pub email: String,
    /// The email within the group (`virtual_email`).
    pub virtual_email: String,
    /// First name (`name`).
    pub first_name: String,
    /// Last name (`surname`).
    pub last_name: String,
    /// The user's country (`country`), as sent.
    pub country: Option<String>,
    /// The user's company name (`company_name`).
    pub company_name: Option<String>,
    /// `mno_uid`, the platform's uid of the user (the sandbox sends the user's uid).
    pub mno_uid: Option<UserUid>,
    /// `app_owner`: whether the user owns the application's subscription for the group.
    pub app_owner: Option<bool>,
    /// `organizations`, parsed as the JSON the platform sends (`{}` when it has none).
    pub organizations: Option<serde_json::Value>,
}

impl MnoUser {
    /// The uid to record under `mode`.
    pub fn uid_for(&self, mode: IdentityMode) -> &UserUid {
        match mode {
            IdentityMode::Virtual => &self.virtual_uid,
            IdentityMode::Real => &self.uid,
        }
    }

    /// The email to record under `mode`.
    pub fn email_for(&self, mode: IdentityMode) -> &str {
        match mode {
            IdentityMode::Virtual => &self.virtual_email,
            IdentityMode::Real => &self.email,
        }
    }
}

/// The group (customer company), as Maestrano describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MnoGroup {
    /// `group_uid`, such as `cld-1`.
    pub uid: GroupUid,
    /// `group_name`.
    pub name: Option<String>,
    /// `group_email`.
    pub email: Option<String>,
    /// `group_end_free_trial`; `None` when absent or sent as a year-0000 date.
    pub free_trial_end_at: Option<OffsetDateTime>,
    /// `group_has_credit_card`.
    pub has_credit_card: Option<bool>,
    /// `group_currency`.
    pub currency: Option<String>,
    /// `group_timezone`.
    pub timezone: Option<String>,
    /// `group_country` (not the user's `country`).
    pub country: Option<String>,
    /// `group_city`.
    pub city: Option<String>,
    /// `group_org_uid`, the organization in Connec! (sent by the production platform, not by
    /// the sandbox).
    pub org_uid: Option<String>,
    /// `group_reseller_id`: the reseller the group came through, if any.
    pub reseller_id: Option<ResellerUid>,
}

/// The user's role in the group.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Membership {
    /// The user (real uid).
    pub user_uid: UserUid,
    /// The group.
    pub group_uid: GroupUid,
    /// `group_role`, such as `Admin` or `Member`.
    pub role: String,
}

/// The reseller the group came through, when the marketplace sends one.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MnoReseller {
    /// `reseller_id`, such as `rsl-449s8fsd`.
    pub uid: ResellerUid,
    /// `reseller_name`.
    pub name: Option<String>,
    /// `reseller_country`.
    pub country: Option<String>,
}

/// The Maestrano session of the user, to re-check periodically (single logout).
#[derive(Clone)]
#[non_exhaustive]
pub struct MnoSessionToken {
    /// `mno_session`: a bearer token; kept secret.
    pub token: Secret,
    /// `mno_session_recheck`: when to ask the IdP whether the session is still alive.
    pub recheck_at: OffsetDateTime,
}

impl fmt::Debug for MnoSessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MnoSessionToken")
            .field("token", &self.token)
            .field("recheck_at", &self.recheck_at)
            .finish()
    }
}

/// Everything a login tells the application, typed.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SsoLogin {
    /// The marketplace the user came from.
    pub marketplace: MarketplaceKey,
    /// The user.
    pub user: MnoUser,
    /// The company the user logged in for.
    pub group: MnoGroup,
    /// The user's role in it.
    pub membership: Membership,
    /// The Maestrano session.
    pub session: MnoSessionToken,
    /// The reseller, when present.
    pub reseller: Option<MnoReseller>,
}

/// Where a login's attributes come from, by their SAML names: a verified SAML assertion, or
/// the AX values of a verified OpenID assertion mapped to those names.
pub(crate) trait AttributeSource {
    /// The first value of attribute `name`.
    fn first_value(&self, name: &str) -> Option<&str>;
}

impl AttributeSource for VerifiedAssertion {
    fn first_value(&self, name: &str) -> Option<&str> {
        VerifiedAssertion::first_value(self, name)
    }
}

struct Attrs<'a>(&'a dyn AttributeSource);

impl Attrs<'_> {
    fn opt(&self, name: &'static str) -> Option<String> {
        self.0
            .first_value(name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    }

    fn req(&self, name: &'static str) -> Result<String, AttributeError> {
        self.opt(name).ok_or(AttributeError::Missing { name })
    }

    fn user_uid(&self, name: &'static str) -> Result<UserUid, AttributeError> {
        let v = self.req(name)?;
        UserUid::new(&v).map_err(|_| invalid(name, "a user uid", &v))
    }

    fn group_uid(&self, name: &'static str) -> Result<GroupUid, AttributeError> {
        let v = self.req(name)?;
        GroupUid::new(&v).map_err(|_| invalid(name, "a group uid", &v))
    }

    fn opt_user_uid(&self, name: &'static str) -> Result<Option<UserUid>, AttributeError> {
        match self.opt(name) {
            None => Ok(None),
            Some(v) => UserUid::new(&v)
                .map(Some)
                .map_err(|_| invalid(name, "a user uid", &v)),
        }
    }

    fn reseller_uid(&self, name: &'static str) -> Result<Option<ResellerUid>, AttributeError> {
        match self.opt(name) {
            None => Ok(None),
            Some(v) => ResellerUid::new(&v)
                .map(Some)
                .map_err(|_| invalid(name, "a reseller uid", &v)),
        }
    }

    /// A JSON attribute (`organizations`), bounded by the assertion's own size limits.
    fn json(&self, name: &'static str) -> Result<Option<serde_json::Value>, AttributeError> {
        match self.opt(name) {
            None => Ok(None),
            Some(v) => serde_json::from_str(&v)
                .map(Some)
                .map_err(|_| invalid(name, "a JSON value", &v)),
        }
    }

    fn time(&self, name: &'static str) -> Result<Option<OffsetDateTime>, AttributeError> {
        match self.opt(name) {
            None => Ok(None),
            Some(v) => parse_lenient(&v).map_err(|_| invalid(name, "an RFC 3339 timestamp", &v)),
        }
    }

    fn bool(&self, name: &'static str) -> Result<Option<bool>, AttributeError> {
        match self.opt(name).as_deref() {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(v) => Err(invalid(name, "\"true\" or \"false\"", v)),
        }
    }
}

impl SsoLogin {
    /// Reads the Maestrano attributes of a verified assertion. Required: `uid`,
    /// `virtual_uid`, `email`, `virtual_email`, `group_uid`, `group_role`, `mno_session` and
    /// `mno_session_recheck`; every other attribute is optional.
    pub fn from_assertion(
        marketplace: &MarketplaceKey,
        assertion: &VerifiedAssertion,
    ) -> Result<Self, AttributeError> {
        Self::from_attributes(marketplace, assertion)
    }

    /// Reads the Maestrano attributes, by their SAML names, from `source`.
    pub(crate) fn from_attributes(
        marketplace: &MarketplaceKey,
        source: &dyn AttributeSource,
    ) -> Result<Self, AttributeError> {
        let a = Attrs(source);
        let user = MnoUser {
            uid: a.user_uid("uid")?,
            virtual_uid: a.user_uid("virtual_uid")?,
            email: a.req("email")?,
            virtual_email: a.req("virtual_email")?,
            first_name: a.opt("name").unwrap_or_default(),
            last_name: a.opt("surname").unwrap_or_default(),
            country: a.opt("country"),
            company_name: a.opt("company_name"),
            mno_uid: a.opt_user_uid("mno_uid")?,
            app_owner: a.bool("app_owner")?,
            organizations: a.json("organizations")?,
        };
        let group = MnoGroup {
            uid: a.group_uid("group_uid")?,
            name: a.opt("group_name"),
            email: a.opt("group_email"),
            free_trial_end_at: a.time("group_end_free_trial")?,
            has_credit_card: a.bool("group_has_credit_card")?,
            currency: a.opt("group_currency"),
            timezone: a.opt("group_timezone"),
            country: a.opt("group_country"),
            city: a.opt("group_city"),
            org_uid: a.opt("group_org_uid"),
            reseller_id: a.reseller_uid("group_reseller_id")?,
        };
        let membership = Membership {
            user_uid: user.uid.clone(),
            group_uid: group.uid.clone(),
            role: a.req("group_role")?,
        };
        let recheck_at = a
            .time("mno_session_recheck")?
            .ok_or(AttributeError::Missing {
                name: "mno_session_recheck",
            })?;
        let session = MnoSessionToken {
            token: Secret::new(a.req("mno_session")?),
            recheck_at,
        };
        // The platform names the reseller attributes `reseller_id`, `reseller_name` and
        // `reseller_country`, sent only on a reseller SSO (mno-api-sandbox cd52c0b,
        // saml_controller.rb L192-196).
        let reseller = a.reseller_uid("reseller_id")?.map(|uid| MnoReseller {
            uid,
            name: a.opt("reseller_name"),
            country: a.opt("reseller_country"),
        });
        Ok(Self {
            marketplace: marketplace.clone(),
            user,
            group,
            membership,
            session,
            reseller,
        })
    }
}
