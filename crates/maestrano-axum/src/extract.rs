//! [`CurrentTenant`]: the tenant a request addresses, as an axum extractor.

use axum::extract::{FromRequestParts, RawPathParams};
use http::request::Parts;
use maestrano::routes::MatchError;
use maestrano::{MarketplaceKey, Tenant};

use crate::error::ErrorResponse;
use crate::service::Maestrano;

/// The tenant named by the `:marketplace` parameter of the app's own route (such as
/// `/app/{marketplace}/dashboard`), from the registry of the [`Maestrano`] layer in front of
/// the route. Refused with 404 when the marketplace is malformed or not served, and 500 when
/// no [`Maestrano`] layer is mounted.
///
/// ```no_run
/// use axum::routing::get;
/// use maestrano_axum::CurrentTenant;
///
/// async fn dashboard(CurrentTenant(tenant): CurrentTenant) -> String {
///     format!("welcome to {}", tenant.marketplace())
/// }
///
/// # fn doc(maestrano: maestrano_axum::Maestrano) {
/// let app: axum::Router = axum::Router::new()
///     .route("/app/{marketplace}/dashboard", get(dashboard))
///     .layer(maestrano.layer());
/// # let _ = app;
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct CurrentTenant(pub Tenant);

impl<S: Send + Sync> FromRequestParts<S> for CurrentTenant {
    type Rejection = ErrorResponse;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ErrorResponse> {
        let Some(maestrano) = parts.extensions.get::<Maestrano>().cloned() else {
            tracing::error!("CurrentTenant used on a route without the Maestrano layer");
            return Err(ErrorResponse::from(maestrano::sso::SsoFlowError::Handler(
                "no Maestrano layer in front of this route".into(),
            )));
        };
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| ErrorResponse::from(MatchError::NotFound))?;
        let key = params
            .iter()
            .find(|(name, _)| *name == "marketplace")
            .map(|(_, value)| value)
            .ok_or_else(|| ErrorResponse::from(MatchError::NotFound))?;
        let key =
            MarketplaceKey::new(key).map_err(|_| ErrorResponse::from(MatchError::NotFound))?;
        maestrano
            .registry()
            .with(&key)
            .map(CurrentTenant)
            .map_err(ErrorResponse::from)
    }
}
