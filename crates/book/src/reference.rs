//! `ReferenceBook`: the same API as [`OrderBook`](crate::OrderBook), written to be
//! obviously correct rather than fast, for differential tests.
//!
//! All orders sit in one `Vec` with the sequence number of their insertion; every query
//! is a linear scan. Matching repeatedly picks "the best maker" (best price, then lowest
//! sequence number) and applies the rules of the [crate docs](crate) to it one at a time.

use crate::{MatchEnd, MatchEvent, RestingOrder, Taker};
use bourse_model::{OrderId, Price, Qty, Side, StpMode};

#[derive(Debug, Default, Clone)]
pub struct ReferenceBook {
    /// (insertion sequence, order), in no particular order.
    orders: Vec<(u64, RestingOrder)>,
    next_seq: u64,
}

/// True if price `a` is better than `b` for a resting order on `side`.
fn better(side: Side, a: Price, b: Price) -> bool {
    match side {
        Side::Buy => a > b,
        Side::Sell => a < b,
    }
}

impl ReferenceBook {
    pub fn new() -> Self {
        Self::default()
    }

    /// Same preconditions as [`OrderBook::insert`](crate::OrderBook::insert); a violation
    /// is ignored.
    pub fn insert(&mut self, order: RestingOrder) {
        if order.qty.0 == 0
            || self.get(order.id).is_some()
            || self.would_cross(order.side, order.price)
        {
            return;
        }
        self.orders.push((self.next_seq, order));
        self.next_seq += 1;
    }

    fn position(&self, id: OrderId) -> Option<usize> {
        self.orders.iter().position(|(_, o)| o.id == id)
    }

    pub fn remove(&mut self, id: OrderId) -> Option<RestingOrder> {
        let i = self.position(id)?;
        Some(self.orders.remove(i).1)
    }

    pub fn reduce(&mut self, id: OrderId, new_qty: Qty) -> Option<Qty> {
        let i = self.position(id)?;
        let order = &mut self.orders[i].1;
        if new_qty.0 == 0 || new_qty > order.qty {
            return None;
        }
        order.qty = new_qty;
        let (side, price) = (order.side, order.price);
        Some(self.level_qty(side, price))
    }

    pub fn get(&self, id: OrderId) -> Option<RestingOrder> {
        self.position(id).map(|i| self.orders[i].1)
    }

    pub fn best(&self, side: Side) -> Option<(Price, Qty)> {
        let mut best: Option<Price> = None;
        for (_, o) in &self.orders {
            if o.side == side && best.is_none_or(|b| better(side, o.price, b)) {
                best = Some(o.price);
            }
        }
        best.map(|p| (p, self.level_qty(side, p)))
    }

    pub fn level_qty(&self, side: Side, price: Price) -> Qty {
        Qty(self
            .orders
            .iter()
            .filter(|(_, o)| o.side == side && o.price == price)
            .map(|(_, o)| o.qty.0)
            .sum())
    }

    pub fn depth(&self, side: Side, n: usize) -> Vec<(Price, Qty)> {
        let mut prices: Vec<Price> = self
            .orders
            .iter()
            .filter(|(_, o)| o.side == side)
            .map(|(_, o)| o.price)
            .collect();
        prices.sort();
        prices.dedup();
        if side == Side::Buy {
            prices.reverse();
        }
        prices
            .into_iter()
            .take(n)
            .map(|p| (p, self.level_qty(side, p)))
            .collect()
    }

    pub fn would_cross(&self, side: Side, price: Price) -> bool {
        match self.best(side.opposite()) {
            None => false,
            Some((p, _)) => match side {
                Side::Buy => p <= price,
                Side::Sell => p >= price,
            },
        }
    }

    /// Index into `orders` of the maker a taker on `side` meets first.
    fn first_maker(&self, taker_side: Side) -> Option<usize> {
        let side = taker_side.opposite();
        let mut best: Option<usize> = None;
        for (i, (seq, o)) in self.orders.iter().enumerate() {
            if o.side != side {
                continue;
            }
            let wins = match best {
                None => true,
                Some(b) => {
                    let (bseq, bo) = self.orders[b];
                    better(side, o.price, bo.price) || (o.price == bo.price && *seq < bseq)
                }
            };
            if wins {
                best = Some(i);
            }
        }
        best
    }

    pub fn can_fill(&self, taker: &Taker) -> bool {
        let mut copy = self.clone();
        let mut taker = *taker;
        copy.match_taker(&mut taker, &mut |_| {}) == MatchEnd::Filled
    }

    pub fn match_taker(&mut self, taker: &mut Taker, on: &mut impl FnMut(MatchEvent)) -> MatchEnd {
        loop {
            if taker.qty.0 == 0 {
                return MatchEnd::Filled;
            }
            let Some(i) = self.first_maker(taker.side) else {
                return MatchEnd::NoLiquidity;
            };
            let maker = self.orders[i].1;
            let price = maker.price;
            let limit_ok = match (taker.limit, taker.side) {
                (None, _) => true,
                (Some(l), Side::Buy) => price <= l,
                (Some(l), Side::Sell) => price >= l,
            };
            if !limit_ok {
                return MatchEnd::NoLiquidity;
            }
            // The largest q with price * q <= budget.
            let afford: u128 = match taker.notional_budget {
                Some(b) if price.0 > 0 => b / u128::from(price.0),
                _ => u128::MAX,
            };
            if afford == 0 {
                return MatchEnd::NoLiquidity;
            }
            if maker.expire_at.is_some_and(|t| t <= taker.now) {
                self.orders.remove(i);
                on(MatchEvent::MakerExpired {
                    maker: maker.id,
                    maker_owner: maker.owner,
                    price,
                    qty: maker.qty,
                    level_qty: self.level_qty(maker.side, price),
                });
                continue;
            }
            if maker.owner == taker.owner {
                if taker.stp == StpMode::ExpireTaker {
                    return MatchEnd::SelfTrade;
                }
                self.orders.remove(i);
                on(MatchEvent::MakerCanceledStp {
                    maker: maker.id,
                    maker_owner: maker.owner,
                    price,
                    qty: maker.qty,
                    level_qty: self.level_qty(maker.side, price),
                });
                if taker.stp == StpMode::ExpireBoth {
                    return MatchEnd::SelfTrade;
                }
                continue;
            }
            let q = u128::from(taker.qty.0.min(maker.qty.0)).min(afford) as u64;
            taker.qty.0 -= q;
            if let Some(b) = &mut taker.notional_budget {
                *b -= u128::from(price.0) * u128::from(q);
            }
            let remaining = maker.qty.0 - q;
            if remaining == 0 {
                self.orders.remove(i);
            } else {
                self.orders[i].1.qty.0 = remaining;
            }
            on(MatchEvent::Fill {
                maker: maker.id,
                maker_owner: maker.owner,
                price,
                qty: Qty(q),
                maker_remaining: Qty(remaining),
                level_qty: self.level_qty(maker.side, price),
            });
        }
    }

    pub fn len(&self) -> usize {
        self.orders.len()
    }

    pub fn is_empty(&self) -> bool {
        self.orders.is_empty()
    }

    pub fn orders(&self) -> Vec<RestingOrder> {
        let mut all = self.orders.clone();
        all.sort_by(|(sa, a), (sb, b)| {
            let side_rank = |s: Side| if s == Side::Buy { 0 } else { 1 };
            side_rank(a.side)
                .cmp(&side_rank(b.side))
                .then_with(|| match a.side {
                    Side::Buy => b.price.cmp(&a.price),
                    Side::Sell => a.price.cmp(&b.price),
                })
                .then_with(|| sa.cmp(sb))
        });
        all.into_iter().map(|(_, o)| o).collect()
    }
}
