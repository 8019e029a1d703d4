//! API keys: `POST /api/v1/api-keys {label, permissions?, allow_ips?}` → `{key, secret, …}`
//! (the secret is shown this once), `GET /api/v1/api-keys` (never the secret),
//! `DELETE /api/v1/api-keys/{key}`.
//!
//! Permissions (`read`, `trade`, `withdraw`, `admin`; default `read` + `trade`) and the IP
//! allow-list (addresses and CIDR blocks, at most [`MAX_ALLOW_IPS`]) are chosen at
//! creation and journaled with the key (`CreateScopedApiKey`); the gateway enforces them
//! (`bourse_gateway::auth`). `admin` may only be asked for by an admin, and only with a
//! non-empty allow-list. The listing shows both (the read model holds the rest of the
//! row; the scope comes from the engine's auth index).
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
use bourse_gateway::rules;
use bourse_model::{ApiKeyScope, CommandKind, Permission, Permissions, RejectCode, Role};
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
pub const MAX_KEYS_PER_USER: usize = rules::MAX_API_KEYS;
/// Most entries in one key's IP allow-list.
pub const MAX_ALLOW_IPS: usize = 32;

/// One permission of an API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApiPermission {
    /// Private reads: balances, orders, fills, history, notifications, private WebSocket
    /// channels.
    Read,
    /// Place, amend and cancel orders.
    Trade,
    /// Request withdrawals.
    Withdraw,
    /// Admin routes: only for an admin's key, and only with a non-empty `allow_ips`.
    Admin,
}

impl From<ApiPermission> for Permission {
    fn from(p: ApiPermission) -> Self {
        match p {
            ApiPermission::Read => Permission::Read,
            ApiPermission::Trade => Permission::Trade,
            ApiPermission::Withdraw => Permission::Withdraw,
            ApiPermission::Admin => Permission::Admin,
        }
    }
}

impl From<Permission> for ApiPermission {
    fn from(p: Permission) -> Self {
        match p {
            Permission::Read => ApiPermission::Read,
            Permission::Trade => ApiPermission::Trade,
            Permission::Withdraw => ApiPermission::Withdraw,
            Permission::Admin => ApiPermission::Admin,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"label": "trading bot", "permissions": ["read", "trade"],
    "allow_ips": ["203.0.113.7", "10.0.0.0/8"]}))]
pub struct NewKeyBody {
    /// 1–64 characters, no control characters.
    pub label: String,
    /// What the key may do; default `["read", "trade"]`. At least one; `admin` needs role
    /// admin and a non-empty `allow_ips`.
    #[schema(min_items = 1)]
    pub permissions: Option<Vec<ApiPermission>>,
    /// Addresses (`203.0.113.7`, `2001:db8::1`) or CIDR blocks (`10.0.0.0/8`, no host
    /// bits set) the key may be used from; empty or absent: any address. At most 32.
    #[schema(max_items = 32, example = json!(["203.0.113.7", "10.0.0.0/8"]))]
    pub allow_ips: Option<Vec<String>>,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"key": "bk_2_9f86d081884c7d659a2feaa0c55ad015",
    "secret": "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
    "label": "trading bot", "permissions": ["read", "trade"], "allow_ips": ["203.0.113.7"]}))]
pub struct NewKeyJson {
    /// Send as `X-API-KEY`.
    pub key: String,
    /// The HMAC secret. Shown only in this response: store it now.
    pub secret: String,
    pub label: String,
    pub permissions: Vec<ApiPermission>,
    /// Empty: any address.
    pub allow_ips: Vec<String>,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"key": "bk_2_9f86d081884c7d659a2feaa0c55ad015", "label": "trading bot",
    "created_at": 1700000000000_u64, "permissions": ["read", "trade"], "allow_ips": []}))]
pub struct KeyJson {
    pub key: String,
    pub label: String,
    /// ms since the epoch.
    pub created_at: u64,
    pub permissions: Vec<ApiPermission>,
    /// Empty: any address.
    pub allow_ips: Vec<String>,
}

fn permissions_json(p: Permissions) -> Vec<ApiPermission> {
    p.list().into_iter().map(ApiPermission::from).collect()
}

fn allow_ips_json(scope: &ApiKeyScope) -> Vec<String> {
    scope.allow_ips.iter().map(api_key::format_block).collect()
}

/// The scope a creation asks for, checked against who asks (see the module doc).
fn scope_of(body: &NewKeyBody, caller: &AuthUser) -> Result<ApiKeyScope, ApiError> {
    let permissions = match &body.permissions {
        None => Permissions::DEFAULT,
        Some(list) => {
            let list: Vec<Permission> = list.iter().map(|p| (*p).into()).collect();
            Permissions::of(&list)
        }
    };
    if permissions.is_empty() {
        return Err(Error::validation(
            "permissions: name at least one of read, trade, withdraw, admin",
        )
        .into());
    }
    let raw = body.allow_ips.as_deref().unwrap_or_default();
    if raw.len() > MAX_ALLOW_IPS {
        return Err(
            Error::validation(format!("allow_ips: at most {MAX_ALLOW_IPS} entries")).into(),
        );
    }
    let mut allow_ips = Vec::with_capacity(raw.len());
    for (i, s) in raw.iter().enumerate() {
        // Not trimmed: the schema's pattern admits no spaces, so neither does the server.
        let r = api_key::parse_block(s)
            .map_err(|e| rules::ALLOW_IP_ENTRY.error_with(format_args!("entry {i}: {e}")))?;
        if !allow_ips.contains(&r) {
            allow_ips.push(r);
        }
    }
    if permissions.contains(Permission::Admin) {
        if caller.role != Role::Admin {
            return Err(Error::Forbidden(
                "only an admin may create a key with the `admin` permission".into(),
            )
            .into());
        }
        if allow_ips.is_empty() {
            return Err(rules::ADMIN_NEEDS_ALLOW_IPS.error().into());
        }
    }
    Ok(ApiKeyScope {
        permissions,
        allow_ips,
    })
}

fn validate_label(label: &str) -> Result<(), ApiError> {
    Ok(rules::API_KEY_LABEL.check("label", label)?)
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
        (status = 403, description = "`FORBIDDEN`: called with an API key (log in instead), or `admin` asked for by a non-admin", body = ErrorResponse),
        (status = 409, description = "`API_KEY_EXISTS`", body = ErrorResponse),
        (status = 415, description = "`UNSUPPORTED_MEDIA_TYPE`", body = ErrorResponse),
        (status = 422, description = "`VALIDATION_ERROR` (label rules, already 20 keys, no permission named, `admin` without `allow_ips`, an `allow_ips` entry that is not an address or CIDR block, more than 32 entries), `UNKNOWN_FIELD`", body = ErrorResponse),
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
    let scope = scope_of(&body, &user)?;
    let id = user.id;
    let count = state.seq.views().user(id).map_or(0, |u| u.api_keys);
    if count >= MAX_KEYS_PER_USER {
        return Err(rules::KEYS_PER_USER.error().into());
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
        .submit(CommandKind::CreateScopedApiKey {
            user: user.id,
            key_id: key.clone(),
            secret_enc,
            label: body.label.clone(),
            scope: scope.clone(),
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
            permissions: permissions_json(scope.permissions),
            allow_ips: allow_ips_json(&scope),
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
    let views = state.seq.views();
    // The scope is the auth index's (the core's); a row whose key is already gone from
    // it was deleted since the fence and is left out.
    Ok(Json(
        rows.into_iter()
            .filter_map(|r| {
                let k = views.api_key(&r.key_id)?;
                Some(KeyJson {
                    key: r.key_id,
                    label: r.label,
                    created_at: r.created_at.0,
                    permissions: permissions_json(k.scope.permissions),
                    allow_ips: allow_ips_json(&k.scope),
                })
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
#[openapi(components(schemas(ApiPermission, NewKeyBody, NewKeyJson, KeyJson)))]
pub struct Doc;
