//! The query of a Connec! list: `$filter`, `$orderby`, `$top`, `$skip`.

use time::OffsetDateTime;

use super::error::ConnecError;
use crate::rest::RestError;
use crate::timestamp::format_rfc3339 as format_timestamp;

/// Longest `$filter` or `$orderby` accepted.
pub const MAX_QUERY_CHARS: usize = 2048;

/// A list query.
///
/// ```
/// use maestrano::connec::ListQuery;
/// use time::macros::datetime;
///
/// let q = ListQuery::new()
///     .updated_since(datetime!(2016-02-01 0:00 UTC))
///     .order_by("updated_at asc")
///     .top(100);
/// assert_eq!(
///     q.query_pairs().unwrap(),
///     [
///         ("$filter".to_owned(), "updated_at gt '2016-02-01T00:00:00Z'".to_owned()),
///         ("$orderby".to_owned(), "updated_at asc".to_owned()),
///         ("$top".to_owned(), "100".to_owned()),
///     ]
/// );
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct ListQuery {
    filter: Option<String>,
    orderby: Option<String>,
    top: Option<u32>,
    skip: Option<u32>,
    bad_time: Option<i32>,
}

impl ListQuery {
    /// No conditions.
    pub fn new() -> Self {
        Self::default()
    }

    /// `$filter`, in Connec!'s syntax (`name eq 'Acme'`, `updated_at gt '…'`); ANDed with any
    /// filter already set.
    pub fn filter(mut self, expression: impl Into<String>) -> Self {
        let expression = expression.into();
        self.filter = Some(match self.filter.take() {
            Some(f) => format!("{f} and {expression}"),
            None => expression,
        });
        self
    }

    /// Entities changed strictly after `t`: `updated_at gt '<RFC 3339>'`.
    pub fn updated_since(self, t: OffsetDateTime) -> Self {
        match format_timestamp(t) {
            Some(text) => self.filter(format!("updated_at gt '{text}'")),
            None => Self {
                bad_time: Some(t.year()),
                ..self
            },
        }
    }

    /// `$orderby`, such as `updated_at desc`.
    pub fn order_by(mut self, expression: impl Into<String>) -> Self {
        self.orderby = Some(expression.into());
        self
    }

    /// `$top`: the page size.
    pub fn top(mut self, n: u32) -> Self {
        self.top = Some(n);
        self
    }

    /// `$skip`: how many entities to skip.
    pub fn skip(mut self, n: u32) -> Self {
        self.skip = Some(n);
        self
    }

    /// The query parameters.
    ///
    /// # Errors
    ///
    /// [`RestError::InvalidInput`](crate::RestError::InvalidInput) for an expression over 2048 characters or with control
    /// characters, a `$top` of 0, or a time outside years 0000–9999.
    pub fn query_pairs(&self) -> Result<Vec<(String, String)>, ConnecError> {
        if let Some(year) = self.bad_time {
            return Err(ConnecError::Rest(RestError::InvalidInput {
                field: "updated_since",
                expected: "a time between years 0000 and 9999",
                found: year.to_string(),
            }));
        }
        let mut out = Vec::new();
        for (name, value) in [("$filter", &self.filter), ("$orderby", &self.orderby)] {
            if let Some(v) = value {
                if v.chars().count() > MAX_QUERY_CHARS || v.chars().any(char::is_control) {
                    return Err(ConnecError::Rest(RestError::InvalidInput {
                        field: if name == "$filter" {
                            "$filter"
                        } else {
                            "$orderby"
                        },
                        expected: "at most 2048 characters without control characters",
                        found: format!("{} characters", v.chars().count()),
                    }));
                }
                out.push((name.to_owned(), v.clone()));
            }
        }
        if self.top == Some(0) {
            return Err(ConnecError::Rest(RestError::InvalidInput {
                field: "$top",
                expected: "at least 1",
                found: "0".into(),
            }));
        }
        if let Some(top) = self.top {
            out.push(("$top".into(), top.to_string()));
        }
        if let Some(skip) = self.skip {
            out.push(("$skip".into(), skip.to_string()));
        }
        Ok(out)
    }
}
