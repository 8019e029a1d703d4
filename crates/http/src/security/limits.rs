//! Per-request limits: the request timeout and the body limit of each route class.
//!
//! - [`timeout`]: the handler (reading the body included) must answer within
//!   `request_timeout_ms`, else 408 `REQUEST_TIMEOUT`. It wraps the service call only:
//!   a WebSocket upgrade answers 101 at once and the socket then lives outside it. A
//!   command the handler had already submitted may still be applied, which the message
//!   says (`client_order_id` makes the retry safe). tower-http's `TimeoutLayer` would do
//!   the same with an empty body; this answers in the error shape directly.
//! - [`body_limit`]: `admin_body_limit` under `/api/v1/admin/`, `body_limit` elsewhere
//!   (413 `PAYLOAD_TOO_LARGE`). tower-http's `RequestBodyLimitLayer` takes one fixed limit,
//!   so this does what it does (refuse by `Content-Length`, else cap the stream with
//!   `http_body_util::Limited`, which axum's extractors report as 413) with the limit of
//!   the request's class; axum's own default limit is turned off in the router so the
//!   larger class is not cut at 2 MiB.

use crate::error::{error_response, request_timeout};
use crate::state::SharedState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

/// Middleware: the request timeout.
pub async fn timeout(State(state): State<SharedState>, req: Request, next: Next) -> Response {
    let limit = state.http.settings.request_timeout();
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(res) => res,
        Err(_) => request_timeout(limit),
    }
}

/// Middleware: the body limit of the request's route class.
pub async fn body_limit(State(state): State<SharedState>, req: Request, next: Next) -> Response {
    let limit = state.http.settings.body_limit_for(req.uri().path());
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return too_large(limit);
    }
    let req = req.map(|b| Body::new(http_body_util::Limited::new(b, limit)));
    next.run(req).await
}

pub fn too_large(limit: usize) -> Response {
    error_response(
        StatusCode::PAYLOAD_TOO_LARGE,
        "PAYLOAD_TOO_LARGE",
        &format!("the body exceeds {limit} bytes"),
    )
}
