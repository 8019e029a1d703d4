//! One test (or a few) per rule of the crate docs.

use super::*;
use crate::CoreError;
use bourse_model::RejectCode::*;

const START_B: u64 = 1_000_000;
const START_Q: u64 = 100_000_000;

#[test]
fn reference_data_ids_and_rejects() {
    let mut fx = Fx::new();
    assert_eq!(fx.core.asset_by_symbol("Q"), Some(Q));
    assert_eq!(fx.core.market_by_symbol("B-Q"), Some(M));
    assert_eq!(fx.core.user_by_name("carol"), Some(CAROL));
    assert_eq!(
        fx.rej(CommandKind::CreateAsset {
            symbol: sym("B"),
            scale: 2
        }),
        AssetExists
    );
    assert_eq!(
        fx.rej(CommandKind::CreateAsset {
            symbol: sym("X"),
            scale: 19
        }),
        InvalidAssetSpec
    );
    assert_eq!(
        fx.rej(CommandKind::CreateMarket(Box::new(toy_spec("B-Q", 0, 1)))),
        MarketExists
    );
    assert_eq!(
        fx.rej(CommandKind::CreateMarket(Box::new(toy_spec("B-X", 0, 7)))),
        UnknownAsset
    );
    let wrong_scale = MarketSpec {
        base_scale: 2,
        ..toy_spec("B-Q2", 0, 1)
    };
    assert_eq!(
        fx.rej(CommandKind::CreateMarket(Box::new(wrong_scale))),
        InvalidMarketSpec
    );
    let same = toy_spec("B-B", 0, 0);
    assert_eq!(
        fx.rej(CommandKind::CreateMarket(Box::new(same))),
        InvalidMarketSpec
    );
    let ev = fx.ok(CommandKind::CreateAsset {
        symbol: sym("C"),
        scale: 0,
    });
    assert_eq!(
        ev,
        vec![Event::AssetCreated {
            asset: AssetId(2),
            symbol: sym("C"),
            scale: 0
        }]
    );
    let ev = fx.ok(CommandKind::CreateMarket(Box::new(toy_spec("C-Q", 2, 1))));
    assert!(matches!(
        ev[0],
        Event::MarketCreated {
            market: MarketId(1),
            ..
        }
    ));
    let reg = |n: &str| CommandKind::RegisterUser {
        username: n.into(),
        password_hash: "x".into(),
        role: Role::Admin,
    };
    assert_eq!(fx.rej(reg("bob")), UsernameTaken);
    assert!(matches!(
        fx.ok(reg("dave"))[0],
        Event::UserRegistered {
            user: UserId(4),
            ..
        }
    ));
    let dep = CommandKind::Deposit {
        user: UserId(9),
        asset: Q,
        amount: Amount(1),
    };
    assert_eq!(fx.rej(dep), UnknownUser);
    let dep = CommandKind::Deposit {
        user: ALICE,
        asset: AssetId(9),
        amount: Amount(1),
    };
    assert_eq!(fx.rej(dep), UnknownAsset);
    assert_eq!(
        fx.rej(CommandKind::Deposit {
            user: ALICE,
            asset: Q,
            amount: Amount(0)
        }),
        InvalidAmount
    );
    let huge = CommandKind::Deposit {
        user: ALICE,
        asset: Q,
        amount: Amount(u64::MAX),
    };
    assert_eq!(fx.rej(huge), InvalidAmount);
    // Alice holds some already: the supply would pass i64::MAX.
    let past_bound = CommandKind::Deposit {
        user: ALICE,
        asset: Q,
        amount: Amount(i64::MAX as u64),
    };
    assert_eq!(fx.rej(past_bound), InvalidAmount);
    let halt = CommandKind::SetMarketStatus {
        market: M,
        status: MarketStatus::Open,
    };
    assert_eq!(fx.rej(halt), MarketAlreadyInState);
    let st = CommandKind::SetMarketStatus {
        market: MarketId(5),
        status: MarketStatus::Halted,
    };
    assert_eq!(fx.rej(st), UnknownMarket);
}

#[test]
fn users_keys_and_passwords_are_stored() {
    let mut fx = Fx::new();
    let key = CommandKind::CreateApiKey {
        user: BOB,
        key_id: "k1".into(),
        secret_enc: "s".into(),
        label: "bot".into(),
    };
    fx.ok(key.clone());
    assert_eq!(fx.rej(key), ApiKeyExists);
    let del = CommandKind::DeleteApiKey {
        user: BOB,
        key_id: "nope".into(),
    };
    assert_eq!(fx.rej(del), UnknownApiKey);
    fx.ok(CommandKind::SetPassword {
        user: BOB,
        password_hash: "h2".into(),
    });
    fx.ok(CommandKind::SetUserRole {
        user: BOB,
        role: Role::Broker,
    });
    let u = fx.core.user(BOB).unwrap();
    assert_eq!((u.password_hash.as_str(), u.role), ("h2", Role::Broker));
    assert_eq!(u.api_keys, vec![("k1".into(), "s".into(), "bot".into())]);
    fx.ok(CommandKind::DeleteApiKey {
        user: BOB,
        key_id: "k1".into(),
    });
    assert!(fx.core.user(BOB).unwrap().api_keys.is_empty());
    assert_eq!(
        fx.rej(CommandKind::SetUserRole {
            user: UserId(0),
            role: Role::Admin
        }),
        UnknownUser
    );
}

#[test]
fn withdrawals_hold_then_complete_or_return() {
    let mut fx = Fx::new();
    let req = |amount| CommandKind::RequestWithdrawal {
        user: ALICE,
        asset: Q,
        amount: Amount(amount),
        address: "addr".into(),
        client_withdrawal_id: None,
    };
    assert_eq!(fx.rej(req(START_Q + 1)), InsufficientBalance);
    assert_eq!(fx.rej(req(0)), InvalidAmount);
    fx.ok(req(1_000));
    fx.ok(req(500));
    assert_eq!(fx.bal(ALICE, Q), (START_Q - 1_500, 1_500));
    assert_eq!(fx.core.pending_withdrawals().len(), 2);
    let ev = fx.ok(CommandKind::CompleteWithdrawal {
        id: WithdrawalId(1),
    });
    assert!(matches!(
        ev[0],
        Event::WithdrawalCompleted {
            amount: Amount(1_000),
            ..
        }
    ));
    assert_eq!(fx.core.external_balance(Q), -(3 * START_Q as i128) + 1_000);
    fx.ok(CommandKind::RejectWithdrawal {
        id: WithdrawalId(2),
    });
    assert_eq!(fx.bal(ALICE, Q), (START_Q - 1_000, 0));
    assert_eq!(
        fx.rej(CommandKind::CompleteWithdrawal {
            id: WithdrawalId(2)
        }),
        WithdrawalNotPending
    );
    assert_eq!(
        fx.rej(CommandKind::RejectWithdrawal {
            id: WithdrawalId(3)
        }),
        UnknownWithdrawal
    );
}

#[test]
fn limit_holds_fills_at_maker_price_and_fees_round_down() {
    let mut fx = Fx::new();
    // Sell 100 @ 100: holds 100 B.
    let ask = fx.place_ok(limit(ALICE, Side::Sell, 100, 100));
    assert_eq!(fx.bal(ALICE, B), (START_B - 100, 100));
    // Buy 60 @ 105: hold = 6_300 + 20 bps (12) = 6_312, then fills at 100.
    let ev = fx.place(limit(BOB, Side::Buy, 105, 60));
    let bid = OrderId(2);
    assert_eq!(trades(&ev), vec![(100, 60, ask, bid)]);
    let t = ev
        .iter()
        .find(|e| matches!(e, Event::Trade { .. }))
        .unwrap();
    // notional 6_000: taker fee 12, maker fee 6.
    assert!(matches!(
        t,
        Event::Trade {
            notional: Amount(6_000),
            maker_fee: Amount(6),
            taker_fee: Amount(12),
            ..
        }
    ));
    assert!(matches!(ev.last(), Some(Event::OrderFilled { order, .. }) if *order == bid));
    assert_eq!(fx.bal(BOB, Q), (START_Q - 6_012, 0));
    assert_eq!(fx.bal(BOB, B), (START_B + 60, 0));
    assert_eq!(fx.bal(ALICE, Q), (START_Q + 6_000 - 6, 0));
    assert_eq!(fx.bal(ALICE, B), (START_B - 100, 40));
    assert_eq!(fx.core.fee_balance(Q), Amount(18));
    let v = fx.core.order(ask).unwrap();
    assert_eq!(
        (v.status, v.filled, v.remaining),
        (OrderStatus::PartiallyFilled, Qty(60), Qty(40))
    );
    // A tiny trade: notional 100 -> fees floor to 0.
    fx.place_ok(limit(CAROL, Side::Buy, 100, 1));
    assert_eq!(fx.core.fee_balance(Q), Amount(18));
    // Cancel releases the rest.
    let ev = fx.ok(CommandKind::CancelOrder {
        user: ALICE,
        order: ask,
    });
    assert!(matches!(
        ev[0],
        Event::OrderCanceled {
            remaining: Qty(39),
            reason: CancelReason::User,
            ..
        }
    ));
    assert_eq!(fx.bal(ALICE, B).1, 0);
    assert!(fx.core.order(ask).is_none());
}

#[test]
fn resting_buy_hold_tracks_the_remainder_exactly() {
    let mut fx = Fx::new();
    let bid = fx.place_ok(limit(BOB, Side::Buy, 100, 10));
    // 1_000 + fee at max(10, 20) bps = 2.
    assert_eq!(fx.bal(BOB, Q), (START_Q - 1_002, 1_002));
    fx.place_ok(limit(ALICE, Side::Sell, 99, 3));
    // Bob (maker) paid 300 + floor(300 × 10 bps) = 300; 7 left need 700 + 1.
    assert_eq!(fx.bal(BOB, Q), (START_Q - 300 - 701, 701));
    assert_eq!(fx.core.order(bid).unwrap().hold, Amount(701));
}

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
fn self_trade_prevention_modes() {
    let mut fx = Fx::new();
    let a1 = fx.place_ok(limit(ALICE, Side::Sell, 100, 5));
    let b1 = fx.place_ok(limit(BOB, Side::Sell, 101, 5));
    // ExpireTaker: stops at Alice's own order, remainder canceled, maker untouched.
    let ev = fx.place(limit(ALICE, Side::Buy, 101, 3));
    assert!(trades(&ev).is_empty());
    assert!(ev.iter().any(|e| matches!(
        e,
        Event::OrderCanceled {
            remaining: Qty(3),
            reason: CancelReason::SelfTradePrevention,
            ..
        }
    )));
    assert!(fx.core.order(a1).is_some());
    // ExpireMaker: cancels Alice's ask and trades with Bob's.
    let ev = fx.place(NewOrder {
        stp: StpMode::ExpireMaker,
        ..limit(ALICE, Side::Buy, 101, 3)
    });
    assert_eq!(trades(&ev), vec![(101, 3, b1, OrderId(4))]);
    assert!(fx.core.order(a1).is_none());
    // ExpireBoth: both go.
    let a2 = fx.place_ok(limit(ALICE, Side::Sell, 101, 5));
    let ev = fx.place(NewOrder {
        stp: StpMode::ExpireBoth,
        ..limit(ALICE, Side::Buy, 101, 9)
    });
    assert_eq!(trades(&ev), vec![(101, 2, b1, OrderId(6))]);
    assert!(fx.core.order(a2).is_none());
    assert!(fx.core.open_orders(ALICE).is_empty());
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
fn stops_trigger_in_order_and_cascade() {
    let mut fx = Fx::new();
    let stop = |u, side, stop: u64, p: u64, q| NewOrder {
        order_type: OrderType::StopLimit,
        stop_price: Some(Price(stop)),
        ..limit(u, side, p, q)
    };
    // Establish last = 100.
    fx.place_ok(limit(ALICE, Side::Sell, 100, 1));
    fx.place_ok(limit(BOB, Side::Buy, 100, 1));
    assert_eq!(
        fx.place_rej(stop(CAROL, Side::Buy, 100, 110, 1)),
        StopWouldTriggerImmediately
    );
    assert_eq!(
        fx.place_rej(stop(CAROL, Side::Sell, 101, 90, 1)),
        StopWouldTriggerImmediately
    );
    // Asks at 102, 103, 104 (1 each).
    for p in 102..=104 {
        fx.place_ok(limit(ALICE, Side::Sell, p, 1));
    }
    let s103 = fx.place_ok(stop(CAROL, Side::Buy, 103, 104, 1));
    let s102 = fx.place_ok(stop(CAROL, Side::Buy, 102, 102, 1));
    assert_eq!(fx.core.order(s102).unwrap().status, OrderStatus::New);
    // Trade at 102 triggers s102 (limit 102: no asks left there, it rests) only.
    let ev = fx.place(limit(BOB, Side::Buy, 102, 1));
    let triggered: Vec<_> = ev
        .iter()
        .filter_map(|e| match e {
            Event::StopTriggered { order, .. } => Some(*order),
            _ => None,
        })
        .collect();
    assert_eq!(triggered, vec![s102]);
    assert_eq!(fx.core.order(s102).unwrap().status, OrderStatus::Open);
    // A trade at 103 triggers s103, which buys at 104: a cascade of one more level.
    let ev = fx.place(limit(BOB, Side::Buy, 103, 1));
    assert!(ev
        .iter()
        .any(|e| matches!(e, Event::StopTriggered { order, .. } if *order == s103)));
    assert_eq!(trades(&ev).last(), Some(&(104, 1, OrderId(5), s103)));
    assert_eq!(fx.core.last_price(M), Some(Price(104)));
}

#[test]
fn stop_cascade_runs_lower_prices_first_then_chains() {
    let mut fx = Fx::new();
    fx.place_ok(limit(ALICE, Side::Sell, 100, 1));
    fx.place_ok(limit(BOB, Side::Buy, 100, 1));
    for p in 101..=106 {
        fx.place_ok(limit(ALICE, Side::Sell, p, 1));
    }
    let mk = |stop| NewOrder {
        order_type: OrderType::StopMarket,
        price: None,
        stop_price: Some(Price(stop)),
        tif: TimeInForce::Ioc,
        ..limit(CAROL, Side::Buy, 1, 1)
    };
    let s3 = fx.place_ok(mk(103));
    let s2 = fx.place_ok(mk(102));
    let s2b = fx.place_ok(mk(102));
    let s4 = fx.place_ok(mk(104));
    // Trade at 101 -> nothing. Trade at 102 -> s2, s2b (ties by id) buy 103, 104 -> s3, s4.
    fx.place_ok(limit(BOB, Side::Buy, 101, 1));
    let ev = fx.place(limit(BOB, Side::Buy, 102, 1));
    let order: Vec<_> = ev
        .iter()
        .filter_map(|e| match e {
            Event::StopTriggered { order, .. } => Some(*order),
            _ => None,
        })
        .collect();
    assert_eq!(order, vec![s2, s2b, s3, s4]);
    assert_eq!(fx.core.last_price(M), Some(Price(106)));
    assert!(fx.core.best_ask(M).is_none());
}

#[test]
fn amend_priority_and_holds() {
    let mut fx = Fx::new();
    let a1 = fx.place_ok(limit(ALICE, Side::Sell, 100, 10));
    let c1 = fx.place_ok(limit(CAROL, Side::Sell, 100, 10));
    // Reduce keeps a1 first in the queue.
    let ev = fx.ok(CommandKind::AmendOrder {
        user: ALICE,
        order: a1,
        price: None,
        qty: Some(Qty(4)),
    });
    assert!(matches!(
        ev[0],
        Event::OrderAmended {
            kept_priority: true,
            remaining: Qty(4),
            ..
        }
    ));
    assert_eq!(fx.bal(ALICE, B), (START_B - 4, 4));
    let ev = fx.place(limit(BOB, Side::Buy, 100, 2));
    assert_eq!(trades(&ev), vec![(100, 2, a1, OrderId(3))]);
    // A size increase loses priority.
    let ev = fx.ok(CommandKind::AmendOrder {
        user: ALICE,
        order: a1,
        price: None,
        qty: Some(Qty(8)),
    });
    assert!(matches!(
        ev[0],
        Event::OrderAmended {
            kept_priority: false,
            remaining: Qty(6),
            ..
        }
    ));
    let ev = fx.place(limit(BOB, Side::Buy, 100, 1));
    assert_eq!(trades(&ev), vec![(100, 1, c1, OrderId(4))]);
    // Amend to a crossing price trades as a taker.
    let b = fx.place_ok(limit(BOB, Side::Buy, 95, 3));
    let ev = fx.ok(CommandKind::AmendOrder {
        user: BOB,
        order: b,
        price: Some(Price(100)),
        qty: None,
    });
    assert_eq!(trades(&ev), vec![(100, 3, c1, b)]);
    assert!(fx.core.order(b).is_none());
    // Qty not above filled, foreign order, unknown, halted.
    let am = |u, q| CommandKind::AmendOrder {
        user: u,
        order: a1,
        price: None,
        qty: Some(Qty(q)),
    };
    assert_eq!(fx.rej(am(ALICE, 2)), InvalidQuantity);
    assert_eq!(fx.rej(am(BOB, 7)), UnknownOrder);
    assert_eq!(
        fx.rej(CommandKind::AmendOrder {
            user: ALICE,
            order: a1,
            price: None,
            qty: None
        }),
        InvalidOrder
    );
    let wd = CommandKind::RequestWithdrawal {
        user: ALICE,
        asset: B,
        amount: Amount(100),
        address: "a".into(),
        client_withdrawal_id: None,
    };
    fx.ok(wd);
    assert_eq!(fx.rej(am(ALICE, START_B)), InsufficientBalance);
    fx.ok(CommandKind::SetMarketStatus {
        market: M,
        status: MarketStatus::Halted,
    });
    assert_eq!(fx.rej(am(ALICE, 7)), MarketHalted);
    assert_eq!(fx.place_rej(limit(BOB, Side::Buy, 95, 3)), MarketHalted);
    // Cancel works in a halted market.
    fx.ok(CommandKind::CancelOrder {
        user: ALICE,
        order: a1,
    });
    fx.ok(CommandKind::SetMarketStatus {
        market: M,
        status: MarketStatus::Open,
    });
    fx.place_ok(limit(BOB, Side::Buy, 95, 3));
}

#[test]
fn amend_post_only_and_buy_hold() {
    let mut fx = Fx::new();
    fx.place_ok(limit(ALICE, Side::Sell, 100, 10));
    let po = fx.place_ok(NewOrder {
        post_only: true,
        ..limit(BOB, Side::Buy, 90, 10)
    });
    assert_eq!(fx.bal(BOB, Q).1, 900 + 1);
    let am = |p| CommandKind::AmendOrder {
        user: BOB,
        order: po,
        price: Some(Price(p)),
        qty: None,
    };
    assert_eq!(fx.rej(am(100)), PostOnlyWouldTake);
    fx.ok(am(99));
    assert_eq!(fx.bal(BOB, Q), (START_Q - 991, 990 + 1));
}

#[test]
fn kill_switch_and_kyc() {
    let mut fx = Fx::with(
        CoreConfig {
            kyc_required: true,
            ..CoreConfig::default()
        },
        toy_spec("B-Q", 0, 1),
    );
    assert_eq!(fx.place_rej(limit(ALICE, Side::Sell, 100, 1)), KycRequired);
    let wd = CommandKind::RequestWithdrawal {
        user: ALICE,
        asset: Q,
        amount: Amount(1),
        address: "a".into(),
        client_withdrawal_id: None,
    };
    assert_eq!(fx.rej(wd.clone()), KycRequired);
    let flags = |kyc, kill| CommandKind::SetUserFlags {
        user: ALICE,
        kyc_verified: kyc,
        kill_switch: kill,
        tier: None,
    };
    fx.ok(flags(Some(true), None));
    fx.ok(wd);
    fx.place_ok(limit(ALICE, Side::Sell, 100, 1));
    fx.place_ok(limit(ALICE, Side::Buy, 90, 1));
    let ev = fx.ok(flags(None, Some(true)));
    let canceled = ev
        .iter()
        .filter(|e| {
            matches!(
                e,
                Event::OrderCanceled {
                    reason: CancelReason::KillSwitch,
                    ..
                }
            )
        })
        .count();
    assert_eq!(canceled, 2);
    assert_eq!(fx.bal(ALICE, B).1, 0);
    assert_eq!(fx.bal(ALICE, Q).1, 1); // the pending withdrawal stays
    assert_eq!(
        fx.place_rej(limit(ALICE, Side::Sell, 100, 1)),
        KillSwitchActive
    );
    fx.ok(flags(None, Some(false)));
    fx.place_ok(limit(ALICE, Side::Sell, 100, 1));
}

#[test]
fn tier_fees_are_fixed_at_acceptance() {
    let mut fx = Fx::new();
    fx.ok(CommandKind::SetUserFlags {
        user: BOB,
        kyc_verified: None,
        kill_switch: None,
        tier: Some(Tier::Premium),
    });
    fx.place_ok(limit(ALICE, Side::Sell, 100, 100));
    let ev = fx.place(limit(BOB, Side::Buy, 100, 100));
    // Premium taker: 5 bps of 10_000 = 5; Alice maker 10 bps = 10.
    assert!(ev.iter().any(|e| matches!(
        e,
        Event::Trade {
            taker_fee: Amount(5),
            maker_fee: Amount(10),
            ..
        }
    )));
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
fn book_changes_carry_a_gap_free_sequence() {
    let mut fx = Fx::new();
    let ev = fx.place(limit(ALICE, Side::Sell, 100, 5));
    assert!(ev.contains(&Event::BookChanged {
        market: M,
        sequence: 1,
        side: Side::Sell,
        price: Price(100),
        qty: Qty(5)
    }));
    fx.place(limit(ALICE, Side::Sell, 101, 5));
    // One command changing two levels: both share sequence 3.
    let ev = fx.place(limit(BOB, Side::Buy, 101, 7));
    let seqs: Vec<_> = ev
        .iter()
        .filter_map(|e| match e {
            Event::BookChanged {
                sequence,
                price,
                qty,
                ..
            } => Some((*sequence, price.0, qty.0)),
            _ => None,
        })
        .collect();
    assert_eq!(seqs, vec![(3, 100, 0), (3, 101, 3)]);
    assert_eq!(fx.core.book_sequence(M), Some(3));
    // A rejected command does not move it.
    fx.place_rej(limit(BOB, Side::Buy, 101, 0));
    assert_eq!(fx.core.book_sequence(M), Some(3));
    assert_eq!(fx.core.depth(M, Side::Sell, 10), vec![(Price(101), Qty(3))]);
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
fn realistic_grid_amounts() {
    // BTC (8) / USD (6), price 0.01, size 0.0001: 1 tick·lot = 1 micro-USD, lot = 10⁴ sat.
    let spec = MarketSpec {
        base_scale: 8,
        quote_scale: 6,
        price_scale: 2,
        qty_scale: 4,
        min_notional: Amount(1_000_000),
        ..toy_spec("BTC-USD", 0, 1)
    };
    let mut fx = Fx::with(CoreConfig::default(), spec.clone());
    let price = spec.parse_price("50000.00").unwrap();
    let qty = spec.parse_qty("0.005").unwrap();
    fx.place_ok(NewOrder::limit(ALICE, M, Side::Sell, price, qty));
    assert_eq!(fx.bal(ALICE, B).1, 500_000); // 0.005 BTC in satoshi
    let ev = fx.place(NewOrder::limit(BOB, M, Side::Buy, price, Qty(10)));
    assert!(ev.iter().any(|e| matches!(
        e,
        Event::Trade {
            notional: Amount(50_000_000),
            ..
        }
    )));
    assert_eq!(fx.bal(BOB, B).0, START_B + 100_000);
}

#[test]
fn snapshot_restore_keeps_hash_and_queues() {
    let mut fx = Fx::new();
    fx.place_ok(limit(ALICE, Side::Sell, 100, 5));
    fx.place_ok(limit(CAROL, Side::Sell, 100, 5));
    fx.place_ok(NewOrder {
        order_type: OrderType::StopLimit,
        stop_price: Some(Price(90)),
        tif: TimeInForce::Gtd,
        expire_at: Some(Timestamp(fx.ts + 1_000)),
        client_order_id: Some(ClientOrderId::new("x1").unwrap()),
        ..limit(BOB, Side::Sell, 89, 3)
    });
    fx.ok(CommandKind::RequestWithdrawal {
        user: BOB,
        asset: Q,
        amount: Amount(5),
        address: "a".into(),
        client_withdrawal_id: None,
    });
    fx.ok(CommandKind::RevokeToken {
        user: BOB,
        jti: [7; 16],
        expires_at: Timestamp(fx.ts + 1_000),
    });
    let bytes = fx.core.snapshot();
    let mut restored = Core::restore(&bytes).unwrap();
    assert_eq!(restored.state_hash(), fx.core.state_hash());
    assert!(restored.token_revoked(BOB, &[7; 16]));
    // Same future: Alice's order is still first in the queue.
    let cmd = Command::new(
        fx.ts + 1,
        CommandKind::PlaceOrder(Box::new(limit(BOB, Side::Buy, 100, 6))),
    );
    assert_eq!(restored.apply(&cmd), fx.core.apply(&cmd));
    assert_eq!(restored.state_hash(), fx.core.state_hash());
    assert!(matches!(
        Core::restore(&bytes[..bytes.len() / 2]),
        Err(CoreError::Decode(_))
    ));
}

#[test]
fn logged_out_tokens_are_refused_until_they_expire() {
    let mut fx = Fx::new();
    let revoke = |user, jti, expires_at| CommandKind::RevokeToken {
        user,
        jti: [jti; 16],
        expires_at: Timestamp(expires_at),
    };
    assert_eq!(fx.rej(revoke(UserId(99), 1, fx.ts + 100)), UnknownUser);
    let before = fx.core.state_hash();
    assert!(fx.ok(revoke(ALICE, 1, fx.ts + 100)).is_empty(), "no event");
    assert_ne!(fx.core.state_hash(), before, "the list is core state");
    assert!(fx.core.token_revoked(ALICE, &[1; 16]));
    assert!(!fx.core.token_revoked(BOB, &[1; 16]), "per user");
    assert!(!fx.core.token_revoked(ALICE, &[2; 16]));
    // Already expired: nothing to remember.
    fx.ok(revoke(ALICE, 2, fx.ts));
    assert!(!fx.core.token_revoked(ALICE, &[2; 16]));
    // A later logout, after the first token's expiry, forgets it.
    fx.ts += 200;
    fx.ok(revoke(ALICE, 3, fx.ts + 100));
    assert!(!fx.core.token_revoked(ALICE, &[1; 16]));
    assert!(fx.core.token_revoked(ALICE, &[3; 16]));
}

/// The `OrderCanceled` events of `ev` with their reasons.
fn cancels(ev: &[Event]) -> Vec<(OrderId, CancelReason)> {
    ev.iter()
        .filter_map(|e| match e {
            Event::OrderCanceled { order, reason, .. } => Some((*order, *reason)),
            _ => None,
        })
        .collect()
}

fn verify(user: UserId, kyc: bool) -> CommandKind {
    CommandKind::SetUserFlags {
        user,
        kyc_verified: Some(kyc),
        kill_switch: None,
        tier: None,
    }
}

fn stop_buy(u: UserId, stop: u64, price: u64, qty: u64) -> NewOrder {
    NewOrder {
        order_type: OrderType::StopLimit,
        stop_price: Some(Price(stop)),
        ..limit(u, Side::Buy, price, qty)
    }
}

#[test]
fn kyc_policy_is_state_changed_only_by_command() {
    let mut fx = Fx::new();
    let mut log = Vec::new();
    let mut run = |fx: &mut Fx, kind: CommandKind| {
        log.push(Command::new(fx.ts + 1, kind.clone()));
        fx.ok(kind)
    };
    assert!(
        !fx.core.config().kyc_required,
        "a fresh core starts without"
    );
    run(&mut fx, verify(BOB, true));
    // Policy off: unverified Alice trades and leaves a resting order and a stop.
    run(
        &mut fx,
        CommandKind::PlaceOrder(Box::new(limit(ALICE, Side::Sell, 100, 3))),
    );
    run(
        &mut fx,
        CommandKind::PlaceOrder(Box::new(limit(BOB, Side::Buy, 100, 1))),
    );
    let rest = fx.core.open_orders(ALICE)[0].id;
    let stop = OrderId(fx.core.next_order);
    run(
        &mut fx,
        CommandKind::PlaceOrder(Box::new(stop_buy(ALICE, 110, 111, 1))),
    );
    let bob = OrderId(fx.core.next_order);
    run(
        &mut fx,
        CommandKind::PlaceOrder(Box::new(limit(BOB, Side::Buy, 90, 1))),
    );
    assert_eq!(fx.bal(ALICE, B), (START_B - 3, 2));

    // On: the unverified user's open orders are canceled (holds released), no event of
    // its own; the verified user's order stays.
    let ev = run(&mut fx, CommandKind::SetKycPolicy { required: true });
    assert_eq!(
        cancels(&ev),
        vec![
            (rest, CancelReason::KycRequired),
            (stop, CancelReason::KycRequired)
        ]
    );
    assert!(fx.core.config().kyc_required);
    assert_eq!(fx.bal(ALICE, B), (START_B - 1, 0));
    assert_eq!(fx.bal(ALICE, Q).1, 0);
    assert!(fx.core.order(bob).is_some());
    assert_eq!(fx.place_rej(limit(ALICE, Side::Sell, 100, 1)), KycRequired);
    assert_eq!(
        fx.rej(CommandKind::AmendOrder {
            user: ALICE,
            order: rest,
            price: None,
            qty: Some(Qty(2)),
        }),
        KycRequired
    );
    // Same value again: nothing happens.
    let before = fx.core.state_hash();
    assert!(run(&mut fx, CommandKind::SetKycPolicy { required: true }).is_empty());
    assert_eq!(fx.core.state_hash(), before);

    // Replay from a default core gives the same state; so does a snapshot.
    let mut replay = Core::new(CoreConfig::default());
    let setup = Fx::new();
    for c in setup_commands() {
        replay.apply(&c);
    }
    assert_eq!(replay.state_hash(), setup.core.state_hash());
    for c in &log {
        replay.apply(c);
    }
    assert_eq!(replay.state_hash(), fx.core.state_hash());
    let restored = Core::restore(&fx.core.snapshot()).unwrap();
    assert!(restored.config().kyc_required);
    assert_eq!(restored.state_hash(), fx.core.state_hash());

    // Off again: Alice trades.
    fx.ok(CommandKind::SetKycPolicy { required: false });
    fx.place_ok(limit(ALICE, Side::Sell, 100, 1));
}

/// The commands `Fx::new` applies, for a replay from scratch.
fn setup_commands() -> Vec<Command> {
    let mut ts = 1_000;
    let spec = toy_spec("B-Q", 0, 1);
    let mut kinds = vec![
        CommandKind::CreateAsset {
            symbol: sym("B"),
            scale: 0,
        },
        CommandKind::CreateAsset {
            symbol: sym("Q"),
            scale: 0,
        },
        CommandKind::CreateMarket(Box::new(spec)),
    ];
    for name in ["alice", "bob", "carol"] {
        kinds.push(CommandKind::RegisterUser {
            username: name.into(),
            password_hash: "h".into(),
            role: Role::Trader,
        });
    }
    for u in [ALICE, BOB, CAROL] {
        for (asset, amount) in [(B, START_B), (Q, START_Q)] {
            kinds.push(CommandKind::Deposit {
                user: u,
                asset,
                amount: Amount(amount),
            });
        }
    }
    kinds
        .into_iter()
        .map(|k| {
            ts += 1;
            Command::new(ts, k)
        })
        .collect()
}

#[test]
fn kyc_revoked_while_required_cancels_the_users_orders() {
    let mut fx = Fx::with(
        CoreConfig {
            kyc_required: true,
            ..CoreConfig::default()
        },
        toy_spec("B-Q", 0, 1),
    );
    for u in [ALICE, BOB, CAROL] {
        fx.ok(verify(u, true));
    }
    let rest = fx.place_ok(limit(ALICE, Side::Sell, 105, 2));
    let stop = fx.place_ok(stop_buy(ALICE, 110, 111, 1));
    let bob = fx.place_ok(limit(BOB, Side::Buy, 90, 1));
    fx.ok(CommandKind::RequestWithdrawal {
        user: ALICE,
        asset: Q,
        amount: Amount(7),
        address: "a".into(),
        client_withdrawal_id: None,
    });
    let ev = fx.ok(verify(ALICE, false));
    assert!(matches!(
        ev[0],
        Event::UserFlagsChanged {
            kyc_verified: false,
            ..
        }
    ));
    assert_eq!(
        cancels(&ev),
        vec![
            (rest, CancelReason::KycRequired),
            (stop, CancelReason::KycRequired)
        ]
    );
    assert!(fx.core.open_orders(ALICE).is_empty());
    assert_eq!(fx.bal(ALICE, B).1, 0);
    assert_eq!(fx.bal(ALICE, Q).1, 7, "the pending withdrawal stays");
    assert!(fx.core.order(bob).is_some(), "other users keep theirs");
    let amend = |order| CommandKind::AmendOrder {
        user: ALICE,
        order,
        price: Some(Price(104)),
        qty: None,
    };
    assert_eq!(fx.rej(amend(rest)), KycRequired);
    assert_eq!(fx.rej(amend(OrderId(999))), KycRequired);

    // Kill switch and revocation together: the kill switch's reason wins.
    fx.ok(verify(ALICE, true));
    let rest = fx.place_ok(limit(ALICE, Side::Sell, 105, 2));
    let ev = fx.ok(CommandKind::SetUserFlags {
        user: ALICE,
        kyc_verified: Some(false),
        kill_switch: Some(true),
        tier: None,
    });
    assert_eq!(cancels(&ev), vec![(rest, CancelReason::KillSwitch)]);

    // Policy off: revoking KYC keeps the orders.
    fx.ok(CommandKind::SetKycPolicy { required: false });
    let c = fx.place_ok(limit(CAROL, Side::Sell, 106, 1));
    let ev = fx.ok(verify(CAROL, false));
    assert!(cancels(&ev).is_empty());
    assert!(fx.core.order(c).is_some());
    fx.ok(CommandKind::AmendOrder {
        user: CAROL,
        order: c,
        price: None,
        qty: Some(Qty(2)),
    });
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

#[test]
fn triggered_fok_stop_that_cannot_fill_expires() {
    let mut fx = Fx::new();
    fx.place_ok(limit(ALICE, Side::Sell, 100, 1));
    fx.place_ok(limit(BOB, Side::Buy, 100, 1));
    let ask = fx.place_ok(limit(ALICE, Side::Sell, 102, 1));
    let fok = fx.place_ok(NewOrder {
        tif: TimeInForce::Fok,
        ..stop_buy(CAROL, 101, 102, 5)
    });
    // 5 × 102 = 510 plus 20 bps (1.02, rounded down).
    assert_eq!(fx.bal(CAROL, Q).1, 510 + 1);
    fx.place_ok(limit(ALICE, Side::Sell, 101, 1));
    let ev = fx.place(limit(BOB, Side::Buy, 101, 1));
    assert!(ev
        .iter()
        .any(|e| matches!(e, Event::StopTriggered { order, .. } if *order == fok)));
    assert!(ev.iter().any(|e| matches!(
        e,
        Event::OrderExpired {
            order,
            filled: Qty(0),
            remaining: Qty(5),
            reason: ExpireReason::FillOrKill,
            ..
        } if *order == fok
    )));
    // All or nothing: the single lot at 102 was not taken, the hold is back.
    assert_eq!(fx.core.order(ask).map(|o| o.remaining), Some(Qty(1)));
    assert_eq!(fx.bal(CAROL, Q), (START_Q, 0));
    assert_eq!(trades(&ev).len(), 1);
}

#[test]
fn quote_sized_stop_is_not_amendable() {
    let mut fx = Fx::new();
    fx.place_ok(limit(ALICE, Side::Sell, 100, 1));
    fx.place_ok(limit(BOB, Side::Buy, 100, 1));
    let s = fx.place_ok(NewOrder {
        order_type: OrderType::StopMarket,
        stop_price: Some(Price(120)),
        ..market(CAROL, Side::Buy, None, Some(500))
    });
    for (price, qty) in [(None, Some(Qty(3))), (Some(Price(121)), None)] {
        assert_eq!(
            fx.rej(CommandKind::AmendOrder {
                user: CAROL,
                order: s,
                price,
                qty,
            }),
            OrderNotAmendable
        );
    }
    assert_eq!(fx.bal(CAROL, Q).1, 500);
}

#[test]
fn amend_respects_band_and_min_notional() {
    let spec = MarketSpec {
        min_notional: Amount(150),
        price_band_bps: 1_000,
        ..toy_spec("B-Q", 0, 1)
    };
    let mut fx = Fx::with(CoreConfig::default(), spec);
    fx.place_ok(limit(ALICE, Side::Sell, 100, 2));
    fx.place_ok(limit(BOB, Side::Buy, 100, 2));
    let buy = fx.place_ok(limit(BOB, Side::Buy, 95, 2));
    let sell = fx.place_ok(limit(ALICE, Side::Sell, 105, 2));
    let am = |user, order, price: Option<u64>, qty: Option<u64>| CommandKind::AmendOrder {
        user,
        order,
        price: price.map(Price),
        qty: qty.map(Qty),
    };
    // Band around last = 100: [90, 110].
    assert_eq!(fx.rej(am(BOB, buy, Some(89), None)), PriceOutOfBand);
    assert_eq!(fx.rej(am(ALICE, sell, Some(111), None)), PriceOutOfBand);
    // 95 × 1 = 95 < 150; 74 × 2 = 148 too; 76 × 2 = 152 is enough but out of band.
    assert_eq!(fx.rej(am(BOB, buy, None, Some(1))), NotionalTooSmall);
    assert_eq!(fx.rej(am(BOB, buy, Some(74), None)), NotionalTooSmall);
    assert_eq!(fx.rej(am(BOB, buy, Some(76), None)), PriceOutOfBand);
    // A size decrease that stays above the minimum is fine; at the edge of the band too.
    fx.ok(am(BOB, buy, Some(90), Some(2)));
    fx.ok(am(ALICE, sell, Some(110), None));
    assert_eq!(fx.rej(am(ALICE, sell, None, Some(1))), NotionalTooSmall);
}

#[test]
fn broker_tier_pays_its_own_fees() {
    let mut fx = Fx::new();
    fx.ok(CommandKind::SetUserFlags {
        user: BOB,
        kyc_verified: None,
        kill_switch: None,
        tier: Some(Tier::Broker),
    });
    // Bob takes from standard Alice: broker taker 0 bps, Alice maker 10 bps of 10_000.
    fx.place_ok(limit(ALICE, Side::Sell, 100, 100));
    let ev = fx.place(limit(BOB, Side::Buy, 100, 100));
    assert!(ev.iter().any(|e| matches!(
        e,
        Event::Trade {
            taker_fee: Amount(0),
            maker_fee: Amount(10),
            ..
        }
    )));
    assert_eq!(fx.bal(BOB, Q), (START_Q - 10_000, 0), "no fee, no fee hold");
    // Bob makes for standard Carol: broker maker 0, Carol taker 20 bps.
    fx.place_ok(limit(BOB, Side::Sell, 100, 50));
    let ev = fx.place(limit(CAROL, Side::Buy, 100, 50));
    assert!(ev.iter().any(|e| matches!(
        e,
        Event::Trade {
            taker_fee: Amount(10),
            maker_fee: Amount(0),
            ..
        }
    )));
    assert_eq!(fx.bal(BOB, Q).0, START_Q - 10_000 + 5_000);
}
