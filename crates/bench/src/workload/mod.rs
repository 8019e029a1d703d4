//! Engine-neutral command streams for the benchmark.
//!
//! A workload is a deterministic function of its [`Spec`] (sizes and seed): the same spec
//! always yields the same [`Workload`], and every engine replays that one stream.
//!
//! Rules of the stream (they are what the reference model below implements, and what every
//! adapter must reproduce where its engine allows):
//! - Price-time priority. An incoming order matches the best opposite price first, oldest
//!   order first within a level, at the maker's price, while the maker's price is no worse
//!   than the taker's limit.
//! - `Place` is a GTC limit order: it matches, then its remainder rests at the back of its
//!   level. `Ioc` matches and drops its remainder.
//! - `Move` changes a resting order's price by one tick: the order leaves the book, matches
//!   at the new price like an incoming order (a move across the spread trades), and its
//!   remainder rests at the back of the new level, keeping its id.
//! - `Reduce` lowers a resting order's remaining size in place, keeping its queue position.
//! - `Cancel` removes a resting order.
//! - Buy orders come from even users and sell orders from odd users, so no order can ever
//!   meet an order of its own user: self-trade prevention never fires and engines with and
//!   without it do the same work.
//!
//! Besides the fields an engine needs, `Move`, `Reduce` and `Cancel` carry what the client
//! knows about its order (side, price, remaining and filled size, as the reference model
//! tracks them). Engines with a native operation ignore these hints; engines that lack one
//! use them to emulate it (cancel + re-add) without shadow bookkeeping of their own, which
//! is the cheapest fair emulation.
//!
//! - No taker is larger than the liquidity within its limit: an IOC is cut to what it can
//!   take, and a move that would cross with more than the level it reaches goes the other
//!   way instead. matchcore 0.4 walks past the limit price of a crossing limit order (see
//!   its adapter's test); with this rule every engine does the same work, which the
//!   final-book hash then shows.
//!
//! The book is kept near its target size by GTC `Place` orders: while it is below target,
//! every other command is a `Place` (and every command below 90 % of target); the others
//! follow the mix. [`Workload::counts`] reports the resulting stream.

mod reference;
#[cfg(test)]
mod tests;

use bourse_model::Side;
use reference::Generator;
use std::collections::{BTreeMap, HashMap, VecDeque};

/// Market index (0-based) within a workload.
pub type MarketIx = u32;

/// One command of a workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub market: MarketIx,
    pub op: Op,
}

/// An incoming limit order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Order {
    pub id: u64,
    pub user: u32,
    pub side: Side,
    pub price: u64,
    pub qty: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// GTC limit order.
    Place(Order),
    /// Immediate-or-cancel limit order.
    Ioc(Order),
    /// Move a resting order to `new_price` (one tick away). `side`, `user` and `qty` (its
    /// remaining size) are hints.
    Move {
        id: u64,
        user: u32,
        side: Side,
        new_price: u64,
        qty: u64,
    },
    /// Lower a resting order's remaining size to `new_qty` (0 < new_qty < current). `filled`
    /// (what the order has already traded, for APIs that take the new *total* size),
    /// `side`, `price` and `user` are hints.
    Reduce {
        id: u64,
        user: u32,
        side: Side,
        price: u64,
        new_qty: u64,
        filled: u64,
    },
    /// Cancel a resting order. `side`, `price` and `user` are hints.
    Cancel {
        id: u64,
        user: u32,
        side: Side,
        price: u64,
    },
}

/// The sizes and seed that determine a workload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub name: &'static str,
    pub seed: u64,
    pub markets: u32,
    pub users: u32,
    /// Resting orders over all markets (split evenly).
    pub resting: usize,
    /// Orders per price level in the initial book.
    pub per_level: usize,
    /// Timed commands.
    pub ops: usize,
    pub mix: Mix,
}

/// Shares of each command kind, in per-mille; whatever is left is moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mix {
    pub cancel: u32,
    pub reduce: u32,
    pub ioc: u32,
    /// Large IOCs that walk `sweep_levels` price levels.
    pub sweep: u32,
    pub sweep_levels: (u32, u32),
    /// Refill the book with GTC places when it drops below its target size.
    pub place_when_low: bool,
}

/// exchange-core's mix: 90 % move, 2.5 % cancel, 2.5 % reduce, 5 % IOC.
pub const EXCHANGE_CORE_MIX: Mix = Mix {
    cancel: 25,
    reduce: 25,
    ioc: 50,
    sweep: 0,
    sweep_levels: (0, 0),
    place_when_low: true,
};

/// The fixed seed of the standard workloads.
pub const SEED: u64 = 0x5eed_b0c5e;

/// Names of the standard workloads, in run order.
pub const NAMES: [&str; 4] = ["W1", "W2", "W3", "W4"];

/// The standard workload `name` at full or smoke size.
pub fn standard(name: &str, smoke: bool) -> Option<Spec> {
    let s = |full: usize, tiny: usize| if smoke { tiny } else { full };
    let spec = match name.to_ascii_uppercase().as_str() {
        "W1" => Spec {
            name: "W1",
            seed: SEED,
            markets: 1,
            users: 2_000,
            resting: s(1_000, 200),
            per_level: 5,
            ops: s(3_000_000, 20_000),
            mix: EXCHANGE_CORE_MIX,
        },
        "W2" => Spec {
            name: "W2",
            seed: SEED + 2,
            markets: 1,
            users: 2_000,
            resting: s(100_000, 5_000),
            per_level: s(500, 50),
            ops: s(3_000_000, 20_000),
            mix: EXCHANGE_CORE_MIX,
        },
        "W3" => Spec {
            name: "W3",
            seed: SEED + 3,
            markets: s(100, 10) as u32,
            users: s(10_000, 500) as u32,
            resting: s(10_000, 1_000),
            per_level: 5,
            ops: s(3_000_000, 20_000),
            mix: EXCHANGE_CORE_MIX,
        },
        "W4" => Spec {
            name: "W4",
            seed: SEED + 4,
            markets: 1,
            users: 2_000,
            resting: s(10_000, 1_000),
            per_level: 10,
            ops: s(1_000_000, 20_000),
            mix: Mix {
                cancel: 25,
                reduce: 25,
                ioc: 0,
                sweep: 10,
                sweep_levels: (5, 25),
                place_when_low: true,
            },
        },
        _ => return None,
    };
    Some(spec)
}

/// A generated workload: untimed setup (the initial book), the timed commands, and the
/// reference model's final book.
#[derive(Debug, Clone)]
pub struct Workload {
    pub spec: Spec,
    pub setup: Vec<Step>,
    pub steps: Vec<Step>,
    /// Hash of the reference model's final book (see [`book_hash`]).
    pub expected_hash: u64,
    pub counts: Counts,
}

/// How many commands of each kind the timed stream holds, and how many fills they caused.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub place: usize,
    pub ioc: usize,
    pub moves: usize,
    pub reduce: usize,
    pub cancel: usize,
    pub fills: usize,
}

/// One aggregated price level of a final book.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Level {
    pub market: MarketIx,
    pub side: Side,
    pub price: u64,
    pub qty: u64,
}

/// Order-independent summary of final books: FNV-1a over the sorted
/// (market, side, price, total qty) levels. Empty levels are ignored.
pub fn book_hash(levels: &mut [Level]) -> u64 {
    levels.sort_unstable_by_key(|l| (l.market, side_ix(l.side), l.price, l.qty));
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut mix = |v: u64| {
        for b in v.to_le_bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    for l in levels.iter().filter(|l| l.qty > 0) {
        mix(u64::from(l.market));
        mix(side_ix(l.side));
        mix(l.price);
        mix(l.qty);
    }
    h
}

fn side_ix(s: Side) -> u64 {
    match s {
        Side::Buy => 0,
        Side::Sell => 1,
    }
}

/// SplitMix64: tiny, fast, and fixed forever, so streams never change with a crate bump.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0); the modulo bias is irrelevant here.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    pub fn range(&mut self, lo: u64, hi_inclusive: u64) -> u64 {
        lo + self.below(hi_inclusive - lo + 1)
    }
    pub fn coin(&mut self) -> bool {
        self.next_u64() & 1 == 1
    }
}

/// Mid price of the initial books, in ticks.
pub const MID: u64 = 100_000;
/// Order sizes are drawn from `1..=MAX_QTY` lots.
pub const MAX_QTY: u64 = 100;

/// Generates the workload of `spec`.
pub fn generate(spec: &Spec) -> Workload {
    let mut g = Generator::new(spec);
    let setup = g.initial_books();
    let mut steps = Vec::with_capacity(spec.ops);
    let mut counts = Counts::default();
    let fills_before = g.fills;
    for _ in 0..spec.ops {
        let step = g.next_step();
        match step.op {
            Op::Place(_) => counts.place += 1,
            Op::Ioc(_) => counts.ioc += 1,
            Op::Move { .. } => counts.moves += 1,
            Op::Reduce { .. } => counts.reduce += 1,
            Op::Cancel { .. } => counts.cancel += 1,
        }
        steps.push(step);
    }
    counts.fills = g.fills - fills_before;
    let mut levels = g.levels();
    Workload {
        spec: spec.clone(),
        setup,
        steps,
        expected_hash: book_hash(&mut levels),
        counts,
    }
}
