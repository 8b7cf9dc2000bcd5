//! Configuration behaviour through the public API, driven by the conformance data in
//! `tests/data/maestrano/` (see its MANIFEST.tsv for each file's expected outcome).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use base64::Engine as _;
use maestrano::__private::{build_request, decode_response};
use maestrano::Registry;
use maestrano::config::ConfigSource;
use maestrano::config::{
    ConfigError, DevPlatformError, DevPlatformSettings, DevPlatformSource, FieldError,
    FieldProblem, MarketplaceConfig, SettingError, SettingProblem, StaticSource, parse_marketplace,
    parse_marketplaces, read_config_file,
};
use maestrano::ports::{HttpResponse, TransportError, TransportErrorKind};
use maestrano::saml::Certificate;
use maestrano::test_util::{FakeHttpClient, FakeReply, ManualClock};
use maestrano::{MarketplaceKey, Secret, UserUid};
use proptest::prelude::*;
use time::macros::datetime;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/maestrano/");

fn data(rel: &str) -> Vec<u8> {
    read_config_file(format!("{DATA}{rel}")).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn key(k: &str) -> MarketplaceKey {
    MarketplaceKey::new(k).unwrap()
}

fn reply(status: u16, body: Vec<u8>) -> HttpResponse {
    http::Response::builder().status(status).body(body).unwrap()
}

fn field_error(r: Result<Vec<MarketplaceConfig>, ConfigError>) -> FieldError {
    match r {
        Err(ConfigError::Field(f)) => f,
        other => panic!("expected a field error, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// MANIFEST rows: developer platform replies and marketplace configuration files
// ---------------------------------------------------------------------------------------------

#[test]
fn shapes_marketplaces_two_parses_with_fallbacks_and_matching_fingerprints() {
    let bytes = data("shapes/dev-platform/marketplaces-two.json");
    for list in [
        parse_marketplaces(&bytes).unwrap(),
        decode_response(&reply(200, bytes.clone())).unwrap(),
    ] {
        assert_eq!(list.len(), 2);
        let (sandbox, uat) = (&list[0], &list[1]);
        assert_eq!(sandbox.marketplace().as_str(), "mno-sandbox");
        assert_eq!(sandbox.nid(), Some("myapp-local"));
        assert!(sandbox.sso().idm_is_app_host());
        assert_eq!(sandbox.sso().idm().as_str(), "http://localhost:3000/");
        assert_eq!(
            sandbox.webhooks().connec().initialization_path(),
            Some("/maestrano/connec/initialize/mno-sandbox")
        );
        assert!(!sandbox.webhooks().connec().external_ids());
        assert_eq!(
            sandbox.connec().unwrap().timeout(),
            Some(std::time::Duration::from_secs(60))
        );

        assert_eq!(uat.marketplace().as_str(), "maestrano-uat");
        assert!(!uat.sso().idm_is_app_host());
        assert_eq!(uat.webhooks().connec().initialization_path(), None);
        assert!(uat.webhooks().connec().external_ids());
        assert_eq!(uat.api().id().as_str(), "app-3c4d");
        assert_eq!(
            uat.app().synchronization_status_path(),
            Some("/maestrano/maestrano-uat/synchronizations/:cld-uid")
        );

        // Lower-case [0] and upper-case [1] fingerprints both match their certificates.
        for c in &list {
            let fp = c.sso().fingerprint().unwrap();
            assert_eq!(c.sso().certificates().len(), 1);
            assert!(fp.matches(c.sso().certificates()[0].der()));
            assert_eq!(fp, c.sso().certificates()[0].sha1_fingerprint());
        }
        assert_eq!(
            uat.sso().fingerprint().unwrap().to_string(),
            "8a:1e:2e:76:c4:67:80:68:6c:81:18:f7:d3:29:5d:77:f8:79:54:2f"
        );
    }
}

#[test]
fn java_dev_platform_reply_has_a_corrupted_certificate() {
    let bytes = data("maestrano-java/dev-platform-marketplaces.json");
    for result in [
        parse_marketplaces(&bytes),
        decode_response(&reply(200, bytes.clone())),
    ] {
        let e = field_error(result);
        assert!(e.is_certificate_error(), "{e}");
        assert_eq!(e.path, "marketplaces[0].sso.x509_certificate");
        assert_eq!(e.marketplace.as_ref().unwrap().as_str(), "maestrano-test");
        let text = e.to_string();
        assert!(text.contains("maestrano-test"), "{text}");
        assert!(
            text.contains("marketplaces[0].sso.x509_certificate"),
            "{text}"
        );
    }
}

#[test]
fn dotnet_single_marketplace_object_loads_alone_but_is_not_a_reply() {
    let bytes = data("x4d3-maestrano-dotnet/developer-platform-answer.json");
    let one = parse_marketplace(&bytes).unwrap();
    let list = parse_marketplaces(&bytes).unwrap();
    for c in [&one, &list[0]] {
        assert_eq!(c.marketplace().as_str(), "maestrano-uat");
        assert!(c.sso().idm_is_app_host());
        assert_eq!(c.sso().idm().as_str(), "http://localhost:63705/");
        assert_eq!(c.webhooks().connec().initialization_path(), None);
        // The lower-case fingerprint matches the UAT certificate.
        assert!(
            c.sso()
                .fingerprint()
                .unwrap()
                .matches(c.sso().certificates()[0].der())
        );
    }
    assert_eq!(list.len(), 1);
    assert!(matches!(
        decode_response(&reply(200, bytes)),
        Err(ConfigError::DevPlatform(
            DevPlatformError::MissingMarketplaces
        ))
    ));
}

#[test]
fn ruby_minimal_reply_loads_under_lenient_rules() {
    let bytes = data("maestrano-ruby/written/maestrano_test-dev-platform-reply.json");
    let list = decode_response(&reply(200, bytes)).unwrap();
    let c = &list[0];
    assert_eq!(c.marketplace().as_str(), "this_awesome_one");
    assert_eq!(c.nid(), None);
    assert_eq!(c.app().synchronization_start_path(), None);
    // connec has only a host: base_path and timeout take their defaults.
    let connec = c.connec().unwrap();
    assert_eq!(
        connec.host().as_str(),
        "http://api-connec.uat.maestrano.io/"
    );
    assert_eq!(connec.base_path(), "/api/v2");
    assert_eq!(connec.timeout(), None);
    // No webhooks block: defaults ending in the marketplace key.
    assert_eq!(
        c.webhooks().account().group_path().as_str(),
        "/maestrano/account/groups/:id/this_awesome_one"
    );
    assert_eq!(
        c.webhooks().connec().notification_path().as_str(),
        "/maestrano/connec/notifications/this_awesome_one"
    );
    // The upper-case fingerprint matches the UAT certificate.
    let cert = &c.sso().certificates()[0];
    assert!(cert.subject().contains("uat.maestrano.io"));
    assert_eq!(c.sso().fingerprint().unwrap(), cert.sha1_fingerprint());
}

#[test]
fn non_json_bodies_are_their_own_error() {
    for rel in [
        "maestrano-ruby/written/maestrano_test-dev-platform-bad-response.html",
        "maestrano-java/written/DevPlatformClientTest-invalid-body.txt",
    ] {
        let bytes = data(rel);
        match decode_response(&reply(200, bytes.clone())) {
            Err(ConfigError::DevPlatform(DevPlatformError::NotJson {
                status: 200,
                excerpt,
                ..
            })) => assert!(!excerpt.is_empty()),
            other => panic!("{rel}: {other:?}"),
        }
        assert!(
            matches!(parse_marketplaces(&bytes), Err(ConfigError::Json { .. })),
            "{rel}"
        );
    }
}

#[test]
fn an_error_member_is_a_rejection() {
    let bytes = data("maestrano-java/written/DevPlatformClientTest-error-reply.json");
    match decode_response(&reply(200, bytes)) {
        Err(ConfigError::DevPlatform(DevPlatformError::Rejected { status, message })) => {
            assert_eq!(status, 200);
            assert_eq!(message, "error");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn http_401_is_unauthorized_whatever_the_body() {
    let bytes = data("shapes/dev-platform/error-401.json");
    for body in [bytes, b"<html>nope</html>".to_vec(), Vec::new()] {
        assert!(matches!(
            decode_response(&reply(401, body)),
            Err(ConfigError::DevPlatform(DevPlatformError::Unauthorized {
                status: 401
            }))
        ));
    }
}

#[test]
fn php_helper_config_has_a_placeholder_certificate() {
    let e = field_error(parse_marketplaces(&data(
        "maestrano-php/written/MaestranoTestHelper-config.json",
    )));
    assert!(e.is_certificate_error(), "{e}");
    assert_eq!(e.path, "marketplaces[0].sso.x509_certificate");
    assert_eq!(e.marketplace.unwrap().as_str(), "some-marketplace");
}

/// The PHP loader accepts a bare array of minimal marketplaces. This SDK reads only the two
/// documented object forms (strict), and would refuse these entries anyway: they lack
/// `api.host` and `sso`, which the PHP SDK filled with production hosts.
#[test]
fn php_bare_marketplace_array_is_refused() {
    let bytes = data("maestrano-php/written/ConfigIntegrationTest-marketplaces-array.json");
    assert!(matches!(
        parse_marketplaces(&bytes),
        Err(ConfigError::Shape {
            found: "an array",
            ..
        })
    ));
    assert!(matches!(
        decode_response(&reply(200, bytes.clone())),
        Err(ConfigError::DevPlatform(DevPlatformError::NotAnObject {
            found: "an array"
        }))
    ));
    let wrapped = format!(
        "{{\"marketplaces\": {}}}",
        String::from_utf8(bytes).unwrap()
    );
    let e = field_error(parse_marketplaces(wrapped.as_bytes()));
    assert_eq!(e.path, "marketplaces[0].api.host");
    assert!(matches!(e.problem, FieldProblem::Missing));
}

#[test]
fn php_settings_file_builds_the_marketplaces_request() {
    let bytes = data("maestrano-php/written/ConfigIntegrationTest-dev-platform-config.json");
    let settings = DevPlatformSettings::from_settings_json(&bytes).unwrap();
    let request = build_request(&settings).unwrap();
    assert_eq!(request.method(), http::Method::GET);
    assert_eq!(
        request.uri().to_string(),
        "https://developer.maestrano.com/api/config/v1/marketplaces"
    );
    assert_eq!(request.headers()["accept"], "application/json");
    let basic = base64::engine::general_purpose::STANDARD
        .encode("5e351c6a-b385-425d-b7d2-bafdb22f9476:SFHrk0XVRZXfQS9hO8stYA");
    assert_eq!(
        request.headers()["authorization"],
        format!("Basic {basic}").as_str()
    );
    assert!(!format!("{settings:?}").contains("SFHrk0XVRZXfQS9hO8stYA"));
}

#[test]
fn php_settings_with_a_missing_key_name_it() {
    let cases: serde_json::Value = serde_json::from_slice(&data(
        "maestrano-php/written/ConfigIntegrationTest-missing-key-cases.json",
    ))
    .unwrap();
    let cases = cases["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 4);
    for case in cases {
        let missing = case["missing"].as_str().unwrap();
        match DevPlatformSettings::from_settings_value(&case["config"]) {
            Err(ConfigError::Setting(SettingError { name, problem, .. })) => {
                assert_eq!(name, missing);
                assert_eq!(problem, SettingProblem::Missing);
            }
            other => panic!("{missing}: {other:?}"),
        }
    }
}

fn yaml(rel: &str) -> serde_json::Value {
    serde_yaml_ng::from_slice(&data(rel)).unwrap()
}

#[test]
fn ruby_yaml_settings_tolerate_a_path_ending_in_marketplaces() {
    let settings =
        DevPlatformSettings::from_settings_value(&yaml("maestrano-ruby/dev_platform.yml")).unwrap();
    assert_eq!(settings.env_name(), Some("test"));
    let request = build_request(&settings).unwrap();
    assert_eq!(
        request.uri().to_string(),
        "http://localhost:5000/api/config/v1/marketplaces"
    );
    // Basic 123:123
    assert_eq!(request.headers()["authorization"], "Basic MTIzOjEyMw==");
}

#[test]
fn ruby_yaml_settings_with_a_relative_host_are_refused() {
    match DevPlatformSettings::from_settings_value(&yaml("maestrano-ruby/wrong_dev_platform.yml")) {
        Err(ConfigError::Setting(SettingError {
            name,
            problem: SettingProblem::Invalid { found, .. },
            ..
        })) => {
            assert_eq!(name, "dev_platform.host");
            assert_eq!(found, "stuff");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn metadata_matches_the_java_export_without_the_key() {
    let raw = String::from_utf8(data("maestrano-java/expected-metadata.json"))
        .unwrap()
        .replace("[MAESTRANO_VERSION]", "x")
        .replace("[JAVA_VERSION]", "x");
    let mut expected: serde_json::Value = serde_json::from_str(&raw).unwrap();
    let certificate = expected["sso"]["x509_certificate"]
        .as_str()
        .unwrap()
        .to_owned();
    let config = MarketplaceConfig::builder("test")
        .app_host("http://localhost:8080")
        .api_id("someid")
        .api_key(Secret::new("the-api-key-that-must-not-leak"))
        .api_host("https://api-hub.maestrano.com")
        .api_base("/api/v1/")
        .sso_init_path("/maestrano/auth/saml/init")
        .sso_consume_path("/maestrano/auth/saml/consume")
        .sso_idm("https://idp.myapp.com")
        .sso_idp("https://api-hub.maestrano.com")
        .x509_fingerprint("2f:57:71:e4:40:19:57:37:a6:2c:f0:c5:82:52:2f:2e:41:b7:9d:7e")
        .x509_certificate(&certificate)
        .connec_host("https://api-connec.maestrano.com")
        .connec_base_path("/api/v2")
        .group_path("/maestrano/account/groups/:id")
        .group_user_path("/maestrano/account/groups/:group_id/users/:id")
        .connec_external_ids(false)
        .connec_notification_path("/maestrano/connec/notifications")
        .build()
        .unwrap();
    let tenant = maestrano::Tenant::new(config);
    let mut ours = tenant.metadata();
    let text = ours.to_string();
    assert!(!text.contains("the-api-key-that-must-not-leak"), "{text}");
    assert!(ours["api"].get("key").is_none());
    assert_eq!(ours["api"]["lang"], "Rust");

    let ours_cert =
        Certificate::from_pem(ours["sso"]["x509_certificate"].as_str().unwrap()).unwrap();
    assert_eq!(ours_cert, Certificate::from_pem(&certificate).unwrap());
    for v in [&mut ours, &mut expected] {
        let api = v["api"].as_object_mut().unwrap();
        api.remove("version");
        api.remove("lang");
        api.remove("lang_version");
        v["sso"].as_object_mut().unwrap().remove("x509_certificate");
    }
    assert_eq!(ours, expected);
}

// ---------------------------------------------------------------------------------------------
// Secrets and untrusted input
// ---------------------------------------------------------------------------------------------

const UAT_KEY: &str = "9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0";

#[tokio::test]
async fn secrets_never_show_in_debug_or_errors() {
    let source =
        StaticSource::from_json_file(format!("{DATA}shapes/dev-platform/marketplaces-two.json"))
            .unwrap();
    let shown = format!("{source:?}");
    assert!(shown.contains("app-3c4d"));
    assert!(!shown.contains(UAT_KEY), "{shown}");
    let registry = Registry::builder(
        Arc::new(source),
        Arc::new(ManualClock::new(datetime!(2024-01-01 0:00 UTC))),
    )
    // The platform sandbox of the conformance data answers on plain http.
    .insecure_allow_plain_http(maestrano::MarketplaceKey::new("mno-sandbox").unwrap())
    .build()
    .await
    .unwrap();
    let tenant = registry.with(&key("maestrano-uat")).unwrap();
    for text in [
        format!("{registry:?}"),
        format!("{tenant:?}"),
        format!("{:?}", maestrano::sso::sp_settings(&tenant)),
        tenant.metadata().to_string(),
    ] {
        assert!(!text.contains(UAT_KEY), "{text}");
    }
    assert_eq!(tenant.config().api().key().expose(), UAT_KEY);

    // A key of the wrong type is reported by type only.
    let e = parse_marketplaces(br#"{"marketplace":"m","api":{"key":123456789}}"#).unwrap_err();
    assert!(!e.to_string().contains("123456789"), "{e}");
}

#[test]
fn wrong_types_name_the_path_and_what_was_expected() {
    let e = field_error(parse_marketplaces(
        br#"{"marketplaces":[{"marketplace":"a","api":{"id":7}}]}"#,
    ));
    assert_eq!(e.path, "marketplaces[0].api.id");
    assert_eq!(e.marketplace.as_ref().unwrap().as_str(), "a");
    assert!(matches!(
        e.problem,
        FieldProblem::WrongType {
            expected: "a string",
            found: "a number"
        }
    ));
    assert_eq!(
        e.to_string(),
        "marketplace a: marketplaces[0].api.id: expected a string, found a number"
    );
    let e = field_error(parse_marketplaces(br#"{"marketplaces":[{}, 3]}"#));
    assert_eq!(e.path, "marketplaces[0].marketplace");
    let e = field_error(parse_marketplaces(br#"{"marketplaces":{}}"#));
    assert_eq!(e.path, "marketplaces");
    let e = field_error(parse_marketplaces(br#"{"marketplace":"a","sso":"x"}"#));
    assert_eq!(e.path, "sso");

    // A missing required field in the second marketplace.
    let two = String::from_utf8(data("shapes/dev-platform/marketplaces-two.json")).unwrap();
    let broken = two.replacen(&format!("\"key\": \"{UAT_KEY}\","), "", 1);
    assert_ne!(broken, two);
    let e = field_error(parse_marketplaces(broken.as_bytes()));
    assert_eq!(e.path, "marketplaces[1].api.key");
    assert!(matches!(e.problem, FieldProblem::Missing));
}

#[test]
fn limits_bound_untrusted_input() {
    let huge = vec![b' '; maestrano::config::MAX_CONFIG_BYTES + 1];
    assert!(matches!(
        parse_marketplaces(&huge),
        Err(ConfigError::TooLarge { .. })
    ));
    assert!(matches!(
        decode_response(&reply(200, huge)),
        Err(ConfigError::TooLarge { .. })
    ));
    let many = format!(
        "{{\"marketplaces\":[{}]}}",
        vec!["{}"; maestrano::config::MAX_MARKETPLACES + 1].join(",")
    );
    assert!(matches!(
        parse_marketplaces(many.as_bytes()),
        Err(ConfigError::TooManyMarketplaces { found: 1001, .. })
    ));
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(matches!(
        parse_marketplaces(deep.as_bytes()),
        Err(ConfigError::Json { .. })
    ));
    assert!(matches!(
        parse_marketplaces(br#"{"marketplaces":[]}"#),
        Err(ConfigError::NoMarketplaces)
    ));
    assert!(matches!(
        decode_response(&reply(200, br#"{"marketplaces":[]}"#.to_vec())),
        Err(ConfigError::DevPlatform(
            DevPlatformError::EmptyMarketplaces
        ))
    ));
    assert!(matches!(
        decode_response(&reply(200, br#"{"other":1}"#.to_vec())),
        Err(ConfigError::DevPlatform(
            DevPlatformError::MissingMarketplaces
        ))
    ));
    assert!(matches!(
        decode_response(&reply(503, b"<html>down</html>".to_vec())),
        Err(ConfigError::DevPlatform(DevPlatformError::Status {
            status: 503
        }))
    ));
}

#[test]
fn duplicate_marketplaces_are_refused() {
    let two = String::from_utf8(data("shapes/dev-platform/marketplaces-two.json")).unwrap();
    let dup = two.replace(
        "\"marketplace\": \"maestrano-uat\"",
        "\"marketplace\": \"mno-sandbox\"",
    );
    match parse_marketplaces(dup.as_bytes()) {
        Err(ConfigError::DuplicateMarketplace {
            marketplace,
            first,
            second,
        }) => {
            assert_eq!(marketplace.as_str(), "mno-sandbox");
            assert_eq!(
                (first.as_str(), second.as_str()),
                ("marketplaces[0]", "marketplaces[1]")
            );
        }
        other => panic!("{other:?}"),
    }
    let one = parse_marketplaces(two.as_bytes()).unwrap().remove(0);
    assert!(matches!(
        StaticSource::from_configs([one.clone(), one]),
        Err(ConfigError::DuplicateMarketplace { .. })
    ));
    assert!(matches!(
        StaticSource::from_configs([]),
        Err(ConfigError::NoMarketplaces)
    ));
}

#[test]
fn unreadable_files_are_io_errors() {
    match StaticSource::from_json_file(format!("{DATA}does-not-exist.json")) {
        Err(ConfigError::Io { path, .. }) => assert!(path.ends_with("does-not-exist.json")),
        other => panic!("{other:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any corruption of a real reply is either parsed or refused with a typed error.
    #[test]
    fn corrupted_replies_never_panic(
        flips in proptest::collection::vec((any::<proptest::sample::Index>(), any::<u8>()), 1..8)
    ) {
        let mut bytes = data("shapes/dev-platform/marketplaces-two.json");
        for (at, byte) in flips {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        let _ = parse_marketplaces(&bytes);
        let _ = decode_response(&reply(200, bytes));
    }

    #[test]
    fn arbitrary_json_never_panics(text in "\\PC{0,200}") {
        let _ = parse_marketplaces(text.as_bytes());
        let _ = parse_marketplace(text.as_bytes());
        let _ = DevPlatformSettings::from_settings_json(text.as_bytes());
    }
}

// ---------------------------------------------------------------------------------------------
// Autoconfigure through the HttpClient port
// ---------------------------------------------------------------------------------------------

fn settings() -> DevPlatformSettings {
    DevPlatformSettings::new("env-key", Secret::new("env-secret")).unwrap()
}

#[tokio::test]
async fn autoconfigure_sends_basic_auth_and_parses_the_reply() {
    let fake = Arc::new(FakeHttpClient::new());
    fake.on(
        Some(http::Method::GET),
        "https://developer.maestrano.com/api/config/v1/marketplaces",
        vec![FakeReply::json(
            200,
            data("shapes/dev-platform/marketplaces-two.json"),
        )],
    );
    let source = DevPlatformSource::new(settings(), fake.clone());
    let list = source.load_all().await.unwrap();
    assert_eq!(list.len(), 2);
    let one = source.load(&key("maestrano-uat")).await.unwrap().unwrap();
    assert_eq!(one.api().id().as_str(), "app-3c4d");
    assert!(source.load(&key("nope")).await.unwrap().is_none());

    let requests = fake.requests();
    assert_eq!(requests.len(), 3);
    let r = &requests[0];
    assert_eq!(r.method(), http::Method::GET);
    assert_eq!(r.headers()["accept"], "application/json");
    let basic = base64::engine::general_purpose::STANDARD.encode("env-key:env-secret");
    assert_eq!(
        r.headers()["authorization"],
        format!("Basic {basic}").as_str()
    );
}

#[tokio::test]
async fn autoconfigure_reports_each_failure_distinctly() {
    type Check = fn(&ConfigError) -> bool;
    let cases: Vec<(FakeReply, Check)> = vec![
        (
            FakeReply::json(401, data("shapes/dev-platform/error-401.json")),
            |e| {
                matches!(
                    e,
                    ConfigError::DevPlatform(DevPlatformError::Unauthorized { .. })
                )
            },
        ),
        (
            FakeReply::json(
                200,
                data("maestrano-java/written/DevPlatformClientTest-error-reply.json"),
            ),
            |e| {
                matches!(
                    e,
                    ConfigError::DevPlatform(DevPlatformError::Rejected { .. })
                )
            },
        ),
        (
            FakeReply::Response {
                status: 200,
                headers: vec![("content-type".into(), "text/html".into())],
                body: data("maestrano-ruby/written/maestrano_test-dev-platform-bad-response.html"),
            },
            |e| matches!(e, ConfigError::DevPlatform(DevPlatformError::NotJson { content_type: Some(t), .. }) if t == "text/html"),
        ),
        (
            FakeReply::json(
                200,
                data("x4d3-maestrano-dotnet/developer-platform-answer.json"),
            ),
            |e| {
                matches!(
                    e,
                    ConfigError::DevPlatform(DevPlatformError::MissingMarketplaces)
                )
            },
        ),
        (FakeReply::json(200, r#"{"marketplaces": []}"#), |e| {
            matches!(
                e,
                ConfigError::DevPlatform(DevPlatformError::EmptyMarketplaces)
            )
        }),
        (
            FakeReply::Error(TransportError::new(TransportErrorKind::Connect, "refused")),
            |e| matches!(e, ConfigError::DevPlatform(DevPlatformError::Transport(_))),
        ),
    ];
    for (i, (reply, check)) in cases.into_iter().enumerate() {
        let fake = Arc::new(FakeHttpClient::new());
        fake.on(None, "https://", vec![reply]);
        let e = DevPlatformSource::new(settings(), fake)
            .load_all()
            .await
            .unwrap_err();
        assert!(check(&e), "case {i}: {e:?}");
        assert!(!e.to_string().contains("env-secret"));
    }
}

#[test]
fn settings_from_environment_variables() {
    let env = |pairs: &[(&str, &str)]| {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name: &str| map.get(name).cloned()
    };
    let s = DevPlatformSettings::from_lookup(env(&[
        ("MNO_DEVPL_ENV_KEY", "k"),
        ("MNO_DEVPL_ENV_SECRET", "s3cr3t"),
    ]))
    .unwrap();
    assert_eq!(
        s.marketplaces_url().as_str(),
        "https://developer.maestrano.com/api/config/v1/marketplaces"
    );
    assert_eq!(s.env_name(), None);
    assert!(!format!("{s:?}").contains("s3cr3t"));

    let s = DevPlatformSettings::from_lookup(env(&[
        ("MNO_DEVPL_HOST", "http://localhost:5000/"),
        ("MNO_DEVPL_API_PATH", "/api/config/v1/marketplaces/"),
        ("MNO_DEVPL_ENV_NAME", "uat"),
        ("MNO_DEVPL_ENV_KEY", "k"),
        ("MNO_DEVPL_ENV_SECRET", "s"),
    ]))
    .unwrap();
    assert_eq!(
        s.marketplaces_url().as_str(),
        "http://localhost:5000/api/config/v1/marketplaces"
    );
    assert_eq!(s.env_name(), Some("uat"));

    let name_of = |r: Result<DevPlatformSettings, ConfigError>| match r {
        Err(ConfigError::Setting(e)) => (e.name, e.problem),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        name_of(DevPlatformSettings::from_lookup(env(&[(
            "MNO_DEVPL_ENV_SECRET",
            "s"
        )]))),
        ("MNO_DEVPL_ENV_KEY".into(), SettingProblem::Missing)
    );
    assert_eq!(
        name_of(DevPlatformSettings::from_lookup(env(&[
            ("MNO_DEVPL_ENV_KEY", "k"),
            ("MNO_DEVPL_ENV_SECRET", ""),
        ])))
        .0,
        "MNO_DEVPL_ENV_SECRET"
    );
    assert_eq!(
        name_of(DevPlatformSettings::from_lookup(env(&[
            ("MNO_DEVPL_HOST", "stuff"),
            ("MNO_DEVPL_ENV_KEY", "k"),
            ("MNO_DEVPL_ENV_SECRET", "s"),
        ])))
        .0,
        "MNO_DEVPL_HOST"
    );
    let (name, problem) = name_of(DevPlatformSettings::from_lookup(env(&[
        ("MNO_DEVPL_ENV_KEY", "a:b"),
        ("MNO_DEVPL_ENV_SECRET", "s"),
    ])));
    assert_eq!(name, "MNO_DEVPL_ENV_KEY");
    assert!(!format!("{problem}").contains("a:b"));
}

// ---------------------------------------------------------------------------------------------
// The registry
// ---------------------------------------------------------------------------------------------

const SANDBOX_FP: &str = "01:06:15:89:25:7d:78:12:28:a6:69:c7:de:63:ed:74:21:f9:f5:36";

fn tenant_config(k: &str, version: u64) -> MarketplaceConfig {
    MarketplaceConfig::builder(k)
        .nid(format!("v{version}"))
        .app_host("https://app.example.com")
        .api_id(format!("app-{k}"))
        .api_key(Secret::new(format!("key-{k}-{version}")))
        .api_host("https://hub.example.com")
        .sso_idp("https://idp.example.com")
        .x509_fingerprint(SANDBOX_FP)
        .build()
        .unwrap()
}

/// A source that answers from a script, then repeats an error.
#[derive(Debug, Default)]
struct ScriptedSource {
    replies: Mutex<VecDeque<Result<Vec<MarketplaceConfig>, ConfigError>>>,
    calls: AtomicUsize,
}

impl ScriptedSource {
    fn new(replies: Vec<Result<Vec<MarketplaceConfig>, ConfigError>>) -> Self {
        Self {
            replies: Mutex::new(replies.into()),
            calls: AtomicUsize::new(0),
        }
    }
}

#[async_trait]
impl ConfigSource for ScriptedSource {
    async fn load_all(&self) -> Result<Vec<MarketplaceConfig>, ConfigError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.replies
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or(Err(ConfigError::NoMarketplaces))
    }
}

#[tokio::test]
async fn unknown_marketplaces_are_errors_never_defaults() {
    let source = Arc::new(ScriptedSource::new(vec![Ok(vec![tenant_config("a", 1)])]));
    let clock = Arc::new(ManualClock::new(datetime!(2024-01-01 0:00 UTC)));
    let registry = Registry::builder(source, clock).build().await.unwrap();
    assert!(registry.with(&key("a")).is_ok());
    match registry.with(&key("b")) {
        Err(ConfigError::UnknownMarketplace { marketplace }) => {
            assert_eq!(marketplace.as_str(), "b")
        }
        other => panic!("{other:?}"),
    }
    let e: maestrano::Error = registry.with(&key("b")).unwrap_err().into();
    assert!(e.to_string().contains("unknown marketplace b"), "{e}");
}

#[tokio::test]
async fn a_failing_first_load_fails_the_build() {
    let source = Arc::new(ScriptedSource::new(vec![Err(ConfigError::NoMarketplaces)]));
    let clock = Arc::new(ManualClock::new(datetime!(2024-01-01 0:00 UTC)));
    assert!(Registry::builder(source, clock).build().await.is_err());
}

#[tokio::test]
async fn refresh_happens_after_the_ttl_on_the_clock() {
    let source = Arc::new(ScriptedSource::new(vec![
        Ok(vec![tenant_config("a", 1), tenant_config("b", 1)]),
        Ok(vec![tenant_config("a", 2), tenant_config("c", 2)]),
    ]));
    let clock = Arc::new(ManualClock::new(datetime!(2024-01-01 0:00 UTC)));
    let registry = Registry::builder(source.clone(), clock.clone())
        .ttl(time::Duration::minutes(10))
        .build()
        .await
        .unwrap();
    let before = registry.with(&key("a")).unwrap();
    assert_eq!(registry.snapshot().generation(), 1);

    clock.advance(time::Duration::minutes(9));
    assert!(!registry.is_stale());
    assert_eq!(registry.refresh_if_stale().await.unwrap(), None);
    assert_eq!(source.calls.load(Ordering::SeqCst), 1);

    clock.advance(time::Duration::minutes(1));
    assert!(registry.is_stale());
    let report = registry.refresh_if_stale().await.unwrap().unwrap();
    assert_eq!(report.generation, 2);
    assert_eq!(report.tenants, 2);
    assert_eq!(report.added, [key("c")]);
    assert_eq!(report.removed, [key("b")]);
    assert!(!registry.is_stale());
    assert_eq!(
        registry.snapshot().loaded_at(),
        datetime!(2024-01-01 0:10 UTC)
    );

    // Old handles are immutable; new look-ups see the new set.
    assert_eq!(before.config().nid(), Some("v1"));
    assert_eq!(registry.with(&key("a")).unwrap().config().nid(), Some("v2"));
    assert!(registry.with(&key("b")).is_err());
}

/// Issue 15: a refresh whose entries conflict refuses the entry that would displace another,
/// alone, and keeps serving that tenant's last good entry.
#[tokio::test]
async fn a_refresh_whose_tenant_paths_conflict_keeps_the_last_good_entry_of_that_tenant() {
    let shared = |k: &str| {
        MarketplaceConfig::builder(k)
            .nid("v2")
            .app_host("https://app.example.com")
            .api_id(format!("app-{k}"))
            .api_key(Secret::new("k"))
            .api_host("https://hub.example.com")
            .sso_idp("https://idp.example.com")
            .x509_fingerprint(SANDBOX_FP)
            .group_path("/maestrano/account/groups/:id")
            .build()
            .unwrap()
    };
    let source = Arc::new(ScriptedSource::new(vec![
        Ok(vec![tenant_config("a", 1), tenant_config("b", 1)]),
        Ok(vec![shared("a"), shared("b")]),
    ]));
    let clock = Arc::new(ManualClock::new(datetime!(2024-01-01 0:00 UTC)));
    let registry = Registry::builder(source, clock).build().await.unwrap();
    let report = registry.refresh().await.unwrap();
    // Both entries changed; `a` is placed first (key order), so `b`'s new entry is the one
    // that conflicts, and `b` keeps its last good entry.
    assert_eq!(report.refused, [key("b")]);
    assert_eq!(registry.with(&key("a")).unwrap().config().nid(), Some("v2"));
    assert_eq!(registry.with(&key("b")).unwrap().config().nid(), Some("v1"));
    let snapshot = registry.snapshot();
    let refused = &snapshot.refused()[0];
    assert!(refused.kept_previous);
    match &refused.error {
        ConfigError::Routes(maestrano::routes::RouteError::Conflict { first, second }) => {
            assert!(first.contains("marketplace a"), "{first}");
            assert!(second.contains("marketplace b"), "{second}");
        }
        other => panic!("{other:?}"),
    }
    // The router serves both: `a` on the new path, `b` on its old one.
    let router = registry.router();
    let delete = |path: &str| {
        router
            .match_parts(&http::Method::DELETE, path, None)
            .map(|e| e.marketplace.to_string())
    };
    assert_eq!(delete("/maestrano/account/groups/cld-1").unwrap(), "a");
    let b_path = tenant_config("b", 1)
        .routes()
        .group
        .to_string()
        .replace(":id", "cld-1");
    assert_eq!(delete(&b_path).unwrap(), "b");
}

/// A tenant that appears in a refresh with the paths of a tenant already served is refused;
/// the served tenant is placed first whatever the key order, so a newcomer never displaces it.
#[tokio::test]
async fn a_newcomer_never_displaces_a_served_tenant() {
    let with_group = |k: &str, path: &str| {
        MarketplaceConfig::builder(k)
            .app_host("https://app.example.com")
            .api_id(format!("app-{k}"))
            .api_key(Secret::new(format!("key-{k}")))
            .api_host("https://hub.example.com")
            .sso_idp("https://idp.example.com")
            .x509_fingerprint(SANDBOX_FP)
            .group_path(path)
            .build()
            .unwrap()
    };
    let source = Arc::new(ScriptedSource::new(vec![
        Ok(vec![with_group("zeta", "/hooks/groups/:id")]),
        Ok(vec![
            with_group("alpha", "/hooks/groups/:id"),
            with_group("zeta", "/hooks/groups/:id"),
        ]),
    ]));
    let clock = Arc::new(ManualClock::new(datetime!(2024-01-01 0:00 UTC)));
    let registry = Registry::builder(source, clock).build().await.unwrap();
    let report = registry.refresh().await.unwrap();
    assert_eq!(report.refused, [key("alpha")]);
    assert!(report.added.is_empty(), "{report:?}");
    assert!(registry.with(&key("alpha")).is_err());
    assert!(!registry.snapshot().refused()[0].kept_previous);
    let endpoint = registry
        .router()
        .match_parts(&http::Method::DELETE, "/hooks/groups/cld-1", None)
        .unwrap();
    assert_eq!(endpoint.marketplace.as_str(), "zeta");
}

/// A set where every entry is bad serves nothing: the first load fails, a refresh keeps the
/// last good snapshot.
#[tokio::test]
async fn a_set_with_no_good_entry_fails_as_a_whole() {
    let plain = |k: &str| {
        MarketplaceConfig::builder(k)
            .app_host("https://app.example.com")
            .api_id(format!("app-{k}"))
            .api_key(Secret::new("k"))
            .api_host("http://hub.example.com")
            .sso_idp("https://idp.example.com")
            .x509_fingerprint(SANDBOX_FP)
            .build()
            .unwrap()
    };
    let clock = Arc::new(ManualClock::new(datetime!(2024-01-01 0:00 UTC)));
    let first = Registry::builder(
        Arc::new(ScriptedSource::new(vec![Ok(vec![plain("a"), plain("b")])])),
        clock.clone(),
    )
    .build()
    .await;
    assert!(
        matches!(first, Err(ConfigError::PlainHttp { .. })),
        "{first:?}"
    );
    let registry = Registry::builder(
        Arc::new(ScriptedSource::new(vec![
            Ok(vec![tenant_config("c", 1)]),
            Ok(vec![plain("a")]),
        ])),
        clock,
    )
    .build()
    .await
    .unwrap();
    assert!(matches!(
        registry.refresh().await,
        Err(ConfigError::PlainHttp { .. })
    ));
    assert!(registry.with(&key("c")).is_ok());
}

#[tokio::test]
async fn a_failed_refresh_keeps_the_last_good_snapshot() {
    let source = Arc::new(ScriptedSource::new(vec![
        Ok(vec![tenant_config("a", 1)]),
        Err(ConfigError::DevPlatform(DevPlatformError::Unauthorized {
            status: 401,
        })),
        // A source that yields an invalid set is a failure too.
        Ok(vec![tenant_config("a", 3), tenant_config("a", 3)]),
        Ok(vec![tenant_config("a", 4)]),
    ]));
    let clock = Arc::new(ManualClock::new(datetime!(2024-01-01 0:00 UTC)));
    let registry = Registry::builder(source.clone(), clock.clone())
        .ttl(time::Duration::minutes(10))
        .retry_after(time::Duration::seconds(30))
        .build()
        .await
        .unwrap();

    clock.advance(time::Duration::minutes(10));
    let e = registry.refresh_if_stale().await.unwrap_err();
    assert!(matches!(
        e,
        ConfigError::DevPlatform(DevPlatformError::Unauthorized { .. })
    ));
    assert!(matches!(
        registry.last_refresh_error(),
        Some(ConfigError::DevPlatform(
            DevPlatformError::Unauthorized { .. }
        ))
    ));
    assert_eq!(registry.with(&key("a")).unwrap().config().nid(), Some("v1"));
    assert_eq!(registry.snapshot().generation(), 1);

    // No retry before the retry delay, then one.
    clock.advance(time::Duration::seconds(29));
    assert_eq!(registry.refresh_if_stale().await.unwrap(), None);
    clock.advance(time::Duration::seconds(1));
    assert!(matches!(
        registry.refresh_if_stale().await,
        Err(ConfigError::DuplicateMarketplace { .. })
    ));
    assert_eq!(registry.with(&key("a")).unwrap().config().nid(), Some("v1"));

    let report = registry.refresh().await.unwrap();
    assert_eq!(report.generation, 2);
    assert!(registry.last_refresh_error().is_none());
    assert_eq!(registry.with(&key("a")).unwrap().config().nid(), Some("v4"));
    assert_eq!(source.calls.load(Ordering::SeqCst), 4);
}

/// A source that flips between two versions of the same tenants on each load.
#[derive(Debug, Default)]
struct FlippingSource {
    loads: AtomicU64,
}

#[async_trait]
impl ConfigSource for FlippingSource {
    async fn load_all(&self) -> Result<Vec<MarketplaceConfig>, ConfigError> {
        let v = self.loads.fetch_add(1, Ordering::SeqCst);
        tokio::task::yield_now().await;
        Ok(["a", "b", "c", "d"]
            .iter()
            .map(|k| tenant_config(k, v))
            .collect())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_readers_never_see_a_half_updated_set() {
    let clock = Arc::new(ManualClock::new(datetime!(2024-01-01 0:00 UTC)));
    let registry = Registry::builder(Arc::new(FlippingSource::default()), clock)
        .build()
        .await
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let registry = registry.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut reads = 0u64;
                let mut last_generation = 0;
                while !stop.load(Ordering::Relaxed) && reads < 200_000 {
                    let snap = registry.snapshot();
                    assert!(snap.generation() >= last_generation);
                    last_generation = snap.generation();
                    let versions: Vec<_> = snap
                        .tenants()
                        .map(|t| t.config().nid().unwrap().to_owned())
                        .collect();
                    assert_eq!(versions.len(), 4);
                    assert!(versions.iter().all(|v| *v == versions[0]), "{versions:?}");
                    assert!(registry.with(&key("c")).is_ok());
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    for _ in 0..200 {
        registry.refresh().await.unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        assert!(r.join().unwrap() > 0);
    }
    assert_eq!(registry.snapshot().generation(), 201);
}

#[tokio::test]
async fn reverse_lookup_by_credentials() {
    let source = StaticSource::from_json(
        &String::from_utf8(data("shapes/dev-platform/marketplaces-two.json")).unwrap(),
    )
    .unwrap();
    let registry = Registry::builder(
        Arc::new(source),
        Arc::new(ManualClock::new(datetime!(2024-01-01 0:00 UTC))),
    )
    // The platform sandbox of the conformance data answers on plain http.
    .insecure_allow_plain_http(maestrano::MarketplaceKey::new("mno-sandbox").unwrap())
    .build()
    .await
    .unwrap();
    let t = registry
        .find_by_credentials(b"app-3c4d", UAT_KEY.as_bytes())
        .unwrap();
    assert_eq!(t.marketplace().as_str(), "maestrano-uat");
    assert!(matches!(
        registry.find_by_credentials(b"app-3c4d", b"wrong"),
        Err(ConfigError::UnknownCredentials)
    ));
    // The other marketplace's key with this id matches nothing.
    let sandbox = registry.with(&key("mno-sandbox")).unwrap();
    let sandbox_key = sandbox.config().api().key().expose().to_owned();
    assert!(
        registry
            .find_by_credentials(b"app-3c4d", sandbox_key.as_bytes())
            .is_err()
    );
    assert!(sandbox.check_credentials(b"app-1a2b", sandbox_key.as_bytes()));
}

// ---------------------------------------------------------------------------------------------
// URL helpers
// ---------------------------------------------------------------------------------------------

#[test]
fn urls_come_from_idm_and_idp() {
    let list = parse_marketplaces(&data("shapes/dev-platform/marketplaces-two.json")).unwrap();
    let sandbox = maestrano::Tenant::new(list[0].clone());
    let uat = maestrano::Tenant::new(list[1].clone());
    assert_eq!(
        sandbox.init_url().as_str(),
        "http://localhost:3000/maestrano/auth/saml/init/mno-sandbox"
    );
    assert_eq!(
        sandbox.acs_url().as_str(),
        "http://localhost:3000/maestrano/auth/saml/consume/mno-sandbox"
    );
    assert_eq!(
        uat.init_url().as_str(),
        "https://sso.myapp-uat.example.com/maestrano/init/?marketplace=maestrano-uat"
    );
    assert_eq!(
        uat.acs_url().as_str(),
        "https://sso.myapp-uat.example.com/maestrano/consume/?marketplace=maestrano-uat"
    );
    assert_eq!(
        uat.idp_sso_url().as_str(),
        "https://api-hub-uat.maestrano.io/api/v1/auth/saml"
    );

    // The IdP and the API hub differ here: every IdP URL must use sso.idp.
    let t = maestrano::Tenant::new(
        MarketplaceConfig::builder("acme-corp")
            .app_host("https://app.example.com/")
            .api_id("app-1")
            .api_key(Secret::new("k"))
            .api_host("https://api.hub.example")
            .sso_idp("https://idp.hub.example/")
            .x509_fingerprint(SANDBOX_FP)
            .build()
            .unwrap(),
    );
    let user = UserUid::new("usr-1b2c").unwrap();
    assert_eq!(
        t.idp_sso_url().as_str(),
        "https://idp.hub.example/api/v1/auth/saml"
    );
    assert_eq!(
        t.session_check_url(&user, "a b&c=d/+%").as_str(),
        "https://idp.hub.example/api/v1/auth/saml/usr-1b2c?session=a+b%26c%3Dd%2F%2B%25"
    );
    assert_eq!(
        t.logout_url(&user).as_str(),
        "https://idp.hub.example/app_logout?user_uid=usr-1b2c"
    );
    assert_eq!(
        t.unauthorized_url().as_str(),
        "https://idp.hub.example/app_access_unauthorized"
    );
    assert_eq!(
        t.init_url().as_str(),
        "https://app.example.com/maestrano/auth/saml/init/acme-corp"
    );
    // The session token round-trips through the query.
    let url = t.session_check_url(&user, "a b&c=d/+%");
    let (_, token) = url.query_pairs().find(|(k, _)| k == "session").unwrap();
    assert_eq!(token, "a b&c=d/+%");
}

/// The developer platform's reply is cached byte for byte; a start with the platform down and
/// a damaged or empty cache fails with the platform's error, never with a default tenant.
#[tokio::test]
async fn the_cache_keeps_the_platform_reply_and_a_bad_cache_is_no_configuration() {
    use maestrano::SnapshotOrigin;
    use maestrano::config::{CachedConfig, ConfigCache, FileConfigCache};
    let dir = tempfile::tempdir().unwrap();
    let cache = Arc::new(FileConfigCache::new(dir.path().join("cache.json")));
    let reply = data("shapes/dev-platform/marketplaces-two.json");
    let fake = Arc::new(FakeHttpClient::new());
    fake.on(None, "https://", vec![FakeReply::json(200, reply.clone())]);
    let clock = Arc::new(ManualClock::new(datetime!(2026-12-01 09:00 UTC)));
    let source = Arc::new(DevPlatformSource::new(settings(), fake));
    Registry::builder(source, clock.clone())
        // The platform sandbox of the conformance data answers on plain http.
        .insecure_allow_plain_http(maestrano::MarketplaceKey::new("mno-sandbox").unwrap())
        .cache(cache.clone())
        .build()
        .await
        .unwrap();
    let saved = cache.load().await.unwrap().unwrap();
    // The platform's bytes as sent (the file keeps the JSON value, without the whitespace
    // around it).
    assert!(
        saved.document() == reply.trim_ascii(),
        "the platform's bytes, as sent"
    );
    assert_eq!(saved.saved_at(), datetime!(2026-12-01 09:00 UTC));

    let down = || {
        let fake = Arc::new(FakeHttpClient::new());
        fake.on(
            None,
            "https://",
            vec![FakeReply::Error(TransportError::new(
                TransportErrorKind::Connect,
                "connection refused",
            ))],
        );
        Arc::new(DevPlatformSource::new(settings(), fake))
    };
    let registry = Registry::builder(down(), clock.clone())
        .insecure_allow_plain_http(maestrano::MarketplaceKey::new("mno-sandbox").unwrap())
        .cache(cache.clone())
        .build()
        .await
        .unwrap();
    assert_eq!(
        registry.snapshot().origin(),
        SnapshotOrigin::Cache {
            saved_at: saved.saved_at()
        }
    );
    assert!(registry.with(&key("maestrano-uat")).is_ok());
    assert!(!registry.is_stale());
    clock.advance(time::Duration::seconds(30));
    assert!(
        registry.is_stale(),
        "a start from the cache retries the source after retry_after, not after the TTL"
    );

    // Older than the maximum age (7 days unless set): not served.
    let e = Registry::builder(down(), clock.clone())
        .insecure_allow_plain_http(maestrano::MarketplaceKey::new("mno-sandbox").unwrap())
        .cache(cache.clone())
        .cache_max_age(time::Duration::seconds(29))
        .build()
        .await
        .unwrap_err();
    assert!(matches!(e, ConfigError::DevPlatform(_)), "{e:?}");

    // A cache that does not hold a configuration: the platform's own error.
    cache
        .save(&CachedConfig::new(
            br#"{"marketplaces": []}"#.to_vec(),
            saved.saved_at(),
        ))
        .await
        .unwrap();
    let e = Registry::builder(down(), clock.clone())
        .insecure_allow_plain_http(maestrano::MarketplaceKey::new("mno-sandbox").unwrap())
        .cache(cache.clone())
        .build()
        .await
        .unwrap_err();
    assert!(matches!(e, ConfigError::DevPlatform(_)), "{e:?}");
    std::fs::write(cache.path(), b"{ damaged").unwrap();
    let e = Registry::builder(down(), clock)
        .insecure_allow_plain_http(maestrano::MarketplaceKey::new("mno-sandbox").unwrap())
        .cache(cache)
        .build()
        .await
        .unwrap_err();
    assert!(matches!(e, ConfigError::DevPlatform(_)), "{e:?}");
}

/// The refresher refreshes on its interval, and stops when dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_refresher_drives_refreshes_and_stops_on_drop() {
    use maestrano::adapters::{Refresher, RefresherOptions};
    use std::time::Duration;
    let replies = (0..1000).map(|i| Ok(vec![tenant_config("a", i)])).collect();
    let source = Arc::new(ScriptedSource::new(replies));
    let clock = Arc::new(ManualClock::new(datetime!(2024-01-01 0:00 UTC)));
    let registry = Registry::builder(source.clone(), clock)
        .ttl(time::Duration::ZERO)
        .build()
        .await
        .unwrap();
    let refresher = Refresher::spawn(
        registry.clone(),
        RefresherOptions::default()
            .with_interval(Duration::from_millis(5))
            .with_jitter(Duration::from_millis(5)),
    );
    let waited = tokio::time::timeout(Duration::from_secs(20), async {
        while registry.snapshot().generation() < 4 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "the refresher refreshed three times");
    drop(refresher);
    // The task is aborted at its next await point; after that no call reaches the source.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let calls = source.calls.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        source.calls.load(Ordering::SeqCst),
        calls,
        "stopped on drop"
    );
}

/// Plain `http://` for the hosts that get the tenant's credentials, logins or data is served
/// only on loopback or for a marketplace the app names (issue 15): the conformance data's
/// sandbox marketplace (`connec.host` `http://connec.maestrano.io`) is refused by default,
/// naming the field; its `http://localhost` hosts and the simulator's loopback stay loadable.
#[tokio::test]
async fn plain_http_hosts_off_this_machine_are_refused_unless_named_insecure() {
    let clock = Arc::new(ManualClock::new(datetime!(2026-12-01 09:00 UTC)));
    let two = || {
        Arc::new(
            StaticSource::from_json_file(format!(
                "{DATA}shapes/dev-platform/marketplaces-two.json"
            ))
            .unwrap(),
        )
    };
    // The sandbox entry is refused alone; the other tenant is served.
    let registry = Registry::builder(two(), clock.clone())
        .build()
        .await
        .unwrap();
    let snapshot = registry.snapshot();
    let refused: Vec<_> = snapshot.refused().iter().collect();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0].marketplace.as_str(), "mno-sandbox");
    assert!(!refused[0].kept_previous);
    let text = refused[0].error.to_string();
    assert!(
        text.contains("mno-sandbox") && text.contains("connec.host") && text.contains("https"),
        "{text}"
    );
    assert!(matches!(refused[0].error, ConfigError::PlainHttp { .. }));
    assert!(
        registry
            .with(&MarketplaceKey::new("maestrano-uat").unwrap())
            .is_ok()
    );
    assert!(
        registry
            .with(&MarketplaceKey::new("mno-sandbox").unwrap())
            .is_err()
    );
    // Naming another marketplace does not help.
    let other = Registry::builder(two(), clock.clone())
        .insecure_allow_plain_http(MarketplaceKey::new("maestrano-uat").unwrap())
        .build()
        .await
        .unwrap();
    assert!(
        other
            .with(&MarketplaceKey::new("mno-sandbox").unwrap())
            .is_err()
    );
    Registry::builder(two(), clock.clone())
        .insecure_allow_plain_http(MarketplaceKey::new("mno-sandbox").unwrap())
        .build()
        .await
        .unwrap();

    let on = |api: &str, idp: &str, connec: &str| {
        MarketplaceConfig::builder("acme-corp")
            .app_host("http://app.example.com")
            .api_id("app-1")
            .api_key(Secret::new("k"))
            .api_host(api)
            .sso_idp(idp)
            .x509_fingerprint("01:06:15:89:25:7d:78:12:28:a6:69:c7:de:63:ed:74:21:f9:f5:36")
            .connec_host(connec)
            .build()
            .unwrap()
    };
    for (api, idp, connec, ok) in [
        (
            "http://localhost:3000",
            "http://127.0.0.1:8080",
            "http://[::1]:9",
            true,
        ),
        (
            "http://api.localhost",
            "https://idp.example.com",
            "https://c.example.com",
            true,
        ),
        (
            "https://api.example.com",
            "https://idp.example.com",
            "https://c.example.com",
            true,
        ),
        (
            "http://api.example.com",
            "https://idp.example.com",
            "https://c.example.com",
            false,
        ),
        (
            "https://api.example.com",
            "http://idp.example.com",
            "https://c.example.com",
            false,
        ),
        (
            "https://api.example.com",
            "https://idp.example.com",
            "http://10.0.0.7",
            false,
        ),
        (
            "https://api.example.com",
            "https://idp.example.com",
            "http://localhost.evil.example",
            false,
        ),
    ] {
        let built = Registry::builder(
            Arc::new(StaticSource::from_configs([on(api, idp, connec)]).unwrap()),
            clock.clone(),
        )
        .build()
        .await;
        assert_eq!(built.is_ok(), ok, "{api} {idp} {connec}: {built:?}");
    }
}

/// Issue 15, through the developer platform's reply: an entry that names its marketplace but
/// is bad otherwise is refused alone, the other tenants are served, and on a refresh the
/// tenant keeps its last good entry; an entry that names no marketplace cannot be told
/// whose it is, so that reply is refused as a whole and the last good set stays.
#[tokio::test]
async fn a_bad_entry_in_the_platform_reply_is_refused_alone() {
    let two = String::from_utf8(data("shapes/dev-platform/marketplaces-two.json")).unwrap();
    let bad_uat = two.replace(
        "8A:1E:2E:76:C4:67:80:68:6C:81:18:F7:D3:29:5D:77:F8:79:54:2F",
        "not-a-fingerprint",
    );
    let bad_sandbox = two.replace(
        "\"key\": \"5b1e0c9d7f3a2e4b6c8d0f1a3b5c7d9e1f2a4b6c8d0e2f4a6b8c0d2e4f6a8b0c\"",
        "\"key\": 42",
    );
    let nameless = two.replace("\"marketplace\": \"maestrano-uat\"", "\"marketplace\": 7");
    let fake = Arc::new(FakeHttpClient::new());
    fake.on(
        None,
        "https://",
        vec![
            FakeReply::json(200, bad_uat),
            FakeReply::json(200, bad_sandbox),
            FakeReply::json(200, nameless),
        ],
    );
    let clock = Arc::new(ManualClock::new(datetime!(2026-12-01 09:00 UTC)));
    let registry = Registry::builder(Arc::new(DevPlatformSource::new(settings(), fake)), clock)
        .insecure_allow_plain_http(key("mno-sandbox"))
        .build()
        .await
        .unwrap();
    let snapshot = registry.snapshot();
    assert!(registry.with(&key("mno-sandbox")).is_ok());
    assert!(registry.with(&key("maestrano-uat")).is_err());
    let refused = &snapshot.refused()[0];
    assert_eq!(refused.marketplace, key("maestrano-uat"));
    assert!(!refused.kept_previous);
    let text = refused.error.to_string();
    assert!(
        text.contains("marketplaces[1].sso.x509_fingerprint"),
        "{text}"
    );

    // The next reply fixes uat and breaks the sandbox: uat is added, the sandbox keeps its
    // last good entry (the key it was served with).
    let report = registry.refresh().await.unwrap();
    assert_eq!(report.added, [key("maestrano-uat")]);
    assert_eq!(report.refused, [key("mno-sandbox")]);
    let sandbox = registry.with(&key("mno-sandbox")).unwrap();
    assert!(sandbox.check_credentials(
        b"app-1a2b",
        b"5b1e0c9d7f3a2e4b6c8d0f1a3b5c7d9e1f2a4b6c8d0e2f4a6b8c0d2e4f6a8b0c"
    ));
    assert!(registry.snapshot().refused()[0].kept_previous);

    // An entry that names no marketplace: the reply is refused as a whole.
    assert!(registry.refresh().await.is_err());
    assert_eq!(registry.snapshot().generation(), 2);
    assert!(registry.with(&key("maestrano-uat")).is_ok());
}

// ---------------------------------------------------------------------------------------------
// Issue 16: serde for MarketplaceConfig, through the JSON parser's validation
// ---------------------------------------------------------------------------------------------

/// Every marketplace of the official SDKs' developer-platform replies serializes to a form that
/// deserializes back to the same configuration (same JSON form again, same accessors).
#[test]
fn marketplace_configs_round_trip_through_serde() {
    let mut seen = 0;
    for rel in [
        "shapes/dev-platform/marketplaces-two.json",
        "x4d3-maestrano-dotnet/developer-platform-answer.json",
        "maestrano-ruby/written/maestrano_test-dev-platform-reply.json",
        "maestrano-php/written/ConfigIntegrationTest-dev-platform-config.json",
    ] {
        let Ok(list) = parse_marketplaces(&data(rel)) else {
            continue;
        };
        for config in list {
            let value = serde_json::to_value(&config).unwrap();
            let again: MarketplaceConfig = serde_json::from_value(value.clone()).unwrap();
            assert_eq!(serde_json::to_value(&again).unwrap(), value, "{rel}");
            assert_eq!(again.marketplace(), config.marketplace());
            assert_eq!(again.api().key().expose(), config.api().key().expose());
            assert_eq!(again.api().host(), config.api().host());
            assert_eq!(again.sso().idp(), config.sso().idp());
            assert_eq!(again.sso().idm(), config.sso().idm());
            assert_eq!(again.sso().fingerprint(), config.sso().fingerprint());
            assert_eq!(again.sso().certificates(), config.sso().certificates());
            assert_eq!(again.sso().audience(), config.sso().audience());
            assert_eq!(
                again.connec().map(|c| (c.host().clone(), c.timeout())),
                config.connec().map(|c| (c.host().clone(), c.timeout()))
            );
            let (a, b) = (again.routes(), config.routes());
            for (x, y) in [
                (a.sso_init, b.sso_init),
                (a.sso_consume, b.sso_consume),
                (a.group, b.group),
                (a.group_user, b.group_user),
                (a.connec_notification, b.connec_notification),
            ] {
                assert_eq!(x.as_str(), y.as_str(), "{rel}");
            }
            seen += 1;
        }
    }
    assert!(seen >= 3, "only {seen} marketplaces parsed");
}

/// Deserializing runs the JSON parser's validation, from any self-describing format, and names
/// the field; what the JSON form cannot carry refuses to serialize instead of being dropped.
#[test]
fn marketplace_config_serde_validates_and_refuses_what_it_cannot_carry() {
    let yaml = "marketplace: acme-corp\napp: {host: 'https://app.example.com'}\n\
                api: {id: app-1, key: k, host: 'https://hub.example.com'}\n\
                sso: {idp: 'https://hub.example.com', x509_fingerprint: 'nope'}\n";
    let refused = serde_yaml_ng::from_str::<MarketplaceConfig>(yaml).unwrap_err();
    assert!(
        refused.to_string().contains("sso.x509_fingerprint"),
        "{refused}"
    );
    let good = yaml.replace(
        "'nope'",
        "'01:06:15:89:25:7d:78:12:28:a6:69:c7:de:63:ed:74:21:f9:f5:36'",
    );
    let config: MarketplaceConfig = serde_yaml_ng::from_str(&good).unwrap();
    assert_eq!(config.marketplace().as_str(), "acme-corp");

    let with_entity = MarketplaceConfig::builder("acme-corp")
        .app_host("https://app.example.com")
        .api_id("app-1")
        .api_key(Secret::new("k"))
        .api_host("https://hub.example.com")
        .sso_idp("https://hub.example.com")
        .x509_fingerprint("01:06:15:89:25:7d:78:12:28:a6:69:c7:de:63:ed:74:21:f9:f5:36")
        .sp_entity_id("urn:app")
        .build()
        .unwrap();
    let refused = serde_json::to_value(&with_entity).unwrap_err();
    assert!(refused.to_string().contains("entity id"), "{refused}");
}
