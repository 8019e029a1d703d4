//! Market definition and its price/size grid.
//!
//! A market trades a *base* asset against a *quote* asset. Prices are written with
//! `price_scale` decimals and must be a multiple of `tick` (in `10^-price_scale` units);
//! sizes are written with `qty_scale` decimals and must be a multiple of `lot`. Internally a
//! price is a number of ticks ([`Price`]) and a size a number of lots ([`Qty`]), so
//! the notional of one tick × one lot is a fixed integer number of quote minor units
//! (`quote_per_tick_lot`). Market creation is refused unless that number is a whole, non-zero
//! integer: every notional, hold and fee is then exact.

use crate::decimal::{format_units, parse_units, DecimalError};
use crate::ids::Symbol;
use crate::order::{Amount, Price, Qty};
use crate::{AssetId, Tier};
use serde::{Deserialize, Serialize};

/// An asset and the number of decimals of its minor unit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AssetSpec {
    pub symbol: Symbol,
    /// 0..=18
    pub scale: u8,
}

/// Maker and taker fee in basis points (1 bp = 0.01 %). Fees are charged in the quote
/// asset and rounded *down* to its minor unit, so per-fill fees never sum to more than the
/// fee on the whole order, which is what a hold reserves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct FeeSchedule {
    pub maker_bps: u32,
    pub taker_bps: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarketStatus {
    #[default]
    Open,
    /// No new orders or amends; cancels still work, resting orders stay.
    Halted,
}

/// Everything the core needs to run a market. Grid fields are in the units described in
/// the module doc.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MarketSpec {
    pub symbol: Symbol,
    pub base: AssetId,
    pub quote: AssetId,
    pub base_scale: u8,
    pub quote_scale: u8,
    pub price_scale: u8,
    pub tick: u64,
    pub qty_scale: u8,
    pub lot: u64,
    /// Smallest and largest order size in lots.
    pub min_qty: Qty,
    pub max_qty: Qty,
    /// Smallest order notional in quote minor units (limit orders; market orders are
    /// checked on their size only).
    pub min_notional: Amount,
    /// Limit prices further than this from the last trade price are refused; 0 = off.
    pub price_band_bps: u32,
    /// Market orders (by base size or by quote amount) may walk at most this far from
    /// the best opposite price (or the stop price for a stop-market) at acceptance; the
    /// bound also sizes a base-sized buy's hold.
    pub market_slippage_bps: u32,
    /// Open (resting or untriggered) orders per user in this market.
    pub max_open_orders: u32,
    /// Fee schedule per [`Tier`], indexed by `Tier::index()`.
    pub fees: [FeeSchedule; 3],
}

/// Why a market definition was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MarketSpecError {
    #[error("scales must be at most 18")]
    Scale,
    #[error("tick and lot must be positive")]
    ZeroGrid,
    #[error("size decimals exceed the base asset's decimals")]
    QtyScale,
    #[error("one tick times one lot is not a whole number of quote minor units")]
    Grid,
    #[error("min_qty must be positive and at most max_qty")]
    QtyBounds,
    #[error("fees above 100 %")]
    Fees,
    #[error("base and quote must differ")]
    SameAsset,
}

impl MarketSpec {
    /// Checks the grid and returns `(quote_per_tick_lot, base_per_lot)`.
    pub fn validate(&self) -> Result<(u64, u64), MarketSpecError> {
        if [
            self.base_scale,
            self.quote_scale,
            self.price_scale,
            self.qty_scale,
        ]
        .iter()
        .any(|s| *s > 18)
        {
            return Err(MarketSpecError::Scale);
        }
        if self.base == self.quote {
            return Err(MarketSpecError::SameAsset);
        }
        if self.tick == 0 || self.lot == 0 {
            return Err(MarketSpecError::ZeroGrid);
        }
        if self.qty_scale > self.base_scale {
            return Err(MarketSpecError::QtyScale);
        }
        if self.min_qty.0 == 0 || self.min_qty > self.max_qty {
            return Err(MarketSpecError::QtyBounds);
        }
        if self
            .fees
            .iter()
            .any(|f| f.maker_bps > 10_000 || f.taker_bps > 10_000)
        {
            return Err(MarketSpecError::Fees);
        }
        let num = u128::from(self.tick)
            .checked_mul(u128::from(self.lot))
            .and_then(|v| v.checked_mul(10u128.pow(u32::from(self.quote_scale))))
            .ok_or(MarketSpecError::Grid)?;
        let den = 10u128.pow(u32::from(self.price_scale) + u32::from(self.qty_scale));
        if num % den != 0 || num / den == 0 || num / den > u128::from(u64::MAX) {
            return Err(MarketSpecError::Grid);
        }
        let base_per_lot =
            u128::from(self.lot) * 10u128.pow(u32::from(self.base_scale - self.qty_scale));
        let base_per_lot = u64::try_from(base_per_lot).map_err(|_| MarketSpecError::Grid)?;
        Ok(((num / den) as u64, base_per_lot))
    }

    pub fn fee(&self, tier: Tier) -> FeeSchedule {
        self.fees[tier.index()]
    }

    /// Parses a decimal price; it must be positive and on the tick grid.
    pub fn parse_price(&self, s: &str) -> Result<Price, GridError> {
        let units = parse_units(s, self.price_scale)?;
        if units == 0 || units % self.tick != 0 {
            return Err(GridError::OffGrid);
        }
        Ok(Price(units / self.tick))
    }

    /// Parses a decimal size; it must be positive and on the lot grid.
    pub fn parse_qty(&self, s: &str) -> Result<Qty, GridError> {
        let units = parse_units(s, self.qty_scale)?;
        if units == 0 || units % self.lot != 0 {
            return Err(GridError::OffGrid);
        }
        Ok(Qty(units / self.lot))
    }

    pub fn format_price(&self, p: Price) -> String {
        format_units(p.0.saturating_mul(self.tick), self.price_scale)
    }

    pub fn format_qty(&self, q: Qty) -> String {
        format_units(q.0.saturating_mul(self.lot), self.qty_scale)
    }
}

/// A decimal that is malformed or not on the market's grid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GridError {
    #[error(transparent)]
    Decimal(#[from] DecimalError),
    #[error("not a positive multiple of the market's increment")]
    OffGrid,
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn btc_usd() -> MarketSpec {
        MarketSpec {
            symbol: Symbol::new("BTC-USD").unwrap(),
            base: AssetId(0),
            quote: AssetId(1),
            base_scale: 8,
            quote_scale: 6,
            price_scale: 2,
            tick: 1,
            qty_scale: 4,
            lot: 1,
            min_qty: Qty(1),
            max_qty: Qty(1_000_000),
            min_notional: Amount(1_000_000),
            price_band_bps: 0,
            market_slippage_bps: 500,
            max_open_orders: 200,
            fees: [FeeSchedule {
                maker_bps: 10,
                taker_bps: 20,
            }; 3],
        }
    }

    #[test]
    fn grid_is_exact() {
        let m = btc_usd();
        // 0.01 USD × 0.0001 BTC = 0.000001 USD = 1 micro-dollar; one lot = 10^4 satoshi.
        assert_eq!(m.validate(), Ok((1, 10_000)));
        assert_eq!(m.parse_price("101.25"), Ok(Price(10125)));
        assert_eq!(
            m.parse_price("101.255"),
            Err(GridError::Decimal(DecimalError::TooPrecise(2)))
        );
        assert_eq!(m.parse_price("0"), Err(GridError::OffGrid));
        assert_eq!(m.format_qty(Qty(15)), "0.0015");
    }

    #[test]
    fn off_grid_prices_are_rejected_not_rounded() {
        let m = MarketSpec {
            tick: 5,
            ..btc_usd()
        };
        assert_eq!(m.parse_price("1.05"), Ok(Price(21)));
        assert_eq!(m.parse_price("1.07"), Err(GridError::OffGrid));
    }

    #[test]
    fn a_grid_finer_than_the_quote_unit_is_refused() {
        let m = MarketSpec {
            quote_scale: 2,
            ..btc_usd()
        };
        assert_eq!(m.validate(), Err(MarketSpecError::Grid));
        let m = MarketSpec {
            qty_scale: 9,
            ..btc_usd()
        };
        assert_eq!(m.validate(), Err(MarketSpecError::QtyScale));
    }
}
