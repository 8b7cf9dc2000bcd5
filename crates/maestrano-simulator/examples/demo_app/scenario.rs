//! The quickstart scenario: two simulated marketplaces and the demo app, driven end to end
//! over real HTTP on loopback, one transcript line per step.

use std::io::Write;
use std::sync::Arc;

use maestrano::Registry;
use maestrano::adapters::{ReqwestHttpClient, SqliteStore};
use maestrano::api::AccountClient;
use maestrano::config::DevPlatformSource;
use maestrano::idmap::{Realm, RemoteRef};
use maestrano::ports::{Clock, HttpClient, InMemorySingleUseStore, SystemClock};
use maestrano::reconcile::Reconciler;
use maestrano::saml::{SsoOptions, SsoProtocols};
use maestrano::sso::SessionStatus;
use maestrano::{GroupUid, MarketplaceKey, Tenant, UserUid};
use maestrano_simulator::{
    AutoSubmitForm, Credentials, DeliveryOptions, DeliveryOutcome, Simulator, SimulatorConfig,
    Webhook,
};

use super::{DemoApp, SESSION_COOKIE};

/// What a step found wrong.
pub(crate) type StepError = Box<dyn std::error::Error + Send + Sync>;

fn check(ok: bool, what: impl Into<String>) -> Result<(), StepError> {
    if ok { Ok(()) } else { Err(what.into().into()) }
}

/// A browser: follows nothing by itself, keeps cookies by name and treats each as a browser
/// does its `SameSite` attribute (`Lax` when none is given): not sent with a POST that another
/// site's page submits, such as the IdP's auto-submitted login form. The simulator's IdP
/// shares `127.0.0.1` with the app, where a real browser would send the cookie anyway; this one
/// behaves as with an IdP on another site, as in production. It runs the one script a page of
/// the app may run: `maestrano-axum`'s same-site resubmission of the IdP's form.
struct Browser {
    http: ReqwestHttpClient,
    /// Name, value, and whether `SameSite=None` (sent on cross-site POSTs).
    cookies: Vec<(String, String, bool)>,
}

impl Browser {
    fn new() -> Result<Self, StepError> {
        Ok(Self {
            http: ReqwestHttpClient::new()?,
            cookies: Vec::new(),
        })
    }

    fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, v, _)| v.as_str())
    }

    fn set_cookie(&mut self, name: &str, value: &str) {
        self.cookies.retain(|(n, _, _)| n != name);
        self.cookies
            .push((name.to_owned(), value.to_owned(), false));
    }

    async fn send(
        &mut self,
        method: &str,
        url: &str,
        body: Vec<u8>,
    ) -> Result<http::Response<Vec<u8>>, StepError> {
        self.send_from(false, method, url, body).await
    }

    /// Sends a request; `cross_site` when another site's page starts it.
    async fn send_from(
        &mut self,
        cross_site: bool,
        method: &str,
        url: &str,
        body: Vec<u8>,
    ) -> Result<http::Response<Vec<u8>>, StepError> {
        let mut b = http::Request::builder().method(method).uri(url);
        let withheld = cross_site && method == "POST";
        let sent: Vec<String> = self
            .cookies
            .iter()
            .filter(|(_, _, none)| !withheld || *none)
            .map(|(k, v, _)| format!("{k}={v}"))
            .collect();
        if !sent.is_empty() {
            b = b.header(http::header::COOKIE, sent.join("; "));
        }
        if method == "POST" {
            b = b.header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            );
        }
        let response = self.http.send(b.body(body)?).await?;
        for set in response.headers().get_all(http::header::SET_COOKIE) {
            let set = set.to_str()?;
            let mut parts = set.split(';').map(str::trim);
            let Some((name, value)) = parts.next().and_then(|p| p.split_once('=')) else {
                continue;
            };
            let (name, value) = (name.to_owned(), value.to_owned());
            let none = parts.any(|p| p.eq_ignore_ascii_case("SameSite=None"));
            self.cookies.retain(|(n, _, _)| *n != name);
            if !set.contains("Max-Age=0") {
                self.cookies.push((name, value, none));
            }
        }
        Ok(response)
    }

    /// The init route and the IdP: the IdP's auto-submitting form, not submitted yet.
    async fn start_login(&mut self, init_url: &str) -> Result<AutoSubmitForm, StepError> {
        let to_idp = self.send("GET", init_url, Vec::new()).await?;
        check(
            to_idp.status() == 302,
            format!("the init route answered {}", to_idp.status()),
        )?;
        let idp_url = to_idp.headers()[http::header::LOCATION]
            .to_str()?
            .to_owned();
        let page = self.send("GET", &idp_url, Vec::new()).await?;
        check(
            page.status() == 200,
            format!("the IdP answered {}", page.status()),
        )?;
        Ok(AutoSubmitForm::parse(std::str::from_utf8(page.body())?)
            .ok_or("the IdP page has no form")?)
    }

    /// Submits the IdP's form as its page does (cross-site) and, when the app answers with its
    /// resubmission page, submits that page's form (same-site): the app's last answer.
    async fn submit(
        &mut self,
        form: &AutoSubmitForm,
    ) -> Result<http::Response<Vec<u8>>, StepError> {
        let first = self
            .send_from(true, "POST", &form.action, form.to_form_body())
            .await?;
        let again = std::str::from_utf8(first.body())
            .ok()
            .and_then(AutoSubmitForm::parse)
            .filter(|f| f.field("mno_resubmitted").is_some());
        let Some(again) = again else {
            return Ok(first);
        };
        let action = url::Url::parse(&form.action)?.join(&again.action)?;
        self.send("POST", action.as_str(), again.to_form_body())
            .await
    }

    /// The SSO round trip: the app's init route, the IdP, the auto-submitted form back to the
    /// app's consume route. Returns the form (to replay it), the login cookie it went with and
    /// the app's final answer.
    async fn login(
        &mut self,
        init_url: &str,
    ) -> Result<(AutoSubmitForm, String, http::Response<Vec<u8>>), StepError> {
        let form = self.start_login(init_url).await?;
        let bound = self
            .cookie("mno_login")
            .ok_or("the init route set no login cookie")?
            .to_owned();
        let done = self.submit(&form).await?;
        Ok((form, bound, done))
    }
}

/// Runs the whole scenario, writing the transcript to `out`. `Ok` only if every step checked
/// out; the first failing step is the error.
pub(crate) async fn run(out: &mut (dyn Write + Send)) -> Result<(), StepError> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let http: Arc<dyn HttpClient> = Arc::new(ReqwestHttpClient::new()?);
    let mut step = 0;
    let mut say = |out: &mut (dyn Write + Send), text: String| {
        step += 1;
        let _ = writeln!(out, "[{step:2}] ✔ {text}");
    };

    // The app's listener first: the marketplaces must know where the app is.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let app_url = url::Url::parse(&format!("http://{}", listener.local_addr()?))?;
    let sim = Simulator::start(SimulatorConfig::two_marketplaces(clock.clone(), &app_url)).await?;
    let _ = writeln!(
        out,
        "     simulator: developer platform at {}",
        sim.dev_platform_url()
    );

    // 1. Autoconfigure both marketplaces from the developer platform.
    let source = DevPlatformSource::new(sim.dev_platform_settings()?, http.clone());
    // Both login protocols on every tenant: every marketplace runs a SAML IdP and an OpenID
    // provider.
    let registry = Registry::builder(Arc::new(source), clock.clone())
        .default_sso_options(SsoOptions::default().with_protocols(SsoProtocols::Both))
        .build()
        .await?;
    let keys: Vec<MarketplaceKey> = registry.snapshot().marketplaces().cloned().collect();
    check(
        keys.len() == 2,
        format!("expected 2 marketplaces, found {}", keys.len()),
    )?;
    say(
        out,
        format!(
            "autoconfigured {} marketplaces from the developer platform: {} \
             [Registry::builder(DevPlatformSource)]",
            keys.len(),
            keys.iter()
                .map(|k| k.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );

    // The app, with its identity map in a SQLite file (the embedded default).
    let dir = std::env::temp_dir().join(format!("maestrano-quickstart-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let db_path = dir.join("idmap.sqlite3");
    let _ = std::fs::remove_file(&db_path);
    let store = Arc::new(SqliteStore::open(&db_path)?);
    let app = DemoApp::new(registry.clone(), http.clone(), clock.clone(), store);
    let server = tokio::spawn(super::serve(app.clone(), listener));

    let tenants: Vec<Tenant> = keys
        .iter()
        .map(|k| registry.with(k))
        .collect::<Result<_, _>>()?;
    let group_of = |t: &Tenant| -> Result<GroupUid, StepError> {
        let spec = sim.marketplace(t.marketplace())?.spec().clone();
        Ok(spec
            .groups
            .first()
            .ok_or("a demo marketplace has a group")?
            .uid
            .clone())
    };
    let user_of = |t: &Tenant| -> Result<UserUid, StepError> {
        let spec = sim.marketplace(t.marketplace())?.spec().clone();
        Ok(spec
            .users
            .first()
            .ok_or("a demo marketplace has a user")?
            .uid
            .clone())
    };

    // 2. A SAML login in each marketplace, through the app's routes and the real IdP.
    let mut first_form = None;
    let mut first_session = None;
    for tenant in &tenants {
        let mut browser = Browser::new()?;
        let (form, bound, done) = browser.login(tenant.init_url().as_str()).await?;
        check(
            done.status() == 200,
            format!(
                "login at {} answered {}: {}",
                tenant.marketplace(),
                done.status(),
                String::from_utf8_lossy(done.body())
            ),
        )?;
        let group = group_of(tenant)?;
        let (users, orgs, members) = {
            let db = app.db();
            let m = tenant.marketplace();
            (
                db.users.keys().filter(|(k, _)| k == m).count(),
                db.organizations
                    .keys()
                    .filter(|(k, g)| k == m && *g == group)
                    .count(),
                db.memberships
                    .iter()
                    .filter(|(k, _, g, _)| k == m && *g == group)
                    .count(),
            )
        };
        check(
            users == 1 && orgs == 1 && members == 1,
            format!(
                "expected user, organization and membership for {}, found {users}/{orgs}/{members}",
                tenant.marketplace()
            ),
        )?;
        say(
            out,
            format!(
                "SAML login at {}: user {}, organization {}, membership created, scoped to the \
                 marketplace [maestrano_axum::Maestrano: SsoFlow::initiate, SsoFlow::consume, \
                 LoginHandler::on_login]",
                tenant.marketplace(),
                user_of(tenant)?,
                group
            ),
        );
        if first_form.is_none() {
            first_form = Some((bound, form));
            first_session = browser.cookie(SESSION_COOKIE).map(str::to_owned);
        }
    }

    // 3. The same SAML response again, even with the login cookie it was bound to: refused.
    let (bound, form) = first_form.ok_or("a login happened")?;
    let mut replayer = Browser::new()?;
    replayer.set_cookie("mno_login", &bound);
    let sessions_before = app.session_count();
    let replay = replayer.submit(&form).await?;
    let why = String::from_utf8_lossy(replay.body()).into_owned();
    check(
        replay.status() == 403 && app.session_count() == sessions_before,
        format!("a replayed response got {}: {why}", replay.status()),
    )?;
    say(
        out,
        format!(
            "the same SAML response replayed with its login cookie: refused with {} \"{why}\" \
             [SsoFlow::consume: the replay cache in the SingleUseStore; the class in the log]",
            replay.status().as_u16()
        ),
    );

    // 4. An OpenID 2.0 login at the first marketplace, through the same app and handler.
    let tenant = &tenants[0];
    let openid_init = format!(
        "{}{}/{}/openid/initialize",
        app_url.as_str().trim_end_matches('/'),
        registry.router().prefix(),
        tenant.marketplace()
    );
    let mut browser = Browser::new()?;
    let sessions_before = app.session_count();
    let users_before = app.db().users.len();
    let form = browser.start_login(&openid_init).await?;
    check(
        form.field("openid.mode") == Some("id_res"),
        "the provider answered with a positive assertion",
    )?;
    let done = browser.submit(&form).await?;
    check(
        done.status() == 200
            && app.session_count() == sessions_before + 1
            && app.db().users.len() == users_before,
        format!(
            "OpenID login at {} answered {}: {}",
            tenant.marketplace(),
            done.status(),
            String::from_utf8_lossy(done.body())
        ),
    )?;
    say(
        out,
        format!(
            "OpenID 2.0 login at {}: the same user {} and organization {}, signed in again by \
             the same handler [SsoFlow::openid_initiate (discovery, checkid_setup with AX), \
             SsoFlow::openid_consume (check_authentication, claimed id, nonce)]",
            tenant.marketplace(),
            user_of(tenant)?,
            group_of(tenant)?
        ),
    );

    // 5. The session re-check at the IdP.
    let session_id = first_session.ok_or("the login set a session cookie")?;
    let mut sso = app
        .sso_session(&session_id)
        .ok_or("the app kept the Maestrano session")?;
    let status = sso.check(&tenants[0], http.as_ref()).await?;
    check(
        matches!(status, SessionStatus::Valid { .. }),
        format!("session check: {status:?}"),
    )?;
    say(
        out,
        format!(
            "session re-check at {}: still valid, next check at {} [SsoSession::check]",
            tenants[0].marketplace(),
            maestrano::__private::format_utc(sso.recheck_at)
        ),
    );

    // 6. The monthly billing job: each organization billed through its own marketplace.
    let bills = app.bill_everyone(2500).await?;
    check(
        bills.len() == 2,
        format!("expected 2 bills, got {}", bills.len()),
    )?;
    for (marketplace, bill) in &bills {
        let recorded = sim
            .marketplace(marketplace)?
            .bills()
            .iter()
            .any(|b| b["id"] == bill.as_str());
        check(recorded, format!("{marketplace} has no bill {bill}"))?;
    }
    say(
        out,
        format!(
            "monthly billing: {} [AccountClient::create_bill]",
            bills
                .iter()
                .map(|(m, b)| format!("{b} at {m}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );

    // 7. An invoice saved in the app, pushed to Connec! and linked in the identity map.
    let (tenant, group) = (&tenants[0], group_of(&tenants[0])?);
    let (invoice, remote_url) = app
        .issue_invoice(tenant.marketplace(), &group, 4200)
        .await?;
    let stored = sim
        .marketplace(tenant.marketplace())?
        .connec_entities(&group, "invoices");
    check(
        stored.len() == 1,
        format!("Connec! holds {} invoices", stored.len()),
    )?;
    say(
        out,
        format!(
            "invoice {} pushed to Connec! and linked in the id map: {remote_url} \
             [ConnecClient::create, ConnectedObject::link, ConnectedObject::remote_url]",
            invoice.id
        ),
    );

    // 8. A Connec! notification, received and applied.
    let connec_id = stored[0]["id"]
        .as_array()
        .and_then(|ids| {
            ids.iter()
                .find(|i| i["provider"] == "connec")
                .and_then(|i| i["id"].as_str().map(str::to_owned))
        })
        .ok_or("the stored invoice has a Connec! id")?;
    let mut entity = stored[0].clone();
    entity["status"] = serde_json::json!("PAID");
    entity["updated_at"] = serde_json::json!("2030-01-01T00:00:00Z");
    entity["group_id"] = serde_json::json!(group.as_str());
    let handle = sim.marketplace(tenant.marketplace())?;
    let report = handle
        .deliver(Webhook::connec_notification("invoices", vec![entity]))
        .await;
    check(
        matches!(report.outcome, DeliveryOutcome::Delivered { .. }),
        format!("notification: {:?}", report.outcome),
    )?;
    let remote = RemoteRef::new(
        Realm::marketplace(tenant.marketplace(), &group),
        "invoices",
        connec_id,
    )?;
    check(
        app.local_for(&remote).await.is_some(),
        "the notified invoice is linked",
    )?;
    let status = app.db().invoices[&invoice.id].status.clone();
    check(status == "PAID", format!("invoice status {status}"))?;
    say(
        out,
        format!(
            "Connec! notification from {} applied: invoice {} is now {status} \
             [WebhookSink::on_event, DeliveryLedger::claim]",
            tenant.marketplace(),
            invoice.id
        ),
    );

    // 9. A user removed from a company, then the company destroyed, by webhook.
    let user = user_of(tenant)?;
    let report = handle
        .deliver(Webhook::user_removed(group.clone(), user.clone()))
        .await;
    check(
        matches!(report.outcome, DeliveryOutcome::Delivered { .. }),
        format!("user removed: {:?}", report.outcome),
    )?;
    let left = app
        .db()
        .memberships
        .iter()
        .filter(|(m, _, g, _)| m == tenant.marketplace() && *g == group)
        .count();
    check(left == 0, format!("{left} memberships left"))?;
    say(
        out,
        format!(
            "webhook: user {user} removed from {group} at {} [WebhookHandler via the layer]",
            tenant.marketplace()
        ),
    );
    let report = handle
        .deliver(Webhook::group_destroyed(group.clone()))
        .await;
    check(
        matches!(report.outcome, DeliveryOutcome::Delivered { .. }),
        format!("group destroyed: {:?}", report.outcome),
    )?;
    let gone = !app
        .db()
        .organizations
        .contains_key(&(tenant.marketplace().clone(), group.clone()));
    check(gone, "the organization is still there")?;
    say(
        out,
        format!(
            "webhook: organization {group} destroyed at {} [WebhookHandler via the layer]",
            tenant.marketplace()
        ),
    );

    // 10. A webhook carrying the other marketplace's credentials: refused.
    let other = &tenants[1];
    let other_group = group_of(other)?;
    let report = sim
        .marketplace(other.marketplace())?
        .deliver_with(
            Webhook::group_destroyed(other_group.clone()),
            DeliveryOptions::default()
                .with_credentials(Credentials::OfMarketplace(tenant.marketplace().clone())),
        )
        .await;
    check(
        matches!(report.outcome, DeliveryOutcome::Rejected { status: 401 }),
        format!("forged webhook: {:?}", report.outcome),
    )?;
    let intact = app
        .db()
        .organizations
        .contains_key(&(other.marketplace().clone(), other_group.clone()));
    check(intact, "the forged webhook changed data")?;
    say(
        out,
        format!(
            "webhook to {} with {}'s credentials: refused with 401, nothing changed \
             [WebhookHandler: per-tenant credentials]",
            other.marketplace(),
            tenant.marketplace()
        ),
    );

    // 11. The other marketplace's company cancels, and the platform's webhook never arrives
    //     (the simulator drops it); a reconciliation run catches it up through the same sink.
    let other_handle = sim.marketplace(other.marketplace())?;
    let (_lost, cancelled) = other_handle.cancel_group(&other_group);
    check(cancelled, "the company was not there to cancel")?;
    let held = |app: &DemoApp| {
        app.db()
            .organizations
            .contains_key(&(other.marketplace().clone(), other_group.clone()))
    };
    check(held(&app), "the organization went before any webhook")?;
    let reconciler = Reconciler::new(
        AccountClient::new(other.clone(), http.clone()),
        app.held(),
        app.sink(),
        Arc::new(InMemorySingleUseStore::new()),
        clock.clone(),
    );
    let report = reconciler.run(None).await?;
    check(
        report.groups_destroyed == [other_group.clone()] && report.next.is_none(),
        format!("reconciliation: {report:?}"),
    )?;
    check(!held(&app), "the organization is still there")?;
    let again = reconciler.run(None).await?;
    check(
        again.groups_destroyed.is_empty() && again.members_removed.is_empty(),
        format!("a second reconciliation: {again:?}"),
    )?;
    say(
        out,
        format!(
            "reconciliation at {}: the lost webhook for {other_group} caught up, organization \
             removed; a second run finds nothing [Reconciler::run]",
            other.marketplace()
        ),
    );

    server.abort();
    sim.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
    let _ = writeln!(out, "     every step checked out");
    Ok(())
}
