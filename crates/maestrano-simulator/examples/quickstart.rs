//! The end-to-end quickstart: two simulated marketplaces and a small multi-tenant app built
//! with the SDK (identity map in a SQLite file), driven through every integration point over
//! real HTTP on loopback, with one transcript line per step.
//!
//! ```text
//! cargo run --example quickstart --features simulator,sqlite
//! ```
//!
//! It exits 0 only if every step checked out.

#[path = "demo_app/mod.rs"]
mod demo_app;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> std::process::ExitCode {
    println!("maestrano quickstart: one app, two marketplaces");
    let mut out = std::io::stdout();
    match demo_app::scenario::run(&mut out).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            println!("     ✘ {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
