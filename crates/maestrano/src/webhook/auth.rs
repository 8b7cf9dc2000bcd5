//! HTTP Basic authentication of the marketplace's calls, with the tenant's own credentials.

use base64::Engine as _;

use time::OffsetDateTime;

use crate::config::tenant::Tenant;

/// Longest `Authorization` header considered; a longer one is refused unread.
pub(crate) const MAX_AUTHORIZATION_BYTES: usize = 4096;

/// Why an `Authorization` header was refused. Every variant leads to the same 401; the
/// distinction is for tests and logs (it never includes the credentials).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No `Authorization` header.
    #[error("no Authorization header")]
    Missing,
    /// More than one `Authorization` header.
    #[error("several Authorization headers")]
    Repeated,
    /// The header is longer than 4 KiB.
    #[error("Authorization header too long")]
    TooLong,
    /// Not the `Basic` scheme.
    #[error("Authorization scheme is not Basic")]
    NotBasic,
    /// The credentials are not base64.
    #[error("Basic credentials are not base64")]
    BadBase64,
    /// The decoded credentials have no `:`.
    #[error("Basic credentials have no ':' separator")]
    NoColon,
    /// The credentials are not this tenant's.
    #[error("credentials do not match the tenant")]
    Mismatch,
}

/// The user and password of a `Basic` authorization header value, as bytes (they need not
/// be UTF-8). The scheme name is case-insensitive; surrounding white space is ignored.
pub fn parse_basic(value: &[u8]) -> Result<(Vec<u8>, Vec<u8>), AuthError> {
    if value.len() > MAX_AUTHORIZATION_BYTES {
        return Err(AuthError::TooLong);
    }
    let value = value.trim_ascii();
    let space = value
        .iter()
        .position(|b| *b == b' ')
        .ok_or(AuthError::NotBasic)?;
    let (scheme, rest) = value.split_at(space);
    if !scheme.eq_ignore_ascii_case(b"basic") {
        return Err(AuthError::NotBasic);
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim_ascii())
        .map_err(|_| AuthError::BadBase64)?;
    let colon = decoded
        .iter()
        .position(|b| *b == b':')
        .ok_or(AuthError::NoColon)?;
    Ok((decoded[..colon].to_vec(), decoded[colon + 1..].to_vec()))
}

/// Checks the request's `Authorization` header against the tenant's `api.id:api.key` (or,
/// until `now` passes the overlap window, the credentials a refresh replaced:
/// [`Tenant::check_credentials_at`]), in time that does not depend on where the values differ.
pub fn authenticate(
    tenant: &Tenant,
    headers: &http::HeaderMap,
    now: OffsetDateTime,
) -> Result<(), AuthError> {
    let mut values = headers.get_all(http::header::AUTHORIZATION).iter();
    let value = values.next().ok_or(AuthError::Missing)?;
    if values.next().is_some() {
        return Err(AuthError::Repeated);
    }
    let (user, password) = parse_basic(value.as_bytes())?;
    if tenant.check_credentials(&user, &password) {
        Ok(())
    } else if tenant.check_credentials_at(&user, &password, now) {
        tracing::info!(
            marketplace = %tenant.marketplace(),
            "webhook authenticated with the credentials a refresh replaced (overlap window)"
        );
        Ok(())
    } else {
        Err(AuthError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_robustly() {
        let b64 = |s: &[u8]| base64::engine::general_purpose::STANDARD.encode(s);
        assert_eq!(
            parse_basic(format!("Basic {}", b64(b"app-1:k:ey")).as_bytes()),
            Ok((b"app-1".to_vec(), b"k:ey".to_vec()))
        );
        assert_eq!(
            parse_basic(format!("  bAsIc   {}  ", b64(b"a:")).as_bytes()),
            Ok((b"a".to_vec(), Vec::new()))
        );
        assert_eq!(
            parse_basic(format!("Basic {}", b64(b"\xff\xfe:\x00")).as_bytes()).map(|p| p.1),
            Ok(vec![0])
        );
        assert_eq!(parse_basic(b"Bearer abc"), Err(AuthError::NotBasic));
        assert_eq!(parse_basic(b"Basic"), Err(AuthError::NotBasic));
        assert_eq!(parse_basic(b"Basic !!!"), Err(AuthError::BadBase64));
        assert_eq!(
            parse_basic(format!("Basic {}", b64(b"nocolon")).as_bytes()),
            Err(AuthError::NoColon)
        );
        assert_eq!(parse_basic(&vec![b'A'; 5000]), Err(AuthError::TooLong));
        assert_eq!(parse_basic(b""), Err(AuthError::NotBasic));
    }
}
