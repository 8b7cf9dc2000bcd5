//! A small app on `maestrano-axum`, as a user would write it, with its session either in a
//! cookie of its own (`SameSite=Lax`, sessions in a map; the SDK's `LoginHandler`) or in
//! tower-sessions (`SameSite=Strict` by default; `LoginWithRequest` writes the request's
//! session). The sink removes a member who left a company, and the app's own page reads its
//! tenant with `CurrentTenant` and re-checks the membership on every load.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use maestrano::adapters::ReqwestHttpClient;
use maestrano::config::DevPlatformSource;
use maestrano::ports::{Clock, HttpClient, OsRandom, RandomSource, SystemClock};
use maestrano::saml::{SsoLogin, SsoOptions, SsoProtocols};
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
    /// (marketplace, user, group) of every member who logged in and has not left.
    pub(crate) members: Mutex<Vec<(MarketplaceKey, UserUid, GroupUid)>>,
}

impl State {
    fn joined(&self, login: &SsoLogin) {
        self.members.lock().unwrap().push((
            login.marketplace.clone(),
            login.user.uid.clone(),
            login.group.uid.clone(),
        ));
    }

    fn is_member(&self, s: &AppSession) -> bool {
        self.members
            .lock()
            .unwrap()
            .iter()
            .any(|(m, u, g)| m == &s.marketplace && u == &s.user && g == &s.group)
    }
}

/// Where the app keeps its sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sessions {
    /// A cookie of its own and a map.
    Cookie,
    /// tower-sessions, with its default cookie (`SameSite=Strict`).
    TowerSessions,
}

fn app_session(login: &SsoLogin) -> AppSession {
    AppSession {
        marketplace: login.marketplace.clone(),
        user: login.user.uid.clone(),
        group: login.group.uid.clone(),
        first_name: login.user.first_name.clone(),
    }
}

fn signed_in(
    login: &SsoLogin,
) -> (
    axum::http::StatusCode,
    [(axum::http::HeaderName, String); 1],
) {
    (
        axum::http::StatusCode::SEE_OTHER,
        [(
            axum::http::header::LOCATION,
            format!("/app/{}/home", login.marketplace),
        )],
    )
}

/// The tower-sessions app's login: the request's session, its id cycled, holds the member.
struct SessionLogin(Arc<State>);

const WHO: &str = "who";

#[async_trait]
impl maestrano_axum::LoginWithRequest for SessionLogin {
    type Output = Response;

    async fn on_login(
        &self,
        login: &SsoLogin,
        request: &axum::http::request::Parts,
    ) -> Result<Response, BoxError> {
        let session = request
            .extensions
            .get::<tower_sessions::Session>()
            .cloned()
            .ok_or("no tower-sessions layer")?;
        session.cycle_id().await?;
        let s = app_session(login);
        let who = (
            s.marketplace.to_string(),
            s.user.to_string(),
            s.group.to_string(),
            s.first_name.clone(),
        );
        session.insert(WHO, who).await?;
        self.0.joined(login);
        Ok(signed_in(login).into_response())
    }
}

struct Login(Arc<State>);

#[async_trait]
impl LoginHandler for Login {
    type Output = Response;

    async fn on_login(&self, login: &SsoLogin) -> Result<Response, BoxError> {
        let mut id = [0u8; 16];
        OsRandom.fill(&mut id)?;
        let id: String = id.iter().map(|b| format!("{b:02x}")).collect();
        self.0
            .sessions
            .lock()
            .unwrap()
            .insert(id.clone(), app_session(login));
        self.0.joined(login);
        let cookie = format!("{SESSION_COOKIE}={id}; Path=/; HttpOnly; SameSite=Lax");
        Ok(([(axum::http::header::SET_COOKIE, cookie)], signed_in(login)).into_response())
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
            self.0
                .members
                .lock()
                .unwrap()
                .retain(|(m, u, g)| !(m == marketplace && g == group_uid && u == user_uid));
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

/// The app's own page: who is signed in, the membership re-checked on every load.
async fn home(
    CurrentTenant(tenant): CurrentTenant,
    axum::extract::State(state): axum::extract::State<Arc<State>>,
    request: Request,
) -> Response {
    let session = match request.extensions().get::<tower_sessions::Session>() {
        Some(session) => session
            .get::<(String, String, String, String)>(WHO)
            .await
            .ok()
            .flatten()
            .map(|(m, u, g, first_name)| AppSession {
                marketplace: MarketplaceKey::new(m).unwrap(),
                user: UserUid::new(u).unwrap(),
                group: GroupUid::new(g).unwrap(),
                first_name,
            }),
        None => cookie(&request, SESSION_COOKIE)
            .and_then(|id| state.sessions.lock().unwrap().get(&id).cloned()),
    };
    let session = session
        .filter(|s| &s.marketplace == tenant.marketplace())
        .filter(|s| state.is_member(s));
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
    sessions: Sessions,
) -> Running {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let http: Arc<dyn HttpClient> = Arc::new(ReqwestHttpClient::new().unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app_url = url::Url::parse(&format!("http://{app_host}:{port}")).unwrap();
    let sim = Simulator::start(config(clock.clone(), &app_url))
        .await
        .unwrap();
    let source = DevPlatformSource::new(sim.dev_platform_settings().unwrap(), http.clone());
    // Both login protocols, as the simulator serves both.
    let registry = Registry::builder(Arc::new(source), clock)
        .default_sso_options(SsoOptions::default().with_protocols(SsoProtocols::Both))
        .build()
        .await
        .unwrap();
    let state = Arc::new(State::default());
    let sink = Arc::new(Events(state.clone()));
    let mut builder = match sessions {
        Sessions::Cookie => Maestrano::builder(registry.clone(), Login(state.clone()), sink),
        Sessions::TowerSessions => {
            Maestrano::builder_with_request(registry.clone(), SessionLogin(state.clone()), sink)
        }
    }
    .forward_init_param(maestrano_simulator::SIM_USER_PARAM);
    // The OpenID routes reach the provider through the flow's HTTP client.
    let flow = flow.unwrap_or_else(|| {
        SsoFlow::builder()
            .registry(registry.clone())
            .http_client(http)
            .build()
    });
    builder = builder.sso_flow(flow);
    let maestrano = builder.build();
    let mut app = axum::Router::new()
        .route("/", axum::routing::get(|| async { "the app's own home" }))
        .route("/app/{marketplace}/home", axum::routing::get(home))
        .with_state(state.clone())
        .layer(maestrano.layer());
    if sessions == Sessions::TowerSessions {
        // Outside the Maestrano layer, so that the consume route sees the request's session.
        let store = tower_sessions::MemoryStore::default();
        app = app.layer(tower_sessions::SessionManagerLayer::new(store).with_secure(false));
    }
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
