//! Decoding of the account API's `{success, errors, data}` envelope, its errors and its
//! `object` tags. Pure functions of a response.

use std::fmt;

use serde::de::{DeserializeOwned, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use super::error::{ApiError, FieldErrors};
use crate::ports::HttpResponse;
use crate::rest::RestError;
use crate::rest::wire::{BodyLimit, check_body, excerpt, is_json};
use crate::types::shown;

/// An object of the account API, tagged with `object` in replies (`account_bill`, …).
pub trait AccountObject: DeserializeOwned {
    /// The `object` tag, such as `"account_bill"`.
    const OBJECT: &'static str;
}

#[derive(Deserialize)]
struct RawEnvelope<'a> {
    success: Option<bool>,
    #[serde(default)]
    errors: OrderedErrors,
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
}

/// `errors` as the server ordered it: `{field: [messages]}` (a single message string is
/// accepted too), or `null`.
#[derive(Default)]
struct OrderedErrors(Vec<(String, Vec<String>)>);

impl<'de> Deserialize<'de> for OrderedErrors {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OrderedErrors;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of field errors")
            }
            fn visit_unit<E>(self) -> Result<OrderedErrors, E> {
                Ok(OrderedErrors::default())
            }
            fn visit_none<E>(self) -> Result<OrderedErrors, E> {
                Ok(OrderedErrors::default())
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<OrderedErrors, A::Error> {
                // `[]` is how some serialisers write an empty `errors`; anything in it is kept
                // under a `base` field.
                let mut messages = Vec::new();
                while let Some(m) = seq.next_element::<Message>()? {
                    messages.push(m.0);
                }
                Ok(OrderedErrors(if messages.is_empty() {
                    Vec::new()
                } else {
                    vec![("base".to_owned(), messages)]
                }))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OrderedErrors, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Messages>()? {
                    out.push((k, v.0));
                }
                Ok(OrderedErrors(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// One message: a string, or any other JSON value shown as JSON.
struct Message(String);

impl<'de> Deserialize<'de> for Message {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        Ok(Message(match v {
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        }))
    }
}

/// The messages of a field: an array of messages or a single one.
struct Messages(Vec<String>);

impl<'de> Deserialize<'de> for Messages {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        Ok(Messages(match v {
            serde_json::Value::Array(items) => items
                .into_iter()
                .map(|i| match i {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                })
                .collect(),
            serde_json::Value::Null => Vec::new(),
            serde_json::Value::String(s) => vec![s],
            other => vec![other.to_string()],
        }))
    }
}

/// The `data` of a successful reply, still undecoded.
struct Data<'a> {
    status: u16,
    raw: &'a RawValue,
}

fn limit_error(status: u16, e: BodyLimit) -> ApiError {
    match e {
        BodyLimit::TooLarge { limit, found } => ApiError::Rest(RestError::ResponseTooLarge {
            status,
            limit,
            found,
        }),
        BodyLimit::TooDeep { limit } => ApiError::Rest(RestError::NestingTooDeep { status, limit }),
    }
}

/// Checks the status, the envelope and its errors; returns the `data` of a success.
fn open(response: &HttpResponse) -> Result<Data<'_>, ApiError> {
    let status = response.status().as_u16();
    let body = response.body().as_slice();
    check_body(body).map_err(|e| limit_error(status, e))?;
    let envelope = match serde_json::from_slice::<RawEnvelope<'_>>(body) {
        Ok(e) => e,
        Err(_) => {
            let json = is_json(body);
            return Err(match status {
                401 => ApiError::Authentication {
                    status,
                    message: None,
                },
                500..=599 => ApiError::Server {
                    status,
                    message: None,
                    excerpt: Some(excerpt(body)),
                },
                200..=299 | 400..=499 if !json => ApiError::Rest(RestError::NotJson {
                    status,
                    excerpt: excerpt(body),
                }),
                200..=299 => ApiError::Rest(RestError::InvalidResponse {
                    status,
                    detail: format!(
                        "expected an envelope {{success, errors, data}}, found {}",
                        excerpt(body)
                    ),
                }),
                _ => ApiError::Rest(RestError::UnexpectedStatus {
                    status,
                    excerpt: excerpt(body),
                }),
            });
        }
    };
    let errors = FieldErrors::new(envelope.errors.0);
    match status {
        401 => {
            return Err(ApiError::Authentication {
                status,
                message: first_messages(&errors),
            });
        }
        500..=599 => {
            return Err(ApiError::Server {
                status,
                message: first_messages(&errors),
                excerpt: None,
            });
        }
        200..=299 | 400..=499 => {}
        _ => {
            return Err(ApiError::Rest(RestError::UnexpectedStatus {
                status,
                excerpt: excerpt(body),
            }));
        }
    }
    let failed = envelope.success == Some(false) || !errors.is_empty() || status >= 400;
    if failed {
        return Err(refusal(status, errors));
    }
    match envelope.data {
        Some(raw) if raw.get() != "null" => Ok(Data { status, raw }),
        _ => Err(ApiError::Rest(RestError::InvalidResponse {
            status,
            detail: "expected `data` in a successful reply, found none".into(),
        })),
    }
}

/// The messages of the first field, joined by spaces (`Invalid API token`).
fn first_messages(errors: &FieldErrors) -> Option<String> {
    errors
        .iter()
        .next()
        .map(|(_, m)| m.join(" "))
        .filter(|m| !m.is_empty())
}

/// The error for a refused request (4xx, or `success: false` / `errors` with a 2xx).
fn refusal(status: u16, errors: FieldErrors) -> ApiError {
    let id_missing = errors
        .get("id")
        .is_some_and(|m| m.iter().any(|m| m.contains("does not exist")))
        && errors.first_field() == Some("id");
    if id_missing || (status == 404 && errors.is_empty()) {
        return ApiError::NotFound {
            status,
            message: errors.message().unwrap_or_else(|| "not found".into()),
        };
    }
    let message = errors
        .message()
        .unwrap_or_else(|| "the API refused the request without saying why".into());
    ApiError::InvalidRequest {
        status,
        param: errors.first_field().map(str::to_owned),
        message,
        errors,
    }
}

fn check_tag(data: &Data<'_>, item: &RawValue, expected: &str) -> Result<(), ApiError> {
    #[derive(Deserialize)]
    struct Tag<'a> {
        #[serde(borrow)]
        object: Option<std::borrow::Cow<'a, str>>,
    }
    let tag: Tag<'_> = serde_json::from_str(item.get()).map_err(|_| {
        ApiError::Rest(RestError::InvalidResponse {
            status: data.status,
            detail: format!(
                "expected an object tagged {expected:?}, found {}",
                kind_of(item)
            ),
        })
    })?;
    match tag.object {
        Some(found) if found != expected => Err(ApiError::Rest(RestError::InvalidResponse {
            status: data.status,
            detail: format!(
                "expected an object tagged {expected:?}, found {:?}",
                shown(&found)
            ),
        })),
        _ => Ok(()),
    }
}

fn kind_of(raw: &RawValue) -> &'static str {
    match raw.get().trim_start().as_bytes().first() {
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b'n') => "null",
        Some(b't' | b'f') => "a boolean",
        _ => "a number",
    }
}

fn decode_item<T: AccountObject>(data: &Data<'_>, item: &RawValue) -> Result<T, ApiError> {
    check_tag(data, item, T::OBJECT)?;
    serde_json::from_str(item.get()).map_err(|e| {
        ApiError::Rest(RestError::InvalidResponse {
            status: data.status,
            detail: format!("{}: {e}", T::OBJECT),
        })
    })
}

/// Decodes a reply holding one object, such as `GET /account/bills/{id}`.
///
/// # Errors
///
/// The [`ApiError`] the reply stands for: see the variants for the status and envelope
/// each comes from. An `object` tag other than `T::OBJECT` is an
/// [`RestError::InvalidResponse`](crate::RestError::InvalidResponse); unknown fields are ignored.
pub fn decode_one<T: AccountObject>(response: &HttpResponse) -> Result<T, ApiError> {
    let data = open(response)?;
    decode_item(&data, data.raw)
}

/// Decodes a reply holding a list of objects, such as `GET /account/bills`.
///
/// # Errors
///
/// As [`decode_one`]; `data` must be an array.
pub fn decode_list<T: AccountObject>(response: &HttpResponse) -> Result<Vec<T>, ApiError> {
    let data = open(response)?;
    let items: Vec<&RawValue> = serde_json::from_str(data.raw.get()).map_err(|_| {
        ApiError::Rest(RestError::InvalidResponse {
            status: data.status,
            detail: format!(
                "expected a list of {}, found {}",
                T::OBJECT,
                kind_of(data.raw)
            ),
        })
    })?;
    items.into_iter().map(|i| decode_item(&data, i)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Thing {
        id: String,
    }
    impl AccountObject for Thing {
        const OBJECT: &'static str = "account_thing";
    }

    fn resp(status: u16, body: &str) -> HttpResponse {
        http::Response::builder()
            .status(status)
            .body(body.as_bytes().to_vec())
            .unwrap()
    }

    #[test]
    fn success_with_tag_and_unknown_fields() {
        let r = resp(
            200,
            r#"{"success":true,"errors":{},"data":{"object":"account_thing","id":"t-1","new":[1]}}"#,
        );
        assert_eq!(decode_one::<Thing>(&r).unwrap().id, "t-1");
        let untagged = resp(200, r#"{"success":true,"data":{"id":"t-2"}}"#);
        assert_eq!(decode_one::<Thing>(&untagged).unwrap().id, "t-2");
    }

    #[test]
    fn a_wrong_tag_or_shape_is_an_invalid_response() {
        let r = resp(
            200,
            r#"{"success":true,"errors":{},"data":{"object":"account_user","id":"x"}}"#,
        );
        let e = decode_one::<Thing>(&r).unwrap_err();
        assert!(
            matches!(&e, ApiError::Rest(RestError::InvalidResponse { detail, .. }) if detail.contains("account_user")),
            "{e}"
        );
        let r = resp(
            200,
            r#"{"success":true,"errors":{},"data":{"object":"account_thing"}}"#,
        );
        assert!(matches!(
            decode_one::<Thing>(&r),
            Err(ApiError::Rest(RestError::InvalidResponse { .. }))
        ));
        let r = resp(200, r#"{"success":true,"errors":{},"data":{"id":"x"}}"#);
        assert!(matches!(
            decode_list::<Thing>(&r),
            Err(ApiError::Rest(RestError::InvalidResponse { .. }))
        ));
        let r = resp(200, r#"[1,2]"#);
        assert!(matches!(
            decode_list::<Thing>(&r),
            Err(ApiError::Rest(RestError::InvalidResponse { .. }))
        ));
        let r = resp(200, r#"{"success":true,"errors":{}}"#);
        assert!(matches!(
            decode_list::<Thing>(&r),
            Err(ApiError::Rest(RestError::InvalidResponse { .. }))
        ));
    }

    #[test]
    fn errors_keep_the_server_order() {
        let r = resp(
            400,
            r#"{"success":false,"errors":{"zeta":["z"],"alpha":["a","b"]},"data":{}}"#,
        );
        match decode_one::<Thing>(&r).unwrap_err() {
            ApiError::InvalidRequest {
                param,
                message,
                errors,
                ..
            } => {
                assert_eq!(param.as_deref(), Some("zeta"));
                assert_eq!(message, "zeta z");
                assert_eq!(errors.get("alpha").unwrap(), ["a", "b"]);
            }
            e => panic!("{e}"),
        }
    }

    #[test]
    fn statuses_map_to_their_errors() {
        assert!(matches!(
            decode_one::<Thing>(&resp(401, "Unauthorized")),
            Err(ApiError::Authentication {
                status: 401,
                message: None
            })
        ));
        assert!(matches!(
            decode_one::<Thing>(&resp(503, "<html>down</html>")),
            Err(ApiError::Server {
                status: 503,
                excerpt: Some(_),
                ..
            })
        ));
        assert!(matches!(
            decode_one::<Thing>(&resp(200, "<html>hi</html>")),
            Err(ApiError::Rest(RestError::NotJson { status: 200, .. }))
        ));
        assert!(matches!(
            decode_one::<Thing>(&resp(302, "")),
            Err(ApiError::Rest(RestError::UnexpectedStatus {
                status: 302,
                ..
            }))
        ));
        assert!(matches!(
            decode_one::<Thing>(&resp(404, "{}")),
            Err(ApiError::NotFound { status: 404, .. })
        ));
        assert!(matches!(
            decode_one::<Thing>(&resp(200, r#"{"success":false,"errors":{},"data":{}}"#)),
            Err(ApiError::InvalidRequest { param: None, .. })
        ));
        let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert!(matches!(
            decode_one::<Thing>(&resp(200, &deep)),
            Err(ApiError::Rest(RestError::NestingTooDeep { limit: 64, .. }))
        ));
    }
}
