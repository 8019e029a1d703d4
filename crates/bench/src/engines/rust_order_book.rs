//! `rust-order-book` 0.0.2: one `OrderBook` per market (journaling off).
//!
//! Place, IOC and cancel are native. Its `modify` is itself a cancel + new limit order
//! under a *new* order id, so the adapter keeps a dense `Vec` from workload id to the
//! engine's current id. A price `modify` re-matches a crossing order like the other
//! engines; a size `modify` (our reduce) re-queues the order at the back of its level,
//! which loses priority, so the final book may differ from the reference (reported, not a
//! failure). Each new order reads the wall clock (`LimitOrder::new` stamps it): that cost
//! is the engine's own.

use super::{slot, Engine};
use crate::workload::{Level, MarketIx, Op, Order, Spec, Step};
use bourse_model::Side;
use rust_order_book::{
    LimitOrderOptions, OrderBook, OrderBookBuilder, OrderId, Price, Quantity, TimeInForce,
};

pub struct RustOrderBook {
    books: Vec<OrderBook>,
    ids: Vec<u64>,
}

fn side(s: Side) -> rust_order_book::Side {
    match s {
        Side::Buy => rust_order_book::Side::Buy,
        Side::Sell => rust_order_book::Side::Sell,
    }
}

impl RustOrderBook {
    #[inline]
    fn limit(&mut self, market: MarketIx, o: Order, tif: TimeInForce) {
        let report = self.books[market as usize]
            .limit(LimitOrderOptions {
                side: side(o.side),
                quantity: Quantity(o.qty),
                price: Price(o.price),
                time_in_force: Some(tif),
                post_only: None,
            })
            .expect("rust-order-book accepts a valid limit order");
        *slot(&mut self.ids, o.id) = report.order_id.0;
        std::hint::black_box(report);
    }

    #[inline]
    fn modify(&mut self, market: MarketIx, id: u64, price: Option<u64>, qty: Option<u64>) {
        let ours = OrderId(self.ids[id as usize]);
        // After a reduce diverged (see the module doc) the order may be gone here; the
        // engine then answers an error, which is fine.
        if let Ok(report) =
            self.books[market as usize].modify(ours, price.map(Price), qty.map(Quantity))
        {
            self.ids[id as usize] = report.order_id.0;
            std::hint::black_box(report);
        }
    }
}

impl Engine for RustOrderBook {
    fn new(spec: &Spec) -> Self {
        let books = (0..spec.markets)
            .map(|i| OrderBookBuilder::new(format!("M{i}")).build())
            .collect();
        Self {
            books,
            ids: Vec::new(),
        }
    }

    #[inline]
    fn apply(&mut self, step: &Step) {
        let m = step.market;
        match step.op {
            Op::Place(o) => self.limit(m, o, TimeInForce::GTC),
            Op::Ioc(o) => self.limit(m, o, TimeInForce::IOC),
            Op::Move { id, new_price, .. } => self.modify(m, id, Some(new_price), None),
            Op::Reduce { id, new_qty, .. } => self.modify(m, id, None, Some(new_qty)),
            Op::Cancel { id, .. } => {
                let ours = OrderId(self.ids[id as usize]);
                let _ = std::hint::black_box(self.books[m as usize].cancel(ours));
            }
        }
    }

    fn levels(&self) -> Vec<Level> {
        let mut out = Vec::new();
        for (i, book) in self.books.iter().enumerate() {
            // `depth` returns every level; its argument only pre-allocates.
            let d = book.depth(Some(64));
            let market = i as MarketIx;
            out.extend(d.bids.iter().map(|(p, q)| Level {
                market,
                side: Side::Buy,
                price: p.0,
                qty: q.0,
            }));
            out.extend(d.asks.iter().map(|(p, q)| Level {
                market,
                side: Side::Sell,
                price: p.0,
                qty: q.0,
            }));
        }
        out
    }
}
