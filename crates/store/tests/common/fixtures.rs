//! Hand-built event streams shaped like the core's output, and a full dump of every query.

use bourse_model::*;
use bourse_store::*;

pub const BTC: AssetId = AssetId(0);
pub const USD: AssetId = AssetId(1);
pub const ETH: AssetId = AssetId(2);
pub const BTC_USD: MarketId = MarketId(0);
pub const ETH_USD: MarketId = MarketId(1);

pub fn spec(symbol: &str, base: AssetId, quote: AssetId) -> MarketSpec {
    MarketSpec {
        symbol: Symbol::new(symbol).unwrap(),
        base,
        quote,
        base_scale: 8,
        quote_scale: 6,
        price_scale: 2,
        tick: 1,
        qty_scale: 4,
        lot: 1,
        min_qty: Qty(1),
        max_qty: Qty(1_000_000),
        min_notional: Amount(0),
        price_band_bps: 0,
        market_slippage_bps: 500,
        max_open_orders: 200,
        fees: [FeeSchedule {
            maker_bps: 10,
            taker_bps: 20,
        }; 3],
    }
}

/// A journal being written: commands with contiguous sequences from 1.
#[derive(Default, Clone)]
pub struct Journal {
    pub cmds: Vec<(u64, Timestamp, Vec<Event>)>,
}

impl Journal {
    pub fn push(&mut self, ts: u64, events: Vec<Event>) -> u64 {
        let seq = self.cmds.len() as u64 + 1;
        self.cmds.push((seq, Timestamp(ts), events));
        seq
    }

    /// Assets BTC, USD, ETH; markets BTC-USD, ETH-USD; users 1..=n named u1…; at `ts`.
    pub fn setup(n_users: u64, ts: u64) -> Journal {
        let mut j = Journal::default();
        for (id, sym, scale) in [(BTC, "BTC", 8), (USD, "USD", 6), (ETH, "ETH", 8)] {
            j.push(
                ts,
                vec![Event::AssetCreated {
                    asset: id,
                    symbol: Symbol::new(sym).unwrap(),
                    scale,
                }],
            );
        }
        for (id, sym, base) in [(BTC_USD, "BTC-USD", BTC), (ETH_USD, "ETH-USD", ETH)] {
            j.push(
                ts,
                vec![Event::MarketCreated {
                    market: id,
                    spec: Box::new(spec(sym, base, USD)),
                }],
            );
        }
        for u in 1..=n_users {
            j.push(ts, vec![register(u)]);
        }
        j
    }
}

pub fn register(u: u64) -> Event {
    Event::UserRegistered {
        user: UserId(u),
        username: format!("u{u}"),
        password_hash: format!("hash{u}"),
        role: Role::Trader,
    }
}

pub fn info(
    id: u64,
    user: u64,
    market: MarketId,
    side: Side,
    price: u64,
    qty: u64,
    ts: u64,
) -> OrderInfo {
    OrderInfo {
        id: OrderId(id),
        user: UserId(user),
        market,
        side,
        order_type: OrderType::Limit,
        price: Some(Price(price)),
        qty: Some(Qty(qty)),
        quote_qty: None,
        stop_price: None,
        tif: TimeInForce::Gtc,
        expire_at: None,
        post_only: false,
        stp: StpMode::ExpireTaker,
        client_order_id: None,
        created_at: Timestamp(ts),
    }
}

pub fn accepted(i: OrderInfo) -> Event {
    Event::OrderAccepted(Box::new(i))
}

pub fn balance(user: u64, asset: AssetId, available: u64, held: u64) -> Event {
    Event::BalanceChanged {
        user: UserId(user),
        asset,
        available: Amount(available),
        held: Amount(held),
    }
}

#[allow(clippy::too_many_arguments)]
pub fn trade(
    id: u64,
    market: MarketId,
    price: u64,
    qty: u64,
    taker_side: Side,
    maker: (u64, u64),
    taker: (u64, u64),
) -> Event {
    let notional = price * qty;
    Event::Trade {
        id: TradeId(id),
        market,
        price: Price(price),
        qty: Qty(qty),
        notional: Amount(notional),
        taker_side,
        maker_order: OrderId(maker.0),
        maker_user: UserId(maker.1),
        taker_order: OrderId(taker.0),
        taker_user: UserId(taker.1),
        maker_fee: Amount(notional / 1000),
        taker_fee: Amount(notional / 500),
    }
}

/// A small deterministic PRNG (xorshift64*), so streams are reproducible without a seed file.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A longer stream in the core's event order: several users and both markets, deposits,
/// resting orders, takers that match (partially and fully), IOCs that expire, cancels,
/// amends, stops, withdrawals, key and flag changes, rejections; time moves on irregularly so
/// trades fall into many candle buckets.
pub fn market_stream(seed: u64, n_commands: usize) -> Journal {
    struct Resting {
        id: u64,
        user: u64,
        market: MarketId,
        side: Side,
        remaining: u64,
        filled: u64,
    }
    let mut rng = Rng::new(seed);
    let users = 6;
    let mut ts = 1_700_000_000_000u64;
    let mut j = Journal::setup(users, ts);
    let mut next_order = 1u64;
    let mut next_trade = 1u64;
    let mut next_withdrawal = 1u64;
    let mut book: Vec<Resting> = Vec::new();
    let mut stops: Vec<(u64, u64, MarketId)> = Vec::new();
    for u in 1..=users {
        ts += 1;
        j.push(
            ts,
            vec![
                Event::Deposited {
                    user: UserId(u),
                    asset: USD,
                    amount: Amount(1_000_000_000),
                },
                balance(u, USD, 1_000_000_000, 0),
            ],
        );
    }
    while j.cmds.len() < n_commands {
        ts += rng.below(90_000);
        let user = 1 + rng.below(users);
        let market = if rng.below(3) == 0 { ETH_USD } else { BTC_USD };
        let roll = rng.below(100);
        let mut ev = Vec::new();
        if roll < 55 {
            let side = if rng.below(2) == 0 {
                Side::Buy
            } else {
                Side::Sell
            };
            let price = 10_000 + rng.below(50);
            let qty = 1 + rng.below(20);
            let id = next_order;
            next_order += 1;
            let ioc = rng.below(5) == 0;
            let mut i = info(id, user, market, side, price, qty, ts);
            if ioc {
                i.tif = TimeInForce::Ioc;
            }
            if rng.below(4) == 0 {
                i.client_order_id = Some(ClientOrderId::new(format!("c{id}")).unwrap());
            }
            ev.push(accepted(i));
            ev.push(balance(
                user,
                USD,
                1_000_000 + rng.below(1000),
                rng.below(1000),
            ));
            let mut remaining = qty;
            let mut filled = 0;
            while remaining > 0 {
                let Some(pos) = book
                    .iter()
                    .position(|r| r.market == market && r.side != side && r.user != user)
                else {
                    break;
                };
                let m = &mut book[pos];
                let q = remaining.min(m.remaining);
                ev.push(trade(
                    next_trade,
                    market,
                    price,
                    q,
                    side,
                    (m.id, m.user),
                    (id, user),
                ));
                next_trade += 1;
                m.remaining -= q;
                m.filled += q;
                remaining -= q;
                filled += q;
                if m.remaining == 0 {
                    ev.push(Event::OrderFilled {
                        order: OrderId(m.id),
                        user: UserId(m.user),
                        market,
                        filled: Qty(m.filled),
                    });
                } else {
                    ev.push(Event::OrderPartiallyFilled {
                        order: OrderId(m.id),
                        user: UserId(m.user),
                        market,
                        filled: Qty(m.filled),
                        remaining: Qty(m.remaining),
                    });
                }
                ev.push(balance(
                    m.user,
                    USD,
                    rng.below(1_000_000_000),
                    rng.below(1000),
                ));
                if filled < qty {
                    ev.push(Event::OrderPartiallyFilled {
                        order: OrderId(id),
                        user: UserId(user),
                        market,
                        filled: Qty(filled),
                        remaining: Qty(remaining),
                    });
                }
                ev.push(balance(user, BTC, rng.below(1_000_000_000), 0));
                if m.remaining == 0 {
                    book.remove(pos);
                }
            }
            if remaining == 0 {
                ev.push(Event::OrderFilled {
                    order: OrderId(id),
                    user: UserId(user),
                    market,
                    filled: Qty(filled),
                });
            } else if ioc {
                ev.push(Event::OrderExpired {
                    order: OrderId(id),
                    user: UserId(user),
                    market,
                    filled: Qty(filled),
                    remaining: Qty(remaining),
                    reason: ExpireReason::ImmediateOrCancel,
                });
            } else {
                book.push(Resting {
                    id,
                    user,
                    market,
                    side,
                    remaining,
                    filled,
                });
            }
            ev.push(Event::BookChanged {
                market,
                sequence: j.cmds.len() as u64,
                side,
                price: Price(price),
                qty: Qty(remaining),
            });
        } else if roll < 65 && !book.is_empty() {
            let r = book.remove(rng.below(book.len() as u64) as usize);
            ev.push(Event::OrderCanceled {
                order: OrderId(r.id),
                user: UserId(r.user),
                market: r.market,
                filled: Qty(r.filled),
                remaining: Qty(r.remaining),
                reason: CancelReason::User,
            });
            ev.push(balance(r.user, USD, rng.below(1_000_000_000), 0));
        } else if roll < 70 && !book.is_empty() {
            let k = rng.below(book.len() as u64) as usize;
            let r = &mut book[k];
            let extra = rng.below(5);
            r.remaining += extra;
            ev.push(Event::OrderAmended {
                order: OrderId(r.id),
                user: UserId(r.user),
                market: r.market,
                price: Some(Price(10_000 + rng.below(50))),
                qty: Qty(r.filled + r.remaining),
                remaining: Qty(r.remaining),
                kept_priority: extra == 0,
            });
        } else if roll < 75 {
            let id = next_order;
            next_order += 1;
            let mut i = info(id, user, market, Side::Buy, 10_100, 3, ts);
            i.order_type = OrderType::StopLimit;
            i.stop_price = Some(Price(10_040));
            ev.push(accepted(i));
            stops.push((id, user, market));
        } else if roll < 78 && !stops.is_empty() {
            let (id, u, m) = stops.remove(0);
            ev.push(Event::StopTriggered {
                order: OrderId(id),
                user: UserId(u),
                market: m,
                last_price: Price(10_040),
            });
            book.push(Resting {
                id,
                user: u,
                market: m,
                side: Side::Buy,
                remaining: 3,
                filled: 0,
            });
        } else if roll < 82 {
            let id = next_withdrawal;
            next_withdrawal += 1;
            ev.push(Event::WithdrawalRequested {
                id: WithdrawalId(id),
                user: UserId(user),
                asset: USD,
                amount: Amount(1000 + id),
                address: format!("addr{id}"),
            });
            ev.push(balance(user, USD, rng.below(1_000_000_000), 1000 + id));
        } else if roll < 85 && next_withdrawal > 1 {
            // May target a finished withdrawal: then it is a rejection, as the core would emit.
            let id = 1 + rng.below(next_withdrawal - 1);
            let done = j.cmds.iter().flat_map(|c| c.2.iter()).any(|e| matches!(e, Event::WithdrawalCompleted { id: w, .. } | Event::WithdrawalRejected { id: w, .. } if w.0 == id));
            if done {
                ev.push(Event::Rejected {
                    code: RejectCode::UnknownWithdrawal,
                    order: None,
                    withdrawal: None,
                    remaining: None,
                });
            } else if rng.below(2) == 0 {
                ev.push(Event::WithdrawalCompleted {
                    id: WithdrawalId(id),
                    user: UserId(user),
                    asset: USD,
                    amount: Amount(1000 + id),
                });
            } else {
                ev.push(Event::WithdrawalRejected {
                    id: WithdrawalId(id),
                    user: UserId(user),
                    asset: USD,
                    amount: Amount(1000 + id),
                });
            }
        } else if roll < 88 {
            ev.push(Event::Deposited {
                user: UserId(user),
                asset: ETH,
                amount: Amount(1 + rng.below(10_000)),
            });
            ev.push(balance(user, ETH, rng.below(1_000_000), 0));
        } else if roll < 90 {
            ev.push(Event::ApiKeyCreated {
                user: UserId(user),
                key_id: format!("k{}", j.cmds.len()),
                secret_enc: "enc".into(),
                label: "bot".into(),
            });
        } else if roll < 92 {
            ev.push(Event::UserFlagsChanged {
                user: UserId(user),
                kyc_verified: true,
                kill_switch: false,
                tier: Tier::Premium,
            });
        } else {
            ev.push(Event::Rejected {
                code: RejectCode::InsufficientBalance,
                order: None,
                withdrawal: None,
                remaining: None,
            });
        }
        j.push(ts, ev);
    }
    j
}

/// Every query's output for the ids a stream can contain, paging through lists with a small
/// page so cursors are exercised too.
#[derive(Debug, PartialEq, Eq)]
pub struct Dump {
    pub last_seq: u64,
    pub users: Vec<UserRow>,
    pub by_name: Vec<Option<UserRow>>,
    pub keys: Vec<Vec<ApiKeyRow>>,
    pub assets: Vec<AssetRow>,
    pub markets: Vec<MarketRow>,
    pub orders: Vec<Vec<OrderRow>>,
    pub open_orders: Vec<Vec<OrderRow>>,
    pub closed_orders: Vec<Vec<OrderRow>>,
    pub fills: Vec<Vec<FillRow>>,
    pub trades: Vec<Vec<TradeRow>>,
    pub candles: Vec<Vec<Candle>>,
    pub balances: Vec<Vec<BalanceRow>>,
    pub history: Vec<Vec<BalanceHistoryRow>>,
    pub deposits: Vec<Vec<DepositRow>>,
    pub withdrawals: Vec<Vec<WithdrawalRow>>,
    pub pending: Vec<WithdrawalRow>,
    pub tickers: Vec<Ticker24h>,
}

pub async fn all_orders(
    s: &Store,
    user: UserId,
    status: Option<StatusFilter>,
    market: Option<MarketId>,
    page: u32,
) -> Vec<OrderRow> {
    let mut out: Vec<OrderRow> = Vec::new();
    loop {
        let before = out.last().map(|o| o.id);
        let rows = s
            .orders(&OrderQuery {
                user,
                status,
                market,
                before,
                limit: page,
            })
            .await
            .unwrap();
        let done = rows.len() < page as usize;
        out.extend(rows);
        if done {
            return out;
        }
    }
}

pub async fn all_fills(
    s: &Store,
    user: UserId,
    market: Option<MarketId>,
    page: u32,
) -> Vec<FillRow> {
    let mut out: Vec<FillRow> = Vec::new();
    loop {
        let before = out.last().map(|f| f.id);
        let rows = s
            .fills(&FillQuery {
                user,
                market,
                before,
                limit: page,
            })
            .await
            .unwrap();
        let done = rows.len() < page as usize;
        out.extend(rows);
        if done {
            return out;
        }
    }
}

pub async fn dump(s: &Store, users: u64, now: Timestamp) -> Dump {
    let uids: Vec<UserId> = (0..=users + 1).map(UserId).collect();
    let mut d = Dump {
        last_seq: s.last_applied_seq().await.unwrap(),
        users: s.users(None, 1000).await.unwrap(),
        by_name: Vec::new(),
        keys: Vec::new(),
        assets: s.assets().await.unwrap(),
        markets: s.markets().await.unwrap(),
        orders: Vec::new(),
        open_orders: Vec::new(),
        closed_orders: Vec::new(),
        fills: Vec::new(),
        trades: Vec::new(),
        candles: Vec::new(),
        balances: Vec::new(),
        history: Vec::new(),
        deposits: Vec::new(),
        withdrawals: Vec::new(),
        pending: s.pending_withdrawals(None, 1000).await.unwrap(),
        tickers: Vec::new(),
    };
    for &u in &uids {
        d.by_name
            .push(s.user_by_name(&format!("u{}", u.0)).await.unwrap());
        d.keys.push(s.api_keys(u).await.unwrap());
        d.orders.push(all_orders(s, u, None, None, 7).await);
        d.open_orders
            .push(all_orders(s, u, Some(StatusFilter::Open), Some(BTC_USD), 5).await);
        d.closed_orders
            .push(all_orders(s, u, Some(StatusFilter::Closed), None, 9).await);
        d.fills.push(all_fills(s, u, None, 11).await);
        d.balances.push(s.balances(u).await.unwrap());
        d.history
            .push(s.balance_history(u, None, None, 1000).await.unwrap());
        d.deposits.push(s.deposits(u, None, 1000).await.unwrap());
        d.withdrawals
            .push(s.withdrawals(u, None, 1000).await.unwrap());
    }
    for m in [BTC_USD, ETH_USD] {
        d.trades.push(s.trades(m, None, 1000).await.unwrap());
        for iv in Interval::ALL {
            d.candles
                .push(s.candles(m, iv, Timestamp(0), now, 1000).await.unwrap());
        }
        d.tickers.push(s.ticker_24h(m, now).await.unwrap());
    }
    d
}
