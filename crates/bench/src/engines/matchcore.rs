//! `matchcore` 0.4: one `OrderBook` per market, driven by its own `Command`s.
//!
//! All five operations are native: GTC and IOC limit submits, `Amend` with a new price
//! (matchcore re-matches a crossing amend and re-queues the remainder, like Bourse) or a
//! smaller `Standard` quantity (in place, keeping priority), and `Cancel`. matchcore
//! assigns order ids itself (the submit's sequence number), so the adapter keeps a dense
//! `Vec` from workload id to matchcore id, one index per command.

use super::{slot, Engine};
use crate::workload::{Level, MarketIx, Op, Order, Spec, Step};
use bourse_model::Side;
use matchcore as mc;

struct Market {
    book: mc::OrderBook,
    seq: u64,
}

pub struct Matchcore {
    markets: Vec<Market>,
    ids: Vec<u64>,
}

fn side(s: Side) -> mc::Side {
    match s {
        Side::Buy => mc::Side::Buy,
        Side::Sell => mc::Side::Sell,
    }
}

impl Matchcore {
    #[inline]
    fn execute(&mut self, market: MarketIx, kind: mc::CommandKind) -> (u64, mc::CommandOutcome) {
        let m = &mut self.markets[market as usize];
        let seq = m.seq;
        m.seq += 1;
        let cmd = mc::Command {
            meta: mc::CommandMeta {
                sequence_number: mc::SequenceNumber(seq),
                timestamp: mc::Timestamp(0),
            },
            kind,
        };
        (seq, m.book.execute(&cmd))
    }

    #[inline]
    fn submit(&mut self, market: MarketIx, o: Order, tif: mc::TimeInForce) {
        let order = mc::LimitOrder::new(
            mc::Price(o.price),
            mc::QuantityPolicy::Standard {
                quantity: mc::Quantity(o.qty),
            },
            mc::OrderFlags::new(side(o.side), false, tif),
        );
        let kind = mc::CommandKind::Submit(mc::SubmitCmd {
            order: mc::NewOrder::Limit(order),
        });
        let (seq, outcome) = self.execute(market, kind);
        check(&outcome);
        *slot(&mut self.ids, o.id) = seq;
    }

    #[inline]
    fn amend(&mut self, market: MarketIx, id: u64, patch: mc::LimitOrderPatch) {
        let order_id = mc::OrderId(self.ids[id as usize]);
        let kind = mc::CommandKind::Amend(mc::AmendCmd {
            order_id,
            patch: mc::AmendPatch::Limit(patch),
        });
        let (_, outcome) = self.execute(market, kind);
        check(&outcome);
    }
}

#[inline]
fn check(outcome: &mc::CommandOutcome) {
    if let mc::CommandOutcome::Rejected(f) = outcome {
        panic!("matchcore rejected a valid command: {f}");
    }
    std::hint::black_box(outcome);
}

impl Engine for Matchcore {
    fn new(spec: &Spec) -> Self {
        let markets = (0..spec.markets)
            .map(|i| Market {
                book: mc::OrderBook::new(&format!("M{i}")),
                seq: 0,
            })
            .collect();
        Self {
            markets,
            ids: Vec::new(),
        }
    }

    #[inline]
    fn apply(&mut self, step: &Step) {
        let m = step.market;
        match step.op {
            Op::Place(o) => self.submit(m, o, mc::TimeInForce::Gtc),
            Op::Ioc(o) => self.submit(m, o, mc::TimeInForce::Ioc),
            Op::Move { id, new_price, .. } => self.amend(
                m,
                id,
                mc::LimitOrderPatch::new().with_price(mc::Price(new_price)),
            ),
            Op::Reduce { id, new_qty, .. } => self.amend(
                m,
                id,
                mc::LimitOrderPatch::new().with_quantity_policy(mc::QuantityPolicy::Standard {
                    quantity: mc::Quantity(new_qty),
                }),
            ),
            Op::Cancel { id, .. } => {
                let order_id = mc::OrderId(self.ids[id as usize]);
                let kind = mc::CommandKind::Cancel(mc::CancelCmd {
                    order_id,
                    order_kind: mc::OrderKind::Limit,
                });
                let (_, outcome) = self.execute(m, kind);
                check(&outcome);
            }
        }
    }

    fn levels(&self) -> Vec<Level> {
        let mut out = Vec::new();
        for (i, m) in self.markets.iter().enumerate() {
            let limit = m.book.limit();
            for (s, map) in [(Side::Buy, limit.bids()), (Side::Sell, limit.asks())] {
                for (price, level_id) in map {
                    let qty = limit.levels()[*level_id].total_quantity().0;
                    out.push(Level {
                        market: i as MarketIx,
                        side: s,
                        price: price.0,
                        qty,
                    });
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::standard;

    /// matchcore 0.4.0 matches a crossing limit order with no price limit: a buy at 100
    /// also takes the ask at 101. This is why its final book can differ from the others.
    #[test]
    fn crossing_limit_order_walks_past_its_price() {
        let spec = standard("W1", true).unwrap();
        let mut e = Matchcore::new(&spec);
        let place = |id, side, price, qty| Step {
            market: 0,
            op: Op::Place(Order {
                id,
                user: 0,
                side,
                price,
                qty,
            }),
        };
        e.apply(&place(1, Side::Sell, 100, 5));
        e.apply(&place(2, Side::Sell, 101, 5));
        e.apply(&place(3, Side::Buy, 100, 10));
        let asks: Vec<_> = e
            .levels()
            .into_iter()
            .filter(|l| l.side == Side::Sell)
            .collect();
        let bids: Vec<_> = e
            .levels()
            .into_iter()
            .filter(|l| l.side == Side::Buy)
            .collect();
        // Price-time priority would leave the ask at 101 untouched and rest 5 at 100.
        assert!(asks.is_empty(), "{asks:?}");
        assert!(bids.is_empty(), "{bids:?}");
    }
}
