//! One side of the book: its price levels in a `Vec` sorted so that the best price is at
//! the END.
//!
//! Trading happens near the top of the book, so keeping the best level last makes the
//! common cases cheap: matching pops levels off the end, and adding or removing a level
//! near the top shifts only the few better levels. Lookups scan a few levels from the top
//! before falling back to binary search.
//!
//! A level that empties below the top is left in place as an empty *tombstone* instead of
//! being shifted out: orders that move by a tick or two keep emptying and refilling the
//! same prices, and reusing the tombstone saves two `memmove`s of the levels above it.
//! Invariants: the last level (the best) is never empty, so `best` is O(1); tombstones are
//! swept out in one pass once they outnumber the live levels (amortised O(1)); every
//! public view (`best_first`, `level_count`, `total_at`) skips them.

use crate::level::Level;
use crate::slab::Slab;
use bourse_model::{Price, Side};

/// How many levels from the top a lookup scans linearly before binary searching.
const TOP_SCAN: usize = 4;
/// Tombstones tolerated regardless of the number of live levels.
const MIN_TOMBSTONES: usize = 16;

#[derive(Debug, Clone)]
pub(crate) struct Ladder {
    side: Side,
    levels: Vec<Level>,
    /// How many entries of `levels` are empty tombstones.
    empty: usize,
}

impl Ladder {
    pub fn new(side: Side) -> Self {
        Ladder {
            side,
            levels: Vec::new(),
            empty: 0,
        }
    }

    /// A number that grows as the price gets better for this side, so the `Vec` is
    /// sorted ascending by it.
    #[inline]
    fn rank(&self, price: Price) -> u64 {
        match self.side {
            Side::Buy => price.0,
            Side::Sell => !price.0,
        }
    }

    /// `Ok(i)` if `levels[i]` (maybe a tombstone) has `price`, else `Err(i)` where it
    /// would go.
    #[inline]
    fn find(&self, price: Price) -> Result<usize, usize> {
        let key = self.rank(price);
        let n = self.levels.len();
        let scan_to = n.saturating_sub(TOP_SCAN);
        let mut i = n;
        while i > scan_to {
            let k = self.rank(self.levels[i - 1].price);
            if k == key {
                return Ok(i - 1);
            }
            if k < key {
                return Err(i);
            }
            i -= 1;
        }
        self.levels[..scan_to].binary_search_by_key(&key, |l| self.rank(l.price))
    }

    /// Appends `slot` (holding an order at `price` of size `qty`) to the back of its level.
    #[inline]
    pub fn push(&mut self, slab: &mut Slab, slot: u32, price: Price, qty: u64) {
        let i = match self.find(price) {
            Ok(i) => {
                if self.levels[i].is_empty() {
                    self.empty -= 1;
                }
                i
            }
            Err(i) => {
                self.levels.insert(i, Level::new(price));
                i
            }
        };
        self.levels[i].push_back(slab, slot, qty);
    }

    /// Takes `slot` (holding an order at `price` of size `qty`) out of its level. The
    /// caller frees it.
    #[inline]
    pub fn unlink(&mut self, slab: &mut Slab, slot: u32, price: Price, qty: u64) {
        let i = self.find(price).expect("a resting order has a level");
        let level = &mut self.levels[i];
        level.unlink(slab, slot, qty);
        if level.is_empty() {
            self.level_emptied(i);
        }
    }

    /// Lowers the total of the level at `price` by `by` and returns the new total.
    #[inline]
    pub fn shrink(&mut self, price: Price, by: u64) -> u64 {
        let i = self.find(price).expect("a resting order has a level");
        let level = &mut self.levels[i];
        level.total -= by;
        level.total
    }

    /// Restores the invariants after `levels[i]` became empty.
    #[inline]
    fn level_emptied(&mut self, i: usize) {
        self.empty += 1;
        if i + 1 == self.levels.len() {
            self.pop_empty_top();
        } else if self.empty > MIN_TOMBSTONES && self.empty > self.levels.len() / 2 {
            self.levels.retain(|l| !l.is_empty());
            self.empty = 0;
        }
    }

    /// Pops the empty top level and any tombstones right below it.
    #[inline]
    fn pop_empty_top(&mut self) {
        while self.levels.last().is_some_and(Level::is_empty) {
            self.levels.pop();
            self.empty -= 1;
        }
    }

    /// The best level, never empty.
    #[inline]
    pub fn best(&self) -> Option<&Level> {
        self.levels.last()
    }

    /// The best level for matching. If the caller empties it, it must call
    /// [`top_emptied`](Self::top_emptied) before looking at the ladder again.
    #[inline]
    pub fn best_mut(&mut self) -> Option<&mut Level> {
        self.levels.last_mut()
    }

    /// Restores the invariants after matching emptied the best level.
    #[inline]
    pub fn top_emptied(&mut self) {
        self.empty += 1;
        self.pop_empty_top();
    }

    /// Total size at `price` (0 if no level).
    pub fn total_at(&self, price: Price) -> u64 {
        self.find(price).map_or(0, |i| self.levels[i].total)
    }

    /// Non-empty levels from the best price outward.
    pub fn best_first(&self) -> impl Iterator<Item = &Level> {
        self.levels.iter().rev().filter(|l| !l.is_empty())
    }

    /// Number of non-empty levels.
    pub fn level_count(&self) -> usize {
        self.levels.len() - self.empty
    }
}
