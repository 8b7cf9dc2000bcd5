//! What to simulate: marketplaces with their users, groups, memberships and resellers.

use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;
use url::Url;

use super::error::SimulatorError;
use maestrano::ports::{Clock, OsRandom, RandomSource};
use maestrano::{GroupUid, MarketplaceKey, ResellerUid, Secret, UserUid};

/// A user of a simulated marketplace.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SimUser {
    /// The real uid (`uid` in the assertion), such as `usr-1`.
    pub uid: UserUid,
    /// The real email.
    pub email: String,
    /// First name (`name`).
    pub first_name: String,
    /// Last name (`surname`).
    pub last_name: String,
    /// Country code (`country`).
    pub country: Option<String>,
    /// The user's own company name (`company_name`).
    pub company_name: Option<String>,
}

impl SimUser {
    /// A user with a uid, an email and names.
    pub fn new(
        uid: UserUid,
        email: impl Into<String>,
        first_name: impl Into<String>,
        last_name: impl Into<String>,
    ) -> Self {
        Self {
            uid,
            email: email.into(),
            first_name: first_name.into(),
            last_name: last_name.into(),
            country: None,
            company_name: None,
        }
    }

    /// This user with a country code.
    pub fn with_country(mut self, country: impl Into<String>) -> Self {
        self.country = Some(country.into());
        self
    }

    /// This user with a company name.
    pub fn with_company_name(mut self, name: impl Into<String>) -> Self {
        self.company_name = Some(name.into());
        self
    }
}

/// A group (customer company) of a simulated marketplace.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SimGroup {
    /// The group uid, such as `cld-1`.
    pub uid: GroupUid,
    /// Its name.
    pub name: String,
    /// Its billing email.
    pub email: Option<String>,
    /// ISO 4217 currency code; the currency of its bills.
    pub currency: String,
    /// IANA time zone.
    pub timezone: String,
    /// Country code.
    pub country: Option<String>,
    /// City.
    pub city: Option<String>,
    /// Whether a credit card is on file.
    pub has_credit_card: bool,
    /// End of the free trial; `None` is sent as the year-0000 date Maestrano uses for "none".
    pub free_trial_end_at: Option<OffsetDateTime>,
    /// The Connec! organization uid (`group_org_uid`), the realm of Connec! ids in this
    /// group. Defaults to `org-` followed by the group uid.
    pub org_uid: String,
}

impl SimGroup {
    /// A group with a uid and a name; currency `AUD`, time zone `Australia/Sydney`.
    pub fn new(uid: GroupUid, name: impl Into<String>) -> Self {
        let org_uid = format!("org-{uid}");
        Self {
            uid,
            name: name.into(),
            email: None,
            currency: "AUD".into(),
            timezone: "Australia/Sydney".into(),
            country: None,
            city: None,
            has_credit_card: false,
            free_trial_end_at: None,
            org_uid,
        }
    }

    /// This group with another currency.
    pub fn with_currency(mut self, currency: impl Into<String>) -> Self {
        self.currency = currency.into();
        self
    }

    /// This group with another time zone.
    pub fn with_timezone(mut self, timezone: impl Into<String>) -> Self {
        self.timezone = timezone.into();
        self
    }

    /// This group with a billing email.
    pub fn with_email(mut self, email: impl Into<String>) -> Self {
        self.email = Some(email.into());
        self
    }

    /// This group with a country and a city.
    pub fn with_location(mut self, country: impl Into<String>, city: impl Into<String>) -> Self {
        self.country = Some(country.into());
        self.city = Some(city.into());
        self
    }

    /// This group with (or without) a credit card on file.
    pub fn with_credit_card(mut self, has: bool) -> Self {
        self.has_credit_card = has;
        self
    }

    /// This group with a free trial ending at `at`.
    pub fn with_free_trial_end(mut self, at: OffsetDateTime) -> Self {
        self.free_trial_end_at = Some(at);
        self
    }

    /// This group with another Connec! organization uid.
    pub fn with_org_uid(mut self, org_uid: impl Into<String>) -> Self {
        self.org_uid = org_uid.into();
        self
    }
}

/// A user's membership in a group, with a role such as `Admin` or `Member`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SimMembership {
    /// The user.
    pub user: UserUid,
    /// The group.
    pub group: GroupUid,
    /// The role (`group_role`).
    pub role: String,
}

/// A reseller, served by the account API.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SimReseller {
    /// The reseller uid, such as `rsl-1`.
    pub uid: ResellerUid,
    /// Its name.
    pub name: String,
    /// Its code.
    pub code: String,
    /// Its country code.
    pub country: String,
}

impl SimReseller {
    /// A reseller.
    pub fn new(
        uid: ResellerUid,
        name: impl Into<String>,
        code: impl Into<String>,
        country: impl Into<String>,
    ) -> Self {
        Self {
            uid,
            name: name.into(),
            code: code.into(),
            country: country.into(),
        }
    }
}

/// The paths of the application that a marketplace configuration names, relative to the
/// application's base URL. The defaults are the developer platform's, ending in the marketplace
/// key (see [`AppPaths::for_marketplace`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AppPaths {
    /// `sso.init_path`.
    pub init_path: String,
    /// `sso.consume_path` (the ACS).
    pub consume_path: String,
    /// `webhooks.account.group_path`, with `:id`.
    pub group_path: String,
    /// `webhooks.account.group_user_path`, with `:group_id` and `:id`.
    pub group_user_path: String,
    /// `webhooks.connec.notification_path`.
    pub notification_path: String,
}

impl AppPaths {
    /// The developer platform's default paths for `key`:
    /// `/maestrano/auth/saml/init/{key}`, `/maestrano/auth/saml/consume/{key}`,
    /// `/maestrano/account/groups/:id/{key}`,
    /// `/maestrano/account/groups/:group_id/users/:id/{key}` and
    /// `/maestrano/connec/notifications/{key}`.
    pub fn for_marketplace(key: &MarketplaceKey) -> Self {
        Self {
            init_path: format!("/maestrano/auth/saml/init/{key}"),
            consume_path: format!("/maestrano/auth/saml/consume/{key}"),
            group_path: format!("/maestrano/account/groups/:id/{key}"),
            group_user_path: format!("/maestrano/account/groups/:group_id/users/:id/{key}"),
            notification_path: format!("/maestrano/connec/notifications/{key}"),
        }
    }

    /// The SDK's prefixed routes under `prefix` (such as `/mno-enterprise`), which serve every
    /// tenant with the key in the path.
    pub fn prefixed(prefix: &str, key: &MarketplaceKey) -> Self {
        let p = prefix.trim_end_matches('/');
        Self {
            init_path: format!("{p}/{key}/saml/initialize"),
            consume_path: format!("{p}/{key}/saml/consume"),
            group_path: format!("{p}/{key}/account/group/:id"),
            group_user_path: format!("{p}/{key}/account/group/:group_id/user/:id"),
            notification_path: format!("{p}/{key}/connec/receive"),
        }
    }
}

/// One simulated marketplace: its key, the application it serves, and its accounts.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct MarketplaceSpec {
    /// The marketplace key.
    pub key: MarketplaceKey,
    /// The application's base URL: `app.host` and `sso.idm` of the served configuration, and
    /// the base of the webhook URLs.
    pub app_host: Url,
    /// The application's paths.
    pub paths: AppPaths,
    /// The users; the first one logs in when a login names none.
    pub users: Vec<SimUser>,
    /// The groups.
    pub groups: Vec<SimGroup>,
    /// Who belongs to which group, in order (a user's first membership is their default group).
    pub memberships: Vec<SimMembership>,
    /// The resellers.
    pub resellers: Vec<SimReseller>,
    /// What the IdP sends. Default [`IdpMode::Platform`].
    pub idp_mode: IdpMode,
    /// Sign with the public sandbox IdP key pair instead of a generated one.
    pub sandbox_idp_key: bool,
}

/// What a simulated IdP sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum IdpMode {
    /// The Maestrano platform's exact response (mno-api-sandbox cd52c0b on ruby-saml-idp
    /// 0.3.2): RSA-SHA1 with a 1024-bit key, SHA-1 digest over the template's own bytes,
    /// unescaped values, Issuer = the IdP request URL cut at the first `&`, Audience = the ACS
    /// origin + "/", `Base64.encode64` line breaks, no RelayState. The default: what an app
    /// meets in production.
    #[default]
    Platform,
    /// A modern SAML IdP: RSA-SHA256 with a 2048-bit key over exclusive canonicalization,
    /// prefixed elements, escaped values, RelayState echoed; for tests of the strict
    /// signature profile.
    Modern,
}

impl MarketplaceSpec {
    /// A marketplace serving the application at `app_host`, with the default paths and no
    /// accounts yet.
    pub fn new(key: MarketplaceKey, app_host: Url) -> Self {
        let paths = AppPaths::for_marketplace(&key);
        Self {
            key,
            app_host,
            paths,
            users: Vec::new(),
            groups: Vec::new(),
            memberships: Vec::new(),
            resellers: Vec::new(),
            idp_mode: IdpMode::Platform,
            sandbox_idp_key: false,
        }
    }

    /// This marketplace's IdP sending `mode`'s responses.
    pub fn with_idp_mode(mut self, mode: IdpMode) -> Self {
        self.idp_mode = mode;
        self
    }

    /// This marketplace's IdP signing with the public sandbox key pair (RSA-1024, the
    /// platform mode only), as the public sandbox does.
    pub fn with_sandbox_idp_key(mut self) -> Self {
        self.sandbox_idp_key = true;
        self
    }

    /// This marketplace with other application paths.
    pub fn with_paths(mut self, paths: AppPaths) -> Self {
        self.paths = paths;
        self
    }

    /// Adds a user.
    pub fn user(mut self, user: SimUser) -> Self {
        self.users.push(user);
        self
    }

    /// Adds a group.
    pub fn group(mut self, group: SimGroup) -> Self {
        self.groups.push(group);
        self
    }

    /// Makes `user` a member of `group` with `role` (such as `Admin`).
    pub fn member(mut self, user: &UserUid, group: &GroupUid, role: impl Into<String>) -> Self {
        self.memberships.push(SimMembership {
            user: user.clone(),
            group: group.clone(),
            role: role.into(),
        });
        self
    }

    /// Adds a reseller.
    pub fn reseller(mut self, reseller: SimReseller) -> Self {
        self.resellers.push(reseller);
        self
    }

    /// A marketplace with one user (`usr-1` … for index 1) who is `Admin` of one group, and one
    /// reseller: a ready-made tenant for tests and demos. Uids carry the `index` so that two
    /// demo marketplaces never share an account.
    pub fn demo(key: MarketplaceKey, app_host: Url, index: u32) -> Self {
        let id = |prefix: &str| format!("{prefix}-{index}");
        // ASCII letters, digits and '-': every id type accepts them.
        let user = UserUid::new(id("usr")).expect("demo uids are path-safe");
        let group = GroupUid::new(id("cld")).expect("demo uids are path-safe");
        let reseller = ResellerUid::new(id("rsl")).expect("demo uids are path-safe");
        let name = format!("Company {index} of {key}");
        Self::new(key.clone(), app_host)
            .user(
                SimUser::new(
                    user.clone(),
                    format!("user{index}@{key}.example.com"),
                    "Jane",
                    format!("Doe {index}"),
                )
                .with_country("AU"),
            )
            .group(
                SimGroup::new(group.clone(), name)
                    .with_email(format!("billing@company{index}.example.com"))
                    .with_location("AU", "Sydney")
                    .with_credit_card(true),
            )
            .member(&user, &group, "Admin")
            .reseller(SimReseller::new(
                reseller,
                format!("Reseller {index}"),
                format!("AU-{index:06}-RSL"),
                "AU",
            ))
    }

    pub(crate) fn check(&self) -> Result<(), SimulatorError> {
        let bad = |m: String| {
            Err(SimulatorError::Config(format!(
                "marketplace {}: {m}",
                self.key
            )))
        };
        if self.users.is_empty() {
            return bad("has no user".into());
        }
        if !matches!(self.app_host.scheme(), "http" | "https") {
            return bad("app_host must be an http(s) URL".into());
        }
        for (i, u) in self.users.iter().enumerate() {
            if self.users[..i].iter().any(|o| o.uid == u.uid) {
                return bad(format!("user {} twice", u.uid));
            }
        }
        for (i, g) in self.groups.iter().enumerate() {
            if self.groups[..i].iter().any(|o| o.uid == g.uid) {
                return bad(format!("group {} twice", g.uid));
            }
        }
        for m in &self.memberships {
            if !self.users.iter().any(|u| u.uid == m.user) {
                return bad(format!("membership names unknown user {}", m.user));
            }
            if !self.groups.iter().any(|g| g.uid == m.group) {
                return bad(format!("membership names unknown group {}", m.group));
            }
        }
        Ok(())
    }
}

/// The simulator's configuration: the marketplaces and the ports it uses.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SimulatorConfig {
    /// The marketplaces, each served on its own port.
    pub marketplaces: Vec<MarketplaceSpec>,
    /// Every time the simulator writes (assertion validity, sessions, bills, entities) is
    /// read from this clock.
    pub clock: Arc<dyn Clock>,
    /// Ids, tokens and credentials come from here (the operating system's generator by
    /// default). Keys are always generated from the operating system's generator.
    pub random: Arc<dyn RandomSource>,
    /// The developer-platform environment key and secret; random when `None`.
    pub env_credentials: Option<(String, Secret)>,
    /// How long after a login or a session check the app is told to re-check
    /// (`mno_session_recheck`, the session check's `recheck`). Default three minutes.
    pub session_recheck: time::Duration,
    /// How long an assertion is valid (Conditions and SubjectConfirmation NotOnOrAfter).
    /// Default five minutes.
    pub assertion_lifetime: time::Duration,
    /// How long an IdP session lasts (SessionNotOnOrAfter). Default one day.
    pub session_lifetime: time::Duration,
    /// How long the webhook sender waits for the application by default. Default 5 seconds.
    pub webhook_timeout: Duration,
}

impl SimulatorConfig {
    /// No marketplaces yet; time from `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            marketplaces: Vec::new(),
            clock,
            random: Arc::new(OsRandom),
            env_credentials: None,
            session_recheck: time::Duration::minutes(3),
            assertion_lifetime: time::Duration::minutes(5),
            session_lifetime: time::Duration::days(1),
            webhook_timeout: Duration::from_secs(5),
        }
    }

    /// Two demo marketplaces, `acme-corp` and `globex`, both serving the application at
    /// `app_host` (see [`MarketplaceSpec::demo`]).
    pub fn two_marketplaces(clock: Arc<dyn Clock>, app_host: &Url) -> Self {
        let key = |k: &str| MarketplaceKey::new(k).expect("the demo keys are path-safe");
        Self::new(clock)
            .marketplace(MarketplaceSpec::demo(key("acme-corp"), app_host.clone(), 1))
            .marketplace(MarketplaceSpec::demo(key("globex"), app_host.clone(), 2))
    }

    /// Adds a marketplace.
    pub fn marketplace(mut self, spec: MarketplaceSpec) -> Self {
        self.marketplaces.push(spec);
        self
    }

    /// Fixed developer-platform credentials instead of random ones.
    pub fn with_env_credentials(mut self, key: impl Into<String>, secret: Secret) -> Self {
        self.env_credentials = Some((key.into(), secret));
        self
    }

    /// Another source of ids and tokens.
    pub fn with_random(mut self, random: Arc<dyn RandomSource>) -> Self {
        self.random = random;
        self
    }

    /// Another session re-check interval.
    pub fn with_session_recheck(mut self, every: time::Duration) -> Self {
        self.session_recheck = every;
        self
    }

    /// Another assertion lifetime.
    pub fn with_assertion_lifetime(mut self, lifetime: time::Duration) -> Self {
        self.assertion_lifetime = lifetime;
        self
    }

    /// Every marketplace added so far with its IdP sending `mode`'s responses.
    pub fn with_idp_mode(mut self, mode: IdpMode) -> Self {
        for m in &mut self.marketplaces {
            m.idp_mode = mode;
        }
        self
    }

    /// Another default webhook timeout.
    pub fn with_webhook_timeout(mut self, timeout: Duration) -> Self {
        self.webhook_timeout = timeout;
        self
    }

    pub(crate) fn check(&self) -> Result<(), SimulatorError> {
        if self.marketplaces.is_empty() {
            return Err(SimulatorError::Config("no marketplace".into()));
        }
        if self.marketplaces.len() > 64 {
            return Err(SimulatorError::Config(
                "at most 64 marketplaces (each one binds a port)".into(),
            ));
        }
        for (i, m) in self.marketplaces.iter().enumerate() {
            if self.marketplaces[..i].iter().any(|o| o.key == m.key) {
                return Err(SimulatorError::Config(format!(
                    "marketplace {} twice",
                    m.key
                )));
            }
            m.check()?;
        }
        if let Some((key, secret)) = &self.env_credentials
            && (key.is_empty() || key.contains(':') || secret.is_empty())
        {
            return Err(SimulatorError::Config(
                "the environment key must be non-empty without ':' and the secret non-empty".into(),
            ));
        }
        Ok(())
    }
}
