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

use bourse_model::Side;
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

#[derive(Debug, Clone, Copy)]
struct RefOrder {
    user: u32,
    side: Side,
    price: u64,
    qty: u64,
    filled: u64,
}

/// The reference book of one market: obviously-correct price-time priority on ordered
/// maps and queues. Speed is irrelevant here; it only runs while generating.
#[derive(Debug, Default)]
struct RefBook {
    bids: BTreeMap<u64, VecDeque<u64>>,
    asks: BTreeMap<u64, VecDeque<u64>>,
}

impl RefBook {
    fn side(&mut self, s: Side) -> &mut BTreeMap<u64, VecDeque<u64>> {
        match s {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }
    fn best(&self, s: Side) -> Option<u64> {
        match s {
            Side::Buy => self.bids.keys().next_back().copied(),
            Side::Sell => self.asks.keys().next().copied(),
        }
    }
}

struct Generator<'a> {
    spec: &'a Spec,
    rng: Rng,
    books: Vec<RefBook>,
    orders: HashMap<u64, RefOrder>,
    /// Live order ids per market, for O(1) random choice (swap-remove via `live_pos`).
    live: Vec<Vec<u64>>,
    live_pos: HashMap<u64, usize>,
    next_id: u64,
    fills: usize,
    target_per_market: usize,
}

impl<'a> Generator<'a> {
    fn new(spec: &'a Spec) -> Self {
        let m = spec.markets as usize;
        Self {
            spec,
            rng: Rng::new(spec.seed),
            books: (0..m).map(|_| RefBook::default()).collect(),
            orders: HashMap::new(),
            live: vec![Vec::new(); m],
            live_pos: HashMap::new(),
            next_id: 1,
            fills: 0,
            target_per_market: (spec.resting / m).max(2),
        }
    }

    fn user_for(&mut self, side: Side) -> u32 {
        let pairs = u64::from((self.spec.users / 2).max(1));
        let k = self.rng.below(pairs) as u32;
        match side {
            Side::Buy => 2 * k,
            Side::Sell => 2 * k + 1,
        }
    }

    fn random_side(&mut self) -> Side {
        if self.rng.coin() {
            Side::Buy
        } else {
            Side::Sell
        }
    }

    /// Both sides of every market: `per_level` orders on each level outward from the mid.
    fn initial_books(&mut self) -> Vec<Step> {
        let mut setup = Vec::new();
        for market in 0..self.spec.markets {
            for i in 0..self.target_per_market {
                let side = if i % 2 == 0 { Side::Buy } else { Side::Sell };
                let level = (i / 2 / self.spec.per_level) as u64;
                let price = match side {
                    Side::Buy => MID - 1 - level,
                    Side::Sell => MID + 1 + level,
                };
                let qty = self.rng.range(1, MAX_QTY);
                let user = self.user_for(side);
                let id = self.take_id();
                let op = Op::Place(Order {
                    id,
                    user,
                    side,
                    price,
                    qty,
                });
                self.apply(market, op);
                setup.push(Step { market, op });
            }
        }
        setup
    }

    fn take_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn next_step(&mut self) -> Step {
        let market = self.rng.below(u64::from(self.spec.markets)) as MarketIx;
        let op = self.draw(market);
        self.apply(market, op);
        Step { market, op }
    }

    fn draw(&mut self, market: MarketIx) -> Op {
        let mix = self.spec.mix;
        let live = self.live[market as usize].len();
        let low = live < self.target_per_market;
        if live < 2 || (mix.place_when_low && live * 10 < self.target_per_market * 9) {
            return self.new_place(market);
        }
        if low && mix.place_when_low && self.rng.coin() {
            return self.new_place(market);
        }
        let r = self.rng.below(1000) as u32;
        if r < mix.cancel {
            let (id, o) = self.random_order(market);
            return Op::Cancel {
                id,
                user: o.user,
                side: o.side,
                price: o.price,
            };
        }
        let r = r - mix.cancel;
        if r < mix.reduce {
            if let Some(op) = self.new_reduce(market) {
                return op;
            }
            return self.new_move(market);
        }
        let r = r - mix.reduce;
        if r < mix.ioc {
            return self.new_ioc(market);
        }
        let r = r - mix.ioc;
        if r < mix.sweep {
            return self.new_sweep(market);
        }
        self.new_move(market)
    }

    fn random_order(&mut self, market: MarketIx) -> (u64, RefOrder) {
        let ids = &self.live[market as usize];
        let id = ids[self.rng.below(ids.len() as u64) as usize];
        (id, self.orders[&id])
    }

    /// A GTC order a few levels behind the best price of its side (never crossing).
    fn new_place(&mut self, market: MarketIx) -> Op {
        let side = self.random_side();
        let book = &self.books[market as usize];
        let depth = (self.target_per_market / 2 / self.spec.per_level).max(1) as u64;
        let offset = self.rng.below(depth);
        let price = match side {
            Side::Buy => {
                let ask = book
                    .best(Side::Sell)
                    .or(book.best(Side::Buy).map(|b| b + 1));
                ask.unwrap_or(MID).saturating_sub(1 + offset).max(1)
            }
            Side::Sell => {
                let bid = book
                    .best(Side::Buy)
                    .or(book.best(Side::Sell).map(|a| a - 1));
                bid.unwrap_or(MID) + 1 + offset
            }
        };
        let qty = self.rng.range(1, MAX_QTY);
        let user = self.user_for(side);
        Op::Place(Order {
            id: self.take_id(),
            user,
            side,
            price,
            qty,
        })
    }

    /// A marketable IOC a small size and up to 2 ticks through the best opposite price.
    fn new_ioc(&mut self, market: MarketIx) -> Op {
        let side = self.random_side();
        let book = &self.books[market as usize];
        let through = self.rng.below(3);
        let price = match (side, book.best(side.opposite())) {
            (Side::Buy, Some(ask)) => ask + through,
            (Side::Sell, Some(bid)) => bid.saturating_sub(through).max(1),
            (_, None) => MID,
        };
        let liquidity = self.liquidity(market, side, price);
        let qty = self.rng.range(1, MAX_QTY).min(liquidity.max(1));
        let user = self.user_for(side);
        Op::Ioc(Order {
            id: self.take_id(),
            user,
            side,
            price,
            qty,
        })
    }

    /// A large IOC limited at the k-th opposite level, sized to take roughly all of it.
    fn new_sweep(&mut self, market: MarketIx) -> Op {
        let side = self.random_side();
        let (lo, hi) = self.spec.mix.sweep_levels;
        let levels = self.rng.range(u64::from(lo), u64::from(hi)) as usize;
        let book = &self.books[market as usize];
        let opposite: Vec<(u64, &VecDeque<u64>)> = match side {
            Side::Buy => book
                .asks
                .iter()
                .take(levels)
                .map(|(p, q)| (*p, q))
                .collect(),
            Side::Sell => book
                .bids
                .iter()
                .rev()
                .take(levels)
                .map(|(p, q)| (*p, q))
                .collect(),
        };
        let price = opposite.last().map_or(MID, |(p, _)| *p);
        let qty: u64 = opposite
            .iter()
            .flat_map(|(_, q)| q.iter())
            .map(|id| self.orders[id].qty)
            .sum();
        let user = self.user_for(side);
        Op::Ioc(Order {
            id: self.take_id(),
            user,
            side,
            price,
            qty: qty.max(1),
        })
    }

    fn new_move(&mut self, market: MarketIx) -> Op {
        let (id, o) = self.random_order(market);
        let up = self.rng.coin();
        let mut new_price = if up || o.price <= 1 {
            o.price + 1
        } else {
            o.price - 1
        };
        let liquidity = self.liquidity(market, o.side, new_price);
        if liquidity > 0 && liquidity < o.qty {
            // Moving toward the spread would leave a remainder after crossing: go away instead.
            new_price = match o.side {
                Side::Buy => o.price - 1,
                Side::Sell => o.price + 1,
            };
        }
        Op::Move {
            id,
            user: o.user,
            side: o.side,
            new_price,
            qty: o.qty,
        }
    }

    /// Opposite size a `side` taker limited at `limit` could take.
    fn liquidity(&self, market: MarketIx, side: Side, limit: u64) -> u64 {
        let book = &self.books[market as usize];
        let sum = |q: &VecDeque<u64>| q.iter().map(|id| self.orders[id].qty).sum::<u64>();
        match side {
            Side::Buy => book.asks.range(..=limit).map(|(_, q)| sum(q)).sum(),
            Side::Sell => book.bids.range(limit..).map(|(_, q)| sum(q)).sum(),
        }
    }

    fn new_reduce(&mut self, market: MarketIx) -> Option<Op> {
        let (id, o) = self.random_order(market);
        if o.qty < 2 {
            return None;
        }
        let new_qty = self.rng.range(1, o.qty - 1);
        Some(Op::Reduce {
            id,
            user: o.user,
            side: o.side,
            price: o.price,
            new_qty,
            filled: o.filled,
        })
    }

    fn apply(&mut self, market: MarketIx, op: Op) {
        match op {
            Op::Place(Order {
                id,
                user,
                side,
                price,
                qty,
            }) => {
                let left = self.take(market, side, price, qty);
                if left > 0 {
                    self.rest(
                        market,
                        id,
                        RefOrder {
                            user,
                            side,
                            price,
                            qty: left,
                            filled: qty - left,
                        },
                    );
                }
            }
            Op::Ioc(Order {
                side, price, qty, ..
            }) => {
                self.take(market, side, price, qty);
            }
            Op::Move { id, new_price, .. } => {
                let mut o = self.unrest(market, id);
                let left = self.take(market, o.side, new_price, o.qty);
                o.filled += o.qty - left;
                if left > 0 {
                    self.rest(
                        market,
                        id,
                        RefOrder {
                            price: new_price,
                            qty: left,
                            ..o
                        },
                    );
                }
            }
            Op::Reduce { id, new_qty, .. } => {
                let o = self.orders.get_mut(&id).expect("reduce of a live order");
                debug_assert!(new_qty > 0 && new_qty < o.qty);
                o.qty = new_qty;
            }
            Op::Cancel { id, .. } => {
                self.unrest(market, id);
            }
        }
    }

    /// Matches an incoming order and returns its unfilled size.
    fn take(&mut self, market: MarketIx, side: Side, limit: u64, mut qty: u64) -> u64 {
        while qty > 0 {
            let book = &mut self.books[market as usize];
            let Some(best) = book.best(side.opposite()) else {
                break;
            };
            let acceptable = match side {
                Side::Buy => best <= limit,
                Side::Sell => best >= limit,
            };
            if !acceptable {
                break;
            }
            let queue = book
                .side(side.opposite())
                .get_mut(&best)
                .expect("best level exists");
            let maker_id = *queue.front().expect("levels are never empty");
            let maker = self
                .orders
                .get_mut(&maker_id)
                .expect("queued orders are live");
            let fill = qty.min(maker.qty);
            qty -= fill;
            maker.qty -= fill;
            maker.filled += fill;
            self.fills += 1;
            if maker.qty == 0 {
                self.unrest(market, maker_id);
            }
        }
        qty
    }

    fn rest(&mut self, market: MarketIx, id: u64, o: RefOrder) {
        self.books[market as usize]
            .side(o.side)
            .entry(o.price)
            .or_default()
            .push_back(id);
        self.orders.insert(id, o);
        let live = &mut self.live[market as usize];
        self.live_pos.insert(id, live.len());
        live.push(id);
    }

    fn unrest(&mut self, market: MarketIx, id: u64) -> RefOrder {
        let o = self.orders.remove(&id).expect("order is live");
        let side = self.books[market as usize].side(o.side);
        let queue = side.get_mut(&o.price).expect("level exists");
        let at = queue
            .iter()
            .position(|x| *x == id)
            .expect("order is queued");
        queue.remove(at);
        if queue.is_empty() {
            side.remove(&o.price);
        }
        let pos = self.live_pos.remove(&id).expect("order is live");
        let live = &mut self.live[market as usize];
        live.swap_remove(pos);
        if let Some(moved) = live.get(pos) {
            self.live_pos.insert(*moved, pos);
        }
        o
    }

    fn levels(&self) -> Vec<Level> {
        let mut out = Vec::new();
        for (m, book) in self.books.iter().enumerate() {
            for (side, map) in [(Side::Buy, &book.bids), (Side::Sell, &book.asks)] {
                for (price, q) in map {
                    let qty = q.iter().map(|id| self.orders[id].qty).sum();
                    out.push(Level {
                        market: m as MarketIx,
                        side,
                        price: *price,
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

    #[test]
    fn same_seed_same_stream() {
        for name in NAMES {
            let spec = standard(name, true).unwrap();
            let a = generate(&spec);
            let b = generate(&spec);
            assert_eq!(a.setup, b.setup, "{name}");
            assert_eq!(a.steps, b.steps, "{name}");
            assert_eq!(a.expected_hash, b.expected_hash, "{name}");
        }
    }

    #[test]
    fn another_seed_another_stream() {
        let spec = standard("W1", true).unwrap();
        let other = Spec {
            seed: spec.seed + 1,
            ..spec.clone()
        };
        assert_ne!(generate(&spec).steps, generate(&other).steps);
    }

    #[test]
    fn mix_is_close_to_exchange_core() {
        let spec = Spec {
            ops: 100_000,
            ..standard("W1", true).unwrap()
        };
        let w = generate(&spec);
        let c = w.counts;
        // Shares of the mix, i.e. of the commands that are not refills.
        let share = |n: usize| n as f64 / (spec.ops - c.place) as f64;
        assert!((0.85..0.95).contains(&share(c.moves)), "{c:?}");
        assert!((0.04..0.06).contains(&share(c.ioc)), "{c:?}");
        assert!((0.015..0.03).contains(&share(c.reduce)), "{c:?}");
        assert!((0.02..0.03).contains(&share(c.cancel)), "{c:?}");
        assert!(share(c.place) < 0.2 && c.fills > 0, "{c:?}");
    }

    #[test]
    fn books_stay_near_target_and_uncrossed() {
        for name in NAMES {
            let spec = standard(name, true).unwrap();
            let mut g = Generator::new(&spec);
            g.initial_books();
            for _ in 0..spec.ops {
                g.next_step();
            }
            for (m, book) in g.books.iter().enumerate() {
                if let (Some(b), Some(a)) = (book.best(Side::Buy), book.best(Side::Sell)) {
                    assert!(b < a, "{name} market {m} crossed: {b} >= {a}");
                }
                let live = g.live[m].len();
                assert!(live * 10 >= g.target_per_market * 8, "{name}: {live} live");
            }
        }
    }

    #[test]
    fn sides_never_share_a_user() {
        let w = generate(&standard("W3", true).unwrap());
        for s in w.setup.iter().chain(&w.steps) {
            let (user, side) = match s.op {
                Op::Place(Order { user, side, .. })
                | Op::Ioc(Order { user, side, .. })
                | Op::Move { user, side, .. }
                | Op::Reduce { user, side, .. }
                | Op::Cancel { user, side, .. } => (user, side),
            };
            assert_eq!(user % 2 == 0, side == Side::Buy);
            assert!(user < w.spec.users);
        }
    }

    #[test]
    fn sweeps_walk_many_levels() {
        let w = generate(&standard("W4", true).unwrap());
        let big = w
            .steps
            .iter()
            .filter(|s| matches!(s.op, Op::Ioc(o) if o.qty > 5 * MAX_QTY));
        assert!(big.count() > 50);
    }

    #[test]
    fn hash_ignores_order_and_empty_levels() {
        let l = |price, qty| Level {
            market: 0,
            side: Side::Buy,
            price,
            qty,
        };
        let mut a = vec![l(1, 5), l(2, 7)];
        let mut b = vec![l(2, 7), l(3, 0), l(1, 5)];
        assert_eq!(book_hash(&mut a), book_hash(&mut b));
        let mut c = vec![l(1, 5), l(2, 8)];
        assert_ne!(book_hash(&mut a), book_hash(&mut c));
    }
}
