//! The state of a running simulator: what every service shares, and each marketplace's
//! accounts, sessions, bills and Connec! data.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use time::OffsetDateTime;
use url::Url;

use super::account::AccountStore;
use super::config::{MarketplaceSpec, SimGroup, SimMembership, SimUser};
use super::connec::ConnecStore;
use super::faults::{Api, DeliveryFaults, FaultQueue};
use super::info::MarketplaceInfo;
use super::keys::IdpKeys;
use maestrano::Tenant;
use maestrano::ports::{Clock, HttpClient, RandomSource};
use maestrano::saml::SigningKey;
use maestrano::{Secret, UserUid};

/// Most IdP sessions remembered per marketplace; the oldest is forgotten past it.
pub(crate) const MAX_SESSIONS: usize = 10_000;

/// Settings every service reads.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) random: Arc<dyn RandomSource>,
    pub(crate) started_at: OffsetDateTime,
    pub(crate) session_recheck: time::Duration,
    pub(crate) assertion_lifetime: time::Duration,
    pub(crate) session_lifetime: time::Duration,
    pub(crate) webhook_timeout: std::time::Duration,
    pub(crate) http: Arc<dyn HttpClient>,
}

impl Shared {
    pub(crate) fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }
}

/// An IdP session opened by a login.
#[derive(Clone)]
pub(crate) struct Session {
    pub(crate) user: UserUid,
    pub(crate) token: Secret,
    pub(crate) ends_at: OffsetDateTime,
}

/// One simulated marketplace.
pub(crate) struct Marketplace {
    pub(crate) shared: Arc<Shared>,
    pub(crate) info: MarketplaceInfo,
    pub(crate) spec: MarketplaceSpec,
    /// The tenant as the SDK reads the served configuration.
    pub(crate) tenant: Tenant,
    /// The IdP's current key and the configuration that publishes it; replaced whole by a
    /// key rotation.
    keys: RwLock<Arc<KeyState>>,
    pub(crate) faults: FaultQueue,
    pub(crate) delivery_faults: DeliveryFaults,
    requests: [AtomicU64; 3],
    sessions: Mutex<Vec<Session>>,
    pub(crate) account: Mutex<AccountStore>,
    pub(crate) connec: Mutex<ConnecStore>,
    /// The OpenID assertions awaiting `check_authentication`: their handle and MAC key.
    pub(crate) openid: Mutex<Vec<(String, Vec<u8>)>>,
}

/// The IdP key in use, and what the developer platform serves with it.
pub(crate) struct KeyState {
    /// The served configuration object (its `sso.x509_*` name this key).
    pub(crate) config_json: serde_json::Value,
    pub(crate) signing_key: SigningKey,
    /// The certificate of the key.
    pub(crate) certificate: maestrano::saml::Certificate,
    /// The IdP key for the platform mode's RSA-SHA1 signer, and its certificate as PEM.
    pub(crate) idp_private: rsa::PrivateKey,
    pub(crate) idp_certificate_pem: String,
}

impl KeyState {
    pub(crate) fn new(keys: IdpKeys, config_json: serde_json::Value) -> Self {
        Self {
            config_json,
            signing_key: keys.key,
            idp_certificate_pem: keys.certificate.to_pem(),
            certificate: keys.certificate,
            idp_private: keys.private,
        }
    }
}

impl std::fmt::Debug for Marketplace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Marketplace")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Marketplace {
    pub(crate) fn new(
        shared: Arc<Shared>,
        info: MarketplaceInfo,
        spec: MarketplaceSpec,
        tenant: Tenant,
        config_json: serde_json::Value,
        keys: IdpKeys,
    ) -> Self {
        let connec = ConnecStore::new(&spec);
        Self {
            shared,
            info,
            spec,
            tenant,
            keys: RwLock::new(Arc::new(KeyState::new(keys, config_json))),
            faults: FaultQueue::default(),
            delivery_faults: DeliveryFaults::default(),
            requests: Default::default(),
            sessions: Mutex::new(Vec::new()),
            account: Mutex::new(AccountStore::default()),
            connec: Mutex::new(connec),
            openid: Mutex::new(Vec::new()),
        }
    }

    /// The IdP key in use now.
    pub(crate) fn keys(&self) -> Arc<KeyState> {
        Arc::clone(&self.keys.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Signs from now on with `keys`, and serves the configuration that publishes them.
    pub(crate) fn rotate_keys(&self, keys: IdpKeys) {
        let json = crate::devplatform::marketplace_json(
            &self.spec,
            &self.info.base_url,
            &self.info.api_id,
            &self.info.api_key,
            &keys.certificate,
        );
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(KeyState::new(keys, json));
    }

    pub(crate) fn base_url(&self) -> &Url {
        &self.info.base_url
    }

    pub(crate) fn count_request(&self, api: Api) {
        if let Some(i) = api_index(api) {
            self.requests[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn requests(&self, api: Api) -> u64 {
        api_index(api).map_or(0, |i| self.requests[i].load(Ordering::Relaxed))
    }

    pub(crate) fn user(&self, uid: &str) -> Option<&SimUser> {
        self.spec.users.iter().find(|u| u.uid.as_str() == uid)
    }

    pub(crate) fn group(&self, uid: &str) -> Option<&SimGroup> {
        self.spec.groups.iter().find(|g| g.uid.as_str() == uid)
    }

    pub(crate) fn memberships_of<'a>(
        &'a self,
        user: &'a UserUid,
    ) -> impl Iterator<Item = &'a SimMembership> + 'a {
        self.spec
            .memberships
            .iter()
            .filter(move |m| m.user == *user)
    }

    pub(crate) fn open_session(&self, session: Session) {
        let mut sessions = lock(&self.sessions);
        if sessions.len() >= MAX_SESSIONS {
            sessions.remove(0);
        }
        sessions.push(session);
    }

    /// Whether `token` is a live session of `user` at `now`.
    pub(crate) fn session_valid(&self, user: &str, token: &str, now: OffsetDateTime) -> bool {
        lock(&self.sessions)
            .iter()
            .any(|s| s.user.as_str() == user && s.token.ct_eq(token.as_bytes()) && now < s.ends_at)
    }

    /// Ends every session of `user`; how many there were.
    pub(crate) fn end_sessions(&self, user: &str) -> usize {
        let mut sessions = lock(&self.sessions);
        let before = sessions.len();
        sessions.retain(|s| s.user.as_str() != user);
        before - sessions.len()
    }

    /// Live sessions of `user` at `now`.
    pub(crate) fn live_sessions(&self, user: &str, now: OffsetDateTime) -> Vec<Session> {
        lock(&self.sessions)
            .iter()
            .filter(|s| s.user.as_str() == user && now < s.ends_at)
            .cloned()
            .collect()
    }
}

fn api_index(api: Api) -> Option<usize> {
    match api {
        Api::Idp => Some(0),
        Api::Account => Some(1),
        Api::Connec => Some(2),
        Api::DevPlatform => None,
    }
}
