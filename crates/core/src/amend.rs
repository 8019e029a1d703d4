//! Amending an open order's price and/or total size.
//!
//! The hot path of a busy market (most commands move an order by a tick), so it finds the
//! order once, checks everything against it in place, and only then changes it: no copy
//! of the order, one id lookup in the core and the book's own remove/insert.

use crate::admin::balance_event;
use crate::money;
use crate::push_event;
use crate::{BookOps, Check, Core};
use bourse_book::RestingOrder;
use bourse_model::{
    Event, MarketStatus, OrderId, OrderType, Price, Qty, RejectCode, Timestamp, UserId,
};

use RejectCode::*;

impl<B: BookOps> Core<B> {
    pub(crate) fn amend(
        &mut self,
        user: UserId,
        id: OrderId,
        price: Option<Price>,
        qty: Option<Qty>,
        now: Timestamp,
        out: &mut Vec<Event>,
    ) -> Check {
        let u = self.user_state(user)?;
        // Before the order lookup: a user who may not trade has no open order (they are
        // canceled), so this is the answer they must get.
        if !self.may_trade(u) {
            return Err(KycRequired.into());
        }
        let o = match self.orders.get_mut(&id) {
            Some(o) if o.user == user => o,
            _ => return Err(UnknownOrder.into()),
        };
        let m = &mut self.markets[o.market.0 as usize];

        // Checks, in the documented order; nothing changes before they all pass.
        if m.status == MarketStatus::Halted {
            return Err(MarketHalted.into());
        }
        if o.quote_qty.is_some() {
            return Err(OrderNotAmendable.into());
        }
        if price.is_none() && qty.is_none() {
            return Err(InvalidOrder.into());
        }
        let priced = matches!(o.order_type, OrderType::Limit | OrderType::StopLimit);
        if price.is_some_and(|p| !money::valid_price(p) || !priced) {
            return Err(InvalidPrice.into());
        }
        let new_qty = match qty {
            Some(q) => {
                if q <= o.filled {
                    return Err(InvalidQuantity.into());
                }
                if q < m.spec.min_qty {
                    return Err(QuantityTooSmall.into());
                }
                if q > m.spec.max_qty {
                    return Err(QuantityTooLarge.into());
                }
                q
            }
            None => o.qty,
        };
        let new_limit = price.or(o.limit);
        if priced {
            let limit = new_limit.expect("priced orders have a limit");
            let n = money::notional(limit, new_qty, m.params.quote_per_tick_lot)
                .ok_or(NotionalTooLarge)?;
            if n < m.spec.min_notional.0 {
                return Err(NotionalTooSmall.into());
            }
            if new_limit != o.limit {
                if let Some(last) = m.last_price {
                    if money::out_of_band(limit, last, m.spec.price_band_bps) {
                        return Err(PriceOutOfBand.into());
                    }
                }
                if o.post_only && m.book.would_cross(o.side, limit) {
                    return Err(PostOnlyWouldTake.into());
                }
            }
        }
        let new_hold = o
            .hold_for(&m.params, new_qty, new_limit)
            .ok_or(NotionalTooLarge)?;
        let asset = m.params.hold_asset(o.side);
        if new_hold > o.hold {
            let available = self.ledger.balance(user, asset).available;
            if new_hold - o.hold > available {
                return Err(InsufficientBalance.into());
            }
        }

        // Apply.
        let (old_limit, old_qty, old_hold, old_remaining) = (o.limit, o.qty, o.hold, o.remaining());
        let resting = !o.is_untriggered_stop();
        let kept_priority = !resting || (new_limit == old_limit && new_qty <= old_qty);
        o.qty = new_qty;
        o.limit = new_limit;
        o.hold = new_hold;
        let (market, side, remaining) = (o.market, o.side, o.remaining());
        push_event(out, || Event::OrderAmended {
            order: id,
            user,
            market,
            price: if priced { new_limit } else { None },
            qty: new_qty,
            remaining,
            kept_priority,
        });
        if new_hold != old_hold {
            let (to_held, amount) = if new_hold > old_hold {
                (true, new_hold - old_hold)
            } else {
                (false, old_hold - new_hold)
            };
            let b = self
                .ledger
                .shift(user, asset, to_held, amount)
                .expect("amend hold checked");
            push_event(out, || balance_event(user, asset, b));
        }
        if !resting {
            return Ok(());
        }
        let limit = new_limit.expect("resting orders have a limit price");
        if kept_priority {
            if remaining < old_remaining {
                m.book.reduce(id, remaining).expect("resting order");
                self.touch(market, side, limit);
            }
            return Ok(());
        }
        let expire_at = o.expire_at;
        m.book.remove(id).expect("resting order");
        self.touch(
            market,
            side,
            old_limit.expect("resting orders have a limit price"),
        );
        let m = &mut self.markets[market.0 as usize];
        if m.book.would_cross(side, limit) {
            let o = self.unindex_order(id);
            if self.run_taker(o, now, out) {
                self.trigger_stops(market, now, out);
            }
        } else {
            m.book.insert(RestingOrder {
                id,
                owner: user,
                side,
                price: limit,
                qty: remaining,
                expire_at,
            });
            self.touch(market, side, limit);
        }
        Ok(())
    }
}
