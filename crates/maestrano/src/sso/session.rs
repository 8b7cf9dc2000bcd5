//! The Maestrano session of a logged-in user and its periodic re-check (single logout).
//!
//! After login the app keeps an [`SsoSession`] in its own (server-side or signed) session.
//! When [`SsoSession::remote_check_required`] says so, it asks the IdP whether the user is
//! still logged in there; a user who logged out of the marketplace is then logged out of the
//! app too.
//!
//! The session remembers the marketplace it was opened on, and is only ever checked against
//! that marketplace's IdP: the token of a tenant-A session is never sent to tenant B.

use std::fmt;

use base64::Engine as _;
use time::OffsetDateTime;

use crate::config::tenant::Tenant;
use crate::ports::{HttpClient, HttpRequest, HttpResponse, TransportError};
use crate::saml::SsoLogin;
use crate::timestamp::{format_utc, parse_lenient};
use crate::types::{GroupUid, MarketplaceKey, Secret, UserUid};

/// Longest stored session value or check reply accepted, in bytes.
const MAX_BYTES: usize = 16 * 1024;

/// A session could not be read or checked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The stored session value is not what [`SsoSession::to_session_value`] writes.
    #[error("stored session value is invalid: {0}")]
    InvalidStoredValue(String),
    /// The session-check request could not be sent or answered (network failure). The
    /// documented default is to keep the session until the next re-check.
    #[error("session check failed: {0}")]
    Transport(#[from] TransportError),
    /// The session was opened on another marketplace than the tenant asked to check it; no
    /// request was sent.
    #[error("the session belongs to marketplace {session:?}, not to {tenant:?}")]
    WrongTenant {
        /// The marketplace the session was opened on.
        session: MarketplaceKey,
        /// The tenant that was asked to check it.
        tenant: MarketplaceKey,
    },
    /// The IdP answered with something other than a session-check reply.
    #[error("session check reply is invalid (HTTP {status}): {detail}")]
    InvalidReply {
        /// The HTTP status.
        status: u16,
        /// What was wrong.
        detail: String,
    },
}

/// The verdict of a remote session check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionStatus {
    /// Still logged in at the IdP; the next re-check is due at the returned time.
    Valid {
        /// When to check again.
        recheck_at: OffsetDateTime,
    },
    /// Logged out at the IdP: end the app's session.
    Invalid,
}

/// The Maestrano session of a logged-in user: `{uid, session, session_recheck, group_uid}`,
/// and the marketplace it was opened on.
#[derive(Clone)]
#[non_exhaustive]
pub struct SsoSession {
    /// The marketplace the user logged in from: the only one the session is checked against.
    pub marketplace: MarketplaceKey,
    /// The real uid of the user.
    pub uid: UserUid,
    /// The session token (`mno_session`).
    pub token: Secret,
    /// When to check again.
    pub recheck_at: OffsetDateTime,
    /// The group the user logged in for.
    pub group_uid: GroupUid,
}

impl fmt::Debug for SsoSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SsoSession")
            .field("marketplace", &self.marketplace)
            .field("uid", &self.uid)
            .field("token", &self.token)
            .field("recheck_at", &self.recheck_at)
            .field("group_uid", &self.group_uid)
            .finish()
    }
}

/// As its [session value](SsoSession::to_session_value): a string, read back with the same
/// checks as [`SsoSession::from_session_value`] (so a value without its marketplace is
/// refused). It holds the session token: serialize it only into server-side or encrypted
/// storage.
impl serde::Serialize for SsoSession {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_session_value())
    }
}

impl<'de> serde::Deserialize<'de> for SsoSession {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::from_session_value(&value).map_err(serde::de::Error::custom)
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Stored {
    /// Not in the other SDKs' value, which hold one marketplace per app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    marketplace: Option<String>,
    uid: String,
    session: String,
    session_recheck: String,
    group_uid: String,
}

impl SsoSession {
    /// The session a login starts.
    pub fn from_login(login: &SsoLogin) -> Self {
        Self {
            marketplace: login.marketplace.clone(),
            uid: login.user.uid.clone(),
            token: login.session.token.clone(),
            recheck_at: login.session.recheck_at,
            group_uid: login.group.uid.clone(),
        }
    }

    /// The value the other Maestrano SDKs keep under `maestrano` in the web session: base64 of
    /// `{"uid", "session", "session_recheck", "group_uid"}`, plus `"marketplace"`. It holds the
    /// session token, so keep it server-side or in a signed and encrypted cookie.
    pub fn to_session_value(&self) -> String {
        let stored = Stored {
            marketplace: Some(self.marketplace.to_string()),
            uid: self.uid.to_string(),
            session: self.token.expose().to_owned(),
            session_recheck: format_utc(self.recheck_at),
            group_uid: self.group_uid.to_string(),
        };
        let json = serde_json::to_vec(&stored).unwrap_or_default();
        base64::engine::general_purpose::STANDARD.encode(json)
    }

    /// Reads a value written by [`to_session_value`](Self::to_session_value). Line breaks in
    /// the base64, as Ruby writes them, are accepted. A value without a marketplace (written by
    /// another Maestrano SDK) is refused: read it with
    /// [`from_session_value_of`](Self::from_session_value_of).
    pub fn from_session_value(value: &str) -> Result<Self, SessionError> {
        Self::read(value, None)
    }

    /// Reads a value another Maestrano SDK wrote for `marketplace` (those SDKs serve one
    /// marketplace and store none), or one this SDK wrote for that same marketplace. A value
    /// that names another marketplace is refused. Take `marketplace` from the app's own record
    /// of where the session was opened, never from the request: a value without one is bound
    /// to whatever marketplace is named here.
    pub fn from_session_value_of(
        value: &str,
        marketplace: &MarketplaceKey,
    ) -> Result<Self, SessionError> {
        Self::read(value, Some(marketplace))
    }

    fn read(value: &str, expected: Option<&MarketplaceKey>) -> Result<Self, SessionError> {
        let bad = |m: &str| SessionError::InvalidStoredValue(m.to_owned());
        if value.len() > MAX_BYTES {
            return Err(bad("too long"));
        }
        let compact: String = value.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        let json = base64::engine::general_purpose::STANDARD
            .decode(compact.as_bytes())
            .map_err(|_| bad("not base64"))?;
        let s: Stored = serde_json::from_slice(&json)
            .map_err(|e| bad(&format!("not the expected JSON: {e}")))?;
        let marketplace = match (s.marketplace.as_deref(), expected) {
            (Some(found), Some(expected)) if found != expected.as_str() => {
                return Err(bad(&format!(
                    "expected a session of marketplace {:?}, found one of {:?}",
                    expected.as_str(),
                    crate::types::shown(found)
                )));
            }
            (Some(found), _) => MarketplaceKey::new(found).map_err(|e| bad(&e.to_string()))?,
            (None, Some(expected)) => expected.clone(),
            (None, None) => {
                return Err(bad(
                    "expected a \"marketplace\" field, found none (a value of another SDK: \
                     read it with from_session_value_of)",
                ));
            }
        };
        Ok(Self {
            marketplace,
            uid: UserUid::new(&s.uid).map_err(|e| bad(&e.to_string()))?,
            token: Secret::new(s.session),
            recheck_at: parse_lenient(&s.session_recheck)
                .ok()
                .flatten()
                .ok_or_else(|| bad("session_recheck is not a timestamp"))?,
            group_uid: GroupUid::new(&s.group_uid).map_err(|e| bad(&e.to_string()))?,
        })
    }

    /// Whether the IdP must be asked again: the re-check time has come.
    pub fn remote_check_required(&self, now: OffsetDateTime) -> bool {
        self.recheck_at <= now
    }

    /// The session-check request: `GET {sso.idp}/api/v1/auth/saml/{uid}?session={token}`, to
    /// the IdP of the session's own marketplace: [`SessionError::WrongTenant`] for any other
    /// tenant.
    pub fn check_request(&self, tenant: &Tenant) -> Result<HttpRequest, SessionError> {
        if tenant.marketplace() != &self.marketplace {
            return Err(SessionError::WrongTenant {
                session: self.marketplace.clone(),
                tenant: tenant.marketplace().clone(),
            });
        }
        let url = tenant.session_check_url(&self.uid, self.token.expose());
        Ok(http::Request::get(url.as_str())
            .header(http::header::ACCEPT, "application/json")
            .header(http::header::USER_AGENT, crate::USER_AGENT)
            .body(Vec::new())
            .unwrap_or_default())
    }

    /// Reads the IdP's reply: `valid` as a boolean or the string `"true"`/`"false"`, and
    /// `recheck`, the next re-check time. A valid reply moves [`recheck_at`](Self::recheck_at).
    pub fn apply_check_response(
        &mut self,
        response: &HttpResponse,
    ) -> Result<SessionStatus, SessionError> {
        let status = response.status().as_u16();
        let invalid = |detail: String| SessionError::InvalidReply { status, detail };
        if !response.status().is_success() {
            return Err(invalid("expected HTTP 2xx".into()));
        }
        if response.body().len() > MAX_BYTES {
            return Err(invalid(format!("body longer than {MAX_BYTES} bytes")));
        }
        let reply: serde_json::Value = serde_json::from_slice(response.body())
            .map_err(|e| invalid(format!("not JSON: {e}")))?;
        let valid = match reply.get("valid") {
            Some(serde_json::Value::Bool(b)) => *b,
            Some(serde_json::Value::String(s)) if s == "true" => true,
            Some(serde_json::Value::String(s)) if s == "false" => false,
            other => {
                return Err(invalid(format!(
                    "expected \"valid\" as true/false or \"true\"/\"false\", found {}",
                    other.map_or_else(
                        || "nothing".to_owned(),
                        |v| v.to_string().chars().take(40).collect::<String>()
                    )
                )));
            }
        };
        if !valid {
            return Ok(SessionStatus::Invalid);
        }
        let recheck = reply
            .get("recheck")
            .and_then(|r| r.as_str())
            .ok_or_else(|| invalid("a valid reply without a \"recheck\" string".into()))?;
        let recheck_at = parse_lenient(recheck)
            .ok()
            .flatten()
            .ok_or_else(|| invalid(format!("recheck {recheck:?} is not a timestamp")))?;
        self.recheck_at = recheck_at;
        Ok(SessionStatus::Valid { recheck_at })
    }

    /// Asks the tenant's IdP whether the session is still alive, through `http`.
    ///
    /// A network failure is returned as [`SessionError::Transport`]; the usual policy, and the
    /// earlier SDKs' behaviour for an unreachable IdP, is to keep the session until the next
    /// re-check rather than log every user out when the IdP is briefly down.
    pub async fn check(
        &mut self,
        tenant: &Tenant,
        http: &dyn HttpClient,
    ) -> Result<SessionStatus, SessionError> {
        let response = http.send(self.check_request(tenant)?).await?;
        self.apply_check_response(&response)
    }
}
