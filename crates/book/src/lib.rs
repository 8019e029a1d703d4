//! API CONTRACT STUB — to be implemented (see the module docs that replace this).
//!
//! A single market's limit order book with price-time priority. Pure data structure: no
//! I/O, no clock, no balances. The exchange core (bourse-core) does risk and settlement
//! and drives this book.

use bourse_model::{OrderId, Price, Qty, Side, StpMode, Timestamp, UserId};
use serde::{Deserialize, Serialize};

/// An order resting in the book.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestingOrder {
    pub id: OrderId,
    pub owner: UserId,
    pub side: Side,
    pub price: Price,
    /// Remaining (unfilled) size; always > 0 while resting.
    pub qty: Qty,
    /// GTD expiry; `None` = never. A maker whose expiry is at or before the taker's `now`
    /// is expired instead of matched.
    pub expire_at: Option<Timestamp>,
}

/// An incoming (aggressive) order to match against the book.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Taker {
    pub id: OrderId,
    pub owner: UserId,
    pub side: Side,
    /// Worst acceptable price (buy: highest, sell: lowest). `None` = no limit.
    pub limit: Option<Price>,
    /// Remaining size to fill, decremented by `match_taker`.
    pub qty: Qty,
    /// Optional cap on Σ price×qty over the fills, in tick·lot units (for orders sized in
    /// quote). Decremented by `match_taker`. A fill is cut to the largest size that fits.
    pub notional_budget: Option<u128>,
    pub stp: StpMode,
    pub now: Timestamp,
}

/// What happened while matching, reported in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchEvent {
    /// The taker traded `qty` at the maker's `price`. `maker_remaining` is the maker's
    /// size after the fill (0 = maker left the book); `level_qty` the level's total after it.
    Fill { maker: OrderId, maker_owner: UserId, price: Price, qty: Qty, maker_remaining: Qty, level_qty: Qty },
    /// A maker past its `expire_at` was removed instead of matched.
    MakerExpired { maker: OrderId, maker_owner: UserId, price: Price, qty: Qty, level_qty: Qty },
    /// Self-trade prevention removed a maker (ExpireMaker / ExpireBoth).
    MakerCanceledStp { maker: OrderId, maker_owner: UserId, price: Price, qty: Qty, level_qty: Qty },
}

/// Why `match_taker` stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchEnd {
    /// `taker.qty` reached zero.
    Filled,
    /// No more makers at an acceptable price (or the budget cannot buy one more lot).
    NoLiquidity,
    /// Self-trade prevention stopped the taker (ExpireTaker / ExpireBoth).
    SelfTrade,
}

#[derive(Debug, Default, Clone)]
pub struct OrderBook {}

impl OrderBook {
    pub fn new() -> Self {
        todo!()
    }
    /// Appends at the back of its price level. The caller guarantees it does not cross
    /// the opposite side and that the id is not in the book.
    pub fn insert(&mut self, _order: RestingOrder) {
        todo!()
    }
    pub fn remove(&mut self, _id: OrderId) -> Option<RestingOrder> {
        todo!()
    }
    /// Lowers an order's remaining size in place, keeping its queue position.
    /// Precondition: 0 < new_qty < current qty. Returns the level's new total.
    pub fn reduce(&mut self, _id: OrderId, _new_qty: Qty) -> Option<Qty> {
        todo!()
    }
    pub fn get(&self, _id: OrderId) -> Option<RestingOrder> {
        todo!()
    }
    pub fn best(&self, _side: Side) -> Option<(Price, Qty)> {
        todo!()
    }
    /// Total size at one price level (0 if none).
    pub fn level_qty(&self, _side: Side, _price: Price) -> Qty {
        todo!()
    }
    /// Up to `n` levels from the best price outward.
    pub fn depth(&self, _side: Side, _n: usize) -> Vec<(Price, Qty)> {
        todo!()
    }
    /// True if a limit order at `price` on `side` would match immediately.
    pub fn would_cross(&self, _side: Side, _price: Price) -> bool {
        todo!()
    }
    /// Runs the same walk as `match_taker` without changing anything and returns whether the
    /// taker would be completely filled (for FOK).
    pub fn can_fill(&self, _taker: &Taker) -> bool {
        todo!()
    }
    /// Matches the taker against the opposite side in price-time priority, calling `on`
    /// for each fill / removal.
    pub fn match_taker(&mut self, _taker: &mut Taker, _on: &mut impl FnMut(MatchEvent)) -> MatchEnd {
        todo!()
    }
    pub fn len(&self) -> usize {
        todo!()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Every resting order, bids best-first then asks best-first, each level in queue
    /// order: inserting them in this order into an empty book rebuilds the same book.
    pub fn orders(&self) -> Vec<RestingOrder> {
        todo!()
    }
}
