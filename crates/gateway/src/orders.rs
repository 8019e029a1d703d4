//! Order look-ups for their owner, and what makes a reused client order id a retry (every
//! channel answers a retry with the original order, anything else with
//! `DUPLICATE_CLIENT_ORDER_ID`).

use crate::dto::{FillJson, OrderJson};
use crate::error::Error;
use crate::market_info::{market_by_id, MAX_UNITS};
use crate::market_info::{GridParse, MarketInfo};
use crate::Gateway;
use bourse_model::{
    Amount, MarketId, NewOrder, OrderId, OrderType, Price, Qty, RejectCode, Side, StpMode,
    TimeInForce, UserId,
};

/// Looks an order up for its owner, open or closed, with its fills: from the read models
/// after the read fence (so the caller's own writes are in), never through the writer.
/// Another user's order is `UNKNOWN_ORDER` (404), like a missing one.
pub async fn load_order(gw: &Gateway, user: UserId, id: OrderId) -> Result<OrderJson, Error> {
    if id.0 > MAX_UNITS {
        // No such id can exist (the read models could not even hold it).
        return Err(Error::Rejected(RejectCode::UnknownOrder));
    }
    gw.fence().await?;
    let row = gw
        .store
        .order(id)
        .await?
        .filter(|o| o.user == user)
        .ok_or(Error::Rejected(RejectCode::UnknownOrder))?;
    let m = market_by_id(gw, row.market)?;
    let fills = gw.store.order_fills(id).await?;
    let fills = fills.iter().map(|f| FillJson::from_row(&m, f)).collect();
    Ok(OrderJson::from_row(&m, &row, Some(fills)))
}

/// What makes two submissions "the same order" for idempotency.
#[derive(Debug, PartialEq, Eq)]
pub struct OrderKey {
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
    pub fn of(o: &NewOrder) -> Self {
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

    pub fn of_json(o: &OrderJson, m: &MarketInfo) -> Option<Self> {
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
    pub fn normalized(mut self) -> Self {
        if self.order_type.is_market() && self.tif == TimeInForce::Gtc {
            self.tif = TimeInForce::Ioc;
        }
        self
    }
}
