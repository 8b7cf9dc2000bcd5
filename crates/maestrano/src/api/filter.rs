//! Filters of the account API's list calls: equality and the server's comparison suffixes
//! (`created_at_after=…`), with RFC 3339 times.

use time::OffsetDateTime;

use super::error::ApiError;
use super::money::Decimal;
use super::timestamp::format_timestamp;
use crate::rest::RestError;

/// A comparison the account API understands as a suffix of the field name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Comparison {
    /// `field_after`: greater than or equal (times).
    After,
    /// `field_strictly_after`: strictly greater (times).
    StrictlyAfter,
    /// `field_before`: lower than or equal (times).
    Before,
    /// `field_strictly_before`: strictly lower (times).
    StrictlyBefore,
    /// `field_greater_than`: greater than or equal (numbers).
    GreaterThan,
    /// `field_strictly_greater_than`: strictly greater (numbers).
    StrictlyGreaterThan,
    /// `field_lower_than`: lower than or equal (numbers).
    LowerThan,
    /// `field_strictly_lower_than`: strictly lower (numbers).
    StrictlyLowerThan,
}

impl Comparison {
    /// Every comparison.
    pub const ALL: [Comparison; 8] = [
        Self::After,
        Self::StrictlyAfter,
        Self::Before,
        Self::StrictlyBefore,
        Self::GreaterThan,
        Self::StrictlyGreaterThan,
        Self::LowerThan,
        Self::StrictlyLowerThan,
    ];

    /// The suffix appended to the field name, such as `_strictly_after`.
    pub fn suffix(self) -> &'static str {
        match self {
            Self::After => "_after",
            Self::StrictlyAfter => "_strictly_after",
            Self::Before => "_before",
            Self::StrictlyBefore => "_strictly_before",
            Self::GreaterThan => "_greater_than",
            Self::StrictlyGreaterThan => "_strictly_greater_than",
            Self::LowerThan => "_lower_than",
            Self::StrictlyLowerThan => "_strictly_lower_than",
        }
    }
}

/// A value compared in a filter.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FilterValue {
    /// Text, sent as is.
    Text(String),
    /// An integer (`price_cents`).
    Integer(i64),
    /// A decimal (`units`).
    Decimal(Decimal),
    /// A boolean, sent as `true` or `false`.
    Bool(bool),
    /// A time, sent as RFC 3339 in UTC.
    Time(OffsetDateTime),
}

impl From<&str> for FilterValue {
    fn from(v: &str) -> Self {
        Self::Text(v.to_owned())
    }
}
impl From<String> for FilterValue {
    fn from(v: String) -> Self {
        Self::Text(v)
    }
}
impl From<i64> for FilterValue {
    fn from(v: i64) -> Self {
        Self::Integer(v)
    }
}
impl From<Decimal> for FilterValue {
    fn from(v: Decimal) -> Self {
        Self::Decimal(v)
    }
}
impl From<bool> for FilterValue {
    fn from(v: bool) -> Self {
        Self::Bool(v)
    }
}
impl From<OffsetDateTime> for FilterValue {
    fn from(v: OffsetDateTime) -> Self {
        Self::Time(v)
    }
}
impl From<&crate::types::GroupUid> for FilterValue {
    fn from(v: &crate::types::GroupUid) -> Self {
        Self::Text(v.as_str().to_owned())
    }
}

/// Most conditions in one filter.
pub const MAX_FILTER_CONDITIONS: usize = 32;

/// The query of a list call: conditions on fields, ANDed by the server.
///
/// ```
/// use maestrano::api::Filter;
/// use time::macros::datetime;
///
/// let filter = Filter::new()
///     .eq("status", "submitted")
///     .after("created_at", datetime!(2017-03-01 0:00 UTC))
///     .strictly_greater_than("price_cents", 1000);
/// assert_eq!(
///     filter.query_pairs().unwrap(),
///     [
///         ("status".to_owned(), "submitted".to_owned()),
///         ("created_at_after".to_owned(), "2017-03-01T00:00:00Z".to_owned()),
///         ("price_cents_strictly_greater_than".to_owned(), "1000".to_owned()),
///     ]
/// );
/// ```
///
/// Field names are checked when the request is built: lower-case ASCII letters, digits and
/// `_`, starting with a letter, at most 64 bytes, and not already ending with a comparison
/// suffix (which would silently change the condition).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct Filter {
    conditions: Vec<(String, Option<Comparison>, FilterValue)>,
}

impl Filter {
    /// No conditions: every object.
    pub fn new() -> Self {
        Self::default()
    }

    /// `field` equals `value`.
    pub fn eq(mut self, field: &str, value: impl Into<FilterValue>) -> Self {
        self.conditions.push((field.to_owned(), None, value.into()));
        self
    }

    /// `field` compared with `value`.
    pub fn compare(mut self, field: &str, cmp: Comparison, value: impl Into<FilterValue>) -> Self {
        self.conditions
            .push((field.to_owned(), Some(cmp), value.into()));
        self
    }

    /// `field` at or after `t`.
    pub fn after(self, field: &str, t: OffsetDateTime) -> Self {
        self.compare(field, Comparison::After, t)
    }

    /// `field` strictly after `t`.
    pub fn strictly_after(self, field: &str, t: OffsetDateTime) -> Self {
        self.compare(field, Comparison::StrictlyAfter, t)
    }

    /// `field` at or before `t`.
    pub fn before(self, field: &str, t: OffsetDateTime) -> Self {
        self.compare(field, Comparison::Before, t)
    }

    /// `field` strictly before `t`.
    pub fn strictly_before(self, field: &str, t: OffsetDateTime) -> Self {
        self.compare(field, Comparison::StrictlyBefore, t)
    }

    /// `field` greater than or equal to `value`.
    pub fn greater_than(self, field: &str, value: impl Into<FilterValue>) -> Self {
        self.compare(field, Comparison::GreaterThan, value)
    }

    /// `field` strictly greater than `value`.
    pub fn strictly_greater_than(self, field: &str, value: impl Into<FilterValue>) -> Self {
        self.compare(field, Comparison::StrictlyGreaterThan, value)
    }

    /// `field` lower than or equal to `value`.
    pub fn lower_than(self, field: &str, value: impl Into<FilterValue>) -> Self {
        self.compare(field, Comparison::LowerThan, value)
    }

    /// `field` strictly lower than `value`.
    pub fn strictly_lower_than(self, field: &str, value: impl Into<FilterValue>) -> Self {
        self.compare(field, Comparison::StrictlyLowerThan, value)
    }

    /// Whether there are no conditions.
    pub fn is_empty(&self) -> bool {
        self.conditions.is_empty()
    }

    /// The query parameters, in the order the conditions were added.
    ///
    /// # Errors
    ///
    /// [`RestError::InvalidInput`](crate::RestError::InvalidInput) for a malformed field name, a time outside years 0000–9999,
    /// or more than [`MAX_FILTER_CONDITIONS`] conditions.
    pub fn query_pairs(&self) -> Result<Vec<(String, String)>, ApiError> {
        if self.conditions.len() > MAX_FILTER_CONDITIONS {
            return Err(ApiError::Rest(RestError::InvalidInput {
                field: "filter",
                expected: "at most 32 conditions",
                found: format!("{} conditions", self.conditions.len()),
            }));
        }
        self.conditions
            .iter()
            .map(|(field, cmp, value)| {
                check_field(field)?;
                let key = match cmp {
                    Some(c) => format!("{field}{}", c.suffix()),
                    None => field.clone(),
                };
                let value = match value {
                    FilterValue::Text(s) => s.clone(),
                    FilterValue::Integer(i) => i.to_string(),
                    FilterValue::Decimal(d) => d.to_string(),
                    FilterValue::Bool(b) => b.to_string(),
                    FilterValue::Time(t) => format_timestamp(*t).ok_or_else(|| {
                        ApiError::Rest(RestError::InvalidInput {
                            field: "filter time",
                            expected: "a time between years 0000 and 9999",
                            found: t.year().to_string(),
                        })
                    })?,
                };
                Ok((key, value))
            })
            .collect()
    }
}

fn check_field(field: &str) -> Result<(), ApiError> {
    let well_formed = !field.is_empty()
        && field.len() <= 64
        && field.as_bytes()[0].is_ascii_lowercase()
        && field
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !well_formed {
        return Err(ApiError::Rest(RestError::InvalidInput {
            field: "filter field",
            expected: "a field name of lower-case letters, digits and '_'",
            found: crate::types::shown(field),
        }));
    }
    if let Some(c) = Comparison::ALL.iter().find(|c| field.ends_with(c.suffix())) {
        return Err(ApiError::Rest(RestError::InvalidInput {
            field: "filter field",
            expected: "a field name without a comparison suffix (use Filter::compare)",
            found: format!("{field} (ends with {})", c.suffix()),
        }));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn every_suffix_is_rendered_with_rfc3339_times() {
        let t = datetime!(2017-03-27 16:11:22.5 +01:00);
        let mut f = Filter::new();
        for c in Comparison::ALL {
            f = f.compare("created_at", c, t);
        }
        let keys: Vec<_> = f
            .query_pairs()
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(
            keys,
            [
                "created_at_after",
                "created_at_strictly_after",
                "created_at_before",
                "created_at_strictly_before",
                "created_at_greater_than",
                "created_at_strictly_greater_than",
                "created_at_lower_than",
                "created_at_strictly_lower_than",
            ]
        );
        assert!(
            f.query_pairs()
                .unwrap()
                .iter()
                .all(|(_, v)| v == "2017-03-27T15:11:22.5Z")
        );
    }

    #[test]
    fn values_render_without_floats() {
        let f = Filter::new()
            .eq("third_party", true)
            .lower_than("units", "1.50".parse::<Decimal>().unwrap())
            .strictly_lower_than("price_cents", -5);
        assert_eq!(
            f.query_pairs().unwrap(),
            [
                ("third_party".into(), "true".into()),
                ("units_lower_than".into(), "1.50".into()),
                ("price_cents_strictly_lower_than".into(), "-5".into()),
            ]
        );
    }

    #[test]
    fn malformed_or_suffixed_fields_are_refused() {
        for bad in [
            "",
            "Status",
            "a b",
            "a&b=c",
            "1x",
            "created_at_after",
            "x_strictly_before",
        ] {
            assert!(
                matches!(
                    Filter::new().eq(bad, "v").query_pairs(),
                    Err(ApiError::Rest(RestError::InvalidInput { .. }))
                ),
                "{bad:?}"
            );
        }
        let many = (0..33).fold(Filter::new(), |f, i| f.eq("status", i64::from(i)));
        assert!(many.query_pairs().is_err());
    }
}
