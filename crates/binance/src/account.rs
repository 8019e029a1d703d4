//! Signed account and order routes. Each checks the signature first ([`Ctx::caller`]),
//! then calls the same gateway services as `/api/v1`: the order is the same order, the
//! key's permissions apply (`trade` for order entry), and so do the order-rate limits.
//!
//! Look-ups read the read models after the read fence; lists are oldest first as
//! Binance's, from the newest 1000 rows (`orderId`/`fromId`/`startTime`/`endTime` filter
//! those).

use crate::error::{BinanceError, Op, Result};
use crate::format::{my_trade, new_order_fill, Order};
use crate::params::{binance_symbol, optional_symbol, symbol_param, Params};
use crate::rules::{self, Param};
use crate::{Ctx, Gw};
use axum::extract::{Request, State};
use axum::Json;
use bourse_engine::now_ms;
use bourse_gateway::market_info::{GridParse, MarketInfo};
use bourse_gateway::trading::Placed;
use bourse_gateway::{Caller, Error};
use bourse_model::{
    format_units, ClientOrderId, NewOrder, OrderId, OrderType, Permission, Side, StpMode,
    TimeInForce, Timestamp,
};
use bourse_store::{FillQuery, OrderQuery, OrderRow, StatusFilter};
use serde_json::{json, Value};

type Answer = Result<Json<Value>>;

/// `bps` as Binance's commission rate: `10` → `"0.00100000"`.
fn rate(bps: u32) -> String {
    format_units(u64::from(bps) * 10_000, 8)
}

fn fees(m: &MarketInfo, caller: &Caller) -> (u32, u32) {
    let f = m.spec.fee(caller.tier);
    (f.maker_bps, f.taker_bps)
}

pub async fn account(State(gw): State<Gw>, req: Request) -> Answer {
    let c = Ctx::new(gw, req).await?;
    let caller = c.caller().await?;
    caller.require(Permission::Read)?;
    let views = c.gw.seq.views();
    let catalog = views.catalog();
    let balances: Vec<Value> = views
        .balances(caller.id)
        .iter()
        .filter_map(|&(asset, available, held)| {
            let a = catalog.asset(asset)?;
            Some(json!({"asset": a.symbol.to_string(),
                "free": format_units(available.0, a.scale), "locked": format_units(held.0, a.scale)}))
        })
        .collect();
    let (maker, taker) = c.gw.markets().first().map_or((0, 0), |m| fees(m, &caller));
    Ok(Json(json!({
        "makerCommission": maker, "takerCommission": taker,
        "buyerCommission": 0, "sellerCommission": 0,
        "commissionRates": {"maker": rate(maker), "taker": rate(taker), "buyer": rate(0), "seller": rate(0)},
        "canTrade": caller.permissions.contains(Permission::Trade),
        "canWithdraw": caller.permissions.contains(Permission::Withdraw),
        "canDeposit": true, "brokered": false, "requireSelfTradePrevention": false,
        "preventSor": false, "updateTime": now_ms(), "accountType": "SPOT",
        "balances": balances, "permissions": ["SPOT"], "uid": caller.id.0,
    })))
}

pub async fn commission(State(gw): State<Gw>, req: Request) -> Answer {
    let c = Ctx::new(gw, req).await?;
    let caller = c.caller().await?;
    let markets = c.gw.markets();
    let m = symbol_param(&c.p, &markets)?;
    let (maker, taker) = fees(m, &caller);
    let zero = || json!({"maker": rate(0), "taker": rate(0), "buyer": rate(0), "seller": rate(0)});
    Ok(Json(json!({
        "symbol": binance_symbol(m),
        "standardCommission": {"maker": rate(maker), "taker": rate(taker), "buyer": rate(0), "seller": rate(0)},
        "specialCommission": zero(),
        "taxCommission": zero(),
        "discount": {"enabledForAccount": false, "enabledForSymbol": false, "discountAsset": "BNB", "discount": "0"},
    })))
}

pub async fn trade_fee(State(gw): State<Gw>, req: Request) -> Answer {
    let c = Ctx::new(gw, req).await?;
    let caller = c.caller().await?;
    let markets = c.gw.markets();
    let chosen: Vec<&MarketInfo> = match optional_symbol(&c.p, &markets)? {
        Some(m) => vec![m],
        None => markets.iter().collect(),
    };
    Ok(Json(Value::Array(
        chosen
            .iter()
            .map(|m| {
                let (maker, taker) = fees(m, &caller);
                json!({"symbol": binance_symbol(m), "makerCommission": rate(maker), "takerCommission": rate(taker)})
            })
            .collect(),
    )))
}

/// -1106: a parameter the order type does not use.
fn not_required(name: &str) -> BinanceError {
    BinanceError::new(-1106, format!("Parameter '{name}' sent when not required."))
}

fn grid(e: Error) -> BinanceError {
    BinanceError::from_gateway(e, Op::NewOrder)
}

/// The Binance order parameters as a Bourse order.
fn parse_order(p: &Params, m: &MarketInfo, caller: &Caller) -> Result<NewOrder> {
    for rule in rules::ORDER_PARAMS {
        p.check(rule)?;
    }
    let side = match p.choice(&rules::SIDE)? {
        Some("BUY") => Side::Buy,
        Some(_) => Side::Sell,
        None => return Err(BinanceError::missing("side")),
    };
    let kind = p
        .choice(&rules::ORDER_TYPE)?
        .ok_or_else(|| BinanceError::missing("type"))?;
    let (order_type, post_only) = match kind {
        "LIMIT" => (OrderType::Limit, false),
        "LIMIT_MAKER" => (OrderType::Limit, true),
        "MARKET" => (OrderType::Market, false),
        "STOP_LOSS" => (OrderType::StopMarket, false),
        "STOP_LOSS_LIMIT" => (OrderType::StopLimit, false),
        // Bourse's stops trigger in one direction only (a buy when the last price rises to
        // the stop, a sell when it falls to it): a take-profit, which triggers the other
        // way, cannot be expressed. Binance's answer for a type the symbol lacks.
        "TAKE_PROFIT" => {
            return Err(BinanceError::new(
                -2010,
                "Take profit orders are not supported for this symbol.",
            ))
        }
        "TAKE_PROFIT_LIMIT" => {
            return Err(BinanceError::new(
                -2010,
                "Take profit limit orders are not supported for this symbol.",
            ))
        }
        _ => return Err(BinanceError::new(-1116, "Invalid orderType.")),
    };
    let limit_like = matches!(kind, "LIMIT" | "STOP_LOSS_LIMIT");
    let tif = match (p.choice(&rules::TIME_IN_FORCE)?, limit_like) {
        (Some("GTC"), _) | (None, false) => TimeInForce::Gtc,
        (Some("IOC"), _) => TimeInForce::Ioc,
        (Some("FOK"), _) => TimeInForce::Fok,
        (None, true) => return Err(BinanceError::missing("timeInForce")),
        (Some(_), _) => return Err(BinanceError::new(-1115, "Invalid timeInForce.")),
    };
    let price = match (kind, p.text(&rules::PRICE)?) {
        ("LIMIT" | "LIMIT_MAKER" | "STOP_LOSS_LIMIT", None) => {
            return Err(BinanceError::missing("price"))
        }
        // Binance refuses what the order type does not use, rather than ignore it.
        (_, Some(_)) if order_type.is_market() => return Err(not_required("price")),
        (_, Some(s)) => Some(m.parse_price("price", s).map_err(grid)?),
        (_, None) => None,
    };
    let stop_price = if order_type.is_stop() {
        Some(
            m.parse_price(
                "stopPrice",
                p.text(&rules::STOP_PRICE)?
                    .ok_or_else(|| BinanceError::missing("stopPrice"))?,
            )
            .map_err(grid)?,
        )
    } else if p.text(&rules::STOP_PRICE)?.is_some() {
        return Err(not_required("stopPrice"));
    } else {
        None
    };
    let qty = p
        .text(&rules::QUANTITY)?
        .map(|s| m.parse_qty("quantity", s))
        .transpose()
        .map_err(grid)?;
    let quote_qty = match p.text(&rules::QUOTE_ORDER_QTY)? {
        Some(s) if order_type == OrderType::Market => {
            Some(m.parse_quote("quoteOrderQty", s).map_err(grid)?)
        }
        Some(_) => return Err(not_required("quoteOrderQty")),
        None => None,
    };
    if qty.is_none() && quote_qty.is_none() {
        return Err(BinanceError::missing("quantity"));
    }
    let stp = match p.choice(&rules::STP_MODE)? {
        Some("EXPIRE_MAKER") => StpMode::ExpireMaker,
        Some("EXPIRE_BOTH") => StpMode::ExpireBoth,
        _ => StpMode::ExpireTaker,
    };
    p.choice(&rules::RESP_TYPE)?;
    let client_order_id = p
        .text(&rules::NEW_CLIENT_ORDER_ID)?
        .map(ClientOrderId::new)
        .transpose()
        .map_err(|_| rules::NEW_CLIENT_ORDER_ID.refused())?;
    Ok(NewOrder {
        user: caller.id,
        market: m.id,
        side,
        order_type,
        price,
        qty,
        quote_qty,
        stop_price,
        // A market order never rests: the core runs it as IOC.
        tif: if order_type.is_market() {
            TimeInForce::Ioc
        } else {
            tif
        },
        expire_at: None,
        post_only,
        stp,
        client_order_id,
    })
}

/// Places the order and answers as Binance does for `newOrderRespType`.
async fn place(c: &Ctx, caller: &Caller, m: &MarketInfo) -> Result<Value> {
    let order = parse_order(&c.p, m, caller)?;
    let placed =
        c.gw.place(caller, order)
            .await
            .map_err(|e| BinanceError::from_gateway(e, Op::NewOrder))?;
    let state = match placed {
        Placed::New(s) => s,
        Placed::Duplicate(_) => return Err(BinanceError::new(-2010, "Duplicate order sent.")),
    };
    let o = Order::from_state(m, &state);
    let now = state.updated_at.0;
    let resp = c.p.choice(&rules::RESP_TYPE)?.unwrap_or("FULL");
    if resp == "ACK" {
        return Ok(
            json!({"symbol": binance_symbol(m), "orderId": o.id, "orderListId": -1,
            "clientOrderId": o.client_order_id, "transactTime": now}),
        );
    }
    let mut v = o.base();
    v.insert("transactTime".into(), json!(now));
    v.insert(
        "workingTime".into(),
        json!(if o.working { now as i64 } else { -1 }),
    );
    v.insert(
        "origQuoteOrderQty".into(),
        json!(m.quote_amount(o.quote_qty.unwrap_or(bourse_model::Amount::ZERO))),
    );
    if let Some(sp) = o.stop_price {
        v.insert("stopPrice".into(), json!(m.price(sp)));
    }
    if resp == "FULL" {
        let fills: Vec<Value> = state.fills.iter().map(|f| new_order_fill(m, f)).collect();
        v.insert("fills".into(), Value::Array(fills));
    }
    Ok(Value::Object(v))
}

pub async fn new_order(State(gw): State<Gw>, req: Request) -> Answer {
    let c = Ctx::new(gw, req).await?;
    let caller = c.caller().await?;
    let markets = c.gw.markets();
    let m = symbol_param(&c.p, &markets)?;
    Ok(Json(place(&c, &caller, m).await?))
}

/// Validates like a new order, places nothing.
pub async fn test_order(State(gw): State<Gw>, req: Request) -> Answer {
    let c = Ctx::new(gw, req).await?;
    let caller = c.caller().await?;
    caller.require(Permission::Trade)?;
    let markets = c.gw.markets();
    let m = symbol_param(&c.p, &markets)?;
    c.p.check(&rules::COMPUTE_COMMISSION)?;
    parse_order(&c.p, m, &caller)?;
    if c.p.choice(&rules::COMPUTE_COMMISSION)? == Some("true") {
        let (maker, taker) = fees(m, &caller);
        return Ok(Json(json!({
            "standardCommissionForOrder": {"maker": rate(maker), "taker": rate(taker)},
            "taxCommissionForOrder": {"maker": rate(0), "taker": rate(0)},
            "discount": {"enabledForAccount": false, "enabledForSymbol": false, "discountAsset": "BNB", "discount": "0"},
        })));
    }
    Ok(Json(json!({})))
}

/// The caller's order named by `orderId` / `origClientOrderId` (or the given names), in `m`.
async fn find_order(
    c: &Ctx,
    caller: &Caller,
    m: &MarketInfo,
    id: &Param,
    client: &Param,
) -> Result<OrderRow> {
    let missing = || BinanceError::new(-2013, "Order does not exist.");
    let (by_id, by_client) = (c.p.int(id)?, c.p.text(client)?);
    c.gw.fence().await?;
    let row = if let Some(id) = by_id {
        c.gw.store.order(OrderId(id)).await?
    } else if let Some(cid) = by_client {
        let cid = ClientOrderId::new(cid).map_err(|_| missing())?;
        c.gw.store.order_by_client_id(caller.id, &cid).await?
    } else {
        return Err(BinanceError::new(
            -1102,
            format!(
                "Param '{}' or '{}' must be sent, but both were empty/null!",
                id.name, client.name
            ),
        ));
    };
    row.filter(|o| o.user == caller.id && o.market == m.id)
        .ok_or_else(missing)
}

pub async fn query_order(State(gw): State<Gw>, req: Request) -> Answer {
    let c = Ctx::new(gw, req).await?;
    let caller = c.caller().await?;
    caller.require(Permission::Read)?;
    let markets = c.gw.markets();
    let m = symbol_param(&c.p, &markets)?;
    let row = find_order(
        &c,
        &caller,
        m,
        &rules::ORDER_ID,
        &rules::ORIG_CLIENT_ORDER_ID,
    )
    .await?;
    Ok(Json(Order::from_row(m, &row).query_json()))
}

async fn cancel_one(
    c: &Ctx,
    caller: &Caller,
    m: &MarketInfo,
    id: &Param,
    cid: &Param,
) -> Result<Value> {
    let row = find_order(c, caller, m, id, cid).await.map_err(|e| {
        if e.code == -2013 {
            BinanceError::new(-2011, "Unknown order sent.")
        } else {
            e
        }
    })?;
    let state =
        c.gw.cancel(caller, row.id)
            .await
            .map_err(|e| BinanceError::from_gateway(e, Op::Cancel))?;
    let o = Order::from_state(m, &state);
    let mut v = o.base();
    v.insert("origClientOrderId".into(), json!(o.client_order_id));
    v.insert("transactTime".into(), json!(state.updated_at.0));
    Ok(Value::Object(v))
}

pub async fn cancel_order(State(gw): State<Gw>, req: Request) -> Answer {
    let c = Ctx::new(gw, req).await?;
    let caller = c.caller().await?;
    let markets = c.gw.markets();
    let m = symbol_param(&c.p, &markets)?;
    Ok(Json(
        cancel_one(
            &c,
            &caller,
            m,
            &rules::ORDER_ID,
            &rules::ORIG_CLIENT_ORDER_ID,
        )
        .await?,
    ))
}

/// Cancels one order and places another (`cancelReplaceMode` STOP_ON_FAILURE: a failed
/// cancel places nothing).
pub async fn cancel_replace(State(gw): State<Gw>, req: Request) -> Answer {
    let c = Ctx::new(gw, req).await?;
    let caller = c.caller().await?;
    let markets = c.gw.markets();
    let m = symbol_param(&c.p, &markets)?;
    c.p.choice(&rules::CANCEL_REPLACE_MODE)?
        .ok_or_else(|| BinanceError::missing("cancelReplaceMode"))?;
    // Every parameter is checked before anything is canceled.
    c.p.check(&rules::CANCEL_ORDER_ID)?;
    c.p.check(&rules::CANCEL_ORIG_CLIENT_ORDER_ID)?;
    parse_order(&c.p, m, &caller)?;
    let canceled = cancel_one(
        &c,
        &caller,
        m,
        &rules::CANCEL_ORDER_ID,
        &rules::CANCEL_ORIG_CLIENT_ORDER_ID,
    )
    .await?;
    let placed = place(&c, &caller, m).await?;
    Ok(Json(json!({
        "cancelResult": "SUCCESS", "newOrderResult": "SUCCESS",
        "cancelResponse": canceled, "newOrderResponse": placed,
    })))
}

/// The caller's orders, oldest first, filtered as the query says.
async fn orders(
    c: &Ctx,
    caller: &Caller,
    m: Option<&MarketInfo>,
    open: bool,
) -> Result<Vec<OrderRow>> {
    c.gw.fence().await?;
    let mut rows =
        c.gw.store
            .orders(&OrderQuery {
                user: caller.id,
                status: open.then_some(StatusFilter::Open),
                market: m.map(|m| m.id),
                before: None,
                limit: bourse_store::MAX_PAGE,
            })
            .await?;
    rows.reverse();
    Ok(rows)
}

pub async fn open_orders(State(gw): State<Gw>, req: Request) -> Answer {
    let c = Ctx::new(gw, req).await?;
    let caller = c.caller().await?;
    caller.require(Permission::Read)?;
    let markets = c.gw.markets();
    let m = optional_symbol(&c.p, &markets)?;
    let rows = orders(&c, &caller, m, true).await?;
    Ok(Json(Value::Array(
        rows.iter()
            .filter_map(|o| {
                let m = markets.iter().find(|m| m.id == o.market)?;
                Some(Order::from_row(m, o).query_json())
            })
            .collect(),
    )))
}

pub async fn cancel_open_orders(State(gw): State<Gw>, req: Request) -> Answer {
    let c = Ctx::new(gw, req).await?;
    let caller = c.caller().await?;
    let markets = c.gw.markets();
    let m = symbol_param(&c.p, &markets)?;
    let canceled = c.gw.cancel_all(&caller, Some(m.id)).await?;
    c.gw.fence().await?;
    let mut out = Vec::with_capacity(canceled.len());
    for (id, _, _, _) in canceled {
        if let Some(row) = c.gw.store.order(id).await? {
            let o = Order::from_row(m, &row);
            let mut v = o.base();
            v.insert("origClientOrderId".into(), json!(o.client_order_id));
            v.insert("transactTime".into(), json!(row.updated_at.0));
            out.push(Value::Object(v));
        }
    }
    Ok(Json(Value::Array(out)))
}

fn in_time(p: &Params, t: Timestamp) -> Result<bool> {
    Ok(p.int(&rules::START_TIME)?.is_none_or(|s| t.0 >= s)
        && p.int(&rules::END_TIME)?.is_none_or(|e| t.0 <= e))
}

pub async fn all_orders(State(gw): State<Gw>, req: Request) -> Answer {
    let c = Ctx::new(gw, req).await?;
    let caller = c.caller().await?;
    caller.require(Permission::Read)?;
    let markets = c.gw.markets();
    let m = symbol_param(&c.p, &markets)?;
    let limit = c.p.limit(&rules::TRADES_LIMIT)? as usize;
    let from = c.p.int(&rules::ALL_ORDERS_FROM)?.unwrap_or(0);
    in_time(&c.p, Timestamp(0))?;
    let mut out = Vec::new();
    for o in orders(&c, &caller, Some(m), false).await? {
        if o.id.0 >= from && in_time(&c.p, o.created_at)? {
            out.push(Order::from_row(m, &o).query_json());
        }
    }
    out.truncate(limit);
    Ok(Json(Value::Array(out)))
}

pub async fn my_trades(State(gw): State<Gw>, req: Request) -> Answer {
    let c = Ctx::new(gw, req).await?;
    let caller = c.caller().await?;
    caller.require(Permission::Read)?;
    let markets = c.gw.markets();
    let m = symbol_param(&c.p, &markets)?;
    let limit = c.p.limit(&rules::TRADES_LIMIT)? as usize;
    let from = c.p.int(&rules::FROM_ID)?.unwrap_or(0);
    let order = c.p.int(&rules::TRADES_OF_ORDER)?;
    in_time(&c.p, Timestamp(0))?;
    c.gw.fence().await?;
    let mut rows =
        c.gw.store
            .fills(&FillQuery {
                user: caller.id,
                market: Some(m.id),
                before: None,
                limit: bourse_store::MAX_PAGE,
            })
            .await?;
    rows.reverse();
    let mut out = Vec::new();
    for f in &rows {
        if f.trade_id.0 >= from
            && order.is_none_or(|o| f.order_id.0 == o)
            && in_time(&c.p, f.created_at)?
        {
            out.push(my_trade(m, f));
        }
    }
    out.truncate(limit);
    Ok(Json(Value::Array(out)))
}
