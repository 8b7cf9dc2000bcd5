//! Texts taken from replies for error messages, and credentials kept out of them.
//!
//! Credentials never reach an error value: what a server sends back can echo them (a proxy or
//! error page that prints the request headers puts `Basic base64(id:key)` into its body), and
//! error values end up in the application's logs.
//!
//! Two layers, both applied to every excerpt and message taken from a reply:
//! - [`redact_credentials`], without knowing any secret: the value after an
//!   `Authorization`-like name (`authorization`, `api_key`, `secret`, `password`, `token`,
//!   `key`) and the token after an HTTP authentication scheme (`Basic`, `Bearer`, …);
//! - [`Redactor`], built from one tenant's credentials by the client that sent them: the key
//!   itself anywhere, `id:key` in every base64 alphabet, and the key percent-encoded; also a
//!   key or token cut in half where an excerpt was truncated.

use std::borrow::Cow;
use std::fmt;

use base64::Engine as _;

use crate::types::Secret;

/// Longest excerpt of a reply body kept in an error, in characters.
pub(crate) const EXCERPT_CHARS: usize = 200;

/// The start of `body` as text for an error message: at most [`EXCERPT_CHARS`] characters,
/// invalid UTF-8 replaced, control characters (but for spaces) shown as `\u{fffd}`.
/// Credentials that their shape gives away (`Authorization: Basic …`, `"key": "…"`) are
/// [redacted](redact_credentials) first, before the text is cut.
pub(crate) fn excerpt(body: &[u8]) -> String {
    let head = &body[..body.len().min(EXCERPT_CHARS * 4)];
    let lossy = String::from_utf8_lossy(head);
    let text = redact_credentials(&lossy);
    let mut out: String = text
        .chars()
        .take(EXCERPT_CHARS)
        .map(|c| {
            if c.is_control() && c != ' ' {
                '\u{fffd}'
            } else {
                c
            }
        })
        .collect();
    if text.chars().count() > EXCERPT_CHARS || head.len() < body.len() {
        out.push('…');
    }
    out
}

/// What replaces a credential.
pub(crate) const REDACTED: &str = "[redacted]";

/// Names whose value is a credential (ASCII, compared case-insensitively, whole words).
const SECRET_NAMES: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "api_key",
    "api-key",
    "apikey",
    "api_secret",
    "secret",
    "password",
    "token",
    "access_token",
    "key",
];

/// HTTP authentication schemes whose next word is a credential.
const SCHEMES: &[&str] = &["basic", "bearer", "digest", "token"];

/// A credential token shorter than this after a scheme is a word, not a secret.
const MIN_TOKEN: usize = 6;

/// A cut-off credential at the end of a truncated excerpt is redacted from this many bytes.
const MIN_PARTIAL: usize = 4;

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'_' | b'-' | b'.' | b'~')
}

/// Where a value after `name` starts, when `text[at..]` is `name` followed by optional quotes
/// and spaces, then `:` or `=`, then optional spaces and quotes.
fn value_after_name(text: &[u8], at: usize) -> Option<usize> {
    for name in SECRET_NAMES {
        let end = at + name.len();
        if end > text.len() || !text[at..end].eq_ignore_ascii_case(name.as_bytes()) {
            continue;
        }
        if text.get(end).copied().is_some_and(is_word) {
            continue;
        }
        let mut i = end;
        while i < text.len() && matches!(text[i], b'"' | b'\'' | b' ' | b'\t') && i - end < 4 {
            i += 1;
        }
        if i < text.len() && matches!(text[i], b':' | b'=') {
            i += 1;
            while i < text.len() && matches!(text[i], b'"' | b'\'' | b' ' | b'\t') {
                i += 1;
            }
            return Some(i);
        }
    }
    None
}

/// Where a token after a scheme starts and ends, when `text[at..]` is a scheme, spaces and
/// at least [`MIN_TOKEN`] token characters.
fn token_after_scheme(text: &[u8], at: usize) -> Option<(usize, usize)> {
    for scheme in SCHEMES {
        let end = at + scheme.len();
        if end >= text.len() || !text[at..end].eq_ignore_ascii_case(scheme.as_bytes()) {
            continue;
        }
        let mut i = end;
        while i < text.len() && text[i] == b' ' {
            i += 1;
        }
        if i == end {
            continue;
        }
        let start = i;
        while i < text.len() && is_token(text[i]) {
            i += 1;
        }
        if i - start >= MIN_TOKEN {
            return Some((start, i));
        }
    }
    None
}

/// `text` with every credential that its shape gives away replaced by [`REDACTED`]: the value
/// after an authorization-like name (up to the end of the line, a quote or markup) and the
/// token after an authentication scheme. Borrowed when nothing was found.
pub(crate) fn redact_credentials(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        let boundary = i == 0 || !is_word(bytes[i - 1]);
        if !boundary || !bytes[i].is_ascii_alphabetic() {
            i += 1;
            continue;
        }
        let span = if let Some(start) = value_after_name(bytes, i) {
            let mut end = start;
            while end < bytes.len()
                && !matches!(
                    bytes[end],
                    b'"' | b'\'' | b'<' | b'>' | b'&' | b',' | b';' | b'}' | b'\n' | b'\r'
                )
            {
                end += 1;
            }
            (end > start).then_some((start, end))
        } else {
            token_after_scheme(bytes, i)
        };
        match span {
            // Both ends sit on ASCII delimiters or token characters, so on char boundaries.
            Some((start, end)) => {
                let o = out.get_or_insert_with(|| String::with_capacity(text.len()));
                o.push_str(&text[copied..start]);
                o.push_str(REDACTED);
                copied = end;
                i = end;
            }
            None => i += 1,
        }
    }
    match out {
        None => Cow::Borrowed(text),
        Some(mut o) => {
            o.push_str(&text[copied..]);
            Cow::Owned(o)
        }
    }
}

/// One tenant's credentials as they could appear in a reply, for removing them from errors.
#[derive(Clone)]
pub(crate) struct Redactor {
    needles: Vec<String>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactor({} forms)", self.needles.len())
    }
}

impl Redactor {
    /// The forms of `user:secret` credentials: the secret as it is, percent-encoded and
    /// JSON-escaped, and `user:secret` in standard and URL-safe base64, padded or not.
    pub(crate) fn new(user: &str, secret: &Secret) -> Self {
        let key = secret.expose();
        let pair = format!("{user}:{key}");
        let b64 = base64::engine::general_purpose::STANDARD.encode(&pair);
        let mut needles = vec![
            key.to_owned(),
            percent_encoding::utf8_percent_encode(key, percent_encoding::NON_ALPHANUMERIC)
                .to_string(),
            serde_json::to_string(key)
                .map(|s| s[1..s.len() - 1].to_owned())
                .unwrap_or_default(),
            b64.trim_end_matches('=').to_owned(),
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&pair),
        ];
        needles.retain(|n| !n.is_empty());
        // Longest first, so that a form containing another is removed whole.
        needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
        needles.dedup();
        Self { needles }
    }

    /// `text` without these credentials or any credential its shape gives away.
    pub(crate) fn text(&self, text: &mut String) {
        let mut changed = redact_credentials(text).into_owned();
        for needle in &self.needles {
            if changed.contains(needle.as_str()) {
                changed = changed.replace(needle.as_str(), REDACTED);
            }
        }
        // A truncated excerpt ends in '…': a credential may be cut there, so its start is
        // removed too.
        if let Some(head) = changed.strip_suffix('…') {
            let cut = self.needles.iter().find_map(|needle| {
                (MIN_PARTIAL..needle.len().min(head.len() + 1))
                    .rev()
                    .find(|&k| needle.is_char_boundary(k) && head.ends_with(&needle[..k]))
            });
            if let Some(k) = cut {
                changed = format!("{}{REDACTED}…", &head[..head.len() - k]);
            }
        }
        *text = changed;
    }

    /// `text` redacted, for an optional field.
    pub(crate) fn option(&self, text: &mut Option<String>) {
        if let Some(t) = text {
            self.text(t);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpt_truncates_and_neutralises_controls() {
        let long = "<html>".repeat(100);
        let e = excerpt(long.as_bytes());
        assert_eq!(e.chars().count(), EXCERPT_CHARS + 1);
        assert!(e.ends_with('…'));
        assert_eq!(excerpt(b"a\nb\xff"), "a\u{fffd}b\u{fffd}");
    }

    #[test]
    fn shapes_that_carry_credentials_are_redacted_without_knowing_them() {
        for (input, expected) in [
            (
                "Authorization: Basic YXBwLTE6c2VjcmV0\nHost: x",
                "Authorization: [redacted]\nHost: x",
            ),
            (
                r#"{"headers":{"authorization":"Bearer abc.def-ghi"}}"#,
                r#"{"headers":{"authorization":"[redacted]"}}"#,
            ),
            (
                "<td>Authorization</td><td>Basic YXBwLTE6c2VjcmV0</td>",
                "<td>Authorization</td><td>Basic [redacted]</td>",
            ),
            (
                r#""api": {"key": "s3cr3t-k3y"}"#,
                r#""api": {"key": "[redacted]"}"#,
            ),
            ("?api_key=abc&x=1", "?api_key=[redacted]&x=1"),
            ("password = hunter2", "password = [redacted]"),
        ] {
            assert_eq!(redact_credentials(input), expected, "{input}");
        }
        for kept in [
            "monkey: 1",
            "the key is missing",
            "basic auth failed",
            "Internal Server Error",
            "clé: é",
        ] {
            assert!(
                matches!(redact_credentials(kept), Cow::Borrowed(_)),
                "{kept}"
            );
        }
    }

    #[test]
    fn a_tenants_credentials_are_redacted_in_every_form_and_when_cut() {
        let r = Redactor::new("app-1a2b", &Secret::new("acme/secret+key"));
        // base64("app-1a2b:acme/secret+key") = YXBwLTFhMmI6YWNtZS9zZWNyZXQra2V5
        for leaked in [
            "echo acme/secret+key here",
            "echo acme%2Fsecret%2Bkey here",
            "x-forwarded: YXBwLTFhMmI6YWNtZS9zZWNyZXQra2V5",
            "x-forwarded: YXBwLTFhMmI6YWNtZS9zZWNyZXQra2V5 here",
        ] {
            let mut t = leaked.to_owned();
            r.text(&mut t);
            assert!(t.contains(REDACTED), "{leaked} -> {t}");
            assert!(!t.contains("secret"), "{leaked} -> {t}");
            assert!(!t.contains("YXBwLTFh"), "{leaked} -> {t}");
        }
        let mut cut = "proxy saw YXBwLTFhMmI6YWNt…".to_owned();
        r.text(&mut cut);
        assert_eq!(cut, "proxy saw [redacted]…");
        let mut plain = "nothing here…".to_owned();
        r.text(&mut plain);
        assert_eq!(plain, "nothing here…");
        assert!(!format!("{r:?}").contains("secret"));
    }
}
