//! Single sign-on for a tenant: the two routes an application serves ([`SsoFlow`]: the
//! redirect to the tenant's IdP, then the POSTed response validated, mapped to user, group and
//! membership, and handed to the app's [`LoginHandler`]), and the Maestrano session kept
//! after a login and re-checked with the platform ([`SsoSession`]).
//!
//! This is where a tenant's configuration meets the SAML protocol of [`crate::saml`]: the
//! tenant's SP settings, AuthnRequest and SP metadata are built here from its
//! configuration ([`sp_settings`], [`authn_request`], [`sp_metadata`]).

mod flow;
mod session;
mod tenant;

pub use flow::{
    CompletedLogin, DEFAULT_PENDING_PER_CLIENT, DEFAULT_PENDING_PER_TENANT, LoginHandler, SsoFlow,
    SsoFlowBuilder, SsoFlowError,
};
pub use session::{SessionError, SessionStatus, SsoSession};
pub use tenant::{
    authn_request, response_validator, saml_policy, sp_entity_id, sp_metadata, sp_settings,
};
