//! Admin (role `admin`; others get 403 `FORBIDDEN`, anonymous callers 401):
//!
//! - `POST /api/v1/admin/deposits {username, asset, amount}`: credit a user;
//! - `GET /api/v1/admin/withdrawals?status=pending`, `POST
//!   /api/v1/admin/withdrawals/{id}/approve` (the held funds leave) and `/reject` (they
//!   are available again);
//! - `POST /api/v1/admin/markets`: create a market at runtime (no restart);
//!   `POST /api/v1/admin/markets/{symbol}/halt` and `/resume` (a halted market refuses
//!   new orders and amends with 409 `MARKET_HALTED`; cancels still work);
//! - `GET /api/v1/admin/state`: journal position, state hash, ledger invariants — what
//!   the crash test compares with an offline `bourse verify`.
//!
//! Creating a market (validation, fees per tier, the decimals of assets it creates) is
//! `bourse_gateway::markets`, shared with the config file's `[[markets.list]]` and demo mode.

use crate::api::balances::{withdrawal_json, Names, WithdrawalJson};
use crate::auth::AdminUser;
use crate::error::{ApiError, ApiJson, Error};
use crate::openapi::ErrorResponse;
use crate::state::SharedState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use bourse_gateway::dto::MarketJson;
use bourse_gateway::market_info::{check_cursor, market_info, page_limit, parse_amount, MAX_UNITS};
use bourse_gateway::markets::{self as market_setup, MarketBody, TierFee, TierFees};
use bourse_gateway::rules;
use bourse_model::{
    format_units, Amount, CommandKind, Event, MarketStatus, RejectCode, WithdrawalId,
};
use bourse_store::WithdrawalStatus;
use serde::{Deserialize, Serialize};
use utoipa::OpenApi;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<SharedState> {
    OpenApiRouter::with_openapi(Doc::openapi())
        .routes(routes!(deposit))
        .routes(routes!(pending_withdrawals))
        .routes(routes!(approve_withdrawal))
        .routes(routes!(reject_withdrawal))
        .routes(routes!(create_market))
        .routes(routes!(halt_market))
        .routes(routes!(resume_market))
        .routes(routes!(core_state))
}

/// The body of `POST /api/v1/admin/deposits`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"username": "alice", "asset": "USD", "amount": "10000"}))]
pub struct DepositBody {
    pub username: String,
    pub asset: String,
    /// Positive, at most the asset's decimals.
    #[schema(example = "10000")]
    pub amount: String,
}

/// A deposit and the user's new balance in that asset.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"username": "alice", "asset": "USD", "amount": "10000.000000",
    "available": "10000.000000", "held": "0.000000"}))]
pub struct AdminDepositJson {
    pub username: String,
    pub asset: String,
    pub amount: String,
    pub available: String,
    pub held: String,
}

/// Credit a user's account.
#[utoipa::path(
    post,
    path = "/api/v1/admin/deposits",
    tag = "admin",
    request_body = DepositBody,
    responses(
        (status = 201, description = "Credited", body = AdminDepositJson),
        (status = 400, description = "`MALFORMED_JSON`", body = ErrorResponse),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorResponse),
        (status = 403, description = "`FORBIDDEN`: not an admin", body = ErrorResponse),
        (status = 404, description = "`UNKNOWN_USER`, `UNKNOWN_ASSET`", body = ErrorResponse),
        (status = 422, description = "`VALIDATION_ERROR`, `UNKNOWN_FIELD`, `INVALID_DECIMAL`, `INVALID_AMOUNT` (zero, or the balance would exceed the largest amount)", body = ErrorResponse),
        (status = 503, description = "`JOURNAL_UNAVAILABLE`, `OVERLOADED`", body = ErrorResponse),
    ),
    security(("bearer" = []), ("api_key" = [])),
)]
async fn deposit(
    State(state): State<SharedState>,
    _admin: AdminUser,
    ApiJson(body): ApiJson<DepositBody>,
) -> Result<(StatusCode, Json<AdminDepositJson>), ApiError> {
    let (name, sym) = (body.username.clone(), body.asset.clone());
    let (user, asset) = state
        .seq
        .query(move |core| {
            let asset = core.asset_by_symbol(&sym).and_then(|a| core.asset(a));
            let user = core.user_by_name(&name);
            let balance = match (user, &asset) {
                (Some(u), Some(a)) => {
                    let (av, h) = core.balance(u, a.id);
                    u128::from(av.0) + u128::from(h.0)
                }
                _ => 0,
            };
            (user.map(|u| (u, balance)), asset)
        })
        .await?;
    let (user, balance) = user.ok_or(Error::Rejected(RejectCode::UnknownUser))?;
    let asset = asset.ok_or(Error::Rejected(RejectCode::UnknownAsset))?;
    let amount = parse_amount("amount", &body.amount, asset.scale)?.0;
    // The read models keep balances as signed 64-bit integers.
    if balance + u128::from(amount) > u128::from(MAX_UNITS) {
        return Err(Error::Rejected(RejectCode::InvalidAmount).into());
    }
    let applied = state
        .seq
        .submit(CommandKind::Deposit {
            user,
            asset: asset.id,
            amount: Amount(amount),
        })
        .await?;
    if let Some((code, _)) = applied.rejected() {
        return Err(Error::Rejected(code).into());
    }
    let (available, held) = applied
        .events
        .iter()
        .find_map(|e| match e {
            Event::BalanceChanged {
                available, held, ..
            } => Some((*available, *held)),
            _ => None,
        })
        .ok_or_else(|| Error::internal("Deposit produced no BalanceChanged"))?;
    Ok((
        StatusCode::CREATED,
        Json(AdminDepositJson {
            username: body.username,
            asset: asset.symbol.to_string(),
            amount: format_units(amount, asset.scale),
            available: format_units(available.0, asset.scale),
            held: format_units(held.0, asset.scale),
        }),
    ))
}

/// Create a market (and its assets if needed); it trades at once, no restart.
#[utoipa::path(
    post,
    path = "/api/v1/admin/markets",
    tag = "admin",
    request_body = MarketBody,
    responses(
        (status = 201, description = "Created", body = MarketJson),
        (status = 400, description = "`MALFORMED_JSON`", body = ErrorResponse),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorResponse),
        (status = 403, description = "`FORBIDDEN`: not an admin", body = ErrorResponse),
        (status = 409, description = "`MARKET_EXISTS`", body = ErrorResponse),
        (status = 422, description = "`VALIDATION_ERROR` (also: `fees` together with `maker_fee_bps`/`taker_fee_bps`, a tier missing in `fees`), `UNKNOWN_FIELD` (also: an unknown tier in `fees`), `INVALID_DECIMAL`, `OFF_GRID`, `INVALID_MARKET_SPEC` (also: a fee above 10000 bps), `INVALID_ASSET_SPEC`", body = ErrorResponse),
        (status = 503, description = "`JOURNAL_UNAVAILABLE`, `OVERLOADED`", body = ErrorResponse),
    ),
    security(("bearer" = []), ("api_key" = [])),
)]
async fn create_market(
    State(state): State<SharedState>,
    _admin: AdminUser,
    ApiJson(body): ApiJson<MarketBody>,
) -> Result<(StatusCode, Json<MarketJson>), ApiError> {
    let plan = market_setup::plan(&state.seq, &state.config.markets, &body).await?;
    let market = market_setup::create(&state.seq, plan).await?;
    Ok((StatusCode::CREATED, Json(MarketJson::from(&market))))
}

/// Where the core stands.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"last_seq": 1842, "state_hash": "9f2c…", "invariants": "ok",
    "open_orders": 12, "users": 3}))]
pub struct CoreStateJson {
    /// The last journaled command.
    pub last_seq: u64,
    /// blake3 of the canonical snapshot, hex; equal states have equal hashes.
    pub state_hash: String,
    /// `ok` or the first violated invariant.
    pub invariants: String,
    pub open_orders: usize,
    pub users: usize,
}

/// The core's journal position, state hash and invariant check.
#[utoipa::path(
    get,
    path = "/api/v1/admin/state",
    tag = "admin",
    responses(
        (status = 200, description = "The state", body = CoreStateJson),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorResponse),
        (status = 403, description = "`FORBIDDEN`: not an admin", body = ErrorResponse),
    ),
    security(("bearer" = []), ("api_key" = [])),
)]
async fn core_state(
    State(state): State<SharedState>,
    _admin: AdminUser,
) -> Result<Json<CoreStateJson>, ApiError> {
    let status = state.seq.clone();
    let out = state
        .seq
        .query(move |core| CoreStateJson {
            last_seq: status.status().committed_seq(),
            state_hash: hex::encode(core.state_hash()),
            invariants: match core.check_invariants() {
                Ok(()) => "ok".into(),
                Err(e) => e,
            },
            open_orders: core.open_order_count(),
            users: core.user_count(),
        })
        .await?;
    Ok(Json(out))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PendingQuery {
    /// Only `pending` (the default) is listed here; users see their history in
    /// `GET /api/v1/withdrawals`.
    #[param(example = "pending")]
    pub status: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<u64>,
    /// Page size, 1–1000 (default 100).
    #[param(example = 100)]
    pub limit: Option<u32>,
}

/// A page of pending withdrawals, oldest first.
#[derive(Serialize, ToSchema)]
pub struct PendingWithdrawalPage {
    pub withdrawals: Vec<WithdrawalJson>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<u64>,
}

/// Withdrawals waiting for approval, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/admin/withdrawals",
    tag = "admin",
    params(PendingQuery),
    responses(
        (status = 200, description = "A page of pending withdrawals", body = PendingWithdrawalPage),
        (status = 400, description = "`BAD_REQUEST`: a query parameter is not of its type", body = ErrorResponse),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorResponse),
        (status = 403, description = "`FORBIDDEN`: not an admin", body = ErrorResponse),
        (status = 422, description = "`VALIDATION_ERROR`: `status` other than `pending`, bad `limit`", body = ErrorResponse),
        (status = 503, description = "`READ_MODEL_BEHIND`", body = ErrorResponse),
    ),
    security(("bearer" = []), ("api_key" = [])),
)]
async fn pending_withdrawals(
    State(state): State<SharedState>,
    _admin: AdminUser,
    Query(q): Query<PendingQuery>,
) -> Result<Json<PendingWithdrawalPage>, ApiError> {
    if !matches!(q.status.as_deref(), None | Some("pending")) {
        return Err(Error::validation("status: only `pending` is supported").into());
    }
    let limit = page_limit(q.limit, 100, rules::PAGE_LIMIT)?;
    state.fence().await?;
    let rows = state
        .store
        .pending_withdrawals(check_cursor("cursor", q.cursor)?.map(WithdrawalId), limit)
        .await?;
    let names = Names::load(&state, rows.iter().map(|w| w.user.0).collect());
    let next_cursor = (rows.len() as u32 == limit)
        .then(|| rows.last().map(|w| w.id.0))
        .flatten();
    Ok(Json(PendingWithdrawalPage {
        withdrawals: rows.iter().map(|w| names.withdrawal(w)).collect(),
        next_cursor,
    }))
}

async fn settle_withdrawal(
    state: &SharedState,
    id: u64,
    kind: CommandKind,
) -> Result<Json<WithdrawalJson>, ApiError> {
    let status = match kind {
        CommandKind::CompleteWithdrawal { .. } => WithdrawalStatus::Completed,
        _ => WithdrawalStatus::Rejected,
    };
    let applied = state.seq.submit(kind).await?;
    if let Some((code, _)) = applied.rejected() {
        return Err(Error::Rejected(code).into());
    }
    // From the withdrawal as it was and the command's time: no wait on the read models.
    let w = applied
        .withdrawal
        .as_ref()
        .filter(|w| w.id == WithdrawalId(id))
        .ok_or_else(|| Error::internal("a settled withdrawal without its request"))?;
    Ok(Json(withdrawal_json(state, w, status, applied.ts.0)))
}

/// Approve a pending withdrawal: the held funds leave the exchange.
#[utoipa::path(
    post,
    path = "/api/v1/admin/withdrawals/{id}/approve",
    tag = "admin",
    params(("id" = u64, Path, description = "Withdrawal id", example = 3)),
    responses(
        (status = 200, description = "Completed", body = WithdrawalJson),
        (status = 400, description = "`BAD_REQUEST`: the id is not a non-negative 64-bit integer", body = ErrorResponse),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorResponse),
        (status = 403, description = "`FORBIDDEN`: not an admin", body = ErrorResponse),
        (status = 404, description = "`UNKNOWN_WITHDRAWAL`", body = ErrorResponse),
        (status = 409, description = "`WITHDRAWAL_NOT_PENDING`", body = ErrorResponse),
        (status = 503, description = "`JOURNAL_UNAVAILABLE`, `OVERLOADED`, `READ_MODEL_BEHIND`", body = ErrorResponse),
    ),
    security(("bearer" = []), ("api_key" = [])),
)]
async fn approve_withdrawal(
    State(state): State<SharedState>,
    _admin: AdminUser,
    Path(id): Path<u64>,
) -> Result<Json<WithdrawalJson>, ApiError> {
    settle_withdrawal(
        &state,
        id,
        CommandKind::CompleteWithdrawal {
            id: WithdrawalId(id),
        },
    )
    .await
}

/// Reject a pending withdrawal: the held funds are available to the user again.
#[utoipa::path(
    post,
    path = "/api/v1/admin/withdrawals/{id}/reject",
    tag = "admin",
    params(("id" = u64, Path, description = "Withdrawal id", example = 3)),
    responses(
        (status = 200, description = "Rejected", body = WithdrawalJson),
        (status = 400, description = "`BAD_REQUEST`: the id is not a non-negative 64-bit integer", body = ErrorResponse),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorResponse),
        (status = 403, description = "`FORBIDDEN`: not an admin", body = ErrorResponse),
        (status = 404, description = "`UNKNOWN_WITHDRAWAL`", body = ErrorResponse),
        (status = 409, description = "`WITHDRAWAL_NOT_PENDING`", body = ErrorResponse),
        (status = 503, description = "`JOURNAL_UNAVAILABLE`, `OVERLOADED`, `READ_MODEL_BEHIND`", body = ErrorResponse),
    ),
    security(("bearer" = []), ("api_key" = [])),
)]
async fn reject_withdrawal(
    State(state): State<SharedState>,
    _admin: AdminUser,
    Path(id): Path<u64>,
) -> Result<Json<WithdrawalJson>, ApiError> {
    settle_withdrawal(
        &state,
        id,
        CommandKind::RejectWithdrawal {
            id: WithdrawalId(id),
        },
    )
    .await
}

async fn set_market_status(
    state: &SharedState,
    symbol: &str,
    status: MarketStatus,
) -> Result<Json<MarketJson>, ApiError> {
    let m = market_info(state, symbol)?;
    let applied = state
        .seq
        .submit(CommandKind::SetMarketStatus {
            market: m.id,
            status,
        })
        .await?;
    if let Some((code, _)) = applied.rejected() {
        return Err(Error::Rejected(code).into());
    }
    let m = market_info(state, symbol)?;
    Ok(Json(MarketJson::from(&m)))
}

/// Halt a market: new orders and amends get 409 `MARKET_HALTED`; resting orders stay
/// and can be canceled.
#[utoipa::path(
    post,
    path = "/api/v1/admin/markets/{symbol}/halt",
    tag = "admin",
    params(("symbol" = String, Path, description = "Market symbol", example = "BTC-USD")),
    responses(
        (status = 200, description = "The market, now halted", body = MarketJson),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorResponse),
        (status = 403, description = "`FORBIDDEN`: not an admin", body = ErrorResponse),
        (status = 404, description = "`UNKNOWN_MARKET`", body = ErrorResponse),
        (status = 409, description = "`MARKET_ALREADY_IN_STATE`: already halted", body = ErrorResponse),
        (status = 503, description = "`JOURNAL_UNAVAILABLE`, `OVERLOADED`", body = ErrorResponse),
    ),
    security(("bearer" = []), ("api_key" = [])),
)]
async fn halt_market(
    State(state): State<SharedState>,
    _admin: AdminUser,
    Path(symbol): Path<String>,
) -> Result<Json<MarketJson>, ApiError> {
    set_market_status(&state, &symbol, MarketStatus::Halted).await
}

/// Resume a halted market.
#[utoipa::path(
    post,
    path = "/api/v1/admin/markets/{symbol}/resume",
    tag = "admin",
    params(("symbol" = String, Path, description = "Market symbol", example = "BTC-USD")),
    responses(
        (status = 200, description = "The market, open again", body = MarketJson),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorResponse),
        (status = 403, description = "`FORBIDDEN`: not an admin", body = ErrorResponse),
        (status = 404, description = "`UNKNOWN_MARKET`", body = ErrorResponse),
        (status = 409, description = "`MARKET_ALREADY_IN_STATE`: already open", body = ErrorResponse),
        (status = 503, description = "`JOURNAL_UNAVAILABLE`, `OVERLOADED`", body = ErrorResponse),
    ),
    security(("bearer" = []), ("api_key" = [])),
)]
async fn resume_market(
    State(state): State<SharedState>,
    _admin: AdminUser,
    Path(symbol): Path<String>,
) -> Result<Json<MarketJson>, ApiError> {
    set_market_status(&state, &symbol, MarketStatus::Open).await
}

/// This module's part of the OpenAPI document (see `crate::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(components(schemas(
    DepositBody,
    AdminDepositJson,
    MarketBody,
    TierFees,
    TierFee,
    CoreStateJson,
    PendingWithdrawalPage
)))]
pub struct Doc;
