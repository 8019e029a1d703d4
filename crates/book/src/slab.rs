//! Arena of resting orders with a free list.
//!
//! Orders live in one `Vec` and refer to each other by `u32` slot, so a price level is an
//! intrusive doubly-linked list without any per-order allocation. Freed slots are reused
//! (last freed, first reused) so the arena stays as small as the peak book size.

use crate::RestingOrder;

/// "No slot": the end of a list.
pub(crate) const NIL: u32 = u32::MAX;

/// One resting order plus its neighbours in its level's queue.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Node {
    pub order: RestingOrder,
    pub prev: u32,
    pub next: u32,
}

#[derive(Debug, Default, Clone)]
pub(crate) struct Slab {
    nodes: Vec<Node>,
    free: Vec<u32>,
}

impl Slab {
    /// Stores `order` unlinked and returns its slot.
    pub fn alloc(&mut self, order: RestingOrder) -> u32 {
        let node = Node {
            order,
            prev: NIL,
            next: NIL,
        };
        match self.free.pop() {
            Some(slot) => {
                self.nodes[slot as usize] = node;
                slot
            }
            None => {
                let slot = u32::try_from(self.nodes.len())
                    .ok()
                    .filter(|&s| s != NIL)
                    .expect("order book holds more than u32::MAX - 1 orders");
                self.nodes.push(node);
                slot
            }
        }
    }

    /// Returns the slot to the free list. The caller has already unlinked it.
    pub fn free(&mut self, slot: u32) {
        self.free.push(slot);
    }

    #[inline]
    pub fn get(&self, slot: u32) -> &Node {
        &self.nodes[slot as usize]
    }

    #[inline]
    pub fn get_mut(&mut self, slot: u32) -> &mut Node {
        &mut self.nodes[slot as usize]
    }
}
