//! Order entry: NewOrderSingle (D), OrderCancelRequest (F), OrderCancelReplaceRequest (G),
//! OrderStatusRequest (H) and OrderMassCancelRequest (q) translated into gateway calls.
//!
//! # Rules
//! - D: Symbol (55) as on REST (`BTC-USD`); Side (54) 1 buy, 2 sell; OrdType (40) 1 market,
//!   2 limit, 3 stop, 4 stop-limit; OrderQty (38) or, for a market order, CashOrderQty
//!   (152); Price (44), StopPx (99); TimeInForce (59) 1 GTC (the default), 3 IOC, 4 FOK,
//!   6 GTD with ExpireTime (126); ExecInst (18) containing `6` = post-only; Bourse's
//!   custom tag **20001 SelfTradePrevention**: 1 expire taker (default), 2 expire maker,
//!   3 expire both. ClOrdID (11) is the REST `client_order_id`, with the same idempotency
//!   (shared across channels): the same order again answers the original's state
//!   (ExecType I) and places nothing; another order with a used ClOrdID is rejected
//!   `DUPLICATE_CLIENT_ORDER_ID`.
//! - An accepted D, F or G is answered from the feed ([`crate::exec`]): 150=0 then one
//!   150=F per fill it made; 150=4 for a cancel, 150=5 for a replace (ClOrdID = the
//!   request's, OrigClOrdID (41) = the order's). [`Answer::Own`] carries a report built
//!   from the gateway's answer in case the feed is late.
//! - A refused order is an ExecutionReport with ExecType/OrdStatus 8, OrdRejReason (103)
//!   99 and Text (58) = the REST error code and message; nothing is placed.
//! - F and G: OrderID (37) names the order; a refusal is an OrderCancelReject (9, with
//!   CxlRejResponseTo 434 = 1 for F, 2 for G) whose Text has the REST code.
//! - G is the REST amend: OrderQty (38) is the new *total* size, Price (44) the new limit;
//!   a smaller size at the same price keeps the order's place in the queue, anything else
//!   moves it to the back. The order keeps its ClOrdID (Bourse orders have one for life):
//!   reports after the replace carry the original.
//! - H: OrderID (37), else ClOrdID (11) → the order as `GET /api/v1/orders/{id}` has it,
//!   ExecType I, OrdStatusReqID (790) echoed; an unknown order is ExecType I, OrdStatus 8
//!   with the `UNKNOWN_ORDER` text.
//! - q: MassCancelRequestType (530) 1 (Symbol) or 7 (all) → OrderMassCancelReport (r)
//!   with TotalAffectedOrders (533); each canceled order then gets its 150=4 from the feed.
//! - ExecutionReports carry Commission (12, CommType 13 = 3 absolute, Currency 479 = the
//!   fee asset) of the fill they report; quantities and prices are the market's exact
//!   decimal strings, never floats.

use crate::codec::Message;
use crate::exec::Own;
use bourse_gateway::auth::Caller;
use bourse_gateway::dto::OrderJson;
use bourse_gateway::market_info::{market_by_id, market_info, GridParse};
use bourse_gateway::orders::{load_order, OrderKey};
use bourse_gateway::trading::Placed;
use bourse_gateway::{Error, Gateway};
use bourse_model::{
    ClientOrderId, NewOrder, OrderId, OrderState, OrderStatus, OrderType, RejectCode, Side,
    StpMode, TimeInForce, Timestamp,
};

/// The custom tag for self-trade prevention.
pub const TAG_STP: u32 = 20001;

/// What a request came to.
pub enum Answer {
    /// Send this.
    Done(Message),
    /// Accepted: the reports come from the feed; `fallback` if they do not in time.
    Own { own: Own, fallback: Message },
}

impl Answer {
    fn own(state: &OrderState, cl: Option<&str>, fallback: Message) -> Self {
        Answer::Own {
            own: Own {
                order: state.info.id,
                ts: state.updated_at,
                cl: cl.map(str::to_owned),
                silent: false,
            },
            fallback,
        }
    }
}

/// Answers a NewOrderSingle.
pub async fn new_order_single(gw: &Gateway, caller: &Caller, m: &Message) -> Answer {
    let cl = m.get(11).unwrap_or("").to_owned();
    match place(gw, caller, m).await {
        Ok(Ok((market, state))) => {
            let fallback = report(&OrderJson::from_state(&market, &state), "");
            Answer::own(&state, None, fallback)
        }
        Ok(Err(original)) => Answer::Done(report(&original, "I")),
        Err(e) => Answer::Done(rejected(m, &cl, &e)),
    }
}

/// The new order, or the original of a reused ClOrdID.
type PlaceResult = Result<(bourse_gateway::market_info::MarketInfo, Box<OrderState>), OrderJson>;

async fn place(gw: &Gateway, caller: &Caller, m: &Message) -> Result<PlaceResult, Error> {
    let need = |tag: u32, name: &str| {
        m.get(tag)
            .ok_or_else(|| Error::validation(format!("{name} ({tag}) is required")))
    };
    let market = market_info(gw, need(55, "Symbol")?)?;
    let side = match need(54, "Side")? {
        "1" => Side::Buy,
        "2" => Side::Sell,
        _ => return Err(Error::validation("Side (54) must be 1 (buy) or 2 (sell)")),
    };
    let order_type = match need(40, "OrdType")? {
        "1" => OrderType::Market,
        "2" => OrderType::Limit,
        "3" => OrderType::StopMarket,
        "4" => OrderType::StopLimit,
        _ => return Err(Error::validation("OrdType (40) must be 1, 2, 3 or 4")),
    };
    let tif = match m.get(59).unwrap_or("1") {
        "1" if order_type.is_market() => TimeInForce::Ioc,
        "1" => TimeInForce::Gtc,
        "3" => TimeInForce::Ioc,
        "4" => TimeInForce::Fok,
        "6" => TimeInForce::Gtd,
        _ => return Err(Error::validation("TimeInForce (59) must be 1, 3, 4 or 6")),
    };
    let expire_at = match m.get(126) {
        Some(t) => Some(Timestamp(crate::time::parse(t).ok_or_else(|| {
            Error::validation("ExpireTime (126) must be YYYYMMDD-HH:MM:SS[.sss]")
        })?)),
        None => None,
    };
    let stp = match m.get(TAG_STP).unwrap_or("1") {
        "1" => StpMode::ExpireTaker,
        "2" => StpMode::ExpireMaker,
        "3" => StpMode::ExpireBoth,
        _ => {
            return Err(Error::validation(
                "SelfTradePrevention (20001) must be 1, 2 or 3",
            ))
        }
    };
    let client_order_id = m
        .get(11)
        .map(ClientOrderId::new)
        .transpose()
        .map_err(|e| Error::validation(format!("ClOrdID (11): {e}")))?;
    let order = NewOrder {
        user: caller.id,
        market: market.id,
        side,
        order_type,
        price: m
            .get(44)
            .map(|p| market.parse_price("Price (44)", p))
            .transpose()?,
        qty: m
            .get(38)
            .map(|q| market.parse_qty("OrderQty (38)", q))
            .transpose()?,
        quote_qty: m
            .get(152)
            .map(|q| market.parse_quote("CashOrderQty (152)", q))
            .transpose()?,
        stop_price: m
            .get(99)
            .map(|p| market.parse_price("StopPx (99)", p))
            .transpose()?,
        tif,
        expire_at,
        post_only: m.get(18).is_some_and(|e| e.split(' ').any(|i| i == "6")),
        stp,
        client_order_id,
    };
    let key = OrderKey::of(&order).normalized();
    match gw.place(caller, order).await? {
        Placed::New(state) => Ok(Ok((market, state))),
        // A retry (the same order again) gets the original; another order is refused.
        Placed::Duplicate(id) => {
            let original = load_order(gw, caller.id, id).await?;
            if OrderKey::of_json(&original, &market).map(OrderKey::normalized) == Some(key) {
                Ok(Err(original))
            } else {
                Err(Error::Rejected(RejectCode::DuplicateClientOrderId))
            }
        }
    }
}

/// Answers an OrderCancelRequest.
pub async fn cancel(gw: &Gateway, caller: &Caller, m: &Message) -> Answer {
    let result = async {
        let id = order_id(m)?;
        let state = gw.cancel(caller, id).await?;
        let market = market_by_id(gw, state.info.market)?;
        Ok::<_, Error>((market, state))
    }
    .await;
    after_change(m, result, "4", "1")
}

/// Answers an OrderCancelReplaceRequest: the REST amend.
pub async fn replace(gw: &Gateway, caller: &Caller, m: &Message) -> Answer {
    let result = async {
        let id = order_id(m)?;
        let market = gw.order_market(caller, id).await?;
        let price = m
            .get(44)
            .map(|p| market.parse_price("Price (44)", p))
            .transpose()?;
        let qty = m
            .get(38)
            .map(|q| market.parse_qty("OrderQty (38)", q))
            .transpose()?;
        if price.is_none() && qty.is_none() {
            return Err(Error::validation("give Price (44), OrderQty (38) or both"));
        }
        let state = gw.amend(caller, id, price, qty).await?;
        Ok::<_, Error>((market, state))
    }
    .await;
    after_change(m, result, "5", "2")
}

fn order_id(m: &Message) -> Result<OrderId, Error> {
    m.get(37)
        .and_then(|i| i.parse::<u64>().ok())
        .map(OrderId)
        .ok_or_else(|| Error::validation("OrderID (37) is required"))
}

/// The answer to F or G: the order's report, or an OrderCancelReject.
fn after_change(
    m: &Message,
    result: Result<(bourse_gateway::market_info::MarketInfo, OrderState), Error>,
    exec_type: &str,
    response_to: &str,
) -> Answer {
    match result {
        Ok((market, state)) => {
            let json = OrderJson::from_state(&market, &state);
            let mut r = report(&json, exec_type);
            let cl = m.get(11);
            if let Some(cl) = cl {
                r.set(11, cl);
                r.push(41, json.client_order_id.as_deref().unwrap_or("NONE"));
            }
            Answer::own(&state, cl, r)
        }
        Err(e) => Answer::Done(
            Message::new("9")
                .with(11, m.get(11).unwrap_or("NONE"))
                .with(37, m.get(37).unwrap_or("NONE"))
                .with(39, "8")
                .with(41, m.get(41).unwrap_or("NONE"))
                .with(58, text(&e))
                .with(
                    102,
                    if matches!(e, Error::Rejected(RejectCode::UnknownOrder)) {
                        "1"
                    } else {
                        "99"
                    },
                )
                .with(434, response_to),
        ),
    }
}

/// Answers an OrderStatusRequest with the order as the REST API has it.
pub async fn status(gw: &Gateway, caller: &Caller, m: &Message) -> Message {
    let result = async {
        if let Some(id) = m.get(37) {
            let id = id
                .parse::<u64>()
                .map_err(|_| Error::Rejected(RejectCode::UnknownOrder))?;
            return load_order(gw, caller.id, OrderId(id)).await;
        }
        let cl = m
            .get(11)
            .ok_or_else(|| Error::validation("OrderID (37) or ClOrdID (11) is required"))?;
        let cl =
            ClientOrderId::new(cl).map_err(|e| Error::validation(format!("ClOrdID (11): {e}")))?;
        gw.fence().await?;
        let row = gw
            .store
            .order_by_client_id(caller.id, &cl)
            .await?
            .ok_or(Error::Rejected(RejectCode::UnknownOrder))?;
        load_order(gw, caller.id, row.id).await
    }
    .await;
    let mut r = match result {
        Ok(order) => report(&order, "I"),
        Err(e) => {
            let mut r = rejected(m, m.get(11).unwrap_or(""), &e);
            r.set(37, m.get(37).unwrap_or("NONE"));
            r.set(150, "I");
            r.fields.retain(|(t, _)| *t != 103);
            r
        }
    };
    if let Some(id) = m.get(790) {
        r.push(790, id);
    }
    r
}

/// Answers an OrderMassCancelRequest (q) with an OrderMassCancelReport (r):
/// MassCancelRequestType (530) 1 = the orders of Symbol (55), 7 = all orders.
pub async fn mass_cancel(gw: &Gateway, caller: &Caller, m: &Message) -> Message {
    let kind = m.get(530).unwrap_or("");
    let result = async {
        let market = match kind {
            "1" => {
                let symbol = m
                    .get(55)
                    .ok_or_else(|| Error::validation("Symbol (55) is required with 530=1"))?;
                Some(market_info(gw, symbol)?.id)
            }
            "7" => None,
            _ => {
                return Err(Error::validation(
                    "MassCancelRequestType (530) must be 1 (symbol) or 7 (all)",
                ))
            }
        };
        gw.cancel_all(caller, market).await
    }
    .await;
    let mut r = Message::new("r");
    r.push(11, m.get(11).unwrap_or("NONE"))
        .push(37, format!("mc-{}", bourse_engine::now_ms()));
    match result {
        Ok(canceled) => {
            r.push(530, kind)
                .push(531, kind)
                .push(533, canceled.len().to_string());
        }
        Err(e) => {
            r.push(58, text(&e))
                .push(530, kind)
                .push(531, "0")
                .push(532, "99");
        }
    }
    r
}

/// `CODE: message`, as the REST error body has them.
fn text(e: &Error) -> String {
    match e {
        Error::Invalid { code, message, .. } => format!("{code}: {message}"),
        Error::Rejected(code) => format!("{}: {code}", code.as_str()),
        other => other.to_string(),
    }
}

fn rejected(m: &Message, cl: &str, e: &Error) -> Message {
    Message::new("8")
        .with(6, "0")
        .with(11, if cl.is_empty() { "NONE" } else { cl })
        .with(14, "0")
        .with(
            17,
            format!("rej-{}", crate::time::format(bourse_engine::now_ms())),
        )
        .with(37, "NONE")
        .with(39, "8")
        .with(54, m.get(54).unwrap_or("1"))
        .with(55, m.get(55).unwrap_or("NONE"))
        .with(58, text(e))
        .with(103, "99")
        .with(150, "8")
        .with(151, "0")
}

/// The ExecutionReport of `o`; `exec_type` empty = derived from the status.
pub fn report(o: &OrderJson, exec_type: &str) -> Message {
    let (status, derived) = match o.status {
        OrderStatus::New | OrderStatus::Open => ("0", "0"),
        OrderStatus::PartiallyFilled => ("1", "F"),
        OrderStatus::Filled => ("2", "F"),
        OrderStatus::Canceled => ("4", "4"),
        OrderStatus::Rejected => ("8", "8"),
        OrderStatus::Expired => ("C", "C"),
    };
    let exec_type = if exec_type.is_empty() {
        derived
    } else {
        exec_type
    };
    let last = o
        .fills
        .as_ref()
        .and_then(|f| f.last())
        .filter(|_| exec_type == "F");
    let exec_id = match last {
        Some(f) => format!("{}-T{}", o.id, f.trade_id),
        None => format!("{}-{}-{}", o.id, o.updated_at, exec_type),
    };
    let mut r = Message::new("8");
    r.push(6, o.average_price.clone().unwrap_or_else(|| "0".into()))
        .push(
            11,
            o.client_order_id.clone().unwrap_or_else(|| "NONE".into()),
        );
    if let Some(f) = last {
        r.push(12, f.fee.clone()).push(13, "3");
    }
    r.push(14, o.filled_quantity.clone()).push(17, exec_id);
    if let Some(q) = &o.quantity {
        r.push(38, q.clone());
    }
    r.push(37, o.id.to_string()).push(39, status);
    if let Some(p) = &o.price {
        r.push(44, p.clone());
    }
    if let Some(f) = last {
        r.push(31, f.price.clone()).push(32, f.quantity.clone());
    }
    r.push(54, if o.side == Side::Buy { "1" } else { "2" })
        .push(55, o.market.clone())
        .push(150, exec_type)
        .push(
            151,
            o.remaining_quantity.clone().unwrap_or_else(|| "0".into()),
        );
    if let Some(f) = last {
        r.push(479, f.fee_asset.clone());
    }
    r
}
