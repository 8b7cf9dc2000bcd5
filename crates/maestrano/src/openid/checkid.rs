//! The `checkid_setup` request (§9.1): the redirect that sends the user to the provider, with
//! an Attribute Exchange fetch request for the Maestrano attributes.

use url::Url;

use super::OPENID2_NS;
use super::ax::{AX_NS, MAESTRANO_TYPES};

/// `openid.claimed_id` and `openid.identity` of a request that lets the provider choose the
/// user (§9.1): the platform's identifier is an OP identifier (its XRDS names a `server`
/// service, mno-api-sandbox cd52c0b, app/views/api/openid/provider/show.xrds.builder).
pub(crate) const IDENTIFIER_SELECT: &str = "http://specs.openid.net/auth/2.0/identifier_select";

/// The attributes a login cannot do without ([`SsoLogin`](crate::saml::SsoLogin) refuses an
/// assertion without them); the others are asked `if_available`.
const REQUIRED: [&str; 2] = ["uid", "group_uid"];

/// The URL that sends the user to `op_endpoint` to log in, coming back to `return_to` (which
/// must lie under `realm`, the app's origin as the provider shows it to the user), signed
/// with `assoc_handle` when the relying party holds an association (stateless otherwise).
/// The AX fetch request asks for every Maestrano type by its URI; the aliases are the SAML
/// names of the same values.
pub fn checkid_setup_url(
    op_endpoint: &Url,
    return_to: &Url,
    realm: &str,
    assoc_handle: Option<&str>,
) -> Url {
    let mut url = op_endpoint.clone();
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("openid.ns", OPENID2_NS)
            .append_pair("openid.mode", "checkid_setup")
            .append_pair("openid.claimed_id", IDENTIFIER_SELECT)
            .append_pair("openid.identity", IDENTIFIER_SELECT)
            .append_pair("openid.return_to", return_to.as_str())
            .append_pair("openid.realm", realm);
        if let Some(handle) = assoc_handle {
            q.append_pair("openid.assoc_handle", handle);
        }
        q.append_pair("openid.ns.ax", AX_NS)
            .append_pair("openid.ax.mode", "fetch_request");
        let mut optional = Vec::new();
        for (uri, alias) in MAESTRANO_TYPES {
            q.append_pair(&format!("openid.ax.type.{alias}"), uri);
            if !REQUIRED.contains(&alias) {
                optional.push(alias);
            }
        }
        q.append_pair("openid.ax.required", &REQUIRED.join(","))
            .append_pair("openid.ax.if_available", &optional.join(","));
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_asks_every_maestrano_type_once() {
        let url = checkid_setup_url(
            &Url::parse("https://hub.example/api/openid/provider/app-1?x=1").unwrap(),
            &Url::parse("https://app.example/mno/acme/openid/return?mno_request=_1").unwrap(),
            "https://app.example/",
            Some("{HMAC-SHA256}{1}"),
        );
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("x"), Some("1"));
        assert_eq!(get("openid.mode"), Some("checkid_setup"));
        assert_eq!(get("openid.assoc_handle"), Some("{HMAC-SHA256}{1}"));
        let types = pairs
            .iter()
            .filter(|(k, _)| k.starts_with("openid.ax.type."))
            .count();
        assert_eq!(types, MAESTRANO_TYPES.len());
        let listed = format!(
            "{},{}",
            get("openid.ax.required").unwrap(),
            get("openid.ax.if_available").unwrap()
        );
        assert_eq!(listed.split(',').count(), MAESTRANO_TYPES.len());
    }
}
