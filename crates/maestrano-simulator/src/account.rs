//! A marketplace's account API (`/api/v1/account/…`): bills, recurring bills, groups, users
//! and resellers in the `{success, errors, data}` envelope, with the sandbox's errors.

use axum::response::Response;
use http::{Method, StatusCode};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use super::state::{Marketplace, lock};
use super::wire::{query_pairs, random_hex, reply};
use maestrano::__private::{format_utc, parse_lenient};
use maestrano::{GroupUid, UserUid};

/// Most bills (and, separately, recurring bills) one marketplace keeps.
pub(crate) const MAX_BILLS: usize = 100_000;

/// The message of the system error (HTTP 500), as the account API words it.
pub(crate) const SYSTEM_ERROR: &str = "A system error occured. Please retry later or contact support@maestrano.com if the issue persists.";

const CURRENCIES: &[&str] = &[
    "AED", "AUD", "BRL", "CAD", "CHF", "CNY", "DKK", "EUR", "GBP", "HKD", "IDR", "INR", "JPY",
    "MXN", "MYR", "NOK", "NZD", "PHP", "SEK", "SGD", "THB", "USD", "ZAR",
];
const PERIODS: &[&str] = &["day", "week", "semimonth", "month", "year"];

/// Bills and recurring bills created through the API, as the API returns them.
#[derive(Debug, Default)]
pub(crate) struct AccountStore {
    pub(crate) bills: Vec<Map<String, Value>>,
    pub(crate) recurring_bills: Vec<Map<String, Value>>,
    /// Groups that left the application since the start: no longer listed.
    pub(crate) departed_groups: Vec<GroupUid>,
    /// Memberships that ended since the start: the user is no longer among the group's.
    pub(crate) ended_memberships: Vec<(GroupUid, UserUid)>,
}

impl AccountStore {
    fn has_group(&self, group: &GroupUid) -> bool {
        !self.departed_groups.contains(group)
    }

    /// Whether `user` is a member of `group` now, per the spec and what ended since.
    fn is_member(
        &self,
        spec: &super::config::MarketplaceSpec,
        group: &GroupUid,
        user: &UserUid,
    ) -> bool {
        self.has_group(group)
            && !self
                .ended_memberships
                .iter()
                .any(|(g, u)| g == group && u == user)
            && spec
                .memberships
                .iter()
                .any(|m| &m.group == group && &m.user == user)
    }
}

/// The envelope of a success.
pub(crate) fn ok(status: StatusCode, data: Value) -> Response {
    let body = json!({"success": true, "errors": {}, "data": data});
    reply(status, "application/json", body.to_string().into_bytes())
}

/// The envelope of an error, its fields in the order given (the first one is the one clients
/// report).
pub(crate) fn error(status: StatusCode, errors: &[(String, String)]) -> Response {
    reply(status, "application/json", error_body(errors).into_bytes())
}

/// The text of an error envelope; several messages for one field are grouped under it.
fn error_body(errors: &[(String, String)]) -> String {
    let mut text = String::from("{\"success\":false,\"errors\":{");
    let mut first = true;
    let mut seen: Vec<&str> = Vec::new();
    for (field, _) in errors {
        if seen.contains(&field.as_str()) {
            continue;
        }
        seen.push(field);
        let messages: Vec<&str> = errors
            .iter()
            .filter(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
            .collect();
        if !first {
            text.push(',');
        }
        first = false;
        text.push_str(&Value::from(field.as_str()).to_string());
        text.push(':');
        text.push_str(&json!(messages).to_string());
    }
    text.push_str("},\"data\":{}}");
    text
}

fn one(field: &str, message: &str) -> Vec<(String, String)> {
    vec![(field.to_owned(), message.to_owned())]
}

/// 401, as the API answers wrong credentials.
pub(crate) fn unauthorized() -> Response {
    error(
        StatusCode::UNAUTHORIZED,
        &one("authentication", "Invalid API token"),
    )
}

/// 500, the system error.
pub(crate) fn system_error() -> Response {
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        &one("system", SYSTEM_ERROR),
    )
}

fn not_found_200() -> Response {
    error(StatusCode::OK, &one("id", "does not exist"))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Resource {
    Bills,
    RecurringBills,
    Groups,
    Users,
    Resellers,
}

impl Resource {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "bills" => Self::Bills,
            "recurring_bills" => Self::RecurringBills,
            "groups" => Self::Groups,
            "users" => Self::Users,
            "resellers" => Self::Resellers,
            _ => return None,
        })
    }

    fn fields(self) -> &'static [&'static str] {
        match self {
            Self::Bills => &[
                "id",
                "group_id",
                "created_at",
                "updated_at",
                "price_cents",
                "status",
                "currency",
                "units",
                "description",
                "period_started_at",
                "period_ended_at",
                "third_party",
            ],
            Self::RecurringBills => &[
                "id",
                "group_id",
                "created_at",
                "updated_at",
                "price_cents",
                "status",
                "currency",
                "description",
                "start_date",
                "period",
                "frequency",
                "cycles",
                "initial_cents",
                "last_execution_at",
                "next_execution_at",
                "remaining_cycles",
            ],
            Self::Groups => &[
                "id",
                "created_at",
                "updated_at",
                "has_credit_card",
                "status",
                "name",
                "free_trial_end_at",
                "email",
                "currency",
                "timezone",
                "country",
                "city",
                "main_accounting",
            ],
            Self::Users => &[
                "id",
                "name",
                "surname",
                "email",
                "company_name",
                "country",
                "created_at",
                "updated_at",
            ],
            Self::Resellers => &["id", "created_at", "updated_at", "name", "code", "country"],
        }
    }

    fn creatable(self) -> bool {
        matches!(self, Self::Bills | Self::RecurringBills)
    }
}

/// Routes an account API request (already authenticated); `body` is the request body.
pub(crate) fn handle(
    m: &Marketplace,
    method: &Method,
    uri: &http::Uri,
    rest: &[String],
    body: &[u8],
) -> Response {
    let Some(resource) = rest.first().and_then(|r| Resource::parse(r)) else {
        return error(StatusCode::NOT_FOUND, &one("path", "does not exist"));
    };
    match (rest.len(), method.clone()) {
        (1, Method::GET) => list(m, resource, uri),
        (1, Method::POST) if resource.creatable() => create(m, resource, body),
        (2, Method::GET) => retrieve(m, resource, &rest[1]),
        (2, Method::DELETE) if resource.creatable() => cancel(m, resource, &rest[1]),
        (1 | 2, _) => error(
            StatusCode::METHOD_NOT_ALLOWED,
            &one("method", "is not allowed on this resource"),
        ),
        _ => error(StatusCode::NOT_FOUND, &one("path", "does not exist")),
    }
}

fn objects(m: &Marketplace, resource: Resource) -> Vec<Map<String, Value>> {
    match resource {
        Resource::Bills => lock(&m.account).bills.clone(),
        Resource::RecurringBills => lock(&m.account).recurring_bills.clone(),
        Resource::Groups => {
            let store = lock(&m.account);
            m.spec
                .groups
                .iter()
                .filter(|g| store.has_group(&g.uid))
                .map(|g| group_json(m, g))
                .collect()
        }
        Resource::Users => m.spec.users.iter().map(|u| user_json(m, u)).collect(),
        Resource::Resellers => m
            .spec
            .resellers
            .iter()
            .map(|r| {
                obj(json!({
                    "object": "account_reseller",
                    "id": r.uid.as_str(),
                    "created_at": format_utc(m.shared.started_at),
                    "updated_at": format_utc(m.shared.started_at),
                    "name": r.name,
                    "code": r.code,
                    "country": r.country,
                }))
            })
            .collect(),
    }
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn group_json(m: &Marketplace, g: &super::config::SimGroup) -> Map<String, Value> {
    let started = format_utc(m.shared.started_at);
    obj(json!({
        "object": "account_group",
        "id": g.uid.as_str(),
        "created_at": started,
        "updated_at": started,
        "has_credit_card": g.has_credit_card,
        "status": "running",
        "name": g.name,
        "free_trial_end_at": g.free_trial_end_at.map_or_else(|| "0000-01-01T00:00:00Z".to_owned(), format_utc),
        "email": g.email,
        "currency": g.currency,
        "timezone": g.timezone,
        "country": g.country,
        "city": g.city,
        "main_accounting": null,
        "metadata": {"pull_disabled": false, "push_disabled": false},
    }))
}

fn user_json(m: &Marketplace, u: &super::config::SimUser) -> Map<String, Value> {
    let started = format_utc(m.shared.started_at);
    let session = m
        .live_sessions(u.uid.as_str(), m.shared.now())
        .last()
        .map(|s| s.token.expose().to_owned());
    obj(json!({
        "object": "account_user",
        "id": u.uid.as_str(),
        "name": u.first_name,
        "surname": u.last_name,
        "email": u.email,
        "company_name": u.company_name,
        "country": u.country,
        "sso_session": session,
        "created_at": started,
        "updated_at": started,
    }))
}

/// A comparison suffix of a filter, longest first so `_strictly_after` is not read as `_after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    After,
    StrictlyAfter,
    Before,
    StrictlyBefore,
    GreaterThan,
    StrictlyGreaterThan,
    LowerThan,
    StrictlyLowerThan,
}

const SUFFIXES: &[(&str, Op)] = &[
    ("_strictly_greater_than", Op::StrictlyGreaterThan),
    ("_strictly_lower_than", Op::StrictlyLowerThan),
    ("_strictly_after", Op::StrictlyAfter),
    ("_strictly_before", Op::StrictlyBefore),
    ("_greater_than", Op::GreaterThan),
    ("_lower_than", Op::LowerThan),
    ("_after", Op::After),
    ("_before", Op::Before),
];

#[derive(Debug, Clone)]
enum Operand {
    Text(String),
    Time(OffsetDateTime),
    Number(f64),
}

#[derive(Debug, Clone)]
struct Condition {
    field: String,
    op: Op,
    operand: Operand,
}

/// Reads the query of a list call into conditions; a field error for what it cannot read.
fn conditions(
    resource: Resource,
    pairs: Vec<(String, String)>,
) -> Result<Vec<Condition>, Vec<(String, String)>> {
    let fields = resource.fields();
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (param, value) in pairs.into_iter().take(64) {
        let (field, op) = if fields.contains(&param.as_str()) {
            (param.clone(), Op::Eq)
        } else if let Some((field, op)) = SUFFIXES.iter().find_map(|(suffix, op)| {
            param
                .strip_suffix(suffix)
                .filter(|f| fields.contains(f))
                .map(|f| (f.to_owned(), *op))
        }) {
            (field, op)
        } else {
            errors.push((param, "is not a field that can be filtered".to_owned()));
            continue;
        };
        let operand = match op {
            Op::Eq => Operand::Text(value),
            Op::After | Op::StrictlyAfter | Op::Before | Op::StrictlyBefore => {
                match parse_lenient(&value) {
                    Ok(Some(t)) => Operand::Time(t),
                    _ => {
                        errors.push((param, "is not a valid time".to_owned()));
                        continue;
                    }
                }
            }
            _ => match value.trim().parse::<f64>() {
                Ok(n) if n.is_finite() => Operand::Number(n),
                _ => {
                    errors.push((param, "is not a number".to_owned()));
                    continue;
                }
            },
        };
        out.push(Condition { field, op, operand });
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

fn as_time(v: &Value) -> Option<OffsetDateTime> {
    v.as_str().and_then(|s| parse_lenient(s).ok().flatten())
}

fn matches(object: &Map<String, Value>, c: &Condition) -> bool {
    let Some(v) = object.get(&c.field) else {
        return false;
    };
    match (&c.operand, c.op) {
        (Operand::Text(t), _) => match v {
            Value::String(s) => match (parse_lenient(s), parse_lenient(t)) {
                (Ok(Some(a)), Ok(Some(b))) => a == b,
                _ => s == t,
            },
            Value::Number(n) => t.trim().parse::<f64>().ok() == n.as_f64(),
            Value::Bool(b) => t == if *b { "true" } else { "false" },
            _ => false,
        },
        (Operand::Time(t), op) => as_time(v).is_some_and(|x| match op {
            Op::After => x >= *t,
            Op::StrictlyAfter => x > *t,
            Op::Before => x <= *t,
            Op::StrictlyBefore => x < *t,
            _ => false,
        }),
        (Operand::Number(n), op) => v.as_f64().is_some_and(|x| match op {
            Op::GreaterThan => x >= *n,
            Op::StrictlyGreaterThan => x > *n,
            Op::LowerThan => x <= *n,
            Op::StrictlyLowerThan => x < *n,
            _ => false,
        }),
    }
}

fn list(m: &Marketplace, resource: Resource, uri: &http::Uri) -> Response {
    let mut pairs = query_pairs(uri);
    // `GET users?group_id=cld-…` lists that group's users (mno-api-sandbox,
    // app/controllers/api/v1/account/users_controller.rb: `params.delete(:group_id)` makes
    // the group the parent); an unknown group has none.
    let group = match resource {
        Resource::Users => pairs
            .iter()
            .position(|(k, _)| k == "group_id")
            .map(|i| pairs.remove(i).1),
        _ => None,
    };
    let conditions = match conditions(resource, pairs) {
        Ok(c) => c,
        Err(errors) => return error(StatusCode::BAD_REQUEST, &errors),
    };
    let members: Option<Vec<String>> = group.map(|g| {
        let store = lock(&m.account);
        match GroupUid::new(&g) {
            Ok(g) => m
                .spec
                .users
                .iter()
                .filter(|u| store.is_member(&m.spec, &g, &u.uid))
                .map(|u| u.uid.to_string())
                .collect(),
            Err(_) => Vec::new(),
        }
    });
    let data: Vec<Value> = objects(m, resource)
        .into_iter()
        .filter(|o| {
            members.as_ref().is_none_or(|ids| {
                o.get("id")
                    .and_then(Value::as_str)
                    .is_some_and(|id| ids.iter().any(|i| i == id))
            })
        })
        .filter(|o| conditions.iter().all(|c| matches(o, c)))
        .map(Value::Object)
        .collect();
    ok(StatusCode::OK, Value::Array(data))
}

fn retrieve(m: &Marketplace, resource: Resource, id: &str) -> Response {
    match objects(m, resource)
        .into_iter()
        .find(|o| o.get("id").and_then(Value::as_str) == Some(id))
    {
        Some(o) => ok(StatusCode::OK, Value::Object(o)),
        None => not_found_200(),
    }
}

fn cancel(m: &Marketplace, resource: Resource, id: &str) -> Response {
    let now = format_utc(m.shared.now());
    let mut store = lock(&m.account);
    let list = match resource {
        Resource::Bills => &mut store.bills,
        _ => &mut store.recurring_bills,
    };
    let Some(bill) = list
        .iter_mut()
        .find(|o| o.get("id").and_then(Value::as_str) == Some(id))
    else {
        // #destroy answers an unknown id with the not-found body and HTTP 400.
        return error(StatusCode::BAD_REQUEST, &one("id", "does not exist"));
    };
    match bill.get("status").and_then(Value::as_str) {
        Some("cancelled") => {}
        Some(final_status @ ("invoiced" | "expired")) => {
            return error(
                StatusCode::BAD_REQUEST,
                &one(
                    "status",
                    &format!("has already been set to {final_status} and cannot be changed"),
                ),
            );
        }
        _ => {
            bill.insert("status".into(), Value::from("cancelled"));
            bill.insert("updated_at".into(), Value::from(now));
        }
    }
    ok(StatusCode::OK, Value::Object(bill.clone()))
}

/// Reads a create body: the fields flat, or wrapped in `{"bill": {...}}` /
/// `{"recurring_bill": {...}}`.
fn create_fields(body: &[u8], wrapper: &str) -> Option<Map<String, Value>> {
    let Value::Object(mut map) = serde_json::from_slice(body).ok()? else {
        return None;
    };
    if map.len() == 1
        && let Some(Value::Object(inner)) = map.remove(wrapper)
    {
        return Some(inner);
    }
    Some(map)
}

/// Collects field errors in the order they are found.
#[derive(Default)]
struct Errors(Vec<(String, String)>);

impl Errors {
    fn add(&mut self, field: &str, message: &str) {
        self.0.push((field.to_owned(), message.to_owned()));
    }
}

fn text_field(fields: &Map<String, Value>, name: &str) -> Option<String> {
    match fields.get(name) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        _ => None,
    }
}

fn integer_field(
    fields: &Map<String, Value>,
    name: &str,
    errors: &mut Errors,
) -> Option<Option<i64>> {
    match fields.get(name) {
        None | Some(Value::Null) => Some(None),
        Some(Value::Number(n)) if n.as_i64().is_some() => Some(n.as_i64()),
        Some(Value::String(s)) if s.trim().parse::<i64>().is_ok() => {
            s.trim().parse().ok().map(Some)
        }
        Some(_) => {
            errors.add(name, "is not a number");
            None
        }
    }
}

fn time_field(
    fields: &Map<String, Value>,
    name: &str,
    errors: &mut Errors,
) -> Option<OffsetDateTime> {
    match fields.get(name) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => match parse_lenient(s) {
            Ok(Some(t)) => Some(t),
            _ => {
                errors.add(name, "is not a valid date");
                None
            }
        },
        Some(_) => {
            errors.add(name, "is not a valid date");
            None
        }
    }
}

/// The checks bills and recurring bills share: group, price, currency, description.
fn common_checks(
    m: &Marketplace,
    fields: &Map<String, Value>,
    errors: &mut Errors,
) -> (Option<String>, Option<i64>, Option<String>, Option<String>) {
    let group = text_field(fields, "group_id");
    match &group {
        None => errors.add("group_id", "can't be blank"),
        Some(g) if m.group(g).is_none() => errors.add(
            "group_id",
            "does not exist or cannot be charged by your service",
        ),
        Some(_) => {}
    }
    let price = match integer_field(fields, "price_cents", errors) {
        Some(Some(p)) if p > 0 => Some(p),
        Some(Some(_)) => {
            errors.add("price_cents", "must be greater than 0");
            None
        }
        Some(None) => {
            errors.add("price_cents", "is not a number");
            None
        }
        None => None,
    };
    let currency = text_field(fields, "currency").map(|c| c.to_ascii_uppercase());
    match &currency {
        None => errors.add("currency", "can't be blank"),
        Some(c) if !CURRENCIES.contains(&c.as_str()) => {
            errors.add("currency", "is not included in the list")
        }
        Some(_) => {}
    }
    let description = text_field(fields, "description");
    if description.is_none() {
        errors.add("description", "can't be blank");
    }
    if description
        .as_ref()
        .is_some_and(|d| d.chars().count() > 1024)
    {
        errors.add("description", "is too long (maximum is 1024 characters)");
    }
    (group, price, currency, description)
}

fn create(m: &Marketplace, resource: Resource, body: &[u8]) -> Response {
    let wrapper = if resource == Resource::Bills {
        "bill"
    } else {
        "recurring_bill"
    };
    let Some(fields) = create_fields(body, wrapper) else {
        return error(
            StatusCode::BAD_REQUEST,
            &one("base", "the body must be a JSON object"),
        );
    };
    let mut errors = Errors::default();
    let (group, price, currency, description) = common_checks(m, &fields, &mut errors);
    let now = m.shared.now();
    let mut object = match resource {
        Resource::Bills => bill_fields(&fields, &mut errors),
        _ => recurring_fields(&fields, now, &mut errors),
    };
    if !errors.0.is_empty() {
        return error(StatusCode::BAD_REQUEST, &errors.0);
    }
    let (prefix, kind) = if resource == Resource::Bills {
        ("bill", "account_bill")
    } else {
        ("rbill", "account_recurring_bill")
    };
    let Ok(suffix) = random_hex(m.shared.random.as_ref(), 4) else {
        return system_error();
    };
    let stamp = format_utc(now);
    object.insert("object".into(), kind.into());
    object.insert("id".into(), format!("{prefix}-{suffix}").into());
    object.insert("group_id".into(), group.into());
    object.insert("created_at".into(), stamp.clone().into());
    object.insert("updated_at".into(), stamp.into());
    object.insert("price_cents".into(), price.into());
    object.insert("status".into(), "submitted".into());
    object.insert("currency".into(), currency.into());
    object.insert("description".into(), description.into());
    let mut store = lock(&m.account);
    let list = match resource {
        Resource::Bills => &mut store.bills,
        _ => &mut store.recurring_bills,
    };
    if list.len() >= MAX_BILLS {
        return error(
            StatusCode::BAD_REQUEST,
            &one("base", "the simulator keeps at most 100000 of these"),
        );
    }
    list.push(object.clone());
    ok(StatusCode::CREATED, Value::Object(object))
}

fn bill_fields(fields: &Map<String, Value>, errors: &mut Errors) -> Map<String, Value> {
    let units = match fields.get("units") {
        None | Some(Value::Null) => Value::Null,
        Some(v) => match v
            .as_f64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        {
            // The platform's column is decimal(10,2) (mno-api-sandbox app/models/bill.rb):
            // it keeps two decimal places, rounded, and renders what it kept.
            Some(u) if u.is_finite() && u > 0.0 && u < 99_999_999.995 => {
                json!((u * 100.0).round() / 100.0)
            }
            Some(u) if u.is_finite() && u > 0.0 => {
                errors.add("units", "is out of range");
                Value::Null
            }
            Some(_) => {
                errors.add("units", "must be greater than 0");
                Value::Null
            }
            None => {
                errors.add("units", "is not a number");
                Value::Null
            }
        },
    };
    let started = time_field(fields, "period_started_at", errors);
    let ended = time_field(fields, "period_ended_at", errors);
    if let (Some(s), Some(e)) = (started, ended)
        && s > e
    {
        errors.add("period_ended_at", "must be after the period start");
    }
    let third_party = match fields.get("third_party") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            errors.add("third_party", "is not a boolean");
            false
        }
    };
    obj(json!({
        "units": units,
        "period_started_at": started.map(format_utc),
        "period_ended_at": ended.map(format_utc),
        "third_party": third_party,
    }))
}

fn recurring_fields(
    fields: &Map<String, Value>,
    now: OffsetDateTime,
    errors: &mut Errors,
) -> Map<String, Value> {
    let period = text_field(fields, "period").map(|p| p.to_ascii_lowercase());
    match &period {
        None => errors.add("period", "can't be blank"),
        Some(p) if !PERIODS.contains(&p.as_str()) => {
            errors.add("period", "is not included in the list")
        }
        Some(_) => {}
    }
    let mut positive =
        |name: &str, default: Option<i64>, min: i64| match integer_field(fields, name, errors) {
            Some(Some(v)) if v >= min => Some(v),
            Some(Some(_)) => {
                errors.add(name, &format!("must be greater than or equal to {min}"));
                None
            }
            Some(None) => default,
            None => None,
        };
    let frequency = positive("frequency", Some(1), 1);
    let cycles = positive("cycles", None, 1);
    let initial = positive("initial_cents", Some(0), 0);
    let start = time_field(fields, "start_date", errors).unwrap_or(now);
    obj(json!({
        "start_date": format_utc(start),
        "period": period,
        "frequency": frequency,
        "cycles": cycles,
        "initial_cents": initial,
        "last_execution_at": null,
        "next_execution_at": format_utc(start),
        "remaining_cycles": cycles,
    }))
}

/// Marks a bill invoiced (as the marketplace does when it bills the customer); `false` when
/// there is no such bill.
pub(crate) fn mark_invoiced(m: &Marketplace, id: &str) -> bool {
    let now = format_utc(m.shared.now());
    let mut store = lock(&m.account);
    match store
        .bills
        .iter_mut()
        .find(|o| o.get("id").and_then(Value::as_str) == Some(id))
    {
        Some(bill) => {
            bill.insert("status".into(), "invoiced".into());
            bill.insert("updated_at".into(), now.into());
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(q: &[(&str, &str)]) -> Result<Vec<Condition>, Vec<(String, String)>> {
        conditions(
            Resource::Bills,
            q.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn suffixes_are_read_longest_first() {
        let c = cond(&[
            ("created_at_strictly_after", "2017-01-01T00:00:00Z"),
            ("price_cents_strictly_greater_than", "10"),
            ("units_lower_than", "2"),
            ("status", "submitted"),
        ])
        .unwrap();
        assert_eq!(c[0].op, Op::StrictlyAfter);
        assert_eq!(c[0].field, "created_at");
        assert_eq!(c[1].op, Op::StrictlyGreaterThan);
        assert_eq!(c[2].op, Op::LowerThan);
        assert_eq!(c[3].op, Op::Eq);
        let e = cond(&[("colour", "red"), ("created_at_after", "yesterday")]).unwrap_err();
        assert_eq!(e[0].0, "colour");
        assert_eq!(e[1].0, "created_at_after");
    }

    #[test]
    fn conditions_compare_times_and_numbers() {
        let bill = obj(json!({
            "created_at": "2017-03-27T16:11:22.000Z",
            "price_cents": 1999,
            "units": null,
            "third_party": false,
            "status": "invoiced",
        }));
        let check = |q: &[(&str, &str)]| cond(q).unwrap().iter().all(|c| matches(&bill, c));
        assert!(check(&[("created_at_after", "2017-03-27T16:11:22Z")]));
        assert!(!check(&[(
            "created_at_strictly_after",
            "2017-03-27T16:11:22Z"
        )]));
        assert!(check(&[("created_at_before", "2017-03-27T16:11:22Z")]));
        assert!(!check(&[(
            "created_at_strictly_before",
            "2017-03-27T16:11:22Z"
        )]));
        assert!(check(&[("price_cents_greater_than", "1999")]));
        assert!(!check(&[("price_cents_strictly_greater_than", "1999")]));
        assert!(check(&[("price_cents_lower_than", "1999.5")]));
        assert!(!check(&[("units_greater_than", "0")]));
        assert!(check(&[("third_party", "false"), ("status", "invoiced")]));
        assert!(check(&[("created_at", "2017-03-27T16:11:22Z")]));
    }

    #[test]
    fn error_envelopes_keep_the_field_order() {
        let text = error_body(&[
            ("price_cents".into(), "must be greater than 0".into()),
            ("currency".into(), "is not included in the list".into()),
            ("description".into(), "can't be blank".into()),
            ("currency".into(), "is too \"odd\"".into()),
        ]);
        assert_eq!(
            text,
            r#"{"success":false,"errors":{"price_cents":["must be greater than 0"],"currency":["is not included in the list","is too \"odd\""],"description":["can't be blank"]},"data":{}}"#
        );
    }
}
