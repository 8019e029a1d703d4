//! Who is calling, over HTTP: [`middleware`] checks the credential a request carries
//! (bearer token or signed request) once, before routing to the handler, and leaves the
//! result in the request extensions; [`AuthUser`] (any signed-in caller) and
//! [`AdminUser`] (role `admin`) read it. The middleware, not an extractor, verifies
//! signatures because the signature covers the body: it buffers the body (bounded by
//! the body limit of its route class) and hands the handler an identical copy, so handlers still take
//! `ApiJson<T>`. The checks themselves (and their rules) are the gateway's
//! (`bourse_gateway::auth`).

use crate::error::{ApiError, Error, Kind};
use crate::state::SharedState;
use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bourse_gateway::auth::api_key::signing_payload;
use bourse_gateway::auth::{Caller, Signature};
use std::borrow::Cow;

/// The authenticated caller (the gateway's [`Caller`]), as a handler argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthUser(pub Caller);

impl std::ops::Deref for AuthUser {
    type Target = Caller;
    fn deref(&self) -> &Caller {
        &self.0
    }
}

/// An authenticated caller with role `admin`.
#[derive(Debug, Clone, Copy)]
pub struct AdminUser(pub AuthUser);

/// A credential that was presented and refused (kept for the extractors: a public route
/// serves the request anyway).
#[derive(Debug, Clone)]
struct AuthFailure {
    code: &'static str,
    message: Cow<'static, str>,
}

/// The bearer token of `Authorization`, if that header is present. `Some(Err)` when the
/// header is not `Bearer <token>`.
pub fn bearer(headers: &HeaderMap) -> Option<Result<&str, Error>> {
    let h = headers.get(AUTHORIZATION)?;
    Some(
        h.to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                Error::unauthorized("UNAUTHORIZED", "expected `Authorization: Bearer <token>`")
            }),
    )
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<&'a str, Error> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            Error::unauthorized(
                "UNAUTHORIZED",
                "a signed request needs X-API-KEY, X-API-TIMESTAMP and X-API-SIGNATURE",
            )
        })
}

/// Checks a signed request whose body has been read into `body`.
pub async fn authenticate_signed(
    state: &SharedState,
    headers: &HeaderMap,
    method: &str,
    path_and_query: &str,
    body: &[u8],
) -> Result<Caller, Error> {
    let sig = Signature {
        key_id: header(headers, "x-api-key")?,
        timestamp: header(headers, "x-api-timestamp")?,
        signature: header(headers, "x-api-signature")?,
    };
    let payload = signing_payload(sig.timestamp, method, path_and_query, body);
    state.authenticate_signed(sig, &payload).await
}

/// Middleware (outermost of the API's own layers): authenticates whatever credential
/// the request carries and records the outcome in its extensions. Infrastructure errors
/// (sequencer stopped) and an oversized signed body are answered at once.
pub async fn middleware(State(state): State<SharedState>, req: Request, next: Next) -> Response {
    let (req, outcome) = if req.headers().contains_key("x-api-key") {
        let (parts, body) = req.into_parts();
        let limit = state.http.body_limit_for(parts.uri.path());
        let bytes = match axum::body::to_bytes(body, limit).await {
            Ok(b) => b,
            Err(_) => {
                return ApiError(Error::Invalid {
                    kind: Kind::PayloadTooLarge,
                    code: "PAYLOAD_TOO_LARGE",
                    message: format!("the body exceeds {limit} bytes"),
                })
                .into_response()
            }
        };
        let pq = parts
            .uri
            .path_and_query()
            .map_or_else(|| parts.uri.path(), |pq| pq.as_str());
        let outcome =
            authenticate_signed(&state, &parts.headers, parts.method.as_str(), pq, &bytes).await;
        (Request::from_parts(parts, Body::from(bytes)), Some(outcome))
    } else {
        let outcome = match bearer(req.headers()) {
            None => None,
            Some(Err(e)) => Some(Err(e)),
            Some(Ok(token)) => Some(state.authenticate_token(token).await),
        };
        (req, outcome)
    };
    let mut req = req;
    match outcome {
        None => {}
        Some(Ok(user)) => {
            req.extensions_mut().insert(AuthUser(user));
        }
        Some(Err(Error::Invalid {
            kind: Kind::Unauthorized,
            code,
            message,
        })) => {
            req.extensions_mut().insert(AuthFailure {
                code,
                message: message.into(),
            });
        }
        Some(Err(other)) => return ApiError(other).into_response(),
    }
    next.run(req).await
}

/// Whether the request carried a credential that was refused (the rate limit charges
/// its IP extra, `crate::limits::after_auth`).
pub(crate) fn credential_failed(extensions: &axum::http::Extensions) -> bool {
    extensions.get::<AuthFailure>().is_some()
}

/// The single credential check handlers rely on: the middleware's verdict, else (a
/// router built without the middleware) the bearer token.
pub async fn authenticate(parts: &Parts, state: &SharedState) -> Result<AuthUser, Error> {
    if let Some(user) = parts.extensions.get::<AuthUser>() {
        return Ok(*user);
    }
    if let Some(f) = parts.extensions.get::<AuthFailure>() {
        return Err(Error::unauthorized(f.code, f.message.clone()));
    }
    if parts.headers.contains_key("x-api-key") {
        return Err(Error::unauthorized(
            "UNAUTHORIZED",
            "signed requests are not accepted on this route",
        ));
    }
    match bearer(&parts.headers) {
        None => Err(Error::unauthorized(
            "UNAUTHORIZED",
            "missing credentials: send `Authorization: Bearer <token>` or sign the request with an API key",
        )),
        Some(Err(e)) => Err(e),
        Some(Ok(token)) => state.authenticate_token(token).await.map(AuthUser),
    }
}

impl FromRequestParts<SharedState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &SharedState) -> Result<Self, ApiError> {
        Ok(authenticate(parts, state).await?)
    }
}

impl FromRequestParts<SharedState> for AdminUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &SharedState) -> Result<Self, ApiError> {
        let user = authenticate(parts, state).await?;
        user.require_admin()?;
        Ok(AdminUser(user))
    }
}
