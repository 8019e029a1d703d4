//! One test per matching rule from the crate docs, each run on both the fast book and the
//! reference book.

mod common;

use bourse_book::{BookError, MatchEnd, MatchEvent, OrderBook, ReferenceBook};
use bourse_model::{OrderId, Price, Qty, Side, StpMode, Timestamp, UserId};
use common::{order, run, taker, Book};

macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod fast {
            $( #[test] fn $name() { super::$name::<bourse_book::OrderBook>(); } )*
        }
        mod reference {
            $( #[test] fn $name() { super::$name::<bourse_book::ReferenceBook>(); } )*
        }
    };
}

both!(
    price_then_time_priority,
    fills_at_maker_price,
    limit_stops_the_walk,
    budget_cuts_fill_and_stops,
    budget_checked_before_stp,
    sell_budget_reaches_cheaper_levels,
    extreme_values_do_not_overflow,
    expired_maker_removed_not_matched,
    stp_expire_taker,
    stp_expire_maker,
    stp_expire_both,
    reduce_keeps_queue_position,
    reinsert_goes_to_back,
    queries_and_orders_roundtrip,
    zero_qty_taker_is_filled,
    reduce_rejects_bad_sizes,
    can_fill_sees_stp_and_expiry,
);

fn makers(events: &[MatchEvent]) -> Vec<(u64, u64)> {
    events
        .iter()
        .map(|e| match *e {
            MatchEvent::Fill { maker, qty, .. } => (maker.0, qty.0),
            MatchEvent::MakerExpired { maker, .. } => (maker.0, 0),
            MatchEvent::MakerCanceledStp { maker, .. } => (maker.0, 0),
        })
        .collect()
}

fn price_then_time_priority<B: Book>() {
    let mut b = B::default();
    b.insert(order(1, 1, Side::Sell, 101, 5));
    b.insert(order(2, 1, Side::Sell, 100, 5));
    b.insert(order(3, 1, Side::Sell, 100, 5));
    b.insert(order(4, 1, Side::Sell, 102, 5));
    let (ev, end) = run(&mut b, &mut taker(2, Side::Buy, None, 17));
    assert_eq!(makers(&ev), vec![(2, 5), (3, 5), (1, 5), (4, 2)]);
    assert_eq!(end, MatchEnd::Filled);
    assert_eq!(b.best(Side::Sell), Some((Price(102), Qty(3))));

    let mut b = B::default();
    b.insert(order(1, 1, Side::Buy, 99, 5));
    b.insert(order(2, 1, Side::Buy, 100, 5));
    b.insert(order(3, 1, Side::Buy, 100, 5));
    let (ev, _) = run(&mut b, &mut taker(2, Side::Sell, None, 11));
    assert_eq!(makers(&ev), vec![(2, 5), (3, 5), (1, 1)]);
}

fn fills_at_maker_price<B: Book>() {
    let mut b = B::default();
    b.insert(order(1, 1, Side::Sell, 100, 5));
    let (ev, end) = run(&mut b, &mut taker(2, Side::Buy, Some(105), 3));
    assert_eq!(end, MatchEnd::Filled);
    assert_eq!(
        ev,
        vec![MatchEvent::Fill {
            maker: OrderId(1),
            maker_owner: UserId(1),
            price: Price(100),
            qty: Qty(3),
            maker_remaining: Qty(2),
            level_qty: Qty(2),
        }]
    );
}

fn limit_stops_the_walk<B: Book>() {
    let mut b = B::default();
    b.insert(order(1, 1, Side::Sell, 100, 5));
    b.insert(order(2, 1, Side::Sell, 101, 5));
    let mut t = taker(2, Side::Buy, Some(100), 8);
    let (ev, end) = run(&mut b, &mut t);
    assert_eq!(makers(&ev), vec![(1, 5)]);
    assert_eq!(end, MatchEnd::NoLiquidity);
    assert_eq!(t.qty, Qty(3));
    assert_eq!(b.len(), 1);

    let mut b = B::default();
    b.insert(order(1, 1, Side::Buy, 100, 5));
    b.insert(order(2, 1, Side::Buy, 99, 5));
    let (ev, end) = run(&mut b, &mut taker(2, Side::Sell, Some(100), 8));
    assert_eq!(makers(&ev), vec![(1, 5)]);
    assert_eq!(end, MatchEnd::NoLiquidity);
    let (ev, end) = run(&mut B::default(), &mut taker(2, Side::Sell, None, 8));
    assert!(ev.is_empty());
    assert_eq!(end, MatchEnd::NoLiquidity);
}

fn budget_cuts_fill_and_stops<B: Book>() {
    let mut b = B::default();
    b.insert(order(1, 1, Side::Sell, 100, 5));
    b.insert(order(2, 1, Side::Sell, 150, 5));
    // 5 lots at 100 cost 500; 250 left buys one lot at 150 (cost 150), then 100 < 150.
    let mut t = taker(2, Side::Buy, None, 100);
    t.notional_budget = Some(750);
    let (ev, end) = run(&mut b, &mut t);
    assert_eq!(makers(&ev), vec![(1, 5), (2, 1)]);
    assert_eq!(end, MatchEnd::NoLiquidity);
    assert_eq!(t.notional_budget, Some(100));
    assert_eq!(t.qty, Qty(94));
    // Budget exactly spent: the next lot does not fit.
    let mut t = taker(2, Side::Buy, None, 100);
    t.notional_budget = Some(300);
    let (ev, end) = run(&mut b, &mut t);
    assert_eq!(makers(&ev), vec![(2, 2)]);
    assert_eq!(end, MatchEnd::NoLiquidity);
    assert_eq!(t.notional_budget, Some(0));
    // Qty runs out first: Filled, budget left over.
    let mut t = taker(2, Side::Buy, None, 1);
    t.notional_budget = Some(1_000);
    let (_, end) = run(&mut b, &mut t);
    assert_eq!(end, MatchEnd::Filled);
    assert_eq!(t.notional_budget, Some(850));
}

fn sell_budget_reaches_cheaper_levels<B: Book>() {
    // A sell sized in quote: 2 lots at 102 use 204 of 300; 96 left buys no lot at 102 but
    // does buy one at 95, the next (cheaper) bid level.
    let mut b = B::default();
    b.insert(order(1, 1, Side::Buy, 102, 2));
    b.insert(order(2, 1, Side::Buy, 95, 5));
    let mut t = taker(2, Side::Sell, None, 10);
    t.notional_budget = Some(300);
    let (ev, end) = run(&mut b, &mut t);
    assert_eq!(makers(&ev), vec![(1, 2), (2, 1)]);
    assert_eq!(end, MatchEnd::NoLiquidity);
    assert_eq!(t.notional_budget, Some(1));
    // But while makers remain at a level the budget cannot reach, the walk stops there.
    let mut b = B::default();
    b.insert(order(1, 1, Side::Buy, 102, 2));
    b.insert(order(3, 1, Side::Buy, 102, 2));
    b.insert(order(2, 1, Side::Buy, 95, 5));
    let mut t = taker(2, Side::Sell, None, 10);
    t.notional_budget = Some(300);
    let (ev, end) = run(&mut b, &mut t);
    assert_eq!(makers(&ev), vec![(1, 2)]);
    assert_eq!(end, MatchEnd::NoLiquidity);
    // Same when the budget runs out part-way through the level's last maker: it still
    // rests at 102, so the walk stops there (and `can_fill`, checked by `run`, agrees).
    let mut b = B::default();
    b.insert(order(1, 1, Side::Buy, 102, 5));
    b.insert(order(2, 1, Side::Buy, 1, 5));
    let mut t = taker(2, Side::Sell, None, 3);
    t.notional_budget = Some(250);
    let (ev, end) = run(&mut b, &mut t);
    assert_eq!(makers(&ev), vec![(1, 2)]);
    assert_eq!(end, MatchEnd::NoLiquidity);
}

fn extreme_values_do_not_overflow<B: Book>() {
    let mut b = B::default();
    b.insert(order(1, 1, Side::Sell, 0, 3));
    b.insert(order(2, 1, Side::Sell, u64::MAX, u64::MAX - 3));
    // A zero price costs nothing, so an empty budget still buys it.
    let mut t = taker(2, Side::Buy, None, u64::MAX);
    t.notional_budget = Some(0);
    let (ev, end) = run(&mut b, &mut t);
    assert_eq!(makers(&ev), vec![(1, 3)]);
    assert_eq!(end, MatchEnd::NoLiquidity);
    // price × qty needs 128 bits; the budget buys exactly two lots.
    let mut t = taker(2, Side::Buy, None, u64::MAX);
    t.notional_budget = Some(2 * u128::from(u64::MAX) + 5);
    let (ev, end) = run(&mut b, &mut t);
    assert_eq!(makers(&ev), vec![(2, 2)]);
    assert_eq!(end, MatchEnd::NoLiquidity);
    assert_eq!(t.notional_budget, Some(5));
    let mut t = taker(2, Side::Buy, None, u64::MAX - 5);
    let (_, end) = run(&mut b, &mut t);
    assert_eq!(end, MatchEnd::Filled);
    assert!(b.len() == 0 && b.is_empty());
    assert_eq!(b.best(Side::Sell), None);
}

fn budget_checked_before_stp<B: Book>() {
    // The own maker would be canceled by ExpireMaker, but the budget cannot buy a lot at
    // its price, so nothing happens: STP only fires against a maker we could trade with.
    let mut b = B::default();
    b.insert(order(1, 2, Side::Sell, 100, 5));
    let mut t = taker(2, Side::Buy, None, 5);
    t.stp = StpMode::ExpireMaker;
    t.notional_budget = Some(99);
    let (ev, end) = run(&mut b, &mut t);
    assert!(ev.is_empty());
    assert_eq!(end, MatchEnd::NoLiquidity);
    assert_eq!(b.len(), 1);
}

fn expired_maker_removed_not_matched<B: Book>() {
    let mut b = B::default();
    let mut o = order(1, 1, Side::Sell, 100, 5);
    o.expire_at = Some(Timestamp(10));
    b.insert(o);
    let mut o = order(2, 1, Side::Sell, 100, 4);
    o.expire_at = Some(Timestamp(11));
    b.insert(o);
    let mut t = taker(2, Side::Buy, None, 3);
    t.now = Timestamp(10);
    let (ev, end) = run(&mut b, &mut t);
    assert_eq!(
        ev[0],
        MatchEvent::MakerExpired {
            maker: OrderId(1),
            maker_owner: UserId(1),
            price: Price(100),
            qty: Qty(5),
            level_qty: Qty(4),
        }
    );
    assert_eq!(makers(&ev), vec![(1, 0), (2, 3)]);
    assert_eq!(end, MatchEnd::Filled);
    assert!(b.get(OrderId(1)).is_none());
    assert_eq!(b.get(OrderId(2)).map(|o| o.qty), Some(Qty(1)));
}

fn stp_book<B: Book>() -> B {
    let mut b = B::default();
    b.insert(order(1, 1, Side::Sell, 100, 5));
    b.insert(order(2, 2, Side::Sell, 100, 5));
    b.insert(order(3, 1, Side::Sell, 101, 5));
    b
}

fn stp_expire_taker<B: Book>() {
    let mut b = stp_book::<B>();
    let mut t = taker(2, Side::Buy, None, 8);
    let (ev, end) = run(&mut b, &mut t);
    assert_eq!(makers(&ev), vec![(1, 5)]);
    assert_eq!(end, MatchEnd::SelfTrade);
    assert_eq!(b.get(OrderId(2)).map(|o| o.qty), Some(Qty(5)));
    assert_eq!(t.qty, Qty(3));
}

fn stp_expire_maker<B: Book>() {
    let mut b = stp_book::<B>();
    let mut t = taker(2, Side::Buy, None, 8);
    t.stp = StpMode::ExpireMaker;
    let (ev, end) = run(&mut b, &mut t);
    assert_eq!(makers(&ev), vec![(1, 5), (2, 0), (3, 3)]);
    assert!(matches!(
        ev[1],
        MatchEvent::MakerCanceledStp {
            qty: Qty(5),
            level_qty: Qty(0),
            ..
        }
    ));
    assert_eq!(end, MatchEnd::Filled);
    assert_eq!(b.len(), 1);
}

fn stp_expire_both<B: Book>() {
    let mut b = stp_book::<B>();
    let mut t = taker(2, Side::Buy, None, 8);
    t.stp = StpMode::ExpireBoth;
    let (ev, end) = run(&mut b, &mut t);
    assert_eq!(makers(&ev), vec![(1, 5), (2, 0)]);
    assert_eq!(end, MatchEnd::SelfTrade);
    assert_eq!(b.best(Side::Sell), Some((Price(101), Qty(5))));
}

fn reduce_keeps_queue_position<B: Book>() {
    let mut b = B::default();
    b.insert(order(1, 1, Side::Buy, 100, 5));
    b.insert(order(2, 1, Side::Buy, 100, 5));
    assert_eq!(b.reduce(OrderId(1), Qty(2)), Some(Qty(7)));
    let (ev, _) = run(&mut b, &mut taker(2, Side::Sell, None, 3));
    assert_eq!(makers(&ev), vec![(1, 2), (2, 1)]);
}

fn reinsert_goes_to_back<B: Book>() {
    let mut b = B::default();
    b.insert(order(1, 1, Side::Buy, 100, 5));
    b.insert(order(2, 1, Side::Buy, 100, 5));
    let o = b.remove(OrderId(1)).expect("resting");
    b.insert(o);
    let (ev, _) = run(&mut b, &mut taker(2, Side::Sell, None, 6));
    assert_eq!(makers(&ev), vec![(2, 5), (1, 1)]);
}

fn queries_and_orders_roundtrip<B: Book>() {
    let mut b = B::default();
    b.insert(order(1, 1, Side::Buy, 99, 5));
    b.insert(order(2, 1, Side::Buy, 100, 3));
    b.insert(order(3, 2, Side::Buy, 100, 4));
    b.insert(order(4, 1, Side::Sell, 102, 1));
    b.insert(order(5, 1, Side::Sell, 101, 2));
    assert_eq!(b.len(), 5);
    assert_eq!(b.best(Side::Buy), Some((Price(100), Qty(7))));
    assert_eq!(b.best(Side::Sell), Some((Price(101), Qty(2))));
    assert_eq!(b.level_qty(Side::Buy, Price(99)), Qty(5));
    assert_eq!(b.level_qty(Side::Sell, Price(99)), Qty(0));
    assert_eq!(
        b.depth(Side::Buy, 5),
        vec![(Price(100), Qty(7)), (Price(99), Qty(5))]
    );
    assert_eq!(b.depth(Side::Sell, 1), vec![(Price(101), Qty(2))]);
    assert!(b.would_cross(Side::Buy, Price(101)));
    assert!(!b.would_cross(Side::Buy, Price(100)));
    assert!(b.would_cross(Side::Sell, Price(100)));
    assert!(!b.would_cross(Side::Sell, Price(101)));
    let ids: Vec<u64> = b.orders().iter().map(|o| o.id.0).collect();
    assert_eq!(ids, vec![2, 3, 1, 5, 4]);
    let mut rebuilt = B::default();
    for o in b.orders() {
        rebuilt.insert(o);
    }
    assert_eq!(rebuilt.orders(), b.orders());
    assert_eq!(b.remove(OrderId(2)).map(|o| o.qty), Some(Qty(3)));
    assert_eq!(b.remove(OrderId(2)), None);
    assert_eq!(b.best(Side::Buy), Some((Price(100), Qty(4))));
    b.remove(OrderId(3));
    assert_eq!(b.best(Side::Buy), Some((Price(99), Qty(5))));
}

fn zero_qty_taker_is_filled<B: Book>() {
    let mut b = stp_book::<B>();
    let (ev, end) = run(&mut b, &mut taker(1, Side::Buy, None, 0));
    assert!(ev.is_empty());
    assert_eq!(end, MatchEnd::Filled);
    assert_eq!(b.len(), 3);
}

fn reduce_rejects_bad_sizes<B: Book>() {
    let mut b = B::default();
    b.insert(order(1, 1, Side::Buy, 100, 5));
    assert_eq!(b.reduce(OrderId(1), Qty(0)), None);
    assert_eq!(b.reduce(OrderId(1), Qty(6)), None);
    assert_eq!(b.reduce(OrderId(9), Qty(1)), None);
    assert_eq!(b.reduce(OrderId(1), Qty(5)), Some(Qty(5)));
    assert_eq!(b.get(OrderId(1)).map(|o| o.qty), Some(Qty(5)));
}

fn can_fill_sees_stp_and_expiry<B: Book>() {
    let mut b = B::default();
    let mut o = order(1, 3, Side::Sell, 100, 5);
    o.expire_at = Some(Timestamp(5));
    b.insert(o);
    b.insert(order(2, 2, Side::Sell, 100, 5));
    b.insert(order(3, 1, Side::Sell, 101, 5));
    let mut t = taker(2, Side::Buy, None, 5);
    t.now = Timestamp(5);
    assert!(
        !b.can_fill(&t),
        "expired maker skipped, own maker stops ExpireTaker"
    );
    t.stp = StpMode::ExpireMaker;
    assert!(b.can_fill(&t));
    t.qty = Qty(6);
    assert!(!b.can_fill(&t));
    t.now = Timestamp(4);
    assert!(b.can_fill(&t));
    assert_eq!(b.len(), 3, "can_fill changes nothing");
}

#[test]
fn try_insert_reports_broken_preconditions() {
    let mut b = OrderBook::new();
    b.insert(order(1, 1, Side::Buy, 100, 5));
    assert_eq!(
        b.try_insert(order(1, 1, Side::Buy, 99, 5)),
        Err(BookError::DuplicateId(OrderId(1)))
    );
    assert_eq!(
        b.try_insert(order(2, 1, Side::Sell, 100, 5)),
        Err(BookError::WouldCross(OrderId(2)))
    );
    assert_eq!(
        b.try_insert(order(3, 1, Side::Sell, 101, 0)),
        Err(BookError::ZeroQty(OrderId(3)))
    );
    assert_eq!(b.orders(), vec![order(1, 1, Side::Buy, 100, 5)]);
    let mut r = ReferenceBook::new();
    r.insert(order(1, 1, Side::Buy, 100, 5));
    assert_eq!(r.len(), 1);
}
