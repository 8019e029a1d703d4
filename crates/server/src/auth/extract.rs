//! Who is calling: [`middleware`] checks the credential a request carries (bearer token
//! or signed request) once, before routing to the handler, and leaves the result in the
//! request extensions; [`AuthUser`] (any signed-in caller) and [`AdminUser`] (role
//! `admin`) read it. The middleware, not an extractor, verifies signatures because the
//! signature covers the body: it buffers the body (bounded by `body_limit`) and hands the
//! handler an identical copy, so handlers still take `ApiJson<T>`.

use super::api_key;
use super::token::TokenError;
use crate::error::AppError;
use crate::sequencer::now_ms;
use crate::state::SharedState;
use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bourse_model::{Role, Tier, UserId};
use std::borrow::Cow;

/// The authenticated caller, with the role and tier the core has now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthUser {
    pub id: UserId,
    pub role: Role,
    pub tier: Tier,
    pub via: Via,
}

/// Which credential authenticated the request. Managing credentials (API keys,
/// password, logout) needs a bearer session: a leaked API key cannot mint more keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Token,
    ApiKey,
}

impl AuthUser {
    /// Refuses (403) callers that did not log in with a password.
    pub fn require_session(&self) -> Result<(), AppError> {
        match self.via {
            Via::Token => Ok(()),
            Via::ApiKey => Err(AppError::Forbidden(
                "this needs a bearer token from a password login, not an API key".into(),
            )),
        }
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

/// 401 with a specific code.
pub fn unauthorized(code: &'static str, message: impl Into<String>) -> AppError {
    AppError::Invalid {
        status: StatusCode::UNAUTHORIZED,
        code,
        message: message.into(),
    }
}

/// The bearer token of `Authorization`, if that header is present. `Some(Err)` when the
/// header is not `Bearer <token>`.
pub fn bearer(headers: &HeaderMap) -> Option<Result<&str, AppError>> {
    let h = headers.get(AUTHORIZATION)?;
    Some(
        h.to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                unauthorized("UNAUTHORIZED", "expected `Authorization: Bearer <token>`")
            }),
    )
}

/// Checks a bearer token: signature, expiry, logout list, the password it was issued
/// under, and that the user exists; role and tier come from the core.
pub async fn authenticate_token(state: &SharedState, token: &str) -> Result<AuthUser, AppError> {
    let claims = state.tokens.decode(token).map_err(|e| match e {
        TokenError::Expired => unauthorized("TOKEN_EXPIRED", "the token has expired; log in again"),
        TokenError::Invalid => unauthorized("UNAUTHORIZED", "invalid token"),
    })?;
    let jti = claims
        .jti_bytes()
        .ok_or_else(|| unauthorized("UNAUTHORIZED", "invalid token"))?;
    let id = UserId(claims.sub);
    let user = state
        .seq
        .query(move |core| {
            let revoked = core.token_revoked(id, &jti);
            core.user(id)
                .map(|u| (u.role, u.tier, u.password_hash, revoked))
        })
        .await?;
    let Some((role, tier, hash, revoked)) = user else {
        return Err(unauthorized("UNAUTHORIZED", "invalid token"));
    };
    if revoked {
        return Err(unauthorized(
            "TOKEN_REVOKED",
            "the token was revoked (logged out)",
        ));
    }
    if state.tokens.password_fingerprint(&hash) != claims.pwd {
        return Err(unauthorized(
            "TOKEN_REVOKED",
            "the password was changed after this token was issued; log in again",
        ));
    }
    Ok(AuthUser {
        id,
        role,
        tier,
        via: Via::Token,
    })
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<&'a str, AppError> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            unauthorized(
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
) -> Result<AuthUser, AppError> {
    let key_id = header(headers, "x-api-key")?.to_owned();
    let timestamp = header(headers, "x-api-timestamp")?;
    let signature = header(headers, "x-api-signature")?;
    let unknown = || unauthorized("INVALID_API_KEY", "unknown or deleted API key");
    let owner = api_key::key_owner(&key_id).ok_or_else(unknown)?;
    let k = key_id.clone();
    let found = state
        .seq
        .query(move |core| {
            let u = core.user(owner)?;
            let (_, enc, _) = u.api_keys.into_iter().find(|(id, _, _)| *id == k)?;
            Some((u.role, u.tier, enc))
        })
        .await?;
    let (role, tier, sealed) = found.ok_or_else(unknown)?;
    let secret =
        state.auth.secrets.open(&key_id, &sealed).ok_or_else(|| {
            AppError::internal(format!("API key {key_id}: secret does not decrypt"))
        })?;
    let payload = api_key::signing_payload(timestamp, method, path_and_query, body);
    let sig = api_key::verify(&secret, &payload, signature).ok_or_else(|| {
        unauthorized(
            "INVALID_SIGNATURE",
            "X-API-SIGNATURE is not hex HMAC-SHA256(secret, timestamp + METHOD + path_and_query + body)",
        )
    })?;
    let window = state.config.auth.signature_window_ms;
    let now = now_ms();
    let ts: u64 = timestamp.parse().map_err(|_| {
        unauthorized(
            "TIMESTAMP_OUT_OF_WINDOW",
            "X-API-TIMESTAMP must be milliseconds since the epoch",
        )
    })?;
    if now.abs_diff(ts) > window {
        return Err(unauthorized(
            "TIMESTAMP_OUT_OF_WINDOW",
            format!("X-API-TIMESTAMP is more than {window} ms away from the server time ({now})"),
        ));
    }
    if !state
        .auth
        .replay
        .first_use(sig, ts.saturating_add(window), now)
    {
        return Err(unauthorized(
            "SIGNATURE_REPLAYED",
            "this signature was already used; sign every request anew",
        ));
    }
    Ok(AuthUser {
        id: owner,
        role,
        tier,
        via: Via::ApiKey,
    })
}

/// Middleware (outermost of the API's own layers): authenticates whatever credential
/// the request carries and records the outcome in its extensions. Infrastructure errors
/// (sequencer stopped) and an oversized signed body are answered at once.
pub async fn middleware(State(state): State<SharedState>, req: Request, next: Next) -> Response {
    let (req, outcome) = if req.headers().contains_key("x-api-key") {
        let (parts, body) = req.into_parts();
        let bytes = match axum::body::to_bytes(body, state.config.body_limit).await {
            Ok(b) => b,
            Err(_) => {
                return AppError::Invalid {
                    status: StatusCode::PAYLOAD_TOO_LARGE,
                    code: "PAYLOAD_TOO_LARGE",
                    message: format!("the body exceeds {} bytes", state.config.body_limit),
                }
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
            Some(Ok(token)) => Some(authenticate_token(&state, token).await),
        };
        (req, outcome)
    };
    let mut req = req;
    match outcome {
        None => {}
        Some(Ok(user)) => {
            req.extensions_mut().insert(user);
        }
        Some(Err(AppError::Invalid {
            status: StatusCode::UNAUTHORIZED,
            code,
            message,
        })) => {
            req.extensions_mut().insert(AuthFailure {
                code,
                message: message.into(),
            });
        }
        Some(Err(other)) => return other.into_response(),
    }
    next.run(req).await
}

/// The single credential check handlers rely on: the middleware's verdict, else (a
/// router built without the middleware) the bearer token.
pub async fn authenticate(parts: &Parts, state: &SharedState) -> Result<AuthUser, AppError> {
    if let Some(user) = parts.extensions.get::<AuthUser>() {
        return Ok(*user);
    }
    if let Some(f) = parts.extensions.get::<AuthFailure>() {
        return Err(unauthorized(f.code, f.message.clone()));
    }
    if parts.headers.contains_key("x-api-key") {
        return Err(unauthorized(
            "UNAUTHORIZED",
            "signed requests are not accepted on this route",
        ));
    }
    match bearer(&parts.headers) {
        None => Err(unauthorized(
            "UNAUTHORIZED",
            "missing credentials: send `Authorization: Bearer <token>` or sign the request with an API key",
        )),
        Some(Err(e)) => Err(e),
        Some(Ok(token)) => authenticate_token(state, token).await,
    }
}

impl FromRequestParts<SharedState> for AuthUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &SharedState) -> Result<Self, AppError> {
        authenticate(parts, state).await
    }
}

impl FromRequestParts<SharedState> for AdminUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &SharedState) -> Result<Self, AppError> {
        let user = authenticate(parts, state).await?;
        if user.role != Role::Admin {
            return Err(AppError::Forbidden("admin role required".into()));
        }
        Ok(AdminUser(user))
    }
}
