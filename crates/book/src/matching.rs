//! The taker's walk through the opposite side: [`OrderBook::match_taker`] and its
//! read-only twin [`OrderBook::can_fill`]. The rules are in the [crate docs](crate).

use crate::book::OrderBook;
use crate::index::IdIndex;
use crate::level::Level;
use crate::slab::Slab;
use crate::{MatchEnd, MatchEvent, RestingOrder, Taker};
use bourse_model::{Price, Qty, Side, StpMode};

/// Whether the taker's limit accepts a maker at `price`.
#[inline]
pub(crate) fn limit_allows(taker: &Taker, price: Price) -> bool {
    match (taker.limit, taker.side) {
        (None, _) => true,
        (Some(limit), Side::Buy) => price <= limit,
        (Some(limit), Side::Sell) => price >= limit,
    }
}

/// The most lots `budget` buys at `price` (`u64::MAX` = unbounded).
#[inline]
pub(crate) fn affordable(budget: Option<u128>, price: Price) -> u64 {
    match budget {
        Some(b) if price.0 != 0 => u64::try_from(b / u128::from(price.0)).unwrap_or(u64::MAX),
        _ => u64::MAX,
    }
}

/// The cost of `qty` lots at `price`, in tick·lot units; cannot overflow a `u128`.
#[inline]
pub(crate) fn notional(price: Price, qty: Qty) -> u128 {
    u128::from(price.0) * u128::from(qty.0)
}

/// What the taker does with the maker at the front of the level.
enum Step {
    Expire,
    CancelStp,
    Fill(u64),
}

impl OrderBook {
    /// Matches the taker against the opposite side in price-time priority, calling `on`
    /// for each fill / removal, and decrementing `taker.qty` and `taker.notional_budget`.
    pub fn match_taker(&mut self, taker: &mut Taker, on: &mut impl FnMut(MatchEvent)) -> MatchEnd {
        let OrderBook {
            bids,
            asks,
            slab,
            index,
        } = self;
        let ladder = match taker.side {
            Side::Buy => asks,
            Side::Sell => bids,
        };
        loop {
            if taker.qty.is_zero() {
                return MatchEnd::Filled;
            }
            let Some(level) = ladder.best_mut() else {
                return MatchEnd::NoLiquidity;
            };
            if !limit_allows(taker, level.price) {
                return MatchEnd::NoLiquidity;
            }
            if affordable(taker.notional_budget, level.price) == 0 {
                return MatchEnd::NoLiquidity;
            }
            let end = match_level(level, slab, index, taker, on);
            if level.is_empty() {
                ladder.top_emptied();
            }
            if let Some(end) = end {
                return end;
            }
        }
    }

    /// Runs the same walk as [`match_taker`](Self::match_taker) without changing anything
    /// and returns whether it would end in [`MatchEnd::Filled`] (for FOK).
    pub fn can_fill(&self, taker: &Taker) -> bool {
        let mut qty = taker.qty.0;
        let mut budget = taker.notional_budget;
        for level in self.ladder(taker.side.opposite()).best_first() {
            if qty == 0 {
                return true;
            }
            if !limit_allows(taker, level.price) {
                return false;
            }
            let mut afford = affordable(budget, level.price);
            if afford == 0 {
                return false;
            }
            let mut makers = level.iter(&self.slab).peekable();
            while let Some(maker) = makers.next() {
                match step(taker, &maker, qty, afford) {
                    Step::Expire => {}
                    Step::CancelStp if taker.stp == StpMode::ExpireMaker => {}
                    Step::CancelStp => return false,
                    Step::Fill(q) => {
                        qty -= q;
                        afford -= q;
                        budget = budget.map(|b| b - notional(level.price, Qty(q)));
                        if qty == 0 {
                            return true;
                        }
                        // As in `match_level`: out of budget with a maker still at this
                        // price (this one, partly filled, or the next) stops the walk.
                        if afford == 0 && (q < maker.qty.0 || makers.peek().is_some()) {
                            return false;
                        }
                    }
                }
            }
        }
        qty == 0
    }
}

/// Decides what happens to `maker` given the taker's remaining `qty` and the lots it can
/// still `afford` at this level (both > 0).
#[inline]
fn step(taker: &Taker, maker: &RestingOrder, qty: u64, afford: u64) -> Step {
    if maker.expire_at.is_some_and(|t| t <= taker.now) {
        Step::Expire
    } else if maker.owner == taker.owner {
        Step::CancelStp
    } else {
        Step::Fill(qty.min(maker.qty.0).min(afford))
    }
}

/// Matches within the best level until it is empty (`None`: go on to the next level) or
/// the walk ends (`Some`). The caller pops the level if it emptied.
#[inline]
fn match_level(
    level: &mut Level,
    slab: &mut Slab,
    index: &mut IdIndex,
    taker: &mut Taker,
    on: &mut impl FnMut(MatchEvent),
) -> Option<MatchEnd> {
    let price = level.price;
    let mut afford = affordable(taker.notional_budget, price);
    while !level.is_empty() {
        let slot = level.head;
        let maker = slab.order(slot);
        let mut end = None;
        match step(taker, &maker, taker.qty.0, afford) {
            Step::Fill(q) => {
                taker.qty.0 -= q;
                afford -= q;
                if let Some(b) = &mut taker.notional_budget {
                    *b -= notional(price, Qty(q));
                }
                let remaining = maker.qty.0 - q;
                if remaining == 0 {
                    level.unlink(slab, slot, q);
                    slab.free(slot);
                    index.remove_known(maker.id, slot);
                } else {
                    slab.set_qty(slot, Qty(remaining));
                    level.total -= q;
                }
                on(MatchEvent::Fill {
                    maker: maker.id,
                    maker_owner: maker.owner,
                    price,
                    qty: Qty(q),
                    maker_remaining: Qty(remaining),
                    level_qty: Qty(level.total),
                });
                if taker.qty.is_zero() {
                    end = Some(MatchEnd::Filled);
                } else if afford == 0 && !level.is_empty() {
                    // Only this level is out of reach: a sell's next level is cheaper and
                    // the same budget may buy lots there again.
                    end = Some(MatchEnd::NoLiquidity);
                }
            }
            Step::CancelStp if taker.stp == StpMode::ExpireTaker => {
                return Some(MatchEnd::SelfTrade);
            }
            step @ (Step::Expire | Step::CancelStp) => {
                level.unlink(slab, slot, maker.qty.0);
                slab.free(slot);
                index.remove_known(maker.id, slot);
                let (maker, maker_owner, qty, level_qty) =
                    (maker.id, maker.owner, maker.qty, Qty(level.total));
                if let Step::Expire = step {
                    on(MatchEvent::MakerExpired {
                        maker,
                        maker_owner,
                        price,
                        qty,
                        level_qty,
                    });
                } else {
                    on(MatchEvent::MakerCanceledStp {
                        maker,
                        maker_owner,
                        price,
                        qty,
                        level_qty,
                    });
                    if taker.stp == StpMode::ExpireBoth {
                        end = Some(MatchEnd::SelfTrade);
                    }
                }
            }
        }
        if end.is_some() {
            return end;
        }
    }
    None
}
