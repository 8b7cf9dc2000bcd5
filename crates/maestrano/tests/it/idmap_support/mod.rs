//! Helpers shared by the identity map and SQL replay cache tests.
#![allow(dead_code)] // each test binary uses a different subset

use std::io::Write as _;
use std::sync::Arc;

use maestrano::saml::{ReplayCache, ReplayKey};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use tokio::sync::Barrier;

pub(crate) const T0: OffsetDateTime = datetime!(2024-05-01 12:00 UTC);

pub(crate) fn key(issuer: &str, id: &str) -> ReplayKey {
    ReplayKey {
        issuer: issuer.into(),
        assertion_id: id.into(),
    }
}

/// The `ReplayCache` contract, for the SQL implementations: refusal until expiry, re-use
/// after it, distinct keys, text taken as data, and one winner among concurrent inserts.
pub(crate) async fn replay_cache_checks(cache: Arc<dyn ReplayCache>) {
    let exp = T0 + Duration::minutes(5);
    let a = key("https://idp.example.test", "_a");
    assert!(
        cache.insert_if_absent(&a, exp, T0).await.unwrap(),
        "first use"
    );
    assert!(
        !cache.insert_if_absent(&a, exp, T0).await.unwrap(),
        "replay refused"
    );
    assert!(
        !cache
            .insert_if_absent(&a, exp, exp - Duration::microseconds(1))
            .await
            .unwrap(),
        "refused until the last microsecond"
    );
    assert!(
        cache
            .insert_if_absent(&key("https://idp.example.test", "_b"), exp, T0)
            .await
            .unwrap(),
        "another assertion id"
    );
    assert!(
        cache
            .insert_if_absent(&key("https://other.example.test", "_a"), exp, T0)
            .await
            .unwrap(),
        "the same id from another issuer"
    );
    // Expired at `exp`: accepted again, and then refused until its new expiry.
    let exp2 = exp + Duration::minutes(5);
    assert!(
        cache.insert_if_absent(&a, exp2, exp).await.unwrap(),
        "accepted again once expired"
    );
    assert!(
        !cache
            .insert_if_absent(&a, exp2, exp + Duration::minutes(1))
            .await
            .unwrap(),
        "refused until the new expiry"
    );

    for text in ["'; DELETE FROM maestrano_replay_cache; --", "é🚀", "%", "_"] {
        let k = key(text, text);
        assert!(cache.insert_if_absent(&k, exp, T0).await.unwrap(), "{text}");
        assert!(
            !cache.insert_if_absent(&k, exp, T0).await.unwrap(),
            "{text}"
        );
    }
    assert!(
        !cache.insert_if_absent(&a, exp2, exp).await.unwrap(),
        "still there after the hostile keys"
    );

    // Concurrent first uses of one assertion: exactly one wins, every round.
    for round in 0..8 {
        let k = key("https://idp.example.test", &format!("_race{round}"));
        let barrier = Arc::new(Barrier::new(6));
        let tasks: Vec<_> = (0..6)
            .map(|_| {
                let (cache, barrier, k) = (Arc::clone(&cache), Arc::clone(&barrier), k.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    cache.insert_if_absent(&k, exp, T0).await.unwrap()
                })
            })
            .collect();
        let mut wins = 0;
        for t in tasks {
            if t.await.unwrap() {
                wins += 1;
            }
        }
        assert_eq!(wins, 1, "round {round}: exactly one first use");
    }
}

/// The PostgreSQL URL, or `None` after saying loudly, past the test harness's capture, that
/// the test is skipped. Under CI (`CI` set) a missing URL is a failure instead: CI must run
/// these tests.
pub(crate) fn postgres_url(test: &str) -> Option<String> {
    match std::env::var("MAESTRANO_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "{test}: CI is set but MAESTRANO_TEST_POSTGRES_URL is not; .ci/run must export it"
            );
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {test}: MAESTRANO_TEST_POSTGRES_URL is not set (e.g. \
                 postgres://postgres@127.0.0.1:5432/test)"
            );
            None
        }
    }
}

/// A schema name private to this test and process, so parallel and repeated runs never meet.
pub(crate) fn schema_name(test: &str) -> String {
    format!("maestrano_test_{test}_{}", std::process::id())
}

#[cfg(feature = "postgres")]
pub(crate) async fn drop_schema(url: &str, schema: &str) {
    use maestrano::adapters::tokio_postgres;
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect to drop the test schema");
    let task = tokio::spawn(connection);
    client
        .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
        .await
        .expect("drop the test schema");
    drop(client);
    let _ = task.await;
}

/// Runs `body` with a fresh schema, then drops the schema whether `body` passed or panicked.
#[cfg(feature = "postgres")]
pub(crate) async fn with_schema<F, Fut>(url: &str, test: &str, body: F)
where
    F: FnOnce(String, String) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let schema = schema_name(test);
    drop_schema(url, &schema).await;
    let outcome = tokio::spawn(body(url.to_owned(), schema.clone())).await;
    drop_schema(url, &schema).await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}
