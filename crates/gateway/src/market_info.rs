//! A market as the gateways format and parse it (asset symbols, grid constants), and the
//! edge checks every channel applies to numbers: decimals on the market's grid, ids and
//! cursors the read models can hold, page limits, times.

use crate::error::Error;
use bourse_core::Core;
use bourse_model::{
    format_units, parse_units, Amount, AssetId, DecimalError, GridError, MarketId, MarketSpec,
    MarketStatus, Price, Qty,
};

/// Query-string limit of a page: `1..=max`, `default` when absent.
pub fn page_limit(limit: Option<u32>, default: u32, max: u32) -> Result<u32, Error> {
    match limit {
        None => Ok(default),
        Some(l) if (1..=max).contains(&l) => Ok(l),
        Some(_) => Err(Error::validation(format!("limit: 1 to {max}"))),
    }
}

/// The market of `symbol`, from the live core.
pub async fn market_info(gw: &crate::Gateway, symbol: &str) -> Result<MarketInfo, Error> {
    let symbol = symbol.to_owned();
    gw.seq
        .query(move |core| {
            let id = core.market_by_symbol(&symbol)?;
            MarketInfo::all(core).into_iter().find(|m| m.id == id)
        })
        .await?
        .ok_or(Error::Rejected(bourse_model::RejectCode::UnknownMarket))
}

/// The market called `symbol` among `markets`, or `UNKNOWN_MARKET`.
pub fn find_market<'a>(markets: &'a [MarketInfo], symbol: &str) -> Result<&'a MarketInfo, Error> {
    markets
        .iter()
        .find(|m| m.symbol() == symbol)
        .ok_or(Error::Rejected(bourse_model::RejectCode::UnknownMarket))
}

/// A market with what formatting needs (asset symbols, grid constants).
#[derive(Debug, Clone)]
pub struct MarketInfo {
    pub id: MarketId,
    pub spec: MarketSpec,
    pub base: String,
    pub quote: String,
    pub status: MarketStatus,
    pub last_price: Option<Price>,
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

    pub fn parse_price(&self, field: &str, s: &str) -> Result<Price, Error> {
        let p = self.spec.parse_price(s).map_err(|e| grid_error(field, e))?;
        within_store_range(field, p.0.saturating_mul(self.spec.tick))?;
        Ok(p)
    }

    pub fn parse_qty(&self, field: &str, s: &str) -> Result<Qty, Error> {
        let q = self.spec.parse_qty(s).map_err(|e| grid_error(field, e))?;
        within_store_range(field, q.0.saturating_mul(self.spec.lot))?;
        Ok(q)
    }

    pub fn parse_quote(&self, field: &str, s: &str) -> Result<Amount, Error> {
        parse_amount(field, s, self.spec.quote_scale)
    }
}

/// The largest count of units (ticks, lots, minor units) or ms the API accepts: the read
/// models store them as signed 64-bit integers and refuse anything larger, so a larger
/// value journaled would stall the projector.
pub const MAX_UNITS: u64 = i64::MAX as u64;

fn within_store_range(field: &str, units: u64) -> Result<(), Error> {
    if units > MAX_UNITS {
        return Err(decimal_error(field, DecimalError::Overflow));
    }
    Ok(())
}

/// An asset amount (`scale` decimals), at most [`MAX_UNITS`] minor units.
pub fn parse_amount(field: &str, s: &str, scale: u8) -> Result<Amount, Error> {
    let units = parse_units(s, scale).map_err(|e| decimal_error(field, e))?;
    within_store_range(field, units)?;
    Ok(Amount(units))
}

/// A cursor or id the read models can look up (they hold signed 64-bit integers).
pub fn check_cursor(field: &str, v: Option<u64>) -> Result<Option<u64>, Error> {
    match v {
        Some(v) if v > MAX_UNITS => Err(Error::validation(format!("{field}: at most {MAX_UNITS}"))),
        v => Ok(v),
    }
}

/// A time in ms since the epoch, at most year 9999.
pub fn check_time(field: &str, ms: u64) -> Result<(), Error> {
    const MAX_MS: u64 = 253_402_300_799_999;
    if ms > MAX_MS {
        return Err(Error::validation(format!(
            "{field}: ms since the epoch, at most {MAX_MS}"
        )));
    }
    Ok(())
}

pub fn asset_symbol(core: &Core, id: AssetId) -> String {
    core.asset(id)
        .map(|a| a.symbol.to_string())
        .unwrap_or_default()
}

pub fn decimal_error(field: &str, e: DecimalError) -> Error {
    Error::invalid("INVALID_DECIMAL", format!("{field}: {e}"))
}

pub fn grid_error(field: &str, e: GridError) -> Error {
    match e {
        GridError::Decimal(d) => decimal_error(field, d),
        GridError::OffGrid => Error::invalid(
            "OFF_GRID",
            format!("{field}: not a positive multiple of the market's increment"),
        ),
    }
}
