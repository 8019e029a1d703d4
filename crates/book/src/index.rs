//! The id → slot index: which arena slot holds an order.
//!
//! A hash table of bare `u32` slots whose keys live in the arena: a lookup compares the
//! id stored in the candidate slot, which is the order the caller is about to read
//! anyway. Buckets are 4 bytes instead of the 16 of a `HashMap<OrderId, u32>`, so the
//! table of a deep book stays in cache. Order ids are assigned sequentially by the core,
//! which Fx hashes well.

use crate::slab::Slab;
use crate::RestingOrder;
use bourse_model::OrderId;
use hashbrown::hash_table::{Entry, HashTable};
use std::hash::BuildHasher;

#[derive(Debug, Default, Clone)]
pub(crate) struct IdIndex {
    table: HashTable<u32>,
}

#[inline]
fn hash(id: OrderId) -> u64 {
    rustc_hash::FxBuildHasher.hash_one(id.0)
}

impl IdIndex {
    #[inline]
    pub fn get(&self, slab: &Slab, id: OrderId) -> Option<u32> {
        self.table.find(hash(id), |&s| slab.id(s) == id).copied()
    }

    #[inline]
    pub fn contains(&self, slab: &Slab, id: OrderId) -> bool {
        self.get(slab, id).is_some()
    }

    /// Stores `order` in the arena and files it, returning its slot; `None` (and nothing
    /// stored) if its id is already present.
    #[inline]
    pub fn insert_new(&mut self, slab: &mut Slab, order: RestingOrder) -> Option<u32> {
        let id = order.id;
        let entry = self
            .table
            .entry(hash(id), |&s| slab.id(s) == id, |&s| hash(slab.id(s)));
        match entry {
            Entry::Occupied(_) => None,
            Entry::Vacant(v) => {
                let slot = slab.alloc(order);
                v.insert(slot);
                Some(slot)
            }
        }
    }

    /// Removes `id` and returns its slot.
    #[inline]
    pub fn remove(&mut self, slab: &Slab, id: OrderId) -> Option<u32> {
        let entry = self
            .table
            .find_entry(hash(id), |&s| slab.id(s) == id)
            .ok()?;
        Some(entry.remove().0)
    }

    /// Removes the entry of `id`, known to be at `slot` (no need to read the arena).
    #[inline]
    pub fn remove_known(&mut self, id: OrderId, slot: u32) {
        let Ok(entry) = self.table.find_entry(hash(id), |&s| s == slot) else {
            unreachable!("resting order {id} is not indexed");
        };
        entry.remove();
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.table.len()
    }
}
