//! The errors of the account API.

use std::fmt;

use crate::ports::TransportError;
use crate::rest::RestError;

/// The field errors of an account API reply (`errors` in the envelope), in the order the
/// server sent them: each field with its messages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(Vec<(String, Vec<String>)>);

impl FieldErrors {
    /// Field errors from pairs, in order.
    pub fn new(fields: Vec<(String, Vec<String>)>) -> Self {
        Self(fields)
    }

    /// Every field with its messages, in the server's order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &[String])> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    /// The messages for `field`.
    pub fn get(&self, field: &str) -> Option<&[String]> {
        self.0
            .iter()
            .find(|(k, _)| k == field)
            .map(|(_, v)| v.as_slice())
    }

    /// The first field, the `param` of the Ruby SDK's errors.
    pub fn first_field(&self) -> Option<&str> {
        self.0.first().map(|(k, _)| k.as_str())
    }

    /// How many fields have errors.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no field errors.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The message of the Ruby SDK: the first field followed by its messages, joined by
    /// spaces (`"id does not exist"`). `None` when there are no errors.
    pub fn message(&self) -> Option<String> {
        self.0.first().map(|(k, msgs)| {
            let mut out = k.clone();
            for m in msgs {
                out.push(' ');
                out.push_str(m);
            }
            out
        })
    }

    /// Every message of every field, each prefixed by its field, joined by `"; "`.
    pub fn all_messages(&self) -> String {
        let mut parts = Vec::new();
        for (k, msgs) in &self.0 {
            for m in msgs {
                parts.push(format!("{k} {m}"));
            }
            if msgs.is_empty() {
                parts.push(k.clone());
            }
        }
        parts.join("; ")
    }
}

/// An error of the account API (bills, recurring bills, groups, users, resellers).
///
/// Every variant that comes with a reply carries its HTTP status. None carries a credential:
/// the `Authorization` header never appears in an error, and reply bodies only appear as short
/// excerpts of non-JSON replies.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The API refused the tenant's credentials (HTTP 401).
    #[error("the API refused the credentials (HTTP {status}){}", opt_msg(.message))]
    Authentication {
        /// The HTTP status.
        status: u16,
        /// The server's message, such as `Invalid API token`.
        message: Option<String>,
    },
    /// The object does not exist: `errors.id` is `does not exist` (which the server sends with
    /// HTTP 200 on a read, 400 on a cancel), or the status was 404. An invalid request whose
    /// `param` is `id`.
    #[error("not found (HTTP {status}): {message}")]
    NotFound {
        /// The HTTP status.
        status: u16,
        /// The message, such as `id does not exist`.
        message: String,
    },
    /// The request was refused (HTTP 400, another 4xx, or `success: false`), with the field
    /// errors. `param` is the first field and `message` the first field's messages, as in the
    /// Ruby SDK.
    #[error("invalid request (HTTP {status}): {message}")]
    InvalidRequest {
        /// The HTTP status.
        status: u16,
        /// The first field in error.
        param: Option<String>,
        /// The first field followed by its messages.
        message: String,
        /// Every field error, in order.
        errors: FieldErrors,
    },
    /// A bill or recurring bill could not be cancelled: it was already invoiced (HTTP 400 with
    /// `errors.status`), or the reply showed a status other than `cancelled`.
    #[error("the bill cannot be cancelled (HTTP {status}): {message}")]
    NotCancellable {
        /// The HTTP status.
        status: u16,
        /// Why, such as `status has already been set to invoiced and cannot be changed`.
        message: String,
    },
    /// The server failed (HTTP 5xx). Whether the request took effect is unknown.
    #[error("the server failed (HTTP {status}){}", opt_msg(.message))]
    Server {
        /// The HTTP status.
        status: u16,
        /// The server's message, from `errors.system` when the body was an envelope.
        message: Option<String>,
        /// The start of the body when it was not an envelope.
        excerpt: Option<String>,
    },
    /// A request that could not be built, or a reply that could not be read, as for every
    /// REST call of the SDK; or no reply at all.
    #[error(transparent)]
    Rest(#[from] RestError),
}

impl From<TransportError> for ApiError {
    fn from(e: TransportError) -> Self {
        Self::Rest(RestError::Transport(e))
    }
}

fn opt_msg(m: &Option<String>) -> String {
    m.as_ref().map(|m| format!(": {m}")).unwrap_or_default()
}

impl ApiError {
    /// The HTTP status of the reply, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Authentication { status, .. }
            | Self::NotFound { status, .. }
            | Self::InvalidRequest { status, .. }
            | Self::NotCancellable { status, .. }
            | Self::Server { status, .. } => Some(*status),
            Self::Rest(e) => e.status(),
        }
    }

    /// The field an invalid request names first (`id` for [`ApiError::NotFound`] from an
    /// envelope, `status` for [`ApiError::NotCancellable`]).
    pub fn param(&self) -> Option<&str> {
        match self {
            Self::InvalidRequest { param, .. } => param.as_deref(),
            Self::NotFound { message, .. } if message.starts_with("id ") => Some("id"),
            Self::NotCancellable { .. } => Some("status"),
            _ => None,
        }
    }

    /// Whether the request may have reached the server. `false` only when it certainly did
    /// not: refused by a builder, or a transport failure before anything was written.
    pub fn may_have_been_sent(&self) -> bool {
        match self {
            Self::Rest(e) => e.may_have_been_sent(),
            _ => true,
        }
    }

    /// Whether the request may have taken effect although this error was returned: the server
    /// failed (5xx), the reply could not be read, or the exchange broke after the request may
    /// have been sent. For a create (a bill!), look the object up before sending it again; see
    /// the [module documentation](crate::api#avoiding-double-billing).
    ///
    /// A refusal the server explained (401, 4xx with field errors, not found, not
    /// cancellable) did not take effect.
    pub fn outcome_unknown(&self) -> bool {
        match self {
            Self::Authentication { .. }
            | Self::NotFound { .. }
            | Self::InvalidRequest { .. }
            | Self::NotCancellable { .. } => false,
            Self::Server { .. } => true,
            Self::Rest(e) => e.outcome_unknown(),
        }
    }
}

impl fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.all_messages())
    }
}

impl ApiError {
    /// Removes the tenant's credentials (and any that their shape gives away) from every text
    /// taken from a reply.
    pub(crate) fn redact(&mut self, r: &crate::redact::Redactor) {
        match self {
            Self::Authentication { message, .. } => r.option(message),
            Self::NotFound { message, .. } | Self::NotCancellable { message, .. } => {
                r.text(message)
            }
            Self::InvalidRequest {
                param,
                message,
                errors,
                ..
            } => {
                r.option(param);
                r.text(message);
                for (field, messages) in &mut errors.0 {
                    r.text(field);
                    messages.iter_mut().for_each(|m| r.text(m));
                }
            }
            Self::Server {
                message, excerpt, ..
            } => {
                r.option(message);
                r.option(excerpt);
            }
            Self::Rest(e) => e.redact(r),
        }
    }
}
