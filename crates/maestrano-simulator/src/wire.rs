//! Small helpers shared by the simulated services: replies, credentials, bodies, ids.

use axum::body::{Body, Bytes};
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};

use maestrano::__private::parse_basic;
use maestrano::ports::RandomSource;

/// Largest request body any simulated service reads.
pub(crate) const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// A reply with a body and a content type.
pub(crate) fn reply(status: StatusCode, content_type: &'static str, body: Vec<u8>) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// A JSON reply.
pub(crate) fn json(status: StatusCode, value: &serde_json::Value) -> Response {
    reply(status, "application/json", value.to_string().into_bytes())
}

/// An HTML page with a title and a paragraph (both escaped).
pub(crate) fn page(status: StatusCode, title: &str, text: &str) -> Response {
    let html = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{t}</title></head>\
         <body><h1>{t}</h1><p>{p}</p></body></html>",
        t = escape_html(title),
        p = escape_html(text)
    );
    reply(status, "text/html; charset=utf-8", html.into_bytes())
}

/// Escapes text for HTML element content and double- or single-quoted attribute values.
pub(crate) fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The user and password of the request's single `Authorization: Basic` header.
pub(crate) fn basic_credentials(headers: &http::HeaderMap) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    parse_basic(value.as_bytes()).ok()
}

/// Reads a request body of at most [`MAX_BODY_BYTES`]; `None` when it is larger or the
/// connection failed.
pub(crate) async fn read_body(body: Body) -> Option<Bytes> {
    axum::body::to_bytes(body, MAX_BODY_BYTES).await.ok()
}

/// `n` random bytes in lower-case hex; a counter-free fallback is never used: a failing random
/// source fails the caller.
pub(crate) fn random_hex(
    random: &dyn RandomSource,
    n: usize,
) -> Result<String, maestrano::ports::RandomError> {
    let mut bytes = vec![0u8; n];
    random.fill(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// A random UUID (version 4 layout), as Connec! ids look.
pub(crate) fn random_uuid(
    random: &dyn RandomSource,
) -> Result<String, maestrano::ports::RandomError> {
    let mut b = [0u8; 16];
    random.fill(&mut b)?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: Vec<String> = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        h[0..4].concat(),
        h[4..6].concat(),
        h[6..8].concat(),
        h[8..10].concat(),
        h[10..16].concat()
    ))
}

/// Decoded query pairs of a request URI.
pub(crate) fn query_pairs(uri: &http::Uri) -> Vec<(String, String)> {
    uri.query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default()
}

/// The path segments of a request URI, percent-decoded once, ignoring one trailing slash.
pub(crate) fn segments(uri: &http::Uri) -> Vec<String> {
    let path = uri.path();
    let rest = path.strip_prefix('/').unwrap_or(path);
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.is_empty() {
        return Vec::new();
    }
    rest.split('/')
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use maestrano::test_util::SequenceRandom;

    #[test]
    fn uuids_have_the_v4_layout() {
        let u = random_uuid(&SequenceRandom::default()).unwrap();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"));
    }

    #[test]
    fn segments_decode_once_and_ignore_one_trailing_slash() {
        let uri: http::Uri = "/api/v2/cld%2D1/people/?x=1".parse().unwrap();
        assert_eq!(segments(&uri), ["api", "v2", "cld-1", "people"]);
        let uri: http::Uri = "/".parse().unwrap();
        assert!(segments(&uri).is_empty());
        assert_eq!(
            escape_html("<a href=\"x\">'&"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;"
        );
    }
}
