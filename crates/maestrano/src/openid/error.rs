//! What can go wrong with an OpenID 2.0 message.

use crate::ports::SingleUseError;
use crate::saml::AttributeError;

/// An OpenID 2.0 message was refused. Every variant but [`SignatureInvalid`](Self::SignatureInvalid)
/// says what was expected and what was found; a signature mismatch is one opaque error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenIdError {
    /// A message is larger than the SDK reads.
    #[error("OpenID message too large: expected at most {max} bytes, found {found}")]
    TooLarge {
        /// The limit.
        max: usize,
        /// The size.
        found: usize,
    },
    /// A key-value form (a direct response) is malformed.
    #[error("key-value form, line {line}: expected {expected}")]
    KeyValue {
        /// The line (1-based).
        line: usize,
        /// What the line should have been.
        expected: &'static str,
    },
    /// A field appears twice.
    #[error("OpenID field {name} appears twice")]
    DuplicateField {
        /// The field, without `openid.`.
        name: String,
    },
    /// A required field is missing.
    #[error("OpenID field {name} is missing")]
    MissingField {
        /// The field, without `openid.`.
        name: &'static str,
    },
    /// A field has a value the SDK does not accept.
    #[error("OpenID field {name}: expected {expected}, found {found:?}")]
    InvalidField {
        /// The field, without `openid.`.
        name: &'static str,
        /// What was expected.
        expected: &'static str,
        /// What was found (shortened).
        found: String,
    },
    /// The user cancelled at the provider (`openid.mode=cancel`).
    #[error("the user cancelled the OpenID login at the provider")]
    Cancelled,
    /// `openid.return_to` is not the URL that received the response (OpenID 2.0 §11.1).
    #[error(
        "openid.return_to: expected the URL that received the response, {expected}, found {found}"
    )]
    ReturnToMismatch {
        /// The URL that received the response.
        expected: String,
        /// `openid.return_to`.
        found: String,
    },
    /// `openid.op_endpoint` is not the tenant's provider endpoint (§11.2).
    #[error("openid.op_endpoint: expected {expected}, found {found}")]
    OpEndpointMismatch {
        /// The tenant's provider endpoint.
        expected: String,
        /// What the response names.
        found: String,
    },
    /// A field the SDK reads, or one §10.1 requires signed, is not in `openid.signed`.
    #[error("OpenID field {name} is not covered by the signature (openid.signed)")]
    NotSigned {
        /// The field, without `openid.`.
        name: String,
    },
    /// The response names an association this relying party does not hold: verify it with the
    /// provider (`check_authentication`) instead.
    #[error("the response's association {handle:?} is unknown here")]
    UnknownAssociation {
        /// `openid.assoc_handle`.
        handle: String,
    },
    /// The association the response is signed with has expired.
    #[error("the association expired at {expired_at}")]
    AssociationExpired {
        /// When it expired.
        expired_at: time::OffsetDateTime,
    },
    /// The signature does not verify.
    #[error("the OpenID signature is invalid")]
    SignatureInvalid,
    /// `openid.response_nonce` is outside the accepted window around now.
    #[error(
        "openid.response_nonce: expected a time within {window_seconds} s of now, found {found}"
    )]
    NonceStale {
        /// The accepted distance from now.
        window_seconds: i64,
        /// The nonce's time.
        found: time::OffsetDateTime,
    },
    /// The response was already used (its nonce was seen before, on this instance or another).
    #[error("the OpenID response was already used (its response_nonce was seen before)")]
    Replayed,
    /// Discovery found no usable OpenID 2.0 service.
    #[error("OpenID discovery: expected {expected}, found {found}")]
    Discovery {
        /// What discovery needed.
        expected: &'static str,
        /// What it found (shortened).
        found: String,
    },
    /// The claimed identifier's own discovered information does not name the endpoint that
    /// signed the assertion, or another OP-local identifier (§11.2).
    #[error(
        "openid.claimed_id {claimed_id}: expected its discovered services to name the \
         assertion's op_endpoint and identity, found none that does"
    )]
    ClaimedIdMismatch {
        /// `openid.claimed_id` (shortened).
        claimed_id: String,
    },
    /// The provider refused the association type or session asked (`unsupported-type`).
    #[error("the provider refused the association asked; it suggests {suggested:?}")]
    AssociationRefused {
        /// The association type it suggests, if any.
        suggested: Option<String>,
    },
    /// The provider's endpoint could not be reached or answered with an HTTP error.
    #[error("the OpenID provider could not be reached: {0}")]
    Provider(String),
    /// The random source failed.
    #[error(transparent)]
    Random(#[from] crate::ports::RandomError),
    /// The single-use store failed; the login fails closed.
    #[error(transparent)]
    Store(#[from] SingleUseError),
    /// The attributes do not make a Maestrano login.
    #[error(transparent)]
    Attributes(#[from] AttributeError),
}

impl OpenIdError {
    /// A stable snake_case name for the class of refusal, for logs and metrics.
    pub fn class(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "too_large",
            Self::KeyValue { .. } => "key_value",
            Self::DuplicateField { .. } => "duplicate_field",
            Self::MissingField { .. } => "missing_field",
            Self::InvalidField { .. } => "invalid_field",
            Self::Cancelled => "cancelled",
            Self::ReturnToMismatch { .. } => "return_to_mismatch",
            Self::OpEndpointMismatch { .. } => "op_endpoint_mismatch",
            Self::NotSigned { .. } => "not_signed",
            Self::UnknownAssociation { .. } => "unknown_association",
            Self::AssociationExpired { .. } => "association_expired",
            Self::SignatureInvalid => "signature_invalid",
            Self::NonceStale { .. } => "nonce_stale",
            Self::Replayed => "replay",
            Self::Discovery { .. } => "discovery",
            Self::ClaimedIdMismatch { .. } => "claimed_id_mismatch",
            Self::AssociationRefused { .. } => "association_refused",
            Self::Provider(_) => "provider",
            Self::Random(_) => "random",
            Self::Store(_) => "store",
            Self::Attributes(_) => "attributes",
        }
    }
}
