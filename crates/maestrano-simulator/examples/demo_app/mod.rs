//! A small multi-tenant application built with the SDK, shared by the `quickstart` and
//! `axum_app` examples and by the quickstart's integration test.
//!
//! It keeps its own records (users, organizations, memberships, invoices) in memory, scoped
//! to the marketplace they came from, and the identity map in SQLite (the embedded default).
//! Every Maestrano endpoint (SSO, SP metadata, webhooks) is served by `maestrano-axum`'s
//! [`Maestrano`] layer, which calls the app's [`LoginHandler`] and [`WebhookSink`].
#![allow(dead_code)] // each example uses a different part

pub(crate) mod scenario;

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::response::IntoResponse as _;
use maestrano::api::AccountClient;
use maestrano::api::{Money, NewBill};
use maestrano::connec::{ConnecClient, Entity};
use maestrano::idmap::{ConnectedObject, RemoteUrls};
use maestrano::idmap::{IdMapStore, LocalRef, Realm, RemoteRef};
use maestrano::ports::{Clock, HttpClient, OsRandom, RandomSource};
use maestrano::reconcile::{BoxError, HeldAccounts};
use maestrano::saml::{IdentityMode, SsoLogin};
use maestrano::sso::{LoginHandler, SsoFlow, SsoSession};
use maestrano::webhook::{Delivery, DeliveryLedger, WebhookEvent, WebhookSink};
use maestrano::{GroupUid, MarketplaceKey, Registry, UserUid};
use maestrano_axum::Maestrano;

/// The cookie holding the app's session id.
pub(crate) const SESSION_COOKIE: &str = "demo_session";

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

type Sessions = Arc<Mutex<HashMap<String, AppSession>>>;

struct Inner {
    registry: Registry,
    http: Arc<dyn HttpClient>,
    clock: Arc<dyn Clock>,
    id_map: Arc<dyn IdMapStore>,
    maestrano: Maestrano,
    db: Arc<Mutex<Db>>,
    sessions: Sessions,
    /// The webhook side, also given the events a reconciliation finds missed.
    sink: Arc<dyn WebhookSink>,
}

/// The application. Cheap to clone.
#[derive(Clone)]
pub(crate) struct DemoApp {
    inner: Arc<Inner>,
}

/// The app's side of logins: find or create the user, the organization and the membership,
/// then start the app's session and answer with the signed-in page.
struct Provisioner {
    registry: Registry,
    db: Arc<Mutex<Db>>,
    sessions: Sessions,
}

#[async_trait]
impl LoginHandler for Provisioner {
    type Output = axum::response::Response;

    async fn on_login(
        &self,
        login: &SsoLogin,
    ) -> Result<Self::Output, Box<dyn std::error::Error + Send + Sync>> {
        let m = login.marketplace.clone();
        // Real or virtual uids (one account per user and company), as the tenant says.
        let mode: IdentityMode = self.registry.with(&m)?.config().sso_options().identity_mode;
        let uid = login.user.uid_for(mode).clone();
        {
            let mut db = self.db.lock().unwrap_or_else(|e| e.into_inner());
            db.users
                .entry((m.clone(), uid.clone()))
                .or_insert_with(|| User {
                    uid: uid.clone(),
                    email: login.user.email_for(mode).to_owned(),
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
                m.clone(),
                uid.clone(),
                login.group.uid.clone(),
                login.membership.role.clone(),
            ));
        }
        // A fresh session id at login (never one the browser brought: no session fixation).
        let mut bytes = [0u8; 16];
        OsRandom.fill(&mut bytes)?;
        let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let session = AppSession {
            marketplace: Some(m.clone()),
            user: Some(uid),
            sso: Some(SsoSession::from_login(login)),
        };
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        sessions.insert(id.clone(), session);
        let cookie = format!("{SESSION_COOKIE}={id}; Path=/; HttpOnly; SameSite=Lax");
        let page = format!(
            "<!doctype html><p>Welcome, {}, from {m}.</p>",
            login.user.first_name
        );
        Ok((
            [(http::header::SET_COOKIE, cookie)],
            axum::response::Html(page),
        )
            .into_response())
    }
}

/// The app's organizations and memberships, as a reconciliation reads them.
struct Held(Arc<Mutex<Db>>);

#[async_trait]
impl HeldAccounts for Held {
    async fn groups(
        &self,
        marketplace: &MarketplaceKey,
        after: Option<&GroupUid>,
        limit: usize,
    ) -> Result<Vec<GroupUid>, BoxError> {
        let db = self.0.lock().unwrap_or_else(|e| e.into_inner());
        // The map is ordered by (marketplace, group): the groups come in uid order.
        Ok(db
            .organizations
            .keys()
            .filter(|(m, g)| m == marketplace && after.is_none_or(|a| g.as_str() > a.as_str()))
            .take(limit)
            .map(|(_, g)| g.clone())
            .collect())
    }

    async fn members(
        &self,
        marketplace: &MarketplaceKey,
        group: &GroupUid,
    ) -> Result<Vec<UserUid>, BoxError> {
        let db = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::new();
        for (m, u, g, _) in &db.memberships {
            if m == marketplace && g == group {
                // A virtual uid (`usr-1.cld-1`) stands for its real user.
                let real = u
                    .as_str()
                    .strip_suffix(&format!(".{group}"))
                    .map(UserUid::new)
                    .transpose()?
                    .unwrap_or_else(|| u.clone());
                out.push(real);
            }
        }
        Ok(out)
    }
}

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

impl DemoApp {
    /// The app for the tenants of `registry`.
    pub(crate) fn new(
        registry: Registry,
        http: Arc<dyn HttpClient>,
        clock: Arc<dyn Clock>,
        id_map: Arc<dyn IdMapStore>,
    ) -> Self {
        let db = Arc::new(Mutex::new(Db::default()));
        let sessions = Sessions::default();
        let provisioner = Provisioner {
            registry: registry.clone(),
            db: db.clone(),
            sessions: sessions.clone(),
        };
        let applier = Applier {
            db: db.clone(),
            id_map: id_map.clone(),
            ledger: DeliveryLedger::in_memory(),
            clock: clock.clone(),
        };
        // Every Maestrano endpoint of every tenant; the simulator's IdP also reads `sim_user`.
        // The HTTP client reaches each tenant's OpenID provider (SAML logins need none).
        let flow = SsoFlow::builder()
            .registry(registry.clone())
            .http_client(http.clone())
            .build();
        let sink: Arc<dyn WebhookSink> = Arc::new(applier);
        let maestrano = Maestrano::builder(registry.clone(), provisioner, sink.clone())
            .sso_flow(flow)
            .forward_init_param(maestrano_simulator::SIM_USER_PARAM)
            .build();
        Self {
            inner: Arc::new(Inner {
                registry,
                http,
                clock,
                id_map,
                maestrano,
                db,
                sessions,
                sink,
            }),
        }
    }

    /// The app's webhook sink.
    pub(crate) fn sink(&self) -> Arc<dyn WebhookSink> {
        self.inner.sink.clone()
    }

    /// What the app holds, for a reconciliation.
    pub(crate) fn held(&self) -> Arc<dyn HeldAccounts> {
        Arc::new(Held(self.inner.db.clone()))
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

    /// How many app sessions are open.
    pub(crate) fn session_count(&self) -> usize {
        let sessions = self
            .inner
            .sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        sessions.len()
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

/// Serves `app` with axum on `listener` until the task is dropped: the Maestrano endpoints,
/// with the client's address for the pending-login bound.
pub(crate) async fn serve(app: DemoApp, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    let router: axum::Router = app.inner.maestrano.router();
    let service = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, service).await
}
