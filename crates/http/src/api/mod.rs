//! The HTTP API. One module per area, each with its own `router()`; [`router`] merges
//! them and adds the cross-cutting layers (error shape, body limit, CORS, tracing).
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
pub mod auth;
pub mod balances;
pub mod health;
pub mod markets;
pub mod notifications;
pub mod orders;
pub mod users;

use crate::error::json_errors;
use crate::state::SharedState;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Method};
use axum::Router;
use tower_http::cors::{AllowOrigin, Any, CorsLayer};
use tower_http::trace::TraceLayer;
use utoipa_axum::router::OpenApiRouter;

/// Every documented route (REST v1 and operations) with its part of the OpenAPI document.
pub fn documented() -> OpenApiRouter<SharedState> {
    OpenApiRouter::with_openapi(crate::openapi::base())
        .merge(health::router())
        .merge(auth::router())
        .merge(markets::router())
        .merge(orders::router())
        .merge(balances::router())
        .merge(admin::router())
        .merge(api_keys::router())
        .merge(users::router())
        .merge(notifications::router())
}

/// The whole OpenAPI document, as `GET /openapi.json` serves it.
pub fn document() -> utoipa::openapi::OpenApi {
    let (_, doc) = documented().split_for_parts();
    crate::openapi::finish(doc)
}

/// The whole application router.
pub fn router(state: SharedState) -> Router {
    let body_limit = state.http.body_limit;
    let cors = cors_layer(&state.http.cors_origins);
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
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::limits::after_auth,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::auth::middleware,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::limits::before_auth,
        ))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(body_limit))
        .layer(axum::middleware::from_fn(json_errors))
        .layer(TraceLayer::new_for_http());
    if let Some(cors) = cors {
        app = app.layer(cors);
    }
    app.with_state(state)
}

fn cors_layer(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let layer = CorsLayer::new()
        .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
        .allow_headers(Any);
    Some(if origins.iter().any(|o| o == "*") {
        layer.allow_origin(Any)
    } else {
        let list: Vec<HeaderValue> = origins.iter().filter_map(|o| o.parse().ok()).collect();
        layer.allow_origin(AllowOrigin::list(list))
    })
}
