//! Amending an open order's price and/or total size.

use crate::ledger::Account;
use crate::money;
use crate::state::Order;
use crate::{BookOps, Check, Core};
use bourse_book::RestingOrder;
use bourse_model::{
    Event, MarketStatus, OrderId, OrderType, Price, Qty, RejectCode, Timestamp, UserId,
};

use RejectCode::*;

impl<B: BookOps> Core<B> {
    /// Checks an amend and returns the amended order (not yet applied).
    fn check_amend(
        &self,
        user: UserId,
        id: OrderId,
        price: Option<Price>,
        qty: Option<Qty>,
    ) -> Check<Order> {
        self.user_state(user)?;
        let o = match self.orders.get(&id) {
            Some(o) if o.user == user => o,
            _ => return Err(UnknownOrder.into()),
        };
        let m = &self.markets[o.market.0 as usize];
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
        if price.is_some_and(|p| p.0 == 0 || !priced) {
            return Err(InvalidPrice.into());
        }
        let mut new = o.clone();
        if let Some(q) = qty {
            if q <= o.filled {
                return Err(InvalidQuantity.into());
            }
            if q < m.spec.min_qty {
                return Err(QuantityTooSmall.into());
            }
            if q > m.spec.max_qty {
                return Err(QuantityTooLarge.into());
            }
            new.qty = q;
        }
        if let Some(p) = price {
            new.limit = Some(p);
        }
        if priced {
            let limit = new.limit.expect("priced orders have a limit");
            let n = money::notional(limit, new.qty, m.params.quote_per_tick_lot)
                .ok_or(NotionalTooLarge)?;
            if n < m.spec.min_notional.0 {
                return Err(NotionalTooSmall.into());
            }
            if new.limit != o.limit {
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
        new.hold = new.required_hold(&m.params).ok_or(NotionalTooLarge)?;
        if new.hold > o.hold {
            let available = self
                .ledger
                .balance(user, m.params.hold_asset(o.side))
                .available;
            if new.hold - o.hold > available {
                return Err(InsufficientBalance.into());
            }
        }
        Ok(new)
    }

    pub(crate) fn amend(
        &mut self,
        user: UserId,
        id: OrderId,
        price: Option<Price>,
        qty: Option<Qty>,
        now: Timestamp,
        out: &mut Vec<Event>,
    ) -> Check {
        let new = self.check_amend(user, id, price, qty)?;
        let old = &self.orders[&id];
        let (old_limit, old_qty, old_hold, old_remaining) =
            (old.limit, old.qty, old.hold, old.remaining());
        let resting = !new.is_untriggered_stop();
        let kept_priority = !resting || (new.limit == old_limit && new.qty <= old_qty);
        let mi = new.market.0 as usize;
        let p = self.markets[mi].params;
        out.push(Event::OrderAmended {
            order: id,
            user,
            market: new.market,
            price: if matches!(new.order_type, OrderType::Limit | OrderType::StopLimit) {
                new.limit
            } else {
                None
            },
            qty: new.qty,
            remaining: new.remaining(),
            kept_priority,
        });
        if new.hold != old_hold {
            let asset = p.hold_asset(new.side);
            let (from, to, amount) = if new.hold > old_hold {
                (
                    Account::Available(user),
                    Account::Held(user),
                    new.hold - old_hold,
                )
            } else {
                (
                    Account::Held(user),
                    Account::Available(user),
                    old_hold - new.hold,
                )
            };
            self.ledger
                .transfer(asset, from, to, amount)
                .expect("amend hold checked");
            self.emit_balance(user, asset, out);
        }
        if !resting {
            *self.orders.get_mut(&id).expect("open order") = new;
            return Ok(());
        }
        let (side, market) = (new.side, new.market);
        let limit = new.limit.expect("resting orders have a limit price");
        if kept_priority {
            if new.remaining() < old_remaining {
                self.markets[mi]
                    .book
                    .reduce(id, new.remaining())
                    .expect("resting order");
                self.touch(market, side, limit);
            }
            *self.orders.get_mut(&id).expect("open order") = new;
            return Ok(());
        }
        self.markets[mi].book.remove(id).expect("resting order");
        self.touch(
            market,
            side,
            old_limit.expect("resting orders have a limit price"),
        );
        if self.markets[mi].book.would_cross(side, limit) {
            self.unindex_order(id);
            if self.run_taker(new, now, out) {
                self.trigger_stops(market, now, out);
            }
        } else {
            self.markets[mi].book.insert(RestingOrder {
                id,
                owner: user,
                side,
                price: limit,
                qty: new.remaining(),
                expire_at: new.expire_at,
            });
            self.touch(market, side, limit);
            *self.orders.get_mut(&id).expect("open order") = new;
        }
        Ok(())
    }
}
