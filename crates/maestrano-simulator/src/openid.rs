//! A marketplace's OpenID 2.0 provider, as the platform runs it: mno-api-sandbox cd52c0b,
//! config/routes.rb (`namespace :openid`: `/api/openid/provider/:id` and its
//! `users/:uid`), app/controllers/api/openid/provider_controller.rb and base_controller.rb,
//! the XRDS views of app/views/api/openid. Written from that source and the OpenID 2.0
//! specification, independently of the SDK's relying party (it uses nothing of
//! `maestrano::openid`).
//!
//! What it does as the platform does:
//! - discovery by XRDS (`format.xrds`, picked by `Accept: application/xrds+xml`): the provider's
//!   document names an OP identifier service, a user's a signon service with its `LocalID`;
//! - `checkid_setup` approved at once for the marketplace's first user and that user's first
//!   membership (the sandbox asks which user, the simulator does not), answered with the AX
//!   values of `add_identity_details` (blank values dropped, AX sent whether asked or not,
//!   attribute aliases renumbered `ext0`, `ext1`, …) as an auto-submitting POST form;
//! - direct answers (`check_authentication`) in key-value form inside an HTML page
//!   (`render_openid_response`, `auto_submitted_form`).
//!
//! What it leaves out: associations. It answers `associate` with `unsupported-type` and no
//! suggestion (§8.2.4), so relying parties verify every assertion with
//! `check_authentication`; the live python3-openid provider of the SDK's tests covers
//! associations.

use axum::response::Response;
use base64::Engine as _;
use hmac::{KeyInit, Mac};
use http::{Method, StatusCode};

use super::idp::{GROUP_PARAM, SIM_USER_PARAM};
use super::state::{Marketplace, Session, lock};
use super::wire::{escape_html, page, random_hex, reply};
use maestrano::__private::format_utc;
use maestrano::Secret;

const OPENID2_NS: &str = "http://specs.openid.net/auth/2.0";
const AX_NS: &str = "http://openid.net/srv/ax/1.0";
const IDENTIFIER_SELECT: &str = "http://specs.openid.net/auth/2.0/identifier_select";
/// Most assertions awaiting `check_authentication` at once; the oldest is forgotten past it.
const MAX_PENDING: usize = 10_000;

/// Routes an OpenID request (`segments` after the host); `None` when the path is not the
/// provider's.
pub(crate) fn route(
    m: &Marketplace,
    parts: &http::request::Parts,
    segments: &[String],
    body: &[u8],
) -> Option<Response> {
    let s: Vec<&str> = segments.iter().map(String::as_str).collect();
    let app = m.tenant.config().api().id().as_str();
    let xrds = parts
        .headers
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/xrds+xml"));
    Some(match s.as_slice() {
        ["api", "openid", "provider", id] if *id == app => {
            let args = match parts.method {
                Method::GET => parts.uri.query().unwrap_or("").as_bytes().to_vec(),
                Method::POST => body.to_vec(),
                _ => {
                    return Some(page(
                        StatusCode::METHOD_NOT_ALLOWED,
                        "Method not allowed",
                        "Use GET or POST.",
                    ));
                }
            };
            let fields: Vec<(String, String)> = url::form_urlencoded::parse(&args)
                .filter(|(k, _)| k.starts_with("openid."))
                .map(|(k, v)| (k[7..].to_owned(), v.into_owned()))
                .collect();
            if fields.is_empty() {
                if xrds {
                    return Some(xrds_document(SERVER_TYPE, &endpoint(m), None));
                }
                return Some(page(
                    StatusCode::OK,
                    "OpenID",
                    "This is an OpenID provider endpoint.",
                ));
            }
            endpoint_request(m, parts, &fields)
        }
        ["api", "openid", "provider", id, "users", uid] if *id == app => {
            if m.user(uid).is_none() {
                return Some(page(StatusCode::NOT_FOUND, "Not found", "No such user."));
            }
            xrds_document(SIGNON_TYPE, &endpoint(m), Some(&identity(m, uid)))
        }
        _ => return None,
    })
}

const SERVER_TYPE: &str = "http://specs.openid.net/auth/2.0/server";
const SIGNON_TYPE: &str = "http://specs.openid.net/auth/2.0/signon";

fn endpoint(m: &Marketplace) -> String {
    format!(
        "{}/api/openid/provider/{}",
        m.base_url().as_str().trim_end_matches('/'),
        m.tenant.config().api().id().as_str()
    )
}

fn identity(m: &Marketplace, uid: &str) -> String {
    format!("{}/users/{uid}", endpoint(m))
}

/// show.xrds.builder / users/show.xrds.builder: one service with the SReg and AX types.
fn xrds_document(kind: &str, endpoint: &str, local_id: Option<&str>) -> Response {
    let local = local_id
        .map(|l| format!("<LocalID>{}</LocalID>", escape_html(l)))
        .unwrap_or_default();
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><xrds:XRDS xmlns:openid=\"http://openid.net/xmlns/1.0\" \
         xmlns:xrds=\"xri://$xrds\" xmlns=\"xri://$xrd*($v*2.0)\"><XRD><Service priority=\"1\">\
         <Type>{kind}</Type><Type>http://openid.net/extensions/sreg/1.1</Type>\
         <Type>http://openid.net/sreg/1.0</Type><Type>{AX_NS}</Type><URI>{}</URI>{local}\
         </Service></XRD></xrds:XRDS>",
        escape_html(endpoint)
    );
    reply(StatusCode::OK, "application/xrds+xml", xml.into_bytes())
}

fn get<'a>(fields: &'a [(String, String)], key: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// A key-value answer inside the platform's auto-submitting page.
fn direct(status: StatusCode, pairs: &[(&str, &str)]) -> Response {
    let kv: String = pairs.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let html = format!(
        "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n</head>\n\
         <body onload=\"document.forms[0].submit();\" style=\"visibility:hidden;\">\n{kv}</body>\n</html>\n"
    );
    reply(status, "text/html; charset=utf-8", html.into_bytes())
}

fn direct_error(message: &str) -> Response {
    direct(
        StatusCode::BAD_REQUEST,
        &[("ns", OPENID2_NS), ("error", message)],
    )
}

fn endpoint_request(
    m: &Marketplace,
    parts: &http::request::Parts,
    fields: &[(String, String)],
) -> Response {
    if get(fields, "ns") != Some(OPENID2_NS) {
        return direct_error("only OpenID 2.0 is served");
    }
    match get(fields, "mode") {
        Some("associate") => direct(
            StatusCode::BAD_REQUEST,
            &[
                ("ns", OPENID2_NS),
                (
                    "error",
                    "the simulator does not associate: use check_authentication",
                ),
                ("error_code", "unsupported-type"),
            ],
        ),
        Some("checkid_setup") => checkid(m, parts, fields),
        Some("check_authentication") => check_authentication(m, fields),
        other => direct_error(&format!("unsupported mode {other:?}")),
    }
}

fn checkid(m: &Marketplace, parts: &http::request::Parts, fields: &[(String, String)]) -> Response {
    let bad = |reason: &str| page(StatusCode::BAD_REQUEST, "Invalid OpenID request", reason);
    let Some(return_to) = get(fields, "return_to") else {
        return bad("no openid.return_to");
    };
    let realm = get(fields, "realm").unwrap_or(return_to);
    // §9.2: return_to must lie under the realm.
    if !return_to.starts_with(realm) {
        return bad("openid.return_to is not under openid.realm");
    }
    if get(fields, "identity") != Some(IDENTIFIER_SELECT)
        || get(fields, "claimed_id") != Some(IDENTIFIER_SELECT)
    {
        return bad("the marketplace's provider is an OP identifier: ask identifier_select");
    }
    let query: Vec<(String, String)> = parts
        .uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let param = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let Some(user) = param(SIM_USER_PARAM).map_or(m.spec.users.first(), |uid| m.user(uid)) else {
        return bad("no such simulated user");
    };
    let membership = match param(GROUP_PARAM) {
        Some(g) => m
            .memberships_of(&user.uid)
            .find(|ms| ms.group.as_str() == g),
        None => m.memberships_of(&user.uid).next(),
    };
    let Some(group) = membership.and_then(|ms| m.group(ms.group.as_str()).map(|g| (ms, g))) else {
        return bad("the user has no membership");
    };
    let (membership, group) = group;
    let shared = &m.shared;
    let now = shared.now();
    let (Ok(token), Ok(nonce), Ok(handle), Ok(key)) = (
        random_hex(shared.random.as_ref(), 16),
        random_hex(shared.random.as_ref(), 6),
        random_hex(shared.random.as_ref(), 8),
        random_hex(shared.random.as_ref(), 32),
    ) else {
        return page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Provider error",
            "the random source failed",
        );
    };
    let handle = format!("{{HMAC-SHA256}}{{sim}}{{{handle}}}");
    let virtual_uid = format!("{}.{}", user.uid, group.uid);
    // add_identity_details, in its order: user, session, group, role, group contact and
    // location, reseller; blank values are removed.
    let ax: Vec<(&str, String)> = vec![
        ("http://openid.net/schema/person/guid", user.uid.to_string()),
        (
            "http://openid.maestrano.com/schema/person/vguid",
            virtual_uid.clone(),
        ),
        (
            "http://openid.net/schema/namePerson/first",
            user.first_name.clone(),
        ),
        (
            "http://openid.net/schema/namePerson/last",
            user.last_name.clone(),
        ),
        (
            "http://openid.net/schema/contact/internet/email",
            user.email.clone(),
        ),
        (
            "http://openid.maestrano.com/schema/contact/internet/vemail",
            format!("{virtual_uid}@{}.example.com", m.info.key),
        ),
        (
            "http://openid.net/schema/contact/country/home",
            user.country.clone().unwrap_or_default(),
        ),
        (
            "http://openid.net/schema/contact/city/home",
            group.city.clone().unwrap_or_default(),
        ),
        ("http://openid.net/schema/timezone", group.timezone.clone()),
        (
            "http://openid.maestrano.com/schema/session/key",
            token.clone(),
        ),
        (
            "http://openid.maestrano.com/schema/session/expiration",
            format_utc(now + shared.session_recheck),
        ),
        (
            "http://openid.maestrano.com/schema/company/guid",
            group.uid.to_string(),
        ),
        (
            "http://openid.maestrano.com/schema/company/role",
            membership.role.clone(),
        ),
        ("http://openid.net/schema/company/name", group.name.clone()),
        (
            "http://openid.maestrano.com/schema/company/email",
            group.email.clone().unwrap_or_default(),
        ),
        (
            "http://openid.maestrano.com/schema/company/country",
            group.country.clone().unwrap_or_default(),
        ),
        (
            "http://openid.maestrano.com/schema/company/city",
            group.city.clone().unwrap_or_default(),
        ),
        (
            "http://openid.maestrano.com/schema/company/timezone",
            group.timezone.clone(),
        ),
    ];
    let identity = identity(m, user.uid.as_str());
    let mut out: Vec<(String, String)> = vec![
        ("ns".into(), OPENID2_NS.into()),
        ("mode".into(), "id_res".into()),
        ("op_endpoint".into(), endpoint(m)),
        ("claimed_id".into(), identity.clone()),
        ("identity".into(), identity),
        ("return_to".into(), return_to.to_owned()),
        (
            "response_nonce".into(),
            format!("{}{nonce}", format_utc(now)),
        ),
        ("assoc_handle".into(), handle.clone()),
        ("ns.ax".into(), AX_NS.into()),
        ("ax.mode".into(), "fetch_response".into()),
    ];
    for (i, (uri, value)) in ax.iter().filter(|(_, v)| !v.is_empty()).enumerate() {
        out.push((format!("ax.type.ext{i}"), (*uri).to_owned()));
        out.push((format!("ax.value.ext{i}"), value.clone()));
    }
    let signed: Vec<String> = out
        .iter()
        .map(|(k, _)| k.clone())
        .chain(["signed".to_owned()])
        .collect();
    out.push(("signed".into(), signed.join(",")));
    let Some(sig) = sign(key.as_bytes(), &out, &signed) else {
        return page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Provider error",
            "signing failed",
        );
    };
    out.push(("sig".into(), sig));
    {
        let mut pending = lock(&m.openid);
        if pending.len() >= MAX_PENDING {
            pending.remove(0);
        }
        pending.push((handle, key.into_bytes()));
    }
    m.open_session(Session {
        user: user.uid.clone(),
        token: Secret::new(token),
        ends_at: now + shared.session_lifetime,
    });
    tracing::debug!(marketplace = %m.info.key, user = %user.uid, group = %group.uid, "simulated OpenID login");
    // Longer than a redirect allows: an auto-submitted POST form, as the platform answers.
    let inputs: String = out
        .iter()
        .map(|(k, v)| {
            format!(
                "<input type=\"hidden\" name=\"openid.{}\" value=\"{}\"/>",
                escape_html(k),
                escape_html(v)
            )
        })
        .collect();
    let html = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Signing in</title></head>\
         <body onload=\"document.forms[0].submit()\"><form method=\"post\" action=\"{}\">{inputs}\
         <noscript><button type=\"submit\">Continue</button></noscript></form></body></html>\n",
        escape_html(return_to)
    );
    reply(
        StatusCode::OK,
        "text/html; charset=utf-8",
        html.into_bytes(),
    )
}

/// The HMAC-SHA256 of the key-value form of `signed` (§6.1), base64.
fn sign(key: &[u8], fields: &[(String, String)], signed: &[String]) -> Option<String> {
    let mut text = String::new();
    for name in signed {
        let value = get(fields, name)?;
        text.push_str(&format!("{name}:{value}\n"));
    }
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key).ok()?;
    mac.update(text.as_bytes());
    Some(base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()))
}

/// §11.4.2: verifies an assertion this provider signed, once.
fn check_authentication(m: &Marketplace, fields: &[(String, String)]) -> Response {
    let handle = get(fields, "assoc_handle").unwrap_or("");
    let key = {
        let mut pending = lock(&m.openid);
        let at = pending.iter().position(|(h, _)| h == handle);
        at.map(|i| pending.remove(i).1)
    };
    let signed: Vec<String> = get(fields, "signed")
        .unwrap_or("")
        .split(',')
        .map(str::to_owned)
        .collect();
    let valid = key.is_some_and(|key| {
        // The relying party sends `mode=check_authentication`; the signature covered `id_res`.
        let mut original: Vec<(String, String)> = fields.to_vec();
        for (k, v) in &mut original {
            if k == "mode" {
                *v = "id_res".into();
            }
        }
        let expected = sign(&key, &original, &signed);
        expected.is_some() && expected.as_deref() == get(fields, "sig")
    });
    direct(
        StatusCode::OK,
        &[
            ("ns", OPENID2_NS),
            ("is_valid", if valid { "true" } else { "false" }),
        ],
    )
}
