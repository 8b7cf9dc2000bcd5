//! The marketplace simulator, tested by itself over real HTTP on loopback, through the SDK's
//! public API where it exists: autoconfigure, SAML login, the session check, the account API,
//! Connec!, the webhook sender against a small axum app, and fault injection.
#![cfg(feature = "simulator")]

mod simulator {
    pub mod support;

    mod account;
    mod connec;
    mod devplatform;
    mod faults;
    mod sso;
    mod webhooks;
}
