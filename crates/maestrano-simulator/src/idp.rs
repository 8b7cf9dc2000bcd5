//! A marketplace's IdP: SSO with the HTTP-Redirect binding in and an auto-submitting HTTP-POST
//! form out, the session check, logout and the access-unauthorized page.

use axum::response::Response;
use base64::Engine as _;
use http::{Method, StatusCode};
use serde_json::json;
use time::OffsetDateTime;

use super::assertion::{ResponseSpec, auto_submit_form};
use super::config::{IdpMode, SimGroup, SimUser};
use super::platform;
use super::state::{Marketplace, Session};
use super::wire::{json, page, query_pairs, random_hex, reply};
use maestrano::__private::format_utc;
use maestrano::Secret;
use maestrano::saml::ReceivedRedirect;

/// Largest redirect query the IdP decodes.
const MAX_QUERY_BYTES: usize = 64 * 1024;

/// The query parameter that picks the simulated user of a login.
pub const SIM_USER_PARAM: &str = "sim_user";
/// The query parameter that picks the group of a login (the one Maestrano uses).
pub const GROUP_PARAM: &str = "group_id";

/// Routes an IdP request; `None` when the path is not the IdP's.
pub(crate) fn route(
    m: &Marketplace,
    method: &Method,
    uri: &http::Uri,
    segments: &[String],
) -> Option<Response> {
    let s: Vec<&str> = segments.iter().map(String::as_str).collect();
    let response = match s.as_slice() {
        ["api", "v1", "auth", "saml"] => get_only(method, || sso(m, uri)),
        ["api", "v1", "auth", "saml", uid] => get_only(method, || session_check(m, uid, uri)),
        ["app_logout"] => get_only(method, || logout(m, uri)),
        ["app_access_unauthorized"] => get_only(method, || {
            page(
                StatusCode::OK,
                "Access unauthorized",
                "The application refused access to this account.",
            )
        }),
        _ => return None,
    };
    Some(response)
}

fn get_only(method: &Method, f: impl FnOnce() -> Response) -> Response {
    if method == Method::GET {
        f()
    } else {
        let mut r = page(
            StatusCode::METHOD_NOT_ALLOWED,
            "Method not allowed",
            "Use GET.",
        );
        r.headers_mut()
            .insert(http::header::ALLOW, http::HeaderValue::from_static("GET"));
        r
    }
}

fn bad_request(reason: &str) -> Response {
    page(StatusCode::BAD_REQUEST, "Invalid SAML request", reason)
}

fn sso(m: &Marketplace, uri: &http::Uri) -> Response {
    let Some(query) = uri.query() else {
        return bad_request("no SAMLRequest parameter");
    };
    let redirect = match ReceivedRedirect::from_query(query, MAX_QUERY_BYTES) {
        Ok(r) => r,
        Err(e) => return bad_request(&format!("the AuthnRequest cannot be read: {e}")),
    };
    let request = &redirect.request;
    if request.issuer != maestrano::sso::sp_entity_id(&m.tenant) {
        return bad_request(&format!(
            "the issuer {:?} is not the application of this marketplace",
            request.issuer
        ));
    }
    let acs = m.tenant.acs_url().as_str();
    if request.acs_url != acs {
        return bad_request(&format!(
            "the AssertionConsumerServiceURL {:?} is not the one configured ({acs})",
            request.acs_url
        ));
    }
    let sso_url = m.tenant.idp_sso_url().as_str();
    if !request.destination.is_empty() && request.destination != sso_url {
        return bad_request(&format!(
            "the Destination {:?} is not this IdP ({sso_url})",
            request.destination
        ));
    }
    let param = |name: &str| {
        redirect
            .extra
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let user = match param(SIM_USER_PARAM) {
        Some(uid) => match m.user(uid) {
            Some(u) => u,
            None => return bad_request(&format!("no simulated user {uid:?}")),
        },
        // `check` made sure there is one.
        None => match m.spec.users.first() {
            Some(u) => u,
            None => return bad_request("this marketplace has no user"),
        },
    };
    let membership = match param(GROUP_PARAM) {
        Some(g) => m
            .memberships_of(&user.uid)
            .find(|ms| ms.group.as_str() == g),
        None => m.memberships_of(&user.uid).next(),
    };
    let Some(membership) = membership else {
        return bad_request(&format!(
            "user {} is not a member of {}",
            user.uid,
            param(GROUP_PARAM).unwrap_or("any group")
        ));
    };
    let Some(group) = m.group(membership.group.as_str()) else {
        return bad_request("the membership names an unknown group");
    };

    let shared = &m.shared;
    let ids = (|| {
        Ok::<_, maestrano::ports::RandomError>((
            format!("_{}", random_hex(shared.random.as_ref(), 16)?),
            format!("_{}", random_hex(shared.random.as_ref(), 16)?),
            format!("_{}", random_hex(shared.random.as_ref(), 16)?),
            random_hex(shared.random.as_ref(), 16)?,
        ))
    })();
    let Ok((response_id, assertion_id, session_index, token)) = ids else {
        return page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "IdP error",
            "the random source failed",
        );
    };
    let now = shared.now();
    let ends_at = now + shared.session_lifetime;
    let virtual_uid = format!("{}.{}", user.uid, group.uid);
    let free_trial = group
        .free_trial_end_at
        .map_or_else(|| "0000-01-01T00:00:00Z".to_owned(), format_utc);
    let attributes: Vec<(&'static str, String)> = vec![
        ("mno_session", token.clone()),
        (
            "mno_session_recheck",
            format_utc(now + shared.session_recheck),
        ),
        ("group_uid", group.uid.to_string()),
        ("group_name", group.name.clone()),
        ("group_email", group.email.clone().unwrap_or_default()),
        ("group_role", membership.role.clone()),
        ("group_end_free_trial", free_trial),
        ("group_has_credit_card", group.has_credit_card.to_string()),
        ("group_currency", group.currency.clone()),
        ("group_timezone", group.timezone.clone()),
        ("group_country", group.country.clone().unwrap_or_default()),
        ("group_city", group.city.clone().unwrap_or_default()),
        ("group_org_uid", group.org_uid.clone()),
        ("uid", user.uid.to_string()),
        ("virtual_uid", virtual_uid.clone()),
        ("email", user.email.clone()),
        (
            "virtual_email",
            format!("{virtual_uid}@{}.example.com", m.info.key),
        ),
        ("name", user.first_name.clone()),
        ("surname", user.last_name.clone()),
        ("country", user.country.clone().unwrap_or_default()),
        (
            "company_name",
            user.company_name.clone().unwrap_or_default(),
        ),
    ];
    if m.spec.idp_mode == IdpMode::Platform {
        return platform_response(PlatformLogin {
            m,
            uri,
            request_id: &request.id,
            acs,
            user,
            group,
            role: &membership.role,
            token,
            now,
            ends_at,
        });
    }
    let spec = ResponseSpec {
        response_id,
        assertion_id,
        session_index,
        issuer: m.info.idp_entity_id.clone(),
        destination: acs.to_owned(),
        in_response_to: request.id.clone(),
        audience: m.tenant.config().sso().audience().to_owned(),
        name_id: user.uid.to_string(),
        name_id_format: request.name_id_format.clone(),
        now,
        not_on_or_after: now + shared.assertion_lifetime,
        session_not_on_or_after: ends_at,
        attributes,
    };
    let keys = m.keys();
    let xml = match spec.signed(&keys.signing_key, &keys.certificate) {
        Ok(x) => x,
        Err(e) => {
            return page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "IdP error",
                &format!("signing failed: {e}"),
            );
        }
    };
    m.open_session(Session {
        user: user.uid.clone(),
        token: Secret::new(token),
        ends_at,
    });
    tracing::debug!(marketplace = %m.info.key, user = %user.uid, group = %group.uid, "simulated IdP login");
    let b64 = base64::engine::general_purpose::STANDARD.encode(xml);
    let html = auto_submit_form(acs, &b64, redirect.relay_state.as_deref());
    reply(
        StatusCode::OK,
        "text/html; charset=utf-8",
        html.into_bytes(),
    )
}

/// One login answered as the platform answers it.
struct PlatformLogin<'a> {
    m: &'a Marketplace,
    uri: &'a http::Uri,
    request_id: &'a str,
    acs: &'a str,
    user: &'a SimUser,
    group: &'a SimGroup,
    role: &'a str,
    token: String,
    now: OffsetDateTime,
    ends_at: OffsetDateTime,
}

/// The platform's response (`crate::platform`): the attributes of mno-api-sandbox cd52c0b
/// `idp_build_user_assertions` (saml_controller.rb L168-215), in its order, in the gem's
/// auto-submit form, which carries no RelayState.
fn platform_response(l: PlatformLogin<'_>) -> Response {
    let PlatformLogin {
        m,
        uri,
        request_id,
        acs,
        user,
        group,
        role,
        token,
        now,
        ends_at,
    } = l;
    let shared = &m.shared;
    let uuids = (|| {
        let mut a = [0u8; 16];
        let mut b = [0u8; 16];
        shared.random.fill(&mut a)?;
        shared.random.fill(&mut b)?;
        Ok::<_, maestrano::ports::RandomError>((platform::uuid(a), platform::uuid(b)))
    })();
    let Ok((response_uuid, assertion_uuid)) = uuids else {
        return page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "IdP error",
            "the random source failed",
        );
    };
    let virtual_uid = format!("{}.{}", user.uid, group.uid);
    let free_trial = group
        .free_trial_end_at
        .map_or_else(|| "0000-01-01T00:00:00Z".to_owned(), platform::iso8601);
    // `role || 'Guest'` (saml_controller.rb L209) replaces only a missing role; a simulated
    // membership always has one, and an empty one is sent as it is, as Ruby would.
    let attributes: Vec<(&'static str, String)> = vec![
        ("mno_session", token.clone()),
        (
            "mno_session_recheck",
            platform::iso8601(now + shared.session_recheck),
        ),
        ("group_uid", group.uid.to_string()),
        ("group_name", group.name.clone()),
        ("group_end_free_trial", free_trial),
        ("group_role", role.to_owned()),
        ("group_has_credit_card", group.has_credit_card.to_string()),
        ("group_email", group.email.clone().unwrap_or_default()),
        ("group_currency", group.currency.clone()),
        ("group_timezone", group.timezone.clone()),
        ("group_country", group.country.clone().unwrap_or_default()),
        ("group_city", group.city.clone().unwrap_or_default()),
        ("group_reseller_id", String::new()),
        ("uid", user.uid.to_string()),
        ("virtual_uid", virtual_uid.clone()),
        ("email", user.email.clone()),
        (
            "virtual_email",
            format!("{virtual_uid}@{}.example.com", m.info.key),
        ),
        ("name", user.first_name.clone()),
        ("surname", user.last_name.clone()),
        ("country", user.country.clone().unwrap_or_default()),
        (
            "company_name",
            user.company_name.clone().unwrap_or_default(),
        ),
        ("app_owner", "true".to_owned()),
        ("organizations", "{}".to_owned()),
    ];
    // `request.original_url`: the IdP SSO URL as the browser requested it.
    let idp_request_url = match uri.query() {
        Some(q) => format!("{}?{q}", m.tenant.idp_sso_url().as_str()),
        None => m.tenant.idp_sso_url().to_string(),
    };
    let response = platform::PlatformResponse {
        request_id,
        acs_url: acs,
        idp_request_url: &idp_request_url,
        now,
        response_uuid: &response_uuid,
        assertion_uuid: &assertion_uuid,
        uid: user.uid.as_str(),
        attributes: &attributes,
    };
    let keys = m.keys();
    let xml = match response.to_xml(&keys.idp_private, &keys.idp_certificate_pem) {
        Ok(x) => x,
        Err(e) => {
            return page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "IdP error",
                &format!("signing failed: {e}"),
            );
        }
    };
    m.open_session(Session {
        user: user.uid.clone(),
        token: Secret::new(token),
        ends_at,
    });
    tracing::debug!(marketplace = %m.info.key, user = %user.uid, group = %group.uid, "simulated platform IdP login");
    let html = auto_submit_form(acs, &platform::encode64(xml.as_bytes()), None);
    reply(
        StatusCode::OK,
        "text/html; charset=utf-8",
        html.into_bytes(),
    )
}

fn session_check(m: &Marketplace, uid: &str, uri: &http::Uri) -> Response {
    let token = query_pairs(uri)
        .into_iter()
        .find(|(k, _)| k == "session")
        .map(|(_, v)| v)
        .unwrap_or_default();
    let now = m.shared.now();
    if !token.is_empty() && m.session_valid(uid, &token, now) {
        json(
            StatusCode::OK,
            &json!({"valid": true, "recheck": format_utc(now + m.shared.session_recheck)}),
        )
    } else {
        json(StatusCode::OK, &json!({"valid": false}))
    }
}

fn logout(m: &Marketplace, uri: &http::Uri) -> Response {
    let Some(uid) = query_pairs(uri)
        .into_iter()
        .find(|(k, _)| k == "user_uid")
        .map(|(_, v)| v)
    else {
        return page(StatusCode::BAD_REQUEST, "Logout", "no user_uid parameter");
    };
    let ended = m.end_sessions(&uid);
    tracing::debug!(marketplace = %m.info.key, sessions = ended, "simulated IdP logout");
    page(
        StatusCode::OK,
        "Signed out",
        &format!("Signed out of {} ({ended} session(s) ended).", m.info.key),
    )
}
