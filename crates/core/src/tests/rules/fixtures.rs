//! What several rule areas share: the start balances `Fx::new` funds, a stop-limit buy.

use crate::tests::*;

pub(super) const START_B: u64 = 1_000_000;
pub(super) const START_Q: u64 = 100_000_000;

pub(super) fn stop_buy(u: UserId, stop: u64, price: u64, qty: u64) -> NewOrder {
    NewOrder {
        order_type: OrderType::StopLimit,
        stop_price: Some(Price(stop)),
        ..limit(u, Side::Buy, price, qty)
    }
}
