//! A user's data stream: the `/ws` private channels `orders`, `fills` and `balances` as
//! Binance's `executionReport` and `outboundAccountPosition` events.
//!
//! Rules:
//! - an accepted order is an `executionReport` with `x` = `NEW`; each fill one with
//!   `x` = `TRADE` (`l`, `L`, `n`, `t`, `m` of that fill; `z`, `Z` cumulative), and
//!   `X` = `FILLED` once the cumulative size reaches the order's (for an order sized by
//!   quote, its size at the end of the command, which the `accepted` frame carries);
//!   a cancel `CANCELED`, an expiry `EXPIRED`, an amend `REPLACED`; an order ended by
//!   self-trade prevention `x` = `TRADE_PREVENTION`, `X` = `EXPIRED_IN_MATCH`. A rejected order
//!   has no event (Binance answers it on the request only); nor has a stop's trigger.
//! - an order first seen in a fill or cancel (placed before the stream started) is read
//!   once from the read models for its static fields.
//! - the balance changes of one command are one `outboundAccountPosition`.

use crate::format;
use crate::params::binance_symbol;
use crate::Gw;
use bourse_engine::now_ms;
use bourse_gateway::market_info::MarketInfo;
use bourse_model::{
    Amount, OrderId, OrderStatus, OrderType, Price, Qty, Side, StpMode, TimeInForce, UserId,
};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use std::collections::HashMap;

/// One of the user's orders as its reports need it.
struct Tracked {
    m: MarketInfo,
    client_order_id: String,
    side: Side,
    order_type: OrderType,
    post_only: bool,
    tif: TimeInForce,
    price: Option<Price>,
    qty: Option<Qty>,
    quote_qty: Option<Amount>,
    stop_price: Option<Price>,
    stp: StpMode,
    created_at: u64,
    filled: Qty,
    notional: Amount,
    /// Filled size and whether it is filled, at the end of the command that placed it.
    end: Option<(Qty, bool)>,
}

/// The translation state of one user data stream.
pub struct UserData {
    pub user: UserId,
    /// The API key that opened it: the stream ends when the key is deleted.
    pub key_id: String,
    orders: HashMap<u64, Tracked>,
    /// Balances of the command being read: (journal sequence, entries).
    balances: Option<(u64, Vec<Value>)>,
}

fn de<T: DeserializeOwned>(v: Option<&Value>) -> Option<T> {
    serde_json::from_value(v?.clone()).ok()
}

/// A size as a frame writes it (the grid's own parser refuses zero, which a frame can
/// carry: nothing filled yet).
fn qty(m: &MarketInfo, s: &str) -> Option<Qty> {
    match bourse_model::parse_units(s, m.spec.base_scale) {
        Ok(0) => Some(Qty::ZERO),
        _ => m.spec.parse_qty(s).ok(),
    }
}

fn s<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

impl UserData {
    pub fn new(user: UserId, key_id: String) -> Self {
        Self {
            user,
            key_id,
            orders: HashMap::new(),
            balances: None,
        }
    }

    /// The events of one `/ws` private frame, appended to `out`.
    pub async fn frame(&mut self, gw: &Gw, frame: &Value, out: &mut Vec<Value>) {
        let seq = frame.get("sequence").and_then(Value::as_u64).unwrap_or(0);
        if self.balances.as_ref().is_some_and(|b| b.0 != seq) {
            self.flush(out);
        }
        let Some(data) = frame.get("data") else {
            return;
        };
        match s(frame, "channel") {
            Some("balances") => {
                let entry = json!({"a": data.get("asset"), "f": data.get("available"), "l": data.get("held")});
                self.balances
                    .get_or_insert_with(|| (seq, Vec::new()))
                    .1
                    .push(entry);
            }
            Some("fills") => self.fill(gw, data, out).await,
            Some("orders") => self.order(gw, data, out).await,
            _ => {}
        }
    }

    /// Emits the buffered balance changes (call at the end of what was received).
    pub fn flush(&mut self, out: &mut Vec<Value>) {
        if let Some((_, list)) = self.balances.take() {
            let now = now_ms();
            out.push(json!({"e": "outboundAccountPosition", "E": now, "u": now, "B": list}));
        }
    }

    async fn order(&mut self, gw: &Gw, d: &Value, out: &mut Vec<Value>) {
        let Some(id) = d.get("order_id").and_then(Value::as_u64) else {
            return;
        };
        match s(d, "event") {
            Some("accepted") => {
                let Some(t) = accepted(gw, d) else {
                    return;
                };
                out.push(report(id, &t, "NEW", OrderStatus::New, None));
                self.orders.insert(id, t);
            }
            Some(ev @ ("canceled" | "expired")) => {
                let Some(t) = self.tracked(gw, id, (Qty::ZERO, Amount::ZERO)).await else {
                    return;
                };
                if let Some(f) = s(d, "filled_quantity").and_then(|q| qty(&t.m, q)) {
                    t.filled = f;
                }
                let (x, st) = if s(d, "reason") == Some("self_trade_prevention") {
                    ("TRADE_PREVENTION", OrderStatus::Canceled)
                } else if ev == "canceled" {
                    ("CANCELED", OrderStatus::Canceled)
                } else {
                    ("EXPIRED", OrderStatus::Expired)
                };
                out.push(report(id, t, x, st, None));
                self.orders.remove(&id);
            }
            Some("amended") => {
                let Some(t) = self.tracked(gw, id, (Qty::ZERO, Amount::ZERO)).await else {
                    return;
                };
                if let Some(p) = s(d, "price").and_then(|p| t.m.spec.parse_price(p).ok()) {
                    t.price = Some(p);
                }
                if let Some(q) = s(d, "quantity").and_then(|q| qty(&t.m, q)) {
                    t.qty = Some(q);
                }
                let st = if t.filled.is_zero() {
                    OrderStatus::New
                } else {
                    OrderStatus::PartiallyFilled
                };
                out.push(report(id, t, "REPLACED", st, None));
            }
            _ => {}
        }
    }

    async fn fill(&mut self, gw: &Gw, d: &Value, out: &mut Vec<Value>) {
        let Some(id) = d.get("order_id").and_then(Value::as_u64) else {
            return;
        };
        let Some(m) =
            s(d, "market").and_then(|sym| gw.markets().into_iter().find(|m| m.symbol() == sym))
        else {
            return;
        };
        let (Some(price), Some(qty)) = (
            s(d, "price").and_then(|p| m.spec.parse_price(p).ok()),
            s(d, "quantity").and_then(|q| qty(&m, q)),
        ) else {
            return;
        };
        let notional = u128::from(price.0) * u128::from(qty.0) * u128::from(m.quote_per_tick_lot);
        let notional = Amount(u64::try_from(notional).unwrap_or(u64::MAX));
        let Some(t) = self.tracked(gw, id, (qty, notional)).await else {
            return;
        };
        t.filled = Qty(t.filled.0.saturating_add(qty.0));
        t.notional = Amount(t.notional.0.saturating_add(notional.0));
        let done = t.qty.is_some_and(|q| t.filled >= q)
            || t.end.is_some_and(|(f, filled)| filled && t.filled >= f);
        let status = if done {
            OrderStatus::Filled
        } else {
            OrderStatus::PartiallyFilled
        };
        let last = Last {
            qty,
            price,
            notional,
            fee: s(d, "fee").unwrap_or("0").to_owned(),
            fee_asset: s(d, "fee_asset").unwrap_or_default().to_owned(),
            trade_id: d.get("trade_id").and_then(Value::as_u64).unwrap_or(0),
            maker: s(d, "liquidity") == Some("maker"),
            time: d
                .get("created_at")
                .and_then(Value::as_u64)
                .unwrap_or_else(now_ms),
        };
        out.push(report(id, t, "TRADE", status, Some(&last)));
    }

    /// The order `id`, read from the read models if this stream has not seen it placed.
    /// The row already counts the fills of the current command: `minus` (the size and
    /// notional of the fill being reported) is taken off, so the cumulative sizes add up.
    async fn tracked(&mut self, gw: &Gw, id: u64, minus: (Qty, Amount)) -> Option<&mut Tracked> {
        if !self.orders.contains_key(&id) {
            gw.fence().await.ok()?;
            let row = gw.store.order(OrderId(id)).await.ok()??;
            if row.user != self.user {
                return None;
            }
            let m = bourse_gateway::market_info::market_by_id(gw, row.market).ok()?;
            let o = format::Order::from_row(&m, &row);
            let filled = Qty(o.filled.0.saturating_sub(minus.0 .0));
            let notional = Amount(o.filled_notional.0.saturating_sub(minus.1 .0));
            let t = Tracked {
                client_order_id: o.client_order_id,
                side: o.side,
                order_type: o.order_type,
                post_only: o.post_only,
                tif: o.tif,
                price: o.price,
                qty: o.qty,
                quote_qty: o.quote_qty,
                stop_price: o.stop_price,
                stp: o.stp,
                created_at: o.created_at,
                filled,
                notional,
                end: None,
                m: m.clone(),
            };
            self.orders.insert(id, t);
        }
        self.orders.get_mut(&id)
    }
}

/// An `accepted` frame's order (the frame's fields as placed; `order` as it stands at
/// the end of the command).
fn accepted(gw: &Gw, d: &Value) -> Option<Tracked> {
    let m = gw
        .markets()
        .into_iter()
        .find(|m| Some(m.symbol()) == s(d, "market"))?;
    let o = d.get("order")?;
    let price = s(d, "price").and_then(|p| m.spec.parse_price(p).ok());
    let stop_price = s(d, "stop_price").and_then(|p| m.spec.parse_price(p).ok());
    let size = s(d, "quantity").and_then(|q| qty(&m, q));
    let quote_qty = s(o, "quote_quantity").and_then(|q| {
        bourse_model::parse_units(q, m.spec.quote_scale)
            .ok()
            .map(Amount)
    });
    let end_filled = s(o, "filled_quantity").and_then(|q| qty(&m, q))?;
    let end = Some((end_filled, s(o, "status") == Some("filled")));
    Some(Tracked {
        client_order_id: s(d, "client_order_id").unwrap_or_default().to_owned(),
        side: de(d.get("side"))?,
        order_type: de(d.get("type"))?,
        post_only: o.get("post_only").and_then(Value::as_bool).unwrap_or(false),
        tif: de(d.get("time_in_force"))?,
        price,
        qty: size,
        quote_qty,
        stop_price,
        stp: de(o.get("stp")).unwrap_or(StpMode::ExpireTaker),
        created_at: d
            .get("created_at")
            .and_then(Value::as_u64)
            .unwrap_or_else(now_ms),
        filled: Qty::ZERO,
        notional: Amount::ZERO,
        end,
        m,
    })
}

/// The last fill of a `TRADE` report.
struct Last {
    qty: Qty,
    price: Price,
    notional: Amount,
    fee: String,
    fee_asset: String,
    trade_id: u64,
    maker: bool,
    time: u64,
}

fn report(id: u64, t: &Tracked, x: &str, status: OrderStatus, last: Option<&Last>) -> Value {
    let m = &t.m;
    let p = |p: Option<Price>| m.price(p.unwrap_or(Price(0)));
    let now = now_ms();
    let working = !t.order_type.is_stop() || !t.filled.is_zero();
    json!({
        "e": "executionReport", "E": now, "s": binance_symbol(m),
        "c": t.client_order_id, "S": format::side(t.side),
        "o": format::order_type(t.order_type, t.post_only), "f": format::tif(t.tif),
        "q": m.qty(t.qty.unwrap_or(Qty::ZERO)), "p": p(t.price), "P": p(t.stop_price),
        "F": m.qty(Qty::ZERO), "g": -1, "C": if x == "CANCELED" { t.client_order_id.as_str() } else { "" },
        "x": x, "X": if x == "TRADE_PREVENTION" { "EXPIRED_IN_MATCH" } else { format::status(status) },
        "r": "NONE", "i": id,
        "l": m.qty(last.map_or(Qty::ZERO, |l| l.qty)), "z": m.qty(t.filled),
        "L": p(last.map(|l| l.price)),
        "n": last.map_or("0", |l| l.fee.as_str()),
        "N": last.map(|l| l.fee_asset.as_str()),
        "T": last.map_or(now, |l| l.time), "t": last.map_or(-1, |l| l.trade_id as i64),
        "I": 0, "w": working && !matches!(status, OrderStatus::Filled | OrderStatus::Canceled | OrderStatus::Expired),
        "m": last.is_some_and(|l| l.maker), "M": false, "O": t.created_at,
        "Z": m.quote_amount(t.notional), "Y": m.quote_amount(last.map_or(Amount::ZERO, |l| l.notional)),
        "Q": m.quote_amount(t.quote_qty.unwrap_or(Amount::ZERO)),
        "W": if working { t.created_at as i64 } else { -1 },
        "V": format::stp(t.stp),
    })
}
