//! A market as every channel formats it: the core's market with its asset symbols and
//! grid constants. Parsing (which answers gateway errors) lives in the gateway.

use bourse_core::Core;
use bourse_model::{format_units, Amount, AssetId, MarketId, MarketSpec, MarketStatus, Price, Qty};

/// A market with what formatting needs (asset symbols, grid constants).
#[derive(Debug, Clone)]
pub struct MarketInfo {
    pub id: MarketId,
    pub spec: MarketSpec,
    pub base: String,
    pub quote: String,
    pub status: MarketStatus,
    pub last_price: Option<Price>,
    /// The book sequence (one per command that changed the book).
    pub sequence: u64,
    pub quote_per_tick_lot: u64,
}

impl MarketInfo {
    pub fn all(core: &Core) -> Vec<MarketInfo> {
        core.markets()
            .into_iter()
            .map(|m| MarketInfo {
                id: m.id,
                base: asset_symbol(core, m.spec.base),
                quote: asset_symbol(core, m.spec.quote),
                spec: m.spec,
                status: m.status,
                last_price: m.last_price,
                sequence: m.sequence,
                quote_per_tick_lot: m.quote_per_tick_lot,
            })
            .collect()
    }

    pub fn symbol(&self) -> &str {
        self.spec.symbol.as_str()
    }

    pub fn price(&self, p: Price) -> String {
        self.spec.format_price(p)
    }

    pub fn qty(&self, q: Qty) -> String {
        self.spec.format_qty(q)
    }

    pub fn quote_amount(&self, a: Amount) -> String {
        format_units(a.0, self.spec.quote_scale)
    }

    /// Volume-weighted average price of `notional` (quote minor units) over `filled`
    /// lots, rounded down to the price's decimals.
    pub fn average_price(&self, notional: Amount, filled: Qty) -> Option<String> {
        if filled.is_zero() || self.quote_per_tick_lot == 0 {
            return None;
        }
        let units = u128::from(notional.0) * u128::from(self.spec.tick)
            / (u128::from(self.quote_per_tick_lot) * u128::from(filled.0));
        Some(format_units(
            u64::try_from(units).ok()?,
            self.spec.price_scale,
        ))
    }
}

pub fn asset_symbol(core: &Core, id: AssetId) -> String {
    core.asset(id)
        .map(|a| a.symbol.to_string())
        .unwrap_or_default()
}
