//! Placing and canceling orders: shape, risk limits, balance, client ids, time in
//! force, GTD expiry, market orders, cancel-all.

use super::fixtures::*;
use crate::tests::*;
use bourse_model::RejectCode::*;

#[test]
fn order_shape_rules() {
    let mut fx = Fx::new();
    let l = limit(ALICE, Side::Buy, 100, 1);
    assert_eq!(
        fx.place_rej(NewOrder {
            price: None,
            ..l.clone()
        }),
        InvalidPrice
    );
    assert_eq!(
        fx.place_rej(NewOrder {
            price: Some(Price(0)),
            ..l.clone()
        }),
        InvalidPrice
    );
    assert_eq!(
        fx.place_rej(NewOrder {
            stop_price: Some(Price(5)),
            ..l.clone()
        }),
        InvalidPrice
    );
    assert_eq!(
        fx.place_rej(NewOrder {
            qty: None,
            ..l.clone()
        }),
        InvalidQuantity
    );
    assert_eq!(
        fx.place_rej(NewOrder {
            qty: Some(Qty(0)),
            ..l.clone()
        }),
        InvalidQuantity
    );
    assert_eq!(
        fx.place_rej(NewOrder {
            quote_qty: Some(Amount(5)),
            ..l.clone()
        }),
        InvalidQuantity
    );
    let m = market(ALICE, Side::Buy, Some(1), None);
    assert_eq!(
        fx.place_rej(NewOrder {
            price: Some(Price(1)),
            ..m.clone()
        }),
        InvalidPrice
    );
    assert_eq!(
        fx.place_rej(NewOrder {
            quote_qty: Some(Amount(5)),
            ..m.clone()
        }),
        InvalidQuantity
    );
    assert_eq!(
        fx.place_rej(NewOrder {
            qty: None,
            ..m.clone()
        }),
        InvalidQuantity
    );
    let gtd = NewOrder {
        tif: TimeInForce::Gtd,
        expire_at: Some(Timestamp(1)),
        ..m.clone()
    };
    assert_eq!(fx.place_rej(gtd), InvalidOrder);
    let fok_quote = NewOrder {
        tif: TimeInForce::Fok,
        qty: None,
        quote_qty: Some(Amount(9)),
        ..m
    };
    assert_eq!(fx.place_rej(fok_quote), InvalidOrder);
    let stop_sell_quote = NewOrder {
        order_type: OrderType::StopMarket,
        side: Side::Sell,
        price: None,
        stop_price: Some(Price(90)),
        qty: None,
        quote_qty: Some(Amount(100)),
        ..l.clone()
    };
    assert_eq!(fx.place_rej(stop_sell_quote), InvalidQuantity);
    let sl = NewOrder {
        order_type: OrderType::StopLimit,
        ..l.clone()
    };
    assert_eq!(fx.place_rej(sl), InvalidPrice);
    assert_eq!(
        fx.place_rej(NewOrder {
            tif: TimeInForce::Gtd,
            ..l.clone()
        }),
        InvalidOrder
    );
    assert_eq!(
        fx.place_rej(NewOrder {
            expire_at: Some(Timestamp(9_999)),
            ..l.clone()
        }),
        InvalidOrder
    );
    let past = NewOrder {
        tif: TimeInForce::Gtd,
        expire_at: Some(Timestamp(fx.ts + 1)),
        ..l.clone()
    };
    assert_eq!(fx.place_rej(past), ExpireAtInPast);
    assert_eq!(
        fx.place_rej(NewOrder {
            post_only: true,
            tif: TimeInForce::Ioc,
            ..l.clone()
        }),
        InvalidOrder
    );
    assert_eq!(
        fx.place_rej(NewOrder {
            market: MarketId(3),
            ..l.clone()
        }),
        UnknownMarket
    );
    assert_eq!(
        fx.place_rej(NewOrder {
            user: UserId(77),
            ..l
        }),
        UnknownUser
    );
}

#[test]
fn risk_limits() {
    let spec = MarketSpec {
        min_qty: Qty(2),
        max_qty: Qty(1_000),
        min_notional: Amount(150),
        price_band_bps: 1_000,
        max_open_orders: 2,
        ..toy_spec("B-Q", 0, 1)
    };
    let mut fx = Fx::with(CoreConfig::default(), spec);
    assert_eq!(
        fx.place_rej(limit(ALICE, Side::Buy, 100, 1)),
        QuantityTooSmall
    );
    assert_eq!(
        fx.place_rej(limit(ALICE, Side::Buy, 100, 1_001)),
        QuantityTooLarge
    );
    assert_eq!(
        fx.place_rej(limit(ALICE, Side::Buy, 70, 2)),
        NotionalTooSmall
    );
    assert_eq!(
        fx.place_rej(limit(ALICE, Side::Buy, i64::MAX as u64, 2)),
        NotionalTooLarge
    );
    // A price past the read models' signed 64-bit range is no price at all.
    assert_eq!(
        fx.place_rej(limit(ALICE, Side::Sell, i64::MAX as u64 + 1, 2)),
        InvalidPrice
    );
    // No last price yet: no band.
    fx.place_ok(limit(ALICE, Side::Sell, 500, 2));
    fx.place_ok(limit(BOB, Side::Buy, 500, 2));
    assert_eq!(fx.core.last_price(M), Some(Price(500)));
    assert_eq!(
        fx.place_rej(limit(ALICE, Side::Buy, 449, 2)),
        PriceOutOfBand
    );
    assert_eq!(
        fx.place_rej(limit(ALICE, Side::Sell, 551, 2)),
        PriceOutOfBand
    );
    fx.place_ok(limit(ALICE, Side::Buy, 450, 2));
    fx.place_ok(limit(ALICE, Side::Buy, 451, 2));
    assert_eq!(
        fx.place_rej(limit(ALICE, Side::Buy, 452, 2)),
        TooManyOpenOrders
    );
    // An IOC cannot rest, so it does not count against the limit.
    fx.place_ok(NewOrder {
        tif: TimeInForce::Ioc,
        ..limit(ALICE, Side::Buy, 452, 2)
    });
    assert_eq!(
        fx.place_rej(limit(CAROL, Side::Buy, 500, 1_000_000 / 500)),
        QuantityTooLarge
    );
}

#[test]
fn insufficient_balance_and_duplicate_client_ids() {
    let mut fx = Fx::new();
    let wd = CommandKind::RequestWithdrawal {
        user: ALICE,
        asset: B,
        amount: Amount(1),
        address: "a".into(),
        client_withdrawal_id: None,
    };
    fx.ok(wd);
    assert_eq!(
        fx.place_rej(limit(ALICE, Side::Sell, 100, START_B)),
        InsufficientBalance
    );
    // Exactly the balance: 1_000_000 × 99 + fee 0.2 % = 99_198_000 ≤ 100_000_000.
    fx.place_ok(limit(ALICE, Side::Buy, 99, START_B));
    assert_eq!(
        fx.place_rej(limit(ALICE, Side::Buy, 1, 1_000_000)),
        InsufficientBalance
    );
    let cid = ClientOrderId::new("abc").unwrap();
    let o = NewOrder {
        client_order_id: Some(cid.clone()),
        ..limit(BOB, Side::Buy, 50, 1)
    };
    let id = fx.place_ok(o.clone());
    fx.ok(CommandKind::CancelOrder {
        user: BOB,
        order: id,
    });
    // Still a duplicate after the order closed (inside the window), and the rejection
    // names the original.
    assert_eq!(
        fx.place(o.clone()),
        vec![Event::Rejected {
            code: DuplicateClientOrderId,
            order: Some(id),
            withdrawal: None,
            remaining: None,
        }]
    );
    assert_eq!(fx.core.order_by_client_id(BOB, &cid), Some(id));
    // Another user may use the same id.
    fx.place_ok(NewOrder { user: CAROL, ..o });
}

#[test]
fn ioc_fok_and_post_only() {
    let mut fx = Fx::new();
    fx.place_ok(limit(ALICE, Side::Sell, 100, 5));
    fx.place_ok(limit(ALICE, Side::Sell, 101, 5));
    // FOK for 11 cannot fill: rejected, nothing traded.
    let fok = NewOrder {
        tif: TimeInForce::Fok,
        ..limit(BOB, Side::Buy, 101, 11)
    };
    assert_eq!(fx.place_rej(fok.clone()), FokCannotFill);
    // FOK for 10 fills completely.
    let ev = fx.place(NewOrder {
        qty: Some(Qty(10)),
        ..fok
    });
    assert_eq!(trades(&ev).len(), 2);
    assert!(matches!(
        ev.last(),
        Some(Event::BalanceChanged { .. }) | Some(Event::OrderFilled { .. })
    ));
    fx.place_ok(limit(ALICE, Side::Sell, 102, 5));
    // IOC: fills 5, expires 3 and releases their hold.
    let ev = fx.place(NewOrder {
        tif: TimeInForce::Ioc,
        ..limit(BOB, Side::Buy, 102, 8)
    });
    assert!(ev.iter().any(|e| matches!(
        e,
        Event::OrderExpired {
            filled: Qty(5),
            remaining: Qty(3),
            reason: ExpireReason::ImmediateOrCancel,
            ..
        }
    )));
    assert_eq!(fx.bal(BOB, Q).1, 0);
    assert!(fx.core.best_ask(M).is_none());
    // Post-only.
    fx.place_ok(limit(ALICE, Side::Sell, 110, 5));
    let po = NewOrder {
        post_only: true,
        ..limit(BOB, Side::Buy, 110, 1)
    };
    assert_eq!(fx.place_rej(po.clone()), PostOnlyWouldTake);
    let id = fx.place_ok(NewOrder {
        price: Some(Price(109)),
        ..po
    });
    assert_eq!(fx.core.order(id).unwrap().status, OrderStatus::Open);
}

#[test]
fn gtd_orders_expire_by_sweep_and_lazily() {
    let mut fx = Fx::new();
    let t = fx.ts;
    let gtd = |u, side, p, at| NewOrder {
        tif: TimeInForce::Gtd,
        expire_at: Some(Timestamp(at)),
        ..limit(u, side, p, 5)
    };
    let a = fx.place_ok(gtd(ALICE, Side::Sell, 100, t + 10));
    let b = fx.place_ok(gtd(ALICE, Side::Sell, 101, t + 100));
    assert_eq!(fx.core.next_expiry(), Some(Timestamp(t + 10)));
    fx.ts = t + 20;
    // The sweep takes `a` (expired) but not `b`.
    let ev = fx.ok(CommandKind::ExpireOrders);
    assert!(
        matches!(ev[0], Event::OrderExpired { order, reason: ExpireReason::GoodTillDate, .. } if order == a)
    );
    assert!(fx.core.order(b).is_some());
    assert_eq!(fx.bal(ALICE, B), (START_B - 5, 5));
    let c = fx.place_ok(gtd(ALICE, Side::Sell, 100, t + 30));
    fx.ts = t + 40;
    // A taker meets `c` past its expiry: expired, not matched; trades with `b`.
    let ev = fx.place(limit(BOB, Side::Buy, 101, 5));
    assert!(ev
        .iter()
        .any(|e| matches!(e, Event::OrderExpired { order, .. } if *order == c)));
    assert_eq!(trades(&ev), vec![(101, 5, b, OrderId(4))]);
    assert_eq!(fx.bal(ALICE, B).1, 0);
    assert_eq!(fx.core.next_expiry(), None);
}

#[test]
fn market_orders_by_size_and_by_quote() {
    let mut fx = Fx::new();
    // No asks: accepted, expires at once, nothing held.
    let ev = fx.place(market(BOB, Side::Buy, Some(5), None));
    assert!(matches!(
        ev.last(),
        Some(Event::OrderExpired {
            filled: Qty(0),
            remaining: Qty(5),
            ..
        })
    ));
    fx.place_ok(limit(ALICE, Side::Sell, 100, 2));
    fx.place_ok(limit(ALICE, Side::Sell, 104, 2));
    fx.place_ok(limit(ALICE, Side::Sell, 106, 2));
    // Cap = 100 × 1.05 = 105: buys 4, expires 1.
    let ev = fx.place(market(BOB, Side::Buy, Some(5), None));
    assert_eq!(
        trades(&ev).iter().map(|t| t.0).collect::<Vec<_>>(),
        vec![100, 104]
    );
    assert!(matches!(
        ev.last(),
        Some(Event::BalanceChanged {
            held: Amount(0),
            ..
        })
    ));
    assert_eq!(fx.bal(BOB, Q).1, 0);
    // By quote: 500 incl. 20 bps taker fee -> notional ≤ 499 -> 4 lots at 106 = 424.
    let ev = fx.place(market(CAROL, Side::Buy, None, Some(500)));
    assert_eq!(trades(&ev), vec![(106, 2, OrderId(4), OrderId(6))]);
    assert_eq!(fx.bal(CAROL, Q), (START_Q - 212, 0));
    // Sell by quote: Bob holds all his base, stops once 250 gross is reached.
    fx.place_ok(limit(ALICE, Side::Buy, 100, 10));
    let ev = fx.place(market(BOB, Side::Sell, None, Some(250)));
    assert_eq!(trades(&ev), vec![(100, 2, OrderId(7), OrderId(8))]);
    assert!(matches!(
        ev.iter()
            .rev()
            .find(|e| matches!(e, Event::OrderFilled { .. })),
        Some(Event::OrderFilled { filled: Qty(2), .. })
    ));
    assert_eq!(fx.bal(BOB, B).1, 0);
    // Market sell by size: floor 100 × 0.95 = 95.
    fx.place_ok(limit(ALICE, Side::Buy, 94, 10));
    let ev = fx.place(market(CAROL, Side::Sell, Some(20), None));
    assert_eq!(trades(&ev), vec![(100, 8, OrderId(7), OrderId(10))]);
}

#[test]
fn cancel_all_per_market_and_unknown_orders() {
    let mut fx = Fx::new();
    fx.ok(CommandKind::CreateAsset {
        symbol: sym("C"),
        scale: 0,
    });
    fx.ok(CommandKind::CreateMarket(Box::new(toy_spec("C-Q", 2, 1))));
    fx.place_ok(limit(ALICE, Side::Buy, 10, 1));
    fx.place_ok(NewOrder {
        market: MarketId(1),
        ..limit(ALICE, Side::Buy, 10, 1)
    });
    let bob = fx.place_ok(limit(BOB, Side::Buy, 10, 1));
    assert_eq!(
        fx.rej(CommandKind::CancelOrder {
            user: ALICE,
            order: bob
        }),
        UnknownOrder
    );
    assert_eq!(
        fx.rej(CommandKind::CancelOrder {
            user: ALICE,
            order: OrderId(99)
        }),
        UnknownOrder
    );
    assert_eq!(
        fx.rej(CommandKind::CancelAll {
            user: ALICE,
            market: Some(MarketId(4))
        }),
        UnknownMarket
    );
    fx.ok(CommandKind::CancelAll {
        user: ALICE,
        market: Some(M),
    });
    assert_eq!(fx.core.open_orders(ALICE).len(), 1);
    fx.ok(CommandKind::CancelAll {
        user: ALICE,
        market: None,
    });
    assert!(fx.core.open_orders(ALICE).is_empty());
    assert_eq!(fx.core.open_orders(BOB).len(), 1);
}

#[test]
fn quote_sized_orders_respect_min_notional() {
    let spec = MarketSpec {
        min_notional: Amount(150),
        ..toy_spec("B-Q", 0, 1)
    };
    let mut fx = Fx::with(CoreConfig::default(), spec);
    fx.place_ok(limit(ALICE, Side::Sell, 100, 10));
    fx.place_ok(limit(ALICE, Side::Buy, 90, 10));
    for quote in [1, 149] {
        assert_eq!(
            fx.place_rej(market(BOB, Side::Buy, None, Some(quote))),
            NotionalTooSmall
        );
        assert_eq!(
            fx.place_rej(market(BOB, Side::Sell, None, Some(quote))),
            NotionalTooSmall
        );
        assert_eq!(
            fx.place_rej(NewOrder {
                order_type: OrderType::StopMarket,
                stop_price: Some(Price(120)),
                ..market(BOB, Side::Buy, None, Some(quote))
            }),
            NotionalTooSmall
        );
    }
    // At the minimum: accepted (and trades: 150 incl. 20 bps fee buys 1 lot at 100).
    let ev = fx.place(market(BOB, Side::Buy, None, Some(150)));
    assert_eq!(trades(&ev), vec![(100, 1, OrderId(1), OrderId(3))]);
}
