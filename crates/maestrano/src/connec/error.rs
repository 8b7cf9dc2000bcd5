//! The errors of Connec!.

use serde::{Deserialize, Deserializer, Serialize};

use super::batch::BatchOutcome;
use crate::ports::TransportError;
use crate::rest::RestError;
use crate::types::MarketplaceKey;

/// One error in Connec!'s JSON-API shape `{errors: [{id, href, status, code, title, detail}]}`.
/// Every member is optional; `status` is read from a string or a number.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct JsonApiError {
    /// The error's id.
    #[serde(default)]
    pub id: Option<String>,
    /// A link to the documentation (`null` when raised before the resource is known).
    #[serde(default)]
    pub href: Option<String>,
    /// The status the server wrote inside the error. It may disagree with the HTTP status,
    /// which is the one the SDK reports.
    #[serde(default, deserialize_with = "string_or_number")]
    pub status: Option<String>,
    /// A machine-readable code, such as `resource-not-found`.
    #[serde(default)]
    pub code: Option<String>,
    /// A short title.
    #[serde(default)]
    pub title: Option<String>,
    /// Details.
    #[serde(default)]
    pub detail: Option<String>,
}

impl JsonApiError {
    /// An error with only a title and detail (a batch operation whose body is a bare string).
    pub fn message(text: impl Into<String>) -> Self {
        let text = text.into();
        Self {
            title: Some(text.clone()),
            detail: Some(text),
            ..Self::default()
        }
    }
}

fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(s),
        Some(other) => Some(other.to_string()),
    })
}

fn first(errors: &[JsonApiError]) -> String {
    match errors.first() {
        None => String::new(),
        Some(e) => {
            let code = e.code.as_deref().unwrap_or("-");
            match e.title.as_deref().or(e.detail.as_deref()) {
                Some(t) => format!(": {code}: {t}"),
                None => format!(": {code}"),
            }
        }
    }
}

/// An error of a Connec! call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnecError {
    /// The tenant has no `connec` block.
    #[error("marketplace {marketplace} has no Connec! configuration")]
    NotConfigured {
        /// The tenant.
        marketplace: MarketplaceKey,
    },
    /// Connec! refused the credentials (HTTP 401).
    #[error("Connec! refused the credentials (HTTP {status}){}", first(.errors))]
    Authentication {
        /// The HTTP status.
        status: u16,
        /// The JSON-API errors, when the body had them.
        errors: Vec<JsonApiError>,
    },
    /// Connec! answered with JSON-API errors. `status` is the HTTP status, even when an
    /// error's own `status` says otherwise.
    #[error("Connec! refused the request (HTTP {status}){}", first(.errors))]
    Api {
        /// The HTTP status.
        status: u16,
        /// The errors, in order.
        errors: Vec<JsonApiError>,
    },
    /// Connec! failed (HTTP 5xx) without JSON-API errors.
    #[error("Connec! failed (HTTP {status}): {excerpt:?}")]
    Server {
        /// The HTTP status.
        status: u16,
        /// The start of the body.
        excerpt: String,
    },
    /// it was not followed, and no credentials were sent to it.
    #[error("pagination.next not followed: expected a URL under {expected}, found {found}")]
    ForeignNextPage {
        /// Where next pages must be (scheme, host, port and group path).
        expected: String,
        /// Where the link pointed (scheme, host and port only).
        found: String,
    },
    /// The listing had more pages than allowed.
    #[error("more than {limit} pages: the listing was stopped")]
    TooManyPages {
        /// The page cap.
        limit: u32,
    },
    /// A batch of more than 50 operations was split into several calls, and one of them
    /// failed: the operations before it were applied and their outcomes are here.
    #[error("batch stopped after {} operations", .completed.len())]
    BatchIncomplete {
        /// The outcomes of the calls that succeeded, in input order.
        completed: Vec<BatchOutcome>,
        /// Why the next call failed.
        #[source]
        source: Box<ConnecError>,
    },
    /// A request that could not be built, or a reply that could not be read, as for every
    /// REST call of the SDK; or no reply at all.
    #[error(transparent)]
    Rest(#[from] RestError),
}

impl From<TransportError> for ConnecError {
    fn from(e: TransportError) -> Self {
        Self::Rest(RestError::Transport(e))
    }
}

impl ConnecError {
    /// The HTTP status of the reply, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Authentication { status, .. }
            | Self::Api { status, .. }
            | Self::Server { status, .. } => Some(*status),
            Self::Rest(e) => e.status(),
            _ => None,
        }
    }

    /// The JSON-API errors, if any.
    pub fn errors(&self) -> &[JsonApiError] {
        match self {
            Self::Authentication { errors, .. } | Self::Api { errors, .. } => errors,
            _ => &[],
        }
    }

    /// The code of the first JSON-API error, such as `resource-not-found`.
    pub fn code(&self) -> Option<&str> {
        self.errors().first().and_then(|e| e.code.as_deref())
    }

    /// Whether the request may have reached the server (false only when it certainly did
    /// not).
    pub fn may_have_been_sent(&self) -> bool {
        match self {
            Self::NotConfigured { .. }
            | Self::ForeignNextPage { .. }
            | Self::TooManyPages { .. } => false,
            Self::Rest(e) => e.may_have_been_sent(),
            Self::BatchIncomplete { source, .. } => source.may_have_been_sent(),
            _ => true,
        }
    }

    /// Whether the request may have taken effect although this error was returned (a 5xx, an
    /// unreadable reply, a transport failure after sending). Check before sending a create
    /// again.
    pub fn outcome_unknown(&self) -> bool {
        match self {
            Self::Server { .. } => true,
            Self::Api { status, .. } => *status >= 500,
            Self::Rest(e) => e.outcome_unknown(),
            Self::BatchIncomplete { source, .. } => source.outcome_unknown(),
            _ => false,
        }
    }
}

impl JsonApiError {
    fn redact(&mut self, r: &crate::redact::Redactor) {
        for text in [
            &mut self.id,
            &mut self.href,
            &mut self.status,
            &mut self.code,
            &mut self.title,
            &mut self.detail,
        ] {
            r.option(text);
        }
    }
}

impl ConnecError {
    /// Removes the tenant's credentials (and any that their shape gives away) from every text
    /// taken from a reply, down to the outcomes of a stopped batch.
    pub(crate) fn redact(&mut self, r: &crate::redact::Redactor) {
        match self {
            Self::Authentication { errors, .. } | Self::Api { errors, .. } => {
                errors.iter_mut().for_each(|e| e.redact(r))
            }
            Self::Server { excerpt, .. } => r.text(excerpt),
            Self::BatchIncomplete { completed, source } => {
                source.redact(r);
                for outcome in completed {
                    if let Err(e) = &mut outcome.result {
                        e.redact(r);
                    }
                }
            }
            Self::Rest(e) => e.redact(r),
            Self::NotConfigured { .. }
            | Self::ForeignNextPage { .. }
            | Self::TooManyPages { .. } => {}
        }
    }
}
