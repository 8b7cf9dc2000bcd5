//! The Connec! client of one (tenant, group), and the stream of list pages.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;
use serde_json::Value;

use super::batch::{BatchOp, BatchOutcome, MAX_BATCH_OPS};
use super::decode::{
    ConnecVersion, Page, decode_batch, decode_entities, decode_entity, decode_page, decode_report,
    decode_version,
};
use super::entity::{ConnecEntity, Entity};
use super::error::ConnecError;
use super::query::ListQuery;
use super::requests::ConnecRequests;
use crate::config::tenant::Tenant;
use crate::ports::{HttpClient, HttpRequest, HttpResponse};
use crate::rest::RestError;
use crate::rest::retry::Retrier;
use crate::types::GroupUid;

/// The default most pages a listing follows.
pub const DEFAULT_MAX_PAGES: u32 = 1000;

#[derive(Debug, Clone)]
struct Inner {
    tenant: Tenant,
    requests: ConnecRequests,
    http: Arc<dyn HttpClient>,
    retrier: Option<Retrier>,
    bulkhead: Option<crate::rest::Bulkhead>,
    timeout: Option<Duration>,
    max_pages: u32,
    redactor: crate::redact::Redactor,
}

/// The Connec! client of one tenant and one group (customer): every request goes to the
/// tenant's `connec.host`, under the group's path, with the tenant's credentials.
///
/// Cheap to clone. Without [`with_retry`](Self::with_retry) nothing is retried and
/// `connec.timeout` is left to the HTTP client; with it, reads and updates are retried as the
/// [`RetryPolicy`](crate::RetryPolicy) says and each attempt is cut off after `connec.timeout`.
///
/// ```no_run
/// # async fn demo(tenant: maestrano::Tenant, http: std::sync::Arc<dyn maestrano::ports::HttpClient>) -> Result<(), maestrano::connec::ConnecError> {
/// use maestrano::connec::{ConnecClient, ListQuery, Person};
/// use maestrano::GroupUid;
///
/// let client = ConnecClient::new(&tenant, GroupUid::new("cld-dkg601").expect("uid"), http)?;
/// let mut pages = client.pages("people", ListQuery::new().top(100))?;
/// while let Some(page) = pages.next_page().await {
///     for entity in page?.entities {
///         let person: Person = entity.to_typed()?;
///         println!("{:?} {:?}", person.first_name, person.last_name);
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ConnecClient {
    inner: Arc<Inner>,
}

impl ConnecClient {
    /// A client for `group` on `tenant` over `http`.
    ///
    /// # Errors
    ///
    /// [`ConnecError::NotConfigured`] when the tenant has no `connec` block.
    pub fn new(
        tenant: &Tenant,
        group: GroupUid,
        http: Arc<dyn HttpClient>,
    ) -> Result<Self, ConnecError> {
        let requests = ConnecRequests::new(tenant, group)?;
        Ok(Self {
            inner: Arc::new(Inner {
                timeout: tenant.config().connec().and_then(|c| c.timeout()),
                tenant: tenant.clone(),
                requests,
                http,
                retrier: None,
                bulkhead: None,
                max_pages: DEFAULT_MAX_PAGES,
                redactor: crate::redact::Redactor::new(
                    tenant.config().api().id().as_str(),
                    tenant.config().api().key(),
                ),
            }),
        })
    }

    fn edit(mut self, f: impl FnOnce(&mut Inner)) -> Self {
        f(Arc::make_mut(&mut self.inner));
        self
    }

    /// Retries idempotent calls with `retrier`, and enforces `connec.timeout` on each attempt.
    pub fn with_retry(self, retrier: Retrier) -> Self {
        self.edit(|i| i.retrier = Some(retrier))
    }

    /// Keeps this tenant's calls inside its place in `bulkhead` (shared by the app's clients):
    /// at most so many in flight, each attempt timed out, none while its circuit is open
    /// ([`RestError::Saturated`](crate::RestError::Saturated),
    /// [`RestError::CircuitOpen`](crate::RestError::CircuitOpen)).
    pub fn with_bulkhead(self, bulkhead: crate::rest::Bulkhead) -> Self {
        self.edit(|i| i.bulkhead = Some(bulkhead))
    }

    /// Sends `CONNEC-EXTERNAL-IDS: true`.
    pub fn with_external_ids(self, enabled: bool) -> Self {
        self.edit(|i| i.requests = i.requests.clone().with_external_ids(enabled))
    }

    /// Sets the most pages a listing follows (default [`DEFAULT_MAX_PAGES`]).
    pub fn with_max_pages(self, max_pages: u32) -> Self {
        self.edit(|i| i.max_pages = max_pages.max(1))
    }

    /// The request builder.
    pub(crate) fn requests(&self) -> &ConnecRequests {
        &self.inner.requests
    }

    /// The tenant.
    pub fn tenant(&self) -> &Tenant {
        &self.inner.tenant
    }

    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, ConnecError> {
        let i = &self.inner;
        let method = request.method().clone();
        let site = crate::rest::retry::CallSite {
            marketplace: i.tenant.marketplace(),
            service: crate::rest::ApiService::Connec,
            bulkhead: i.bulkhead.as_ref(),
        };
        let result =
            crate::rest::retry::execute(&*i.http, i.retrier.as_ref(), i.timeout, request, site)
                .await;
        if let Err(e) = &result {
            tracing::warn!(marketplace = %i.tenant.marketplace(), group = %i.requests.group(), %method, error = %e, "Connec! call failed below HTTP");
        }
        Ok(result?)
    }

    /// Sends `request` and decodes the reply; an error leaves without the tenant's
    /// credentials, whatever the reply echoed.
    async fn call<T>(
        &self,
        request: HttpRequest,
        decode: impl FnOnce(&HttpResponse) -> Result<T, ConnecError>,
    ) -> Result<T, ConnecError> {
        let result = self.send(request).await.and_then(|r| decode(&r));
        result.map_err(|e| self.redacted(e))
    }

    fn redacted(&self, mut e: ConnecError) -> ConnecError {
        e.redact(&self.inner.redactor);
        e
    }

    /// One entity of `collection` (`people`, `invoices`, …).
    pub async fn get(&self, collection: &str, id: &str) -> Result<Entity, ConnecError> {
        self.call(self.requests().get(collection, id)?, |r| {
            decode_entity(r, collection)
        })
        .await
    }

    /// One typed entity.
    pub async fn get_typed<T: ConnecEntity>(&self, id: &str) -> Result<T, ConnecError> {
        self.get(T::COLLECTION, id).await?.to_typed()
    }

    /// One page of `collection`.
    pub async fn list(&self, collection: &str, query: &ListQuery) -> Result<Page, ConnecError> {
        self.call(self.requests().list(collection, query)?, |r| {
            decode_page(r, collection)
        })
        .await
    }

    /// Every page of `collection`, following `pagination.next` while it stays on the tenant's
    /// Connec! host and in this group, up to the page cap.
    pub fn pages(&self, collection: &str, query: ListQuery) -> Result<Pages, ConnecError> {
        let first = self.requests().list(collection, &query)?;
        Ok(Pages {
            client: self.clone(),
            collection: Arc::from(collection),
            pending: Some(first),
            in_flight: None,
            error: None,
            fetched: 0,
            last_url: None,
            done: false,
        })
    }

    /// Every entity of every page (see [`pages`](Self::pages)).
    ///
    /// # Errors
    ///
    /// The first error of any page: a listing that cannot be completed is not returned in
    /// part.
    pub async fn list_all(
        &self,
        collection: &str,
        query: ListQuery,
    ) -> Result<Vec<Entity>, ConnecError> {
        let mut pages = self.pages(collection, query)?;
        let mut out = Vec::new();
        while let Some(page) = pages.next_page().await {
            out.extend(page?.entities);
        }
        Ok(out)
    }

    /// Creates an entity; returns it as Connec! stored it (with its ids). Never retried once it
    /// may have reached the server.
    pub async fn create(&self, collection: &str, entity: &Entity) -> Result<Entity, ConnecError> {
        self.call(self.requests().create(collection, entity)?, |r| {
            decode_entity(r, collection)
        })
        .await
    }

    /// Creates several entities in one request.
    pub async fn create_many(
        &self,
        collection: &str,
        entities: &[Entity],
    ) -> Result<Vec<Entity>, ConnecError> {
        self.call(self.requests().create_many(collection, entities)?, |r| {
            decode_entities(r, collection)
        })
        .await
    }

    /// Updates entity `id` with the fields of `entity`.
    pub async fn update(
        &self,
        collection: &str,
        id: &str,
        entity: &Entity,
    ) -> Result<Entity, ConnecError> {
        self.call(self.requests().update(collection, id, entity)?, |r| {
            decode_entity(r, collection)
        })
        .await
    }

    /// Creates a typed entity.
    pub async fn create_typed<T: ConnecEntity>(&self, entity: &T) -> Result<T, ConnecError> {
        self.create(T::COLLECTION, &Entity::from_typed(entity)?)
            .await?
            .to_typed()
    }

    /// Updates a typed entity.
    pub async fn update_typed<T: ConnecEntity>(
        &self,
        id: &str,
        entity: &T,
    ) -> Result<T, ConnecError> {
        self.update(T::COLLECTION, id, &Entity::from_typed(entity)?)
            .await?
            .to_typed()
    }

    /// A batch operation creating `entity` in this client's group, for [`batch`](Self::batch).
    pub fn batch_create(&self, collection: &str, entity: &Entity) -> Result<BatchOp, ConnecError> {
        self.requests().batch_create(collection, entity)
    }

    /// A batch operation updating entity `id` of this client's group, for
    /// [`batch`](Self::batch).
    pub fn batch_update(
        &self,
        collection: &str,
        id: &str,
        entity: &Entity,
    ) -> Result<BatchOp, ConnecError> {
        self.requests().batch_update(collection, id, entity)
    }

    /// Runs `ops` as batches of at most [`MAX_BATCH_OPS`], in order, and maps every result
    /// back to its operation. A batch is a `POST`: it is never retried once it may have
    /// reached the server.
    ///
    /// # Errors
    ///
    /// The error of the first call when it fails; [`ConnecError::BatchIncomplete`], with the
    /// outcomes of the calls that went through, when a later one fails; and
    /// [`RestError::InvalidResponse`](crate::RestError::InvalidResponse) when Connec! returns a different number of results
    /// than operations.
    pub async fn batch(
        &self,
        ops: &[BatchOp],
        sequential: bool,
    ) -> Result<Vec<BatchOutcome>, ConnecError> {
        let prefix = self.requests().group_path_prefix();
        // Build every request first: a bad operation fails before anything is sent.
        let requests = ops
            .chunks(MAX_BATCH_OPS)
            .map(|chunk| self.requests().batch(chunk, sequential))
            .collect::<Result<Vec<_>, _>>()?;
        let mut outcomes = Vec::with_capacity(ops.len());
        for (n, (chunk, request)) in ops.chunks(MAX_BATCH_OPS).zip(requests).enumerate() {
            let offset = n * MAX_BATCH_OPS;
            let step = async {
                let response = self.send(request).await?;
                let status = response.status().as_u16();
                let reply = decode_batch(&response)?;
                if reply.results.len() != chunk.len() {
                    return Err(ConnecError::Rest(RestError::InvalidResponse {
                        status,
                        detail: format!(
                            "expected {} batch results, found {}",
                            chunk.len(),
                            reply.results.len()
                        ),
                    }));
                }
                Ok(reply)
            };
            match step.await {
                Ok(reply) => {
                    for (k, (op, result)) in chunk.iter().zip(reply.results).enumerate() {
                        let collection = op.collection_after(&prefix).unwrap_or_default();
                        outcomes.push(BatchOutcome {
                            index: offset + k,
                            status: result.status,
                            result: result.entity(collection).map_err(|e| self.redacted(e)),
                        });
                    }
                }
                Err(e) if outcomes.is_empty() => return Err(self.redacted(e)),
                Err(e) => {
                    return Err(self.redacted(ConnecError::BatchIncomplete {
                        completed: outcomes,
                        source: Box::new(e),
                    }));
                }
            }
        }
        Ok(outcomes)
    }

    /// A report of this group, as JSON.
    pub async fn report(
        &self,
        report: &str,
        params: &[(&str, &str)],
    ) -> Result<Value, ConnecError> {
        self.call(self.requests().report(report, params)?, decode_report)
            .await
    }

    /// The version of the tenant's Connec!.
    pub async fn version(&self) -> Result<ConnecVersion, ConnecError> {
        self.call(self.requests().version()?, decode_version).await
    }

    async fn fetch(&self, request: HttpRequest, collection: &str) -> Result<Page, ConnecError> {
        self.call(request, |r| decode_page(r, collection)).await
    }
}

type PageFuture = Pin<Box<dyn Future<Output = Result<Page, ConnecError>> + Send>>;

/// The pages of a listing, as an async [`Stream`]; see [`ConnecClient::pages`].
///
/// Each page is yielded as it arrives. A `pagination.next` outside the tenant's Connec! host
/// or the group is not followed: the page that carried it is yielded, then
/// [`ConnecError::ForeignNextPage`]. Past the page cap, [`ConnecError::TooManyPages`]. After
/// an error the stream ends.
pub struct Pages {
    client: ConnecClient,
    collection: Arc<str>,
    pending: Option<HttpRequest>,
    in_flight: Option<PageFuture>,
    error: Option<ConnecError>,
    fetched: u32,
    last_url: Option<String>,
    done: bool,
}

impl std::fmt::Debug for Pages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pages")
            .field("collection", &self.collection)
            .field("fetched", &self.fetched)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl Pages {
    /// The next page, or `None` at the end. The same as polling the stream.
    pub async fn next_page(&mut self) -> Option<Result<Page, ConnecError>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }

    /// How many pages were fetched so far.
    pub fn pages_fetched(&self) -> u32 {
        self.fetched
    }

    fn after(&mut self, page: &Page) {
        let max = self.client.inner.max_pages;
        let Some(next) = page.next.as_deref() else {
            self.done = true;
            return;
        };
        if self.last_url.as_deref() == Some(next) {
            self.error = Some(ConnecError::Rest(RestError::InvalidResponse {
                status: 200,
                detail: "expected pagination.next to move on, found the page just fetched".into(),
            }));
            return;
        }
        if self.fetched >= max {
            self.error = Some(ConnecError::TooManyPages { limit: max });
            return;
        }
        match self.client.requests().next_page(&self.collection, next) {
            Ok(request) => {
                self.last_url = Some(next.to_owned());
                self.pending = Some(request);
            }
            Err(e) => self.error = Some(e),
        }
    }
}

impl Stream for Pages {
    type Item = Result<Page, ConnecError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Some(fut) = this.in_flight.as_mut() {
                return match fut.as_mut().poll(cx) {
                    Poll::Pending => Poll::Pending,
                    Poll::Ready(Ok(page)) => {
                        this.in_flight = None;
                        this.fetched += 1;
                        this.after(&page);
                        Poll::Ready(Some(Ok(page)))
                    }
                    Poll::Ready(Err(e)) => {
                        this.in_flight = None;
                        this.done = true;
                        Poll::Ready(Some(Err(e)))
                    }
                };
            }
            if let Some(e) = this.error.take() {
                this.done = true;
                return Poll::Ready(Some(Err(e)));
            }
            if this.done {
                return Poll::Ready(None);
            }
            match this.pending.take() {
                Some(request) => {
                    let client = this.client.clone();
                    let collection = this.collection.clone();
                    this.in_flight =
                        Some(Box::pin(
                            async move { client.fetch(request, &collection).await },
                        ));
                }
                None => {
                    this.done = true;
                    return Poll::Ready(None);
                }
            }
        }
    }
}
