//! One price level: a FIFO queue of orders at the same price, kept as an intrusive
//! doubly-linked list through the [`Slab`], plus the level's total size.
//!
//! Appending, unlinking any order and popping the front are O(1); the total is kept in
//! step so `level_qty`/`best` never walk the queue.

use crate::slab::{Link, Slab, NIL};
use bourse_model::Price;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Level {
    pub price: Price,
    /// Sum of the remaining sizes of the orders in the queue. The caller keeps it within
    /// `u64` (the core bounds order size and count far below that).
    pub total: u64,
    pub head: u32,
    pub tail: u32,
}

impl Level {
    pub fn new(price: Price) -> Self {
        Level {
            price,
            total: 0,
            head: NIL,
            tail: NIL,
        }
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.head == NIL
    }

    /// Appends `slot` (holding an order of size `qty`) at the back of the queue; `me` is
    /// this level's index in its ladder, recorded in the order's link.
    #[inline]
    pub fn push_back(&mut self, slab: &mut Slab, slot: u32, qty: u64, me: u32) {
        *slab.link_mut(slot) = Link {
            prev: self.tail,
            next: NIL,
            level: me,
        };
        if self.tail == NIL {
            self.head = slot;
        } else {
            slab.link_mut(self.tail).next = slot;
        }
        self.tail = slot;
        self.total += qty;
    }

    /// Takes `slot` (holding an order of size `qty`) out of the queue and its size out of
    /// the total. The slot itself is left for the caller to free.
    #[inline]
    pub fn unlink(&mut self, slab: &mut Slab, slot: u32, qty: u64) {
        let Link { prev, next, .. } = slab.link(slot);
        if prev == NIL {
            self.head = next;
        } else {
            slab.link_mut(prev).next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            slab.link_mut(next).prev = prev;
        }
        self.total -= qty;
    }

    /// Iterates the queue front to back.
    pub fn iter<'a>(&self, slab: &'a Slab) -> LevelIter<'a> {
        LevelIter {
            slab,
            cur: self.head,
        }
    }
}

pub(crate) struct LevelIter<'a> {
    slab: &'a Slab,
    cur: u32,
}

impl Iterator for LevelIter<'_> {
    type Item = crate::RestingOrder;

    fn next(&mut self) -> Option<Self::Item> {
        if self.cur == NIL {
            return None;
        }
        let order = self.slab.order(self.cur);
        self.cur = self.slab.link(self.cur).next;
        Some(order)
    }
}
