//! Shared test helpers: one trait over both books so every rule test runs on each.

#![allow(dead_code)]

use bourse_book::{MatchEnd, MatchEvent, OrderBook, ReferenceBook, RestingOrder, Taker};
use bourse_model::{OrderId, Price, Qty, Side, StpMode, Timestamp, UserId};

pub trait Book: Default {
    fn insert(&mut self, o: RestingOrder);
    fn remove(&mut self, id: OrderId) -> Option<RestingOrder>;
    fn reduce(&mut self, id: OrderId, q: Qty) -> Option<Qty>;
    fn get(&self, id: OrderId) -> Option<RestingOrder>;
    fn best(&self, side: Side) -> Option<(Price, Qty)>;
    fn level_qty(&self, side: Side, price: Price) -> Qty;
    fn depth(&self, side: Side, n: usize) -> Vec<(Price, Qty)>;
    fn would_cross(&self, side: Side, price: Price) -> bool;
    fn can_fill(&self, t: &Taker) -> bool;
    fn match_taker(&mut self, t: &mut Taker, on: &mut dyn FnMut(MatchEvent)) -> MatchEnd;
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool;
    fn orders(&self) -> Vec<RestingOrder>;
}

macro_rules! impl_book {
    ($t:ty) => {
        impl Book for $t {
            fn insert(&mut self, o: RestingOrder) {
                <$t>::insert(self, o)
            }
            fn remove(&mut self, id: OrderId) -> Option<RestingOrder> {
                <$t>::remove(self, id)
            }
            fn reduce(&mut self, id: OrderId, q: Qty) -> Option<Qty> {
                <$t>::reduce(self, id, q)
            }
            fn get(&self, id: OrderId) -> Option<RestingOrder> {
                <$t>::get(self, id)
            }
            fn best(&self, side: Side) -> Option<(Price, Qty)> {
                <$t>::best(self, side)
            }
            fn level_qty(&self, side: Side, price: Price) -> Qty {
                <$t>::level_qty(self, side, price)
            }
            fn depth(&self, side: Side, n: usize) -> Vec<(Price, Qty)> {
                <$t>::depth(self, side, n)
            }
            fn would_cross(&self, side: Side, price: Price) -> bool {
                <$t>::would_cross(self, side, price)
            }
            fn can_fill(&self, t: &Taker) -> bool {
                <$t>::can_fill(self, t)
            }
            fn match_taker(&mut self, t: &mut Taker, on: &mut dyn FnMut(MatchEvent)) -> MatchEnd {
                <$t>::match_taker(self, t, &mut |e| on(e))
            }
            fn len(&self) -> usize {
                <$t>::len(self)
            }
            fn is_empty(&self) -> bool {
                <$t>::is_empty(self)
            }
            fn orders(&self) -> Vec<RestingOrder> {
                <$t>::orders(self)
            }
        }
    };
}
impl_book!(OrderBook);
impl_book!(ReferenceBook);

pub fn order(id: u64, owner: u64, side: Side, price: u64, qty: u64) -> RestingOrder {
    RestingOrder {
        id: OrderId(id),
        owner: UserId(owner),
        side,
        price: Price(price),
        qty: Qty(qty),
        expire_at: None,
    }
}

pub fn taker(owner: u64, side: Side, limit: Option<u64>, qty: u64) -> Taker {
    Taker {
        id: OrderId(1_000_000),
        owner: UserId(owner),
        side,
        limit: limit.map(Price),
        qty: Qty(qty),
        notional_budget: None,
        stp: StpMode::ExpireTaker,
        now: Timestamp(0),
    }
}

/// Runs `match_taker` and returns the events and the end; checks `can_fill` agreed first.
pub fn run<B: Book>(book: &mut B, t: &mut Taker) -> (Vec<MatchEvent>, MatchEnd) {
    let predicted = book.can_fill(t);
    let mut events = Vec::new();
    let end = book.match_taker(t, &mut |e| events.push(e));
    assert_eq!(
        predicted,
        end == MatchEnd::Filled,
        "can_fill disagrees with match_taker"
    );
    (events, end)
}
