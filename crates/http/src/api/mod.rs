//! The HTTP API. One module per area, each with its own `router()`; [`router`] merges
//! them and adds the cross-cutting layers (`crate::security`, error shape, auth, limits).
//!
//! To add an area: create `api/<area>.rs` with `pub fn router() ->
//! OpenApiRouter<SharedState>` registering each handler with `routes!(…)` (utoipa-axum:
//! a handler is served at the path of its `#[utoipa::path]` and is in the document by
//! construction, so an undocumented API route cannot exist), add it to [`documented`],
//! return `ApiResult<_>` from handlers, take bodies as `ApiJson<T>` with
//! `#[serde(deny_unknown_fields)]`, and authenticate with the `AuthUser` / `AdminUser`
//! extractors.

pub mod admin;
pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod balances;
pub mod health;
pub mod markets;
pub mod notifications;
pub mod orders;
pub mod reports;
pub mod users;

use crate::error::json_errors;
use crate::security::{self, headers::SecurityHeaders, host::TrustedHosts, IpRange};
use crate::state::SharedState;
use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::Router;
use std::sync::Arc;
use tower_http::trace::TraceLayer;
use utoipa_axum::router::OpenApiRouter;

/// Every documented route (REST v1 and operations) with its part of the OpenAPI document.
pub fn documented() -> OpenApiRouter<SharedState> {
    // /metrics is in the document whether or not it is served (`crate::metrics::mount`).
    let metrics_doc = crate::metrics::router().into_openapi();
    OpenApiRouter::with_openapi(crate::openapi::base().merge_from(metrics_doc))
        .merge(health::router())
        .merge(auth::router())
        .merge(markets::router())
        .merge(orders::router())
        .merge(balances::router())
        .merge(admin::router())
        .merge(audit::router())
        .merge(api_keys::router())
        .merge(users::router())
        .merge(reports::router())
        .merge(notifications::router())
        .merge(crate::monitoring::api::router())
}

/// The whole OpenAPI document, as `GET /openapi.json` serves it.
pub fn document() -> utoipa::openapi::OpenApi {
    let (_, doc) = documented().split_for_parts();
    crate::openapi::finish(doc)
}

/// The whole application router, with its layers (outermost first): tracing, the
/// security headers (so every answer below carries them), the trusted Host check (421),
/// the client address, CORS, the panic guard, the error shape, the audit origin scope
/// (`crate::audit`), the request timeout, the body limit of the route class,
/// authentication, then the rate limit keyed by its verdict.
pub fn router(state: SharedState) -> Router {
    let settings = &state.http.settings;
    let security_headers = Arc::new(SecurityHeaders::new(
        settings.headers,
        settings.tls.is_some() || settings.hsts,
    ));
    let hosts = Arc::new(TrustedHosts::new(
        &state.http.listen,
        state.http.bound,
        &settings.trusted_hosts,
    ));
    let proxies: Arc<[IpRange]> = settings.trusted_proxies.clone().into();
    let request_limits = Arc::new(settings.clone());
    let origins: Arc<[String]> = settings.cors_origins.clone().into();
    let cors = security::cors::layer(&settings.cors_origins);
    let (api, doc) = documented().split_for_parts();
    let mut app = Router::new()
        .merge(api)
        .merge(crate::ws::router())
        // Serves /docs (vendored assets: works offline) and /openapi.json.
        .merge(
            utoipa_swagger_ui::SwaggerUi::new("/docs")
                .url("/openapi.json", crate::openapi::finish(doc)),
        )
        .fallback(crate::web::fallback)
        // Outermost first: the IP is charged for a credential before it is checked
        // (`before_auth`), then authentication, then the caller's own budget by the
        // route's weight (`after_auth`, keyed by the verdict).
        .layer(from_fn_with_state(state.clone(), crate::limits::after_auth))
        .layer(from_fn_with_state(state.clone(), crate::auth::middleware))
        .layer(from_fn_with_state(
            state.clone(),
            crate::limits::before_auth,
        ))
        .layer(from_fn_with_state(
            request_limits.clone(),
            security::limits::body_limit,
        ))
        // The body limit above is the only one: axum's default (2 MiB) would cut the
        // larger class.
        .layer(DefaultBodyLimit::disable())
        .layer(from_fn_with_state(
            request_limits,
            security::limits::timeout,
        ))
        // Outside the limits and authentication, so their refusals are recorded; inside
        // the client-address and request-id layers, whose results it records.
        .layer(from_fn_with_state(state.clone(), crate::audit::middleware))
        .layer(axum::middleware::from_fn(json_errors));
    app = crate::server::catch_panics(app);
    if let Some(cors) = cors {
        app = app
            .layer(cors)
            .layer(from_fn_with_state(origins, security::cors::strip_refused));
    }
    app.layer(from_fn_with_state(proxies, security::proxy::middleware))
        .layer(from_fn_with_state(hosts, security::host::middleware))
        .layer(from_fn_with_state(
            security_headers,
            security::headers::middleware,
        ))
        .layer(TraceLayer::new_for_http())
        // Outermost: every answer, early ones included, carries the id.
        .layer(axum::middleware::from_fn(
            crate::monitoring::request_id::middleware,
        ))
        .with_state(state)
}
