//! `orderbook-rs` 0.15: one `OrderBook<()>` per market (self-trade prevention off, the
//! default). It is built for concurrent access (skip lists, `DashMap`, atomics, a submit
//! gate), and that cost is part of what this measures: here it runs on one thread.
//!
//! All operations are native: `add_limit_order` with GTC or IOC, `update_order` with
//! `UpdatePrice` (a cancel + re-add that re-matches, keeping the id) and `UpdateQuantity`
//! (a decrease keeps priority), and `cancel_order`. Our ids are its `Id::Sequential`.

use super::Engine;
use crate::workload::{Level, MarketIx, Op, Order, Spec, Step};
use bourse_model::Side;
use orderbook_rs::{Id, OrderBook, TimeInForce};
use pricelevel::{OrderUpdate, Price, Quantity};

pub struct OrderbookRs {
    books: Vec<OrderBook<()>>,
}

fn side(s: Side) -> orderbook_rs::Side {
    match s {
        Side::Buy => orderbook_rs::Side::Buy,
        Side::Sell => orderbook_rs::Side::Sell,
    }
}

impl OrderbookRs {
    #[inline]
    fn limit(&mut self, market: MarketIx, o: Order, tif: TimeInForce) {
        let r = self.books[market as usize].add_limit_order(
            Id::from_u64(o.id),
            u128::from(o.price),
            o.qty,
            side(o.side),
            tif,
            None,
        );
        // An IOC that finds nothing to take is answered with an error by this engine.
        if tif == TimeInForce::Gtc {
            r.as_ref().expect("orderbook-rs accepts a valid GTC order");
        }
        let _ = std::hint::black_box(r);
    }

    #[inline]
    fn update(&mut self, market: MarketIx, u: OrderUpdate) {
        let r = self.books[market as usize].update_order(u);
        r.as_ref().expect("orderbook-rs updates a resting order");
        let _ = std::hint::black_box(r);
    }
}

impl Engine for OrderbookRs {
    fn new(spec: &Spec) -> Self {
        Self {
            books: (0..spec.markets)
                .map(|i| OrderBook::new(&format!("M{i}")))
                .collect(),
        }
    }

    #[inline]
    fn apply(&mut self, step: &Step) {
        let m = step.market;
        match step.op {
            Op::Place(o) => self.limit(m, o, TimeInForce::Gtc),
            Op::Ioc(o) => self.limit(m, o, TimeInForce::Ioc),
            Op::Move { id, new_price, .. } => self.update(
                m,
                OrderUpdate::UpdatePrice {
                    order_id: Id::from_u64(id),
                    new_price: Price::new(u128::from(new_price)),
                },
            ),
            Op::Reduce { id, new_qty, .. } => self.update(
                m,
                OrderUpdate::UpdateQuantity {
                    order_id: Id::from_u64(id),
                    new_quantity: Quantity::new(new_qty),
                },
            ),
            Op::Cancel { id, .. } => {
                let r = self.books[m as usize].cancel_order(Id::from_u64(id));
                r.as_ref().expect("orderbook-rs cancels a resting order");
                let _ = std::hint::black_box(r);
            }
        }
    }

    fn levels(&self) -> Vec<Level> {
        let mut out = Vec::new();
        for (i, book) in self.books.iter().enumerate() {
            for (s, theirs) in [
                (Side::Buy, orderbook_rs::Side::Buy),
                (Side::Sell, orderbook_rs::Side::Sell),
            ] {
                for l in book.levels_with_cumulative_depth(theirs) {
                    let l = l.expect("orderbook-rs reads its own levels");
                    let price = u64::try_from(l.price).expect("prices fit in u64");
                    out.push(Level {
                        market: i as MarketIx,
                        side: s,
                        price,
                        qty: l.quantity,
                    });
                }
            }
        }
        out
    }
}
