//! What SSO takes from a tenant: its SAML policy, SP settings, AuthnRequest and SP metadata,
//! built from the tenant's configuration.

use time::OffsetDateTime;

use crate::config::tenant::Tenant;
use crate::saml::{AuthnRequest, ResponseValidator, SamlPolicy, SpMetadata, SpSettings};

/// The effective SAML policy: the one set in code, or the default, whose
/// [platform signature profile](crate::saml::SignatureProfile::Platform) accepts the SHA-1 and
/// 1024-bit keys of the tenant's own IdP certificate. Set [`SamlPolicy::strict`] on a tenant
/// (`MarketplaceConfig::with_saml_policy`, or `RegistryBuilder::saml_policy`) to refuse them.
pub fn saml_policy(tenant: &Tenant) -> SamlPolicy {
    tenant.config().saml_policy().cloned().unwrap_or_default()
}

/// The SP's entity id: the Issuer of AuthnRequests, by which the platform's IdP finds the app
/// (`<saml:Issuer>(.*)</saml:Issuer>`, ruby-saml-idp 0.3.2 controller.rb). Defaults to
/// `api.id`, as the official Maestrano SDKs use the app id as SAML issuer. The Audience of
/// the responses is a separate setting ([`SsoConfig::audience`](crate::config::SsoConfig::audience)).
pub fn sp_entity_id(tenant: &Tenant) -> &str {
    let sso = tenant.config().sso();
    sso.sp_entity_id()
        .unwrap_or(tenant.config().api().id().as_str())
}

/// What the SAML validator needs for this tenant: its ACS URL, its Audience
/// ([`SsoConfig::audience`](crate::config::SsoConfig::audience): by default the ACS origin
/// followed by "/", as the platform sends it), the IdP entity id when configured, the IdP
/// certificates (or, in the weaker fingerprint-only mode, the fingerprint) and the tenant's
/// [`SamlPolicy`].
///
/// The developer platform sends no IdP entity id, so unless one is set in code
/// ([`MarketplaceConfigBuilder::idp_entity_id`](crate::config::MarketplaceConfigBuilder::idp_entity_id)),
/// Issuers are not compared: a response is tied to the tenant by the tenant's own IdP key,
/// its audience and its ACS URL (the platform's Issuer is its request URL, which differs on
/// every login: mno-api-sandbox saml_controller.rb L226).
pub fn sp_settings(tenant: &Tenant) -> SpSettings {
    let sso = tenant.config().sso();
    let mut settings = SpSettings::new(
        tenant.acs_url().as_str(),
        sso.audience(),
        sso.certificates().to_vec(),
    )
    .with_policy(saml_policy(tenant));
    settings.idp_entity_id = sso.idp_entity_id().map(str::to_owned);
    settings.fingerprints = sso.fingerprint().cloned().into_iter().collect();
    settings
}

/// The SP metadata XML of this tenant: entity id, ACS URL (HTTP-POST), NameID format and
/// the SP signing certificate when configured.
pub fn sp_metadata(tenant: &Tenant) -> String {
    let options = tenant.config().sso_options();
    SpMetadata {
        entity_id: sp_entity_id(tenant).to_owned(),
        acs_url: tenant.acs_url().to_string(),
        name_id_format: options.name_id_format.clone(),
        signing_certificate: options.signing_certificate.clone(),
        authn_requests_signed: options.signing_key.is_some(),
        want_assertions_signed: saml_policy(tenant).require_signed_assertion,
    }
    .to_xml()
}

/// An AuthnRequest of this tenant with the given ID, issued at `now`: Destination the
/// IdP SSO URL, AssertionConsumerServiceURL the ACS URL, Issuer the SP entity id, and the
/// NameID format and authentication context of the tenant's
/// [`SsoOptions`](crate::saml::SsoOptions).
pub fn authn_request(tenant: &Tenant, id: &str, now: OffsetDateTime) -> AuthnRequest {
    let options = tenant.config().sso_options();
    let mut r = AuthnRequest::new(
        id,
        now,
        tenant.idp_sso_url().as_str(),
        tenant.acs_url().as_str(),
        sp_entity_id(tenant),
    );
    r.name_id_format = options.name_id_format.clone();
    r.requested_authn_context = options.requested_authn_context.clone();
    r
}

/// A validator of this tenant's SAML responses.
pub fn response_validator(tenant: &Tenant) -> ResponseValidator {
    ResponseValidator::new(sp_settings(tenant))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MarketplaceConfig;
    use crate::types::Secret;

    const SANDBOX_FP: &str = "01:06:15:89:25:7d:78:12:28:a6:69:c7:de:63:ed:74:21:f9:f5:36";

    fn config(key: &str, id: &str, secret: &str) -> MarketplaceConfig {
        MarketplaceConfig::builder(key)
            .app_host("https://app.example.com")
            .api_id(id)
            .api_key(Secret::new(secret))
            .api_host("https://hub.example.com")
            .sso_idp("https://idp.example.com")
            .x509_fingerprint(SANDBOX_FP)
            .build()
            .unwrap()
    }

    #[test]
    fn sp_settings_default_the_sp_entity_id_to_the_api_id() {
        let t = Tenant::new(config("a", "app-a", "k"));
        let s = sp_settings(&t);
        assert_eq!(s.audience, "https://app.example.com/");
        assert_eq!(sp_entity_id(&t), "app-a");
        assert_eq!(
            s.acs_urls,
            vec!["https://app.example.com/maestrano/auth/saml/consume/a".to_owned()]
        );
        assert_eq!(
            t.idp_sso_url().as_str(),
            "https://idp.example.com/api/v1/auth/saml"
        );
        assert!(s.certificates.is_empty());
        assert_eq!(s.fingerprints.len(), 1);
        assert!(s.idp_entity_id.is_none());
        let t = Tenant::new(
            MarketplaceConfig::builder("a")
                .app_host("https://app.example.com")
                .api_id("app-a")
                .api_key(Secret::new("k"))
                .api_host("https://hub.example.com")
                .sso_idp("https://idp.example.com")
                .x509_fingerprint(SANDBOX_FP)
                .sp_entity_id("https://app.example.com/saml/metadata")
                .idp_entity_id("https://idp.example.com")
                .build()
                .unwrap(),
        );
        let s = sp_settings(&t);
        assert_eq!(sp_entity_id(&t), "https://app.example.com/saml/metadata");
        assert_eq!(s.audience, "https://app.example.com/");
        assert_eq!(s.idp_entity_id.as_deref(), Some("https://idp.example.com"));
    }
}
