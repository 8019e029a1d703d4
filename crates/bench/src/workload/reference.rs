//! The reference model that generates a workload: an obviously-correct price-time priority
//! book per market, and the generator that draws each step from the spec's mix while
//! keeping the books near their target size (the rules are in the parent module's doc).

use super::*;

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
pub(super) struct RefBook {
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
    pub(super) fn best(&self, s: Side) -> Option<u64> {
        match s {
            Side::Buy => self.bids.keys().next_back().copied(),
            Side::Sell => self.asks.keys().next().copied(),
        }
    }
}

pub(super) struct Generator<'a> {
    spec: &'a Spec,
    rng: Rng,
    pub(super) books: Vec<RefBook>,
    orders: HashMap<u64, RefOrder>,
    /// Live order ids per market, for O(1) random choice (swap-remove via `live_pos`).
    pub(super) live: Vec<Vec<u64>>,
    live_pos: HashMap<u64, usize>,
    next_id: u64,
    pub(super) fills: usize,
    pub(super) target_per_market: usize,
}

impl<'a> Generator<'a> {
    pub(super) fn new(spec: &'a Spec) -> Self {
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
    pub(super) fn initial_books(&mut self) -> Vec<Step> {
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

    pub(super) fn next_step(&mut self) -> Step {
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

    pub(super) fn levels(&self) -> Vec<Level> {
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
