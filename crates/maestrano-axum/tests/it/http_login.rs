//! Logins, metadata, webhooks and error statuses over HTTP, with a client that behaves as a
//! browser does with cookies: a `SameSite=Lax` cookie is left out of the IdP's cross-site
//! POST (the IdP is another site in production).

use std::sync::Arc;

use http::{Request, Response, StatusCode, header};
use maestrano::adapters::ReqwestHttpClient;
use maestrano::ports::{HttpClient, InMemorySingleUseStore, SystemClock};
use maestrano::sso::SsoFlow;
use maestrano::{MarketplaceKey, Tenant};
use maestrano_simulator::{
    AppPaths, AutoSubmitForm, DeliveryOutcome, MarketplaceSpec, SimulatorConfig, Webhook,
};

use crate::app::{self, Running, Sessions};

/// Cookies by name, each with whether it may go with a cross-site POST.
#[derive(Default)]
pub(crate) struct Browser {
    cookies: Vec<(String, String, bool)>,
}

impl Browser {
    async fn send(
        &mut self,
        cross_site: bool,
        method: &str,
        url: &str,
        body: Vec<u8>,
    ) -> Response<Vec<u8>> {
        let mut b = Request::builder().method(method).uri(url);
        let pairs: Vec<String> = self
            .cookies
            .iter()
            .filter(|(_, _, none)| !(cross_site && method == "POST") || *none)
            .map(|(k, v, _)| format!("{k}={v}"))
            .collect();
        if !pairs.is_empty() {
            b = b.header(header::COOKIE, pairs.join("; "));
        }
        if method == "POST" {
            b = b.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        }
        let http = ReqwestHttpClient::new().unwrap();
        let response = http.send(b.body(body).unwrap()).await.unwrap();
        for set in response.headers().get_all(header::SET_COOKIE) {
            let set = set.to_str().unwrap();
            let mut parts = set.split(';').map(str::trim);
            let (k, v) = parts.next().unwrap().split_once('=').unwrap();
            let none = parts.any(|p| p.eq_ignore_ascii_case("SameSite=None"));
            self.cookies.retain(|(n, _, _)| n != k);
            if !set.contains("Max-Age=0") {
                self.cookies.push((k.to_owned(), v.to_owned(), none));
            }
        }
        response
    }

    pub(crate) fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies
            .iter()
            .find(|(k, _, _)| k == name)
            .map(|(_, v, _)| v.as_str())
    }

    pub(crate) fn set_cookie(&mut self, name: &str, value: &str) {
        self.cookies.retain(|(n, _, _)| n != name);
        self.cookies
            .push((name.to_owned(), value.to_owned(), false));
    }

    /// The init route and the IdP: the IdP's auto-submitting form, not yet submitted.
    pub(crate) async fn start_login(&mut self, tenant: &Tenant) -> AutoSubmitForm {
        let init = self
            .send(false, "GET", tenant.init_url().as_str(), Vec::new())
            .await;
        assert_eq!(
            init.status(),
            StatusCode::FOUND,
            "{}",
            String::from_utf8_lossy(init.body())
        );
        let idp = init.headers()[header::LOCATION]
            .to_str()
            .unwrap()
            .to_owned();
        let page = self.send(false, "GET", &idp, Vec::new()).await;
        assert_eq!(page.status(), StatusCode::OK);
        AutoSubmitForm::parse(std::str::from_utf8(page.body()).unwrap()).unwrap()
    }

    /// Submits the IdP's form (cross-site) and, when the app resubmits it, that page's form
    /// (same-site): the app's last answer.
    pub(crate) async fn submit(&mut self, form: &AutoSubmitForm) -> Response<Vec<u8>> {
        let first = self
            .send(true, "POST", &form.action, form.to_form_body())
            .await;
        let Some(again) = resubmission(&first) else {
            return first;
        };
        let action = absolute(&form.action, &again.action);
        self.send(false, "POST", &action, again.to_form_body())
            .await
    }
}

/// The app's resubmission page, if that is what `response` is.
fn resubmission(response: &Response<Vec<u8>>) -> Option<AutoSubmitForm> {
    let html = std::str::from_utf8(response.body()).ok()?;
    let form = AutoSubmitForm::parse(html)?;
    form.field("mno_resubmitted").is_some().then_some(form)
}

fn absolute(base: &str, action: &str) -> String {
    url::Url::parse(base)
        .unwrap()
        .join(action)
        .unwrap()
        .to_string()
}

fn tenants(app: &Running) -> Vec<Tenant> {
    let keys: Vec<MarketplaceKey> = app.registry.snapshot().marketplaces().cloned().collect();
    keys.iter().map(|k| app.registry.with(k).unwrap()).collect()
}

async fn home(browser: &mut Browser, app: &Running, tenant: &Tenant) -> Response<Vec<u8>> {
    let url = app
        .app_url
        .join(&format!("/app/{}/home", tenant.marketplace()))
        .unwrap();
    browser.send(false, "GET", url.as_str(), Vec::new()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cross_site_login_is_resubmitted_once_and_signs_the_user_in_at_each_marketplace() {
    for sessions in [Sessions::Cookie, Sessions::TowerSessions] {
        cross_site_login_at_each_marketplace(sessions).await;
    }
}

async fn cross_site_login_at_each_marketplace(sessions: Sessions) {
    let app = app::start("127.0.0.1", app::two_marketplaces, None, sessions).await;
    for tenant in tenants(&app) {
        let mut browser = Browser::default();
        let init = browser
            .send(false, "GET", tenant.init_url().as_str(), Vec::new())
            .await;
        let set = init.headers()[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .to_owned();
        // The login cookie: this login's id, for this tenant's consume path only.
        assert!(set.starts_with("mno_login=_"), "{set}");
        assert!(
            set.contains(&format!("Path={}", tenant.acs_url().path())),
            "{set}"
        );
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Lax"),
            "{set}"
        );
        let idp = init.headers()[header::LOCATION]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(idp.starts_with(tenant.idp_sso_url().as_str()), "{idp}");
        let page = browser.send(false, "GET", &idp, Vec::new()).await;
        let form = AutoSubmitForm::parse(std::str::from_utf8(page.body()).unwrap()).unwrap();

        // The IdP's POST is cross-site: no cookie, so the app resubmits from its own origin.
        let first = browser
            .send(true, "POST", &form.action, form.to_form_body())
            .await;
        assert_eq!(first.status(), StatusCode::OK);
        let csp = first.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        assert!(csp.contains("form-action 'self'"), "{csp}");
        let again = resubmission(&first).expect("a resubmission page");
        assert_eq!(again.field("SAMLResponse"), form.field("SAMLResponse"));
        // Nothing was spent by the first POST: the login is still pending.
        assert!(app.state.members.lock().unwrap().is_empty());

        let action = absolute(&form.action, &again.action);
        let done = browser
            .send(false, "POST", &action, again.to_form_body())
            .await;
        assert_eq!(
            done.status(),
            StatusCode::SEE_OTHER,
            "{}",
            String::from_utf8_lossy(done.body())
        );
        assert_eq!(
            done.headers()[header::LOCATION],
            format!("/app/{}/home", tenant.marketplace()).as_str()
        );
        assert!(
            browser.cookie("mno_login").is_none(),
            "the login cookie is cleared"
        );
        let page = home(&mut browser, &app, &tenant).await;
        let text = String::from_utf8_lossy(page.body()).into_owned();
        assert_eq!(page.status(), StatusCode::OK, "{text}");
        assert!(text.starts_with("Signed in as "), "{text}");
        assert!(
            text.ends_with(&format!("at {}", tenant.marketplace())),
            "{text}"
        );
        app.state.members.lock().unwrap().clear();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_reaching_a_browser_that_started_no_login_is_refused_without_detail() {
    let app = app::start("127.0.0.1", app::two_marketplaces, None, Sessions::Cookie).await;
    let tenant = tenants(&app).remove(0);
    let mut attacker = Browser::default();
    let form = attacker.start_login(&tenant).await;

    // The victim's browser never started a login: the resubmitted POST still has no cookie.
    let mut victim = Browser::default();
    let refused = victim.submit(&form).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(refused.body(), b"login refused");
    // A victim with a login of their own in progress: their cookie names another request.
    let _ = victim.start_login(&tenant).await;
    let refused = victim.submit(&form).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(app.state.members.lock().unwrap().is_empty());

    // The attacker's own login still works once, and its replay is refused.
    let done = attacker.submit(&form).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let _ = attacker.start_login(&tenant).await;
    let replay = attacker.submit(&form).await;
    assert_eq!(replay.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.state.members.lock().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_other_routes_and_error_statuses() {
    let flow = SsoFlow::builder()
        .store(Arc::new(InMemorySingleUseStore::new()))
        .clock(Arc::new(SystemClock))
        .pending_limits(2, 100)
        .build();
    let app = app::start(
        "127.0.0.1",
        app::two_marketplaces,
        Some(flow),
        Sessions::Cookie,
    )
    .await;
    let tenant = tenants(&app).remove(0);
    let mut browser = Browser::default();
    let url = |path: &str| app.app_url.join(path).unwrap().to_string();

    let metadata = browser
        .send(
            false,
            "GET",
            &url(&format!(
                "/mno-enterprise/{}/saml/metadata",
                tenant.marketplace()
            )),
            Vec::new(),
        )
        .await;
    assert_eq!(metadata.status(), StatusCode::OK);
    assert_eq!(
        metadata.headers()[header::CONTENT_TYPE],
        "application/samlmetadata+xml"
    );
    let xml = String::from_utf8_lossy(metadata.body()).into_owned();
    assert!(xml.contains(tenant.acs_url().as_str()), "{xml}");
    let unknown = browser
        .send(
            false,
            "GET",
            &url("/mno-enterprise/nowhere/saml/metadata"),
            Vec::new(),
        )
        .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);

    // Everything else is the app's.
    let own = browser.send(false, "GET", &url("/"), Vec::new()).await;
    assert_eq!(own.body(), b"the app's own home");
    let own = browser
        .send(false, "GET", &url("/app/nowhere/home"), Vec::new())
        .await;
    assert_eq!(
        own.status(),
        StatusCode::NOT_FOUND,
        "CurrentTenant refuses an unknown tenant"
    );

    // An unknown marketplace on a prefixed route looks like every unauthenticated refusal.
    let hidden = browser
        .send(
            false,
            "GET",
            &url("/mno-enterprise/nowhere/saml/initialize"),
            Vec::new(),
        )
        .await;
    assert_eq!(hidden.status(), StatusCode::UNAUTHORIZED);

    // A malformed form is 400, with no detail, whether a login was started or not (then it
    // is refused before any resubmission).
    let mut fresh = Browser::default();
    for started in [false, true] {
        if started {
            let _ = fresh.start_login(&tenant).await;
        }
        let form = b"SAMLResponse=a&SAMLResponse=b".to_vec();
        let bad = fresh
            .send(false, "POST", tenant.acs_url().as_str(), form)
            .await;
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST, "started: {started}");
        assert_eq!(bad.body(), b"bad request");
    }

    // Past the client's pending-login bound (2; `fresh` holds one): 429 with Retry-After.
    let mut flood = Browser::default();
    for _ in 0..1 {
        let ok = flood
            .send(false, "GET", tenant.init_url().as_str(), Vec::new())
            .await;
        assert_eq!(ok.status(), StatusCode::FOUND);
    }
    let refused = flood
        .send(false, "GET", tenant.init_url().as_str(), Vec::new())
        .await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().contains_key(header::RETRY_AFTER));
}

/// Issue 16: a tenant whose configured paths are the SDK's prefixed routes is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_configured_with_the_prefixed_routes_logs_in_through_them() {
    let config = |clock, app: &url::Url| {
        let key = MarketplaceKey::new("acme-corp").unwrap();
        SimulatorConfig::new(clock).marketplace(
            MarketplaceSpec::demo(key.clone(), app.clone(), 1)
                .with_paths(AppPaths::prefixed("/mno-enterprise", &key)),
        )
    };
    let app = app::start("127.0.0.1", config, None, Sessions::Cookie).await;
    let tenant = tenants(&app).remove(0);
    assert_eq!(
        tenant.acs_url().path(),
        "/mno-enterprise/acme-corp/saml/consume"
    );
    assert!(app.registry.snapshot().refused().is_empty());
    let mut browser = Browser::default();
    let form = browser.start_login(&tenant).await;
    let done = browser.submit(&form).await;
    assert_eq!(
        done.status(),
        StatusCode::SEE_OTHER,
        "{}",
        String::from_utf8_lossy(done.body())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_reach_the_sink_and_end_the_users_session() {
    let app = app::start("127.0.0.1", app::two_marketplaces, None, Sessions::Cookie).await;
    let tenant = tenants(&app).remove(0);
    let mut browser = Browser::default();
    let form = browser.start_login(&tenant).await;
    assert_eq!(browser.submit(&form).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        home(&mut browser, &app, &tenant).await.status(),
        StatusCode::OK
    );

    let session = app
        .state
        .sessions
        .lock()
        .unwrap()
        .values()
        .next()
        .cloned()
        .unwrap();
    let handle = app.sim.marketplace(tenant.marketplace()).unwrap();
    let report = handle
        .deliver(Webhook::user_removed(
            session.group.clone(),
            session.user.clone(),
        ))
        .await;
    assert!(
        matches!(report.outcome, DeliveryOutcome::Delivered { status: 200 }),
        "{report:?}"
    );
    assert_eq!(
        *app.state.events.lock().unwrap(),
        ["user_removed_from_group"]
    );
    assert_eq!(
        home(&mut browser, &app, &tenant).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

/// The app's OpenID init route of `tenant`.
fn openid_init(app: &Running, tenant: &Tenant) -> String {
    format!(
        "{}{}/{}/openid/initialize",
        app.app_url.as_str().trim_end_matches('/'),
        app.registry.router().prefix(),
        tenant.marketplace()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_openid_login_is_resubmitted_once_and_signs_the_user_in_at_each_marketplace() {
    let app = app::start("127.0.0.1", app::two_marketplaces, None, Sessions::Cookie).await;
    for tenant in tenants(&app) {
        let mut browser = Browser::default();
        let init = browser
            .send(false, "GET", &openid_init(&app, &tenant), Vec::new())
            .await;
        assert_eq!(
            init.status(),
            StatusCode::FOUND,
            "{}",
            String::from_utf8_lossy(init.body())
        );
        let set = init.headers()[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .to_owned();
        let return_to = maestrano::sso::openid_return_to(&tenant, app.registry.router().prefix());
        // The login cookie is scoped to this tenant's OpenID return route.
        assert!(set.starts_with("mno_login=_"), "{set}");
        assert!(
            set.contains(&format!("Path={};", return_to.path())),
            "{set}"
        );
        let provider = init.headers()[header::LOCATION]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            provider.starts_with(maestrano::sso::openid_identifier(&tenant).as_str()),
            "{provider}"
        );
        let page = browser.send(false, "GET", &provider, Vec::new()).await;
        let form = AutoSubmitForm::parse(std::str::from_utf8(page.body()).unwrap()).unwrap();
        assert_eq!(form.method, "post");
        assert!(
            form.action.starts_with(return_to.as_str()),
            "{}",
            form.action
        );

        // Cross-site POST without the cookie: resubmitted with the openid fields only.
        let first = browser
            .send(true, "POST", &form.action, form.to_form_body())
            .await;
        let again = resubmission(&first).expect("a resubmission page");
        assert_eq!(again.field("openid.sig"), form.field("openid.sig"));
        assert!(app.state.members.lock().unwrap().is_empty());
        let action = absolute(&form.action, &again.action);
        let done = browser
            .send(false, "POST", &action, again.to_form_body())
            .await;
        assert_eq!(
            done.status(),
            StatusCode::SEE_OTHER,
            "{}",
            String::from_utf8_lossy(done.body())
        );
        assert!(
            browser.cookie("mno_login").is_none(),
            "the login cookie is cleared"
        );
        let page = home(&mut browser, &app, &tenant).await;
        let text = String::from_utf8_lossy(page.body()).into_owned();
        assert!(text.starts_with("Signed in as "), "{text}");

        // The same assertion in another browser with a login of its own: refused.
        let mut other = Browser::default();
        let _ = other
            .send(false, "GET", &openid_init(&app, &tenant), Vec::new())
            .await;
        let replay = other.submit(&form).await;
        assert_eq!(replay.status(), StatusCode::FORBIDDEN);
        // A form with an openid field twice is refused, not reflected in a resubmission.
        let twice = Browser::default()
            .send(
                true,
                "POST",
                &form.action,
                b"openid.mode=id_res&openid.mode=cancel".to_vec(),
            )
            .await;
        assert_eq!(twice.status(), StatusCode::BAD_REQUEST);
        assert!(resubmission(&twice).is_none());
        // A GET to the return route from a browser that started no login.
        let stray = Browser::default()
            .send(false, "GET", &form.action, Vec::new())
            .await;
        assert_eq!(stray.status(), StatusCode::FORBIDDEN);
        assert_eq!(app.state.members.lock().unwrap().len(), 1);
        app.state.members.lock().unwrap().clear();
    }
}
