//! Reading the timestamps Maestrano services send, which are not always strict RFC 3339.

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// A timestamp could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected an RFC 3339 timestamp, found {found:?}")]
pub struct TimestampError {
    /// The text found (at most 64 characters of it).
    pub found: String,
}

fn error(text: &str) -> TimestampError {
    TimestampError {
        found: text.chars().take(64).collect(),
    }
}

/// Reads a timestamp as the Maestrano SDKs accept them: RFC 3339 with or without fractional
/// seconds, an offset written without a colon (`+0000`, PHP's ISO 8601 form), or no offset at
/// all (.NET's `s` form, read as UTC). A date in year 0000 (sent for "no date") and negative
/// years are `None`, not errors.
pub fn parse_lenient(text: &str) -> Result<Option<OffsetDateTime>, TimestampError> {
    let t = text.trim();
    if t.len() > 64 {
        return Err(error(t));
    }
    if t.starts_with("0000-") || t.starts_with('-') {
        return Ok(None);
    }
    if let Ok(v) = OffsetDateTime::parse(t, &Rfc3339) {
        return Ok(Some(v.to_offset(UtcOffset::UTC)));
    }
    // `+hhmm` / `-hhmm` at the end: insert the colon RFC 3339 wants.
    let b = t.as_bytes();
    if b.len() > 5 {
        let tail = &t[t.len() - 5..];
        let sign = tail.as_bytes()[0];
        if (sign == b'+' || sign == b'-') && tail[1..].bytes().all(|c| c.is_ascii_digit()) {
            let fixed = format!("{}{}:{}", &t[..t.len() - 5], &tail[..3], &tail[3..]);
            if let Ok(v) = OffsetDateTime::parse(&fixed, &Rfc3339) {
                return Ok(Some(v.to_offset(UtcOffset::UTC)));
            }
        }
    }
    let naive = time::macros::format_description!(
        version = 2,
        "[year]-[month]-[day]T[hour]:[minute]:[second][optional [.[subsecond]]]"
    );
    PrimitiveDateTime::parse(t, &naive)
        .map(|p| Some(p.assume_utc()))
        .map_err(|_| error(t))
}

/// Writes a timestamp in UTC as RFC 3339 with a `Z` and whole seconds.
pub fn format_utc(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
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

#[cfg(test)]
mod tests {
    use super::*;
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
}
