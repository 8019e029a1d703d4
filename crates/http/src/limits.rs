//! The rate limits of the HTTP API (the limiter and its rules: `bourse_gateway::limits`):
//! the middleware that charges each `/api/` request to its caller, the 429 answer, and
//! the 429 entry of every operation in the OpenAPI document.

use crate::auth::AuthUser;
use crate::error::{ApiError, Error, Kind};
use crate::state::SharedState;
use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bourse_gateway::limits::Key;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

fn is_auth_path(path: &str) -> bool {
    matches!(path, "/api/v1/auth/login" | "/api/v1/auth/register")
}

/// Middleware: runs after `auth::extract::middleware` (which puts the [`AuthUser`] into
/// the request extensions) and before the handler.
pub async fn middleware(State(state): State<SharedState>, req: Request, next: Next) -> Response {
    let config = &state.config.limits;
    let path = req.uri().path();
    if !config.enabled || !path.starts_with("/api/") {
        return next.run(req).await;
    }
    let ip = crate::auth::client_ip(req.extensions()).unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    // Login and register are charged to the per-IP `auth` quota whoever calls them: a
    // token in hand must not turn password guessing into the caller's per-user quota.
    let (key, quota) = match req.extensions().get::<AuthUser>() {
        _ if is_auth_path(path) => (Key::AuthIp(ip), config.auth),
        Some(user) => (Key::User(user.id.0), config.for_user(user)),
        None => (Key::Ip(ip), config.anonymous),
    };
    match state.limiter.check(key, quota) {
        Ok(()) => next.run(req).await,
        Err(wait) => rate_limited(wait),
    }
}

/// 429 in the error shape with `Retry-After` (whole seconds, at least 1).
pub fn rate_limited(wait: Duration) -> Response {
    let secs = crate::error::retry_after_secs(wait);
    let mut res = ApiError(Error::Invalid {
        kind: Kind::TooManyRequests,
        code: "RATE_LIMITED",
        message: format!("too many requests; retry in {secs} s"),
    })
    .into_response();
    res.headers_mut()
        .insert("retry-after", HeaderValue::from(secs));
    res
}

/// Adds the 429 response to every `/api/` operation of the OpenAPI document: every one
/// of them can be rate limited, and a client (or schemathesis) should know it.
pub fn document_rate_limits(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{HeaderBuilder, ObjectBuilder, Ref, ResponseBuilder, Type};
    let response = ResponseBuilder::new()
        .description("`RATE_LIMITED`: too many requests; wait `Retry-After` seconds")
        .header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(ObjectBuilder::new().schema_type(Type::Integer))
                .description(Some("Seconds to wait before retrying"))
                .build(),
        )
        .content(
            "application/json",
            utoipa::openapi::ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorResponse")))
                .build(),
        )
        .build();
    for (path, item) in doc.paths.paths.iter_mut() {
        if !path.starts_with("/api/") {
            continue;
        }
        for op in [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
        {
            op.responses
                .responses
                .entry("429".into())
                .or_insert_with(|| response.clone().into());
        }
    }
}
