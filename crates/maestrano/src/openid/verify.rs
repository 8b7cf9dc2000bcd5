//! Verifying a positive assertion (OpenID 2.0 §11) with an association.

use std::collections::{HashMap, HashSet};

use time::{Duration, OffsetDateTime};
use url::Url;

use super::OPENID2_NS;
use super::assoc::Association;
use super::direct::{check_authentication_request, read_check_authentication};
use super::error::OpenIdError;
use super::message::Fields;
use crate::ports::HttpRequest;
use crate::ports::{OnceKey, SingleUseStore};
use crate::timestamp::parse_lenient;
use crate::types::shown;

/// How far from now a `response_nonce`'s time may be (§11.3 leaves the window to the relying
/// party; the platform's SAML assertions live 3 to 5 minutes).
pub const NONCE_WINDOW: Duration = Duration::minutes(5);

/// The fields §10.1 requires the signature to cover (with `claimed_id` and `identity`, which
/// every Maestrano assertion carries).
const MUST_SIGN: [&str; 6] = [
    "op_endpoint",
    "return_to",
    "response_nonce",
    "assoc_handle",
    "claimed_id",
    "identity",
];

/// A positive assertion whose signature, `return_to`, `op_endpoint` and nonce time checked
/// out, awaiting the replay check. It exposes nothing until
/// [`check_replay`](Self::check_replay) succeeds.
#[derive(Debug)]
pub struct CheckedOpenId {
    verified: VerifiedOpenId,
    nonce: String,
    nonce_time: OffsetDateTime,
}

/// A positive assertion that verified: only its signed fields are kept, so that nothing the
/// SDK reads can come from outside the signature.
#[derive(Debug, Clone)]
pub struct VerifiedOpenId {
    signed: Fields,
    claimed_id: String,
    op_endpoint: String,
}

impl VerifiedOpenId {
    /// `openid.claimed_id`: the user's identifier at the provider.
    pub fn claimed_id(&self) -> &str {
        &self.claimed_id
    }

    /// `openid.op_endpoint`.
    pub fn op_endpoint(&self) -> &str {
        &self.op_endpoint
    }

    /// A signed field (without `openid.`).
    pub fn signed_field(&self, key: &str) -> Option<&str> {
        self.signed.get(key)
    }

    pub(crate) fn signed(&self) -> &Fields {
        &self.signed
    }
}

/// Checks the positive assertion `fields` that `received` (the full URL of the request that
/// carried it, query included) received, from the tenant's provider `op_endpoint`, signed
/// with `association`, at `now`: §11.1 `return_to`, §11.2 `op_endpoint`, §11.3 the nonce's
/// time, §11.4 the signature over every field §10.1 requires.
///
/// # Errors
///
/// [`OpenIdError::Cancelled`] for a cancel, then the first rule the assertion breaks.
pub fn check_positive(
    fields: &Fields,
    received: &Url,
    op_endpoint: &Url,
    association: &Association,
    now: OffsetDateTime,
) -> Result<CheckedOpenId, OpenIdError> {
    let pre = precheck(fields, received, op_endpoint, now)?;
    if pre.handle != association.handle() {
        return Err(OpenIdError::UnknownAssociation {
            handle: shown(pre.handle),
        });
    }
    if association.expires_at() <= now {
        return Err(OpenIdError::AssociationExpired {
            expired_at: association.expires_at(),
        });
    }
    let text = fields
        .key_value_of(pre.signed_list.iter().copied())
        .ok_or(OpenIdError::MissingField { name: "signed" })?;
    let sig = fields
        .get("sig")
        .ok_or(OpenIdError::MissingField { name: "sig" })?;
    if !association.verifies(text.as_bytes(), sig) {
        return Err(OpenIdError::SignatureInvalid);
    }
    pre.checked(fields)
}

/// Checks the positive assertion `fields` as [`check_positive`] does, except its signature,
/// which the provider itself is asked to verify (§11.4.2, for an assertion whose association
/// this relying party does not hold): send [`StatelessCheck::http_request`], then pass the
/// answer to [`StatelessCheck::finish`].
///
/// # Errors
///
/// As [`check_positive`], but for the association and the signature.
pub fn check_positive_stateless(
    fields: &Fields,
    received: &Url,
    op_endpoint: &Url,
    now: OffsetDateTime,
) -> Result<StatelessCheck, OpenIdError> {
    let pre = precheck(fields, received, op_endpoint, now)?;
    Ok(StatelessCheck {
        request: check_authentication_request(op_endpoint, fields)?,
        checked: pre.checked(fields)?,
    })
}

/// A positive assertion whose every rule but the signature checked out, awaiting the
/// provider's answer to `check_authentication`.
#[derive(Debug)]
pub struct StatelessCheck {
    request: HttpRequest,
    checked: CheckedOpenId,
}

impl StatelessCheck {
    /// The `check_authentication` POST to send to the provider.
    pub fn http_request(&self) -> HttpRequest {
        self.request.clone()
    }

    /// Reads the provider's answer: the assertion, and the `invalidate_handle` it sent, if
    /// any (the association the relying party should drop).
    ///
    /// # Errors
    ///
    /// [`OpenIdError::SignatureInvalid`] unless the provider says `is_valid:true`.
    pub fn finish(self, answer: &Fields) -> Result<(CheckedOpenId, Option<String>), OpenIdError> {
        let invalidate = read_check_authentication(answer)?;
        Ok((self.checked, invalidate))
    }
}

/// What the rules other than the signature found.
struct Prechecked<'a> {
    signed_list: Vec<&'a str>,
    claimed_id: &'a str,
    endpoint: &'a str,
    nonce: &'a str,
    nonce_time: OffsetDateTime,
    handle: &'a str,
}

impl Prechecked<'_> {
    /// The assertion with only its signed fields.
    fn checked(&self, fields: &Fields) -> Result<CheckedOpenId, OpenIdError> {
        let mut signed = Fields::default();
        for key in &self.signed_list {
            if let Some(value) = fields.get(key) {
                signed.insert_checked(key, value)?;
            }
        }
        Ok(CheckedOpenId {
            verified: VerifiedOpenId {
                claimed_id: self.claimed_id.to_owned(),
                op_endpoint: self.endpoint.to_owned(),
                signed,
            },
            nonce: self.nonce.to_owned(),
            nonce_time: self.nonce_time,
        })
    }
}

fn precheck<'a>(
    fields: &'a Fields,
    received: &Url,
    op_endpoint: &Url,
    now: OffsetDateTime,
) -> Result<Prechecked<'a>, OpenIdError> {
    let get = |name: &'static str| fields.get(name).ok_or(OpenIdError::MissingField { name });
    let ns = get("ns")?;
    if ns != OPENID2_NS {
        return Err(OpenIdError::InvalidField {
            name: "ns",
            expected: "the OpenID 2.0 namespace",
            found: shown(ns),
        });
    }
    match get("mode")? {
        "id_res" => {}
        "cancel" => return Err(OpenIdError::Cancelled),
        other => {
            return Err(OpenIdError::InvalidField {
                name: "mode",
                expected: "id_res",
                found: shown(other),
            });
        }
    }
    check_return_to(get("return_to")?, received)?;
    let endpoint = get("op_endpoint")?;
    if Url::parse(endpoint).ok().as_ref() != Some(op_endpoint) {
        return Err(OpenIdError::OpEndpointMismatch {
            expected: op_endpoint.to_string(),
            found: shown(endpoint),
        });
    }
    let claimed_id = get("claimed_id")?;
    let nonce = get("response_nonce")?;
    let nonce_time = nonce_time(nonce)?;
    if (nonce_time - now).abs() > NONCE_WINDOW {
        return Err(OpenIdError::NonceStale {
            window_seconds: NONCE_WINDOW.whole_seconds(),
            found: nonce_time,
        });
    }
    let handle = get("assoc_handle")?;
    let signed_text = get("signed")?;
    let signed_list: Vec<&str> = signed_text.split(',').collect();
    // Each name once, and no more names than fields: the list is bounded by the message.
    let signed_set: HashSet<&str> = signed_list.iter().copied().collect();
    if signed_set.len() != signed_list.len() || signed_list.len() > fields.len() {
        return Err(OpenIdError::InvalidField {
            name: "signed",
            expected: "each signed field named once, and only fields of the message",
            found: format!("{} names for {} fields", signed_list.len(), fields.len()),
        });
    }
    for name in MUST_SIGN {
        if !signed_set.contains(name) {
            return Err(OpenIdError::NotSigned { name: name.into() });
        }
    }
    // An extension field outside the signature could be read as if the provider sent it:
    // every `ns.<alias>` and every field of a declared alias must be signed.
    let aliases: HashSet<&str> = fields
        .iter()
        .filter_map(|(key, _)| key.strip_prefix("ns."))
        .collect();
    for (key, _) in fields.iter() {
        let alias = key.split_once('.').map(|(alias, _)| alias);
        let extension = key.starts_with("ns.") || alias.is_some_and(|a| aliases.contains(a));
        if extension && !signed_set.contains(key) {
            return Err(OpenIdError::NotSigned { name: key.into() });
        }
    }
    Ok(Prechecked {
        signed_list,
        claimed_id,
        endpoint,
        nonce,
        nonce_time,
        handle,
    })
}

impl CheckedOpenId {
    /// `openid.claimed_id`, to discover before the assertion is used (§11.2).
    pub fn claimed_id(&self) -> &str {
        &self.verified.claimed_id
    }

    /// A field the signature covers (without `openid.`), such as `identity` or `return_to`.
    pub fn signed_field(&self, key: &str) -> Option<&str> {
        self.verified.signed.get(key)
    }

    /// Records the nonce in `store` (shared by every instance): a second use of the same
    /// response is refused, here or on any other instance (§11.3).
    ///
    /// # Errors
    ///
    /// [`OpenIdError::Replayed`], or the store's failure (fail closed).
    pub async fn check_replay(
        self,
        store: &dyn SingleUseStore,
        now: OffsetDateTime,
    ) -> Result<VerifiedOpenId, OpenIdError> {
        let key = OnceKey::assertion(&self.verified.op_endpoint, &self.nonce);
        // Kept as long as the nonce could still be accepted.
        let until = self.nonce_time.saturating_add(NONCE_WINDOW);
        if store.insert_if_absent(&key, until.max(now), now).await? {
            Ok(self.verified)
        } else {
            Err(OpenIdError::Replayed)
        }
    }
}

/// §11.1: the scheme, authority and path of `return_to` are those of the received URL, and
/// each of its query parameters is in the received URL with the same value.
fn check_return_to(return_to: &str, received: &Url) -> Result<(), OpenIdError> {
    // Only the scheme, authority and path are named: the queries can carry the assertion
    // itself (a GET return) and the pending request's id, which stay out of error texts.
    let without_query = |u: &Url| format!("{}{}", u.origin().ascii_serialization(), u.path());
    let mismatch = || OpenIdError::ReturnToMismatch {
        expected: shown(&without_query(received)),
        found: Url::parse(return_to).map_or_else(
            |_| shown(return_to.split('?').next().unwrap_or("")),
            |u| shown(&without_query(&u)),
        ),
    };
    let url = Url::parse(return_to).map_err(|_| mismatch())?;
    if url.scheme() != received.scheme()
        || url.host() != received.host()
        || url.port_or_known_default() != received.port_or_known_default()
        || url.path() != received.path()
    {
        return Err(mismatch());
    }
    // Each key's values in the received URL, read once.
    let mut got: HashMap<String, Vec<String>> = HashMap::new();
    for (k, v) in received.query_pairs() {
        got.entry(k.into_owned()).or_default().push(v.into_owned());
    }
    for (k, v) in url.query_pairs() {
        // Every occurrence of the key must carry the value, so that a framework taking the
        // first or the last one agrees.
        let values = got.get(k.as_ref()).map(Vec::as_slice).unwrap_or_default();
        if values.is_empty() || values.iter().any(|gv| *gv != v) {
            return Err(mismatch());
        }
    }
    Ok(())
}

/// The time at the start of a `response_nonce` (`2005-05-15T17:11:51ZUNIQUE`, §10.1).
fn nonce_time(nonce: &str) -> Result<OffsetDateTime, OpenIdError> {
    let invalid = || OpenIdError::InvalidField {
        name: "response_nonce",
        expected: "a UTC time like 2005-05-15T17:11:51Z and at most 255 characters",
        found: shown(nonce),
    };
    if nonce.len() > 255 {
        return Err(invalid());
    }
    let time = nonce
        .get(..20)
        .filter(|t| t.ends_with('Z'))
        .ok_or_else(invalid)?;
    parse_lenient(time).ok().flatten().ok_or_else(invalid)
}
