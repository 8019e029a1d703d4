//! Matching: fills at the maker's price, holds, fees, self-trade prevention, the book's
//! sequence, amounts on a realistic grid.

use super::fixtures::*;
use crate::tests::*;

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
