//! One side of the book: its price levels, found by price in O(1) and kept in price
//! order with the best price at the END.
//!
//! * `levels` is an arena of [`Level`]s with stable indices, so a resting order records
//!   its level's index and cancel/reduce reach the level without any search.
//! * `by_price` maps a price to its level for inserts and `level_qty`.
//! * `order` lists the level indices sorted from worst to best price. Trading happens
//!   near the top, so matching pops levels off the end of it and a new level near the top
//!   shifts only the few better ones; a new level elsewhere is found by binary search.
//!
//! A level that empties below the top stays in place as an empty *tombstone* instead of
//! being shifted out: orders that move by a tick or two keep emptying and refilling the
//! same prices, and reusing the tombstone saves two `memmove`s and a hash insert/remove.
//! Invariants: the last level in `order` (the best) is never empty, so `best` is O(1);
//! tombstones are swept out in one pass once they outnumber the live levels (amortised
//! O(1)); every public view (`best_first`, `level_count`, `total_at`) skips them.

use crate::level::Level;
use crate::slab::{Slab, NIL};
use bourse_model::{Price, Side};
use rustc_hash::FxHashMap;

/// How many levels from the top a new level's position is scanned for linearly before
/// binary searching.
const TOP_SCAN: usize = 8;
/// Tombstones tolerated regardless of the number of live levels.
const MIN_TOMBSTONES: usize = 16;

#[derive(Debug, Clone)]
pub(crate) struct Ladder {
    side: Side,
    levels: Vec<Level>,
    free_levels: Vec<u32>,
    by_price: FxHashMap<Price, u32>,
    order: Vec<u32>,
    /// How many entries of `order` are empty tombstones.
    empty: usize,
}

impl Ladder {
    pub fn new(side: Side) -> Self {
        Ladder {
            side,
            levels: Vec::new(),
            free_levels: Vec::new(),
            by_price: FxHashMap::default(),
            order: Vec::new(),
            empty: 0,
        }
    }

    /// A number that grows as the price gets better for this side, so `order` is sorted
    /// ascending by it.
    #[inline]
    fn rank(&self, price: Price) -> u64 {
        match self.side {
            Side::Buy => price.0,
            Side::Sell => !price.0,
        }
    }

    /// Appends `slot` (holding an order at `price` of size `qty`) to the back of its level.
    #[inline]
    pub fn push(&mut self, slab: &mut Slab, slot: u32, price: Price, qty: u64) {
        let ix = match self.by_price.get(&price) {
            Some(&ix) => {
                if self.levels[ix as usize].is_empty() {
                    self.empty -= 1;
                }
                ix
            }
            None => self.new_level(price),
        };
        self.levels[ix as usize].push_back(slab, slot, qty, ix);
    }

    /// Creates an empty level at `price` (not yet in the book) and files it in `order`.
    fn new_level(&mut self, price: Price) -> u32 {
        let level = Level::new(price);
        let ix = match self.free_levels.pop() {
            Some(ix) => {
                self.levels[ix as usize] = level;
                ix
            }
            None => {
                let ix = u32::try_from(self.levels.len())
                    .ok()
                    .filter(|&ix| ix != NIL)
                    .expect("more than u32::MAX - 1 price levels");
                self.levels.push(level);
                ix
            }
        };
        self.by_price.insert(price, ix);
        let key = self.rank(price);
        let rank_at = |k: usize| self.rank(self.levels[self.order[k] as usize].price);
        let n = self.order.len();
        let scan_to = n.saturating_sub(TOP_SCAN);
        let mut at = n;
        while at > scan_to && rank_at(at - 1) > key {
            at -= 1;
        }
        if at == scan_to && at > 0 {
            at = self.order[..scan_to]
                .partition_point(|&i| self.rank(self.levels[i as usize].price) < key);
        }
        self.order.insert(at, ix);
        ix
    }

    /// Takes `slot` (holding an order of size `qty`) out of its level. The caller frees it.
    #[inline]
    pub fn unlink(&mut self, slab: &mut Slab, slot: u32, qty: u64) {
        let ix = slab.link(slot).level;
        let level = &mut self.levels[ix as usize];
        level.unlink(slab, slot, qty);
        if level.is_empty() {
            self.level_emptied(ix);
        }
    }

    /// Lowers the total of `slot`'s level by `by` and returns the new total.
    #[inline]
    pub fn shrink(&mut self, slab: &Slab, slot: u32, by: u64) -> u64 {
        let level = &mut self.levels[slab.link(slot).level as usize];
        level.total -= by;
        level.total
    }

    /// Restores the invariants after level `ix` became empty.
    #[inline]
    fn level_emptied(&mut self, ix: u32) {
        self.empty += 1;
        if self.order.last() == Some(&ix) {
            self.pop_empty_top();
        } else if self.empty > MIN_TOMBSTONES && self.empty > self.order.len() / 2 {
            self.sweep_tombstones();
        }
    }

    /// Drops the level at `ix` (empty, already out of `order`).
    #[inline]
    fn drop_level(&mut self, ix: u32) {
        self.by_price.remove(&self.levels[ix as usize].price);
        self.free_levels.push(ix);
        self.empty -= 1;
    }

    /// Pops the empty top level and any tombstones right below it.
    #[inline]
    fn pop_empty_top(&mut self) {
        while let Some(&ix) = self.order.last() {
            if !self.levels[ix as usize].is_empty() {
                break;
            }
            self.order.pop();
            self.drop_level(ix);
        }
    }

    #[cold]
    fn sweep_tombstones(&mut self) {
        let mut order = std::mem::take(&mut self.order);
        order.retain(|&ix| {
            let keep = !self.levels[ix as usize].is_empty();
            if !keep {
                self.drop_level(ix);
            }
            keep
        });
        self.order = order;
    }

    /// The best level, never empty.
    #[inline]
    pub fn best(&self) -> Option<&Level> {
        self.order.last().map(|&ix| &self.levels[ix as usize])
    }

    /// The best level for matching. If the caller empties it, it must call
    /// [`top_emptied`](Self::top_emptied) before looking at the ladder again.
    #[inline]
    pub fn best_mut(&mut self) -> Option<&mut Level> {
        self.order.last().map(|&ix| &mut self.levels[ix as usize])
    }

    /// Restores the invariants after matching emptied the best level.
    #[inline]
    pub fn top_emptied(&mut self) {
        self.empty += 1;
        self.pop_empty_top();
    }

    /// Total size at `price` (0 if no level).
    #[inline]
    pub fn total_at(&self, price: Price) -> u64 {
        self.by_price
            .get(&price)
            .map_or(0, |&ix| self.levels[ix as usize].total)
    }

    /// Non-empty levels from the best price outward.
    pub fn best_first(&self) -> impl Iterator<Item = &Level> {
        self.order
            .iter()
            .rev()
            .map(|&ix| &self.levels[ix as usize])
            .filter(|l| !l.is_empty())
    }

    /// Number of non-empty levels.
    pub fn level_count(&self) -> usize {
        self.order.len() - self.empty
    }
}
