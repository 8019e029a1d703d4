//! One order's lifecycle, folded from the core's events: the single reading of those
//! events that an order's REST view, its read-model row, its `orders` channel updates and
//! its notifications can all share.
//!
//! A pure data structure: no I/O, no formatting. Sizes are lots, prices ticks, notional
//! and fees minor units of the market's quote asset (fees are always charged in it).
//!
//! # Rules
//!
//! [`OrderState::new`] builds the state from the order's `OrderAccepted`: status `new`
//! for a stop order (until it triggers), `open` otherwise; price and size as submitted;
//! nothing filled; `remaining` is the size in lots, `None` for an order sized by a quote
//! amount (its size is an amount, not lots). [`OrderState::apply`] then takes the events
//! that follow, in the order the core emitted them, each with its command's `ts`. An
//! event changes the state only if it concerns this order ([`concerned_orders`]); such
//! an event sets `updated_at` to `ts`:
//!
//! | event | change |
//! |---|---|
//! | `StopTriggered` | status `new` → `open` |
//! | `Trade`, as maker or taker | one more fill in `fills` (this order's side, fee and liquidity); `filled` += qty, `filled_notional` += notional, `fees` += fee, `remaining` −= qty; status `partially_filled` |
//! | `OrderPartiallyFilled` | `filled`, `remaining` as reported; status `partially_filled` |
//! | `OrderAmended` | `price` (if the event has one), `qty` (the new total) and `remaining` as reported; status unchanged |
//! | `OrderFilled` | `filled` as reported, `remaining` 0; status `filled` |
//! | `OrderCanceled` | `filled`, `remaining` as reported, `reason`; status `canceled` |
//! | `OrderExpired` | `filled`, `remaining` as reported, `reason`; status `expired` |
//!
//! Nothing else changes an order. `OrderAccepted` is what builds the state, so `apply`
//! ignores it. `Rejected` concerns no accepted order: a rejected command changed
//! nothing, and a duplicate client order id's `order` names the untouched original.
//!
//! The core reports sizes absolutely in its fill and end events, so after them `filled`
//! and `remaining` are the core's own. A completely filled order's `OrderFilled` always
//! follows its last `Trade` in the same command, so `partially_filled` with nothing
//! remaining is never the state between commands. `filled` is always the sum of the
//! fills' quantities over the order's life, and the terminal events of an order sized by
//! quote report `remaining` 0.
//!
//! # Terminal states
//!
//! `filled`, `canceled` and `expired` are terminal: after one, `apply` changes nothing
//! and answers `false` (the core sends no further events for the order). `rejected` is
//! terminal too, but it is never an `OrderState`'s status: an order the core refused has
//! neither `OrderAccepted` nor an id; its status is `rejected` by definition, and its
//! `Rejected` event and command say everything there is.
//!
//! # Fills and average price
//!
//! `fills` holds the fills applied since the state was built or since the last
//! [`OrderState::take_fills`]: one batch's fills, for a consumer that keeps an order's
//! state across batches and writes its fills per batch. The average price is
//! `filled_notional / (filled × quote_per_tick_lot)` ticks, from the market's grid.
//! Sums saturate; the core's bounds (every amount within an asset's supply) keep them
//! far below `u64::MAX`.

use crate::event::{CancelReason, Event, ExpireReason, OrderInfo, OrderStatus};
use crate::ids::{OrderId, Timestamp, TradeId};
use crate::order::{Amount, Price, Qty, Side};
use serde::{Deserialize, Serialize};

/// Which side of a trade an order was on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Liquidity {
    /// The order rested in the book.
    Maker,
    /// The order came in and took.
    Taker,
}

/// Why an order ended other than by filling. Serialized as the inner reason's name
/// (`"user"`, `"price_protection"`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(untagged)]
pub enum EndReason {
    Canceled(CancelReason),
    Expired(ExpireReason),
}

/// One fill of one order: its half of a `Trade`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderFill {
    pub trade: TradeId,
    /// This order's side.
    pub side: Side,
    pub price: Price,
    pub qty: Qty,
    /// Quote minor units exchanged, before fees.
    pub notional: Amount,
    /// This order's fee, in quote minor units.
    pub fee: Amount,
    pub liquidity: Liquidity,
    /// The trade's command time.
    pub ts: Timestamp,
}

/// An order's state after the events applied so far (see the module doc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderState {
    /// The order as accepted.
    pub info: OrderInfo,
    pub status: OrderStatus,
    /// The limit price now (amends change it); `None` for market and stop-market orders.
    pub price: Option<Price>,
    /// The total size now (amends change it); `None` for an order sized by quote.
    pub qty: Option<Qty>,
    pub filled: Qty,
    /// `None` while an order sized by quote is open.
    pub remaining: Option<Qty>,
    pub filled_notional: Amount,
    pub fees: Amount,
    /// Set by `OrderCanceled` and `OrderExpired`.
    pub reason: Option<EndReason>,
    /// The `ts` of the last event that concerned the order.
    pub updated_at: Timestamp,
    /// Fills applied since the state was built or since [`OrderState::take_fills`].
    pub fills: Vec<OrderFill>,
}

/// The orders an event concerns: both orders of a `Trade`, the order of an order event,
/// none for any other event (`Rejected` included, see the module doc).
pub fn concerned_orders(ev: &Event) -> impl Iterator<Item = OrderId> {
    let ids = match ev {
        Event::OrderAccepted(info) => [Some(info.id), None],
        Event::Trade {
            maker_order,
            taker_order,
            ..
        } => [Some(*maker_order), Some(*taker_order)],
        Event::StopTriggered { order, .. }
        | Event::OrderPartiallyFilled { order, .. }
        | Event::OrderFilled { order, .. }
        | Event::OrderCanceled { order, .. }
        | Event::OrderExpired { order, .. }
        | Event::OrderAmended { order, .. } => [Some(*order), None],
        _ => [None, None],
    };
    ids.into_iter().flatten()
}

impl OrderState {
    /// The state of an order just accepted by a command at `ts`.
    pub fn new(info: &OrderInfo, ts: Timestamp) -> Self {
        OrderState {
            status: if info.order_type.is_stop() {
                OrderStatus::New
            } else {
                OrderStatus::Open
            },
            price: info.price,
            qty: info.qty,
            filled: Qty::ZERO,
            remaining: info.qty,
            filled_notional: Amount::ZERO,
            fees: Amount::ZERO,
            reason: None,
            updated_at: ts,
            fills: Vec::new(),
            info: info.clone(),
        }
    }

    /// The order accepted in one command's `events` (its first `OrderAccepted`), folded
    /// over all of them; `None` if the command accepted no order.
    pub fn from_events(events: &[Event], ts: Timestamp) -> Option<Self> {
        let mut state = events.iter().find_map(|e| match e {
            Event::OrderAccepted(info) => Some(OrderState::new(info, ts)),
            _ => None,
        })?;
        for e in events {
            state.apply(e, ts);
        }
        Some(state)
    }

    pub fn id(&self) -> OrderId {
        self.info.id
    }

    /// Not yet filled, canceled or expired.
    pub fn is_open(&self) -> bool {
        !self.status.is_terminal()
    }

    /// Applies one event of a command at `ts`. Answers whether it changed this order
    /// (false for events that concern other orders or none, and after a terminal status).
    pub fn apply(&mut self, ev: &Event, ts: Timestamp) -> bool {
        let id = self.info.id;
        if self.status.is_terminal() || !concerned_orders(ev).any(|o| o == id) {
            return false;
        }
        match ev {
            Event::OrderAccepted(_) => return false,
            Event::StopTriggered { .. } => {
                if self.status == OrderStatus::New {
                    self.status = OrderStatus::Open;
                }
            }
            Event::Trade {
                id: trade,
                price,
                qty,
                notional,
                taker_side,
                taker_order,
                maker_fee,
                taker_fee,
                ..
            } => {
                let taker = *taker_order == id;
                let (side, fee, liquidity) = if taker {
                    (*taker_side, *taker_fee, Liquidity::Taker)
                } else {
                    (taker_side.opposite(), *maker_fee, Liquidity::Maker)
                };
                self.filled = Qty(self.filled.0.saturating_add(qty.0));
                self.filled_notional = Amount(self.filled_notional.0.saturating_add(notional.0));
                self.fees = Amount(self.fees.0.saturating_add(fee.0));
                self.remaining = self.remaining.map(|r| Qty(r.0.saturating_sub(qty.0)));
                self.status = OrderStatus::PartiallyFilled;
                self.fills.push(OrderFill {
                    trade: *trade,
                    side,
                    price: *price,
                    qty: *qty,
                    notional: *notional,
                    fee,
                    liquidity,
                    ts,
                });
            }
            Event::OrderPartiallyFilled {
                filled, remaining, ..
            } => {
                self.filled = *filled;
                self.remaining = Some(*remaining);
                self.status = OrderStatus::PartiallyFilled;
            }
            Event::OrderAmended {
                price,
                qty,
                remaining,
                ..
            } => {
                if price.is_some() {
                    self.price = *price;
                }
                self.qty = Some(*qty);
                self.remaining = Some(*remaining);
            }
            Event::OrderFilled { filled, .. } => {
                self.filled = *filled;
                self.remaining = Some(Qty::ZERO);
                self.status = OrderStatus::Filled;
            }
            Event::OrderCanceled {
                filled,
                remaining,
                reason,
                ..
            } => {
                self.end(*filled, *remaining, OrderStatus::Canceled);
                self.reason = Some(EndReason::Canceled(*reason));
            }
            Event::OrderExpired {
                filled,
                remaining,
                reason,
                ..
            } => {
                self.end(*filled, *remaining, OrderStatus::Expired);
                self.reason = Some(EndReason::Expired(*reason));
            }
            _ => return false,
        }
        self.updated_at = ts;
        true
    }

    fn end(&mut self, filled: Qty, remaining: Qty, status: OrderStatus) {
        self.filled = filled;
        self.remaining = Some(remaining);
        self.status = status;
    }

    /// The fills applied since the last call (or since the state was built).
    pub fn take_fills(&mut self) -> Vec<OrderFill> {
        std::mem::take(&mut self.fills)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{MarketId, UserId};
    use crate::order::{OrderType, StpMode, TimeInForce};
    use crate::RejectCode;

    const ALICE: UserId = UserId(1);
    const BOB: UserId = UserId(2);
    const M: MarketId = MarketId(0);

    fn info(id: u64, order_type: OrderType, qty: Option<u64>, quote: Option<u64>) -> OrderInfo {
        let priced = matches!(order_type, OrderType::Limit | OrderType::StopLimit);
        OrderInfo {
            id: OrderId(id),
            user: ALICE,
            market: M,
            side: Side::Buy,
            order_type,
            price: priced.then_some(Price(100)),
            qty: qty.map(Qty),
            quote_qty: quote.map(Amount),
            stop_price: order_type.is_stop().then_some(Price(90)),
            tif: TimeInForce::Gtc,
            expire_at: None,
            post_only: false,
            stp: StpMode::ExpireTaker,
            client_order_id: None,
            created_at: Timestamp(1),
        }
    }

    /// A trade of `qty` at 100 (notional 100 per lot), maker fee 1, taker fee 2 per lot.
    fn trade(id: u64, maker: u64, taker: u64, taker_side: Side, qty: u64) -> Event {
        Event::Trade {
            id: TradeId(id),
            market: M,
            price: Price(100),
            qty: Qty(qty),
            notional: Amount(100 * qty),
            taker_side,
            maker_order: OrderId(maker),
            maker_user: BOB,
            taker_order: OrderId(taker),
            taker_user: ALICE,
            maker_fee: Amount(qty),
            taker_fee: Amount(2 * qty),
        }
    }

    fn canceled(order: u64, filled: u64, remaining: u64) -> Event {
        Event::OrderCanceled {
            order: OrderId(order),
            user: ALICE,
            market: M,
            filled: Qty(filled),
            remaining: Qty(remaining),
            reason: CancelReason::User,
        }
    }

    #[test]
    fn a_limit_order_rests_fills_as_maker_is_amended_and_fills_as_taker() {
        let mut o = OrderState::new(&info(7, OrderType::Limit, Some(5), None), Timestamp(10));
        assert_eq!(
            (o.status, o.remaining, o.updated_at),
            (OrderStatus::Open, Some(Qty(5)), Timestamp(10))
        );
        // The taker here is a sell, so this buy was the maker.
        assert!(o.apply(&trade(1, 7, 8, Side::Sell, 2), Timestamp(11)));
        assert_eq!(o.status, OrderStatus::PartiallyFilled);
        assert_eq!((o.filled, o.remaining), (Qty(2), Some(Qty(3))));
        assert_eq!((o.filled_notional, o.fees), (Amount(200), Amount(2)));
        let fill = &o.fills[0];
        assert_eq!(
            (fill.side, fill.liquidity, fill.fee),
            (Side::Buy, Liquidity::Maker, Amount(2))
        );
        let partial = Event::OrderPartiallyFilled {
            order: OrderId(7),
            user: ALICE,
            market: M,
            filled: Qty(2),
            remaining: Qty(3),
        };
        assert!(o.apply(&partial, Timestamp(11)));
        let amended = Event::OrderAmended {
            order: OrderId(7),
            user: ALICE,
            market: M,
            price: Some(Price(101)),
            qty: Qty(4),
            remaining: Qty(2),
            kept_priority: false,
        };
        assert!(o.apply(&amended, Timestamp(12)));
        assert_eq!(
            (o.price, o.qty, o.remaining),
            (Some(Price(101)), Some(Qty(4)), Some(Qty(2)))
        );
        assert_eq!(
            o.status,
            OrderStatus::PartiallyFilled,
            "an amend keeps the status"
        );
        // Re-entered and took the rest.
        assert!(o.apply(&trade(2, 9, 7, Side::Buy, 2), Timestamp(12)));
        let filled = Event::OrderFilled {
            order: OrderId(7),
            user: ALICE,
            market: M,
            filled: Qty(4),
        };
        assert!(o.apply(&filled, Timestamp(12)));
        assert_eq!(
            (o.status, o.filled, o.remaining),
            (OrderStatus::Filled, Qty(4), Some(Qty::ZERO))
        );
        assert_eq!(
            (o.filled_notional, o.fees, o.updated_at),
            (Amount(400), Amount(6), Timestamp(12))
        );
        assert_eq!(o.fills[1].liquidity, Liquidity::Taker);
        // Terminal: nothing changes it any more.
        let before = o.clone();
        assert!(!o.apply(&canceled(7, 4, 0), Timestamp(13)));
        assert_eq!(o, before);
        let fills = o.take_fills();
        assert_eq!(fills.iter().map(|f| f.trade.0).collect::<Vec<_>>(), [1, 2]);
        assert!(o.fills.is_empty() && o.take_fills().is_empty());
    }

    #[test]
    fn a_stop_is_new_until_triggered() {
        let mut o = OrderState::new(&info(3, OrderType::StopLimit, Some(2), None), Timestamp(5));
        assert_eq!(o.status, OrderStatus::New);
        assert!(!o.apply(&canceled(4, 0, 1), Timestamp(6)), "another order");
        assert_eq!(o.updated_at, Timestamp(5));
        let triggered = Event::StopTriggered {
            order: OrderId(3),
            user: ALICE,
            market: M,
            last_price: Price(90),
        };
        assert!(o.apply(&triggered, Timestamp(7)));
        assert_eq!(o.status, OrderStatus::Open);
        let expired = Event::OrderExpired {
            order: OrderId(3),
            user: ALICE,
            market: M,
            filled: Qty(0),
            remaining: Qty(2),
            reason: ExpireReason::FillOrKill,
        };
        assert!(o.apply(&expired, Timestamp(7)));
        assert_eq!(o.status, OrderStatus::Expired);
        assert_eq!(o.reason, Some(EndReason::Expired(ExpireReason::FillOrKill)));
        assert!(!o.is_open());
    }

    #[test]
    fn an_order_sized_by_quote_has_no_remaining_size_until_it_ends() {
        let mut o = OrderState::new(&info(5, OrderType::Market, None, Some(1_000)), Timestamp(1));
        assert_eq!((o.qty, o.remaining), (None, None));
        o.apply(&trade(1, 2, 5, Side::Buy, 3), Timestamp(1));
        assert_eq!((o.filled, o.remaining), (Qty(3), None));
        let expired = Event::OrderExpired {
            order: OrderId(5),
            user: ALICE,
            market: M,
            filled: Qty(3),
            remaining: Qty(0),
            reason: ExpireReason::ImmediateOrCancel,
        };
        o.apply(&expired, Timestamp(1));
        assert_eq!(
            (o.status, o.remaining),
            (OrderStatus::Expired, Some(Qty(0)))
        );
    }

    #[test]
    fn rejections_and_other_events_change_no_order() {
        let mut o = OrderState::new(&info(2, OrderType::Limit, Some(1), None), Timestamp(1));
        let before = o.clone();
        let duplicate = Event::Rejected {
            code: RejectCode::DuplicateClientOrderId,
            order: Some(OrderId(2)),
            withdrawal: None,
            remaining: None,
        };
        let balance = Event::BalanceChanged {
            user: ALICE,
            asset: crate::AssetId(1),
            available: Amount(1),
            held: Amount(2),
        };
        let again = Event::OrderAccepted(Box::new(info(2, OrderType::Limit, Some(9), None)));
        for e in [duplicate, balance, again] {
            assert!(!o.apply(&e, Timestamp(9)), "{e:?}");
            assert_eq!(
                concerned_orders(&e).any(|id| id == OrderId(2)),
                matches!(e, Event::OrderAccepted(_))
            );
        }
        assert_eq!(o, before);
        assert_eq!(
            concerned_orders(&trade(1, 2, 3, Side::Buy, 1)).collect::<Vec<_>>(),
            [OrderId(2), OrderId(3)]
        );
    }

    #[test]
    fn from_events_folds_the_order_a_command_accepted() {
        let accepted = Event::OrderAccepted(Box::new(info(9, OrderType::Limit, Some(2), None)));
        let filled = Event::OrderFilled {
            order: OrderId(9),
            user: ALICE,
            market: M,
            filled: Qty(2),
        };
        let events = [
            accepted,
            trade(4, 1, 9, Side::Buy, 2),
            canceled(1, 2, 0),
            filled,
        ];
        let o = OrderState::from_events(&events, Timestamp(3)).unwrap();
        assert_eq!(
            (o.id(), o.status, o.filled, o.fills.len()),
            (OrderId(9), OrderStatus::Filled, Qty(2), 1)
        );
        assert_eq!(OrderState::from_events(&events[1..], Timestamp(3)), None);
        assert_eq!(
            serde_json::to_string(&Liquidity::Maker).unwrap(),
            "\"maker\""
        );
    }
}
