//! Validation of a SAML 2.0 Response, from the bytes POSTed to the ACS URL to a
//! [`VerifiedAssertion`].
//!
//! The pipeline fails closed at every step:
//! 1. decode with a size cap (base64 or raw XML);
//! 2. parse once into a hardened tree ([`XmlLimits`]);
//! 3. check the structure: a `samlp:Response` of Version 2.0 with an ID and a Success status,
//!    unique ID values, exactly one Assertion anywhere in the document, and Signatures only
//!    directly in the Response or the Assertion, at most one each;
//! 4. verify the signatures present with the tenant's key(s) (see `dsig`);
//! 5. require that at least one of Response and Assertion is signed; either way the single
//!    Assertion is inside what was signed;
//! 6. check the semantics on the clock: Destination, Issuer, Conditions and audience,
//!    bearer SubjectConfirmation (Recipient, NotOnOrAfter, InResponseTo), AuthnStatement;
//! 7. check replay: record the assertion once in a [`SingleUseStore`].
//!
//! Steps 1–6 are a synchronous pure function ([`ResponseValidator::check`]); step 7 is the
//! only one that touches storage ([`CheckedResponse::check_replay`]).

use time::{Duration, OffsetDateTime};

use super::attributes::{Attribute, Attributes, AttributesBuilder, first_repeated};
use super::cert::{Certificate, Fingerprint};
use super::crypto::CryptoBackend;
use super::decode::{self, DEFAULT_MAX_ENCODED_BYTES};
use super::dsig::{self, DSIG_NS, DsigPolicy, LegacyUse, Trust};
use super::error::SamlError;
use super::xml::{Document, NodeId, XmlLimits};
use crate::ports::{OnceKey, SingleUseStore};

/// The SAML 2.0 protocol namespace.
pub const PROTOCOL_NS: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
/// The SAML 2.0 assertion namespace.
pub const ASSERTION_NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";

/// How strictly responses are checked. The defaults are the secure ones for a Maestrano
/// tenant: the [platform signature profile](SignatureProfile::Platform) accepts the SHA-1 and
/// 1024-bit keys the platform's IdP signs with, from the tenant's own certificate only;
/// [`SamlPolicy::strict`] refuses them. Every other switch that weakens a check is named
/// `insecure_*`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SamlPolicy {
    /// Tolerance applied to every time check (Conditions, SubjectConfirmationData, session
    /// end). Default 180 seconds.
    pub clock_skew: Duration,
    /// Largest encoded message accepted, checked before decoding. Default 256 KiB.
    pub max_message_bytes: usize,
    /// Parser limits.
    pub xml_limits: XmlLimits,
    /// Require the Assertion itself to be signed (a signed Response alone is then not
    /// enough). Default `false`: either signature covers the single Assertion.
    pub require_signed_assertion: bool,
    /// The crypto backend.
    pub crypto_backend: CryptoBackend,
    /// Which signatures and keys the tenant's own IdP certificate may use. Default
    /// [`SignatureProfile::Platform`].
    pub signature_profile: SignatureProfile,
    /// Accept RSA-SHA1 signatures and SHA-1 digests. SHA-1 is broken for collision
    /// resistance; enable only for an IdP that cannot sign with SHA-256. Default `false`. (A
    /// Maestrano tenant needs no switch: the platform profile accepts SHA-1 from its own IdP.)
    pub insecure_allow_sha1: bool,
    /// Accept a Response that answers no request of this SP (IdP-initiated login). Such a
    /// response can be replayed to a victim's browser (login CSRF) within its validity
    /// window; the replay cache limits, but does not remove, the risk. Default `false`.
    pub insecure_allow_idp_initiated: bool,
    /// Accept certificates that are expired, not yet valid, or hold RSA keys under 2048 bits.
    /// For test fixtures and the public sandbox key only. Default `false`.
    pub insecure_allow_weak_test_certs: bool,
}

impl Default for SamlPolicy {
    fn default() -> Self {
        Self {
            clock_skew: Duration::seconds(180),
            max_message_bytes: DEFAULT_MAX_ENCODED_BYTES,
            xml_limits: XmlLimits::default(),
            require_signed_assertion: false,
            crypto_backend: default_backend(),
            signature_profile: SignatureProfile::Platform,
            insecure_allow_sha1: false,
            insecure_allow_idp_initiated: false,
            insecure_allow_weak_test_certs: false,
        }
    }
}

impl SamlPolicy {
    /// The strict profile: the defaults with [`SignatureProfile::Strict`], which refuses SHA-1
    /// and keys under 2048 bits (what this SDK accepted before it met the platform's IdP).
    pub fn strict() -> Self {
        Self::default().with_signature_profile(SignatureProfile::Strict)
    }

    /// This policy with another signature profile.
    pub fn with_signature_profile(mut self, profile: SignatureProfile) -> Self {
        self.signature_profile = profile;
        self
    }

    /// This policy with another clock skew.
    pub fn with_clock_skew(mut self, skew: Duration) -> Self {
        self.clock_skew = skew;
        self
    }

    /// This policy with another message size cap.
    pub fn with_max_message_bytes(mut self, max: usize) -> Self {
        self.max_message_bytes = max;
        self
    }

    /// This policy with other parser limits.
    pub fn with_xml_limits(mut self, limits: XmlLimits) -> Self {
        self.xml_limits = limits;
        self
    }

    /// This policy requiring (or not) a signed Assertion.
    pub fn with_require_signed_assertion(mut self, required: bool) -> Self {
        self.require_signed_assertion = required;
        self
    }

    /// This policy with another crypto backend.
    pub fn with_crypto_backend(mut self, backend: CryptoBackend) -> Self {
        self.crypto_backend = backend;
        self
    }

    /// This policy accepting (or not) SHA-1; see [`Self::insecure_allow_sha1`].
    pub fn with_insecure_allow_sha1(mut self, allow: bool) -> Self {
        self.insecure_allow_sha1 = allow;
        self
    }

    /// This policy accepting (or not) IdP-initiated logins; see
    /// [`Self::insecure_allow_idp_initiated`].
    pub fn with_insecure_allow_idp_initiated(mut self, allow: bool) -> Self {
        self.insecure_allow_idp_initiated = allow;
        self
    }

    /// This policy accepting (or not) weak and expired test certificates; see
    /// [`Self::insecure_allow_weak_test_certs`].
    pub fn with_insecure_allow_weak_test_certs(mut self, allow: bool) -> Self {
        self.insecure_allow_weak_test_certs = allow;
        self
    }
}

fn default_backend() -> CryptoBackend {
    #[cfg(feature = "aws-lc-rs")]
    {
        CryptoBackend::AwsLcRs
    }
    #[cfg(not(feature = "aws-lc-rs"))]
    {
        CryptoBackend::RustCrypto
    }
}

/// What a tenant expects of the responses it receives.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SpSettings {
    /// The ACS URLs of this tenant: the Response's Destination and the SubjectConfirmation
    /// Recipient must each equal one of them exactly. Usually one; a tenant served on two
    /// paths (the SDK's route and the developer platform's `consume_path`) has two.
    pub acs_urls: Vec<String>,
    /// The SP's entity id: the audience the assertion must be restricted to, and the
    /// expected NameID SPNameQualifier when one is given.
    pub audience: String,
    /// The IdP's entity id; when set, the Response and Assertion Issuers must equal it.
    pub idp_entity_id: Option<String>,
    /// The IdP's certificates (several during a key rotation). Only their keys verify.
    pub certificates: Vec<Certificate>,
    /// Used only when no certificate is configured: the weaker mode of the older Maestrano
    /// SDKs, where the certificate in the signature's KeyInfo is used if it hashes to one of
    /// these fingerprints.
    pub fingerprints: Vec<Fingerprint>,
    /// Check policy.
    pub policy: SamlPolicy,
}

impl SpSettings {
    /// Settings with one ACS URL, the audience and the IdP certificates, default policy.
    pub fn new(
        acs_url: impl Into<String>,
        audience: impl Into<String>,
        certificates: Vec<Certificate>,
    ) -> Self {
        Self {
            acs_urls: vec![acs_url.into()],
            audience: audience.into(),
            idp_entity_id: None,
            certificates,
            fingerprints: Vec::new(),
            policy: SamlPolicy::default(),
        }
    }

    /// Sets the IdP entity id that Issuers must equal.
    pub fn with_idp_entity_id(mut self, id: impl Into<String>) -> Self {
        self.idp_entity_id = Some(id.into());
        self
    }

    /// Replaces the policy.
    pub fn with_policy(mut self, policy: SamlPolicy) -> Self {
        self.policy = policy;
        self
    }

    fn trust(&self) -> Trust<'_> {
        if self.certificates.is_empty() {
            Trust::Fingerprints(&self.fingerprints)
        } else {
            Trust::Certificates(&self.certificates)
        }
    }
}

/// The NameID of the authenticated subject.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NameId {
    /// The whole text content of the NameID element.
    pub value: String,
    /// The Format attribute.
    pub format: Option<String>,
    /// The NameQualifier attribute.
    pub name_qualifier: Option<String>,
    /// The SPNameQualifier attribute.
    pub sp_name_qualifier: Option<String>,
}

/// An assertion that passed every check, replay included. It can only be obtained from
/// [`ResponseValidator`]; every value in it was read from inside the verified signature,
/// except [`in_response_to`](Self::in_response_to), which is the Response's and always equals
/// the request id the app gave to validation (or is absent).
///
/// Its `Debug` output shows attribute names, not values: Maestrano sends a bearer session
/// token (`mno_session`) among them.
#[derive(Clone)]
pub struct VerifiedAssertion {
    assertion_id: String,
    issuer: String,
    name_id: NameId,
    session_index: Option<String>,
    session_not_on_or_after: Option<OffsetDateTime>,
    authn_instant: Option<OffsetDateTime>,
    not_on_or_after: Option<OffsetDateTime>,
    in_response_to: Option<String>,
    attributes: Attributes,
    legacy_crypto: Option<LegacyCrypto>,
}

/// What the platform signature profile accepted in a verified response that the strict
/// profile refuses ([`SignatureProfile`]): the Maestrano IdPs sign with RSA-SHA1 and 1024-bit
/// keys. Only ever from the tenant's own configured certificate or pinned fingerprint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct LegacyCrypto {
    /// The signature or its digest used SHA-1 (RSA-SHA1).
    pub sha1: bool,
    /// The size of the RSA key that verified, when under 2048 bits.
    pub rsa_key_bits: Option<usize>,
}

/// Which signatures and keys a tenant's own IdP certificate may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SignatureProfile {
    /// What the Maestrano platform needs, and nothing more: RSA-SHA1 signatures and SHA-1
    /// digests, and RSA keys of 1024 bits or more, accepted only from the tenant's own
    /// configured certificate (or pinned fingerprint); every other check as strict as
    /// [`Strict`](Self::Strict). The default: the platform's IdP (mno-api-sandbox on
    /// ruby-saml-idp 0.3.2, whose `algorithm` defaults to `:sha1`) signs every response so.
    /// Each acceptance shows on [`VerifiedAssertion::legacy_crypto`] and in a `tracing`
    /// warning (once per tenant, from `SsoFlow`).
    #[default]
    Platform,
    /// SHA-256 or stronger and keys of 2048 bits or more, as modern SAML requires.
    Strict,
}

impl std::fmt::Debug for VerifiedAssertion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedAssertion")
            .field("assertion_id", &self.assertion_id)
            .field("issuer", &self.issuer)
            .field("name_id", &self.name_id)
            .field("session_index", &self.session_index)
            .field("session_not_on_or_after", &self.session_not_on_or_after)
            .field("not_on_or_after", &self.not_on_or_after)
            .field("in_response_to", &self.in_response_to)
            .field("attributes", &self.attributes)
            .finish_non_exhaustive()
    }
}

impl VerifiedAssertion {
    /// The assertion's ID.
    pub fn assertion_id(&self) -> &str {
        &self.assertion_id
    }

    /// The assertion's Issuer (the IdP entity id).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The subject's NameID.
    pub fn name_id(&self) -> &NameId {
        &self.name_id
    }

    /// The AuthnStatement's SessionIndex.
    pub fn session_index(&self) -> Option<&str> {
        self.session_index.as_deref()
    }

    /// When the IdP session ends (AuthnStatement SessionNotOnOrAfter).
    pub fn session_not_on_or_after(&self) -> Option<OffsetDateTime> {
        self.session_not_on_or_after
    }

    /// When the user authenticated at the IdP.
    pub fn authn_instant(&self) -> Option<OffsetDateTime> {
        self.authn_instant
    }

    /// The end of the assertion's validity (Conditions NotOnOrAfter).
    pub fn not_on_or_after(&self) -> Option<OffsetDateTime> {
        self.not_on_or_after
    }

    /// What the platform signature profile accepted here that the strict profile refuses;
    /// `None` when the response was signed with SHA-256 or stronger and a 2048-bit key or more.
    pub fn legacy_crypto(&self) -> Option<LegacyCrypto> {
        self.legacy_crypto
    }

    /// The request this assertion answers, `None` for an IdP-initiated login.
    pub fn in_response_to(&self) -> Option<&str> {
        self.in_response_to.as_deref()
    }

    /// The attributes, name → values, in document order.
    pub fn attributes(&self) -> &Attributes {
        &self.attributes
    }

    /// The attribute named `name`.
    pub fn attribute(&self, name: &str) -> Option<Attribute<'_>> {
        self.attributes.get(name)
    }

    /// The first value of the attribute named `name`.
    pub fn first_value(&self, name: &str) -> Option<&str> {
        self.attribute(name)?.first_value()
    }
}

/// A response that passed steps 1–6 and awaits the replay check. It exposes nothing of the
/// assertion's content until [`check_replay`](Self::check_replay) succeeds.
#[derive(Debug)]
pub struct CheckedResponse {
    assertion: VerifiedAssertion,
    expires_at: OffsetDateTime,
    now: OffsetDateTime,
}

impl CheckedResponse {
    /// The replay key: issuer and assertion ID.
    pub fn replay_key(&self) -> OnceKey {
        OnceKey::assertion(&self.assertion.issuer, &self.assertion.assertion_id)
    }

    /// Until when the store must remember the assertion.
    pub fn replay_expires_at(&self) -> OffsetDateTime {
        self.expires_at
    }

    /// Records the assertion in `store`; a second use of the same assertion is
    /// [`SamlError::Replay`]. A store failure rejects the response.
    pub async fn check_replay(
        self,
        store: &dyn SingleUseStore,
    ) -> Result<VerifiedAssertion, SamlError> {
        let key = self.replay_key();
        match store
            .insert_if_absent(&key, self.expires_at, self.now)
            .await
        {
            Ok(true) => Ok(self.assertion),
            Ok(false) => Err(SamlError::Replay {
                assertion_id: key.id().to_owned(),
            }),
            Err(e) => Err(SamlError::ReplayStoreUnavailable(e.to_string())),
        }
    }
}

/// Validates Responses for one tenant.
#[derive(Debug, Clone)]
pub struct ResponseValidator {
    settings: SpSettings,
}

impl ResponseValidator {
    /// A validator for these settings.
    pub fn new(settings: SpSettings) -> Self {
        Self { settings }
    }

    /// The settings.
    pub fn settings(&self) -> &SpSettings {
        &self.settings
    }

    /// Steps 1–6: decodes `message` (the `SAMLResponse` form value, base64, or raw XML) and
    /// checks everything but replay. `request_id` is the ID of the AuthnRequest the app
    /// issued and kept; `None` means the app issued none, which is accepted only with
    /// [`SamlPolicy::insecure_allow_idp_initiated`].
    pub fn check(
        &self,
        message: &[u8],
        request_id: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<CheckedResponse, SamlError> {
        let expected = match request_id {
            Some(id) => Expected::Id(id),
            None => Expected::Unsolicited,
        };
        self.check_expecting(message, expected, now)
    }

    /// [`check`](Self::check), with the answered request named by `expected`.
    pub(crate) fn check_expecting(
        &self,
        message: &[u8],
        expected: Expected<'_>,
        now: OffsetDateTime,
    ) -> Result<CheckedResponse, SamlError> {
        let xml = decode::decode_post_message(message, self.settings.policy.max_message_bytes)?;
        let parsed = ParsedResponse::parse(xml, &self.settings.policy.xml_limits)?;
        let signed = parsed.verify_signatures(self.settings.trust(), &self.dsig_policy(now))?;
        parsed.require_signature(signed, self.settings.policy.require_signed_assertion)?;
        let (assertion, expires_at) =
            parsed.check_semantics(&self.settings, expected, signed, now)?;
        Ok(CheckedResponse {
            assertion,
            expires_at,
            now,
        })
    }

    /// All seven steps: [`check`](Self::check), then the replay check in `store`.
    pub async fn validate(
        &self,
        message: &[u8],
        request_id: Option<&str>,
        now: OffsetDateTime,
        store: &dyn SingleUseStore,
    ) -> Result<VerifiedAssertion, SamlError> {
        self.check(message, request_id, now)?
            .check_replay(store)
            .await
    }

    fn dsig_policy(&self, now: OffsetDateTime) -> DsigPolicy {
        let p = &self.settings.policy;
        DsigPolicy {
            legacy: p.signature_profile == SignatureProfile::Platform,
            allow_sha1: p.insecure_allow_sha1,
            allow_weak_certs: p.insecure_allow_weak_test_certs,
            backend: p.crypto_backend,
            now,
        }
    }
}

/// Which AuthnRequest a Response must answer.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Expected<'a> {
    /// The request the app kept (in the user's session).
    Id(&'a str),
    /// Whichever request the Response names in its `InResponseTo`, which the caller then takes
    /// from the shared store (issued by this app, for this tenant, unexpired, unused). A
    /// Response that names none is unsolicited.
    Issued,
    /// None: an IdP-initiated login, accepted only with
    /// [`SamlPolicy::insecure_allow_idp_initiated`].
    Unsolicited,
}

/// Which of the two possible signatures verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Signed {
    pub(crate) response: bool,
    pub(crate) assertion: bool,
    /// What the verified signatures used that the strict profile refuses.
    pub(crate) legacy: LegacyUse,
}

/// A Response whose structure (step 3) was checked.
#[derive(Debug)]
pub(crate) struct ParsedResponse {
    pub(crate) doc: Document,
    pub(crate) response: NodeId,
    pub(crate) assertion: NodeId,
    pub(crate) response_signature: Option<NodeId>,
    pub(crate) assertion_signature: Option<NodeId>,
}

fn structure(expected: &'static str, found: impl Into<String>) -> SamlError {
    SamlError::Structure {
        expected,
        found: found.into(),
    }
}

/// Reads an xs:dateTime. SAML requires UTC with a `Z`; fractional seconds are allowed.
fn parse_time(attribute: &'static str, text: &str) -> Result<OffsetDateTime, SamlError> {
    let invalid = || SamlError::InvalidTime {
        attribute,
        found: text.to_owned(),
    };
    if !text.ends_with('Z') {
        return Err(invalid());
    }
    OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|_| invalid())
}

fn time_attr(
    doc: &Document,
    id: NodeId,
    name: &'static str,
) -> Result<Option<OffsetDateTime>, SamlError> {
    doc.attr(id, name).map(|t| parse_time(name, t)).transpose()
}

impl ParsedResponse {
    /// Steps 2 and 3.
    pub(crate) fn parse(xml: String, limits: &XmlLimits) -> Result<Self, SamlError> {
        let doc = Document::parse(xml, limits)?;
        let response = doc.root();
        if doc.local_name(response) == "Response" && doc.attr(response, "MajorVersion").is_some() {
            let major = doc.attr(response, "MajorVersion").unwrap_or("");
            let minor = doc.attr(response, "MinorVersion").unwrap_or("");
            return Err(SamlError::UnsupportedVersion {
                found: format!("{major}.{minor}"),
            });
        }
        if !doc.is(response, PROTOCOL_NS, "Response") {
            return Err(structure(
                "a samlp:Response root element",
                doc.qname(response),
            ));
        }
        let version = doc.attr(response, "Version").unwrap_or("");
        if version != "2.0" {
            return Err(SamlError::UnsupportedVersion {
                found: version.to_owned(),
            });
        }
        if doc.attr(response, "ID").is_none_or(str::is_empty) {
            return Err(SamlError::MissingResponseId);
        }
        check_status(&doc, response)?;
        check_unique_ids(&doc)?;

        // One pass over the document finds everything step 3 looks for.
        let mut encrypted_assertion = false;
        let mut nested_response = false;
        let mut assertions: Vec<NodeId> = Vec::new();
        let mut encrypted_attributes: Vec<NodeId> = Vec::new();
        let mut signatures: Vec<NodeId> = Vec::new();
        for n in response + 1..doc.len() {
            let Some(e) = doc.element(n) else { continue };
            match (doc.str(e.ns), doc.str(e.local)) {
                (ASSERTION_NS, "Assertion") => assertions.push(n),
                (ASSERTION_NS, "EncryptedAssertion") => encrypted_assertion = true,
                (ASSERTION_NS, "EncryptedAttribute") => encrypted_attributes.push(n),
                (PROTOCOL_NS, "Response") => nested_response = true,
                (DSIG_NS, "Signature") => signatures.push(n),
                _ => {}
            }
        }
        if encrypted_assertion {
            return Err(SamlError::EncryptedAssertionUnsupported);
        }
        if assertions.len() != 1 {
            return Err(SamlError::WrongAssertionCount {
                found: assertions.len(),
            });
        }
        let assertion = assertions[0];
        if doc.parent(assertion) != Some(response) {
            return Err(structure(
                "the Assertion as a child of the Response",
                format!(
                    "an Assertion inside {}",
                    doc.qname(doc.parent(assertion).unwrap_or(response))
                ),
            ));
        }
        if nested_response {
            return Err(structure(
                "one Response",
                "a Response nested in the Response",
            ));
        }
        if encrypted_attributes
            .iter()
            .any(|&a| doc.is_inside(a, assertion))
        {
            return Err(SamlError::EncryptedAttributeUnsupported);
        }

        let mut response_signature = None;
        let mut assertion_signature = None;
        let (mut on_response, mut on_assertion) = (0, 0);
        for sig in signatures {
            match doc.parent(sig) {
                Some(p) if p == response => {
                    on_response += 1;
                    response_signature = Some(sig);
                }
                Some(p) if p == assertion => {
                    on_assertion += 1;
                    assertion_signature = Some(sig);
                }
                Some(p) => {
                    // A signature nested in another signature is still misplaced.
                    return Err(SamlError::SignedElementInvalid {
                        found: doc.qname(p),
                    });
                }
                None => {
                    return Err(structure(
                        "a Signature inside an element",
                        "a Signature at the root",
                    ));
                }
            }
        }
        if on_response > 1 {
            return Err(SamlError::DuplicateSignature {
                element: "Response",
                found: on_response,
            });
        }
        if on_assertion > 1 {
            return Err(SamlError::DuplicateSignature {
                element: "Assertion",
                found: on_assertion,
            });
        }
        Ok(Self {
            doc,
            response,
            assertion,
            response_signature,
            assertion_signature,
        })
    }

    /// Step 4: verifies each signature present.
    pub(crate) fn verify_signatures(
        &self,
        trust: Trust<'_>,
        policy: &DsigPolicy,
    ) -> Result<Signed, SamlError> {
        let mut legacy = LegacyUse::default();
        for sig in [self.response_signature, self.assertion_signature]
            .into_iter()
            .flatten()
        {
            let used = dsig::verify(&self.doc, sig, trust, policy)?;
            legacy.sha1 |= used.sha1;
            legacy.short_key_bits = legacy.short_key_bits.or(used.short_key_bits);
        }
        Ok(Signed {
            response: self.response_signature.is_some(),
            assertion: self.assertion_signature.is_some(),
            legacy,
        })
    }

    /// Step 5: something must be signed, and the Assertion itself when the policy says so.
    pub(crate) fn require_signature(
        &self,
        signed: Signed,
        require_signed_assertion: bool,
    ) -> Result<(), SamlError> {
        match signed {
            Signed {
                response: false,
                assertion: false,
                ..
            } => Err(SamlError::MissingSignature),
            Signed {
                assertion: false, ..
            } if require_signed_assertion => Err(SamlError::AssertionSignatureRequired),
            _ => Ok(()),
        }
    }

    /// The Conditions time window; `Ok` with the NotOnOrAfter bound.
    pub(crate) fn check_condition_times(
        &self,
        now: OffsetDateTime,
        skew: Duration,
    ) -> Result<(NodeId, Option<OffsetDateTime>), SamlError> {
        let doc = &self.doc;
        let conditions: Vec<NodeId> = doc
            .children_named(self.assertion, ASSERTION_NS, "Conditions")
            .collect();
        if conditions.len() != 1 {
            return Err(SamlError::ConditionsMissing {
                found: conditions.len(),
            });
        }
        let c = conditions[0];
        let not_before = time_attr(doc, c, "NotBefore")?;
        let not_on_or_after = time_attr(doc, c, "NotOnOrAfter")?;
        // Saturating: a signed but absurd time (year 9999) must fail or pass the check, not
        // overflow and panic.
        if let Some(nb) = not_before
            && now < nb.saturating_sub(skew)
        {
            return Err(SamlError::ConditionsNotYetValid {
                now,
                not_before: nb,
                skew,
            });
        }
        if let Some(na) = not_on_or_after
            && now >= na.saturating_add(skew)
        {
            return Err(SamlError::ConditionsExpired {
                now,
                not_on_or_after: na,
                skew,
            });
        }
        Ok((c, not_on_or_after))
    }

    /// Step 6. Returns the verified assertion and until when to remember it for replay.
    pub(crate) fn check_semantics(
        &self,
        settings: &SpSettings,
        expected: Expected<'_>,
        signed: Signed,
        now: OffsetDateTime,
    ) -> Result<(VerifiedAssertion, OffsetDateTime), SamlError> {
        let doc = &self.doc;
        let (response, assertion) = (self.response, self.assertion);
        let policy = &settings.policy;
        let skew = policy.clock_skew;
        let is_acs = |url: &str| settings.acs_urls.iter().any(|a| a == url);

        if let Some(dest) = doc.attr(response, "Destination") {
            if dest.is_empty() {
                return Err(SamlError::DestinationEmpty);
            }
            if !is_acs(dest) {
                return Err(SamlError::DestinationMismatch {
                    expected: settings.acs_urls.first().cloned().unwrap_or_default(),
                    found: dest.to_owned(),
                });
            }
        }

        // InResponseTo of the Response: it must answer the request the app issued.
        let response_irt = doc.attr(response, "InResponseTo");
        let request_id = match expected {
            Expected::Id(id) => Some(id),
            // The caller takes this id from the shared store once validation passed; the
            // subject confirmation below must answer the same request.
            Expected::Issued => response_irt,
            Expected::Unsolicited => None,
        };
        let allow_unsolicited = policy.insecure_allow_idp_initiated;
        match (request_id, response_irt) {
            (None, _) if !allow_unsolicited => return Err(SamlError::UnsolicitedResponse),
            (None, Some(found)) => {
                return Err(SamlError::InResponseToMismatch {
                    expected: String::new(),
                    found: found.to_owned(),
                });
            }
            (Some(expected), Some(found)) if expected != found => {
                return Err(SamlError::InResponseToMismatch {
                    expected: expected.to_owned(),
                    found: found.to_owned(),
                });
            }
            (Some(expected), None) if !allow_unsolicited => {
                return Err(SamlError::InResponseToMismatch {
                    expected: expected.to_owned(),
                    found: String::new(),
                });
            }
            _ => {}
        }

        // Conditions: the time window and the audience.
        let (conditions, not_on_or_after) = self.check_condition_times(now, skew)?;
        let restrictions: Vec<NodeId> = doc
            .children_named(conditions, ASSERTION_NS, "AudienceRestriction")
            .collect();
        let mut seen = Vec::new();
        let all_name_us = !restrictions.is_empty()
            && restrictions.iter().all(|&r| {
                let audiences: Vec<String> = doc
                    .children_named(r, ASSERTION_NS, "Audience")
                    .map(|a| doc.text_content(a).trim().to_owned())
                    .collect();
                let ok = audiences.contains(&settings.audience);
                seen.extend(audiences);
                ok
            });
        if !all_name_us {
            return Err(SamlError::AudienceMismatch {
                expected: settings.audience.clone(),
                found: seen,
            });
        }

        // Issuers.
        let issuer_of = |el: NodeId| {
            doc.children_named(el, ASSERTION_NS, "Issuer")
                .next()
                .map(|i| doc.text_content(i))
        };
        let response_issuer = issuer_of(response);
        let assertion_issuer = issuer_of(assertion).ok_or(SamlError::IssuerMissing {
            element: "Assertion",
        })?;
        if let Some(idp) = &settings.idp_entity_id {
            let response_issuer = response_issuer.ok_or(SamlError::IssuerMissing {
                element: "Response",
            })?;
            for found in [&response_issuer, &assertion_issuer] {
                if found.trim() != idp {
                    return Err(SamlError::IssuerMismatch {
                        expected: idp.clone(),
                        found: found.clone(),
                    });
                }
            }
        }

        // AuthnStatement and the IdP session.
        let authn = doc
            .children_named(assertion, ASSERTION_NS, "AuthnStatement")
            .next()
            .ok_or(SamlError::AuthnStatementMissing)?;
        let session_not_on_or_after = time_attr(doc, authn, "SessionNotOnOrAfter")?;
        if let Some(end) = session_not_on_or_after
            && now >= end.saturating_add(skew)
        {
            return Err(SamlError::SessionExpired {
                now,
                session_not_on_or_after: end,
            });
        }

        // Subject: a bearer confirmation, then the NameID.
        let subject = doc
            .children_named(assertion, ASSERTION_NS, "Subject")
            .next()
            .ok_or(SamlError::NameIdMissing)?;
        // The confirmation may omit InResponseTo only when the Response-level InResponseTo,
        // already checked above, is covered by a verified Response signature.
        let irt_covered = signed.response && response_irt.is_some();
        let confirmation_end =
            self.check_subject_confirmation(subject, settings, request_id, irt_covered, now)?;

        if doc
            .children_named(subject, ASSERTION_NS, "EncryptedID")
            .next()
            .is_some()
        {
            return Err(structure(
                "a NameID",
                "an EncryptedID, which is not supported",
            ));
        }
        let name_id_el = doc
            .children_named(subject, ASSERTION_NS, "NameID")
            .next()
            .ok_or(SamlError::NameIdMissing)?;
        let name_id = NameId {
            value: doc.text_content(name_id_el).trim().to_owned(),
            format: doc.attr(name_id_el, "Format").map(str::to_owned),
            name_qualifier: doc.attr(name_id_el, "NameQualifier").map(str::to_owned),
            sp_name_qualifier: doc.attr(name_id_el, "SPNameQualifier").map(str::to_owned),
        };
        if name_id.value.is_empty() {
            return Err(SamlError::NameIdEmpty);
        }
        if let Some(q) = &name_id.sp_name_qualifier
            && *q != settings.audience
        {
            return Err(SamlError::SpNameQualifierMismatch {
                expected: settings.audience.clone(),
                found: q.clone(),
            });
        }
        let attributes = self.attributes()?;
        let assertion_id = doc.attr(assertion, "ID").unwrap_or("").to_owned();
        if assertion_id.is_empty() {
            return Err(structure("an Assertion ID", "none"));
        }
        // Remember the assertion for as long as any check could still accept it.
        let horizon = [not_on_or_after, Some(confirmation_end)]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(confirmation_end);
        let verified = VerifiedAssertion {
            assertion_id,
            issuer: assertion_issuer.trim().to_owned(),
            name_id,
            session_index: doc.attr(authn, "SessionIndex").map(str::to_owned),
            session_not_on_or_after,
            authn_instant: time_attr(doc, authn, "AuthnInstant")?,
            not_on_or_after,
            in_response_to: response_irt.map(str::to_owned),
            attributes,
            legacy_crypto: (signed.legacy != LegacyUse::default()).then_some(LegacyCrypto {
                sha1: signed.legacy.sha1,
                rsa_key_bits: signed.legacy.short_key_bits,
            }),
        };
        Ok((verified, horizon.saturating_add(skew)))
    }

    /// A bearer SubjectConfirmation with data whose Recipient is an ACS URL, whose
    /// NotOnOrAfter is present and not passed, whose NotBefore (if any) has come, and whose
    /// InResponseTo answers our request. Returns its NotOnOrAfter.
    fn check_subject_confirmation(
        &self,
        subject: NodeId,
        settings: &SpSettings,
        request_id: Option<&str>,
        irt_covered: bool,
        now: OffsetDateTime,
    ) -> Result<OffsetDateTime, SamlError> {
        let doc = &self.doc;
        let skew = settings.policy.clock_skew;
        let mut reasons = Vec::new();
        for sc in doc.children_named(subject, ASSERTION_NS, "SubjectConfirmation") {
            if doc.attr(sc, "Method") != Some(BEARER) {
                reasons.push("method is not bearer".to_owned());
                continue;
            }
            let Some(data) = doc
                .children_named(sc, ASSERTION_NS, "SubjectConfirmationData")
                .next()
            else {
                reasons.push("bearer confirmation without SubjectConfirmationData".to_owned());
                continue;
            };
            match doc.attr(data, "Recipient") {
                Some(r) if settings.acs_urls.iter().any(|a| a == r) => {}
                r => {
                    reasons.push(format!(
                        "Recipient {:?} is not the ACS URL",
                        r.unwrap_or("")
                    ));
                    continue;
                }
            }
            let Some(end) = time_attr(doc, data, "NotOnOrAfter")? else {
                reasons.push("no NotOnOrAfter".to_owned());
                continue;
            };
            if now >= end.saturating_add(skew) {
                reasons.push(format!("expired at {end}"));
                continue;
            }
            if let Some(nb) = time_attr(doc, data, "NotBefore")?
                && now < nb.saturating_sub(skew)
            {
                reasons.push(format!("not valid before {nb}"));
                continue;
            }
            match (doc.attr(data, "InResponseTo"), request_id) {
                (Some(found), Some(expected)) if found != expected => {
                    reasons.push(format!("InResponseTo {found:?} is not {expected:?}"));
                    continue;
                }
                (Some(found), None) => {
                    reasons.push(format!("InResponseTo {found:?} answers no request of ours"));
                    continue;
                }
                (None, Some(expected))
                    if !irt_covered && !settings.policy.insecure_allow_idp_initiated =>
                {
                    reasons.push(format!("no InResponseTo, expected {expected:?}"));
                    continue;
                }
                _ => {}
            }
            return Ok(end);
        }
        if reasons.is_empty() {
            reasons.push("no SubjectConfirmation".to_owned());
        }
        Err(SamlError::SubjectConfirmationInvalid {
            reason: reasons.join("; "),
        })
    }

    /// The attributes of every AttributeStatement, in document order, in three allocations
    /// sized by a first pass that allocates nothing. That pass counts every child element
    /// as an attribute or value, without comparing names: a count too high costs a few
    /// bytes, and the second pass, which compares them, is the one that decides.
    pub(crate) fn attributes(&self) -> Result<Attributes, SamlError> {
        let doc = &self.doc;
        let statements = || doc.children_named(self.assertion, ASSERTION_NS, "AttributeStatement");
        let (mut count, mut values, mut bytes) = (0, 0, 0);
        for attr in statements().flat_map(|s| doc.child_elements(s)) {
            count += 1;
            bytes += doc.attr(attr, "Name").map_or(0, str::len);
            for v in doc.child_elements(attr) {
                values += 1;
                bytes += doc.text_content_len(v);
            }
        }
        let mut out = AttributesBuilder::with_capacity(count, values, bytes);
        for statement in statements() {
            for attr in doc.children_named(statement, ASSERTION_NS, "Attribute") {
                let name = doc.attr(attr, "Name").unwrap_or("");
                out.attribute(name);
                for v in doc.children_named(attr, ASSERTION_NS, "AttributeValue") {
                    out.value(|text| doc.push_text_content(v, text));
                }
            }
        }
        let attributes = out.finish();
        if let Some(name) = attributes.first_repeated_name() {
            return Err(SamlError::DuplicateAttribute {
                name: name.to_owned(),
            });
        }
        Ok(attributes)
    }
}

fn check_status(doc: &Document, response: NodeId) -> Result<(), SamlError> {
    let Some(status) = doc.children_named(response, PROTOCOL_NS, "Status").next() else {
        return Err(SamlError::StatusNotSuccess {
            code: String::new(),
            sub_code: None,
            message: Some("the Response has no Status".into()),
        });
    };
    let code_el = doc.children_named(status, PROTOCOL_NS, "StatusCode").next();
    let code = code_el.and_then(|c| doc.attr(c, "Value")).unwrap_or("");
    if code == STATUS_SUCCESS {
        return Ok(());
    }
    let sub_code = code_el
        .and_then(|c| doc.children_named(c, PROTOCOL_NS, "StatusCode").next())
        .and_then(|c| doc.attr(c, "Value"))
        .map(str::to_owned);
    let message = doc
        .children_named(status, PROTOCOL_NS, "StatusMessage")
        .next()
        .map(|m| doc.text_content(m).chars().take(256).collect());
    Err(SamlError::StatusNotSuccess {
        code: code.to_owned(),
        sub_code,
        message,
    })
}

/// Every ID-like attribute (`ID`, `Id`, `id`, in no namespace) must be unique, so that no
/// reference can be resolved two ways.
fn check_unique_ids(doc: &Document) -> Result<(), SamlError> {
    let ids: Vec<&str> = doc
        .all_attrs()
        .iter()
        .filter(|a| a.ns.is_empty() && matches!(doc.str(a.local), "ID" | "Id" | "id"))
        .map(|a| doc.str(a.value))
        .collect();
    first_duplicate(&ids).map_or(Ok(()), |id| {
        Err(SamlError::DuplicateId { id: id.to_owned() })
    })
}

/// The first repeated value, found by sorting: no hashing of attacker-chosen strings (see
/// `attributes::first_repeated`).
fn first_duplicate<'a>(values: &[&'a str]) -> Option<&'a str> {
    first_repeated(values.len(), |i| values[i])
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const ACS: &str = "https://sp.example.test/acs";

    /// An unsigned response whose time windows run from `not_before` to `not_on_or_after`;
    /// the semantic checks do not look at signatures, the caller says what was signed.
    fn response_with_times(not_before: &str, not_on_or_after: &str) -> String {
        format!(
            r#"<samlp:Response xmlns:samlp="{PROTOCOL_NS}" xmlns:saml="{ASSERTION_NS}" ID="_r" Version="2.0" InResponseTo="_q"><samlp:Status><samlp:StatusCode Value="{STATUS_SUCCESS}"/></samlp:Status><saml:Assertion ID="_a" Version="2.0"><saml:Issuer>idp</saml:Issuer><saml:Subject><saml:NameID>u</saml:NameID><saml:SubjectConfirmation Method="{BEARER}"><saml:SubjectConfirmationData Recipient="{ACS}" InResponseTo="_q" NotBefore="{not_before}" NotOnOrAfter="{not_on_or_after}"/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="{not_before}" NotOnOrAfter="{not_on_or_after}"><saml:AudienceRestriction><saml:Audience>sp</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:AuthnStatement SessionNotOnOrAfter="{not_on_or_after}"/></saml:Assertion></samlp:Response>"#
        )
    }

    #[test]
    fn times_at_the_ends_of_the_calendar_do_not_overflow() {
        // `9999-12-31T23:59:59Z + skew` and `-9999-...- skew` panicked in `time`. Only a
        // signed assertion gets this far, but a trusted IdP sending "never expires" as the
        // last representable second must not take the validator down.
        let settings = SpSettings::new(ACS, "sp", Vec::new());
        let signed = Signed {
            response: true,
            assertion: true,
            legacy: LegacyUse::default(),
        };
        let now = datetime!(2024-05-01 10:00 UTC);
        let xml = response_with_times("0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z");
        let parsed = ParsedResponse::parse(xml, &XmlLimits::default()).unwrap();
        let (assertion, expires_at) = parsed
            .check_semantics(&settings, Expected::Id("_q"), signed, now)
            .unwrap();
        assert_eq!(assertion.name_id().value, "u");
        assert!(expires_at >= datetime!(9999-12-31 23:59:59 UTC));

        let mut huge_skew = settings.clone();
        huge_skew.policy.clock_skew = Duration::MAX;
        let xml = response_with_times("2024-05-01T09:00:00Z", "2024-05-01T11:00:00Z");
        let parsed = ParsedResponse::parse(xml, &XmlLimits::default()).unwrap();
        assert!(
            parsed
                .check_semantics(&huge_skew, Expected::Id("_q"), signed, now)
                .is_ok()
        );
    }
    #[test]
    fn first_duplicate_finds_repeats_whatever_their_place_and_length() {
        let none = ["group_name_10", "group_name_1", "group_name_100", "a", "b"];
        assert_eq!(first_duplicate(&none), None);
        let apart = ["uid_2", "group_uid", "uid_20", "x", "group_uid", "uid"];
        assert_eq!(first_duplicate(&apart), Some("group_uid"));
        let empties = ["", "a", ""];
        assert_eq!(first_duplicate(&empties), Some(""));
        assert_eq!(first_duplicate(&[]), None);
    }

    #[test]
    fn a_repeated_attribute_name_is_refused_with_its_name() {
        let statement = r#"<saml:AttributeStatement><saml:Attribute Name="email"><saml:AttributeValue>a@x</saml:AttributeValue></saml:Attribute><saml:Attribute Name="uid"><saml:AttributeValue>usr-1</saml:AttributeValue></saml:Attribute><saml:Attribute Name="email"><saml:AttributeValue>b@x</saml:AttributeValue></saml:Attribute></saml:AttributeStatement></saml:Assertion>"#;
        let xml = response_with_times("2024-05-01T09:00:00Z", "2024-05-01T11:00:00Z").replacen(
            "</saml:Assertion>",
            statement,
            1,
        );
        let parsed = ParsedResponse::parse(xml, &XmlLimits::default()).unwrap();
        match parsed.attributes() {
            Err(SamlError::DuplicateAttribute { name }) => assert_eq!(name, "email"),
            other => panic!("expected a duplicate attribute error, got {other:?}"),
        }
    }
}
