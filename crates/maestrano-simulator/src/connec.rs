//! A marketplace's Connec! API: entities per group under `/api/v2/{group}/{collection}`, with
//! `$filter`, `$orderby`, `$top`, `$skip` and `pagination.next`, batches, reports, the version
//! endpoint, and JSON-API errors.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use http::{Method, StatusCode};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use super::config::MarketplaceSpec;
use super::state::{Marketplace, lock};
use super::wire::{random_uuid, reply};
use maestrano::__private::{format_utc, parse_lenient};

/// The media type of Connec! replies.
pub const CONNEC_MEDIA_TYPE: &str = "application/vnd.api+json";
/// Most operations in one batch.
pub const MAX_BATCH_OPS: usize = 50;
/// The page size when a list names no `$top`.
pub const DEFAULT_PAGE_SIZE: usize = 100;
/// The largest `$top` accepted.
pub const MAX_PAGE_SIZE: usize = 1000;
/// Most entities one simulated marketplace stores.
pub(crate) const MAX_ENTITIES: usize = 100_000;
const MAX_FILTER_BYTES: usize = 2048;
const MAX_FILTER_TERMS: usize = 16;

/// The collections the simulated Connec! accepts.
pub const COLLECTIONS: &[&str] = &[
    "accounts",
    "app_users",
    "bills",
    "company",
    "credit_notes",
    "employees",
    "events",
    "event_orders",
    "invoices",
    "items",
    "journals",
    "opportunities",
    "organizations",
    "pay_items",
    "pay_runs",
    "pay_schedules",
    "pay_stubs",
    "payments",
    "people",
    "projects",
    "purchase_orders",
    "quotes",
    "sales_orders",
    "tax_codes",
    "tax_rates",
    "time_activities",
    "time_sheets",
    "venues",
    "warehouses",
    "work_locations",
];

/// The reports the simulated Connec! serves (a small fixed-shape summary).
pub const REPORTS: &[&str] = &["balance_sheet", "profit_and_loss", "trial_balance"];

#[derive(Debug)]
struct GroupData {
    org_uid: String,
    collections: BTreeMap<String, Vec<Map<String, Value>>>,
}

/// The entities of every group of one marketplace.
#[derive(Debug)]
pub(crate) struct ConnecStore {
    groups: BTreeMap<String, GroupData>,
    count: usize,
}

/// A status and a JSON body.
pub(crate) type Outcome = (StatusCode, Value);

impl ConnecStore {
    pub(crate) fn new(spec: &MarketplaceSpec) -> Self {
        Self {
            groups: spec
                .groups
                .iter()
                .map(|g| {
                    (
                        g.uid.to_string(),
                        GroupData {
                            org_uid: g.org_uid.clone(),
                            collections: BTreeMap::new(),
                        },
                    )
                })
                .collect(),
            count: 0,
        }
    }

    /// The stored entities of one collection of one group, in creation order.
    pub(crate) fn entities(&self, group: &str, collection: &str) -> Vec<Value> {
        self.groups
            .get(group)
            .and_then(|g| g.collections.get(collection))
            .map(|list| list.iter().cloned().map(Value::Object).collect())
            .unwrap_or_default()
    }
}

/// A JSON-API error body.
pub(crate) fn error_body(
    random: &dyn maestrano::ports::RandomSource,
    status: &str,
    code: &str,
    title: &str,
    detail: &str,
    href: Option<String>,
) -> Value {
    let id = random_uuid(random).unwrap_or_default();
    json!({"errors": [{
        "id": id,
        "href": href,
        "status": status,
        "code": code,
        "title": title,
        "detail": detail,
    }]})
}

/// A Connec! reply.
pub(crate) fn respond(outcome: Outcome) -> axum::response::Response {
    reply(
        outcome.0,
        CONNEC_MEDIA_TYPE,
        outcome.1.to_string().into_bytes(),
    )
}

fn href(collection: &str, action: &str) -> Option<String> {
    Some(format!(
        "http://maestrano.github.io/connec/#{collection}-{action}"
    ))
}

fn singular(collection: &str) -> String {
    match collection {
        "people" => "person".into(),
        "company" => "company".into(),
        c if c.ends_with("ies") => format!("{}y", &c[..c.len() - 3]),
        c => c.strip_suffix('s').unwrap_or(c).to_owned(),
    }
}

/// What one Connec! call needs besides the store.
pub(crate) struct Call<'a> {
    pub(crate) m: &'a Marketplace,
    pub(crate) now: OffsetDateTime,
}

impl Call<'_> {
    fn error(
        &self,
        status: StatusCode,
        code: &str,
        title: &str,
        detail: &str,
        href: Option<String>,
    ) -> Outcome {
        (
            status,
            error_body(
                self.m.shared.random.as_ref(),
                status.as_str(),
                code,
                title,
                detail,
                href,
            ),
        )
    }

    fn bad_request(&self, detail: &str) -> Outcome {
        self.error(
            StatusCode::BAD_REQUEST,
            "bad-request",
            "Bad Request",
            detail,
            None,
        )
    }

    fn not_found(&self, href: Option<String>) -> Outcome {
        self.error(
            StatusCode::NOT_FOUND,
            "resource-not-found",
            "Resource not found",
            "Resource not found",
            href,
        )
    }

    /// Executes one call on `/api/v2/{rest…}`, as a request or a batch operation.
    pub(crate) fn execute(
        &self,
        method: &Method,
        rest: &[String],
        query: &[(String, String)],
        body: Option<&Value>,
    ) -> Outcome {
        let (group, collection, id) = match rest {
            [g, c] => (g, c, None),
            [g, c, id] => (g, c, Some(id.as_str())),
            _ => return self.not_found(None),
        };
        if !COLLECTIONS.contains(&collection.as_str()) {
            return self.error(
                StatusCode::BAD_REQUEST,
                "unknown-resource",
                "Unknown Resource",
                "Unknown Resource",
                href(collection, &format!("{collection}-list-get")),
            );
        }
        let mut store = lock(&self.m.connec);
        if !store.groups.contains_key(group.as_str()) {
            return self.error(
                StatusCode::NOT_FOUND,
                "resource-not-found",
                "Resource not found",
                "No such group in this marketplace",
                None,
            );
        }
        match (method.clone(), id) {
            (Method::GET, None) => self.list(&store, group, collection, query),
            (Method::GET, Some(id)) => {
                let hit = store.groups[group.as_str()]
                    .collections
                    .get(collection.as_str())
                    .and_then(|list| list.iter().find(|e| connec_id(e) == Some(id)));
                match hit {
                    Some(e) => (StatusCode::OK, json!({ collection.as_str(): e })),
                    None => {
                        self.not_found(href(collection, &format!("{}-get", singular(collection))))
                    }
                }
            }
            (Method::POST, None) => self.create(&mut store, group, collection, body),
            (Method::PUT, Some(id)) => self.update(&mut store, group, collection, id, body),
            _ => self.error(
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method Not Allowed",
                &format!("{method} is not supported here"),
                None,
            ),
        }
    }

    fn list(
        &self,
        store: &ConnecStore,
        group: &str,
        collection: &str,
        query: &[(String, String)],
    ) -> Outcome {
        let param = |name: &str| {
            query
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let filter = match param("$filter").map(parse_filter).transpose() {
            Ok(f) => f.unwrap_or_default(),
            Err(e) => return self.bad_request(&format!("$filter: {e}")),
        };
        let order = match param("$orderby").map(parse_orderby).transpose() {
            Ok(o) => o.unwrap_or_default(),
            Err(e) => return self.bad_request(&format!("$orderby: {e}")),
        };
        let top = match param("$top").map(|t| t.trim().parse::<usize>()) {
            None => DEFAULT_PAGE_SIZE,
            Some(Ok(t)) if (1..=MAX_PAGE_SIZE).contains(&t) => t,
            Some(_) => {
                return self.bad_request(&format!(
                    "$top must be a whole number from 1 to {MAX_PAGE_SIZE}"
                ));
            }
        };
        let skip = match param("$skip").map(|s| s.trim().parse::<usize>()) {
            None => 0,
            Some(Ok(s)) => s,
            Some(Err(_)) => return self.bad_request("$skip must be a whole number"),
        };
        let all = store.groups[group]
            .collections
            .get(collection)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let mut hits: Vec<&Map<String, Value>> = all
            .iter()
            .filter(|e| filter.iter().all(|t| t.matches(e)))
            .collect();
        if !order.is_empty() {
            hits.sort_by(|a, b| {
                order
                    .iter()
                    .map(|(field, descending)| {
                        let o = compare_fields(lookup(a, field), lookup(b, field));
                        if *descending { o.reverse() } else { o }
                    })
                    .find(|o| *o != Ordering::Equal)
                    .unwrap_or(Ordering::Equal)
            });
        }
        let total = hits.len();
        let page: Vec<Value> = hits
            .into_iter()
            .skip(skip)
            .take(top)
            .cloned()
            .map(Value::Object)
            .collect();
        let mut body = Map::new();
        body.insert(collection.to_owned(), Value::Array(page));
        if skip.saturating_add(top) < total {
            let mut next = self.m.base_url().clone();
            next.set_path(&format!("/api/v2/{group}/{collection}"));
            {
                let mut q = next.query_pairs_mut();
                for name in ["$filter", "$orderby"] {
                    if let Some(v) = param(name) {
                        q.append_pair(name, v);
                    }
                }
                q.append_pair("$skip", &(skip + top).to_string());
                q.append_pair("$top", &top.to_string());
            }
            body.insert("pagination".into(), json!({"next": next.as_str()}));
        }
        (StatusCode::OK, Value::Object(body))
    }

    fn entity_of<'b>(
        &self,
        collection: &str,
        body: Option<&'b Value>,
    ) -> Result<&'b Map<String, Value>, Outcome> {
        match body.and_then(|b| b.get(collection)) {
            Some(Value::Object(e)) => Ok(e),
            _ => Err(self.bad_request(&format!("the body must be {{\"{collection}\": {{…}}}}"))),
        }
    }

    fn create(
        &self,
        store: &mut ConnecStore,
        group: &str,
        collection: &str,
        body: Option<&Value>,
    ) -> Outcome {
        let entity = match self.entity_of(collection, body) {
            Ok(e) => e,
            Err(o) => return o,
        };
        let external = match external_ids(entity.get("id")) {
            Ok(ids) => ids,
            Err(IdProblem::CarriesConnecId) => {
                // Connec!'s own quirk: HTTP 409 with "404" inside.
                return (
                    StatusCode::CONFLICT,
                    error_body(
                        self.m.shared.random.as_ref(),
                        "404",
                        "creation-of-resource-with-id",
                        "Creation of resource with id",
                        "Creation of resource with id",
                        href(collection, &format!("{collection}-list-post")),
                    ),
                );
            }
            Err(IdProblem::Malformed(detail)) => return self.bad_request(&detail),
        };
        if store.count >= MAX_ENTITIES {
            return self.bad_request("the simulator keeps at most 100000 entities");
        }
        let Ok(uuid) = random_uuid(self.m.shared.random.as_ref()) else {
            return self.error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal-server-error",
                "Internal Server Error",
                "the random source failed",
                None,
            );
        };
        let Some(data) = store.groups.get_mut(group) else {
            return self.not_found(None);
        };
        let mut ids = vec![json!({"realm": data.org_uid, "provider": "connec", "id": uuid})];
        ids.extend(external);
        let mut stored = Map::new();
        stored.insert("id".into(), Value::Array(ids));
        for (k, v) in entity {
            if !matches!(
                k.as_str(),
                "id" | "opts" | "group_id" | "created_at" | "updated_at"
            ) {
                stored.insert(k.clone(), v.clone());
            }
        }
        let stamp = format_utc(self.now);
        stored.insert("group_id".into(), group.into());
        stored.insert("created_at".into(), stamp.clone().into());
        stored.insert("updated_at".into(), stamp.into());
        data.collections
            .entry(collection.to_owned())
            .or_default()
            .push(stored.clone());
        store.count += 1;
        (StatusCode::CREATED, json!({ collection: stored }))
    }

    fn update(
        &self,
        store: &mut ConnecStore,
        group: &str,
        collection: &str,
        id: &str,
        body: Option<&Value>,
    ) -> Outcome {
        let not_found = href(collection, &format!("{}-put", singular(collection)));
        let entity = match self.entity_of(collection, body) {
            Ok(e) => e,
            Err(o) => return o,
        };
        let external = match external_ids(entity.get("id")) {
            Ok(ids) => ids,
            // An update may repeat the entity's own Connec! id.
            Err(IdProblem::CarriesConnecId) => Vec::new(),
            Err(IdProblem::Malformed(detail)) => return self.bad_request(&detail),
        };
        let Some(data) = store.groups.get_mut(group) else {
            return self.not_found(None);
        };
        let Some(stored) = data
            .collections
            .get_mut(collection)
            .and_then(|list| list.iter_mut().find(|e| connec_id(e) == Some(id)))
        else {
            return self.not_found(not_found);
        };
        for (k, v) in entity {
            if !matches!(
                k.as_str(),
                "id" | "opts" | "group_id" | "created_at" | "updated_at"
            ) {
                stored.insert(k.clone(), v.clone());
            }
        }
        if let Some(Value::Array(ids)) = stored.get_mut("id") {
            for new in external {
                let same = |old: &Value| {
                    old.get("provider") == new.get("provider")
                        && old.get("realm") == new.get("realm")
                };
                match ids.iter_mut().find(|old| same(old)) {
                    Some(old) => *old = new,
                    None => ids.push(new),
                }
            }
        }
        stored.insert("updated_at".into(), format_utc(self.now).into());
        (StatusCode::OK, json!({ collection: stored.clone() }))
    }

    /// `POST /batch`: `{sequential, ops: [{method, url, params}]}`.
    pub(crate) fn batch(&self, body: &[u8]) -> Outcome {
        let Ok(Value::Object(batch)) = serde_json::from_slice::<Value>(body) else {
            return self.bad_request("the body must be {\"sequential\": …, \"ops\": […]}");
        };
        let Some(Value::Array(ops)) = batch.get("ops") else {
            return self.bad_request("the batch has no \"ops\" array");
        };
        if ops.len() > MAX_BATCH_OPS {
            return self.bad_request(&format!(
                "a batch holds at most {MAX_BATCH_OPS} operations, found {}",
                ops.len()
            ));
        }
        let mut results = Vec::with_capacity(ops.len());
        for op in ops {
            let (status, body) = self.batch_op(op);
            results.push(json!({"status": status.as_u16(), "body": body}));
        }
        (StatusCode::OK, json!({ "results": results }))
    }

    fn batch_op(&self, op: &Value) -> Outcome {
        let method = op
            .get("method")
            .and_then(Value::as_str)
            .map(str::to_ascii_uppercase)
            .and_then(|m| Method::from_bytes(m.as_bytes()).ok());
        let Some(method) = method else {
            return self.bad_request("an operation has no valid \"method\"");
        };
        let Some(url) = op.get("url").and_then(Value::as_str) else {
            return self.bad_request("an operation has no \"url\"");
        };
        // A path, or an absolute URL on this host.
        let base = self.m.base_url().as_str().trim_end_matches('/');
        let path_and_query = url.strip_prefix(base).unwrap_or(url);
        let Ok(uri) = path_and_query.parse::<http::Uri>() else {
            return self.bad_request("an operation's \"url\" is not a path");
        };
        if uri.scheme().is_some() {
            return self.bad_request("an operation's \"url\" is on another host");
        }
        let segments = super::wire::segments(&uri);
        let Some(rest) = segments.strip_prefix(&["api".to_owned(), "v2".to_owned()]) else {
            return self.not_found(None);
        };
        let query = super::wire::query_pairs(&uri);
        self.execute(&method, rest, &query, op.get("params"))
    }

    /// `GET /api/reports/{group}/{report}`: a fixed-shape summary.
    pub(crate) fn report(&self, group: &str, report: &str, query: &[(String, String)]) -> Outcome {
        let store = lock(&self.m.connec);
        let Some(data) = store.groups.get(group) else {
            return self.not_found(None);
        };
        if !REPORTS.contains(&report) {
            return self.not_found(href("reports", report));
        }
        let rows: Vec<Value> = data
            .collections
            .iter()
            .map(|(name, list)| json!({"label": name, "value": list.len()}))
            .collect();
        let params: Map<String, Value> = query
            .iter()
            .take(32)
            .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
            .collect();
        (
            StatusCode::OK,
            json!({ report: {
                "name": report,
                "group_id": group,
                "organization_id": data.org_uid,
                "generated_at": format_utc(self.now),
                "params": params,
                "rows": rows,
            }}),
        )
    }

    /// Stores `entity` in `collection` of `group` as a create would, for tests.
    pub(crate) fn insert(&self, group: &str, collection: &str, entity: Value) -> Outcome {
        let body = json!({ collection: entity });
        self.execute(
            &Method::POST,
            &[group.to_owned(), collection.to_owned()],
            &[],
            Some(&body),
        )
    }
}

/// The Connec! id of a stored entity.
fn connec_id(entity: &Map<String, Value>) -> Option<&str> {
    match entity.get("id")? {
        Value::Array(ids) => ids
            .iter()
            .find(|i| i.get("provider").and_then(Value::as_str) == Some("connec"))
            .and_then(|i| i.get("id"))
            .and_then(Value::as_str),
        Value::String(s) => Some(s),
        _ => None,
    }
}

enum IdProblem {
    CarriesConnecId,
    Malformed(String),
}

/// The other providers' ids of a create or update body.
fn external_ids(ids: Option<&Value>) -> Result<Vec<Value>, IdProblem> {
    let items = match ids {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::String(_)) => return Err(IdProblem::CarriesConnecId),
        Some(Value::Array(items)) => items,
        Some(_) => {
            return Err(IdProblem::Malformed(
                "\"id\" must be an array of {id, provider, realm}".into(),
            ));
        }
    };
    let mut out = Vec::new();
    for item in items.iter().take(64) {
        let text = |k: &str| item.get(k).and_then(Value::as_str);
        match (text("id"), text("provider")) {
            (Some(_), Some("connec")) => return Err(IdProblem::CarriesConnecId),
            (Some(id), Some(provider)) => {
                let mut entry = json!({"id": id, "provider": provider});
                if let Some(realm) = text("realm") {
                    entry["realm"] = realm.into();
                }
                out.push(entry);
            }
            _ => {
                return Err(IdProblem::Malformed(
                    "each id needs a string \"id\" and \"provider\"".into(),
                ));
            }
        }
    }
    Ok(out)
}

/// A dotted field path in an entity.
fn lookup<'a>(entity: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let mut v = entity.get(parts.next()?)?;
    for p in parts {
        v = v.get(p)?;
    }
    Some(v)
}

#[derive(Debug, Clone, PartialEq)]
enum Literal {
    Text(String),
    Number(f64),
    Bool(bool),
    Null,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone, PartialEq)]
struct Term {
    field: String,
    cmp: Cmp,
    value: Literal,
}

fn compare_text(a: &str, b: &str) -> Ordering {
    match (parse_lenient(a), parse_lenient(b)) {
        (Ok(Some(x)), Ok(Some(y))) => x.cmp(&y),
        _ => a.cmp(b),
    }
}

fn compare_fields(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    match (a, b) {
        (Some(Value::Number(x)), Some(Value::Number(y))) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (Some(Value::String(x)), Some(Value::String(y))) => compare_text(x, y),
        (Some(Value::Bool(x)), Some(Value::Bool(y))) => x.cmp(y),
        // Missing and null values sort last.
        (Some(Value::Null) | None, Some(Value::Null) | None) => Ordering::Equal,
        (Some(Value::Null) | None, _) => Ordering::Greater,
        (_, Some(Value::Null) | None) => Ordering::Less,
        _ => Ordering::Equal,
    }
}

impl Term {
    fn matches(&self, entity: &Map<String, Value>) -> bool {
        let value = lookup(entity, &self.field);
        // `id eq '…'` matches any id of the entity's id array.
        if let (Some(Value::Array(ids)), Literal::Text(t)) = (value, &self.value) {
            let any = ids
                .iter()
                .any(|i| i.get("id").and_then(Value::as_str) == Some(t.as_str()));
            return match self.cmp {
                Cmp::Eq => any,
                Cmp::Ne => !any,
                _ => false,
            };
        }
        let order = match (value, &self.value) {
            (None | Some(Value::Null), Literal::Null) => Some(Ordering::Equal),
            (Some(_), Literal::Null) => None,
            (Some(Value::String(s)), Literal::Text(t)) => Some(compare_text(s, t)),
            (Some(Value::Number(n)), Literal::Number(x)) => {
                n.as_f64().and_then(|n| n.partial_cmp(x))
            }
            (Some(Value::Number(n)), Literal::Text(t)) => t
                .parse::<f64>()
                .ok()
                .and_then(|x| n.as_f64().and_then(|n| n.partial_cmp(&x))),
            (Some(Value::Bool(b)), Literal::Bool(x)) => Some(b.cmp(x)),
            _ => None,
        };
        match (self.cmp, order) {
            (Cmp::Ne, None) => true,
            (_, None) => false,
            (Cmp::Eq, Some(o)) => o == Ordering::Equal,
            (Cmp::Ne, Some(o)) => o != Ordering::Equal,
            (Cmp::Gt, Some(o)) => o == Ordering::Greater,
            (Cmp::Ge, Some(o)) => o != Ordering::Less,
            (Cmp::Lt, Some(o)) => o == Ordering::Less,
            (Cmp::Le, Some(o)) => o != Ordering::Greater,
        }
    }
}

fn valid_field(f: &str) -> bool {
    !f.is_empty()
        && f.len() <= 128
        && f.split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
}

/// Reads `field op value [and field op value …]`, values quoted with `'` (doubled to escape)
/// or bare numbers, `true`, `false`, `null`.
fn parse_filter(text: &str) -> Result<Vec<Term>, String> {
    if text.len() > MAX_FILTER_BYTES {
        return Err(format!("longer than {MAX_FILTER_BYTES} bytes"));
    }
    let tokens = tokenize(text)?;
    let mut terms = Vec::new();
    let mut i = 0;
    loop {
        if terms.len() >= MAX_FILTER_TERMS {
            return Err(format!("more than {MAX_FILTER_TERMS} conditions"));
        }
        let (Some(Token::Word(field)), Some(Token::Word(op)), Some(value)) =
            (tokens.get(i), tokens.get(i + 1), tokens.get(i + 2))
        else {
            return Err("expected `field op value`".into());
        };
        if !valid_field(field) {
            return Err(format!("{field:?} is not a field name"));
        }
        let cmp = match op.to_ascii_lowercase().as_str() {
            "eq" => Cmp::Eq,
            "ne" => Cmp::Ne,
            "gt" => Cmp::Gt,
            "ge" => Cmp::Ge,
            "lt" => Cmp::Lt,
            "le" => Cmp::Le,
            other => return Err(format!("unsupported operator {other:?}")),
        };
        let value = match value {
            Token::Quoted(s) => Literal::Text(s.clone()),
            Token::Word(w) => match w.to_ascii_lowercase().as_str() {
                "true" => Literal::Bool(true),
                "false" => Literal::Bool(false),
                "null" => Literal::Null,
                _ => match w.parse::<f64>() {
                    Ok(n) if n.is_finite() => Literal::Number(n),
                    _ => return Err(format!("{w:?} is not a value (quote text with ')")),
                },
            },
        };
        terms.push(Term {
            field: field.clone(),
            cmp,
            value,
        });
        i += 3;
        match tokens.get(i) {
            None => return Ok(terms),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("and") => i += 1,
            Some(_) => return Err("conditions must be joined with `and`".into()),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Quoted(String),
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '\'' {
            chars.next();
            let mut s = String::new();
            loop {
                match chars.next() {
                    None => return Err("unterminated quoted value".into()),
                    Some('\'') if chars.peek() == Some(&'\'') => {
                        chars.next();
                        s.push('\'');
                    }
                    Some('\'') => break,
                    Some(ch) => s.push(ch),
                }
            }
            tokens.push(Token::Quoted(s));
        } else {
            let mut w = String::new();
            while let Some(&ch) = chars.peek() {
                if ch.is_whitespace() || ch == '\'' {
                    break;
                }
                w.push(ch);
                chars.next();
            }
            tokens.push(Token::Word(w));
        }
    }
    Ok(tokens)
}

/// Reads `field [asc|desc][, field [asc|desc]…]` (at most four keys).
fn parse_orderby(text: &str) -> Result<Vec<(String, bool)>, String> {
    let mut keys = Vec::new();
    for part in text.split(',').take(5) {
        let words: Vec<&str> = part.split_whitespace().collect();
        let (field, descending) = match words.as_slice() {
            [f] => (*f, false),
            [f, d] if d.eq_ignore_ascii_case("asc") => (*f, false),
            [f, d] if d.eq_ignore_ascii_case("desc") => (*f, true),
            _ => return Err(format!("{:?} is not `field [asc|desc]`", part.trim())),
        };
        if !valid_field(field) {
            return Err(format!("{field:?} is not a field name"));
        }
        keys.push((field.to_owned(), descending));
    }
    if keys.len() > 4 {
        return Err("at most four sort keys".into());
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entity(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    #[test]
    fn filters_parse_and_match() {
        let e = entity(json!({
            "id": [{"id": "c-1", "provider": "connec"}, {"id": "A-1", "provider": "app"}],
            "first_name": "O'Brien",
            "age": 42,
            "is_customer": true,
            "address": {"city": "Sydney"},
            "updated_at": "2016-02-03T22:40:12.389Z",
            "note": null,
        }));
        let t = |f: &str| parse_filter(f).unwrap().iter().all(|t| t.matches(&e));
        assert!(t("first_name eq 'O''Brien'"));
        assert!(!t("first_name eq 'OBrien'"));
        assert!(t("first_name ne 'x' and age gt 41 and age le 42"));
        assert!(t("is_customer eq true"));
        assert!(t("address.city eq 'Sydney'"));
        assert!(t("updated_at gt '2016-02-03T22:40:12Z'"));
        assert!(t("updated_at lt '2016-02-04T00:00:00+01:00'"));
        assert!(t("note eq null and missing eq null"));
        assert!(t("id eq 'A-1'"));
        assert!(t("id ne 'B-1'"));
        for bad in [
            "",
            "first_name",
            "first_name eq",
            "first_name like 'x'",
            "first_name eq 'x' or age gt 1",
            "first_name eq 'x",
            "first-name eq 'x'",
            "age gt abc",
        ] {
            assert!(parse_filter(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn orderby_reads_directions() {
        assert_eq!(
            parse_orderby("last_name desc, first_name").unwrap(),
            vec![("last_name".into(), true), ("first_name".into(), false)]
        );
        assert!(parse_orderby("a sideways").is_err());
        assert!(parse_orderby("a,b,c,d,e").is_err());
    }

    #[test]
    fn missing_values_sort_last() {
        let a = json!(1);
        assert_eq!(compare_fields(Some(&a), None), Ordering::Less);
        assert_eq!(compare_fields(None, Some(&a)), Ordering::Greater);
        let (x, y) = (
            json!("2016-01-01T00:00:00Z"),
            json!("2016-01-01T00:00:00.5Z"),
        );
        assert_eq!(compare_fields(Some(&x), Some(&y)), Ordering::Less);
    }

    #[test]
    fn singular_names() {
        assert_eq!(singular("people"), "person");
        assert_eq!(singular("opportunities"), "opportunity");
        assert_eq!(singular("invoices"), "invoice");
    }
}
