//! The order-book operations the core needs, as a trait, so the same core runs over the
//! fast [`OrderBook`] in production and over `bourse_book::ReferenceBook` in differential
//! tests (identical commands must give identical events).

use bourse_book::{MatchEnd, MatchEvent, OrderBook, RestingOrder, Taker};
use bourse_model::{OrderId, Price, Qty, Side};

/// See `bourse_book::OrderBook` for the contract of each method.
pub trait BookOps {
    fn empty() -> Self;
    fn insert(&mut self, order: RestingOrder);
    fn remove(&mut self, id: OrderId) -> Option<RestingOrder>;
    fn reduce(&mut self, id: OrderId, new_qty: Qty) -> Option<Qty>;
    fn get(&self, id: OrderId) -> Option<RestingOrder>;
    fn best(&self, side: Side) -> Option<(Price, Qty)>;
    fn level_qty(&self, side: Side, price: Price) -> Qty;
    fn depth(&self, side: Side, n: usize) -> Vec<(Price, Qty)>;
    fn would_cross(&self, side: Side, price: Price) -> bool;
    fn can_fill(&self, taker: &Taker) -> bool;
    fn match_taker<F: FnMut(MatchEvent)>(&mut self, taker: &mut Taker, on: &mut F) -> MatchEnd;
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    fn orders(&self) -> Vec<RestingOrder>;
}

macro_rules! impl_book_ops {
    ($t:ty) => {
        impl BookOps for $t {
            fn empty() -> Self {
                <$t>::new()
            }
            #[inline]
            fn insert(&mut self, order: RestingOrder) {
                <$t>::insert(self, order)
            }
            #[inline]
            fn remove(&mut self, id: OrderId) -> Option<RestingOrder> {
                <$t>::remove(self, id)
            }
            #[inline]
            fn reduce(&mut self, id: OrderId, new_qty: Qty) -> Option<Qty> {
                <$t>::reduce(self, id, new_qty)
            }
            #[inline]
            fn get(&self, id: OrderId) -> Option<RestingOrder> {
                <$t>::get(self, id)
            }
            #[inline]
            fn best(&self, side: Side) -> Option<(Price, Qty)> {
                <$t>::best(self, side)
            }
            #[inline]
            fn level_qty(&self, side: Side, price: Price) -> Qty {
                <$t>::level_qty(self, side, price)
            }
            fn depth(&self, side: Side, n: usize) -> Vec<(Price, Qty)> {
                <$t>::depth(self, side, n)
            }
            #[inline]
            fn would_cross(&self, side: Side, price: Price) -> bool {
                <$t>::would_cross(self, side, price)
            }
            fn can_fill(&self, taker: &Taker) -> bool {
                <$t>::can_fill(self, taker)
            }
            #[inline]
            fn match_taker<F: FnMut(MatchEvent)>(
                &mut self,
                taker: &mut Taker,
                on: &mut F,
            ) -> MatchEnd {
                <$t>::match_taker(self, taker, on)
            }
            fn len(&self) -> usize {
                <$t>::len(self)
            }
            fn orders(&self) -> Vec<RestingOrder> {
                <$t>::orders(self)
            }
        }
    };
}

impl_book_ops!(OrderBook);
#[cfg(test)]
impl_book_ops!(bourse_book::ReferenceBook);
