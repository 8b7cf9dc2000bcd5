//! The REST plumbing under the account API client and the Connec! client: request building
//! (base URLs, Basic authentication, URIs), body limits and excerpts for error messages, and
//! the retry policy. Neither client reaches into the other; both stand on this layer.

mod error;
pub(crate) mod retry;
pub(crate) mod wire;

pub use error::RestError;
pub use retry::RetryPolicy;
