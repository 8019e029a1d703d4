//! One price level: a FIFO queue of orders at the same price, kept as an intrusive
//! doubly-linked list through the [`Slab`], plus the level's total size.
//!
//! Appending, unlinking any order and popping the front are O(1); the total is kept in
//! step so `level_qty`/`best` never walk the queue.

use crate::slab::{Slab, NIL};
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

    /// Appends `slot` (already holding its order) at the back of the queue.
    #[inline]
    pub fn push_back(&mut self, slab: &mut Slab, slot: u32) {
        let qty = {
            let node = slab.get_mut(slot);
            node.prev = self.tail;
            node.next = NIL;
            node.order.qty.0
        };
        if self.tail == NIL {
            self.head = slot;
        } else {
            slab.get_mut(self.tail).next = slot;
        }
        self.tail = slot;
        self.total += qty;
    }

    /// Takes `slot` out of the queue and its size out of the total. The slot itself is
    /// left for the caller to free.
    #[inline]
    pub fn unlink(&mut self, slab: &mut Slab, slot: u32) {
        let (prev, next, qty) = {
            let node = slab.get(slot);
            (node.prev, node.next, node.order.qty.0)
        };
        if prev == NIL {
            self.head = next;
        } else {
            slab.get_mut(prev).next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            slab.get_mut(next).prev = prev;
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

impl<'a> Iterator for LevelIter<'a> {
    type Item = &'a crate::RestingOrder;

    fn next(&mut self) -> Option<Self::Item> {
        if self.cur == NIL {
            return None;
        }
        let node = self.slab.get(self.cur);
        self.cur = node.next;
        Some(&node.order)
    }
}
