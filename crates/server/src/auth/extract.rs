//! Request extractors: [`AuthUser`] for any signed-in caller, [`AdminUser`] for admins.

use crate::error::AppError;
use crate::state::SharedState;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use bourse_model::{Role, UserId};

/// The authenticated caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthUser {
    pub id: UserId,
    pub role: Role,
}

/// An authenticated caller with role `admin`.
#[derive(Debug, Clone, Copy)]
pub struct AdminUser(pub AuthUser);

/// The single credential check. Today: `Authorization: Bearer <jwt>`. API-key requests
/// (`X-API-KEY` + HMAC signature) and revoked-token checks belong here.
pub async fn authenticate(parts: &Parts, state: &SharedState) -> Result<AuthUser, AppError> {
    if parts.headers.contains_key("x-api-key") {
        return Err(AppError::Unauthorized(
            "API-key authentication is not available".into(),
        ));
    }
    let header = parts
        .headers
        .get(AUTHORIZATION)
        .ok_or_else(|| AppError::Unauthorized("missing bearer token".into()))?;
    let token = header
        .to_str()
        .ok()
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(|| AppError::Unauthorized("expected `Authorization: Bearer <token>`".into()))?;
    let claims = state
        .tokens
        .decode(token)
        .ok_or_else(|| AppError::Unauthorized("invalid or expired token".into()))?;
    Ok(AuthUser {
        id: UserId(claims.sub),
        role: claims.role,
    })
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
