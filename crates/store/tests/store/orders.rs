//! Order rows: statuses, quantities and reasons as the events say, and the order queries.

use crate::both;
use crate::common::fixtures::*;
use crate::T0;
use bourse_model::*;
use bourse_store::*;

both!(order_statuses_follow_the_events);

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
            remaining: None,
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
