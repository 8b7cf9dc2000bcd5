//! Autoconfiguration from the Maestrano developer platform.
//!
//! One remote action in three steps: [`build_request`] (pure) → the
//! [`HttpClient`] port → [`decode_response`] (pure).
//! [`DevPlatformSource`] chains them as a [`ConfigSource`].
//!
//! The request is `GET {host}{api_path}/marketplaces` with HTTP Basic `env_key:env_secret` and
//! `Accept: application/json`. Settings come from code ([`DevPlatformSettings::new`]), from the
//! `MNO_DEVPL_*` environment variables ([`DevPlatformSettings::from_lookup`],
//! [`DevPlatformSettings::from_process_env`]), or from a settings file in the shape the PHP and
//! Ruby SDKs read ([`DevPlatformSettings::from_settings_value`]).

use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine as _;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use serde_json::Value;
use url::Url;

use super::MAX_CONFIG_BYTES;
use super::error::{ConfigError, DevPlatformError, SettingError};
use super::json::{ParsedList, kind, parse_entries, read_value};
use super::model::MarketplaceConfig;
use super::port::Loaded;
use super::secrets::SecretSource;
use crate::config::ConfigSource;
use crate::ports::{HttpClient, HttpRequest, HttpResponse};
use crate::redact::{Redactor, redact_credentials};
use crate::types::Secret;
use crate::types::shown;

/// The environment variable naming the developer platform's base URL.
pub(crate) const ENV_HOST: &str = "MNO_DEVPL_HOST";
/// The environment variable naming the configuration API path.
pub(crate) const ENV_API_PATH: &str = "MNO_DEVPL_API_PATH";
/// The environment variable naming the environment (informational).
pub(crate) const ENV_NAME: &str = "MNO_DEVPL_ENV_NAME";
/// The environment variable holding the environment key (the Basic user name).
pub(crate) const ENV_KEY: &str = "MNO_DEVPL_ENV_KEY";
/// The environment variable holding the environment secret (the Basic password).
pub(crate) const ENV_SECRET: &str = "MNO_DEVPL_ENV_SECRET";

/// How to reach the developer platform and which environment to ask for.
#[derive(Debug, Clone)]
pub struct DevPlatformSettings {
    host: Url,
    api_path: String,
    env_name: Option<String>,
    env_key: String,
    env_secret: Secret,
    url: Url,
}

impl DevPlatformSettings {
    /// The developer platform used when no host is given.
    pub const DEFAULT_HOST: &'static str = "https://developer.maestrano.com";
    /// The configuration API path used when none is given.
    pub const DEFAULT_API_PATH: &'static str = "/api/config/v1";

    /// Settings for the default host and path, with the environment's key and secret.
    pub fn new(env_key: impl Into<String>, env_secret: Secret) -> Result<Self, ConfigError> {
        let env_key = env_key.into();
        check_key("env_key", &env_key)?;
        check_secret("env_secret", &env_secret)?;
        let host = check_host("host", Self::DEFAULT_HOST)?;
        let api_path = check_api_path("api_path", Self::DEFAULT_API_PATH)?;
        let url = marketplaces_url("host", &host, &api_path)?;
        Ok(Self {
            host,
            api_path,
            env_name: None,
            env_key,
            env_secret,
            url,
        })
    }

    /// These settings with another developer platform (an absolute http(s) URL).
    pub fn with_host(self, host: &str) -> Result<Self, ConfigError> {
        self.with_host_named("host", host)
    }

    /// These settings with another API path. A trailing slash, a missing leading slash and a
    /// path that already ends in `/marketplaces` are all tolerated.
    pub fn with_api_path(self, api_path: &str) -> Result<Self, ConfigError> {
        self.with_api_path_named("api_path", api_path)
    }

    /// These settings with an environment name (informational; it is not sent).
    pub fn with_env_name(mut self, name: impl Into<String>) -> Self {
        self.env_name = Some(name.into()).filter(|n| !n.is_empty());
        self
    }

    fn with_host_named(mut self, name: &str, host: &str) -> Result<Self, ConfigError> {
        self.host = check_host(name, host)?;
        self.url = marketplaces_url(name, &self.host, &self.api_path)?;
        Ok(self)
    }

    fn with_api_path_named(mut self, name: &str, api_path: &str) -> Result<Self, ConfigError> {
        self.api_path = check_api_path(name, api_path)?;
        self.url = marketplaces_url(name, &self.host, &self.api_path)?;
        Ok(self)
    }

    /// Settings from environment variables looked up with `lookup`: `MNO_DEVPL_ENV_KEY` and
    /// `MNO_DEVPL_ENV_SECRET` are required; `MNO_DEVPL_HOST`, `MNO_DEVPL_API_PATH` and
    /// `MNO_DEVPL_ENV_NAME` are
    /// optional. An empty variable counts as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.is_empty());
        let key = get(ENV_KEY).ok_or_else(|| SettingError::missing(ENV_KEY))?;
        let secret = get(ENV_SECRET).ok_or_else(|| SettingError::missing(ENV_SECRET))?;
        check_key(ENV_KEY, &key)?;
        let mut settings = Self::new(key, Secret::new(secret))?;
        if let Some(host) = get(ENV_HOST) {
            settings = settings.with_host_named(ENV_HOST, &host)?;
        }
        if let Some(path) = get(ENV_API_PATH) {
            settings = settings.with_api_path_named(ENV_API_PATH, &path)?;
        }
        if let Some(name) = get(ENV_NAME) {
            settings = settings.with_env_name(name);
        }
        Ok(settings)
    }

    /// Settings from this process's environment variables (see [`from_lookup`](Self::from_lookup)).
    pub fn from_process_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Settings from a settings document in the shape the PHP SDK reads from JSON and the Ruby
    /// SDK from YAML:
    ///
    /// ```json
    /// {"dev-platform": {"host": "https://developer.maestrano.com", "api_path": "/api/config/v1/"},
    ///  "environment": {"name": "prod", "api_key": "…", "api_secret": "…"}}
    /// ```
    ///
    /// The block may be spelled `dev-platform` or `dev_platform`. Unlike the environment
    /// variables, a settings file must name `host` and `api_path`: a file is an explicit
    /// statement, and a missing key there is more likely a mistake than a wish for the default.
    /// Errors name the missing key as written (`dev-platform.host`).
    pub fn from_settings_value(value: &Value) -> Result<Self, ConfigError> {
        let root = value
            .as_object()
            .ok_or_else(|| SettingError::invalid("settings", "a JSON object", kind(value)))?;
        let block_name = if root.contains_key("dev_platform") && !root.contains_key("dev-platform")
        {
            "dev_platform"
        } else {
            "dev-platform"
        };
        let block = root.get(block_name);
        let env = root.get("environment");
        let text = |block: Option<&Value>,
                    block_name: &str,
                    key: &str|
         -> Result<String, ConfigError> {
            let name = format!("{block_name}.{key}");
            match block.and_then(|b| b.get(key)) {
                None | Some(Value::Null) => Err(SettingError::missing(name).into()),
                Some(Value::String(s)) if s.is_empty() => Err(SettingError::missing(name).into()),
                Some(Value::String(s)) => Ok(s.clone()),
                Some(other) => Err(SettingError::invalid(name, "a string", kind(other)).into()),
            }
        };
        let host = text(block, block_name, "host")?;
        let api_path = text(block, block_name, "api_path")?;
        let key = text(env, "environment", "api_key")?;
        let secret = text(env, "environment", "api_secret")?;
        check_key("environment.api_key", &key)?;
        let mut settings = Self::new(key, Secret::new(secret))?
            .with_host_named(&format!("{block_name}.host"), &host)?
            .with_api_path_named(&format!("{block_name}.api_path"), &api_path)?;
        if let Some(Value::String(name)) = env.and_then(|e| e.get("name")) {
            settings = settings.with_env_name(name.clone());
        }
        Ok(settings)
    }

    /// Settings from a JSON settings file's bytes (see
    /// [`from_settings_value`](Self::from_settings_value)).
    pub fn from_settings_json(json: &[u8]) -> Result<Self, ConfigError> {
        Self::from_settings_value(&read_value(json)?)
    }

    /// The developer platform's base URL.
    pub fn host(&self) -> &Url {
        &self.host
    }

    /// The API path, normalised: leading slash, no trailing slash, no `/marketplaces`.
    pub fn api_path(&self) -> &str {
        &self.api_path
    }

    /// The environment name, when given.
    pub fn env_name(&self) -> Option<&str> {
        self.env_name.as_deref()
    }

    /// The environment key (the Basic user name).
    pub fn env_key(&self) -> &str {
        &self.env_key
    }

    /// The URL the marketplaces are fetched from.
    pub fn marketplaces_url(&self) -> &Url {
        &self.url
    }
}

fn check_host(name: &str, value: &str) -> Result<Url, SettingError> {
    let expected = "an absolute http(s) URL without credentials, query or fragment";
    let url = Url::parse(value.trim())
        .map_err(|_| SettingError::invalid(name, expected, shown(value)))?;
    if !matches!(url.scheme(), "http" | "https")
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err(SettingError::invalid(name, expected, shown(value)));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(SettingError::invalid(
            name,
            expected,
            "a URL with credentials",
        ));
    }
    Ok(url)
}

fn check_api_path(name: &str, value: &str) -> Result<String, SettingError> {
    let expected = "a URL path such as /api/config/v1";
    let t = value.trim();
    if t.contains(['?', '#', '\\'])
        || t.contains("://")
        || t.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(SettingError::invalid(name, expected, shown(value)));
    }
    let inner = t.trim_matches('/');
    if !inner.is_empty()
        && inner
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return Err(SettingError::invalid(name, expected, shown(value)));
    }
    // The Ruby SDK's api_path already ends in /marketplaces; the others append it.
    let inner = if inner == "marketplaces" {
        ""
    } else {
        inner.strip_suffix("/marketplaces").unwrap_or(inner)
    };
    Ok(if inner.is_empty() {
        String::new()
    } else {
        format!("/{inner}")
    })
}

fn check_key(name: &str, value: &str) -> Result<(), SettingError> {
    if value.is_empty() {
        return Err(SettingError::missing(name));
    }
    if value.contains(':') || value.chars().any(char::is_control) {
        // Not echoed: it is half of a credential.
        return Err(SettingError::invalid(
            name,
            "a key without ':' or control characters",
            "a key with one",
        ));
    }
    Ok(())
}

fn check_secret(name: &str, value: &Secret) -> Result<(), SettingError> {
    if value.is_empty() {
        return Err(SettingError::missing(name));
    }
    if value.expose().chars().any(char::is_control) {
        return Err(SettingError::invalid(
            name,
            "a secret without control characters",
            "a secret with one",
        ));
    }
    Ok(())
}

fn marketplaces_url(name: &str, host: &Url, api_path: &str) -> Result<Url, SettingError> {
    let text = format!(
        "{}{api_path}/marketplaces",
        host.as_str().trim_end_matches('/')
    );
    Url::parse(&text)
        .map_err(|_| SettingError::invalid(name, "settings that form a valid URL", shown(&text)))
}

/// Builds the request for the marketplace list (pure).
pub fn build_request(settings: &DevPlatformSettings) -> Result<HttpRequest, ConfigError> {
    let credentials = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        settings.env_key,
        settings.env_secret.expose()
    ));
    let mut auth = http::HeaderValue::from_str(&format!("Basic {credentials}"))
        .map_err(|_| DevPlatformError::Request("credentials are not a valid header".into()))?;
    // Keeps the credentials out of the Debug output of the request and of HTTP/2 tables.
    auth.set_sensitive(true);
    http::Request::get(settings.url.as_str())
        .header(ACCEPT, "application/json")
        .header(AUTHORIZATION, auth)
        .header(
            USER_AGENT,
            concat!("maestrano-rust/", env!("CARGO_PKG_VERSION")),
        )
        .body(Vec::new())
        .map_err(|e| DevPlatformError::Request(e.to_string()).into())
}

/// Decodes the developer platform's reply (pure).
///
/// In order: HTTP 401 is [`DevPlatformError::Unauthorized`] whatever the body says; a JSON
/// object with a non-null `error` member is [`DevPlatformError::Rejected`]; any other
/// unsuccessful status is [`DevPlatformError::Status`]; a body that is not JSON is
/// [`DevPlatformError::NotJson`]; then the shape is checked (an object, with a `marketplaces`
/// member, holding a non-empty list) and every marketplace is validated.
///
/// One bad entry fails the whole reply here; the registry reads the reply entry by entry
/// instead, refusing a bad entry alone.
pub fn decode_response(response: &HttpResponse) -> Result<Vec<MarketplaceConfig>, ConfigError> {
    let parsed = decode_entries(response)?;
    match parsed.refused.into_iter().next() {
        Some((_, error)) => Err(error),
        None => Ok(parsed.configs),
    }
}

/// [`decode_response`], with a bad entry that names its key refused alone.
pub(crate) fn decode_entries(response: &HttpResponse) -> Result<ParsedList, ConfigError> {
    let status = response.status().as_u16();
    if status == 401 {
        return Err(DevPlatformError::Unauthorized { status }.into());
    }
    let body = response.body();
    if body.len() > MAX_CONFIG_BYTES {
        return Err(ConfigError::TooLarge {
            max: MAX_CONFIG_BYTES,
            found: body.len(),
        });
    }
    let parsed = read_value(body);
    if let Ok(Value::Object(map)) = &parsed
        && let Some(error) = map.get("error").filter(|e| !e.is_null())
    {
        let message = match error {
            Value::String(s) => shown(&redact_credentials(s)),
            other => shown(&redact_credentials(&other.to_string())),
        };
        return Err(DevPlatformError::Rejected { status, message }.into());
    }
    if !response.status().is_success() {
        return Err(DevPlatformError::Status { status }.into());
    }
    let value = match parsed {
        Ok(v) => v,
        Err(_) => {
            let content_type = response
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(shown);
            let text = crate::redact::excerpt(body);
            return Err(DevPlatformError::NotJson {
                status,
                content_type,
                excerpt: text,
            }
            .into());
        }
    };
    let map = match value {
        Value::Object(map) => map,
        other => {
            return Err(DevPlatformError::NotAnObject {
                found: kind(&other),
            }
            .into());
        }
    };
    match map.get("marketplaces") {
        None | Some(Value::Null) => Err(DevPlatformError::MissingMarketplaces.into()),
        Some(Value::Array(items)) if items.is_empty() => {
            Err(DevPlatformError::EmptyMarketplaces.into())
        }
        Some(list) => parse_entries(list),
    }
}

/// Marketplaces fetched from the developer platform on every load.
#[derive(Debug, Clone)]
pub struct DevPlatformSource {
    settings: DevPlatformSettings,
    http: Arc<dyn HttpClient>,
    /// Where the environment secret is read on every load, if not in `settings`.
    secret: Option<(Arc<dyn SecretSource>, String)>,
}

impl DevPlatformSource {
    /// A source asking the developer platform described by `settings` through `http`.
    pub fn new(settings: DevPlatformSettings, http: Arc<dyn HttpClient>) -> Self {
        Self {
            settings,
            http,
            secret: None,
        }
    }

    /// This source with the environment secret read from `secrets` under `name` on every
    /// load, instead of the one in the settings: a secret rotated in the store (a file mount,
    /// Vault) is used from the next refresh on, without a restart. A secret that cannot be
    /// read fails that load (the registry keeps its last good configuration).
    pub fn with_secret_source(
        mut self,
        secrets: Arc<dyn SecretSource>,
        name: impl Into<String>,
    ) -> Self {
        self.secret = Some((secrets, name.into()));
        self
    }

    /// The settings of one load: the secret from the secret source when there is one.
    async fn current_settings(&self) -> Result<DevPlatformSettings, ConfigError> {
        let Some((secrets, name)) = &self.secret else {
            return Ok(self.settings.clone());
        };
        let secret = secrets.secret(name).await?;
        let mut settings = self.settings.clone();
        settings.env_secret = secret;
        Ok(settings)
    }

    /// The settings.
    pub fn settings(&self) -> &DevPlatformSettings {
        &self.settings
    }
}

#[async_trait]
impl ConfigSource for DevPlatformSource {
    async fn load_all(&self) -> Result<Vec<MarketplaceConfig>, ConfigError> {
        Ok(self.load_document().await?.configs)
    }

    /// The marketplaces, with the developer platform's reply body as the document.
    async fn load_document(&self) -> Result<Loaded, ConfigError> {
        let settings = self.current_settings().await?;
        let request = build_request(&settings)?;
        tracing::debug!(url = %self.settings.url, "fetching marketplaces from the developer platform");
        let response = self
            .http
            .send(request)
            .await
            .map_err(DevPlatformError::Transport)?;
        // The reply may echo the environment's credentials: none leaves in an error or a log.
        let result = decode_entries(&response).map_err(|mut e| {
            if let ConfigError::DevPlatform(d) = &mut e {
                let r = Redactor::new(&settings.env_key, &settings.env_secret);
                match d {
                    DevPlatformError::Rejected { message, .. } => r.text(message),
                    DevPlatformError::NotJson { excerpt, .. } => r.text(excerpt),
                    _ => {}
                }
            }
            e
        });
        match &result {
            Ok(list) => tracing::info!(
                url = %self.settings.url,
                marketplaces = list.configs.len(),
                refused = list.refused.len(),
                "loaded marketplaces from the developer platform"
            ),
            Err(e) => tracing::warn!(
                url = %self.settings.url,
                error = %e,
                "developer platform gave no usable configuration"
            ),
        }
        let list = result?;
        Ok(Loaded::new(list.configs, Some(response.into_body())).with_refused(list.refused))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_path_forms_all_reach_the_same_url() {
        for path in [
            "/api/config/v1",
            "/api/config/v1/",
            "api/config/v1",
            "/api/config/v1/marketplaces",
            "/api/config/v1/marketplaces/",
        ] {
            let s = DevPlatformSettings::new("k", Secret::new("s"))
                .unwrap()
                .with_api_path(path)
                .unwrap();
            assert_eq!(
                s.marketplaces_url().as_str(),
                "https://developer.maestrano.com/api/config/v1/marketplaces",
                "{path}"
            );
        }
        let root = DevPlatformSettings::new("k", Secret::new("s"))
            .unwrap()
            .with_host("http://localhost:5000/")
            .unwrap()
            .with_api_path("/")
            .unwrap();
        assert_eq!(
            root.marketplaces_url().as_str(),
            "http://localhost:5000/marketplaces"
        );
    }

    #[test]
    fn bad_paths_and_hosts_are_refused() {
        let s = || DevPlatformSettings::new("k", Secret::new("s")).unwrap();
        for p in ["/a/../b", "/a//b", "/a?x=1", "http://x/y", "/a b"] {
            assert!(s().with_api_path(p).is_err(), "{p}");
        }
        for h in ["stuff", "ftp://x", "http://u:p@x", "http://x/?q"] {
            assert!(s().with_host(h).is_err(), "{h}");
        }
    }

    #[test]
    fn request_carries_basic_auth_and_accept() {
        let s = DevPlatformSettings::new("123", Secret::new("456")).unwrap();
        let r = build_request(&s).unwrap();
        assert_eq!(r.method(), http::Method::GET);
        assert_eq!(
            r.uri().to_string(),
            "https://developer.maestrano.com/api/config/v1/marketplaces"
        );
        assert_eq!(r.headers()[ACCEPT], "application/json");
        // base64("123:456")
        assert_eq!(r.headers()[AUTHORIZATION], "Basic MTIzOjQ1Ng==");
        assert!(r.headers()[AUTHORIZATION].is_sensitive());
        assert!(!format!("{s:?}").contains("456"));
    }
}
