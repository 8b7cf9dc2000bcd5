//! Issue 19, missed-webhook reconciliation, against the simulator's account API: a company
//! cancels and a user leaves, their webhooks are lost, and the reconciler delivers the missed
//! events to the app's sink, once, across instances, in bounded batches.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use maestrano::api::AccountClient;
use maestrano::ports::{HttpClient, InMemorySingleUseStore, SingleUseStore};
use maestrano::reconcile::{BoxError, HeldAccounts, ReconcileError, Reconciler};
use maestrano::webhook::{WebhookEvent, WebhookSink};
use maestrano::{GroupUid, MarketplaceKey, UserUid, async_trait};
use maestrano_simulator::{
    Api, ApiFault, MarketplaceSpec, SimGroup, SimUser, Simulator, SimulatorConfig, Webhook,
};

use super::support::*;

fn g(s: &str) -> GroupUid {
    GroupUid::new(s).unwrap()
}

fn u(s: &str) -> UserUid {
    UserUid::new(s).unwrap()
}

/// A marketplace with three companies: cld-a (usr-1, usr-2), cld-b (usr-2), cld-c (usr-3).
async fn simulator() -> Simulator {
    let mut spec = MarketplaceSpec::new(key("acme-corp"), app_url());
    for (i, user) in ["usr-1", "usr-2", "usr-3"].iter().enumerate() {
        spec = spec.user(SimUser::new(
            u(user),
            format!("u{i}@example.com"),
            "Jo",
            "Doe",
        ));
    }
    for group in ["cld-a", "cld-b", "cld-c"] {
        spec = spec.group(SimGroup::new(g(group), format!("Company {group}")));
    }
    spec = spec
        .member(&u("usr-1"), &g("cld-a"), "Admin")
        .member(&u("usr-2"), &g("cld-a"), "Member")
        .member(&u("usr-2"), &g("cld-b"), "Admin")
        .member(&u("usr-3"), &g("cld-c"), "Admin");
    Simulator::start(SimulatorConfig::new(clock()).marketplace(spec))
        .await
        .unwrap()
}

/// The app's own accounts: what it holds, and the sink that applies events to it, as an
/// app's webhook handling would (idempotent: removing what is gone changes nothing).
#[derive(Default)]
struct App {
    held: Mutex<BTreeMap<GroupUid, BTreeSet<UserUid>>>,
    events: Mutex<Vec<WebhookEvent>>,
}

impl App {
    fn holding_everything() -> Arc<Self> {
        let app = Self::default();
        {
            let mut held = app.held.lock().unwrap();
            held.insert(g("cld-a"), [u("usr-1"), u("usr-2")].into());
            held.insert(g("cld-b"), [u("usr-2")].into());
            held.insert(g("cld-c"), [u("usr-3")].into());
        }
        Arc::new(app)
    }
}

#[async_trait]
impl HeldAccounts for App {
    async fn groups(
        &self,
        _: &MarketplaceKey,
        after: Option<&GroupUid>,
        limit: usize,
    ) -> Result<Vec<GroupUid>, BoxError> {
        let held = self.held.lock().unwrap();
        Ok(held
            .keys()
            .filter(|k| after.is_none_or(|a| k.as_str() > a.as_str()))
            .take(limit)
            .cloned()
            .collect())
    }

    async fn members(
        &self,
        _: &MarketplaceKey,
        group: &GroupUid,
    ) -> Result<Vec<UserUid>, BoxError> {
        Ok(self
            .held
            .lock()
            .unwrap()
            .get(group)
            .map(|m| m.iter().cloned().collect())
            .unwrap_or_default())
    }
}

#[async_trait]
impl WebhookSink for App {
    async fn on_event(&self, event: WebhookEvent) -> Result<(), BoxError> {
        let mut held = self.held.lock().unwrap();
        match &event {
            WebhookEvent::GroupDestroyed { group_uid, .. } => {
                held.remove(group_uid);
            }
            WebhookEvent::UserRemovedFromGroup {
                group_uid,
                user_uid,
                ..
            } => {
                if let Some(m) = held.get_mut(group_uid) {
                    m.remove(user_uid);
                }
            }
            _ => {}
        }
        self.events.lock().unwrap().push(event);
        Ok(())
    }
}

fn reconciler(sim: &Simulator, app: &Arc<App>, store: &Arc<dyn SingleUseStore>) -> Reconciler {
    let handle = sim.marketplace(&key("acme-corp")).unwrap();
    let http: Arc<dyn HttpClient> = Arc::new(client());
    Reconciler::new(
        AccountClient::new(handle.tenant().clone(), http),
        app.clone(),
        app.clone(),
        store.clone(),
        clock(),
    )
}

#[tokio::test]
async fn lost_webhooks_are_caught_up_once_and_a_second_run_finds_nothing() {
    let sim = simulator().await;
    let acme = sim.marketplace(&key("acme-corp")).unwrap();
    let app = App::holding_everything();
    let store: Arc<dyn SingleUseStore> = Arc::new(InMemorySingleUseStore::new());

    // cld-b cancels and usr-2 leaves cld-a; neither webhook reaches the app.
    let (lost_group, ok) = acme.cancel_group(&g("cld-b"));
    assert!(ok && matches!(lost_group, Webhook::GroupDestroyed { .. }));
    assert!(acme.remove_member(&g("cld-a"), &u("usr-2")).1);

    let report = reconciler(&sim, &app, &store).run(None).await.unwrap();
    assert_eq!(report.groups_destroyed, [g("cld-b")]);
    assert_eq!(report.members_removed, [(g("cld-a"), u("usr-2"))]);
    assert_eq!(
        (report.groups_checked, report.next, report.skipped),
        (3, None, false)
    );
    let held = app.held.lock().unwrap().clone();
    assert_eq!(
        held,
        BTreeMap::from([
            (g("cld-a"), BTreeSet::from([u("usr-1")])),
            (g("cld-c"), BTreeSet::from([u("usr-3")])),
        ])
    );
    // The same events a delivered webhook would have given the sink.
    let events = app.events.lock().unwrap().clone();
    assert!(matches!(&events[..], [
        WebhookEvent::UserRemovedFromGroup { marketplace, group_uid, user_uid },
        WebhookEvent::GroupDestroyed { group_uid: destroyed, .. },
    ] if marketplace.as_str() == "acme-corp" && group_uid == &g("cld-a") && user_uid == &u("usr-2") && destroyed == &g("cld-b")));

    // Nothing was missed any more.
    let again = reconciler(&sim, &app, &store).run(None).await.unwrap();
    assert!(again.groups_destroyed.is_empty() && again.members_removed.is_empty());
    assert_eq!(app.events.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn two_instances_at_once_do_the_work_once_and_batches_resume_from_their_cursor() {
    let sim = simulator().await;
    let acme = sim.marketplace(&key("acme-corp")).unwrap();
    acme.cancel_group(&g("cld-a"));
    acme.cancel_group(&g("cld-c"));
    let app = App::holding_everything();
    let store: Arc<dyn SingleUseStore> = Arc::new(InMemorySingleUseStore::new());

    let (one, two) = (
        reconciler(&sim, &app, &store).with_batch(1),
        reconciler(&sim, &app, &store).with_batch(1),
    );
    let (a, b) = tokio::join!(one.run(None), two.run(None));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(a.skipped != b.skipped, "{a:?} {b:?}");
    let done = if a.skipped { b } else { a };
    assert_eq!(
        (done.groups_destroyed.clone(), done.next.clone()),
        (vec![g("cld-a")], Some(g("cld-a")))
    );

    // The lease was given back: the next batches go on from the cursor, one group each.
    let mut cursor = done.next;
    let mut destroyed = done.groups_destroyed;
    while let Some(after) = cursor.take() {
        let r = one.run(Some(&after)).await.unwrap();
        assert!(r.groups_checked <= 1);
        destroyed.extend(r.groups_destroyed);
        cursor = r.next;
    }
    assert_eq!(destroyed, [g("cld-a"), g("cld-c")]);
    assert_eq!(app.events.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn a_failing_account_api_emits_nothing() {
    let sim = simulator().await;
    let acme = sim.marketplace(&key("acme-corp")).unwrap();
    acme.cancel_group(&g("cld-b"));
    let app = App::holding_everything();
    let store: Arc<dyn SingleUseStore> = Arc::new(InMemorySingleUseStore::new());
    acme.inject_fault(Api::Account, ApiFault::InternalError, 1);
    let err = reconciler(&sim, &app, &store).run(None).await.unwrap_err();
    assert!(matches!(err, ReconcileError::Api(_)), "{err}");
    assert!(app.events.lock().unwrap().is_empty());
    assert_eq!(app.held.lock().unwrap().len(), 3);
    // The failed run gave its lease back: the next one does the work.
    let report = reconciler(&sim, &app, &store).run(None).await.unwrap();
    assert_eq!(report.groups_destroyed, [g("cld-b")]);
}
