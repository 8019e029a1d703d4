//! Admin (role `admin`): `POST /api/v1/admin/deposits`, `POST /api/v1/admin/markets`,
//! and `GET /api/v1/admin/state` (journal position, state hash, ledger invariants — what
//! the crash test compares with an offline `bourse verify`).
//!
//! Creating a market creates its base and quote assets if they do not exist yet: the
//! base with `max(markets.base_scale, decimals of lot_size)` decimals, the quote with the
//! smallest number of decimals ≥ `markets.quote_scale` for which one tick × one lot is a
//! whole number of quote minor units (the grid rule of `MarketSpec`). Existing assets
//! keep their scale; a grid they cannot carry is `INVALID_MARKET_SPEC`.

use crate::api::views::{decimal_error, MarketInfo, MarketJson};
use crate::auth::AdminUser;
use crate::error::{ApiJson, AppError};
use crate::state::SharedState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use bourse_model::{
    format_units, parse_units, Amount, AssetId, CommandKind, Event, FeeSchedule, MarketSpec, Qty,
    RejectCode, Symbol,
};
use serde::{Deserialize, Serialize};

pub fn router() -> Router<SharedState> {
    Router::new()
        .route("/api/v1/admin/deposits", post(deposit))
        .route("/api/v1/admin/markets", post(create_market))
        .route("/api/v1/admin/state", get(core_state))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DepositBody {
    username: String,
    asset: String,
    amount: String,
}

#[derive(Serialize)]
struct DepositJson {
    username: String,
    asset: String,
    amount: String,
    available: String,
    held: String,
}

async fn deposit(
    State(state): State<SharedState>,
    _admin: AdminUser,
    ApiJson(body): ApiJson<DepositBody>,
) -> Result<(StatusCode, Json<DepositJson>), AppError> {
    let (name, sym) = (body.username.clone(), body.asset.clone());
    let (user, asset) = state
        .seq
        .query(move |core| {
            let asset = core.asset_by_symbol(&sym).and_then(|a| core.asset(a));
            (core.user_by_name(&name), asset)
        })
        .await?;
    let user = user.ok_or(AppError::Rejected(RejectCode::UnknownUser))?;
    let asset = asset.ok_or(AppError::Rejected(RejectCode::UnknownAsset))?;
    let amount = parse_units(&body.amount, asset.scale).map_err(|e| decimal_error("amount", e))?;
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
        Json(DepositJson {
            username: body.username,
            asset: asset.symbol.to_string(),
            amount: format_units(amount, asset.scale),
            available: format_units(available.0, asset.scale),
            held: format_units(held.0, asset.scale),
        }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MarketBody {
    symbol: String,
    base: String,
    quote: String,
    tick_size: String,
    lot_size: String,
    min_notional: String,
    /// Optional; default one lot.
    min_quantity: Option<String>,
    /// Optional; default `markets.max_qty_lots` lots.
    max_quantity: Option<String>,
    maker_fee_bps: Option<u32>,
    taker_fee_bps: Option<u32>,
}

/// `"0.01"` → (1, 2): units at the decimals written.
fn increment(field: &str, s: &str) -> Result<(u64, u8), AppError> {
    let scale = s.split_once('.').map_or(0, |(_, f)| f.len());
    let scale = u8::try_from(scale)
        .ok()
        .filter(|s| *s <= 18)
        .ok_or_else(|| AppError::validation(format!("{field}: at most 18 decimals")))?;
    let units = parse_units(s, scale).map_err(|e| decimal_error(field, e))?;
    if units == 0 {
        return Err(AppError::validation(format!("{field}: must be positive")));
    }
    Ok((units, scale))
}

fn symbol(field: &str, s: &str) -> Result<Symbol, AppError> {
    Symbol::new(s).map_err(|e| AppError::validation(format!("{field}: {e}")))
}

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

#[derive(Serialize)]
struct CoreStateJson {
    last_seq: u64,
    state_hash: String,
    /// `ok` or the first violated invariant.
    invariants: String,
    open_orders: usize,
    users: usize,
}

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

/// This module's part of the OpenAPI document (see `crate::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi()]
pub struct Doc;
