//! The quickstart's app as a long-running server next to a running simulator, to click
//! through a login in a browser.
//!
//! ```text
//! cargo run --example axum_app --features simulator,sqlite [-- PORT]
//! ```
//!
//! It prints a login link per marketplace; open one, and the simulated IdP signs you in and
//! posts you back to the app. Stop it with Ctrl-C.

#[path = "demo_app/mod.rs"]
mod demo_app;

use std::sync::Arc;

use maestrano::Registry;
use maestrano::adapters::{ReqwestHttpClient, SqliteStore};
use maestrano::config::DevPlatformSource;
use maestrano::ports::{Clock, HttpClient, SystemClock};
use maestrano_simulator::{Simulator, SimulatorConfig};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let port: u16 = std::env::args()
        .nth(1)
        .map(|p| p.parse())
        .transpose()?
        .unwrap_or(0);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let http: Arc<dyn HttpClient> = Arc::new(ReqwestHttpClient::new()?);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let app_url = url::Url::parse(&format!("http://{}", listener.local_addr()?))?;
    let sim = Simulator::start(SimulatorConfig::two_marketplaces(clock.clone(), &app_url)).await?;
    let source = DevPlatformSource::new(sim.dev_platform_settings()?, http.clone());
    let registry = Registry::builder(Arc::new(source), clock.clone())
        .build()
        .await?;
    let db =
        std::env::temp_dir().join(format!("maestrano-axum-app-{}.sqlite3", std::process::id()));
    let store = Arc::new(SqliteStore::open(&db)?);
    let app = demo_app::DemoApp::new(registry.clone(), http, clock, store);

    println!("app at {app_url}, identity map in {}", db.display());
    println!(
        "developer platform at {} (env key {})",
        sim.dev_platform_url(),
        sim.env_key()
    );
    for key in registry.snapshot().marketplaces() {
        let tenant = registry.with(key)?;
        println!("log in through {key}: {}", tenant.init_url());
    }
    println!("Ctrl-C to stop");
    tokio::select! {
        r = demo_app::serve(app, listener) => r?,
        _ = tokio::signal::ctrl_c() => println!("stopping"),
    }
    sim.shutdown().await;
    let _ = std::fs::remove_file(&db);
    Ok(())
}
