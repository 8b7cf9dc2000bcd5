//! Starts the marketplace simulator with two marketplaces and prints how to reach it, until
//! Ctrl-C.
//!
//! ```sh
//! cargo run --example simulator --features simulator [-- APP_BASE_URL]
//! ```
//!
//! `APP_BASE_URL` is where the application under test listens (default
//! `http://127.0.0.1:3000`): the simulated marketplaces configure it as `app.host`, log users
//! in to its ACS and send their webhooks there. Point the application's autoconfigure at the
//! printed developer platform (the `MNO_DEVPL_*` lines can be pasted into a shell).

use std::sync::Arc;

use maestrano::ports::SystemClock;
use maestrano_simulator::{Simulator, SimulatorConfig};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let app: url::Url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "http://127.0.0.1:3000".into())
        .parse()?;
    let config = SimulatorConfig::two_marketplaces(Arc::new(SystemClock), &app);
    let sim = Simulator::start(config).await?;

    println!("Maestrano marketplace simulator, for the application at {app}");
    println!();
    println!("Developer platform: {}", sim.dev_platform_url());
    println!("  export MNO_DEVPL_HOST={}", sim.dev_platform_url());
    println!("  export MNO_DEVPL_ENV_KEY={}", sim.env_key());
    // Printed on purpose: these are throwaway credentials of a local test server.
    println!(
        "  export MNO_DEVPL_ENV_SECRET={}",
        sim.env_secret().expose()
    );
    for m in sim.marketplaces() {
        let tenant = maestrano::Tenant::new(m.config.clone());
        println!();
        println!("Marketplace {} at {}", m.key, m.base_url);
        println!("  api.id   {}", m.api_id);
        println!("  api.key  {}", m.api_key.expose());
        println!("  IdP      {}", m.idp_sso_url());
        println!("  certificate SHA-1 {}", m.certificate.sha1_fingerprint());
        println!("  the app's ACS   {}", tenant.acs_url());
        println!("  the app's init  {}", tenant.init_url());
        let spec = sim.marketplace(&m.key)?.spec().clone();
        for member in &spec.memberships {
            println!(
                "  user {} is {} of group {} (log in as them with ?{}={}&{}={})",
                member.user,
                member.role,
                member.group,
                maestrano_simulator::SIM_USER_PARAM,
                member.user,
                maestrano_simulator::GROUP_PARAM,
                member.group
            );
        }
    }
    println!();
    println!("Press Ctrl-C to stop.");
    tokio::signal::ctrl_c().await?;
    sim.shutdown().await;
    println!("stopped");
    Ok(())
}
