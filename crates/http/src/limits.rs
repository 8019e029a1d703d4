//! The rate limits of the HTTP API (the limiter and its rules: `bourse_gateway::limits`):
//! the two middlewares that charge each `/api/` request, the `RateLimit-*` headers, the
//! 429 answer, and their entries in the OpenAPI document.
//!
//! Order of the layers (outermost first): [`before_auth`] charges a request that carries
//! a credential to its IP's `unverified` bucket, **before** `crate::auth::middleware`
//! checks the credential; then [`after_auth`] charges the route's weight to the verified
//! user's bucket (the tier's), or to the IP's `anonymous` bucket, or (login, register) to
//! the IP's `auth` bucket, and puts the headers on the response.
//!
//! Headers (the IETF draft's three-header form; every response of a limited route, the
//! numbers of the bucket that request was charged to):
//! - `RateLimit-Limit`: the bucket's size (the quota's `burst`, in weight units);
//! - `RateLimit-Remaining`: units left after this request;
//! - `RateLimit-Reset`: seconds until the bucket is full again;
//! - and on a 429, `Retry-After`: seconds until this request would pass.
//!
//! The client IP is [`client_ip`], the one place that decides it.

use crate::auth::{credential_failed, AuthUser};
use crate::error::ApiError;
use crate::state::SharedState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{Extensions, HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bourse_gateway::error::{retry_secs, Error};
use bourse_gateway::limits::{Class, Decision, Key, LimitsConfig};
use std::net::IpAddr;

/// Which address a request comes from, after the trusted-proxy rules
/// (`crate::security::proxy`): the one lookup every limit keyed by IP uses (HTTP and
/// WebSocket).
pub fn client_ip(extensions: &Extensions) -> IpAddr {
    crate::security::proxy::client_ip(extensions)
}

fn is_auth_path(path: &str) -> bool {
    matches!(path, "/api/v1/auth/login" | "/api/v1/auth/register")
}

fn limited(state: &SharedState, req: &Request) -> bool {
    state.limiter.enabled() && req.uri().path().starts_with("/api/")
}

fn carries_credential(headers: &HeaderMap) -> bool {
    headers.contains_key(axum::http::header::AUTHORIZATION) || headers.contains_key("x-api-key")
}

/// Middleware outside the auth layer: a request with a credential costs its IP 1 unit
/// of `unverified` before the credential is looked at.
pub async fn before_auth(State(state): State<SharedState>, req: Request, next: Next) -> Response {
    if !limited(&state, &req) || !carries_credential(req.headers()) {
        return next.run(req).await;
    }
    let ip = Key::ip(client_ip(req.extensions()));
    match state.limiter.check(Class::Unverified, ip, 1).await {
        Err(e) => ApiError(e).into_response(),
        Ok(Some(d)) if !d.allowed => rate_limited(&d),
        Ok(_) => next.run(req).await,
    }
}

/// Middleware inside the auth layer: charges the route's weight to the caller's bucket
/// and puts the `RateLimit-*` headers on the answer.
pub async fn after_auth(State(state): State<SharedState>, req: Request, next: Next) -> Response {
    if !limited(&state, &req) {
        return next.run(req).await;
    }
    let limiter = &state.limiter;
    let ip = Key::ip(client_ip(req.extensions()));
    let path = req.uri().path();
    let template = req
        .extensions()
        .get::<MatchedPath>()
        .map_or(path, |m| m.as_str());
    let weight = limiter.weight(req.method().as_str(), template);
    if credential_failed(req.extensions()) {
        // A wrong credential costs its IP extra: guessing keys runs out of budget fast.
        if let Err(e) = limiter
            .penalize(Class::Unverified, ip, limiter.config().failed_auth_weight)
            .await
        {
            return ApiError(e).into_response();
        }
    }
    let (class, key) = if is_auth_path(path) {
        (Class::Auth, ip)
    } else if let Some(user) = req.extensions().get::<AuthUser>() {
        (LimitsConfig::class_of(user), Key::user(user.id))
    } else {
        (Class::Anonymous, ip)
    };
    match limiter.check(class, key, weight).await {
        Err(e) => ApiError(e).into_response(),
        Ok(None) => next.run(req).await,
        Ok(Some(d)) if !d.allowed => rate_limited(&d),
        Ok(Some(d)) => {
            let mut res = next.run(req).await;
            set_headers(res.headers_mut(), &d);
            res
        }
    }
}

fn set_headers(h: &mut HeaderMap, d: &Decision) {
    let reset = if d.reset.is_zero() {
        0
    } else {
        retry_secs(d.reset)
    };
    h.insert("ratelimit-limit", HeaderValue::from(d.limit));
    h.insert("ratelimit-remaining", HeaderValue::from(d.remaining));
    h.insert("ratelimit-reset", HeaderValue::from(reset));
}

/// 429 `RATE_LIMITED` in the error shape, with `Retry-After` and the bucket's headers.
pub fn rate_limited(d: &Decision) -> Response {
    let mut res = ApiError(Error::rate_limited("RATE_LIMITED", d.retry_after)).into_response();
    set_headers(res.headers_mut(), d);
    res
}

/// Adds the 429 response to every `/api/` operation of the OpenAPI document, and the
/// `RateLimit-*` headers to each of its responses: every one of them can be rate
/// limited, and a client (or schemathesis) should know it.
pub fn document_rate_limits(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{
        Header, HeaderBuilder, ObjectBuilder, Ref, RefOr, ResponseBuilder, Type,
    };
    let int = |what: &str| -> Header {
        HeaderBuilder::new()
            .schema(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(0)),
            )
            .description(Some(what))
            .build()
    };
    let headers: [(&str, Header); 3] = [
        (
            "RateLimit-Limit",
            int("Size of the caller's bucket in weight units (sent when rate limits are on)"),
        ),
        (
            "RateLimit-Remaining",
            int("Weight units left after this request"),
        ),
        (
            "RateLimit-Reset",
            int("Seconds until the bucket is full again"),
        ),
    ];
    let mut too_many = ResponseBuilder::new()
        .description(
            "`RATE_LIMITED` (request budget) or `ORDER_RATE_LIMITED` (order rate): too many \
             requests; wait `Retry-After` seconds",
        )
        .header("Retry-After", int("Seconds to wait before retrying"))
        .content(
            "application/json",
            utoipa::openapi::ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorResponse")))
                .build(),
        );
    for (name, h) in &headers {
        too_many = too_many.header(*name, h.clone());
    }
    let too_many = too_many.build();
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
            let responses = &mut op.responses.responses;
            responses
                .entry("429".into())
                .or_insert_with(|| too_many.clone().into());
            for r in responses.values_mut() {
                if let RefOr::T(r) = r {
                    for (name, h) in &headers {
                        r.headers.entry((*name).into()).or_insert_with(|| h.clone());
                    }
                }
            }
        }
    }
}
