//! Arena of resting orders with a free list.
//!
//! Orders live in one `Vec` and refer to each other by `u32` slot, so a price level is an
//! intrusive doubly-linked list without any per-order allocation. Freed slots are reused
//! (last freed, first reused) so the arena stays as small as the peak book size, and an
//! order that is removed and re-inserted (a price amend) lands in the same, still cached,
//! slot.
//!
//! The queue links are kept apart from the order data: unlinking an order or appending to
//! a level touches its neighbours' links only, and 8-byte links of a deep book stay in
//! cache where 64-byte nodes would not.

use crate::RestingOrder;

/// "No slot": the end of a list.
pub(crate) const NIL: u32 = u32::MAX;

/// An order's neighbours in its level's queue (towards the front / the back).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Link {
    pub prev: u32,
    pub next: u32,
}

#[derive(Debug, Default, Clone)]
pub(crate) struct Slab {
    orders: Vec<RestingOrder>,
    links: Vec<Link>,
    free: Vec<u32>,
}

impl Slab {
    /// Stores `order` (unlinked) and returns its slot.
    #[inline]
    pub fn alloc(&mut self, order: RestingOrder) -> u32 {
        match self.free.pop() {
            Some(slot) => {
                self.orders[slot as usize] = order;
                slot
            }
            None => {
                let slot = u32::try_from(self.orders.len())
                    .ok()
                    .filter(|&s| s != NIL)
                    .expect("order book holds more than u32::MAX - 1 orders");
                self.orders.push(order);
                self.links.push(Link {
                    prev: NIL,
                    next: NIL,
                });
                slot
            }
        }
    }

    /// Returns the slot to the free list. The caller has already unlinked it.
    #[inline]
    pub fn free(&mut self, slot: u32) {
        self.free.push(slot);
    }

    #[inline]
    pub fn order(&self, slot: u32) -> &RestingOrder {
        &self.orders[slot as usize]
    }

    #[inline]
    pub fn order_mut(&mut self, slot: u32) -> &mut RestingOrder {
        &mut self.orders[slot as usize]
    }

    #[inline]
    pub fn link(&self, slot: u32) -> Link {
        self.links[slot as usize]
    }

    #[inline]
    pub fn link_mut(&mut self, slot: u32) -> &mut Link {
        &mut self.links[slot as usize]
    }
}
