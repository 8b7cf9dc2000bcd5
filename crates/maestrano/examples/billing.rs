//! Bills a customer group of one marketplace, safely: reads are retried, the create is sent
//! once, and when its outcome is unknown the bill is looked up before it is ever sent again.
//!
//! ```text
//! cargo run --example billing --features reqwest,tokio -- \
//!     marketplaces.json <marketplace> <group uid> <amount in cents> <currency> "<description>"
//! ```
//!
//! Put something unique to the charge (your order or invoice reference) in the description:
//! it is what tells an earlier attempt apart from another charge of the same amount.

use std::error::Error;
use std::sync::Arc;

use maestrano::__private::Retrier;
use maestrano::Registry;
use maestrano::RetryPolicy;
use maestrano::adapters::ReqwestHttpClient;
use maestrano::adapters::TokioSleep;
use maestrano::api::{AccountClient, ApiError, Bill, Currency, Filter, Money, NewBill};
use maestrano::config::StaticSource;
use maestrano::ports::{Clock, SystemClock};
use maestrano::{GroupUid, MarketplaceKey};

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
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [config, marketplace, group, cents, currency, description] = args.as_slice() else {
        return Err("usage: billing <marketplaces.json> <marketplace> <group uid> <cents> <currency> <description>".into());
    };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let registry = Registry::builder(
        Arc::new(StaticSource::from_json_file(config)?),
        clock.clone(),
    )
    .build()
    .await?;
    let tenant = registry.with(&MarketplaceKey::new(marketplace)?)?;
    let retrier = Retrier::new(RetryPolicy::default(), clock.clone(), Arc::new(TokioSleep));
    let client =
        AccountClient::new(tenant, Arc::new(ReqwestHttpClient::new()?)).with_retry(retrier);

    let group = GroupUid::new(group)?;
    let price = Money::new(cents.parse()?, Currency::new(currency)?);
    let bill = NewBill::new(group.clone(), price, description.as_str());

    // A minute of margin for clock skew between this machine and the marketplace.
    let started = clock.now() - time::Duration::minutes(1);
    let created = create_once(&client, &bill, started).await?;
    println!(
        "bill {} for {} is {}",
        created.id, created.price, created.status
    );

    let open = client
        .list_bills(
            &Filter::new()
                .eq("group_id", &group)
                .eq("status", "submitted"),
        )
        .await?;
    println!("{} submitted bill(s) for {group}", open.len());
    Ok(())
}

/// Creates `bill` at most once: when the first attempt's outcome is unknown, an existing
/// matching bill is returned instead of creating a second one.
async fn create_once(
    client: &AccountClient,
    bill: &NewBill,
    started: time::OffsetDateTime,
) -> Result<Bill, ApiError> {
    match client.create_bill(bill).await {
        Ok(created) => Ok(created),
        Err(e) if e.outcome_unknown() => {
            eprintln!("the create may have gone through ({e}); looking for it");
            match client.find_bill(bill, started).await?.into_iter().next() {
                Some(existing) => Ok(existing),
                None => client.create_bill(bill).await,
            }
        }
        Err(e) => Err(e),
    }
}
