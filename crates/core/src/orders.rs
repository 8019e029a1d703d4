//! Placing an order: every pre-trade check, then the hold, then matching.

use crate::admin::balance_event;
use crate::money;
use crate::push_event;
use crate::state::Order;
use crate::{BookOps, Check, Core, Reject};
use bourse_book::Taker;
use bourse_model::{
    Event, MarketStatus, NewOrder, OrderId, OrderInfo, OrderType, Price, Qty, RejectCode, Side,
    TimeInForce, Timestamp,
};

use RejectCode::*;

impl<B: BookOps> Core<B> {
    /// Checks `o` against the order-type table of `NewOrder`: which fields are present.
    fn check_shape(o: &NewOrder) -> Check {
        let needs_price = matches!(o.order_type, OrderType::Limit | OrderType::StopLimit);
        let bad = |p: Price| !money::valid_price(p);
        if o.price.is_some() != needs_price || o.price.is_some_and(bad) {
            return Err(InvalidPrice.into());
        }
        if o.stop_price.is_some() != o.order_type.is_stop() || o.stop_price.is_some_and(bad) {
            return Err(InvalidPrice.into());
        }
        let quote_allowed = match o.order_type {
            OrderType::Market => true,
            OrderType::StopMarket => o.side == Side::Buy,
            _ => false,
        };
        match (o.qty, o.quote_qty) {
            (Some(q), None) if q.0 > 0 => {}
            (None, Some(a)) if a.0 > 0 && quote_allowed => {}
            _ => return Err(InvalidQuantity.into()),
        }
        if (o.tif == TimeInForce::Gtd) != o.expire_at.is_some() {
            return Err(InvalidOrder.into());
        }
        if o.order_type == OrderType::Market && o.tif == TimeInForce::Gtd {
            return Err(InvalidOrder.into());
        }
        if o.tif == TimeInForce::Fok && o.quote_qty.is_some() {
            return Err(InvalidOrder.into());
        }
        if o.post_only
            && !(o.order_type == OrderType::Limit
                && matches!(o.tif, TimeInForce::Gtc | TimeInForce::Gtd))
        {
            return Err(InvalidOrder.into());
        }
        Ok(())
    }

    /// Runs every check and builds the order as it will be accepted (with its hold).
    fn check_order(&self, o: &NewOrder, ts: Timestamp) -> Check<Order> {
        let user = self.user_state(o.user)?;
        let m = self.market_state(o.market)?;
        if let Some(orig) = o
            .client_order_id
            .as_ref()
            .and_then(|c| self.live_client_order(o.user, c, ts))
        {
            return Err(Reject {
                order: Some(orig),
                ..DuplicateClientOrderId.into()
            });
        }
        if m.status == MarketStatus::Halted {
            return Err(MarketHalted.into());
        }
        if user.kill_switch {
            return Err(KillSwitchActive.into());
        }
        if !self.may_trade(user) {
            return Err(KycRequired.into());
        }
        Self::check_shape(o)?;
        if o.expire_at.is_some_and(|t| t <= ts) {
            return Err(ExpireAtInPast.into());
        }
        let spec = &m.spec;
        let p = m.params;
        if let Some(q) = o.qty {
            if q < spec.min_qty {
                return Err(QuantityTooSmall.into());
            }
            if q > spec.max_qty {
                return Err(QuantityTooLarge.into());
            }
        }
        if let (Some(price), Some(q)) = (o.price, o.qty) {
            let n = money::notional(price, q, p.quote_per_tick_lot).ok_or(NotionalTooLarge)?;
            if n < spec.min_notional.0 {
                return Err(NotionalTooSmall.into());
            }
            if let Some(last) = m.last_price {
                if money::out_of_band(price, last, spec.price_band_bps) {
                    return Err(PriceOutOfBand.into());
                }
            }
        }
        // A quote-sized order can trade at most `quote_qty`: below the minimum it could
        // only make trades the minimum exists to prevent.
        if o.quote_qty.is_some_and(|q| q < spec.min_notional) {
            return Err(NotionalTooSmall.into());
        }
        if let (Some(stop), Some(last)) = (o.stop_price, m.last_price) {
            let now = match o.side {
                Side::Buy => last >= stop,
                Side::Sell => last <= stop,
            };
            if now {
                return Err(StopWouldTriggerImmediately.into());
            }
        }
        let may_rest = o.order_type.is_stop()
            || (o.order_type == OrderType::Limit
                && matches!(o.tif, TimeInForce::Gtc | TimeInForce::Gtd));
        if may_rest && spec.max_open_orders > 0 && user.open_in(o.market) >= spec.max_open_orders {
            return Err(TooManyOpenOrders.into());
        }

        let fees = spec.fee(user.tier);
        let slip = spec.market_slippage_bps;
        let limit = match (o.order_type, o.side) {
            (OrderType::Limit | OrderType::StopLimit, _) => o.price,
            (OrderType::Market, Side::Buy) => m
                .book
                .best(Side::Sell)
                .map(|(b, _)| money::cap_price(b, slip)),
            (OrderType::Market, Side::Sell) => m
                .book
                .best(Side::Buy)
                .map(|(b, _)| money::floor_price(b, slip)),
            (OrderType::StopMarket, Side::Buy) => o.stop_price.map(|s| money::cap_price(s, slip)),
            (OrderType::StopMarket, Side::Sell) => {
                o.stop_price.map(|s| money::floor_price(s, slip))
            }
        };
        let available = self.ledger.balance(o.user, p.hold_asset(o.side)).available;
        let qty = match (o.qty, o.side) {
            (Some(q), _) => q,
            (None, Side::Buy) => spec.max_qty,
            // Sell by quote amount: everything available, in whole lots.
            (None, Side::Sell) => Qty((available / p.base_per_lot).min(spec.max_qty.0)),
        };
        if qty.0 == 0 {
            return Err(InsufficientBalance.into());
        }
        let mut order = Order {
            id: OrderId(self.next_order),
            user: o.user,
            market: o.market,
            side: o.side,
            order_type: o.order_type,
            tif: o.tif,
            post_only: o.post_only,
            stp: o.stp,
            triggered: false,
            limit,
            stop_price: o.stop_price,
            qty,
            filled: Qty::ZERO,
            filled_notional: 0,
            quote_qty: o.quote_qty,
            expire_at: o.expire_at,
            hold: 0,
            maker_bps: fees.maker_bps as u16,
            taker_bps: fees.taker_bps as u16,
            created_at: ts,
            client_order_id: o.client_order_id.clone(),
        };
        order.hold = match (o.side, o.quote_qty) {
            (Side::Buy, Some(q)) => q.0,
            _ => order.required_hold(&p).ok_or(NotionalTooLarge)?,
        };
        if order.hold > available {
            return Err(InsufficientBalance.into());
        }
        if !o.order_type.is_stop() {
            if o.tif == TimeInForce::Fok && !m.book.can_fill(&self.taker(&order, ts)) {
                return Err(FokCannotFill.into());
            }
            if o.post_only && m.book.would_cross(o.side, o.price.unwrap_or_default()) {
                return Err(PostOnlyWouldTake.into());
            }
        }
        Ok(order)
    }

    /// The book's view of `order` as an incoming order.
    pub(crate) fn taker(&self, order: &Order, now: Timestamp) -> Taker {
        let p = &self.markets[order.market.0 as usize].params;
        let budget = order.quote_qty.map(|q| match order.side {
            Side::Buy => money::buy_budget(q.0, order.taker_bps, p.quote_per_tick_lot),
            Side::Sell => money::sell_budget(q.0, p.quote_per_tick_lot),
        });
        Taker {
            id: order.id,
            owner: order.user,
            side: order.side,
            limit: order.limit,
            qty: order.remaining(),
            notional_budget: budget,
            stp: order.stp,
            now,
        }
    }

    pub(crate) fn place(&mut self, o: &NewOrder, ts: Timestamp, out: &mut Vec<Event>) -> Check {
        let order = self.check_order(o, ts)?;
        self.next_order += 1;
        if let Some(c) = &o.client_order_id {
            self.remember_client_order(o.user, c, order.id, ts);
        }
        push_event(out, || {
            Event::OrderAccepted(Box::new(OrderInfo {
                id: order.id,
                user: o.user,
                market: o.market,
                side: o.side,
                order_type: o.order_type,
                price: o.price,
                qty: o.qty,
                quote_qty: o.quote_qty,
                stop_price: o.stop_price,
                tif: o.tif,
                expire_at: o.expire_at,
                post_only: o.post_only,
                stp: o.stp,
                client_order_id: o.client_order_id.clone(),
                created_at: ts,
            }))
        });
        let asset = self.markets[o.market.0 as usize].params.hold_asset(o.side);
        if order.hold > 0 {
            let b = self
                .ledger
                .shift(o.user, asset, true, order.hold)
                .expect("balance checked");
            push_event(out, || balance_event(o.user, asset, b));
        }
        if order.order_type.is_stop() {
            self.index_order(order);
        } else if order.post_only {
            self.rest(order);
        } else if self.run_taker(order, ts, out) {
            self.trigger_stops(o.market, ts, out);
        }
        Ok(())
    }
}
