//! Issue 17: OpenID 2.0 logins through `SsoFlow` against a live, independent provider: the
//! server side of python3-openid 3.2.0 (`tests/data/openid/provider.py`, serving the sandbox's
//! routes and XRDS documents), reached over loopback HTTP with the reqwest adapter. Discovery,
//! the Diffie-Hellman association (the provider is plain HTTP, so no-encryption is never
//! asked), `checkid_setup` with the AX fetch request, the provider's auto-submitted POST form,
//! `check_authentication`, the claimed identifier's discovery and the nonce are all the real
//! exchange.
//!
//! The provider runs on the Python of `MAESTRANO_TEST_OPENID_PYTHON`, else of the virtual
//! environment `.ci/setup` makes (`~/.cache/maestrano/openid-venv`). Without it the tests say
//! so and return; under CI (`CI` set) they fail instead.
#![cfg(feature = "reqwest")]

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use async_trait::async_trait;
use maestrano::Tenant;
use maestrano::adapters::ReqwestHttpClient;
use maestrano::config::parse_marketplace;
use maestrano::openid::OpenIdError;
use maestrano::ports::{HttpClient, InMemorySingleUseStore, SingleUseStore};
use maestrano::saml::{SsoLogin, SsoOptions, SsoProtocols};
use maestrano::sso::{LoginHandler, SsoFlow, SsoFlowError};
use url::Url;

const PROVIDER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/openid/provider.py");

/// The provider process, killed when dropped.
struct Provider {
    child: Child,
    port: u16,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn python() -> Option<String> {
    if let Ok(p) = std::env::var("MAESTRANO_TEST_OPENID_PYTHON") {
        return Some(p);
    }
    let home = std::env::var("HOME").ok()?;
    let p = format!("{home}/.cache/maestrano/openid-venv/bin/python");
    std::path::Path::new(&p).exists().then_some(p)
}

fn start_provider() -> Option<Provider> {
    start_provider_with(&[])
}

fn start_provider_with(args: &[&str]) -> Option<Provider> {
    let Some(python) = python() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "no python3-openid environment: run .ci/setup (or set MAESTRANO_TEST_OPENID_PYTHON)"
        );
        eprintln!("skipped: no python3-openid environment (run .ci/setup)");
        return None;
    };
    let mut child = Command::new(python)
        .arg(PROVIDER)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the python3-openid provider");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .strip_prefix("listening ")
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("the provider said {line:?}"));
    Some(Provider { child, port })
}

fn tenant(port: u16, protocols: SsoProtocols) -> Tenant {
    let json = format!(
        r#"{{"marketplace": "acme-corp", "app": {{"host": "https://app.example.com"}},
            "api": {{"id": "app-1a2b", "key": "s3cret", "host": "http://127.0.0.1:{port}"}},
            "sso": {{"idp": "http://127.0.0.1:{port}",
                    "x509_fingerprint": "01:06:15:89:25:7d:78:12:28:a6:69:c7:de:63:ed:74:21:f9:f5:36"}}}}"#
    );
    let config = parse_marketplace(json.as_bytes())
        .unwrap()
        .with_sso_options(SsoOptions::default().with_protocols(protocols));
    Tenant::new(config)
}

fn return_to() -> Url {
    Url::parse("https://app.example.com/maestrano/acme-corp/openid/return").unwrap()
}

struct Keep;

#[async_trait]
impl LoginHandler for Keep {
    type Output = SsoLogin;
    async fn on_login(
        &self,
        login: &SsoLogin,
    ) -> Result<SsoLogin, Box<dyn std::error::Error + Send + Sync>> {
        Ok(login.clone())
    }
}

fn flow(http: Arc<dyn HttpClient>, store: Arc<dyn SingleUseStore>, associations: bool) -> SsoFlow {
    SsoFlow::builder()
        .http_client(http)
        .store(store)
        .openid_associations(associations)
        .build()
}

/// The browser: follows the redirect to the provider and reads the auto-submitting form it
/// answers with (python3-openid's `toFormMarkup`): its action and its fields, form-encoded.
async fn browser(http: &dyn HttpClient, url: &Url) -> (Url, Vec<u8>) {
    let request = http::Request::get(url.as_str()).body(Vec::new()).unwrap();
    let response = http.send(request).await.unwrap();
    let page = String::from_utf8(response.body().clone()).unwrap();
    assert_eq!(response.status(), 200, "{page}");
    assert!(page.contains("method=\"post\""), "a POST form: {page}");
    let attr = |tag: &str, name: &str| -> Option<String> {
        let at = tag.find(&format!("{name}=\""))? + name.len() + 2;
        let end = at + tag[at..].find('"')?;
        Some(
            tag[at..end]
                .replace("&quot;", "\"")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&"),
        )
    };
    let form_tag = &page[page.find("<form").unwrap()..];
    let action =
        Url::parse(&attr(&form_tag[..form_tag.find('>').unwrap()], "action").unwrap()).unwrap();
    let mut body = url::form_urlencoded::Serializer::new(String::new());
    for input in page.split("<input").skip(1) {
        let tag = &input[..input.find('>').unwrap()];
        if let (Some(name), Some(value)) = (attr(tag, "name"), attr(tag, "value")) {
            body.append_pair(&name, &value);
        }
    }
    (action, body.finish().into_bytes())
}

fn replace_field(body: &[u8], key: &str, value: &str) -> Vec<u8> {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in url::form_urlencoded::parse(body) {
        out.append_pair(&k, if k == key { value } else { &v });
    }
    out.finish().into_bytes()
}

#[tokio::test]
async fn a_login_through_the_independent_provider_makes_the_same_login_as_saml_with_or_without_an_association()
 {
    let Some(provider) = start_provider() else {
        return;
    };
    let http: Arc<dyn HttpClient> = Arc::new(ReqwestHttpClient::new().unwrap());
    let tenant = tenant(provider.port, SsoProtocols::Both);
    for associations in [false, true] {
        let store: Arc<dyn SingleUseStore> = Arc::new(InMemorySingleUseStore::new());
        let f = flow(http.clone(), store.clone(), associations);
        let redirect = f
            .openid_initiate(&tenant, "198.51.100.7", &return_to(), Some("/invoices"))
            .await
            .unwrap();
        let endpoint = format!(
            "http://127.0.0.1:{}/api/openid/provider/app-1a2b",
            provider.port
        );
        assert!(
            redirect.url.as_str().starts_with(&endpoint),
            "{}",
            redirect.url
        );
        let signed_with = redirect
            .url
            .query_pairs()
            .find(|(k, _)| k == "openid.assoc_handle")
            .map(|(_, v)| v.into_owned());
        // With associations on, the SDK associated by Diffie-Hellman (the provider is plain
        // HTTP) and the provider accepted the handle.
        assert_eq!(signed_with.is_some(), associations);

        let (received, body) = browser(http.as_ref(), &redirect.url).await;
        assert!(received.as_str().starts_with(return_to().as_str()));
        let done = f
            .openid_consume(&tenant, &received, &body, Some(&redirect.request_id), &Keep)
            .await
            .unwrap();
        let login = &done.output;
        assert_eq!(login.user.uid.as_str(), "usr-1");
        assert_eq!(login.user.virtual_uid.as_str(), "usr-1.cld-1");
        assert_eq!(login.user.email, "jane@example.com");
        assert_eq!(login.group.uid.as_str(), "cld-1");
        assert_eq!(login.group.name.as_deref(), Some("Acme Pty"));
        assert_eq!(login.membership.role, "Guest");
        assert_eq!(
            login.session.token.expose(),
            "abcdefghijklmnopqrstuvwxyz0123456789"
        );
        assert_eq!(done.relay_state.as_deref(), Some("/invoices"));
        assert_eq!(done.session.marketplace.as_str(), "acme-corp");

        // The same form again, on this instance or another sharing the store.
        let other = flow(http.clone(), store.clone(), associations);
        for instance in [&f, &other] {
            let again = instance
                .openid_consume(&tenant, &received, &body, None, &Keep)
                .await;
            assert!(
                matches!(
                    again,
                    Err(SsoFlowError::OpenId(
                        OpenIdError::Replayed | OpenIdError::SignatureInvalid
                    ))
                ),
                "{again:?}"
            );
        }
    }
}

#[tokio::test]
async fn a_tampered_or_misdirected_assertion_of_the_live_provider_is_refused() {
    let Some(provider) = start_provider() else {
        return;
    };
    let http: Arc<dyn HttpClient> = Arc::new(ReqwestHttpClient::new().unwrap());
    let tenant = tenant(provider.port, SsoProtocols::OpenId);
    for associations in [false, true] {
        let store: Arc<dyn SingleUseStore> = Arc::new(InMemorySingleUseStore::new());
        let f = flow(http.clone(), store, associations);
        let login = |f: &SsoFlow| {
            let f = f.clone();
            let tenant = tenant.clone();
            let http = http.clone();
            async move {
                let redirect = f
                    .openid_initiate(&tenant, "198.51.100.7", &return_to(), None)
                    .await
                    .unwrap();
                let (received, body) = browser(http.as_ref(), &redirect.url).await;
                (redirect.request_id, received, body)
            }
        };

        // A signed AX value changed in the browser: the signature (the SDK's, or the
        // provider's own check_authentication) refuses it.
        let (_, received, body) = login(&f).await;
        // The AX alias is the provider's choice: the email is found by its type URI.
        let fields: Vec<(String, String)> =
            url::form_urlencoded::parse(&body).into_owned().collect();
        let email_type = "http://openid.net/schema/contact/internet/email";
        let (type_key, _) = fields.iter().find(|(_, v)| v == email_type).unwrap();
        let (alias, name) = type_key
            .strip_prefix("openid.")
            .and_then(|k| k.split_once(".type."))
            .unwrap();
        let forged = replace_field(
            &body,
            &format!("openid.{alias}.value.{name}.1"),
            "mallory@example.com",
        );
        assert_ne!(forged, body);
        let refused = f
            .openid_consume(&tenant, &received, &forged, None, &Keep)
            .await;
        assert!(
            matches!(
                refused,
                Err(SsoFlowError::OpenId(OpenIdError::SignatureInvalid))
            ),
            "{refused:?}"
        );

        // Received at another URL than its return_to (§11.1).
        let (_, received, body) = login(&f).await;
        let elsewhere = Url::parse("https://app.example.com/other").unwrap();
        let refused = f
            .openid_consume(&tenant, &elsewhere, &body, None, &Keep)
            .await;
        assert!(
            matches!(
                refused,
                Err(SsoFlowError::OpenId(OpenIdError::ReturnToMismatch { .. }))
            ),
            "{refused:?}"
        );
        // A browser that kept another request id: not the login it started.
        let refused = f
            .openid_consume(&tenant, &received, &body, Some("_0000000011111111"), &Keep)
            .await;
        assert!(
            matches!(refused, Err(SsoFlowError::UnknownRequest)),
            "{refused:?}"
        );
    }
    // A tenant that offers SAML only refuses the OpenID routes.
    let saml_only = self::tenant(provider.port, SsoProtocols::Saml);
    let f = flow(http.clone(), Arc::new(InMemorySingleUseStore::new()), false);
    let refused = f
        .openid_initiate(&saml_only, "198.51.100.7", &return_to(), None)
        .await;
    assert!(
        matches!(
            refused,
            Err(SsoFlowError::ProtocolNotOffered { protocol: "openid" })
        ),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_provider_offering_only_hmac_sha1_is_associated_with_it_and_logs_in() {
    let Some(provider) = start_provider_with(&["--sha1-only"]) else {
        return;
    };
    let http: Arc<dyn HttpClient> = Arc::new(ReqwestHttpClient::new().unwrap());
    let tenant = tenant(provider.port, SsoProtocols::OpenId);
    let f = flow(http.clone(), Arc::new(InMemorySingleUseStore::new()), true);
    let redirect = f
        .openid_initiate(&tenant, "198.51.100.7", &return_to(), None)
        .await
        .unwrap();
    // Refused HMAC-SHA256, the SDK asked again for the HMAC-SHA1 the provider suggested.
    let handle = redirect
        .url
        .query_pairs()
        .find(|(k, _)| k == "openid.assoc_handle")
        .map(|(_, v)| v.into_owned())
        .expect("an association");
    assert!(handle.starts_with("{HMAC-SHA1}"), "{handle}");
    let (received, body) = browser(http.as_ref(), &redirect.url).await;
    let done = f
        .openid_consume(&tenant, &received, &body, Some(&redirect.request_id), &Keep)
        .await
        .unwrap();
    assert_eq!(done.output.user.uid.as_str(), "usr-1");
}

#[tokio::test]
async fn the_same_assertion_posted_twice_at_once_logs_in_once() {
    let Some(provider) = start_provider() else {
        return;
    };
    let http: Arc<dyn HttpClient> = Arc::new(ReqwestHttpClient::new().unwrap());
    let tenant = tenant(provider.port, SsoProtocols::OpenId);
    for associations in [false, true] {
        let f = flow(
            http.clone(),
            Arc::new(InMemorySingleUseStore::new()),
            associations,
        );
        let redirect = f
            .openid_initiate(&tenant, "198.51.100.7", &return_to(), None)
            .await
            .unwrap();
        let (received, body) = browser(http.as_ref(), &redirect.url).await;
        let (a, b) = tokio::join!(
            f.openid_consume(&tenant, &received, &body, None, &Keep),
            f.openid_consume(&tenant, &received, &body, None, &Keep),
        );
        let wins = [a.is_ok(), b.is_ok()].iter().filter(|ok| **ok).count();
        assert_eq!(wins, 1, "associations {associations}: {a:?} / {b:?}");
    }
}
