//! Newtypes for identifiers and secrets, so that a group uid can never be passed where a user
//! uid is expected and a key never ends up in a log line.

use std::fmt;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Why a string was refused as an identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdError {
    /// The value was empty.
    #[error("{kind} must not be empty")]
    Empty {
        /// Which identifier was being built.
        kind: &'static str,
    },
    /// The value was longer than allowed.
    #[error("{kind} must be at most {max} bytes, found {found} bytes")]
    TooLong {
        /// Which identifier was being built.
        kind: &'static str,
        /// The limit.
        max: usize,
        /// The length found.
        found: usize,
    },
    /// The value contained a character outside the allowed set.
    #[error("{kind} may only contain {allowed}, found {found:?} at byte {position}")]
    InvalidChar {
        /// Which identifier was being built.
        kind: &'static str,
        /// A description of the allowed characters.
        allowed: &'static str,
        /// The offending character.
        found: char,
        /// Its byte offset.
        position: usize,
    },
    /// The value is reserved (`.` and `..` would be path traversal in a URL).
    #[error("{kind} must not be {found:?}")]
    Reserved {
        /// Which identifier was being built.
        kind: &'static str,
        /// The value found.
        found: String,
    },
}

/// Maximum length in bytes of any identifier accepted by the SDK.
pub(crate) const MAX_ID_LEN: usize = 255;

/// What kind of JSON value `v` is, for messages that say what was found ("an array").
pub(crate) fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

fn check_path_safe(kind: &'static str, value: &str, max: usize) -> Result<(), IdError> {
    if value.is_empty() {
        return Err(IdError::Empty { kind });
    }
    if value.len() > max {
        return Err(IdError::TooLong {
            kind,
            max,
            found: value.len(),
        });
    }
    if let Some((position, found)) = value
        .char_indices()
        .find(|&(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~')))
    {
        return Err(IdError::InvalidChar {
            kind,
            allowed: "ASCII letters, digits, '-', '_', '.' and '~'",
            found,
            position,
        });
    }
    if value == "." || value == ".." {
        return Err(IdError::Reserved {
            kind,
            found: value.to_owned(),
        });
    }
    Ok(())
}

fn check_printable(kind: &'static str, value: &str, max: usize) -> Result<(), IdError> {
    if value.is_empty() {
        return Err(IdError::Empty { kind });
    }
    if value.len() > max {
        return Err(IdError::TooLong {
            kind,
            max,
            found: value.len(),
        });
    }
    if let Some((position, found)) = value
        .char_indices()
        .find(|&(_, c)| c.is_control() || c == ':' || c.is_whitespace())
    {
        return Err(IdError::InvalidChar {
            kind,
            allowed: "printable characters other than ':' and white space",
            found,
            position,
        });
    }
    Ok(())
}

macro_rules! path_safe_id {
    ($(#[$meta:meta])* $name:ident, $kind:literal) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(Arc<str>);

        impl $name {
            #[doc = concat!("Checks and wraps a ", $kind, ": ASCII letters, digits, `-`, `_`, `.`, `~`; at most 255 bytes; not `.` or `..`.")]
            pub fn new(value: impl AsRef<str>) -> Result<Self, IdError> {
                let value = value.as_ref();
                check_path_safe($kind, value, MAX_ID_LEN)?;
                Ok(Self(Arc::from(value)))
            }

            /// The identifier as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), &*self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::new(s)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Self::new(&*s).map_err(serde::de::Error::custom)
            }
        }
    };
}

path_safe_id!(
    /// The key of a marketplace (tenant), such as `maestrano` or `acme-corp`.
    ///
    /// It appears in URL paths, so it is restricted to path-safe ASCII.
    MarketplaceKey,
    "marketplace key"
);
path_safe_id!(
    /// The uid of a group (a customer company on a marketplace), such as `cld-4f3a`.
    GroupUid,
    "group uid"
);
path_safe_id!(
    /// The uid of a user on a marketplace, such as `usr-1b2c`, or a virtual uid `usr-1.cld-2`.
    UserUid,
    "user uid"
);
path_safe_id!(
    /// The uid of a reseller, such as `rsl-449s8fsd`.
    ResellerUid,
    "reseller uid"
);
path_safe_id!(
    /// The id of a bill, such as `bill-13`.
    BillId,
    "bill id"
);
path_safe_id!(
    /// The id of a recurring bill, such as `rbill-7`.
    RecurringBillId,
    "recurring bill id"
);

/// The application's id on a marketplace (`api.id`), the user name of its HTTP Basic
/// credentials; for example `app-1a2b`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct ApiId(Arc<str>);

impl ApiId {
    /// Checks and wraps an api id: printable, no `:` (it is a Basic-auth user name), no
    /// white space, at most 255 bytes.
    pub fn new(value: impl AsRef<str>) -> Result<Self, IdError> {
        let value = value.as_ref();
        check_printable("api id", value, MAX_ID_LEN)?;
        Ok(Self(Arc::from(value)))
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Compares with `other` in time independent of where the two differ.
    pub fn ct_eq(&self, other: &[u8]) -> bool {
        ct_eq_bytes(self.0.as_bytes(), other)
    }
}

impl fmt::Debug for ApiId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiId({:?})", &*self.0)
    }
}

impl fmt::Display for ApiId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for ApiId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::new(&*s).map_err(serde::de::Error::custom)
    }
}

/// Compares two byte strings in time that depends on neither their contents nor their
/// lengths: both are hashed first, so the comparison itself runs on equal-length digests.
pub fn ct_eq_bytes(a: &[u8], b: &[u8]) -> bool {
    let ha = Sha256::digest(a);
    let hb = Sha256::digest(b);
    bool::from(ha.as_slice().ct_eq(hb.as_slice()))
}

/// A secret string (an API key, an environment secret, a private key in PEM).
///
/// Its `Debug` output is redacted, it implements neither `Display`, `PartialEq` nor
/// `Serialize`, and it is compared in constant time with [`Secret::ct_eq`]. Read it with
/// [`Secret::expose`] only where it must be sent.
#[derive(Clone)]
pub struct Secret(Arc<str>);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(Arc::from(value.into()))
    }

    /// The secret value. Call it only to put the value on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Compares with `other` in time independent of both values.
    pub fn ct_eq(&self, other: &[u8]) -> bool {
        ct_eq_bytes(self.0.as_bytes(), other)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret::new)
    }
}

/// The application's API key on a marketplace (`api.key`), the password of its HTTP Basic
/// credentials. A [`Secret`].
pub type ApiKey = Secret;

/// A value for an error message: at most 128 bytes, so a huge field cannot flood a log.
pub(crate) fn shown(value: &str) -> String {
    if value.len() <= 128 {
        return value.to_owned();
    }
    let mut end = 128;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &value[..end])
}

/// What a path segment built from data must be; the `expected` of every error that refuses one.
pub(crate) const SAFE_SEGMENT: &str = "a path segment of 1 to 255 bytes without '/', '\\', control characters or a percent-encoding of them, not '.' or '..' (nor empty, '.' or '..' before a ';')";

/// How many layers of percent-encoding a segment may carry (`%2541` is two) before it is
/// refused: a chain of proxies may decode each layer once.
const MAX_ENCODING_LAYERS: usize = 3;

/// Whether `value` stays one harmless path segment however many times something on the way
/// percent-decodes it.
///
/// The SDK builds request paths from data it does not control (Connec! ids and next links,
/// remote ids of the id map, configured paths). The `url` crate encodes `/` as `%2F`, but a
/// proxy or framework that decodes `%2F` (or decodes twice) turns `..%2Fcld-2` into a walk
/// into another customer's path, so every decoding of the segment is checked, not only the
/// raw text: no `/` or `\`, no control character, not `.` or `..` (also before a `;` path
/// parameter, which some servers strip).
pub(crate) fn is_safe_segment(value: &str) -> bool {
    fully_decoded(value).is_some()
}

/// `value` percent-decoded until nothing changes, when every layer on the way is a harmless
/// segment (see [`is_safe_segment`]); `None` otherwise, or past [`MAX_ENCODING_LAYERS`].
fn fully_decoded(value: &str) -> Option<String> {
    if value.is_empty() || value.len() > 255 {
        return None;
    }
    let mut layer = value.to_owned();
    for _ in 0..=MAX_ENCODING_LAYERS {
        let dots = layer.split(';').next().unwrap_or_default();
        if dots.is_empty()
            || dots == "."
            || dots == ".."
            || layer
                .chars()
                .any(|c| c == '/' || c == '\\' || c.is_control())
        {
            return None;
        }
        // A layer that decodes to bytes no text holds is not a segment any server agrees on.
        let decoded = percent_encoding::percent_decode_str(&layer)
            .decode_utf8()
            .ok()?
            .into_owned();
        if decoded == layer {
            return Some(layer);
        }
        layer = decoded;
    }
    None
}

/// The segments of a URL path (`/a/b` → `a`, `b`), each fully decoded, or `None` when one is
/// not [safe](is_safe_segment). Comparing these compares what any server on the way sees.
pub(crate) fn decoded_segments(path: &str) -> Option<Vec<String>> {
    let rest = path.strip_prefix('/').unwrap_or(path);
    if rest.is_empty() {
        return Some(Vec::new());
    }
    rest.split('/').map(fully_decoded).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_that_any_decoding_turns_into_a_walk_are_refused() {
        for ok in [
            "p-1",
            "5b3c9f",
            "a.b",
            "...",
            "caf%C3%A9",
            "x;y",
            "ÿ",
            "a%20b",
        ] {
            assert!(is_safe_segment(ok), "{ok}");
        }
        for bad in [
            "",
            ".",
            "..",
            "../../cld-2/people/p-1",
            "..%2Fcld-2%2Fpeople",
            "a%2fb",
            "a%5Cb",
            "a\\b",
            "%2e%2e",
            ".%2E",
            "%252e%252e",
            "a%25252Fb",
            "..;jsessionid=1",
            ";x",
            "a\u{0}b",
            "a%00b",
            "a%0Ab",
            "a\u{85}b",
            "%C2%85",
            "%FF",
            "%25%32%35%32%35%32%46",
        ] {
            assert!(!is_safe_segment(bad), "{bad:?}");
        }
        assert!(!is_safe_segment(&"a".repeat(256)));
        assert_eq!(
            decoded_segments("/api/v2/cld-1/people").unwrap(),
            ["api", "v2", "cld-1", "people"]
        );
        assert_eq!(decoded_segments("/a/caf%25C3%25A9").unwrap(), ["a", "café"]);
        assert!(decoded_segments("/api/v2/cld-1/..%2Fcld-2%2Fpeople").is_none());
        assert!(decoded_segments("/api//v2").is_none());
    }

    #[test]
    fn path_safe_ids_accept_marketplace_style_keys() {
        for ok in [
            "maestrano",
            "acme-corp",
            "mno-sandbox",
            "cld_333",
            "usr-1.cld-1",
        ] {
            assert_eq!(MarketplaceKey::new(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn path_safe_ids_reject_traversal_and_separators() {
        assert!(matches!(
            MarketplaceKey::new(""),
            Err(IdError::Empty { .. })
        ));
        assert!(matches!(
            MarketplaceKey::new(".."),
            Err(IdError::Reserved { .. })
        ));
        assert!(matches!(
            GroupUid::new("a/b"),
            Err(IdError::InvalidChar { found: '/', .. })
        ));
        assert!(matches!(
            GroupUid::new("a%2f"),
            Err(IdError::InvalidChar { found: '%', .. })
        ));
        assert!(matches!(
            UserUid::new("a\0"),
            Err(IdError::InvalidChar { .. })
        ));
        assert!(matches!(
            UserUid::new("x".repeat(256)),
            Err(IdError::TooLong { found: 256, .. })
        ));
    }

    #[test]
    fn api_id_rejects_colon_and_controls() {
        assert!(ApiId::new("app-1a2b").is_ok());
        assert!(ApiId::new("5f2c6f7e-1d0a-4b1e-9c8d-0e1f2a3b4c5d").is_ok());
        assert!(matches!(
            ApiId::new("a:b"),
            Err(IdError::InvalidChar { found: ':', .. })
        ));
        assert!(matches!(
            ApiId::new("a\nb"),
            Err(IdError::InvalidChar { .. })
        ));
    }

    #[test]
    fn secret_debug_is_redacted_and_comparison_works() {
        let s = Secret::new("s3cr3t-value");
        let shown = format!("{s:?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(s.ct_eq(b"s3cr3t-value"));
        assert!(!s.ct_eq(b"s3cr3t-valuf"));
        assert!(!s.ct_eq(b"s3cr3t"));
        assert!(!s.ct_eq(b""));
    }
}
