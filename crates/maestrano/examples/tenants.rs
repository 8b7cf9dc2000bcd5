//! Loads a marketplace configuration and prints, for every tenant, its SSO URLs and the routes
//! the application must serve.
//!
//! ```text
//! cargo run --example tenants [path/to/marketplaces.json]
//! ```
//!
//! Without an argument it reads the two-marketplace developer platform reply of the
//! conformance data, `tests/data/maestrano/shapes/dev-platform/marketplaces-two.json`
//! relative to the crate root.

use std::error::Error;
use std::sync::Arc;

use maestrano::Registry;
use maestrano::config::StaticSource;
use maestrano::ports::SystemClock;

const DEFAULT_CONFIG: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/maestrano/shapes/dev-platform/marketplaces-two.json"
);

#[tokio::main(flavor = "current_thread")]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("error: {e}");
        let mut source = e.source();
        while let Some(cause) = source {
            eprintln!("  caused by: {cause}");
            source = cause.source();
        }
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Box<dyn Error>> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| DEFAULT_CONFIG.to_owned());
    let source = StaticSource::from_json_file(&path)?;
    let registry = Registry::builder(Arc::new(source), Arc::new(SystemClock))
        .build()
        .await?;
    let router = registry.router();
    let snapshot = registry.snapshot();
    println!("{} marketplaces from {path}", snapshot.tenants().len());
    for tenant in snapshot.tenants() {
        let sso = tenant.config().sso();
        println!();
        println!("== {}", tenant.marketplace());
        println!("  init URL          {}", tenant.init_url());
        println!("  ACS URL           {}", tenant.acs_url());
        println!("  IdP SSO URL       {}", tenant.idp_sso_url());
        println!("  unauthorized URL  {}", tenant.unauthorized_url());
        println!(
            "  SP entity id      {}",
            maestrano::sso::sp_entity_id(tenant)
        );
        match sso.fingerprint() {
            Some(fp) => println!("  IdP fingerprint   {fp}"),
            None => println!("  IdP fingerprint   (none)"),
        }
        for cert in sso.certificates() {
            println!(
                "  IdP certificate   {} (RSA-{}, valid until {})",
                cert.subject(),
                cert.key_bits(),
                cert.not_after().date()
            );
        }
        println!("  routes:");
        for route in router.routes_for(tenant.marketplace()) {
            println!(
                "    {:<7} {:<70} {:?}",
                route.method.as_str(),
                route.path,
                route.kind
            );
        }
    }
    Ok(())
}
