//! Pure builders of Connec! requests for one (tenant, group).

use http::{HeaderValue, Method, header};
use serde_json::Value;
use url::Url;

use super::batch::{BatchMethod, BatchOp, BatchRequest, MAX_BATCH_OPS};
use super::entity::Entity;
use super::error::ConnecError;
use super::query::ListQuery;
use crate::USER_AGENT;
use crate::config::tenant::Tenant;
use crate::ports::HttpRequest;
use crate::rest::RestError;
use crate::rest::wire::{base_url, basic_auth, to_uri};
use crate::types::{GroupUid, MarketplaceKey};

/// The media type of Connec! requests and replies.
pub const CONNEC_MEDIA_TYPE: &str = "application/vnd.api+json";

/// Builds the Connec! requests of one tenant and one group:
/// `{connec.host}{connec.base_path}/{group}/{entity}[/{id}]`, with HTTP Basic `api.id:api.key`.
/// Pure: nothing is sent.
///
/// Every request carries `Accept` and `Content-Type: application/vnd.api+json` (as the Ruby
/// SDK does), `User-Agent`, `Authorization` (marked sensitive), and
/// `CONNEC-EXTERNAL-IDS: true` when [enabled](Self::with_external_ids).
#[derive(Clone)]
pub struct ConnecRequests {
    marketplace: MarketplaceKey,
    group: GroupUid,
    host: Url,
    group_base: Url,
    auth: HeaderValue,
    external_ids: bool,
}

impl std::fmt::Debug for ConnecRequests {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnecRequests")
            .field("marketplace", &self.marketplace)
            .field("group", &self.group)
            .field("group_base", &self.group_base.as_str())
            .field("external_ids", &self.external_ids)
            .finish_non_exhaustive()
    }
}

/// An entity collection name, such as `people`: lower-case ASCII letters, digits and `_`.
fn check_collection(collection: &str) -> Result<(), ConnecError> {
    let ok = !collection.is_empty()
        && collection.len() <= 64
        && collection.as_bytes()[0].is_ascii_lowercase()
        && collection
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ConnecError::Rest(RestError::InvalidInput {
            field: "entity collection",
            expected: "a collection name of lower-case letters, digits and '_' such as \"people\"",
            found: crate::types::shown(collection),
        }))
    }
}

/// An entity id goes into the path as one segment: see [`is_safe_segment`](crate::types::is_safe_segment).
fn check_id(id: &str) -> Result<(), ConnecError> {
    if crate::types::is_safe_segment(id) {
        return Ok(());
    }
    Err(ConnecError::Rest(RestError::InvalidInput {
        field: "entity id",
        expected: crate::types::SAFE_SEGMENT,
        found: crate::types::shown(id),
    }))
}

fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

impl ConnecRequests {
    /// The builder for `group` on `tenant`.
    ///
    /// # Errors
    ///
    /// [`ConnecError::NotConfigured`] when the tenant has no `connec` block.
    pub fn new(tenant: &Tenant, group: GroupUid) -> Result<Self, ConnecError> {
        let config = tenant.config();
        let connec = config.connec().ok_or_else(|| ConnecError::NotConfigured {
            marketplace: tenant.marketplace().clone(),
        })?;
        let mut group_base = base_url(connec.host(), connec.base_path());
        if let Ok(mut s) = group_base.path_segments_mut() {
            s.push(group.as_str());
        }
        Ok(Self {
            marketplace: tenant.marketplace().clone(),
            group,
            host: connec.host().clone(),
            group_base,
            auth: basic_auth(config.api().id(), config.api().key()),
            external_ids: false,
        })
    }

    /// Sends `CONNEC-EXTERNAL-IDS: true`, asking Connec! to include other providers' ids.
    pub fn with_external_ids(mut self, enabled: bool) -> Self {
        self.external_ids = enabled;
        self
    }

    /// The group.
    pub fn group(&self) -> &GroupUid {
        &self.group
    }

    /// The tenant's marketplace key.
    pub fn marketplace(&self) -> &MarketplaceKey {
        &self.marketplace
    }

    fn entity_url(&self, collection: &str, id: Option<&str>) -> Result<Url, ConnecError> {
        check_collection(collection)?;
        let mut url = self.group_base.clone();
        {
            let mut s = url.path_segments_mut().map_err(|()| {
                ConnecError::Rest(RestError::InvalidInput {
                    field: "connec.host",
                    expected: "a URL that can have a path",
                    found: self.host.scheme().to_owned(),
                })
            })?;
            s.push(collection);
            if let Some(id) = id {
                check_id(id)?;
                s.push(id);
            }
        }
        Ok(url)
    }

    fn request(
        &self,
        method: Method,
        url: &Url,
        body: Option<Vec<u8>>,
        auth: bool,
    ) -> Result<HttpRequest, ConnecError> {
        let uri = to_uri(url).map_err(|expected| {
            ConnecError::Rest(RestError::InvalidInput {
                field: "url",
                expected,
                found: url.path().to_owned(),
            })
        })?;
        let mut request = http::Request::new(body.unwrap_or_default());
        *request.method_mut() = method;
        *request.uri_mut() = uri;
        let h = request.headers_mut();
        h.insert(header::ACCEPT, HeaderValue::from_static(CONNEC_MEDIA_TYPE));
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(CONNEC_MEDIA_TYPE),
        );
        h.insert(header::USER_AGENT, HeaderValue::from_static(USER_AGENT));
        if auth {
            h.insert(header::AUTHORIZATION, self.auth.clone());
        }
        if self.external_ids {
            h.insert("connec-external-ids", HeaderValue::from_static("true"));
        }
        Ok(request)
    }

    /// `GET …/{group}/{collection}/{id}`.
    pub fn get(&self, collection: &str, id: &str) -> Result<HttpRequest, ConnecError> {
        let url = self.entity_url(collection, Some(id))?;
        self.request(Method::GET, &url, None, true)
    }

    /// `GET …/{group}/{collection}?$filter=…&$orderby=…&$top=…&$skip=…`.
    pub fn list(&self, collection: &str, query: &ListQuery) -> Result<HttpRequest, ConnecError> {
        let mut url = self.entity_url(collection, None)?;
        let pairs = query.query_pairs()?;
        if !pairs.is_empty() {
            url.query_pairs_mut().extend_pairs(pairs);
        }
        self.request(Method::GET, &url, None, true)
    }

    /// Whether `url` addresses `collection` of this group on this tenant's Connec! host: same
    /// scheme, host and port, no user info, and a path that is `{base_path}/{group}/{collection}`
    /// however often it is percent-decoded (so `..%2Fcld-2%2Fpeople` is someone else's path).
    pub fn is_own_url(&self, collection: &str, url: &Url) -> bool {
        let expected = crate::types::decoded_segments(self.group_base.path()).map(|mut s| {
            s.push(collection.to_owned());
            s
        });
        url.scheme() == self.group_base.scheme()
            && url.host_str() == self.group_base.host_str()
            && url.port_or_known_default() == self.group_base.port_or_known_default()
            && url.username().is_empty()
            && url.password().is_none()
            && expected.is_some()
            && crate::types::decoded_segments(url.path()) == expected
    }

    /// `GET` of the `pagination.next` link of a `collection` listing, which must be an
    /// [own URL](Self::is_own_url) of that collection; a relative link is resolved against
    /// the Connec! host.
    ///
    /// # Errors
    ///
    /// [`ConnecError::ForeignNextPage`] for a link elsewhere (another host, group or
    /// collection): no request is built, so the credentials are never sent there.
    pub fn next_page(&self, collection: &str, next: &str) -> Result<HttpRequest, ConnecError> {
        check_collection(collection)?;
        let expected = || {
            format!(
                "{}{}/{collection}",
                origin(&self.group_base),
                self.group_base.path()
            )
        };
        let url = self
            .host
            .join(next)
            .map_err(|_| ConnecError::ForeignNextPage {
                expected: expected(),
                found: "an unparsable URL".into(),
            })?;
        if !self.is_own_url(collection, &url) {
            tracing::warn!(marketplace = %self.marketplace, found = %origin(&url), "pagination.next outside the listed collection not followed");
            return Err(ConnecError::ForeignNextPage {
                expected: expected(),
                found: if url.origin() == self.group_base.origin() {
                    format!(
                        "{} with a path outside the group's {collection}",
                        origin(&url)
                    )
                } else {
                    origin(&url)
                },
            });
        }
        self.request(Method::GET, &url, None, true)
    }

    fn envelope(collection: &str, value: Value) -> Vec<u8> {
        let mut map = serde_json::Map::new();
        map.insert(collection.to_owned(), value);
        serde_json::to_vec(&Value::Object(map)).expect("JSON values serialise")
    }

    /// `POST …/{group}/{collection}` with `{"<collection>": {...}}`.
    pub fn create(&self, collection: &str, entity: &Entity) -> Result<HttpRequest, ConnecError> {
        let url = self.entity_url(collection, None)?;
        let body = Self::envelope(collection, Value::Object(entity.fields().clone()));
        self.request(Method::POST, &url, Some(body), true)
    }

    /// `POST …/{group}/{collection}` with `{"<collection>": [...]}`: several entities at once.
    pub fn create_many(
        &self,
        collection: &str,
        entities: &[Entity],
    ) -> Result<HttpRequest, ConnecError> {
        let url = self.entity_url(collection, None)?;
        let items = entities
            .iter()
            .map(|e| Value::Object(e.fields().clone()))
            .collect();
        self.request(
            Method::POST,
            &url,
            Some(Self::envelope(collection, Value::Array(items))),
            true,
        )
    }

    /// `PUT …/{group}/{collection}/{id}` with `{"<collection>": {...}}`.
    pub fn update(
        &self,
        collection: &str,
        id: &str,
        entity: &Entity,
    ) -> Result<HttpRequest, ConnecError> {
        let url = self.entity_url(collection, Some(id))?;
        let body = Self::envelope(collection, Value::Object(entity.fields().clone()));
        self.request(Method::PUT, &url, Some(body), true)
    }

    /// A batch operation creating `entity` in this group.
    pub fn batch_create(&self, collection: &str, entity: &Entity) -> Result<BatchOp, ConnecError> {
        let url = self.entity_url(collection, None)?;
        Ok(BatchOp::new(
            BatchMethod::Post,
            url.path(),
            Self::envelope_value(collection, entity),
        ))
    }

    /// A batch operation updating entity `id` of this group.
    pub fn batch_update(
        &self,
        collection: &str,
        id: &str,
        entity: &Entity,
    ) -> Result<BatchOp, ConnecError> {
        let url = self.entity_url(collection, Some(id))?;
        Ok(BatchOp::new(
            BatchMethod::Put,
            url.path(),
            Self::envelope_value(collection, entity),
        ))
    }

    fn envelope_value(collection: &str, entity: &Entity) -> Value {
        let mut map = serde_json::Map::new();
        map.insert(
            collection.to_owned(),
            Value::Object(entity.fields().clone()),
        );
        Value::Object(map)
    }

    /// The path every operation of this group's batches must be under.
    pub(crate) fn group_path_prefix(&self) -> String {
        format!("{}/", self.group_base.path())
    }

    /// `POST {connec.host}/batch` with `{sequential, ops}`.
    ///
    /// # Errors
    ///
    /// [`RestError::InvalidInput`](crate::RestError::InvalidInput) for no operation, more than [`MAX_BATCH_OPS`], or an
    /// operation outside this group.
    pub fn batch(&self, ops: &[BatchOp], sequential: bool) -> Result<HttpRequest, ConnecError> {
        if ops.is_empty() || ops.len() > MAX_BATCH_OPS {
            return Err(ConnecError::Rest(RestError::InvalidInput {
                field: "batch",
                expected: "1 to 50 operations",
                found: format!("{} operations", ops.len()),
            }));
        }
        let prefix = self.group_path_prefix();
        let group_segments = crate::types::decoded_segments(self.group_base.path());
        // Each operation is `{group path}/{collection}[/{id}]` after any decoding, so no
        // operation of a batch reaches outside this group.
        let own = |op: &BatchOp| {
            let path = op.url.split('?').next().unwrap_or_default();
            match (crate::types::decoded_segments(path), &group_segments) {
                (Some(segments), Some(group)) => {
                    segments.starts_with(group)
                        && matches!(segments.len() - group.len(), 1 | 2)
                        && op.collection_after(&prefix).is_some()
                }
                _ => false,
            }
        };
        if let Some(op) = ops.iter().find(|op| !own(op)) {
            return Err(ConnecError::Rest(RestError::InvalidInput {
                field: "batch operation url",
                expected: "a path under this client's group",
                found: crate::types::shown(&op.url),
            }));
        }
        let body = BatchRequest {
            sequential,
            ops: ops.to_vec(),
        };
        let url = crate::rest::wire::base_url(&self.host, "batch");
        self.request(
            Method::POST,
            &url,
            Some(serde_json::to_vec(&body).expect("batch requests serialise")),
            true,
        )
    }

    /// `GET {connec.host}/api/reports/{group}/{report}?params`.
    pub fn report(
        &self,
        report: &str,
        params: &[(&str, &str)],
    ) -> Result<HttpRequest, ConnecError> {
        check_collection(report).map_err(|_| {
            ConnecError::Rest(RestError::InvalidInput {
                field: "report",
                expected: "a report name of lower-case letters, digits and '_'",
                found: crate::types::shown(report),
            })
        })?;
        let mut url = crate::rest::wire::base_url(&self.host, "api/reports");
        if let Ok(mut s) = url.path_segments_mut() {
            s.push(self.group.as_str()).push(report);
        }
        if !params.is_empty() {
            url.query_pairs_mut().extend_pairs(params);
        }
        self.request(Method::GET, &url, None, true)
    }

    /// `GET {connec.host}/version`. Public: sent without credentials.
    pub fn version(&self) -> Result<HttpRequest, ConnecError> {
        let url = crate::rest::wire::base_url(&self.host, "version");
        self.request(Method::GET, &url, None, false)
    }
}
