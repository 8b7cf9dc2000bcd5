//! Real adapters for the [ports](crate::ports), each behind its own feature.
//!
//! | adapter | port | feature |
//! | --- | --- | --- |
//! | [`ReqwestHttpClient`] | [`HttpClient`](crate::ports::HttpClient) | `reqwest` |

#[cfg(feature = "reqwest")]
mod reqwest;

#[cfg(feature = "reqwest")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
pub use self::reqwest::{ReqwestHttpClient, ReqwestHttpClientBuilder};
