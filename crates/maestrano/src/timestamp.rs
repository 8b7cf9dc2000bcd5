//! Reading the timestamps Maestrano services send, which are not always strict RFC 3339.

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// A timestamp could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected an RFC 3339 timestamp such as \"2017-03-27T16:11:22Z\", found {found:?}")]
pub struct TimestampError {
    /// The text found (at most 64 characters of it).
    pub found: String,
}

fn error(text: &str) -> TimestampError {
    TimestampError {
        found: text.chars().take(64).collect(),
    }
}

/// Reads an RFC 3339 timestamp (`2016-08-01T15:30:20Z`, `2016-08-01T15:30:20.000Z`,
/// `2016-08-01T17:30:20+02:00`), in UTC, as the Maestrano APIs send them. A year 0000 date
/// (`0000-01-01T00:00:00Z`, sent for "no date") and negative years are `Ok(None)`, not errors;
/// year 0001 is a date. No text panics.
pub fn parse_rfc3339(text: &str) -> Result<Option<OffsetDateTime>, TimestampError> {
    if text.len() > 64 {
        return Err(error(text));
    }
    if text.starts_with("0000-") || text.starts_with('-') {
        return Ok(None);
    }
    OffsetDateTime::parse(text, &Rfc3339)
        .ok()
        .and_then(in_utc)
        .ok_or_else(|| error(text))
}

/// Reads a timestamp as the Maestrano SDKs accept them: RFC 3339 with or without fractional
/// seconds, an offset written without a colon (`+0000`, PHP's ISO 8601 form), or no offset at
/// all (.NET's `s` form, read as UTC). A date in year 0000 (sent for "no date") and negative
/// years, also when the offset moves the date there in UTC, are `None`, not errors. Text that
/// is no timestamp, or one past year 9999 in UTC, is an error; no text panics.
pub fn parse_lenient(text: &str) -> Result<Option<OffsetDateTime>, TimestampError> {
    let t = text.trim();
    if t.len() > 64 {
        return Err(error(t));
    }
    if let Ok(v) = parse_rfc3339(t) {
        return Ok(v);
    }
    // `+hhmm` / `-hhmm` at the end: insert the colon RFC 3339 wants. The text is untrusted, so
    // the split point may fall inside a multi-byte character: `get` refuses it instead of
    // panicking.
    let split = t.len().saturating_sub(5);
    if split > 0
        && let Some((head, tail)) = t.get(..split).zip(t.get(split..))
    {
        let sign = tail.as_bytes()[0];
        if (sign == b'+' || sign == b'-') && tail[1..].bytes().all(|c| c.is_ascii_digit()) {
            let fixed = format!("{head}{}:{}", &tail[..3], &tail[3..]);
            if let Ok(v) = OffsetDateTime::parse(&fixed, &Rfc3339) {
                return in_utc(v).ok_or_else(|| error(t));
            }
        }
    }
    let naive = time::macros::format_description!(
        version = 2,
        "[year]-[month]-[day]T[hour]:[minute]:[second][optional [.[subsecond]]]"
    );
    PrimitiveDateTime::parse(t, &naive)
        .ok()
        .and_then(|p| in_utc(p.assume_utc()))
        .ok_or_else(|| error(t))
}

/// `v` in UTC; `None` when UTC falls outside the supported years (`9999-12-31T23:30:00-01:00`
/// is in year 10000 in UTC, where `to_offset` would panic). A UTC date before year 1 is
/// `Some(None)`, like a literal year 0000, so that whatever this returns, [`format_utc`] writes
/// text that reads back to the same instant.
fn in_utc(v: OffsetDateTime) -> Option<Option<OffsetDateTime>> {
    let utc = v.checked_to_offset(UtcOffset::UTC)?;
    Some((utc.year() >= 1).then_some(utc))
}

/// Writes a timestamp in UTC as RFC 3339 with a `Z` and whole seconds. A time whose UTC
/// date falls outside years 1 to 9999 is written as the nearest of those bounds.
pub fn format_utc(t: OffsetDateTime) -> String {
    const FIRST: OffsetDateTime = time::macros::datetime!(0001-01-01 00:00:00 UTC);
    const LAST: OffsetDateTime = time::macros::datetime!(9999-12-31 23:59:59 UTC);
    // `time` holds years -9999 to 9999: a UTC year of 0 or less converts fine but must still
    // be clamped (both parsers read year 0000 and negative years as "no date").
    let t = match t.checked_to_offset(UtcOffset::UTC) {
        Some(utc) if utc.year() >= 1 => utc,
        Some(_) => FIRST,
        None if t.year() > 0 => LAST,
        None => FIRST,
    };
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Formats `t` as RFC 3339 in UTC (`2017-03-01T00:00:00Z`), as the API expects in filters and
/// bodies. `None` when the year is outside 0000–9999.
pub(crate) fn format_rfc3339(t: OffsetDateTime) -> Option<String> {
    t.checked_to_offset(time::UtcOffset::UTC)?
        .format(&Rfc3339)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_saturates_instead_of_panicking() {
        let late = time::macros::datetime!(9999-12-31 23:00 -05:00);
        assert_eq!(format_utc(late), "9999-12-31T23:59:59Z");
        // Found by the `timestamp` fuzz target: years 0 and below were written as they are.
        for early in [
            time::macros::datetime!(-1118-03-11 5:39:27 +05:32:15),
            time::macros::datetime!(0000-12-31 23:59:59 UTC),
            time::macros::datetime!(0001-01-01 00:30 +01:00),
        ] {
            assert_eq!(format_utc(early), "0001-01-01T00:00:00Z", "{early}");
        }
        assert_eq!(format_rfc3339(late), None);
    }

    #[test]
    fn the_strict_parser_refuses_what_is_not_rfc_3339_and_never_panics() {
        assert!(parse_rfc3339("2017-03-06T02:40:39+0000").is_err());
        assert!(parse_rfc3339("2017-06-02T08:21:32").is_err());
        assert!(
            parse_rfc3339("9999-12-31T23:59:59-23:59").is_err(),
            "year 10000 in UTC"
        );
        assert_eq!(parse_rfc3339("0000-01-01T00:00:00Z"), Ok(None));
        assert!(parse_rfc3339(&"2".repeat(100)).is_err());
    }
    use time::macros::datetime;

    #[test]
    fn reads_every_form_the_services_send() {
        let cases = [
            ("2016-06-28T08:03:00Z", datetime!(2016-06-28 08:03:00 UTC)),
            (
                "2017-08-11T08:54:30.123Z",
                datetime!(2017-08-11 08:54:30.123 UTC),
            ),
            (
                "2017-03-06T02:40:39+0000",
                datetime!(2017-03-06 02:40:39 UTC),
            ),
            (
                "2017-03-06T04:40:39+02:00",
                datetime!(2017-03-06 02:40:39 UTC),
            ),
            ("2017-06-02T08:21:32", datetime!(2017-06-02 08:21:32 UTC)),
            ("0001-01-01T00:00:00Z", datetime!(0001-01-01 00:00:00 UTC)),
        ];
        for (text, want) in cases {
            assert_eq!(parse_lenient(text), Ok(Some(want)), "{text}");
        }
        assert_eq!(parse_lenient("0000-01-01T00:00:00Z"), Ok(None));
        assert_eq!(parse_lenient("-000-01-01T00:00:00Z"), Ok(None));
        assert!(parse_lenient("yesterday").is_err());
        assert!(parse_lenient(&"9".repeat(100)).is_err());
        assert_eq!(
            format_utc(datetime!(2024-05-01 10:00:00.5 +02:00)),
            "2024-05-01T08:00:00Z"
        );
    }

    #[test]
    fn hostile_text_is_an_error_not_a_panic() {
        // The `+hhmm` check sliced five bytes from the end, which here is inside the three-byte
        // `€` (an AuthnRequest IssueInstant, or an IdP's session-check reply, can say this).
        assert!(parse_lenient("a€bbbb").is_err());
        assert!(parse_lenient("2024-05-01T10:00:00+02€0").is_err());
        // `to_offset` panics past year 9999.
        assert!(parse_lenient("9999-12-31T23:59:59-23:59").is_err());
        assert!(parse_lenient("9999-12-31T23:59:59-2359").is_err());
    }

    #[test]
    fn what_parses_formats_and_parses_back() {
        // Year 0000 in UTC would be written as the "no date" sentinel, so it is `None` from
        // the start.
        assert_eq!(parse_lenient("0001-01-01T00:00:00+01:00"), Ok(None));
        assert_eq!(parse_lenient("+0000-01-01T00:00:00"), Ok(None));
        for text in [
            "0001-01-01T01:00:00+01:00",
            "9999-12-31T23:59:59Z",
            "9999-12-31T22:59:59-0100",
            "2024-02-29T12:00:00.999",
        ] {
            let t = parse_lenient(text).unwrap().unwrap();
            assert_eq!(
                parse_lenient(&format_utc(t)),
                Ok(Some(t.replace_nanosecond(0).unwrap())),
                "{text}"
            );
        }
    }
}
