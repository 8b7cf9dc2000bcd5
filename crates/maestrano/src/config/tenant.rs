//! The tenant handle: one marketplace's validated configuration as the application serves
//! it, with the URLs of its SSO flow built from `sso.idm` (the application side) and
//! `sso.idp` (the marketplace side, never `api.host`).
//!
//! Each capability takes what it needs from a tenant (`sso`, `api`, `connec`, `webhook`,
//! `idmap`); this file holds only what is configuration.

use std::fmt;
use std::sync::Arc;

use serde_json::Value;
use url::Url;

use super::metadata::metadata_json;
use super::model::MarketplaceConfig;
use time::OffsetDateTime;

use crate::types::{ApiId, ApiKey, MarketplaceKey, UserUid};

/// One tenant: an immutable, validated configuration, cheap to clone and to share across
/// threads. A tenant handle never changes; a refresh makes new handles.
#[derive(Clone)]
pub struct Tenant {
    config: Arc<MarketplaceConfig>,
    /// The credentials a refresh replaced, still accepted from the marketplace until then.
    retired: Option<Arc<RetiredCredentials>>,
}

/// The `api.id` and `api.key` a refresh replaced, and until when webhooks may still carry
/// them.
pub(crate) struct RetiredCredentials {
    pub(crate) id: ApiId,
    pub(crate) key: ApiKey,
    pub(crate) until: OffsetDateTime,
}

impl Tenant {
    /// A handle on `config`.
    pub fn new(config: MarketplaceConfig) -> Self {
        Self {
            config: Arc::new(config),
            retired: None,
        }
    }

    /// This handle with the credentials of `previous` accepted until `until`, when they are
    /// not this configuration's: a refresh that changed `api.key` (or `api.id`) keeps the old
    /// ones for the overlap window; one that changed nothing carries a window still open.
    pub(crate) fn with_retired(
        mut self,
        previous: &Tenant,
        until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Self {
        let (old, new) = (previous.config.api(), self.config.api());
        let changed = old.id() != new.id() || !old.key().ct_eq(new.key().expose().as_bytes());
        self.retired = if changed {
            Some(Arc::new(RetiredCredentials {
                id: old.id().clone(),
                key: old.key().clone(),
                until,
            }))
        } else {
            previous.retired.clone().filter(|r| r.until > now)
        };
        self
    }

    /// Until when the credentials a refresh replaced are still accepted from the marketplace,
    /// if there are such credentials
    /// ([`RegistryBuilder::credential_overlap`](crate::RegistryBuilder::credential_overlap)).
    pub fn retired_credentials_until(&self) -> Option<OffsetDateTime> {
        self.retired.as_ref().map(|r| r.until)
    }

    /// Whether `(api_id, api_key)` are the tenant's credentials, or, until `now` reaches the
    /// end of the overlap window, the ones a refresh replaced (compared in constant time, both
    /// pairs always). Inbound authentication (webhooks) uses this; outbound calls always use
    /// the current key.
    pub fn check_credentials_at(&self, api_id: &[u8], api_key: &[u8], now: OffsetDateTime) -> bool {
        let current = self.check_credentials(api_id, api_key);
        let retired = self.retired.as_ref().is_some_and(|r| {
            let id_ok = r.id.ct_eq(api_id);
            let key_ok = r.key.ct_eq(api_key);
            (id_ok & key_ok) & (now < r.until)
        });
        current | retired
    }

    /// The marketplace key.
    pub fn marketplace(&self) -> &MarketplaceKey {
        self.config.marketplace()
    }

    /// The configuration.
    pub fn config(&self) -> &MarketplaceConfig {
        &self.config
    }

    /// Whether `api_id` and `api_key` are this tenant's API credentials. Both are compared, in
    /// time independent of where they differ.
    pub fn check_credentials(&self, api_id: &[u8], api_key: &[u8]) -> bool {
        let api = self.config.api();
        let id_ok = api.id().ct_eq(api_id);
        let key_ok = api.key().ct_eq(api_key);
        // `&`, not `&&`: the key is compared even when the id already differs.
        id_ok & key_ok
    }

    /// The tenant's metadata as JSON, without any secret (the shape of the Java SDK's
    /// `Preset.toMetadata`).
    pub fn metadata(&self) -> Value {
        metadata_json(&self.config)
    }

    /// Where a user starts SSO: `idm + init_path`.
    pub fn init_url(&self) -> &Url {
        &self.config().sso().urls.init
    }

    /// The assertion consumer service: `idm + consume_path`.
    pub fn acs_url(&self) -> &Url {
        &self.config().sso().urls.acs
    }

    /// The IdP's SSO endpoint, the destination of AuthnRequests: `sso.idp + /api/v1/auth/saml`.
    pub fn idp_sso_url(&self) -> &Url {
        &self.config().sso().urls.idp_sso
    }

    /// Where a user is sent when the application refuses access:
    /// `sso.idp + /app_access_unauthorized`.
    pub fn unauthorized_url(&self) -> &Url {
        &self.config().sso().urls.unauthorized
    }

    /// Where a session is re-checked: `sso.idp + /api/v1/auth/saml/{uid}?session={token}`,
    /// with `uid` as a path segment and `session_token` form-encoded.
    pub fn session_check_url(&self, user: &UserUid, session_token: &str) -> Url {
        let mut url = self.config().sso().urls.idp_sso.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty().push(user.as_str());
        }
        url.query_pairs_mut().append_pair("session", session_token);
        url
    }

    /// Where a user is logged out of the marketplace: `sso.idp + /app_logout?user_uid={uid}`.
    pub fn logout_url(&self, user: &UserUid) -> Url {
        let mut url = self.config().sso().urls.logout.clone();
        url.query_pairs_mut().append_pair("user_uid", user.as_str());
        url
    }
}

impl fmt::Debug for Tenant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Tenant").field(&self.config).finish()
    }
}
