//! Issue 16: the core stays framework-agnostic. The `hyper_app` example serves logins and
//! webhooks on hyper alone, through `Registry::router`, `SsoFlow` and `WebhookHandler`.

#[path = "../../examples/hyper_app.rs"]
mod example;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hyper_example_logs_in_at_each_marketplace_and_applies_a_webhook() {
    let mut lines = Vec::new();
    example::run(|line| lines.push(line)).await.unwrap();
    assert_eq!(lines.len(), 4, "{lines:#?}");
    assert!(
        lines[1].starts_with("login at acme-corp through hyper: \"Welcome, "),
        "{lines:#?}"
    );
    assert!(
        lines[2].starts_with("login at globex through hyper: \"Welcome, "),
        "{lines:#?}"
    );
    assert!(
        lines[3].starts_with("webhook from acme-corp: "),
        "{lines:#?}"
    );
}
