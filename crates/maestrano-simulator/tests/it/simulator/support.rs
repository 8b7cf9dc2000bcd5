//! Helpers shared by the simulator tests.
#![allow(dead_code)] // each module uses a different subset

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use maestrano::MarketplaceKey;
use maestrano::adapters::ReqwestHttpClient;
use maestrano::ports::{HttpClient, HttpResponse, TransportError};
use maestrano::test_util::ManualClock;
use maestrano_simulator::{Simulator, SimulatorConfig};
use serde_json::Value;
use time::macros::datetime;
use url::Url;

pub(crate) const SHAPES: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/maestrano/shapes/");

/// A clock pinned in the future of the fixtures, so nothing in them can be confused with
/// what the simulator writes.
pub(crate) fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(datetime!(2031-03-01 10:00:00 UTC)))
}

pub(crate) fn client() -> ReqwestHttpClient {
    ReqwestHttpClient::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

pub(crate) fn key(k: &str) -> MarketplaceKey {
    MarketplaceKey::new(k).unwrap()
}

/// The simulator's two demo marketplaces (`acme-corp`, `globex`) for an app at `app`.
pub(crate) async fn two(clock: Arc<ManualClock>, app: &Url) -> Simulator {
    Simulator::start(SimulatorConfig::two_marketplaces(clock, app))
        .await
        .unwrap()
}

pub(crate) fn app_url() -> Url {
    // Nothing listens there: tests that need an app bind their own.
    Url::parse("http://127.0.0.1:9").unwrap()
}

pub(crate) fn basic(id: &str, key: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{key}"))
    )
}

/// Sends one request with the SDK's reqwest adapter.
pub(crate) async fn send(
    method: &str,
    url: &str,
    auth: Option<&str>,
    body: Option<&Value>,
) -> Result<HttpResponse, TransportError> {
    let mut b = http::Request::builder().method(method).uri(url);
    if let Some(a) = auth {
        b = b.header("authorization", a);
    }
    if body.is_some() {
        b = b.header("content-type", "application/json");
    }
    let body = body.map(|v| v.to_string().into_bytes()).unwrap_or_default();
    client().send(b.body(body).unwrap()).await
}

pub(crate) fn json_of(r: &HttpResponse) -> Value {
    serde_json::from_slice(r.body())
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(r.body())))
}

pub(crate) fn shape(name: &str) -> Value {
    let path = format!("{SHAPES}{name}");
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
        .unwrap()
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Whether `actual` has the shape of `expected`: the same keys in every object, values of the
/// same JSON type wherever neither is null, and arrays whose elements have the shape of the
/// expected first element.
pub(crate) fn assert_same_shape(actual: &Value, expected: &Value, path: &str) {
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => {
            let mut ak: Vec<&String> = a.keys().collect();
            let mut ek: Vec<&String> = e.keys().collect();
            ak.sort();
            ek.sort();
            assert_eq!(ak, ek, "keys at {path}");
            for (k, ev) in e {
                assert_same_shape(&a[k], ev, &format!("{path}.{k}"));
            }
        }
        (Value::Array(a), Value::Array(e)) => {
            if let Some(first) = e.first() {
                for (i, av) in a.iter().enumerate() {
                    assert_same_shape(av, first, &format!("{path}[{i}]"));
                }
            }
        }
        (Value::Null, _) | (_, Value::Null) => {}
        (a, e) => assert_eq!(kind(a), kind(e), "type at {path}: {a} vs {e}"),
    }
}
