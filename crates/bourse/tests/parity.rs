//! SQLite / PostgreSQL parity (issue "Durability"): one seeded command stream, run
//! through the real exchange core, projected into a fresh SQLite file and a fresh
//! PostgreSQL database (`BOURSE_TEST_PG_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`; unreachable fails the test) in different
//! chunk sizes, then every read-model query is asked the same questions on both and the
//! answers must be equal: users, API keys, assets, markets, orders by user (every status
//! filter × market, walked page by page), single orders and their fills, fills, trades,
//! candles at every interval, the 24 h ticker at several moments, balances (also checked
//! against the core), balance history, deposits and withdrawals.
//!
//! The stream: 2 markets, 8 traders, deposits, API keys, withdrawals (completed and
//! rejected), and orders of every type and time in force (limit GTC/IOC/FOK/GTD,
//! post-only, market by size and by quote amount, stop-limit, stop-market), amends,
//! cancels, cancel-all, expiry sweeps, a halt/resume and a kill switch — with times
//! spread over several days so every candle interval has several buckets.
//! `BOURSE_PARITY_SEED` replays a failure.

mod common;

use bourse_core::{Core, CoreConfig};
use bourse_model::Amount;
use bourse_model::{
    AssetId, ClientOrderId, ClientWithdrawalId, Command, CommandKind, Event, FeeSchedule, MarketId,
    MarketSpec, MarketStatus, NewOrder, OrderId, OrderType, Price, Qty, Role, Side, StpMode,
    Symbol, Tier, TimeInForce, Timestamp, UserId, WithdrawalId,
};
use bourse_store::{EventPos, FillQuery, Interval, OrderQuery, StatusFilter, Store, MAX_PAGE};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const TRADERS: u64 = 8;
const COMMANDS: usize = 4000;
/// Page size for the walks: small, so pagination is exercised many times.
const PAGE: u32 = 7;

type Projected = Vec<(u64, Timestamp, Vec<Event>)>;

fn sym(s: &str) -> Symbol {
    Symbol::new(s).unwrap()
}

fn spec(symbol: &str, base: u32, band: u32) -> MarketSpec {
    MarketSpec {
        symbol: sym(symbol),
        base: AssetId(base),
        quote: AssetId(0),
        base_scale: 8,
        quote_scale: 6,
        price_scale: 2,
        tick: 1,
        qty_scale: 4,
        lot: 1,
        min_qty: Qty(1),
        max_qty: Qty(1_000_000_000),
        min_notional: Amount(0),
        price_band_bps: band,
        market_slippage_bps: 500,
        max_open_orders: 50,
        fees: [
            FeeSchedule {
                maker_bps: 10,
                taker_bps: 20,
            },
            FeeSchedule {
                maker_bps: 5,
                taker_bps: 15,
            },
            FeeSchedule {
                maker_bps: 0,
                taker_bps: 10,
            },
        ],
    }
}

/// Seeded generator of commands, looking at the core for ids it may refer to.
struct Gen {
    rng: StdRng,
    core: Core,
    ts: u64,
    withdrawals: Vec<WithdrawalId>,
    out: Projected,
}

impl Gen {
    fn apply(&mut self, kind: CommandKind) -> Vec<Event> {
        // Mostly seconds apart, sometimes hours: several days in all.
        self.ts += if self.rng.gen_bool(0.01) {
            self.rng.gen_range(3_600_000..10 * 3_600_000)
        } else {
            self.rng.gen_range(0..90_000)
        };
        let cmd = Command::new(self.ts, kind);
        let events = self.core.apply(&cmd);
        for e in &events {
            if let Event::WithdrawalRequested { id, .. } = e {
                self.withdrawals.push(*id);
            }
        }
        self.out
            .push((self.out.len() as u64 + 1, cmd.ts, events.clone()));
        events
    }

    fn trader(&mut self) -> UserId {
        UserId(2 + self.rng.gen_range(0..TRADERS))
    }

    fn mid(market: u32) -> u64 {
        if market == 0 {
            10_000
        } else {
            2_000
        }
    }

    fn price(&mut self, market: u32) -> Price {
        let m = Self::mid(market);
        Price(self.rng.gen_range(m - m / 50..=m + m / 50))
    }

    fn order(&mut self) -> NewOrder {
        let user = self.trader();
        let market = self.rng.gen_range(0..2u32);
        let side = if self.rng.gen_bool(0.5) {
            Side::Buy
        } else {
            Side::Sell
        };
        let price = self.price(market);
        let qty = Qty(self.rng.gen_range(1..3_000));
        let mut o = NewOrder::limit(user, MarketId(market), side, price, qty);
        match self.rng.gen_range(0..100) {
            0..=39 => {}
            40..=47 => o.tif = TimeInForce::Ioc,
            48..=52 => o.tif = TimeInForce::Fok,
            53..=60 => {
                o.tif = TimeInForce::Gtd;
                o.expire_at = Some(Timestamp(self.ts + self.rng.gen_range(1_000..600_000)));
            }
            61..=66 => o.post_only = true,
            67..=74 => {
                o.order_type = OrderType::Market;
                o.price = None;
            }
            75..=79 => {
                o.order_type = OrderType::Market;
                o.price = None;
                o.qty = None;
                o.quote_qty = Some(Amount(self.rng.gen_range(1_000_000..50_000_000)));
            }
            80..=89 => {
                o.order_type = OrderType::StopLimit;
                o.stop_price = Some(self.price(market));
            }
            _ => {
                o.order_type = OrderType::StopMarket;
                o.price = None;
                o.stop_price = Some(self.price(market));
            }
        }
        if self.rng.gen_bool(0.2) {
            o.stp = [
                StpMode::ExpireTaker,
                StpMode::ExpireMaker,
                StpMode::ExpireBoth,
            ][self.rng.gen_range(0..3)];
        }
        if self.rng.gen_bool(0.3) {
            let n: u32 = self.rng.gen_range(0..50);
            o.client_order_id = Some(ClientOrderId::new(format!("c-{n}")).unwrap());
        }
        o
    }

    fn open_order(&mut self) -> Option<(UserId, OrderId)> {
        let user = self.trader();
        let open = self.core.open_orders(user);
        if open.is_empty() {
            return None;
        }
        let o = &open[self.rng.gen_range(0..open.len())];
        Some((user, o.id))
    }

    fn step(&mut self) {
        let r = self.rng.gen_range(0..1000);
        let kind = match r {
            0..=599 => CommandKind::PlaceOrder(Box::new(self.order())),
            600..=719 => match self.open_order() {
                Some((user, order)) => CommandKind::CancelOrder { user, order },
                None => CommandKind::PlaceOrder(Box::new(self.order())),
            },
            720..=819 => match self.open_order() {
                Some((user, order)) => {
                    let (price, qty) = match self.rng.gen_range(0..3) {
                        0 => (Some(self.price(0)), None),
                        1 => (None, Some(Qty(self.rng.gen_range(1..3_000)))),
                        _ => (Some(self.price(1)), Some(Qty(self.rng.gen_range(1..3_000)))),
                    };
                    CommandKind::AmendOrder {
                        user,
                        order,
                        price,
                        qty,
                    }
                }
                None => CommandKind::PlaceOrder(Box::new(self.order())),
            },
            820..=859 => CommandKind::ExpireOrders,
            860..=879 => CommandKind::Deposit {
                user: self.trader(),
                asset: AssetId(self.rng.gen_range(0..3)),
                amount: Amount(self.rng.gen_range(1..1_000_000_000)),
            },
            880..=899 => CommandKind::RequestWithdrawal {
                user: self.trader(),
                asset: AssetId(self.rng.gen_range(0..3)),
                amount: Amount(self.rng.gen_range(1..100_000_000)),
                address: format!("addr-{}", self.rng.gen_range(0..100)),
                // A few keys, so retries (duplicates) happen too.
                client_withdrawal_id: self.rng.gen_bool(0.5).then(|| {
                    ClientWithdrawalId::new(format!("w{}", self.rng.gen_range(0..20))).unwrap()
                }),
            },
            900..=929 if !self.withdrawals.is_empty() => {
                let id = self
                    .withdrawals
                    .swap_remove(self.rng.gen_range(0..self.withdrawals.len()));
                if self.rng.gen_bool(0.6) {
                    CommandKind::CompleteWithdrawal { id }
                } else {
                    CommandKind::RejectWithdrawal { id }
                }
            }
            930..=944 => CommandKind::CancelAll {
                user: self.trader(),
                market: self
                    .rng
                    .gen_bool(0.5)
                    .then(|| MarketId(self.rng.gen_range(0..2))),
            },
            945..=954 => CommandKind::CreateApiKey {
                user: self.trader(),
                key_id: format!("k{}", self.rng.gen::<u32>()),
                secret_enc: "enc".into(),
                label: "bot".into(),
            },
            955..=964 => CommandKind::SetUserFlags {
                user: self.trader(),
                kyc_verified: Some(true),
                kill_switch: None,
                tier: Some(Tier::ALL[self.rng.gen_range(0..3)]),
            },
            965..=969 => CommandKind::SetMarketStatus {
                market: MarketId(self.rng.gen_range(0..2)),
                status: if self.rng.gen_bool(0.3) {
                    MarketStatus::Halted
                } else {
                    MarketStatus::Open
                },
            },
            970..=972 => CommandKind::SetUserFlags {
                user: self.trader(),
                kyc_verified: None,
                kill_switch: Some(self.rng.gen_bool(0.4)),
                tier: None,
            },
            _ => CommandKind::PlaceOrder(Box::new(self.order())),
        };
        self.apply(kind);
    }
}

/// The seeded stream, as projected (seq, time, events), and the core after it.
fn generate(seed: u64) -> (Projected, Core) {
    let mut g = Gen {
        rng: StdRng::seed_from_u64(seed),
        core: Core::new(CoreConfig::default()),
        ts: 1_750_000_000_000,
        withdrawals: Vec::new(),
        out: Vec::new(),
    };
    g.apply(CommandKind::RegisterUser {
        username: "admin".into(),
        password_hash: "h".into(),
        role: Role::Admin,
    });
    for (s, scale) in [("USD", 6), ("BTC", 8), ("ETH", 8)] {
        g.apply(CommandKind::CreateAsset {
            symbol: sym(s),
            scale,
        });
    }
    g.apply(CommandKind::CreateMarket(Box::new(spec("BTC-USD", 1, 0))));
    g.apply(CommandKind::CreateMarket(Box::new(spec(
        "ETH-USD", 2, 2_000,
    ))));
    for t in 0..TRADERS {
        g.apply(CommandKind::RegisterUser {
            username: format!("trader{t}"),
            password_hash: format!("hash{t}"),
            role: Role::Trader,
        });
        for (asset, amount) in [
            (0, 10_000_000_000_000),
            (1, 10_000_000_000),
            (2, 50_000_000_000),
        ] {
            g.apply(CommandKind::Deposit {
                user: UserId(2 + t),
                asset: AssetId(asset),
                amount: Amount(amount),
            });
        }
    }
    while g.out.len() < COMMANDS {
        g.step();
    }
    g.core.check_invariants().unwrap();
    (g.out, g.core)
}

async fn project(store: &Store, stream: &Projected, chunk: usize) {
    for part in stream.chunks(chunk) {
        store.project(part).await.unwrap();
    }
    assert_eq!(store.last_applied_seq().await.unwrap(), stream.len() as u64);
}

/// Asks both stores the same question and insists on the same answer.
macro_rules! same {
    ($a:expr, $b:expr, $what:expr, |$s:ident| $q:expr) => {{
        let x = {
            let $s = $a;
            $q.await.unwrap()
        };
        let y = {
            let $s = $b;
            $q.await.unwrap()
        };
        assert_eq!(x, y, "{}", $what);
        x
    }};
}

/// Walks a cursor-paginated query to the end on both stores, page by page, insisting on
/// equal pages; evaluates to every row.
macro_rules! walk {
    ($a:expr, $b:expr, $what:expr, |$it:ident : $t:ty| $cursor:expr,
     |$s:ident, $before:ident| $q:expr $(,)?) => {{
        let mut all: Vec<$t> = Vec::new();
        let mut $before: Option<u64> = None;
        loop {
            let x = {
                let $s = $a;
                $q.await.unwrap()
            };
            let y = {
                let $s = $b;
                $q.await.unwrap()
            };
            assert_eq!(x, y, "{}, page before {:?}", $what, $before);
            let n = x.len();
            let next = x.last().map(|$it: &$t| $cursor);
            all.extend(x);
            match next {
                Some(c) if n >= PAGE as usize => $before = Some(c),
                _ => break,
            }
        }
        all
    }};
}

fn pos_key(p: EventPos) -> u64 {
    // seq < 2^40 and idx < 2^24 here: one sortable u64 for the walker.
    (p.seq << 24) | u64::from(p.idx)
}

fn pos(k: u64) -> EventPos {
    EventPos {
        seq: k >> 24,
        idx: (k & 0xff_ffff) as u32,
    }
}

async fn compare(a: &Store, b: &Store, core: &Core, stream: &Projected) {
    let users = same!(a, b, "users", |s| s.users(None, MAX_PAGE));
    assert_eq!(users.len() as u64, 1 + TRADERS);
    same!(a, b, "assets", |s| s.assets());
    let markets = same!(a, b, "markets", |s| s.markets());
    assert_eq!(markets.len(), 2);
    let first_ts = stream.first().unwrap().1;
    let last_ts = stream.last().unwrap().1;

    let mut totals = [0usize; 4]; // orders, fills, balance history, trades
    let mut kinds = std::collections::HashSet::new();
    for u in &users {
        let user = u.id;
        same!(a, b, "user", |s| s.user(user));
        same!(a, b, "user by name", |s| s.user_by_name(&u.username));
        same!(a, b, "api keys", |s| s.api_keys(user));
        for status in [None, Some(StatusFilter::Open), Some(StatusFilter::Closed)] {
            for market in [None, Some(MarketId(0)), Some(MarketId(1))] {
                let orders = walk!(
                    a,
                    b,
                    &format!("orders of {user:?} {status:?} {market:?}"),
                    |o: bourse_store::OrderRow| o.id.0,
                    |s, before| {
                        s.orders(&OrderQuery {
                            user,
                            status,
                            market,
                            before: before.map(OrderId),
                            limit: PAGE,
                        })
                    },
                );
                if status.is_none() && market.is_none() {
                    totals[0] += orders.len();
                    for o in &orders {
                        kinds.insert(format!("{:?}/{:?}/{:?}", o.order_type, o.tif, o.status));
                        same!(a, b, "order", |s| s.order(o.id));
                        same!(a, b, "order fills", |s| s.order_fills(o.id));
                        if let Some(c) = &o.client_order_id {
                            same!(a, b, "order by client id", |s| s
                                .order_by_client_id(user, c));
                        }
                    }
                }
            }
        }
        for market in [None, Some(MarketId(0)), Some(MarketId(1))] {
            let fills = walk!(
                a,
                b,
                &format!("fills of {user:?} in {market:?}"),
                |f: bourse_store::FillRow| f.id,
                |s, before| {
                    s.fills(&FillQuery {
                        user,
                        market,
                        before,
                        limit: PAGE,
                    })
                },
            );
            if market.is_none() {
                totals[1] += fills.len();
            }
        }
        let balances = same!(a, b, "balances", |s| s.balances(user));
        let in_core: Vec<_> = core
            .balances(user)
            .into_iter()
            .filter(|(_, avail, held)| *avail != Amount::ZERO || *held != Amount::ZERO)
            .collect();
        let in_store: Vec<_> = balances
            .iter()
            .map(|r| (r.asset, r.available, r.held))
            .filter(|(_, avail, held)| *avail != Amount::ZERO || *held != Amount::ZERO)
            .collect();
        assert_eq!(in_store, in_core, "balances of {user:?} vs the core");
        for asset in [None, Some(AssetId(0)), Some(AssetId(1)), Some(AssetId(2))] {
            let h = walk!(
                a,
                b,
                &format!("balance history of {user:?} {asset:?}"),
                |r: bourse_store::BalanceHistoryRow| pos_key(r.pos),
                |s, before| s.balance_history(user, asset, before.map(pos), PAGE),
            );
            if asset.is_none() {
                totals[2] += h.len();
            }
        }
        walk!(
            a,
            b,
            &format!("deposits of {user:?}"),
            |r: bourse_store::DepositRow| pos_key(r.pos),
            |s, before| s.deposits(user, before.map(pos), PAGE),
        );
        let ws = walk!(
            a,
            b,
            &format!("withdrawals of {user:?}"),
            |r: bourse_store::WithdrawalRow| r.id.0,
            |s, before| s.withdrawals(user, before.map(WithdrawalId), PAGE),
        );
        for w in ws {
            same!(a, b, "withdrawal", |s| s.withdrawal(w.id));
        }
    }
    walk!(
        a,
        b,
        "pending withdrawals",
        |r: bourse_store::WithdrawalRow| r.id.0,
        |s, after| s.pending_withdrawals(after.map(WithdrawalId), PAGE),
    );
    for m in &markets {
        same!(a, b, "market", |s| s.market(m.id));
        same!(a, b, "market by symbol", |s| s
            .market_by_symbol(&m.spec.symbol));
        let trades = walk!(
            a,
            b,
            &format!("trades of {:?}", m.id),
            |t: bourse_store::TradeRow| t.id.0,
            |s, before| s.trades(m.id, before.map(bourse_model::TradeId), PAGE),
        );
        totals[3] += trades.len();
        for interval in Interval::ALL {
            let candles = same!(a, b, format!("{interval:?} candles of {:?}", m.id), |s| s
                .candles(m.id, interval, Timestamp(0), last_ts, MAX_PAGE));
            assert!(!candles.is_empty(), "no {interval:?} candles");
            // A window in the middle, too.
            let mid = Timestamp((first_ts.0 + last_ts.0) / 2);
            same!(a, b, "candle window", |s| s
                .candles(m.id, interval, mid, last_ts, 5));
        }
        let span = last_ts.0 - first_ts.0;
        for k in 0..=8 {
            let now = Timestamp(first_ts.0 + span * k / 8);
            same!(a, b, format!("ticker at {now:?}"), |s| s
                .ticker_24h(m.id, now));
        }
    }
    // The stream did what it is meant to exercise.
    let [orders, fills, history, trades] = totals;
    eprintln!(
        "parity: {orders} orders, {fills} fills, {trades} trades, {history} balance changes, \
         {} order kinds",
        kinds.len()
    );
    assert!(
        orders > 300 && trades > 50 && fills >= 2 * trades,
        "{totals:?}"
    );
    for needle in [
        "Market/",
        "StopLimit/",
        "StopMarket/",
        "/Fok/",
        "/Gtd/",
        "/Ioc/",
        "Expired",
        "Canceled",
        "Filled",
    ] {
        assert!(
            kinds.iter().any(|k| k.contains(needle)),
            "no {needle} order in {kinds:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_and_postgres_answer_alike() {
    let seed: u64 = std::env::var("BOURSE_PARITY_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("parity: seed {seed} (BOURSE_PARITY_SEED)");
    let (stream, core) = generate(seed);

    let dir = tempfile::tempdir().unwrap();
    let sqlite = Store::connect(&format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("read.db").display()
    ))
    .await
    .unwrap();

    common::with_fresh_pg("bourse_parity", |pg_url| async move {
        let pg = Store::connect(&pg_url).await.unwrap();
        // Different chunkings: the projection must not depend on batch boundaries.
        project(&sqlite, &stream, 97).await;
        project(&pg, &stream, 500).await;
        compare(&sqlite, &pg, &core, &stream).await;
        pg.close().await;
    })
    .await;
}
