//! Stop orders: trigger order, cascades, a triggered FOK that cannot fill.

use super::fixtures::*;
use crate::tests::*;
use bourse_model::RejectCode::*;

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
