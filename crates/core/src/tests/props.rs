//! Random command sequences over three users and three markets (every order type and
//! time in force, amends, cancels, cancel-all, halts, flags, KYC policy, idempotency
//! windows, deposits, withdrawals, GTD sweeps with advancing time). After EVERY command:
//! * the core over the fast book and the core over `ReferenceBook` emit identical events
//!   and reach the same state hash (so every fill matches the reference book);
//! * `check_invariants` holds (ledger sums to zero, nothing negative, held == holds +
//!   pending withdrawals, books match the orders and are not crossed);
//! * every trade is at the maker's resting price, and a buy taker never pays above its
//!   limit (nor a sell gets below it);
//! * a rejected command is one event and leaves the state hash unchanged.
//!
//! At the end, replaying the commands into a fresh core, restoring the final snapshot,
//! and restoring a snapshot taken halfway then applying the rest all give the same hash.
//! Case counts add up to more than 10 000 sequences per run.
//!
//! The generators (`op`, `setup`, `resolve`) also drive the idempotency and order-fold
//! properties (`idempotency`, `fold`).

use super::sym;
use crate::{BookOps, Core, CoreConfig};
use bourse_book::{OrderBook, ReferenceBook};
use bourse_model::*;
use proptest::prelude::*;

#[derive(Debug, Clone)]
pub(super) struct PlaceOp {
    pub user: u8,
    pub market: u8,
    pub buy: bool,
    pub kind: u8,
    pub price: u64,
    pub qty: u64,
    pub quote: Option<u64>,
    pub stop: u64,
    pub tif: u8,
    pub expire_in: u64,
    pub post_only: bool,
    pub stp: u8,
    pub cid: Option<u8>,
    pub noise: u8,
}

#[derive(Debug, Clone)]
pub(super) enum Op {
    Place(PlaceOp),
    Cancel {
        nth: usize,
        wrong_user: bool,
    },
    CancelAll {
        user: u8,
        market: Option<u8>,
    },
    Amend {
        nth: usize,
        dprice: Option<i8>,
        qty: Option<u64>,
        wrong_user: bool,
    },
    Status {
        market: u8,
        halt: bool,
    },
    Deposit {
        user: u8,
        asset: u8,
        amount: u64,
    },
    Withdraw {
        user: u8,
        asset: u8,
        amount: u64,
        key: Option<u8>,
    },
    FinishWithdrawal {
        id: u64,
        complete: bool,
    },
    Flags {
        user: u8,
        kyc: Option<bool>,
        kill: Option<bool>,
        tier: Option<u8>,
    },
    Expire,
    KycPolicy {
        required: bool,
    },
    /// `SetIdempotencyWindow` (ms).
    Window {
        ms: u64,
    },
}

pub(super) fn place_op() -> impl Strategy<Value = Op> {
    (
        (
            1u8..=3,
            0u8..3,
            any::<bool>(),
            prop_oneof![6 => Just(0u8), 2 => Just(1), 1 => Just(2), 1 => Just(3)],
        ),
        (
            95u64..=105,
            1u64..=12,
            prop::option::weighted(0.3, 50u64..3_000),
            90u64..=110,
        ),
        (
            prop_oneof![5 => Just(0u8), 2 => Just(1), 1 => Just(2), 2 => Just(3)],
            1u64..30,
            prop::bool::weighted(0.15),
        ),
        (0u8..3, prop::option::weighted(0.2, 0u8..5), 0u8..20),
    )
        .prop_map(
            |(
                (user, market, buy, kind),
                (price, qty, quote, stop),
                (tif, expire_in, post_only),
                (stp, cid, noise),
            )| {
                Op::Place(PlaceOp {
                    user,
                    market,
                    buy,
                    kind,
                    price,
                    qty,
                    quote,
                    stop,
                    tif,
                    expire_in,
                    post_only,
                    stp,
                    cid,
                    noise,
                })
            },
        )
}

pub(super) fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        12 => place_op(),
        3 => (any::<usize>(), prop::bool::weighted(0.1)).prop_map(|(nth, wrong_user)| Op::Cancel { nth, wrong_user }),
        1 => (1u8..=3, prop::option::of(0u8..3)).prop_map(|(user, market)| Op::CancelAll { user, market }),
        5 => (any::<usize>(), prop::option::of(-3i8..=3), prop::option::of(1u64..15), prop::bool::weighted(0.05))
            .prop_map(|(nth, dprice, qty, wrong_user)| Op::Amend { nth, dprice, qty, wrong_user }),
        1 => (0u8..3, any::<bool>()).prop_map(|(market, halt)| Op::Status { market, halt }),
        1 => (1u8..=4, 0u8..4, 0u64..5_000).prop_map(|(user, asset, amount)| Op::Deposit { user, asset, amount }),
        1 => (1u8..=3, 0u8..3, 0u64..3_000, prop::option::weighted(0.4, 0u8..3))
            .prop_map(|(user, asset, amount, key)| Op::Withdraw { user, asset, amount, key }),
        1 => (1u64..6, any::<bool>()).prop_map(|(id, complete)| Op::FinishWithdrawal { id, complete }),
        1 => (1u8..=3, prop::option::of(any::<bool>()), prop::option::weighted(0.15, any::<bool>()), prop::option::of(0u8..3))
            .prop_map(|(user, kyc, kill, tier)| Op::Flags { user, kyc, kill, tier }),
        2 => Just(Op::Expire),
        1 => any::<bool>().prop_map(|required| Op::KycPolicy { required }),
        1 => prop_oneof![Just(0u64), Just(3), 1u64..40, Just(CoreConfig::DEFAULT_IDEMPOTENCY_WINDOW_MS)]
            .prop_map(|ms| Op::Window { ms }),
    ]
}

fn spec(
    symbol: &str,
    base: (u32, u8),
    quote: (u32, u8),
    grid: (u8, u8),
    fees: [(u32, u32); 3],
) -> MarketSpec {
    MarketSpec {
        symbol: sym(symbol),
        base: AssetId(base.0),
        quote: AssetId(quote.0),
        base_scale: base.1,
        quote_scale: quote.1,
        price_scale: grid.0,
        tick: 1,
        qty_scale: grid.1,
        lot: 1,
        min_qty: Qty(1),
        max_qty: Qty(1_000),
        min_notional: Amount(100),
        price_band_bps: 0,
        market_slippage_bps: 500,
        max_open_orders: 0,
        fees: fees.map(|(maker_bps, taker_bps)| FeeSchedule {
            maker_bps,
            taker_bps,
        }),
    }
}

/// Assets A (scale 0), Q (2), C (2); markets A-Q (1 tick·lot = 100 Q units), C-Q (lot =
/// 10 C units, 1 tick·lot = 1, maker fee above taker, band, open-order limit, min size),
/// A-C (no fees); users 1–3 funded, 1–2 KYC-verified.
pub(super) fn setup() -> Vec<Command> {
    let mut k = vec![
        CommandKind::CreateAsset {
            symbol: sym("A"),
            scale: 0,
        },
        CommandKind::CreateAsset {
            symbol: sym("Q"),
            scale: 2,
        },
        CommandKind::CreateAsset {
            symbol: sym("C"),
            scale: 2,
        },
        CommandKind::CreateMarket(Box::new(spec(
            "A-Q",
            (0, 0),
            (1, 2),
            (0, 0),
            [(10, 25), (0, 10), (5, 5)],
        ))),
        CommandKind::CreateMarket(Box::new(MarketSpec {
            price_band_bps: 2_000,
            max_open_orders: 6,
            min_qty: Qty(2),
            max_qty: Qty(500),
            ..spec("C-Q", (2, 2), (1, 2), (1, 1), [(30, 0), (30, 10), (50, 50)])
        })),
        CommandKind::CreateMarket(Box::new(spec("A-C", (0, 0), (2, 2), (0, 0), [(0, 0); 3]))),
    ];
    for (i, name) in ["u1", "u2", "u3"].iter().enumerate() {
        let user = UserId(i as u64 + 1);
        k.push(CommandKind::RegisterUser {
            username: (*name).into(),
            password_hash: "h".into(),
            role: Role::Trader,
        });
        for (asset, amount) in [(0, 1_000), (1, 10_000_000), (2, 200_000)] {
            k.push(CommandKind::Deposit {
                user,
                asset: AssetId(asset),
                amount: Amount(amount),
            });
        }
        if i < 2 {
            k.push(CommandKind::SetUserFlags {
                user,
                kyc_verified: Some(true),
                kill_switch: None,
                tier: None,
            });
        }
    }
    k.into_iter().map(|kind| Command::new(1, kind)).collect()
}

/// Turns an abstract op into a concrete command against the current state.
pub(super) fn resolve<B: BookOps>(core: &Core<B>, op: &Op, ts: u64) -> CommandKind {
    let open = || {
        let mut ids: Vec<OrderId> = core.orders.keys().copied().collect();
        ids.sort_unstable();
        ids
    };
    let other = |u: UserId| UserId(u.0 % 3 + 1);
    match op {
        Op::Place(p) => {
            let order_type = [
                OrderType::Limit,
                OrderType::Market,
                OrderType::StopLimit,
                OrderType::StopMarket,
            ][p.kind as usize];
            let priced = matches!(order_type, OrderType::Limit | OrderType::StopLimit);
            let tif = [
                TimeInForce::Gtc,
                TimeInForce::Ioc,
                TimeInForce::Fok,
                TimeInForce::Gtd,
            ][p.tif as usize];
            let mut o = NewOrder {
                user: UserId(u64::from(p.user)),
                market: MarketId(u32::from(p.market)),
                side: if p.buy { Side::Buy } else { Side::Sell },
                order_type,
                price: priced.then_some(Price(p.price)),
                qty: Some(Qty(p.qty)),
                quote_qty: None,
                stop_price: order_type.is_stop().then_some(Price(p.stop)),
                tif,
                expire_at: (tif == TimeInForce::Gtd).then_some(Timestamp(ts + p.expire_in)),
                post_only: p.post_only,
                stp: [
                    StpMode::ExpireTaker,
                    StpMode::ExpireMaker,
                    StpMode::ExpireBoth,
                ][p.stp as usize],
                client_order_id: p.cid.map(|c| ClientOrderId::new(format!("c{c}")).unwrap()),
            };
            if let (Some(q), false) = (p.quote, priced) {
                o.qty = None;
                o.quote_qty = Some(Amount(q));
            }
            // Now and then, break the field table on purpose.
            match p.noise {
                0 => o.price = Some(Price(p.price)),
                1 => o.qty = None,
                2 => o.expire_at = Some(Timestamp(ts.saturating_sub(p.expire_in))),
                3 => o.market = MarketId(7),
                4 => o.user = UserId(9),
                _ => {}
            }
            CommandKind::PlaceOrder(Box::new(o))
        }
        Op::Cancel { nth, wrong_user } => {
            let ids = open();
            if ids.is_empty() {
                return CommandKind::CancelOrder {
                    user: UserId(1),
                    order: OrderId(*nth as u64 % 50 + 1),
                };
            }
            let id = ids[nth % ids.len()];
            let owner = core.orders[&id].user;
            CommandKind::CancelOrder {
                user: if *wrong_user { other(owner) } else { owner },
                order: id,
            }
        }
        Op::CancelAll { user, market } => CommandKind::CancelAll {
            user: UserId(u64::from(*user)),
            market: market.map(|m| MarketId(u32::from(m))),
        },
        Op::Amend {
            nth,
            dprice,
            qty,
            wrong_user,
        } => {
            let ids = open();
            if ids.is_empty() {
                return CommandKind::AmendOrder {
                    user: UserId(1),
                    order: OrderId(1),
                    price: None,
                    qty: Some(Qty(3)),
                };
            }
            let o = &core.orders[&ids[nth % ids.len()]];
            let price = dprice.and_then(|d| {
                o.limit
                    .map(|l| Price(l.0.saturating_add_signed(i64::from(d)).max(1)))
            });
            CommandKind::AmendOrder {
                user: if *wrong_user { other(o.user) } else { o.user },
                order: o.id,
                price,
                qty: qty.map(|q| Qty(o.filled.0 + q)),
            }
        }
        Op::Status { market, halt } => CommandKind::SetMarketStatus {
            market: MarketId(u32::from(*market)),
            status: if *halt {
                MarketStatus::Halted
            } else {
                MarketStatus::Open
            },
        },
        Op::Deposit {
            user,
            asset,
            amount,
        } => CommandKind::Deposit {
            user: UserId(u64::from(*user)),
            asset: AssetId(u32::from(*asset)),
            amount: Amount(*amount),
        },
        Op::Withdraw {
            user,
            asset,
            amount,
            key,
        } => CommandKind::RequestWithdrawal {
            user: UserId(u64::from(*user)),
            asset: AssetId(u32::from(*asset)),
            amount: Amount(*amount),
            address: "addr".into(),
            client_withdrawal_id: key.map(|k| ClientWithdrawalId::new(format!("w{k}")).unwrap()),
        },
        Op::FinishWithdrawal { id, complete: true } => CommandKind::CompleteWithdrawal {
            id: WithdrawalId(*id),
        },
        Op::FinishWithdrawal {
            id,
            complete: false,
        } => CommandKind::RejectWithdrawal {
            id: WithdrawalId(*id),
        },
        Op::Flags {
            user,
            kyc,
            kill,
            tier,
        } => CommandKind::SetUserFlags {
            user: UserId(u64::from(*user)),
            kyc_verified: *kyc,
            kill_switch: *kill,
            tier: tier.map(|t| Tier::ALL[t as usize]),
        },
        Op::Expire => CommandKind::ExpireOrders,
        Op::KycPolicy { required } => CommandKind::SetKycPolicy {
            required: *required,
        },
        Op::Window { ms } => CommandKind::SetIdempotencyWindow { ms: *ms },
    }
}

/// What `check_trades` needs to know about the state before a command.
struct OpenBefore {
    /// Open order → (limit price, is an untriggered stop).
    orders: std::collections::HashMap<OrderId, (Option<Price>, bool)>,
    next_order: u64,
}

impl OpenBefore {
    fn of(core: &Core<OrderBook>) -> Self {
        OpenBefore {
            orders: core
                .orders
                .values()
                .map(|o| (o.id, (o.limit, o.is_untriggered_stop())))
                .collect(),
            next_order: core.next_order,
        }
    }
}

/// Checks the trades of one command against the open orders before it.
fn check_trades(
    before: &OpenBefore,
    cmd: &CommandKind,
    events: &[Event],
) -> Result<(), TestCaseError> {
    let amended = match cmd {
        CommandKind::AmendOrder { order, .. } => Some(*order),
        _ => None,
    };
    for e in events {
        if let Event::Trade {
            price,
            maker_order,
            taker_order,
            taker_side,
            ..
        } = e
        {
            if let Some((limit, untriggered)) = before.orders.get(maker_order) {
                if !untriggered && Some(*maker_order) != amended {
                    prop_assert_eq!(Some(*price), *limit, "trade not at the maker's price");
                }
            }
            let taker_limit = match cmd {
                CommandKind::PlaceOrder(o) if o.order_type == OrderType::Limit => o.price,
                CommandKind::AmendOrder { order, price, .. } if order == taker_order => {
                    price.or_else(|| before.orders.get(order).and_then(|o| o.0))
                }
                _ => None,
            };
            if let Some(l) = taker_limit
                .filter(|_| before.next_order == taker_order.0 || amended == Some(*taker_order))
            {
                match taker_side {
                    Side::Buy => prop_assert!(*price <= l, "buy taker paid above its limit"),
                    Side::Sell => prop_assert!(*price >= l, "sell taker sold below its limit"),
                }
            }
        }
    }
    Ok(())
}

fn run(kyc_required: bool, ops: &[(u8, Op)]) -> Result<(), TestCaseError> {
    // Like a journal: the policy starts off and only a command changes it.
    let config = CoreConfig::default();
    let mut fast = Core::new(config.clone());
    let mut reference: Core<ReferenceBook> = Core::with_book(config.clone());
    let mut log = setup();
    if kyc_required {
        log.push(Command::new(
            1,
            CommandKind::SetKycPolicy { required: true },
        ));
    }
    for c in &log {
        let (a, b) = (fast.apply(c), reference.apply(c));
        prop_assert_eq!(&a, &b);
        prop_assert!(
            !matches!(a.first(), Some(Event::Rejected { .. })),
            "setup {:?}: {:?}",
            c,
            a
        );
    }
    let mut ts = 1_000;
    let mut halfway = None;
    for (i, (dt, op)) in ops.iter().enumerate() {
        if i == ops.len() / 2 {
            halfway = Some((fast.snapshot(), log.len()));
        }
        ts += u64::from(*dt);
        let kind = resolve(&fast, op, ts);
        let cmd = Command::new(ts, kind);
        // Snapshot bytes stand in for the hash here (same canonical encoding, no blake3 in
        // a debug build); the final checks use `state_hash`.
        let state_before = fast.snapshot();
        let before = OpenBefore::of(&fast);
        let events = fast.apply(&cmd);
        let ref_events = reference.apply(&cmd);
        prop_assert_eq!(
            &events,
            &ref_events,
            "fast and reference books disagree on {:?}",
            cmd
        );
        fast.check_invariants()
            .map_err(|e| TestCaseError::fail(format!("{cmd:?}: {e}")))?;
        let state = fast.snapshot();
        prop_assert!(
            state == reference.snapshot(),
            "fast and reference states differ"
        );
        if let [Event::Rejected { .. }] = events.as_slice() {
            prop_assert!(
                state == state_before,
                "rejected {:?} changed the state",
                cmd
            );
        }
        let rejected = events.iter().any(|e| matches!(e, Event::Rejected { .. }));
        prop_assert!(
            !rejected || events.len() == 1,
            "a rejection mixed with other events"
        );
        check_trades(&before, &cmd.kind, &events)?;
        log.push(cmd);
    }
    // Same commands, fresh core: same state.
    let mut replay = Core::new(config);
    for c in &log {
        replay.apply(c);
    }
    prop_assert_eq!(replay.state_hash(), fast.state_hash());
    let restored = Core::restore(&fast.snapshot()).unwrap();
    prop_assert_eq!(restored.state_hash(), fast.state_hash());
    // Restored halfway, then the rest: derived state (such as the queue of client ids)
    // rebuilt from a snapshot must behave like the original.
    let (snap, at) = halfway.expect("at least one op");
    let mut resumed = Core::restore(&snap).unwrap();
    for c in &log[at..] {
        resumed.apply(c);
    }
    prop_assert_eq!(resumed.state_hash(), fast.state_hash());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6_000, max_shrink_iters: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn random_sequences_match_the_reference_and_keep_invariants(
        kyc in prop::bool::weighted(0.2),
        ops in prop::collection::vec((0u8..4, op()), 8..30),
    ) {
        run(kyc, &ops)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4_500, max_shrink_iters: 2_000, ..ProptestConfig::default() })]

    /// Dense trading in one market: limit, market and stop orders, amends and cancels only.
    #[test]
    fn random_trading_in_one_market(
        ops in prop::collection::vec((0u8..3, prop_oneof![
            6 => place_op().prop_map(|op| match op {
                Op::Place(mut p) => { p.market = 0; p.noise = 19; Op::Place(p) }
                other => other,
            }),
            3 => (any::<usize>(), prop::option::of(-2i8..=2), prop::option::of(1u64..10))
                .prop_map(|(nth, dprice, qty)| Op::Amend { nth, dprice, qty, wrong_user: false }),
            1 => any::<usize>().prop_map(|nth| Op::Cancel { nth, wrong_user: false }),
            1 => Just(Op::Expire),
        ]), 12..30),
    ) {
        run(false, &ops)?;
    }
}
