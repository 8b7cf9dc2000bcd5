//! The two encodings of OpenID 2.0 messages (§4.1): the key-value form of direct responses and
//! the `openid.`-prefixed fields of indirect messages (a query string or a POSTed form).

use super::error::OpenIdError;

/// Largest direct response read (an association answer is a few hundred bytes).
pub const MAX_DIRECT_BYTES: usize = 64 * 1024;

/// Largest indirect message read: the platform's positive assertion with its AX data is a few
/// kilobytes, sent as an auto-submitted POST form because it is too long for a redirect.
pub const MAX_INDIRECT_BYTES: usize = 256 * 1024;

/// Most fields read from one message.
const MAX_FIELDS: usize = 1024;

/// The fields of one OpenID message, keys without the `openid.` prefix, each present once.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Fields {
    pairs: Vec<(String, String)>,
}

impl std::fmt::Debug for Fields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Values can hold a MAC key or a session token: only the names are shown.
        f.debug_list()
            .entries(self.pairs.iter().map(|(k, _)| k))
            .finish()
    }
}

impl Fields {
    /// The value of `key` (without `openid.`).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The fields in message order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// How many fields there are.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    fn push(&mut self, key: String, value: String) -> Result<(), OpenIdError> {
        if self.pairs.len() >= MAX_FIELDS {
            return Err(OpenIdError::TooLarge {
                max: MAX_FIELDS,
                found: self.pairs.len() + 1,
            });
        }
        if self.get(&key).is_some() {
            return Err(OpenIdError::DuplicateField { name: key });
        }
        self.pairs.push((key, value));
        Ok(())
    }

    /// Reads a direct response: key-value form (§4.1.1), `key:value` lines each ending in a
    /// newline. The platform's provider renders its direct answers inside an auto-submitting
    /// HTML page (`render_openid_response` puts the key-value body in `<body>…</body>`:
    /// mno-api-sandbox cd52c0b, app/controllers/api/openid/base_controller.rb,
    /// `auto_submitted_form`), so a body that is such a page is read from its `body` element.
    ///
    /// # Errors
    ///
    /// A body over [`MAX_DIRECT_BYTES`], not UTF-8, a line without `:`, or a key twice.
    pub fn from_key_value(body: &[u8]) -> Result<Self, OpenIdError> {
        if body.len() > MAX_DIRECT_BYTES {
            return Err(OpenIdError::TooLarge {
                max: MAX_DIRECT_BYTES,
                found: body.len(),
            });
        }
        let text = std::str::from_utf8(body).map_err(|e| OpenIdError::KeyValue {
            line: body[..e.valid_up_to()]
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
                + 1,
            expected: "UTF-8",
        })?;
        let text = html_body(text).unwrap_or(text);
        let mut fields = Self::default();
        for (n, line) in text.split('\n').enumerate() {
            // Blank lines: the page's own line breaks around the form, and the final newline.
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.trim().is_empty() {
                continue;
            }
            let Some((key, value)) = line.split_once(':') else {
                return Err(OpenIdError::KeyValue {
                    line: n + 1,
                    expected: "a key:value line",
                });
            };
            if key.is_empty() || key.trim() != key {
                return Err(OpenIdError::KeyValue {
                    line: n + 1,
                    expected: "a key without surrounding white space",
                });
            }
            fields.push(key.to_owned(), value.to_owned())?;
        }
        Ok(fields)
    }

    /// Reads an indirect message from a query string or an `application/x-www-form-urlencoded`
    /// body: the `openid.` fields, the prefix removed; every other field is ignored.
    ///
    /// # Errors
    ///
    /// A message over [`MAX_INDIRECT_BYTES`], or an `openid.` field twice.
    pub fn from_form(form: &[u8]) -> Result<Self, OpenIdError> {
        if form.len() > MAX_INDIRECT_BYTES {
            return Err(OpenIdError::TooLarge {
                max: MAX_INDIRECT_BYTES,
                found: form.len(),
            });
        }
        let mut fields = Self::default();
        for (k, v) in url::form_urlencoded::parse(form) {
            if let Some(key) = k.strip_prefix("openid.") {
                fields.push(key.to_owned(), v.into_owned())?;
            }
        }
        Ok(fields)
    }

    /// Adds a field, refusing a second one of the same key.
    pub(crate) fn insert_checked(&mut self, key: &str, value: &str) -> Result<(), OpenIdError> {
        self.push(key.to_owned(), value.to_owned())
    }

    /// The key-value form of `keys`, in that order (what a signature covers, §6.1).
    pub(crate) fn key_value_of<'a>(
        &self,
        keys: impl IntoIterator<Item = &'a str>,
    ) -> Option<String> {
        let mut out = String::new();
        for key in keys {
            let value = self.get(key)?;
            out.push_str(key);
            out.push(':');
            out.push_str(value);
            out.push('\n');
        }
        Some(out)
    }
}

/// The inner text of the `body` element, if `text` is an HTML page.
fn html_body(text: &str) -> Option<&str> {
    if !text.trim_start().starts_with('<') {
        return None;
    }
    let lower = text.to_ascii_lowercase();
    let open = lower.find("<body")?;
    let start = open + lower[open..].find('>')? + 1;
    let end = start + lower[start..].find("</body")?;
    Some(&text[start..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_value_lines_need_a_colon_and_a_clean_key() {
        assert!(matches!(
            Fields::from_key_value(b"ns:x\nnope\n"),
            Err(OpenIdError::KeyValue { line: 2, .. })
        ));
        assert!(matches!(
            Fields::from_key_value(b" ns:x\n"),
            Err(OpenIdError::KeyValue { line: 1, .. })
        ));
        assert!(matches!(
            Fields::from_key_value(b"ns:x\nns:y\n"),
            Err(OpenIdError::DuplicateField { .. })
        ));
        let f = Fields::from_key_value(b"a:b:c\nempty:\n").unwrap();
        assert_eq!((f.get("a"), f.get("empty")), (Some("b:c"), Some("")));
    }

    #[test]
    fn indirect_fields_keep_only_openid_and_refuse_twice() {
        let f = Fields::from_form(b"openid.mode=id_res&state=x&openid.ns=a%3Ab").unwrap();
        assert_eq!(f.len(), 2);
        assert_eq!(f.get("ns"), Some("a:b"));
        assert!(matches!(
            Fields::from_form(b"openid.mode=a&openid.mode=b"),
            Err(OpenIdError::DuplicateField { .. })
        ));
    }

    #[test]
    fn debug_shows_names_only() {
        let f = Fields::from_key_value(b"mac_key:c2VjcmV0\n").unwrap();
        assert_eq!(format!("{f:?}"), "[\"mac_key\"]");
    }
}
