//! Orders and fills of the caller:
//!
//! - `POST /api/v1/orders` place (every type, TIF, post-only, STP);
//! - `GET /api/v1/orders?status=open|closed|all&market=&cursor=&limit=` list, newest first;
//! - `DELETE /api/v1/orders?market=` cancel all (optionally in one market);
//! - `GET`/`DELETE`/`PATCH /api/v1/orders/{id}` get, cancel, amend `{price?, quantity?}`;
//! - `GET /api/v1/fills?market=&cursor=&limit=` the caller's fills, newest first.
//!
//! `client_order_id` is an idempotency key: a retry with the same id and the same order
//! gets the original order back (200); the same id with a different order is 409
//! `DUPLICATE_CLIENT_ORDER_ID`. The core forgets an id once the idempotency window has
//! passed and its order is closed (`idempotency_window_ms`, 24 h by default).
//!
//! Amend follows the core: `quantity` is the new *total* size (it must exceed what is
//! filled); only a pure size decrease keeps queue priority, a price change or a size
//! increase re-queues the order (and it may trade at once).
//!
//! Another user's order is `UNKNOWN_ORDER` (404) for every route, like a missing one, so
//! ids do not leak.

use crate::auth::{AuthCaller, AuthUser};
use crate::error::{ApiError, ApiJson, Error};
use crate::openapi::ErrorResponse;
use crate::state::SharedState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use bourse_gateway::dto::{
    FillJson, OrderJson, OrderTypeSchema, SideSchema, StpModeSchema, TimeInForceSchema,
};
use bourse_gateway::market_info::{
    check_cursor, check_time, find_market, market_by_id, market_info, page_limit, GridParse,
    MarketInfo,
};
use bourse_gateway::orders::{load_order, OrderKey};
use bourse_gateway::rules;
use bourse_gateway::trading::Placed;
use bourse_gateway::Caller;
use bourse_model::{
    ClientOrderId, NewOrder, OrderId, OrderType, RejectCode, Side, StpMode, TimeInForce, Timestamp,
};
use bourse_store::{FillQuery, OrderQuery, StatusFilter};
use serde::{Deserialize, Serialize};
use utoipa::OpenApi;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<SharedState> {
    OpenApiRouter::with_openapi(Doc::openapi())
        .routes(routes!(list, place, cancel_all))
        .routes(routes!(get_one, cancel, amend))
        .routes(routes!(fills))
}

/// The body of `POST /api/v1/orders` (DESIGN §4). Which size and price fields are needed
/// depends on `type`:
///
/// | type        | price | quantity / quote_quantity               | stop_price |
/// |-------------|-------|-----------------------------------------|------------|
/// | limit       | yes   | quantity                                | no         |
/// | market      | no    | quantity, or quote_quantity (buy, sell) | no         |
/// | stop_limit  | yes   | quantity                                | yes        |
/// | stop_market | no    | quantity, or quote_quantity (buy only)  | yes        |
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"market": "BTC-USD", "side": "buy", "type": "limit",
    "price": "101.25", "quantity": "0.5", "time_in_force": "gtc", "client_order_id": "my-order-1"}))]
pub struct PlaceOrderBody {
    #[schema(example = "BTC-USD")]
    pub market: String,
    #[schema(value_type = SideSchema)]
    pub side: Side,
    #[serde(rename = "type")]
    #[schema(value_type = OrderTypeSchema)]
    pub order_type: OrderType,
    /// Limit price on the market's tick grid.
    #[schema(example = "101.25")]
    pub price: Option<String>,
    /// Base size on the market's lot grid.
    #[schema(example = "0.5")]
    pub quantity: Option<String>,
    /// Market orders: spend (buy) or receive (sell) this much quote, fees included.
    #[schema(example = "250")]
    pub quote_quantity: Option<String>,
    /// Stop orders trigger when the last trade price reaches it (buy: ≥, sell: ≤).
    #[schema(example = "105")]
    pub stop_price: Option<String>,
    /// Default `gtc`; on a market or stop-market order `gtc` becomes `ioc` (it never rests).
    #[schema(value_type = Option<TimeInForceSchema>)]
    pub time_in_force: Option<TimeInForce>,
    /// Required with `gtd`, forbidden otherwise: ms since the epoch, in the future.
    #[schema(example = 1_700_000_600_000_u64)]
    pub expire_at: Option<u64>,
    /// Refuse (`POST_ONLY_WOULD_TAKE`) instead of taking liquidity; GTC/GTD limit orders.
    #[serde(default)]
    pub post_only: bool,
    /// Idempotency key: 1–36 characters of `[A-Za-z0-9_.:-]`, unique per user within the
    /// idempotency window (24 h by default) and while its order is open; after that it
    /// may name a new order.
    #[schema(example = "my-order-1")]
    pub client_order_id: Option<String>,
    /// Default `expire_taker`.
    #[schema(value_type = Option<StpModeSchema>)]
    pub stp: Option<StpMode>,
}

impl PlaceOrderBody {
    /// Parses decimals on the market's grid into a core order.
    pub fn to_new_order(&self, m: &MarketInfo, user: &Caller) -> Result<NewOrder, ApiError> {
        let client_order_id = self
            .client_order_id
            .as_deref()
            .map(ClientOrderId::new)
            .transpose()
            .map_err(|e| Error::validation(format!("client_order_id: {e}")))?;
        if let Some(t) = self.expire_at {
            check_time("expire_at", t)?;
        }
        Ok(NewOrder {
            user: user.id,
            market: m.id,
            side: self.side,
            order_type: self.order_type,
            price: self
                .price
                .as_deref()
                .map(|s| m.parse_price("price", s))
                .transpose()?,
            qty: self
                .quantity
                .as_deref()
                .map(|s| m.parse_qty("quantity", s))
                .transpose()?,
            quote_qty: self
                .quote_quantity
                .as_deref()
                .map(|s| m.parse_quote("quote_quantity", s))
                .transpose()?,
            stop_price: self
                .stop_price
                .as_deref()
                .map(|s| m.parse_price("stop_price", s))
                .transpose()?,
            // A market order never rests: GTC (the default) is stored and shown as the IOC
            // the core runs it as.
            tif: match self.time_in_force.unwrap_or_default() {
                TimeInForce::Gtc if self.order_type.is_market() => TimeInForce::Ioc,
                tif => tif,
            },
            expire_at: self.expire_at.map(Timestamp),
            post_only: self.post_only,
            stp: self.stp.unwrap_or_default(),
            client_order_id,
        })
    }
}

/// Place an order.
///
/// Answers 201 with the order as it stands after matching (its fills included), or 200
/// with the original order when `client_order_id` was already used for the same order.
#[utoipa::path(
    post,
    path = "/api/v1/orders",
    tag = "orders",
    request_body = PlaceOrderBody,
    responses(
        (status = 201, description = "Accepted: the order after matching, with its fills", body = OrderJson),
        (status = 200, description = "A retry: `client_order_id` was already used for this same order, which is returned", body = OrderJson),
        (status = 400, description = "`MALFORMED_JSON`", body = ErrorResponse),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorResponse),
        (status = 403, description = "`KILL_SWITCH_ACTIVE`, `KYC_REQUIRED`", body = ErrorResponse),
        (status = 404, description = "`UNKNOWN_MARKET`", body = ErrorResponse),
        (status = 409, description = "`DUPLICATE_CLIENT_ORDER_ID` (same id, different order), `MARKET_HALTED`", body = ErrorResponse),
        (status = 413, description = "`PAYLOAD_TOO_LARGE`", body = ErrorResponse),
        (status = 415, description = "`UNSUPPORTED_MEDIA_TYPE`", body = ErrorResponse),
        (status = 422, description = "`VALIDATION_ERROR`, `UNKNOWN_FIELD`, `INVALID_DECIMAL`, `OFF_GRID`, `INSUFFICIENT_BALANCE`, `INVALID_PRICE`, `INVALID_QUANTITY`, `INVALID_ORDER`, `QUANTITY_TOO_SMALL`, `QUANTITY_TOO_LARGE`, `NOTIONAL_TOO_SMALL`, `NOTIONAL_TOO_LARGE`, `PRICE_OUT_OF_BAND`, `TOO_MANY_OPEN_ORDERS`, `POST_ONLY_WOULD_TAKE`, `FOK_CANNOT_FILL`, `EXPIRE_AT_IN_PAST`, `STOP_WOULD_TRIGGER_IMMEDIATELY`", body = ErrorResponse),
        (status = 503, description = "`JOURNAL_UNAVAILABLE`, `OVERLOADED`, `READ_MODEL_BEHIND`", body = ErrorResponse),
    ),
    security(("bearer" = []), ("api_key" = [])),
)]
async fn place(
    State(state): State<SharedState>,
    user: AuthCaller,
    ApiJson(body): ApiJson<PlaceOrderBody>,
) -> Result<(StatusCode, Json<OrderJson>), ApiError> {
    let m = market_info(&state, &body.market)?;
    let order = body.to_new_order(&m, &user)?;
    let key = OrderKey::of(&order).normalized();
    match state.place(&user, order).await? {
        Placed::New(o) => Ok((StatusCode::CREATED, Json(OrderJson::from_state(&m, &o)))),
        // A retry: the original if it is the same order.
        Placed::Duplicate(original) => {
            let o = load_order(&state, user.id, original).await?;
            if OrderKey::of_json(&o, &m).map(OrderKey::normalized) == Some(key) {
                Ok((StatusCode::OK, Json(o)))
            } else {
                Err(Error::Rejected(RejectCode::DuplicateClientOrderId).into())
            }
        }
    }
}

/// Get one of the caller's orders (open or closed) with its fills.
#[utoipa::path(
    get,
    path = "/api/v1/orders/{id}",
    tag = "orders",
    params(("id" = u64, Path, description = "Order id", example = 42)),
    responses(
        (status = 200, description = "The order with its fills", body = OrderJson),
        (status = 400, description = "`BAD_REQUEST`: the id is not a non-negative 64-bit integer", body = ErrorResponse),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorResponse),
        (status = 404, description = "`UNKNOWN_ORDER` (also another user's order)", body = ErrorResponse),
        (status = 503, description = "`READ_MODEL_BEHIND`", body = ErrorResponse),
    ),
    security(("bearer" = []), ("api_key" = [])),
)]
async fn get_one(
    State(state): State<SharedState>,
    user: AuthUser,
    Path(id): Path<u64>,
) -> Result<Json<OrderJson>, ApiError> {
    Ok(Json(load_order(&state, user.id, OrderId(id)).await?))
}

/// Cancel one open order; answers the order as canceled.
#[utoipa::path(
    delete,
    path = "/api/v1/orders/{id}",
    tag = "orders",
    params(("id" = u64, Path, description = "Order id", example = 42)),
    responses(
        (status = 200, description = "The canceled order, built from the cancel's own events (never a wait on the read models); `fills` is empty: `GET /api/v1/orders/{id}` lists every fill", body = OrderJson),
        (status = 400, description = "`BAD_REQUEST`: the id is not a non-negative 64-bit integer", body = ErrorResponse),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorResponse),
        (status = 404, description = "`UNKNOWN_ORDER`: no such open order of the caller (closed, missing or another user's)", body = ErrorResponse),
        (status = 503, description = "`JOURNAL_UNAVAILABLE`, `OVERLOADED`", body = ErrorResponse),
    ),
    security(("bearer" = []), ("api_key" = [])),
)]
async fn cancel(
    State(state): State<SharedState>,
    user: AuthCaller,
    Path(id): Path<u64>,
) -> Result<Json<OrderJson>, ApiError> {
    let o = state.cancel(&user, OrderId(id)).await?;
    let m = market_by_id(&state, o.info.market)?;
    Ok(Json(OrderJson::from_state(&m, &o)))
}

/// The body of `PATCH /api/v1/orders/{id}`: at least one field.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"price": "101.50", "quantity": "0.8"}))]
pub struct AmendBody {
    /// New limit price (limit and stop-limit orders).
    #[schema(example = "101.50")]
    pub price: Option<String>,
    /// New *total* size; must exceed what is already filled.
    #[schema(example = "0.8")]
    pub quantity: Option<String>,
}

/// Amend an open order's price and/or total size.
///
/// A pure size decrease keeps the order's place in the queue; a price change or a size
/// increase moves it to the back of its (new) price level, and it may trade at once.
#[utoipa::path(
    patch,
    path = "/api/v1/orders/{id}",
    tag = "orders",
    params(("id" = u64, Path, description = "Order id", example = 42)),
    request_body = AmendBody,
    responses(
        (status = 200, description = "The amended order after any matching, built from the amend's own events; `fills` are the ones the amend made", body = OrderJson),
        (status = 400, description = "`BAD_REQUEST` (bad id), `MALFORMED_JSON`", body = ErrorResponse),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorResponse),
        (status = 404, description = "`UNKNOWN_ORDER`: no such open order of the caller", body = ErrorResponse),
        (status = 409, description = "`MARKET_HALTED`, `ORDER_NOT_AMENDABLE` (quote-sized stop orders)", body = ErrorResponse),
        (status = 422, description = "`VALIDATION_ERROR` (no field given), `UNKNOWN_FIELD`, `INVALID_DECIMAL`, `OFF_GRID`, `INVALID_PRICE`, `INVALID_QUANTITY`, `QUANTITY_TOO_SMALL`, `QUANTITY_TOO_LARGE`, `NOTIONAL_TOO_SMALL`, `NOTIONAL_TOO_LARGE`, `PRICE_OUT_OF_BAND`, `POST_ONLY_WOULD_TAKE`, `INSUFFICIENT_BALANCE`", body = ErrorResponse),
        (status = 503, description = "`JOURNAL_UNAVAILABLE`, `OVERLOADED`", body = ErrorResponse),
    ),
    security(("bearer" = []), ("api_key" = [])),
)]
async fn amend(
    State(state): State<SharedState>,
    user: AuthCaller,
    Path(id): Path<u64>,
    ApiJson(body): ApiJson<AmendBody>,
) -> Result<Json<OrderJson>, ApiError> {
    if body.price.is_none() && body.quantity.is_none() {
        return Err(Error::validation("give price, quantity or both").into());
    }
    let order = OrderId(id);
    let m = state.order_market(&user, order).await?;
    let price = body
        .price
        .as_deref()
        .map(|s| m.parse_price("price", s))
        .transpose()?;
    let qty = body
        .quantity
        .as_deref()
        .map(|s| m.parse_qty("quantity", s))
        .transpose()?;
    let o = state.amend(&user, order, price, qty).await?;
    Ok(Json(OrderJson::from_state(&m, &o)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CancelAllQuery {
    /// Only this market; all markets when absent.
    #[param(example = "BTC-USD")]
    pub market: Option<String>,
}

/// One order canceled by cancel-all.
#[derive(Debug, Serialize, ToSchema)]
pub struct CanceledOrderJson {
    #[schema(example = 42)]
    pub id: u64,
    #[schema(example = "BTC-USD")]
    pub market: String,
    #[schema(example = "0.2000")]
    pub filled_quantity: String,
    /// What was left open and is now canceled.
    #[schema(example = "0.8000")]
    pub remaining_quantity: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"count": 1, "orders": [{"id": 42, "market": "BTC-USD",
    "filled_quantity": "0.2000", "remaining_quantity": "0.8000"}]}))]
pub struct CancelAllJson {
    pub count: usize,
    pub orders: Vec<CanceledOrderJson>,
}

/// Cancel all the caller's open orders (resting and untriggered stops), in one market or
/// everywhere. Works on halted markets too.
#[utoipa::path(
    delete,
    path = "/api/v1/orders",
    tag = "orders",
    params(CancelAllQuery),
    responses(
        (status = 200, description = "What was canceled (possibly nothing)", body = CancelAllJson),
        (status = 400, description = "`BAD_REQUEST`: bad query string", body = ErrorResponse),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorResponse),
        (status = 404, description = "`UNKNOWN_MARKET`", body = ErrorResponse),
        (status = 503, description = "`JOURNAL_UNAVAILABLE`, `OVERLOADED`", body = ErrorResponse),
    ),
    security(("bearer" = []), ("api_key" = [])),
)]
async fn cancel_all(
    State(state): State<SharedState>,
    user: AuthCaller,
    Query(q): Query<CancelAllQuery>,
) -> Result<Json<CancelAllJson>, ApiError> {
    let market = match &q.market {
        Some(sym) => Some(market_info(&state, sym)?.id),
        None => None,
    };
    let markets = state.markets();
    let orders: Vec<CanceledOrderJson> = state
        .cancel_all(&user, market)
        .await?
        .into_iter()
        .filter_map(|(order, market, filled, remaining)| {
            let m = markets.iter().find(|m| m.id == market)?;
            Some(CanceledOrderJson {
                id: order.0,
                market: m.symbol().to_owned(),
                filled_quantity: m.qty(filled),
                remaining_quantity: m.qty(remaining),
            })
        })
        .collect();
    Ok(Json(CancelAllJson {
        count: orders.len(),
        orders,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `open` (new, open, partially filled), `closed` (filled, canceled, rejected,
    /// expired) or `all` (default).
    #[param(example = "open")]
    pub status: Option<String>,
    #[param(example = "BTC-USD")]
    pub market: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<u64>,
    /// Same as `cursor` (older name).
    pub before: Option<u64>,
    /// Page size, 1–1000 (default 100).
    #[param(example = 100)]
    pub limit: Option<u32>,
}

/// A page of orders, newest first.
#[derive(Serialize, ToSchema)]
pub struct OrderPage {
    pub orders: Vec<OrderJson>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<u64>,
}

const DEFAULT_PAGE: u32 = 100;

/// List the caller's orders, newest first (without their fills).
#[utoipa::path(
    get,
    path = "/api/v1/orders",
    tag = "orders",
    params(ListQuery),
    responses(
        (status = 200, description = "A page of orders", body = OrderPage),
        (status = 400, description = "`BAD_REQUEST`: a query parameter is not of its type", body = ErrorResponse),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorResponse),
        (status = 404, description = "`UNKNOWN_MARKET`", body = ErrorResponse),
        (status = 422, description = "`VALIDATION_ERROR`: bad `status` or `limit`", body = ErrorResponse),
        (status = 503, description = "`READ_MODEL_BEHIND`", body = ErrorResponse),
    ),
    security(("bearer" = []), ("api_key" = [])),
)]
async fn list(
    State(state): State<SharedState>,
    user: AuthUser,
    Query(q): Query<ListQuery>,
) -> Result<Json<OrderPage>, ApiError> {
    let status = match q.status.as_deref() {
        None | Some("all") => None,
        Some("open") => Some(StatusFilter::Open),
        Some("closed") => Some(StatusFilter::Closed),
        Some(_) => return Err(Error::validation("status: open, closed or all").into()),
    };
    let limit = page_limit(q.limit, DEFAULT_PAGE, rules::PAGE_LIMIT)?;
    let markets = state.markets();
    let market = match &q.market {
        None => None,
        Some(sym) => Some(find_market(&markets, sym)?.id),
    };
    state.fence().await?;
    let rows = state
        .store
        .orders(&OrderQuery {
            user: user.id,
            status,
            market,
            before: check_cursor("cursor", q.cursor.or(q.before))?.map(OrderId),
            limit,
        })
        .await?;
    let next_cursor = (rows.len() as u32 == limit)
        .then(|| rows.last().map(|o| o.id.0))
        .flatten();
    let orders = rows
        .iter()
        .filter_map(|o| {
            let m = markets.iter().find(|m| m.id == o.market)?;
            Some(OrderJson::from_row(m, o, None))
        })
        .collect();
    Ok(Json(OrderPage {
        orders,
        next_cursor,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FillsQuery {
    #[param(example = "BTC-USD")]
    pub market: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<u64>,
    /// Page size, 1–1000 (default 100).
    #[param(example = 100)]
    pub limit: Option<u32>,
}

/// A page of fills, newest first.
#[derive(Serialize, ToSchema)]
pub struct FillPage {
    pub fills: Vec<FillJson>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<u64>,
}

/// The caller's fills (trade history), newest first.
#[utoipa::path(
    get,
    path = "/api/v1/fills",
    tag = "orders",
    params(FillsQuery),
    responses(
        (status = 200, description = "A page of fills", body = FillPage),
        (status = 400, description = "`BAD_REQUEST`: a query parameter is not of its type", body = ErrorResponse),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorResponse),
        (status = 404, description = "`UNKNOWN_MARKET`", body = ErrorResponse),
        (status = 422, description = "`VALIDATION_ERROR`: bad `limit`", body = ErrorResponse),
        (status = 503, description = "`READ_MODEL_BEHIND`", body = ErrorResponse),
    ),
    security(("bearer" = []), ("api_key" = [])),
)]
async fn fills(
    State(state): State<SharedState>,
    user: AuthUser,
    Query(q): Query<FillsQuery>,
) -> Result<Json<FillPage>, ApiError> {
    let limit = page_limit(q.limit, DEFAULT_PAGE, rules::PAGE_LIMIT)?;
    let markets = state.markets();
    let market = match &q.market {
        None => None,
        Some(sym) => Some(find_market(&markets, sym)?.id),
    };
    state.fence().await?;
    let rows = state
        .store
        .fills(&FillQuery {
            user: user.id,
            market,
            before: check_cursor("cursor", q.cursor)?,
            limit,
        })
        .await?;
    let next_cursor = (rows.len() as u32 == limit)
        .then(|| rows.last().map(|f| f.id))
        .flatten();
    let fills = rows
        .iter()
        .filter_map(|f| {
            let m = markets.iter().find(|m| m.id == f.market)?;
            Some(FillJson::from_row(m, f))
        })
        .collect();
    Ok(Json(FillPage { fills, next_cursor }))
}

/// This module's part of the OpenAPI document (see `crate::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(components(schemas(
    PlaceOrderBody,
    AmendBody,
    OrderJson,
    FillJson,
    OrderPage,
    FillPage,
    CancelAllJson,
    CanceledOrderJson,
    SideSchema,
    OrderTypeSchema,
    TimeInForceSchema,
    StpModeSchema,
    bourse_gateway::dto::OrderStatusSchema,
    bourse_gateway::dto::LiquiditySchema,
)))]
pub struct Doc;
