//! Every event kind the core emits, projected into its rows.

use crate::both;
use crate::common::fixtures::*;
use crate::T0;
use bourse_model::*;
use bourse_store::*;

both!(every_event_kind_is_projected);

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
            remaining: None,
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
