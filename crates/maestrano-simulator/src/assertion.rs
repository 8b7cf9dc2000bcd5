//! The IdP's SAML Response: the Maestrano shape, with the Assertion signed RSA-SHA256 over
//! exclusive canonicalization.

use time::OffsetDateTime;

use maestrano::__private::format_utc;
use maestrano::__private::xml_escape as esc;
use maestrano::__private::{ASSERTION_NS, PROTOCOL_NS, sign_enveloped};
use maestrano::saml::{Certificate, SamlError, SigningKey};

const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const PASSWORD_PROTECTED: &str =
    "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport";
const ATTRNAME_BASIC: &str = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic";
const PERSISTENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";

/// Everything one Response says.
#[derive(Debug, Clone)]
pub(crate) struct ResponseSpec {
    pub(crate) response_id: String,
    pub(crate) assertion_id: String,
    pub(crate) session_index: String,
    pub(crate) issuer: String,
    pub(crate) destination: String,
    pub(crate) in_response_to: String,
    pub(crate) audience: String,
    pub(crate) name_id: String,
    pub(crate) name_id_format: Option<String>,
    pub(crate) now: OffsetDateTime,
    pub(crate) not_on_or_after: OffsetDateTime,
    pub(crate) session_not_on_or_after: OffsetDateTime,
    pub(crate) attributes: Vec<(&'static str, String)>,
}

impl ResponseSpec {
    /// The unsigned XML.
    pub(crate) fn to_xml(&self) -> String {
        let now = format_utc(self.now);
        let noa = format_utc(self.not_on_or_after);
        let attributes: String = self
            .attributes
            .iter()
            .map(|(name, value)| {
                format!(
                    "<saml:Attribute Name=\"{}\" NameFormat=\"{ATTRNAME_BASIC}\">\
                     <saml:AttributeValue xsi:type=\"xs:string\">{}</saml:AttributeValue>\
                     </saml:Attribute>",
                    esc(name),
                    esc(value)
                )
            })
            .collect();
        format!(
            "<samlp:Response xmlns:samlp=\"{PROTOCOL_NS}\" xmlns:saml=\"{ASSERTION_NS}\" \
             ID=\"{rid}\" Version=\"2.0\" IssueInstant=\"{now}\" Destination=\"{dest}\" \
             InResponseTo=\"{irt}\">\
             <saml:Issuer>{iss}</saml:Issuer>\
             <samlp:Status><samlp:StatusCode Value=\"{SUCCESS}\"/></samlp:Status>\
             <saml:Assertion xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" \
             xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" ID=\"{aid}\" Version=\"2.0\" \
             IssueInstant=\"{now}\">\
             <saml:Issuer>{iss}</saml:Issuer>\
             <saml:Subject><saml:NameID Format=\"{fmt}\">{nid}</saml:NameID>\
             <saml:SubjectConfirmation Method=\"{BEARER}\">\
             <saml:SubjectConfirmationData InResponseTo=\"{irt}\" NotOnOrAfter=\"{noa}\" \
             Recipient=\"{dest}\"/></saml:SubjectConfirmation></saml:Subject>\
             <saml:Conditions NotBefore=\"{now}\" NotOnOrAfter=\"{noa}\">\
             <saml:AudienceRestriction><saml:Audience>{aud}</saml:Audience>\
             </saml:AudienceRestriction></saml:Conditions>\
             <saml:AuthnStatement AuthnInstant=\"{now}\" SessionIndex=\"{sid}\" \
             SessionNotOnOrAfter=\"{snoa}\"><saml:AuthnContext>\
             <saml:AuthnContextClassRef>{PASSWORD_PROTECTED}</saml:AuthnContextClassRef>\
             </saml:AuthnContext></saml:AuthnStatement>\
             <saml:AttributeStatement>{attributes}</saml:AttributeStatement>\
             </saml:Assertion></samlp:Response>",
            rid = esc(&self.response_id),
            aid = esc(&self.assertion_id),
            dest = esc(&self.destination),
            irt = esc(&self.in_response_to),
            iss = esc(&self.issuer),
            fmt = esc(self.name_id_format.as_deref().unwrap_or(PERSISTENT)),
            nid = esc(&self.name_id),
            aud = esc(&self.audience),
            sid = esc(&self.session_index),
            snoa = format_utc(self.session_not_on_or_after),
        )
    }

    /// The XML with its Assertion signed (the certificate in KeyInfo).
    pub(crate) fn signed(
        &self,
        key: &SigningKey,
        certificate: &Certificate,
    ) -> Result<String, SamlError> {
        sign_enveloped(&self.to_xml(), &self.assertion_id, key, Some(certificate))
    }
}

/// The auto-submitting form that POSTs `SAMLResponse` and `RelayState` to the ACS.
pub(crate) fn auto_submit_form(
    acs: &str,
    saml_response_b64: &str,
    relay_state: Option<&str>,
) -> String {
    use super::wire::escape_html as e;
    let relay = relay_state
        .map(|r| {
            format!(
                "<input type=\"hidden\" name=\"RelayState\" value=\"{}\"/>",
                e(r)
            )
        })
        .unwrap_or_default();
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Signing in</title></head>\
         <body onload=\"document.forms[0].submit()\">\
         <form method=\"post\" action=\"{action}\">\
         <input type=\"hidden\" name=\"SAMLResponse\" value=\"{resp}\"/>{relay}\
         <noscript><p>JavaScript is off: press the button to continue.</p>\
         <button type=\"submit\">Continue</button></noscript></form></body></html>\n",
        action = e(acs),
        resp = e(saml_response_b64),
    )
}
