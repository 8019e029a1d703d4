//! One side of the book: its non-empty price levels in a `Vec` sorted so that the best
//! price is at the END.
//!
//! Trading happens near the top of the book, so keeping the best level last makes the
//! common cases cheap: matching pops levels off the end, and adding or removing a level
//! near the top shifts only the few better levels. Lookups scan a few levels from the top
//! before falling back to binary search.

use crate::level::Level;
use bourse_model::{Price, Side};

/// How many levels from the top a lookup scans linearly before binary searching.
const TOP_SCAN: usize = 8;

#[derive(Debug, Clone)]
pub(crate) struct Ladder {
    side: Side,
    pub levels: Vec<Level>,
}

impl Ladder {
    pub fn new(side: Side) -> Self {
        Ladder {
            side,
            levels: Vec::new(),
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

    /// `Ok(i)` if the level at `price` is `levels[i]`, else `Err(i)` where it would go.
    #[inline]
    pub fn find(&self, price: Price) -> Result<usize, usize> {
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

    /// Index of the level at `price`, creating an empty one if needed.
    #[inline]
    pub fn find_or_insert(&mut self, price: Price) -> usize {
        match self.find(price) {
            Ok(i) => i,
            Err(i) => {
                self.levels.insert(i, Level::new(price));
                i
            }
        }
    }

    #[inline]
    pub fn best(&self) -> Option<&Level> {
        self.levels.last()
    }

    /// Levels from the best price outward.
    pub fn best_first(&self) -> impl Iterator<Item = &Level> {
        self.levels.iter().rev()
    }
}
