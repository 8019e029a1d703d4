//! Who is calling, over HTTP: [`middleware`] checks the credential a request carries
//! (bearer token or signed request) once, before routing to the handler, and leaves the
//! result in the request extensions; [`AuthUser`] (a signed-in caller allowed to read:
//! an API key needs `read`), [`AuthCaller`] (any signed-in caller; for order entry and
//! withdrawals, whose gateway services check `trade` / `withdraw` themselves) and
//! [`AdminUser`] (role `admin`; an API key also needs `admin`) read it. Which
//! permission each call needs is the gateway's rule (`bourse_gateway::auth`); this crate
//! only maps its refusals (`PERMISSION_DENIED`, `IP_NOT_ALLOWED`) to 403.
//!
//! The client's address is [`client_ip`] (the trusted-proxy resolution of
//! `crate::security::proxy`). The middleware, not an extractor, verifies
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
use axum::http::Extensions;
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bourse_gateway::auth::api_key::signing_payload;
use bourse_gateway::auth::{Caller, Signature};
use bourse_model::Permission;
use std::borrow::Cow;
use std::convert::Infallible;
use std::net::IpAddr;

/// The client's address after the trusted-proxy rules (`crate::security::proxy`),
/// `None` for a router served without a peer address: what API-key allow-lists and the
/// login throttle see.
pub fn client_ip(extensions: &Extensions) -> Option<IpAddr> {
    crate::security::proxy::client_ip_opt(extensions)
}

/// [`client_ip`] as a handler argument.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(ClientAddr(client_ip(&parts.extensions)))
    }
}

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

/// Any authenticated caller, whatever its permissions: for handlers whose gateway
/// service checks the permission it needs (order entry, withdrawals).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthCaller(pub Caller);

impl std::ops::Deref for AuthCaller {
    type Target = Caller;
    fn deref(&self) -> &Caller {
        &self.0
    }
}

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

/// Checks a signed request whose body has been read into `body`, from `ip`.
pub async fn authenticate_signed(
    state: &SharedState,
    headers: &HeaderMap,
    method: &str,
    path_and_query: &str,
    body: &[u8],
    ip: Option<IpAddr>,
) -> Result<Caller, Error> {
    let sig = Signature {
        key_id: header(headers, "x-api-key")?,
        timestamp: header(headers, "x-api-timestamp")?,
        signature: header(headers, "x-api-signature")?,
    };
    let payload = signing_payload(sig.timestamp, method, path_and_query, body);
    state.authenticate_signed(sig, &payload, ip).await
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
        let ip = client_ip(&parts.extensions);
        let outcome = authenticate_signed(
            &state,
            &parts.headers,
            parts.method.as_str(),
            pq,
            &bytes,
            ip,
        )
        .await;
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
        let user = authenticate(parts, state).await?;
        user.require(Permission::Read)?;
        Ok(user)
    }
}

impl FromRequestParts<SharedState> for AuthCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &SharedState) -> Result<Self, ApiError> {
        Ok(AuthCaller(authenticate(parts, state).await?.0))
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

/// Adds the API-key refusals to every operation an API key may call: 403
/// `PERMISSION_DENIED` (the key lacks the permission) and `IP_NOT_ALLOWED`, added to the
/// operation's own 403 if it has one.
pub fn document_key_refusals(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
    const WHY: &str = "`PERMISSION_DENIED` (an API key without the permission this needs: \
                       `read` for private reads, `trade` for order entry, `withdraw` for \
                       withdrawals, `admin` for admin routes), `IP_NOT_ALLOWED` (the key's IP \
                       allow-list does not hold the client address)";
    for item in doc.paths.paths.values_mut() {
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
            let by_key = op.security.as_ref().is_some_and(|reqs| {
                serde_json::to_value(reqs)
                    .ok()
                    .and_then(|v| v.as_array().cloned())
                    .is_some_and(|a| a.iter().any(|r| r.get("api_key").is_some()))
            });
            if !by_key {
                continue;
            }
            match op.responses.responses.get_mut("403") {
                Some(RefOr::T(r)) => r.description = format!("{}, {WHY}", r.description),
                Some(RefOr::Ref(_)) => {}
                None => {
                    let r = ResponseBuilder::new()
                        .description(WHY)
                        .content(
                            "application/json",
                            ContentBuilder::new()
                                .schema(Some(Ref::from_schema_name("ErrorResponse")))
                                .build(),
                        )
                        .build();
                    op.responses.responses.insert("403".into(), r.into());
                }
            }
        }
    }
}
