//! Discovery (OpenID 2.0 §7.3): from an identifier to the provider's endpoint, by Yadis (an
//! XRDS document) or, failing that, by the `<link>` elements of an HTML page.
//!
//! The platform's provider answers a request that accepts `application/xrds+xml` with XRDS
//! directly (mno-api-sandbox cd52c0b, `Api::Openid::ProviderController#show`,
//! `format.xrds`): its own document names an `OPENID_IDP_2_0_TYPE` service (the OP
//! identifier, app/views/api/openid/provider/show.xrds.builder), a user's names an
//! `OPENID_2_0_TYPE` (signon) service with the endpoint and the user's `LocalID`
//! (users/show.xrds.builder).

use http::header::{ACCEPT, CONTENT_TYPE, LOCATION};
use url::Url;

use super::error::OpenIdError;
use crate::ports::{HttpRequest, HttpResponse};
use crate::saml::xml::{Document, XmlLimits};
use crate::types::shown;

/// The service type of an OP identifier (§7.3.2.1.1).
pub(crate) const SERVER_TYPE: &str = "http://specs.openid.net/auth/2.0/server";
/// The service type of a claimed identifier (§7.3.2.1.2).
pub(crate) const SIGNON_TYPE: &str = "http://specs.openid.net/auth/2.0/signon";
/// The XRD namespace of XRDS 2.0.
const XRD_NS: &str = "xri://$xrd*($v*2.0)";
/// Largest discovery document read (the platform's are under 2 KB).
const MAX_DOCUMENT_BYTES: usize = 256 * 1024;
/// Most services read from one document.
const MAX_SERVICES: usize = 64;

/// One OpenID service of a discovered identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Service {
    /// Its `Type` elements.
    pub types: Vec<String>,
    /// The provider endpoint (`URI`).
    pub endpoint: Url,
    /// The OP-local identifier (`LocalID`), if given.
    pub local_id: Option<String>,
    /// Its `priority` (lower first; none sorts last).
    pub priority: Option<u32>,
}

impl Service {
    /// Whether the service is of type `kind`.
    fn is(&self, kind: &str) -> bool {
        self.types.iter().any(|t| t == kind)
    }
}

/// What one discovery answer says.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Discovered {
    /// The identifier's OpenID 2.0 services, by priority.
    Services(Vec<Service>),
    /// Fetch this URL next: a redirect, or the page's `X-XRDS-Location`.
    FetchNext(Url),
}

/// The GET that discovers `identifier` (without its fragment), asking for XRDS first.
///
/// # Errors
///
/// [`OpenIdError::InvalidField`] for an identifier `http` cannot carry.
pub fn discovery_request(identifier: &Url) -> Result<HttpRequest, OpenIdError> {
    let mut url = identifier.clone();
    url.set_fragment(None);
    let mut request = super::direct::get(&url)?;
    request.headers_mut().insert(
        ACCEPT,
        http::HeaderValue::from_static("application/xrds+xml, text/html;q=0.5"),
    );
    Ok(request)
}

/// Reads the answer to [`discovery_request`] for `fetched` (the URL that was fetched): an
/// XRDS document, a redirect, an `X-XRDS-Location` (header or `<meta http-equiv>`), or an HTML
/// page with `<link rel="openid2.provider">`.
///
/// # Errors
///
/// [`OpenIdError::Discovery`] when the answer is none of these, or names no OpenID 2.0 service.
pub fn read_discovery(fetched: &Url, response: &HttpResponse) -> Result<Discovered, OpenIdError> {
    let status = response.status();
    if status.is_redirection() {
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|l| l.to_str().ok())
            .ok_or_else(|| discovery("a redirect with a Location", "none".into()))?;
        return next_url(fetched, location);
    }
    if !status.is_success() {
        return Err(discovery(
            "a 2xx discovery answer",
            format!("status {}", status.as_u16()),
        ));
    }
    let body = response.body();
    if body.len() > MAX_DOCUMENT_BYTES {
        return Err(OpenIdError::TooLarge {
            max: MAX_DOCUMENT_BYTES,
            found: body.len(),
        });
    }
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let text = std::str::from_utf8(body)
        .map_err(|_| discovery("a UTF-8 discovery document", "other bytes".into()))?;
    let looks_xrds = content_type.starts_with("application/xrds+xml")
        || (!content_type.starts_with("text/html") && text.contains("xri://$xrd"));
    if looks_xrds {
        return read_xrds(text).map(Discovered::Services);
    }
    if let Some(location) = response
        .headers()
        .get("x-xrds-location")
        .and_then(|v| v.to_str().ok())
    {
        return next_url(fetched, location);
    }
    read_html(fetched, text)
}

/// The services of an XRDS document (its last `XRD`, Yadis §7.3.1), OpenID 2.0 ones only,
/// by priority.
///
/// # Errors
///
/// [`OpenIdError::Discovery`] for malformed XML (DTDs refused, as in SAML), a document that is
/// not XRDS, or one with no OpenID 2.0 service.
pub fn read_xrds(text: &str) -> Result<Vec<Service>, OpenIdError> {
    if text.len() > MAX_DOCUMENT_BYTES {
        return Err(OpenIdError::TooLarge {
            max: MAX_DOCUMENT_BYTES,
            found: text.len(),
        });
    }
    let limits = XmlLimits {
        max_nodes: 4096,
        max_depth: 16,
        ..XmlLimits::default()
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let doc = Document::parse(text.to_owned(), &limits)
        .map_err(|e| discovery("a well-formed XRDS document", e.to_string()))?;
    let root = doc.root();
    if !doc.is(root, "xri://$xrds", "XRDS") {
        return Err(discovery("an xrds:XRDS root element", doc.qname(root)));
    }
    let xrd = doc
        .children_named(root, XRD_NS, "XRD")
        .last()
        .ok_or_else(|| discovery("an XRD element", "none".into()))?;
    let mut services = Vec::new();
    for node in doc.children_named(xrd, XRD_NS, "Service") {
        let text_of = |local: &str| {
            doc.children_named(node, XRD_NS, local)
                .map(|n| doc.text_content(n).trim().to_owned())
                .collect::<Vec<_>>()
        };
        let types = text_of("Type");
        if !types.iter().any(|t| t == SERVER_TYPE || t == SIGNON_TYPE) {
            continue;
        }
        // Several URIs are alternatives by their own priority; the first valid one is taken.
        let Some(endpoint) = text_of("URI")
            .iter()
            .find_map(|u| Url::parse(u).ok().filter(is_web))
        else {
            continue;
        };
        if services.len() == MAX_SERVICES {
            return Err(OpenIdError::TooLarge {
                max: MAX_SERVICES,
                found: MAX_SERVICES + 1,
            });
        }
        services.push(Service {
            types,
            endpoint,
            local_id: text_of("LocalID").into_iter().next(),
            priority: doc.attr(node, "priority").and_then(|p| p.parse().ok()),
        });
    }
    if services.is_empty() {
        return Err(discovery(
            "an OpenID 2.0 service (server or signon) with an http(s) URI",
            "none".into(),
        ));
    }
    // Stable: document order among equal priorities.
    services.sort_by_key(|s| s.priority.unwrap_or(u32::MAX));
    Ok(services)
}

/// HTML-based discovery (§7.3.3): `X-XRDS-Location` in a `<meta http-equiv>`, else the
/// `openid2.provider` and `openid2.local_id` links of the page's head.
fn read_html(fetched: &Url, text: &str) -> Result<Discovered, OpenIdError> {
    let lower = text.to_ascii_lowercase();
    // Only the head counts; without one, everything before the body.
    let end = lower
        .find("</head")
        .or_else(|| lower.find("<body"))
        .unwrap_or(lower.len());
    let mut provider: Option<String> = None;
    let mut local_id: Option<String> = None;
    let mut from = 0;
    while let Some(open) = lower[from..end].find('<') {
        let start = from + open + 1;
        let Some(close) = lower[start..end].find('>') else {
            break;
        };
        let tag = &text[start..start + close];
        from = start + close + 1;
        let name = tag
            .split(|c: char| c.is_ascii_whitespace())
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        let attrs = html_attributes(tag);
        let get = |wanted: &str| {
            attrs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(wanted))
                .map(|(_, v)| v.as_str())
        };
        match name.as_str() {
            "meta"
                if get("http-equiv").is_some_and(|v| v.eq_ignore_ascii_case("x-xrds-location")) =>
            {
                if let Some(content) = get("content") {
                    return next_url(fetched, content);
                }
            }
            "link" => {
                let rels = get("rel").unwrap_or("").to_ascii_lowercase();
                let href = get("href").map(str::to_owned);
                for rel in rels.split_ascii_whitespace() {
                    match rel {
                        "openid2.provider" if provider.is_none() => provider = href.clone(),
                        "openid2.local_id" if local_id.is_none() => local_id = href.clone(),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    let endpoint = provider
        .and_then(|p| fetched.join(&p).ok())
        .filter(is_web)
        .ok_or_else(|| {
            discovery(
                "an XRDS document or an HTML page with <link rel=\"openid2.provider\">",
                "a page without one".into(),
            )
        })?;
    Ok(Discovered::Services(vec![Service {
        types: vec![SIGNON_TYPE.to_owned()],
        endpoint,
        local_id,
        priority: None,
    }]))
}

/// The attributes of an HTML start tag's text (after `<`), values unescaped for the few
/// entities an URL may carry.
fn html_attributes(tag: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let bytes = tag.as_bytes();
    // Skip the tag name.
    let mut i = bytes
        .iter()
        .position(|b| b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    while i < bytes.len() && out.len() < 32 {
        while i < bytes.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b'/') {
            i += 1;
        }
        let name_start = i;
        while i < bytes.len() && !bytes[i].is_ascii_whitespace() && bytes[i] != b'=' {
            i += 1;
        }
        let name = &tag[name_start..i];
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= bytes.len() || bytes[i] != b'=' {
            if !name.is_empty() {
                out.push((name.to_owned(), String::new()));
            }
            continue;
        }
        i += 1;
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let value = match bytes.get(i) {
            Some(&q @ (b'"' | b'\'')) => {
                let start = i + 1;
                let len = bytes[start..]
                    .iter()
                    .position(|&b| b == q)
                    .unwrap_or(bytes.len() - start);
                i = (start + len + 1).min(bytes.len());
                &tag[start..start + len]
            }
            _ => {
                let start = i;
                while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
                    i += 1;
                }
                &tag[start..i]
            }
        };
        let value = value
            .replace("&amp;", "&")
            .replace("&quot;", "\"")
            .replace("&#39;", "'");
        out.push((name.to_owned(), value));
    }
    out
}

/// The next URL to fetch: http(s) only, and never from HTTPS down to plain HTTP.
fn next_url(fetched: &Url, location: &str) -> Result<Discovered, OpenIdError> {
    fetched
        .join(location.trim())
        .ok()
        .filter(is_web)
        .filter(|next| fetched.scheme() != "https" || next.scheme() == "https")
        .map(Discovered::FetchNext)
        .ok_or_else(|| {
            discovery(
                "an http(s) redirect or X-XRDS-Location, not down from HTTPS",
                shown(location),
            )
        })
}

fn is_web(url: &Url) -> bool {
    matches!(url.scheme(), "http" | "https") && url.host().is_some()
}

fn discovery(expected: &'static str, found: String) -> OpenIdError {
    OpenIdError::Discovery { expected, found }
}

/// The endpoint of an OP identifier's services: its `server` service, else (an identifier
/// that is a user's) its `signon` one.
pub(crate) fn op_endpoint(services: &[Service]) -> Option<&Url> {
    services
        .iter()
        .find(|s| s.is(SERVER_TYPE))
        .or_else(|| services.iter().find(|s| s.is(SIGNON_TYPE)))
        .map(|s| &s.endpoint)
}

/// §11.2: the claimed identifier's own discovered information names the endpoint that
/// signed the assertion, and the assertion's `identity` is its OP-local identifier (or the
/// claimed identifier itself when it has none).
///
/// # Errors
///
/// [`OpenIdError::ClaimedIdMismatch`] when no signon service of `services` does.
pub fn verify_claimed_id(
    services: &[Service],
    claimed_id: &str,
    identity: &str,
    op_endpoint: &Url,
) -> Result<(), OpenIdError> {
    let claimed = claimed_id.split('#').next().unwrap_or(claimed_id);
    let ok = services.iter().any(|s| {
        s.is(SIGNON_TYPE)
            && s.endpoint == *op_endpoint
            && s.local_id.as_deref().unwrap_or(claimed) == identity
    });
    if ok {
        Ok(())
    } else {
        Err(OpenIdError::ClaimedIdMismatch {
            claimed_id: shown(claimed_id),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(content_type: &str, body: &str) -> HttpResponse {
        http::Response::builder()
            .header(CONTENT_TYPE, content_type)
            .body(body.as_bytes().to_vec())
            .unwrap()
    }

    #[test]
    fn an_html_page_names_its_provider_by_link_or_its_xrds_by_meta() {
        let base = Url::parse("https://id.example/u/1").unwrap();
        let page = "<html><head><LINK REL='openid2.provider openid.server' \
                    href=\"/op?a=1&amp;b=2\"><link rel=openid2.local_id href=https://id.example/l>\
                    </head><body><link rel=\"openid2.provider\" href=\"https://evil.example/\"></body></html>";
        let Discovered::Services(services) =
            read_discovery(&base, &answer("text/html", page)).unwrap()
        else {
            panic!("expected services");
        };
        assert_eq!(
            services[0].endpoint.as_str(),
            "https://id.example/op?a=1&b=2"
        );
        assert_eq!(
            services[0].local_id.as_deref(),
            Some("https://id.example/l")
        );
        let meta =
            "<html><head><meta http-equiv=\"X-XRDS-Location\" content=\"/xrds\"></head></html>";
        assert_eq!(
            read_discovery(&base, &answer("text/html", meta)).unwrap(),
            Discovered::FetchNext(Url::parse("https://id.example/xrds").unwrap())
        );
        assert!(matches!(
            read_discovery(
                &base,
                &answer("text/html", "<html><body>none</body></html>")
            ),
            Err(OpenIdError::Discovery { .. })
        ));
    }

    #[test]
    fn a_redirect_goes_to_http_or_https_only_and_never_down_from_https() {
        let redirect = |from: &str, to: &str| {
            let response = http::Response::builder()
                .status(302)
                .header(LOCATION, to)
                .body(Vec::new())
                .unwrap();
            read_discovery(&Url::parse(from).unwrap(), &response)
        };
        assert_eq!(
            redirect("http://id.example/a", "/b").unwrap(),
            Discovered::FetchNext(Url::parse("http://id.example/b").unwrap())
        );
        assert!(redirect("http://id.example/a", "https://id.example/b").is_ok());
        for (from, to) in [
            ("https://id.example/a", "http://id.example/b"),
            ("http://id.example/a", "file:///etc/passwd"),
            ("http://id.example/a", "gopher://id.example/"),
        ] {
            assert!(
                matches!(redirect(from, to), Err(OpenIdError::Discovery { .. })),
                "{from} -> {to}"
            );
        }
    }

    #[test]
    fn a_doctype_and_a_foreign_root_are_refused() {
        let dtd = "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"b\">]><xrds:XRDS xmlns:xrds=\"xri://$xrds\"/>";
        assert!(matches!(read_xrds(dtd), Err(OpenIdError::Discovery { .. })));
        assert!(matches!(
            read_xrds("<XRDS xmlns=\"urn:other\"/>"),
            Err(OpenIdError::Discovery { .. })
        ));
    }
}
