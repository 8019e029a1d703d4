//! Amending orders: priority, holds, post-only, what is not amendable, band and minimum
//! notional.

use super::fixtures::*;
use crate::tests::*;
use bourse_model::RejectCode::*;

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
