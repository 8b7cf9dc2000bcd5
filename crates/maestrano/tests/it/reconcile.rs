//! Issue 19, reconciliation against account API replies in the platform's own shapes
//! (`shapes/account/`): a company missing from one list is not reported gone unless its own
//! lookup says not found, and a company listed with no member removes nobody.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use maestrano::__private::AccountRequests;
use maestrano::api::{AccountClient, Filter};
use maestrano::config::StaticSource;
use maestrano::ports::InMemorySingleUseStore;
use maestrano::reconcile::{BoxError, HeldAccounts, Reconciler};
use maestrano::test_util::{FakeHttpClient, FakeReply, ManualClock};
use maestrano::webhook::{WebhookEvent, WebhookSink};
use maestrano::{GroupUid, MarketplaceKey, Registry, UserUid};
use time::macros::datetime;

const SHAPES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/maestrano/shapes/");

fn shape(name: &str) -> Vec<u8> {
    std::fs::read(format!("{SHAPES}account/{name}")).unwrap()
}

struct App {
    groups: Vec<GroupUid>,
    events: Mutex<Vec<String>>,
}

#[async_trait]
impl HeldAccounts for App {
    async fn groups(
        &self,
        _: &MarketplaceKey,
        after: Option<&GroupUid>,
        limit: usize,
    ) -> Result<Vec<GroupUid>, BoxError> {
        Ok(self
            .groups
            .iter()
            .filter(|g| after.is_none_or(|a| g.as_str() > a.as_str()))
            .take(limit)
            .cloned()
            .collect())
    }

    async fn members(&self, _: &MarketplaceKey, _: &GroupUid) -> Result<Vec<UserUid>, BoxError> {
        Ok(vec![UserUid::new("usr-1").unwrap()])
    }
}

#[async_trait]
impl WebhookSink for App {
    async fn on_event(&self, event: WebhookEvent) -> Result<(), BoxError> {
        let text = match &event {
            WebhookEvent::GroupDestroyed { group_uid, .. } => format!("destroyed {group_uid}"),
            WebhookEvent::UserRemovedFromGroup {
                group_uid,
                user_uid,
                ..
            } => format!("removed {user_uid} from {group_uid}"),
            _ => "other".into(),
        };
        self.events.lock().unwrap().push(text);
        Ok(())
    }
}

#[tokio::test]
async fn one_missing_list_entry_or_an_empty_member_list_reports_nothing_gone() {
    let source =
        StaticSource::from_json_file(format!("{SHAPES}dev-platform/marketplaces-two.json"))
            .unwrap();
    let clock = Arc::new(ManualClock::new(datetime!(2026-12-07 12:00 UTC)));
    let registry = Registry::builder(Arc::new(source), clock.clone())
        .insecure_allow_plain_http(MarketplaceKey::new("mno-sandbox").unwrap())
        .build()
        .await
        .unwrap();
    let tenant = registry
        .with(&MarketplaceKey::new("maestrano-uat").unwrap())
        .unwrap();
    let requests = AccountRequests::new(&tenant);
    let (kept, gone) = (
        GroupUid::new("cld-9axx").unwrap(),
        GroupUid::new("cld-gone").unwrap(),
    );
    let uri = |r: Result<maestrano::ports::HttpRequest, maestrano::api::ApiError>| {
        r.unwrap().uri().to_string()
    };
    let http = Arc::new(FakeHttpClient::new());
    // The list comes back empty (a glitch); cld-9axx is still there when asked alone,
    // cld-gone is not; cld-9axx's member list is empty too.
    http.on(
        None,
        uri(requests.get_group(&kept)),
        vec![FakeReply::json(200, shape("group-single.json"))],
    );
    http.on(
        None,
        uri(requests.get_group(&gone)),
        vec![FakeReply::json(200, shape("error-200-id-not-found.json"))],
    );
    http.on(
        None,
        uri(requests.list_users(&Filter::new().eq("group_id", &kept))),
        vec![FakeReply::json(
            200,
            r#"{"success":true,"errors":{},"data":[]}"#,
        )],
    );
    http.on(
        None,
        uri(requests.list_groups(&Filter::new())),
        vec![FakeReply::json(
            200,
            r#"{"success":true,"errors":{},"data":[]}"#,
        )],
    );
    let app = Arc::new(App {
        groups: vec![kept.clone(), gone.clone()],
        events: Mutex::new(Vec::new()),
    });
    let reconciler = Reconciler::new(
        AccountClient::new(tenant, http.clone()),
        app.clone(),
        app.clone(),
        Arc::new(InMemorySingleUseStore::new()),
        clock,
    );
    let report = reconciler.run(None).await.unwrap();
    assert_eq!(report.groups_destroyed, [gone]);
    assert!(report.members_removed.is_empty());
    assert_eq!(*app.events.lock().unwrap(), ["destroyed cld-gone"]);
}
