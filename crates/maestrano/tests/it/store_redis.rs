//! The Redis adapter, against the server named by `MAESTRANO_TEST_REDIS_URL`. Without the
//! variable the tests print a SKIPPED line and return; under CI (`CI` set) they fail instead.
//! Every run writes under keys of its own (the conformance suite's fresh scopes, a per-process
//! prefix), so runs never meet.
#![cfg(feature = "redis")]

use crate::idmap_support::{T0, key, redis_url};

use std::sync::Arc;

use maestrano::adapters::RedisStore;
use maestrano::adapters::redis_client;
use maestrano::ports::{SingleUseError, SingleUseStore};
use maestrano::test_util::single_use_conformance;
use time::Duration;

fn prefix(test: &str) -> String {
    format!("maestrano-test:{test}:{}:", std::process::id())
}

/// Two connections, as two application instances would hold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_single_use_store_keeps_the_contract_across_two_instances() {
    let Some(url) = redis_url("redis_single_use_store_keeps_the_contract") else {
        return;
    };
    single_use_conformance::run(
        Arc::new(RedisStore::connect(&url).await.unwrap()),
        Arc::new(RedisStore::connect(&url).await.unwrap()),
    )
    .await;
}

/// Redis itself drops an entry at its expiry: the key carries a TTL of what is left, and the
/// value is the expiry the caller's clock decides by.
#[tokio::test]
async fn entries_carry_their_ttl_and_prefixes_keep_apps_apart() {
    let Some(url) = redis_url("entries_carry_their_ttl") else {
        return;
    };
    let p = prefix("ttl");
    let store = RedisStore::connect(&url).await.unwrap().with_key_prefix(&p);
    let k = key("https://idp.example.test", "_ttl");
    let exp = T0 + Duration::seconds(90);
    assert!(store.insert_if_absent(&k, exp, T0).await.unwrap());

    let client = redis_client::Client::open(url.as_str()).unwrap();
    let mut raw = client.get_multiplexed_async_connection().await.unwrap();
    let name = format!("{p}assertion:24:https://idp.example.test:_ttl");
    let pttl: i64 = redis_client::cmd("PTTL")
        .arg(&name)
        .query_async(&mut raw)
        .await
        .unwrap();
    assert!(
        (80_000..=90_000).contains(&pttl),
        "expected a TTL of about 90 s, found {pttl} ms"
    );
    let value: String = redis_client::cmd("GET")
        .arg(&name)
        .query_async(&mut raw)
        .await
        .unwrap();
    assert_eq!(
        value,
        (exp.unix_timestamp_nanos() / 1000).to_string(),
        "the value is the expiry in microseconds"
    );

    // Another prefix is another application: it does not see the entry.
    let other = RedisStore::connect(&url)
        .await
        .unwrap()
        .with_key_prefix(prefix("other"));
    assert!(other.insert_if_absent(&k, exp, T0).await.unwrap());
    assert!(
        store
            .take(&key("https://idp.example.test", "_ttl"), T0)
            .await
            .unwrap()
    );
    let _: i64 = redis_client::cmd("DEL")
        .arg(format!(
            "{}assertion:24:https://idp.example.test:_ttl",
            prefix("other")
        ))
        .query_async(&mut raw)
        .await
        .unwrap();
}

/// Redis down: the store says so (without the URL's password), and the caller fails closed.
#[tokio::test]
async fn an_unreachable_server_is_a_store_error_that_hides_the_password() {
    // A port nothing listens on: bind one, note it, close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("redis://app:hunter2-secret@127.0.0.1:{port}/");
    let e = RedisStore::connect(&url).await.unwrap_err();
    assert!(matches!(e, SingleUseError::Store(_)), "{e:?}");
    assert!(!format!("{e} {e:?}").contains("hunter2"), "{e}");

    let e = RedisStore::connect("redis://app:hunter2-secret@[::1")
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("expected a redis:// or unix:// URL"),
        "{e}"
    );
    assert!(!format!("{e} {e:?}").contains("hunter2"), "{e}");
}
