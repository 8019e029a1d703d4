//! Arena of resting orders with a free list.
//!
//! Orders live in one `Vec` and refer to each other by `u32` slot, so a price level is an
//! intrusive doubly-linked list without any per-order allocation. Freed slots are reused
//! (last freed, first reused) so the arena stays as small as the peak book size, and an
//! order that is removed and re-inserted (a price amend) lands in the same, still cached,
//! slot.
//!
//! Each slot is one cache line holding the order and its queue links, so reading an
//! order for cancel also brings in what unlinking it needs.

use crate::RestingOrder;
use bourse_model::{OrderId, Price, Qty, Side, Timestamp, UserId};

/// "No slot": the end of a list.
pub(crate) const NIL: u32 = u32::MAX;

/// Where an order sits: its level (an index into its side's level arena) and its
/// neighbours in that level's queue (towards the front / the back).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Link {
    pub prev: u32,
    pub next: u32,
    pub level: u32,
}

/// A [`RestingOrder`] taken apart so that it and its [`Link`] fit one cache line
/// (61 bytes of fields).
#[derive(Debug, Clone, Copy)]
#[repr(align(64))]
struct Node {
    id: OrderId,
    owner: UserId,
    price: Price,
    qty: Qty,
    expire_at: Option<Timestamp>,
    link: Link,
    side: Side,
}

impl Node {
    #[inline]
    fn new(o: RestingOrder) -> Self {
        Node {
            id: o.id,
            owner: o.owner,
            price: o.price,
            qty: o.qty,
            expire_at: o.expire_at,
            link: Link {
                prev: NIL,
                next: NIL,
                level: NIL,
            },
            side: o.side,
        }
    }
}

#[derive(Debug, Default, Clone)]
pub(crate) struct Slab {
    nodes: Vec<Node>,
    free: Vec<u32>,
}

impl Slab {
    /// Stores `order` (unlinked) and returns its slot.
    #[inline]
    pub fn alloc(&mut self, order: RestingOrder) -> u32 {
        let node = Node::new(order);
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
    #[inline]
    pub fn free(&mut self, slot: u32) {
        self.free.push(slot);
    }

    #[inline]
    pub fn order(&self, slot: u32) -> RestingOrder {
        let n = &self.nodes[slot as usize];
        RestingOrder {
            id: n.id,
            owner: n.owner,
            side: n.side,
            price: n.price,
            qty: n.qty,
            expire_at: n.expire_at,
        }
    }

    #[inline]
    pub fn id(&self, slot: u32) -> OrderId {
        self.nodes[slot as usize].id
    }

    #[inline]
    pub fn set_qty(&mut self, slot: u32, qty: Qty) {
        self.nodes[slot as usize].qty = qty;
    }

    #[inline]
    pub fn link(&self, slot: u32) -> Link {
        self.nodes[slot as usize].link
    }

    #[inline]
    pub fn link_mut(&mut self, slot: u32) -> &mut Link {
        &mut self.nodes[slot as usize].link
    }
}
