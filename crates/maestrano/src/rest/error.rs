//! The errors every REST call of the SDK shares (the account API and Connec!): a request
//! refused before it was sent, a reply that could not be read, or no reply at all. Each
//! client's own error wraps them (`ApiError::Rest`, `ConnecError::Rest`) beside the refusals
//! only that API explains.

use super::bulkhead::ApiService;
use crate::ports::TransportError;

/// A REST request that could not be built, a reply that could not be read, or no reply.
///
/// Every variant that comes with a reply carries its HTTP status. None carries a credential:
/// the `Authorization` header never appears in an error, and reply bodies only appear as short
/// excerpts of non-JSON replies.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RestError {
    /// A value given to a request builder was refused before anything was sent.
    #[error("invalid {field}: expected {expected}, found {found}")]
    InvalidInput {
        /// The field or argument.
        field: &'static str,
        /// What was expected.
        expected: &'static str,
        /// What was found (never a secret).
        found: String,
    },
    /// A status the API does not use (a redirect, an unexpected 4xx) with no error body the API defines.
    #[error("unexpected HTTP status {status}: {excerpt:?}")]
    UnexpectedStatus {
        /// The HTTP status.
        status: u16,
        /// The start of the body.
        excerpt: String,
    },
    /// The body was not JSON (an HTML error page, a proxy's reply).
    #[error("expected a JSON body, found (HTTP {status}): {excerpt:?}")]
    NotJson {
        /// The HTTP status.
        status: u16,
        /// The start of the body, at most 200 characters.
        excerpt: String,
    },
    /// The body was JSON but not of the expected shape.
    #[error("unexpected reply (HTTP {status}): {detail}")]
    InvalidResponse {
        /// The HTTP status.
        status: u16,
        /// What was expected and what was found.
        detail: String,
    },
    /// The body was larger than the decoders accept.
    #[error("reply too large (HTTP {status}): expected at most {limit} bytes, found {found}")]
    ResponseTooLarge {
        /// The HTTP status.
        status: u16,
        /// The limit.
        limit: usize,
        /// The body's size.
        found: usize,
    },
    /// The body nested JSON deeper than the decoders accept.
    #[error("reply nested too deeply (HTTP {status}): expected at most {limit} levels")]
    NestingTooDeep {
        /// The HTTP status.
        status: u16,
        /// The limit.
        limit: usize,
    },
    /// Refused before sending: this marketplace already has the [`Bulkhead`]'s most calls in
    /// flight to the service (its host is slow); the others are not held up.
    ///
    /// [`Bulkhead`]: crate::Bulkhead
    #[error(
        "too many {service} calls in flight for this marketplace: expected fewer than {limit}, \
         found {limit}"
    )]
    Saturated {
        /// The service.
        service: ApiService,
        /// The bound on calls in flight.
        limit: u32,
    },
    /// Refused before sending: the service of this marketplace failed again and again (or
    /// asked, with `Retry-After`, to be left alone) and its circuit is open.
    #[error(
        "the {service} of this marketplace is failing: expected its circuit closed, found it \
         open for {} ms more",
        retry_in.as_millis()
    )]
    CircuitOpen {
        /// The service.
        service: ApiService,
        /// How long until a probe call may go (zero while a probe is in flight).
        retry_in: std::time::Duration,
    },
    /// No reply was received: see [`TransportError::may_have_been_sent`].
    #[error(transparent)]
    Transport(#[from] TransportError),
}

impl RestError {
    /// The HTTP status of the reply, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::UnexpectedStatus { status, .. }
            | Self::NotJson { status, .. }
            | Self::InvalidResponse { status, .. }
            | Self::ResponseTooLarge { status, .. }
            | Self::NestingTooDeep { status, .. } => Some(*status),
            Self::InvalidInput { .. }
            | Self::Saturated { .. }
            | Self::CircuitOpen { .. }
            | Self::Transport(_) => None,
        }
    }

    /// Whether the request may have reached the server: `false` only when it certainly did
    /// not (refused by a builder, or a transport failure before anything was written).
    pub fn may_have_been_sent(&self) -> bool {
        match self {
            Self::InvalidInput { .. } | Self::Saturated { .. } | Self::CircuitOpen { .. } => false,
            Self::Transport(e) => e.may_have_been_sent(),
            _ => true,
        }
    }

    /// Whether the request may have taken effect although this error was returned: a reply
    /// that could not be read outside the 4xx range, or a transport failure after the
    /// request may have been sent.
    pub fn outcome_unknown(&self) -> bool {
        match self {
            Self::InvalidInput { .. } | Self::Saturated { .. } | Self::CircuitOpen { .. } => false,
            Self::UnexpectedStatus { status, .. }
            | Self::NotJson { status, .. }
            | Self::InvalidResponse { status, .. }
            | Self::ResponseTooLarge { status, .. }
            | Self::NestingTooDeep { status, .. } => !(400..500).contains(status),
            Self::Transport(e) => e.may_have_been_sent(),
        }
    }
}

impl RestError {
    /// Removes credentials from every text taken from a reply.
    pub(crate) fn redact(&mut self, r: &crate::redact::Redactor) {
        match self {
            Self::UnexpectedStatus { excerpt, .. } | Self::NotJson { excerpt, .. } => {
                r.text(excerpt)
            }
            Self::InvalidResponse { detail, .. } => r.text(detail),
            Self::InvalidInput { .. }
            | Self::Saturated { .. }
            | Self::CircuitOpen { .. }
            | Self::ResponseTooLarge { .. }
            | Self::NestingTooDeep { .. }
            | Self::Transport(_) => {}
        }
    }
}
