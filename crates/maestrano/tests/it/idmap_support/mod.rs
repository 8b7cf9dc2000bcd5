//! Helpers shared by the identity map and SQL single-use store tests.
#![allow(dead_code)] // each test binary uses a different subset

use std::io::Write as _;

use maestrano::ports::OnceKey;
use time::OffsetDateTime;
use time::macros::datetime;

pub(crate) const T0: OffsetDateTime = datetime!(2024-05-01 12:00 UTC);

/// The schema version this SDK's SQL stores migrate to (both stores share the step list).
pub(crate) const SCHEMA_VERSION: u32 = 5;

pub(crate) fn key(issuer: &str, id: &str) -> OnceKey {
    OnceKey::assertion(issuer, id)
}

/// The PostgreSQL URL, or `None` after saying loudly, past the test harness's capture, that
/// the test is skipped. Under CI (`CI` set) a missing URL is a failure instead: CI must run
/// these tests.
pub(crate) fn postgres_url(test: &str) -> Option<String> {
    service_url(
        "MAESTRANO_TEST_POSTGRES_URL",
        "postgres://postgres@127.0.0.1:5432/test",
        test,
    )
}

/// The Redis URL, as [`postgres_url`] reads its own.
pub(crate) fn redis_url(test: &str) -> Option<String> {
    service_url("MAESTRANO_TEST_REDIS_URL", "redis://127.0.0.1:6379/", test)
}

fn service_url(var: &str, example: &str, test: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "{test}: CI is set but {var} is not; .ci/run must export it"
            );
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {test}: {var} is not set (e.g. {example})"
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
