//! What a test needs to know about a running simulated marketplace.

use url::Url;

use maestrano::config::MarketplaceConfig;
use maestrano::saml::Certificate;
use maestrano::{ApiId, ApiKey, MarketplaceKey};

/// A running simulated marketplace: where it listens and the credentials it issued.
///
/// Its `Debug` output redacts the API key.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct MarketplaceInfo {
    /// The marketplace key.
    pub key: MarketplaceKey,
    /// `http://127.0.0.1:{port}`: the IdP (`sso.idp`), the account API (`api.host`) and
    /// Connec! (`connec.host`) of this marketplace, all on this one port.
    pub base_url: Url,
    /// The port of [`base_url`](Self::base_url).
    pub port: u16,
    /// The application's id on this marketplace (`api.id`, also the SP entity id).
    pub api_id: ApiId,
    /// The application's key on this marketplace (`api.key`).
    pub api_key: ApiKey,
    /// The IdP's self-signed certificate (RSA-2048), generated at start.
    pub certificate: Certificate,
    /// The IdP's entity id, the Issuer of its responses: `sso.idp` as served.
    pub idp_entity_id: String,
    /// The marketplace's configuration as the developer platform serves it, read by the SDK's
    /// own parser.
    pub config: MarketplaceConfig,
}

impl MarketplaceInfo {
    /// The IdP's SSO endpoint: `{base_url}/api/v1/auth/saml`.
    pub fn idp_sso_url(&self) -> Url {
        self.join("/api/v1/auth/saml")
    }

    /// The account API's base: `{base_url}/api/v1/account/`.
    pub fn account_api_url(&self) -> Url {
        self.join("/api/v1/account/")
    }

    /// The Connec! API's base: `{base_url}/api/v2/`.
    pub fn connec_api_url(&self) -> Url {
        self.join("/api/v2/")
    }

    fn join(&self, path: &str) -> Url {
        let mut url = self.base_url.clone();
        url.set_path(path);
        url
    }
}
