//! The fast book: a [`Slab`] of orders, an id → slot map, and a [`Ladder`] per side.

use crate::index::IdIndex;
use crate::ladder::Ladder;
use crate::slab::Slab;
use crate::{BookError, RestingOrder};
use bourse_model::{OrderId, Price, Qty, Side};

/// One market's limit order book. See the [crate docs](crate) for the rules.
#[derive(Debug, Clone)]
pub struct OrderBook {
    pub(crate) bids: Ladder,
    pub(crate) asks: Ladder,
    pub(crate) slab: Slab,
    pub(crate) index: IdIndex,
}

impl Default for OrderBook {
    fn default() -> Self {
        Self::new()
    }
}

impl OrderBook {
    pub fn new() -> Self {
        OrderBook {
            bids: Ladder::new(Side::Buy),
            asks: Ladder::new(Side::Sell),
            slab: Slab::default(),
            index: IdIndex::default(),
        }
    }

    #[inline]
    pub(crate) fn ladder(&self, side: Side) -> &Ladder {
        match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        }
    }

    /// Appends at the back of its price level. The caller guarantees it does not cross
    /// the opposite side and that the id is not in the book; a violation is a bug in the
    /// caller (debug builds panic, release builds leave the book unchanged). Use
    /// [`try_insert`](Self::try_insert) to get the reason instead.
    pub fn insert(&mut self, order: RestingOrder) {
        let result = self.try_insert(order);
        debug_assert!(result.is_ok(), "OrderBook::insert({order:?}): {result:?}");
    }

    /// [`insert`](Self::insert) that checks its preconditions and reports a violation
    /// without changing the book.
    pub fn try_insert(&mut self, order: RestingOrder) -> Result<(), BookError> {
        if order.qty.is_zero() {
            return Err(BookError::ZeroQty(order.id));
        }
        if self.would_cross(order.side, order.price) {
            return Err(BookError::WouldCross(order.id));
        }
        let slot = self
            .index
            .insert_new(&mut self.slab, order)
            .ok_or(BookError::DuplicateId(order.id))?;
        let ladder = match order.side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        };
        ladder.push(&mut self.slab, slot, order.price, order.qty.0);
        Ok(())
    }

    pub fn remove(&mut self, id: OrderId) -> Option<RestingOrder> {
        let slot = self.index.remove(&self.slab, id)?;
        let order = self.slab.order(slot);
        let ladder = match order.side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        };
        ladder.unlink(&mut self.slab, slot, order.qty.0);
        self.slab.free(slot);
        Some(order)
    }

    /// Lowers an order's remaining size in place, keeping its queue position, and returns
    /// the level's new total. Returns `None` and changes nothing if the id is not in the
    /// book or `new_qty` is not in `1..=current` (an equal size is a no-op).
    pub fn reduce(&mut self, id: OrderId, new_qty: Qty) -> Option<Qty> {
        let slot = self.index.get(&self.slab, id)?;
        let order = self.slab.order(slot);
        let old = order.qty;
        if new_qty.is_zero() || new_qty > old {
            return None;
        }
        self.slab.set_qty(slot, new_qty);
        let ladder = match order.side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        };
        Some(Qty(ladder.shrink(&self.slab, slot, old.0 - new_qty.0)))
    }

    pub fn get(&self, id: OrderId) -> Option<RestingOrder> {
        self.index
            .get(&self.slab, id)
            .map(|slot| self.slab.order(slot))
    }

    pub fn contains(&self, id: OrderId) -> bool {
        self.index.contains(&self.slab, id)
    }

    pub fn best(&self, side: Side) -> Option<(Price, Qty)> {
        self.ladder(side).best().map(|l| (l.price, Qty(l.total)))
    }

    /// Total size at one price level (0 if none).
    pub fn level_qty(&self, side: Side, price: Price) -> Qty {
        Qty(self.ladder(side).total_at(price))
    }

    /// Up to `n` levels from the best price outward.
    pub fn depth(&self, side: Side, n: usize) -> Vec<(Price, Qty)> {
        self.ladder(side)
            .best_first()
            .take(n)
            .map(|l| (l.price, Qty(l.total)))
            .collect()
    }

    /// Number of non-empty price levels on one side.
    pub fn level_count(&self, side: Side) -> usize {
        self.ladder(side).level_count()
    }

    /// True if a limit order at `price` on `side` would match immediately.
    pub fn would_cross(&self, side: Side, price: Price) -> bool {
        match side {
            Side::Buy => self.asks.best().is_some_and(|l| l.price <= price),
            Side::Sell => self.bids.best().is_some_and(|l| l.price >= price),
        }
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every resting order, bids best-first then asks best-first, each level in queue
    /// order: inserting them in this order into an empty book rebuilds the same book.
    pub fn orders(&self) -> Vec<RestingOrder> {
        let mut out = Vec::with_capacity(self.len());
        for ladder in [&self.bids, &self.asks] {
            for level in ladder.best_first() {
                out.extend(level.iter(&self.slab));
            }
        }
        out
    }
}
