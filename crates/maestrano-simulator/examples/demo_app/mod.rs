//! A small multi-tenant application built with the SDK, shared by the `quickstart` and
//! `axum_app` examples and by the quickstart's integration test.
//!
//! It keeps its own records (users, organizations, memberships, invoices) in memory, scoped
//! to the marketplace they came from, and the identity map in SQLite (the embedded default).
//! It serves the SSO routes through [`SsoFlow`] and every webhook through
//! [`WebhookHandler`], on any path the SDK's router knows.
#![allow(dead_code)] // each example uses a different part

pub(crate) mod scenario;

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use maestrano::api::AccountClient;
use maestrano::api::{Money, NewBill};
use maestrano::connec::{ConnecClient, Entity};
use maestrano::idmap::{ConnectedObject, RemoteUrls};
use maestrano::idmap::{IdMapStore, LocalRef, Realm, RemoteRef};
use maestrano::ports::InMemorySingleUseStore;
use maestrano::ports::{Clock, HttpClient, OsRandom, RandomSource};
use maestrano::routes::EndpointKind;
use maestrano::saml::{IdentityMode, SsoLogin};
use maestrano::sso::{LoginHandler, SsoFlow, SsoFlowError, SsoSession};
use maestrano::webhook::{Delivery, DeliveryLedger, WebhookEvent, WebhookHandler, WebhookSink};
use maestrano::{GroupUid, MarketplaceKey, Registry, UserUid};

/// The cookie holding the app's session id.
pub(crate) const SESSION_COOKIE: &str = "demo_session";

/// The cookie binding a login in progress to the browser that started it (HTTPS only).
const LOGIN_COOKIE: &str = "demo_login";

/// A user of the app, in one marketplace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct User {
    /// The uid the app records (virtual by default: one account per user and company).
    pub uid: UserUid,
    /// The email the app records.
    pub email: String,
    /// The display name.
    pub name: String,
}

/// A customer organization, in one marketplace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Organization {
    /// The group it is on the marketplace.
    pub group: GroupUid,
    /// Its name.
    pub name: String,
    /// The currency it is billed in.
    pub currency: String,
}

/// An invoice the app issued, synchronised with Connec!.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Invoice {
    /// The app's id.
    pub id: u64,
    /// The marketplace of its organization.
    pub marketplace: MarketplaceKey,
    /// Its organization.
    pub group: GroupUid,
    /// Amount in minor units.
    pub amount_cents: i64,
    /// Currency.
    pub currency: String,
    /// Status, updated from Connec! notifications.
    pub status: String,
}

impl ConnectedObject for Invoice {
    fn class_name(&self) -> &str {
        "Invoice"
    }

    fn local_id(&self) -> Cow<'_, str> {
        self.id.to_string().into()
    }
}

/// The app's records, every key scoped by marketplace.
#[derive(Debug, Default)]
pub(crate) struct Db {
    /// Users by (marketplace, uid).
    pub users: BTreeMap<(MarketplaceKey, UserUid), User>,
    /// Organizations by (marketplace, group).
    pub organizations: BTreeMap<(MarketplaceKey, GroupUid), Organization>,
    /// Memberships: (marketplace, user, group, role).
    pub memberships: BTreeSet<(MarketplaceKey, UserUid, GroupUid, String)>,
    /// Invoices by id.
    pub invoices: BTreeMap<u64, Invoice>,
    /// How many entity versions notifications applied (to check exactly-once delivery).
    pub applied_notifications: u64,
}

#[derive(Debug, Default, Clone)]
struct AppSession {
    marketplace: Option<MarketplaceKey>,
    user: Option<UserUid>,
    sso: Option<SsoSession>,
}

struct Inner {
    registry: Registry,
    http: Arc<dyn HttpClient>,
    clock: Arc<dyn Clock>,
    id_map: Arc<dyn IdMapStore>,
    flow: SsoFlow,
    webhooks: WebhookHandler,
    db: Arc<Mutex<Db>>,
    sessions: Mutex<HashMap<String, AppSession>>,
    random: OsRandom,
}

/// The application. Cheap to clone.
#[derive(Clone)]
pub(crate) struct DemoApp {
    inner: Arc<Inner>,
}

/// The app's side of logins: find or create the user, the organization and the membership.
struct Provisioner {
    db: Arc<Mutex<Db>>,
    mode: IdentityMode,
}

#[async_trait]
impl LoginHandler for Provisioner {
    type Output = UserUid;

    async fn on_login(
        &self,
        login: &SsoLogin,
    ) -> Result<UserUid, Box<dyn std::error::Error + Send + Sync>> {
        let m = login.marketplace.clone();
        let uid = login.user.uid_for(self.mode).clone();
        let mut db = self.db.lock().unwrap_or_else(|e| e.into_inner());
        db.users
            .entry((m.clone(), uid.clone()))
            .or_insert_with(|| User {
                uid: uid.clone(),
                email: login.user.email_for(self.mode).to_owned(),
                name: format!("{} {}", login.user.first_name, login.user.last_name),
            });
        db.organizations
            .entry((m.clone(), login.group.uid.clone()))
            .or_insert_with(|| Organization {
                group: login.group.uid.clone(),
                name: login.group.name.clone().unwrap_or_default(),
                currency: login.group.currency.clone().unwrap_or_else(|| "AUD".into()),
            });
        db.memberships.insert((
            m,
            uid.clone(),
            login.group.uid.clone(),
            login.membership.role.clone(),
        ));
        Ok(uid)
    }
}

/// The client every login of the demo comes from: it serves one machine on loopback. A
/// real app passes the browser's IP address (see `SsoFlow::initiate`).
const DEMO_CLIENT: &str = "127.0.0.1";

/// The app's side of webhooks.
struct Applier {
    db: Arc<Mutex<Db>>,
    id_map: Arc<dyn IdMapStore>,
    ledger: DeliveryLedger,
    clock: Arc<dyn Clock>,
}

#[async_trait]
impl WebhookSink for Applier {
    async fn on_event(
        &self,
        event: WebhookEvent,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        match event {
            WebhookEvent::GroupDestroyed {
                marketplace,
                group_uid,
            } => {
                let mut db = self.db.lock().unwrap_or_else(|e| e.into_inner());
                db.organizations
                    .remove(&(marketplace.clone(), group_uid.clone()));
                db.memberships
                    .retain(|(m, _, g, _)| !(m == &marketplace && g == &group_uid));
            }
            WebhookEvent::UserRemovedFromGroup {
                marketplace,
                group_uid,
                user_uid,
            } => {
                let mut db = self.db.lock().unwrap_or_else(|e| e.into_inner());
                // The app records virtual uids (`usr-1.cld-1`) or real ones: drop either.
                let virtual_uid = maestrano::saml::mask_uid(&user_uid, &group_uid)?;
                db.memberships.retain(|(m, u, g, _)| {
                    !(m == &marketplace && g == &group_uid && (u == &user_uid || u == &virtual_uid))
                });
            }
            WebhookEvent::ConnecNotification {
                marketplace,
                notification,
            } => {
                for (kind, entity) in notification.entities() {
                    if kind != "invoices" {
                        continue;
                    }
                    // Claimed before applying: a retry racing this delivery waits (503).
                    let claim = match self
                        .ledger
                        .claim(&marketplace, kind, entity, self.clock.now())
                        .await?
                    {
                        Delivery::Apply(claim) => claim,
                        Delivery::Busy(busy) => return Err(Box::new(busy)),
                        Delivery::AlreadyApplied | Delivery::Stale | Delivery::Untracked => {
                            continue;
                        }
                    };
                    let (Some(group), Some(connec_id)) = (entity.group_id(), entity.connec_id())
                    else {
                        claim.release().await?;
                        continue;
                    };
                    let remote = RemoteRef::new(
                        Realm::new(marketplace.as_str(), group)?,
                        "invoices",
                        connec_id,
                    )?;
                    let Some(link) = self.id_map.find_remote(&remote).await? else {
                        claim.release().await?;
                        continue;
                    };
                    let status = entity
                        .get("status")
                        .and_then(|s| s.as_str())
                        .unwrap_or("")
                        .to_owned();
                    {
                        let mut db = self.db.lock().unwrap_or_else(|e| e.into_inner());
                        let id: u64 = link.local.local_id().parse()?;
                        if let Some(invoice) = db.invoices.get_mut(&id) {
                            invoice.status = status;
                        }
                        db.applied_notifications += 1;
                    }
                    claim.complete().await?;
                }
            }
            other => return Err(format!("unexpected event {}", other.name()).into()),
        }
        Ok(())
    }
}

fn response(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> http::Response<Vec<u8>> {
    http::Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, content_type)
        .body(body.into())
        .unwrap_or_default()
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

impl DemoApp {
    /// The app for the tenants of `registry`.
    pub(crate) fn new(
        registry: Registry,
        http: Arc<dyn HttpClient>,
        clock: Arc<dyn Clock>,
        id_map: Arc<dyn IdMapStore>,
    ) -> Self {
        let db = Arc::new(Mutex::new(Db::default()));
        let flow = SsoFlow::new(
            clock.clone(),
            Arc::new(OsRandom),
            Arc::new(InMemorySingleUseStore::new()),
        );
        let applier = Applier {
            db: db.clone(),
            id_map: id_map.clone(),
            ledger: DeliveryLedger::in_memory(),
            clock: clock.clone(),
        };
        let webhooks = WebhookHandler::new(registry.clone(), Arc::new(applier));
        Self {
            inner: Arc::new(Inner {
                registry,
                http,
                clock,
                id_map,
                flow,
                webhooks,
                db,
                sessions: Mutex::new(HashMap::new()),
                random: OsRandom,
            }),
        }
    }

    /// The registry of tenants.
    pub(crate) fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// The app's records.
    pub(crate) fn db(&self) -> std::sync::MutexGuard<'_, Db> {
        self.inner.db.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The identity map.
    pub(crate) fn id_map(&self) -> &Arc<dyn IdMapStore> {
        &self.inner.id_map
    }

    /// The Maestrano session of a logged-in app session.
    pub(crate) fn sso_session(&self, session_id: &str) -> Option<SsoSession> {
        let sessions = self
            .inner
            .sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        sessions.get(session_id).and_then(|s| s.sso.clone())
    }

    fn new_session_id(&self) -> String {
        let mut bytes = [0u8; 16];
        // An app session id needs no more than the OS generator; a failure leaves zeros,
        // which would only make a session guessable in an already broken environment.
        let _ = self.inner.random.fill(&mut bytes);
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Handles one HTTP request: the SSO routes here, everything else by the webhook handler.
    pub(crate) async fn handle(&self, request: http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
        let router = self.inner.registry.router();
        let endpoint = match router.match_request(&request) {
            Ok(e) => e,
            Err(_) => return self.inner.webhooks.handle(request).await,
        };
        let Ok(tenant) = self.inner.registry.with(&endpoint.marketplace) else {
            return response(404, "text/plain", "unknown marketplace");
        };
        match endpoint.kind {
            EndpointKind::SamlInitialize => {
                // `group_id` (the company to log in for) and the simulator's `sim_user` are
                // forwarded to the IdP as plain parameters.
                let query: Vec<(String, String)> =
                    url::form_urlencoded::parse(request.uri().query().unwrap_or("").as_bytes())
                        .filter(|(k, _)| k == "group_id" || k == "sim_user")
                        .map(|(k, v)| (k.into_owned(), v.into_owned()))
                        .collect();
                let extra: Vec<(&str, &str)> = query
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                // The request id is recorded in the SDK's single-use store (shared by every
                // instance of a real app). Over HTTPS it also goes into a `SameSite=None;
                // Secure` cookie, which the IdP's cross-site POST carries back, binding the
                // login to this browser; plain HTTP cannot set such a cookie.
                match self
                    .inner
                    .flow
                    .initiate(&tenant, DEMO_CLIENT, None, &extra)
                    .await
                {
                    Ok(redirect) => {
                        let mut r = http::Response::builder()
                            .status(302)
                            .header(http::header::LOCATION, redirect.url.as_str());
                        if tenant.acs_url().scheme() == "https" {
                            r = r.header(
                                http::header::SET_COOKIE,
                                format!(
                                    "{LOGIN_COOKIE}={}; Path=/; Max-Age=600; HttpOnly; Secure; \
                                     SameSite=None",
                                    redirect.request_id
                                ),
                            );
                        }
                        r.body(Vec::new()).unwrap_or_default()
                    }
                    Err(e) => response(500, "text/plain", e.to_string()),
                }
            }
            EndpointKind::SamlConsume => {
                // The SDK checks that the response answers a request this app issued for this
                // tenant, unexpired and unused; over HTTPS, the very request this browser
                // started (no cookie there: refused, rather than open to login CSRF).
                let bound = cookie(&request, LOGIN_COOKIE);
                if tenant.acs_url().scheme() == "https" && bound.is_none() {
                    return response(403, "text/plain", "no login was started in this browser");
                }
                let provisioner = Provisioner {
                    db: self.inner.db.clone(),
                    mode: tenant.config().sso_options().identity_mode,
                };
                match self
                    .inner
                    .flow
                    .consume(&tenant, request.body(), bound.as_deref(), &provisioner)
                    .await
                {
                    Ok(done) => {
                        let name = done.login.user.first_name.clone();
                        // A fresh session id at login (never one the browser brought: no
                        // session fixation), in a cookie the app's own pages get: `Lax` is
                        // right for a cookie set here and sent on same-site navigation, and
                        // `Secure` whenever the app is served over HTTPS.
                        let id = self.new_session_id();
                        self.inner
                            .sessions
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .insert(
                                id.clone(),
                                AppSession {
                                    marketplace: Some(tenant.marketplace().clone()),
                                    user: Some(done.output),
                                    sso: Some(done.session),
                                },
                            );
                        let secure = if tenant.acs_url().scheme() == "https" {
                            "; Secure"
                        } else {
                            ""
                        };
                        http::Response::builder()
                            .status(200)
                            .header(http::header::CONTENT_TYPE, "text/html; charset=utf-8")
                            .header(
                                http::header::SET_COOKIE,
                                format!(
                                    "{SESSION_COOKIE}={id}; Path=/; HttpOnly; SameSite=Lax{secure}"
                                ),
                            )
                            .body(
                                format!(
                                    "<!doctype html><p>Welcome, {name}, from {}.</p>",
                                    tenant.marketplace()
                                )
                                .into_bytes(),
                            )
                            .unwrap_or_default()
                    }
                    Err(e @ (SsoFlowError::Saml(_) | SsoFlowError::UnknownRequest)) => {
                        response(403, "text/plain", format!("login refused: {e}"))
                    }
                    Err(e) => response(400, "text/plain", format!("login failed: {e}")),
                }
            }
            _ => self.inner.webhooks.handle(request).await,
        }
    }

    /// The monthly billing job: one bill per organization, through its own marketplace.
    pub(crate) async fn bill_everyone(
        &self,
        cents: i64,
    ) -> Result<Vec<(MarketplaceKey, String)>, String> {
        let orgs: Vec<(MarketplaceKey, Organization)> = self
            .db()
            .organizations
            .iter()
            .map(|((m, _), o)| (m.clone(), o.clone()))
            .collect();
        let mut bills = Vec::new();
        for (marketplace, org) in orgs {
            let tenant = self
                .inner
                .registry
                .with(&marketplace)
                .map_err(|e| e.to_string())?;
            let currency =
                maestrano::api::Currency::new(&org.currency).map_err(|e| e.to_string())?;
            let bill = NewBill::new(
                org.group.clone(),
                Money::new(cents, currency),
                "Monthly subscription",
            );
            let created = AccountClient::new(tenant, self.inner.http.clone())
                .create_bill(&bill)
                .await
                .map_err(|e| e.to_string())?;
            bills.push((marketplace, created.id.to_string()));
        }
        Ok(bills)
    }

    /// Saves an invoice for an organization, pushes it to Connec! and links it in the
    /// identity map; returns the invoice and its remote URL.
    pub(crate) async fn issue_invoice(
        &self,
        marketplace: &MarketplaceKey,
        group: &GroupUid,
        cents: i64,
    ) -> Result<(Invoice, url::Url), String> {
        let tenant = self
            .inner
            .registry
            .with(marketplace)
            .map_err(|e| e.to_string())?;
        let invoice = {
            let mut db = self.db();
            let currency = db
                .organizations
                .get(&(marketplace.clone(), group.clone()))
                .map(|o| o.currency.clone())
                .ok_or("no such organization")?;
            let id = db.invoices.keys().next_back().map_or(1, |k| k + 1);
            let invoice = Invoice {
                id,
                marketplace: marketplace.clone(),
                group: group.clone(),
                amount_cents: cents,
                currency,
                status: "AUTHORISED".into(),
            };
            db.invoices.insert(id, invoice.clone());
            invoice
        };
        let entity = Entity::from_value(serde_json::json!({
            "title": format!("Invoice {}", invoice.id),
            "status": invoice.status,
            "currency": invoice.currency,
            "total_amount": invoice.amount_cents as f64 / 100.0,
        }))
        .map_err(|e| e.to_string())?;
        let created = ConnecClient::new(&tenant, group.clone(), self.inner.http.clone())
            .map_err(|e| e.to_string())?
            .create("invoices", &entity)
            .await
            .map_err(|e| e.to_string())?;
        let connec_id = created.connec_id().ok_or("Connec! returned no id")?;
        let realm = Realm::marketplace(marketplace, group);
        let remote =
            RemoteRef::new(realm.clone(), "invoices", connec_id).map_err(|e| e.to_string())?;
        invoice
            .link(self.inner.id_map.as_ref(), self.inner.clock.now(), remote)
            .await
            .map_err(|e| e.to_string())?;
        let urls = RemoteUrls::new().with_marketplaces(self.inner.registry.clone());
        let url = invoice
            .remote_url(self.inner.id_map.as_ref(), &realm, &urls)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("the invoice is not linked")?;
        Ok((invoice, url))
    }

    /// The local record linked to a remote entity.
    pub(crate) async fn local_for(&self, remote: &RemoteRef) -> Option<LocalRef> {
        self.inner
            .id_map
            .find_remote(remote)
            .await
            .ok()
            .flatten()
            .map(|m| m.local)
    }
}

/// Serves `app` with axum on `listener` until the task is dropped.
pub(crate) async fn serve(app: DemoApp, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    let router = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let app = app.clone();
        async move {
            let (parts, body) = req.into_parts();
            let bytes = axum::body::to_bytes(body, 16 * 1024 * 1024)
                .await
                .unwrap_or_default();
            app.handle(http::Request::from_parts(parts, bytes.to_vec()))
                .await
                .map(axum::body::Body::from)
        }
    });
    axum::serve(listener, router).await
}
