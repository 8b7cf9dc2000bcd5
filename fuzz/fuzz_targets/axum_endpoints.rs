//! Arbitrary requests to `maestrano-axum`'s endpoints: the consume route with any `Cookie`
//! header and form body (the login cookie read, the same-site resubmission page built from the
//! form, the SAML validation behind it), the init route with any query, and the metadata and
//! webhook routes. Nothing panics; a refusal's body is the generic text of its status; the
//! resubmission page holds exactly one script (no field breaks out of its attribute).
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use maestrano::config::StaticSource;
use maestrano::ports::SystemClock;
use maestrano::saml::SsoLogin;
use maestrano::sso::LoginHandler;
use maestrano::webhook::{WebhookEvent, WebhookSink};
use maestrano::{Registry, async_trait};
use maestrano_axum::Maestrano;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

struct Login;

#[async_trait]
impl LoginHandler for Login {
    type Output = &'static str;
    async fn on_login(&self, _: &SsoLogin) -> Result<&'static str, BoxError> {
        Ok("signed in")
    }
}

struct Events;

#[async_trait]
impl WebhookSink for Events {
    async fn on_event(&self, _: WebhookEvent) -> Result<(), BoxError> {
        Ok(())
    }
}

fn setup() -> &'static (tokio::runtime::Runtime, Maestrano) {
    static SETUP: OnceLock<(tokio::runtime::Runtime, Maestrano)> = OnceLock::new();
    SETUP.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let source = StaticSource::from_json(
            r#"{"marketplaces": [{
                "marketplace": "acme-corp",
                "app": {"host": "https://app.example.com"},
                "api": {"id": "app-1a2b", "key": "s3cret", "host": "https://hub.acme.example"},
                "sso": {"idp": "https://hub.acme.example",
                        "x509_fingerprint": "01:06:15:89:25:7d:78:12:28:a6:69:c7:de:63:ed:74:21:f9:f5:36"}
            }]}"#,
        )
        .unwrap();
        let registry = runtime
            .block_on(Registry::builder(Arc::new(source), Arc::new(SystemClock)).build())
            .unwrap();
        let maestrano = Maestrano::builder(registry, Login, Arc::new(Events)).build();
        (runtime, maestrano)
    })
}

fuzz_target!(|data: &[u8]| {
    let (runtime, maestrano) = setup();
    let Some((&route, rest)) = data.split_first() else {
        return;
    };
    // The cookie header, then the body (or the query), split at the first NUL.
    let (cookie, body) = match rest.iter().position(|&b| b == 0) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (&rest[..0], rest),
    };
    let (method, path) = match route % 5 {
        0 | 1 => ("POST", "/maestrano/auth/saml/consume/acme-corp".to_owned()),
        2 => {
            let query: String = body.iter().map(|&b| format!("%{b:02X}")).collect();
            ("GET", format!("/maestrano/auth/saml/init/acme-corp?group_id={query}"))
        }
        3 => ("GET", "/mno-enterprise/acme-corp/saml/metadata".to_owned()),
        _ => ("POST", "/mno-enterprise/acme-corp/connec/receive".to_owned()),
    };
    let mut request = http::Request::builder().method(method).uri(path);
    if let Ok(value) = http::HeaderValue::from_bytes(cookie) {
        request = request
            .header(http::header::COOKIE, value.clone())
            .header(http::header::AUTHORIZATION, value);
    }
    let Ok(request) = request.body(axum::body::Body::from(body.to_vec())) else {
        return;
    };
    runtime.block_on(async {
        let Ok(response) = maestrano.serve(request).await else {
            panic!("a Maestrano route was given back to the app");
        };
        let status = response.status();
        let resubmission = response
            .headers()
            .contains_key(http::header::CONTENT_SECURITY_POLICY);
        let bytes = axum::body::to_bytes(response.into_body(), 4 << 20).await.unwrap();
        if resubmission {
            let page = std::str::from_utf8(&bytes).unwrap();
            assert_eq!(page.matches("<script").count(), 1, "{page}");
            assert!(page.matches("<input").count() <= 3, "{page}");
        } else if status.is_client_error() && route % 5 < 3 {
            // The SSO routes' refusals: a short generic text, never the input.
            assert!(bytes.len() < 64, "{status}: {:?}", String::from_utf8_lossy(&bytes));
        }
    });
});
