//! Reading the IdP's auto-submitting HTML form, as a browser would, to drive a login in tests.

/// Largest page [`AutoSubmitForm::parse`] reads.
const MAX_PAGE_BYTES: usize = 1024 * 1024;
/// Most fields read from one form.
const MAX_FIELDS: usize = 64;

/// The form an IdP page submits by itself: where it posts, and its hidden fields in order.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AutoSubmitForm {
    /// The `action` of the form: the ACS URL.
    pub action: String,
    /// The `method` of the form, lower-case (`post`).
    pub method: String,
    /// The named `input` fields, decoded, in document order.
    pub fields: Vec<(String, String)>,
}

impl AutoSubmitForm {
    /// Reads the first `<form>` of `html` and its named inputs. `None` when there is no form
    /// with an `action`, or the page is larger than 1 MiB.
    pub fn parse(html: &str) -> Option<Self> {
        if html.len() > MAX_PAGE_BYTES {
            return None;
        }
        let lower = html.to_ascii_lowercase();
        let start = lower.find("<form")?;
        let tag_end = start + lower[start..].find('>')?;
        let form_attrs = attributes(&html[start + 5..tag_end]);
        let action = get(&form_attrs, "action")?.to_owned();
        let method = get(&form_attrs, "method")
            .unwrap_or("get")
            .to_ascii_lowercase();
        let end = lower[tag_end..]
            .find("</form")
            .map_or(html.len(), |i| tag_end + i);
        let mut fields = Vec::new();
        let mut at = tag_end;
        while fields.len() < MAX_FIELDS {
            let Some(i) = lower[at..end].find("<input") else {
                break;
            };
            let open = at + i;
            let Some(close) = lower[open..end].find('>') else {
                break;
            };
            let attrs = attributes(&html[open + 6..open + close]);
            if let Some(name) = get(&attrs, "name") {
                fields.push((
                    name.to_owned(),
                    get(&attrs, "value").unwrap_or("").to_owned(),
                ));
            }
            at = open + close + 1;
        }
        Some(Self {
            action,
            method,
            fields,
        })
    }

    /// The value of the first field named `name`.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body a browser posts: the fields, `application/x-www-form-urlencoded`.
    pub fn to_form_body(&self) -> Vec<u8> {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.fields {
            s.append_pair(k, v);
        }
        s.finish().into_bytes()
    }
}

fn get<'a>(attrs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// The attributes of a start tag's inside (after its name), names lower-cased, values decoded.
fn attributes(inside: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let b = inside.as_bytes();
    let mut i = 0;
    while i < b.len() && out.len() < MAX_FIELDS {
        while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
            i += 1;
        }
        let name_start = i;
        while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'=' && b[i] != b'/' {
            i += 1;
        }
        if name_start == i {
            break;
        }
        let name = inside[name_start..i].to_ascii_lowercase();
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() || b[i] != b'=' {
            out.push((name, String::new()));
            continue;
        }
        i += 1;
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let value = if i < b.len() && (b[i] == b'"' || b[i] == b'\'') {
            let quote = b[i];
            let start = i + 1;
            let len = b[start..]
                .iter()
                .position(|c| *c == quote)
                .unwrap_or(b.len() - start);
            i = (start + len + 1).min(b.len());
            &inside[start..start + len]
        } else {
            let start = i;
            while i < b.len() && !b[i].is_ascii_whitespace() {
                i += 1;
            }
            &inside[start..i]
        };
        out.push((name, unescape(value)));
    }
    out
}

/// Decodes the character references an attribute value may hold.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest.bytes().take(12).position(|c| c == b';') else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            e if e.starts_with("#x") || e.starts_with("#X") => u32::from_str_radix(&e[2..], 16)
                .ok()
                .and_then(char::from_u32),
            e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_idp_form_and_its_escaped_values() {
        let html = "<html><body onload=\"x()\"><FORM method='POST' action=\"http://a/b?x=1&amp;y=2\">\
                    <input type=\"hidden\" name=\"SAMLResponse\" value=\"PHg+&#43;==\"/>\
                    <input type=hidden name=RelayState value=\"/a &quot;b&quot; &#x27;c&#39;\">\
                    <input type=\"submit\"></form><input name=\"outside\" value=\"1\"></body></html>";
        let form = AutoSubmitForm::parse(html).unwrap();
        assert_eq!(form.action, "http://a/b?x=1&y=2");
        assert_eq!(form.method, "post");
        assert_eq!(form.field("SAMLResponse"), Some("PHg++=="));
        assert_eq!(form.field("RelayState"), Some("/a \"b\" 'c'"));
        assert_eq!(form.fields.len(), 2);
        assert_eq!(
            form.to_form_body(),
            b"SAMLResponse=PHg%2B%2B%3D%3D&RelayState=%2Fa+%22b%22+%27c%27"
        );
    }

    #[test]
    fn hostile_pages_do_not_panic() {
        for page in [
            "",
            "<form",
            "<form action",
            "<form action=\"",
            "<form action=x><input name=\"a",
            "<form action=x><input name=a value=&#xffffffff;&#99999999999;&;&bogus;>",
            "<form action='\u{e9}'><input name=\u{e9} value='\u{1F600}&amp'>",
        ] {
            let _ = AutoSubmitForm::parse(page);
        }
        assert!(AutoSubmitForm::parse("<p>no form</p>").is_none());
        assert!(AutoSubmitForm::parse(&"a".repeat(MAX_PAGE_BYTES + 1)).is_none());
    }
}
