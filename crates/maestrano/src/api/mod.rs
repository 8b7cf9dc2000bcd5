//! Clients of the marketplace APIs: the account API (bills, recurring bills, groups, users,
//! resellers) here, Connec! in [`crate::connec`].
//!
//! Every call is scoped to one [`Tenant`](crate::Tenant): it goes to that tenant's
//! `api.host` with HTTP Basic `api.id:api.key`, and nothing of one tenant is ever sent to
//! another's hosts. Every call is three steps inside [`AccountClient`]: a pure request
//! builder, the [`HttpClient`](crate::ports::HttpClient) port, and a pure decoder, so both
//! pure halves are tested without a runtime.
//!
//! # Money
//!
//! Amounts are [`Money`]: integer minor units and an ISO 4217 [`Currency`]; quantities are an
//! exact [`Decimal`]. No float is involved in reading or writing them.
//!
//! # Errors
//!
//! | reply | error |
//! | --- | --- |
//! | HTTP 401 | [`ApiError::Authentication`] |
//! | `errors.id` "does not exist" (HTTP 200, 400 or 404), or a bare 404 | [`ApiError::NotFound`] |
//! | HTTP 400/4xx, or `success: false` with HTTP 200 | [`ApiError::InvalidRequest`] (`param` = first field) |
//! | cancelling an invoiced bill | [`ApiError::NotCancellable`] |
//! | HTTP 5xx | [`ApiError::Server`] |
//! | a body that is not JSON | [`RestError::NotJson`](crate::RestError::NotJson) with the status and an excerpt |
//! | JSON of the wrong shape, or a wrong `object` tag | [`RestError::InvalidResponse`](crate::RestError::InvalidResponse) |
//! | a body over 16 MiB, or JSON nested over 64 levels | [`RestError::ResponseTooLarge`](crate::RestError::ResponseTooLarge), [`RestError::NestingTooDeep`](crate::RestError::NestingTooDeep) |
//! | no reply | [`RestError::Transport`](crate::RestError::Transport) |
//!
//! # Avoiding double billing
//!
//! Creating a bill is a `POST`: sending it twice bills the customer twice. The SDK never sends
//! a create again once it may have reached the server, even with retries; it retries it
//! only after a failure that certainly happened before anything was sent (connection refused).
//! When [`create_bill`](AccountClient::create_bill) fails, the error says what is known:
//!
//! - [`ApiError::may_have_been_sent`] is false: nothing reached the server; sending it again
//!   is safe.
//! - [`ApiError::outcome_unknown`] is false (a 4xx with field errors, a 401): the server
//!   refused it; fix the cause, nothing was billed.
//! - [`ApiError::outcome_unknown`] is true (a timeout, a reset, a 5xx, an unreadable reply):
//!   the bill may exist. Before creating it again, look for it:
//!   [`AccountClient::find_bill`] lists the group's bills created since just before the first
//!   attempt and keeps those that [`NewBill::matches`]. Put something unique to the charge in
//!   the description (your own invoice or order reference) so that a match is certain, and
//!   record in your database that the charge is being sent before sending it, so that a crash
//!   between the two is found on restart rather than billed twice.
//!
//! ```no_run
//! # async fn demo(client: maestrano::api::AccountClient, bill: maestrano::api::NewBill, clock: &dyn maestrano::ports::Clock) -> Result<maestrano::api::Bill, maestrano::api::ApiError> {
//! let started = clock.now() - time::Duration::minutes(1);
//! match client.create_bill(&bill).await {
//!     Ok(created) => Ok(created),
//!     Err(e) if e.outcome_unknown() => {
//!         // The bill may exist: never create it again blindly.
//!         match client.find_bill(&bill, started).await?.into_iter().next() {
//!             Some(existing) => Ok(existing),
//!             None => client.create_bill(&bill).await,
//!         }
//!     }
//!     Err(e) => Err(e),
//! }
//! # }
//! ```
//!
//! # Retries
//!
//! See [`RetryPolicy`](crate::RetryPolicy): idempotent calls are retried with bounded exponential backoff within a
//! total deadline, waiting through the [`Sleep`](crate::ports::Sleep) port.

pub(crate) mod account;
pub(crate) mod envelope;
pub(crate) mod error;
mod filter;
mod money;
pub(crate) mod timestamp;

pub use account::{
    AccountClient, Bill, BillStatus, Group, MAX_DESCRIPTION_CHARS, NewBill, NewRecurringBill,
    Period, RecurringBill, RecurringBillStatus, Reseller, User,
};
pub use envelope::AccountObject;
pub use error::{ApiError, FieldErrors};
pub use filter::{Comparison, Filter, FilterValue, MAX_FILTER_CONDITIONS};
pub use money::{Currency, DECIMAL_MAX_DIGITS, Decimal, Money, MoneyError};
