//! Fixed-point order quantities and the small enums that describe an order.

use serde::{Deserialize, Serialize};

/// A price as an integer number of ticks on its market's grid (see `MarketGrid`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Price(pub u64);

/// A base-asset size as an integer number of lots on its market's grid.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Qty(pub u64);

/// Money: an integer number of an asset's minor units (`10^-scale`). Never negative; the
/// ledger's signed account balances live in the core.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Amount(pub u64);

impl Qty {
    pub const ZERO: Qty = Qty(0);
    pub fn is_zero(self) -> bool {
        self.0 == 0
    }
}

impl Amount {
    pub const ZERO: Amount = Amount(0);
    pub fn checked_add(self, o: Amount) -> Option<Amount> {
        self.0.checked_add(o.0).map(Amount)
    }
    pub fn checked_sub(self, o: Amount) -> Option<Amount> {
        self.0.checked_sub(o.0).map(Amount)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Buy,
    Sell,
}

impl Side {
    pub fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderType {
    Limit,
    Market,
    StopLimit,
    StopMarket,
}

impl OrderType {
    pub fn is_stop(self) -> bool {
        matches!(self, OrderType::StopLimit | OrderType::StopMarket)
    }
    pub fn is_market(self) -> bool {
        matches!(self, OrderType::Market | OrderType::StopMarket)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeInForce {
    /// Good till canceled.
    #[default]
    Gtc,
    /// Immediate or cancel: fill what can be filled now, expire the rest.
    Ioc,
    /// Fill or kill: fill completely now or do nothing.
    Fok,
    /// Good till date: rests until `expire_at`.
    Gtd,
}

/// Self-trade prevention: what happens when a taker would match a resting order of the
/// same user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StpMode {
    /// Cancel the rest of the incoming order; the resting order stays.
    #[default]
    ExpireTaker,
    /// Cancel the resting order and keep matching.
    ExpireMaker,
    /// Cancel both.
    ExpireBoth,
}
