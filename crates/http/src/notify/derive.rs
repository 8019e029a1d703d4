//! Events → notification drafts. Which event becomes which kind and priority:
//!
//! | event | kind | priority |
//! |---|---|---|
//! | `OrderAccepted` | `order_accepted` | normal |
//! | `OrderPartiallyFilled` | `order_partially_filled` | normal |
//! | `OrderFilled` | `order_filled` | high |
//! | `OrderCanceled` (user, kill switch, STP) / `OrderExpired` (reason `expired`) | `order_canceled` | high |
//! | `Rejected` of a `PlaceOrder` | `order_rejected` | high |
//! | `StopTriggered` | `stop_triggered` | high |
//! | `BalanceChanged` | `balance_updated` | low |
//! | `Deposited` | `deposit_credited` | high |
//! | `WithdrawalRequested/Completed/Rejected` | `withdrawal_updated` | high |
//! | a trade reaching a user's price alert | `price_alert` | high |
//! | kill switch turned on | `risk_alert` | critical |
//! | an order refused for a risk limit (open orders, size, notional, price band) | `risk_alert` | high |
//!
//! `system_announcement` comes from the admin API, not from events.

use super::{Draft, Kind, Priority};
use bourse_engine::sequencer::{AppliedCommand, SequencerHandle};
use bourse_gateway::market_info::MarketInfo;
use bourse_model::{
    format_units, AssetId, CancelReason, CommandKind, Event, MarketId, Price, Qty, RejectCode,
    UserId,
};
use bourse_store::PriceAlertRow;
use serde_json::{json, Value};
use std::collections::HashMap;

/// Markets and assets, for formatting amounts.
#[derive(Default)]
pub(crate) struct Catalog {
    loaded: bool,
    markets: HashMap<MarketId, MarketInfo>,
    assets: HashMap<AssetId, (String, u8)>,
}

impl Catalog {
    /// Whether these events need a fresh catalog (first use, or a new asset or market).
    pub fn stale(&self, events: &[Event]) -> bool {
        !self.loaded
            || events
                .iter()
                .any(|e| matches!(e, Event::AssetCreated { .. } | Event::MarketCreated { .. }))
    }

    /// From the read views: they are at or ahead of the batch being derived, and markets
    /// and assets are never removed, so every id the batch names is there.
    pub fn load(&mut self, seq: &SequencerHandle) {
        let catalog = seq.views().catalog();
        self.markets = catalog
            .markets
            .iter()
            .map(|m| (m.info.id, m.info.clone()))
            .collect();
        self.assets = catalog
            .assets
            .iter()
            .map(|a| (a.id, (a.symbol.to_string(), a.scale)))
            .collect();
        self.loaded = true;
    }

    fn market(&self, id: MarketId) -> Option<&MarketInfo> {
        self.markets.get(&id)
    }
}

fn draft(
    user: UserId,
    kind: Kind,
    priority: Priority,
    title: &str,
    message: String,
    data: Value,
    ts: u64,
) -> Draft {
    Draft {
        user,
        kind,
        priority,
        title: title.to_owned(),
        message,
        data,
        ts,
    }
}

/// Appends the drafts `cmd`'s events cause.
pub(crate) fn drafts(cat: &Catalog, cmd: &AppliedCommand, out: &mut Vec<Draft>) {
    let ts = cmd.ts.0;
    for ev in &cmd.events {
        match ev {
            Event::OrderAccepted(o) => {
                let Some(m) = cat.market(o.market) else {
                    continue;
                };
                let price = o
                    .price
                    .map(|p| format!(" @ {}", m.price(p)))
                    .unwrap_or_default();
                let qty = o.qty.map(|q| m.qty(q)).unwrap_or_default();
                out.push(draft(
                    o.user,
                    Kind::OrderAccepted,
                    Priority::Normal,
                    "Order accepted",
                    format!("{} {qty} {}{price}", side_word(o.side), m.symbol()),
                    json!({"order_id": o.id.0, "market": m.symbol(), "side": o.side,
                        "type": o.order_type, "price": o.price.map(|p| m.price(p)),
                        "quantity": o.qty.map(|q| m.qty(q)),
                        "client_order_id": o.client_order_id}),
                    ts,
                ));
            }
            Event::OrderPartiallyFilled {
                order,
                user,
                market,
                filled,
                remaining,
            } => {
                let Some(m) = cat.market(*market) else {
                    continue;
                };
                out.push(draft(
                    *user,
                    Kind::OrderPartiallyFilled,
                    Priority::Normal,
                    "Order partially filled",
                    format!("Order {} on {}: {} filled, {} left", order.0, m.symbol(), m.qty(*filled), m.qty(*remaining)),
                    json!({"order_id": order.0, "market": m.symbol(),
                        "filled_quantity": m.qty(*filled), "remaining_quantity": m.qty(*remaining)}),
                    ts,
                ));
            }
            Event::OrderFilled {
                order,
                user,
                market,
                filled,
            } => {
                let Some(m) = cat.market(*market) else {
                    continue;
                };
                out.push(draft(
                    *user,
                    Kind::OrderFilled,
                    Priority::High,
                    "Order filled",
                    format!("Order {} on {} filled: {}", order.0, m.symbol(), m.qty(*filled)),
                    json!({"order_id": order.0, "market": m.symbol(), "filled_quantity": m.qty(*filled)}),
                    ts,
                ));
            }
            Event::OrderCanceled {
                order,
                user,
                market,
                filled,
                remaining,
                reason,
            } => {
                let Some(m) = cat.market(*market) else {
                    continue;
                };
                let reason = cancel_reason(*reason);
                out.push(canceled(
                    m, *user, order.0, *filled, *remaining, &reason, ts,
                ));
            }
            Event::OrderExpired {
                order,
                user,
                market,
                filled,
                remaining,
                ..
            } => {
                let Some(m) = cat.market(*market) else {
                    continue;
                };
                out.push(canceled(
                    m, *user, order.0, *filled, *remaining, "expired", ts,
                ));
            }
            Event::Rejected { code, .. } => {
                let CommandKind::PlaceOrder(o) = &cmd.kind else {
                    continue;
                };
                let symbol = cat.market(o.market).map(|m| m.symbol().to_owned());
                out.push(draft(
                    o.user,
                    Kind::OrderRejected,
                    Priority::High,
                    "Order rejected",
                    format!("Order rejected: {}", code.as_str()),
                    json!({"code": code.as_str(), "market": symbol, "client_order_id": o.client_order_id}),
                    ts,
                ));
                if is_limit_breach(*code) {
                    out.push(draft(
                        o.user,
                        Kind::RiskAlert,
                        Priority::High,
                        "Risk limit reached",
                        format!("An order was refused by a risk limit: {}", code.as_str()),
                        json!({"reason": "limit_breach", "code": code.as_str(), "market": symbol}),
                        ts,
                    ));
                }
            }
            Event::StopTriggered {
                order,
                user,
                market,
                last_price,
            } => {
                let Some(m) = cat.market(*market) else {
                    continue;
                };
                out.push(draft(
                    *user,
                    Kind::StopTriggered,
                    Priority::High,
                    "Stop triggered",
                    format!("Stop order {} on {} triggered at {}", order.0, m.symbol(), m.price(*last_price)),
                    json!({"order_id": order.0, "market": m.symbol(), "last_price": m.price(*last_price)}),
                    ts,
                ));
            }
            Event::BalanceChanged {
                user,
                asset,
                available,
                held,
            } => {
                let Some((symbol, scale)) = cat.assets.get(asset) else {
                    continue;
                };
                let avail = format_units(available.0, *scale);
                out.push(draft(
                    *user,
                    Kind::BalanceUpdated,
                    Priority::Low,
                    "Balance updated",
                    format!("{symbol}: {avail} available"),
                    json!({"asset": symbol, "available": avail, "held": format_units(held.0, *scale)}),
                    ts,
                ));
            }
            Event::Deposited {
                user,
                asset,
                amount,
            } => {
                let Some((symbol, scale)) = cat.assets.get(asset) else {
                    continue;
                };
                let amount = format_units(amount.0, *scale);
                out.push(draft(
                    *user,
                    Kind::DepositCredited,
                    Priority::High,
                    "Deposit credited",
                    format!("{amount} {symbol} credited"),
                    json!({"asset": symbol, "amount": amount}),
                    ts,
                ));
            }
            Event::WithdrawalRequested {
                id,
                user,
                asset,
                amount,
                ..
            } => {
                out.extend(withdrawal(
                    cat,
                    *user,
                    id.0,
                    *asset,
                    amount.0,
                    "requested",
                    ts,
                ));
            }
            Event::WithdrawalCompleted {
                id,
                user,
                asset,
                amount,
            } => {
                out.extend(withdrawal(
                    cat,
                    *user,
                    id.0,
                    *asset,
                    amount.0,
                    "completed",
                    ts,
                ));
            }
            Event::WithdrawalRejected {
                id,
                user,
                asset,
                amount,
            } => {
                out.extend(withdrawal(
                    cat, *user, id.0, *asset, amount.0, "rejected", ts,
                ));
            }
            Event::UserFlagsChanged {
                user,
                kill_switch: true,
                ..
            } => {
                // Only when this command turned it on (a tier change keeps it on quietly).
                let turned_on = matches!(
                    &cmd.kind,
                    CommandKind::SetUserFlags {
                        kill_switch: Some(true),
                        ..
                    }
                );
                if turned_on {
                    out.push(draft(
                        *user,
                        Kind::RiskAlert,
                        Priority::Critical,
                        "Trading disabled",
                        "The kill switch is on: your open orders were canceled and new orders are refused".into(),
                        json!({"reason": "kill_switch"}),
                        ts,
                    ));
                }
            }
            _ => {}
        }
    }
}

/// The reason's wire name (`user`, `kill_switch`, `self_trade_prevention`, …): its serde
/// name, the same the `orders` channel and the REST API show, so a new reason needs no
/// second table here.
fn cancel_reason(reason: CancelReason) -> String {
    match serde_json::to_value(reason) {
        Ok(Value::String(s)) => s,
        _ => format!("{reason:?}"),
    }
}

/// Refusals that mean a risk limit was hit (rather than a malformed order).
fn is_limit_breach(code: RejectCode) -> bool {
    matches!(
        code,
        RejectCode::TooManyOpenOrders
            | RejectCode::QuantityTooLarge
            | RejectCode::NotionalTooLarge
            | RejectCode::PriceOutOfBand
    )
}

fn side_word(side: bourse_model::Side) -> &'static str {
    match side {
        bourse_model::Side::Buy => "Buy",
        bourse_model::Side::Sell => "Sell",
    }
}

fn canceled(
    m: &MarketInfo,
    user: UserId,
    order: u64,
    filled: Qty,
    remaining: Qty,
    reason: &str,
    ts: u64,
) -> Draft {
    draft(
        user,
        Kind::OrderCanceled,
        Priority::High,
        "Order canceled",
        format!("Order {order} on {} canceled ({reason})", m.symbol()),
        json!({"order_id": order, "market": m.symbol(), "reason": reason,
            "filled_quantity": m.qty(filled), "remaining_quantity": m.qty(remaining)}),
        ts,
    )
}

fn withdrawal(
    cat: &Catalog,
    user: UserId,
    id: u64,
    asset: AssetId,
    amount: u64,
    status: &str,
    ts: u64,
) -> Option<Draft> {
    let (symbol, scale) = cat.assets.get(&asset)?;
    let amount = format_units(amount, *scale);
    Some(draft(
        user,
        Kind::WithdrawalUpdated,
        Priority::High,
        "Withdrawal updated",
        format!("Withdrawal {id} of {amount} {symbol}: {status}"),
        json!({"withdrawal_id": id, "asset": symbol, "amount": amount, "status": status}),
        ts,
    ))
}

pub(crate) fn price_alert(cat: &Catalog, a: &PriceAlertRow, trade_price: Price, ts: u64) -> Draft {
    let (symbol, target, traded) = match cat.market(a.market) {
        Some(m) => (
            m.symbol().to_owned(),
            m.price(a.price),
            m.price(trade_price),
        ),
        None => (
            a.market.to_string(),
            a.price.0.to_string(),
            trade_price.0.to_string(),
        ),
    };
    draft(
        a.user,
        Kind::PriceAlert,
        Priority::High,
        "Price alert",
        format!("{symbol} traded at {traded} ({} {target})", a.condition),
        json!({"alert_id": a.id, "market": symbol, "condition": a.condition,
            "price": target, "trade_price": traded}),
        ts,
    )
}
