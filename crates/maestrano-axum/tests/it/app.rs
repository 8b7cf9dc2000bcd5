//! A small app on `maestrano-axum`, as a user would write it: the login handler starts the
//! app's own session (a `SameSite=Lax` cookie), the sink ends the sessions of a user who left
//! a company, and one page of its own reads its tenant with `CurrentTenant`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use maestrano::adapters::ReqwestHttpClient;
use maestrano::config::DevPlatformSource;
use maestrano::ports::{Clock, HttpClient, OsRandom, RandomSource, SystemClock};
use maestrano::saml::SsoLogin;
use maestrano::sso::{LoginHandler, SsoFlow};
use maestrano::webhook::{WebhookEvent, WebhookSink};
use maestrano::{GroupUid, MarketplaceKey, Registry, UserUid, async_trait};
use maestrano_axum::{CurrentTenant, Maestrano};
use maestrano_simulator::{Simulator, SimulatorConfig};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

pub(crate) const SESSION_COOKIE: &str = "app_session";

#[derive(Debug, Clone)]
pub(crate) struct AppSession {
    pub(crate) marketplace: MarketplaceKey,
    pub(crate) user: UserUid,
    pub(crate) group: GroupUid,
    pub(crate) first_name: String,
}

#[derive(Default)]
pub(crate) struct State {
    pub(crate) sessions: Mutex<HashMap<String, AppSession>>,
    pub(crate) events: Mutex<Vec<String>>,
}

struct Login(Arc<State>);

#[async_trait]
impl LoginHandler for Login {
    type Output = Response;

    async fn on_login(&self, login: &SsoLogin) -> Result<Response, BoxError> {
        let mut id = [0u8; 16];
        OsRandom.fill(&mut id)?;
        let id: String = id.iter().map(|b| format!("{b:02x}")).collect();
        self.0.sessions.lock().unwrap().insert(
            id.clone(),
            AppSession {
                marketplace: login.marketplace.clone(),
                user: login.user.uid.clone(),
                group: login.group.uid.clone(),
                first_name: login.user.first_name.clone(),
            },
        );
        Ok((
            axum::http::StatusCode::SEE_OTHER,
            [
                (
                    axum::http::header::LOCATION,
                    format!("/app/{}/home", login.marketplace),
                ),
                (
                    axum::http::header::SET_COOKIE,
                    format!("{SESSION_COOKIE}={id}; Path=/; HttpOnly; SameSite=Lax"),
                ),
            ],
        )
            .into_response())
    }
}

struct Events(Arc<State>);

#[async_trait]
impl WebhookSink for Events {
    async fn on_event(&self, event: WebhookEvent) -> Result<(), BoxError> {
        self.0.events.lock().unwrap().push(event.name().to_owned());
        if let WebhookEvent::UserRemovedFromGroup {
            marketplace,
            group_uid,
            user_uid,
        } = &event
        {
            self.0.sessions.lock().unwrap().retain(|_, s| {
                !(&s.marketplace == marketplace && &s.group == group_uid && &s.user == user_uid)
            });
        }
        Ok(())
    }
}

fn cookie(request: &Request, name: &str) -> Option<String> {
    request
        .headers()
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// The app's own page: who is signed in, re-checked on every load.
async fn home(
    CurrentTenant(tenant): CurrentTenant,
    axum::extract::State(state): axum::extract::State<Arc<State>>,
    request: Request,
) -> Response {
    let session = cookie(&request, SESSION_COOKIE)
        .and_then(|id| state.sessions.lock().unwrap().get(&id).cloned())
        .filter(|s| &s.marketplace == tenant.marketplace());
    match session {
        Some(s) => format!("Signed in as {} at {}", s.first_name, s.marketplace).into_response(),
        None => (axum::http::StatusCode::UNAUTHORIZED, "Signed out").into_response(),
    }
}

pub(crate) struct Running {
    pub(crate) sim: Simulator,
    pub(crate) registry: Registry,
    pub(crate) state: Arc<State>,
    pub(crate) app_url: url::Url,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// The simulator's two marketplaces and the app, on `app_host` (`127.0.0.1` or `localhost`,
/// the app listening on 127.0.0.1 either way); `config` adjusts the simulator and `flow`, when
/// given, replaces the default SSO flow.
pub(crate) async fn start(
    app_host: &str,
    config: impl FnOnce(Arc<dyn Clock>, &url::Url) -> SimulatorConfig,
    flow: Option<SsoFlow>,
) -> Running {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let http: Arc<dyn HttpClient> = Arc::new(ReqwestHttpClient::new().unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app_url = url::Url::parse(&format!("http://{app_host}:{port}")).unwrap();
    let sim = Simulator::start(config(clock.clone(), &app_url))
        .await
        .unwrap();
    let source = DevPlatformSource::new(sim.dev_platform_settings().unwrap(), http);
    let registry = Registry::builder(Arc::new(source), clock)
        .build()
        .await
        .unwrap();
    let state = Arc::new(State::default());
    let mut builder = Maestrano::builder(
        registry.clone(),
        Login(state.clone()),
        Arc::new(Events(state.clone())),
    )
    .forward_init_param(maestrano_simulator::SIM_USER_PARAM);
    if let Some(flow) = flow {
        builder = builder.sso_flow(flow);
    }
    let maestrano = builder.build();
    let app = axum::Router::new()
        .route("/", axum::routing::get(|| async { "the app's own home" }))
        .route("/app/{marketplace}/home", axum::routing::get(home))
        .with_state(state.clone())
        .layer(maestrano.layer());
    let server = tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });
    Running {
        sim,
        registry,
        state,
        app_url,
        server,
    }
}

/// The default: the simulator's two demo marketplaces.
pub(crate) fn two_marketplaces(clock: Arc<dyn Clock>, app: &url::Url) -> SimulatorConfig {
    SimulatorConfig::two_marketplaces(clock, app)
}
