//! The typed marketplace model (documented on the `config` module).

use crate::saml::{SamlPolicy, SsoOptions};
use std::time::Duration;

use url::Url;

use super::error::{ConfigError, FieldError, FieldProblem};
use super::urls::join;
use crate::routes::{PathTemplate, TenantRoutes};
use crate::saml::{Certificate, Fingerprint};
use crate::types::shown;
use crate::types::{ApiId, ApiKey, MarketplaceKey, Secret};

/// Longest connec timeout accepted, in seconds.
const MAX_TIMEOUT_SECS: u64 = 3600;
/// Longest free-form string accepted in an entity id.
const MAX_ENTITY_ID_LEN: usize = 1024;

/// The configuration of one marketplace (tenant).
///
/// Built by parsing JSON (see [`parse_marketplaces`](super::parse_marketplaces)) or in code
/// with [`MarketplaceConfig::builder`]; both run the same validation. Its `Debug` output
/// redacts the API key.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct MarketplaceConfig {
    marketplace: MarketplaceKey,
    nid: Option<String>,
    environment: Option<String>,
    app: AppConfig,
    api: ApiConfig,
    sso: SsoConfig,
    connec: Option<ConnecConfig>,
    webhooks: WebhooksConfig,
    saml_policy: Option<SamlPolicy>,
    sso_options: SsoOptions,
}

/// As its JSON form (the one [`parse_marketplace`](crate::config::parse_marketplace) reads):
/// a config serializes to what parses back to it. It holds `api.key`: serialize it only into
/// storage kept as safe as the key. Settings that form cannot carry (a SAML policy or entity
/// ids set in code, more than one trusted certificate) fail the serialization, naming the
/// setting, rather than being dropped; [`SsoOptions`] are the app's and are not part of it.
///
/// ```
/// use maestrano::config::MarketplaceConfig;
///
/// let json = r#"{"marketplace": "acme-corp", "app": {"host": "https://app.example.com"},
///     "api": {"id": "app-1a2b", "key": "s3cret", "host": "https://hub.acme.example"},
///     "sso": {"idp": "https://hub.acme.example",
///             "x509_fingerprint": "01:06:15:89:25:7d:78:12:28:a6:69:c7:de:63:ed:74:21:f9:f5:36"}}"#;
/// let config: MarketplaceConfig = serde_json::from_str(json)?;
/// let again: MarketplaceConfig = serde_json::from_value(serde_json::to_value(&config)?)?;
/// assert_eq!(again.sso().audience(), "https://app.example.com/");
///
/// // The same checks as the JSON parser, with the same messages.
/// let bad = json.replace("01:06", "zz:06");
/// let refused = serde_json::from_str::<MarketplaceConfig>(&bad).unwrap_err();
/// assert!(refused.to_string().contains("sso.x509_fingerprint"), "{refused}");
/// # Ok::<(), serde_json::Error>(())
/// ```
impl serde::Serialize for MarketplaceConfig {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        super::json::to_json(self)
            .map_err(serde::ser::Error::custom)?
            .serialize(serializer)
    }
}

/// Read through the JSON parser, with its validation and its error messages (each naming the
/// field's path); from any self-describing format (JSON, TOML, YAML).
impl<'de> serde::Deserialize<'de> for MarketplaceConfig {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        let bytes = serde_json::to_vec(&value).map_err(serde::de::Error::custom)?;
        super::json::parse_marketplace(&bytes).map_err(serde::de::Error::custom)
    }
}

impl MarketplaceConfig {
    /// Starts registering a marketplace in code.
    pub fn builder(marketplace: impl Into<String>) -> MarketplaceConfigBuilder {
        MarketplaceConfigBuilder {
            raw: RawMarketplace {
                marketplace: Some(marketplace.into()),
                ..RawMarketplace::default()
            },
        }
    }

    /// The marketplace key (`marketplace`).
    pub fn marketplace(&self) -> &MarketplaceKey {
        &self.marketplace
    }

    /// The application's id on the developer platform (`nid`).
    pub fn nid(&self) -> Option<&str> {
        self.nid.as_deref()
    }

    /// The developer platform environment (`environment`).
    pub fn environment(&self) -> Option<&str> {
        self.environment.as_deref()
    }

    /// The `app` block.
    pub fn app(&self) -> &AppConfig {
        &self.app
    }

    /// The `api` block.
    pub fn api(&self) -> &ApiConfig {
        &self.api
    }

    /// The `sso` block.
    pub fn sso(&self) -> &SsoConfig {
        &self.sso
    }

    /// The `connec` block, when configured.
    pub fn connec(&self) -> Option<&ConnecConfig> {
        self.connec.as_ref()
    }

    /// The `webhooks` block, with defaults filled in.
    pub fn webhooks(&self) -> &WebhooksConfig {
        &self.webhooks
    }

    /// The paths this tenant serves, for a [`Router`](crate::routes::Router).
    pub fn routes(&self) -> TenantRoutes<'_> {
        TenantRoutes {
            marketplace: &self.marketplace,
            sso_init: self.sso.init_path(),
            sso_consume: self.sso.consume_path(),
            group: self.webhooks.account().group_path(),
            group_user: self.webhooks.account().group_user_path(),
            connec_notification: self.webhooks.connec().notification_path(),
        }
    }

    /// The SAML policy set in code for this tenant, if any.
    pub fn saml_policy(&self) -> Option<&SamlPolicy> {
        self.saml_policy.as_ref()
    }

    /// This configuration with `policy` as its SAML policy.
    pub fn with_saml_policy(mut self, policy: SamlPolicy) -> Self {
        self.saml_policy = Some(policy);
        self
    }

    /// The application's SSO choices for this tenant (identity mode, SP key, …).
    pub fn sso_options(&self) -> &SsoOptions {
        &self.sso_options
    }

    /// This configuration with `options` as its SSO options.
    pub fn with_sso_options(mut self, options: SsoOptions) -> Self {
        self.sso_options = options;
        self
    }

    /// This configuration with one more trusted IdP certificate (key rotation).
    ///
    /// A configured fingerprint keeps matching, since it matched one of the certificates
    /// already present (or there were none).
    pub fn with_additional_certificate(mut self, certificate: Certificate) -> Self {
        if !self.sso.certificates.contains(&certificate) {
            self.sso.certificates.push(certificate);
        }
        self
    }
}

/// The `app` block: where the application lives.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AppConfig {
    host: Url,
    synchronization_start_path: Option<String>,
    synchronization_toggle_path: Option<String>,
    synchronization_status_path: Option<String>,
}

impl AppConfig {
    /// The application's base URL (`app.host`).
    pub fn host(&self) -> &Url {
        &self.host
    }

    /// `app.synchronization_start_path`.
    pub fn synchronization_start_path(&self) -> Option<&str> {
        self.synchronization_start_path.as_deref()
    }

    /// `app.synchronization_toggle_path`.
    pub fn synchronization_toggle_path(&self) -> Option<&str> {
        self.synchronization_toggle_path.as_deref()
    }

    /// `app.synchronization_status_path`.
    pub fn synchronization_status_path(&self) -> Option<&str> {
        self.synchronization_status_path.as_deref()
    }
}

/// The `api` block: the application's credentials and the marketplace's API hub.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ApiConfig {
    id: ApiId,
    key: ApiKey,
    host: Url,
    base: String,
}

impl ApiConfig {
    /// The application's id (`api.id`), the HTTP Basic user name.
    pub fn id(&self) -> &ApiId {
        &self.id
    }

    /// The application's key (`api.key`), the HTTP Basic password. A [`Secret`].
    pub fn key(&self) -> &ApiKey {
        &self.key
    }

    /// The API hub (`api.host`).
    pub fn host(&self) -> &Url {
        &self.host
    }

    /// The API base path (`api.base`), `/api/v1/` by default.
    pub fn base(&self) -> &str {
        &self.base
    }
}

/// The `sso` block: SAML single sign-on with the marketplace's IdP.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SsoConfig {
    idm: Url,
    idm_is_app_host: bool,
    init_path: PathTemplate,
    consume_path: PathTemplate,
    idp: Url,
    fingerprint: Option<Fingerprint>,
    certificates: Vec<Certificate>,
    sp_entity_id: Option<String>,
    idp_entity_id: Option<String>,
    audience: String,
    pub(crate) urls: SsoUrls,
}

/// URLs computed once at load, so that using them cannot fail.
#[derive(Debug, Clone)]
pub(crate) struct SsoUrls {
    pub(crate) init: Url,
    pub(crate) acs: Url,
    pub(crate) idp_sso: Url,
    pub(crate) logout: Url,
    pub(crate) unauthorized: Url,
}

impl SsoConfig {
    /// The identity manager: the application's base URL for SSO (`sso.idm`, or `app.host` when
    /// that is empty).
    pub fn idm(&self) -> &Url {
        &self.idm
    }

    /// Whether [`idm`](Self::idm) fell back to `app.host`.
    pub fn idm_is_app_host(&self) -> bool {
        self.idm_is_app_host
    }

    /// The SSO initialisation path (`sso.init_path`), possibly with a query.
    pub fn init_path(&self) -> &PathTemplate {
        &self.init_path
    }

    /// The assertion consumer path (`sso.consume_path`), possibly with a query.
    pub fn consume_path(&self) -> &PathTemplate {
        &self.consume_path
    }

    /// The marketplace's IdP (`sso.idp`). Every SSO URL is built from it.
    pub fn idp(&self) -> &Url {
        &self.idp
    }

    /// The configured IdP certificate fingerprint (`sso.x509_fingerprint`), normalised.
    pub fn fingerprint(&self) -> Option<&Fingerprint> {
        self.fingerprint.as_ref()
    }

    /// The trusted IdP certificates (`sso.x509_certificate`, plus any added for rotation).
    pub fn certificates(&self) -> &[Certificate] {
        &self.certificates
    }

    /// The SP entity id set in code, if any (the tenant defaults it to `api.id`).
    pub fn sp_entity_id(&self) -> Option<&str> {
        self.sp_entity_id.as_deref()
    }

    /// The Audience the IdP's responses are restricted to (`sso.audience`). Default: what the
    /// platform sends, the ACS URL's scheme, host and port followed by "/"
    /// (`https://app.example.com/`): mno-api-sandbox cd52c0b, saml_controller.rb L246,
    /// `saml_acs_url[/^(.*?\/\/.*?\/)/, 1]`. It is not the SP entity id (the AuthnRequest
    /// Issuer, `api.id`), which the platform never sends back.
    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// The IdP entity id set in code, if any.
    pub fn idp_entity_id(&self) -> Option<&str> {
        self.idp_entity_id.as_deref()
    }
}

/// The `connec` block: the Connec! data sharing API.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ConnecConfig {
    host: Url,
    base_path: String,
    timeout: Option<Duration>,
}

impl ConnecConfig {
    /// The Connec! API (`connec.host`).
    pub fn host(&self) -> &Url {
        &self.host
    }

    /// The base path (`connec.base_path`), `/api/v2` by default.
    pub fn base_path(&self) -> &str {
        &self.base_path
    }

    /// The request timeout (`connec.timeout`, in seconds), when configured.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }
}

/// The `webhooks` block: the paths the marketplace calls on the application.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct WebhooksConfig {
    account: AccountWebhooks,
    connec: ConnecWebhooks,
}

impl WebhooksConfig {
    /// `webhooks.account`.
    pub fn account(&self) -> &AccountWebhooks {
        &self.account
    }

    /// `webhooks.connec`.
    pub fn connec(&self) -> &ConnecWebhooks {
        &self.connec
    }
}

/// `webhooks.account`: group and membership removal notifications.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AccountWebhooks {
    group_path: PathTemplate,
    group_user_path: PathTemplate,
}

impl AccountWebhooks {
    /// `DELETE` here when a group leaves the application; has exactly the parameter `:id`.
    pub fn group_path(&self) -> &PathTemplate {
        &self.group_path
    }

    /// `DELETE` here when a user leaves a group; has exactly `:group_id` and `:id`.
    pub fn group_user_path(&self) -> &PathTemplate {
        &self.group_user_path
    }
}

/// `webhooks.connec`: Connec! notifications.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ConnecWebhooks {
    external_ids: bool,
    initialization_path: Option<String>,
    notification_path: PathTemplate,
}

impl ConnecWebhooks {
    /// Whether Connec! sends the application's own ids (`external_ids`).
    pub fn external_ids(&self) -> bool {
        self.external_ids
    }

    /// `initialization_path`, when configured.
    pub fn initialization_path(&self) -> Option<&str> {
        self.initialization_path.as_deref()
    }

    /// `POST` here for Connec! notifications; has no parameter.
    pub fn notification_path(&self) -> &PathTemplate {
        &self.notification_path
    }
}

/// A certificate as given: text still to decode, or already decoded.
#[derive(Debug, Clone)]
pub(crate) enum RawCertificate {
    Pem(String),
    Parsed(Certificate),
}

/// A marketplace as read, before validation: every field optional and untyped.
#[derive(Debug, Clone, Default)]
pub(crate) struct RawMarketplace {
    pub(crate) marketplace: Option<String>,
    pub(crate) nid: Option<String>,
    pub(crate) environment: Option<String>,
    pub(crate) app_host: Option<String>,
    pub(crate) sync_start_path: Option<String>,
    pub(crate) sync_toggle_path: Option<String>,
    pub(crate) sync_status_path: Option<String>,
    pub(crate) api_id: Option<String>,
    pub(crate) api_key: Option<Secret>,
    pub(crate) api_host: Option<String>,
    pub(crate) api_base: Option<String>,
    pub(crate) sso_idm: Option<String>,
    pub(crate) sso_init_path: Option<String>,
    pub(crate) sso_consume_path: Option<String>,
    pub(crate) sso_idp: Option<String>,
    pub(crate) sso_fingerprint: Option<String>,
    pub(crate) sso_certificates: Vec<RawCertificate>,
    pub(crate) sp_entity_id: Option<String>,
    pub(crate) idp_entity_id: Option<String>,
    pub(crate) audience: Option<String>,
    pub(crate) connec_present: bool,
    pub(crate) connec_host: Option<String>,
    pub(crate) connec_base_path: Option<String>,
    pub(crate) connec_timeout_secs: Option<u64>,
    pub(crate) group_path: Option<String>,
    pub(crate) group_user_path: Option<String>,
    pub(crate) external_ids: Option<bool>,
    pub(crate) initialization_path: Option<String>,
    pub(crate) notification_path: Option<String>,
    pub(crate) saml_policy: Option<SamlPolicy>,
}

/// Registers a marketplace in code. Setters take the same text as the JSON fields; nothing
/// is checked until [`build`](Self::build), which runs the same validation as the JSON parser
/// (error paths are then relative, such as `api.key`).
#[derive(Debug, Clone)]
pub struct MarketplaceConfigBuilder {
    raw: RawMarketplace,
}

macro_rules! setters {
    ($($(#[$m:meta])* $name:ident => $field:ident;)*) => {
        $(
            $(#[$m])*
            pub fn $name(mut self, value: impl Into<String>) -> Self {
                self.raw.$field = Some(value.into());
                self
            }
        )*
    };
}

impl MarketplaceConfigBuilder {
    setters! {
        /// `nid`.
        nid => nid;
        /// `environment`.
        environment => environment;
        /// `app.host` (required).
        app_host => app_host;
        /// `app.synchronization_start_path`.
        synchronization_start_path => sync_start_path;
        /// `app.synchronization_toggle_path`.
        synchronization_toggle_path => sync_toggle_path;
        /// `app.synchronization_status_path`.
        synchronization_status_path => sync_status_path;
        /// `api.id` (required).
        api_id => api_id;
        /// `api.host` (required).
        api_host => api_host;
        /// `api.base`.
        api_base => api_base;
        /// `sso.idm`.
        sso_idm => sso_idm;
        /// `sso.init_path`.
        sso_init_path => sso_init_path;
        /// `sso.consume_path`.
        sso_consume_path => sso_consume_path;
        /// `sso.idp` (required).
        sso_idp => sso_idp;
        /// `sso.x509_fingerprint`.
        x509_fingerprint => sso_fingerprint;
        /// The SP entity id (SAML issuer and audience); defaults to `api.id`.
        sp_entity_id => sp_entity_id;
        /// The IdP entity id the responses must name as issuer, when known.
        idp_entity_id => idp_entity_id;
        /// The Audience responses must be restricted to (`sso.audience`); defaults to the ACS
        /// URL's origin followed by "/", as the platform sends it.
        audience => audience;
        /// `webhooks.account.group_path`.
        group_path => group_path;
        /// `webhooks.account.group_user_path`.
        group_user_path => group_user_path;
        /// `webhooks.connec.initialization_path`.
        connec_initialization_path => initialization_path;
        /// `webhooks.connec.notification_path`.
        connec_notification_path => notification_path;
    }

    /// `api.key` (required).
    pub fn api_key(mut self, key: Secret) -> Self {
        self.raw.api_key = Some(key);
        self
    }

    /// Adds an IdP certificate in PEM (literal `\n` accepted) or base64 DER. Call it several
    /// times to trust several certificates during a key rotation.
    pub fn x509_certificate(mut self, pem: impl Into<String>) -> Self {
        self.raw
            .sso_certificates
            .push(RawCertificate::Pem(pem.into()));
        self
    }

    /// Adds an already decoded IdP certificate.
    pub fn certificate(mut self, certificate: Certificate) -> Self {
        self.raw
            .sso_certificates
            .push(RawCertificate::Parsed(certificate));
        self
    }

    /// `connec.host`; setting it enables Connec! for the tenant.
    pub fn connec_host(mut self, host: impl Into<String>) -> Self {
        self.raw.connec_present = true;
        self.raw.connec_host = Some(host.into());
        self
    }

    /// `connec.base_path`.
    pub fn connec_base_path(mut self, path: impl Into<String>) -> Self {
        self.raw.connec_present = true;
        self.raw.connec_base_path = Some(path.into());
        self
    }

    /// `connec.timeout`, in whole seconds.
    pub fn connec_timeout(mut self, timeout: Duration) -> Self {
        self.raw.connec_present = true;
        self.raw.connec_timeout_secs = Some(timeout.as_secs());
        self
    }

    /// `webhooks.connec.external_ids`.
    pub fn connec_external_ids(mut self, external_ids: bool) -> Self {
        self.raw.external_ids = Some(external_ids);
        self
    }

    /// The tenant's SAML policy.
    pub fn saml_policy(mut self, policy: SamlPolicy) -> Self {
        self.raw.saml_policy = Some(policy);
        self
    }

    /// Validates and builds the configuration.
    pub fn build(self) -> Result<MarketplaceConfig, ConfigError> {
        Ok(validate(self.raw, "")?)
    }
}

/// Empty strings count as absent: the developer platform sends `""` for unset fields.
fn present(value: Option<String>) -> Option<String> {
    value.filter(|s| !s.is_empty())
}

/// The Audience the platform's IdP writes: the ACS URL up to the first "/" after "//",
/// included (`saml_acs_url[/^(.*?\/\/.*?\/)/, 1]`, mno-api-sandbox saml_controller.rb L246).
fn acs_origin_slash(acs: &Url) -> String {
    let s = acs.as_str();
    s.find("//")
        .and_then(|a| s[a + 2..].find('/').map(|b| s[..a + 2 + b + 1].to_owned()))
        .unwrap_or_else(|| s.to_owned())
}

fn invalid(path: String, expected: &'static str, found: &str) -> FieldError {
    FieldError::new(
        path,
        FieldProblem::Invalid {
            expected,
            found: shown(found),
        },
    )
}

/// Reads an absolute http(s) URL without credentials, query or fragment.
pub(crate) fn http_url(value: &str, path: String) -> Result<Url, FieldError> {
    let url =
        Url::parse(value).map_err(|_| invalid(path.clone(), "an absolute http(s) URL", value))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(path, "an http or https URL", value));
    }
    if !url.username().is_empty() || url.password().is_some() {
        // The value is not echoed: it holds credentials.
        return Err(FieldError::new(
            path,
            FieldProblem::Invalid {
                expected: "a URL without user name or password",
                found: "a URL with credentials".into(),
            },
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(path, "a URL without query or fragment", value));
    }
    Ok(url)
}

fn base_path(value: Option<String>, default: &str, path: String) -> Result<String, FieldError> {
    match present(value) {
        None => Ok(default.to_owned()),
        Some(v)
            if v.starts_with('/')
                && !v.contains(['?', '#'])
                && v.split('/')
                    .filter(|s| !s.is_empty())
                    .all(crate::types::is_safe_segment) =>
        {
            Ok(v)
        }
        Some(v) => Err(invalid(
            path,
            "an absolute path starting with '/' whose segments are not '.' or '..' and hold no '\\', control characters or encoded '/'",
            &v,
        )),
    }
}

fn template(
    value: Option<String>,
    default: impl FnOnce() -> String,
    params: &[&str],
    params_expected: &'static str,
    path: String,
) -> Result<PathTemplate, FieldError> {
    let text = present(value).unwrap_or_else(default);
    let t = PathTemplate::parse(&text).map_err(|e| {
        FieldError::new(
            path.clone(),
            FieldProblem::Invalid {
                expected: e.expected,
                found: e.found,
            },
        )
    })?;
    if !t.has_exactly_params(params) {
        return Err(invalid(path, params_expected, &text));
    }
    Ok(t)
}

fn entity_id(value: Option<String>, path: String) -> Result<Option<String>, FieldError> {
    match present(value) {
        None => Ok(None),
        Some(v) if v.len() <= MAX_ENTITY_ID_LEN && !v.chars().any(char::is_control) => Ok(Some(v)),
        Some(v) => Err(invalid(
            path,
            "an entity id of at most 1024 bytes without control characters",
            &v,
        )),
    }
}

/// Validates a raw marketplace; `prefix` is prepended to field paths (`marketplaces[1].`).
pub(crate) fn validate(raw: RawMarketplace, prefix: &str) -> Result<MarketplaceConfig, FieldError> {
    let key = match present(raw.marketplace.clone()) {
        None => {
            return Err(FieldError::new(
                format!("{prefix}marketplace"),
                FieldProblem::Missing,
            ));
        }
        Some(s) => MarketplaceKey::new(&s)
            .map_err(|e| FieldError::new(format!("{prefix}marketplace"), FieldProblem::Id(e)))?,
    };
    validate_fields(raw, prefix, &key).map_err(|e| e.in_marketplace(Some(&key)))
}

fn validate_fields(
    raw: RawMarketplace,
    prefix: &str,
    key: &MarketplaceKey,
) -> Result<MarketplaceConfig, FieldError> {
    let p = |field: &str| format!("{prefix}{field}");
    let required = |value: Option<String>, field: &str| {
        present(value).ok_or_else(|| FieldError::new(p(field), FieldProblem::Missing))
    };

    let app_host = http_url(&required(raw.app_host, "app.host")?, p("app.host"))?;
    let app = AppConfig {
        host: app_host.clone(),
        synchronization_start_path: present(raw.sync_start_path),
        synchronization_toggle_path: present(raw.sync_toggle_path),
        synchronization_status_path: present(raw.sync_status_path),
    };

    let api_id = ApiId::new(required(raw.api_id, "api.id")?)
        .map_err(|e| FieldError::new(p("api.id"), FieldProblem::Id(e)))?;
    let api_key = raw
        .api_key
        .filter(|k| !k.is_empty())
        .ok_or_else(|| FieldError::new(p("api.key"), FieldProblem::Missing))?;
    let api = ApiConfig {
        id: api_id,
        key: api_key,
        host: http_url(&required(raw.api_host, "api.host")?, p("api.host"))?,
        base: base_path(raw.api_base, "/api/v1/", p("api.base"))?,
    };

    let (idm, idm_is_app_host) = match present(raw.sso_idm) {
        Some(v) => (http_url(&v, p("sso.idm"))?, false),
        None => (app_host, true),
    };
    let init_path = template(
        raw.sso_init_path,
        || format!("/maestrano/auth/saml/init/{key}"),
        &[],
        "a path without parameters",
        p("sso.init_path"),
    )?;
    let consume_path = template(
        raw.sso_consume_path,
        || format!("/maestrano/auth/saml/consume/{key}"),
        &[],
        "a path without parameters",
        p("sso.consume_path"),
    )?;
    let idp = http_url(&required(raw.sso_idp, "sso.idp")?, p("sso.idp"))?;
    let fingerprint = present(raw.sso_fingerprint)
        .map(|f| {
            Fingerprint::parse(&f).map_err(|e| {
                FieldError::new(p("sso.x509_fingerprint"), FieldProblem::Fingerprint(e))
            })
        })
        .transpose()?;
    let cert_count = raw.sso_certificates.len();
    let mut certificates: Vec<Certificate> = Vec::with_capacity(cert_count);
    for (i, c) in raw.sso_certificates.into_iter().enumerate() {
        let path = if cert_count == 1 {
            p("sso.x509_certificate")
        } else {
            p(&format!("sso.x509_certificate[{i}]"))
        };
        let cert = match c {
            RawCertificate::Pem(text) if text.trim().is_empty() => continue,
            RawCertificate::Pem(text) => Certificate::from_pem(&text)
                .map_err(|e| FieldError::new(path, FieldProblem::Certificate(e)))?,
            RawCertificate::Parsed(cert) => cert,
        };
        if !certificates.contains(&cert) {
            certificates.push(cert);
        }
    }
    match (&fingerprint, certificates.is_empty()) {
        (None, true) => {
            return Err(FieldError::new(
                p("sso.x509_certificate"),
                FieldProblem::Invalid {
                    expected: "an IdP certificate (x509_certificate) or fingerprint (x509_fingerprint)",
                    found: "neither".into(),
                },
            ));
        }
        (Some(fp), false) if !certificates.iter().any(|c| fp.matches(c.der())) => {
            return Err(FieldError::new(
                p("sso.x509_fingerprint"),
                FieldProblem::FingerprintMismatch {
                    configured: fp.to_string(),
                    computed: certificates
                        .iter()
                        .map(|c| fp.of_same_kind(c.der()).to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                },
            ));
        }
        _ => {}
    }
    let sp_entity_id = entity_id(raw.sp_entity_id, p("sso.sp_entity_id"))?;
    let idp_entity_id = entity_id(raw.idp_entity_id, p("sso.idp_entity_id"))?;

    let join_at = |base: &Url, path: &str, field: &str| {
        join(base, path).map_err(|_| invalid(p(field), "a path that forms a valid URL", path))
    };
    let idp_sso = join_at(&idp, "/api/v1/auth/saml", "sso.idp")?;
    let urls = SsoUrls {
        init: join_at(&idm, init_path.as_str(), "sso.init_path")?,
        acs: join_at(&idm, consume_path.as_str(), "sso.consume_path")?,
        idp_sso,
        logout: join_at(&idp, "/app_logout", "sso.idp")?,
        unauthorized: join_at(&idp, "/app_access_unauthorized", "sso.idp")?,
    };
    let audience = match entity_id(raw.audience, p("sso.audience"))? {
        Some(a) => a,
        None => acs_origin_slash(&urls.acs),
    };
    let sso = SsoConfig {
        audience,
        idm,
        idm_is_app_host,
        init_path,
        consume_path,
        idp,
        fingerprint,
        certificates,
        sp_entity_id,
        idp_entity_id,
        urls,
    };

    let connec = if raw.connec_present {
        let host = http_url(&required(raw.connec_host, "connec.host")?, p("connec.host"))?;
        let base_path = base_path(raw.connec_base_path, "/api/v2", p("connec.base_path"))?;
        let timeout = match raw.connec_timeout_secs {
            None => None,
            Some(s) if (1..=MAX_TIMEOUT_SECS).contains(&s) => Some(Duration::from_secs(s)),
            Some(s) => {
                return Err(invalid(
                    p("connec.timeout"),
                    "a number of seconds from 1 to 3600",
                    &s.to_string(),
                ));
            }
        };
        Some(ConnecConfig {
            host,
            base_path,
            timeout,
        })
    } else {
        None
    };

    let webhooks = WebhooksConfig {
        account: AccountWebhooks {
            group_path: template(
                raw.group_path,
                || format!("/maestrano/account/groups/:id/{key}"),
                &["id"],
                "a path whose only parameter is :id",
                p("webhooks.account.group_path"),
            )?,
            group_user_path: template(
                raw.group_user_path,
                || format!("/maestrano/account/groups/:group_id/users/:id/{key}"),
                &["group_id", "id"],
                "a path whose parameters are :group_id and :id",
                p("webhooks.account.group_user_path"),
            )?,
        },
        connec: ConnecWebhooks {
            external_ids: raw.external_ids.unwrap_or(false),
            initialization_path: present(raw.initialization_path),
            notification_path: template(
                raw.notification_path,
                || format!("/maestrano/connec/notifications/{key}"),
                &[],
                "a path without parameters",
                p("webhooks.connec.notification_path"),
            )?,
        },
    };

    Ok(MarketplaceConfig {
        marketplace: key.clone(),
        nid: present(raw.nid),
        environment: present(raw.environment),
        app,
        api,
        sso,
        connec,
        webhooks,
        saml_policy: raw.saml_policy,
        sso_options: SsoOptions::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SANDBOX_PEM: &str =
        include_str!("../../tests/data/maestrano/mno-api-sandbox/idp-certs/rsacert.pem");
    const SANDBOX_FP: &str = "01:06:15:89:25:7D:78:12:28:A6:69:C7:DE:63:ED:74:21:F9:F5:36";

    fn minimal() -> MarketplaceConfigBuilder {
        MarketplaceConfig::builder("acme-corp")
            .app_host("https://app.example.com/")
            .api_id("app-1")
            .api_key(Secret::new("k3y-value"))
            .api_host("https://hub.example.com")
            .sso_idp("https://idp.example.com")
            .x509_certificate(SANDBOX_PEM)
    }

    fn field_error(r: Result<MarketplaceConfig, ConfigError>) -> FieldError {
        match r {
            Err(ConfigError::Field(f)) => f,
            other => panic!("expected a field error, got {other:?}"),
        }
    }

    #[test]
    fn defaults_fill_optional_fields() {
        let c = minimal().build().unwrap();
        assert_eq!(c.api().base(), "/api/v1/");
        assert!(c.sso().idm_is_app_host());
        assert_eq!(c.sso().idm().as_str(), "https://app.example.com/");
        assert_eq!(
            c.sso().init_path().as_str(),
            "/maestrano/auth/saml/init/acme-corp"
        );
        assert_eq!(
            c.sso().consume_path().as_str(),
            "/maestrano/auth/saml/consume/acme-corp"
        );
        assert_eq!(
            c.webhooks().account().group_path().as_str(),
            "/maestrano/account/groups/:id/acme-corp"
        );
        assert_eq!(
            c.webhooks().account().group_user_path().as_str(),
            "/maestrano/account/groups/:group_id/users/:id/acme-corp"
        );
        assert_eq!(
            c.webhooks().connec().notification_path().as_str(),
            "/maestrano/connec/notifications/acme-corp"
        );
        assert!(!c.webhooks().connec().external_ids());
        assert!(c.connec().is_none());
        assert!(c.saml_policy().is_none());
        assert_eq!(c.sso().certificates().len(), 1);
        assert!(c.sso().fingerprint().is_none());
    }

    #[test]
    fn missing_required_fields_are_named() {
        let e = field_error(
            MarketplaceConfig::builder("acme-corp")
                .app_host("https://app.example.com")
                .api_id("app-1")
                .build(),
        );
        assert_eq!(e.path, "api.key");
        assert!(matches!(e.problem, FieldProblem::Missing));
        assert_eq!(e.marketplace.unwrap().as_str(), "acme-corp");
        assert_eq!(
            field_error(minimal().api_key(Secret::new("")).build()).path,
            "api.key"
        );
        let e = field_error(MarketplaceConfig::builder("").build());
        assert_eq!(e.path, "marketplace");
        let e = field_error(MarketplaceConfig::builder("a/b").build());
        assert!(matches!(e.problem, FieldProblem::Id(_)));
    }

    #[test]
    fn urls_are_validated_without_echoing_credentials() {
        let e = field_error(minimal().api_host("stuff").build());
        assert_eq!(e.path, "api.host");
        assert!(e.to_string().contains("found stuff"), "{e}");
        let e = field_error(
            minimal()
                .sso_idp("https://user:hunter2@idp.example.com")
                .build(),
        );
        assert_eq!(e.path, "sso.idp");
        assert!(!e.to_string().contains("hunter2"), "{e}");
        assert!(field_error(minimal().app_host("ftp://x").build()).path == "app.host");
        assert!(field_error(minimal().sso_idm("https://x/?q=1").build()).path == "sso.idm");
    }

    #[test]
    fn certificate_and_fingerprint_rules() {
        // Fingerprint only: the weaker, documented mode.
        let mut b = minimal();
        b.raw.sso_certificates.clear();
        let c = b.clone().x509_fingerprint(SANDBOX_FP).build().unwrap();
        assert!(c.sso().certificates().is_empty());
        assert!(c.sso().fingerprint().is_some());
        // Neither: refused.
        let e = field_error(b.build());
        assert_eq!(e.path, "sso.x509_certificate");
        // Both, agreeing whatever the case and colons.
        let c = minimal()
            .x509_fingerprint(SANDBOX_FP.to_lowercase().replace(':', ""))
            .build()
            .unwrap();
        assert_eq!(
            c.sso().fingerprint().unwrap().to_string(),
            SANDBOX_FP.to_lowercase()
        );
        // Both, disagreeing.
        let e = field_error(
            minimal()
                .x509_fingerprint("8b:1e:2e:76:c4:67:80:68:6c:81:18:f7:d3:29:5d:77:f8:79:54:2f")
                .build(),
        );
        assert_eq!(e.path, "sso.x509_fingerprint");
        assert!(matches!(
            e.problem,
            FieldProblem::FingerprintMismatch { .. }
        ));
        // A broken certificate names the tenant and the field.
        let e = field_error(
            minimal()
                .x509_certificate(
                    "-----BEGIN CERTIFICATE-----MIIDezCCQ....Q32v8p5lA==-----END CERTIFICATE-----",
                )
                .build(),
        );
        assert_eq!(e.path, "sso.x509_certificate[1]");
        assert!(e.is_certificate_error());
        assert!(e.to_string().starts_with("marketplace acme-corp: "), "{e}");
    }

    #[test]
    fn rotation_keeps_several_certificates() {
        let cert = Certificate::from_pem(SANDBOX_PEM).unwrap();
        let c = minimal()
            .x509_fingerprint(SANDBOX_FP)
            .certificate(cert.clone())
            .build()
            .unwrap();
        // The same certificate twice is kept once.
        assert_eq!(c.sso().certificates().len(), 1);
        let c = c.with_additional_certificate(cert);
        assert_eq!(c.sso().certificates().len(), 1);
    }

    #[test]
    fn paths_and_timeouts_are_checked() {
        let e = field_error(minimal().group_path("/groups/:group").build());
        assert_eq!(e.path, "webhooks.account.group_path");
        let e = field_error(minimal().connec_notification_path("/n/:id").build());
        assert_eq!(e.path, "webhooks.connec.notification_path");
        let e = field_error(minimal().sso_consume_path("consume").build());
        assert_eq!(e.path, "sso.consume_path");
        let e = field_error(minimal().connec_timeout(Duration::from_secs(0)).build());
        assert_eq!(e.path, "connec.host");
        let e = field_error(
            minimal()
                .connec_host("https://connec.example.com")
                .connec_timeout(Duration::from_secs(0))
                .build(),
        );
        assert_eq!(e.path, "connec.timeout");
        let c = minimal()
            .connec_host("https://connec.example.com")
            .connec_timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let connec = c.connec().unwrap();
        assert_eq!(connec.base_path(), "/api/v2");
        assert_eq!(connec.timeout(), Some(Duration::from_secs(60)));
    }

    #[test]
    fn debug_redacts_the_key() {
        let c = minimal().build().unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("k3y-value"), "{shown}");
        assert!(shown.contains("acme-corp"));
    }
}
