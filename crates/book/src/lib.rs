//! One market's limit order book with price-time priority.
//!
//! A pure data structure: no I/O, no clock, no balances. The exchange core (`bourse-core`)
//! does risk and settlement and drives this book; time arrives as [`Taker::now`].
//! Prices are integer ticks ([`Price`]) and sizes integer lots ([`Qty`]).
//!
//! # Matching rules
//!
//! [`OrderBook::match_taker`] walks the side opposite to the taker:
//!
//! 1. **Price-time priority.** Makers are visited best price first (lowest ask for a buy,
//!    highest bid for a sell); at one price, in insertion order. [`OrderBook::insert`]
//!    appends at the back of its level; [`OrderBook::reduce`] keeps the order's place;
//!    changing an order's price is `remove` + `insert` and so loses it.
//! 2. **Maker's price.** Every fill is at the resting order's price, never the taker's.
//! 3. **Limit.** The taker moves on to a level only while its `limit` allows that price
//!    (buy: ask ≤ limit; sell: bid ≥ limit; `None`: any price). Otherwise the walk stops
//!    with [`MatchEnd::NoLiquidity`], as it does when the side is empty.
//! 4. **Notional budget.** With `notional_budget = Some(b)` (tick·lot units, a fill costs
//!    `price.0 × qty.0`), a fill is cut to the largest size whose cost fits in what is left
//!    of `b`, and the cost is deducted. If not even one lot fits at the price of the next
//!    maker, the walk stops there with `NoLiquidity` (before expiry or STP look at that
//!    maker: like the limit, the budget decides whether a price is acceptable at all).
//!    Affordability is judged per level, so a sell whose budget is spent down at one bid
//!    level may still fill at a lower one. A zero price costs nothing.
//! 5. **Expiry.** A visited maker with `expire_at <= taker.now` is removed
//!    ([`MatchEvent::MakerExpired`]) and not matched; the walk continues. Makers that are
//!    never visited are not expired here (the core sweeps them).
//! 6. **Self-trade prevention**, when a visited (unexpired) maker has the taker's owner,
//!    by `taker.stp`:
//!    * `ExpireTaker`: stop with [`MatchEnd::SelfTrade`]; the maker is untouched;
//!    * `ExpireMaker`: remove the maker ([`MatchEvent::MakerCanceledStp`]) and continue;
//!    * `ExpireBoth`: remove the maker (`MakerCanceledStp`) and stop with `SelfTrade`.
//!
//!    Because rules 3–4 are checked first, STP only fires against a maker the taker would
//!    otherwise have traded with.
//! 7. **Fill.** Otherwise the taker trades `min(taker qty, maker qty, lots the budget
//!    buys)` ([`MatchEvent::Fill`]); a maker left with 0 leaves the book. The walk stops
//!    with [`MatchEnd::Filled`] as soon as `taker.qty` is 0 (checked before anything else,
//!    so a taker of size 0 changes nothing).
//!
//! [`OrderBook::can_fill`] runs exactly this walk (expiry, STP, limit, budget) without
//! changing anything and answers whether it would end in `Filled` (for FOK).
//!
//! Events carry the maker's remaining size and the level's total after the change, so a
//! caller can publish book updates without asking again.
//!
//! # Implementation
//!
//! Orders live in an arena (`slab.rs`), one cache line per order including its queue
//! links, and each price level (`level.rs`) is an intrusive doubly-linked FIFO through it;
//! an id → slot hash map finds an order for cancel and reduce in O(1), and the order
//! knows its level, so neither searches by price. Each side (`ladder.rs`) keeps its levels
//! in an arena with a price → level map and a `Vec` of levels sorted with the best price
//! at the end, so matching and edits near the top touch only the end of the `Vec`; levels
//! emptied below the top are kept as tombstones for reuse. Nothing on the matching or
//! amend path allocates once the arenas have grown to the book's size.
//!
//! With the `reference` feature, `ReferenceBook` is a deliberately naive
//! implementation of the same API that the property tests compare against.

mod book;
mod index;
mod ladder;
mod level;
mod matching;
#[cfg(feature = "reference")]
mod reference;
mod slab;

pub use book::OrderBook;
#[cfg(feature = "reference")]
pub use reference::ReferenceBook;

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
    Fill {
        maker: OrderId,
        maker_owner: UserId,
        price: Price,
        qty: Qty,
        maker_remaining: Qty,
        level_qty: Qty,
    },
    /// A maker past its `expire_at` was removed instead of matched.
    MakerExpired {
        maker: OrderId,
        maker_owner: UserId,
        price: Price,
        qty: Qty,
        level_qty: Qty,
    },
    /// Self-trade prevention removed a maker (ExpireMaker / ExpireBoth).
    MakerCanceledStp {
        maker: OrderId,
        maker_owner: UserId,
        price: Price,
        qty: Qty,
        level_qty: Qty,
    },
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

/// A broken precondition of [`OrderBook::try_insert`]: a bug in the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BookError {
    #[error("order {0} is already in the book")]
    DuplicateId(OrderId),
    #[error("order {0} has size 0")]
    ZeroQty(OrderId),
    #[error("order {0} would cross the opposite side")]
    WouldCross(OrderId),
}
