//! Admin user management (role `admin`): `GET /api/v1/admin/users` (cursor pages),
//! `GET /api/v1/admin/users/{username}`, `PATCH /api/v1/admin/users/{username}` with any
//! of `role`, `tier`, `kyc_verified`, `kill_switch`, `kyc_level`, `beneficial_owner`.
//!
//! `kyc_level` (0–2) selects what the user may do under the server's `[kyc.levels.N]`
//! policy (trade, withdraw, daily withdrawal limits; `KYC_REQUIRED` and
//! `WITHDRAWAL_LIMIT`, enforced by the core); moving a user to a level that may not trade
//! cancels their open orders. `beneficial_owner` (1–64 characters, or `null` to clear)
//! is stored for surveillance. Both are one journaled `SetUserCompliance`, so the change
//! is in the journal with its time like every other admin action.
//!
//! Changes take effect on the user's next request (the credential check reads the live
//! role and tier). Turning the kill switch on cancels every open order of the user and
//! blocks new ones (`KILL_SWITCH_ACTIVE`); with `kyc_required` in the config, an
//! unverified user cannot trade or withdraw (`KYC_REQUIRED`) — both enforced by the core.
//! An admin cannot change their own role (so the last admin cannot lock everyone out).

use crate::auth::AdminUser;
use crate::error::{ApiError, ApiJson, Error};
use crate::openapi::ErrorResponse;
use crate::state::SharedState;
use axum::extract::{Path, Query, State};
use axum::Json;
use bourse_gateway::market_info::{check_cursor, page_limit};
use bourse_gateway::rules;
use bourse_model::{CancelReason, CommandKind, Event, RejectCode, Role, Tier, UserId};
use bourse_store::UserRow;
use serde::{Deserialize, Serialize};
use utoipa::OpenApi;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<SharedState> {
    OpenApiRouter::with_openapi(Doc::openapi())
        .routes(routes!(list))
        .routes(routes!(get_one, update))
}

/// `trader`, `broker` or `admin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApiRole {
    Trader,
    Broker,
    Admin,
}

impl From<Role> for ApiRole {
    fn from(r: Role) -> Self {
        match r {
            Role::Trader => Self::Trader,
            Role::Broker => Self::Broker,
            Role::Admin => Self::Admin,
        }
    }
}

impl From<ApiRole> for Role {
    fn from(r: ApiRole) -> Self {
        match r {
            ApiRole::Trader => Self::Trader,
            ApiRole::Broker => Self::Broker,
            ApiRole::Admin => Self::Admin,
        }
    }
}

/// Fee and rate-limit tier: `standard`, `premium` or `broker`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApiTier {
    Standard,
    Premium,
    Broker,
}

impl From<Tier> for ApiTier {
    fn from(t: Tier) -> Self {
        match t {
            Tier::Standard => Self::Standard,
            Tier::Premium => Self::Premium,
            Tier::Broker => Self::Broker,
        }
    }
}

impl From<ApiTier> for Tier {
    fn from(t: ApiTier) -> Self {
        match t {
            ApiTier::Standard => Self::Standard,
            ApiTier::Premium => Self::Premium,
            ApiTier::Broker => Self::Broker,
        }
    }
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": 2, "username": "alice", "role": "trader", "tier": "standard",
    "kyc_verified": true, "kill_switch": false, "kyc_level": 1, "beneficial_owner": null,
    "created_at": 1700000000000_u64}))]
pub struct AdminUserJson {
    pub id: u64,
    pub username: String,
    pub role: ApiRole,
    pub tier: ApiTier,
    pub kyc_verified: bool,
    pub kill_switch: bool,
    /// 0–2: what the user may do (the server's `[kyc.levels.N]` policy).
    pub kyc_level: u8,
    /// Who really owns the account, if an admin said so.
    pub beneficial_owner: Option<String>,
    /// ms since the epoch.
    pub created_at: u64,
}

impl From<UserRow> for AdminUserJson {
    fn from(u: UserRow) -> Self {
        Self {
            id: u.id.0,
            username: u.username,
            role: u.role.into(),
            tier: u.tier.into(),
            kyc_verified: u.kyc_verified,
            kill_switch: u.kill_switch,
            kyc_level: u.kyc_level,
            beneficial_owner: u.beneficial_owner,
            created_at: u.created_at.0,
        }
    }
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"users": [{"id": 1, "username": "admin", "role": "admin", "tier": "standard",
    "kyc_verified": false, "kill_switch": false, "kyc_level": 0, "beneficial_owner": null,
    "created_at": 1700000000000_u64}], "next_after": null}))]
pub struct UserPage {
    pub users: Vec<AdminUserJson>,
    /// Pass as `after` for the next page; `null` on the last page.
    pub next_after: Option<u64>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Users with an id greater than this (the previous page's `next_after`).
    pub after: Option<u64>,
    /// Page size, 1–500 (default 100).
    pub limit: Option<u32>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"tier": "premium", "kyc_level": 1, "beneficial_owner": "Acme Holdings"}))]
pub struct UserPatch {
    pub role: Option<ApiRole>,
    pub tier: Option<ApiTier>,
    pub kyc_verified: Option<bool>,
    /// `true` cancels all the user's open orders and blocks new ones.
    pub kill_switch: Option<bool>,
    /// KYC level, 0–2. A level that may not trade cancels the user's open orders.
    #[schema(minimum = 0, maximum = 2)]
    pub kyc_level: Option<u8>,
    /// Who really owns the account (1–64 characters, no control characters); `null`
    /// clears it, leaving it out keeps it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub beneficial_owner: Option<Option<String>>,
}

/// A field that is present (even as `null`) is `Some`, so `null` can mean "clear".
fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"user": {"id": 2, "username": "alice", "role": "trader", "tier": "premium",
    "kyc_verified": true, "kill_switch": true, "kyc_level": 2, "beneficial_owner": "Acme Holdings",
    "created_at": 1700000000000_u64}, "canceled_orders": 3}))]
pub struct UserPatchJson {
    pub user: AdminUserJson,
    /// Orders this change canceled: the kill switch, KYC revoked while KYC is required, or
    /// a KYC level that may not trade.
    pub canceled_orders: usize,
}

#[utoipa::path(
    get,
    path = "/api/v1/admin/users",
    tag = "admin",
    summary = "List users by id",
    params(PageQuery),
    responses(
        (status = 200, description = "One page", body = UserPage),
        (status = 400, description = "`BAD_REQUEST` (query string)", body = ErrorResponse),
        (status = 401, description = "`UNAUTHORIZED`, `TOKEN_EXPIRED`, `TOKEN_REVOKED`, `INVALID_API_KEY`, `INVALID_SIGNATURE`, `TIMESTAMP_OUT_OF_WINDOW`, `SIGNATURE_REPLAYED`", body = ErrorResponse),
        (status = 403, description = "`FORBIDDEN`: not an admin", body = ErrorResponse),
        (status = 422, description = "`VALIDATION_ERROR` (limit, `after` above 2^63 - 1)", body = ErrorResponse),
        (status = 503, description = "`READ_MODEL_BEHIND`, `UNAVAILABLE`", body = ErrorResponse),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
async fn list(
    State(state): State<SharedState>,
    _admin: AdminUser,
    Query(q): Query<PageQuery>,
) -> Result<Json<UserPage>, ApiError> {
    let limit = page_limit(q.limit, 100, bourse_gateway::rules::USER_PAGE_LIMIT)?;
    let after = check_cursor("after", q.after)?;
    state.fence().await?;
    let rows = state.store.users(after.map(UserId), limit).await?;
    let next_after = (rows.len() == limit as usize)
        .then(|| rows.last().map(|u| u.id.0))
        .flatten();
    Ok(Json(UserPage {
        users: rows.into_iter().map(AdminUserJson::from).collect(),
        next_after,
    }))
}

async fn load(state: &SharedState, username: &str) -> Result<AdminUserJson, ApiError> {
    // No user has a NUL in their name (registration refuses it), and PostgreSQL refuses
    // one in a text parameter: asking would be a 500.
    if username.contains('\0') {
        return Err(Error::Rejected(RejectCode::UnknownUser).into());
    }
    state.fence().await?;
    read(state, username).await
}

/// The user from the read models, with no fence.
async fn read(state: &SharedState, username: &str) -> Result<AdminUserJson, ApiError> {
    state
        .store
        .user_by_name(username)
        .await?
        .map(AdminUserJson::from)
        .ok_or(Error::Rejected(RejectCode::UnknownUser).into())
}

#[utoipa::path(
    get,
    path = "/api/v1/admin/users/{username}",
    tag = "admin",
    summary = "One user",
    params(("username" = String, Path, example = "alice")),
    responses(
        (status = 200, description = "The user", body = AdminUserJson),
        (status = 401, description = "`UNAUTHORIZED`, `TOKEN_EXPIRED`, `TOKEN_REVOKED`, `INVALID_API_KEY`, `INVALID_SIGNATURE`, `TIMESTAMP_OUT_OF_WINDOW`, `SIGNATURE_REPLAYED`", body = ErrorResponse),
        (status = 403, description = "`FORBIDDEN`: not an admin", body = ErrorResponse),
        (status = 404, description = "`UNKNOWN_USER`", body = ErrorResponse),
        (status = 503, description = "`READ_MODEL_BEHIND`, `UNAVAILABLE`", body = ErrorResponse),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
async fn get_one(
    State(state): State<SharedState>,
    _admin: AdminUser,
    Path(username): Path<String>,
) -> Result<Json<AdminUserJson>, ApiError> {
    Ok(Json(load(&state, &username).await?))
}

#[utoipa::path(
    patch,
    path = "/api/v1/admin/users/{username}",
    tag = "admin",
    summary = "Set a user's role, tier, KYC status, KYC level, beneficial owner or kill switch",
    description = "Fields left out are unchanged; `beneficial_owner: null` clears it. Takes effect on the user's next request. `kyc_level` (0–2) selects the server's `[kyc.levels.N]` policy: whether the user may trade and withdraw (`KYC_REQUIRED` otherwise) and their daily withdrawal limit per asset (`WITHDRAWAL_LIMIT`); a level that may not trade cancels the user's open orders (counted in `canceled_orders`). Admin only (403 `FORBIDDEN` otherwise); every change is a journaled command.",
    params(("username" = String, Path, example = "alice")),
    request_body = UserPatch,
    responses(
        (status = 200, description = "The user after the change", body = UserPatchJson),
        (status = 400, description = "`MALFORMED_JSON`", body = ErrorResponse),
        (status = 401, description = "`UNAUTHORIZED`, `TOKEN_EXPIRED`, `TOKEN_REVOKED`, `INVALID_API_KEY`, `INVALID_SIGNATURE`, `TIMESTAMP_OUT_OF_WINDOW`, `SIGNATURE_REPLAYED`", body = ErrorResponse),
        (status = 403, description = "`FORBIDDEN`: not an admin", body = ErrorResponse),
        (status = 404, description = "`UNKNOWN_USER`", body = ErrorResponse),
        (status = 415, description = "`UNSUPPORTED_MEDIA_TYPE`", body = ErrorResponse),
        (status = 422, description = "`VALIDATION_ERROR` (nothing to change, an admin changing their own role, `kyc_level` above 2, `beneficial_owner` empty, over 64 characters or with control characters), `UNKNOWN_FIELD`", body = ErrorResponse),
        (status = 503, description = "`JOURNAL_UNAVAILABLE`, `OVERLOADED`, `READ_MODEL_BEHIND`, `UNAVAILABLE`", body = ErrorResponse),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
async fn update(
    State(state): State<SharedState>,
    AdminUser(admin): AdminUser,
    Path(username): Path<String>,
    ApiJson(body): ApiJson<UserPatch>,
) -> Result<Json<UserPatchJson>, ApiError> {
    let flags = body.tier.is_some() || body.kyc_verified.is_some() || body.kill_switch.is_some();
    let compliance = body.kyc_level.is_some() || body.beneficial_owner.is_some();
    if body.role.is_none() && !flags && !compliance {
        return Err(Error::validation(
            "nothing to change: give role, tier, kyc_verified, kill_switch, kyc_level or \
             beneficial_owner",
        )
        .into());
    }
    // Every field is checked before the first command: a refused request changes nothing.
    if let Some(l) = body.kyc_level {
        rules::KYC_LEVEL.check("kyc_level", u64::from(l))?;
    }
    if let Some(Some(o)) = &body.beneficial_owner {
        rules::BENEFICIAL_OWNER.check("beneficial_owner", o)?;
    }
    let name = username.clone();
    let user = state
        .seq
        .query(move |core| core.user_by_name(&name))
        .await?
        .ok_or(Error::Rejected(RejectCode::UnknownUser))?;
    if let Some(role) = body.role {
        if user == admin.id && Role::from(role) != admin.role {
            return Err(bourse_gateway::rules::OWN_ROLE.error().into());
        }
        let applied = state
            .seq
            .submit(CommandKind::SetUserRole {
                user,
                role: role.into(),
            })
            .await?;
        if let Some((code, _)) = applied.rejected() {
            return Err(Error::Rejected(code).into());
        }
    }
    let mut canceled_orders = 0;
    if flags {
        let applied = state
            .seq
            .submit(CommandKind::SetUserFlags {
                user,
                kyc_verified: body.kyc_verified,
                kill_switch: body.kill_switch,
                tier: body.tier.map(Tier::from),
            })
            .await?;
        if let Some((code, _)) = applied.rejected() {
            return Err(Error::Rejected(code).into());
        }
        canceled_orders = applied
            .events
            .iter()
            .filter(|e| {
                matches!(
                    e,
                    Event::OrderCanceled {
                        reason: CancelReason::KillSwitch | CancelReason::KycRequired,
                        ..
                    }
                )
            })
            .count();
    }
    if compliance {
        let applied = state
            .seq
            .submit(CommandKind::SetUserCompliance {
                user,
                kyc_level: body.kyc_level,
                beneficial_owner: body.beneficial_owner.clone(),
            })
            .await?;
        if let Some((code, _)) = applied.rejected() {
            return Err(Error::Rejected(code).into());
        }
        canceled_orders += applied
            .events
            .iter()
            .filter(|e| {
                matches!(
                    e,
                    Event::OrderCanceled {
                        reason: CancelReason::KycRequired,
                        ..
                    }
                )
            })
            .count();
    }
    // Committed: the answer waits for the read models rather than report a failure.
    state.fence_after_commit().await?;
    Ok(Json(UserPatchJson {
        user: read(&state, &username).await?,
        canceled_orders,
    }))
}

/// This module's part of the OpenAPI document (see `crate::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(components(schemas(
    ApiRole,
    ApiTier,
    AdminUserJson,
    UserPage,
    UserPatch,
    UserPatchJson
)))]
pub struct Doc;
