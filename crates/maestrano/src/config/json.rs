//! The pure JSON parser: bytes in, validated marketplaces out, every error naming its path.
//!
//! Untrusted input is bounded: at most [`MAX_CONFIG_BYTES`] bytes and [`MAX_MARKETPLACES`]
//! marketplaces, and `serde_json`'s recursion limit bounds nesting. Nothing here panics on any
//! input.

use serde_json::{Map, Value};

use super::error::{ConfigError, FieldError, FieldProblem};
use super::model::{MarketplaceConfig, RawCertificate, RawMarketplace, validate};
use super::{MAX_CONFIG_BYTES, MAX_MARKETPLACES};
use crate::types::{MarketplaceKey, Secret};

/// The JSON type of `v`, for error messages (never its value).
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Reads a JSON document of at most [`MAX_CONFIG_BYTES`] bytes, tolerating a UTF-8 BOM.
pub(crate) fn read_value(bytes: &[u8]) -> Result<Value, ConfigError> {
    if bytes.len() > MAX_CONFIG_BYTES {
        return Err(ConfigError::TooLarge {
            max: MAX_CONFIG_BYTES,
            found: bytes.len(),
        });
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    serde_json::from_slice(bytes).map_err(|e| ConfigError::Json {
        message: json_message(&e),
        line: e.line(),
        column: e.column(),
    })
}

/// serde_json's message without its trailing position, which the error carries separately.
fn json_message(e: &serde_json::Error) -> String {
    let full = e.to_string();
    match full.rfind(" at line ") {
        Some(i) => full[..i].to_owned(),
        None => full,
    }
}

/// Parses marketplace configuration: either one marketplace object, or an object
/// `{"marketplaces": [ … ]}` (the developer platform's reply). Field paths in errors are
/// `api.key` for the first form and `marketplaces[1].api.key` for the second.
///
/// A bare top-level array is refused: the documented forms are objects, and the SDK does not
/// guess. An empty `marketplaces` list is [`ConfigError::NoMarketplaces`].
pub fn parse_marketplaces(json: &[u8]) -> Result<Vec<MarketplaceConfig>, ConfigError> {
    match read_value(json)? {
        Value::Object(map) if map.contains_key("marketplaces") => {
            let list = parse_list(&map["marketplaces"])?;
            if list.is_empty() {
                return Err(ConfigError::NoMarketplaces);
            }
            Ok(list)
        }
        Value::Object(map) => Ok(vec![parse_object(&map, "")?]),
        other => Err(ConfigError::Shape {
            expected: "a JSON object: one marketplace, or {\"marketplaces\": [...]}",
            found: kind(&other),
        }),
    }
}

/// [`parse_marketplaces`], with a bad entry of a `marketplaces` list that names its key
/// refused alone (see [`parse_entries`]). The registry reads cached documents this way.
pub(crate) fn parse_document(json: &[u8]) -> Result<ParsedList, ConfigError> {
    let parsed = match read_value(json)? {
        Value::Object(map) if map.contains_key("marketplaces") => {
            parse_entries(&map["marketplaces"])?
        }
        _ => ParsedList {
            configs: parse_marketplaces(json)?,
            refused: Vec::new(),
        },
    };
    if parsed.configs.is_empty() && parsed.refused.is_empty() {
        return Err(ConfigError::NoMarketplaces);
    }
    Ok(parsed)
}

/// Parses exactly one marketplace object. Field paths in errors are relative (`api.key`).
pub fn parse_marketplace(json: &[u8]) -> Result<MarketplaceConfig, ConfigError> {
    match read_value(json)? {
        Value::Object(map) => parse_object(&map, ""),
        other => Err(ConfigError::Shape {
            expected: "a JSON object describing one marketplace",
            found: kind(&other),
        }),
    }
}

/// Parses the value of a `marketplaces` member; an empty list is returned as such. Any bad
/// entry fails the whole list.
pub(crate) fn parse_list(value: &Value) -> Result<Vec<MarketplaceConfig>, ConfigError> {
    let parsed = parse_entries(value)?;
    match parsed.refused.into_iter().next() {
        Some((_, error)) => Err(error),
        None => Ok(parsed.configs),
    }
}

/// The entries of a `marketplaces` list, each parsed on its own.
#[derive(Debug)]
pub(crate) struct ParsedList {
    /// The entries that parsed.
    pub(crate) configs: Vec<MarketplaceConfig>,
    /// The entries that did not, by the key they name, with why.
    pub(crate) refused: Vec<(MarketplaceKey, ConfigError)>,
}

/// Parses the value of a `marketplaces` member entry by entry: an entry that names a valid
/// `marketplace` key but is bad otherwise is refused alone (the registry then keeps that
/// tenant's last good entry). The list fails as a whole when it is not a list, is too long,
/// holds an entry that names no key (it cannot be told whose it is), or names a key twice.
pub(crate) fn parse_entries(value: &Value) -> Result<ParsedList, ConfigError> {
    let items = match value {
        Value::Array(items) => items,
        other => {
            return Err(FieldError::new(
                "marketplaces",
                FieldProblem::WrongType {
                    expected: "an array",
                    found: kind(other),
                },
            )
            .into());
        }
    };
    if items.len() > MAX_MARKETPLACES {
        return Err(ConfigError::TooManyMarketplaces {
            max: MAX_MARKETPLACES,
            found: items.len(),
        });
    }
    let mut out = ParsedList {
        configs: Vec::with_capacity(items.len()),
        refused: Vec::new(),
    };
    let mut seen: Vec<(MarketplaceKey, String)> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let prefix = format!("marketplaces[{i}]");
        let map = item.as_object().ok_or_else(|| {
            FieldError::new(
                prefix.clone(),
                FieldProblem::WrongType {
                    expected: "an object",
                    found: kind(item),
                },
            )
        })?;
        let (key, parsed) = match parse_object(map, &format!("{prefix}.")) {
            Ok(config) => (config.marketplace().clone(), Ok(config)),
            Err(error) => match entry_key(map) {
                Some(key) => (key, Err(error)),
                None => return Err(error),
            },
        };
        if let Some((_, first)) = seen.iter().find(|(k, _)| *k == key) {
            return Err(ConfigError::DuplicateMarketplace {
                marketplace: key,
                first: first.clone(),
                second: prefix,
            });
        }
        seen.push((key.clone(), prefix));
        match parsed {
            Ok(config) => out.configs.push(config),
            Err(error) => out.refused.push((key, error)),
        }
    }
    Ok(out)
}

/// The valid `marketplace` key an entry names, if it names one.
fn entry_key(map: &Map<String, Value>) -> Option<MarketplaceKey> {
    map.get("marketplace")
        .and_then(Value::as_str)
        .and_then(|s| MarketplaceKey::new(s).ok())
}

fn parse_object(map: &Map<String, Value>, prefix: &str) -> Result<MarketplaceConfig, ConfigError> {
    let raw = read_raw(map, prefix).map_err(|e| {
        // The key is worth naming even when another field failed, when it is readable.
        e.in_marketplace(entry_key(map).as_ref())
    })?;
    Ok(validate(raw, prefix)?)
}

/// The JSON form of `config`, as [`parse_marketplace`] reads it back (the `Serialize` of
/// [`MarketplaceConfig`]). Settings the JSON form cannot carry (a SAML policy or entity ids set
/// in code, more than one trusted certificate) refuse, naming the setting, rather than being
/// dropped; [`SsoOptions`](crate::saml::SsoOptions) are the app's, not the marketplace's, and
/// are not part of it.
pub(crate) fn to_json(config: &MarketplaceConfig) -> Result<Value, &'static str> {
    if config.saml_policy().is_some() {
        return Err("a SAML policy set in code has no JSON form (set it on the RegistryBuilder)");
    }
    let sso = config.sso();
    if sso.sp_entity_id().is_some() || sso.idp_entity_id().is_some() {
        return Err("an SP or IdP entity id set in code has no JSON form");
    }
    if sso.certificates().len() > 1 {
        return Err(
            "more than one trusted IdP certificate has no JSON form (sso.x509_certificate holds one)",
        );
    }
    fn put(map: &mut Map<String, Value>, key: &str, value: Option<&str>) {
        if let Some(value) = value {
            map.insert(key.to_owned(), Value::String(value.to_owned()));
        }
    }
    let mut root = Map::new();
    put(
        &mut root,
        "marketplace",
        Some(config.marketplace().as_str()),
    );
    put(&mut root, "nid", config.nid());
    put(&mut root, "environment", config.environment());
    let app = config.app();
    let mut a = Map::new();
    put(&mut a, "host", Some(app.host().as_str()));
    put(
        &mut a,
        "synchronization_start_path",
        app.synchronization_start_path(),
    );
    put(
        &mut a,
        "synchronization_toggle_path",
        app.synchronization_toggle_path(),
    );
    put(
        &mut a,
        "synchronization_status_path",
        app.synchronization_status_path(),
    );
    root.insert("app".into(), Value::Object(a));
    let api = config.api();
    let mut a = Map::new();
    put(&mut a, "id", Some(api.id().as_str()));
    put(&mut a, "key", Some(api.key().expose()));
    put(&mut a, "host", Some(api.host().as_str()));
    put(&mut a, "base", Some(api.base()));
    root.insert("api".into(), Value::Object(a));
    let mut a = Map::new();
    if !sso.idm_is_app_host() {
        put(&mut a, "idm", Some(sso.idm().as_str()));
    }
    put(&mut a, "init_path", Some(sso.init_path().as_str()));
    put(&mut a, "consume_path", Some(sso.consume_path().as_str()));
    put(&mut a, "idp", Some(sso.idp().as_str()));
    let fingerprint = sso.fingerprint().map(ToString::to_string);
    put(&mut a, "x509_fingerprint", fingerprint.as_deref());
    let pem = sso.certificates().first().map(|c| c.to_pem());
    put(&mut a, "x509_certificate", pem.as_deref());
    put(&mut a, "audience", Some(sso.audience()));
    root.insert("sso".into(), Value::Object(a));
    if let Some(connec) = config.connec() {
        let mut a = Map::new();
        put(&mut a, "host", Some(connec.host().as_str()));
        put(&mut a, "base_path", Some(connec.base_path()));
        if let Some(timeout) = connec.timeout() {
            a.insert("timeout".into(), Value::from(timeout.as_secs()));
        }
        root.insert("connec".into(), Value::Object(a));
    }
    let hooks = config.webhooks();
    let mut account = Map::new();
    put(
        &mut account,
        "group_path",
        Some(hooks.account().group_path().as_str()),
    );
    put(
        &mut account,
        "group_user_path",
        Some(hooks.account().group_user_path().as_str()),
    );
    let mut connec = Map::new();
    connec.insert(
        "external_ids".into(),
        Value::Bool(hooks.connec().external_ids()),
    );
    put(
        &mut connec,
        "initialization_path",
        hooks.connec().initialization_path(),
    );
    put(
        &mut connec,
        "notification_path",
        Some(hooks.connec().notification_path().as_str()),
    );
    let mut w = Map::new();
    w.insert("account".into(), Value::Object(account));
    w.insert("connec".into(), Value::Object(connec));
    root.insert("webhooks".into(), Value::Object(w));
    Ok(Value::Object(root))
}

/// Typed access to the members of one JSON object, with paths for errors.
struct Obj<'a> {
    map: Option<&'a Map<String, Value>>,
    path: String,
}

impl<'a> Obj<'a> {
    fn field_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map?.get(key).filter(|v| !v.is_null())
    }

    fn wrong(&self, key: &str, expected: &'static str, found: &Value) -> FieldError {
        FieldError::new(
            self.field_path(key),
            FieldProblem::WrongType {
                expected,
                found: kind(found),
            },
        )
    }

    fn string(&self, key: &str) -> Result<Option<String>, FieldError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(self.wrong(key, "a string", other)),
        }
    }

    fn boolean(&self, key: &str) -> Result<Option<bool>, FieldError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(self.wrong(key, "a boolean", other)),
        }
    }

    fn unsigned(&self, key: &str) -> Result<Option<u64>, FieldError> {
        match self.get(key) {
            None => Ok(None),
            Some(v @ Value::Number(n)) => n
                .as_u64()
                .map(Some)
                .ok_or_else(|| self.wrong(key, "a non-negative integer", v)),
            Some(other) => Err(self.wrong(key, "a non-negative integer", other)),
        }
    }

    /// A nested object; absent (or `null`) gives an empty accessor whose fields are all absent.
    fn object(&self, key: &str) -> Result<Obj<'a>, FieldError> {
        let map = match self.get(key) {
            None => None,
            Some(Value::Object(m)) => Some(m),
            Some(other) => return Err(self.wrong(key, "an object", other)),
        };
        Ok(Obj {
            map,
            path: self.field_path(key),
        })
    }

    fn is_present(&self) -> bool {
        self.map.is_some()
    }
}

fn read_raw(map: &Map<String, Value>, prefix: &str) -> Result<RawMarketplace, FieldError> {
    let root = Obj {
        map: Some(map),
        path: prefix.trim_end_matches('.').to_owned(),
    };
    let app = root.object("app")?;
    let api = root.object("api")?;
    let sso = root.object("sso")?;
    let connec = root.object("connec")?;
    let webhooks = root.object("webhooks")?;
    let account = webhooks.object("account")?;
    let connec_hooks = webhooks.object("connec")?;
    Ok(RawMarketplace {
        marketplace: root.string("marketplace")?,
        nid: root.string("nid")?,
        environment: root.string("environment")?,
        app_host: app.string("host")?,
        sync_start_path: app.string("synchronization_start_path")?,
        sync_toggle_path: app.string("synchronization_toggle_path")?,
        sync_status_path: app.string("synchronization_status_path")?,
        api_id: api.string("id")?,
        api_key: api.string("key")?.map(Secret::new),
        api_host: api.string("host")?,
        api_base: api.string("base")?,
        sso_idm: sso.string("idm")?,
        sso_init_path: sso.string("init_path")?,
        sso_consume_path: sso.string("consume_path")?,
        sso_idp: sso.string("idp")?,
        sso_fingerprint: sso.string("x509_fingerprint")?,
        sso_certificates: sso
            .string("x509_certificate")?
            .map(RawCertificate::Pem)
            .into_iter()
            .collect(),
        sp_entity_id: None,
        idp_entity_id: None,
        // Not a developer-platform field: an app may set it in its own JSON to override the
        // platform's default (the ACS origin followed by "/").
        audience: sso.string("audience")?,
        connec_present: connec.is_present(),
        connec_host: connec.string("host")?,
        connec_base_path: connec.string("base_path")?,
        connec_timeout_secs: connec.unsigned("timeout")?,
        group_path: account.string("group_path")?,
        group_user_path: account.string("group_user_path")?,
        external_ids: connec_hooks.boolean("external_ids")?,
        initialization_path: connec_hooks.string("initialization_path")?,
        notification_path: connec_hooks.string("notification_path")?,
        saml_policy: None,
    })
}
