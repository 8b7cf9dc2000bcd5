//! Associations (OpenID 2.0 §8): the MAC key a provider and this relying party share.

use base64::Engine as _;
use hmac::{KeyInit, Mac};
use time::{Duration, OffsetDateTime};

use super::OPENID2_NS;
use super::direct::SessionType;
use super::error::OpenIdError;
use super::message::Fields;
use crate::types::ct_eq_bytes;
use crate::types::shown;

/// The MAC of an association.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AssociationType {
    /// `HMAC-SHA256`, the one the SDK asks for.
    HmacSha256,
    /// `HMAC-SHA1`, accepted only where a provider offers nothing better.
    HmacSha1,
}

impl AssociationType {
    /// The protocol name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HmacSha256 => "HMAC-SHA256",
            Self::HmacSha1 => "HMAC-SHA1",
        }
    }

    fn key_len(self) -> usize {
        match self {
            Self::HmacSha256 => 32,
            Self::HmacSha1 => 20,
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "HMAC-SHA256" => Some(Self::HmacSha256),
            "HMAC-SHA1" => Some(Self::HmacSha1),
            _ => None,
        }
    }
}

/// An association with a provider: its handle, MAC and key, until it expires. The key is
/// never shown by `Debug`.
#[derive(Clone)]
pub struct Association {
    handle: String,
    kind: AssociationType,
    mac_key: Vec<u8>,
    expires_at: OffsetDateTime,
}

impl std::fmt::Debug for Association {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Association")
            .field("handle", &self.handle)
            .field("kind", &self.kind)
            .field("mac_key", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl Drop for Association {
    fn drop(&mut self) {
        // The MAC key signs logins: gone with the association.
        zeroize::Zeroize::zeroize(&mut self.mac_key);
    }
}

/// Longest association lifetime taken from a provider, whatever `expires_in` says.
const MAX_LIFETIME: Duration = Duration::days(14);

impl Association {
    /// Reads a provider's answer to an `associate` request made with
    /// `openid.session_type=no-encryption` (only over HTTPS: the MAC key travels in clear),
    /// asking for `requested`, at `now`.
    ///
    /// # Errors
    ///
    /// A malformed answer, an error answer, another namespace, session or MAC than asked, or
    /// a MAC key of the wrong length.
    pub fn from_plaintext_answer(
        answer: &Fields,
        requested: AssociationType,
        now: OffsetDateTime,
    ) -> Result<Self, OpenIdError> {
        Self::from_answer(answer, requested, SessionType::NoEncryption, None, now)
    }

    /// Reads an `associate` answer of `session`; `dh_secret` is `H(btwoc(g^xy mod p))` of a
    /// Diffie-Hellman session, which the MAC key arrives XORed with (§8.4.2).
    pub(crate) fn from_answer(
        answer: &Fields,
        requested: AssociationType,
        session: SessionType,
        dh_secret: Option<&[u8]>,
        now: OffsetDateTime,
    ) -> Result<Self, OpenIdError> {
        let get = |name: &'static str| answer.get(name).ok_or(OpenIdError::MissingField { name });
        if let Some(error) = answer.get("error") {
            return Err(OpenIdError::InvalidField {
                name: "error",
                expected: "an association",
                found: shown(error),
            });
        }
        expect(get("ns")?, OPENID2_NS, "ns", "the OpenID 2.0 namespace")?;
        expect(
            get("session_type")?,
            session.as_str(),
            "session_type",
            "the session type requested",
        )?;
        let kind = get("assoc_type")?;
        if AssociationType::parse(kind) != Some(requested) {
            return Err(OpenIdError::InvalidField {
                name: "assoc_type",
                expected: "the association type requested",
                found: shown(kind),
            });
        }
        let handle = get("assoc_handle")?;
        // §8.2.1: 1 to 255 printable ASCII characters.
        if handle.is_empty()
            || handle.len() > 255
            || !handle.bytes().all(|b| (0x21..=0x7e).contains(&b))
        {
            return Err(OpenIdError::InvalidField {
                name: "assoc_handle",
                expected: "1 to 255 printable ASCII characters",
                found: shown(handle),
            });
        }
        let (name, key) = match dh_secret {
            None => ("mac_key", get("mac_key")?),
            Some(_) => ("enc_mac_key", get("enc_mac_key")?),
        };
        let mut mac_key = base64::engine::general_purpose::STANDARD
            .decode(key)
            .ok()
            .filter(|k| k.len() == requested.key_len())
            .ok_or(OpenIdError::InvalidField {
                name,
                expected: "a base64 key of the MAC's length",
                found: format!("{} characters", key.len()),
            })?;
        if let Some(secret) = dh_secret {
            if secret.len() != mac_key.len() {
                return Err(OpenIdError::InvalidField {
                    name: "session_type",
                    expected: "a Diffie-Hellman hash of the MAC's length",
                    found: session.as_str().into(),
                });
            }
            for (k, s) in mac_key.iter_mut().zip(secret) {
                *k ^= s;
            }
        }
        let expires_in = get("expires_in")?;
        let seconds: i64 = expires_in.parse().ok().filter(|s| *s > 0).ok_or_else(|| {
            OpenIdError::InvalidField {
                name: "expires_in",
                expected: "a positive number of seconds",
                found: shown(expires_in),
            }
        })?;
        let lifetime = Duration::seconds(seconds).min(MAX_LIFETIME);
        Ok(Self {
            handle: handle.to_owned(),
            kind: requested,
            mac_key,
            expires_at: now.saturating_add(lifetime),
        })
    }

    /// The handle.
    pub fn handle(&self) -> &str {
        &self.handle
    }

    /// The MAC.
    pub fn kind(&self) -> AssociationType {
        self.kind
    }

    /// When it expires.
    pub fn expires_at(&self) -> OffsetDateTime {
        self.expires_at
    }

    /// Whether `signature` (base64) is this association's MAC of `text`, compared in constant
    /// time.
    pub(crate) fn verifies(&self, text: &[u8], signature: &str) -> bool {
        let Ok(given) = base64::engine::general_purpose::STANDARD.decode(signature) else {
            return false;
        };
        let expected = match self.kind {
            AssociationType::HmacSha256 => mac::<hmac::Hmac<sha2::Sha256>>(&self.mac_key, text),
            AssociationType::HmacSha1 => mac::<hmac::Hmac<sha1::Sha1>>(&self.mac_key, text),
        };
        let Some(expected) = expected else {
            return false;
        };
        ct_eq_bytes(&expected, &given)
    }
}

/// The MAC `M` of `text` under `key` (`None` for a key the MAC cannot take).
fn mac<M: Mac + KeyInit>(key: &[u8], text: &[u8]) -> Option<Vec<u8>> {
    let mut mac = <M as KeyInit>::new_from_slice(key).ok()?;
    mac.update(text);
    Some(mac.finalize().into_bytes().to_vec())
}

fn expect(
    found: &str,
    wanted: &str,
    name: &'static str,
    expected: &'static str,
) -> Result<(), OpenIdError> {
    if found == wanted {
        Ok(())
    } else {
        Err(OpenIdError::InvalidField {
            name,
            expected,
            found: shown(found),
        })
    }
}
