//! Path templates such as `/maestrano/account/groups/:group_id/users/:id/acme-corp` or
//! `/maestrano/consume/?marketplace=acme-corp`.

use std::borrow::Cow;
use std::fmt;

use percent_encoding::percent_decode_str;

/// Longest template accepted, in bytes.
const MAX_TEMPLATE_LEN: usize = 2048;

/// One segment of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    /// Must equal the request's segment after percent-decoding it.
    Literal(String),
    /// Captures the request's segment.
    Param(String),
}

/// A path template with `:name` parameters and an optional query that requests must carry.
///
/// A template is absolute (`/…`), has no empty, `.` or `..` segment, and each parameter fills a
/// whole segment. A single trailing slash is not significant, neither in a template nor in a
/// request path. Query pairs in the template (`?marketplace=acme-corp`) must all be present in
/// a request, with every occurrence of the key carrying that value; other query parameters are
/// ignored.
#[derive(Clone, PartialEq, Eq)]
pub struct PathTemplate {
    raw: String,
    segments: Vec<Segment>,
    query: Vec<(String, String)>,
}

/// A string is not a valid path template.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected {expected}, found {found:?}")]
#[non_exhaustive]
pub struct TemplateError {
    /// What a valid template looks like.
    pub expected: &'static str,
    /// The offending template (or the part of it at fault).
    pub found: String,
}

fn err(expected: &'static str, found: &str) -> TemplateError {
    let found = if found.len() > 128 {
        let mut end = 128;
        while !found.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &found[..end])
    } else {
        found.to_owned()
    };
    TemplateError { expected, found }
}

impl PathTemplate {
    /// Reads a template.
    pub fn parse(raw: &str) -> Result<Self, TemplateError> {
        if raw.len() > MAX_TEMPLATE_LEN {
            return Err(err("a path of at most 2048 bytes", raw));
        }
        if !raw.starts_with('/') {
            return Err(err("an absolute path starting with '/'", raw));
        }
        if raw.contains('#') {
            return Err(err("a path without a fragment ('#')", raw));
        }
        if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(err("a path without white space or control characters", raw));
        }
        let (path, query) = match raw.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (raw, None),
        };
        let segments = split_path(path)
            .map(|seg| parse_segment(seg, raw))
            .collect::<Result<Vec<_>, _>>()?;
        let mut names: Vec<&str> = Vec::new();
        for s in &segments {
            if let Segment::Param(n) = s {
                if names.contains(&n.as_str()) {
                    return Err(err("each parameter at most once", raw));
                }
                names.push(n);
            }
        }
        let mut pairs: Vec<(String, String)> = Vec::new();
        if let Some(q) = query {
            for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
                if k.is_empty() {
                    return Err(err("query parameters with a name", raw));
                }
                if pairs.iter().any(|(pk, _)| *pk == k) {
                    return Err(err("each query parameter at most once", raw));
                }
                pairs.push((k.into_owned(), v.into_owned()));
            }
        }
        Ok(Self {
            raw: raw.to_owned(),
            segments,
            query: pairs,
        })
    }

    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The path part, without the query.
    pub fn path(&self) -> &str {
        self.raw.split_once('?').map_or(&*self.raw, |(p, _)| p)
    }

    /// The names of the parameters, in order.
    pub fn params(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Param(n) => Some(n.as_str()),
            Segment::Literal(_) => None,
        })
    }

    /// The query pairs a request must carry, decoded.
    pub fn query(&self) -> &[(String, String)] {
        &self.query
    }

    /// Whether the parameters are exactly `names` (in any order).
    pub(crate) fn has_exactly_params(&self, names: &[&str]) -> bool {
        let mut found: Vec<&str> = self.params().collect();
        let mut want = names.to_vec();
        found.sort_unstable();
        want.sort_unstable();
        found == want
    }

    pub(crate) fn segments(&self) -> &[Segment] {
        &self.segments
    }
}

impl fmt::Debug for PathTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PathTemplate({:?})", self.raw)
    }
}

impl fmt::Display for PathTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

/// The raw segments of an absolute path, ignoring one trailing slash. `"/"` has none.
pub(crate) fn split_path(path: &str) -> impl Iterator<Item = &str> {
    let rest = path.strip_prefix('/').unwrap_or(path);
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    rest.split('/').filter(move |_| !rest.is_empty())
}

/// Percent-decodes one path segment, exactly once. Invalid UTF-8 becomes U+FFFD, which no
/// identifier accepts and no literal contains.
pub(crate) fn decode_segment(raw: &str) -> Cow<'_, str> {
    percent_decode_str(raw).decode_utf8_lossy()
}

fn parse_segment(seg: &str, raw: &str) -> Result<Segment, TemplateError> {
    if seg.is_empty() {
        return Err(err("a path without empty segments ('//')", raw));
    }
    if let Some(name) = seg.strip_prefix(':') {
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(err(
                "parameter names of ASCII letters, digits, '_' and '-'",
                seg,
            ));
        }
        return Ok(Segment::Param(name.to_owned()));
    }
    let decoded = decode_segment(seg);
    if decoded == "." || decoded == ".." {
        return Err(err("a path without '.' or '..' segments", raw));
    }
    // Every decoding, not only the one the matcher does: a proxy before the app may decode
    // again, and a configured path must not walk anywhere then.
    if decoded.contains('\u{FFFD}') || !crate::types::is_safe_segment(seg) {
        return Err(err(crate::types::SAFE_SEGMENT, seg));
    }
    Ok(Segment::Literal(decoded.into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_params_literals_and_query() {
        let t =
            PathTemplate::parse("/maestrano/account/groups/:group_id/users/:id/acme-corp").unwrap();
        assert_eq!(t.params().collect::<Vec<_>>(), ["group_id", "id"]);
        assert!(t.has_exactly_params(&["id", "group_id"]));
        assert!(!t.has_exactly_params(&["id"]));
        assert!(t.query().is_empty());

        let q = PathTemplate::parse("/maestrano/init/?marketplace=maestrano-test").unwrap();
        assert_eq!(q.path(), "/maestrano/init/");
        assert_eq!(
            q.query(),
            [("marketplace".to_owned(), "maestrano-test".to_owned())]
        );
        assert_eq!(
            q.segments(),
            [
                Segment::Literal("maestrano".into()),
                Segment::Literal("init".into())
            ]
        );
    }

    #[test]
    fn rejects_relative_empty_dot_and_duplicate() {
        for bad in [
            "",
            "test",
            "/a//b",
            "/a/../b",
            "/a/./b",
            "/a/:/b",
            "/a/:id/:id",
            "/a#frag",
            "/a b",
            "/a?x=1&x=2",
            "/a?=1",
            "/a/%2F",
            "/a/%FF",
        ] {
            assert!(PathTemplate::parse(bad).is_err(), "{bad:?} was accepted");
        }
        let e = PathTemplate::parse("test").unwrap_err();
        assert_eq!(e.found, "test");
        assert!(e.to_string().contains("absolute path"), "{e}");
    }

    #[test]
    fn split_ignores_one_trailing_slash_only() {
        assert_eq!(split_path("/").count(), 0);
        assert_eq!(split_path("/a/b/").collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(split_path("/a/b//").collect::<Vec<_>>(), ["a", "b", ""]);
        assert_eq!(split_path("//a").collect::<Vec<_>>(), ["", "a"]);
    }

    #[test]
    fn decoding_happens_once() {
        assert_eq!(decode_segment("cld%2D1"), "cld-1");
        assert_eq!(decode_segment("a%252Fb"), "a%2Fb");
        assert_eq!(decode_segment("%FF"), "\u{FFFD}");
    }
}
