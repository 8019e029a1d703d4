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
//! Creating a market creates its base and quote assets if they do not exist yet: the
//! base with `max(markets.base_scale, decimals of lot_size)` decimals, the quote with the
//! smallest number of decimals ≥ `markets.quote_scale` for which one tick × one lot is a
//! whole number of quote minor units (the grid rule of `MarketSpec`). Existing assets
//! keep their scale; a grid they cannot carry is `INVALID_MARKET_SPEC`.

use crate::api::balances::{load_withdrawal, Names, WithdrawalJson};
use crate::api::views::{
    check_cursor, decimal_error, market_info, page_limit, parse_amount, MarketInfo, MarketJson,
    MAX_UNITS,
};
use crate::auth::AdminUser;
use crate::error::{ApiJson, AppError};
use crate::openapi::ErrorResponse;
use crate::state::SharedState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use bourse_model::{
    format_units, parse_units, Amount, AssetId, CommandKind, Event, FeeSchedule, MarketSpec,
    MarketStatus, Qty, RejectCode, Symbol, WithdrawalId,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

pub fn router() -> Router<SharedState> {
    Router::new()
        .route("/api/v1/admin/deposits", post(deposit))
        .route("/api/v1/admin/withdrawals", get(pending_withdrawals))
        .route(
            "/api/v1/admin/withdrawals/{id}/approve",
            post(approve_withdrawal),
        )
        .route(
            "/api/v1/admin/withdrawals/{id}/reject",
            post(reject_withdrawal),
        )
        .route("/api/v1/admin/markets", post(create_market))
        .route("/api/v1/admin/markets/{symbol}/halt", post(halt_market))
        .route("/api/v1/admin/markets/{symbol}/resume", post(resume_market))
        .route("/api/v1/admin/state", get(core_state))
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
        (status = 503, description = "`JOURNAL_UNAVAILABLE`", body = ErrorResponse),
    ),
    security(("bearer" = []), ("api_key" = [])),
)]
async fn deposit(
    State(state): State<SharedState>,
    _admin: AdminUser,
    ApiJson(body): ApiJson<DepositBody>,
) -> Result<(StatusCode, Json<AdminDepositJson>), AppError> {
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
    let (user, balance) = user.ok_or(AppError::Rejected(RejectCode::UnknownUser))?;
    let asset = asset.ok_or(AppError::Rejected(RejectCode::UnknownAsset))?;
    let amount = parse_amount("amount", &body.amount, asset.scale)?.0;
    // The read models keep balances as signed 64-bit integers.
    if balance + u128::from(amount) > u128::from(MAX_UNITS) {
        return Err(AppError::Rejected(RejectCode::InvalidAmount));
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
        return Err(AppError::Rejected(code));
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
        .ok_or_else(|| AppError::internal("Deposit produced no BalanceChanged"))?;
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

/// The body of `POST /api/v1/admin/markets`. Missing assets are created (see the
/// module doc of `api/admin.rs` for their decimals).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"symbol": "BTC-USD", "base": "BTC", "quote": "USD",
    "tick_size": "0.01", "lot_size": "0.0001", "min_notional": "1"}))]
pub struct MarketBody {
    #[schema(example = "BTC-USD")]
    pub symbol: String,
    #[schema(example = "BTC")]
    pub base: String,
    #[schema(example = "USD")]
    pub quote: String,
    /// Price increment; its decimals are the price's decimals.
    #[schema(example = "0.01")]
    pub tick_size: String,
    /// Size increment; its decimals are the size's decimals.
    #[schema(example = "0.0001")]
    pub lot_size: String,
    /// Smallest limit-order value in the quote asset.
    #[schema(example = "1")]
    pub min_notional: String,
    /// Optional; default one lot.
    pub min_quantity: Option<String>,
    /// Optional; default `markets.max_qty_lots` lots.
    pub max_quantity: Option<String>,
    /// Optional; default from the config. At most 10000.
    pub maker_fee_bps: Option<u32>,
    pub taker_fee_bps: Option<u32>,
}

/// `"0.01"` → (1, 2): units at the decimals written.
fn increment(field: &str, s: &str) -> Result<(u64, u8), AppError> {
    let scale = s.split_once('.').map_or(0, |(_, f)| f.len());
    let scale = u8::try_from(scale)
        .ok()
        .filter(|s| *s <= 18)
        .ok_or_else(|| AppError::validation(format!("{field}: at most 18 decimals")))?;
    let units = parse_units(s, scale).map_err(|e| decimal_error(field, e))?;
    if units > MAX_UNITS {
        return Err(decimal_error(field, bourse_model::DecimalError::Overflow));
    }
    if units == 0 {
        return Err(AppError::validation(format!("{field}: must be positive")));
    }
    Ok((units, scale))
}

fn symbol(field: &str, s: &str) -> Result<Symbol, AppError> {
    Symbol::new(s).map_err(|e| AppError::validation(format!("{field}: {e}")))
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
        (status = 422, description = "`VALIDATION_ERROR`, `UNKNOWN_FIELD`, `INVALID_DECIMAL`, `OFF_GRID`, `INVALID_MARKET_SPEC`, `INVALID_ASSET_SPEC`", body = ErrorResponse),
        (status = 503, description = "`JOURNAL_UNAVAILABLE`", body = ErrorResponse),
    ),
    security(("bearer" = []), ("api_key" = [])),
)]
async fn create_market(
    State(state): State<SharedState>,
    _admin: AdminUser,
    ApiJson(body): ApiJson<MarketBody>,
) -> Result<(StatusCode, Json<MarketJson>), AppError> {
    let defaults = state.config.markets.clone();
    let market_symbol = symbol("symbol", &body.symbol)?;
    let base_sym = symbol("base", &body.base)?;
    let quote_sym = symbol("quote", &body.quote)?;
    if base_sym == quote_sym {
        return Err(AppError::validation("base and quote must differ"));
    }
    let (tick, price_scale) = increment("tick_size", &body.tick_size)?;
    let (lot, qty_scale) = increment("lot_size", &body.lot_size)?;
    let (b, q, ms) = (
        base_sym.to_string(),
        quote_sym.to_string(),
        market_symbol.to_string(),
    );
    let (base, quote, exists) = state
        .seq
        .query(move |core| {
            let get = |s: &str| core.asset_by_symbol(s).and_then(|a| core.asset(a));
            (get(&b), get(&q), core.market_by_symbol(&ms).is_some())
        })
        .await?;
    if exists {
        return Err(AppError::Rejected(RejectCode::MarketExists));
    }
    let base_scale = base
        .as_ref()
        .map_or(defaults.base_scale.max(qty_scale), |a| a.scale);
    let fee = FeeSchedule {
        maker_bps: body.maker_fee_bps.unwrap_or(defaults.maker_fee_bps),
        taker_bps: body.taker_fee_bps.unwrap_or(defaults.taker_fee_bps),
    };
    let mut spec = MarketSpec {
        symbol: market_symbol,
        base: AssetId(0),
        quote: AssetId(0),
        base_scale,
        quote_scale: 0,
        price_scale,
        tick,
        qty_scale,
        lot,
        min_qty: Qty(1),
        max_qty: Qty(defaults.max_qty_lots),
        min_notional: Amount(0),
        price_band_bps: defaults.price_band_bps,
        market_slippage_bps: defaults.market_slippage_bps,
        max_open_orders: defaults.max_open_orders,
        fees: [fee; 3],
    };
    // Placeholder ids for validation only; the real ones are set below.
    spec.quote = AssetId(1);
    let quote_scale = match &quote {
        Some(a) => a.scale,
        None => (defaults.quote_scale..=18)
            .find(|s| {
                MarketSpec {
                    quote_scale: *s,
                    ..spec.clone()
                }
                .validate()
                .is_ok()
            })
            .ok_or(AppError::Rejected(RejectCode::InvalidMarketSpec))?,
    };
    spec.quote_scale = quote_scale;
    spec.validate()
        .map_err(|e| AppError::invalid("INVALID_MARKET_SPEC", e.to_string()))?;
    let scratch = MarketInfo {
        id: bourse_model::MarketId(0),
        spec: spec.clone(),
        base: String::new(),
        quote: String::new(),
        status: Default::default(),
        last_price: None,
        sequence: 0,
        quote_per_tick_lot: 0,
    };
    spec.min_notional = scratch.parse_quote("min_notional", &body.min_notional)?;
    if let Some(s) = &body.min_quantity {
        spec.min_qty = scratch.parse_qty("min_quantity", s)?;
    }
    if let Some(s) = &body.max_quantity {
        spec.max_qty = scratch.parse_qty("max_quantity", s)?;
    }
    spec.validate()
        .map_err(|e| AppError::invalid("INVALID_MARKET_SPEC", e.to_string()))?;

    spec.base = match base {
        Some(a) => a.id,
        None => create_asset(&state, base_sym, base_scale).await?,
    };
    spec.quote = match quote {
        Some(a) => a.id,
        None => create_asset(&state, quote_sym, quote_scale).await?,
    };
    let applied = state
        .seq
        .submit(CommandKind::CreateMarket(Box::new(spec)))
        .await?;
    if let Some((code, _)) = applied.rejected() {
        return Err(AppError::Rejected(code));
    }
    let info = state.seq.query(MarketInfo::all).await?;
    let id = applied
        .events
        .iter()
        .find_map(|e| match e {
            Event::MarketCreated { market, .. } => Some(*market),
            _ => None,
        })
        .ok_or_else(|| AppError::internal("CreateMarket produced no MarketCreated"))?;
    let m = info
        .iter()
        .find(|m| m.id == id)
        .ok_or_else(|| AppError::internal("created market not found"))?;
    Ok((StatusCode::CREATED, Json(MarketJson::from(m))))
}

async fn create_asset(state: &SharedState, symbol: Symbol, scale: u8) -> Result<AssetId, AppError> {
    let applied = state
        .seq
        .submit(CommandKind::CreateAsset { symbol, scale })
        .await?;
    for e in &applied.events {
        match e {
            Event::AssetCreated { asset, .. } => return Ok(*asset),
            Event::Rejected { code, .. } => return Err(AppError::Rejected(*code)),
            _ => {}
        }
    }
    Err(AppError::internal("CreateAsset produced no AssetCreated"))
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
) -> Result<Json<CoreStateJson>, AppError> {
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
) -> Result<Json<PendingWithdrawalPage>, AppError> {
    if !matches!(q.status.as_deref(), None | Some("pending")) {
        return Err(AppError::validation("status: only `pending` is supported"));
    }
    let limit = page_limit(q.limit, 100, bourse_store::MAX_PAGE)?;
    state.fence().await?;
    let rows = state
        .store
        .pending_withdrawals(check_cursor("cursor", q.cursor)?.map(WithdrawalId), limit)
        .await?;
    let names = Names::load(&state, rows.iter().map(|w| w.user.0).collect()).await?;
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
) -> Result<Json<WithdrawalJson>, AppError> {
    let applied = state.seq.submit(kind).await?;
    if let Some((code, _)) = applied.rejected() {
        return Err(AppError::Rejected(code));
    }
    load_withdrawal(state, WithdrawalId(id)).await.map(Json)
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
        (status = 503, description = "`JOURNAL_UNAVAILABLE`, `READ_MODEL_BEHIND`", body = ErrorResponse),
    ),
    security(("bearer" = []), ("api_key" = [])),
)]
async fn approve_withdrawal(
    State(state): State<SharedState>,
    _admin: AdminUser,
    Path(id): Path<u64>,
) -> Result<Json<WithdrawalJson>, AppError> {
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
        (status = 503, description = "`JOURNAL_UNAVAILABLE`, `READ_MODEL_BEHIND`", body = ErrorResponse),
    ),
    security(("bearer" = []), ("api_key" = [])),
)]
async fn reject_withdrawal(
    State(state): State<SharedState>,
    _admin: AdminUser,
    Path(id): Path<u64>,
) -> Result<Json<WithdrawalJson>, AppError> {
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
) -> Result<Json<MarketJson>, AppError> {
    let m = market_info(state, symbol).await?;
    let applied = state
        .seq
        .submit(CommandKind::SetMarketStatus {
            market: m.id,
            status,
        })
        .await?;
    if let Some((code, _)) = applied.rejected() {
        return Err(AppError::Rejected(code));
    }
    let m = market_info(state, symbol).await?;
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
        (status = 503, description = "`JOURNAL_UNAVAILABLE`", body = ErrorResponse),
    ),
    security(("bearer" = []), ("api_key" = [])),
)]
async fn halt_market(
    State(state): State<SharedState>,
    _admin: AdminUser,
    Path(symbol): Path<String>,
) -> Result<Json<MarketJson>, AppError> {
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
        (status = 503, description = "`JOURNAL_UNAVAILABLE`", body = ErrorResponse),
    ),
    security(("bearer" = []), ("api_key" = [])),
)]
async fn resume_market(
    State(state): State<SharedState>,
    _admin: AdminUser,
    Path(symbol): Path<String>,
) -> Result<Json<MarketJson>, AppError> {
    set_market_status(&state, &symbol, MarketStatus::Open).await
}

/// This module's part of the OpenAPI document (see `crate::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        deposit,
        pending_withdrawals,
        approve_withdrawal,
        reject_withdrawal,
        create_market,
        halt_market,
        resume_market,
        core_state
    ),
    components(schemas(
        DepositBody,
        AdminDepositJson,
        MarketBody,
        CoreStateJson,
        PendingWithdrawalPage
    ))
)]
pub struct Doc;
