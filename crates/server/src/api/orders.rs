//! Orders: place (`POST /api/v1/orders`), get / cancel (`GET`/`DELETE
//! /api/v1/orders/{id}`), list (`GET /api/v1/orders?status=&market=&before=&limit=`).
//!
//! `client_order_id` is an idempotency key: a retry with the same id and the same order
//! gets the original order back (200); the same id with a different order is 409
//! `DUPLICATE_CLIENT_ORDER_ID`.

use crate::api::views::{load_order, MarketInfo, OrderJson};
use crate::auth::AuthUser;
use crate::error::{ApiJson, AppError};
use crate::state::SharedState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use bourse_model::{
    Amount, ClientOrderId, CommandKind, MarketId, NewOrder, OrderId, OrderStatus, OrderType, Price,
    Qty, RejectCode, Side, StpMode, TimeInForce, Timestamp,
};
use bourse_store::{OrderQuery, StatusFilter};
use serde::{Deserialize, Serialize};

pub fn router() -> Router<SharedState> {
    Router::new()
        .route("/api/v1/orders", get(list).post(place))
        .route("/api/v1/orders/{id}", get(get_one).delete(cancel))
}

/// The body of `POST /api/v1/orders` (DESIGN §4).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaceOrderBody {
    pub market: String,
    pub side: Side,
    #[serde(rename = "type")]
    pub order_type: OrderType,
    pub price: Option<String>,
    pub quantity: Option<String>,
    pub quote_quantity: Option<String>,
    pub stop_price: Option<String>,
    pub time_in_force: Option<TimeInForce>,
    pub expire_at: Option<u64>,
    #[serde(default)]
    pub post_only: bool,
    pub client_order_id: Option<String>,
    pub stp: Option<StpMode>,
}

impl PlaceOrderBody {
    /// Parses decimals on the market's grid into a core order.
    pub fn to_new_order(&self, m: &MarketInfo, user: AuthUser) -> Result<NewOrder, AppError> {
        let client_order_id = self
            .client_order_id
            .as_deref()
            .map(ClientOrderId::new)
            .transpose()
            .map_err(|e| AppError::validation(format!("client_order_id: {e}")))?;
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
            tif: self.time_in_force.unwrap_or_default(),
            expire_at: self.expire_at.map(Timestamp),
            post_only: self.post_only,
            stp: self.stp.unwrap_or_default(),
            client_order_id,
        })
    }
}

/// What makes two submissions "the same order" for idempotency.
#[derive(Debug, PartialEq, Eq)]
struct OrderKey {
    market: MarketId,
    side: Side,
    order_type: OrderType,
    price: Option<Price>,
    qty: Option<Qty>,
    quote_qty: Option<Amount>,
    stop_price: Option<Price>,
    tif: TimeInForce,
    expire_at: Option<u64>,
    post_only: bool,
    stp: StpMode,
}

impl OrderKey {
    fn of(o: &NewOrder) -> Self {
        OrderKey {
            market: o.market,
            side: o.side,
            order_type: o.order_type,
            price: o.price,
            qty: o.qty,
            quote_qty: o.quote_qty,
            stop_price: o.stop_price,
            tif: o.tif,
            expire_at: o.expire_at.map(|t| t.0),
            post_only: o.post_only,
            stp: o.stp,
        }
    }

    fn of_json(o: &OrderJson, m: &MarketInfo) -> Option<Self> {
        let p = |s: &Option<String>| s.as_deref().map(|s| m.spec.parse_price(s)).transpose().ok();
        Some(OrderKey {
            market: m.id,
            side: o.side,
            order_type: o.order_type,
            price: p(&o.price)?,
            qty: o
                .quantity
                .as_deref()
                .map(|s| m.spec.parse_qty(s))
                .transpose()
                .ok()?,
            quote_qty: o
                .quote_quantity
                .as_deref()
                .map(|s| m.parse_quote("", s))
                .transpose()
                .ok()?,
            stop_price: p(&o.stop_price)?,
            tif: o.time_in_force,
            expire_at: o.expire_at,
            post_only: o.post_only,
            stp: o.stp,
        })
    }

    /// The core reads GTC on a market order as IOC; compare what it means.
    fn normalized(mut self) -> Self {
        if self.order_type.is_market() && self.tif == TimeInForce::Gtc {
            self.tif = TimeInForce::Ioc;
        }
        self
    }
}

async fn market_info(state: &SharedState, symbol: &str) -> Result<MarketInfo, AppError> {
    let symbol = symbol.to_owned();
    state
        .seq
        .query(move |core| {
            let id = core.market_by_symbol(&symbol)?;
            MarketInfo::all(core).into_iter().find(|m| m.id == id)
        })
        .await?
        .ok_or(AppError::Rejected(RejectCode::UnknownMarket))
}

async fn place(
    State(state): State<SharedState>,
    user: AuthUser,
    ApiJson(body): ApiJson<PlaceOrderBody>,
) -> Result<(StatusCode, Json<OrderJson>), AppError> {
    let m = market_info(&state, &body.market).await?;
    let order = body.to_new_order(&m, user)?;
    let key = OrderKey::of(&order).normalized();
    let applied = state
        .seq
        .submit(CommandKind::PlaceOrder(Box::new(order)))
        .await?;
    match applied.rejected() {
        Some((RejectCode::DuplicateClientOrderId, Some(original))) => {
            let o = load_order(&state, user.id, original).await?;
            if OrderKey::of_json(&o, &m).map(OrderKey::normalized) == Some(key) {
                Ok((StatusCode::OK, Json(o)))
            } else {
                Err(AppError::Rejected(RejectCode::DuplicateClientOrderId))
            }
        }
        Some((code, _)) => Err(AppError::Rejected(code)),
        None => OrderJson::from_events(&m, &applied.events, applied.ts.0)
            .map(|o| (StatusCode::CREATED, Json(o)))
            .ok_or_else(|| AppError::internal("PlaceOrder produced no OrderAccepted event")),
    }
}

async fn get_one(
    State(state): State<SharedState>,
    user: AuthUser,
    Path(id): Path<u64>,
) -> Result<Json<OrderJson>, AppError> {
    load_order(&state, user.id, OrderId(id)).await.map(Json)
}

async fn cancel(
    State(state): State<SharedState>,
    user: AuthUser,
    Path(id): Path<u64>,
) -> Result<Json<OrderJson>, AppError> {
    let applied = state
        .seq
        .submit(CommandKind::CancelOrder {
            user: user.id,
            order: OrderId(id),
        })
        .await?;
    if let Some((code, _)) = applied.rejected() {
        return Err(AppError::Rejected(code));
    }
    let o = load_order(&state, user.id, OrderId(id)).await?;
    debug_assert!(o.status == OrderStatus::Canceled || o.status.is_terminal());
    Ok(Json(o))
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    pub status: Option<String>,
    pub market: Option<String>,
    /// Cursor: the id of the last order of the previous page.
    pub before: Option<u64>,
    pub limit: Option<u32>,
}

#[derive(Serialize)]
pub struct OrderPage {
    pub orders: Vec<OrderJson>,
    /// Pass as `before` for the next page; `null` on the last page.
    pub next_cursor: Option<u64>,
}

const DEFAULT_PAGE: u32 = 100;

async fn list(
    State(state): State<SharedState>,
    user: AuthUser,
    Query(q): Query<ListQuery>,
) -> Result<Json<OrderPage>, AppError> {
    let status = match q.status.as_deref() {
        None | Some("all") => None,
        Some("open") => Some(StatusFilter::Open),
        Some("closed") => Some(StatusFilter::Closed),
        Some(_) => return Err(AppError::validation("status: open, closed or all")),
    };
    let markets = state.seq.query(MarketInfo::all).await?;
    let market = match &q.market {
        None => None,
        Some(sym) => Some(
            markets
                .iter()
                .find(|m| m.symbol() == sym)
                .map(|m| m.id)
                .ok_or(AppError::Rejected(RejectCode::UnknownMarket))?,
        ),
    };
    let limit = q
        .limit
        .unwrap_or(DEFAULT_PAGE)
        .clamp(1, bourse_store::MAX_PAGE);
    state.fence().await?;
    let rows = state
        .store
        .orders(&OrderQuery {
            user: user.id,
            status,
            market,
            before: q.before.map(OrderId),
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

/// This module's part of the OpenAPI document (see `crate::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi()]
pub struct Doc;
