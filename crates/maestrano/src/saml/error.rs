//! Why a SAML message was rejected.

use time::OffsetDateTime;

use super::xml::XmlError;

/// A SAML message was rejected. One variant per class of failure; every cryptographic
/// mismatch (wrong key, altered content, bad signature value) is the single opaque
/// [`SamlError::SignatureInvalid`], so an attacker learns nothing from which check failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SamlError {
    /// The input could not be decoded (size cap, base64, DEFLATE, UTF-8).
    #[error("cannot decode the SAML message: {0}")]
    Decode(String),
    /// The document has a DOCTYPE.
    #[error("DOCTYPE declarations are forbidden in SAML messages")]
    DtdForbidden,
    /// The document exceeds a parser limit.
    #[error("document exceeds the {limit} limit of {max}")]
    LimitExceeded {
        /// Which limit.
        limit: &'static str,
        /// Its value.
        max: usize,
    },
    /// The document is not well-formed, namespace-well-formed XML.
    #[error("malformed XML at byte {position}: {reason}")]
    XmlMalformed {
        /// Approximate byte offset.
        position: usize,
        /// What was wrong.
        reason: String,
    },
    /// The document is well-formed but not a SAML Response of the expected shape.
    #[error("unexpected SAML structure: expected {expected}, found {found}")]
    Structure {
        /// What was expected.
        expected: &'static str,
        /// What was found.
        found: String,
    },
    /// The Response's Version is not 2.0.
    #[error("expected SAML Version 2.0, found {found:?}")]
    UnsupportedVersion {
        /// The version found (empty when absent).
        found: String,
    },
    /// The Response has no ID attribute.
    #[error("the Response has no ID attribute")]
    MissingResponseId,
    /// Two elements carry the same ID value.
    #[error("ID {id:?} appears on more than one element")]
    DuplicateId {
        /// The repeated value.
        id: String,
    },
    /// The Response holds an EncryptedAssertion, which this SDK does not decrypt.
    #[error("EncryptedAssertion is not supported")]
    EncryptedAssertionUnsupported,
    /// The assertion holds an EncryptedAttribute, which this SDK does not decrypt.
    #[error("EncryptedAttribute is not supported")]
    EncryptedAttributeUnsupported,
    /// The Response does not hold exactly one Assertion (counting nested ones).
    #[error("expected exactly one Assertion in the Response, found {found}")]
    WrongAssertionCount {
        /// How many were found.
        found: usize,
    },
    /// A Signature sits somewhere other than directly in the Response or the Assertion.
    #[error("a Signature is a child of {found}; expected only the Response or the Assertion")]
    SignedElementInvalid {
        /// The element holding the Signature.
        found: String,
    },
    /// The Response or the Assertion holds more than one Signature.
    #[error("the {element} holds {found} Signature elements; at most one is allowed")]
    DuplicateSignature {
        /// `Response` or `Assertion`.
        element: &'static str,
        /// How many.
        found: usize,
    },
    /// Neither the Response nor the Assertion is signed.
    #[error("neither the Response nor the Assertion is signed")]
    MissingSignature,
    /// The tenant requires a signed Assertion and only the Response is signed.
    #[error("the Assertion itself must be signed; only the Response is")]
    AssertionSignatureRequired,
    /// The Signature element is not shaped as XML-DSig requires for SAML.
    #[error("malformed Signature: expected {expected}, found {found}")]
    SignatureMalformed {
        /// What was expected.
        expected: &'static str,
        /// What was found.
        found: String,
    },
    /// A signature or digest algorithm outside the allow-list.
    #[error("algorithm {algorithm:?} is not allowed")]
    AlgorithmNotAllowed {
        /// The algorithm URI.
        algorithm: String,
    },
    /// SHA-1 from the tenant's own IdP, refused because the tenant is on the strict signature
    /// profile.
    #[error(
        "{found} is refused by the strict signature profile (SamlPolicy::signature_profile = Strict); the platform profile accepts it from the tenant's own IdP certificate"
    )]
    StrictProfileRefused {
        /// What the response used: the algorithm URI.
        found: String,
    },
    /// A transform outside the allow-list (enveloped-signature plus one canonicalization).
    #[error(
        "transform {algorithm:?} is not allowed; expected enveloped-signature and one canonicalization"
    )]
    TransformNotAllowed {
        /// The transform URI, or a description of the problem.
        algorithm: String,
    },
    /// The Reference URI is not `#` followed by an XML ID.
    #[error("Reference URI {uri:?} is not a same-document reference to an ID")]
    ReferenceUriInvalid {
        /// The URI found.
        uri: String,
    },
    /// The Reference does not point at the element that contains the Signature.
    #[error(
        "the Signature references {found:?} but is enclosed in the element with ID {expected:?}"
    )]
    ReferenceNotParent {
        /// The enclosing element's ID.
        expected: String,
        /// The referenced ID.
        found: String,
    },
    /// A cryptographic check failed: the digest or the signature value does not verify with
    /// any trusted key. Deliberately carries no detail.
    #[error("the signature does not verify with the trusted key(s)")]
    SignatureInvalid,
    /// No configured certificate may be used (expired, not yet valid, or key too small), or
    /// in fingerprint mode the KeyInfo certificate is missing or does not match.
    #[error("no usable IdP certificate: {reason}")]
    CertificateRejected {
        /// Why.
        reason: String,
    },
    /// The IdP reported a failure.
    #[error("the IdP returned status {code:?}{}{}", sub_code.as_deref().map(|s| format!(" / {s}")).unwrap_or_default(), message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    StatusNotSuccess {
        /// The top-level status code URI (empty when the Status is missing).
        code: String,
        /// The nested status code, if any.
        sub_code: Option<String>,
        /// The IdP's status message, if any (untrusted text).
        message: Option<String>,
    },
    /// The Response's Destination differs from the ACS URL.
    #[error("Destination {found:?} does not equal the ACS URL {expected:?}")]
    DestinationMismatch {
        /// The tenant's ACS URL.
        expected: String,
        /// The Destination found.
        found: String,
    },
    /// The Response's Destination attribute is present but empty.
    #[error("the Destination attribute is empty")]
    DestinationEmpty,
    /// An Issuer is missing where it is required.
    #[error("the {element} has no Issuer")]
    IssuerMissing {
        /// `Response` or `Assertion`.
        element: &'static str,
    },
    /// An Issuer differs from the tenant's IdP entity id.
    #[error("Issuer {found:?} does not equal the IdP entity id {expected:?}")]
    IssuerMismatch {
        /// The configured IdP entity id.
        expected: String,
        /// The Issuer found.
        found: String,
    },
    /// The assertion has no Conditions, or more than one.
    #[error("expected exactly one Conditions element, found {found}")]
    ConditionsMissing {
        /// How many were found.
        found: usize,
    },
    /// The assertion is not valid yet.
    #[error("the assertion is not valid before {not_before} (now {now}, skew {skew})")]
    ConditionsNotYetValid {
        /// Now, by the clock.
        now: OffsetDateTime,
        /// The NotBefore bound.
        not_before: OffsetDateTime,
        /// The allowed skew.
        skew: time::Duration,
    },
    /// The assertion has expired.
    #[error("the assertion expired at {not_on_or_after} (now {now}, skew {skew})")]
    ConditionsExpired {
        /// Now, by the clock.
        now: OffsetDateTime,
        /// The NotOnOrAfter bound.
        not_on_or_after: OffsetDateTime,
        /// The allowed skew.
        skew: time::Duration,
    },
    /// The IdP session named by the AuthnStatement has ended.
    #[error("the IdP session ended at {session_not_on_or_after} (now {now})")]
    SessionExpired {
        /// Now, by the clock.
        now: OffsetDateTime,
        /// The SessionNotOnOrAfter bound.
        session_not_on_or_after: OffsetDateTime,
    },
    /// A time attribute could not be read.
    #[error("{attribute} is not an xs:dateTime in UTC: {found:?}")]
    InvalidTime {
        /// Which attribute.
        attribute: &'static str,
        /// The text found.
        found: String,
    },
    /// The assertion is not addressed to this SP.
    #[error("no AudienceRestriction names the audience {expected:?} (found {found:?})")]
    AudienceMismatch {
        /// The SP's audience.
        expected: String,
        /// The audiences found.
        found: Vec<String>,
    },
    /// No bearer SubjectConfirmation satisfies the checks.
    #[error("no valid bearer SubjectConfirmation: {reason}")]
    SubjectConfirmationInvalid {
        /// Why the confirmations failed.
        reason: String,
    },
    /// InResponseTo does not match the request the app issued.
    #[error("InResponseTo {found:?} does not equal the request id {expected:?}")]
    InResponseToMismatch {
        /// The request id the app issued (empty when none: IdP-initiated).
        expected: String,
        /// The InResponseTo found (empty when absent).
        found: String,
    },
    /// The app gave no request id (IdP-initiated login) and the tenant does not allow it.
    #[error("the response answers no request of this app and IdP-initiated login is not allowed")]
    UnsolicitedResponse,
    /// The assertion has no AuthnStatement.
    #[error("the assertion has no AuthnStatement")]
    AuthnStatementMissing,
    /// The Subject has no NameID.
    #[error("the Subject has no NameID")]
    NameIdMissing,
    /// The NameID is empty.
    #[error("the NameID is empty")]
    NameIdEmpty,
    /// The NameID's SPNameQualifier names another SP.
    #[error("NameID SPNameQualifier {found:?} does not equal the SP entity id {expected:?}")]
    SpNameQualifierMismatch {
        /// The SP entity id.
        expected: String,
        /// The qualifier found.
        found: String,
    },
    /// Two Attribute elements carry the same Name.
    #[error("attribute {name:?} appears more than once")]
    DuplicateAttribute {
        /// The attribute name.
        name: String,
    },
    /// The assertion was already used.
    #[error("assertion {assertion_id:?} was already used")]
    Replay {
        /// The assertion ID.
        assertion_id: String,
    },
    /// The single-use store could not record the assertion; validation fails closed.
    #[error("the replay check's single-use store is unavailable: {0}")]
    ReplayStoreUnavailable(String),
}

impl SamlError {
    /// A stable snake_case name for the class of failure, for logs and tooling.
    pub fn class(&self) -> &'static str {
        match self {
            Self::Decode(_) => "decode",
            Self::DtdForbidden => "dtd_forbidden",
            Self::LimitExceeded { .. } => "limit_exceeded",
            Self::XmlMalformed { .. } => "xml_malformed",
            Self::Structure { .. } => "structure",
            Self::UnsupportedVersion { .. } => "unsupported_version",
            Self::MissingResponseId => "missing_response_id",
            Self::DuplicateId { .. } => "duplicate_id",
            Self::EncryptedAssertionUnsupported => "encrypted_assertion_unsupported",
            Self::EncryptedAttributeUnsupported => "encrypted_attribute_unsupported",
            Self::WrongAssertionCount { .. } => "wrong_assertion_count",
            Self::SignedElementInvalid { .. } => "signed_element_invalid",
            Self::DuplicateSignature { .. } => "duplicate_signature",
            Self::MissingSignature => "missing_signature",
            Self::AssertionSignatureRequired => "assertion_signature_required",
            Self::SignatureMalformed { .. } => "signature_malformed",
            Self::AlgorithmNotAllowed { .. } | Self::StrictProfileRefused { .. } => {
                "algorithm_not_allowed"
            }
            Self::TransformNotAllowed { .. } => "transform_not_allowed",
            Self::ReferenceUriInvalid { .. } => "reference_uri_invalid",
            Self::ReferenceNotParent { .. } => "reference_not_parent",
            Self::SignatureInvalid => "signature_invalid",
            Self::CertificateRejected { .. } => "certificate_rejected",
            Self::StatusNotSuccess { .. } => "status_not_success",
            Self::DestinationMismatch { .. } => "destination_mismatch",
            Self::DestinationEmpty => "destination_empty",
            Self::IssuerMissing { .. } => "issuer_missing",
            Self::IssuerMismatch { .. } => "issuer_mismatch",
            Self::ConditionsMissing { .. } => "conditions_missing",
            Self::ConditionsNotYetValid { .. } => "conditions_not_yet_valid",
            Self::ConditionsExpired { .. } => "conditions_expired",
            Self::SessionExpired { .. } => "session_expired",
            Self::InvalidTime { .. } => "invalid_time",
            Self::AudienceMismatch { .. } => "audience_mismatch",
            Self::SubjectConfirmationInvalid { .. } => "subject_confirmation_invalid",
            Self::InResponseToMismatch { .. } => "in_response_to_mismatch",
            Self::UnsolicitedResponse => "unsolicited_response",
            Self::AuthnStatementMissing => "authnstatement_missing",
            Self::NameIdMissing => "nameid_missing",
            Self::NameIdEmpty => "nameid_empty",
            Self::SpNameQualifierMismatch { .. } => "spnamequalifier_mismatch",
            Self::DuplicateAttribute { .. } => "duplicate_attribute",
            Self::Replay { .. } => "replay",
            Self::ReplayStoreUnavailable(_) => "replay_store_unavailable",
        }
    }
}

impl From<XmlError> for SamlError {
    fn from(e: XmlError) -> Self {
        match e {
            XmlError::Dtd => Self::DtdForbidden,
            XmlError::Limit { limit, max } => Self::LimitExceeded { limit, max },
            XmlError::Malformed { position, reason } => Self::XmlMalformed { position, reason },
        }
    }
}
