//! Bourse's order book alone (`bourse-book`), one [`OrderBook`] per market.
//!
//! Native operations only: place and IOC are `match_taker` (+ `insert` of a GTC
//! remainder), reduce is `reduce` (keeps priority), cancel is `remove`, and a move is
//! `remove` + `match_taker` at the new price + `insert` of the remainder, which is what
//! the core does for a price amend. Self-trade prevention is on (`ExpireTaker`) but never
//! fires: the stream never lets a user meet itself.

use super::Engine;
use crate::workload::{Level, MarketIx, Op, Order, Spec, Step};
use bourse_book::{MatchEvent, OrderBook, RestingOrder, Taker};
use bourse_model::{OrderId, Price, Qty, Side, StpMode, Timestamp, UserId};

pub struct BourseBook {
    books: Vec<OrderBook>,
}

impl BourseBook {
    /// Matches `o`, then rests its remainder if `rest`.
    #[inline]
    fn take(&mut self, market: MarketIx, o: Order, rest: bool) {
        let Order {
            id,
            user,
            side,
            price,
            qty,
        } = o;
        let book = &mut self.books[market as usize];
        let mut taker = Taker {
            id: OrderId(id),
            owner: UserId(u64::from(user)),
            side,
            limit: Some(Price(price)),
            qty: Qty(qty),
            notional_budget: None,
            stp: StpMode::ExpireTaker,
            now: Timestamp(0),
        };
        book.match_taker(&mut taker, &mut |e: MatchEvent| {
            std::hint::black_box(e);
        });
        if rest && !taker.qty.is_zero() {
            book.insert(RestingOrder {
                id: OrderId(id),
                owner: UserId(u64::from(user)),
                side,
                price: Price(price),
                qty: taker.qty,
                expire_at: None,
            });
        }
    }
}

impl Engine for BourseBook {
    fn new(spec: &Spec) -> Self {
        Self {
            books: (0..spec.markets).map(|_| OrderBook::new()).collect(),
        }
    }

    #[inline]
    fn apply(&mut self, step: &Step) {
        let m = step.market;
        match step.op {
            Op::Place(o) => self.take(m, o, true),
            Op::Ioc(o) => self.take(m, o, false),
            Op::Move { id, new_price, .. } => {
                let o = self.books[m as usize]
                    .remove(OrderId(id))
                    .expect("moved order rests");
                let user = o.owner.0 as u32;
                self.take(
                    m,
                    Order {
                        id,
                        user,
                        side: o.side,
                        price: new_price,
                        qty: o.qty.0,
                    },
                    true,
                );
            }
            Op::Reduce { id, new_qty, .. } => {
                self.books[m as usize]
                    .reduce(OrderId(id), Qty(new_qty))
                    .expect("reduced order rests");
            }
            Op::Cancel { id, .. } => {
                self.books[m as usize]
                    .remove(OrderId(id))
                    .expect("canceled order rests");
            }
        }
    }

    fn levels(&self) -> Vec<Level> {
        let mut out = Vec::new();
        for (m, book) in self.books.iter().enumerate() {
            for side in [Side::Buy, Side::Sell] {
                for (price, qty) in book.depth(side, usize::MAX) {
                    out.push(Level {
                        market: m as MarketIx,
                        side,
                        price: price.0,
                        qty: qty.0,
                    });
                }
            }
        }
        out
    }
}
