//! Public market data (no authentication):
//!
//! - `GET /api/v1/markets`: every market with its grid, limits, fees and status;
//! - `GET /api/v1/markets/{symbol}/book?depth=N`: aggregated levels, best first, with
//!   the book sequence (live, from the core);
//! - `GET /api/v1/markets/{symbol}/trades?limit=&cursor=`: recent trades, newest first;
//! - `GET /api/v1/markets/{symbol}/ticker`: 24 h statistics (from the 1-minute candles,
//!   exact to the minute) with the best bid and ask;
//! - `GET /api/v1/markets/{symbol}/candles?interval=&start=&end=&limit=`: OHLCV buckets
//!   aligned to the epoch, oldest first; buckets without trades are absent.
//!
//! Trades, ticker and candles come from the read models after a read fence, so they
//! include every trade acknowledged before the request.

use crate::error::{ApiError, Error};
use crate::openapi::ErrorResponse;
use crate::state::SharedState;
use axum::extract::{Path, Query, State};
use axum::Json;
use bourse_engine::sequencer::now_ms;
use bourse_gateway::dto::{MarketJson, SideSchema};
use bourse_gateway::market_info::{check_cursor, check_time, market_info, page_limit};
use bourse_gateway::rules;
use bourse_model::{format_units, Price, Qty, Side, Timestamp, TradeId};
use bourse_store::Interval;
use serde::{Deserialize, Serialize};
use utoipa::OpenApi;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<SharedState> {
    OpenApiRouter::with_openapi(Doc::openapi())
        .routes(routes!(list))
        .routes(routes!(book))
        .routes(routes!(trades))
        .routes(routes!(ticker))
        .routes(routes!(candles))
}

/// All markets, in creation order.
#[utoipa::path(
    get,
    path = "/api/v1/markets",
    tag = "market data",
    responses((status = 200, description = "Every market", body = Vec<MarketJson>)),
)]
async fn list(State(state): State<SharedState>) -> Result<Json<Vec<MarketJson>>, ApiError> {
    let markets = state.markets();
    Ok(Json(markets.iter().map(MarketJson::from).collect()))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct BookQuery {
    /// Levels per side, 1–1000 (default 50).
    #[param(example = 20)]
    depth: Option<u32>,
}

/// Aggregated order book: `[price, total quantity]` per level, best first.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"symbol": "BTC-USD", "sequence": 1842,
    "bids": [["101.20", "0.5000"], ["101.10", "1.2500"]],
    "asks": [["101.30", "0.7500"]]}))]
struct BookJson {
    symbol: String,
    /// The book sequence: +1 per command that changed this book (see the WebSocket
    /// `book.*` channel).
    sequence: u64,
    bids: Vec<[String; 2]>,
    asks: Vec<[String; 2]>,
}

const DEFAULT_DEPTH: u64 = 50;

/// The order book of one market.
#[utoipa::path(
    get,
    path = "/api/v1/markets/{symbol}/book",
    tag = "market data",
    params(("symbol" = String, Path, description = "Market symbol, e.g. `BTC-USD`", example = "BTC-USD"), BookQuery),
    responses(
        (status = 200, description = "The book", body = BookJson),
        (status = 400, description = "`BAD_REQUEST`: `depth` is not an integer", body = ErrorResponse),
        (status = 404, description = "`UNKNOWN_MARKET`", body = ErrorResponse),
        (status = 422, description = "`VALIDATION_ERROR`: `depth` outside 1–1000", body = ErrorResponse),
    ),
)]
async fn book(
    State(state): State<SharedState>,
    Path(symbol): Path<String>,
    Query(q): Query<BookQuery>,
) -> Result<Json<BookJson>, ApiError> {
    let depth =
        rules::BOOK_DEPTH.check_or("depth", q.depth.map(u64::from), DEFAULT_DEPTH)? as usize;
    let s = state
        .seq
        .views()
        .market_by_symbol(&symbol)
        .ok_or(Error::Rejected(bourse_model::RejectCode::UnknownMarket))?;
    let m = &s.info;
    let level = |&(p, q): &(Price, Qty)| [m.price(p), m.qty(q)];
    Ok(Json(BookJson {
        symbol: m.symbol().to_owned(),
        sequence: m.sequence,
        bids: s.bids.iter().take(depth).map(level).collect(),
        asks: s.asks.iter().take(depth).map(level).collect(),
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct TradesQuery {
    /// Trades to return, 1–1000 (default 100).
    #[param(example = 50)]
    limit: Option<u32>,
    /// Only trades older than this trade id (the `id` of the last trade of the previous page).
    cursor: Option<u64>,
}

/// A public trade.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": 17, "price": "101.25", "quantity": "0.5000",
    "quote_quantity": "50.625000", "taker_side": "buy", "created_at": 1_700_000_000_500_u64}))]
struct TradeJson {
    id: u64,
    price: String,
    quantity: String,
    /// price × quantity in the quote asset, before fees.
    quote_quantity: String,
    /// The side of the incoming (taker) order.
    #[schema(value_type = SideSchema)]
    taker_side: Side,
    created_at: u64,
}

/// Recent trades of one market, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/markets/{symbol}/trades",
    tag = "market data",
    params(("symbol" = String, Path, description = "Market symbol, e.g. `BTC-USD`", example = "BTC-USD"), TradesQuery),
    responses(
        (status = 200, description = "Trades, newest first", body = Vec<TradeJson>),
        (status = 400, description = "`BAD_REQUEST`: a query parameter is not an integer", body = ErrorResponse),
        (status = 404, description = "`UNKNOWN_MARKET`", body = ErrorResponse),
        (status = 422, description = "`VALIDATION_ERROR`: `limit` outside 1–1000", body = ErrorResponse),
        (status = 503, description = "`READ_MODEL_BEHIND`", body = ErrorResponse),
    ),
)]
async fn trades(
    State(state): State<SharedState>,
    Path(symbol): Path<String>,
    Query(q): Query<TradesQuery>,
) -> Result<Json<Vec<TradeJson>>, ApiError> {
    let limit = page_limit(q.limit, 100, rules::PAGE_LIMIT)?;
    let m = market_info(&state, &symbol)?;
    state.fence().await?;
    let rows = state
        .store
        .trades(m.id, check_cursor("cursor", q.cursor)?.map(TradeId), limit)
        .await?;
    Ok(Json(
        rows.iter()
            .map(|t| TradeJson {
                id: t.id.0,
                price: m.price(t.price),
                quantity: m.qty(t.qty),
                quote_quantity: m.quote_amount(t.notional),
                taker_side: t.taker_side,
                created_at: t.created_at.0,
            })
            .collect(),
    ))
}

/// 24 h statistics. Prices are `null` when there was no trade in the window (`last`
/// may still be set from an older trade).
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"symbol": "BTC-USD", "open": "100.00", "high": "102.50",
    "low": "99.50", "last": "101.25", "volume": "12.5000", "quote_volume": "1262.500000",
    "change": "1.25", "change_percent": "1.25", "trade_count": 48,
    "best_bid": "101.20", "best_bid_quantity": "0.5000",
    "best_ask": "101.30", "best_ask_quantity": "0.7500", "time": 1_700_000_000_000_u64}))]
struct TickerJson {
    symbol: String,
    /// First trade price of the window.
    open: Option<String>,
    high: Option<String>,
    low: Option<String>,
    /// Latest trade price (any time).
    last: Option<String>,
    /// Base volume in the window.
    volume: String,
    /// Quote volume in the window (Σ price × quantity).
    quote_volume: String,
    /// `last − open`, signed.
    change: Option<String>,
    /// `(last − open) / open` in percent with two decimals, truncated toward zero, signed.
    change_percent: Option<String>,
    trade_count: u64,
    best_bid: Option<String>,
    best_bid_quantity: Option<String>,
    best_ask: Option<String>,
    best_ask_quantity: Option<String>,
    /// When the statistics were computed (ms).
    time: u64,
}

/// `a − b` in ticks as a signed decimal of `scale` digits.
fn signed_diff(a: u64, b: u64, tick: u64, scale: u8) -> String {
    let (sign, d) = if a >= b { ("", a - b) } else { ("-", b - a) };
    format!("{sign}{}", format_units(d.saturating_mul(tick), scale))
}

/// `(last − open) / open × 100` with two decimals, truncated toward zero.
fn change_percent(last: u64, open: u64) -> Option<String> {
    if open == 0 {
        return None;
    }
    let (sign, d) = if last >= open {
        ("", last - open)
    } else {
        ("-", open - last)
    };
    // Basis points of a percent: ×10⁴ then two decimals.
    let hundredths = u128::from(d) * 10_000 / u128::from(open);
    let sign = if hundredths == 0 { "" } else { sign };
    Some(format!(
        "{sign}{}.{:02}",
        hundredths / 100,
        hundredths % 100
    ))
}

/// 24 h ticker of one market.
#[utoipa::path(
    get,
    path = "/api/v1/markets/{symbol}/ticker",
    tag = "market data",
    params(("symbol" = String, Path, description = "Market symbol, e.g. `BTC-USD`", example = "BTC-USD")),
    responses(
        (status = 200, description = "The ticker", body = TickerJson),
        (status = 404, description = "`UNKNOWN_MARKET`", body = ErrorResponse),
        (status = 503, description = "`READ_MODEL_BEHIND`", body = ErrorResponse),
    ),
)]
async fn ticker(
    State(state): State<SharedState>,
    Path(symbol): Path<String>,
) -> Result<Json<TickerJson>, ApiError> {
    let s = state
        .seq
        .views()
        .market_by_symbol(&symbol)
        .ok_or(Error::Rejected(bourse_model::RejectCode::UnknownMarket))?;
    let m = &s.info;
    let (bid, ask) = (s.bids.first().copied(), s.asks.first().copied());
    state.fence().await?;
    let now = now_ms();
    let t = state.store.ticker_24h(m.id, Timestamp(now)).await?;
    let last = t.last_price.or(m.last_price);
    let w = t.window;
    let (change, change_pct) = match (w, last) {
        (Some(w), Some(last)) => (
            Some(signed_diff(
                last.0,
                w.open.0,
                m.spec.tick,
                m.spec.price_scale,
            )),
            change_percent(last.0, w.open.0),
        ),
        _ => (None, None),
    };
    Ok(Json(TickerJson {
        symbol: m.symbol().to_owned(),
        open: w.map(|w| m.price(w.open)),
        high: w.map(|w| m.price(w.high)),
        low: w.map(|w| m.price(w.low)),
        last: last.map(|p| m.price(p)),
        volume: m.qty(w.map_or(Qty::ZERO, |w| w.volume)),
        quote_volume: m.quote_amount(w.map_or(bourse_model::Amount::ZERO, |w| w.quote_volume)),
        change,
        change_percent: change_pct,
        trade_count: w.map_or(0, |w| w.trade_count),
        best_bid: bid.map(|(p, _)| m.price(p)),
        best_bid_quantity: bid.map(|(_, q)| m.qty(q)),
        best_ask: ask.map(|(p, _)| m.price(p)),
        best_ask_quantity: ask.map(|(_, q)| m.qty(q)),
        time: now,
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct CandlesQuery {
    /// `1m`, `5m`, `15m`, `1h`, `4h` or `1d` (default `1m`).
    #[param(example = "1m")]
    interval: Option<String>,
    /// First bucket start to include (ms); default: `limit` buckets before `end`.
    #[param(example = 1_700_000_000_000_u64)]
    start: Option<u64>,
    /// Last bucket start to include (ms); default: now.
    #[param(example = 1_700_003_600_000_u64)]
    end: Option<u64>,
    /// Most candles returned, 1–1000 (default 500); a longer range returns its oldest
    /// candles: page on with `start` = last candle's `time` + one interval.
    #[param(example = 500)]
    limit: Option<u32>,
}

/// One OHLCV bucket.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"time": 1_700_000_040_000_u64, "open": "100.00", "high": "101.50",
    "low": "99.75", "close": "101.25", "volume": "3.2500", "quote_volume": "326.512500",
    "trade_count": 7}))]
struct CandleJson {
    /// Bucket start (ms), aligned to the epoch.
    time: u64,
    open: String,
    high: String,
    low: String,
    close: String,
    volume: String,
    quote_volume: String,
    trade_count: u64,
}

const DEFAULT_CANDLES: u32 = 500;

/// OHLCV candles of one market, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/markets/{symbol}/candles",
    tag = "market data",
    params(("symbol" = String, Path, description = "Market symbol, e.g. `BTC-USD`", example = "BTC-USD"), CandlesQuery),
    responses(
        (status = 200, description = "Candles with trades in the range, oldest first", body = Vec<CandleJson>),
        (status = 400, description = "`BAD_REQUEST`: `start`, `end` or `limit` is not an integer", body = ErrorResponse),
        (status = 404, description = "`UNKNOWN_MARKET`", body = ErrorResponse),
        (status = 422, description = "`VALIDATION_ERROR`: unknown `interval`, `start` after `end`, a time past year 9999, `limit` outside 1–1000", body = ErrorResponse),
        (status = 503, description = "`READ_MODEL_BEHIND`", body = ErrorResponse),
    ),
)]
async fn candles(
    State(state): State<SharedState>,
    Path(symbol): Path<String>,
    Query(q): Query<CandlesQuery>,
) -> Result<Json<Vec<CandleJson>>, ApiError> {
    let interval: Interval = q
        .interval
        .as_deref()
        .unwrap_or("1m")
        .parse()
        .map_err(|e| Error::validation(format!("interval: {e}")))?;
    let limit = page_limit(q.limit, DEFAULT_CANDLES, rules::CANDLE_LIMIT)?;
    if let Some(t) = q.start {
        check_time("start", t)?;
    }
    if let Some(t) = q.end {
        check_time("end", t)?;
    }
    let end = q.end.unwrap_or_else(now_ms);
    let start = q.start.unwrap_or_else(|| {
        interval
            .bucket(Timestamp(end))
            .0
            .saturating_sub(u64::from(limit - 1) * interval.millis())
    });
    if start > end {
        return Err(rules::START_NOT_AFTER_END.error().into());
    }
    let m = market_info(&state, &symbol)?;
    state.fence().await?;
    let rows = state
        .store
        .candles(m.id, interval, Timestamp(start), Timestamp(end), limit)
        .await?;
    Ok(Json(
        rows.iter()
            .map(|c| CandleJson {
                time: c.start.0,
                open: m.price(c.open),
                high: m.price(c.high),
                low: m.price(c.low),
                close: m.price(c.close),
                volume: m.qty(c.volume),
                quote_volume: m.quote_amount(c.quote_volume),
                trade_count: c.trade_count,
            })
            .collect(),
    ))
}

/// This module's part of the OpenAPI document (see `crate::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(components(schemas(
    MarketJson,
    BookJson,
    TradeJson,
    TickerJson,
    CandleJson,
    bourse_gateway::dto::MarketStatusSchema
)))]
pub struct Doc;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_percent_is_truncated_and_signed() {
        assert_eq!(change_percent(10125, 10000).as_deref(), Some("1.25"));
        assert_eq!(change_percent(9875, 10000).as_deref(), Some("-1.25"));
        assert_eq!(change_percent(10000, 10000).as_deref(), Some("0.00"));
        assert_eq!(change_percent(2, 3).as_deref(), Some("-33.33"));
        assert_eq!(change_percent(30000, 10000).as_deref(), Some("200.00"));
        // Less than 0.01 % down is "0.00", not "-0.00".
        assert_eq!(change_percent(99_999, 100_000).as_deref(), Some("0.00"));
        assert_eq!(change_percent(1, 0), None);
        assert_eq!(signed_diff(99, 100, 1, 2), "-0.01");
        assert_eq!(signed_diff(100, 99, 5, 2), "0.05");
    }
}
