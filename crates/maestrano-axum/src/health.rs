//! The health report as an axum route, for a readiness probe.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use maestrano::health::{HealthCheck, HealthStatus};

/// A router serving `check`'s [`HealthReport`](maestrano::health::HealthReport) as JSON at
/// `path` (GET and HEAD): 200 while the instance serves any tenant (`ok` or `degraded`, the
/// problems listed, a tenant that cannot serve logins among them), 503 only when no tenant
/// can (`failing`), so that a probe never takes the instance away from the tenants it still
/// serves. Never cached.
///
/// The report lists the marketplaces the app serves and what is wrong with each: mount it on
/// the listener the probe and the operators reach, not on the public one (the public routes
/// answer alike for every marketplace so that a scanner cannot list them).
///
/// ```no_run
/// # async fn demo(registry: maestrano::Registry) -> std::io::Result<()> {
/// use maestrano::health::HealthCheck;
///
/// let admin: axum::Router = maestrano_axum::health_router("/healthz", HealthCheck::new(registry));
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:9090").await?;
/// axum::serve(listener, admin).await
/// # }
/// ```
pub fn health_router<S: Clone + Send + Sync + 'static>(
    path: &str,
    check: HealthCheck,
) -> axum::Router<S> {
    axum::Router::new().route(
        path,
        axum::routing::get(move || {
            let check = check.clone();
            async move { answer(&check).await }
        }),
    )
}

async fn answer(check: &HealthCheck) -> Response {
    let report = check.report().await;
    let status = if report.status == HealthStatus::Failing {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (
        status,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        report.to_json(),
    )
        .into_response()
}
