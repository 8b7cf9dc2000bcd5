//! The REST plumbing under the account API client and the Connec! client: request building
//! (base URLs, Basic authentication, URIs), body limits and excerpts for error messages, and
//! the retry policy. Neither client reaches into the other; both stand on this layer.

mod bulkhead;
mod error;
pub(crate) mod retry;
pub(crate) mod wire;

pub use bulkhead::{
    ApiService, Bulkhead, BulkheadOptions, BulkheadState, DEFAULT_FAILURE_THRESHOLD,
    DEFAULT_MAX_IN_FLIGHT, DEFAULT_MAX_OPEN_FOR, DEFAULT_OPEN_FOR,
};
pub use error::RestError;
pub use retry::RetryPolicy;
