//! Property test: random command sequences run on `OrderBook` and on the naive
//! `ReferenceBook` must produce identical events, ends and observable state, and the book
//! must never be crossed.

mod common;

use bourse_book::{MatchEvent, OrderBook, ReferenceBook, RestingOrder, Taker};
use bourse_model::{OrderId, Price, Qty, Side, StpMode, Timestamp, UserId};
use common::Book;
use proptest::prelude::*;

/// The price grid the ops are drawn from.
#[derive(Debug, Clone, Copy)]
struct Grid {
    low: u64,
    high: u64,
    /// Limit buys are drawn below `split` and sells at or above it (`None`: anywhere, so
    /// most limits cross and trade).
    split: Option<u64>,
    /// Largest move of an amend, in ticks.
    max_move: u64,
}

/// Few prices, everything crosses: deep levels, many trades, STP, expiry, budgets. Low
/// prices, so neighbouring levels differ enough for a budget to buy more at one than at
/// the next.
const NARROW: Grid = Grid {
    low: 10,
    high: 30,
    split: None,
    max_move: 1,
};
/// Two prices a side, few trades: long queues with orders leaving from the middle.
const DEEP: Grid = Grid {
    low: 50,
    high: 53,
    split: Some(52),
    max_move: 1,
};
/// Many prices, few trades: many levels appearing and disappearing (tombstones).
const WIDE: Grid = Grid {
    low: 1_000,
    high: 1_400,
    split: Some(1_200),
    max_move: 40,
};

#[derive(Debug, Clone)]
enum Op {
    /// A limit order: matched first if it crosses, the rest rests (like the core does).
    Limit {
        owner: u64,
        side: Side,
        price: u64,
        qty: u64,
        expire_at: Option<u64>,
    },
    /// Cancel the n-th resting order (mod len), or an unknown id.
    Cancel { pick: usize, unknown: bool },
    /// Reduce the n-th resting order to a fraction of its size (sometimes invalid).
    Reduce { pick: usize, new_qty: u64 },
    /// Move the n-th resting order by some ticks (remove + insert unless it would cross).
    Move { pick: usize, up: bool, ticks: u64 },
    /// An immediate-or-cancel taker; `fok` only runs it if `can_fill` says yes.
    Taker {
        owner: u64,
        side: Side,
        limit: Option<u64>,
        qty: u64,
        budget: Option<u128>,
        stp: StpMode,
        now: u64,
        fok: bool,
    },
}

fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::Buy), Just(Side::Sell)]
}

fn stp() -> impl Strategy<Value = StpMode> {
    prop_oneof![
        Just(StpMode::ExpireTaker),
        Just(StpMode::ExpireMaker),
        Just(StpMode::ExpireBoth)
    ]
}

fn op(g: Grid) -> impl Strategy<Value = Op> {
    let limit = (
        0..4u64,
        side(),
        g.low..=g.high,
        1..20u64,
        proptest::option::weighted(0.3, 0..20u64),
    )
        .prop_map(move |(owner, side, price, qty, expire_at)| {
            let price = match (g.split, side) {
                (Some(split), Side::Buy) => g.low + (price - g.low) % (split - g.low),
                (Some(split), Side::Sell) => split + (price - g.low) % (g.high - split + 1),
                (None, _) => price,
            };
            Op::Limit {
                owner,
                side,
                price,
                qty,
                expire_at,
            }
        });
    let taker = (
        0..4u64,
        side(),
        proptest::option::weighted(0.7, (g.low - 2)..=(g.high + 2)),
        0..60u64,
        proptest::option::weighted(0.4, 0..(30 * g.high as u128)),
        stp(),
        0..20u64,
        any::<bool>(),
    )
        .prop_map(
            |(owner, side, limit, qty, budget, stp, now, fok)| Op::Taker {
                owner,
                side,
                limit,
                qty,
                budget,
                stp,
                now,
                fok,
            },
        );
    prop_oneof![
        6 => limit,
        1 => (any::<usize>(), proptest::bool::weighted(0.1)).prop_map(|(pick, unknown)| Op::Cancel { pick, unknown }),
        1 => (any::<usize>(), 0..25u64).prop_map(|(pick, new_qty)| Op::Reduce { pick, new_qty }),
        3 => (any::<usize>(), any::<bool>(), 1..=g.max_move).prop_map(|(pick, up, ticks)| Op::Move { pick, up, ticks }),
        2 => taker,
    ]
}

/// The pair under test; every call goes to both and the answers must agree.
struct Pair {
    fast: OrderBook,
    refb: ReferenceBook,
    next_id: u64,
    now: u64,
}

impl Pair {
    fn check_state(&self, probes: &[u64]) {
        assert_eq!(self.fast.len(), self.refb.len());
        assert_eq!(self.fast.is_empty(), self.refb.is_empty());
        let orders = self.fast.orders();
        assert_eq!(orders, self.refb.orders());
        for side in [Side::Buy, Side::Sell] {
            assert_eq!(Book::best(&self.fast, side), Book::best(&self.refb, side));
            assert_eq!(
                Book::depth(&self.fast, side, 4),
                Book::depth(&self.refb, side, 4)
            );
            assert_eq!(
                Book::depth(&self.fast, side, 100),
                Book::depth(&self.refb, side, 100)
            );
            for &p in probes {
                assert_eq!(
                    Book::level_qty(&self.fast, side, Price(p)),
                    Book::level_qty(&self.refb, side, Price(p))
                );
                assert_eq!(
                    Book::would_cross(&self.fast, side, Price(p)),
                    Book::would_cross(&self.refb, side, Price(p))
                );
            }
        }
        for o in &orders {
            assert_eq!(self.fast.get(o.id), Some(*o));
            assert!(o.qty.0 > 0);
        }
        assert_eq!(self.fast.get(OrderId(u64::MAX)), None);
        if let (Some((bid, _)), Some((ask, _))) =
            (self.fast.best(Side::Buy), self.fast.best(Side::Sell))
        {
            assert!(bid < ask, "crossed book: bid {bid:?} ask {ask:?}");
        }
    }

    fn pick(&self, pick: usize) -> Option<RestingOrder> {
        let orders = self.fast.orders();
        (!orders.is_empty()).then(|| orders[pick % orders.len()])
    }

    fn take(&mut self, taker: Taker) -> Taker {
        let predicted = self.fast.can_fill(&taker);
        assert_eq!(
            predicted,
            self.refb.can_fill(&taker),
            "can_fill differs for {taker:?}"
        );
        let (mut tf, mut tr) = (taker, taker);
        let (mut ef, mut er) = (Vec::<MatchEvent>::new(), Vec::<MatchEvent>::new());
        let end_f = self.fast.match_taker(&mut tf, &mut |e| ef.push(e));
        let end_r = self.refb.match_taker(&mut tr, &mut |e| er.push(e));
        assert_eq!(ef, er, "events differ for {taker:?}");
        assert_eq!(end_f, end_r);
        assert_eq!(tf, tr);
        assert_eq!(
            predicted,
            end_f == bourse_book::MatchEnd::Filled,
            "can_fill mispredicted"
        );
        tf
    }

    fn apply(&mut self, op: Op, probes: &[u64]) {
        match op {
            Op::Limit {
                owner,
                side,
                price,
                qty,
                expire_at,
            } => {
                self.next_id += 1;
                self.now += 1;
                let id = OrderId(self.next_id);
                let t = Taker {
                    id,
                    owner: UserId(owner),
                    side,
                    limit: Some(Price(price)),
                    qty: Qty(qty),
                    notional_budget: None,
                    stp: StpMode::ExpireMaker,
                    now: Timestamp(self.now % 20),
                };
                let rest = self.take(t);
                if rest.qty.0 > 0 {
                    let o = RestingOrder {
                        id,
                        owner: UserId(owner),
                        side,
                        price: Price(price),
                        qty: rest.qty,
                        expire_at: expire_at.map(Timestamp),
                    };
                    self.fast.insert(o);
                    self.refb.insert(o);
                }
            }
            Op::Cancel { pick, unknown } => {
                let id = match (unknown, self.pick(pick)) {
                    (false, Some(o)) => o.id,
                    _ => OrderId(self.next_id + 1),
                };
                assert_eq!(self.fast.remove(id), self.refb.remove(id));
            }
            Op::Reduce { pick, new_qty } => {
                if let Some(o) = self.pick(pick) {
                    assert_eq!(
                        self.fast.reduce(o.id, Qty(new_qty)),
                        self.refb.reduce(o.id, Qty(new_qty))
                    );
                }
            }
            Op::Move { pick, up, ticks } => {
                let Some(o) = self.pick(pick) else { return };
                let price = if up {
                    o.price.0 + ticks
                } else {
                    o.price.0.saturating_sub(ticks)
                };
                if self.fast.would_cross(o.side, Price(price)) {
                    return;
                }
                let moved = RestingOrder {
                    price: Price(price),
                    ..o
                };
                assert_eq!(self.fast.remove(o.id), Some(o));
                assert_eq!(self.refb.remove(o.id), Some(o));
                self.fast.insert(moved);
                self.refb.insert(moved);
            }
            Op::Taker {
                owner,
                side,
                limit,
                qty,
                budget,
                stp,
                now,
                fok,
            } => {
                self.next_id += 1;
                let t = Taker {
                    id: OrderId(self.next_id),
                    owner: UserId(owner),
                    side,
                    limit: limit.map(Price),
                    qty: Qty(qty),
                    notional_budget: budget,
                    stp,
                    now: Timestamp(now),
                };
                if fok && !self.fast.can_fill(&t) {
                    assert!(!self.refb.can_fill(&t));
                    return;
                }
                self.take(t);
            }
        }
        self.check_state(probes);
    }
}

fn run(ops: Vec<Op>, probes: &[u64]) {
    let mut pair = Pair {
        fast: OrderBook::new(),
        refb: ReferenceBook::new(),
        next_id: 0,
        now: 0,
    };
    for op in ops {
        pair.apply(op, probes);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn narrow_book_matches_reference(ops in proptest::collection::vec(op(NARROW), 1..120)) {
        let probes: Vec<u64> = (NARROW.low - 1..=NARROW.high + 1).collect();
        run(ops, &probes);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 100, ..ProptestConfig::default() })]

    #[test]
    fn wide_book_matches_reference(
        ops in proptest::collection::vec(op(WIDE), 200..400),
        probes in proptest::collection::vec(WIDE.low - 1..=WIDE.high + 1, 4),
    ) {
        run(ops, &probes);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 100, ..ProptestConfig::default() })]

    #[test]
    fn deep_book_matches_reference(ops in proptest::collection::vec(op(DEEP), 150..300)) {
        let probes: Vec<u64> = (DEEP.low - 1..=DEEP.high + 1).collect();
        run(ops, &probes);
    }
}
