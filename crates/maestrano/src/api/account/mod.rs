//! The account API of one tenant: bills, recurring bills, groups, users and resellers, at
//! `{api.host}{api.base}account/…`.
//!
//! [`AccountRequests`] builds each request (pure), the [`HttpClient`] port sends it, and the
//! decoders ([`decode_one`](crate::api::decode_one), [`decode_list`](crate::api::decode_list),
//! [`decode_cancelled_bill`], [`decode_cancelled_recurring_bill`]) read the reply (pure).
//! [`AccountClient`] chains the three.

mod models;

use std::sync::Arc;

use crate::rest::RestError;
use http::{HeaderValue, Method, header};
use url::Url;

pub use models::{
    Bill, BillStatus, Group, MAX_DESCRIPTION_CHARS, NewBill, NewRecurringBill, Period,
    RecurringBill, RecurringBillStatus, Reseller, User,
};

use super::envelope::{AccountObject, decode_list, decode_one};
use super::error::ApiError;
use super::filter::Filter;
use crate::config::tenant::Tenant;
use crate::ports::{HttpClient, HttpRequest, HttpResponse};
use crate::rest::retry::{Retrier, execute};
use crate::rest::wire::{USER_AGENT, base_url, basic_auth, to_uri};
use crate::types::{BillId, GroupUid, MarketplaceKey, RecurringBillId, ResellerUid, UserUid};

/// Builds the account API requests of one tenant: its `api.host` and `api.base`, and HTTP
/// Basic with its `api.id` and `api.key`. Pure: nothing is sent.
///
/// Every request carries `Authorization` (marked sensitive, so `Debug` does not print it),
/// `Accept: application/json` and `User-Agent: maestrano-rust/<version>`; a create also
/// carries `Content-Type: application/json` and a JSON body.
#[derive(Clone)]
pub struct AccountRequests {
    marketplace: MarketplaceKey,
    base: Url,
    auth: HeaderValue,
}

impl std::fmt::Debug for AccountRequests {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountRequests")
            .field("marketplace", &self.marketplace)
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

impl AccountRequests {
    /// The builder for `tenant`.
    pub fn new(tenant: &Tenant) -> Self {
        let api = tenant.config().api();
        Self {
            marketplace: tenant.marketplace().clone(),
            base: base_url(api.host(), api.base()),
            auth: basic_auth(api.id(), api.key()),
        }
    }

    /// The tenant's marketplace key.
    pub fn marketplace(&self) -> &MarketplaceKey {
        &self.marketplace
    }

    fn url(&self, segments: &[&str], filter: Option<&Filter>) -> Result<Url, ApiError> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| {
                ApiError::Rest(RestError::InvalidInput {
                    field: "api.host",
                    expected: "a URL that can have a path",
                    found: self.base.scheme().to_owned(),
                })
            })?
            .push("account")
            .extend(segments);
        if let Some(filter) = filter.filter(|f| !f.is_empty()) {
            let pairs = filter.query_pairs()?;
            url.query_pairs_mut().extend_pairs(pairs);
        }
        Ok(url)
    }

    fn request(
        &self,
        method: Method,
        url: &Url,
        body: Option<Vec<u8>>,
    ) -> Result<HttpRequest, ApiError> {
        let uri = to_uri(url).map_err(|expected| {
            ApiError::Rest(RestError::InvalidInput {
                field: "url",
                expected,
                found: url.path().to_owned(),
            })
        })?;
        let mut request = http::Request::new(body.clone().unwrap_or_default());
        *request.method_mut() = method;
        *request.uri_mut() = uri;
        let headers = request.headers_mut();
        headers.insert(header::AUTHORIZATION, self.auth.clone());
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        headers.insert(header::USER_AGENT, HeaderValue::from_static(USER_AGENT));
        if body.is_some() {
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
        }
        Ok(request)
    }

    fn get(&self, segments: &[&str], filter: Option<&Filter>) -> Result<HttpRequest, ApiError> {
        let url = self.url(segments, filter)?;
        self.request(Method::GET, &url, None)
    }

    /// `GET account/bills` with `filter` as query parameters.
    pub fn list_bills(&self, filter: &Filter) -> Result<HttpRequest, ApiError> {
        self.get(&["bills"], Some(filter))
    }

    /// `GET account/bills/{id}`.
    pub fn get_bill(&self, id: &BillId) -> Result<HttpRequest, ApiError> {
        self.get(&["bills", id.as_str()], None)
    }

    /// `POST account/bills` with the bill as JSON.
    ///
    /// # Errors
    ///
    /// [`RestError::InvalidInput`](crate::RestError::InvalidInput) for a price that is not positive, an empty or too long
    /// description, units that are not positive, or a period that ends before it starts.
    pub fn create_bill(&self, bill: &NewBill) -> Result<HttpRequest, ApiError> {
        let body = bill.body()?;
        self.request(Method::POST, &self.url(&["bills"], None)?, Some(body))
    }

    /// `DELETE account/bills/{id}`.
    pub fn cancel_bill(&self, id: &BillId) -> Result<HttpRequest, ApiError> {
        self.request(
            Method::DELETE,
            &self.url(&["bills", id.as_str()], None)?,
            None,
        )
    }

    /// `GET account/recurring_bills` with `filter`.
    pub fn list_recurring_bills(&self, filter: &Filter) -> Result<HttpRequest, ApiError> {
        self.get(&["recurring_bills"], Some(filter))
    }

    /// `GET account/recurring_bills/{id}`.
    pub fn get_recurring_bill(&self, id: &RecurringBillId) -> Result<HttpRequest, ApiError> {
        self.get(&["recurring_bills", id.as_str()], None)
    }

    /// `POST account/recurring_bills` with the recurring bill as JSON.
    ///
    /// # Errors
    ///
    /// [`RestError::InvalidInput`](crate::RestError::InvalidInput) as for [`create_bill`](Self::create_bill), and for a zero
    /// frequency or number of cycles, or negative initial cents.
    pub fn create_recurring_bill(&self, bill: &NewRecurringBill) -> Result<HttpRequest, ApiError> {
        let body = bill.body()?;
        self.request(
            Method::POST,
            &self.url(&["recurring_bills"], None)?,
            Some(body),
        )
    }

    /// `DELETE account/recurring_bills/{id}`.
    pub fn cancel_recurring_bill(&self, id: &RecurringBillId) -> Result<HttpRequest, ApiError> {
        self.request(
            Method::DELETE,
            &self.url(&["recurring_bills", id.as_str()], None)?,
            None,
        )
    }

    /// `GET account/groups` with `filter`.
    pub fn list_groups(&self, filter: &Filter) -> Result<HttpRequest, ApiError> {
        self.get(&["groups"], Some(filter))
    }

    /// `GET account/groups/{id}`.
    pub fn get_group(&self, id: &GroupUid) -> Result<HttpRequest, ApiError> {
        self.get(&["groups", id.as_str()], None)
    }

    /// `GET account/users` with `filter`.
    pub fn list_users(&self, filter: &Filter) -> Result<HttpRequest, ApiError> {
        self.get(&["users"], Some(filter))
    }

    /// `GET account/users/{id}`.
    pub fn get_user(&self, id: &UserUid) -> Result<HttpRequest, ApiError> {
        self.get(&["users", id.as_str()], None)
    }

    /// `GET account/resellers` with `filter`.
    pub fn list_resellers(&self, filter: &Filter) -> Result<HttpRequest, ApiError> {
        self.get(&["resellers"], Some(filter))
    }

    /// `GET account/resellers/{id}`.
    pub fn get_reseller(&self, id: &ResellerUid) -> Result<HttpRequest, ApiError> {
        self.get(&["resellers", id.as_str()], None)
    }

    /// `GET account/resellers/{id}/groups` with `filter`: the groups a reseller brought.
    pub fn list_reseller_groups(
        &self,
        id: &ResellerUid,
        filter: &Filter,
    ) -> Result<HttpRequest, ApiError> {
        self.get(&["resellers", id.as_str(), "groups"], Some(filter))
    }
}

/// Decodes the reply to a bill cancel: the bill, which must now be `cancelled`.
///
/// # Errors
///
/// [`ApiError::NotCancellable`] when the server refused on `status` (the bill was invoiced) or
/// returned the bill in another status; the other errors as
/// `decode_one`.
pub fn decode_cancelled_bill(response: &HttpResponse) -> Result<Bill, ApiError> {
    let bill: Bill = decode_one(response).map_err(not_cancellable)?;
    if bill.status != BillStatus::Cancelled {
        return Err(ApiError::NotCancellable {
            status: response.status().as_u16(),
            message: format!(
                "expected status cancelled in the reply, found {}",
                bill.status
            ),
        });
    }
    Ok(bill)
}

/// Decodes the reply to a recurring bill cancel, as [`decode_cancelled_bill`].
///
/// # Errors
///
/// As [`decode_cancelled_bill`].
pub fn decode_cancelled_recurring_bill(response: &HttpResponse) -> Result<RecurringBill, ApiError> {
    let bill: RecurringBill = decode_one(response).map_err(not_cancellable)?;
    if bill.status != RecurringBillStatus::Cancelled {
        return Err(ApiError::NotCancellable {
            status: response.status().as_u16(),
            message: format!(
                "expected status cancelled in the reply, found {}",
                bill.status
            ),
        });
    }
    Ok(bill)
}

fn not_cancellable(e: ApiError) -> ApiError {
    match e {
        ApiError::InvalidRequest {
            status,
            param,
            message,
            ..
        } if param.as_deref() == Some("status") => ApiError::NotCancellable { status, message },
        e => e,
    }
}

/// The account API client of one tenant.
///
/// Each call builds its request with [`AccountRequests`], sends it through the
/// [`HttpClient`], and decodes the reply. Calls are scoped to the tenant given at
/// construction: its hosts and credentials only.
///
/// Without [`with_retry`](Self::with_retry), nothing is retried. With it, reads and cancels are
/// retried as [`RetryPolicy`](crate::RetryPolicy) says; creates only when the request
/// certainly was not sent.
///
/// ```no_run
/// # async fn demo(tenant: maestrano::Tenant, http: std::sync::Arc<dyn maestrano::ports::HttpClient>) -> Result<(), maestrano::api::ApiError> {
/// use maestrano::api::{AccountClient, Currency, Filter, Money, NewBill};
/// use maestrano::GroupUid;
///
/// let client = AccountClient::new(tenant, http);
/// let group = GroupUid::new("cld-9axx").expect("valid uid");
/// let aud = Currency::new("AUD").expect("ISO 4217");
/// let bill = client
///     .create_bill(&NewBill::new(group.clone(), Money::new(2000, aud), "Monthly plan"))
///     .await?;
/// let open = client.list_bills(&Filter::new().eq("group_id", &group).eq("status", "submitted")).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct AccountClient {
    tenant: Tenant,
    requests: AccountRequests,
    http: Arc<dyn HttpClient>,
    retrier: Option<Retrier>,
    bulkhead: Option<crate::rest::Bulkhead>,
    redactor: crate::redact::Redactor,
}

impl AccountClient {
    /// A client for `tenant` over `http`, without retries.
    pub fn new(tenant: Tenant, http: Arc<dyn HttpClient>) -> Self {
        let api = tenant.config().api();
        Self {
            redactor: crate::redact::Redactor::new(api.id().as_str(), api.key()),
            requests: AccountRequests::new(&tenant),
            tenant,
            http,
            retrier: None,
            bulkhead: None,
        }
    }

    /// Retries idempotent calls with `retrier`.
    pub fn with_retry(mut self, retrier: Retrier) -> Self {
        self.retrier = Some(retrier);
        self
    }

    /// Keeps this tenant's calls inside its place in `bulkhead` (shared by the app's clients):
    /// at most so many in flight, each attempt timed out, none while its circuit is open
    /// ([`RestError::Saturated`](crate::RestError::Saturated),
    /// [`RestError::CircuitOpen`](crate::RestError::CircuitOpen)).
    pub fn with_bulkhead(mut self, bulkhead: crate::rest::Bulkhead) -> Self {
        self.bulkhead = Some(bulkhead);
        self
    }

    /// The tenant.
    pub fn tenant(&self) -> &Tenant {
        &self.tenant
    }

    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, ApiError> {
        let method = request.method().clone();
        let site = crate::rest::retry::CallSite {
            marketplace: self.tenant.marketplace(),
            service: crate::rest::ApiService::Account,
            bulkhead: self.bulkhead.as_ref(),
        };
        let result = execute(&*self.http, self.retrier.as_ref(), None, request, site).await;
        if let Err(e) = &result {
            tracing::warn!(marketplace = %self.tenant.marketplace(), %method, error = %e, "account API call failed below HTTP");
        }
        Ok(result?)
    }

    /// Sends `request` and decodes the reply; an error leaves without the tenant's
    /// credentials, whatever the reply echoed.
    async fn call<T>(
        &self,
        request: Result<HttpRequest, ApiError>,
        decode: impl FnOnce(&HttpResponse) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let result = async { decode(&self.send(request?).await?) }.await;
        result.map_err(|mut e| {
            e.redact(&self.redactor);
            e
        })
    }

    async fn one<T: AccountObject>(
        &self,
        request: Result<HttpRequest, ApiError>,
    ) -> Result<T, ApiError> {
        self.call(request, decode_one).await
    }

    async fn list<T: AccountObject>(
        &self,
        request: Result<HttpRequest, ApiError>,
    ) -> Result<Vec<T>, ApiError> {
        self.call(request, decode_list).await
    }

    /// The bills matching `filter`.
    pub async fn list_bills(&self, filter: &Filter) -> Result<Vec<Bill>, ApiError> {
        self.list(self.requests.list_bills(filter)).await
    }

    /// One bill.
    pub async fn bill(&self, id: &BillId) -> Result<Bill, ApiError> {
        self.one(self.requests.get_bill(id)).await
    }

    /// Creates a bill. Never retried once it may have reached the server: on an error whose
    /// [`outcome_unknown`](ApiError::outcome_unknown) is true, look for it with
    /// [`find_bill`](Self::find_bill) before creating it again.
    pub async fn create_bill(&self, bill: &NewBill) -> Result<Bill, ApiError> {
        self.one(self.requests.create_bill(bill)).await
    }

    /// Cancels a bill; the returned bill is `cancelled`. An invoiced bill cannot be cancelled:
    /// [`ApiError::NotCancellable`].
    pub async fn cancel_bill(&self, id: &BillId) -> Result<Bill, ApiError> {
        self.call(self.requests.cancel_bill(id), decode_cancelled_bill)
            .await
    }

    /// The bills of `bill`'s group created at or after `since` that [match](NewBill::matches)
    /// it: what to check before sending again a create whose outcome is unknown.
    pub async fn find_bill(
        &self,
        bill: &NewBill,
        since: time::OffsetDateTime,
    ) -> Result<Vec<Bill>, ApiError> {
        // The platform keeps `created_at` at whole seconds: a bill created 0.4 s after a
        // `since` with fractions is stored before it, so the bound goes down to its second.
        let filter = Filter::new()
            .eq("group_id", bill.group_id())
            .after("created_at", models::platform_time(since));
        Ok(self
            .list_bills(&filter)
            .await?
            .into_iter()
            .filter(|b| bill.matches(b))
            .collect())
    }

    /// The recurring bills matching `filter`.
    pub async fn list_recurring_bills(
        &self,
        filter: &Filter,
    ) -> Result<Vec<RecurringBill>, ApiError> {
        self.list(self.requests.list_recurring_bills(filter)).await
    }

    /// One recurring bill.
    pub async fn recurring_bill(&self, id: &RecurringBillId) -> Result<RecurringBill, ApiError> {
        self.one(self.requests.get_recurring_bill(id)).await
    }

    /// Creates a recurring bill; never retried once it may have reached the server.
    pub async fn create_recurring_bill(
        &self,
        bill: &NewRecurringBill,
    ) -> Result<RecurringBill, ApiError> {
        self.one(self.requests.create_recurring_bill(bill)).await
    }

    /// Cancels a recurring bill; the returned one is `cancelled`.
    pub async fn cancel_recurring_bill(
        &self,
        id: &RecurringBillId,
    ) -> Result<RecurringBill, ApiError> {
        self.call(
            self.requests.cancel_recurring_bill(id),
            decode_cancelled_recurring_bill,
        )
        .await
    }

    /// The groups matching `filter`.
    pub async fn list_groups(&self, filter: &Filter) -> Result<Vec<Group>, ApiError> {
        self.list(self.requests.list_groups(filter)).await
    }

    /// One group.
    pub async fn group(&self, id: &GroupUid) -> Result<Group, ApiError> {
        self.one(self.requests.get_group(id)).await
    }

    /// The users matching `filter`.
    pub async fn list_users(&self, filter: &Filter) -> Result<Vec<User>, ApiError> {
        self.list(self.requests.list_users(filter)).await
    }

    /// One user.
    pub async fn user(&self, id: &UserUid) -> Result<User, ApiError> {
        self.one(self.requests.get_user(id)).await
    }

    /// The resellers matching `filter`.
    pub async fn list_resellers(&self, filter: &Filter) -> Result<Vec<Reseller>, ApiError> {
        self.list(self.requests.list_resellers(filter)).await
    }

    /// One reseller.
    pub async fn reseller(&self, id: &ResellerUid) -> Result<Reseller, ApiError> {
        self.one(self.requests.get_reseller(id)).await
    }

    /// The groups of a reseller matching `filter`.
    pub async fn reseller_groups(
        &self,
        id: &ResellerUid,
        filter: &Filter,
    ) -> Result<Vec<Group>, ApiError> {
        self.list(self.requests.list_reseller_groups(id, filter))
            .await
    }
}
