//! The SDK on a server that is not axum: hyper alone, serving the same routes through the
//! framework-agnostic handlers (`Registry::router` to tell which endpoint a request addresses,
//! `SsoFlow` for the two login routes, `WebhookHandler` for the marketplace's calls).
//!
//! ```text
//! cargo run -p maestrano-simulator --example hyper_app
//! ```
//!
//! It starts the simulator, serves the app with hyper, logs one user in at each marketplace
//! through the simulated IdP, has the marketplace remove that user from its company through a
//! webhook, and prints one line per step (the SDK call behind it in brackets).
//!
//! Its login cookie is `SameSite=Lax`: the simulator's IdP is on the app's own site
//! (`127.0.0.1`), where a browser sends it with the IdP's POST. With an IdP on another site, as
//! in production, an app resubmits the form from its own origin first, as `maestrano-axum`
//! does, or sets the cookie `SameSite=None; Secure` over HTTPS.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::{Bytes, Incoming};
use maestrano::adapters::ReqwestHttpClient;
use maestrano::config::DevPlatformSource;
use maestrano::ports::{Clock, HttpClient, SystemClock};
use maestrano::routes::EndpointKind;
use maestrano::saml::SsoLogin;
use maestrano::sso::{LoginHandler, SsoFlow};
use maestrano::webhook::{WebhookEvent, WebhookHandler, WebhookSink};
use maestrano::{GroupUid, MarketplaceKey, Registry, UserUid, async_trait};
use maestrano_simulator::{AutoSubmitForm, DeliveryOutcome, Simulator, SimulatorConfig, Webhook};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Who is signed in: (marketplace, user, group) by login.
type Members = Arc<Mutex<Vec<(MarketplaceKey, UserUid, GroupUid)>>>;

struct Login(Members);

#[async_trait]
impl LoginHandler for Login {
    type Output = String;

    async fn on_login(&self, login: &SsoLogin) -> Result<String, BoxError> {
        let member = (
            login.marketplace.clone(),
            login.user.uid.clone(),
            login.group.uid.clone(),
        );
        self.0.lock().map_err(|_| "poisoned")?.push(member);
        Ok(format!("Welcome, {}", login.user.first_name))
    }
}

struct Events(Members);

#[async_trait]
impl WebhookSink for Events {
    async fn on_event(&self, event: WebhookEvent) -> Result<(), BoxError> {
        if let WebhookEvent::UserRemovedFromGroup {
            marketplace,
            group_uid,
            user_uid,
        } = event
        {
            let mut members = self.0.lock().map_err(|_| "poisoned")?;
            members.retain(|(m, u, g)| !(m == &marketplace && u == &user_uid && g == &group_uid));
        }
        Ok(())
    }
}

struct App {
    registry: Registry,
    flow: SsoFlow,
    webhooks: WebhookHandler,
    login: Login,
}

const LOGIN_COOKIE: &str = "hyper_login";

fn reply(status: u16, body: impl Into<Bytes>) -> http::Response<Full<Bytes>> {
    let mut response = http::Response::new(Full::new(body.into()));
    *response.status_mut() = http::StatusCode::from_u16(status).unwrap_or_default();
    response
}

impl App {
    /// One request: the SDK's router says which endpoint it is; hyper's body is read (bounded)
    /// into the `http::Request<Vec<u8>>` the handlers take.
    async fn handle(
        &self,
        request: http::Request<Incoming>,
        client: std::net::IpAddr,
    ) -> http::Response<Full<Bytes>> {
        let (parts, body) = request.into_parts();
        let Ok(body) = Limited::new(body, 10 * 1024 * 1024).collect().await else {
            return reply(413, "too large");
        };
        let request = http::Request::from_parts(parts, body.to_bytes().to_vec());
        let snapshot = self.registry.snapshot();
        let endpoint = match snapshot.router().match_request(&request) {
            Ok(endpoint) => endpoint,
            // Not a login route: the webhook handler answers, every refusal alike.
            Err(_) => return self.webhook(request).await,
        };
        let Ok(tenant) = snapshot.get(&endpoint.marketplace) else {
            return reply(404, "not found");
        };
        match endpoint.kind {
            EndpointKind::SamlInitialize => {
                let query = request.uri().query().unwrap_or("");
                let user: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
                    .filter(|(k, _)| k == maestrano_simulator::SIM_USER_PARAM)
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect();
                let extra: Vec<(&str, &str)> =
                    user.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                match self
                    .flow
                    .initiate(&tenant, &client.to_string(), None, &extra)
                    .await
                {
                    Ok(redirect) => {
                        let mut response = reply(302, "");
                        let cookie = format!(
                            "{LOGIN_COOKIE}={}; Path={}; HttpOnly; SameSite=Lax",
                            redirect.request_id,
                            tenant.acs_url().path()
                        );
                        for (name, value) in [
                            (http::header::LOCATION, redirect.url.to_string()),
                            (http::header::SET_COOKIE, cookie),
                        ] {
                            if let Ok(value) = http::HeaderValue::from_str(&value) {
                                response.headers_mut().insert(name, value);
                            }
                        }
                        response
                    }
                    Err(e) if e.class() == "too_many_pending_logins" => reply(429, "try later"),
                    Err(_) => reply(503, "try later"),
                }
            }
            EndpointKind::SamlConsume => {
                let Some(bound) = cookie(&request, LOGIN_COOKIE) else {
                    return reply(403, "no login was started in this browser");
                };
                match self
                    .flow
                    .consume(&tenant, request.body(), Some(&bound), &self.login)
                    .await
                {
                    Ok(done) => reply(200, done.output),
                    Err(e) => {
                        eprintln!("login refused ({})", e.class());
                        reply(403, "login refused")
                    }
                }
            }
            _ => self.webhook(request).await,
        }
    }

    async fn webhook(&self, request: http::Request<Vec<u8>>) -> http::Response<Full<Bytes>> {
        self.webhooks
            .handle(request)
            .await
            .map(|body| Full::new(Bytes::from(body)))
    }
}

fn cookie(request: &http::Request<Vec<u8>>, name: &str) -> Option<String> {
    request
        .headers()
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// Serves `app` with hyper on `listener`, one connection per task.
async fn serve(app: Arc<App>, listener: tokio::net::TcpListener) {
    while let Ok((stream, peer)) = listener.accept().await {
        let app = app.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let app = app.clone();
                async move { Ok::<_, Infallible>(app.handle(request, peer.ip()).await) }
            });
            let io = hyper_util::rt::TokioIo::new(stream);
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, service)
                .await;
        });
    }
}

/// Runs the whole example, one line per step to `say`; `Err` at the first step that fails.
pub(crate) async fn run(mut say: impl FnMut(String)) -> Result<(), BoxError> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let http = Arc::new(ReqwestHttpClient::new()?);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let app_url = url::Url::parse(&format!("http://{}", listener.local_addr()?))?;
    let sim = Simulator::start(SimulatorConfig::two_marketplaces(clock.clone(), &app_url)).await?;
    let source = DevPlatformSource::new(sim.dev_platform_settings()?, http.clone());
    let registry = Registry::builder(Arc::new(source), clock).build().await?;
    say(format!(
        "configured {} marketplaces [Registry::builder(DevPlatformSource)]",
        registry.snapshot().marketplaces().len()
    ));
    let members = Members::default();
    let app = Arc::new(App {
        flow: SsoFlow::builder().registry(registry.clone()).build(),
        webhooks: WebhookHandler::new(registry.clone(), Arc::new(Events(members.clone()))),
        login: Login(members.clone()),
        registry: registry.clone(),
    });
    let server = tokio::spawn(serve(app, listener));

    let keys: Vec<MarketplaceKey> = registry.snapshot().marketplaces().cloned().collect();
    for key in &keys {
        let tenant = registry.with(key)?;
        let mut cookies: HashMap<String, String> = HashMap::new();
        let init = http
            .send(http::Request::get(tenant.init_url().as_str()).body(Vec::new())?)
            .await?;
        if let Some((name, value)) = init
            .headers()
            .get(http::header::SET_COOKIE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .and_then(|v| v.split_once('='))
        {
            cookies.insert(name.to_owned(), value.to_owned());
        }
        let idp = init
            .headers()
            .get(http::header::LOCATION)
            .ok_or("the init route did not redirect")?
            .to_str()?;
        let page = http.send(http::Request::get(idp).body(Vec::new())?).await?;
        let form = AutoSubmitForm::parse(std::str::from_utf8(page.body())?)
            .ok_or("the IdP page has no form")?;
        let jar: Vec<String> = cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let done = http
            .send(
                http::Request::post(&form.action)
                    .header(
                        http::header::CONTENT_TYPE,
                        "application/x-www-form-urlencoded",
                    )
                    .header(http::header::COOKIE, jar.join("; "))
                    .body(form.to_form_body())?,
            )
            .await?;
        let text = String::from_utf8_lossy(done.body()).into_owned();
        if done.status() != 200 || !text.starts_with("Welcome, ") {
            return Err(format!("login at {key} answered {}: {text}", done.status()).into());
        }
        say(format!(
            "login at {key} through hyper: \"{text}\" [SsoFlow::initiate, SsoFlow::consume]"
        ));
    }

    let (marketplace, user, group) = members
        .lock()
        .map_err(|_| "poisoned")?
        .first()
        .cloned()
        .ok_or("nobody signed in")?;
    let report = sim
        .marketplace(&marketplace)?
        .deliver(Webhook::user_removed(group.clone(), user.clone()))
        .await;
    let still = members
        .lock()
        .map_err(|_| "poisoned")?
        .iter()
        .any(|(m, u, g)| m == &marketplace && u == &user && g == &group);
    if !matches!(report.outcome, DeliveryOutcome::Delivered { .. }) || still {
        return Err(format!("the webhook was not applied: {report:?}").into());
    }
    say(format!(
        "webhook from {marketplace}: {user} removed from {group} [WebhookHandler::handle]"
    ));
    server.abort();
    sim.shutdown().await;
    Ok(())
}

#[allow(dead_code)] // the test runs `run` alone
#[tokio::main]
async fn main() -> Result<(), BoxError> {
    run(|line| println!("✔ {line}")).await
}
