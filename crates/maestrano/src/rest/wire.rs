//! What the account and Connec! clients share on the wire: the user agent, credentials,
//! limits on untrusted replies, and body excerpts for error messages.

use base64::Engine as _;
use http::HeaderValue;
use url::Url;

use crate::ports::HttpRequest;
use crate::types::{ApiId, Secret};

pub(crate) use crate::USER_AGENT;

/// The largest response body the decoders accept: 16 MiB, the default cap of the reqwest
/// adapter. A larger body is refused with a typed error before it is parsed.
pub(crate) const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// The deepest JSON nesting the decoders accept (arrays and objects). Maestrano replies nest
/// fewer than ten levels; a deeper body is refused before it is parsed.
pub(crate) const MAX_JSON_DEPTH: usize = 64;

/// `Basic base64(id:key)`, marked sensitive so that `http`'s `Debug` does not print it.
pub(crate) fn basic_auth(id: &ApiId, key: &Secret) -> HeaderValue {
    let token = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        id.as_str(),
        key.expose()
    ));
    let mut value =
        HeaderValue::try_from(format!("Basic {token}")).expect("base64 is a valid header value");
    value.set_sensitive(true);
    value
}

pub(crate) use crate::redact::excerpt;

/// A check on an untrusted body before it is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyLimit {
    /// Larger than [`MAX_RESPONSE_BYTES`].
    TooLarge { limit: usize, found: usize },
    /// Nested deeper than [`MAX_JSON_DEPTH`].
    TooDeep { limit: usize },
}

/// Checks the size and the JSON nesting depth of `body` in one pass, without allocating.
/// Brackets inside strings are not counted; the scan does not validate the JSON otherwise.
pub(crate) fn check_body(body: &[u8]) -> Result<(), BodyLimit> {
    if body.len() > MAX_RESPONSE_BYTES {
        return Err(BodyLimit::TooLarge {
            limit: MAX_RESPONSE_BYTES,
            found: body.len(),
        });
    }
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in body {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_JSON_DEPTH {
                    return Err(BodyLimit::TooDeep {
                        limit: MAX_JSON_DEPTH,
                    });
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Whether `body` is JSON at all (any value).
pub(crate) fn is_json(body: &[u8]) -> bool {
    serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok()
}

/// A copy of `request`, to send it again.
pub(crate) fn clone_request(r: &HttpRequest) -> HttpRequest {
    let mut out = http::Request::new(r.body().clone());
    *out.method_mut() = r.method().clone();
    *out.uri_mut() = r.uri().clone();
    *out.version_mut() = r.version();
    *out.headers_mut() = r.headers().clone();
    out
}

/// `url` as an `http::Uri`. Every URL the clients build is absolute and valid, so this only
/// fails on a bug; the error names the problem rather than the URL, which may carry a query.
pub(crate) fn to_uri(url: &Url) -> Result<http::Uri, &'static str> {
    http::Uri::try_from(url.as_str()).map_err(|_| "a URL the http crate accepts")
}

/// `host` with `base` appended as path segments (empty segments dropped), without a trailing
/// slash: more segments are pushed onto it.
pub(crate) fn base_url(host: &Url, base: &str) -> Url {
    let mut url = host.clone();
    url.set_query(None);
    url.set_fragment(None);
    if let Ok(mut segments) = url.path_segments_mut() {
        segments.pop_if_empty();
        segments.extend(base.split('/').filter(|s| !s.is_empty()));
    }
    url
}

pub(crate) use crate::types::json_kind;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_is_base64_of_id_colon_key_and_sensitive() {
        let v = basic_auth(&ApiId::new("app-1").unwrap(), &Secret::new("k3y"));
        assert_eq!(v.to_str().unwrap(), "Basic YXBwLTE6azN5");
        assert!(v.is_sensitive());
        assert!(!format!("{v:?}").contains("YXBw"));
    }

    #[test]
    fn depth_counts_brackets_outside_strings_only() {
        let deep = format!("{}{}", "[".repeat(65), "]".repeat(65));
        assert_eq!(
            check_body(deep.as_bytes()),
            Err(BodyLimit::TooDeep { limit: 64 })
        );
        let ok = format!("{}{}", "[".repeat(64), "]".repeat(64));
        assert_eq!(check_body(ok.as_bytes()), Ok(()));
        let quoted = format!("\"{}\\\"{}\"", "[".repeat(100), "{".repeat(100));
        assert_eq!(check_body(quoted.as_bytes()), Ok(()));
    }

    #[test]
    fn base_url_joins_without_doubling_slashes() {
        let host = Url::parse("https://api-hub.example/").unwrap();
        assert_eq!(
            base_url(&host, "/api/v1/").as_str(),
            "https://api-hub.example/api/v1"
        );
        let hosted = Url::parse("https://x.example/hub/").unwrap();
        assert_eq!(
            base_url(&hosted, "api/v2").as_str(),
            "https://x.example/hub/api/v2"
        );
    }
}
