//! `lobster` 0.7: one `OrderBook` per market (arena-backed, stats tracking off).
//!
//! lobster has limit, market and cancel orders only. Emulations, each the cheapest
//! sequence of its own operations:
//! - IOC: a limit order, then a cancel of its remainder if one rested.
//! - Move: cancel + a new limit order with the same id at the new price and the remaining
//!   size (from the stream's hint), so a crossing move trades like in the other engines.
//! - Reduce: cancel + re-add with the smaller size at the same price. This loses queue
//!   priority, so later fills can hit different orders and the final book may differ
//!   from the reference (reported, not a failure).
//!
//! lobster's cancel scans its price level's `Vec` to find the order, so it is O(orders
//! per level); W2's deep levels show that.

use super::Engine;
use crate::workload::{Level, MarketIx, Op, Order, Spec, Step};
use bourse_model::Side;
use lobster::{OrderBook, OrderEvent, OrderType};

pub struct Lobster {
    books: Vec<OrderBook>,
}

fn side(s: Side) -> lobster::Side {
    match s {
        Side::Buy => lobster::Side::Bid,
        Side::Sell => lobster::Side::Ask,
    }
}

impl Lobster {
    #[inline]
    fn limit(&mut self, market: MarketIx, o: Order) -> OrderEvent {
        let ev = self.books[market as usize].execute(OrderType::Limit {
            id: u128::from(o.id),
            side: side(o.side),
            qty: o.qty,
            price: o.price,
        });
        std::hint::black_box(ev)
    }

    #[inline]
    fn cancel(&mut self, market: MarketIx, id: u64) {
        let ev = self.books[market as usize].execute(OrderType::Cancel { id: u128::from(id) });
        std::hint::black_box(ev);
    }
}

impl Engine for Lobster {
    fn new(spec: &Spec) -> Self {
        let per_market = spec.resting / spec.markets.max(1) as usize;
        let books = (0..spec.markets)
            .map(|_| OrderBook::new(per_market * 2, spec.per_level * 2, false))
            .collect();
        Self { books }
    }

    #[inline]
    fn apply(&mut self, step: &Step) {
        let m = step.market;
        match step.op {
            Op::Place(o) => {
                self.limit(m, o);
            }
            Op::Ioc(o) => {
                if matches!(
                    self.limit(m, o),
                    OrderEvent::Placed { .. } | OrderEvent::PartiallyFilled { .. }
                ) {
                    self.cancel(m, o.id);
                }
            }
            Op::Move {
                id,
                user,
                side,
                new_price,
                qty,
            } => {
                self.cancel(m, id);
                self.limit(
                    m,
                    Order {
                        id,
                        user,
                        side,
                        price: new_price,
                        qty,
                    },
                );
            }
            Op::Reduce {
                id,
                user,
                side,
                price,
                new_qty,
                ..
            } => {
                self.cancel(m, id);
                self.limit(
                    m,
                    Order {
                        id,
                        user,
                        side,
                        price,
                        qty: new_qty,
                    },
                );
            }
            Op::Cancel { id, .. } => self.cancel(m, id),
        }
    }

    fn levels(&self) -> Vec<Level> {
        let mut out = Vec::new();
        for (i, book) in self.books.iter().enumerate() {
            // `depth` ignores its argument and returns every level; it only pre-allocates.
            let d = book.depth(64);
            let market = i as MarketIx;
            out.extend(d.bids.iter().map(|l| Level {
                market,
                side: Side::Buy,
                price: l.price,
                qty: l.qty,
            }));
            out.extend(d.asks.iter().map(|l| Level {
                market,
                side: Side::Sell,
                price: l.price,
                qty: l.qty,
            }));
        }
        out
    }
}
