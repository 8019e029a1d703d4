//! Bourse's orders and fills as Binance's JSON. Mapping rules:
//! - types: `LIMIT` (post-only: `LIMIT_MAKER`), `MARKET`, `STOP_LOSS_LIMIT` (stop-limit),
//!   `STOP_LOSS` (stop-market); `TAKE_PROFIT` and `TAKE_PROFIT_LIMIT` are not offered
//!   (Bourse's stops trigger only in the stop-loss direction: -2010, Binance's "Take
//!   profit orders are not supported for this symbol."); statuses: open → `NEW`, `PARTIALLY_FILLED`, `FILLED`,
//!   `CANCELED`, `REJECTED`, `EXPIRED`, and `EXPIRED_IN_MATCH` for an order ended by
//!   self-trade prevention;
//! - `cummulativeQuoteQty` is the exact filled notional; an order without a client id
//!   shows `""` as its `clientOrderId`;
//! - intervals: the Binance names Bourse keeps candles for (`1m 5m 15m 1h 4h 1d`), others
//!   are -1120.

use crate::error::{BinanceError, Result};
use crate::params::binance_symbol;
use bourse_gateway::market_info::MarketInfo;
use bourse_model::{
    Amount, CancelReason, EndReason, Liquidity, OrderStatus, OrderType, Price, Qty, Side, StpMode,
    TimeInForce,
};
use bourse_store::{FillRow, Interval, OrderRow};
use serde_json::{json, Value};

pub fn interval(s: &str) -> Result<Interval> {
    s.parse()
        .map_err(|_| BinanceError::new(-1120, "Invalid interval."))
}

pub fn side(s: Side) -> &'static str {
    match s {
        Side::Buy => "BUY",
        Side::Sell => "SELL",
    }
}

/// An order's status; one ended by self-trade prevention (either side) is Binance's
/// `EXPIRED_IN_MATCH`.
pub fn status_of(s: OrderStatus, reason: Option<EndReason>) -> &'static str {
    match reason {
        Some(EndReason::Canceled(CancelReason::SelfTradePrevention)) => "EXPIRED_IN_MATCH",
        _ => status(s),
    }
}

pub fn status(s: OrderStatus) -> &'static str {
    match s {
        OrderStatus::New | OrderStatus::Open => "NEW",
        OrderStatus::PartiallyFilled => "PARTIALLY_FILLED",
        OrderStatus::Filled => "FILLED",
        OrderStatus::Canceled => "CANCELED",
        OrderStatus::Rejected => "REJECTED",
        OrderStatus::Expired => "EXPIRED",
    }
}

pub fn order_type(t: OrderType, post_only: bool) -> &'static str {
    match t {
        OrderType::Limit if post_only => "LIMIT_MAKER",
        OrderType::Limit => "LIMIT",
        OrderType::Market => "MARKET",
        OrderType::StopLimit => "STOP_LOSS_LIMIT",
        OrderType::StopMarket => "STOP_LOSS",
    }
}

pub fn tif(t: TimeInForce) -> &'static str {
    match t {
        TimeInForce::Gtc => "GTC",
        TimeInForce::Ioc => "IOC",
        TimeInForce::Fok => "FOK",
        _ => "GTD",
    }
}

pub fn stp(s: StpMode) -> &'static str {
    match s {
        StpMode::ExpireTaker => "EXPIRE_TAKER",
        StpMode::ExpireMaker => "EXPIRE_MAKER",
        StpMode::ExpireBoth => "EXPIRE_BOTH",
    }
}

/// An order in one neutral form (from a read-model row or a command's answer).
pub struct Order<'a> {
    pub m: &'a MarketInfo,
    pub id: u64,
    pub client_order_id: String,
    pub side: Side,
    pub order_type: OrderType,
    pub post_only: bool,
    pub tif: TimeInForce,
    pub price: Option<Price>,
    pub qty: Option<Qty>,
    pub quote_qty: Option<Amount>,
    pub stop_price: Option<Price>,
    pub status: OrderStatus,
    /// Why it ended, if not by filling.
    pub reason: Option<EndReason>,
    pub filled: Qty,
    pub filled_notional: Amount,
    pub created_at: u64,
    pub updated_at: u64,
    pub stp: StpMode,
    /// An untriggered stop is not working yet.
    pub working: bool,
}

impl<'a> Order<'a> {
    pub fn from_row(m: &'a MarketInfo, o: &OrderRow) -> Self {
        Order {
            m,
            id: o.id.0,
            client_order_id: o
                .client_order_id
                .as_ref()
                .map_or_else(String::new, |c| c.as_str().to_owned()),
            side: o.side,
            order_type: o.order_type,
            post_only: o.post_only,
            tif: o.tif,
            price: o.price,
            qty: o.qty,
            quote_qty: o.quote_qty,
            stop_price: o.stop_price,
            status: o.status,
            reason: o.reason,
            filled: o.filled_qty,
            filled_notional: o.filled_notional,
            created_at: o.created_at.0,
            updated_at: o.updated_at.0,
            stp: o.stp,
            working: !o.order_type.is_stop() || o.filled_qty.0 > 0,
        }
    }

    pub fn from_state(m: &'a MarketInfo, o: &bourse_model::OrderState) -> Self {
        let i = &o.info;
        Order {
            m,
            id: i.id.0,
            client_order_id: i
                .client_order_id
                .as_ref()
                .map_or_else(String::new, |c| c.as_str().to_owned()),
            side: i.side,
            order_type: i.order_type,
            post_only: i.post_only,
            tif: i.tif,
            price: o.price,
            qty: o.qty.or(i.qty),
            quote_qty: i.quote_qty,
            stop_price: i.stop_price,
            status: o.status,
            reason: o.reason,
            filled: o.filled,
            filled_notional: o.filled_notional,
            created_at: i.created_at.0,
            updated_at: o.updated_at.0,
            stp: i.stp,
            working: !i.order_type.is_stop() || o.filled.0 > 0,
        }
    }

    fn price_str(&self, p: Option<Price>) -> String {
        self.m.price(p.unwrap_or(Price(0)))
    }

    /// The fields every order answer shares.
    pub fn base(&self) -> serde_json::Map<String, Value> {
        let m = self.m;
        let v = json!({
            "symbol": binance_symbol(m),
            "orderId": self.id,
            "orderListId": -1,
            "clientOrderId": self.client_order_id,
            "price": self.price_str(self.price),
            "origQty": m.qty(self.qty.unwrap_or(self.filled)),
            "executedQty": m.qty(self.filled),
            "cummulativeQuoteQty": m.quote_amount(self.filled_notional),
            "status": status_of(self.status, self.reason),
            "timeInForce": tif(self.tif),
            "type": order_type(self.order_type, self.post_only),
            "side": side(self.side),
            "selfTradePreventionMode": stp(self.stp),
        });
        match v {
            Value::Object(o) => o,
            _ => unreachable!("json! of an object"),
        }
    }

    /// `GET /api/v3/order`, `openOrders`, `allOrders`.
    pub fn query_json(&self) -> Value {
        let mut o = self.base();
        let m = self.m;
        o.insert("stopPrice".into(), json!(self.price_str(self.stop_price)));
        o.insert("icebergQty".into(), json!(m.qty(Qty::ZERO)));
        o.insert("time".into(), json!(self.created_at));
        o.insert("updateTime".into(), json!(self.updated_at));
        o.insert("isWorking".into(), json!(self.working));
        o.insert(
            "workingTime".into(),
            json!(if self.working {
                self.created_at as i64
            } else {
                -1
            }),
        );
        o.insert(
            "origQuoteOrderQty".into(),
            json!(m.quote_amount(self.quote_qty.unwrap_or(Amount::ZERO))),
        );
        Value::Object(o)
    }
}

/// A fill as `POST /api/v3/order`'s `fills` show it.
pub fn new_order_fill(m: &MarketInfo, f: &bourse_model::OrderFill) -> Value {
    json!({
        "price": m.price(f.price), "qty": m.qty(f.qty),
        "commission": m.quote_amount(f.fee), "commissionAsset": m.quote,
        "tradeId": f.trade.0,
    })
}

/// A fill as `myTrades` shows it.
pub fn my_trade(m: &MarketInfo, f: &FillRow) -> Value {
    json!({
        "symbol": binance_symbol(m),
        "id": f.trade_id.0,
        "orderId": f.order_id.0,
        "orderListId": -1,
        "price": m.price(f.price),
        "qty": m.qty(f.qty),
        "quoteQty": m.quote_amount(f.notional),
        "commission": m.quote_amount(f.fee),
        "commissionAsset": m.quote,
        "time": f.created_at.0,
        "isBuyer": f.side == Side::Buy,
        "isMaker": f.liquidity == Liquidity::Maker,
        "isBestMatch": true,
    })
}
