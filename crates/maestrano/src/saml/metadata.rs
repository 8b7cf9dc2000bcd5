//! SP metadata: what an IdP needs to know about the application for one tenant.

use base64::Engine as _;

use super::authn_request::BINDING_HTTP_POST;
use super::cert::Certificate;
use super::xml::escape as esc;

const METADATA_NS: &str = "urn:oasis:names:tc:SAML:2.0:metadata";

/// What goes into SP metadata.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SpMetadata {
    /// The SP's entity id.
    pub entity_id: String,
    /// The ACS URL (HTTP-POST binding).
    pub acs_url: String,
    /// The NameID format the SP asks for.
    pub name_id_format: Option<String>,
    /// The SP's signing certificate, when it signs its requests.
    pub signing_certificate: Option<Certificate>,
    /// Whether the SP signs its AuthnRequests.
    pub authn_requests_signed: bool,
    /// Whether the SP requires the Assertion itself to be signed.
    pub want_assertions_signed: bool,
}

impl SpMetadata {
    /// The `md:EntityDescriptor` XML.
    pub fn to_xml(&self) -> String {
        let mut x = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<md:EntityDescriptor xmlns:md=\"{METADATA_NS}\" \
             xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" entityID=\"{}\">\
             <md:SPSSODescriptor AuthnRequestsSigned=\"{}\" WantAssertionsSigned=\"{}\" \
             protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">",
            esc(&self.entity_id),
            self.authn_requests_signed,
            self.want_assertions_signed,
        );
        if let Some(cert) = &self.signing_certificate {
            x.push_str(&format!(
                "<md:KeyDescriptor use=\"signing\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}\
                 </ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>",
                base64::engine::general_purpose::STANDARD.encode(cert.der())
            ));
        }
        if let Some(f) = &self.name_id_format {
            x.push_str(&format!("<md:NameIDFormat>{}</md:NameIDFormat>", esc(f)));
        }
        x.push_str(&format!(
            "<md:AssertionConsumerService Binding=\"{BINDING_HTTP_POST}\" Location=\"{}\" index=\"0\" \
             isDefault=\"true\"/></md:SPSSODescriptor></md:EntityDescriptor>",
            esc(&self.acs_url)
        ));
        x
    }
}
