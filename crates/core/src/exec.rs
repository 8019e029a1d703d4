//! Execution: matching a taker, settling fills, resting, ending orders, stops, GTD
//! expiry, cancels, and publishing book changes.

use crate::admin::balance_event;
use crate::ledger::{Account, Ledger};
use crate::money;
use crate::push_event;
use crate::state::{Order, Params};
use crate::{BookOps, Check, Core};
use bourse_book::{MatchEnd, MatchEvent, RestingOrder};
use bourse_model::{
    Amount, CancelReason, Event, ExpireReason, MarketId, OrderId, OrderType, Price, Qty,
    RejectCode, Side, TimeInForce, Timestamp, TradeId, UserId,
};
use std::cmp::Reverse;

/// How an order ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    Filled,
    Canceled(CancelReason),
    Expired(ExpireReason),
}

/// A touched book level as one sortable key: market, then side (buy first), then price,
/// the order in which `BookChanged` events are published.
#[inline]
fn level_key(market: MarketId, side: Side, price: Price) -> u128 {
    let s = match side {
        Side::Buy => 0u128,
        Side::Sell => 1,
    };
    u128::from(market.0) << 65 | s << 64 | u128::from(price.0)
}

fn from_level_key(key: u128) -> (MarketId, Side, Price) {
    let side = if key >> 64 & 1 == 0 {
        Side::Buy
    } else {
        Side::Sell
    };
    (MarketId((key >> 65) as u32), side, Price(key as u64))
}

/// Sorts and dedups the keys of one step: usually two (an amend's old and new level).
#[inline]
fn sort_keys(keys: &mut Vec<u128>) {
    match keys.len() {
        0 | 1 => {}
        2 => {
            if keys[0] > keys[1] {
                keys.swap(0, 1);
            } else if keys[0] == keys[1] {
                keys.truncate(1);
            }
        }
        _ => {
            keys.sort_unstable();
            keys.dedup();
        }
    }
}

fn post(l: &mut Ledger, asset: bourse_model::AssetId, from: Account, to: Account, amount: u64) {
    l.transfer(asset, from, to, amount)
        .expect("holds cover every settlement");
}

/// Moves the money of one fill and updates both orders' fills and holds. Returns
/// `(notional, buyer fee, seller fee)`.
fn settle(
    l: &mut Ledger,
    p: &Params,
    buyer: &mut Order,
    seller: &mut Order,
    price: Price,
    qty: Qty,
    buyer_is_taker: bool,
) -> (u64, u64, u64) {
    let n =
        money::notional(price, qty, p.quote_per_tick_lot).expect("bounded by an accepted order");
    let base = qty.0 * p.base_per_lot;
    let (b_bps, s_bps) = if buyer_is_taker {
        (buyer.taker_bps, seller.maker_bps)
    } else {
        (buyer.maker_bps, seller.taker_bps)
    };
    let (bfee, sfee) = (money::fee(n, b_bps), money::fee(n, s_bps));
    post(
        l,
        p.quote,
        Account::Held(buyer.user),
        Account::Available(seller.user),
        n,
    );
    post(l, p.quote, Account::Held(buyer.user), Account::Fee, bfee);
    post(
        l,
        p.base,
        Account::Held(seller.user),
        Account::Available(buyer.user),
        base,
    );
    post(
        l,
        p.quote,
        Account::Available(seller.user),
        Account::Fee,
        sfee,
    );
    buyer.hold -= n + bfee;
    seller.hold -= base;
    buyer.filled.0 += qty.0;
    seller.filled.0 += qty.0;
    buyer.filled_notional += n;
    seller.filled_notional += n;
    if let Some(need) = buyer.required_hold(p) {
        // A fill below the limit (or a rounded-down fee) leaves a surplus: release it.
        let surplus = buyer.hold - need;
        post(
            l,
            p.quote,
            Account::Held(buyer.user),
            Account::Available(buyer.user),
            surplus,
        );
        buyer.hold = need;
    }
    (n, bfee, sfee)
}

fn fill_event(o: &Order, out: &mut Vec<Event>) {
    let rem = o.remaining();
    push_event(out, || {
        if rem.is_zero() {
            Event::OrderFilled {
                order: o.id,
                user: o.user,
                market: o.market,
                filled: o.filled,
            }
        } else {
            Event::OrderPartiallyFilled {
                order: o.id,
                user: o.user,
                market: o.market,
                filled: o.filled,
                remaining: rem,
            }
        }
    });
}

impl<B: BookOps> Core<B> {
    #[inline]
    pub(crate) fn touch(&mut self, market: MarketId, side: Side, price: Price) {
        self.scratch.touched.push(level_key(market, side, price));
    }

    /// Publishes one `BookChanged` per level changed since the last flush.
    pub(crate) fn flush_book(&mut self, out: &mut Vec<Event>) {
        if self.scratch.touched.is_empty() {
            return;
        }
        let mut touched = std::mem::take(&mut self.scratch.touched);
        sort_keys(&mut touched);
        let mut last_market = None;
        for &key in &touched {
            let (market, side, price) = from_level_key(key);
            let m = &mut self.markets[market.0 as usize];
            if last_market != Some(market) {
                last_market = Some(market);
                if !self.scratch.bumped.contains(&market) {
                    m.sequence += 1;
                    self.scratch.bumped.push(market);
                }
            }
            let qty = m.book.level_qty(side, price);
            let sequence = m.sequence;
            push_event(out, || Event::BookChanged {
                market,
                sequence,
                side,
                price,
                qty,
            });
        }
        touched.clear();
        self.scratch.touched = touched;
    }

    /// Records an open order in every index (not the book).
    pub(crate) fn index_order(&mut self, o: Order) {
        let (id, market) = (o.id, o.market);
        let u = &mut self.users[o.user.0 as usize - 1];
        u.orders.insert(id);
        let mi = market.0 as usize;
        if u.open_per_market.len() <= mi {
            u.open_per_market.resize(mi + 1, 0);
        }
        u.open_per_market[mi] += 1;
        if let Some(t) = o.expire_at {
            self.gtd.insert((t, id));
        }
        if o.is_untriggered_stop() {
            let m = &mut self.markets[mi];
            let stop = o.stop_price.expect("stops have a stop price");
            match o.side {
                Side::Buy => m.buy_stops.insert((stop, id)),
                Side::Sell => m.sell_stops.insert((Reverse(stop), id)),
            };
        }
        self.orders.insert(id, o);
    }

    /// Removes an open order from every index (not the book) and returns it.
    pub(crate) fn unindex_order(&mut self, id: OrderId) -> Order {
        let o = self.orders.remove(&id).expect("indexed order");
        let u = &mut self.users[o.user.0 as usize - 1];
        u.orders.remove(&id);
        u.open_per_market[o.market.0 as usize] -= 1;
        if let Some(t) = o.expire_at {
            self.gtd.remove(&(t, id));
        }
        if o.is_untriggered_stop() {
            let m = &mut self.markets[o.market.0 as usize];
            let stop = o.stop_price.expect("stops have a stop price");
            match o.side {
                Side::Buy => m.buy_stops.remove(&(stop, id)),
                Side::Sell => m.sell_stops.remove(&(Reverse(stop), id)),
            };
        }
        o
    }

    /// Puts an order's remainder in its book (it does not cross) and indexes it.
    pub(crate) fn rest(&mut self, o: Order) {
        let price = o.limit.expect("resting orders have a limit price");
        self.markets[o.market.0 as usize].book.insert(RestingOrder {
            id: o.id,
            owner: o.user,
            side: o.side,
            price,
            qty: o.remaining(),
            expire_at: o.expire_at,
        });
        self.touch(o.market, o.side, price);
        self.index_order(o);
    }

    /// Emits an order's terminal event and releases its remaining hold. The order is
    /// already out of the book and the indexes.
    pub(crate) fn finish(&mut self, mut o: Order, end: End, out: &mut Vec<Event>) {
        let (order, user, market, filled) = (o.id, o.user, o.market, o.filled);
        let remaining = if o.quote_qty.is_some() {
            Qty::ZERO
        } else {
            o.remaining()
        };
        push_event(out, || match end {
            End::Filled => Event::OrderFilled {
                order,
                user,
                market,
                filled,
            },
            End::Canceled(reason) => Event::OrderCanceled {
                order,
                user,
                market,
                filled,
                remaining,
                reason,
            },
            End::Expired(reason) => Event::OrderExpired {
                order,
                user,
                market,
                filled,
                remaining,
                reason,
            },
        });
        if o.hold > 0 {
            let asset = self.markets[market.0 as usize].params.hold_asset(o.side);
            let b = self
                .ledger
                .shift(user, asset, false, o.hold)
                .expect("an order's hold is held");
            o.hold = 0;
            push_event(out, || balance_event(user, asset, b));
        }
        self.order_ended(user, o.client_order_id.as_ref(), order);
    }

    /// Ends an open order: out of its book (or stop list) and indexes, then `finish`.
    pub(crate) fn end_open_order(&mut self, id: OrderId, end: End, out: &mut Vec<Event>) {
        let o = self.unindex_order(id);
        if !o.is_untriggered_stop() {
            let m = &mut self.markets[o.market.0 as usize];
            m.book.remove(id).expect("open order rests in its book");
            let price = o.limit.expect("resting orders have a limit price");
            self.touch(o.market, o.side, price);
        }
        self.finish(o, end, out);
    }

    /// Matches `o` (accepted, not indexed) as a taker, settles the fills, then rests,
    /// expires or cancels its remainder. Returns true if it traded.
    pub(crate) fn run_taker(&mut self, mut o: Order, now: Timestamp, out: &mut Vec<Event>) -> bool {
        let mi = o.market.0 as usize;
        if o.limit.is_none() && o.quote_qty.is_none() {
            // A market order by size that found no opposite side when accepted.
            self.finish(o, End::Expired(ExpireReason::ImmediateOrCancel), out);
            return false;
        }
        let mut taker = self.taker(&o, now);
        if o.tif == TimeInForce::Fok
            && o.order_type.is_stop()
            && !self.markets[mi].book.can_fill(&taker)
        {
            self.finish(o, End::Expired(ExpireReason::FillOrKill), out);
            return false;
        }
        let mut matches = std::mem::take(&mut self.scratch.matches);
        matches.clear();
        let end = self.markets[mi]
            .book
            .match_taker(&mut taker, &mut |e| matches.push(e));
        let traded = matches.iter().any(|e| matches!(e, MatchEvent::Fill { .. }));
        for e in matches.drain(..) {
            match e {
                MatchEvent::Fill {
                    maker, price, qty, ..
                } => {
                    self.fill(&mut o, maker, price, qty, out);
                }
                MatchEvent::MakerExpired { maker, price, .. } => {
                    self.touch(o.market, o.side.opposite(), price);
                    let m = self.unindex_order(maker);
                    self.finish(m, End::Expired(ExpireReason::GoodTillDate), out);
                }
                MatchEvent::MakerCanceledStp { maker, price, .. } => {
                    self.touch(o.market, o.side.opposite(), price);
                    let m = self.unindex_order(maker);
                    self.finish(m, End::Canceled(CancelReason::SelfTradePrevention), out);
                }
            }
        }
        self.scratch.matches = matches;

        let best_left = self.markets[mi].book.best(o.side.opposite());
        // A market remainder with liquidity still in the book stopped at its slippage
        // bound; the reason says so, so the owner sees why it did not fill.
        let expired = if best_left.is_some()
            && matches!(o.order_type, OrderType::Market | OrderType::StopMarket)
        {
            End::Expired(ExpireReason::PriceProtection)
        } else {
            End::Expired(ExpireReason::ImmediateOrCancel)
        };
        let end = if end == MatchEnd::SelfTrade {
            Some(End::Canceled(CancelReason::SelfTradePrevention))
        } else if o.quote_qty.is_some() {
            let budget_spent = match (taker.notional_budget, best_left) {
                (Some(left), Some((best, _))) => left < u128::from(best.0),
                _ => false,
            };
            if end == MatchEnd::Filled || budget_spent {
                Some(End::Filled)
            } else {
                Some(expired)
            }
        } else if o.remaining().is_zero() {
            Some(End::Filled)
        } else if o.rests() {
            None
        } else {
            Some(expired)
        };
        match end {
            None => {
                self.rest(o);
                self.flush_book(out);
            }
            Some(end) => {
                self.flush_book(out);
                self.finish(o, end, out);
            }
        }
        traded
    }

    /// Settles one fill between the taker `o` and the resting `maker_id`.
    fn fill(
        &mut self,
        o: &mut Order,
        maker_id: OrderId,
        price: Price,
        qty: Qty,
        out: &mut Vec<Event>,
    ) {
        let mi = o.market.0 as usize;
        let p = self.markets[mi].params;
        let maker = self
            .orders
            .get_mut(&maker_id)
            .expect("book maker is an open order");
        let (buyer, seller, buyer_is_taker) = match o.side {
            Side::Buy => (&mut *o, &mut *maker, true),
            Side::Sell => (&mut *maker, &mut *o, false),
        };
        let (n, bfee, sfee) = settle(
            &mut self.ledger,
            &p,
            buyer,
            seller,
            price,
            qty,
            buyer_is_taker,
        );
        let (buyer_user, seller_user) = (buyer.user, seller.user);
        let (maker_fee, taker_fee) = if buyer_is_taker {
            (sfee, bfee)
        } else {
            (bfee, sfee)
        };
        let id = TradeId(self.next_trade);
        self.next_trade += 1;
        push_event(out, || Event::Trade {
            id,
            market: o.market,
            price,
            qty,
            notional: Amount(n),
            taker_side: o.side,
            maker_order: maker_id,
            maker_user: maker.user,
            taker_order: o.id,
            taker_user: o.user,
            maker_fee: Amount(maker_fee),
            taker_fee: Amount(taker_fee),
        });
        fill_event(maker, out);
        let maker_done = maker.remaining().is_zero();
        if o.quote_qty.is_none() && !o.remaining().is_zero() {
            fill_event(o, out);
        }
        self.push_balances(buyer_user, seller_user, &p, out);
        self.markets[mi].last_price = Some(price);
        self.touch(o.market, o.side.opposite(), price);
        if maker_done {
            let m = self.unindex_order(maker_id);
            debug_assert_eq!(m.hold, 0, "a filled maker holds nothing");
            self.order_ended(m.user, m.client_order_id.as_ref(), m.id);
        }
    }

    fn push_balances(&self, buyer: UserId, seller: UserId, p: &Params, out: &mut Vec<Event>) {
        self.emit_balance(buyer, p.quote, out);
        self.emit_balance(buyer, p.base, out);
        self.emit_balance(seller, p.base, out);
        self.emit_balance(seller, p.quote, out);
    }

    /// Triggers due stops of `market` one at a time until none is due.
    pub(crate) fn trigger_stops(&mut self, market: MarketId, now: Timestamp, out: &mut Vec<Event>) {
        loop {
            let m = &self.markets[market.0 as usize];
            let Some(last) = m.last_price else { return };
            let buy = m
                .buy_stops
                .first()
                .filter(|(stop, _)| *stop <= last)
                .map(|e| e.1);
            let sell = m
                .sell_stops
                .first()
                .filter(|(Reverse(stop), _)| *stop >= last)
                .map(|e| e.1);
            let id = match (buy, sell) {
                (Some(b), Some(s)) => b.min(s),
                (Some(id), None) | (None, Some(id)) => id,
                (None, None) => return,
            };
            let mut o = self.unindex_order(id);
            o.triggered = true;
            push_event(out, || Event::StopTriggered {
                order: id,
                user: o.user,
                market,
                last_price: last,
            });
            self.run_taker(o, now, out);
        }
    }

    pub(crate) fn cancel(
        &mut self,
        user: bourse_model::UserId,
        id: OrderId,
        out: &mut Vec<Event>,
    ) -> Check {
        self.user_state(user)?;
        match self.orders.get(&id) {
            Some(o) if o.user == user => {}
            _ => return Err(RejectCode::UnknownOrder.into()),
        }
        self.end_open_order(id, End::Canceled(CancelReason::User), out);
        Ok(())
    }

    pub(crate) fn cancel_all(
        &mut self,
        user: bourse_model::UserId,
        market: Option<MarketId>,
        out: &mut Vec<Event>,
    ) -> Check {
        self.user_state(user)?;
        if let Some(m) = market {
            self.market_state(m)?;
        }
        self.cancel_user_orders(user, market, CancelReason::User, out);
        Ok(())
    }

    /// Cancels the user's open orders (in one market or all), in id order.
    pub(crate) fn cancel_user_orders(
        &mut self,
        user: bourse_model::UserId,
        market: Option<MarketId>,
        reason: CancelReason,
        out: &mut Vec<Event>,
    ) {
        let mut ids = std::mem::take(&mut self.scratch.ids);
        ids.clear();
        ids.extend(
            self.users[user.0 as usize - 1]
                .orders
                .iter()
                .filter(|id| market.is_none_or(|m| self.orders[id].market == m)),
        );
        for &id in &ids {
            self.end_open_order(id, End::Canceled(reason), out);
        }
        self.scratch.ids = ids;
    }

    /// Expires every GTD order (resting or untriggered) with `expire_at <= now`.
    pub(crate) fn expire_orders(&mut self, now: Timestamp, out: &mut Vec<Event>) {
        while let Some(&(t, id)) = self.gtd.first() {
            if t > now {
                break;
            }
            self.end_open_order(id, End::Expired(ExpireReason::GoodTillDate), out);
        }
    }
}
