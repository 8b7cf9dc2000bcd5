//! The SSO routes over HTTP: the init redirects with the login cookie, the SAML consume and
//! OpenID return routes with their same-site resubmission, the SP metadata.
//!
//! # Why a resubmission
//!
//! The IdP answers with an auto-submitted form that POSTs the response from the IdP's site to
//! the app (`mno-api-sandbox`, `app/views/saml_idp/idp/saml_post.html.erb` of ruby-saml-idp:
//! `<form method="post" action="<%= @saml_acs_url %>">` submitted on load). A browser does not
//! send a `SameSite=Lax` or `Strict` cookie with a cross-site POST, so the cookie that binds the
//! login to the browser that started it is missing there whenever the IdP is on another site,
//! which it always is in production. `SameSite=None` would need `Secure`, which plain-HTTP
//! development cannot set, and is on its way out of browsers for third parties. Instead, the
//! consume route answers a POST without the cookie with a page that submits the same fields
//! again, from the app's own origin: that POST is same-site, so the browser sends the cookie.
//! Nothing is validated or spent on the first POST, and a POST that was already resubmitted
//! and still has no cookie is refused: no login was started in this browser (login CSRF).

use std::collections::HashSet;
use std::sync::LazyLock;

use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use maestrano::Tenant;
use maestrano::sso::SsoFlowError;
use sha2::Digest as _;
use url::Url;

/// The cookie holding the id of the login this browser started.
pub(crate) const LOGIN_COOKIE: &str = "mno_login";

/// The field the resubmitted form adds, so that a second POST without the cookie is refused
/// instead of resubmitted again.
pub(crate) const RESUBMITTED_FIELD: &str = "mno_resubmitted";

/// The resubmission page's only script.
const SUBMIT_SCRIPT: &str = "document.forms[0].submit();";

/// The page's policy: nothing loads, the one script above runs (by its hash), the form may
/// only go back to the app's own origin.
static RESUBMIT_CSP: LazyLock<String> = LazyLock::new(|| {
    let hash =
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(SUBMIT_SCRIPT));
    format!(
        "default-src 'none'; script-src 'sha256-{hash}'; form-action 'self'; base-uri 'none'; \
         frame-ancestors 'none'"
    )
});

/// The `Set-Cookie` of a login started for `tenant` with `request_id`, answered at `answer`
/// (the tenant's ACS URL, or its OpenID return URL): scoped to that path (so logins at two
/// marketplaces, or by both protocols, in one browser keep their own), `HttpOnly`,
/// `SameSite=Lax`, `Secure` when the URL is HTTPS, for as long as the request lives.
pub(crate) fn login_cookie(tenant: &Tenant, answer: &Url, request_id: &str) -> Option<HeaderValue> {
    let ttl = tenant
        .config()
        .sso_options()
        .request_ttl
        .whole_seconds()
        .max(1);
    let secure = if answer.scheme() == "https" {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{LOGIN_COOKIE}={request_id}; Path={}; Max-Age={ttl}; HttpOnly; SameSite=Lax{secure}",
        answer.path()
    ))
    .ok()
}

/// The `Set-Cookie` that removes the login cookie of `answer` once its login is answered.
pub(crate) fn clear_login_cookie(answer: &Url) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!(
        "{LOGIN_COOKIE}=; Path={}; Max-Age=0; HttpOnly; SameSite=Lax",
        answer.path()
    ))
    .ok()
}

/// The value of cookie `name`, if the request carries exactly one well-formed one.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let mut found = None;
    for pair in headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
    {
        if let Some((k, v)) = pair.trim().split_once('=')
            && k == name
        {
            if found.is_some() {
                // Two cookies of one name (another path's, or one a subdomain planted): which
                // one is ours cannot be told, so neither is used.
                return None;
            }
            found = Some(v);
        }
    }
    found.filter(|v| !v.is_empty())
}

/// Whether the form was already resubmitted by [`resubmit_page`].
pub(crate) fn was_resubmitted(form: &[u8]) -> bool {
    url::form_urlencoded::parse(form).any(|(k, _)| k == RESUBMITTED_FIELD)
}

/// Most fields one resubmission carries (an OpenID message has at most 1,024).
const MAX_CARRIED_FIELDS: usize = 1024;

/// Which fields of a cross-site POST are resubmitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Carried {
    /// `SAMLResponse` and `RelayState`, what the SAML IdP posts.
    Saml,
    /// The `openid.` fields, what the OpenID provider posts (the platform's provider always
    /// answers with an auto-submitted form: its answer is too long for a redirect).
    OpenId,
}

impl Carried {
    fn carries(self, key: &str) -> bool {
        match self {
            Self::Saml => key == "SAMLResponse" || key == "RelayState",
            Self::OpenId => key.starts_with("openid."),
        }
    }
}

/// The page that POSTs the provider's fields again, from the app's origin, to `action` (the
/// path and query the provider posted to). Only the `carried` fields are; every value is
/// escaped. A form with a field twice is refused here, as the SDK's consume routes refuse it,
/// rather than resubmitted with one of them (which one a parser takes is what an attacker
/// would play on).
pub(crate) fn resubmit_page(
    action: &str,
    form: &[u8],
    carried: Carried,
) -> Result<Response, SsoFlowError> {
    let mut response = (StatusCode::OK, resubmit_html(action, form, carried)?).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if let Ok(csp) = HeaderValue::from_str(&RESUBMIT_CSP) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    Ok(response)
}

fn resubmit_html(action: &str, form: &[u8], carried: Carried) -> Result<String, SsoFlowError> {
    let mut fields = String::new();
    let mut seen: HashSet<std::borrow::Cow<'_, str>> = HashSet::new();
    for (k, v) in url::form_urlencoded::parse(form) {
        if !carried.carries(&k) {
            continue;
        }
        if seen.len() == MAX_CARRIED_FIELDS {
            return Err(SsoFlowError::Form(format!(
                "expected at most {MAX_CARRIED_FIELDS} fields, found more"
            )));
        }
        if seen.contains(&k) {
            return Err(SsoFlowError::Form(format!(
                "expected one {k} field, found more"
            )));
        }
        fields.push_str(&format!(
            "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
            escape(&k),
            escape(&v)
        ));
        seen.insert(k);
    }
    Ok(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Signing in</title></head>\
         <body><form method=\"post\" action=\"{}\">{fields}\
         <input type=\"hidden\" name=\"{RESUBMITTED_FIELD}\" value=\"1\">\
         <noscript><button type=\"submit\">Continue</button></noscript></form>\
         <script>{SUBMIT_SCRIPT}</script></body></html>",
        escape(action)
    ))
}

/// The tenant's SP metadata document.
pub(crate) fn metadata(tenant: &Tenant) -> Response {
    let mut response = (StatusCode::OK, maestrano::sso::sp_metadata(tenant)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/samlmetadata+xml"),
    );
    response
}

/// Escapes text for an HTML attribute value or element content.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_resubmission_page_escapes_and_carries_only_the_idp_fields() {
        let form = b"SAMLResponse=a%22%3E%3Cscript%3E&RelayState=%27x&other=1";
        let html = resubmit_html("/consume?x=\"1\"", form, Carried::Saml).unwrap();
        assert!(
            html.contains("action=\"/consume?x=&quot;1&quot;\""),
            "{html}"
        );
        assert!(
            html.contains("name=\"SAMLResponse\" value=\"a&quot;&gt;&lt;script&gt;\""),
            "{html}"
        );
        assert!(
            html.contains("name=\"RelayState\" value=\"&#39;x\""),
            "{html}"
        );
        assert!(!html.contains("other"), "{html}");
        assert!(
            html.contains(&format!("<script>{SUBMIT_SCRIPT}</script>")),
            "{html}"
        );
        let page = resubmit_page("/consume", form, Carried::Saml).unwrap();
        assert_eq!(page.status(), 200);
        let csp = page.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        assert!(csp.contains("form-action 'self'"), "{csp}");
        assert!(csp.contains("script-src 'sha256-"), "{csp}");
    }

    #[test]
    fn a_form_with_a_field_twice_is_refused_not_resubmitted() {
        for form in [
            &b"SAMLResponse=a&SAMLResponse=b"[..],
            b"SAMLResponse=a&RelayState=x&RelayState=y",
        ] {
            assert!(matches!(
                resubmit_page("/c", form, Carried::Saml),
                Err(SsoFlowError::Form(_))
            ));
        }
    }

    #[test]
    fn a_cookie_is_read_only_when_it_is_there_once() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; mno_login=_x"),
        );
        assert_eq!(cookie(&headers, LOGIN_COOKIE), Some("_x"));
        headers.append(header::COOKIE, HeaderValue::from_static("mno_login=_y"));
        assert_eq!(cookie(&headers, LOGIN_COOKIE), None);
        assert_eq!(cookie(&HeaderMap::new(), LOGIN_COOKIE), None);
    }

    #[test]
    fn escape_covers_the_html_specials() {
        assert_eq!(
            escape("<a href=\"x\">'&'"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;"
        );
    }
}
