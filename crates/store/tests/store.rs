//! The read-model suite. Every test in `both!` runs against SQLite and PostgreSQL.

mod common;

use bourse_model::*;
use bourse_store::*;
use common::fixtures::*;

both!(
    every_event_kind_is_projected,
    order_statuses_follow_the_events,
    projecting_twice_changes_nothing,
    a_sequence_gap_is_refused_and_writes_nothing,
    candles_aggregate_across_intervals_and_batches,
    cursor_pagination_has_no_gaps_or_duplicates,
    ticker_covers_the_last_24_hours,
    unknown_references_fail_the_whole_batch,
);

const T0: u64 = 1_700_000_000_000;

async fn every_event_kind_is_projected(s: Store) {
    let mut j = Journal::setup(2, T0);
    j.push(
        T0 + 1,
        vec![Event::PasswordChanged {
            user: UserId(1),
            password_hash: "new".into(),
        }],
    );
    j.push(
        T0 + 2,
        vec![Event::UserRoleChanged {
            user: UserId(2),
            role: Role::Admin,
        }],
    );
    j.push(
        T0 + 3,
        vec![Event::UserFlagsChanged {
            user: UserId(1),
            kyc_verified: true,
            kill_switch: true,
            tier: Tier::Broker,
        }],
    );
    for k in ["ka", "kb"] {
        j.push(
            T0 + 4,
            vec![Event::ApiKeyCreated {
                user: UserId(1),
                key_id: k.into(),
                secret_enc: format!("enc-{k}"),
                label: format!("label-{k}"),
            }],
        );
    }
    j.push(
        T0 + 5,
        vec![Event::ApiKeyDeleted {
            user: UserId(1),
            key_id: "ka".into(),
        }],
    );
    j.push(
        T0 + 6,
        vec![Event::MarketStatusChanged {
            market: ETH_USD,
            status: MarketStatus::Halted,
        }],
    );
    j.push(
        T0 + 7,
        vec![
            Event::Deposited {
                user: UserId(1),
                asset: USD,
                amount: Amount(5_000_000),
            },
            balance(1, USD, 5_000_000, 0),
        ],
    );
    j.push(
        T0 + 8,
        vec![
            Event::WithdrawalRequested {
                id: WithdrawalId(1),
                user: UserId(1),
                asset: USD,
                amount: Amount(100),
                address: "a1".into(),
            },
            balance(1, USD, 4_999_900, 100),
        ],
    );
    j.push(
        T0 + 9,
        vec![Event::WithdrawalRequested {
            id: WithdrawalId(2),
            user: UserId(1),
            asset: USD,
            amount: Amount(200),
            address: "a2".into(),
        }],
    );
    j.push(
        T0 + 10,
        vec![Event::WithdrawalRequested {
            id: WithdrawalId(3),
            user: UserId(1),
            asset: USD,
            amount: Amount(300),
            address: "a3".into(),
        }],
    );
    j.push(
        T0 + 11,
        vec![Event::WithdrawalCompleted {
            id: WithdrawalId(1),
            user: UserId(1),
            asset: USD,
            amount: Amount(100),
        }],
    );
    j.push(
        T0 + 12,
        vec![Event::WithdrawalRejected {
            id: WithdrawalId(2),
            user: UserId(1),
            asset: USD,
            amount: Amount(200),
        }],
    );
    // A resting sell by user 2, then user 1 buys part of it.
    let mut sell = info(1, 2, BTC_USD, Side::Sell, 10_000, 10, T0 + 13);
    sell.client_order_id = Some(ClientOrderId::new("my-sell").unwrap());
    j.push(T0 + 13, vec![accepted(sell), balance(2, BTC, 0, 10)]);
    j.push(
        T0 + 14,
        vec![
            accepted(info(2, 1, BTC_USD, Side::Buy, 10_000, 4, T0 + 14)),
            balance(1, USD, 4_959_900, 40_100),
            trade(1, BTC_USD, 10_000, 4, Side::Buy, (1, 2), (2, 1)),
            Event::OrderPartiallyFilled {
                order: OrderId(1),
                user: UserId(2),
                market: BTC_USD,
                filled: Qty(4),
                remaining: Qty(6),
            },
            balance(2, USD, 39_960, 0),
            balance(1, BTC, 4, 0),
            Event::OrderFilled {
                order: OrderId(2),
                user: UserId(1),
                market: BTC_USD,
                filled: Qty(4),
            },
            Event::BookChanged {
                market: BTC_USD,
                sequence: 2,
                side: Side::Sell,
                price: Price(10_000),
                qty: Qty(6),
            },
        ],
    );
    j.push(
        T0 + 15,
        vec![Event::Rejected {
            code: RejectCode::InsufficientBalance,
            order: None,
            withdrawal: None,
        }],
    );
    let last = j.cmds.len() as u64;
    assert_eq!(s.project(&j.cmds).await.unwrap(), last);
    assert_eq!(s.last_applied_seq().await.unwrap(), last);

    let u1 = s.user_by_name("u1").await.unwrap().unwrap();
    assert_eq!(u1.id, UserId(1));
    assert_eq!(u1.password_hash, "new");
    assert_eq!(
        (u1.role, u1.tier, u1.kyc_verified, u1.kill_switch),
        (Role::Trader, Tier::Broker, true, true)
    );
    assert_eq!(
        (u1.created_at, u1.updated_at),
        (Timestamp(T0), Timestamp(T0 + 3))
    );
    let u2 = s.user(UserId(2)).await.unwrap().unwrap();
    assert_eq!(
        (u2.username.as_str(), u2.role, u2.tier, u2.kyc_verified),
        ("u2", Role::Admin, Tier::Standard, false)
    );
    assert!(s.user(UserId(9)).await.unwrap().is_none());
    assert!(s.user_by_name("nobody").await.unwrap().is_none());
    assert_eq!(s.users(None, 10).await.unwrap().len(), 2);
    assert_eq!(s.users(Some(UserId(1)), 10).await.unwrap(), vec![u2]);

    let keys = s.api_keys(UserId(1)).await.unwrap();
    assert_eq!(
        keys,
        vec![ApiKeyRow {
            key_id: "kb".into(),
            user: UserId(1),
            label: "label-kb".into(),
            secret_enc: "enc-kb".into(),
            created_at: Timestamp(T0 + 4),
        }]
    );
    assert_eq!(s.api_key("kb").await.unwrap(), keys.into_iter().next());
    assert!(s.api_key("ka").await.unwrap().is_none());

    let assets = s.assets().await.unwrap();
    assert_eq!(
        assets
            .iter()
            .map(|a| (a.id, a.symbol.as_str(), a.scale))
            .collect::<Vec<_>>(),
        vec![(BTC, "BTC", 8), (USD, "USD", 6), (ETH, "ETH", 8)]
    );
    let markets = s.markets().await.unwrap();
    assert_eq!(markets.len(), 2);
    assert_eq!(markets[0].spec, spec("BTC-USD", BTC, USD));
    assert_eq!(markets[0].status, MarketStatus::Open);
    assert_eq!(markets[1].status, MarketStatus::Halted);
    assert_eq!(markets[1].updated_at, Timestamp(T0 + 6));
    assert_eq!(
        s.market_by_symbol(&Symbol::new("ETH-USD").unwrap())
            .await
            .unwrap()
            .unwrap()
            .id,
        ETH_USD
    );
    assert_eq!(s.market(BTC_USD).await.unwrap().unwrap(), markets[0]);

    let deposits = s.deposits(UserId(1), None, 10).await.unwrap();
    assert_eq!(deposits.len(), 1);
    assert_eq!(
        (
            deposits[0].asset,
            deposits[0].amount,
            deposits[0].created_at
        ),
        (USD, Amount(5_000_000), Timestamp(T0 + 7))
    );
    let w = s.withdrawals(UserId(1), None, 10).await.unwrap();
    assert_eq!(
        w.iter()
            .map(|w| (w.id.0, w.status, w.address.as_str(), w.amount.0))
            .collect::<Vec<_>>(),
        vec![
            (3, WithdrawalStatus::Requested, "a3", 300),
            (2, WithdrawalStatus::Rejected, "a2", 200),
            (1, WithdrawalStatus::Completed, "a1", 100)
        ]
    );
    assert_eq!(w[2].updated_at, Timestamp(T0 + 11));
    let pending = s.pending_withdrawals(None, 10).await.unwrap();
    assert_eq!(
        pending.iter().map(|w| w.id).collect::<Vec<_>>(),
        vec![WithdrawalId(3)]
    );
    assert_eq!(
        s.withdrawal(WithdrawalId(2)).await.unwrap().unwrap().status,
        WithdrawalStatus::Rejected
    );

    let maker = s.order(OrderId(1)).await.unwrap().unwrap();
    assert_eq!(maker.status, OrderStatus::PartiallyFilled);
    assert_eq!(
        (maker.filled_qty, maker.remaining_qty),
        (Qty(4), Some(Qty(6)))
    );
    assert_eq!(
        (maker.filled_notional, maker.fees),
        (Amount(40_000), Amount(40))
    );
    assert_eq!(
        s.order_by_client_id(UserId(2), &ClientOrderId::new("my-sell").unwrap())
            .await
            .unwrap(),
        Some(maker.clone())
    );
    assert!(s
        .order_by_client_id(UserId(1), &ClientOrderId::new("my-sell").unwrap())
        .await
        .unwrap()
        .is_none());
    let taker = s.order(OrderId(2)).await.unwrap().unwrap();
    assert_eq!(taker.status, OrderStatus::Filled);
    assert_eq!(
        (taker.filled_qty, taker.remaining_qty, taker.fees),
        (Qty(4), Some(Qty(0)), Amount(80))
    );

    let trades = s.trades(BTC_USD, None, 10).await.unwrap();
    assert_eq!(trades.len(), 1);
    assert_eq!(
        (
            trades[0].price,
            trades[0].qty,
            trades[0].notional,
            trades[0].taker_side
        ),
        (Price(10_000), Qty(4), Amount(40_000), Side::Buy)
    );
    assert!(s.trades(ETH_USD, None, 10).await.unwrap().is_empty());
    let f1 = s
        .fills(&FillQuery {
            user: UserId(1),
            market: None,
            before: None,
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(f1.len(), 1);
    let f = &f1[0];
    assert_eq!(
        (
            f.trade_id,
            f.order_id,
            f.side,
            f.liquidity,
            f.fee,
            f.fee_asset
        ),
        (
            TradeId(1),
            OrderId(2),
            Side::Buy,
            Liquidity::Taker,
            Amount(80),
            USD
        )
    );
    let f2 = s.order_fills(OrderId(1)).await.unwrap();
    assert_eq!(
        (f2[0].user, f2[0].side, f2[0].liquidity, f2[0].fee),
        (UserId(2), Side::Sell, Liquidity::Maker, Amount(40))
    );

    let b1 = s.balances(UserId(1)).await.unwrap();
    assert_eq!(
        b1.iter()
            .map(|b| (b.asset, b.available.0, b.held.0))
            .collect::<Vec<_>>(),
        vec![(BTC, 4, 0), (USD, 4_959_900, 40_100)]
    );
    let h1 = s
        .balance_history(UserId(1), Some(USD), None, 10)
        .await
        .unwrap();
    assert_eq!(
        h1.iter()
            .map(|h| (h.available.0, h.held.0))
            .collect::<Vec<_>>(),
        vec![(4_959_900, 40_100), (4_999_900, 100), (5_000_000, 0)]
    );
    assert_eq!(
        h1[0].pos,
        EventPos {
            seq: last - 1,
            idx: 1
        }
    );
    // Before the newest USD change: the two older USD rows (the BTC change came later in
    // the same command).
    assert_eq!(
        s.balance_history(UserId(1), None, Some(h1[0].pos), 10)
            .await
            .unwrap()
            .len(),
        2
    );
    let c = s
        .candles(
            BTC_USD,
            Interval::M1,
            Timestamp(0),
            Timestamp(u64::MAX >> 2),
            10,
        )
        .await
        .unwrap();
    assert_eq!(c.len(), 1);
}

async fn order_statuses_follow_the_events(s: Store) {
    let mut j = Journal::setup(3, T0);
    // 1: resting limit, no fills → open.
    j.push(
        T0 + 1,
        vec![accepted(info(1, 1, BTC_USD, Side::Sell, 100, 10, T0 + 1))],
    );
    // 2: taker fully filled on arrival → filled; 1 becomes partially filled.
    j.push(
        T0 + 2,
        vec![
            accepted(info(2, 2, BTC_USD, Side::Buy, 100, 3, T0 + 2)),
            trade(1, BTC_USD, 100, 3, Side::Buy, (1, 1), (2, 2)),
            Event::OrderPartiallyFilled {
                order: OrderId(1),
                user: UserId(1),
                market: BTC_USD,
                filled: Qty(3),
                remaining: Qty(7),
            },
            Event::OrderFilled {
                order: OrderId(2),
                user: UserId(2),
                market: BTC_USD,
                filled: Qty(3),
            },
        ],
    );
    // 3: IOC with no fill → expired.
    let mut ioc = info(3, 2, BTC_USD, Side::Buy, 90, 5, T0 + 3);
    ioc.tif = TimeInForce::Ioc;
    j.push(
        T0 + 3,
        vec![
            accepted(ioc),
            Event::OrderExpired {
                order: OrderId(3),
                user: UserId(2),
                market: BTC_USD,
                filled: Qty(0),
                remaining: Qty(5),
                reason: ExpireReason::ImmediateOrCancel,
            },
        ],
    );
    // 4: stop waiting → new; 5: stop that triggers later.
    for id in [4, 5] {
        let mut stop = info(id, 3, BTC_USD, Side::Buy, 120, 2, T0 + 4);
        stop.order_type = OrderType::StopLimit;
        stop.stop_price = Some(Price(110));
        j.push(T0 + 4, vec![accepted(stop)]);
    }
    j.push(
        T0 + 5,
        vec![Event::StopTriggered {
            order: OrderId(5),
            user: UserId(3),
            market: BTC_USD,
            last_price: Price(110),
        }],
    );
    // 6: resting then canceled by its owner; 7: resting then amended.
    j.push(
        T0 + 6,
        vec![accepted(info(6, 3, ETH_USD, Side::Sell, 500, 4, T0 + 6))],
    );
    j.push(
        T0 + 6,
        vec![accepted(info(7, 3, ETH_USD, Side::Sell, 500, 4, T0 + 6))],
    );
    j.push(
        T0 + 7,
        vec![Event::OrderCanceled {
            order: OrderId(6),
            user: UserId(3),
            market: ETH_USD,
            filled: Qty(0),
            remaining: Qty(4),
            reason: CancelReason::User,
        }],
    );
    j.push(
        T0 + 8,
        vec![Event::OrderAmended {
            order: OrderId(7),
            user: UserId(3),
            market: ETH_USD,
            price: Some(Price(510)),
            qty: Qty(6),
            remaining: Qty(6),
            kept_priority: false,
        }],
    );
    // 8: a rejected order writes nothing.
    j.push(
        T0 + 9,
        vec![Event::Rejected {
            code: RejectCode::PostOnlyWouldTake,
            order: None,
            withdrawal: None,
        }],
    );
    // 1 is then filled by a taker whose IOC remainder expires with a partial fill.
    let mut ioc = info(8, 2, BTC_USD, Side::Buy, 100, 9, T0 + 10);
    ioc.tif = TimeInForce::Ioc;
    j.push(
        T0 + 10,
        vec![
            accepted(ioc),
            trade(2, BTC_USD, 100, 7, Side::Buy, (1, 1), (8, 2)),
            Event::OrderFilled {
                order: OrderId(1),
                user: UserId(1),
                market: BTC_USD,
                filled: Qty(10),
            },
            Event::OrderPartiallyFilled {
                order: OrderId(8),
                user: UserId(2),
                market: BTC_USD,
                filled: Qty(7),
                remaining: Qty(2),
            },
            Event::OrderExpired {
                order: OrderId(8),
                user: UserId(2),
                market: BTC_USD,
                filled: Qty(7),
                remaining: Qty(2),
                reason: ExpireReason::ImmediateOrCancel,
            },
        ],
    );
    // Project one command per batch for the first half, so state is reloaded from the
    // database between events of one order's life.
    let (a, b) = j.cmds.split_at(12);
    for c in a {
        s.project(std::slice::from_ref(c)).await.unwrap();
    }
    // Checkpoint before the last part: 1 is partially filled, 6 open.
    assert_eq!(
        s.order(OrderId(1)).await.unwrap().unwrap().status,
        OrderStatus::PartiallyFilled
    );
    s.project(b).await.unwrap();

    let status = |o: Option<OrderRow>| {
        o.map(|o| {
            (
                o.status,
                o.filled_qty.0,
                o.remaining_qty.map(|q| q.0),
                o.reason,
            )
        })
    };
    assert_eq!(
        status(s.order(OrderId(1)).await.unwrap()),
        Some((OrderStatus::Filled, 10, Some(0), None))
    );
    assert_eq!(
        status(s.order(OrderId(2)).await.unwrap()),
        Some((OrderStatus::Filled, 3, Some(0), None))
    );
    assert_eq!(
        status(s.order(OrderId(3)).await.unwrap()),
        Some((
            OrderStatus::Expired,
            0,
            Some(5),
            Some(OrderReason::Expired(ExpireReason::ImmediateOrCancel))
        ))
    );
    assert_eq!(
        status(s.order(OrderId(4)).await.unwrap()),
        Some((OrderStatus::New, 0, Some(2), None))
    );
    assert_eq!(
        status(s.order(OrderId(5)).await.unwrap()),
        Some((OrderStatus::Open, 0, Some(2), None))
    );
    assert_eq!(
        status(s.order(OrderId(6)).await.unwrap()),
        Some((
            OrderStatus::Canceled,
            0,
            Some(4),
            Some(OrderReason::Canceled(CancelReason::User))
        ))
    );
    assert_eq!(
        status(s.order(OrderId(8)).await.unwrap()),
        Some((
            OrderStatus::Expired,
            7,
            Some(2),
            Some(OrderReason::Expired(ExpireReason::ImmediateOrCancel))
        ))
    );
    let o7 = s.order(OrderId(7)).await.unwrap().unwrap();
    assert_eq!(
        (o7.status, o7.price, o7.qty, o7.remaining_qty, o7.updated_at),
        (
            OrderStatus::Open,
            Some(Price(510)),
            Some(Qty(6)),
            Some(Qty(6)),
            Timestamp(T0 + 8)
        )
    );
    assert!(s.order(OrderId(9)).await.unwrap().is_none());
    let o1 = s.order(OrderId(1)).await.unwrap().unwrap();
    assert_eq!(
        (o1.filled_notional, o1.created_at, o1.updated_at),
        (Amount(1000), Timestamp(T0 + 1), Timestamp(T0 + 10))
    );

    let ids = |v: Vec<OrderRow>| v.into_iter().map(|o| o.id.0).collect::<Vec<_>>();
    let q = |user, status, market| OrderQuery {
        user: UserId(user),
        status,
        market,
        before: None,
        limit: 100,
    };
    assert_eq!(
        ids(s
            .orders(&q(3, Some(StatusFilter::Open), None))
            .await
            .unwrap()),
        vec![7, 5, 4]
    );
    assert_eq!(
        ids(s
            .orders(&q(3, Some(StatusFilter::Closed), None))
            .await
            .unwrap()),
        vec![6]
    );
    assert_eq!(
        ids(s.orders(&q(3, None, Some(ETH_USD))).await.unwrap()),
        vec![7, 6]
    );
    assert_eq!(
        ids(s
            .orders(&q(2, Some(StatusFilter::Closed), Some(BTC_USD)))
            .await
            .unwrap()),
        vec![8, 3, 2]
    );
    assert_eq!(
        ids(s
            .orders(&q(2, Some(StatusFilter::Open), None))
            .await
            .unwrap()),
        Vec::<u64>::new()
    );
}

async fn projecting_twice_changes_nothing(s: Store) {
    let j = market_stream(7, 300);
    let now = j.cmds.last().unwrap().1;
    let last = s.project(&j.cmds).await.unwrap();
    assert_eq!(last, 300);
    let first = dump(&s, 6, now).await;
    assert!(first.trades[0].len() > 10, "the stream should trade");
    // The whole batch again, then overlapping halves: all already applied.
    assert_eq!(s.project(&j.cmds).await.unwrap(), 300);
    assert_eq!(s.project(&j.cmds[100..200]).await.unwrap(), 300);
    assert_eq!(dump(&s, 6, now).await, first);

    // Same stream in overlapping chunks on a second run is covered by the parity test; here:
    // an empty batch is a no-op.
    let empty: &[(u64, Timestamp, Vec<Event>)] = &[];
    assert_eq!(s.project(empty).await.unwrap(), 300);
}

async fn a_sequence_gap_is_refused_and_writes_nothing(s: Store) {
    let j = Journal::setup(2, T0);
    s.project(&j.cmds[..3]).await.unwrap();
    // Seq 5 and 6 without 4: the batch fails as a whole.
    let err = s.project(&j.cmds[4..]).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::SequenceGap {
                expected: 4,
                got: 5
            }
        ),
        "{err:?}"
    );
    assert_eq!(s.last_applied_seq().await.unwrap(), 3);
    assert!(s.markets().await.unwrap().is_empty());
    // Overlapping retry from 2 continues.
    assert_eq!(s.project(&j.cmds[1..]).await.unwrap(), j.cmds.len() as u64);
    assert_eq!(s.markets().await.unwrap().len(), 2);
}

async fn unknown_references_fail_the_whole_batch(s: Store) {
    let mut j = Journal::setup(1, T0);
    j.push(
        T0,
        vec![accepted(info(1, 1, BTC_USD, Side::Buy, 100, 1, T0))],
    );
    s.project(&j.cmds).await.unwrap();
    let before = s.last_applied_seq().await.unwrap();
    let mut bad = j.clone();
    bad.push(
        T0 + 1,
        vec![accepted(info(2, 1, BTC_USD, Side::Buy, 100, 1, T0 + 1))],
    );
    bad.push(
        T0 + 2,
        vec![Event::OrderFilled {
            order: OrderId(77),
            user: UserId(1),
            market: BTC_USD,
            filled: Qty(1),
        }],
    );
    let err = s.project(&bad.cmds).await.unwrap_err();
    assert!(matches!(err, StoreError::Inconsistent(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "inconsistent event stream: unknown order 77"
    );
    assert_eq!(s.last_applied_seq().await.unwrap(), before);
    assert!(
        s.order(OrderId(2)).await.unwrap().is_none(),
        "the failed batch was rolled back"
    );
}

/// Reference candles: group trades by bucket the slow way.
fn reference_candles(trades: &[(u64, u64, u64)], iv: Interval) -> Vec<Candle> {
    let mut out: Vec<Candle> = Vec::new();
    for &(ts, price, qty) in trades {
        let start = ts - ts % iv.millis();
        match out.last_mut() {
            Some(c) if c.start.0 == start => {
                c.high = c.high.max(Price(price));
                c.low = c.low.min(Price(price));
                c.close = Price(price);
                c.volume.0 += qty;
                c.quote_volume.0 += price * qty;
                c.trade_count += 1;
            }
            _ => out.push(Candle {
                start: Timestamp(start),
                open: Price(price),
                high: Price(price),
                low: Price(price),
                close: Price(price),
                volume: Qty(qty),
                quote_volume: Amount(price * qty),
                trade_count: 1,
            }),
        }
    }
    out
}

async fn candles_aggregate_across_intervals_and_batches(s: Store) {
    let mut j = Journal::setup(2, T0);
    let mut rng = Rng::new(42);
    let mut ts = 1_699_999_000_000; // not aligned to any bucket
    let mut trades = Vec::new();
    for n in 1..=400u64 {
        ts += rng.below(if n % 50 == 0 { 20_000_000 } else { 200_000 });
        let price = 900 + rng.below(200);
        let qty = 1 + rng.below(9);
        let (maker, taker) = (2 * n - 1, 2 * n);
        j.push(
            ts,
            vec![accepted(info(
                maker,
                1,
                BTC_USD,
                Side::Sell,
                price,
                qty,
                ts,
            ))],
        );
        j.push(
            ts,
            vec![
                accepted(info(taker, 2, BTC_USD, Side::Buy, price, qty, ts)),
                trade(n, BTC_USD, price, qty, Side::Buy, (maker, 1), (taker, 2)),
            ],
        );
        trades.push((ts, price, qty));
    }
    // Uneven batches, so buckets are merged both in memory and with stored candles.
    let mut at = 0;
    let mut size = 1;
    while at < j.cmds.len() {
        let end = (at + size).min(j.cmds.len());
        s.project(&j.cmds[at..end]).await.unwrap();
        at = end;
        size = size * 3 % 97 + 1;
    }
    for iv in Interval::ALL {
        let expected = reference_candles(&trades, iv);
        let mut got = Vec::new();
        let mut from = Timestamp(0);
        loop {
            let page = s
                .candles(BTC_USD, iv, from, Timestamp(ts), 100)
                .await
                .unwrap();
            let done = page.len() < 100;
            if let Some(last) = page.last() {
                from = Timestamp(last.start.0 + 1);
            }
            got.extend(page);
            if done {
                break;
            }
        }
        assert_eq!(got, expected, "{iv}");
        // A range in the middle is exact at both ends.
        if expected.len() > 4 {
            let (a, b) = (expected[1].start, expected[3].start);
            assert_eq!(
                s.candles(BTC_USD, iv, a, b, 1000).await.unwrap(),
                expected[1..=3].to_vec(),
                "{iv}"
            );
        }
    }
    let total: u64 = trades.iter().map(|t| t.2).sum();
    let days = s
        .candles(BTC_USD, Interval::D1, Timestamp(0), Timestamp(ts), 1000)
        .await
        .unwrap();
    assert_eq!(days.iter().map(|c| c.volume.0).sum::<u64>(), total);
    assert!(s
        .candles(ETH_USD, Interval::M1, Timestamp(0), Timestamp(ts), 1000)
        .await
        .unwrap()
        .is_empty());
}

async fn cursor_pagination_has_no_gaps_or_duplicates(s: Store) {
    let j = market_stream(99, 600);
    s.project(&j.cmds).await.unwrap();
    for u in 1..=6 {
        let user = UserId(u);
        let all = all_orders(&s, user, None, None, 1000).await;
        assert!(all.len() > 20, "user {u} has {} orders", all.len());
        assert!(
            all.windows(2).all(|w| w[0].id > w[1].id),
            "newest first, strictly"
        );
        assert!(all.iter().all(|o| o.user == user));
        for page in [1, 3, 10, 1000] {
            assert_eq!(
                all_orders(&s, user, None, None, page).await,
                all,
                "page {page}"
            );
        }
        for (status, market) in [
            (Some(StatusFilter::Open), None),
            (Some(StatusFilter::Closed), Some(ETH_USD)),
            (None, Some(BTC_USD)),
        ] {
            let want: Vec<OrderRow> = all
                .iter()
                .filter(|o| match status {
                    Some(StatusFilter::Open) => !o.status.is_terminal(),
                    Some(StatusFilter::Closed) => o.status.is_terminal(),
                    None => true,
                })
                .filter(|o| market.is_none_or(|m| o.market == m))
                .cloned()
                .collect();
            assert_eq!(all_orders(&s, user, status, market, 4).await, want);
        }
        let fills = all_fills(&s, user, None, 1000).await;
        assert!(fills.windows(2).all(|w| w[0].id > w[1].id));
        for page in [1, 7] {
            assert_eq!(all_fills(&s, user, None, page).await, fills);
        }
        let eth: Vec<FillRow> = fills
            .iter()
            .filter(|f| f.market == ETH_USD)
            .cloned()
            .collect();
        assert_eq!(all_fills(&s, user, Some(ETH_USD), 2).await, eth);
        // Balance history pages by (seq, idx).
        let hist = s.balance_history(user, None, None, 1000).await.unwrap();
        let mut paged: Vec<BalanceHistoryRow> = Vec::new();
        loop {
            let page = s
                .balance_history(user, None, paged.last().map(|h| h.pos), 3)
                .await
                .unwrap();
            let done = page.len() < 3;
            paged.extend(page);
            if done {
                break;
            }
        }
        assert_eq!(paged, hist);
    }
    // Limit is clamped to 1..=1000.
    let q = OrderQuery {
        user: UserId(1),
        status: None,
        market: None,
        before: None,
        limit: 0,
    };
    assert_eq!(s.orders(&q).await.unwrap().len(), 1);
    // Trades page too.
    let trades = s.trades(BTC_USD, None, 1000).await.unwrap();
    let mut paged: Vec<TradeRow> = Vec::new();
    loop {
        let page = s
            .trades(BTC_USD, paged.last().map(|t| t.id), 9)
            .await
            .unwrap();
        let done = page.len() < 9;
        paged.extend(page);
        if done {
            break;
        }
    }
    assert_eq!(paged, trades);
}

async fn ticker_covers_the_last_24_hours(s: Store) {
    const H: u64 = 3_600_000;
    let mut j = Journal::setup(2, T0);
    // (hours after T0, price, qty)
    let points = [
        (0, 500, 1),
        (10, 300, 2),
        (26, 400, 3),
        (30, 700, 4),
        (49, 600, 5),
    ];
    for (n, &(h, price, qty)) in points.iter().enumerate() {
        let n = n as u64 + 1;
        let ts = T0 + h * H;
        j.push(
            ts,
            vec![accepted(info(
                2 * n - 1,
                1,
                BTC_USD,
                Side::Sell,
                price,
                qty,
                ts,
            ))],
        );
        j.push(
            ts,
            vec![
                accepted(info(2 * n, 2, BTC_USD, Side::Buy, price, qty, ts)),
                trade(
                    n,
                    BTC_USD,
                    price,
                    qty,
                    Side::Buy,
                    (2 * n - 1, 1),
                    (2 * n, 2),
                ),
            ],
        );
    }
    s.project(&j.cmds).await.unwrap();
    // Trades after `now` are not seen, not even as the last price.
    let t = s.ticker_24h(BTC_USD, Timestamp(T0 + 31 * H)).await.unwrap();
    assert_eq!(t.last_price, Some(Price(700)));
    let w = t.window.unwrap();
    assert_eq!(
        (w.open, w.high, w.low, w.close),
        (Price(300), Price(700), Price(300), Price(700))
    );
    assert_eq!(
        (w.volume, w.quote_volume, w.trade_count),
        (Qty(9), Amount(300 * 2 + 400 * 3 + 700 * 4), 3)
    );
    // The window is exact to the minute: 24 h after the 10 h trade it is still in, two
    // minutes later it is out.
    let w = s
        .ticker_24h(BTC_USD, Timestamp(T0 + 34 * H))
        .await
        .unwrap()
        .window
        .unwrap();
    assert_eq!((w.open, w.trade_count), (Price(300), 3));
    let w = s
        .ticker_24h(BTC_USD, Timestamp(T0 + 34 * H + 120_000))
        .await
        .unwrap()
        .window
        .unwrap();
    assert_eq!(
        (w.open, w.high, w.low, w.close),
        (Price(400), Price(700), Price(400), Price(700))
    );
    assert_eq!(
        (w.volume, w.quote_volume, w.trade_count),
        (Qty(7), Amount(400 * 3 + 700 * 4), 2)
    );
    // 60 h: only the trade at 49 h; 80 h: none in the window, last price still known.
    let w = s
        .ticker_24h(BTC_USD, Timestamp(T0 + 60 * H))
        .await
        .unwrap()
        .window
        .unwrap();
    assert_eq!(
        (w.open, w.close, w.trade_count),
        (Price(600), Price(600), 1)
    );
    let t = s.ticker_24h(BTC_USD, Timestamp(T0 + 80 * H)).await.unwrap();
    assert_eq!((t.window, t.last_price), (None, Some(Price(600))));
    let t = s.ticker_24h(ETH_USD, Timestamp(T0 + 80 * H)).await.unwrap();
    assert_eq!((t.window, t.last_price), (None, None));
}

/// One longer stream into both backends, in different batch sizes: every query agrees.
#[tokio::test]
async fn sqlite_and_postgres_agree_on_a_long_stream() {
    let j = market_stream(2024, 1500);
    let now = j.cmds.last().unwrap().1;
    let lite = common::TestDb::new(common::Kind::Sqlite).await;
    let pg = common::TestDb::new(common::Kind::Postgres).await;
    for chunk in j.cmds.chunks(64) {
        lite.store.project(chunk).await.unwrap();
    }
    for chunk in j.cmds.chunks(500) {
        pg.store.project(chunk).await.unwrap();
    }
    let a = dump(&lite.store, 6, now).await;
    let b = dump(&pg.store, 6, now).await;
    lite.drop().await;
    pg.drop().await;
    assert_eq!(a.last_seq, 1500);
    assert!(a.trades.iter().map(Vec::len).sum::<usize>() > 100);
    assert!(a.pending.len() + a.withdrawals.iter().map(Vec::len).sum::<usize>() > 5);
    assert_eq!(a, b);
}

#[tokio::test]
async fn a_bad_url_is_refused() {
    assert!(matches!(
        Store::connect("mysql://x").await,
        Err(StoreError::UnsupportedUrl)
    ));
}

#[tokio::test]
async fn postgres_unreachable_is_an_error() {
    let err = Store::connect("postgres://postgres@127.0.0.1:1/none")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Database(_)));
    assert_eq!(
        err.to_string(),
        "database error",
        "no detail leaks into the message"
    );
}
