//! API keys: `POST /api/v1/api-keys {label}` → `{key, secret, …}` (the secret is shown
//! this once), `GET /api/v1/api-keys` (never the secret), `DELETE /api/v1/api-keys/{key}`.
//!
//! Managing keys needs a bearer session (a leaked key cannot mint or delete keys). The
//! secret is sealed before it is journaled (`CreateApiKey.secret_enc`, see
//! `crate::auth::api_key`); deleting a key refuses its signatures from the next request.

use crate::auth::AuthUser;
use crate::error::{ApiError, ApiJson, Error};
use crate::openapi::ErrorResponse;
use crate::state::SharedState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use bourse_gateway::auth::api_key;
use bourse_model::{CommandKind, RejectCode};
use serde::{Deserialize, Serialize};
use utoipa::OpenApi;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<SharedState> {
    OpenApiRouter::with_openapi(Doc::openapi())
        .routes(routes!(list, create))
        .routes(routes!(remove))
}

/// Most keys one user may hold.
pub const MAX_KEYS_PER_USER: usize = 20;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"label": "trading bot"}))]
pub struct NewKeyBody {
    /// 1–64 characters, no control characters.
    pub label: String,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"key": "bk_2_9f86d081884c7d659a2feaa0c55ad015",
    "secret": "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
    "label": "trading bot"}))]
pub struct NewKeyJson {
    /// Send as `X-API-KEY`.
    pub key: String,
    /// The HMAC secret. Shown only in this response: store it now.
    pub secret: String,
    pub label: String,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"key": "bk_2_9f86d081884c7d659a2feaa0c55ad015", "label": "trading bot",
    "created_at": 1700000000000_u64}))]
pub struct KeyJson {
    pub key: String,
    pub label: String,
    /// ms since the epoch.
    pub created_at: u64,
}

fn validate_label(label: &str) -> Result<(), ApiError> {
    let n = label.chars().count();
    if (1..=64).contains(&n) && !label.chars().any(char::is_control) {
        Ok(())
    } else {
        Err(Error::validation("label: 1 to 64 characters, no control characters").into())
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/api-keys",
    tag = "api-keys",
    summary = "Create an API key (the secret is shown once)",
    request_body = NewKeyBody,
    responses(
        (status = 201, description = "Created; `secret` is never shown again", body = NewKeyJson),
        (status = 400, description = "`MALFORMED_JSON`", body = ErrorResponse),
        (status = 401, description = "`UNAUTHORIZED`, `TOKEN_EXPIRED`, `TOKEN_REVOKED`", body = ErrorResponse),
        (status = 403, description = "`FORBIDDEN`: called with an API key (log in instead)", body = ErrorResponse),
        (status = 409, description = "`API_KEY_EXISTS`", body = ErrorResponse),
        (status = 415, description = "`UNSUPPORTED_MEDIA_TYPE`", body = ErrorResponse),
        (status = 422, description = "`VALIDATION_ERROR` (label rules, or already 20 keys), `UNKNOWN_FIELD`", body = ErrorResponse),
        (status = 503, description = "`JOURNAL_UNAVAILABLE`, `OVERLOADED`, `UNAVAILABLE`", body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
async fn create(
    State(state): State<SharedState>,
    user: AuthUser,
    ApiJson(body): ApiJson<NewKeyBody>,
) -> Result<(StatusCode, Json<NewKeyJson>), ApiError> {
    user.require_session()?;
    validate_label(&body.label)?;
    let id = user.id;
    let count = state.seq.views().user(id).map_or(0, |u| u.api_keys);
    if count >= MAX_KEYS_PER_USER {
        return Err(Error::validation(format!(
            "at most {MAX_KEYS_PER_USER} API keys per user; delete one first"
        ))
        .into());
    }
    let key = api_key::new_key_id(user.id);
    let secret = api_key::new_secret();
    let secret_enc = state
        .auth
        .secrets
        .seal(&key, &secret)
        .map_err(Error::internal)?;
    let applied = state
        .seq
        .submit(CommandKind::CreateApiKey {
            user: user.id,
            key_id: key.clone(),
            secret_enc,
            label: body.label.clone(),
        })
        .await?;
    if let Some((code, _)) = applied.rejected() {
        return Err(Error::Rejected(code).into());
    }
    Ok((
        StatusCode::CREATED,
        Json(NewKeyJson {
            key,
            secret,
            label: body.label,
        }),
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/api-keys",
    tag = "api-keys",
    summary = "The caller's API keys (never their secrets)",
    responses(
        (status = 200, description = "Oldest first", body = [KeyJson]),
        (status = 401, description = "`UNAUTHORIZED`, `TOKEN_EXPIRED`, `TOKEN_REVOKED`, `INVALID_API_KEY`, `INVALID_SIGNATURE`, `TIMESTAMP_OUT_OF_WINDOW`, `SIGNATURE_REPLAYED`", body = ErrorResponse),
        (status = 503, description = "`READ_MODEL_BEHIND`, `UNAVAILABLE`", body = ErrorResponse),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
async fn list(
    State(state): State<SharedState>,
    user: AuthUser,
) -> Result<Json<Vec<KeyJson>>, ApiError> {
    state.fence().await?;
    let rows = state.store.api_keys(user.id).await?;
    Ok(Json(
        rows.into_iter()
            .map(|r| KeyJson {
                key: r.key_id,
                label: r.label,
                created_at: r.created_at.0,
            })
            .collect(),
    ))
}

#[utoipa::path(
    delete,
    path = "/api/v1/api-keys/{key}",
    tag = "api-keys",
    summary = "Delete an API key; its signatures are refused from now on",
    params(("key" = String, Path, description = "The key id (`X-API-KEY`)",
        example = "bk_2_9f86d081884c7d659a2feaa0c55ad015")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "`UNAUTHORIZED`, `TOKEN_EXPIRED`, `TOKEN_REVOKED`", body = ErrorResponse),
        (status = 403, description = "`FORBIDDEN`: called with an API key (log in instead)", body = ErrorResponse),
        (status = 404, description = "`UNKNOWN_API_KEY` (no such key of the caller's)", body = ErrorResponse),
        (status = 503, description = "`JOURNAL_UNAVAILABLE`, `OVERLOADED`, `UNAVAILABLE`", body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
async fn remove(
    State(state): State<SharedState>,
    user: AuthUser,
    Path(key): Path<String>,
) -> Result<StatusCode, ApiError> {
    user.require_session()?;
    // Another user's key is "unknown" to this one: the core checks the owner.
    if api_key::key_owner(&key) != Some(user.id) {
        return Err(Error::Rejected(RejectCode::UnknownApiKey).into());
    }
    let applied = state
        .seq
        .submit(CommandKind::DeleteApiKey {
            user: user.id,
            key_id: key,
        })
        .await?;
    if let Some((code, _)) = applied.rejected() {
        return Err(Error::Rejected(code).into());
    }
    Ok(StatusCode::NO_CONTENT)
}

/// This module's part of the OpenAPI document (see `crate::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(components(schemas(NewKeyBody, NewKeyJson, KeyJson)))]
pub struct Doc;
