//! The metadata export of a tenant: what the application's Maestrano configuration looks like,
//! for the marketplace to check. It never contains `api.key`.
//!
//! The shape follows the metadata of the Java SDK (`Preset.toMetadata`), including its
//! singular `webhook` member, with `lang` `"Rust"` and this crate's version.

use serde_json::{Value, json};

use super::model::MarketplaceConfig;
use super::urls::display_url;

/// The metadata of the marketplace `c` as JSON, without any secret.
pub(crate) fn metadata_json(c: &MarketplaceConfig) -> Value {
    let sso = c.sso();
    let fingerprint = sso
        .fingerprint()
        .cloned()
        .or_else(|| {
            sso.certificates()
                .first()
                .map(|x| x.sha1_fingerprint().clone())
        })
        .map(|f| f.to_string());
    let mut sso_json = json!({
        "init_path": sso.init_path().as_str(),
        "consume_path": sso.consume_path().as_str(),
        "idm": display_url(sso.idm()),
        "idp": display_url(sso.idp()),
        "x509_fingerprint": fingerprint,
        "x509_certificate": sso.certificates().first().map(|x| x.to_pem()),
    });
    if sso.certificates().len() > 1 {
        sso_json["x509_certificates"] = sso.certificates().iter().map(|x| x.to_pem()).collect();
    }
    let hooks = c.webhooks();
    let mut out = json!({
        "marketplace": c.marketplace().as_str(),
        "app": { "host": display_url(c.app().host()) },
        "api": {
            "id": c.api().id().as_str(),
            "version": env!("CARGO_PKG_VERSION"),
            "lang": "Rust",
            "host": display_url(c.api().host()),
            "base": c.api().base(),
        },
        "sso": sso_json,
        "webhook": {
            "account": {
                "group_path": hooks.account().group_path().as_str(),
                "group_user_path": hooks.account().group_user_path().as_str(),
            },
            "connec": {
                "external_ids": hooks.connec().external_ids(),
                "notification_path": hooks.connec().notification_path().as_str(),
            },
        },
    });
    if let Some(connec) = c.connec() {
        out["connec"] = json!({
            "host": display_url(connec.host()),
            "base_path": connec.base_path(),
        });
    }
    out
}
