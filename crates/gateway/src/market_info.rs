//! A market as the gateways format and parse it (asset symbols, grid constants), and the
//! edge checks every channel applies to numbers: decimals on the market's grid, ids and
//! cursors the read models can hold, page limits, times.

use crate::error::Error;
use bourse_model::{parse_units, Amount, DecimalError, GridError, Price, Qty};

/// Query-string limit of a page: `1..=max`, `default` when absent.
/// The range is a rule of [`crate::rules`] (its `max`), so the OpenAPI document states it.
pub fn page_limit(
    limit: Option<u32>,
    default: u32,
    rule: crate::rules::Bounds,
) -> Result<u32, Error> {
    let l = rule.check_or("limit", limit.map(u64::from), u64::from(default))?;
    Ok(u32::try_from(l).expect("page limits fit u32"))
}

/// The market of `symbol`, from the read views.
pub fn market_info(gw: &crate::Gateway, symbol: &str) -> Result<MarketInfo, Error> {
    gw.seq
        .views()
        .market_by_symbol(symbol)
        .map(|m| m.info.clone())
        .ok_or(Error::Rejected(bourse_model::RejectCode::UnknownMarket))
}

/// The market `id`, from the read views.
pub fn market_by_id(gw: &crate::Gateway, id: bourse_model::MarketId) -> Result<MarketInfo, Error> {
    let catalog = gw.seq.views().catalog();
    catalog
        .market(id)
        .map(|m| m.info.clone())
        .ok_or(Error::Rejected(bourse_model::RejectCode::UnknownMarket))
}

/// The market called `symbol` among `markets`, or `UNKNOWN_MARKET`.
pub fn find_market<'a>(markets: &'a [MarketInfo], symbol: &str) -> Result<&'a MarketInfo, Error> {
    markets
        .iter()
        .find(|m| m.symbol() == symbol)
        .ok_or(Error::Rejected(bourse_model::RejectCode::UnknownMarket))
}

pub use bourse_engine::views::{asset_symbol, MarketInfo};

/// Parsing a decimal on a market's grid, answered with the gateway's errors
/// (`INVALID_DECIMAL`, `OFF_GRID`).
pub trait GridParse {
    fn parse_price(&self, field: &str, s: &str) -> Result<Price, Error>;
    fn parse_qty(&self, field: &str, s: &str) -> Result<Qty, Error>;
    fn parse_quote(&self, field: &str, s: &str) -> Result<Amount, Error>;
}

impl GridParse for MarketInfo {
    fn parse_price(&self, field: &str, s: &str) -> Result<Price, Error> {
        let p = self.spec.parse_price(s).map_err(|e| grid_error(field, e))?;
        within_store_range(field, p.0.saturating_mul(self.spec.tick))?;
        Ok(p)
    }

    fn parse_qty(&self, field: &str, s: &str) -> Result<Qty, Error> {
        let q = self.spec.parse_qty(s).map_err(|e| grid_error(field, e))?;
        within_store_range(field, q.0.saturating_mul(self.spec.lot))?;
        Ok(q)
    }

    fn parse_quote(&self, field: &str, s: &str) -> Result<Amount, Error> {
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
    v.map(|v| crate::rules::CURSOR.check(field, v)).transpose()
}

/// A time in ms since the epoch, at most year 9999.
pub fn check_time(field: &str, ms: u64) -> Result<(), Error> {
    crate::rules::TIME_MS.check(field, ms).map(drop)
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
