//! Timestamps of Maestrano replies: RFC 3339, with or without fractional seconds; the year
//! 0000 (and any negative year), which Maestrano sends for "no date", reads as none.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use time::OffsetDateTime;

pub(crate) use crate::timestamp::format_rfc3339 as format_timestamp;
pub use crate::timestamp::parse_rfc3339 as parse_timestamp;

/// `deserialize_with` for an optional timestamp: absent, `null`, `""` and year-0000 dates are
/// `None`.
pub(crate) fn opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<OffsetDateTime>, D::Error> {
    match Option::<std::borrow::Cow<'de, str>>::deserialize(d)? {
        None => Ok(None),
        Some(s) if s.is_empty() => Ok(None),
        Some(s) => parse_timestamp(&s).map_err(D::Error::custom),
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn with_and_without_millis_and_offsets() {
        assert_eq!(
            parse_timestamp("2016-08-01T15:30:20.000Z").unwrap(),
            Some(datetime!(2016-08-01 15:30:20 UTC))
        );
        assert_eq!(
            parse_timestamp("2015-06-03T05:00:33Z").unwrap(),
            Some(datetime!(2015-06-03 05:00:33 UTC))
        );
        assert_eq!(
            parse_timestamp("2017-03-28T02:00:05.417Z").unwrap(),
            Some(datetime!(2017-03-28 02:00:05.417 UTC))
        );
        assert_eq!(
            parse_timestamp("2016-08-01T17:30:20+02:00").unwrap(),
            Some(datetime!(2016-08-01 15:30:20 UTC))
        );
    }

    #[test]
    fn year_zero_and_negative_years_are_none_and_year_one_is_a_date() {
        assert_eq!(parse_timestamp("0000-01-01T00:00:00Z").unwrap(), None);
        assert_eq!(parse_timestamp("-000-01-01T00:00:00Z").unwrap(), None);
        assert_eq!(
            parse_timestamp("0001-01-01T00:00:00Z").unwrap(),
            Some(datetime!(0001-01-01 0:00 UTC))
        );
    }

    #[test]
    fn garbage_is_an_error_naming_what_was_found() {
        for bad in [
            "yesterday",
            "2016-13-01T00:00:00Z",
            "2016-08-01",
            "2016-08-01 15:30:20",
        ] {
            let e = parse_timestamp(bad).unwrap_err();
            assert_eq!(e.found, bad);
        }
    }

    #[test]
    fn formatting_is_utc_rfc3339() {
        let t = datetime!(2017-03-01 10:00 +10:00);
        assert_eq!(format_timestamp(t).unwrap(), "2017-03-01T00:00:00Z");
    }
}
