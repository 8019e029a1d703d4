//! Order entry for every channel (REST, WebSocket, the Binance-compatible API, FIX): place,
//! cancel, amend, cancel-all, each one command through the sequencer.
//!
//! Rules:
//! - A channel parses its wire format into core types (`NewOrder`, prices and sizes on the
//!   market's grid, see `crate::market_info::GridParse`) and calls these; the answers are
//!   built from the command's own events and, for cancel and amend, the order as the
//!   sequencer saw it just before ([`bourse_engine::Applied::order`]): a committed command
//!   is answered at once, never after a wait on the read models.
//! - A refusal of the core is [`Error::Rejected`]; the one exception is a duplicate client
//!   order id, answered [`Placed::Duplicate`] with the original's id, because what to do
//!   with it (return the original, or refuse) is each channel's own idempotency rule.
//! - Another user's order is `UNKNOWN_ORDER`, like a missing one, so ids do not leak.
//! - Every call needs the caller's `trade` permission (403 `PERMISSION_DENIED` for an API
//!   key created without it), checked before anything else, so every channel enforces it.
//! - Placing is limited per user by the order rate of their current tier (per 10 s and per
//!   day, [`crate::limits`]), whatever the channel: the check is here, before the command
//!   is submitted, so a refused order (`ORDER_RATE_LIMITED`) changes nothing.

use crate::auth::Caller;
use crate::error::Error;
use crate::market_info::{market_by_id, MarketInfo};
use crate::Gateway;
use bourse_core::OrderView;
use bourse_model::{
    CommandKind, Event, MarketId, NewOrder, OrderId, OrderInfo, OrderState, Permission, Price, Qty,
    RejectCode, Timestamp,
};

/// What placing an order came to.
#[derive(Debug)]
pub enum Placed {
    /// Accepted: the order after matching, with the fills it made.
    New(Box<OrderState>),
    /// Its client order id was already used (within the idempotency window) by this order.
    Duplicate(OrderId),
}

/// One order canceled by [`Gateway::cancel_all`]: `(order, market, filled, remaining)`.
pub type Canceled = (OrderId, MarketId, Qty, Qty);

impl Gateway {
    /// Places `order` for the caller (`order.user` is set to the caller).
    pub async fn place(&self, caller: &Caller, mut order: NewOrder) -> Result<Placed, Error> {
        caller.require(Permission::Trade)?;
        order.user = caller.id;
        if self.limiter.enabled() {
            // The tier as of the last batch (read views); an unknown user is the core's
            // to refuse, so it is not limited here.
            if let Some(user) = self.seq.views().user(order.user) {
                self.limiter.check_order(order.user, user.tier).await?;
            }
        }
        let applied = self
            .seq
            .submit(CommandKind::PlaceOrder(Box::new(order)))
            .await?;
        match applied.rejected() {
            Some((RejectCode::DuplicateClientOrderId, Some(original))) => {
                Ok(Placed::Duplicate(original))
            }
            Some((code, _)) => Err(Error::Rejected(code)),
            None => OrderState::from_events(&applied.events, applied.ts)
                .map(|o| Placed::New(Box::new(o)))
                .ok_or_else(|| Error::internal("PlaceOrder produced no OrderAccepted event")),
        }
    }

    pub async fn cancel(&self, caller: &Caller, order: OrderId) -> Result<OrderState, Error> {
        caller.require(Permission::Trade)?;
        let applied = self
            .seq
            .submit(CommandKind::CancelOrder {
                user: caller.id,
                order,
            })
            .await?;
        after(caller, &applied)
    }

    /// `price` and `qty` on the order's market grid (see [`Gateway::order_market`]).
    pub async fn amend(
        &self,
        caller: &Caller,
        order: OrderId,
        price: Option<Price>,
        qty: Option<Qty>,
    ) -> Result<OrderState, Error> {
        caller.require(Permission::Trade)?;
        let applied = self
            .seq
            .submit(CommandKind::AmendOrder {
                user: caller.id,
                order,
                price,
                qty,
            })
            .await?;
        after(caller, &applied)
    }

    /// Cancels the caller's open orders (resting and untriggered stops), in one market or
    /// all of them; works on halted markets too.
    pub async fn cancel_all(
        &self,
        caller: &Caller,
        market: Option<MarketId>,
    ) -> Result<Vec<Canceled>, Error> {
        caller.require(Permission::Trade)?;
        let applied = self
            .seq
            .submit(CommandKind::CancelAll {
                user: caller.id,
                market,
            })
            .await?;
        if let Some((code, _)) = applied.rejected() {
            return Err(Error::Rejected(code));
        }
        Ok(applied
            .events
            .iter()
            .filter_map(|e| match e {
                Event::OrderCanceled {
                    order,
                    market,
                    filled,
                    remaining,
                    ..
                } => Some((*order, *market, *filled, *remaining)),
                _ => None,
            })
            .collect())
    }

    /// The market of one of the caller's open orders (an amend parses on its grid). An
    /// open order by id is not in the read views, so this asks the core. The first step
    /// of an amend, so it needs `trade` too (a key without it learns nothing here).
    pub async fn order_market(&self, caller: &Caller, order: OrderId) -> Result<MarketInfo, Error> {
        caller.require(Permission::Trade)?;
        let user = caller.id;
        let market = self
            .seq
            .query(move |core| {
                core.order(order)
                    .filter(|o| o.user == user)
                    .map(|o| o.market)
            })
            .await?
            .ok_or(Error::Rejected(RejectCode::UnknownOrder))?;
        market_by_id(self, market)
    }
}

/// A cancel's or amend's answer: the order before the command with its events folded in.
fn after(caller: &Caller, applied: &bourse_engine::Applied) -> Result<OrderState, Error> {
    if let Some((code, _)) = applied.rejected() {
        return Err(Error::Rejected(code));
    }
    let before = applied
        .order
        .as_ref()
        .filter(|o| o.user == caller.id)
        .ok_or_else(|| Error::internal("an accepted cancel or amend without its order"))?;
    let mut state = resume(before);
    for e in &applied.events {
        state.apply(e, applied.ts);
    }
    state.updated_at = applied.ts;
    Ok(state)
}

/// The fold's state of an open order as the core holds it: where a cancel's or an
/// amend's events continue from.
fn resume(o: &OrderView) -> OrderState {
    let qty = (o.quote_qty.is_none() || !o.qty.is_zero()).then_some(o.qty);
    OrderState {
        info: OrderInfo {
            id: o.id,
            user: o.user,
            market: o.market,
            side: o.side,
            order_type: o.order_type,
            price: o.price,
            qty,
            quote_qty: o.quote_qty,
            stop_price: o.stop_price,
            tif: o.tif,
            expire_at: o.expire_at,
            post_only: o.post_only,
            stp: o.stp,
            client_order_id: o.client_order_id.clone(),
            created_at: o.created_at,
        },
        status: o.status,
        price: o.price,
        qty,
        filled: o.filled,
        remaining: Some(o.remaining),
        filled_notional: o.filled_notional,
        // Not kept by the core for an open order; no answer shows an order's total fees.
        fees: bourse_model::Amount::ZERO,
        reason: None,
        updated_at: Timestamp(o.created_at.0),
        fills: Vec::new(),
    }
}
