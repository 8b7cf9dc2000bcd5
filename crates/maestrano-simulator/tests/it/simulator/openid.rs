//! OpenID 2.0 logins through the simulated providers, verified by the SDK's relying party:
//! discovery, the auto-submitted positive assertion, `check_authentication` (the simulator
//! associates with no one, as its module page says), the claimed identifier, the nonce.

use std::sync::Arc;

use async_trait::async_trait;
use maestrano::adapters::ReqwestHttpClient;
use maestrano::config::DevPlatformSource;
use maestrano::openid::OpenIdError;
use maestrano::ports::{HttpClient, InMemorySingleUseStore};
use maestrano::saml::{SsoLogin, SsoOptions, SsoProtocols};
use maestrano::sso::{LoginHandler, SsoFlow, SsoFlowError};
use maestrano::{Registry, Tenant};
use maestrano_simulator::AutoSubmitForm;
use url::Url;

use super::support::*;

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

#[tokio::test]
async fn the_simulated_provider_logs_in_and_refuses_a_tampered_assertion() {
    let clock = clock();
    let sim = two(clock.clone(), &app_url()).await;
    let http: Arc<dyn HttpClient> = Arc::new(ReqwestHttpClient::new().unwrap());
    let source = DevPlatformSource::new(sim.dev_platform_settings().unwrap(), http.clone());
    let registry = Registry::builder(Arc::new(source), clock.clone())
        .default_sso_options(SsoOptions::default().with_protocols(SsoProtocols::OpenId))
        .build()
        .await
        .unwrap();
    let tenant: Tenant = registry.with(&key("acme-corp")).unwrap();
    // Associations asked for: the simulator refuses, and logins verify statelessly.
    let flow = SsoFlow::builder()
        .clock(clock)
        .store(Arc::new(InMemorySingleUseStore::new()))
        .http_client(http.clone())
        .openid_associations(true)
        .build();
    let return_to = maestrano::sso::openid_return_to(&tenant, registry.router().prefix());
    let login = || async {
        let redirect = flow
            .openid_initiate(&tenant, "198.51.100.7", &return_to, Some("/x"))
            .await
            .unwrap();
        assert!(
            !redirect.url.as_str().contains("openid.assoc_handle"),
            "{}",
            redirect.url
        );
        let page = http
            .send(
                http::Request::get(redirect.url.as_str())
                    .body(Vec::new())
                    .unwrap(),
            )
            .await
            .unwrap();
        let form = AutoSubmitForm::parse(std::str::from_utf8(page.body()).unwrap()).unwrap();
        (redirect.request_id, form)
    };

    let (id, form) = login().await;
    let received = Url::parse(&form.action).unwrap();
    let done = flow
        .openid_consume(&tenant, &received, &form.to_form_body(), Some(&id), &Keep)
        .await
        .unwrap();
    let spec = sim.marketplace(&key("acme-corp")).unwrap().spec().clone();
    assert_eq!(done.output.user.uid, spec.users[0].uid);
    assert_eq!(done.output.group.uid, spec.groups[0].uid);
    assert_eq!(done.relay_state.as_deref(), Some("/x"));

    // A value changed after signing: the provider's check_authentication says no.
    let (id, mut form) = login().await;
    let email = form
        .fields
        .iter()
        .position(|(_, v)| v == "http://openid.net/schema/contact/internet/email")
        .unwrap();
    let alias = form.fields[email].0.rsplit('.').next().unwrap().to_owned();
    let value = format!("openid.ax.value.{alias}");
    for (k, v) in &mut form.fields {
        if *k == value {
            *v = "mallory@example.com".into();
        }
    }
    let received = Url::parse(&form.action).unwrap();
    let refused = flow
        .openid_consume(&tenant, &received, &form.to_form_body(), Some(&id), &Keep)
        .await;
    assert!(
        matches!(
            refused,
            Err(SsoFlowError::OpenId(OpenIdError::SignatureInvalid))
        ),
        "{refused:?}"
    );
}
